"""Batch audits (SPEC §9): every row of a placement book gets an outcome, reason codes, key figures or its
input errors, in input order; the KPIs are computed; what-if runs list the placements whose outcome changes.

``run_audit`` is the library function (the CLI and the API call it); ``engine.audit.outputs.write.write_outputs``
writes the results CSV/Excel, the KPIs as JSON and the HTML report.
"""

from __future__ import annotations

from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import date
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd
import pyarrow as pa

from engine.audit.books.arrow_in import table_from_frame, text_table
from engine.audit.books.block_beds import BlockBooking
from engine.audit.books.columns import ColumnMap, load_column_map
from engine.audit.books.compact import as_text, compact
from engine.audit.books.problems import control_character_rows, missing_column_warnings
from engine.audit.books.read import Book, BookError, Limits, load_book, recognise
from engine.audit.changes import whatif_summary
from engine.audit.kpis.at_kpi_date import kpis_at_kpi_date
from engine.audit.kpis.compute import compute_kpis, default_period, kpis_ahead
from engine.audit.kpis.series import BY, kpi_series
from engine.audit.kpis.services import permanent as permanent_stays
from engine.audit.memory import hand_back, hold_once
from engine.audit.outputs.csv_as_read import input_text, same_cells
from engine.audit.outputs.csv_out import CSV_BLOCK_ROWS
from engine.audit.outputs.results import RESULT_COLUMNS, Stages, results_and_csv
from engine.audit.reference import Progress, durable_result
from engine.audit.result import AuditResult
from engine.audit.views import AuditViews, at_one_day
from engine.editions.whatif import load_overrides, whatif_date, with_overrides
from engine.evaluate.vector import row_dates
from engine.rulebook.loader import Rulebook, load_rulebook
from engine.validate.batch import SPECS, ParsedBook, day_number, parse_columns, settle_doubtful
from engine.validate.register import ProviderRegister, own_register_columns, with_register

__all__ = ["AuditResult", "BookError", "run_audit"]

KEPT = ("row", "errors")  # the result columns an audit that wrote results.csv keeps when told to be lean


def _as_book(source: Any, columns: ColumnMap, sheet: str | None, limits: Limits | None) -> Book:
    if isinstance(source, (str, Path)):
        return load_book(source, columns, sheet, limits)
    if isinstance(source, pd.DataFrame):
        if source.empty:
            raise BookError("the table has no placements")
        table = table_from_frame(source)
    elif isinstance(source, pa.Table):
        if source.num_rows == 0:
            raise BookError("the table has no placements")
        if all(pa.types.is_string(t) or pa.types.is_large_string(t) for t in source.schema.types):
            table = source
        else:
            table = text_table(source)
    else:
        raise BookError(f"cannot audit a {type(source).__name__}: give a book's path, a DataFrame or an Arrow table")
    # a table is numbered as it would be in a sheet: the header is row 1
    return recognise(Book(table, np.arange(2, table.num_rows + 2, dtype=np.int64)), columns)


def _column_warnings(table: pa.Table) -> tuple[pa.Table, list[str]]:
    unknown = [name for name in table.column_names if name not in SPECS]
    warnings = []
    if unknown:
        warnings.append(f"unknown columns passed through unchanged (check the spelling): {', '.join(unknown)}")
    clash = [name for name in unknown if name in RESULT_COLUMNS]
    if clash:
        table = table.rename_columns([f"input_{n}" if n in clash else n for n in table.column_names])
        warnings.append(
            f"input columns renamed so they do not clash with result columns: "
            f"{', '.join(f'{n} → input_{n}' for n in clash)}"
        )
    return table, warnings


def _register_columns(
    table: pa.Table, providers: ProviderRegister | None, warnings: list[str]
) -> tuple[pa.Table, list[str]]:
    """The register's facts joined onto the book; a book's own columns of those names are never read."""
    own = own_register_columns(table)
    if own:
        warnings = [*warnings, f"columns ignored (only the provider register gives them): {', '.join(own)}"]
    return with_register(table, providers), warnings


def _rulebook(rules: Rulebook | Path | str | None, parameters: Any) -> tuple[Rulebook, Rulebook]:
    base = rules if isinstance(rules, Rulebook) else load_rulebook(rules) if rules else load_rulebook()
    if parameters is None:
        return base, base
    if isinstance(parameters, Rulebook):
        return base, parameters
    overrides = parameters if isinstance(parameters, dict) else load_overrides(parameters)
    source = str(parameters) if not isinstance(parameters, dict) else "what-if"
    return base, with_overrides(base, overrides, source)


def _whatif_after_the_book(base: Rulebook, book: Rulebook, parsed: ParsedBook, dates: np.ndarray) -> date | None:
    """The what-if's first date, when it is after every valid row's own evaluation date (its as_at, else its start
    date): then, evaluated at their own dates, no row could see the change."""
    if book is base:
        return None
    first = whatif_date(base, book)
    own = dates[parsed.valid]
    if first is None or not len(own) or day_number(first) <= int(own.max()):
        return None
    return first


def _per_row(values: Any, rows: int, name: str) -> np.ndarray | None:
    """One value per row (True, False, or None for not known) as 1, 0, -1; None when not given."""
    if values is None:
        return None
    given = list(values)
    if len(given) != rows:
        raise ValueError(f"{name}: {len(given):,} values for a book of {rows:,} rows")
    return np.array([-1 if v is None else int(bool(v)) for v in given], np.int8)


def run_audit(
    source: pd.DataFrame | pa.Table | Path | str,
    as_at: date | None = None,
    period_start: date | None = None,
    parameters: Path | str | dict[str, Any] | Rulebook | None = None,
    engine: Literal["vector", "durable"] = "vector",
    rules: Rulebook | Path | str | None = None,
    progress: Progress | None = None,
    columns: ColumnMap | Path | str | bytes | dict[str, Any] | None = None,
    sheet: str | None = None,
    limits: Limits | None = None,
    results_csv: Path | str | None = None,
    by: Literal["quarter", "month"] | None = None,
    in_area: Any = None,
    permanent: Any = None,
    providers: ProviderRegister | None = None,
    block_beds: Sequence[BlockBooking] | None = None,
    keep_table: bool = True,
) -> AuditResult:
    """Audit a placement book. Raises BookError for a book that cannot be read, RulebookError for bad rules
    or a bad what-if file. ``as_at`` evaluates every row at that date (else each row's ``as_at``, else its
    start date) and ends the KPI period (else the latest start date ends it); without it, a what-if whose changes
    start after every row's own date is evaluated at the date they start (SPEC §18). ``columns`` maps other column
    spellings to fields; ``sheet`` picks an Excel sheet; ``limits`` bound what is read. ``results_csv``: write
    results.csv there, on the other core while the KPIs are computed (``write_outputs`` then leaves it). ``by``
    adds each KPI as a series over the period, by quarter or month (SPEC §19). ``in_area`` and ``permanent``, one
    value per row of the book (True, False or None for not known), give the activity tables whether each service
    is in the council's area and whether each start is a permanent admission (by default: from the provider
    register, and from each row's stay_type). ``providers``: the provider register, joined by provider_id (the PRV
    rules and the KPIs that need it); ``block_beds``: the block-bed file's blocks (block-bed occupancy).
    ``keep_table=False`` with ``results_csv``: the result columns are let go once written (a big book's audit then
    holds less); ``AuditResult.table`` makes them again if it is asked for."""
    if by is not None and by not in BY:
        raise ValueError(f"by must be one of {', '.join(BY)}, not {by!r}")
    tick = progress or (lambda stage, done, total: None)
    stages = Stages()
    mapping = columns if isinstance(columns, ColumnMap) else load_column_map(columns)
    read = _as_book(source, mapping, sheet, limits)
    table, warnings = _column_warnings(read.table)
    table, warnings = _register_columns(table, providers, warnings)
    if read.matched is not None:
        warnings += missing_column_warnings(read.matched)
    base, book = _rulebook(rules, parameters)
    notes = list(read.notes)
    if as_at is not None and as_at < book.earliest_as_at:
        raise BookError(f"--as-at {as_at.isoformat()}: rules are only held from {book.earliest_as_at.isoformat()}")
    stages.done("read")
    tick("validate", 0, table.num_rows)
    # the second core: the input columns of a big results.csv as text while the rows the column-wise validation
    # is not sure of go through the model one by one, then the figures at the KPI date while the rows are
    # evaluated at their own dates, then the results table and the rest of results.csv while the KPIs are
    # computed (numpy and Arrow's writer release the GIL)
    lean = results_csv is not None and not keep_table
    with ThreadPoolExecutor(max_workers=1) as other_core:
        big = results_csv is not None and table.num_rows > CSV_BLOCK_ROWS
        encoded: dict[str, pa.DictionaryArray] | None = {} if lean and big and engine == "vector" else None
        parsed, doubtful = parse_columns(table, book, encoded)
        source = read.source if big and read.source is not None and same_cells(table, read.table) else None
        leading = other_core.submit(input_text, table, source) if big else None
        settle_doubtful(table, parsed, doubtful, book)
        for index, fields in control_character_rows(table).items():
            parsed.errors.setdefault(index, {}).update(fields)
            parsed.valid[index] = False
        hold_once(parsed.cols, parsed.n)  # the book's absent columns and gapless masks held once
        compacted = bool(encoded)
        if encoded:  # results.csv's input text is made ahead: the input table held in less memory from here on
            # (and its text columns the parsed book holds in one piece, the same cells, held once)
            held = {"placement_id": parsed.placement_id, "provider": parsed.provider}
            table = read.table = compact(table, {**encoded, **{k: a for k, a in held.items() if a is not None}})
            del encoded, held
        dates = row_dates(parsed, as_at)
        later = _whatif_after_the_book(base, book, parsed, dates) if as_at is None else None
        if later is not None:  # SPEC §18: a what-if dated after the book's placements is evaluated at its date
            as_at, dates = later, row_dates(parsed, later)
            notes.append(
                f"the what-if changes parameters from {later.isoformat()}, after every placement's own date: every "
                f"row is evaluated at {later.isoformat()} and the KPI period ends then (--as-at chooses another date)"
            )
        starts = parsed.cols["start_date"].v[parsed.valid]
        end = as_at or (
            date.fromordinal(date(1970, 1, 1).toordinal() + int(starts.max())) if len(starts) else book.earliest_as_at
        )
        stages.done("validate")
        tick("evaluate", 0, table.num_rows)
        views = AuditViews(book, parsed)
        if in_area is None and providers is not None and "provider_id" in table.column_names:
            # in the council's area: the register's in_area of each row's provider (not known: none or not in it)
            ids = table.column("provider_id").to_pylist()
            in_area = [None if (found := providers.get(given)) is None else found.in_area for given in ids]
        views.in_area = _per_row(in_area, parsed.n, "in_area")
        permanent_rows = _per_row(permanent, parsed.n, "permanent")
        # a permanent admission: as given, else each row's stay_type (temporary and respite stays are not)
        views.permanent = permanent_stays(parsed) if permanent_rows is None else permanent_rows == 1
        ahead = None
        if engine != "vector" or not at_one_day(parsed, dates, end):
            if engine == "vector":  # the figures that read no date first: the KPI date takes them, not copies
                views.derive_date_free(dates)
            ahead = other_core.submit(kpis_at_kpi_date, views, end)
        if engine == "durable":
            result, errors = durable_result(book, table, parsed, as_at, tick)
            values = views.own_figures(dates)
        else:
            # lean: a block of rows at a time, what only the rules read (parameters, figures not shown) not held
            result, errors = views.evaluate(dates, blocks=compacted), parsed.errors
            values = result.values
        if compacted and ahead is not None:  # the evaluation's freed blocks, while the KPI date's figures are made
            hand_back()
        rows = read.row_numbers
        # the results table and results.csv on the other core as soon as it has made the KPI date's figures: they
        # read only the rows' own evaluation
        making = other_core.submit(
            results_and_csv,
            results_csv,
            leading,
            table,
            parsed,
            result,
            errors,
            book,
            dates,
            rows,
            keep=KEPT if lean else None,
        )
        period = default_period(end, period_start)
        # the KPIs that read nothing of the KPI date, while its figures are made on the other core
        early = kpis_ahead(views, result, period)
        kpi_date = ahead.result() if ahead is not None else kpis_at_kpi_date(views, end)
        views.share_date_free()  # the KPI date's figures that read no date: the rows' own, not copies
        if compacted:  # a big lean audit: the evaluations' freed blocks handed back before the KPIs
            hand_back()
        stages.done("evaluate")
        tick("kpis", 0, table.num_rows)
        kpis = compute_kpis(views, result, period, kpi_date, providers, block_beds, early)
        if by is not None:
            kpis["series"] = kpi_series(views, period, by, providers, block_beds)
        stages.done("kpis")
        if compacted:  # the KPIs' temporaries, while results.csv's last blocks are still being written
            hand_back()
        out, other = making.result()
        stages.timings.update(other)  # the results table and results.csv, on the other core during the KPIs
        stages.done("results_wait")
        if compacted:  # and the KPIs' and results.csv's before the lists and the report
            hand_back()
    audit = AuditResult(
        out,
        kpis,
        warnings,
        book.version,
        engine,
        as_at,
        parsed,
        result,
        values,
        book,
        read.row_numbers,
        kpi_date.at,
        views,
    )
    if lean:  # the whole table, made again only if asked for (error lines read the columns kept)
        audit.make_table = lambda: results_and_csv(
            None, None, as_text(table), parsed, result, errors, book, dates, rows
        )[0]
        audit.result_columns = RESULT_COLUMNS
    audit.results_csv = Path(results_csv) if results_csv is not None else None
    audit.providers, audit.block_beds = providers, block_beds
    audit.notes = notes
    if book is not base:
        baseline = AuditViews(base, parsed).evaluate(dates)  # the rows under the rules without the what-if
        audit.whatif, audit.whatif_changes = whatif_summary(base, book, parsed, baseline, result)
        stages.done("whatif")
    audit.timings = stages.timings
    return audit
