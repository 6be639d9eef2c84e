"""A synthetic placement book with realistic shapes and no personal data (``carerules sample``).

Prices are spread around the benchmark of each care category and the reference rates in force at each start
date, read from the rulebook (no policy number is written here); a few rows are deliberately bad so an audit
shows its error handling. The same seed gives the same book.
"""

from __future__ import annotations

from datetime import date

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc

from engine.audit.books.read import decimal_array
from engine.evaluate.vector import VectorEvaluator
from engine.rulebook.categories import Category
from engine.rulebook.loader import Rulebook, load_rulebook
from engine.validate.batch import day_number

FIRST_START, LAST_YEAR_END, LAST_START = date(2025, 1, 1), date(2025, 12, 31), date(2026, 9, 30)
HOMES = [
    "Oakfield",
    "Meadowbank",
    "Riverside",
    "Hillcrest",
    "Beech House",
    "Elm Lodge",
    "Willow Court",
    "Greenacres",
    "Ashdown",
    "Fairview",
    "Larch Grange",
    "Cedar Lodge",
    "Maple Park",
    "Holly Bank",
]
SL_PROVIDERS = ["Thrive Supported Living", "Pathways Support", "Open Doors Care", "Brightsteps"]
COMMUNITY_PROVIDERS = ["Hometouch Care", "Caremark North", "Bluebird Care", "County Day Services", "Shared Lives Plus"]
# The community packages of a mixed book: (service as people write it, share of the packages, weekly cost range in
# pence); home care is priced by hours at a rate instead (see _packages)
PACKAGES = [
    ("home_care", 0.38, (0, 0)),
    ("Home Care", 0.08, (0, 0)),
    ("direct_payment", 0.16, (15_000, 120_000)),
    ("DP", 0.06, (15_000, 120_000)),
    ("extra_care", 0.1, (20_000, 90_000)),
    ("shared_lives", 0.08, (30_000, 70_000)),
    ("day_care", 0.1, (5_000, 40_000)),
    ("other", 0.04, (5_000, 100_000)),
]
BAD_CELLS = [
    ("core_weekly_fee", "-120.00"),
    ("core_weekly_fee", "985.123"),
    ("lot", "3"),
    ("start_date", "31/04/2026"),
    ("age", "17"),
    ("core_weekly_fee", None),
    ("dementia", "unknown"),
    ("top_up_payer", "family"),
    ("care_type", "respite"),
    ("sl_sleep_in_nights", "9"),
    ("hc_hours", "-4"),
]


def _money(values: np.ndarray, ok: np.ndarray) -> pa.Array:
    return pc.cast(decimal_array(values, ok), pa.string())


def _text(values: np.ndarray, ok: np.ndarray) -> pa.Array:
    # numpy's stubs do not take None as a scalar (at run time it gives an object array with nulls)
    return pa.array(np.where(ok, values.astype(str), None), pa.string())  # type: ignore[call-overload]


def sample_book(rows: int, seed: int = 2026, book: Rulebook | None = None, mixed: bool = True) -> pa.Table:
    """A placement book of ``rows`` rows as text cells, the way it would be read from CSV; ``mixed``: about a
    quarter community packages and some respite, temporary and in-house rows, else care homes and supported
    living only (the benchmark's book to compare with)."""
    book = book or load_rulebook()
    rng = np.random.default_rng(seed)
    n = rows

    def yes(p: float | npt.NDArray[np.float64]) -> npt.NDArray[np.bool_]:
        return rng.random(n) < p

    start = np.where(
        yes(0.35),
        rng.integers(day_number(FIRST_START), day_number(LAST_YEAR_END) + 1, n),
        rng.integers(day_number(LAST_YEAR_END) + 1, day_number(LAST_START) + 1, n),
    )
    care_home = yes(0.82)
    nursing = yes(0.45)
    dementia = yes(0.4)
    categories = book.categories.items
    lot = np.select(
        [_covers(category, nursing, dementia) for category in categories[:-1]],
        [category.id for category in categories[:-1]],
        categories[-1].id,
    )
    evaluator = VectorEvaluator(book)
    start_sample = np.maximum(start, day_number(FIRST_START))
    median = np.zeros(n, np.int64)
    for category in categories:
        found = evaluator.param(category.benchmark, start_sample)
        earliest = next(v for v in book.parameters[category.benchmark].values if v is not None)
        median = np.where(lot == category.id, np.where(found.ok, found.v, earliest), median)
    factor = np.where(yes(0.78), rng.uniform(0.84, 1.0, n), rng.uniform(1.0, 1.32, n))
    core = (median * factor).astype(np.int64)
    core = np.where(yes(0.5), core // 100 * 100, core)
    older = yes(0.86)
    age = np.where(care_home & older, np.clip(rng.normal(85, 7, n), 65, 104), rng.integers(19, 65, n)).astype(np.int64)
    fnc_rate = evaluator.param("care_homes.fnc_standard_weekly", start)
    fnc_given = care_home & ((nursing & yes(0.7)) | (~nursing & yes(0.01)))
    high_cost = care_home & yes(0.025)
    one_to_one = np.where(
        high_cost, rng.integers(200_000, 320_000, n), np.where(yes(0.08), rng.integers(15_000, 150_000, n), 0)
    )
    gross = core + one_to_one + np.where(nursing, fnc_rate.v, 0)
    s117 = yes(np.where(care_home, 0.03, 0.10))
    nhs_state = rng.random(n)
    nhs = np.where(
        s117,
        np.where(nhs_state < 0.6, gross // 2, gross // 4),
        np.where(gross > 300_000, np.where(nhs_state < 0.4, 0, gross // 3), np.where(nhs_state < 0.1, 0, gross // 5)),
    )
    nhs_ok = np.where(s117, nhs_state < 0.85, np.where(gross > 300_000, nhs_state < 0.7, nhs_state < 0.15))
    priority, severe = np.where(yes(0.03), 1, 0), np.where(yes(0.03), 2, rng.integers(0, 2, n))
    chc = (priority + severe > 1) & yes(0.5)
    block_booked = care_home & yes(0.15)
    bed_free = care_home & ~block_booked & yes(0.05)
    distance = np.where(yes(0.9), rng.integers(30, 2000, n), rng.integers(2001, 6000, n))
    chose = (distance > 2000) & yes(0.5)
    cheapest_ok = care_home & yes(0.2)
    cheapest = (median * rng.uniform(0.9, 1.15, n)).astype(np.int64)
    budget_ok = care_home & yes(0.05)
    top_up_ok = care_home & yes(0.1)
    top_up = rng.integers(2_000, 15_000, n)
    core = np.where(top_up_ok, np.maximum(core, median) + top_up, core)
    payer = np.where(
        top_up_ok, rng.choice(np.array(["third_party", "first_party", "none"]), n, p=[0.8, 0.15, 0.05]), "none"
    )
    basis_ok = (payer == "first_party") & yes(0.7)
    basis = rng.choice(np.array(["property_disregard_12_week", "deferred_payment", "s117"]), n)
    signed, affordable = top_up_ok & yes(0.9), top_up_ok & yes(0.9)
    day_hours = rng.integers(10, 81, n) * 100
    nights = np.where(yes(0.5), 7, 0)
    waking = np.where(nights == 0, np.where(yes(0.3), 7000, 0), 0)
    day_rate, night_rate, sleep_rate = (
        _rate(book, evaluator, f"supported_living.{name}", start)
        for name in ("day_hour_rate", "waking_night_hour_rate", "sleep_in_night_rate")
    )
    reference = (day_hours * day_rate + waking * night_rate + nights * 100 * sleep_rate + 50) // 100
    sl_cost = (reference * np.where(yes(0.85), rng.uniform(0.85, 1.0, n), rng.uniform(1.0, 1.2, n))).astype(np.int64)
    provider = np.where(
        care_home, rng.choice(np.array([f"{h} Care Home" for h in HOMES]), n), rng.choice(np.array(SL_PROVIDERS), n)
    )
    lot_given = care_home & yes(0.3)
    # about a quarter of the rows are community packages, from their own stream (the columns above stay as they were)
    with_packages, stream = mixed, np.random.default_rng([seed, 25])
    package = (stream.random(n) < 0.25) & with_packages
    care_home = care_home & ~package
    ch, sl = care_home, ~care_home & ~package
    packages, service, (package_nhs, package_nhs_ok) = _packages(stream, n, package, start, evaluator)
    nhs, nhs_ok = np.where(package, package_nhs, nhs), np.where(package, package_nhs_ok, nhs_ok)
    provider = np.where(package, stream.choice(np.array(COMMUNITY_PROVIDERS), n), provider)
    charging = _financial_assessment(rng, n, ch)
    dates = (np.datetime64("1970-01-01") + start.astype("timedelta64[D]")).astype(str)
    columns = {
        "placement_id": pa.array(np.char.add("P", np.char.zfill(np.arange(1, n + 1).astype(str), 7)), pa.string()),
        "service": _text(np.where(ch, "care_home", np.where(sl, "supported_living", service)), np.ones(n, bool)),
        "start_date": _text(dates, np.ones(n, bool)),
        "age": _text(age, np.ones(n, bool)),
        "care_type": _text(np.where(nursing, "nursing", "residential"), ch),
        "dementia": _text(np.where(dementia, "true", "false"), ch),
        "lot": _text(lot, lot_given),
        "core_weekly_fee": _money(core, ch),
        "one_to_one_weekly": _money(one_to_one, ch & (one_to_one > 0)),
        "fnc_weekly": _money(np.where(nursing, fnc_rate.v, 25000), fnc_given & fnc_rate.ok),
        "sl_day_hours": _money(day_hours, sl),
        "sl_waking_night_hours": _money(waking, sl & (waking > 0)),
        "sl_sleep_in_nights": _text(nights, sl),
        "sl_weekly_cost": _money(sl_cost, sl),
        "nhs_contribution_weekly": _money(nhs, nhs_ok),
        "s117": _text(np.where(s117, "true", "false"), s117),
        "dst_priority_domains": _text(priority, priority > 0),
        "dst_severe_domains": _text(severe, severe > 0),
        "chc_referral_made": _text(np.where(chc, "true", "false"), chc),
        "block_booked": _text(np.where(block_booked, "true", "false"), ch),
        "block_bed_available": _text(np.where(bed_free, "true", "false"), bed_free),
        "distance_miles": _money(distance, ch),
        "resident_chose_location": _text(np.where(chose, "true", "false"), ch & chose),
        "cheapest_suitable_weekly": _money(cheapest, cheapest_ok),
        "personal_budget_weekly": _money(median, budget_ok),
        "top_up_weekly": _money(top_up, top_up_ok),
        "top_up_payer": _text(payer, top_up_ok),
        "first_party_basis": _text(basis, basis_ok),
        "top_up_agreement_signed": _text(np.where(signed, "true", "false"), top_up_ok),
        "top_up_affordability_confirmed": _text(np.where(affordable, "true", "false"), top_up_ok),
        "provider": _text(provider, np.ones(n, bool)),
        **charging,
        **(packages if with_packages else {}),
    }
    extra = np.random.default_rng([seed, 117])  # its own stream: the columns above stay as they were
    columns |= _health_and_working_age(extra, n, care_home & (age < 65), core, s117, nhs * nhs_ok)
    if with_packages:
        columns |= _stays_and_providers(stream, n, ch, package)
    return _spoil(pa.table(columns), rng)


def _packages(
    rng: np.random.Generator, n: int, package: np.ndarray, start: np.ndarray, ev: VectorEvaluator
) -> tuple[dict[str, pa.Array], np.ndarray, tuple[np.ndarray, np.ndarray]]:
    """Community packages: home care by hours at an hourly rate (a few complex packages over the ISP threshold,
    some with the weekly cost written as well), the others by a weekly cost; the service as people write it, and
    the NHS contribution (over the threshold: often none, or not recorded)."""
    names = np.array([name for name, _, _ in PACKAGES])
    kind = rng.choice(len(PACKAGES), n, p=[share for _, share, _ in PACKAGES])
    low = np.array([span[0] for _, _, span in PACKAGES])[kind]
    high = np.array([span[1] for _, _, span in PACKAGES])[kind]
    cost = (low + rng.random(n) * (high - low)).astype(np.int64)
    home_care = package & (kind < 2)
    complex_care = home_care & (rng.random(n) < 0.08)
    hours = np.where(complex_care, rng.integers(125, 169, n), rng.integers(4, 50, n)) * 10_000
    rate = rng.integers(2_050, 2_700, n)
    hc_cost = (hours * rate + 5_000) // 10_000
    written = home_care & (rng.random(n) < 0.3)  # the weekly cost written beside the hours and the rate
    threshold = ev.param("isp.gross_cost_threshold_weekly", np.maximum(start, day_number(FIRST_START)))
    over = package & ~home_care & (rng.random(n) < 0.01)  # a few other packages over the threshold too
    cost = np.where(over, np.where(threshold.ok, threshold.v, 300_000) + rng.integers(1, 60_000, n), cost)
    gross = np.where(home_care, hc_cost, cost)
    draw = rng.random(n)
    high = gross > np.where(threshold.ok, threshold.v, 300_000)
    nhs = np.where(high, np.where(draw < 0.4, 0, gross // 3), np.where(draw < 0.9, 0, gross // 4))
    nhs_ok = np.where(high, draw < 0.75, draw < 0.3)
    columns = {
        "weekly_cost": _money(gross, package & (~home_care | written)),
        "hc_hours": _money(hours // 100, home_care),
        "hc_hourly_rate": _money(rate, home_care),
    }
    return columns, names[kind], (nhs, nhs_ok)


def _stays_and_providers(
    rng: np.random.Generator, n: int, care_home: np.ndarray, package: np.ndarray
) -> dict[str, pa.Array]:
    """Some respite and temporary care-home stays; some in-house care homes and day services."""
    draw = rng.random(n)
    stay = np.where(draw < 0.05, "respite", np.where(draw < 0.08, "temporary", "permanent"))
    in_house = (care_home & (rng.random(n) < 0.06)) | (package & (rng.random(n) < 0.1))
    return {
        "stay_type": _text(stay, care_home & (draw < 0.5)),
        "provider_type": _text(np.where(in_house, "in_house", "independent"), in_house | (rng.random(n) < 0.2)),
    }


def _flags(rng: np.random.Generator, rows: np.ndarray, p_true: float, p_false: float) -> pa.Array:
    """A yes/no column recorded only on ``rows``: true, false or left empty (not recorded)."""
    draw = rng.random(len(rows))
    value = np.where(draw < p_true, "true", "false")
    return _text(value, rows & (draw < p_true + p_false))


def _health_and_working_age(
    rng: np.random.Generator, n: int, younger: np.ndarray, core: np.ndarray, s117: np.ndarray, nhs: np.ndarray
) -> dict[str, pa.Array]:
    """CareCubed figures for working-age care homes, s117 splits and reviews, and the NHS recharge record."""
    care_cubed = (core * rng.uniform(0.8, 1.12, n)).astype(np.int64)
    split = rng.choice(np.array([30, 40, 60, 70, 100]), n)
    review_days_ago = rng.integers(0, 540, n)
    review = (np.datetime64(LAST_START) - review_days_ago.astype("timedelta64[D]")).astype(str)
    beyond = np.where(nhs > 0, rng.random(n) * 0.15, rng.random(n))  # health needs usually come with NHS money
    commissioned = (s117 & (rng.random(n) < 0.6)) | ((nhs > 0) & (rng.random(n) < 0.25))
    agreement = rng.random(n)
    invoiced = commissioned & (agreement < 0.85) & (rng.random(n) < 0.8)
    contribution = (nhs > 0) | commissioned
    return {
        "care_cubed_weekly": _money(care_cubed, younger & (rng.random(n) < 0.85)),
        "s117_council_share": _text(np.char.mod("%.2f", split / 100), s117 & (rng.random(n) < 0.25)),
        "s117_last_review_date": _text(review, s117 & (rng.random(n) < 0.85)),
        "health_needs_beyond_incidental": _text(
            np.where(beyond < 0.06, "true", "false"), (beyond < 0.06) | ((beyond > 0.5) & (beyond < 0.8))
        ),
        "commissioned_for_nhs": _text(np.where(commissioned, "true", "false"), commissioned),
        "nhs_agreement_in_place": _text(np.where(agreement < 0.85, "true", "false"), commissioned & (agreement < 0.9)),
        "nhs_invoice_issued": _text(np.where(invoiced, "true", "false"), commissioned & (agreement < 0.95)),
        "nhs_payment_received": _flags(rng, invoiced, 0.85, 0.1),
        "person_aware_of_nhs_contribution": _flags(rng, contribution, 0.8, 0.1),
        "provider_aware_of_nhs_contribution": _flags(rng, contribution, 0.85, 0.08),
    }


def _financial_assessment(rng: np.random.Generator, n: int, ch: np.ndarray) -> dict[str, pa.Array]:
    """About three in four placements have a financial assessment: pensioners' incomes in care homes, benefit
    incomes in supported living; most capital below the lower limit, some between the limits, a few above;
    a share of a home for some care-home residents (a few kept out by a spouse at home or a deferred payment)."""
    assessed = rng.random(n) < 0.75
    sl = ~ch & assessed
    income = np.where(ch, np.clip(rng.normal(26_000, 6_000, n), 12_000, 60_000), rng.integers(15_000, 45_000, n))
    band = rng.random(n)
    capital = np.where(
        band < 0.7,
        rng.integers(0, 1_425_000, n),
        np.where(band < 0.96, rng.integers(1_425_000, 2_325_001, n), rng.integers(2_325_001, 20_000_000, n)),
    )
    owner = ch & assessed & (rng.random(n) < 0.15)
    home = rng.integers(80_000, 400_000, n) * 100
    kept_out = owner & (rng.random(n) < 0.25)
    deferred = owner & ~kept_out & (rng.random(n) < 0.4)
    mobility = sl & (rng.random(n) < 0.15)
    war_widow = ch & assessed & (rng.random(n) < 0.01)
    shared = ch & assessed & (rng.random(n) < 0.05)
    rent = sl & (rng.random(n) < 0.8)
    dre = sl & (rng.random(n) < 0.6)
    premium = sl & (rng.random(n) < 0.4)
    enhanced = premium & (rng.random(n) < 0.35)
    return {
        "weekly_income": _money(income.astype(np.int64), assessed),
        "capital": _money(capital, assessed),
        "property_value": _money(home, owner),
        "property_disregarded": _text(np.where(kept_out, "true", "false"), kept_out),
        "deferred_payment_agreement": _text(np.where(deferred, "true", "false"), deferred),
        "disregarded_income_weekly": _money(np.where(rng.random(n) < 0.7, 2_870, 7_575), mobility),
        "war_widows_pension_weekly": _money(rng.integers(1_000, 4_000, n), war_widow),
        "pension_shared_with_spouse_weekly": _money(rng.integers(4_000, 30_000, n), shared),
        "housing_costs_weekly": _money(rng.integers(9_000, 25_000, n), rent),
        "dre_weekly": _money(rng.integers(1_000, 6_000, n), dre),
        "disability_premium": _text(np.where(premium, "true", "false"), premium),
        "enhanced_disability_premium": _text(np.where(enhanced, "true", "false"), enhanced),
    }


def _rate(book: Rulebook, evaluator: VectorEvaluator, name: str, start: np.ndarray) -> np.ndarray:
    """The rate in force at each start date, or the earliest one for dates before it (a realistic price)."""
    found = evaluator.param(name, start)
    earliest = next(v for v in book.parameters[name].values if v is not None)
    return np.where(found.ok, found.v, earliest)


def _spoil(table: pa.Table, rng: np.random.Generator) -> pa.Table:
    """About 1 row in 200 (at least 3, for books of 10 rows or more) gets one bad cell."""
    n = table.num_rows
    count = 0 if n < 10 else max(3, n // 200)
    rows = np.sort(rng.choice(n, count, replace=False))
    which = rng.integers(0, len(BAD_CELLS), count)
    for name in dict.fromkeys(BAD_CELLS[k][0] for k in which if BAD_CELLS[k][0] in table.column_names):
        column = table.column(name).combine_chunks()
        picks = [(int(row), BAD_CELLS[k][1]) for row, k in zip(rows, which) if BAD_CELLS[k][0] == name]
        mask = np.zeros(n, bool)
        mask[[row for row, _ in picks]] = True
        replacement = np.empty(n, object)
        replacement[[row for row, _ in picks]] = [text for _, text in picks]
        column = pc.if_else(pa.array(mask), pa.array(replacement, pa.string()), column)
        table = table.set_column(table.column_names.index(name), name, column)
    return table


def _covers(category: Category, nursing: np.ndarray, dementia: np.ndarray) -> np.ndarray:
    """The sample's rows a care category takes: its care type, and its dementia need where it fixes one."""
    rows: np.ndarray = nursing == (category.fixed("care_type") == "nursing")
    need = category.fixed("dementia")
    return rows if need is None else rows & (dementia == need)
