#!/usr/bin/env python3
"""Summarise the criterion results of `cargo bench -p composer-core` as Markdown tables.

Reads target/criterion/*/new/estimates.json (mean time per iteration). For each shape it
prints the fused pass's tokens/s and GB/s (bytes it must move: inputs read once, three
f32 outputs written), the same with whitening, the unfused multi-pass baseline (which
also whitens), and the ratio fused+whiten / unfused: both sides do the same work, in the
same process, on the same inputs.

    python3 composer-core/benches/report.py [target/criterion]
"""
import json
import os
import sys

root = sys.argv[1] if len(sys.argv) > 1 else "target/criterion"


def mean_ns(*parts):
    path = os.path.join(root, *parts, "new", "estimates.json")
    try:
        with open(path) as f:
            return json.load(f)["mean"]["point_estimate"]
    except FileNotFoundError:
        return None


def fused_table():
    print("| dtype | B x T | n | fused Mtok/s | fused GB/s | fused+whiten Mtok/s | unfused Mtok/s | fused+whiten / unfused |")
    print("|---|---|---|---:|---:|---:|---:|---:|")
    for dtype, size in (("f32", 4), ("bf16", 2)):
        for b, t in ((64, 128), (64, 1024), (64, 4096), (512, 128), (512, 1024), (512, 4096)):
            for n in (2, 4, 8):
                ident = f"B{b}_T{t}_n{n}"
                group = f"fused_{dtype}"
                f, fw, u = (mean_ns(group, k, ident) for k in ("fused", "fused_whiten", "unfused"))
                if f is None or fw is None or u is None:
                    continue
                tokens = b * t
                bytes_ = tokens * ((n + 3) * size + 1 + 12)
                print(
                    f"| {dtype} | {b} x {t} | {n} | {tokens / f * 1e3:.0f} | {bytes_ / f:.2f} "
                    f"| {tokens / fw * 1e3:.0f} | {tokens / u * 1e3:.0f} | {u / fw:.1f}x |"
                )


def weights_table():
    print("| n | plain (ns) | EMA smoothing (ns) |")
    print("|---:|---:|---:|")
    for n in (2, 4, 8, 16):
        p, e = mean_ns("weight_update", "plain", str(n)), mean_ns("weight_update", "ema", str(n))
        if p is not None and e is not None:
            print(f"| {n} | {p:.1f} | {e:.1f} |")


if __name__ == "__main__":
    fused_table()
    print()
    weights_table()
