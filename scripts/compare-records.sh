#!/usr/bin/env bash
# The fair test's records in and out of docs/results (docs/fair-test.md, "records"):
#   scripts/compare-records.sh pack SIZE SET     runs/compare-SIZE/SET -> docs/results/compare-SIZE/SET
#       (the reports, their figures as palette PNGs, and records.tar.xz: every file a resume
#        or a re-analysis reads, i.e. settings.toml, plan.json, start-s*.json and per
#        finished run config.toml, eval.json, ppo/eval-curve.jsonl and ppo/metrics.jsonl
#        summarised to step, kl and weights, f32 values in their shortest text;
#        scripts/pack_records.py, needs .venv's Pillow)
#   scripts/compare-records.sh unpack SIZE SET   docs/results/... -> runs/compare-SIZE/SET, so
#       `fastrl-experiments compare --size SIZE` continues where the records stop.
set -euo pipefail
cd "$(dirname "$0")/.."
usage() { echo "usage: $0 pack|unpack SIZE SET   (e.g. pack tiny moving)" >&2; exit 2; }
[ $# -eq 3 ] || usage
what=$1 size=$2 set=$3
# RUN_DIR / DOC_DIR override the two places (the CI round trip uses a temporary run).
run=${RUN_DIR:-runs/compare-$size/$set}
doc=${DOC_DIR:-docs/results/compare-$size/$set}
case $what in
pack)
    [ -f "$run/settings.toml" ] || { echo "error: $run/settings.toml not found: nothing to pack" >&2; exit 1; }
    stage=$(mktemp -d)
    trap 'rm -rf "$stage" "$stage.list"' EXIT
    .venv/bin/python scripts/pack_records.py pack "$run" "$stage" "$doc"
    # Files of one kind side by side (sorted by name, then path): a few % smaller.
    (cd "$stage" && find . -type f | awk -F/ '{print $NF "\t" $0}' | LC_ALL=C sort | cut -f2) > "$stage.list"
    tar -C "$stage" --no-recursion -T "$stage.list" -cf - | xz -T2 -9e > "$doc/records.tar.xz.tmp"
    mv "$doc/records.tar.xz.tmp" "$doc/records.tar.xz"
    echo "$doc: $(du -sh "$doc" | cut -f1) ($(tar -tJf "$doc/records.tar.xz" | grep -c '/eval.json$') finished runs)"
    ;;
unpack)
    [ -f "$doc/records.tar.xz" ] || { echo "error: $doc/records.tar.xz not found" >&2; exit 1; }
    stage=$(mktemp -d)
    trap 'rm -rf "$stage"' EXIT
    tar -C "$stage" -xJf "$doc/records.tar.xz"
    # The f32 values back to the exact f64s the trainer wrote.
    python3 scripts/pack_records.py unpack "$stage" "$run"
    echo "$run: $(ls -d "$run"/*/ 2>/dev/null | wc -l) runs restored; resume with: target/release/fastrl-experiments compare --size $size"
    ;;
*) usage ;;
esac
