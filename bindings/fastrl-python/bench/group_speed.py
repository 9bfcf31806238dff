#!/usr/bin/env python3
"""Group-relative advantages side by side on the same batch, same process: fastrl against
the peers' own code (verl 0.9.1's ``compute_grpo_outcome_advantage`` and
``compute_gdpo_outcome_advantage``, trl 1.16.0's GRPO advantage block in both
aggregations; copied line for line in ``tests/peer_defs.py``), torch on the CPU, one
thread. Prints milliseconds and the ratio peer / fastrl; checks the values agree first.

    python bindings/fastrl-python/bench/group_speed.py [--repeat 5]

Sizes: sequence-level, 4,096 responses in groups of 8, n in {2, 4, 8} rewards; per-token,
512 x 1,024 with n = 4 dense rewards (verl sums them per response; trl has no per-token
rewards, so only verl is timed there).
"""

import argparse
import os
import sys
import time

import numpy as np
import torch

import fastrl

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "tests"))
from peer_defs import trl_grpo, verl_gdpo, verl_grpo  # noqa: E402


def best(f, repeat):
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        f()
        times.append(time.perf_counter() - t0)
    return min(times)


def check(ours, theirs):
    theirs = np.asarray(theirs, dtype=np.float64)
    scale = max(1.0, float(np.abs(theirs).max()))
    assert np.allclose(np.asarray(ours, dtype=np.float64), theirs, atol=2e-5 * scale, rtol=0)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeat", type=int, default=5)
    a = ap.parse_args()
    torch.set_num_threads(1)
    rng = np.random.default_rng(0)
    rows = []
    k = 8
    b = 4096
    uid = np.repeat(np.array([f"uid-{p}" for p in rng.permutation(b // k)], dtype=object), k)
    contiguous = np.repeat(np.arange(b // k), k)
    for n in (2, 4, 8):
        scores = rng.normal(size=(n, b)).astype(np.float32)
        w = np.full(n, 1.0 / n, dtype=np.float32)
        comp = torch.as_tensor((w[:, None] * scores).sum(axis=0)).unsqueeze(1)
        ones = torch.ones((b, 1))
        per_reward = [torch.as_tensor(s).unsqueeze(1) for s in scores]
        tw = torch.as_tensor(w)
        rpf = torch.as_tensor(scores.T.copy())

        def ours_grpo():
            return fastrl.group_advantages(scores, uid, w)

        def ours_gdpo():
            return fastrl.group_advantages(scores, uid, w, estimator="gdpo")

        def ours_trl():
            return fastrl.group_advantages(scores, contiguous, w, convention="trl")

        def ours_trl_gdpo():
            return fastrl.group_advantages(scores, contiguous, w, estimator="gdpo", convention="trl")

        check(ours_grpo(), verl_grpo(comp.clone(), ones, uid)[0][:, 0])
        check(ours_gdpo(), verl_gdpo(per_reward, ones, uid, tw)[0][:, 0])
        check(ours_trl(), trl_grpo(rpf, tw, k, "group", "sum_then_normalize"))
        check(ours_trl_gdpo(), trl_grpo(rpf, tw, k, "group", "normalize_then_sum"))
        r = max(1, a.repeat // 2)
        rows += [
            (f"seq 4096 x n={n}: verl grpo (loop)", best(lambda: verl_grpo(comp.clone(), ones, uid), r), best(ours_grpo, a.repeat)),
            (f"seq 4096 x n={n}: verl gdpo (loop)", best(lambda: verl_gdpo(per_reward, ones, uid, tw), r), best(ours_gdpo, a.repeat)),
            (f"seq 4096 x n={n}: trl sum_then_normalize", best(lambda: trl_grpo(rpf, tw, k, "group", "sum_then_normalize"), a.repeat), best(ours_trl, a.repeat)),
            (f"seq 4096 x n={n}: trl normalize_then_sum", best(lambda: trl_grpo(rpf, tw, k, "group", "normalize_then_sum"), a.repeat), best(ours_trl_gdpo, a.repeat)),
        ]
    # Per token: 512 x 1024, 4 dense rewards, groups of 8.
    b, t, n = 512, 1024, 4
    uid = np.repeat(np.array([f"uid-{p}" for p in rng.permutation(b // k)], dtype=object), k)
    lens = rng.integers(t // 2, t + 1, size=b)
    mask = (np.arange(t)[None, :] < lens[:, None]).astype(np.float32)
    dense = (rng.normal(size=(n, b, t)) * mask).astype(np.float32)
    w = np.full(n, 1.0 / n, dtype=np.float32)
    tm = torch.as_tensor(mask)
    comp = torch.as_tensor((w[:, None, None] * dense).sum(axis=0))
    per_reward = [torch.as_tensor(d) for d in dense]
    tw = torch.as_tensor(w)

    def ours_tok():
        return fastrl.group_advantages(list(dense), uid, w, mask, per_token=True)

    def ours_tok_gdpo():
        return fastrl.group_advantages(list(dense), uid, w, mask, "gdpo", per_token=True)

    check(ours_tok(), verl_grpo(comp.clone(), tm, uid)[0])
    check(ours_tok_gdpo(), verl_gdpo(per_reward, tm, uid, tw)[0])
    r = max(1, a.repeat // 2)
    rows += [
        ("tok 512 x 1024, n=4: verl grpo", best(lambda: verl_grpo(comp.clone(), tm, uid), r), best(ours_tok, a.repeat)),
        ("tok 512 x 1024, n=4: verl gdpo", best(lambda: verl_gdpo(per_reward, tm, uid, tw), r), best(ours_tok_gdpo, a.repeat)),
    ]
    print("one torch thread; values checked equal first; best of --repeat runs")
    print(f"{'':44} {'peer ms':>9} {'fastrl ms':>10} {'peer / fastrl':>14}")
    for name, peer, ours in rows:
        print(f"{name:44} {peer * 1e3:9.2f} {ours * 1e3:10.3f} {peer / ours:13.1f}x")


if __name__ == "__main__":
    main()
