"""A regional roll-up (docs/rollup.md): three councils' placement books in Parquet, each audited with its own
copy of the rulebook, the results joined in one DuckDB query. Usage:
``.venv/bin/python scripts/rollup_example.py [rows per council] [folder]`` (default 50,000 rows, a temporary
folder). Prints the roll-up and how long each step took."""

from __future__ import annotations

import json
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq

from engine.audit.books.sample import sample_book
from engine.audit.outputs.write import write_outputs
from engine.audit.run import run_audit
from engine.rulebook.loader import DEFAULT_RULES_DIR, load_rulebook

COUNCILS = {"north": 11, "east": 22, "west": 33}  # each council's sample seed

ROLLUP = """
WITH books AS (
    SELECT regexp_extract(filename, '([a-z]+)\\.parquet$', 1) AS council, count(*) AS placements
    FROM read_parquet('{books}/*.parquet', filename = true)
    GROUP BY ALL
), results AS (
    SELECT regexp_extract(filename, '/([a-z]+)/results\\.parquet$', 1) AS council, *
    FROM read_parquet('{out}/*/results.parquet', filename = true, union_by_name = true)
)
SELECT
    b.council,
    b.placements,
    count(r.outcome) AS decided,
    count(*) FILTER (WHERE r.outcome = 'proceed') AS proceed,
    count(*) FILTER (WHERE r.outcome = 'needs_approval') AS needs_approval,
    count(*) FILTER (WHERE r.outcome = 'refer') AS refer,
    count(*) FILTER (WHERE r.outcome = 'not_permitted') AS not_permitted,
    sum(r.gross_weekly_cost) AS gross_weekly
FROM books b JOIN results r USING (council)
GROUP BY ALL
ORDER BY b.council
"""


def run(rows: int, folder: Path) -> dict[str, Any]:
    import duckdb

    timings: dict[str, float] = {}
    books, rules, out = folder / "books", folder / "rules", folder / "out"
    for path in (books, rules, out):
        path.mkdir(parents=True, exist_ok=True)

    start = time.perf_counter()
    for council, seed in COUNCILS.items():
        shutil.copytree(DEFAULT_RULES_DIR, rules / council, dirs_exist_ok=True)  # the whole rulebook, its base too
        pq.write_table(sample_book(rows, seed), books / f"{council}.parquet", compression="zstd")
    timings["books_and_rulebooks_made"] = time.perf_counter() - start

    audits = {}
    for council in COUNCILS:
        start = time.perf_counter()
        audit = run_audit(books / f"{council}.parquet", rules=load_rulebook(rules / council))
        write_outputs(audit, out / council, excel=False, report=False, format="parquet")
        timings[f"audit_{council}"] = time.perf_counter() - start
        audits[council] = audit

    start = time.perf_counter()
    query = ROLLUP.format(books=books.as_posix(), out=out.as_posix())
    connection = duckdb.connect()
    cursor = connection.execute(query)
    names = [column[0] for column in cursor.description]
    table = [dict(zip(names, row)) for row in cursor.fetchall()]
    timings["rollup_query"] = time.perf_counter() - start
    return {"rows_per_council": rows, "rollup": table, "timings_seconds": timings, "audits": audits}


def main() -> None:
    rows = int(sys.argv[1]) if len(sys.argv) > 1 else 50_000
    folder = Path(sys.argv[2]) if len(sys.argv) > 2 else Path(tempfile.mkdtemp(prefix="carerules-rollup-"))
    found = run(rows, folder)
    found.pop("audits")
    print(json.dumps(found, indent=2, default=str))


if __name__ == "__main__":
    main()
