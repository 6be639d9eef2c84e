"""Values as people write them: each accepted form, each refusal with its hint, and properties that hold for any
amount or date written any supported way. The same parsers serve the model and batch validation."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from engine.money import MoneyError, to_pence
from engine.validate.placement import InputError, parse_placement
from engine.validate.values import (
    parse_date,
    parse_enum,
    parse_flag,
    parse_money,
    parse_quantity,
    parse_share,
    parse_whole,
)
from tests.conftest import copy_rules

SERVICES = ("care_home", "supported_living")
PAYERS = ("none", "third_party", "first_party")


@pytest.mark.parametrize(
    ("text", "choices", "expected"),
    [
        ("Care Home", SERVICES, "care_home"),
        ("care-home", SERVICES, "care_home"),
        ("  CARE_HOME ", SERVICES, "care_home"),
        ("Supported Living", SERVICES, "supported_living"),
        ("Third Party", PAYERS, "third_party"),
        ("third - party", PAYERS, "third_party"),
        ("None", PAYERS, "none"),
    ],
)
def test_names_ignore_case_spaces_and_hyphens(text: str, choices: tuple[str, ...], expected: str) -> None:
    assert parse_enum(text, choices) == expected


def test_an_unknown_name_is_refused_naming_the_choices() -> None:
    with pytest.raises(ValueError, match="must be 'care_home' or 'supported_living', got 'hospital'"):
        parse_enum("hospital", SERVICES)
    with pytest.raises(ValueError, match="got 'carehome'"):
        parse_enum("carehome", SERVICES)  # no separator at all is another word, not a spelling of care_home


@pytest.mark.parametrize("text", ["true", "TRUE", "Yes", "y", "Y", "1", " yes "])
def test_true_written_any_way(text: str) -> None:
    assert parse_flag(text) is True


@pytest.mark.parametrize("text", ["false", "False", "NO", "n", "0", " No "])
def test_false_written_any_way(text: str) -> None:
    assert parse_flag(text) is False


@pytest.mark.parametrize("value", [True, False, 1, 0])
def test_json_booleans_and_0_1(value: object) -> None:
    assert parse_flag(value) is bool(value)


@pytest.mark.parametrize("value", ["maybe", "2", "t", "", 2, None])
def test_other_flags_are_refused(value: object) -> None:
    with pytest.raises(ValueError, match="true or false"):
        parse_flag(value)


@pytest.mark.parametrize(("value", "expected"), [("82", 82), ("82.0", 82), (" 82.00 ", 82), (82.0, 82), (82, 82)])
def test_whole_numbers_may_be_written_with_a_zero_fraction(value: object, expected: int) -> None:
    assert parse_whole(value) == expected


@pytest.mark.parametrize("value", ["82.5", 82.5, "eighty", "8 2", True, "1e2", ""])
def test_other_whole_numbers_are_refused(value: object) -> None:
    with pytest.raises(ValueError, match="whole number"):
        parse_whole(value)


@pytest.mark.parametrize(
    ("text", "pence"),
    [
        ("1040", 104000),
        ("1040.00", 104000),
        ("£1,040.00", 104000),
        ("£1040.5", 104050),
        ("£ 1,040", 104000),
        ("1,234,567.89", 123456789),
        (" £915.00 ", 91500),
        ("0", 0),
        (1040, 104000),
        (1040.5, 104050),
        (Decimal("1040.50"), 104050),
    ],
)
def test_money_with_pound_sign_and_thousands_commas(text: object, pence: int) -> None:
    assert to_pence(text) == pence
    assert parse_money(text) == pence


@pytest.mark.parametrize("text", ["1.040,00", "9,00", "1,04", "24,10", "1,0400.00", "£1,04", "10,40"])
def test_a_comma_that_is_not_a_thousands_separator_is_refused_saying_so(text: str) -> None:
    with pytest.raises(MoneyError, match="decimal commas are not accepted"):
        to_pence(text)


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("-5", "negative"),
        ("-£5", "negative"),
        ("£-5", "negative"),
        ("10.001", "2 decimal places"),
        ("1e400", "at most £10,000,000.00"),
        ("a lot", "must be a number"),
        ("£", "must be a number"),
        ("$5", "must be a number"),
        ("5£", "must be a number"),
        (True, "not true/false"),
        (float("nan"), "finite"),
    ],
)
def test_money_errors(value: object, message: str) -> None:
    with pytest.raises(MoneyError, match=message):
        to_pence(value)


def test_hours_take_thousands_commas_but_not_a_pound_sign_or_a_decimal_comma() -> None:
    assert parse_quantity("1,000.25") == 10_002_500
    assert parse_quantity("13.33") == 133_300
    with pytest.raises(ValueError, match="must be a number"):
        parse_quantity("£5")
    with pytest.raises(ValueError, match="decimal commas"):
        parse_quantity("13,33")
    with pytest.raises(ValueError, match="at most 10,000,000$"):
        parse_quantity("1e400")


def test_hours_take_four_decimal_places_as_shared_hours_are_written() -> None:
    assert parse_quantity("13.3333") == 133_333  # 40 hours shared by 3
    assert parse_quantity(Decimal("2.5")) == 25_000
    with pytest.raises(ValueError, match="at most 4 decimal places"):
        parse_quantity("13.33333")


def test_a_share_takes_four_decimal_places_and_is_held_as_every_quantity() -> None:
    """SPEC §13.2: a third is written 0.3333 (issue 21: 2 places were the limit before)."""
    assert parse_share("0.5") == 5_000
    assert parse_share("1") == 10_000
    assert parse_share("0.3333") == 3_333
    assert parse_share("1.0000") == 10_000
    with pytest.raises(ValueError, match="at most 4 decimal places"):
        parse_share("0.33333")
    with pytest.raises(ValueError, match="between 0 and 1"):
        parse_share("1.0001")
    with pytest.raises(ValueError, match="between 0 and 1"):
        parse_share("1.5")


MAY_4 = date(2026, 5, 4)


@pytest.mark.parametrize(
    "value",
    [
        "2026-05-04",
        "04/05/2026",
        "4/5/2026",
        "04-05-2026",
        "04.05.2026",
        "4 May 2026",
        "04 may 2026",
        "4 MAY 2026",
        "04-May-2026",
        "4 May 2026 00:00",
        "2026-05-04 00:00:00",
        "2026-05-04T00:00:00",
        "2026-05-04T00:00:00.000",
        "04/05/2026 00:00:00",
        " 2026-05-04 ",
        MAY_4,
        datetime(2026, 5, 4),
    ],
)
def test_dates_as_people_write_them(value: object) -> None:
    assert parse_date(value) == MAY_4


def test_month_names_full_and_short() -> None:
    assert parse_date("4 September 2026") == parse_date("4 Sep 2026") == parse_date("4 Sept 2026") == date(2026, 9, 4)


@pytest.mark.parametrize("text", ["05/13/2026", "5/13/2026", "12-31-2026", "01.20.2026"])
def test_a_month_first_date_is_refused_with_a_hint_never_swapped(text: str) -> None:
    with pytest.raises(ValueError, match=r"dates look month-first\?"):
        parse_date(text)


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("2026-05-04 10:30:00", "without a time of day"),
        ("2026-05-04T00:00:01", "without a time of day"),
        (datetime(2026, 5, 4, 9, 0), "without a time of day"),
        ("30/02/2026", "not a real date"),
        ("2026-02-30", "not a real date"),
        ("13/13/2026", "not a real date"),
        ("4 Mai 2026", "not a month name"),
        ("04/05/26", "YYYY-MM-DD"),
        ("the fourth of May", "YYYY-MM-DD"),
        (46146, "YYYY-MM-DD"),
        ("٠٤/٠٥/٢٠٢٦", "YYYY-MM-DD"),  # digits from another script are not read as a date
    ],
)
def test_date_errors(value: object, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_date(value)


@given(st.integers(0, 1_000_000_000))
def test_an_amount_written_with_pound_sign_and_thousands_commas_is_the_same_pence(pence: int) -> None:
    plain = f"{pence // 100}.{pence % 100:02d}"
    assert to_pence(plain) == to_pence(f"£{pence // 100:,}.{pence % 100:02d}") == to_pence(f"{pence / 100:,.2f}")
    assert to_pence(plain) == pence


@given(st.integers(0, 100_000_000), st.sampled_from(["", "£"]), st.booleans())
def test_an_amount_with_a_decimal_comma_is_never_read_as_an_amount(pence: int, pound: str, dots: bool) -> None:
    pounds = f"{pence // 100:,}".replace(",", ".") if dots else str(pence // 100)
    text = f"{pound}{pounds},{pence % 100:02d}"
    with pytest.raises(MoneyError, match="decimal commas"):
        to_pence(text)


DAY_FIRST_FORMS = [
    lambda d: d.isoformat(),
    lambda d: d.strftime("%d/%m/%Y"),
    lambda d: f"{d.day}/{d.month}/{d.year}",
    lambda d: d.strftime("%d-%m-%Y"),
    lambda d: d.strftime("%d.%m.%Y"),
    lambda d: f"{d.day} {d.strftime('%B')} {d.year}",  # month names: the C locale, as tests run
    lambda d: d.strftime("%d-%b-%Y"),
    lambda d: f"{d.isoformat()} 00:00:00",
    lambda d: f"{d.isoformat()}T00:00:00",
    lambda d: datetime(d.year, d.month, d.day),
]


@given(st.dates(date(1900, 1, 1), date(2099, 12, 31)), st.sampled_from(DAY_FIRST_FORMS))
def test_a_date_written_any_supported_way_is_the_same_date(day: date, form: object) -> None:
    assert parse_date(form(day)) == day  # type: ignore[operator]


@given(st.dates(date(1900, 1, 1), date(2099, 12, 31)).filter(lambda d: d.day > 12))
def test_a_day_first_date_read_month_first_is_always_refused(day: date) -> None:
    with pytest.raises(ValueError, match="month-first"):
        parse_date(f"{day.month:02d}/{day.day:02d}/{day.year}")


def test_the_model_reads_a_placement_written_as_people_write_it() -> None:
    clean = parse_placement(
        {
            "placement_id": "P-1",
            "service": "care_home",
            "start_date": "2026-05-04",
            "age": 82,
            "care_type": "nursing",
            "dementia": False,
            "core_weekly_fee": "1040.00",
            "top_up_payer": "third_party",
        }
    )
    written = parse_placement(
        {
            "placement_id": "P-1",
            "service": "Care Home",
            "start_date": "04/05/2026",
            "age": "82.0",
            "care_type": " NURSING ",
            "dementia": "No",
            "core_weekly_fee": "£1,040.00",
            "top_up_payer": "Third Party",
        }
    )
    assert written == clean


def test_the_model_says_why_each_written_value_is_refused() -> None:
    with pytest.raises(InputError) as caught:
        parse_placement(
            {
                "placement_id": "P-1",
                "service": "care home",
                "start_date": "05/13/2026",
                "age": 82,
                "care_type": "residential",
                "core_weekly_fee": "1.040,00",
                "one_to_one_weekly": "9,00",
            }
        )
    fields = caught.value.fields
    assert set(fields) == {"start_date", "core_weekly_fee", "one_to_one_weekly"}
    assert "month-first" in fields["start_date"][0]
    assert "decimal commas" in fields["core_weekly_fee"][0] and "decimal commas" in fields["one_to_one_weekly"][0]


def test_end_date_must_be_after_start_date_and_active_at_uses_it() -> None:
    base = {"placement_id": "P", "service": "supported_living", "age": 30, "sl_weekly_cost": "100"}
    with pytest.raises(InputError, match="end_date: must be after start_date"):
        parse_placement({**base, "start_date": "2026-05-04", "end_date": "2026-05-03"})
    placement = parse_placement({**base, "start_date": "2026-05-04", "end_date": "2026-06-01"})
    assert not placement.is_active_at(date(2026, 5, 3))
    assert placement.is_active_at(date(2026, 5, 4)) and placement.is_active_at(date(2026, 5, 31))
    assert not placement.is_active_at(date(2026, 6, 1))
    assert parse_placement({**base, "start_date": "2026-05-04"}).is_active_at(date(2099, 1, 1))


def test_the_earliest_date_and_the_lots_are_the_rulebooks(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """Change them in a copy of rules/: a single decision and a batch both follow, with the same messages."""

    from engine.audit.books.read import table_from_records
    from engine.decide import Engine
    from engine.rulebook.loader import load_rulebook
    from engine.validate.batch import parse_book

    rules = tmp_path / "rules"
    copy_rules(rules)
    facts = rules / "rulebook.yaml"
    facts.write_text(facts.read_text().replace("earliest_as_at: 2020-01-01", "earliest_as_at: 2021-01-01"))
    lots = rules / "tables" / "care_categories.yaml"
    text = lots.read_text()
    assert 'when: care_type == "residential" and not dementia' in text
    swapped = text.replace('when: care_type == "residential" and not dementia', "SWAP", 1)
    swapped = swapped.replace(
        'when: care_type == "nursing" and not dementia', 'when: care_type == "residential" and not dementia', 1
    )
    lots.write_text(swapped.replace("SWAP", 'when: care_type == "nursing" and not dementia'))  # Lots 1 and 6 swapped

    book = load_rulebook(rules)
    base = {"placement_id": "P", "service": "care_home", "age": 84, "core_weekly_fee": "915.00"}
    cases = [
        (
            {**base, "start_date": "2020-06-01", "care_type": "residential"},
            {"start_date": ["rules are only held from 2021-01-01"]},
        ),
        ({**base, "start_date": "2026-05-04", "lot": 1, "care_type": "nursing"}, None),
        (
            {**base, "start_date": "2026-05-04", "lot": 1, "care_type": "residential"},
            {"lot": ["lot 1 contradicts care_type residential"]},
        ),
    ]
    table = table_from_records([placement for placement, _ in cases])
    parsed = parse_book(table, book)
    for index, (placement, expected) in enumerate(cases):
        if expected is None:
            assert parse_placement(placement, book).lot == 1 and parsed.valid[index]
            continue
        with pytest.raises(InputError) as caught:
            Engine(book).decide(placement)
        assert caught.value.fields == expected == parsed.errors[index]
