#!/usr/bin/env bash
# Set up, then run every test: unit, worked cases, property tests.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh
exec .venv/bin/python -m pytest "$@"
