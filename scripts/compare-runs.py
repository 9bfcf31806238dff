#!/usr/bin/env python3
"""Compares two run directories' records numerically: every JSON / JSON-lines file
(metrics.jsonl, eval.json, eval-curve.jsonl, sft-metrics.jsonl, grid cells) and report.md.
Timing fields (step_s, tokens_per_s, phase_s) are skipped. Prints each difference."""
import json, os, sys, re
SKIP = {"step_s", "tokens_per_s", "phase_s"}
def cmp(a, b, path, out):
    if isinstance(a, dict) and isinstance(b, dict):
        for k in sorted(set(a) | set(b)):
            if k in SKIP: continue
            if k not in a or k not in b: out.append(f"{path}.{k}: only in {'after' if k in b else 'before'}"); continue
            cmp(a[k], b[k], f"{path}.{k}", out)
    elif isinstance(a, list) and isinstance(b, list):
        if len(a) != len(b): out.append(f"{path}: length {len(a)} vs {len(b)}"); return
        for i, (x, y) in enumerate(zip(a, b)): cmp(x, y, f"{path}[{i}]", out)
    elif isinstance(a, (int, float)) and isinstance(b, (int, float)):
        if a != b: out.append(f"{path}: {a!r} vs {b!r} (diff {b - a:.3g})")
    elif a != b: out.append(f"{path}: {a!r} vs {b!r}")
def load(p):
    t = open(p).read()
    if p.endswith(".jsonl"): return [json.loads(l) for l in t.splitlines() if l.strip()]
    return json.loads(t)
A, B = sys.argv[1], sys.argv[2]
n = 0; diffs = []
for root, _, files in os.walk(A):
    for f in files:
        pa = os.path.join(root, f); rel = os.path.relpath(pa, A); pb = os.path.join(B, rel)
        if not (f.endswith(".json") or f.endswith(".jsonl") or f == "report.md"): continue
        if "/ckpt-" in pa or f == "config.json" or f == "tokenizer.json" or f == "state.json": continue
        if not os.path.exists(pb): diffs.append(f"{rel}: missing after"); continue
        n += 1
        if f == "report.md":
            # The budget line names the SFT directory by its absolute path.
            norm = lambda t: re.sub(r"\(\S*/sft\)", "(DIR/sft)", t)
            ta = norm(open(pa).read()); tb = norm(open(pb).read())
            if ta != tb: diffs.append(f"{rel}: text differs")
            continue
        out = []; cmp(load(pa), load(pb), rel, out); diffs += out
print(f"{n} files compared, {len(diffs)} differences")
for d in diffs[:60]: print("  " + d)
