"""``carerules whatif``: the annual fee review (SPEC §18), over ``engine.audit.fee_review``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from engine.cli.audit import _rulebook
from engine.cli.options import RulesDir
from engine.explain.json_text import dumps
from engine.money import MoneyError, show_pounds, to_pence
from engine.rulebook.folders import DEFAULT_RULES_DIR
from engine.rulebook.strict_yaml import RulebookError


def _refuse(message: str) -> typer.Exit:
    typer.echo(f"carerules: {message}", err=True)
    return typer.Exit(2)


def _when(option: str, text: str | None) -> Any:
    from engine.validate.values import parse_date

    if text is None:
        return None
    try:
        return parse_date(text)
    except ValueError as exc:
        raise _refuse(f"{option}: {exc}") from None


def whatif_command(
    file: Annotated[Path, typer.Argument(help="The placement book, as `carerules audit` reads it.")],
    uplift: Annotated[
        str,
        typer.Option(
            "--uplift",
            help="CATEGORY=PCT[,…]: a care type of the care categories (residential, nursing), supported_living, or "
            "one of its reference rates (day_hour_rate, waking_night_hour_rate, sleep_in_night_rate).",
        ),
    ],
    start: Annotated[str, typer.Option("--from", help="The date the new benchmarks and rates take effect.")],
    budget: Annotated[
        str | None, typer.Option("--budget", help="A year's budget for the uplift (£): the headroom left is shown.")
    ] = None,
    as_at: Annotated[
        str | None,
        typer.Option("--as-at", help="Evaluate every row at this date (default: --from)."),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")] = False,
    rules: RulesDir = DEFAULT_RULES_DIR,
    columns: Annotated[Path | None, typer.Option("--columns", help="Column map (YAML), as for audit.")] = None,
    sheet: Annotated[str | None, typer.Option("--sheet", help="Excel sheet to read.")] = None,
) -> None:
    """The annual fee review: uplift benchmarks and reference rates by a percentage from a date; the added weekly
    and annual cost of the active book by category and service, the shares at or below the benchmarks before and
    after, and the headroom in --budget. Exit 2 for input that cannot be used."""
    from engine.audit.books.columns import ColumnError, load_column_map
    from engine.audit.books.read import BookError
    from engine.audit.fee_review import fee_review
    from engine.editions.whatif import UpliftError

    day, when = _when("--from", start), _when("--as-at", as_at)
    try:
        pence = None if budget is None else to_pence(budget)
    except MoneyError as exc:
        raise _refuse(f"--budget: {exc}") from None
    try:
        mapping = load_column_map(columns)
    except ColumnError as exc:
        raise _refuse(f"{columns}: {exc}") from None
    book = _rulebook(rules)
    try:
        review = fee_review(file, uplift, day, pence, book, when, columns=mapping, sheet=sheet)
    except UpliftError as exc:
        raise _refuse(f"--uplift: {exc}") from None
    except BookError as exc:
        raise _refuse(f"cannot use {file}: {exc}") from None
    except RulebookError as exc:
        raise _refuse(f"the what-if rulebook was refused: {exc}") from None
    for note in review["notes"]:
        typer.echo(f"carerules: {note}", err=True)
    for warning in review["warnings"]:
        typer.echo(f"carerules: warning: {warning}", err=True)
    benchmark = book.categories.benchmark_words()[1]  # the care categories' benchmark, in its short word
    typer.echo(dumps(review) if as_json else "\n".join(review_lines(review, benchmark)))


def _money(value: Any) -> str:
    return show_pounds(int(value.scaleb(2)))


def review_lines(review: dict[str, Any], benchmark: str) -> list[str]:
    versions = f"rulebook {review['rulebook_version']}, what-if {review['whatif_version']}"
    lines = [f"Fee review from {review['from']} ({versions})"]
    for rate in review["rates"]:
        lines.append(
            f"  {rate['parameter']:<42} {_money(rate['was']):>10} → {_money(rate['now']):>10}  "
            f"{rate['category']} {rate['uplift_percent']:+}%"
        )
    lines += ["", f"Active book on {review['from']}: {review['placements_active']:,} placements"]
    if review["error_rows"]:
        lines.append(f"({review['error_rows']:,} rows could not be decided (input errors) and are left out)")
    lines.append(f"\n{'added cost':<20} {'placements':>10} {'affected':>9} {'a week':>13} {'a year':>15}")
    for title, groups in (("by category", review["by_category"]), ("by service", review["by_service"])):
        lines.append(f"{title}")
        for name, cost in groups.items():
            lines.append(
                f"  {name:<18} {cost['placements']:>10,} {cost['placements_affected']:>9,} "
                f"{_money(cost['added_weekly']):>13} {_money(cost['added_annual']):>15}"
            )
        lines.append("")
    lines.append(
        f"{'total':<20} {review['placements_active']:>10,} {review['placements_affected']:>9,} "
        f"{_money(review['added_weekly']):>13} {_money(review['added_annual']):>15}  "
        f"(a year = {review['weeks_a_year']} weeks)"
    )
    lines += ["", f"At or below the {benchmark} / reference rates, active placements: before → after"]
    for name, share in review["shares_at_or_below"].items():
        lines.append(
            f"  {name:<20} {share['at_or_below_before']:>5,} → {share['at_or_below_after']:>5,} of "
            f"{share['placements']:,}   {share['share_before']}% → {share['share_after']}%"
        )
    changed = [kpi for kpi in review["kpis"] if kpi["before"] != kpi["after"]]
    kpi_title = "The Delivery Plan's KPI shares (new placements, each at its start date):"
    lines.append(f"{kpi_title} {'' if changed else 'unchanged'}".rstrip())
    lines += [f"  {kpi['name']}: {kpi['before']}% → {kpi['after']}%" for kpi in changed]
    if review["budget"] is not None:
        lines += [
            "",
            f"Budget {_money(review['budget']['budget'])}, added a year {_money(review['added_annual'])}, "
            f"remaining {_money(review['budget']['remaining'])}",
        ]
    return lines
