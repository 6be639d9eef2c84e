"""Package discovery for setuptools (everything else is in pyproject.toml).

engine/ and api/ go in with their data folders (templates, static files, migrations) as packages, but for the API
benchmark and its load generator (api/bench/, run from a checkout); the shipped rulebook, kept at the top of the
repository as rules/, goes in as ``engine.rulebook.shipped`` so that an installed ``carerules`` finds it without the
repository.
"""

import sys
from pathlib import Path

from setuptools import find_namespace_packages, setup

HERE = Path(__file__).resolve().parent
SHIPPED = "engine.rulebook.shipped"


def shipped_rulebook() -> list[str]:
    folders = [HERE / "rules", *sorted(p for p in (HERE / "rules").rglob("*") if p.is_dir())]
    return [".".join([SHIPPED, *folder.relative_to(HERE / "rules").parts]) for folder in folders]


if "editable_wheel" in sys.argv:
    # An editable install (scripts/setup.sh) runs from the checkout, whose rules/ the loader finds itself; a plain
    # layout lets setuptools use a simple path file, without its warning about editable installs.
    setup(packages=find_namespace_packages(include=["engine", "engine.*", "api", "api.*"]), package_dir={"": "."})
else:
    setup(
        packages=[
            *find_namespace_packages(
                include=["engine", "engine.*", "api", "api.*"], exclude=["api.bench", "api.bench.*"]
            ),
            *shipped_rulebook(),
        ],
        package_dir={SHIPPED: "rules"},
    )
