#!/usr/bin/env python3
"""Turns composer-cuda's criterion log (benches/gpu.rs) into one Markdown table.

Usage: gpu-bench-table.py bench.log
Columns: median time of each function (fused = the default, staged kernel; streaming =
the kernel that re-reads the row from global memory); GB/s of the fused pass (the bytes it must move:
n reward channels + logp + ref_logp + values read, mask read, 3 f32 outputs written);
the fused pass as a percentage of a device-to-device copy of the same bytes; how many
times faster it is than the one-launch-per-time-step loop and than the CPU core.
"""
import re
import sys

UNIT = {"ps": 1e-6, "ns": 1e-3, "µs": 1.0, "us": 1.0, "ms": 1e3, "s": 1e6}


def parse(path):
    times, name = {}, None
    for line in open(path, encoding="utf-8", errors="replace"):
        m = re.match(r"^(gpu_\S+)", line)
        if m:
            name = m.group(1)
        t = re.search(r"time:\s+\[\S+ \S+ (\S+) (\S+) \S+ \S+\]", line)
        if t and name:
            times[name] = float(t.group(1)) * UNIT[t.group(2)]
            name = None
    return times


def main():
    times = parse(sys.argv[1])
    rows = {}
    for key, us in times.items():
        _, fn, shape = key.split("/")
        rows.setdefault(shape, {})[fn] = us
    print("| B x T, n | fused f32 µs | GB/s | % of copy | streaming f32 µs | fused bf16 µs | per-step loop µs | x loop | CPU core µs | x CPU |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for shape, r in rows.items():
        b, t, n = (int(x) for x in re.findall(r"\d+", shape))
        byts = b * t * ((n + 3) * 4 + 1 + 12)
        f = r.get("fused_f32")
        cell = lambda k: f"{r[k]:.1f}" if k in r else "-"
        gbs = f"{byts / f / 1e3:.0f}" if f else "-"
        pct = f"{100 * r['copy_same_bytes'] / f:.0f}%" if f and "copy_same_bytes" in r else "-"
        xl = f"{r['per_step_launch_loop'] / f:.0f}" if f and "per_step_launch_loop" in r else "-"
        xc = f"{r['cpu_core'] / f:.0f}" if f and "cpu_core" in r else "-"
        print(f"| {b} x {t}, {n} | {cell('fused_f32')} | {gbs} | {pct} | {cell('fused_f32_streaming')} | {cell('fused_bf16')} | "
              f"{cell('per_step_launch_loop')} | {xl} | {cell('cpu_core')} | {xc} |")


if __name__ == "__main__":
    main()
