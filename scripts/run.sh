#!/usr/bin/env bash
# The main job on its embedded defaults: installs libtorch (torch==2.11.0 from PyPI into
# the project-local .venv) if needed, builds the trainer, and runs
# `fastrl-trainer run` (tokenizer + SFT + PPO with Fast RL + evaluation). Arguments are
# passed on, e.g.  ./scripts/run.sh --preset smoke   or   ./scripts/run.sh --resume
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/libtorch-env.sh
cargo build --release -q -p fastrl-trainer
exec target/release/fastrl-trainer run "$@"
