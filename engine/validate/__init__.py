"""Validate: a placement (JSON) or a whole book (columns) into exact engine units, or field errors."""
