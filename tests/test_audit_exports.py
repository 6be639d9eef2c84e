"""Real council exports: column names as people write them, a column map, CSV separators and encodings, Excel
title rows and sheets, bounded reading, exit codes, errors a person can fix, the lists, formula injection."""

from __future__ import annotations

import csv
import io
import json
import sys
import zipfile
from datetime import date
from pathlib import Path

import pyarrow as pa
import pytest
import xlsxwriter
from python_calamine import CalamineWorkbook
from typer.testing import CliRunner

from engine.audit.books.columns import ColumnError, load_column_map, normalise
from engine.audit.books.read import BookError, Limits, load_book, table_from_records
from engine.audit.lists.tables import list_masks, list_table
from engine.audit.outputs.safe import neutralise_table
from engine.audit.outputs.write import write_csv, write_outputs
from engine.audit.run import run_audit
from engine.cli.main import app

runner = CliRunner()
RESIDENTIAL = {"service": "care_home", "age": "80", "care_type": "residential"}
NURSING = {"service": "care_home", "age": "82", "care_type": "nursing", "fnc_weekly": "267.68"}


def clean_book() -> list[dict[str, str]]:
    """Six placements in the engine's own spelling; the ISP threshold is £3,000 a week from 2026-03-25."""
    return [
        {"placement_id": "A", **NURSING, "start_date": "2026-05-04", "core_weekly_fee": "990.00"},
        {"placement_id": "B", **NURSING, "start_date": "2026-06-01", "core_weekly_fee": "1040.00"},
        {"placement_id": "C", **RESIDENTIAL, "start_date": "2026-06-01", "core_weekly_fee": "900.00"},
        {
            "placement_id": "D",
            **NURSING,
            "start_date": "2026-02-01",  # started before the ISP: evaluated at the KPI date all the same
            "core_weekly_fee": "2900.00",
            "one_to_one_weekly": "400.00",
        },
        {
            "placement_id": "E",
            **NURSING,
            "start_date": "2026-07-01",
            "core_weekly_fee": "2800.00",
            "one_to_one_weekly": "300.00",
            "nhs_contribution_weekly": "0",
        },
        {
            "placement_id": "F",
            **NURSING,
            "start_date": "2026-07-01",
            "core_weekly_fee": "2800.00",
            "one_to_one_weekly": "300.00",
            "nhs_contribution_weekly": "150.00",
        },
    ]


def write_rows(path: Path, header: list[str], rows: list[list[str]], sep: str = ",", encoding: str = "utf-8") -> None:
    with path.open("w", newline="", encoding=encoding) as handle:
        writer = csv.writer(handle, delimiter=sep)
        writer.writerow(header)
        writer.writerows(rows)


def outcomes(audit) -> list[tuple]:  # type: ignore[no-untyped-def]
    columns = ["placement_id", "outcome", "rule_ids", "gross_weekly_cost"]
    return [tuple(row[c] for c in columns) for row in audit.table.select(columns).to_pylist()]


def test_column_names_match_ignoring_case_spaces_and_punctuation() -> None:
    assert normalise("Placement ID") == normalise("PLACEMENT_ID") == normalise("placement-id") == "placementid"
    book = clean_book()
    titled = [{key.replace("_", " ").title(): value for key, value in row.items()} for row in book]
    assert outcomes(run_audit(table_from_records(titled))) == outcomes(run_audit(table_from_records(book)))


def test_column_map_names_other_spellings(tmp_path: Path) -> None:
    mapping = tmp_path / "columns.yaml"
    mapping.write_text("placement_id: [Client Ref, Package No]\ncore_weekly_fee: Weekly Fee\n", encoding="utf-8")
    book = [{("Package No" if k == "placement_id" else k): v for k, v in row.items()} for row in clean_book()]
    book = [{("Weekly Fee" if k == "core_weekly_fee" else k): v for k, v in row.items()} for row in book]
    audit = run_audit(table_from_records(book), columns=mapping)
    assert outcomes(audit) == outcomes(run_audit(table_from_records(clean_book())))
    with pytest.raises(ColumnError, match="unknown field 'placement'.*did you mean placement_id"):
        load_column_map({"placement": ["Ref"]})
    with pytest.raises(ColumnError, match="both"):
        load_column_map({"placement_id": ["Ref"], "provider": ["ref"]})


def test_a_book_with_no_required_column_recognised_is_refused_with_did_you_mean(tmp_path: Path) -> None:
    path = tmp_path / "book.csv"
    write_rows(path, ["Plcmnt Ref", "Servce", "Begin", "Years"], [["A", "care_home", "2026-05-04", "80"]])
    out = tmp_path / "out"
    result = runner.invoke(app, ["audit", str(path), "--out", str(out)])
    assert result.exit_code == 2
    assert "no required column was recognised" in result.output and "placement_id" in result.output
    assert "did you mean 'Servce'" in result.output
    assert not (out / "results.csv").exists() and not (out / "results.xlsx").exists()


def test_exit_codes_0_when_all_decided_1_when_some_not(tmp_path: Path) -> None:
    good, bad = tmp_path / "good.csv", tmp_path / "bad.csv"
    rows = clean_book()
    header = list(dict.fromkeys(k for r in rows for k in r))
    write_rows(good, header, [[r.get(k, "") for k in header] for r in rows])
    broken = [dict(r) for r in rows]
    broken[2]["core_weekly_fee"] = "-5"
    write_rows(bad, header, [[r.get(k, "") for k in header] for r in broken])
    assert runner.invoke(app, ["audit", str(good), "--out", str(tmp_path / "g")]).exit_code == 0
    result = runner.invoke(app, ["audit", str(bad), "--out", str(tmp_path / "b")])
    assert result.exit_code == 1
    assert (tmp_path / "b" / "results.xlsx").exists() and (tmp_path / "b" / "errors.csv").exists()
    with (tmp_path / "b" / "errors.csv").open(encoding="utf-8-sig") as handle:
        errors = list(csv.DictReader(handle))
    assert errors == [{"row": "4", "field": "core_weekly_fee", "value": "-5", "message": "must not be negative"}]
    assert "core_weekly_fee: must not be negative — 1 row (rows 4)" in result.output
    report = (tmp_path / "b" / "report.html").read_text(encoding="utf-8")
    assert '<td>core_weekly_fee</td><td>must not be negative</td><td class="num">1</td><td>4</td>' in report


@pytest.mark.parametrize("sep", [",", ";", "\t", "|"])
def test_csv_separator_is_sniffed(tmp_path: Path, sep: str) -> None:
    rows = clean_book()
    header = list(dict.fromkeys(k for r in rows for k in r))
    path = tmp_path / "book.csv"
    write_rows(path, header, [[r.get(k, "") for k in header] for r in rows], sep=sep)
    assert outcomes(run_audit(path)) == outcomes(run_audit(table_from_records(rows)))


@pytest.mark.parametrize(
    "encoding, name", [("utf-8", "UTF-8"), ("utf-8-sig", "UTF-8 with BOM"), ("cp1252", "Windows-1252")]
)
def test_csv_encodings_are_read_and_reported(tmp_path: Path, encoding: str, name: str) -> None:
    rows = [{**r, "provider": "Café Lodge – £ rooms"} for r in clean_book()]
    header = list(dict.fromkeys(k for r in rows for k in r))
    path = tmp_path / "book.csv"
    write_rows(path, header, [[r.get(k, "") for k in header] for r in rows], encoding=encoding)
    book = load_book(path)
    assert any(name + "," in note for note in book.notes)
    assert book.table.column("provider").to_pylist()[0] == "Café Lodge – £ rooms"
    assert book.table.column_names[0] == "placement_id"  # no BOM left on the first name


def test_csv_nameless_columns_are_named_as_excel_names_them(tmp_path: Path) -> None:
    """A nameless column within the header is named by its position; the nameless columns after the header's last
    name (a trailing separator on every line, a note beyond the last column) are not part of the table."""
    path = tmp_path / "book.csv"
    path.write_text(
        "placement_id,,service,start_date,age,care_type,core_weekly_fee,,\n"
        "A,x,care_home,04/05/2026,82,residential,900.00,,\n",
        encoding="utf-8",
    )
    book = load_book(path)
    assert book.table.column_names[:3] == ["placement_id", "column_2", "service"]
    assert book.table.num_columns == 7
    assert run_audit(path).table.column("outcome").to_pylist() == ["proceed"]


def test_an_amount_in_exponent_notation_is_a_field_message_in_check_and_in_an_audit(tmp_path: Path) -> None:
    """docs/batch_audits.md once listed a traceback for ``1e400`` through ``carerules check``: both paths give the
    same field message."""
    placement = {**clean_book()[0], "core_weekly_fee": "1e400", "distance_miles": "1e400"}
    single = tmp_path / "placement.json"
    single.write_text(json.dumps(placement), encoding="utf-8")
    result = runner.invoke(app, ["check", str(single)])
    assert result.exit_code == 2 and "Traceback" not in result.output
    fields = json.loads(result.stdout)["error"]["fields"]
    assert fields["core_weekly_fee"] == ["must be at most £10,000,000.00 a week"]
    assert fields["distance_miles"] == ["must be at most 10,000,000"]
    row = run_audit(table_from_records([placement])).table.to_pylist()[0]
    assert row["outcome"] is None
    assert (
        row["errors"]
        == "core_weekly_fee: must be at most £10,000,000.00 a week; distance_miles: must be at most 10,000,000"
    )


def test_neither_utf8_nor_cp1252_is_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "book.csv"
    path.write_bytes(b"placement_id,service\nA\x81\x8d,care_home\n")
    with pytest.raises(BookError, match="neither UTF-8 nor Windows-1252"):
        load_book(path)


def _xlsx_with_title(path: Path, rows: list[dict[str, str]], sheets: tuple[str, ...] = ("Placements",)) -> None:
    workbook = xlsxwriter.Workbook(str(path))
    for name in sheets[:-1]:
        workbook.add_worksheet(name).write(0, 0, "notes only")
    sheet = workbook.add_worksheet(sheets[-1])
    sheet.write(0, 0, "Care placements export, run 2026-08-01")
    header = list(dict.fromkeys(k for r in rows for k in r))
    for col, name in enumerate(header):
        sheet.write_string(2, col, name.replace("_", " ").title())
    for k, row in enumerate(rows, start=3):
        for col, name in enumerate(header):
            if name in row:
                sheet.write_string(k, col, row[name])
    workbook.close()


def test_excel_header_below_title_rows_and_sheet_choice(tmp_path: Path) -> None:
    path = tmp_path / "book.xlsx"
    _xlsx_with_title(path, clean_book(), sheets=("Read me", "Placements"))
    book = load_book(path)
    assert any("rows 1–2 above the header skipped" in note for note in book.notes)
    assert book.row_numbers.tolist() == [4, 5, 6, 7, 8, 9]
    assert outcomes(run_audit(path)) == outcomes(run_audit(table_from_records(clean_book())))
    assert load_book(path, sheet="Placements").table.num_rows == 6
    with pytest.raises(BookError, match="no header row found in the first 20 rows of sheet 'Read me'"):
        load_book(path, sheet="Read me")
    with pytest.raises(BookError, match="no sheet named 'Nope'"):
        load_book(path, sheet="Nope")


def test_excel_formulas_are_read_as_their_cached_values_and_serial_dates_as_dates(tmp_path: Path) -> None:
    path = tmp_path / "book.xlsx"
    workbook = xlsxwriter.Workbook(str(path))
    sheet = workbook.add_worksheet()
    row = clean_book()[2]  # C: residential, £900.00
    names = list(row)
    sheet.write_row(0, 0, names)
    for col, name in enumerate(names):
        if name == "core_weekly_fee":
            sheet.write_formula(1, col, "=450*2", None, 900)  # the value Excel cached when it last calculated
        elif name == "start_date":
            sheet.write_number(1, col, 46174)  # a serial date without a date format: 2026-06-01
        else:
            sheet.write_string(1, col, row[name])
    workbook.close()
    table = load_book(path).table
    assert table.column("core_weekly_fee").to_pylist() == ["900"]
    assert table.column("start_date").to_pylist() == ["2026-06-01"]
    assert outcomes(run_audit(path)) == outcomes(run_audit(table_from_records([row])))


def test_reading_is_bounded_with_errors_naming_the_limit(tmp_path: Path) -> None:
    path = tmp_path / "book.csv"
    rows = clean_book()
    header = list(dict.fromkeys(k for r in rows for k in r))
    write_rows(path, header, [[r.get(k, "") for k in header] for r in rows])
    with pytest.raises(BookError, match="6 rows, over the limit of 5 rows"):
        load_book(path, limits=Limits(max_rows=5))
    long = [dict(r) for r in rows]
    long[1]["provider"] = "x" * 200
    write_rows(path, [*header, "provider"], [[r.get(k, "") for k in [*header, "provider"]] for r in long])
    with pytest.raises(BookError, match="row 3, column 'provider': a cell of 200 characters is over the limit of 100"):
        load_book(path, limits=Limits(max_cell_chars=100))


def test_an_xlsx_that_inflates_past_the_limit_is_refused_unread(tmp_path: Path) -> None:
    bomb = tmp_path / "bomb.xlsx"
    with zipfile.ZipFile(bomb, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("xl/worksheets/sheet1.xml", b"<" + b"a" * 20_000_000)
    assert bomb.stat().st_size < 100_000
    with pytest.raises(BookError, match="over the limit of 1,000,000 bytes"):
        load_book(bomb, limits=Limits(max_xlsx_bytes=1_000_000))


def test_a_wide_header_with_duplicates_is_checked_quickly() -> None:
    header = [f"c{k}" for k in range(50_000)] + ["c7"]
    with pytest.raises(BookError, match="more than once: 'c7'"):
        from engine.audit.books.read import check_header

        check_header(header)


def test_errors_are_grouped_by_field_and_mistake_with_rows_examples_and_hints(tmp_path: Path) -> None:
    rows = [dict(r) for r in clean_book()]
    rows[0]["start_date"], rows[1]["start_date"] = "05/13/2026", "06/20/2026"
    rows[2]["core_weekly_fee"], rows[3]["core_weekly_fee"] = "9,00", "1.040,00"
    audit = run_audit(table_from_records(rows))
    groups = {g["field"]: g for g in audit.summary()["errors"]}
    assert groups["start_date"]["count"] == 2 and groups["start_date"]["rows"] == [2, 3]
    assert groups["start_date"]["examples"] == ["05/13/2026", "06/20/2026"]
    assert "month-first" in groups["start_date"]["message"] + (groups["start_date"]["hint"] or "")
    assert groups["core_weekly_fee"]["count"] == 2 and groups["core_weekly_fee"]["rows"] == [4, 5]
    assert "decimal comma" in groups["core_weekly_fee"]["message"] + (groups["core_weekly_fee"]["hint"] or "")
    paths = write_outputs(audit, tmp_path / "out", report=False)
    with paths["errors_csv"].open(encoding="utf-8-sig") as handle:
        lines = list(csv.DictReader(handle))
    assert [(r["row"], r["field"], r["value"]) for r in lines] == [
        ("2", "start_date", "05/13/2026"),
        ("3", "start_date", "06/20/2026"),
        ("4", "core_weekly_fee", "9,00"),
        ("5", "core_weekly_fee", "1.040,00"),
    ]


def test_each_error_line_shows_its_own_rows_value_in_a_book_read_in_chunks() -> None:
    from engine.audit.books.problems import error_lines

    rows = [dict(r) for r in clean_book()] * 3
    for index in (1, len(rows) // 2, len(rows) - 1):  # one in the first chunk, the middle and the last
        rows[index] = {**rows[index], "core_weekly_fee": f"{index},00"}
    whole = table_from_records(rows)
    chunked = pa.concat_tables([whole.slice(0, 2), whole.slice(2, len(rows) // 2), whole.slice(2 + len(rows) // 2)])
    lines = error_lines(run_audit(chunked))
    expected = [(index + 2, "core_weekly_fee", f"{index},00") for index in (1, len(rows) // 2, len(rows) - 1)]
    assert [line[:3] for line in lines] == expected


def test_a_placement_that_ended_before_the_kpi_date_is_not_listed() -> None:
    rows = clean_book()
    rows[3]["end_date"] = "2026-07-01"  # D: over the threshold, no contribution, but ended
    audit = run_audit(table_from_records(rows), as_at=date(2026, 7, 31))
    listed = list_table(audit, list_masks(audit)["isp_no_nhs_contribution"]).column("placement_id").to_pylist()
    assert listed == ["E"]
    assert next(k for k in audit.kpis["kpis"] if k["id"] == "isp_no_nhs_contribution")["value"] == 1


def test_control_characters_in_any_cell_make_an_error_row_not_a_crash(tmp_path: Path) -> None:
    rows = [{**r, "notes": "ok"} for r in clean_book()]
    rows[1]["notes"] = "bell\x07here"
    rows[2]["provider"] = "Esc\x1bHome"
    audit = run_audit(table_from_records(rows))
    table = audit.table.to_pylist()
    assert table[1]["outcome"] is None and "notes: must not contain control characters" in table[1]["errors"]
    assert table[2]["outcome"] is None and "provider" in table[2]["errors"]
    assert table[0]["outcome"] is not None
    write_outputs(audit, tmp_path / "out")  # every writer copes


def test_isp_kpi_counts_exactly_the_isp_list_at_the_kpi_date(tmp_path: Path) -> None:
    rows = clean_book() + [
        {
            "placement_id": "G",
            **NURSING,
            "start_date": "2026-08-15",  # not yet active at the KPI date
            "core_weekly_fee": "3100.00",
        }
    ]
    audit = run_audit(table_from_records(rows), as_at=date(2026, 7, 31))
    isp = next(k for k in audit.kpis["kpis"] if k["id"] == "isp_no_nhs_contribution")
    listed = list_table(audit, list_masks(audit)["isp_no_nhs_contribution"]).to_pylist()
    # D (started before the ISP, evaluated at 2026-07-31) and E (contribution 0); F has a contribution, G not active
    assert [r["placement_id"] for r in listed] == ["D", "E"]
    assert isp["value"] == len(listed) == 2
    assert listed[0]["gross_weekly_cost"] is not None and listed[0]["kpi_date"] == date(2026, 7, 31)
    paths = write_outputs(audit, tmp_path / "out")
    with paths["isp_no_nhs_contribution_csv"].open(encoding="utf-8-sig") as handle:
        assert [r["placement_id"] for r in csv.DictReader(handle)] == ["D", "E"]
    report = paths["report_html"].read_text(encoding="utf-8")
    assert (
        "Packages active at the KPI date 2026-07-31" in report and "<td>D</td>" in report and "<td>F</td>" not in report
    )
    sheets = CalamineWorkbook.from_path(str(paths["results_xlsx"])).sheet_names
    assert sheets == ["Results", "KPIs", "isp_no_nhs_contribution", "needs_approval", "refer", "not_permitted",
                      "nhs_recharge_gaps", "embargo_or_enquiry", "sourced_late", "empty_block_beds",
                      "errors", "Activity", "Activity cost"]  # fmt: skip


def test_results_xlsx_is_typed(tmp_path: Path) -> None:
    audit = run_audit(table_from_records(clean_book()))
    paths = write_outputs(audit, tmp_path / "out", report=False)
    sheet = CalamineWorkbook.from_path(str(paths["results_xlsx"])).get_sheet_by_name("Results").to_python()
    header, first = sheet[0], sheet[1]
    assert first[header.index("row")] == 2
    assert first[header.index("gross_weekly_cost")] == 990 + 267.68  # a number, not text
    assert first[header.index("as_at_used")] == date(2026, 5, 4)  # a date cell
    with zipfile.ZipFile(paths["results_xlsx"]) as archive:
        styles = archive.read("xl/styles.xml").decode()
        results = archive.read("xl/worksheets/sheet1.xml").decode()
    assert "£#,##0.00" in styles and "<pane " in results and "autoFilter" in results


FORMULA_STARTS = "=+@\t\r\n\0\uff1d\uff0b\uff0d\uff20"  # a leading - is checked apart (negative numbers)


@pytest.mark.parametrize(
    "text",
    [
        '=HYPERLINK("http://x")',
        "+1+2",
        "-2+3+cmd|' /C calc'!A0",
        "@SUM(A1)",
        # Issue 22: OWASP's list also has tab and carriage return (a spreadsheet skips them before a formula),
        # and line feed; full-width signs are read as formulas by some spreadsheets.
        '\t=HYPERLINK("http://x")',
        "\r=1+1",
        "\n=1+1",
        '\uff1dHYPERLINK("http://x")',
        "\uff0b1+2",
        "\uff20SUM(A1)",
    ],
)
def test_formula_looking_text_is_neutralised_in_every_output(tmp_path: Path, text: str) -> None:
    rows = [{**r, "notes": "plain"} for r in clean_book()]
    rows[0]["notes"] = text
    rows[1]["provider"] = text
    audit = run_audit(table_from_records(rows))
    paths = write_outputs(audit, tmp_path / "out", report=False)
    for name, path in paths.items():
        if path.suffix == ".csv":
            content = path.read_text(encoding="utf-8")
            assert "'" + text in content or text not in content, name
            for row in csv.reader(io.StringIO(content)):
                assert not any(cell[:1] in FORMULA_STARTS and cell for cell in row), (name, row)
    workbook = CalamineWorkbook.from_path(str(paths["results_xlsx"]))
    for name in workbook.sheet_names:
        for row in workbook.get_sheet_by_name(name).to_python():
            for cell in row:
                if isinstance(cell, str) and cell:
                    assert cell[0] not in FORMULA_STARTS, (name, cell)
                    assert not (cell[0] == "-" and not cell[1:2].isdigit()), (name, cell)


def test_negative_numbers_stay_numbers() -> None:
    table = pa.table({"a": ["-5", "-1040.00", "-x", None], "b": pa.array([-1, 2, 3, 4])})
    safe = neutralise_table(table)
    assert safe.column("a").to_pylist() == ["-5", "-1040.00", "'-x", None]
    assert safe.column("b").to_pylist() == [-1, 2, 3, 4]


def test_tab_cr_lf_nul_and_full_width_starts_are_neutralised_and_nothing_else_changes() -> None:
    risky = ["\t=1+1", "\r@SUM(A1)", "\n+1", "\0=1", "\uff1d1+1", "\uff0b1", "\uff0d1", "\uff20SUM(A1)"]
    plain = ["ok", " =1 (a space first)", "a\t=1", "\uff21 full-width A", "\ufeffBOM", "caf\u00e9", "-5", None, ""]
    table = pa.table({"a": risky + plain[: len(risky)], "b": plain[: len(risky)] * 2})
    safe = neutralise_table(table)
    assert safe.column("a").to_pylist() == ["'" + text for text in risky] + plain[: len(risky)]
    assert safe.column("b").to_pylist() == table.column("b").to_pylist()


def test_a_large_string_column_is_neutralised_like_a_string_column() -> None:
    cells = ["=1+1", None, "ok", "-5", "@x"]
    for kind in (pa.string(), pa.large_string()):
        safe = neutralise_table(pa.table({"a": pa.array(cells, kind)}))
        assert safe.column("a").type == kind
        assert safe.column("a").to_pylist() == ["'=1+1", None, "ok", "-5", "'@x"]


def test_csv_writer_neutralises(tmp_path: Path) -> None:
    path = tmp_path / "x.csv"
    write_csv(pa.table({"a": ["=1+1", "ok"]}), path)
    assert list(csv.reader(path.open(encoding="utf-8-sig"))) == [["a"], ["'=1+1"], ["ok"]]


def test_a_big_csv_written_in_blocks_has_the_bytes_of_one_pass(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Blocks of rows are turned into text on two threads and written in order: the same file as writing the
    whole (neutralised) table at once, header once, nulls, quotes, line breaks and formulas on block edges."""
    import pyarrow.csv as pa_csv

    from engine.audit.outputs import csv_out

    cells = ["=SUM(A1)", None, 'say "hi"', "two\nlines", "-5", "@x", "a,b", "plain", "+1", ""]
    table = pa.table(
        {
            "text": pa.array(cells * 5, pa.string()),
            "money": pa.array([None if k % 4 == 0 else k * 101 for k in range(50)], pa.int64()),
        }
    )
    whole = tmp_path / "whole.csv"
    pa_csv.write_csv(neutralise_table(table), whole, write_options=pa_csv.WriteOptions(quoting_style="needed"))
    monkeypatch.setattr(csv_out, "CSV_BLOCK_ROWS", 7)  # 50 rows: 8 blocks, the last one short
    blocks = tmp_path / "blocks.csv"
    told: list[int] = []
    write_csv(table, blocks, written=told.append)
    assert blocks.read_bytes() == csv_out.BOM + whole.read_bytes()  # UTF-8's BOM, then one pass's bytes
    assert blocks.read_bytes().count(b'"text","money"') == 1
    assert told == [7] * 7 + [1]  # each block's rows, once it is written


def test_arrows_writer_turns_many_rows_into_text_at_once_with_the_bytes_of_its_default(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Arrow's writer is asked to turn ``CSV_BATCH_ROWS`` rows into text at a time, not its default 1,024 (the
    setup of each batch was a sixth of the text's time): the bytes do not depend on it, on batch edges too."""
    import pyarrow.csv as pa_csv

    from engine.audit.outputs import csv_out

    cells = ["=SUM(A1)", None, 'say "hi"', "two\nlines", "-5", "plain", ""]
    table = pa.table({"text": pa.array(cells * 300, pa.string()), "n": pa.array(range(2100), pa.int64())})
    default = tmp_path / "default.csv"
    pa_csv.write_csv(neutralise_table(table), default, write_options=pa_csv.WriteOptions(quoting_style="needed"))
    asked: list[int] = []
    real = pa_csv.write_csv

    def spy(data: pa.Table, sink: object, write_options: pa_csv.WriteOptions) -> None:
        asked.append(write_options.batch_size)
        real(data, sink, write_options=write_options)

    monkeypatch.setattr(csv_out.pa_csv, "write_csv", spy)
    for batch in (csv_out.CSV_BATCH_ROWS, 5):
        monkeypatch.setattr(csv_out, "CSV_BATCH_ROWS", batch)
        path = tmp_path / f"batch{batch}.csv"
        write_csv(table, path)
        assert path.read_bytes() == csv_out.BOM + default.read_bytes()
    assert csv_out.CSV_BATCH_ROWS == 5 and set(asked) == {16_384, 5}


def test_leading_columns_turned_into_text_ahead_give_the_bytes_of_one_pass(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An audit turns its input columns into text while the rows are evaluated and joins the results' columns
    to them row by row: the same file as one pass, whichever side has a line break inside a cell (such a block
    is written whole), and a ``leading`` that does not match the table is not used."""
    import pyarrow.csv as pa_csv

    from engine.audit.outputs import csv_out

    monkeypatch.setattr(csv_out, "CSV_BLOCK_ROWS", 7)  # 50 rows: 8 blocks, the last one short
    n = 50
    inputs = pa.table(
        {
            "id": pa.array([f"P{k}" if k != 9 else "two\nlines" for k in range(n)], pa.string()),
            "fee": pa.array([None if k % 3 == 0 else "=1+1" if k == 4 else f"{k}.00" for k in range(n)], pa.string()),
            "empty": pa.array([None] * n, pa.string()),
        }
    )
    leading = csv_out.leading_text(inputs)
    assert [block is None for block in leading.blocks] == [False, True, *[False] * 6]  # row 9: rows 7-13
    results = inputs
    for name, column in {
        "outcome": pa.array(["proceed", None, 'say "hi"', "", "-x"] * 10, pa.string()),
        "gross": pa.array([None if k % 4 == 0 else -k * 101 for k in range(n)], pa.int64()),
        "note": pa.array(["a\r\nb" if k == 30 else None for k in range(n)], pa.string()),  # rows 28-34 whole
    }.items():
        results = results.append_column(name, column)
    whole = tmp_path / "whole.csv"
    pa_csv.write_csv(neutralise_table(results), whole, write_options=pa_csv.WriteOptions(quoting_style="needed"))
    joined = tmp_path / "joined.csv"
    calls = []
    join = csv_out._joined
    monkeypatch.setattr(csv_out, "_joined", lambda *args: calls.append(1) or join(*args))
    write_csv(results, joined, leading)
    assert joined.read_bytes() == csv_out.BOM + whole.read_bytes()
    assert len(calls) == 6  # 8 blocks; rows 7-13 and 28-34 written whole
    other = csv_out.leading_text(inputs.rename_columns(["id", "fee", "blank"]))
    write_csv(results, joined, other)
    assert joined.read_bytes() == csv_out.BOM + whole.read_bytes()

    def not_joined(*args: object) -> None:
        raise AssertionError("a leading text of other columns was used")

    monkeypatch.setattr(csv_out, "_joined", not_joined)
    write_csv(results, joined, other)
    write_csv(results, joined, csv_out.leading_text(inputs.slice(0, 49)))


def test_an_audit_process_keeps_freed_memory_where_glibc_allows() -> None:
    import platform

    from engine.audit.memory import keep_freed_memory

    assert keep_freed_memory() is (sys.platform.startswith("linux") and platform.libc_ver()[0] == "glibc")
    try:
        pa.jemalloc_memory_pool()
    except NotImplementedError:
        return
    assert pa.default_memory_pool().backend_name == "jemalloc"


def test_an_audit_process_asks_jemalloc_to_hand_freed_pages_back_soon(monkeypatch: pytest.MonkeyPatch) -> None:
    """Arrow's jemalloc is told its decay (``JEMALLOC_DECAY_MS``, short) where the audit uses it: the peak of a
    1,000,000-row audit is measured by the benchmark (docs/benchmarks.md), this checks the setting is asked for."""
    from engine.audit import memory

    try:
        pa.jemalloc_memory_pool()
    except NotImplementedError:
        pytest.skip("a pyarrow built without jemalloc")
    asked: list[int] = []
    monkeypatch.setattr(pa, "jemalloc_set_decay_ms", asked.append)
    memory.keep_freed_memory()
    assert asked == [memory.JEMALLOC_DECAY_MS]
    assert 0 <= memory.JEMALLOC_DECAY_MS < 1000  # well short of jemalloc's own default (10 s)


def test_an_audit_writes_results_csv_a_block_at_a_time_with_the_bytes_of_one_pass(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An audit makes its results table and results.csv a block of rows at a time (the input columns' text made
    ahead): the file has the bytes of one pass over the whole results table, and the table the same values as
    one made whole — with bad rows, a line break and formulas in cells, and blocks that end mid-book."""
    import pyarrow.csv as pa_csv

    from engine.audit import run as audit_run
    from engine.audit.books.sample import sample_book
    from engine.audit.outputs import csv_out, results

    table = sample_book(60, seed=7)
    provider = table.column("provider").to_pylist()
    provider[9], provider[20], provider[33] = "two\nlines", "=HYPERLINK(1)", "-5"
    table = table.set_column(table.column_names.index("provider"), "provider", pa.array(provider, pa.string()))
    whole = run_audit(table)  # 60 rows: one block
    for module in (csv_out, results, audit_run):
        monkeypatch.setattr(module, "CSV_BLOCK_ROWS", 7)  # 9 blocks, the last one short
    path = tmp_path / "results.csv"
    blocks = run_audit(table, results_csv=path)
    assert blocks.table.column("row").num_chunks == 9
    assert blocks.table.combine_chunks().equals(whole.table.combine_chunks())
    one_pass = pa.BufferOutputStream()
    pa_csv.write_csv(neutralise_table(whole.table), one_pass, write_options=pa_csv.WriteOptions(quoting_style="needed"))
    assert path.read_bytes() == csv_out.BOM + one_pass.getvalue().to_pybytes()
    assert whole.error_rows > 0 and b"'=HYPERLINK(1)" in path.read_bytes()
