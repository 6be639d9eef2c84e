"""The decision-log database: the decision log, the workflow tables, audit results, its writers and migrations."""
