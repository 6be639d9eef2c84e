"""Policy facts that are not dated parameters: the framework's Lots and the earliest date rules are held from.

``rules/tables/lots.yaml`` lists each Lot with the care type and dementia need it covers and its label;
``rules/rulebook.yaml`` gives the earliest date a decision may be asked for. Both are read strictly, like
every rule file, and exposed on the Rulebook (``Rulebook.lots``, ``Rulebook.lot_for``,
``Rulebook.earliest_as_at``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from pathlib import Path

from engine.rulebook.strict_yaml import Node, RulebookError, check_keys, load_yaml
from engine.rulebook.vocabulary import ENUMS

LOTS_FILE = Path("tables") / "lots.yaml"
RULEBOOK_FILE = Path("rulebook.yaml")


@dataclass(frozen=True)
class Lot:
    number: int
    care_type: str
    dementia: bool
    label: str


def load_lots(root: Path) -> tuple[Lot, ...]:
    path = root / LOTS_FILE
    if not path.is_file():
        raise RulebookError(path, None, "no Lots table (rules/tables/lots.yaml)")
    node = check_keys(load_yaml(path), {"description", "reference", "lots"}, set(), "Lots table")
    rows = node["lots"]
    if not isinstance(rows, list) or not rows:
        raise node.error("lots must be a list of Lots", "lots")
    lots: list[Lot] = []
    for row in rows:
        row = check_keys(row, {"lot", "care_type", "dementia", "label"}, set(), "Lot")
        number, care_type, dementia = row["lot"], row["care_type"], row["dementia"]
        if isinstance(number, bool) or not isinstance(number, int) or number < 1:
            raise row.error(f"lot must be a positive whole number, not {number!r}", "lot")
        if care_type not in ENUMS["care_type"]:
            raise row.error(f"care_type must be one of {', '.join(ENUMS['care_type'])}", "care_type")
        if not isinstance(dementia, bool):
            raise row.error("dementia must be true or false", "dementia")
        if not (isinstance(row["label"], str) and row["label"].strip()):
            raise row.error("label must be text", "label")
        for other in lots:
            if other.number == number:
                raise row.error(f"Lot {number} is listed twice", "lot")
            if (other.care_type, other.dementia) == (care_type, dementia):
                raise row.error(f"Lots {other.number} and {number} cover the same placements", "care_type")
        lots.append(Lot(number, care_type, dementia, row["label"].strip()))
    covered = {(lot.care_type, lot.dementia) for lot in lots}
    for care_type in ENUMS["care_type"]:
        for dementia in (False, True):
            if (care_type, dementia) not in covered:
                raise node.error(f"no Lot covers {care_type} placements with dementia {str(dementia).lower()}", "lots")
    return tuple(lots)


def load_earliest_as_at(root: Path) -> date:
    path = root / RULEBOOK_FILE
    if not path.is_file():
        raise RulebookError(path, None, "no rulebook.yaml (it gives earliest_as_at)")
    node: Node = check_keys(load_yaml(path), {"description", "earliest_as_at", "reference"}, set(), "rulebook.yaml")
    earliest = node["earliest_as_at"]
    if not isinstance(earliest, date):
        raise node.error(f"earliest_as_at must be a date (YYYY-MM-DD), not {earliest!r}", "earliest_as_at")
    return earliest
