#!/usr/bin/env bash
# Runs every test of the workspace. Installs what it needs (the no_std target) itself.
#   ./scripts/test.sh
set -euo pipefail
cd "$(dirname "$0")/.."

step() { printf '\n==> %s\n' "$*"; }

step "unit, integration, property and doc tests (release: proptest runs faster)"
cargo test --workspace --release --exclude fastrl-capi

step "benchmarks compile and run once each (criterion test mode)"
cargo test -p fastrl-benches --release --benches

step "no_std: composer-core builds for a target without std or alloc"
rustup target add thumbv7em-none-eabihf >/dev/null
cargo build -p composer-core --no-default-features --target thumbv7em-none-eabihf
cargo build -p composer-core --no-default-features --features alloc --target thumbv7em-none-eabihf

step "C ABI: header current, C program links against the static library"
cargo test -p fastrl-capi --release

step "Python package: install into .venv (project-local), then pytest"
./scripts/python-env.sh
.venv/bin/python -m pytest -q bindings/python/tests

step "the main job runs on its defaults"
cargo run --release -q -p composer-core --example synthetic -- --steps 10 >/dev/null

echo
echo "all tests passed"
