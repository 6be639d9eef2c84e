"""``carerules bench audit``: batch audits of 100k and 1M rows (SPEC §10). Each measurement runs in its own
process, so its peak memory is its own; not run by the tests."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from engine.bench.decisions import machine


def _child(kind: str, book: Path, out: Path) -> dict[str, Any]:
    # one heap for every thread, asked before pyarrow starts its threads (as `carerules audit` does)
    code = (
        "from engine.audit.memory import one_heap; one_heap(); from engine.bench.audits import measure; "
        f"measure({kind!r}, {str(book)!r}, {str(out)!r})"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


def measure(kind: str, book: str, out: str) -> None:
    """Run one measurement in this process and print its figures as JSON (called in a child process)."""
    import resource

    import pandas as pd

    if kind == "pandas":
        start = time.perf_counter()
        frame = pd.read_csv(book, dtype=str, keep_default_na=False)
        frame.to_csv(out, index=False)
        wall = time.perf_counter() - start
        timings: dict[str, float] = {}
    else:
        from engine.audit.memory import keep_freed_memory
        from engine.audit.run import run_audit
        from engine.rulebook.loader import load_rulebook

        rulebook = load_rulebook()
        keep_freed_memory()  # as `carerules audit` does
        start = time.perf_counter()
        # results.csv written on the other core during the KPIs; its columns then let go, as `carerules audit
        # --no-excel` does
        audit = run_audit(book, rules=rulebook, results_csv=out, keep_table=False)
        wall = time.perf_counter() - start
        timings = audit.timings
        if kind == "report":
            from engine.audit.outputs.report import render_report

            report_start = time.perf_counter()
            Path(out).with_suffix(".html").write_text(render_report(audit), encoding="utf-8")
            timings["report_html"] = time.perf_counter() - report_start
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(
        json.dumps(
            {
                "wall_s": round(wall, 3),
                "peak_rss_mb": round(peak, 1),
                "stages_s": {k: round(v, 3) for k, v in timings.items()},
            }
        )
    )


def _wall(run: dict[str, Any]) -> float:
    return float(run["wall_s"])


def bench_folder(workdir: Path | None) -> Path:
    folder = Path(workdir or tempfile.mkdtemp(prefix="carerules-bench-"))
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def sample_file(folder: Path, rows: int, suffix: str, mixed: bool = True) -> Path:
    """``carerules sample`` book of ``rows`` rows (seeded by its size) as .csv or .xlsx, written once per folder;
    not ``mixed``: care homes and supported living only."""
    from engine.audit.books.sample import sample_book
    from engine.audit.outputs.write import write_csv, write_excel

    book = folder / f"book_{rows}{'' if mixed else '_care_homes'}{suffix}"
    if not book.exists():
        table = sample_book(rows, seed=rows, mixed=mixed)
        if suffix == ".csv":
            write_csv(table, book)
        else:
            write_excel(table, book, sheet="Placements")
    return book


def batch_benchmark(sizes: list[int], workdir: Path | None = None, repeat: int = 3) -> dict[str, Any]:
    """Each size: pandas once, then the audit ``repeat`` times, each in a fresh process; the audit's figures are
    those of its median run (all its wall times are listed: this machine's speed drifts between runs)."""
    folder = bench_folder(workdir)
    runs = []
    for rows in sizes:
        book = sample_file(folder, rows, ".csv")
        plain = sample_file(folder, rows, ".csv", mixed=False)
        pandas = _child("pandas", book, folder / f"pandas_{rows}.csv")
        mixed_runs, plain_runs = [], []
        for _ in range(repeat):  # the mixed book and the care-home book in turn, so both meet the same load
            mixed_runs.append(_child("audit", book, folder / f"results_{rows}.csv"))
            plain_runs.append(_child("audit", plain, folder / f"results_{rows}_care_homes.csv"))
        audits = sorted(mixed_runs, key=_wall)
        audit = audits[len(audits) // 2]
        plain_audit = sorted(plain_runs, key=_wall)[len(plain_runs) // 2]
        runs.append(
            {
                "rows": rows,
                "file_mb": round(book.stat().st_size / 1e6, 1),
                "audit_wall_s": audit["wall_s"],
                "audit_wall_s_all": [run["wall_s"] for run in audits],
                "audit_rows_per_s": round(rows / audit["wall_s"]),
                "audit_peak_rss_mb": max(run["peak_rss_mb"] for run in audits),
                "audit_stages_s": audit["stages_s"],
                "pandas_read_write_csv_s": pandas["wall_s"],
                "pandas_peak_rss_mb": pandas["peak_rss_mb"],
                "ratio_audit_to_pandas": round(audit["wall_s"] / pandas["wall_s"], 2),
                "care_homes_only_wall_s": plain_audit["wall_s"],
                "care_homes_only_wall_s_all": [run["wall_s"] for run in plain_runs],
                "care_homes_only_peak_rss_mb": max(run["peak_rss_mb"] for run in plain_runs),
                "ratio_mixed_to_care_homes_only": round(audit["wall_s"] / plain_audit["wall_s"], 3),
            }
        )
    result: dict[str, Any] = {
        "benchmark": "batch audit end to end: read CSV, validate, evaluate every module, reason codes, KPIs, "
        "write the results CSV (no Excel, no HTML report) of a mixed book (every service); against pandas "
        "read_csv + to_csv of the same file and the audit of a book of care homes and supported living only, in "
        f"the same run; the audit's median of {repeat} runs (peak: the highest)",
        "targets": {
            "1M_rows_wall_s": 5,
            "1M_rows_peak_gb": 3,
            "cost": "linear in rows",
            "mixed_to_care_homes_only": 1.1,
        },
        "runs": runs,
        "load_average": [round(x, 2) for x in os.getloadavg()],
        "machine": machine(),
    }
    if len(runs) >= 2:
        small, large = runs[0], runs[-1]
        result["linearity"] = {
            "rows_ratio": round(large["rows"] / small["rows"], 1),
            "time_ratio": round(large["audit_wall_s"] / small["audit_wall_s"], 1),
        }
    return result


def _cli_run(book: Path, out: Path) -> dict[str, Any]:
    """``carerules audit BOOK`` in a fresh process (start-up included): wall time and the child's CPU time."""
    import resource
    import shutil

    shutil.rmtree(out, ignore_errors=True)
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    code = "from engine.cli.main import main; main()"
    done = subprocess.run([sys.executable, "-c", code, "audit", str(book), "--out", str(out)], capture_output=True)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode not in (0, 1):
        raise RuntimeError(done.stderr.decode(errors="replace")[-2000:])
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return {"wall_s": round(wall, 3), "cpu_s": round(cpu, 3), "outputs": sorted(p.name for p in out.iterdir())}


def excel_benchmark(sizes: list[int], workdir: Path | None = None, repeat: int = 3) -> dict[str, Any]:
    """An .xlsx book in → every output (results.xlsx with its sheets, the list CSVs, errors.csv, results.csv,
    kpis.json, report.html) through the CLI, process start included; the best of ``repeat`` runs."""
    folder = bench_folder(workdir)
    runs = []
    for rows in sizes:
        book = sample_file(folder, rows, ".xlsx")
        results = [_cli_run(book, folder / f"out_{rows}") for _ in range(repeat)]
        best = min(results, key=lambda r: r["wall_s"])
        runs.append(
            {
                "rows": rows,
                "book_mb": round(book.stat().st_size / 1e6, 2),
                "wall_s_best": best["wall_s"],
                "wall_s_all": [r["wall_s"] for r in results],
                "cpu_s_best": min(r["cpu_s"] for r in results),
                "outputs": best["outputs"],
            }
        )
    return {
        "benchmark": "carerules audit BOOK.xlsx end to end in a new process (start-up, read, validate, evaluate, "
        "KPIs, lists, results.xlsx with its sheets, the CSVs, kpis.json, report.html)",
        "targets": {"10k_rows_wall_s": 2, "100k_rows_wall_s": 10},
        "runs": runs,
        "load_average": [round(x, 2) for x in os.getloadavg()],
        "machine": machine(),
    }
