"""A drop-in for verl's ``compute_gae_advantage_return`` and a Fast RL reward composer.

For use inside verl itself (registered estimators, GAE swap, metrics, checkpoints) the
supported API is ``fastrl.verl`` (see the README section "Use it in verl / trl"); this standalone example
needs no verl install.

verl (``verl.trainer.ppo.core_algos``) computes GAE with a Python loop over time steps::

    advantages, returns = compute_gae_advantage_return(token_level_rewards, values,
                                                       response_mask, gamma, lam)

``compute_gae_advantage_return`` below has the same signature and the same results on
valid tokens (carry-forward masks: observation tokens inside a response are skipped;
advantages whitened over valid tokens), computed by the Rust core in one pass. It takes
and returns torch tensors (moved through the CPU).

``FastRLTokenRewards`` composes several per-token or per-sequence reward tensors into
verl's ``token_level_rewards`` with Fast RL weights updated from each batch.
"""

from __future__ import annotations

import numpy as np
import torch

import fastrl


def _np(x):
    return x.detach().to("cpu", torch.float32).numpy()


def compute_gae_advantage_return(token_level_rewards, values, response_mask, gamma, lam):
    """verl's GAE (carry-forward mask) followed by masked whitening, via fastrl."""
    mask = _np(response_mask) != 0
    adv, ret = fastrl.gae(
        _np(token_level_rewards), _np(values), mask, gamma=float(gamma), lam=float(lam), mode="carry", whiten=True
    )
    dev = token_level_rewards.device
    return torch.from_numpy(adv).to(dev), torch.from_numpy(ret).to(dev)


class FastRLTokenRewards:
    """Composes reward tensors (each ``[B]`` sequence-level or ``[B, T]`` per-token) into
    ``token_level_rewards`` ``[B, T]`` with Fast RL weights (update with this batch's means,
    then compose, as Algorithm 1)."""

    def __init__(self, n, eta=1.0, **kwargs):
        self.composer = fastrl.FastRLComposer(n, eta=eta, **kwargs)

    def __call__(self, rewards, response_mask):
        mask = _np(response_mask) != 0
        chans = [_np(r) for r in rewards]
        means = [float(c[mask].mean()) if c.ndim == 2 else float(c[mask.any(axis=1)].mean()) for c in chans]
        weights = self.composer.update(np.array(means, dtype=np.float32))
        out = fastrl.compose(chans, weights, mask=mask, mode="carry")
        return torch.from_numpy(out).to(response_mask.device), weights
