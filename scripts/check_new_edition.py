"""Do the Python tests survive a council's own edition of the illustrative rates? (issue 23)

Copies this checkout to a scratch folder, follows the README's "Replacing an illustrative rate" procedure on the
copy's ``rules/`` for EVERY parameter pinned in ``tests/rulebook_pins.yaml`` (a new value from the date of the
one in effect, imported with ``carerules rates import --replace``; each approval-band boundary moved by one
point; each reference cited as the council's own), then runs pytest there with the arguments given. The copy's
code is the one imported (PYTHONPATH), so its ``rules/`` is the shipped rulebook of that run.

    .venv/bin/python scripts/check_new_edition.py                      # tests/ and cases/ (soak, browser left out)
    .venv/bin/python scripts/check_new_edition.py tests/test_charging.py
    .venv/bin/python scripts/check_new_edition.py --unpinned tests/test_no_benchmark.py   # without the pins

``--unpinned`` empties the copy's pin file, to show that the pins are what keeps the tests green. The exit code
is pytest's; the scratch copy is removed unless ``--keep``.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LEFT_OUT = ("--ignore=tests/test_durable_soak.py", "--ignore=tests/api/test_api_browser.py")
SKIP = shutil.ignore_patterns(".git", ".venv", "__pycache__", "*.egg-info", ".*_cache", ".hypothesis", "out", "*.db")
BOUNDARY = re.compile(r"^(\s+(?:above_percent|up_to_percent): )(\d+)$", re.MULTILINE)
ILLUSTRATIVE_TITLE = re.compile(r"^(  title: ).*ILLUSTRATIVE.*$", re.MULTILINE | re.IGNORECASE)


def copy_checkout(scratch: Path) -> Path:
    checkout = scratch / "checkout"
    shutil.copytree(ROOT, checkout, ignore=SKIP)
    return checkout


def in_copy(checkout: Path) -> dict[str, str]:
    """The environment that runs the copy's code (and so its rules/), with no rulebook named."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("CARERULES_RULES")}
    env["PYTHONPATH"] = str(checkout)
    return env


def _pinned_names(checkout: Path) -> list[str]:
    pins = (checkout / "tests" / "rulebook_pins.yaml").read_text(encoding="utf-8")
    return re.findall(r"^([a-z0-9_.]+):$", pins, re.MULTILINE)


def new_value(text: str, unit: str) -> str:
    """A different value of the same unit: money up £7.50, a ratio down 0.10 (up, below 0.10), a flag swapped,
    a count one more, a whole number of days up 7."""
    if unit in ("count", "years"):
        return str(int(text) + 1)
    if unit == "days":
        return str(int(text) + 7)
    if unit == "bool":
        return "false" if text == "true" else "true"
    if unit == "ratio":
        ratio = Decimal(text)
        return str(ratio - Decimal("0.10") if ratio >= Decimal("0.10") else ratio + Decimal("0.10"))
    return str(Decimal(text) + Decimal("7.50"))


def replace_rates(checkout: Path) -> list[str]:
    """Give every pinned parameter of the copy's rules/ a council's own value; the changes, one line each."""
    rules = checkout / "rules"
    rows, changes = [], []
    for name in _pinned_names(checkout):
        path = rules / "parameters" / Path(*name.split(".")).with_suffix(".yaml")
        text = path.read_text(encoding="utf-8")
        if "unit: table" in text:
            moved = BOUNDARY.sub(lambda m: f"{m[1]}{int(m[2]) + 1 if int(m[2]) else 0}", text)
            if moved == text:
                raise SystemExit(f"check_new_edition: no band boundary to move in {path}")
            text = moved
            changes.append(f"{name}: every band boundary one point higher")
        else:
            unit = re.findall(r"^unit: (\S+)$", text, re.MULTILINE)[0]
            when, value = re.findall(r"^  (\d{4}-\d{2}-\d{2}): (\S+)$", text, re.MULTILINE)[-1]
            rows.append(f"{name},{when},{new_value(value, unit)}")
            changes.append(f"{name}: {value} -> {new_value(value, unit)} from {when}")
        path.write_text(ILLUSTRATIVE_TITLE.sub(r"\1The council's own figure (a new edition)", text), encoding="utf-8")
    csv = checkout.parent / "rates.csv"
    csv.write_text("parameter,effective_from,value\n" + "\n".join(rows) + "\n", encoding="utf-8")
    carerules = str(Path(sys.executable).with_name("carerules"))
    command = [carerules, "rates", "import", str(csv), "--replace", "--rules", str(rules)]
    result = subprocess.run(command, cwd=checkout, env=in_copy(checkout), capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise SystemExit(f"check_new_edition: rates import failed:\n{result.stdout}{result.stderr}")
    return changes


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--unpinned", action="store_true", help="empty the copy's tests/rulebook_pins.yaml")
    parser.add_argument("--keep", action="store_true", help="keep the scratch copy")
    options, pytest_args = parser.parse_known_args(argv)
    scratch = Path(tempfile.mkdtemp(prefix="carerules-edition-"))
    try:
        checkout = copy_checkout(scratch)
        for change in replace_rates(checkout):
            print(f"new edition: {change}", flush=True)
        if options.unpinned:
            (checkout / "tests" / "rulebook_pins.yaml").write_text("# nothing pinned\n", encoding="utf-8")
        where = subprocess.run(
            [sys.executable, "-c", "from engine.rulebook.loader import DEFAULT_RULES_DIR; print(DEFAULT_RULES_DIR)"],
            cwd=checkout,
            env=in_copy(checkout),
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        if Path(where) != checkout / "rules":
            raise SystemExit(f"check_new_edition: the copy imports the rulebook at {where}, not its own")
        args = pytest_args or ["tests", "cases", *LEFT_OUT]
        command = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *args]
        return subprocess.run(command, cwd=checkout, env=in_copy(checkout), check=False).returncode
    finally:
        if options.keep:
            print(f"check_new_edition: the copy is kept at {scratch}")
        else:
            shutil.rmtree(scratch, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
