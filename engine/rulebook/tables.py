"""Band tables (approval bands): rows checked when loaded, matched by the table's declared hit policy.

A row holds a share of a benchmark, in percent: ``above_percent`` < share ≤ ``up_to_percent`` (no upper limit on
the last row). The table declares its hit policy, as DMN decision tables do:

- ``unique``: the rows may not overlap, so at most one row holds any share;
- ``first``: rows are tried in the order written and the first that holds the share wins, so a later row may
  start inside an earlier one (it then covers only what the earlier rows leave); a row that earlier rows
  cover entirely could never be hit and is refused.

Under both, the rows must start just above 0%, leave no gap and end with no upper limit, so every share above
the benchmark falls in exactly one band.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from engine.money import MoneyError, to_decimal
from engine.rulebook.strict_yaml import check_keys

HIT_POLICIES = ("first", "unique")
ROLE = re.compile(r"^[a-z][a-z0-9_]*$")
ROW_KEYS = {"band", "above_percent", "up_to_percent", "approver", "care_cubed_required", "description"}


@dataclass(frozen=True)
class Band:
    band: int
    above_percent: Decimal
    up_to_percent: Decimal | None
    approver: str
    care_cubed_required: bool
    description: str


def band_table(rows: Any, hit_policy: str) -> tuple[Band, ...]:
    if not isinstance(rows, list) or not rows:
        raise ValueError("a table is a list of rows")
    bands = [_row(row) for row in rows]
    if bands[0].above_percent != 0:
        raise rows[0].error(f"the first band must start just above 0%, not above {bands[0].above_percent}%")
    covered: Decimal | None = bands[0].up_to_percent  # every share up to here is held by an earlier row
    for previous, (row, band) in zip(bands, list(zip(rows, bands))[1:]):
        if covered is None:
            raise row.error(f"band {band.band} comes after band {previous.band}, which has no upper limit (overlap)")
        if band.above_percent > covered:
            raise row.error(f"gap between {covered}% and {band.above_percent}% (bands {previous.band} and {band.band})")
        if band.above_percent < covered and hit_policy == "unique":
            overlap = f"{band.above_percent}% and {previous.up_to_percent}%"
            raise row.error(f"bands {previous.band} and {band.band} overlap between {overlap} (hit policy unique)")
        if band.up_to_percent is not None and band.up_to_percent <= covered:
            raise row.error(f"band {band.band} is covered by the bands before it and could never apply")
        covered = band.up_to_percent
    if covered is not None:
        raise rows[-1].error(f"the last band must have no upper limit (prices above {covered}% fall in no band)")
    if len({band.band for band in bands}) != len(bands):
        raise rows[0].error("band numbers must be unique")
    return tuple(bands)


def _percent(row: Any, key: str) -> Decimal:
    try:
        return to_decimal(row[key])
    except (MoneyError, ValueError) as exc:
        raise row.error(f"{key} must be a percentage (a number), not {row[key]!r}: {exc}", key) from None


def _row(row: Any) -> Band:
    check_keys(row, ROW_KEYS, set(), "band row")
    above = _percent(row, "above_percent")
    up_to = None if row["up_to_percent"] is None else _percent(row, "up_to_percent")
    if isinstance(row["band"], bool) or not isinstance(row["band"], int):
        raise row.error(f"band must be a whole number, not {row['band']!r}", "band")
    if not isinstance(row["care_cubed_required"], bool):
        raise row.error("care_cubed_required must be true or false", "care_cubed_required")
    if not ROLE.match(str(row["approver"])):
        raise row.error(
            f"approver {row['approver']!r} must be a role name (lower case letters, digits and underscores)", "approver"
        )
    if up_to is not None and up_to <= above:
        raise row.error(
            f"band {row['band']}: up_to_percent {up_to} is not above above_percent {above}", "up_to_percent"
        )
    return Band(
        int(row["band"]), above, up_to, row["approver"], bool(row["care_cubed_required"]), str(row["description"])
    )
