"""The sample book's providers (SPEC §17): each sample provider's register id, the sourcing dates and the
supported-living records added to a sample book, and the provider register and block-bed file that go with it
(``carerules sample --providers-out/--block-beds-out``). Synthetic: no real provider is named. The columns come
from their own random stream, so the rest of the sample book is the same with or without them."""

from __future__ import annotations

from datetime import date

import numpy as np
import pyarrow as pa

from engine.audit.books.sample import FIRST_START, HOMES, LAST_START, SL_PROVIDERS
from engine.rulebook.loader import Rulebook
from engine.validate.batch import day_number

STREAM = 1717  # this module's own random stream under the book's seed
NAMES = [f"{home} Care Home" for home in HOMES] + SL_PROVIDERS
IDS = {name: f"PRV-{k + 1:03d}" for k, name in enumerate(NAMES)}
EPOCH = np.datetime64("1970-01-01")


def _iso(days: np.ndarray) -> np.ndarray:
    return (EPOCH + days.astype("timedelta64[D]")).astype(str)


def _text(values: np.ndarray, ok: np.ndarray) -> pa.Array:
    return pa.array(np.where(ok, values.astype(str), None), pa.string())  # type: ignore[call-overload]


def with_providers(table: pa.Table, seed: int) -> pa.Table:
    """The sample book with provider_id (from its provider's name), requested and sourced dates, and the
    supported-living records (review, contract, tenancy, affordable accommodation)."""
    rng = np.random.default_rng([seed, STREAM])
    n = table.num_rows
    names = table.column("provider").to_pylist()
    ids = pa.array([IDS.get(name or "") for name in names], pa.string())
    service = np.asarray(table.column("service").to_pylist(), dtype=object)
    care_home, supported = service == "care_home", service == "supported_living"
    start = np.array(
        [
            day_number(date.fromisoformat(text)) if _is_iso(text) else 0
            for text in table.column("start_date").to_pylist()
        ],
        np.int64,
    )
    known = (start > 0) & (rng.random(n) < 0.9)
    waited = np.where(care_home, rng.integers(1, 9, n), rng.integers(7, 45, n))  # days from request to sourcing
    sourced = start - rng.integers(0, 5, n)
    requested = sourced - waited
    reviewed = supported & (rng.random(n) < 0.7)
    review = start + rng.integers(30, 400, n)
    contract = rng.choice(
        np.array(["contracted", "managed_budget", "self_directed", "none"]), n, p=[0.7, 0.1, 0.1, 0.1]
    )
    tenancy = rng.choice(np.array(["true", "false", "declined"]), n, p=[0.8, 0.12, 0.08])
    affordable = rng.random(n) < 0.93
    columns = {
        "provider_id": ids,
        "requested_date": _text(_iso(requested), known),
        "sourced_date": _text(_iso(sourced), known),
        "sl_service_review_date": _text(_iso(review), reviewed & (review <= day_number(LAST_START))),
        "sl_contract_type": _text(contract, supported & (rng.random(n) < 0.95)),
        "sl_tenancy_agreement": _text(tenancy, supported & (rng.random(n) < 0.9)),
        "sl_affordable_accommodation": _text(np.where(affordable, "true", "false"), supported & (rng.random(n) < 0.9)),
    }
    for name, column in columns.items():
        table = table.append_column(name, column)
    return table


def _is_iso(text: str | None) -> bool:
    try:
        date.fromisoformat(text or "")
    except ValueError:
        return False
    return True


def sample_register(seed: int) -> pa.Table:
    """The register of the sample's providers: the care homes' type, framework dates, CQC ratings and quality
    statuses (one under an embargo, one under a large-scale enquiry), and the supported-living providers."""
    rng = np.random.default_rng([seed, STREAM, 1])
    n = len(NAMES)
    homes = np.arange(n) < len(HOMES)
    rating = rng.choice(
        np.array(["Outstanding", "Good", "Requires Improvement", "Inadequate", "Not Yet Inspected"]),
        n,
        p=[0.12, 0.6, 0.18, 0.05, 0.05],
    )
    status = np.full(n, "None", object)
    status_from = np.full(n, "", object)
    status[1], status_from[1] = "Embargo", "01/06/2026"
    status[4], status_from[4] = "Large Scale Enquiry", "15/03/2026"
    status[6], status_from[6] = "Monitoring", "01/02/2026"
    framework_to = np.full(n, "", object)
    framework_to[9] = "31/03/2026"  # left the framework: a later placement there is referred (PRV-02)
    first = FIRST_START.strftime("%d/%m/%Y")
    return pa.table(
        {
            "Provider ID": [IDS[name] for name in NAMES],
            "Name": NAMES,
            "Services": np.where(homes, "care_home", "supported_living").tolist(),
            "In Area": np.where(rng.random(n) < 0.85, "Yes", "No").tolist(),
            "Home Type": [("Nursing" if k % 2 else "Residential") if homes[k] else "" for k in range(n)],
            "Framework From": [first] * n,
            "Framework To": framework_to.tolist(),
            "CQC Rating": rating.tolist(),
            "CQC Rating Date": [first] * n,
            "Quality Status": status.tolist(),
            "Quality Status From": status_from.tolist(),
            "Provider Type": ["independent"] * n,
        }
    )


def sample_block_beds(seed: int, book: Rulebook) -> pa.Table:
    """Block-booked beds at a few of the sample's care homes, at the first care category's benchmark in force at the
    sample's last start date (a realistic price read from the rulebook)."""
    rng = np.random.default_rng([seed, STREAM, 2])
    median = book.parameters[book.categories.items[0].benchmark]
    price = next((v for d, v in zip(reversed(median.dates), reversed(median.values)) if d <= LAST_START), None)
    chosen = [0, 2, 3, 5]
    return pa.table(
        {
            "Provider ID": [IDS[NAMES[k]] for k in chosen],
            "Beds": [int(b) for b in rng.integers(2, 9, len(chosen))],
            "From": ["01/04/2026"] * len(chosen),
            "To": ["31/03/2027"] * len(chosen),
            "In Payment": ["Yes", "Yes", "Yes", "No"],
            "Weekly Price": ["" if price is None else f"{price // 100}.{price % 100:02d}"] * len(chosen),
        }
    )
