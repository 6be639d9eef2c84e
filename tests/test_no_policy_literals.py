"""No policy number in Python: rates, thresholds, dates and targets are dated, cited YAML under rules/.

Every numeric literal in engine/ and api/ must be in an explicit allow-list of non-policy constants, each
with the reason it is not policy. A new literal fails this test until it is either moved to rules/ or
allowed here with its reason.
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
ANYWHERE = {0, 1, 2, -1, 10, 100}  # counting, halving, pence in a pound, hundredths, percentages
HTTP = {200, 201, 303, 400, 401, 403, 404, 405, 406, 409, 413, 415, 422, 500, 503}
# Files that are not policy at all: a synthetic sample book (made-up shares and price spreads), benchmarks,
# load generators and database migrations (column sizes).
NOT_POLICY_FILES = {
    "engine/audit/books/sample.py",
    "engine/audit/books/sample_providers.py",
    "engine/bench/audits.py",
    "engine/bench/decisions.py",
    "engine/bench/floor.py",
    "engine/bench/validation.py",
    "api/bench/bare.py",
    "api/bench/benchmark.py",
    "api/bench/loadgen.py",
    "api/bench/shell.py",
    "api/store/migrations/versions/0001_decision_log.py",
    "api/store/migrations/versions/0002_workflow.py",
    "api/store/migrations/versions/0004_audit_results.py",
    "api/store/migrations/versions/0006_editions.py",
}
# file → (allowed literals, why they are not policy)
ALLOWED: dict[str, tuple[set[float], str]] = {
    "api/serve/hosts.py": ({64}, "how many allowed Host values are remembered (a bound on memory)"),
    "api/auth/users.py": ({3}, "exit code: the rulebook (whose approver roles a user may hold) did not load"),
    "api/cli.py": ({8000, 65535, 32, 60.0, 2000, 20000}, "the default port, the highest port, benchmark sizes"),
    "engine/audit/fee_review.py": ({52}, "weeks in a year: the fee review's annual cost is 52 × weekly"),
    "engine/editions/rates_import.py": ({4}, "YAML indentation of a list's items, as the rule files are written"),
    "api/routes/approvals.py": ({200} | HTTP, "longest filter text, HTTP codes"),
    "api/auth/identity.py": ({3, 6, 32, 10000}, "token parts and random bytes, sign-in attempt counts kept"),
    "api/auth/guard.py": ({32} | HTTP, "random bytes of a CSRF token, HTTP codes"),
    "api/web/signin.py": ({32, 3600, 429} | HTTP, "random bytes of a session id, seconds in an hour, HTTP codes"),
    "api/store/workflow.py": ({16, 32, 64, 200}, "column sizes"),
    "api/store/audit_results.py": ({18, 20, 32, 64}, "random bytes of an id, a part's size (1 << 20), column sizes"),
    "api/uploads/worker.py": ({200}, "rows of each list in the JSON answer"),
    "api/uploads/runner.py": ({5} | HTTP | {429}, "seconds to wait for a stopped child, HTTP codes"),
    "api/store/decision_log.py": (
        {4, 8, 16, 32, 64, 200, 400, 5.0, 1000, 0.25, 1024},
        "column sizes, pool settings, timeout, ms in a s, how often (seconds, times a timeout) deadlines are seen, "
        "bytes in a KiB (the WAL's size limit)",
    ),
    "api/store/log_writer.py": ({512, 30}, "most records in one transaction, seconds to wait for the writer to stop"),
    "api/store/sqlite_writer.py": (
        {512, 1000, 64, 0.0001, 0.001, 0.0005, 0.02},
        "most requests in one group, rows in one SQLite statement, statements kept, to try again for the turn "
        "(first wait, longest wait) and for a database locked elsewhere",
    ),
    "api/store/sqlite_checkpoint.py": (
        {0.25, 20, 0.0005},
        "seconds between checkpoints of the decision log's WAL; tries for the writers' turn and seconds between them",
    ),
    "api/serve/workers.py": ({3, 0.5, 30}, "uvicorn's start-up failure exit code, seconds between checks and to stop"),
    "api/serve/edition.py": (
        {0.25, 4, 1e9, 30, 1_000},
        "seconds between looks at the rulebook folder, bytes of a worker's random name, nanoseconds in a second, "
        "ms the change notices are gathered, ms the notice thread waits before looking up, seconds before it tries "
        "again to have notices",
    ),
    "engine/rulebook/strict_yaml.py": ({1024}, "parsed rule files kept (a few rulebooks' worth)"),
    "api/serve/observe.py": (
        {3, 8, 200, 500, 1000},
        "status before a response starts, random bytes of a request-id prefix, logged path length, ms rounding",
    ),
    "api/routes/fast_path.py": (HTTP, "HTTP status codes"),
    "api/serve/head.py": ({256, 204, 304} | HTTP, "the byte values (0–255), HTTP status codes with no body"),
    "api/uploads/limits.py": (HTTP, "HTTP status codes"),
    "api/routes/responses.py": (HTTP, "HTTP status codes"),
    "api/auth/bootstrap.py": ({32}, "fewest random characters in an operator's token (new_token gives 43: 256 bits)"),
    "api/serve/metrics.py": (
        {0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0},
        "latency histogram buckets in seconds (a decision's milliseconds to an audit's time limit)",
    ),
    "api/routes/audits.py": ({20, 31, 64, 1000, 100000, 429, 499} | HTTP, "page sizes, upload bounds, HTTP codes"),
    "api/routes/catalogue.py": (HTTP, "HTTP status codes"),
    "api/routes/decisions.py": (
        {20, 64, 2000, 10000, 2147483647} | HTTP,
        "page sizes, longest edition name, longest approval reason, the largest database id, HTTP codes",
    ),
    "api/routes/edition_work.py": (
        {8, 20, 255, 2000} | HTTP,
        "rulebooks kept loaded, a copy's buffer (1 << 20), a file name's column size, longest why, HTTP codes",
    ),
    "api/routes/editions.py": ({31, 2147483647} | HTTP, "an Excel sheet name's length, the largest id, HTTP codes"),
    "api/store/editions.py": ({16, 32, 255}, "column sizes"),
    "api/web/rates.py": ({2147483647} | HTTP, "the largest database id, HTTP codes"),
    "engine/audit/edition_effect.py": ({50}, "placements listed in a draft (all are counted)"),
    "engine/editions/snapshot.py": ({6}, "zlib's compression level"),
    "api/web/refusals.py": (HTTP, "HTTP status codes"),
    "api/web/pages.py": (
        {64, 2000, 2147483647} | HTTP,
        "longest edition name, longest approval reason, the largest database id, HTTP codes",
    ),
    "api/serve/settings.py": (
        {5, 7, 20, 30.0, 50, 120.0, 300, 500, 32767, 1000000, 50000000, 300000000, 8000000000},
        "request and upload bounds (bytes, rows, characters), timeouts in seconds, audit results kept (days, "
        "audits a user), an upload audit's address space, sign-in attempts per window",
    ),
    "engine/audit/books/columns.py": ({0.5, 3, 30}, "how close a column name must be to suggest it"),
    "engine/audit/books/excel_in.py": (
        {3, 20, 120, 2958465},
        "notes and header cells shown, Excel's serial bound",
    ),
    "engine/audit/books/excel_ahead.py": (
        {3, 7, 20, 26, 64, 10000000},
        "the used-range scan: digits of Excel's last row, column letters (26), a chunk's overlap and the largest "
        "workbook.xml read (bytes)",
    ),
    "engine/audit/outputs/excel_out.py": (
        {3, 6, 31, 60, 500, 1048575},
        "Excel's limits, column widths (a comma per 3 digits)",
    ),
    "engine/audit/outputs/renderer.py": ({5}, "seconds to wait for the report renderer to stop"),
    "engine/audit/outputs/xlsx.py": (
        {3, 4, 5, 12, 26, 30, 65, 164, 165, 166, 256, 1899, 1970, 20000},
        "rows per block, Excel's and Arrow's epochs, style and number-format ids, column letters (A is 65, 26 of "
        "them), byte values",
    ),
    "engine/audit/kpis/compute.py": ({28}, "29 February has no anniversary: the 28th is used"),
    "engine/audit/kpis/health.py": ({12}, "months in a year (calendar arithmetic; KPI windows are in rules/)"),
    "engine/audit/lists/tables.py": (
        {64, 63, 8, 7},
        "bits in a 64-bit key (63 under the sign bit), eight rules packed a byte (bit 7 the last of a byte)",
    ),
    "engine/audit/kpis/series.py": ({3}, "months in a quarter (calendar arithmetic)"),
    "engine/arrays.py": ({0.05}, "share of rows each way above which arithmetic is cheaper than branching"),
    "engine/audit/outputs/csv_out.py": (
        {65_536, 16_384, 3},
        "rows of a CSV turned into text at a time (a block; Arrow's batch); blocks of several files' rows made ahead",
    ),
    "engine/audit/outputs/csv_as_read.py": (
        {22, 64},
        "a book scanned 4 MiB (2^22 bytes) at a time, its masks in 64-bit words",
    ),
    "engine/audit/views.py": ({131_072}, "rows of a big book evaluated at a time (memory, not policy)"),
    "engine/audit/memory.py": (
        {3, 8, 1024, 32, 31, 50},
        "glibc's mallopt parameters and byte sizes; jemalloc's decay in milliseconds",
    ),
    "engine/audit/books/problems.py": ({3, 12}, "examples shown per error"),
    "engine/audit/books/book.py": ({1000000000000000.0}, "floats below 10^15 written as whole numbers"),
    "engine/audit/books/limits.py": (
        {20, 1000, 32767, 5000000, 2000000000},
        "header rows searched, reading bounds (1,000 columns of a sheet's used range), Excel cell limits",
    ),
    "engine/audit/books/read.py": (
        {4, 16, 18, 20, 24, 50, 63},
        "CSV sniffing (sample, block, lines), 128-bit decimals, UTF-16 without a BOM told by its NUL bytes (over "
        "half of one parity, under 1 in 20 of the other)",
    ),
    "engine/audit/books/arrow_in.py": (
        {1000000000000000.0},
        "floats below 10^15 written as whole numbers, as Excel shows",
    ),
    "engine/audit/books/other_books.py": (
        {4, 7, 12, 16, 64, 127, 128, 145, 148},
        "MS-XLSB record types (0x91, 0x94), 7-bit groups of a record's type and size, a used range's 16 bytes, "
        "records and bytes (4 KiB) read from a sheet's start",
    ),
    "engine/audit/outputs/parquet_out.py": ({131072}, "rows in a Parquet row group"),
    "engine/audit/outputs/safe.py": ({32, 127, 256}, "ASCII control-character bounds (below space, DEL), byte values"),
    "engine/audit/outputs/report.py": (
        {0.5, 0.6, 2.2, 2.8, 3.5, 5, 6, 7, 8, 9, 25, 50, 75, 90, 95, 200},
        "chart sizes, quartiles",
    ),
    "engine/audit/reference.py": ({1999, 2000}, "progress every 2,000 rows"),
    "engine/audit/run.py": ({1970}, "the day-number epoch"),
    "engine/cli/audit.py": ({3, 5, 500, 2026, 2000000}, "exit code, progress, the sample's default seed"),
    "engine/cli/bench.py": ({20000, 200000}, "benchmark sizes"),
    "engine/cli/options.py": ({3}, "exit code"),
    "engine/cli/worked.py": ({3}, "exit code"),
    "engine/evaluate/durable.py": ({16}, "hash length of a ruleset name"),
    "engine/decide.py": ({4}, "rulebooks kept loaded"),
    "engine/evaluate/equivalence.py": ({999, 1000}, "progress every 1,000 rows"),
    "engine/explain/price_guide.py": ({256}, "guides kept"),
    "engine/language/scalar_runtime.py": ({1024}, "fractions kept"),
    "engine/money.py": (
        {10000000, 4},
        "a sanity bound on input (£10,000,000 a week), not a policy value; decimal places of hours and miles",
    ),
    "engine/rulebook/compiled.py": ({4096}, "dates whose values are kept"),
    "engine/rulebook/checks.py": (
        {130, 1000, 1000000, 25000, 10000000, 10000000000},
        "plausibility bounds of each unit (a typo's guard, not a policy value)",
    ),
    "engine/rulebook/loader.py": ({12}, "hash length of the rulebook version"),
    "engine/rulebook/cache.py": ({8, 32, 0o700}, "rulebooks kept, a cache file name's length, the folder's mode"),
    "engine/editions/whatif.py": ({12}, "hash length of the rulebook version"),
    "engine/validate/batch.py": (
        {18, 1970, 26, 32, 127},
        "decimal precision, epoch, 2**26: hours and rates that multiply within int64; ASCII control-character bounds "
        "(below space, DEL) of an identifier's bytes",
    ),
    "engine/validate/placement.py": ({64}, "distinct rulebooks' categories kept in the lots cache (memory)"),
    "engine/validate/values.py": ({3, 4, 5, 6, 7, 9, 12}, "regex group numbers, months in a year, Sept is month 9"),
    # The placement's field groups declare the input's bounds (days in a week, DST domains, ages a placement can
    # have, id and provider lengths) and one example per field; the earliest date and the Lots are the rulebook's.
    "engine/validate/field_groups/pricing.py": (
        {18, 64, 84, 120, 200},
        "input bounds (age, id, provider) and examples",
    ),
    "engine/validate/field_groups/supported_living.py": ({7}, "nights in a week"),
    "engine/validate/field_groups/health.py": ({12}, "the DST's twelve domains"),
    "engine/validate/field_groups/providers.py": ({64}, "the provider id's length, as a placement id's"),
}


def _literals(path: Path) -> list[tuple[int, float]]:
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Constant) and isinstance(node.value, (int, float)) and not isinstance(node.value, bool):
            found.append((node.lineno, node.value))
    return found


def test_no_numeric_literal_outside_the_allow_list() -> None:
    problems = []
    for path in sorted([*ROOT.glob("engine/**/*.py"), *ROOT.glob("api/**/*.py")]):
        name = path.relative_to(ROOT).as_posix()
        if name in NOT_POLICY_FILES:
            continue
        allowed = ANYWHERE | ALLOWED.get(name, (set(), ""))[0]
        problems += [f"{name}:{line}: {value}" for line, value in _literals(path) if value not in allowed]
    assert problems == [], "numbers in Python: move them to rules/ or allow them with a reason:\n" + "\n".join(problems)


def test_the_allow_list_names_only_files_that_exist_and_literals_they_hold() -> None:
    """A stale entry (a literal since moved to rules/) is removed, so the list stays honest."""
    for name, (values, reason) in ALLOWED.items():
        path = ROOT / name
        assert path.is_file() and reason, name
        held = {value for _, value in _literals(path)}
        stale = values - held - HTTP
        assert not stale, f"{name} no longer holds {sorted(stale)}: remove them from the allow-list"


def test_the_scan_finds_a_policy_number(tmp_path: Path) -> None:
    sample = tmp_path / "policy.py"
    sample.write_text("THRESHOLD = 3000\nif gross > 3000.00:\n    pass\n", encoding="utf-8")
    assert [value for _, value in _literals(sample)] == [3000, 3000.0]
