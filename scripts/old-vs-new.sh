#!/usr/bin/env bash
# Issue 12: the old (4734f0a) and the new trainer binary on the defects of its items 3, 4 and 7
# (silent defaults, broken LATEST, truncated checkpoint). OLD=/path/to/old/binary ./scripts/old-vs-new.sh
cd "$(dirname "$0")/.." && . scripts/libtorch-env.sh >/dev/null 2>&1
OLD=${OLD:?set OLD to a fastrl-trainer built from 4734f0a}; NEW=${NEW:-target/release/fastrl-trainer}; T=${TMPDIR:-/tmp}/fastrl-old-vs-new
for who in old new; do
  B=$OLD; [ $who = new ] && B=$NEW
  D=$T/$who; rm -rf $D; mkdir -p $D
  S="run.out_dir=\"$D/r\""
  echo "######## $who"
  echo "== A rating reward in the config"
  $B sft --preset smoke --set "$S" --set 'composer.rewards=["meteor","rating"]' >/dev/null 2>$D/a.err; echo "rc=$? $(grep -i error $D/a.err | head -1)"
  rm -rf $D/r
  $B run --preset smoke --set "$S" >/dev/null 2>&1
  cp -r $D/r $D/r0
  echo "== B truncated newest policy, --resume"
  P=$D/r/ppo/ckpt-000004/policy.safetensors; head -c $(( $(stat -c %s $P) - 100 )) $P > $P.x && mv $P.x $P
  $B run --preset smoke --set "$S" --set ppo.steps=6 --resume >/dev/null 2>$D/b.err; echo "rc=$? lines=$(wc -l < $D/r/ppo/metrics.jsonl) $(grep -iE 'error|warning' $D/b.err | head -2 | tr '\n' ' ')"
  rm -rf $D/r; cp -r $D/r0 $D/r
  echo "== C broken LATEST, without and with --resume"
  echo ckpt-999999 > $D/r/ppo/LATEST
  $B ppo --preset smoke --set "$S" --set ppo.steps=1 >/dev/null 2>$D/c1.err; echo "no resume: rc=$? $(grep -iE 'note|warning|error' $D/c1.err | head -1)"
  rm -rf $D/r; cp -r $D/r0 $D/r; echo ckpt-999999 > $D/r/ppo/LATEST
  $B run --preset smoke --set "$S" --set ppo.steps=6 --resume >/dev/null 2>$D/c2.err; echo "resume: rc=$? lines=$(wc -l < $D/r/ppo/metrics.jsonl) $(grep -iE 'warning|error' $D/c2.err | head -1)"
  rm -rf $D/r; cp -r $D/r0 $D/r
  echo "== D unreadable metrics.jsonl (a non-UTF-8 byte), --resume"
  printf '\xff\n' >> $D/r/ppo/metrics.jsonl
  $B run --preset smoke --set "$S" --set ppo.steps=6 --resume >/dev/null 2>$D/d.err; echo "rc=$? lines now=$(wc -l < $D/r/ppo/metrics.jsonl) (had 4 + the bad line) $(grep -i error $D/d.err | head -1)"
  rm -rf $D/r; cp -r $D/r0 $D/r
  $B grid --preset smoke --seeds 1 --set "$S" >/dev/null 2>&1
  cp -r $D/r/grid $D/grid0
  echo "== E sft-eval.json without rewards.semantic, Lagrangian cell rerun"
  python3 -c "import json,sys; p='$D/r/grid/sft-eval.json'; v=json.load(open(p)); del v['rewards']['semantic']; json.dump(v,open(p,'w'))"
  rm -rf $D/r/grid/lagrangian-2r-s0
  $B grid --preset smoke --seeds 1 --set "$S" >/dev/null 2>$D/e.err; echo "rc=$? $(grep -i error $D/e.err | head -1)"
  rm -rf $D/r/grid; cp -r $D/grid0 $D/r/grid
  echo "== F a cell's eval.json without m_eval_metrics.cond_entropy_3"
  python3 -c "import json; p='$D/r/grid/fixed-2r-s0/eval.json'; v=json.load(open(p)); del v['m_eval_metrics']['cond_entropy_3']; json.dump(v,open(p,'w'))"
  $B grid --preset smoke --seeds 1 --set "$S" >/dev/null 2>$D/f.err; echo "rc=$? $(grep -i error $D/f.err | head -1)"
  rm -rf $D/r/grid; cp -r $D/grid0 $D/r/grid
  echo "== G a cell's eval.json without weights"
  python3 -c "import json; p='$D/r/grid/fastrl-2r-s0/eval.json'; v=json.load(open(p)); del v['weights']; json.dump(v,open(p,'w'))"
  $B grid --preset smoke --seeds 1 --set "$S" >/dev/null 2>$D/g.err; echo "rc=$? NaN in report: $(grep -c NaN $D/r/grid/report.md) $(grep -i error $D/g.err | head -1)"
done
