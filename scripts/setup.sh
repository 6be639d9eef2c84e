#!/usr/bin/env bash
# Set up a virtual environment with carerules and everything its tests need (idempotent).
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  "$PYTHON" -m venv .venv
fi
.venv/bin/python -m pip install --quiet --upgrade pip
# durable-rules builds from source: it needs gcc and the Python headers (present on the project's machines);
# on Python 3.13 it is left out (pyproject.toml), and single decisions use the vector evaluator
.venv/bin/python -m pip install --quiet -e '.[test]'
