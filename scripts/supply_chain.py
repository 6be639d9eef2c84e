"""Supply chain: what carerules runs on, pinned, checked for known vulnerabilities, and written down as an SBOM.

    python scripts/supply_chain.py pins            the runtime dependencies installed here, as name==version
    python scripts/supply_chain.py audit           pip-audit over them: fails on a known vulnerability that has
                                                   a fixed version (one with no fix yet is reported, not failed)
    python scripts/supply_chain.py sbom DIST       a CycloneDX SBOM of them beside the wheel in DIST

Only the runtime closure of the installed ``carerules`` is audited and listed (not the test tools): what a
council installs with the wheel. pip-audit asks a vulnerability database over the network; when it cannot be
reached (no database answered for any package), the audit says so plainly and is skipped, never passed
silently. ``scripts/supply-chain.sh`` runs all three in CI.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parent.parent
PROJECT = "carerules"


def runtime_pins(project: str = PROJECT) -> list[str]:
    """``name==version`` for every distribution ``project`` needs at run time, as installed (markers for this
    interpreter, no extras), sorted; the project itself is left out."""
    seen: dict[str, str] = {}
    visited: set[tuple[str, frozenset[str]]] = set()
    todo = [(project, frozenset[str]())]
    while todo:
        name, extras = todo.pop()
        if (canonicalize_name(name), extras) in visited:
            continue
        visited.add((canonicalize_name(name), extras))
        try:
            dist = metadata.distribution(name)
        except metadata.PackageNotFoundError:
            raise SystemExit(f"supply chain: {name} is needed at run time but not installed here") from None
        key = canonicalize_name(dist.metadata["Name"])
        seen[key] = dist.version
        for text in dist.requires or []:
            requirement = Requirement(text)
            marker = requirement.marker
            wanted = not marker or any(marker.evaluate({"extra": extra}) for extra in (extras or {""}))
            if wanted:
                todo.append((requirement.name, frozenset(requirement.extras)))
    seen.pop(canonicalize_name(project), None)
    return [f"{name}=={version}" for name, version in sorted(seen.items())]


@dataclass(frozen=True)
class Verdict:
    code: int  # 0: pass (or skipped, said so), 1: a vulnerability with a fix
    message: str


def judge(report: dict[str, Any]) -> Verdict:
    """pip-audit's JSON report → pass, fail or skipped. A vulnerability with a fixed version fails; one without
    is reported. When no package could be looked up at all, the database was not reached: skipped, said so."""
    dependencies = report.get("dependencies", [])
    audited = [dep for dep in dependencies if "skip_reason" not in dep]
    if dependencies and not audited:
        return Verdict(
            0,
            f"pip-audit: skipped: the vulnerability database could not be reached from here (none of "
            f"{len(dependencies)} dependencies could be looked up: {dependencies[0]['skip_reason']}). Nothing was "
            "audited; run scripts/supply-chain.sh where the database answers.",
        )
    fixable, unfixed = [], []
    for dep in audited:
        for vuln in dep.get("vulns", []):
            line = f"{dep['name']} {dep['version']}: {vuln['id']}"
            if vuln.get("fix_versions"):
                fixable.append(f"{line} (fixed in {', '.join(vuln['fix_versions'])})")
            else:
                unfixed.append(f"{line} (no fixed version yet)")
    skipped = [f"{dep['name']}: {dep['skip_reason']}" for dep in dependencies if "skip_reason" in dep]
    lines = [f"pip-audit: {len(audited)} dependencies audited"]
    lines += [f"  not audited: {one}" for one in skipped]
    lines += [f"  known vulnerability, no fix yet: {one}" for one in unfixed]
    lines += [f"  KNOWN VULNERABILITY WITH A FIX: {one}" for one in fixable]
    if fixable:
        lines.append("pip-audit: failed: upgrade the dependencies above (pyproject.toml) to a fixed version")
        return Verdict(1, "\n".join(lines))
    lines.append("pip-audit: ok: no known vulnerability with a fix available")
    return Verdict(0, "\n".join(lines))


def audit(pins: list[str]) -> Verdict:
    with tempfile.TemporaryDirectory() as scratch:
        requirements = Path(scratch) / "requirements.txt"
        requirements.write_text("\n".join(pins) + "\n", encoding="utf-8")
        report = Path(scratch) / "report.json"
        command = [sys.executable, "-m", "pip_audit", "--requirement", str(requirements), "--no-deps"]
        command += ["--disable-pip", "--progress-spinner", "off", "--format", "json", "--output", str(report)]
        done = subprocess.run(command, capture_output=True, text=True, check=False)
        if not report.exists():
            reason = (done.stderr.strip().splitlines() or ["no output"])[-1]
            offline = any(word in done.stderr for word in ("ConnectionError", "NameResolution", "Max retries"))
            if offline:
                return Verdict(0, f"pip-audit: skipped: the vulnerability database could not be reached ({reason})")
            return Verdict(2, f"pip-audit: could not run: {reason}")
        return judge(json.loads(report.read_text(encoding="utf-8")))


def sbom(pins: list[str], dist: Path) -> Path:
    """A CycloneDX JSON SBOM of the runtime dependencies, its root component carerules from pyproject.toml."""
    version = metadata.version(PROJECT)
    out = dist / f"{PROJECT}-{version}.cdx.json"
    with tempfile.TemporaryDirectory() as scratch:
        requirements = Path(scratch) / "requirements.txt"
        requirements.write_text("\n".join(pins) + "\n", encoding="utf-8")
        command = [sys.executable, "-m", "cyclonedx_py", "requirements", str(requirements)]
        command += ["--pyproject", str(ROOT / "pyproject.toml"), "--mc-type", "application"]
        command += ["--of", "JSON", "--output-reproducible", "--output-file", str(out)]
        subprocess.run(command, check=True, capture_output=True, text=True)
    listed = {component["name"].lower() for component in json.loads(out.read_text())["components"]}
    missing = {pin.split("==")[0] for pin in pins} - listed
    if missing:
        raise SystemExit(f"sbom: {out} leaves out {', '.join(sorted(missing))}")
    return out


def main(argv: list[str]) -> int:
    if not argv or argv[0] not in ("pins", "audit", "sbom"):
        sys.stderr.write(__doc__ or "")
        return 2
    pins = runtime_pins()
    if argv[0] == "pins":
        sys.stdout.write("\n".join(pins) + "\n")
        return 0
    if argv[0] == "audit":
        verdict = audit(pins)
        sys.stdout.write(verdict.message + "\n")
        return verdict.code
    out = sbom(pins, Path(argv[1] if len(argv) > 1 else ROOT / "dist"))
    sys.stdout.write(f"sbom: {out} ({len(pins)} runtime dependencies)\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
