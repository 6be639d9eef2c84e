"""The book's rows as an audit reads them at each date, each derived once per audit.

- At their own evaluation dates (each row's ``as_at``, else its start date, or ``--as-at``): the results.
  ``run_audit`` evaluates them here (``evaluate``) or records the reference path's figures (``own_figures``).
- At their start dates: the new-placement KPIs and the report's price chart (``at_start``); the rows' own
  figures when those dates are the start dates.
- At the KPI date: the KPIs read there only and the lists (``at_kpi_date``, an ``AtKpiDate``): the figures the
  KPIs read first, the whole evaluation when a list needs it; the rows' own evaluation when every row was
  evaluated at that date already.

One ``VectorEvaluator`` serves the audit's own thread (its own dates, the start dates, parameters at a date);
the KPI date, derived on the other core while the rows are evaluated, has its own, since an evaluator shares
its parameter lookups within one evaluation and two evaluations at once must not share them.

A figure that reads no date (no parameter, band or as-at date, nor a figure that does) is the same at every
date: once the rows' own figures are derived, the other dates take theirs (``date_free``) rather than derive and
hold their own copies.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable, Iterator, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import date
from queue import Queue
from typing import Any, NamedTuple

import numpy as np

from engine.evaluate.vector import VectorEvaluator, VectorResult
from engine.language.conditions import names_in
from engine.language.figure_tree import nodes as tree_nodes
from engine.rulebook.figures import figure_order
from engine.rulebook.loader import Rulebook
from engine.validate.batch import Col, ParsedBook, active_at, day_number

LIST_BLOCK_ROWS = 131_072  # rows evaluated at a time where a big book is evaluated in blocks (``in_blocks``)


class AuditViews:
    """The date views of one book (its rulebook and parsed rows) for one audit, each derived when first asked
    for and kept."""

    def __init__(self, book: Rulebook, parsed: ParsedBook) -> None:
        self.book, self.parsed = book, parsed
        self.evaluator = VectorEvaluator(book)  # the audit's own thread
        self.days: np.ndarray | None = None  # the rows' own evaluation days, once evaluated
        self.values: dict[str, Any] | None = None  # their figures at those days
        self.result: VectorResult | None = None  # their evaluation (None on the reference path)
        self._at_start: Mapping[str, Any] | None = None
        self._at_kpi: dict[date, AtKpiDate] = {}
        # Per row, from outside the book (the activity tables' dimensions): whether the service is in the council's
        # area (1 yes, 0 no, -1 not known; None: no provider register given, every row not known), and whether a
        # start is a permanent admission (None: no stay type recorded, every start counts).
        self.in_area: np.ndarray | None = None
        self.permanent: np.ndarray | None = None
        self.date_free = date_free(book)
        self._first: tuple[np.ndarray, dict[str, Any]] | None = None  # ``derive_date_free``: the days, the figures

    def derive_date_free(self, days: np.ndarray) -> None:
        """The rows' own figures that read no date, derived first (``evaluate`` completes them): the KPI date,
        derived on the other core while the rest is, takes them (``shared``) rather than derive copies."""
        read = self.evaluator.needed([*KPI_FIGURES, *kpi_names(self.book)])  # only those the KPI date reads: the
        # others are derived a block at a time with the rest (not held whole where the rows are evaluated in blocks)
        self._first = (days, self.evaluator.derive(self.parsed, days, only=sorted(self.date_free & set(read))))

    def evaluate(self, days: np.ndarray, blocks: bool = False) -> VectorResult:
        """Every row evaluated at its own day (kept: its figures serve the other dates where they are the same).
        ``blocks``: a block of rows at a time, keeping the shown figures and those that read no date (any other
        figure or rule parameter is derived again when read: ``Derivable``), so a big book's whole evaluation is
        never held at once."""
        derived = None
        first = self._first[1] if self._first is not None and self._first[0] is days else None
        if blocks:
            seed = first if first is not None else {**self.parsed.cols, "_derived": set()}
            result = in_blocks(self.evaluator, self.parsed, days, seed, tuple(self.evaluator.shown))
            result.values = Derivable.of(result.values, self.evaluator, self.parsed, days)
            result.figures = Shown(tuple(result.figures), result.values)  # read through: a figure let go is derived
        else:
            if first is not None:  # completed in a dict of its own (``shared``)
                derived = self.evaluator.derive(self.parsed, days, into={**first, "_derived": set(first["_derived"])})
            result = self.evaluator.evaluate(self.parsed, days, derived)
        self.days, self.values, self.result = days, result.values, result  # in this order: see ``at_kpi_date``
        self._first = None
        return result

    def own_figures(self, days: np.ndarray) -> dict[str, Any]:
        """Every row's figures at its own day, without the rules (the reference path decides the rows itself)."""
        self.days, self.values = days, self.evaluator.derive(self.parsed, days)
        return self.values

    def at_start(self) -> Mapping[str, Any]:
        """Every row's figures at its start date: its own figures when every valid row was evaluated then."""
        if self._at_start is None:
            start, valid = self.parsed.cols["start_date"].v, self.parsed.valid
            own = self.days is not None and np.array_equal(self.days[valid], start[valid])
            self._at_start = (
                self.values if own and self.values is not None else self.evaluator.derive(self.parsed, start)
            )
        return self._at_start

    def shared(self) -> dict[str, Any] | None:
        """The start of a derivation at other dates: the book's columns and the rows' own figures that read no
        date (None before they are derived: with the rows' own figures, or first by ``derive_date_free``)."""
        first = self._first
        own_values = self.values if self.values is not None else first[1] if first is not None else None
        if own_values is None:
            return None
        own = own_values.get("_derived", set())
        names = {name for name in self.date_free if name in own}
        return {**self.parsed.cols, **{name: own_values[name] for name in names}, "_derived": names}

    def share_date_free(self) -> None:
        """The figures at the KPI dates derived so far take the rows' own figures that read no date, letting their
        own copies go (``run_audit`` calls it once both are derived)."""
        seed = self.shared()
        for at in self._at_kpi.values():
            if seed is not None and isinstance(at.values, FiguresAt):
                at.values.adopt(seed)

    def let_go_own_figures(self, keep: Iterable[str] = ()) -> bool:
        """Let go of the rows' own figures held that read a date, but ``keep`` (the rows evaluated in blocks: a
        figure let go is derived again when read, the same values); those that read none stay (the KPI dates take
        them). Nothing is let go where a KPI date reads the rows' own evaluation (``--as-at``). Whether any was."""
        values = self.values
        if not isinstance(values, Derivable) or any(at.reads(self.result) for at in self._at_kpi.values()):
            return False
        return values.let_go(set(values) - self.date_free - set(keep)) > 0

    def at_kpi_date(self, day: date) -> AtKpiDate:
        """Every row at the KPI date: the rows' own evaluation when every row was evaluated at ``day``, else
        derived with an evaluator of its own (``run_audit`` derives it on the other core while the rows are
        evaluated)."""
        if day not in self._at_kpi:
            result, days = self.result, self.days
            if result is not None and days is not None and at_one_day(self.parsed, days, day):
                self._at_kpi[day] = AtKpiDate(self.evaluator, self.parsed, day, (days, result))
            else:
                self._at_kpi[day] = AtKpiDate(VectorEvaluator(self.book), self.parsed, day, seed=self.shared())
        return self._at_kpi[day]

    def forget_kpi_date(self, day: date) -> None:
        """Let the rows at ``day`` go (a KPI series reads each period's end once)."""
        self._at_kpi.pop(day, None)

    def param_at(self, name: str, day: date) -> Col:
        """A parameter's value in force on ``day`` (one row)."""
        return self.evaluator.param(name, np.array([day_number(day)]))


# the figures the KPIs at the KPI date read (derived first, on the other core; any other is derived when read)
KPI_FIGURES = (
    "gross_weekly_cost",
    "isp_nhs_contribution_weekly",
    "nhs_contribution_or_zero_weekly",
    "nhs_contribution_recorded",
    "s117_council_funding_weekly",
    "s117_council_share",
    "resident_contribution_weekly",
    "council_net_weekly",
    "self_funding",
    "council_arranged_weekly",
)


class Derivable(dict[str, Any]):
    """Figures of every row at given days, some not held (``AuditViews.evaluate`` in blocks): one read is derived
    with the figures it reads, a rule parameter looked up; ``in`` and ``get`` answer as for a whole evaluation."""

    def __init__(
        self, values: dict[str, Any], drop: set[str], evaluator: VectorEvaluator, parsed: ParsedBook, days: np.ndarray
    ) -> None:
        super().__init__((name, value) for name, value in values.items() if name not in drop)
        self["_derived"] = set(values.get("_derived", set())) - drop
        self._let_go, self._evaluator, self._parsed, self._days = frozenset(drop), evaluator, parsed, days

    @classmethod
    def of(cls, values: dict[str, Any], evaluator: VectorEvaluator, parsed: ParsedBook, days: np.ndarray) -> Derivable:
        """``values``, with every other figure and rule parameter an evaluation holds derived when read."""
        return cls(values, _derivable(evaluator) - set(values), evaluator, parsed, days)

    def let_go(self, names: Iterable[str]) -> int:
        """Stop holding these figures and rule parameters (derived again if read); the number let go."""
        derivable = _derivable(self._evaluator)
        gone = [name for name in names if name in derivable and dict.__contains__(self, name)]
        for name in gone:
            dict.__delitem__(self, name)
        self["_derived"] -= set(gone)
        self._let_go |= frozenset(gone)
        return len(gone)

    def __missing__(self, name: str) -> Any:
        if name not in self._let_go:
            raise KeyError(name)
        if name.startswith("params."):
            self[name] = self._evaluator.param(name.removeprefix("params."), self._days)
        else:
            self._evaluator.derive(self._parsed, self._days, only=[name], into=self)
        return dict.__getitem__(self, name)

    def __contains__(self, name: object) -> bool:
        return dict.__contains__(self, name) or name in self._let_go

    def get(self, name: str, default: Any = None) -> Any:
        return self[name] if name in self else default  # noqa: SIM401 (a name let go is derived again)


def _derivable(evaluator: VectorEvaluator) -> set[str]:
    """Every name an evaluation's values can derive when read: the rulebook's figures and its rule parameters."""
    return set(evaluator.book.figures) | {f"params.{name}" for name in evaluator.rule_parameters}


class Shown(Mapping[str, Col]):
    """The shown figures of an evaluation in blocks, in their order, read from its ``Derivable`` values (one let
    go there is derived again when read here, not held twice)."""

    def __init__(self, names: tuple[str, ...], values: Derivable) -> None:
        self._names, self._values = names, values

    def __getitem__(self, name: str) -> Col:
        if name not in self._names:
            raise KeyError(name)
        col: Col = self._values[name]
        return col

    def __iter__(self) -> Iterator[str]:
        return iter(self._names)

    def __len__(self) -> int:
        return len(self._names)

    def __contains__(self, name: object) -> bool:
        return name in self._names


class FiguresAt(Mapping[str, Any]):
    """Every row's figures at one date, each derived when first read (with the figures it reads): the KPIs need
    a few; a list needs the whole evaluation (``complete``)."""

    def __init__(
        self,
        evaluator: VectorEvaluator,
        parsed: ParsedBook,
        days: np.ndarray,
        first: Iterable[str],
        seed: dict[str, Any] | None = None,
    ):
        self._evaluator, self._parsed, self._days = evaluator, parsed, days
        given = set(seed.get("_derived", ())) if seed is not None else set()
        self._values = evaluator.derive(parsed, days, only=list(first), into=seed)
        # only the figures asked for (and those given) are kept: the others they read are let go (derived again
        # if read, or a block at a time where the lists evaluate these rows: ``in_blocks``)
        self._keep(given | set(first))

    def adopt(self, seed: dict[str, Any]) -> None:
        """Take these figures (``AuditViews.shared``: the same at every date) in place of any derived here."""
        self._values.update({name: seed[name] for name in seed["_derived"]})
        self._values["_derived"] |= seed["_derived"]

    def __getitem__(self, name: str) -> Any:
        if name in self._evaluator.book.figures and name not in self._values["_derived"]:
            held = set(self._values["_derived"])
            self._evaluator.derive(self._parsed, self._days, only=[name], into=self._values)
            self._keep(held | {name})
        return self._values[name]

    def _keep(self, kept: set[str]) -> None:
        """Let go of the figures derived here but ``kept`` (those read on the way to them)."""
        for name in self._values["_derived"] - kept:
            del self._values[name]
        self._values["_derived"] &= kept

    def __iter__(self) -> Iterator[str]:
        return iter(self._values)

    def __len__(self) -> int:
        return len(self._values)

    def complete(self) -> dict[str, Any]:
        """Every figure and rule parameter (what ``VectorEvaluator.evaluate`` reads)."""
        return self._evaluator.derive(self._parsed, self._days, into=self._values)


class AtKpiDate:
    """Every row at the KPI date: its derived figures (for the ISP KPI), the rows active then, the ISP rows, and
    (computed when a list needs it) the whole evaluation. Reuses the rows' own evaluation when every row was
    evaluated at that date already (``--as-at``)."""

    def __init__(
        self,
        evaluator: VectorEvaluator,
        parsed: ParsedBook,
        day: date,
        own: tuple[np.ndarray, VectorResult] | None = None,
        seed: dict[str, Any] | None = None,
    ):
        book = evaluator.book
        self.day, self.book, self.parsed, self._evaluator = day, book, parsed, evaluator
        number = day_number(day)
        self.days = np.full(parsed.n, number, np.int64)
        self.active = active_at(parsed, day)
        self._result: VectorResult | None = None
        self._listed: dict[tuple[str, ...], VectorResult] = {}
        if own is not None and at_one_day(parsed, own[0], day):
            self._result = own[1]
        self.values: Mapping[str, Any] = (
            self._result.values
            if self._result is not None
            else FiguresAt(evaluator, parsed, self.days, [*KPI_FIGURES, *kpi_names(book)], seed)
        )
        found = self.param("isp.gross_cost_threshold_weekly")
        self.threshold: int | None = int(found.v[0]) if found.ok[0] else None  # pence
        gross, contribution = self.values["gross_weekly_cost"], self.values["isp_nhs_contribution_weekly"]
        limit = self.threshold
        self.isp_over = self.active & gross.ok & (gross.v > limit) if limit is not None else np.zeros(parsed.n, bool)
        self.isp_zero = self.isp_over & contribution.ok & (contribution.v == 0)
        self.isp_unrecorded = self.isp_over & ~contribution.ok

    def reads(self, result: VectorResult | None) -> bool:
        """Whether this date's figures are ``result``'s (every row was evaluated at the KPI date)."""
        return result is not None and self._result is result

    def param(self, name: str) -> Col:
        """A parameter's value in force at the KPI date (one row), looked up by this date's own evaluator."""
        return self._evaluator.param(name, np.array([day_number(self.day)]))

    @property
    def isp(self) -> np.ndarray:
        flagged: np.ndarray = self.isp_zero | self.isp_unrecorded
        return flagged

    @property
    def result(self) -> VectorResult:
        if self._result is None:
            values = self.values.complete() if isinstance(self.values, FiguresAt) else dict(self.values)
            self._result = self._evaluator.evaluate(self.parsed, self.days, derived=values)
        return self._result

    def listed(self, keep: Iterable[str]) -> VectorResult:
        """What the lists read of every row's evaluation at the KPI date: the outcome, fired rules, band approvers
        and, of the figures, only ``keep`` (their values, whether shown and where they apply). The whole
        evaluation (``result``) when it is made already; else made a block of ``LIST_BLOCK_ROWS`` rows at a time
        from the figures derived so far, keeping only that, so a big book's whole evaluation is never held at
        once. Each row's evaluation reads that row alone: the same as ``result``'s rows."""
        if self._result is not None or not isinstance(self.values, FiguresAt):
            return self.result
        names = tuple(dict.fromkeys(keep))
        if names not in self._listed:
            # made when the lists are (the other core idle then): two blocks at a time, the second evaluator's
            # (a book of one block has no second block to make: no second evaluator either)
            helper = VectorEvaluator(self.book) if self.parsed.n > LIST_BLOCK_ROWS else None
            self._listed[names] = in_blocks(self._evaluator, self.parsed, self.days, self.values._values, names, helper)
        return self._listed[names]


def in_blocks(
    evaluator: VectorEvaluator,
    parsed: ParsedBook,
    days: np.ndarray,
    seed: dict[str, Any],
    keep: tuple[str, ...],
    helper: VectorEvaluator | None = None,
) -> VectorResult:
    """Every row evaluated at ``days`` a block of ``LIST_BLOCK_ROWS`` rows at a time from ``seed`` (the book's
    columns and figures derived already for every row), holding the outcome, fired rules and band approvers of
    every row and, of the figures, those of ``seed`` and ``keep`` (where they apply, whether shown). Each row's
    evaluation reads that row alone: the same as a whole evaluation's rows. ``helper``: a second evaluator of the
    same rulebook; then two blocks are evaluated at once on two threads (numpy lets go of the GIL), each with an
    evaluator of its own, and taken in order (for when the other core would otherwise be idle)."""
    n = parsed.n
    fired = np.zeros((n, len(evaluator.rules)), bool, order="F")
    outcome, band_approver = np.zeros(n, np.int8), np.zeros(n, np.int64)
    info_only: dict[int, np.ndarray] = {}
    approvers: tuple[str, ...] | None = None
    have = set(seed.get("_derived", ()))
    parts = _Filled(n, [name for name in keep if name not in have])  # each kept figure, filled block by block
    leaders: dict[str, str] = {}  # a figure → the first kept figure with the same rows it applies to
    applies: dict[str, list[np.ndarray]] = {}
    starts = range(0, n, LIST_BLOCK_ROWS)
    wanted, filled = frozenset(keep), tuple(parts.names)

    def one(start: int, by: VectorEvaluator) -> _Block:
        rows = slice(start, min(start + LIST_BLOCK_ROWS, n))
        part = ParsedBook(rows.stop - start, {k: _cut(c, rows) for k, c in parsed.cols.items()}, parsed.valid[rows])
        into: dict[str, Any] = {k: _cut(c, rows) for k, c in seed.items() if isinstance(c, Col)}
        into["_derived"] = set(have)
        if "_bands" in seed:
            into["_bands"] = {table: (codes[rows], who) for table, (codes, who) in seed["_bands"].items()}
        derived = by.evaluate(part, days[rows], by.derive(part, days[rows], into=into))
        return _Block(
            rows,
            derived.fired,
            derived.outcome,
            derived.band_approver,
            derived.approvers,
            derived.info_only,
            {name: derived.values[name] for name in filled if name in derived.values},
            {name: mask for name, mask in derived.figure_applies.items() if name in wanted},
        )

    for block in _blocks(one, starts, evaluator, helper):
        rows = block.rows
        fired[rows], outcome[rows], band_approver[rows] = block.fired, block.outcome, block.band_approver
        for k, hit in block.info_only.items():
            info_only.setdefault(k, np.zeros(n, bool))[rows] = hit
        if approvers is None:
            approvers = block.approvers
            first: dict[int, str] = {}
            for name in keep:
                if name in block.figure_applies:
                    leaders[name] = first.setdefault(id(block.figure_applies[name]), name)
            applies = {name: [] for name in set(leaders.values())}
        elif approvers != block.approvers:  # the band tables' approvers: the same whatever the rows
            raise AssertionError("a block's band approvers differ")
        for name, col in block.values.items():
            parts.put(name, rows, col)
        for name, masks in applies.items():
            masks.append(block.figure_applies[name])
        del block
    values: dict[str, Any] = {k: c for k, c in seed.items() if isinstance(c, Col)}
    values.update(parts.whole())
    del parts
    values["_derived"] = have | {name for name in keep if name in values}
    shown = {name: values[name] for name in keep if name in evaluator.shown and name in values}
    joined = {name: np.concatenate(masks) for name, masks in applies.items()}
    where = {name: joined[leader] for name, leader in leaders.items()}
    return VectorResult(fired, outcome, band_approver, approvers or (), shown, where, days, values, info_only)


class _Block(NamedTuple):
    """What ``in_blocks`` keeps of one block's evaluation (its other figures and temporaries go with it)."""

    rows: slice
    fired: np.ndarray
    outcome: np.ndarray
    band_approver: np.ndarray
    approvers: tuple[str, ...]
    info_only: dict[int, np.ndarray]
    values: dict[str, Col]
    figure_applies: dict[str, np.ndarray]


def _blocks(
    one: Callable[[int, VectorEvaluator], _Block],
    starts: range,
    evaluator: VectorEvaluator,
    helper: VectorEvaluator | None,
) -> Iterator[_Block]:
    """Each block's evaluation in order: one at a time on this thread, or (``helper``) two at once, each on a
    thread with an evaluator of its own (one evaluator serves one evaluation at a time), at most one block made
    ahead of the one being taken."""
    if helper is None or len(starts) < 2:
        for start in starts:
            yield one(start, evaluator)
        return
    free: Queue[VectorEvaluator] = Queue()
    free.put(evaluator)
    free.put(helper)

    def run(start: int) -> _Block:
        by = free.get()
        try:
            return one(start, by)
        finally:
            free.put(by)

    with ThreadPoolExecutor(max_workers=2) as pool:
        pending: deque[Future[_Block]] = deque()
        for start in starts:
            pending.append(pool.submit(run, start))
            if len(pending) == 2:
                yield pending.popleft().result()
        while pending:
            yield pending.popleft().result()


def _cut(col: Col, rows: slice) -> Col:
    return Col(col.v[rows], col.ok[rows], col.cats)


class _Filled:
    """Whole-book columns of the named figures, each block's values written into place as they come (what
    concatenating the blocks' columns at the end gives, without holding the blocks' columns until then: freed
    only at the end, between the blocks' temporaries, they left glibc's heap holes too small for the whole
    columns that followed)."""

    def __init__(self, n: int, names: list[str]) -> None:
        self.n, self.names = n, names
        self._cols: dict[str, Col] = {}
        self._rows: dict[str, int] = {}

    def put(self, name: str, rows: slice, col: Col) -> None:
        whole = self._cols.get(name)
        if whole is None:
            whole = self._cols[name] = Col(
                np.empty((self.n, *col.v.shape[1:]), col.v.dtype), np.empty(self.n, col.ok.dtype), col.cats
            )
            self._rows[name] = 0
        elif col.v.dtype != whole.v.dtype:  # as concatenating would: the common type of every block's values
            kind = np.result_type(whole.v.dtype, col.v.dtype)
            whole = self._cols[name] = Col(whole.v.astype(kind), whole.ok, whole.cats)
        if rows.start != self._rows[name]:
            raise AssertionError(f"{name}: a block's values missing")
        whole.v[rows], whole.ok[rows] = col.v, col.ok
        self._rows[name] = rows.stop

    def whole(self) -> dict[str, Col]:
        """Every figure given for every row (a figure no block gave is left out)."""
        for name, stop in self._rows.items():
            if stop != self.n:
                raise AssertionError(f"{name}: a block's values missing")
        return {name: self._cols[name] for name in self.names if name in self._cols}


DATED = frozenset({"param", "param_by", "band", "as_at"})  # the figure language's operations that read a date


def date_free(book: Rulebook) -> frozenset[str]:
    """The figures that read no date in any service's formula: no parameter, band or as-at date, and no figure
    that does. Their values are the same whatever date the rows are derived at."""
    dated: set[str] = set()
    for name in figure_order(book.figures):
        for formula in book.figures[name].formulas.values():
            nodes = list(tree_nodes(formula))
            if any(node.op in DATED or (node.op == "figure" and node.args[0] in dated) for node in nodes):
                dated.add(name)
    return frozenset(book.figures) - dated


def kpi_names(book: Rulebook) -> set[str]:
    """The names the KPIs' own conditions read."""
    return {
        name
        for kpi in book.kpis.values()
        if kpi.share_of_active
        for cond in kpi.share_of_active
        for name in names_in(cond)
    }


def at_one_day(parsed: ParsedBook, days: np.ndarray, day: date) -> bool:
    """Whether every valid row was evaluated at ``day`` (then its evaluation serves the KPI date)."""
    return bool((days[parsed.valid] == day_number(day)).all())
