"""durable_rules containment (SPEC §2): long runs keep memory flat; threads get the same answers as one thread."""

from __future__ import annotations

import json
import random
import resource
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor

from engine import Engine

SOAK_EVALUATIONS = 100_000


def random_placement(rnd: random.Random, index: int) -> dict:
    """A valid placement of either service, spread over the dates, thresholds and flags the rules test."""
    care_home = rnd.random() < 0.7
    placement = {
        "placement_id": f"S-{index}",
        "service": "care_home" if care_home else "supported_living",
        "start_date": rnd.choice(["2025-06-01", "2026-03-24", "2026-03-25", "2026-03-31", "2026-04-01", "2026-10-01"]),
        "age": rnd.randint(18, 104),
        "s117": rnd.random() < 0.2,
        "dst_priority_domains": rnd.choice([0, 0, 0, 1]),
        "dst_severe_domains": rnd.choice([0, 0, 1, 2]),
        "chc_referral_made": rnd.random() < 0.3,
        "other_weekly": rnd.choice([0, 0, "35.50"]),
    }
    if rnd.random() < 0.6:
        placement["nhs_contribution_weekly"] = rnd.choice([0, "100.00", "1500.00"])
    if care_home:
        placement.update(
            care_type=rnd.choice(["residential", "nursing"]),
            dementia=rnd.random() < 0.4,
            core_weekly_fee=f"{rnd.randint(60_000, 320_000) / 100:.2f}",
            one_to_one_weekly=rnd.choice([0, 0, "420.00"]),
            top_up_weekly=rnd.choice([0, 0, "50.00", "120.00"]),
            top_up_payer=rnd.choice(["none", "third_party", "first_party"]),
            top_up_agreement_signed=rnd.random() < 0.5,
            top_up_affordability_confirmed=rnd.random() < 0.5,
            distance_miles=rnd.choice([None, 3, 20, "20.1", 45]),
            block_booked=rnd.random() < 0.2,
            block_bed_available=rnd.random() < 0.2,
            cheapest_suitable_weekly=rnd.choice([None, "900.00", "1200.00"]),
        )
        if rnd.random() < 0.5:
            placement["fnc_weekly"] = rnd.choice([0, "267.68", "254.06"])
    else:
        placement.update(
            sl_day_hours=rnd.choice([0, 12, "37.5", 56]),
            sl_waking_night_hours=rnd.choice([0, 0, 70]),
            sl_sleep_in_nights=rnd.randint(0, 7),
            sl_weekly_cost=f"{rnd.randint(20_000, 400_000) / 100:.2f}",
        )
    return placement


def _rss_mb() -> float:
    with open("/proc/self/statm", encoding="ascii") as statm:
        return int(statm.read().split()[1]) * resource.getpagesize() / 2**20


def _soak() -> dict[str, object]:
    engine = Engine()
    rnd = random.Random(2026)
    pool = [random_placement(rnd, i) for i in range(1000)]
    for placement in pool:
        engine.decide(placement)
    baseline = _rss_mb()
    outcomes = set()
    for index in range(SOAK_EVALUATIONS):
        outcomes.add(engine.decide(pool[index % len(pool)]).outcome)
        if index == 10_000:
            after_10k = _rss_mb()
    return {"grown": _rss_mb() - after_10k, "baseline": baseline, "outcomes": sorted(outcomes)}


def test_100k_evaluations_keep_memory_flat():
    # Measured in a fresh process: the pytest process's RSS also moves with the heap every earlier test left
    # behind (large books, servers), which is not what this test measures.
    done = subprocess.run([sys.executable, __file__], capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    soak = json.loads(done.stdout)
    grown, baseline = soak["grown"], soak["baseline"]
    assert set(soak["outcomes"]) == {"proceed", "needs_approval", "refer", "not_permitted"}
    # a leak of even 100 bytes an evaluation would add ~9 MB over the last 90,000
    assert grown < 4, f"RSS grew {grown:.1f} MB over 90,000 evaluations (baseline {baseline:.1f} MB)"


def test_threads_give_the_same_decisions_as_one_thread():
    engine = Engine()
    rnd = random.Random(7)
    placements = [random_placement(rnd, i) for i in range(2000)]
    expected = [engine.decide(p).to_dict() for p in placements]
    with ThreadPoolExecutor(max_workers=8) as pool:
        threaded = list(pool.map(lambda p: engine.decide(p).to_dict(), placements * 2))
    assert threaded == expected * 2


if __name__ == "__main__":
    print(json.dumps(_soak()))
