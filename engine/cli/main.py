"""The ``carerules`` command: a thin adapter over the library. Input errors exit 2, never with a traceback.

Each command imports the engine's modules it uses when it runs, not here: a command starts without loading what
it does not need (``tests/test_cli_startup.py``)."""

from __future__ import annotations

import json
import sys
from datetime import date
from decimal import Decimal
from importlib.metadata import entry_points
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, NoReturn

import typer

from engine.cli.bench import bench
from engine.cli.columns import columns
from engine.cli.options import (
    RULES_ENV,
    EngineChoice,
    ProvidersFile,
    RulesDir,
    evaluator_option,
    load_engine,
    load_providers,
)
from engine.cli.summary import summary_line
from engine.explain.json_text import dumps
from engine.rulebook.folders import DEFAULT_RULES_DIR

if TYPE_CHECKING:
    from engine.decide import Engine

app = typer.Typer(add_completion=False, no_args_is_help=True, help=__doc__, pretty_exceptions_show_locals=False)

COMMANDS = "carerules.commands"  # the entry point group of commands other packages add (pyproject.toml)

AsAt = Annotated[str | None, typer.Option("--as-at", help="Take the rules and rates as at this date (YYYY-MM-DD).")]


def _version(show: bool) -> None:
    if show:
        from importlib.metadata import PackageNotFoundError, version

        try:
            typer.echo(f"carerules {version('carerules')}")
        except PackageNotFoundError:  # pragma: no cover - run from a checkout that was never installed
            typer.echo("carerules (not installed)")
        raise typer.Exit(0)


@app.callback()
def _main(
    show_version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Print the version and exit.")
    ] = False,
) -> None:
    """Open rules-as-code for a council's care-placement pricing and charging decisions."""


def _fail(fields: dict[str, list[str]], code: str = "invalid_input") -> NoReturn:
    typer.echo(dumps({"error": {"code": code, "fields": fields}}))
    readable = "; ".join(f"{name}: {', '.join(messages)}" for name, messages in fields.items())
    typer.echo(f"carerules: {code.replace('_', ' ')}: {readable}", err=True)
    raise typer.Exit(2)


def _as_at(text: str | None) -> date | None:
    if text is None:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        _fail({"as_at": [f"must be a date as YYYY-MM-DD, got {text!r}"]})
    return None


def _whatif(engine: Engine, path: Path) -> Engine:
    """The engine with the dated overrides of a what-if file (the same file ``audit --parameters`` takes)."""
    from engine.decide import Engine
    from engine.editions.whatif import load_overrides, with_overrides
    from engine.rulebook.strict_yaml import RulebookError

    try:
        return Engine(with_overrides(engine.book, load_overrides(path), path.name), engine.evaluator)
    except RulebookError as exc:
        typer.echo(f"carerules: the what-if parameters file was refused: {exc}", err=True)
        raise typer.Exit(2) from None


def _read_json(source: str) -> Any:
    try:
        text = sys.stdin.read() if source == "-" else Path(source).read_text(encoding="utf-8")
    except OSError as exc:
        _fail({"file": [f"cannot read {source}: {exc.strerror}"]})
    try:
        return json.loads(text, parse_float=Decimal)
    except json.JSONDecodeError as exc:
        _fail({"placement": [f"not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}"]})


@app.command()
def check(
    file: Annotated[str, typer.Argument(help="A placement as JSON (or a JSON list of them); - reads stdin.")],
    as_at: AsAt = None,
    summary: Annotated[
        bool, typer.Option("--summary", help="One readable line per placement instead of JSON.")
    ] = False,
    parameters: Annotated[
        Path | None, typer.Option("--parameters", help="What-if: a YAML file of dated parameter values to override.")
    ] = None,
    rules: RulesDir = DEFAULT_RULES_DIR,
    evaluator: EngineChoice = None,
    providers: ProvidersFile = None,
) -> None:
    """Decide one placement (or a list of them) and print the decision as JSON."""
    from engine.validate.placement import InputError

    chosen = evaluator_option(evaluator)
    data, when, engine = _read_json(file), _as_at(as_at), load_engine(rules, chosen)
    if chosen is None and engine.evaluator == "vector":  # durable_rules is not installed: say which one decided
        typer.echo(
            "carerules: note: durable_rules is not installed in this Python; the vector evaluator decided "
            "(the same decisions)",
            err=True,
        )
    register = load_providers(providers)
    if parameters is not None:
        engine = _whatif(engine, parameters)
    if isinstance(data, list) or summary:
        results, failed = [], False
        for index, item in enumerate(data if isinstance(data, list) else [data]):
            try:
                results.append(engine.decide(item, when, register).to_dict())
            except InputError as exc:
                failed = True
                results.append({"index": index, **exc.to_json()})
                typer.echo(f"carerules: placement {index + 1}: invalid input: {exc}", err=True)
        typer.echo("\n".join(map(summary_line, results)) if summary else dumps(results))
        raise typer.Exit(2 if failed else 0)
    try:
        typer.echo(engine.decide(data, when, register).to_json())
    except InputError as exc:
        _fail(exc.fields)


@app.command("rules")
def list_rules(
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")] = False,
    rules: RulesDir = DEFAULT_RULES_DIR,
) -> None:
    """The rule catalogue: id, module, action, approver, label and reference of every rule."""
    from engine.explain.catalogue import rule_catalogue

    catalogue = rule_catalogue(load_engine(rules).book)
    if as_json:
        typer.echo(dumps(catalogue))
        return
    typer.echo(f"rulebook {catalogue['rulebook_version']}")
    for item in catalogue["rules"]:
        approver = f" ({item['approver']})" if item["approver"] else ""
        typer.echo(f"{item['rule_id']:<7} {item['action']}{approver}: {item['label']}\n        when {item['when']}")


@app.command()
def parameters(
    as_at: AsAt = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")] = False,
    rules: RulesDir = DEFAULT_RULES_DIR,
) -> None:
    """Every parameter's value in force at a date, with the date it took effect and its reference."""
    from engine.explain.catalogue import parameters_at

    when = _as_at(as_at)
    if when is None:
        _fail({"as_at": ["give --as-at YYYY-MM-DD: the engine never reads the clock"]})
    listing = parameters_at(load_engine(rules).book, when)
    if as_json:
        typer.echo(dumps(listing))
        return
    for item in listing["parameters"]:
        value = "not in force" if item["value"] is None else item["value"]
        if isinstance(value, list):
            value = "; ".join(f"band {row['band']}: {row['description']} → {row['approver']}" for row in value)
        since = f" since {item['effective_from']}" if item["effective_from"] else ""
        typer.echo(f"{item['name']:<45} {value} {item['unit']}{since}")


rates = typer.Typer(no_args_is_help=True, help="Rates and other dated parameters.")
app.add_typer(rates, name="rates")


@rates.command("import")
def rates_import(
    file: Annotated[
        Path,
        typer.Argument(
            help="Rates file with columns parameter, effective_from, value: CSV (any encoding the audit reads) or "
            "Excel, as a book is read."
        ),
    ],
    replace: Annotated[bool, typer.Option(help="Replace a value already dated the same day.")] = False,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Validate only; write nothing.")] = False,
    sheet: Annotated[
        str | None, typer.Option(help="The sheet of an Excel file (default: the first with the columns).")
    ] = None,
    rules: Annotated[
        Path | None,
        typer.Option(
            "--rules",
            envvar=RULES_ENV,
            show_envvar=True,
            help="Folder of the rulebook to change (default: a checkout's rules/; an installed carerules needs it: "
            "copy the shipped rulebook with `carerules init FOLDER`).",
        ),
    ] = None,
) -> None:
    """Add dated values (a new edition of rates) to parameters, validated; no code changes needed."""
    from engine.editions.rates_import import RatesImportError, read_rows, target_rules_dir, write_edition

    try:
        folder = (rules or DEFAULT_RULES_DIR) if dry_run else target_rules_dir(rules)  # a dry run writes nothing
    except RatesImportError as exc:
        _fail({"rules": exc.problems}, code="invalid_rates")
    try:
        values = read_rows(file, folder, replace, sheet)
        written = None if dry_run else write_edition(values, folder)
    except RatesImportError as exc:
        _fail({"file": exc.problems}, code="invalid_rates")
    for value in values:
        typer.echo(f"{value.parameter}: {value.text} from {value.effective_from}")
    if written is None:
        typer.echo("dry run: nothing written")
        return
    for path in written.files:
        typer.echo(f"wrote {path.resolve()}")
    typer.echo(f"rulebook version is now {written.version}")


app.add_typer(bench, name="bench")
app.add_typer(columns, name="columns")


@app.command()
def init(
    folder: Annotated[Path, typer.Argument(help="A new (or empty) folder to write the council's rulebook into.")],
) -> None:
    """Write a council rulebook into FOLDER that extends the shipped national base; then use it with --rules FOLDER
    or CARERULES_RULES_DIR."""
    from engine.rulebook.skeleton import SkeletonError, write_skeleton

    try:
        base = write_skeleton(folder, DEFAULT_RULES_DIR)
    except SkeletonError as exc:
        typer.echo(f"carerules: {exc}", err=True)
        raise typer.Exit(2) from None
    version = load_engine(folder).book.version
    typer.echo(f"carerules: wrote a council rulebook (version {version}) to {folder}, extending {base}", err=True)
    typer.echo("carerules: its own parameters are marked ILLUSTRATIVE until the council writes its own", err=True)
    typer.echo(f"carerules: use it with --rules {folder} or {RULES_ENV}={folder}", err=True)


def main() -> None:
    """The ``carerules`` console script: the commands, each free to leave without the interpreter's teardown once
    it has written everything (``engine.cli.leave``)."""
    from engine.cli.leave import from_script

    from_script()
    app()


def add_commands(app: typer.Typer) -> None:
    """The commands other packages add (the API's ``serve``, ``users`` and ``bench api``, from api/cli.py): each
    entry point of the group ``carerules.commands`` is a function given this app. The one seam between the engine's
    command line and the API, so that nothing in engine/ imports api/."""
    for point in entry_points(group=COMMANDS):
        point.load()(app)


from engine.cli.audit import audit_command, bench_audit_command, sample_command  # noqa: E402
from engine.cli.whatif import whatif_command  # noqa: E402
from engine.cli.worked import test_command  # noqa: E402

add_commands(app)  # here, so that `carerules --help` lists serve after init and bench api before bench audit
app.command("test")(test_command)
app.command("audit")(audit_command)
app.command("sample")(sample_command)
app.command("whatif")(whatif_command)
bench.command("audit")(bench_audit_command)
