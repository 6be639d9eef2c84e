"""Where the rulebook is: the shipped one and the one named by CARERULES_RULES_DIR. Standard library only, so that
the command line can name its options without loading the engine (``engine.rulebook.loader`` re-exports these)."""

from __future__ import annotations

import os
from pathlib import Path

# The shipped rulebook: rules/ at the top of a source checkout; engine/rulebook/shipped in an installed wheel.
INSTALLED_RULES_DIR = Path(__file__).resolve().parent / "shipped"
DEFAULT_RULES_DIR = (
    INSTALLED_RULES_DIR if INSTALLED_RULES_DIR.is_dir() else Path(__file__).resolve().parents[2] / "rules"
)


# The folder of the rulebook in use when none is named: every command's --rules and the API's rules_dir read it too.
RULES_ENV = "CARERULES_RULES_DIR"


def default_rules_dir() -> Path:
    """The rulebook named by CARERULES_RULES_DIR, as the commands and the API take it; unset, the shipped one."""
    named = os.environ.get(RULES_ENV, "")
    return Path(named) if named else DEFAULT_RULES_DIR
