"""Report: batch audits of a placement book (read, evaluate, KPIs, lists, outputs, HTML report)."""
