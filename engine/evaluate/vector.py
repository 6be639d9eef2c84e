"""The vectorised evaluator (SPEC §2): the same rule files as the durable one, compiled to numpy masks.

- parameters are looked up per row by its as-at date (``np.searchsorted`` over each parameter's dates);
- derived figures are computed exactly as ``engine/derive.py`` computes them, in int64 pence / hundredths,
  rounding half-up (away from zero) the same way;
- a rule's condition (negation normal form) becomes a boolean mask; **a comparison is true only where every
  value it reads is non-null**, so null semantics are those of durable_rules, on purpose.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from engine.evaluate.vector_figures import Context, compile_vector
from engine.rulebook import conditions
from engine.rulebook.figure_language import depends_on
from engine.rulebook.figures import figure_order
from engine.rulebook.loader import Parameter, Rulebook
from engine.rulebook.vocabulary import ACTIONS, ENUMS, Kind
from engine.validate.batch import Col, ParsedBook, day_number

SEVERITY = {action: rank for rank, action in enumerate(ACTIONS)}
_CMP = {"==": np.equal, "!=": np.not_equal, "<": np.less, "<=": np.less_equal, ">": np.greater, ">=": np.greater_equal}
_ARITH = {"+": np.add, "-": np.subtract, "*": np.multiply}


def _null(n: int, dtype: Any = np.int64) -> Col:
    return Col(np.zeros(n, dtype), np.zeros(n, bool))


def _one_formula(formulas: dict[str, Any]) -> bool:
    first = next(iter(formulas.values()))
    return all(formula == first for formula in formulas.values())


def _column(values: Any, n: int) -> np.ndarray:
    """A whole column: a constant (a literal in a formula) is spread over the rows."""
    return np.full(n, values) if np.ndim(values) == 0 else np.asarray(values)


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
        # the rows' edition indexes per list of dates, only while one evaluation runs
        self._index_cache: dict[tuple[int, bytes], tuple[np.ndarray, int, int]] | None = None
        self._figures = compile_vector(book, book.figures)
        self._order = figure_order(book.figures)
        self._reads = {
            name: sorted(set().union(*(depends_on(f) for f in figure.formulas.values())))
            for name, figure in book.figures.items()
        }
        self._tables: dict[str, tuple[np.ndarray, np.ndarray]] = {}
        self._same = {name: _one_formula(figure.formulas) for name, figure in book.figures.items()}
        shown = {name: figure for name, figure in book.figures.items() if figure.shown}
        self.shown = shown

    # parameters -------------------------------------------------------------------------------------------
    def index(self, name: str, as_at: np.ndarray) -> np.ndarray:
        """Per row, the index of the parameter's value in force (or -1: none yet); shared by equal date lists."""
        return self._lookup(name, as_at)[0]

    def _lookup(self, name: str, as_at: np.ndarray) -> tuple[np.ndarray, int, int]:
        """The rows' edition indexes and their least and greatest (searched once per distinct list of dates
        while an evaluation runs, and once in all when every row has the same date)."""
        if self._index_cache is None:
            return self._search(self._dates[name], as_at)
        key = (id(as_at), self._dates[name].tobytes())
        if key not in self._index_cache:
            self._index_cache[key] = self._search(self._dates[name], as_at)
        return self._index_cache[key]

    @staticmethod
    def _search(dates: np.ndarray, as_at: np.ndarray) -> tuple[np.ndarray, int, int]:
        if len(as_at) == 0:
            return np.zeros(0, np.int64), 0, 0
        first, last = int(as_at.min()), int(as_at.max())
        if first == last:  # one date for every row: one search, spread over the rows without copying
            found = int(np.searchsorted(dates, first, side="right")) - 1
            return np.broadcast_to(np.int64(found), as_at.shape), found, found
        index = np.searchsorted(dates, as_at, side="right") - 1
        return (
            index,
            int(np.searchsorted(dates, first, side="right")) - 1,
            int(np.searchsorted(dates, last, side="right")) - 1,
        )

    def param(self, name: str, as_at: np.ndarray) -> Col:
        index, low, high = self._lookup(name, as_at)
        if name not in self._tables:
            self._tables[name] = self._table(self.book.parameters[name])
        table, present = self._tables[name]
        n = len(index)
        editions = slice(low, high + 1)
        if low == high or (
            low >= 0 and (table[editions] == table[low]).all() and (present[editions] == present[low]).all()
        ):
            # one edition's value for every row (read-only views: nothing writes into a parameter's column)
            return Col(np.broadcast_to(table[low], (n,)), np.broadcast_to(present[low], (n,)))
        if low >= 0 and present[editions].all():
            return Col(table[index], np.broadcast_to(np.True_, (n,)))
        return Col(table[index], present[index])

    @staticmethod
    def _table(parameter: Parameter) -> tuple[np.ndarray, np.ndarray]:
        """A parameter's values by edition (and a last slot for "none yet") and which are in force."""
        present = np.array([v is not None for v in parameter.values] + [False])
        if parameter.kind is Kind.BOOL:
            table = np.array([bool(v) for v in parameter.values] + [False])
        elif parameter.kind in (Kind.MONEY, Kind.QUANTITY, Kind.COUNT):
            table = np.array([0 if v is None else int(v) for v in parameter.values] + [0], np.int64)
        else:
            table = np.arange(len(parameter.values) + 1)  # ratio and table values: the index, used by derive
        return table, present

    # derived figures (rules/figures.yaml, compiled to numpy) ----------------------------------------------
    def needed(self, names: Collection[str]) -> list[str]:
        """These figures and every figure they read, in the order they are computed."""
        wanted, todo = set(), list(names)
        while todo:
            name = todo.pop()
            if name in self.book.figures and name not in wanted:
                wanted.add(name)
                todo += self._reads[name]
        return [name for name in self._order if name in wanted]

    def derive(
        self,
        book: ParsedBook,
        as_at: np.ndarray,
        only: Collection[str] | None = None,
        into: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        """Every figure of every row (null where it does not apply to the row's service), and rule parameters.
        ``only``: just these figures and the figures they read; ``into``: an earlier ``derive`` of the same rows at
        the same dates, completed (the figures it has are not computed again)."""
        if self._index_cache is None:  # parameters with the same dates share one search of the rows' dates
            self._index_cache = {}
            try:
                return self.derive(book, as_at, only, into)
            finally:
                self._index_cache = None
        c, n = book.cols, book.n
        v: dict[str, Any] = dict(c) if into is None else into
        done: set[str] = v.setdefault("_derived", set())  # the figures computed so far
        params: dict[str, Col] = {}

        def param(name: str) -> Col:  # each parameter looked up once per evaluation, however many figures read it
            if name not in params:
                params[name] = self.param(name, as_at)
            return params[name]

        context = Context(c, v, param, lambda name: self.index(name, as_at), n, as_at)
        service = c["service"].v
        of_service = {name: service == code for code, name in enumerate(ENUMS["service"])}
        everyone = len(ENUMS["service"])
        for name in self._order if only is None else self.needed(only):
            if name in done:
                continue
            done.add(name)
            figure = self.book.figures[name]
            cats = ENUMS[figure.enum] if figure.enum else None
            formulas = self._figures[name]
            if len(formulas) == everyone and self._same[name]:  # one formula for every service
                value = next(iter(formulas.values()))(context)
                v[name] = Col(_column(value.v, n), _column(value.ok, n), cats)
                continue
            out_v: Any = None
            out_ok: Any = np.zeros(n, bool)
            for service_name, formula in formulas.items():
                value = formula(context)
                rows = of_service[service_name]
                out_v = value.v if out_v is None else np.where(rows, value.v, out_v)
                out_ok = np.where(rows, value.ok, out_ok)
            v[name] = Col(_column(out_v, n), _column(out_ok, n), cats)
        v.setdefault("_bands", {}).update(context.bands)  # band table → (approver code per row, approver names)
        if only is not None:
            return v
        for rule in self.rules:
            for name in rule.parameters:
                if f"params.{name}" not in v and self.book.parameters[name].kind is not Kind.TABLE:
                    v[f"params.{name}"] = self.param(name, as_at)
        return v

    # conditions -------------------------------------------------------------------------------------------
    def mask(self, cond: conditions.Cond, v: Mapping[str, Any], n: int) -> np.ndarray:
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

    def _expr(self, expr: conditions.Expr, v: Mapping[str, Any], n: int) -> tuple[Any, Any, tuple[Any, ...] | None]:
        if isinstance(expr, conditions.Const):
            return expr.value, True, None
        if isinstance(expr, conditions.Ref):
            col = v.get(expr.name) or _null(n)
            return col.v, col.ok, col.cats
        left, left_ok, _ = self._expr(expr.left, v, n)
        right, right_ok, _ = self._expr(expr.right, v, n)
        return _ARITH[expr.op](left, right), left_ok & right_ok, None

    # whole evaluation -------------------------------------------------------------------------------------
    def evaluate(self, book: ParsedBook, as_at: np.ndarray, derived: dict[str, Any] | None = None) -> VectorResult:
        """Every rule on every row; ``derived``: ``derive(book, as_at)`` when the caller has it already."""
        n = book.n
        if derived is None:
            self._index_cache = {}
            try:
                v = self.derive(book, as_at)
            finally:
                self._index_cache = None
        else:
            v = derived
        service = book.cols["service"].v
        by_service = {name: service == code for code, name in enumerate(ENUMS["service"])}
        fired = np.zeros((n, len(self.rules)), bool)
        outcome = np.full(n, SEVERITY["proceed"], np.int8)
        in_module = {}
        for module in self.book.modules:
            in_module[module.name] = book.valid & np.logical_or.reduce([by_service[s] for s in module.services])
        for column, rule in enumerate(self.rules):
            in_scope = in_module[rule.module]
            hit = self.mask(rule.condition, v, n) & in_scope
            fired[:, column] = hit
            if rule.action != "info":
                outcome = np.where(hit, np.maximum(outcome, SEVERITY[rule.action]), outcome)
        band_approver, approver_names = self._band_approvers(v["_bands"], fired, n)
        applies: dict[str, np.ndarray] = {}
        masks: dict[tuple[tuple[str, ...], str], np.ndarray] = {}  # one mask per (services, shown flag)
        for name, figure in self.shown.items():
            key = (tuple(figure.formulas), str(figure.shown))
            if key not in masks:
                mask = np.zeros(n, bool)
                for service_name in key[0]:
                    mask |= by_service[service_name]
                if key[1] != "always":
                    mask &= v[key[1]].v & v[key[1]].ok
                masks[key] = mask
            applies[name] = masks[key]
        figures = {name: v[name] for name in self.shown}
        return VectorResult(fired, outcome, band_approver, approver_names, figures, applies, as_at, v)

    def _band_approvers(
        self, bands: dict[str, tuple[np.ndarray, tuple[str, ...]]], fired: np.ndarray, n: int
    ) -> tuple[np.ndarray, tuple[str, ...]]:
        """Per row, the approver of the band table whose rule fired (each table's rules apply to people of
        different ages, so at most one does), as a code into one list of names."""
        approver, names = np.full(n, -1, np.int64), []
        for table, (codes, table_names) in bands.items():
            columns = [k for k, rule in enumerate(self.rules) if rule.approver_from == table]
            rows = fired[:, columns].any(axis=1) & (codes >= 0) if columns else np.zeros(n, bool)
            names += [name for name in table_names if name not in names]
            remap = np.array([names.index(name) for name in table_names] + [-1], np.int64)
            approver = np.where(rows, remap[codes], approver)
        return approver, tuple(names)


def row_dates(book: ParsedBook, override: Any = None) -> np.ndarray:
    """Each row's as-at day: the override for every row, else its ``as_at``, else its start date."""
    if override is not None:
        return np.full(book.n, day_number(override), np.int64)
    return np.where(book.cols["as_at"].ok, book.cols["as_at"].v, book.cols["start_date"].v)
