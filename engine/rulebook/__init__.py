"""Load: rules/ into a validated Rulebook (strict YAML, parameters, rule files, figures, facts, the load-time
contract). The languages the rules are written in live in ``engine.language``; this package only loads."""
