"""Lists people act on, each evaluated at the KPI date over the placements active then: packages over the ISP
threshold with no NHS contribution (exactly the rows the zero-target KPI counts), placements needing approval,
to refer, not permitted, NHS recharge gaps; each row with its reasons and figures."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from engine.audit.books.read import decimal_array
from engine.audit.views import AtKpiDate, AuditViews
from engine.evaluate.vector import VectorResult
from engine.language.vocabulary import ACTIONS, ENUMS
from engine.rulebook.loader import Rulebook
from engine.validate.batch import ParsedBook, day_number

if TYPE_CHECKING:
    from engine.audit.books.block_beds import BlockBooking


class Audited(Protocol):
    """What a list reads of an audit (``engine.audit.result.AuditResult``)."""

    @property
    def at_kpi(self) -> AtKpiDate: ...
    @property
    def book(self) -> Rulebook: ...
    @property
    def parsed(self) -> ParsedBook: ...
    @property
    def row_numbers(self) -> np.ndarray: ...
    @property
    def views(self) -> AuditViews: ...
    @property
    def kpis(self) -> dict[str, Any]: ...
    @property
    def block_beds(self) -> Sequence[BlockBooking] | None: ...


LISTS = (
    "isp_no_nhs_contribution",
    "needs_approval",
    "refer",
    "not_permitted",
    "nhs_recharge_gaps",
    "embargo_or_enquiry",
    "sourced_late",
    "empty_block_beds",
)
PURPOSE = {
    "isp_no_nhs_contribution": "packages over the ISP threshold with no NHS contribution (0 or not recorded): "
    "seek the NHS share",
    "needs_approval": "placements whose price needs a named approver's sign-off",
    "refer": "placements to refer (CHC checklist, brokerage review)",
    "not_permitted": "placements the rules do not permit as they stand",
    "nhs_recharge_gaps": "placements where an NHS recharge looks missing (ISP-05 to ISP-08)",
    "embargo_or_enquiry": "placements at providers under an embargo or a large-scale enquiry at the KPI "
    "date (needs the provider register)",
    "sourced_late": "new placements in the period sourced later than the target days after the request",
    "empty_block_beds": "providers with block-booked beds in payment that are empty, and their cost a week "
    "(needs the block-bed file)",
}
RESTRICTED = ("embargo", "large_scale_enquiry")
RECHARGE_RULES = ("ISP-05", "ISP-06", "ISP-07", "ISP-08")
LIST_FIGURES = (
    "gross_weekly_cost",
    "isp_nhs_contribution_weekly",
    "comparable_weekly",
    "benchmark_weekly",
    "over_benchmark_percent",
    "care_cubed_weekly",
    "over_care_cubed_percent",
    "top_up_required_weekly",
    "sl_reference_weekly",
    "sl_over_reference_weekly",
)

# Results carry the figures of the rule that decided the row (SPEC §19): where a figure of the working-age
# CareCubed comparison is shown (rules/figures.yaml: shown for working_age_pricing), the over-65 median's, which
# does not apply to the row, is left empty.
SHOWN_INSTEAD = {
    "benchmark_weekly": "over_care_cubed_weekly",
    "over_benchmark_weekly": "over_care_cubed_weekly",
    "over_benchmark_percent": "over_care_cubed_percent",
}


# what the lists read of the figures at the KPI date (``AtKpiDate.listed``): theirs and those shown instead
LISTED = (*LIST_FIGURES, *SHOWN_INSTEAD.values())


def figure_shown(result: VectorResult, name: str, rows: slice | np.ndarray) -> np.ndarray:
    """Of ``rows``, those that show figure ``name``: it has a value, it applies to the row (its service and
    ``shown`` flag), and no figure shown instead of it applies."""
    col = result.figures[name] if name in result.figures else result.values[name]
    shown: np.ndarray = col.ok[rows]
    applies = result.figure_applies.get(name)
    if applies is not None:
        shown = shown & applies[rows]
    instead = SHOWN_INSTEAD.get(name)
    if instead is not None:
        shown = shown & ~result.figure_applies[instead][rows]
    return shown


def _strings(codes: np.ndarray, labels: Sequence[str | None]) -> pa.Array:
    return pc.take(pa.array(labels, pa.string()), pa.array(codes, pa.int64()))


def _rule_texts(book: Rulebook, result: VectorResult, rows: np.ndarray) -> tuple[np.ndarray, list[list[str]]]:
    """For these rows: a code per row into texts built once per distinct combination of fired rules and band
    approver, and the texts by code: reason codes, approvers, and rule names (``_reason_texts``)."""
    every, texts = _reason_texts(book, result)
    return every[rows], texts


def _reason_texts(book: Rulebook, result: VectorResult) -> tuple[np.ndarray, list[list[str]]]:
    """Every row's code into texts built once per distinct combination of fired rules, band approver and rules
    fired for information only (fast on a million rows: each row's combination makes one 64-bit key), and the
    texts by code: reason codes, approvers, and rule names. Made once per result: the results and every list
    read them."""
    made = result.made.get("reason_texts")
    if made is not None:
        return made  # type: ignore[no-any-return]
    rules = book.rules
    assert len(rules) <= 64, "more than 64 rules: widen the combination key"
    info_columns = sorted(result.info_only)  # rules fired only for information (an in-house provider), a bit each
    bands = len(result.approvers) + 1  # the band approver + 1: 0 (none) to len(approvers)
    band_bits = (bands - 1).bit_length()
    if len(rules) + band_bits + len(info_columns) <= 63:  # one key holds it all: one factorisation
        inverse, keys = _one_key(result, len(rules), band_bits, info_columns)
        combos = [(value & ((1 << len(rules)) - 1), value >> len(rules)) for value in keys.tolist()]
        decoded = [(combo, rest & ((1 << band_bits) - 1), rest >> band_bits) for combo, rest in combos]
    else:
        inverse, decoded = _two_keys(result, len(rules), bands, info_columns)
    ids, approvers, labels = [], [], []
    # a combination of fired rules → its rules, their ids and labels (a combination recurs with other approvers)
    of_combo: dict[int, tuple[list[Any], str, str]] = {}
    for combo, band, info in decoded:
        only_info = {rules[k].id for bit, k in enumerate(info_columns) if info >> bit & 1}
        if combo not in of_combo:
            hits, rest = [], combo
            while rest:  # the rules whose bits are set, lowest first (as in the rulebook's order)
                hits.append(rules[(rest & -rest).bit_length() - 1])
                rest &= rest - 1
            of_combo[combo] = (
                hits,
                " ".join(rule.id for rule in hits),
                "; ".join(f"{rule.id} {rule.label}" for rule in hits),
            )
        hits, rule_ids, rule_labels = of_combo[combo]
        ids.append(rule_ids)
        who = [
            None
            if rule.id in only_info
            else rule.approver or (result.approvers[band - 1] if rule.approver_from and band else None)
            for rule in hits
        ]
        approvers.append(", ".join(dict.fromkeys(w for w in who if w)))
        labels.append(rule_labels)
    made = result.made["reason_texts"] = (inverse.astype(np.int64), [ids, approvers, labels])
    return made


def _fired_bits(fired: np.ndarray) -> np.ndarray:
    """Each row's fired rules as a 64-bit number (bit k: rule column k fired), made 8 rules at a time in one byte
    per row (8× less memory to pass over than a 64-bit column per rule)."""
    n = fired.shape[0]
    packed = np.zeros((n, 8), np.uint8)
    for byte in range((fired.shape[1] + 7) // 8):
        columns = range(8 * byte, min(fired.shape[1], 8 * byte + 8))
        bits = np.zeros(n, np.uint8)
        for k in columns:
            column = fired[:, k].view(np.uint8)  # a bool is one byte, 0 or 1
            bits |= column << np.uint8(k % 8) if k % 8 else column
        packed[:, byte] = bits
    return packed.view("<u8").reshape(n).astype(np.uint64, copy=False)


def _one_key(
    result: VectorResult, rules: int, band_bits: int, info_columns: list[int]
) -> tuple[np.ndarray, np.ndarray]:
    """Each row's code and the distinct keys in the order they first appear: a key's low ``rules`` bits are its
    fired rules, the next ``band_bits`` its band approver + 1, the rest its rules fired for information only."""
    key = _fired_bits(result.fired).view(np.int64)  # below 2**63: at most 63 bits are used
    key |= (result.band_approver.astype(np.int64) + 1) << rules
    for bit, k in enumerate(info_columns):
        key |= result.info_only[k].astype(np.int64) << (rules + band_bits + bit)
    inverse, unique = pd.factorize(key, sort=False)
    return inverse, np.asarray(unique)


def _two_keys(
    result: VectorResult, rules: int, bands: int, info_columns: list[int]
) -> tuple[np.ndarray, list[tuple[int, int, int]]]:
    """As ``_one_key`` where the three parts do not fit in one 64-bit key: the fired rules factorised first."""
    combos, combo_values = pd.factorize(_fired_bits(result.fired), sort=False)
    info_bits = np.zeros(len(combos), np.int64)
    for bit, k in enumerate(info_columns):
        info_bits |= result.info_only[k].astype(np.int64) << bit
    key = combos.astype(np.int64) * bands + (result.band_approver + 1)
    key = key * (1 << len(info_columns)) + info_bits
    inverse, unique = pd.factorize(key, sort=False)
    decoded = []
    for value in unique.tolist():
        value, info = divmod(value, 1 << len(info_columns))
        code, band = divmod(value, bands)
        decoded.append((int(combo_values[code]), band, info))
    return inverse, decoded


def rule_texts(book: Rulebook, result: VectorResult, valid: np.ndarray) -> tuple[np.ndarray, list[str], list[str]]:
    """Every row's code into its reason codes and approvers (``len(ids)`` where not ``valid``), and those texts."""
    every, (ids, approvers, _) = _reason_texts(book, result)
    codes = np.where(valid, every, len(ids))
    return codes, ids, approvers


def list_masks(audit: Audited) -> dict[str, np.ndarray]:
    """The lists of placements, each as the rows it holds (``side_lists`` holds the list that is not of rows)."""
    at = audit.at_kpi
    listed = at.listed(LISTED)
    outcome = listed.outcome
    recharge = [k for k, rule in enumerate(audit.book.rules) if rule.id in RECHARGE_RULES]
    gaps = listed.fired[:, recharge].any(axis=1) if recharge else np.zeros(len(outcome), bool)
    return {
        "isp_no_nhs_contribution": at.isp,
        "needs_approval": at.active & (outcome == ACTIONS.index("needs_approval")),
        "refer": at.active & (outcome == ACTIONS.index("refer")),
        "not_permitted": at.active & (outcome == ACTIONS.index("not_permitted")),
        "nhs_recharge_gaps": at.active & gaps,
        "embargo_or_enquiry": _restricted(audit.parsed, at),
        "sourced_late": _sourced_late(audit),
    }


def _restricted(parsed: ParsedBook, at: AtKpiDate) -> np.ndarray:
    """Active at the KPI date at a provider whose register status then is an embargo or a large-scale enquiry."""
    status, since = parsed.cols["provider_quality_status"], parsed.cols["provider_quality_status_from"]
    codes = [ENUMS["provider_quality_status"].index(name) for name in RESTRICTED]
    return np.asarray(at.active & status.ok & np.isin(status.v, codes) & since.ok & (since.v <= day_number(at.day)))


def _sourced_late(audit: Audited) -> np.ndarray:
    from engine.audit.kpis.compute import Period
    from engine.audit.kpis.providers import SOURCED, sourced_late

    period = audit.kpis["period"]
    late = np.zeros(audit.parsed.n, bool)
    for service in SOURCED:
        assessed, within = sourced_late(audit.views, Period(period["start"], period["end"]), service)
        late |= assessed & ~within
    return late


def side_lists(audit: Audited) -> dict[str, pa.Table]:
    """The lists that are not of placements: providers with empty block-booked beds in payment at the KPI date."""
    from engine.audit.kpis.providers import occupancy

    rows = [row for row in occupancy(audit.block_beds or (), audit.at_kpi, audit.parsed) if row["empty"]]
    pence = np.array([row["empty_weekly"] or 0 for row in rows], np.int64)
    return {
        "empty_block_beds": pa.table(
            {
                "provider_id": pa.array([row["provider_id"] for row in rows], pa.string()),
                "kpi_date": pa.array([audit.at_kpi.day] * len(rows), pa.date32()),
                "beds_in_payment": pa.array([row["beds"] for row in rows], pa.int64()),
                "occupied": pa.array([row["occupied"] for row in rows], pa.int64()),
                "empty": pa.array([row["empty"] for row in rows], pa.int64()),
                "empty_beds_weekly": decimal_array(pence, np.array([row["empty_weekly"] is not None for row in rows])),
            }
        )
    }


def list_table(audit: Audited, mask: np.ndarray) -> pa.Table:
    """The rows of one list: who, the outcome at the KPI date, the reasons and the figures."""
    return list_rows(audit, np.flatnonzero(mask))


def list_rows(audit: Audited, rows: np.ndarray) -> pa.Table:
    """``list_table``'s rows at these row indices (ascending): each row's cells read that row alone, the same in
    every list it is in. Safe to call from two threads once the KPI date's evaluation (``AtKpiDate.listed``) and
    its reason texts are made (``list_table`` once does both)."""
    at = audit.at_kpi
    take = pa.array(rows, pa.int64())
    parsed = audit.parsed
    listed = at.listed(LISTED)
    codes, (ids, approvers, reasons) = _rule_texts(audit.book, listed, rows)
    columns: dict[str, pa.Array] = {
        "row": pa.array(audit.row_numbers[rows], pa.int64()),
        "placement_id": parsed.placement_id.take(take) if parsed.placement_id is not None else pa.nulls(len(rows)),
    }
    if parsed.provider is not None:
        columns["provider"] = parsed.provider.take(take)
    if parsed.provider_id is not None:
        columns["provider_id"] = parsed.provider_id.take(take)
    service = parsed.cols["service"]
    columns["service"] = _strings(service.v[rows].astype(np.int64), list(service.cats or ()))
    for name in ("start_date", "end_date"):
        col = parsed.cols.get(name)
        if col is not None:
            days = col.v[rows].astype("datetime64[D]")
            columns[name] = pa.array(days, pa.date32(), mask=~col.ok[rows])
    columns["kpi_date"] = pa.array(np.full(len(rows), np.datetime64(at.day, "D")), pa.date32())
    columns["outcome_at_kpi_date"] = _strings(listed.outcome[rows].astype(np.int64), list(ACTIONS))
    columns["rule_ids"] = _strings(codes, ids)
    columns["approvers"] = _strings(codes, approvers)
    columns["reasons"] = _strings(codes, reasons)
    for name in LIST_FIGURES:
        col = listed.values.get(name)
        if col is None:
            continue
        columns[name] = decimal_array(col.v[rows], figure_shown(listed, name, rows))
    return pa.table(columns)
