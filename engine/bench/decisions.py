"""Benchmarks that print their figures and the machine (SPEC §10). Not run by the tests."""

from __future__ import annotations

import os
import platform
import resource
import statistics
import time
from typing import Any

from engine.decide import Engine

EXAMPLES: list[dict[str, Any]] = [
    {
        "placement_id": "B-1",
        "service": "care_home",
        "start_date": "2026-05-04",
        "age": 82,
        "care_type": "nursing",
        "core_weekly_fee": "1040.00",
    },
    {
        "placement_id": "B-2",
        "service": "care_home",
        "start_date": "2026-06-01",
        "age": 90,
        "care_type": "residential",
        "dementia": True,
        "core_weekly_fee": "1150.00",
        "top_up_weekly": "50.00",
        "top_up_payer": "third_party",
        "top_up_agreement_signed": True,
        "top_up_affordability_confirmed": True,
    },
    {
        "placement_id": "B-3",
        "service": "care_home",
        "start_date": "2026-07-01",
        "age": 71,
        "lot": 7,
        "core_weekly_fee": "2900.00",
        "one_to_one_weekly": "400.00",
        "fnc_weekly": "267.68",
        "nhs_contribution_weekly": "0",
        "dst_severe_domains": 2,
    },
    {
        "placement_id": "B-4",
        "service": "supported_living",
        "start_date": "2026-05-04",
        "age": 34,
        "sl_day_hours": "40",
        "sl_sleep_in_nights": 7,
        "sl_weekly_cost": "1790.00",
        "s117": True,
        "nhs_contribution_weekly": "895.00",
    },
]


def machine() -> dict[str, Any]:
    model = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as info:
            model = next((line.split(":", 1)[1].strip() for line in info if line.startswith("model name")), model)
    except OSError:
        pass
    return {"cpu": model, "cores": os.cpu_count(), "python": platform.python_version(), "system": platform.platform()}


def single_decision(engine: Engine, runs: int) -> dict[str, Any]:
    for example in EXAMPLES:  # warm up
        engine.decide(example)
    timings = []
    for index in range(runs):
        example = EXAMPLES[index % len(EXAMPLES)]
        start = time.perf_counter_ns()
        engine.decide(example)
        timings.append(time.perf_counter_ns() - start)
    timings.sort()
    return {
        "benchmark": f"single decision through the library ({engine.evaluator} evaluator, validation included)",
        "runs": runs,
        "median_us": round(statistics.median(timings) / 1000, 1),
        "p95_us": round(timings[int(len(timings) * 0.95)] / 1000, 1),
        "target_median_us": 150,
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "machine": machine(),
    }
