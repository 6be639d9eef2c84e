"""``carerules bench audit --compare-floor FLOOR.py``: the whole ``carerules audit BOOK --no-excel`` process against
a floor script (``../shared/bench/floor.py``: read the book with pyarrow, the pricing rules in plain numpy, write the
results CSV) on the same book, alternated round by round so that both meet the same load; each process's wall
time and peak resident memory (its own and its children's, as ``/usr/bin/time`` reports it), and the ratio of each
round. Issue 29's target: the audit within 2× the floor's time in the same run, its peak within 2 GB (2 × 10^9
bytes). The tests run it only on a small book, against a stand-in for the floor script."""

from __future__ import annotations

import json
import os
import shutil
import statistics
import subprocess
import sys
from pathlib import Path
from typing import Any

from engine.bench.audits import bench_folder, sample_file
from engine.bench.decisions import machine

TARGET_RATIO = 2.0  # the audit's wall time within twice the floor's (issue 29)
TARGET_PEAK_BYTES = 2 * 10**9  # "2 GB"
KIB = 1024  # wait4 gives the peak resident memory in KiB


# Run in a small process of its own (``python -S``: no site packages), which starts the measured one and reports its
# wall time, exit status and peak (wait4): on Linux a child's peak starts from the memory of the process that started
# it, and the benchmark's own process holds far more than this one (the /usr/bin/time of a shell, in effect).
_MEASURE = """import json, os, subprocess, sys, time
start = time.perf_counter()
child = subprocess.Popen(sys.argv[1:], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
said = child.stderr.read()
_, status, usage = os.wait4(child.pid, 0)
wall = time.perf_counter() - start
child.returncode = os.waitstatus_to_exitcode(status)  # reaped here
sys.stderr.buffer.write(said)
print(json.dumps({"wall": wall, "code": child.returncode, "peak_kib": usage.ru_maxrss}))
"""


def _timed(command: list[str]) -> tuple[float, int, int, bytes]:
    """Run ``command``: its wall time, exit status, peak resident memory in bytes and what it wrote to stderr."""
    done = subprocess.run([sys.executable, "-S", "-c", _MEASURE, *command], capture_output=True)
    if done.returncode != 0:
        raise RuntimeError(f"could not run {command[0]}: {done.stderr.decode(errors='replace')[-1000:]}")
    figures = json.loads(done.stdout)
    return float(figures["wall"]), int(figures["code"]), int(figures["peak_kib"]) * KIB, done.stderr


def _round(floor: Path, book: Path, folder: Path) -> dict[str, Any]:
    floor_s, code, floor_peak, said = _timed([sys.executable, str(floor), str(book), str(folder / "floor.csv")])
    if code != 0:
        raise RuntimeError(f"the floor script failed (exit {code}): {said.decode(errors='replace')[-1000:]}")
    out = folder / "audit"
    shutil.rmtree(out, ignore_errors=True)
    script = "from engine.cli.main import main; main()"  # the console script: it leaves without the teardown
    audit = [sys.executable, "-c", script, "audit", str(book), "--no-excel", "--out", str(out)]
    audit_s, code, audit_peak, said = _timed(audit)
    if code not in (0, 1):  # 1: some rows could not be decided, every output still written
        raise RuntimeError(f"the audit failed (exit {code}): {said.decode(errors='replace')[-1000:]}")
    return {
        "floor_s": round(floor_s, 3),
        "audit_s": round(audit_s, 3),
        "ratio": round(audit_s / floor_s, 3),
        "floor_peak_mib": round(floor_peak / KIB / KIB),
        "audit_peak_mib": round(audit_peak / KIB / KIB),
        "audit_peak_bytes": audit_peak,
    }


def floor_benchmark(
    floor: Path, book: Path | None, rows: int, workdir: Path | None = None, rounds: int = 5
) -> dict[str, Any]:
    """``rounds`` rounds of the floor script then the audit, each a fresh process, on ``book`` (None: a sample book
    of ``rows`` rows, made once in ``workdir``). RuntimeError when either cannot run the book."""
    folder = bench_folder(workdir)
    book = book or sample_file(folder, rows, ".csv")
    done = [_round(floor, book, folder) for _ in range(rounds)]
    ratios = [one["ratio"] for one in done]
    peaks = [one["audit_peak_bytes"] for one in done]
    return {
        "benchmark": "carerules audit BOOK --no-excel (a whole process: start-up, read, validate, evaluate, KPIs, "
        "lists, results.csv, kpis.json, report.html) against the floor script on the same book, alternated",
        "book": str(book),
        "book_mb": round(book.stat().st_size / 1e6, 1),
        "floor_script": str(floor),
        "targets": {"ratio_audit_to_floor": TARGET_RATIO, "audit_peak_bytes": TARGET_PEAK_BYTES},
        "rounds": done,
        "ratio_median": round(statistics.median(ratios), 3),
        "ratio_range": [min(ratios), max(ratios)],
        "rounds_within_ratio": sum(ratio <= TARGET_RATIO for ratio in ratios),
        "audit_s_median": round(statistics.median(one["audit_s"] for one in done), 3),
        "floor_s_median": round(statistics.median(one["floor_s"] for one in done), 3),
        "audit_peak_mib_max": round(max(peaks) / KIB / KIB),
        "rounds_within_peak": sum(peak <= TARGET_PEAK_BYTES for peak in peaks),
        "load_average": [round(x, 2) for x in os.getloadavg()],
        "machine": machine(),
    }
