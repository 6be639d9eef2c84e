"""The release conventions of docs/releasing.md: CHANGELOG.md in the Keep a Changelog form with the package's
version as its newest release, every tag named vX.Y.Z (or a PEP 440 pre-release), and the example systemd unit."""

from __future__ import annotations

import configparser
import re
import subprocess
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TAG = re.compile(r"^v(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)((a|b|rc)[1-9]\d*)?$")
RELEASE = re.compile(r"^## \[(\d+\.\d+\.\d+(?:(?:a|b|rc)\d+)?)\] - (\d{4}-\d{2}-\d{2})$", re.MULTILINE)
KINDS = {"Added", "Changed", "Deprecated", "Removed", "Fixed", "Security"}


def package_version() -> str:
    return str(tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"])


def test_the_changelog_opens_with_unreleased_then_the_package_version_newest_first():
    text = (ROOT / "CHANGELOG.md").read_text(encoding="utf-8")
    headings = re.findall(r"^## (.+)$", text, re.MULTILINE)
    assert headings[0] == "[Unreleased]"
    releases = RELEASE.findall(text)
    assert len(releases) == len(headings) - 1, "every other section is '## [X.Y.Z] - YYYY-MM-DD'"
    assert releases[0][0] == package_version()
    dates = [date for _, date in releases]
    assert dates == sorted(dates, reverse=True)
    kinds = set(re.findall(r"^### (.+)$", text, re.MULTILINE))
    assert kinds <= KINDS, kinds - KINDS


def test_every_tag_follows_the_scheme():
    tags = subprocess.run(["git", "tag", "--list"], cwd=ROOT, capture_output=True, text=True, check=False).stdout
    for tag in tags.split():
        assert TAG.match(tag), f"tag {tag!r} is not vX.Y.Z (docs/releasing.md)"
    for good in ("v0.1.0", "v1.10.2", "v2.0.0rc1"):
        assert TAG.match(good)
    for bad in ("0.1.0", "v1.0", "v01.0.0", "release-1", "v1.0.0-rc1"):
        assert not TAG.match(bad)


def test_the_systemd_unit_serves_the_wheel_confined_with_its_admin_token_as_a_credential():
    unit = configparser.ConfigParser(strict=False, interpolation=None)
    unit.optionxform = str  # type: ignore[assignment,method-assign]
    unit.read(ROOT / "docs" / "carerules.service")
    service = unit["Service"]
    assert re.match(r"^/opt/carerules/bin/carerules serve ", service["ExecStart"])
    assert service["User"] != "root" and service["NoNewPrivileges"] == "yes"
    assert service["ProtectSystem"] == "strict" and service["ReadWritePaths"]
    assert service["Environment"] == "CARERULES_ADMIN_TOKEN_FILE=%d/admin_token"
    assert service["LoadCredential"].startswith("admin_token:")
    assert unit["Install"]["WantedBy"] == "multi-user.target"
