"""``carerules audit``, ``carerules sample`` and ``carerules bench audit`` (registered in engine/cli/main.py)."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Annotated, Any

import typer

from engine.cli.leave import leave
from engine.cli.options import BlockBedsFile, ProvidersFile, RulesDir, evaluator_option, load_blocks, load_providers
from engine.explain.json_text import dumps
from engine.rulebook.folders import DEFAULT_RULES_DIR
from engine.rulebook.strict_yaml import RulebookError

PROGRESS_BYTES = 2_000_000  # show a progress bar for books larger than this (about 10,000 rows)


def _date(option: str, text: str | None) -> date | None:
    if text is None:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        typer.echo(f"carerules: {option} must be a date as YYYY-MM-DD, got {text!r}", err=True)
        raise typer.Exit(2) from None


class _Bar:
    """A progress bar on stderr (rich), for long runs only: the stage, its rows done and rows a second (over the
    stage so far). Writing the outputs is a stage of its own, told a block of rows at a time."""

    def __init__(self, enabled: bool, clock: Callable[[], float] = time.monotonic) -> None:
        self.progress: Any = None
        self.task: Any = None
        self.clock = clock
        self.stage: tuple[str, float] = ("read", clock())
        if enabled:
            from rich.console import Console
            from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

            self.progress = Progress(
                TextColumn("{task.description:<10}"),
                BarColumn(),
                TextColumn("{task.completed:,.0f} rows"),
                TextColumn("{task.fields[rate]}"),
                TimeElapsedColumn(),
                console=Console(stderr=True),
                transient=True,
            )

    def __enter__(self) -> _Bar:
        if self.progress:
            self.progress.start()
            self.task = self.progress.add_task("read", total=1, rate="")
        return self

    def __exit__(self, *exc: object) -> None:
        if self.progress:
            self.progress.stop()

    def rate(self, stage: str, done: int) -> str:
        """Rows a second in this stage so far ("" at its start)."""
        if stage != self.stage[0]:
            self.stage = (stage, self.clock())
        elapsed = self.clock() - self.stage[1]
        return f"{done / elapsed:,.0f} rows/s" if done and elapsed > 0 else ""

    def __call__(self, stage: str, done: int, total: int) -> None:
        rate = self.rate(stage, done)
        if self.progress:
            self.progress.update(self.task, description=stage, completed=done, total=max(total, 1), rate=rate)


def audit_command(
    file: Annotated[
        Path,
        typer.Argument(help="The placement book with a header row: .csv, .xlsx, .xlsm, .xlsb, .xls, .ods or .parquet."),
    ],
    as_at: Annotated[
        str | None,
        typer.Option(
            "--as-at",
            help=(
                "Evaluate every row at this date and end the KPI period on it "
                "(default: each row's as_at or start date; the period ends at the latest start date)."
            ),
        ),
    ] = None,
    period_start: Annotated[
        str | None,
        typer.Option("--period-start", help="First day of the KPI period (default: 12 months before its end)."),
    ] = None,
    out: Annotated[
        Path, typer.Option("--out", help="Folder for results.csv, results.xlsx, kpis.json and report.html.")
    ] = Path("out"),
    parameters: Annotated[
        Path | None, typer.Option("--parameters", help="What-if: a YAML file of dated parameter values to override.")
    ] = None,
    engine: Annotated[
        str, typer.Option("--engine", help="vector (fast) or durable (one decision at a time, the reference).")
    ] = "vector",
    check_engines: Annotated[
        bool,
        typer.Option(
            "--check-engines", help="Run every row through both evaluators and report any difference (no other output)."
        ),
    ] = False,
    excel: Annotated[
        bool | None,
        typer.Option("--excel/--no-excel", help="Write results.xlsx (default: yes, for any book that fits a sheet)."),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the KPIs as JSON instead of a table.")] = False,
    rules: RulesDir = DEFAULT_RULES_DIR,
    columns: Annotated[
        Path | None,
        typer.Option("--columns", help="Column map (YAML): other names for fields, e.g. 'placement_id: [Client Ref]'."),
    ] = None,
    sheet: Annotated[
        str | None, typer.Option("--sheet", help="Excel sheet to read (default: the first with a header row).")
    ] = None,
    format: Annotated[
        str,
        typer.Option(
            "--format",
            help="csv (default) or parquet: the results, lists and errors as Parquet files (money as decimal(18,2)).",
        ),
    ] = "csv",
    by: Annotated[
        str | None,
        typer.Option(
            "--by",
            help="quarter or month: every KPI also as a series over the period (kpis.json, the KPI series sheet, "
            "a trend chart per KPI in the report).",
        ),
    ] = None,
    providers: ProvidersFile = None,
    block_beds: BlockBedsFile = None,
) -> None:
    """Audit a placement book: outcome and reason codes per row, KPIs, lists, HTML report; what-if with
    --parameters. Exit 0 when every row was decided, 1 when some rows could not be (all outputs still written),
    2 when the book cannot be used."""
    from engine.audit.books.excel_ahead import read_ahead as parse_ahead

    parse_ahead(file, sheet)  # an Excel book is parsed on a thread (calamine lets go of the GIL) while the rest loads
    from engine.audit.books.columns import ColumnError, load_column_map
    from engine.audit.books.read import BookError
    from engine.audit.memory import keep_freed_memory

    # a short-lived process: reuse freed arrays rather than ask the kernel for fresh pages (first, before any
    # import or thread has made a heap of its own, so that every thread shares one)
    keep_freed_memory()

    when, first = _date("--as-at", as_at), _date("--period-start", period_start)
    evaluator_option(engine)  # vector or durable; durable only where durable_rules runs
    if check_engines:
        evaluator_option("durable", "--check-engines")  # every row through durable_rules too
    if by is not None and by not in ("quarter", "month"):
        typer.echo(f"carerules: --by must be quarter or month, got {by!r}", err=True)
        raise typer.Exit(2)
    if format not in ("csv", "parquet"):
        typer.echo(f"carerules: --format must be csv or parquet, got {format!r}", err=True)
        raise typer.Exit(2)
    book = _rulebook(rules)
    try:
        mapping = load_column_map(columns)
    except ColumnError as exc:
        typer.echo(f"carerules: {columns}: {exc}", err=True)
        raise typer.Exit(2) from None
    register, blocks = load_providers(providers), load_blocks(block_beds)
    if check_engines:
        _check_engines(file, book, when, mapping, sheet, register)
        return
    big = file.is_file() and file.stat().st_size > PROGRESS_BYTES
    from engine.audit.books import csv_ahead
    from engine.audit.books.read import read_ahead
    from engine.audit.outputs.renderer import ReportRenderer

    # the report's libraries are imported on the other core while the book is read and audited: forked first,
    # while the process is small and has no reader threads
    renderer = ReportRenderer.start()
    try:
        # a CSV book is read on Arrow's threads (they let go of the GIL) while the audit's modules are imported
        read_ahead(file, mapping)
        from engine.audit.outputs.write import kpi_lines, write_outputs
        from engine.audit.run import run_audit

        with _Bar(big or engine == "durable") as bar:
            audit = run_audit(
                file,
                as_at=when,
                period_start=first,
                parameters=parameters,
                engine=engine,  # type: ignore[arg-type]
                rules=book,
                progress=bar,
                columns=mapping,
                sheet=sheet,
                results_csv=Path(out) / "results.csv" if format == "csv" else None,
                by=by,  # type: ignore[arg-type]
                providers=register,
                block_beds=blocks,
                keep_table=excel is not False,  # results.xlsx reads the whole table; else results.csv is enough
            )
            paths = write_outputs(audit, out, excel=excel, renderer=renderer, format=format, progress=bar)  # type: ignore[arg-type]
    except BookError as exc:
        typer.echo(f"carerules: cannot audit {file}: {exc}", err=True)
        raise typer.Exit(2) from None
    except RulebookError as exc:
        typer.echo(f"carerules: the what-if parameters file was refused: {exc}", err=True)
        raise typer.Exit(2) from None
    finally:
        csv_ahead.settle()  # a read ahead not taken up (the audit stopped before the book): no reader cut off
        if renderer is not None:
            renderer.close()
    for note in audit.notes:
        typer.echo(f"carerules: {note}", err=True)
    for warning in audit.warnings:
        typer.echo(f"carerules: warning: {warning}", err=True)
    typer.echo(dumps(audit.summary()) if as_json else "\n".join(kpi_lines(audit.summary())))
    typer.echo("")
    for name, path in paths.items():
        typer.echo(f"{name.replace('_', ' '):<28} {path}")
    leave(audit.exit_code)  # every file is written and closed: from the console script, without the teardown


def _rulebook(rules: Path) -> Any:
    from engine.rulebook.loader import load_rulebook

    try:
        return load_rulebook(rules)
    except RulebookError as exc:
        typer.echo(f"carerules: the rulebook refused to load: {exc}", err=True)
        raise typer.Exit(3) from None


def _check_engines(
    file: Path, book: Any, when: date | None, mapping: Any = None, sheet: str | None = None, register: Any = None
) -> None:
    from engine.audit.books.read import BookError, read_book
    from engine.decide import Engine
    from engine.evaluate.equivalence import compare_engines

    try:
        table = read_book(file, mapping, sheet)
    except BookError as exc:
        typer.echo(f"carerules: cannot audit {file}: {exc}", err=True)
        raise typer.Exit(2) from None
    from engine.validate.register import with_register

    table = with_register(table, register)
    with _Bar(True) as bar:
        report = compare_engines(table, Engine(book, "durable"), when, tick=lambda k: bar("compare", k, table.num_rows))
    typer.echo(
        dumps(
            {
                "rows": report.rows,
                "compared": report.compared,
                "input_error_rows": report.error_rows,
                "differences": len(report.differences),
                "first_differences": [{k: str(v) for k, v in d.items()} for d in report.differences[:5]],
            }
        )
    )
    raise typer.Exit(1 if report.differences else 0)


def sample_command(
    rows: Annotated[int, typer.Option("--rows", min=1, help="Number of placements.")] = 500,
    seed: Annotated[int, typer.Option("--seed", help="Random seed: the same seed gives the same book.")] = 2026,
    out: Annotated[
        Path | None, typer.Option("--out", help="Write to this .csv or .xlsx file (default: CSV on stdout).")
    ] = None,
    rules: RulesDir = DEFAULT_RULES_DIR,
    providers_out: Annotated[
        Path | None,
        typer.Option("--providers-out", help="Also write the sample's provider register to this .csv or .xlsx file."),
    ] = None,
    block_beds_out: Annotated[
        Path | None,
        typer.Option("--block-beds-out", help="Also write the sample's block-bed file to this .csv or .xlsx file."),
    ] = None,
) -> None:
    """A synthetic placement book (no personal data) with realistic prices and a few bad rows; with
    --providers-out and --block-beds-out, the provider register and block-bed file that go with it."""
    from engine.audit.books.sample import sample_book
    from engine.audit.books.sample_providers import sample_block_beds, sample_register, with_providers
    from engine.audit.outputs.write import write_csv, write_excel

    book = _rulebook(rules)
    table = with_providers(sample_book(rows, seed, book), seed)
    for side, made in ((providers_out, sample_register(seed)), (block_beds_out, sample_block_beds(seed, book))):
        if side is not None:
            side.parent.mkdir(parents=True, exist_ok=True)
            (write_excel if side.suffix.lower() == ".xlsx" else write_csv)(made, side)
            typer.echo(f"carerules: wrote {made.num_rows:,} rows to {side}", err=True)
    if out is None:
        import pyarrow.csv as pa_csv

        sink = sys.stdout.buffer
        pa_csv.write_csv(table, sink, write_options=pa_csv.WriteOptions(quoting_style="needed"))
        return
    out.parent.mkdir(parents=True, exist_ok=True)
    (write_excel if out.suffix.lower() == ".xlsx" else write_csv)(table, out)
    typer.echo(f"carerules: wrote {rows:,} placements to {out}", err=True)


def bench_audit_command(
    rows: Annotated[str, typer.Option("--rows", help="Comma-separated book sizes.")] = "100000,1000000",
    workdir: Annotated[
        Path | None, typer.Option("--workdir", help="Where to write the generated books (default: a temporary folder).")
    ] = None,
    excel: Annotated[
        bool,
        typer.Option(
            "--excel", help="An .xlsx book through `carerules audit` to every output (default sizes 10k, 100k)."
        ),
    ] = False,
    compare_floor: Annotated[
        Path | None,
        typer.Option(
            "--compare-floor",
            help="A floor script (../shared/bench/floor.py): `carerules audit BOOK --no-excel` against it on the "
            "same CSV book, alternated, each a whole process; each round's ratio and peaks (issue 29).",
        ),
    ] = None,
    book: Annotated[
        Path | None,
        typer.Option("--book", help="With --compare-floor: the CSV book (default: a sample of the last --rows)."),
    ] = None,
    rounds: Annotated[int, typer.Option("--rounds", min=1, help="With --compare-floor: rounds.")] = 5,
) -> None:
    """Batch audit end to end (read CSV, validate, evaluate, reason codes, write results CSV, KPIs) against
    reading and writing the same CSV with pandas; wall time (the median of 3 fresh processes), rows/s, peak
    memory, the machine. With --compare-floor: the whole command against a floor script instead."""
    from engine.bench.audits import batch_benchmark, excel_benchmark

    if excel and rows == "100000,1000000":
        rows = "10000,100000"
    sizes = [int(text.replace("_", "")) for text in rows.split(",") if text.strip()]
    if compare_floor is not None:
        typer.echo(dumps(_against_floor(compare_floor, book, sizes[-1], workdir, rounds)))
        return
    typer.echo(dumps(excel_benchmark(sizes, workdir) if excel else batch_benchmark(sizes, workdir)))


def _against_floor(floor: Path, book: Path | None, rows: int, workdir: Path | None, rounds: int) -> dict[str, Any]:
    from engine.bench.floor import floor_benchmark

    for path, what in ((floor, "--compare-floor"), (book, "--book")):
        if path is not None and not path.is_file():
            typer.echo(f"carerules: {what} {path}: no such file", err=True)
            raise typer.Exit(2)
    try:
        return floor_benchmark(floor, book, rows, workdir, rounds)
    except RuntimeError as exc:
        typer.echo(f"carerules: {exc}", err=True)
        raise typer.Exit(2) from None
