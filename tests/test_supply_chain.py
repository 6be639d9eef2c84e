"""scripts/supply_chain.py: the runtime dependencies pinned as installed, pip-audit's verdict (a vulnerability
with a fix fails; the database out of reach is said, never a silent pass) and the SBOM written beside the wheel."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
_spec = importlib.util.spec_from_file_location("supply_chain", ROOT / "scripts" / "supply_chain.py")
assert _spec and _spec.loader
supply_chain = importlib.util.module_from_spec(_spec)
sys.modules["supply_chain"] = supply_chain  # dataclasses look their module up there
_spec.loader.exec_module(supply_chain)


def dep(name: str, version: str = "1.0", vulns: list | None = None) -> dict:
    return {"name": name, "version": version, "vulns": vulns or []}


def test_a_vulnerability_with_a_fixed_version_fails_and_names_it():
    report = {"dependencies": [dep("jinja2", "3.1.0", [{"id": "GHSA-x", "fix_versions": ["3.1.5"]}]), dep("rich")]}
    verdict = supply_chain.judge(report)
    assert verdict.code == 1
    assert "jinja2 3.1.0: GHSA-x (fixed in 3.1.5)" in verdict.message and "failed" in verdict.message


def test_a_vulnerability_with_no_fix_yet_is_reported_but_does_not_fail():
    verdict = supply_chain.judge({"dependencies": [dep("pyyaml", "6.0", [{"id": "PYSEC-1", "fix_versions": []}])]})
    assert verdict.code == 0 and "pyyaml 6.0: PYSEC-1 (no fixed version yet)" in verdict.message
    assert "1 dependencies audited" in verdict.message


def test_a_database_out_of_reach_is_a_skip_said_plainly_never_a_silent_pass():
    skipped = [{"name": n, "skip_reason": f"Dependency not found and could not be audited: {n}"} for n in "ab"]
    verdict = supply_chain.judge({"dependencies": skipped})
    assert (
        verdict.code == 0
        and verdict.message.startswith("pip-audit: skipped:")
        and "Nothing was audited" in verdict.message
    )
    # one package looked up is enough to count as reached: the others are listed as not audited
    verdict = supply_chain.judge({"dependencies": [*skipped, dep("rich")]})
    assert "skipped:" not in verdict.message and verdict.message.count("not audited") == 2


def test_the_pins_are_the_runtime_closure_as_installed_without_test_tools():
    pins = dict(pin.split("==") for pin in supply_chain.runtime_pins())
    for needed in ("fastapi", "prometheus-client", "durable-rules", "sqlalchemy", "pydantic-core", "starlette"):
        assert needed in pins, needed
    for test_only in ("pytest", "hypothesis", "ruff", "pip-audit", "selenium"):
        assert test_only not in pins, test_only
    assert "carerules" not in pins


def test_the_sbom_lists_every_runtime_dependency_with_its_version(tmp_path):
    pins = supply_chain.runtime_pins()
    out = supply_chain.sbom(pins, tmp_path)
    sbom = json.loads(out.read_text())
    assert sbom["bomFormat"] == "CycloneDX" and sbom["metadata"]["component"]["name"] == "carerules"
    listed = {(c["name"].lower(), c["version"]) for c in sbom["components"]}
    assert {tuple(pin.split("==")) for pin in pins} <= listed
