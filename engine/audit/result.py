"""The result of an audit: per-row results (input columns first, unchanged, then the result columns), the KPIs,
the views of the book at its dates, and what a what-if changed; its summary is what kpis.json holds."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import pyarrow as pa

from engine.audit.books.problems import error_lines, error_summary, group_errors
from engine.audit.lists.tables import list_masks, side_lists
from engine.audit.views import AtKpiDate, AuditViews
from engine.evaluate.vector import VectorResult
from engine.rulebook.loader import Rulebook
from engine.validate.batch import ParsedBook
from engine.validate.register import ProviderRegister

if TYPE_CHECKING:
    from engine.audit.books.block_beds import BlockBooking

__all__ = ["AuditResult"]


@dataclass
class AuditResult:
    """Per-row results (input columns first, unchanged, then the result columns), KPIs and what-if changes."""

    results: pa.Table  # the results table; where ``make_table`` is given, only its input columns, row and errors
    kpis: dict[str, Any]
    warnings: list[str]
    rulebook_version: str
    engine: str
    as_at: date | None
    parsed: ParsedBook
    result: VectorResult
    values: dict[str, Any]
    book: Rulebook
    row_numbers: np.ndarray
    at_kpi: AtKpiDate
    views: AuditViews  # the book at the rows' own dates, their start dates and the KPI date, each derived once
    notes: list[str] = field(default_factory=list)
    whatif: dict[str, Any] | None = None
    whatif_changes: pa.Table | None = None
    timings: dict[str, float] = field(default_factory=dict)
    results_csv: Path | None = None  # where run_audit wrote results.csv, if it was asked to
    providers: ProviderRegister | None = None  # the provider register given with the book, if any
    block_beds: Sequence[BlockBooking] | None = None  # the block-bed file's blocks, if given
    # makes the whole results table when first asked for (run_audit wrote results.csv and let its columns go)
    make_table: Callable[[], pa.Table] | None = None
    result_columns: tuple[str, ...] = ()  # the result columns the whole table has after the input columns
    _error_lines: list[tuple[int, str, str, str]] | None = field(default=None, init=False, repr=False)

    @property
    def table(self) -> pa.Table:
        """Per-row results: input columns first, unchanged, then the result columns."""
        if self.make_table is not None:
            self.results, self.make_table = self.make_table(), None
        return self.results

    @property
    def column_names(self) -> list[str]:
        """The whole results table's column names (without making it)."""
        if self.make_table is None:
            names: list[str] = self.results.column_names
            return names
        inputs = self.results.num_columns - sum(name in self.results.column_names for name in self.result_columns)
        return [*self.results.column_names[:inputs], *self.result_columns]

    @property
    def rows(self) -> int:
        rows: int = self.results.num_rows
        return rows

    @property
    def error_rows(self) -> int:
        return int((~self.parsed.valid).sum())

    @property
    def exit_code(self) -> int:
        """0 when every row was decided, 1 when some could not be (2, a book that cannot be used, is raised)."""
        return 1 if self.error_rows else 0

    @property
    def frame(self) -> pd.DataFrame:
        """The results as a DataFrame (arrow-backed: money stays exact decimal)."""
        frame: pd.DataFrame = self.table.to_pandas(types_mapper=pd.ArrowDtype)
        return frame

    def error_lines(self) -> list[tuple[int, str, str, str]]:
        """(spreadsheet row, field, value as written, message) of every row not decided
        (``engine.audit.books.problems.error_lines``), made once: the summary and errors.csv read them."""
        if self._error_lines is None:
            self._error_lines = error_lines(self)
        return self._error_lines

    def summary(self) -> dict[str, Any]:
        """JSON-ready (Decimals; write with ``engine.decision.dumps``)."""
        return {
            "rulebook_version": self.rulebook_version,
            "engine": self.engine,
            "as_at": self.as_at,
            "rows": self.rows,
            "error_rows": self.error_rows,
            "warnings": self.warnings,
            "notes": self.notes,
            **self.kpis,
            "kpi_date": self.at_kpi.day,
            "lists": {name: int(mask.sum()) for name, mask in list_masks(self).items()}
            | {name: table.num_rows for name, table in side_lists(self).items()},
            "errors": error_summary(group_errors(self.error_lines())),
            "whatif": self.whatif,
        }
