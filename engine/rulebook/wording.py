"""The words the page shows for the codes of a decision's payments, declared once in ``rules/wording.yaml``:
who pays (``payers``), who is paid (``payees``) and how the person is told who pays their top-up
(``top_up_payers``). Which codes must be there is the contract's (engine/rulebook/contract.py)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from engine.rulebook.strict_yaml import Node, RulebookError, check_keys, load_yaml

WORDING_FILE = Path("wording.yaml")
GROUPS = ("payers", "payees", "top_up_payers")


@dataclass(frozen=True)
class Wording:
    payers: dict[str, str] = field(default_factory=dict)  # payer code → the words shown
    payees: dict[str, str] = field(default_factory=dict)  # payee code → the words shown
    top_up_payers: dict[str, str] = field(default_factory=dict)  # top_up_payer → "... the top-up of £X that <words>"
    node: Node | None = field(default=None, repr=False, compare=False)


def load_wording(root: Path) -> Wording:
    path = root / WORDING_FILE
    if not path.is_file():
        raise RulebookError(path, None, "no wording.yaml (the words the page shows for who pays and who is paid)")
    node = check_keys(load_yaml(path), {"description", "reference", *GROUPS}, set(), "wording.yaml")
    groups: dict[str, dict[str, str]] = {}
    for group in GROUPS:
        entries = node[group]
        if not isinstance(entries, Node) or not entries:
            raise node.error(f"{group} must map each code to the words shown for it", group)
        for code, words in entries.items():
            if not (isinstance(words, str) and words.strip()):
                raise entries.error(f"{group}: give the words shown for {code} (text)", str(code))
        groups[group] = {str(code): " ".join(words.split()) for code, words in entries.items()}
    return Wording(**groups, node=node)
