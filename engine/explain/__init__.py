"""Explain: the decision with its figures, findings, references and every parameter read."""
