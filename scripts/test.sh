#!/usr/bin/env bash
# Runs every test of the project. Installs what it needs itself: the no_std target, and
# a project-local Python environment .venv (scripts/python-env.sh) that also brings
# NVRTC (torch's nvidia/cu13/lib), so every CUDA kernel is compiled on every run.
#   ./scripts/test.sh
set -euo pipefail
cd "$(dirname "$0")/.."

step() { printf '\n==> %s\n' "$*"; }

step "WordNet 3.0 for METEOR's synonym stage (Debian wordnet-base, wordnet-sense-index)"
if [ ! -f /usr/share/wordnet/data.noun ] || [ ! -f /usr/share/wordnet/index.sense ]; then
    sudo_=""; [ "$(id -u)" -eq 0 ] || sudo_="sudo"
    $sudo_ apt-get update -q >/dev/null
    $sudo_ apt-get install -y -q wordnet-base wordnet-sense-index >/dev/null
fi
export FASTRL_REQUIRE_WORDNET=1

step "Python environment (.venv): pinned test dependencies and the fastrl package"
./scripts/python-env.sh
. scripts/libtorch-env.sh  # LIBTORCH for the trainer (tch), NVRTC on LD_LIBRARY_PATH
export FASTRL_REQUIRE_NVRTC=1
export FASTRL_REQUIRE_VENV=1  # the trainer's Hugging Face parity test uses .venv's transformers
export FASTRL_REQUIRE_DATA=1  # chitchat-dataset, installed into .venv above

step "unit, integration, property and doc tests; C ABI; CUDA kernels through NVRTC (release)"
cargo test --workspace --release

step "GPU equivalence tests (run where a driver is present, SKIPPED here otherwise; FASTRL_REQUIRE_GPU=1 makes SKIPPED a failure)"
# A failing test fails the script (pipefail); only the SKIPPED / result lines are shown.
gpu_test() {
    local out
    out=$("$@" -- --nocapture 2>&1) || { printf '%s\n' "$out"; return 1; }
    grep -E "SKIPPED|test result" <<<"$out"
    if [ "${FASTRL_REQUIRE_GPU:-0}" = 1 ] && grep -q SKIPPED <<<"$out"; then
        echo "error: FASTRL_REQUIRE_GPU=1 but a GPU test was skipped" >&2
        return 1
    fi
}
gpu_test cargo test -p composer-cuda --release --test gpu
gpu_test cargo test -p fastrl-trainer --features cuda --release --test gpu_fused

step "benchmarks compile and run once each (criterion test mode)"
cargo test -p composer-core --release --benches
cargo test -p composer-cuda --release --benches

step "Python tests (bindings, trl GRPO and verl examples)"
.venv/bin/python -m pytest -q bindings/fastrl-python/tests

step "fastrl.verl, fastrl.trl and both examples against the real verl 0.9.1 and trl 1.16.0 (.venv-verl: on a clean checkout, a new venv with the package installed by pip)"
./scripts/verl-env.sh
FASTRL_REQUIRE_VERL=1 .venv-verl/bin/python -m pytest -q -W ignore bindings/fastrl-python/tests/test_verl.py \
    bindings/fastrl-python/tests/test_trl.py bindings/fastrl-python/tests/test_examples.py

step "pip install ./bindings/fastrl-python into a bare venv: numpy is all it needs"
bare=$(mktemp -d)
python3 -m venv "$bare"
"$bare/bin/python" -m pip install -q ./bindings/fastrl-python
"$bare/bin/python" - <<'PY'
import numpy as np
import fastrl
w = fastrl.FastRLComposer(2, eta=1.0).update([1.0, 0.1])
assert w[1] > w[0], w  # the lagging reward gains weight
a, _ = fastrl.gae(np.ones((1, 3), np.float32), np.zeros((1, 3), np.float32))
print("bare venv: fastrl", w.round(3), a.round(3))
PY
rm -rf "$bare"

step "metric fixtures still equal what sacrebleu and rouge-score give"
.venv/bin/python fastrl-metrics/tests/make_fixtures.py --check

step "no_std: composer-core builds for a target without std or alloc"
rustup target add thumbv7em-none-eabihf >/dev/null
cargo build -p composer-core --no-default-features --target thumbv7em-none-eabihf
cargo build -p composer-core --no-default-features --features alloc --target thumbv7em-none-eabihf

step "composer-core and composer-cuda package and verify as crates.io would build them (kernels inside the crate)"
cargo publish --dry-run --allow-dirty -p composer-core -p composer-cuda 2>&1 | grep -E "Packaged|Verifying|aborting upload"

step "the composer-core example runs"
cargo run --release -q -p composer-core --example synthetic -- --steps 10 >/dev/null

step "the main job end to end on the smoke preset (tokenizer, SFT, PPO, checkpoints, resume, eval)"
cargo build --release -q -p fastrl-trainer -p fastrl-experiments
# Training links no plotting or font library (the experiments crate does): the trainer
# runs on machines without fontconfig.
if ldd target/release/fastrl-trainer | grep -qiE "fontconfig|freetype"; then
    echo "error: fastrl-trainer links a font library" >&2; exit 1
fi
smoke=$(mktemp -d)
target/release/fastrl-trainer run --preset smoke --set "run.out_dir=\"$smoke\"" >/dev/null
test -s "$smoke/ppo/metrics.jsonl" && test -f "$smoke/ppo/final/model.safetensors" && test -f "$smoke/eval.json"
target/release/fastrl-trainer run --preset smoke --set "run.out_dir=\"$smoke\"" --set ppo.steps=6 --resume >/dev/null
test "$(wc -l < "$smoke/ppo/metrics.jsonl")" -eq 6

step "the composer comparison grid, quick size (smoke preset, one seed: 9 runs), and its resume"
target/release/fastrl-experiments grid --preset smoke --seeds 1 --set "run.out_dir=\"$smoke\"" >/dev/null
test "$(grep -c '^| meteor' "$smoke/grid/report.md")" -eq 9
for f in m_eval reward_curves weights scores; do
    test -s "$smoke/grid/$f.png"
    grep -q "($f.png)" "$smoke/grid/report.md"
done
# The smoke preset evaluates before PPO and at steps 2 and 4.
test "$(wc -l <"$smoke/grid/fastrl-4r-s0/ppo/eval-curve.jsonl")" -eq 3
again=$(target/release/fastrl-experiments grid --preset smoke --seeds 1 --set "run.out_dir=\"$smoke\"" 2>&1)
grep -q "grid of 9 runs" <<<"$again"
rm -rf "$smoke"

step "the fair test, quick size (every arm at 2 seeds, then A, B, B', C at 2 more: 26 runs), stopped by its deadline, then resumed"
cmp=$(mktemp -d)
target/release/fastrl-experiments compare --size quick --deadline-min 0.15 --set "run.out_dir=\"$cmp/out\"" >"$cmp/first.txt" 2>&1
grep -q "^compare (quick): [0-9]* of 26 runs" "$cmp/first.txt"
target/release/fastrl-experiments compare --size quick --set "run.out_dir=\"$cmp/out\"" >"$cmp/second.txt" 2>&1
grep -q "^compare (quick): 26 of 26 runs" "$cmp/second.txt"
r="$cmp/out/quick/report.md"
grep -q "^26 of 26 runs finished" "$r"
grep -q "^## Sanity gates" "$r" && grep -q "^## Verdicts" "$r" && grep -q "^## Conflict check" "$r"
# Seven comparisons, those of the claims over 2 + 2 seeds; nine arms (A-F, G0, G1).
test "$(grep -c '^| [A-F]'"'"'* - ' "$r")" -eq 7
test "$(grep -c '^| B'"'"'* - [AC] | 2 + 2 |' "$r")" -eq 4
test "$(grep -c '^| [A-G][0-9'"'"']* | ' "$r")" -eq 9
for f in final-z weights z-curves; do test -s "$cmp/out/quick/$f.png"; grep -q "($f.png)" "$r"; done
# The first set's report was written before the replication ran: 18 runs, no 2 + 2.
f1="$cmp/out/quick/report-first.md"
grep -q "^18 of 26 runs finished" "$f1" && ! grep -q "| 2 + 2 |" "$f1"
grep -q "(first-final-z.png)" "$f1" && test -s "$cmp/out/quick/first-final-z.png"
# Once more: nothing to run, and the final report, newer than every run, is kept.
# (Captured first: `| grep -q` would close the pipe at its match while the trainer still
# prints, and pipefail would fail the step on the trainer's broken pipe.)
again=$(target/release/fastrl-experiments compare --size quick --set "run.out_dir=\"$cmp/out\"" 2>&1)
grep -q "report.md is up to date" <<<"$again"
# Resumed with another budget: refused (its runs would not be paired).
if target/release/fastrl-experiments compare --size quick --set "run.out_dir=\"$cmp/out\"" --set ppo.steps=5 >"$cmp/third.txt" 2>&1; then exit 1; fi
grep -q "other settings" "$cmp/third.txt"
# Another calibration size: refused too (the saved plan.json would be reused otherwise).
if target/release/fastrl-experiments compare --size quick --set "run.out_dir=\"$cmp/out\"" --set composer.calibration=8 >"$cmp/fourth.txt" 2>&1; then exit 1; fi
grep -q "settings.toml was written by a comparison with other settings" "$cmp/fourth.txt"
# The committed records' round trip (scripts/compare-records.sh, docs/fair-test.md): packed
# (metrics summarised, figures as palettes), the run deleted, unpacked, and the report
# rewritten from them equals the first but for its timing line.
RUN_DIR="$cmp/out/quick" DOC_DIR="$cmp/doc" scripts/compare-records.sh pack quick quick
mv "$cmp/out/quick" "$cmp/orig"
RUN_DIR="$cmp/out/quick" DOC_DIR="$cmp/doc" scripts/compare-records.sh unpack quick quick
# Value for value: the packed f32s (shortest text) widen back to the f64s written.
python3 - "$cmp/orig" "$cmp/out/quick" <<'PY'
import glob, json, os, sys
orig, back = sys.argv[1:]
files = [f for f in glob.glob(back + "/**/*.json*", recursive=True)]
assert len(files) >= 2 * 26, files
for f in files:
    g = os.path.join(orig, os.path.relpath(f, back))
    if f.endswith(".jsonl"):
        a = [json.loads(l) for l in open(f)]
        b = [json.loads(l) for l in open(g)]
        if f.endswith("metrics.jsonl"):
            b = [{k: x[k] for k in ("step", "kl", "weights")} for x in b]
    else:
        a, b = json.load(open(f)), json.load(open(g))
    assert a == b, f
PY
rm -rf "$cmp/orig"
target/release/fastrl-experiments compare --size quick --set "run.out_dir=\"$cmp/out\"" >"$cmp/fifth.txt" 2>&1
grep -q "^compare (quick): 26 of 26 runs" "$cmp/fifth.txt"
for f in report report-first; do
    diff <(grep -v "in this invocation" "$cmp/doc/$f.md") <(grep -v "in this invocation" "$cmp/out/quick/$f.md")
done
rm -rf "$cmp"

step "the main job's default preset on SmolLM2-135M-Instruct, 2 PPO steps (calibration, chat prompts, top blocks, samples)"
smol=$(mktemp -d)
# One value-only warm-up step, then one PPO step (the preset's 5 warm-up steps would be
# refused as longer than a 2-step run).
log=$(target/release/fastrl-trainer run --set "run.out_dir=\"$smol\"" --set ppo.steps=2 \
    --set ppo.value_warmup_steps=1 \
    --set composer.calibration=8 --set data.max_eval_pairs=4 --set data.max_train_pairs=200 2>&1)
grep -q "model: 134515585 parameters" <<<"$log"
grep -q "^sample 3:" <<<"$log"
grep -q "after PPO" <<<"$log"
grep -q "^  mean z over the rewards" <<<"$log"
grep -q "explained var" <<<"$log"
grep -q "^  relevance " <<<"$log"
test "$(wc -l < "$smol/ppo/metrics.jsonl")" -eq 2 && test -f "$smol/ppo/final/model.safetensors"
rm -rf "$smol"

echo
echo "all tests passed"
