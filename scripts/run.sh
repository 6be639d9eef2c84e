#!/usr/bin/env bash
# Set up, then run the main job: audit the shipped sample placement book (KPI table, results, HTML report).
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh
.venv/bin/carerules audit examples/sample_placements.csv --out out/
# Finally serve the brokerage web page and the HTTP API on this machine (Ctrl-C stops it).
PORT=${CARERULES_PORT:-8000}
exec .venv/bin/carerules serve --host 127.0.0.1 --port "$PORT"
