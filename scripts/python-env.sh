#!/usr/bin/env bash
# Creates the project-local Python environment .venv (idempotent) with the pinned test
# dependencies (torch 2.11.0 is a 4.6 GB download the first time) and builds and installs
# the fastrl package from bindings/python (maturin, fetched by pip).
#   ./scripts/python-env.sh
set -euo pipefail
cd "$(dirname "$0")/.."
[ -x .venv/bin/python ] || python3 -m venv .venv
.venv/bin/python -m pip install -q --upgrade pip
.venv/bin/python -m pip install -q -r bindings/python/requirements-test.txt
.venv/bin/python -m pip install -q ./bindings/python
.venv/bin/python -c "import fastrl; print('fastrl installed in .venv')"
