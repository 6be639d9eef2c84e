"""The vectorised evaluator (SPEC §2): the same rule files as the durable one, compiled to numpy masks.

- parameters are looked up per row by its as-at date (``np.searchsorted`` over each parameter's dates);
- derived figures are computed exactly as ``engine/derive.py`` computes them, in int64 pence / hundredths,
  rounding half-up (away from zero) the same way;
- a rule's condition (negation normal form) becomes a boolean mask; **a comparison is true only where every
  value it reads is non-null**, so null semantics are those of durable_rules, on purpose.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from typing import Any

import numpy as np

from engine.evaluate.derive import CARE_HOME_FIGURES, SUPPORTED_LIVING_FIGURES
from engine.rulebook import conditions
from engine.rulebook.loader import Parameter, Rulebook
from engine.rulebook.vocabulary import ACTIONS, ENUMS, Kind
from engine.validate.batch import Col, ParsedBook, day_number

SEVERITY = {action: rank for rank, action in enumerate(ACTIONS)}
FIGURES = tuple(dict.fromkeys((*CARE_HOME_FIGURES, *SUPPORTED_LIVING_FIGURES, "expected_nhs_share_weekly")))
_CMP = {"==": np.equal, "!=": np.not_equal, "<": np.less, "<=": np.less_equal, ">": np.greater, ">=": np.greater_equal}
_ARITH = {"+": np.add, "-": np.subtract, "*": np.multiply}


def _null(n: int, dtype: Any = np.int64) -> Col:
    return Col(np.zeros(n, dtype), np.zeros(n, bool))


def _div_half_up(numerator: np.ndarray, denominator: np.ndarray | int) -> np.ndarray:
    """numerator / denominator (denominator > 0) rounded half away from zero, as Decimal ROUND_HALF_UP."""
    magnitude: np.ndarray = (2 * np.abs(numerator) + denominator) // (2 * np.asarray(denominator))
    return np.where(numerator < 0, -magnitude, magnitude)


@dataclass
class VectorResult:
    """Per row: fired rules (rows × rules), outcome code (index into ACTIONS), band approver and figures."""

    fired: np.ndarray
    outcome: np.ndarray
    band_approver: np.ndarray  # index into approvers, -1 for none
    approvers: tuple[str, ...]
    figures: dict[str, Col]
    figure_applies: dict[str, np.ndarray]
    as_at: np.ndarray
    values: dict[str, Col]


class VectorEvaluator:
    def __init__(self, book: Rulebook) -> None:
        self.book = book
        self.rules = book.rules
        self._dates = {
            name: np.array([day_number(d) for d in p.dates], np.int64) for name, p in book.parameters.items()
        }
        self._index_cache: dict[tuple[int, bytes], np.ndarray] | None = None  # only while one evaluation runs

    # parameters -------------------------------------------------------------------------------------------
    def index(self, name: str, as_at: np.ndarray) -> np.ndarray:
        """Per row, the index of the parameter's value in force (or -1: none yet); shared by equal date lists."""
        if self._index_cache is None:
            return np.searchsorted(self._dates[name], as_at, side="right") - 1
        key = (id(as_at), self._dates[name].tobytes())
        if key not in self._index_cache:
            self._index_cache[key] = np.searchsorted(self._dates[name], as_at, side="right") - 1
        return self._index_cache[key]

    def param(self, name: str, as_at: np.ndarray) -> Col:
        parameter: Parameter = self.book.parameters[name]
        index = self.index(name, as_at)
        present = np.array([v is not None for v in parameter.values] + [False])
        if parameter.kind is Kind.BOOL:
            table = np.array([bool(v) for v in parameter.values] + [False])
        elif parameter.kind in (Kind.MONEY, Kind.QUANTITY, Kind.COUNT):
            table = np.array([0 if v is None else int(v) for v in parameter.values] + [0], np.int64)
        else:
            table = np.arange(len(parameter.values) + 1)  # ratio and table values: the index, used by derive
        return Col(table[index], present[index])

    # derived figures (engine/derive.py, vectorised) -------------------------------------------------------
    def derive(self, book: ParsedBook, as_at: np.ndarray) -> dict[str, Any]:
        c, n = book.cols, book.n
        v: dict[str, Any] = dict(c)
        care_home = c["service"].v == ENUMS["service"].index("care_home")
        sl = ~care_home
        v["is_care_home"], v["is_supported_living"] = Col(care_home, np.ones(n, bool)), Col(sl, np.ones(n, bool))
        nursing_code, residential_code = ENUMS["care_type"].index("nursing"), ENUMS["care_type"].index("residential")
        lot_given = c["lot"].ok
        lots = self.book.lots
        residential_lots = np.array([lot.number for lot in lots if lot.care_type == "residential"])
        care_code = np.where(
            c["care_type"].ok,
            c["care_type"].v,
            np.where(np.isin(c["lot"].v, residential_lots), residential_code, nursing_code),
        )
        v["care_type"] = Col(care_code.astype(np.int8), care_home.copy(), c["care_type"].cats)
        derived_lot = np.zeros(n, np.int64)
        for entry in lots:
            care = ENUMS["care_type"].index(entry.care_type)
            pick = np.where(c["care_type"].ok, c["care_type"].v, residential_code) == care
            derived_lot[pick & (c["dementia"].v == entry.dementia)] = entry.number
        lot = np.where(lot_given, c["lot"].v, derived_lot)
        v["lot"] = Col(lot, care_home.copy())
        is_nursing = care_code == nursing_code
        v["is_nursing"], v["is_residential"] = Col(is_nursing, care_home.copy()), Col(~is_nursing, care_home.copy())
        fnc = c["fnc_weekly"]
        v["fnc_recorded"] = Col(fnc.ok.copy(), care_home.copy())
        standard = self.param("care_homes.fnc_standard_weekly", as_at)
        fnc_used = np.where(fnc.ok, fnc.v, np.where(is_nursing, standard.v, 0))
        fnc_used_ok = care_home & (fnc.ok | ~is_nursing | standard.ok)
        v["fnc_used_weekly"] = Col(fnc_used, fnc_used_ok)
        core = np.where(c["core_weekly_fee"].ok, c["core_weekly_fee"].v, 0)
        other = c["other_weekly"].v
        ch_gross = core + c["one_to_one_weekly"].v + fnc_used + other
        sl_gross = np.where(c["sl_weekly_cost"].ok, c["sl_weekly_cost"].v, 0) + other
        v["gross_weekly_cost"] = Col(np.where(care_home, ch_gross, sl_gross), np.where(care_home, fnc_used_ok, True))
        self._care_home(v, c, care_home, core, lot, as_at, n)
        self._supported_living(v, c, sl, as_at, n)
        self._nhs(v, c, np.where(care_home & fnc_used_ok, fnc_used, 0), as_at, n)
        for rule in self.rules:
            for name in rule.parameters:
                if f"params.{name}" not in v and self.book.parameters[name].kind is not Kind.TABLE:
                    v[f"params.{name}"] = self.param(name, as_at)
        return v

    def _care_home(
        self,
        v: dict[str, Any],
        c: dict[str, Col],
        care_home: np.ndarray,
        core: np.ndarray,
        lot: np.ndarray,
        as_at: np.ndarray,
        n: int,
    ) -> None:
        comparable = core - c["top_up_weekly"].v
        v["comparable_weekly"] = Col(comparable, care_home.copy())
        benchmark = _null(n)
        for lot_number in sorted(entry.number for entry in self.book.lots):
            rows = care_home & (lot == lot_number)
            if rows.any():
                found = self.param(f"care_homes.benchmark.lot_{lot_number}", as_at)
                benchmark.v[rows], benchmark.ok[rows] = found.v[rows], found.ok[rows]
        v["benchmark_weekly"], v["has_benchmark"] = benchmark, Col(benchmark.ok.copy(), care_home.copy())
        priced = benchmark.ok & (benchmark.v != 0)
        over = comparable - benchmark.v
        safe = np.where(priced, benchmark.v, 1)
        v["over_benchmark_weekly"] = Col(np.where(priced, over, 0), priced)
        v["over_benchmark_percent"] = Col(np.where(priced, _div_half_up(over * 10000, safe), 0), priced)
        band, approver, names = self._bands(over, safe, priced, as_at, n)
        v["approval_band"], v["_band_approver"], v["_approver_names"] = band, approver, names
        given = c["personal_budget_weekly"]
        v["personal_budget_given"] = Col(given.ok.copy(), care_home.copy())
        cheapest = c["cheapest_suitable_weekly"]
        best = np.where(
            benchmark.ok & cheapest.ok,
            np.maximum(benchmark.v, cheapest.v),
            np.where(benchmark.ok, benchmark.v, cheapest.v),
        )
        budget = Col(np.where(given.ok, given.v, best), care_home & (given.ok | benchmark.ok | cheapest.ok))
        v["personal_budget_weekly"] = budget
        v["top_up_required_weekly"] = Col(np.maximum(0, core - budget.v), budget.ok.copy())
        v["has_first_party_basis"] = Col(c["first_party_basis"].ok.copy(), care_home.copy())

    def _bands(
        self, over: np.ndarray, benchmark: np.ndarray, priced: np.ndarray, as_at: np.ndarray, n: int
    ) -> tuple[Col, np.ndarray, tuple[str, ...]]:
        name = "care_homes.approval_bands"  # the table engine/derive.py reads
        parameter = self.book.parameters[name]
        index = self.index(name, as_at)
        band = Col(np.zeros(n, np.int64), priced & (over <= 0))
        approver = np.full(n, -1, np.int64)
        names: list[str] = []
        for k in np.unique(index[priced & (over > 0)]).tolist():
            bands = parameter.values[k] if k >= 0 else None
            if bands is None:
                continue
            todo = priced & (over > 0) & (index == k)
            for row in bands:
                above = Fraction(row.above_percent)
                hit = todo & (over * 100 * above.denominator > above.numerator * benchmark)
                if row.up_to_percent is not None:
                    up = Fraction(row.up_to_percent)
                    hit &= over * 100 * up.denominator <= up.numerator * benchmark
                if row.approver not in names:
                    names.append(row.approver)
                band.v[hit], band.ok[hit], approver[hit] = row.band, True, names.index(row.approver)
                todo &= ~hit
        return band, approver, tuple(names)

    def _supported_living(
        self, v: dict[str, Any], c: dict[str, Col], sl: np.ndarray, as_at: np.ndarray, n: int
    ) -> None:
        day = self.param("supported_living.day_hour_rate", as_at)
        night = self.param("supported_living.waking_night_hour_rate", as_at)
        sleep_in = self.param("supported_living.sleep_in_night_rate", as_at)
        rates = day.ok & night.ok & sleep_in.ok
        v["has_sl_reference_rates"] = Col(rates, sl.copy())
        known = sl & rates
        parts = (
            c["sl_day_hours"].v * day.v,
            c["sl_waking_night_hours"].v * night.v,
            c["sl_sleep_in_nights"].v * 100 * sleep_in.v,
        )
        for name, part in zip(("sl_day_support_weekly", "sl_waking_night_weekly", "sl_sleep_in_weekly"), parts):
            v[name] = Col((part + 50) // 100, known.copy())
        reference = (parts[0] + parts[1] + parts[2] + 50) // 100
        v["sl_reference_weekly"] = Col(reference, known.copy())
        cost = np.where(c["sl_weekly_cost"].ok, c["sl_weekly_cost"].v, 0)
        v["sl_over_reference_weekly"] = Col(cost - reference, known.copy())

    def _nhs(self, v: dict[str, Any], c: dict[str, Col], fnc_used: np.ndarray, as_at: np.ndarray, n: int) -> None:
        nhs = c["nhs_contribution_weekly"]
        everyone = np.ones(n, bool)
        v["nhs_contribution_recorded"] = Col(nhs.ok.copy(), everyone)
        contribution = np.where(nhs.ok, nhs.v, 0)
        v["nhs_contribution_or_zero_weekly"] = Col(contribution, everyone)
        counts = self.param("isp.fnc_counts_as_nhs_contribution", as_at)
        fnc_counts = counts.ok & counts.v & (fnc_used != 0)
        v["isp_nhs_contribution_weekly"] = Col(
            np.where(fnc_counts, contribution + fnc_used, contribution), fnc_counts | nhs.ok
        )
        share_name = "isp.s117_council_share"
        index = self.index(share_name, as_at)
        gross = v["gross_weekly_cost"]
        expected = _null(n)
        for k in np.unique(index[c["s117"].v]).tolist():
            share = self.book.parameters[share_name].values[k] if k >= 0 else None
            if share is None:
                continue
            rows = c["s117"].v & (index == k) & gross.ok
            nhs_part = 1 - Fraction(share)
            expected.v[rows] = _div_half_up(gross.v[rows] * nhs_part.numerator, nhs_part.denominator)
            expected.ok[rows] = True
        v["expected_nhs_share_weekly"] = expected

    # conditions -------------------------------------------------------------------------------------------
    def mask(self, cond: conditions.Cond, v: dict[str, Any], n: int) -> np.ndarray:
        if isinstance(cond, conditions.All):
            result = np.ones(n, bool)
            for item in cond.items:
                result &= self.mask(item, v, n)
            return result
        if isinstance(cond, conditions.Any):
            result = np.zeros(n, bool)
            for item in cond.items:
                result |= self.mask(item, v, n)
            return result
        left, left_ok, cats = self._expr(cond.left, v, n)
        right, right_ok, right_cats = self._expr(cond.right, v, n)
        if cats is not None and right_cats is None and isinstance(right, str):
            right = cats.index(right) if right in cats else -1  # compare codes: a name not listed matches nothing
        elif cats is not None or right_cats is not None:
            left, right = self._names(left, cats), self._names(right, right_cats)
        hit: np.ndarray = _CMP[cond.op](left, right) & left_ok & right_ok
        return hit

    @staticmethod
    def _names(values: Any, cats: tuple[Any, ...] | None) -> Any:
        if cats is None:
            return values
        return np.asarray(cats, dtype=object)[values]

    def _expr(self, expr: conditions.Expr, v: dict[str, Any], n: int) -> tuple[Any, Any, tuple[Any, ...] | None]:
        if isinstance(expr, conditions.Const):
            return expr.value, True, None
        if isinstance(expr, conditions.Ref):
            col = v.get(expr.name) or _null(n)
            return col.v, col.ok, col.cats
        left, left_ok, _ = self._expr(expr.left, v, n)
        right, right_ok, _ = self._expr(expr.right, v, n)
        return _ARITH[expr.op](left, right), left_ok & right_ok, None

    # whole evaluation -------------------------------------------------------------------------------------
    def evaluate(self, book: ParsedBook, as_at: np.ndarray) -> VectorResult:
        n = book.n
        self._index_cache = {}
        try:
            v = self.derive(book, as_at)
        finally:
            self._index_cache = None
        service = book.cols["service"].v
        by_service = {name: service == code for code, name in enumerate(ENUMS["service"])}
        fired = np.zeros((n, len(self.rules)), bool)
        outcome = np.full(n, SEVERITY["proceed"], np.int8)
        in_module = {}
        for module in self.book.modules:
            in_module[module.name] = book.valid & np.logical_or.reduce([by_service[s] for s in module.services])
        for column, rule in enumerate(self.rules):
            applies = in_module[rule.module]
            hit = self.mask(rule.condition, v, n) & applies
            fired[:, column] = hit
            if rule.action != "info":
                outcome = np.where(hit, np.maximum(outcome, SEVERITY[rule.action]), outcome)
        care_home = v["is_care_home"].v
        applies = {
            name: np.where(care_home, name in CARE_HOME_FIGURES, name in SUPPORTED_LIVING_FIGURES) for name in FIGURES
        }
        applies["expected_nhs_share_weekly"] = book.cols["s117"].v.copy()
        figures = {name: v[name] for name in FIGURES}
        return VectorResult(fired, outcome, v["_band_approver"], v["_approver_names"], figures, applies, as_at, v)


def row_dates(book: ParsedBook, override: Any = None) -> np.ndarray:
    """Each row's as-at day: the override for every row, else its ``as_at``, else its start date."""
    if override is not None:
        return np.full(book.n, day_number(override), np.int64)
    return np.where(book.cols["as_at"].ok, book.cols["as_at"].v, book.cols["start_date"].v)
