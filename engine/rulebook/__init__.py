"""Load: rules/ into a validated Rulebook (strict YAML, vocabulary, condition language, overrides)."""
