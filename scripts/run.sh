#!/usr/bin/env bash
# Set up, then run the main job: audit the shipped sample placement book (KPI table, results, HTML report).
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh
.venv/bin/carerules audit examples/sample_placements.csv --out out/
