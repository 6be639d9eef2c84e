#!/usr/bin/env bash
# Set up, then run every check: lint (ruff), types (mypy, strict on engine/), and all tests
# (worked cases, unit, property, soak, API, decision log, browser).
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh
.venv/bin/ruff check engine api tests cases scripts setup.py
.venv/bin/ruff format --check engine api tests cases scripts setup.py
.venv/bin/mypy
exec .venv/bin/python -m pytest "$@"
