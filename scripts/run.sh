#!/usr/bin/env bash
# Set up, then run the main job: decide the bundled example placements.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh
.venv/bin/carerules check examples/placements.json --summary
