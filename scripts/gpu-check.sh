#!/usr/bin/env bash
# GPU verification of composer-cuda in two halves.
#
#   scripts/gpu-check.sh build [BUNDLE]   on a machine with Rust (no GPU needed): builds
#                                         the composer-cuda test and bench binaries in
#                                         release into BUNDLE (default gpu-bundle/).
#   BUNDLE/run.sh LOGDIR                  on a GPU machine without Rust: runs them with
#                                         LD_LIBRARY_PATH pointing at that machine's
#                                         torch/nvidia libraries, writes logs to LOGDIR,
#                                         prints a summary (passed / SKIPPED / failed).
#
# The run takes about 4 minutes on an H100 (tests, compute-sanitizer memcheck and racecheck
# when present, then the bench with its measurement time cut to fit 8 minutes); the last
# thing it prints is a Markdown table of the bench (scripts/gpu-bench-table.py).
set -euo pipefail
cd "$(dirname "$0")/.."

cmd=${1:-}
case "$cmd" in
build)
    bundle=${2:-gpu-bundle}
    mkdir -p "$bundle"
    json=$(cargo test -p composer-cuda --release --no-run --message-format=json 2>/dev/null)
    bench=$(cargo bench -p composer-cuda --no-run --message-format=json 2>/dev/null)
    printf '%s\n%s\n' "$json" "$bench" | python3 -c '
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
for d in /usr/local/cuda/lib64 /usr/local/cuda/targets/x86_64-linux/lib; do
    [ -d "$d" ] && export LD_LIBRARY_PATH="${LD_LIBRARY_PATH:-}:$d"
done
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
    for tool in memcheck racecheck; do
        echo "== compute-sanitizer $tool" | tee -a "$logs/summary.txt"
        timeout 60 compute-sanitizer --tool "$tool" --error-exitcode 9 "$here/gpu" fused_bf16 \
            --test-threads=1 >> "$logs/sanitizer.log" 2>&1
        echo "exit $?" | tee -a "$logs/summary.txt"
        grep -E "ERROR SUMMARY|RACECHECK SUMMARY" "$logs/sanitizer.log" | tail -1 | tee -a "$logs/summary.txt"
    done
fi
timeout ${BENCH_TIMEOUT:-240} "$here/gpu-bench" --bench --measurement-time 0.3 --warm-up-time 0.1 > "$logs/bench.log" 2>&1 || status=1
grep -E "^gpu_|time:|thrpt:|SKIPPED" "$logs/bench.log" > "$logs/bench-summary.txt" || true
python3 "$here/gpu-bench-table.py" "$logs/bench.log" | tee "$logs/bench-table.md"
cat "$logs/summary.txt"
exit $status
RUN
    chmod +x "$bundle/run.sh"
    echo "bundle ready in $bundle; on the GPU machine: $bundle/run.sh LOGDIR"
    ;;
*)
    echo "usage: scripts/gpu-check.sh build [BUNDLE]" >&2
    exit 2
    ;;
esac
