"""The provider register and the block-bed file (SPEC §17): read as books are, refused with grouped errors, joined
by provider_id; the KPIs that need them, "not available" without them; the lists; ``--providers`` on the CLI."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path

import pandas as pd
import pytest
import xlsxwriter

from engine.audit.books.block_beds import load_block_beds
from engine.audit.books.providers import load_register
from engine.audit.books.side_files import SideFileError
from engine.audit.outputs.write import kpi_lines
from engine.audit.run import run_audit
from engine.decide import default_engine
from engine.validate.placement import InputError
from tests.conftest import placement

CARERULES = Path(sys.executable).with_name("carerules")
HEADER = (
    "Provider ID,Name,Services,In Area,Home Type,Framework From,Framework To,CQC Rating,CQC Rating Date,"
    "Quality Status,Quality Status From,Provider Type"
)
REGISTER = [
    "N-GOOD,Oak,care_home,Yes,Nursing,01/04/2024,,Good,01/02/2026,None,,independent",
    "N-BAD,Elm,care_home,yes,nursing,01/04/2024,,Inadequate,,Embargo,20/04/2026,independent",
    "R-GOOD,Ash,care_home,yes,Residential,01/04/2024,,Outstanding,,none,,",
    "R-NEW,Yew,care_home,yes,residential,01/04/2024,,Not Yet Inspected,,none,,",
    "R-AWAY,Fir,care_home,no,residential,01/04/2024,,Inadequate,,none,,",
    "SL-ONE,Bay,supported_living,yes,,01/04/2024,,Requires Improvement,,monitoring,01/03/2026,",
]


def _register(tmp_path: Path, rows: list[str] = REGISTER, encoding: str = "utf-8", title: bool = True) -> Path:
    path = tmp_path / "providers.csv"
    lines = (["Provider register export 06/12/2026"] if title else []) + [HEADER, *rows]
    path.write_bytes(("\r\n".join(lines) + "\r\n").encode(encoding))
    return path


def _book(*records: dict) -> list[dict]:
    return [{k: str(v).lower() if isinstance(v, bool) else v for k, v in r.items()} for r in records]


def test_the_register_is_read_as_a_book_is(tmp_path: Path) -> None:
    """A title row above the header, Title Case headers, UK dates, Windows-1252 text, words in any case."""
    rows = [*REGISTER, "R-CAFÉ,Café Court,care_home,yes,residential,01/04/2024,31/03/2027,good,,none,,"]
    register = load_register(_register(tmp_path, rows, encoding="cp1252"))
    assert len(register) == 7
    elm = register.get(" N-BAD ")
    assert elm is not None and elm.quality_status == "embargo" and elm.quality_status_from == date(2026, 4, 20)
    assert elm.home_type == "nursing" and elm.in_area is True and elm.cqc_rating == "inadequate"
    cafe = register.get("R-CAFÉ")
    assert cafe is not None and cafe.name == "Café Court" and cafe.framework_to == date(2027, 3, 31)


def test_the_register_reads_from_excel_below_title_rows(tmp_path: Path) -> None:
    path = tmp_path / "providers.xlsx"
    workbook = xlsxwriter.Workbook(str(path))
    sheet = workbook.add_worksheet("Register")
    dates = workbook.add_format({"num_format": "dd/mm/yyyy"})
    sheet.write_row(0, 0, ["Provider register", "as at 6 December 2026"])
    sheet.write_row(
        2, 0, ["Provider ID", "Framework From", "Framework To", "CQC Rating", "Quality Status", "Quality Status From"]
    )
    sheet.write(3, 0, "X1")
    sheet.write_datetime(3, 1, datetime(2025, 4, 1), dates)
    sheet.write_row(3, 3, ["Good", "Large Scale Enquiry"])
    sheet.write_datetime(3, 5, datetime(2026, 5, 1), dates)
    workbook.close()
    provider = load_register(path).get("X1")
    assert provider is not None
    assert provider.framework_from == date(2025, 4, 1) and provider.framework_to is None
    assert provider.quality_status == "large_scale_enquiry" and provider.quality_status_from == date(2026, 5, 1)


def test_an_unreadable_register_is_refused_with_its_errors_grouped(tmp_path: Path) -> None:
    rows = [
        "A,,,maybe,,13/13/2026,,great,,embargo,,",
        "B,,,,,01/05/2026,01/04/2026,good,,none,,",
        "C,,,,,05/13/2026,,great,,none,,",
    ]
    with pytest.raises(SideFileError) as refused:
        load_register(_register(tmp_path, rows))
    text = str(refused.value)
    assert "cqc_rating: must be 'outstanding'" in text and "2 rows (rows 3, 5)" in text
    assert "framework_from: '13/13/2026' is not a real date" in text
    assert "month-first" in text  # 05/13/2026
    assert "framework_to: is before framework_from (2026-05-01) — 1 row (rows 4)" in text
    assert "quality_status_from: is required when quality_status is embargo" in text
    assert "in_area" in text


def test_a_register_missing_its_columns_or_listing_a_provider_twice_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "p.csv"
    path.write_text("Provider ID,Name\nA,Oak\n", encoding="utf-8")
    with pytest.raises(SideFileError, match="missing column.*framework_from"):
        load_register(path)
    with pytest.raises(SideFileError, match="'N-GOOD' is in rows 3 and 9"):
        load_register(_register(tmp_path, [*REGISTER, REGISTER[0]]))


def test_a_placement_is_decided_with_the_register(tmp_path: Path) -> None:
    register = load_register(_register(tmp_path))
    engine = default_engine()
    fee = placement(provider_id="N-BAD", start_date="2026-05-04")
    decision = engine.decide(fee, None, register)
    assert {"PRV-03", "PRV-04"} <= set(decision.rule_ids) and decision.outcome == "not_permitted"
    prv03 = next(f for f in decision.findings if f.rule_id == "PRV-03")
    assert prv03.refer_to == "quality_assurance"
    assert not any(rule.startswith("PRV") for rule in engine.decide(fee).rule_ids)  # no register, no PRV rule
    with pytest.raises(InputError) as refused:
        engine.decide({**fee, "provider_in_register": True})
    assert "provider register" in refused.value.fields["provider_in_register"][0]


def test_kpis_that_need_the_register_are_not_available_without_it(tmp_path: Path) -> None:
    book = _book(placement(provider_id="N-GOOD", start_date="2026-05-04"))
    audit = run_audit(pd.DataFrame(book))
    kpis = {k["id"]: k for k in audit.summary()["kpis"]}
    for name in ("cqc_nursing_good_share", "cqc_residential_good_share", "cqc_sl_good_share", "block_beds_occupied"):
        assert kpis[name]["value"] is None and kpis[name]["target_met"] is None
        assert "needs the" in kpis[name]["not_available"]
    assert any(
        line.strip().startswith("not available: needs the provider register") for line in kpi_lines(audit.summary())
    )
    assert audit.summary()["lists"]["embargo_or_enquiry"] == 0


def test_the_register_kpis_and_lists(tmp_path: Path) -> None:
    register = load_register(_register(tmp_path))
    blocks_file = tmp_path / "block_beds.csv"
    blocks_file.write_text(
        "Provider ID,Beds,From,To,In Payment,Weekly Price\n"
        'N-GOOD,3,01/04/2026,31/03/2027,Yes,"£1,000.00"\n'
        "R-GOOD,2,01/04/2026,,no,900.00\n"
        "N-BAD,1,01/06/2026,,yes,800.00\n",
        encoding="utf-8",
    )
    blocks = load_block_beds(blocks_file)
    day = "2026-05-04"
    book = _book(
        placement(
            placement_id="A",
            provider_id="N-GOOD",
            start_date=day,
            block_booked=True,
            requested_date="2026-04-29",
            sourced_date="2026-05-04",
        ),
        placement(
            placement_id="B",
            provider_id="N-BAD",
            start_date="2026-04-01",
            requested_date="2026-03-20",
            sourced_date="2026-03-26",
        ),
        placement(
            "supported_living",
            placement_id="C",
            provider_id="SL-ONE",
            start_date="2026-04-01",
            sl_contract_type="managed_budget",
            sl_tenancy_agreement="declined",
            sl_affordable_accommodation=True,
            sl_service_review_date="2026-04-20",
        ),
        placement(
            "supported_living",
            placement_id="D",
            provider_id="SL-ONE",
            start_date="2026-04-01",
            sl_contract_type="none",
            sl_tenancy_agreement=True,
        ),
    )
    audit = run_audit(pd.DataFrame(book), as_at=date(2026, 5, 4), providers=register, block_beds=blocks)
    kpis = {k["id"]: k for k in audit.summary()["kpis"]}
    assert kpis["cqc_nursing_good_share"]["value"] == Decimal("50.00")  # N-GOOD of N-GOOD, N-BAD
    assert kpis["cqc_residential_good_share"]["counts"] == {
        "homes_in_area": 2,
        "inspected": 1,
        "outstanding_or_good": 1,
    }
    assert kpis["cqc_sl_good_share"]["value"] == Decimal("0.00")  # SL-ONE requires improvement
    sourced = kpis["care_home_sourced_in_time"]["counts"]
    assert (sourced["assessed"], sourced["within_timescale"], sourced["late"]) == (2, 1, 1)  # 5 days in, 6 days late
    beds = kpis["block_beds_occupied"]
    assert beds["counts"] == {"beds_in_payment": 3, "occupied": 1, "empty": 2, "providers": 1}
    assert beds["value"] == Decimal("33.33") and beds["pounds_weekly"]["empty_beds"] == Decimal("2000.00")
    assert kpis["sl_appropriately_contracted"]["value"] == Decimal("50.00")
    assert kpis["sl_tenancy_agreement"]["counts"]["declined_consent"] == 1
    assert kpis["sl_tenancy_agreement"]["value"] == Decimal("100.00")  # D agreed; C declined, left out
    assert kpis["sl_affordable_accommodation"]["value"] == Decimal("50.00")
    assert kpis["sl_service_reviews_completed"]["value"] == Decimal("50.00")
    lists = audit.summary()["lists"]
    assert lists["embargo_or_enquiry"] == 1 and lists["sourced_late"] == 1 and lists["empty_block_beds"] == 1


def test_the_sl_run_rate_is_judged_against_its_target() -> None:
    from engine.rulebook.loader import load_rulebook

    run_rate = load_rulebook().kpis["sl_weekly_run_rate"]
    assert run_rate.met(Decimal("884223.99")) is True and run_rate.met(Decimal("884224.00")) is False


def test_check_and_audit_take_the_register(tmp_path: Path) -> None:
    register = _register(tmp_path)
    one = json.dumps(placement(provider_id="N-BAD", start_date="2026-05-04"))
    checked = subprocess.run(
        [str(CARERULES), "check", "-", "--providers", str(register)],
        input=one,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert checked.returncode == 0, checked.stderr
    assert {"PRV-03", "PRV-04"} <= {f["rule_id"] for f in json.loads(checked.stdout)["findings"]}
    bad = tmp_path / "bad.csv"
    bad.write_text("provider_id,framework_from,framework_to,cqc_rating,quality_status,quality_status_from\nA,x,,,,\n")
    refused = subprocess.run(
        [str(CARERULES), "check", "-", "--providers", str(bad)], input=one, capture_output=True, text=True, timeout=60
    )
    assert refused.returncode == 2 and "framework_from" in refused.stderr and "Traceback" not in refused.stderr


def test_sample_makes_the_register_and_block_beds_that_go_with_its_book(tmp_path: Path) -> None:
    """`carerules sample --providers-out/--block-beds-out`: every provider_id of the book is in the register, both
    files load, and the shipped examples are what the command makes."""
    book, providers, beds = tmp_path / "book.csv", tmp_path / "providers.csv", tmp_path / "block_beds.csv"
    made = subprocess.run(
        [
            str(CARERULES),
            "sample",
            "--out",
            str(book),
            "--providers-out",
            str(providers),
            "--block-beds-out",
            str(beds),
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert made.returncode == 0, made.stderr
    register, blocks = load_register(providers), load_block_beds(beds)
    ids = set(pd.read_csv(book, dtype=str)["provider_id"].dropna())
    assert ids and ids <= set(register.providers)
    assert {block.provider_id for block in blocks} <= set(register.providers)
    examples = Path(__file__).resolve().parent.parent / "examples"
    for name in ("sample_placements.csv", "providers.csv", "block_beds.csv"):
        ours = (tmp_path / ("book.csv" if name.startswith("sample") else name)).read_bytes().lstrip(b"\xef\xbb\xbf")
        assert ours == (examples / name).read_bytes().lstrip(b"\xef\xbb\xbf"), name
