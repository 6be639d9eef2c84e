#!/usr/bin/env bash
# Supply chain (CI runs it after the tests): build the wheel into dist/, write its SBOM beside it
# (dist/carerules-<version>.cdx.json, CycloneDX, the runtime dependencies as installed), and audit those
# dependencies with pip-audit: a known vulnerability with a fixed version fails. pip-audit needs its
# vulnerability database over the network; where none answers, it says "skipped" and why (scripts/supply_chain.py).
set -euo pipefail
cd "$(dirname "$0")/.."
[ -x .venv/bin/python ] || ./scripts/setup.sh
rm -rf dist
.venv/bin/python -m build --wheel --outdir dist . >/dev/null
ls dist/*.whl
.venv/bin/python scripts/supply_chain.py sbom dist
.venv/bin/python scripts/supply_chain.py audit
