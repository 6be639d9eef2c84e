"""Derive and evaluate: figures, the durable_rules evaluator (one placement), the vectorised one (a book)."""
