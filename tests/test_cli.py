"""The ``carerules`` command, run as a user runs it (a subprocess of the installed entry point; SPEC §8)."""

from __future__ import annotations

import json
import subprocess
import sys
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from engine.rulebook.loader import load_rulebook
from tests.conftest import placement

CARERULES = Path(sys.executable).with_name("carerules")
EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
SPEC_EXAMPLE = placement()


def run(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(CARERULES), *args], input=stdin, capture_output=True, text=True, timeout=60)


def no_traceback(result: subprocess.CompletedProcess[str]) -> None:
    assert "Traceback" not in result.stderr and "Traceback" not in result.stdout


def decision_of(result: subprocess.CompletedProcess[str]) -> dict[str, Any]:
    assert result.returncode == 0, result.stderr
    no_traceback(result)
    return json.loads(result.stdout, parse_float=Decimal)


def input_error_of(result: subprocess.CompletedProcess[str]) -> dict[str, list[str]]:
    """Exit 2, the SPEC §8 error JSON on stdout, one readable line on stderr, no traceback."""
    assert result.returncode == 2, (result.returncode, result.stdout, result.stderr)
    no_traceback(result)
    body = json.loads(result.stdout)
    assert set(body) == {"error"} and body["error"]["code"] == "invalid_input"
    fields = body["error"]["fields"]
    assert fields and all(isinstance(messages, list) and messages for messages in fields.values())
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("carerules:"), result.stderr
    for name in fields:
        assert name in lines[0]
    return fields


@pytest.fixture
def placement_file(tmp_path: Path):
    def write(data: Any, text: str | None = None) -> Path:
        path = tmp_path / "placement.json"
        path.write_text(text if text is not None else json.dumps(data), encoding="utf-8")
        return path

    return write


def test_check_a_file_prints_the_spec_example_decision(placement_file) -> None:
    result = run("check", str(placement_file(SPEC_EXAMPLE)))
    decision = decision_of(result)
    assert decision["outcome"] == "needs_approval"
    assert [f["rule_id"] for f in decision["findings"]] == ["CHP-02", "CHP-07"]
    assert decision["findings"][0]["approver"] == "team_manager"
    assert decision["figures"]["over_benchmark_percent"] == Decimal("4.52")
    assert decision["as_at"] == "2026-05-04"
    # money is written as exact 2-dp numbers (SPEC §7), not strings or floats like 1040.0
    assert '"comparable_weekly": 1040.00' in result.stdout and '"gross_weekly_cost": 1307.68' in result.stdout
    lot_6 = next(p for p in decision["parameters"] if p["name"] == "care_homes.benchmark.lot_6")
    assert lot_6["value"] == Decimal("995.00") and lot_6["effective_from"] == "2026-04-01"


def test_check_reads_stdin(placement_file) -> None:
    from_stdin = decision_of(run("check", "-", stdin=json.dumps(SPEC_EXAMPLE)))
    from_file = decision_of(run("check", str(placement_file(SPEC_EXAMPLE))))
    assert from_stdin == from_file


def test_check_as_at_overrides_the_start_date() -> None:
    placement = {**SPEC_EXAMPLE, "start_date": "2026-03-31"}
    before = decision_of(run("check", "-", stdin=json.dumps(placement)))
    after = decision_of(run("check", "-", "--as-at", "2026-04-01", stdin=json.dumps(placement)))
    assert before["as_at"] == "2026-03-31" and after["as_at"] == "2026-04-01"
    # Lot 6 median £945.00 → £995.00 and FNC £254.06 → £267.68 on 1 April 2026 (SPEC §6)
    assert before["figures"]["benchmark_weekly"] == Decimal("945.00")
    assert after["figures"]["benchmark_weekly"] == Decimal("995.00")
    assert before["figures"]["fnc_used_weekly"] == Decimal("254.06")
    assert after["figures"]["fnc_used_weekly"] == Decimal("267.68")
    # 1040 − 945 = 95, 95 / 945 = 10.05% (head of service) before; 4.52% (team manager) after
    assert [f["rule_id"] for f in before["findings"]] == ["CHP-03", "CHP-07"]
    assert [f["rule_id"] for f in after["findings"]] == ["CHP-02", "CHP-07"]


def test_check_as_at_also_overrides_an_as_at_field() -> None:
    placement = {**SPEC_EXAMPLE, "as_at": "2026-03-31"}
    decision = decision_of(run("check", "-", "--as-at", "2026-05-04", stdin=json.dumps(placement)))
    assert decision["as_at"] == "2026-05-04" and decision["figures"]["benchmark_weekly"] == Decimal("995.00")


def test_bad_json_is_an_input_error() -> None:
    fields = input_error_of(run("check", "-", stdin='{"placement_id": "P-1", "age": 80,'))
    assert list(fields) == ["placement"] and "JSON" in fields["placement"][0]


def test_a_json_value_that_is_not_an_object_is_an_input_error() -> None:
    input_error_of(run("check", "-", stdin='"P-1001"'))


def test_bad_fields_are_input_errors_named_per_field(placement_file) -> None:
    bad = {**SPEC_EXAMPLE, "core_weekly_fee": "-1040.00", "fnc_weekly": "267.681", "colour": "blue"}
    fields = input_error_of(run("check", str(placement_file(bad))))
    assert set(fields) == {"core_weekly_fee", "fnc_weekly", "colour"}
    assert "negative" in fields["core_weekly_fee"][0]
    assert "2 decimal places" in fields["fnc_weekly"][0]
    assert "unknown field" in fields["colour"][0]


def test_a_missing_required_field_is_an_input_error() -> None:
    placement = {k: v for k, v in SPEC_EXAMPLE.items() if k != "core_weekly_fee"}
    fields = input_error_of(run("check", "-", stdin=json.dumps(placement)))
    assert set(fields) == {"core_weekly_fee"}


def test_a_bad_as_at_option_is_an_input_error() -> None:
    fields = input_error_of(run("check", "-", "--as-at", "4 May 2026", stdin=json.dumps(SPEC_EXAMPLE)))
    assert set(fields) == {"as_at"}


def test_an_as_at_option_before_2020_is_an_input_error() -> None:
    # SPEC §3: as_at before 2020-01-01 is an input error, whether in the placement or given with --as-at
    fields = input_error_of(run("check", "-", "--as-at", "2019-12-31", stdin=json.dumps(SPEC_EXAMPLE)))
    assert set(fields) == {"as_at"}


def test_a_missing_file_is_reported_without_a_traceback(tmp_path: Path) -> None:
    result = run("check", str(tmp_path / "nowhere.json"))
    assert result.returncode == 2
    no_traceback(result)
    assert json.loads(result.stdout)["error"]["fields"]


def test_rules_lists_every_rule_in_rulebook_order() -> None:
    result = run("rules")
    assert result.returncode == 0
    no_traceback(result)
    ids = [rule.id for rule in load_rulebook().rules]  # every rule, in the order of the rule files
    listed = [line.split()[0] for line in result.stdout.splitlines() if line.split() and line.split()[0] in ids]
    assert listed == ids
    as_json = json.loads(run("rules", "--json").stdout)
    assert [r["rule_id"] for r in as_json["rules"]] == listed
    chp05 = next(r for r in as_json["rules"] if r["rule_id"] == "CHP-05")
    assert chp05["action"] == "needs_approval" and chp05["approver"] == "team_manager" and chp05["reference"]
    assert all(rule["reference"] for rule in as_json["rules"])


def test_parameters_at_a_date() -> None:
    result = run("parameters", "--as-at", "2026-04-01", "--json")
    assert result.returncode == 0
    no_traceback(result)
    listing = json.loads(result.stdout, parse_float=Decimal)
    assert listing["as_at"] == "2026-04-01"
    by_name = {p["name"]: p for p in listing["parameters"]}
    assert by_name["care_homes.benchmark.lot_6"]["value"] == Decimal("995.00")
    assert by_name["care_homes.benchmark.lot_6"]["effective_from"] == "2026-04-01"
    assert by_name["care_homes.fnc_standard_weekly"]["value"] == Decimal("267.68")
    assert by_name["supported_living.day_hour_rate"]["value"] == Decimal("23.30")
    assert by_name["isp.gross_cost_threshold_weekly"]["value"] == Decimal("3000.00")
    assert by_name["isp.protocol_in_force"]["effective_from"] == "2026-03-25"
    day_before = {
        p["name"]: p
        for p in json.loads(run("parameters", "--as-at", "2026-03-31", "--json").stdout, parse_float=Decimal)[
            "parameters"
        ]
    }
    assert day_before["care_homes.benchmark.lot_6"]["value"] == Decimal("945.00")


def test_parameters_show_what_is_not_yet_in_force() -> None:
    result = run("parameters", "--as-at", "2025-03-31")
    assert result.returncode == 0
    line = next(line for line in result.stdout.splitlines() if line.startswith("care_homes.benchmark.lot_1"))
    assert "not in force" in line
    listing = json.loads(run("parameters", "--as-at", "2026-03-24", "--json").stdout)
    by_name = {p["name"]: p for p in listing["parameters"]}
    assert by_name["isp.protocol_in_force"]["value"] is None


def test_parameters_show_plain_numbers() -> None:
    # a count of miles is shown as 20, not in exponent notation (2E+1)
    result = run("parameters", "--as-at", "2026-05-04", "--json")
    by_name = {p["name"]: p for p in json.loads(result.stdout)["parameters"]}
    assert "E+" not in result.stdout
    assert by_name["choice.reasonable_distance_miles"]["value"] == 20


def test_parameters_needs_a_date() -> None:
    result = run("parameters")
    assert result.returncode == 2
    no_traceback(result)
    assert "as_at" in json.loads(result.stdout)["error"]["fields"]


def test_check_summary_reads_back_the_money_a_broker_quotes() -> None:
    """One line per placement: the outcome and rules, the weekly cost, and with a financial assessment what the
    resident pays and the council's net cost (the same figures as the JSON decision)."""
    result = run("check", str(EXAMPLES / "charging.json"), "--summary")
    assert result.returncode == 0, result.stderr
    decision = decision_of(run("check", str(EXAMPLES / "charging.json")))
    figures = decision["figures"]
    assert figures["resident_contribution_weekly"] == Decimal("142.20")
    assert result.stdout.strip() == (
        "P-5001     proceed  [CHP-01 CHG-01 CHG-05]  £965.00 a week; resident pays £142.20; council net £772.80"
    )
    top_up = run("check", str(EXAMPLES / "top_up.json"), "--summary")
    assert top_up.stdout.strip().endswith("[CHP-01 TOP-01 TOP-02 TOP-04]  £1,000.00 a week")  # no assessment given
