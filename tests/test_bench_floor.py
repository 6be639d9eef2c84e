"""``carerules bench audit --compare-floor``: the whole audit command against a floor script on the same book,
alternated round by round (engine/bench/floor.py), each round's times, ratio and peaks in the JSON; a floor script
or book that cannot be used is a clear refusal, not a traceback."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from engine.cli.main import app

FLOOR = """import shutil, sys, time
time.sleep(0.2)
shutil.copyfile(sys.argv[1], sys.argv[2])
"""


def test_the_audit_against_a_floor_script_round_by_round(tmp_path: Path) -> None:
    floor = tmp_path / "floor.py"
    floor.write_text(FLOOR, encoding="utf-8")
    args = ["bench", "audit", "--compare-floor", str(floor), "--rows", "2000", "--rounds", "2"]
    done = CliRunner().invoke(app, [*args, "--workdir", str(tmp_path / "work")])
    assert done.exit_code == 0, done.output
    figures = json.loads(done.stdout)
    book = Path(figures["book"])
    assert book.is_file() and book.parent == tmp_path / "work" and figures["floor_script"] == str(floor)
    assert len(figures["rounds"]) == 2
    for one in figures["rounds"]:
        assert one["floor_s"] >= 0.2 and one["audit_s"] > 0
        # each time is rounded to the millisecond, the ratio from the times before rounding
        assert abs(one["ratio"] - one["audit_s"] / one["floor_s"]) <= 0.005 * one["ratio"] + 0.001
        assert 0 < one["floor_peak_mib"] < one["audit_peak_mib"] == round(one["audit_peak_bytes"] / 2**20)
    ratios = sorted(one["ratio"] for one in figures["rounds"])
    assert figures["ratio_range"] == ratios and figures["ratio_median"] == round(sum(ratios) / 2, 3)
    assert figures["rounds_within_ratio"] == sum(ratio <= 2 for ratio in ratios)
    assert figures["rounds_within_peak"] == 2 and figures["targets"]["audit_peak_bytes"] == 2 * 10**9
    assert (tmp_path / "work" / "floor.csv").read_bytes() == book.read_bytes()  # what the floor was given
    assert (tmp_path / "work" / "audit" / "results.csv").is_file()  # and the audit, to every output but Excel
    assert not (tmp_path / "work" / "audit" / "results.xlsx").exists()


def test_a_floor_script_or_book_that_cannot_be_used_is_refused(tmp_path: Path) -> None:
    failing = tmp_path / "failing.py"
    failing.write_text("import sys\nsys.exit('no pyarrow here')\n", encoding="utf-8")
    book = tmp_path / "book.csv"
    book.write_text("placement_id,service\nP-1,care_home\n", encoding="utf-8")
    runner = CliRunner()
    cases = [
        (["--compare-floor", str(failing), "--book", str(book)], "the floor script failed (exit 1): no pyarrow here"),
        (["--compare-floor", str(tmp_path / "none.py"), "--book", str(book)], "--compare-floor"),
        (["--compare-floor", str(failing), "--book", str(tmp_path / "none.csv")], "--book"),
    ]
    for options, said in cases:
        done = runner.invoke(app, ["bench", "audit", *options, "--workdir", str(tmp_path / "work")])
        assert done.exit_code == 2 and said in done.stderr and "Traceback" not in done.output, done.output
