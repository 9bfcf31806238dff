#!/usr/bin/env python3
"""GAE side by side on one random batch, same process: fastrl against the frameworks'
Python loop over time steps (verl's compute_gae_advantage_return), in NumPy and in torch
on the CPU. Prints tokens/s and ratios.

    python bindings/fastrl-python/bench/speed.py [--batch 512] [--len 1024] [--n 4] [--repeat 5]

All sides compute GAE + returns + masked whitening with verl's carry-forward mask on the
same float32 batch; `fastrl.fused` additionally composes n per-token rewards and applies
the k1 KL penalty in the same pass (the loops get the composed, penalised rewards for
free). Timings are the best of `--repeat` runs; one thread for torch.
"""

import argparse
import time

import numpy as np

import fastrl


def numpy_verl(r, v, m, gamma, lam):
    b, t = r.shape
    nextvalues = np.zeros(b, dtype=np.float32)
    lastgaelam = np.zeros(b, dtype=np.float32)
    adv = np.empty((b, t), dtype=np.float32)
    for k in reversed(range(t)):
        delta = r[:, k] + gamma * nextvalues - v[:, k]
        lastgaelam_ = delta + gamma * lam * lastgaelam
        nextvalues = v[:, k] * m[:, k] + (1 - m[:, k]) * nextvalues
        lastgaelam = lastgaelam_ * m[:, k] + (1 - m[:, k]) * lastgaelam
        adv[:, k] = lastgaelam
    ret = adv + v
    mean = (adv * m).sum() / m.sum()
    var = ((adv - mean) ** 2 * m).sum() / (m.sum() - 1)
    return (adv - mean) / np.sqrt(var + 1e-8), ret


def torch_verl(torch, r, v, m, gamma, lam):
    with torch.no_grad():
        nextvalues = 0
        lastgaelam = 0
        rev = []
        for k in reversed(range(r.shape[-1])):
            delta = r[:, k] + gamma * nextvalues - v[:, k]
            lastgaelam_ = delta + gamma * lam * lastgaelam
            nextvalues = v[:, k] * m[:, k] + (1 - m[:, k]) * nextvalues
            lastgaelam = lastgaelam_ * m[:, k] + (1 - m[:, k]) * lastgaelam
            rev.append(lastgaelam)
        adv = torch.stack(rev[::-1], dim=1)
        ret = adv + v
        mean = (adv * m).sum() / m.sum()
        var = ((adv - mean) ** 2 * m).sum() / (m.sum() - 1)
        return (adv - mean) * torch.rsqrt(var + 1e-8), ret


def best(f, repeat):
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        f()
        times.append(time.perf_counter() - t0)
    return min(times)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--batch", type=int, default=512)
    ap.add_argument("--len", type=int, default=1024)
    ap.add_argument("--n", type=int, default=4)
    ap.add_argument("--repeat", type=int, default=5)
    a = ap.parse_args()
    b, t = a.batch, a.len
    rng = np.random.default_rng(0)
    r = rng.normal(size=(b, t)).astype(np.float32)
    v = rng.normal(size=(b, t)).astype(np.float32)
    lens = rng.integers(t // 2, t + 1, size=b)
    m = (np.arange(t)[None, :] < lens[:, None]).astype(np.float32)  # trailing padding
    chans = rng.normal(size=(a.n, b, t)).astype(np.float32)
    w = np.full(a.n, 1.0 / a.n, dtype=np.float32)
    lp = rng.normal(size=(b, t)).astype(np.float32)
    rl = rng.normal(size=(b, t)).astype(np.float32)
    tokens = b * t

    def fr_gae():
        return fastrl.gae(r, v, m, 0.99, 0.95, mode="carry", whiten=True)

    rows = [
        ("fastrl.gae(whiten=True)", best(fr_gae, a.repeat)),
        (f"fastrl.fused (n={a.n}, +compose, +KL, +whiten)",
         best(lambda: fastrl.fused(chans, w, lp, rl, v, m, beta=0.1, mode="carry", whiten=True), a.repeat)),
        ("numpy verl loop", best(lambda: numpy_verl(r, v, m, 0.99, 0.95), max(1, a.repeat // 2))),
    ]
    # Correctness before speed: fastrl agrees with the loop on valid tokens.
    fa, fret = fr_gae()
    na, nret = numpy_verl(r, v, m, 0.99, 0.95)
    valid = m != 0
    assert np.allclose(fa[valid], na[valid], rtol=1e-3, atol=1e-3)
    assert np.allclose(fret[valid], nret[valid], rtol=1e-3, atol=1e-3)
    try:
        import torch

        torch.set_num_threads(1)
        tr, tv, tm = (torch.from_numpy(x) for x in (r, v, m))
        rows.append(("torch (CPU) verl loop", best(lambda: torch_verl(torch, tr, tv, tm, 0.99, 0.95), max(1, a.repeat // 2))))
    except ImportError:
        print("torch not installed: skipping the torch loop")
    base = rows[0][1]
    print(f"B = {b}, T = {t}: {tokens} tokens, one thread")
    print(f"{'':48} {'ms':>9} {'M tokens/s':>11} {'time / fastrl.gae':>18}")
    for name, sec in rows:
        print(f"{name:48} {sec * 1e3:9.2f} {tokens / sec / 1e6:11.1f} {sec / base:17.1f}x")


if __name__ == "__main__":
    main()
