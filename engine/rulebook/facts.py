"""Policy facts that are not dated parameters: the earliest date rules are held from, and the KPIs (wording,
source, target: ``rules/kpis.yaml``). The care categories are in ``engine/rulebook/categories.py``.

``rules/rulebook.yaml`` gives the earliest date a decision may be asked for. It is read strictly, like every
rule file, and exposed on the Rulebook (``Rulebook.earliest_as_at``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from pathlib import Path

from engine.language import conditions
from engine.language.vocabulary import ENUMS, Kind
from engine.rulebook.strict_yaml import Node, RulebookError, check_keys, load_yaml

RULEBOOK_FILE = Path("rulebook.yaml")


def load_rulebook_facts(root: Path) -> tuple[date, dict[str, str]]:
    """``rules/rulebook.yaml``: the earliest date rules are held from, and notes shared by messages."""
    path = root / RULEBOOK_FILE
    if not path.is_file():
        raise RulebookError(path, None, "no rulebook.yaml (it gives earliest_as_at)")
    node: Node = check_keys(
        load_yaml(path), {"description", "earliest_as_at", "reference", "notes"}, {"extends"}, "rulebook.yaml"
    )
    earliest = node["earliest_as_at"]
    if not isinstance(earliest, date):
        raise node.error(f"earliest_as_at must be a date (YYYY-MM-DD), not {earliest!r}", "earliest_as_at")
    notes = node["notes"]
    if not isinstance(notes, Node) or not all(isinstance(v, str) for v in notes.values()):
        raise node.error("notes map a name to text", "notes")
    return earliest, {str(k): v for k, v in notes.items()}


FIRST_PARTY_FILE = Path("tables") / "first_party_bases.yaml"


def load_first_party_bases(root: Path) -> tuple[str, ...]:
    """The bases on which a first-party top-up is allowed (``rules/tables/first_party_bases.yaml``)."""
    path = root / FIRST_PARTY_FILE
    if not path.is_file():
        raise RulebookError(path, None, "no first-party top-up bases table")
    node = check_keys(load_yaml(path), {"description", "reference", "bases"}, set(), "first-party bases")
    rows = node["bases"]
    if not isinstance(rows, list) or not rows:
        raise node.error("bases must be a list", "bases")
    bases: list[str] = []
    for row in rows:
        row = check_keys(row, {"basis", "label"}, set(), "first-party basis")
        if not isinstance(row["basis"], str) or row["basis"] in bases:
            raise row.error(f"basis {row['basis']!r} is not a new name", "basis")
        bases.append(row["basis"])
    return tuple(bases)


KPIS_FILE = Path("kpis.yaml")
MET_WHEN = ("at_least", "at_most", "below", "falls", "maintained", "none")  # falls/maintained judge a change
AGES = ("all", "at_or_over_minimum_age", "under_minimum_age")  # a care-home KPI's people, by the over-65 minimum age


@dataclass(frozen=True)
class Kpi:
    """A KPI's wording, source and target (``{names}`` in the texts are filled in when the audit runs)."""

    id: str
    name: str
    definition: str
    source: str
    target: str | None
    target_value: Decimal | None
    met_when: str
    share_of_active: tuple[conditions.Cond, conditions.Cond] | None = None  # computed from these two conditions
    window_months: int | None = None  # a "reviewed in the last N months" KPI's window
    ages: str | None = None  # for a care-home KPI counted by age group: one of AGES

    def head(self, value: Decimal | int | None, id_suffix: str = "", **fill: object) -> dict[str, object]:
        """The KPI's id, wording, source, target and whether ``value`` meets it (None: nothing to judge)."""
        return {
            "id": self.id + id_suffix,
            "name": self.name.format(**fill),
            "definition": self.definition.format(**fill),
            "source": self.source.format(**fill),
            "target": self.target,
            "target_met": self.met(value),
        }

    def met(self, value: Decimal | int | None) -> bool | None:
        if value is None or self.met_when == "none":
            return None
        if self.met_when == "falls":
            return bool(value < 0)  # the value judged is the change from the previous period
        if self.met_when == "maintained":
            return bool(value >= 0)  # the value judged is the change from a year before
        assert self.target_value is not None
        if self.met_when == "below":
            return bool(value < self.target_value)
        return bool(value >= self.target_value) if self.met_when == "at_least" else bool(value <= self.target_value)


def load_kpis(root: Path, vocabulary: dict[str, Kind]) -> dict[str, Kpi]:
    """Each KPI's wording, source and target; ``share_of_active`` conditions are checked against ``vocabulary``."""
    path = root / KPIS_FILE
    if not path.is_file():
        raise RulebookError(path, None, "no kpis.yaml")
    node = check_keys(load_yaml(path), {"description", "kpis"}, set(), "KPIs file")
    if not isinstance(node["kpis"], list) or not node["kpis"]:
        raise node.error("kpis must be a list", "kpis")
    kpis: dict[str, Kpi] = {}
    for row in node["kpis"]:
        row = check_keys(
            row,
            {"id", "name", "definition", "source", "target", "met_when"},
            {"target_value", "share_of_active", "window_months", "ages"},
            "KPI",
        )
        for key in ("id", "name", "definition", "source"):
            if not (isinstance(row[key], str) and row[key].strip()):
                raise row.error(f"{key} must be text", key)
        if row["met_when"] not in MET_WHEN:
            raise row.error(f"met_when must be one of {', '.join(MET_WHEN)}", "met_when")
        value = row.get("target_value")
        if value is not None and (isinstance(value, bool) or not isinstance(value, int | Decimal)):
            raise row.error(f"target_value must be a number, not {value!r}", "target_value")
        if (value is None) != (row["met_when"] in ("falls", "maintained", "none")):
            raise row.error("a target_value is given exactly when met_when is at_least, at_most or below", "met_when")
        if row["id"] in kpis:
            raise row.error(f"KPI {row['id']} is listed twice", "id")
        target = None if row["target"] is None else str(row["target"])
        kpis[row["id"]] = Kpi(
            row["id"],
            row["name"],
            row["definition"],
            row["source"],
            target,
            None if value is None else Decimal(value),
            row["met_when"],
            *_how_counted(row, vocabulary),
        )
    return kpis


def _how_counted(
    row: Node, vocabulary: dict[str, Kind]
) -> tuple[tuple[conditions.Cond, conditions.Cond] | None, int | None, str | None]:
    """A KPI's optional counting keys: share_of_active {of, counted}, window_months, ages."""
    share = None
    if "share_of_active" in row:
        pair = check_keys(row["share_of_active"], {"of", "counted"}, set(), "share_of_active")
        try:
            share = tuple(conditions.parse(str(pair[key]), vocabulary, ENUMS) for key in ("of", "counted"))
        except conditions.ConditionError as exc:
            raise row.error(f"{row['id']}: {exc}", "share_of_active") from None
    window = row.get("window_months")
    if window is not None and (not isinstance(window, int) or isinstance(window, bool) or window < 1):
        raise row.error(f"{row['id']}: window_months is a whole number of months", "window_months")
    ages = row.get("ages")
    if ages is not None and ages not in AGES:
        raise row.error(f"{row['id']}: ages must be one of {', '.join(AGES)}", "ages")
    return share, window, ages  # type: ignore[return-value]  # the tuple of two conditions
