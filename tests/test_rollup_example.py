"""docs/rollup.md's worked example (scripts/rollup_example.py), small: DuckDB's one query over three councils'
Parquet books and results gives each council's audit as carerules computed it — counts and exact money."""

from __future__ import annotations

import importlib.util
from decimal import Decimal
from pathlib import Path

import pyarrow.compute as pc
import pytest

ROOT = Path(__file__).resolve().parent.parent


def test_the_rollup_query_gives_each_councils_own_audit(tmp_path: Path) -> None:
    pytest.importorskip("duckdb")  # a test dependency (pyproject [test])
    spec = importlib.util.spec_from_file_location("rollup_example", ROOT / "scripts" / "rollup_example.py")
    assert spec is not None and spec.loader is not None
    example = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(example)
    found = example.run(120, tmp_path)
    assert [row["council"] for row in found["rollup"]] == sorted(example.COUNCILS)
    for row in found["rollup"]:
        audit = found["audits"][row["council"]]
        outcomes = audit.table.column("outcome").to_pylist()
        assert row["placements"] == audit.rows == 120
        assert row["decided"] == audit.rows - audit.error_rows
        for outcome in ("proceed", "needs_approval", "refer", "not_permitted"):
            assert row[outcome] == outcomes.count(outcome), outcome
        gross = pc.sum(audit.table.column("gross_weekly_cost")).as_py()
        assert isinstance(row["gross_weekly"], Decimal) and row["gross_weekly"] == gross
        assert (tmp_path / "rules" / row["council"] / "rulebook.yaml").exists()  # its own copy
    assert len({row["gross_weekly"] for row in found["rollup"]}) == 3  # three different books
