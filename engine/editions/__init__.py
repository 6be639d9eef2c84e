"""Editions of the rates: what-if overrides of a rulebook's parameters and importing a new edition of rates."""
