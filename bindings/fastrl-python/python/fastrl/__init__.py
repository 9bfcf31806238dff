"""Fast RL: fair and stable reward composition for RL fine-tuning of language models.

Python bindings of the Rust ``composer-core`` (Li et al., EMNLP 2024). Arrays are NumPy
arrays (float32 or float64 in, float32 out); CPU torch tensors are accepted through the
array protocol. Shapes: per-token arrays are ``[B, T]``; ``mask`` is ``[B, T]`` of 0/1
(bool, int or float), 1 marking a valid token.

Mask semantics (``mode``): ``"prefix"`` (trl): each row is a valid prefix, nothing
bootstraps past its last valid token; ``"carry"`` (verl): masked tokens anywhere in a row
are skipped and the recursion carries across them. Both agree on trailing padding.
Outputs at masked positions are 0.

Every error from the core (wrong shape, NaN, gamma outside [0, 1], ...) is raised as
``ValueError`` with the core's message; the math runs with the GIL released.
"""

from __future__ import annotations

from typing import Any, Iterable, Literal, Optional, Tuple, Union, overload

import numpy as np
import numpy.typing as npt

from . import _fastrl
from . import metrics

__all__ = [
    "metrics",
    "gae",
    "kl_penalty",
    "compose",
    "fused",
    "whiten",
    "group_advantages",
    "reference_stats",
    "FastRLComposer",
    "FixedComposer",
    "LagrangianComposer",
    "ShapingComposer",
    "RECORD_LEN",
]

RECORD_LEN: int = _fastrl.RECORD_LEN

# The core's defaults (GaeParams, FusedParams, FastRlConfig, GroupParams, LagrangianConfig):
# the keyword defaults below read them, so Python restates none of the core's numbers.
_D = _fastrl.defaults()
_FLOATS: Tuple[type[np.float32], type[np.float64]] = (np.float32, np.float64)

# Type aliases (annotations only). `_F32`: what every function returns, a float32 array.
_F32 = npt.NDArray[np.float32]
# Reward channels: an array `[n, B]` / `[n, B, T]`, or a list of `[B]` and `[B, T]` arrays
# (array-like too, as far as the type goes).
_Rewards = npt.ArrayLike
# `(">=", threshold)`, `("<=", threshold)` or None (free), one per LagrangianComposer reward.
_Constraint = Optional[Tuple[str, float]]


def _float(name: str, x: npt.ArrayLike, ndim: Union[int, Tuple[int, ...], None] = None) -> _F32:
    """`x` as a C-contiguous float32 array, after checking its dtype and rank."""
    a = np.asarray(x)
    if a.dtype.type not in _FLOATS:
        raise ValueError(f"`{name}` must be float32 or float64, got {a.dtype}")
    if ndim is not None and a.ndim not in (ndim if isinstance(ndim, tuple) else (ndim,)):
        raise ValueError(f"`{name}` must have rank {ndim}, got shape {a.shape}")
    return np.ascontiguousarray(a, dtype=np.float32)


def _mask(x: Optional[npt.ArrayLike], shape: Tuple[int, ...]) -> npt.NDArray[np.uint8]:
    """`x` (bool/int/float 0-1) as a C-contiguous uint8 array of `shape`; all ones if None."""
    if x is None:
        return np.ones(shape, dtype=np.uint8)
    a = np.asarray(x)
    if a.dtype == np.bool_ or np.issubdtype(a.dtype, np.integer) or a.dtype.type in _FLOATS:
        pass
    else:
        raise ValueError(f"`mask` must be bool, integer or float, got {a.dtype}")
    if a.shape != tuple(shape):
        raise ValueError(f"`mask` has shape {a.shape}, expected {tuple(shape)}")
    return np.ascontiguousarray(a != 0, dtype=np.uint8)


def _same_shape(name: str, a: npt.NDArray[Any], shape: Tuple[int, ...]) -> None:
    if a.shape != tuple(shape):
        raise ValueError(f"`{name}` has shape {a.shape}, expected {tuple(shape)}")


def _mode(mode: str) -> str:
    if mode not in ("prefix", "carry"):
        raise ValueError(f'`mode` = {mode!r}, expected "prefix" or "carry"')
    return mode


def gae(rewards: npt.ArrayLike, values: npt.ArrayLike, mask: Optional[npt.ArrayLike] = None,
        gamma: float = _D.gamma, lam: float = _D.lam, mode: str = "carry",
        whiten: bool = False) -> Tuple[_F32, _F32]:
    """Generalised advantage estimation and returns over ``[B, T]`` arrays.

    ``delta_t = r_t + gamma V_{t'} - V_t``, ``A_t = delta_t + gamma lam A_{t'}`` (``t'`` the
    next valid token; nothing past a row's last valid token), ``returns = A + V``.
    With ``whiten=True`` the advantages are whitened over valid tokens (as verl's
    ``masked_whiten``) in the same call. Returns ``(advantages, returns)``, float32 ``[B, T]``.
    """
    r = _float("rewards", rewards, 2)
    v = _float("values", values, 2)
    _same_shape("values", v, r.shape)
    m = _mask(mask, r.shape)
    b, t = r.shape
    a, ret = _fastrl.gae_flat(
        r.ravel(), v.ravel(), m.ravel(), b, t, float(gamma), float(lam), _mode(mode), bool(whiten)
    )
    return a.reshape(b, t), ret.reshape(b, t)


_ESTIMATORS: Tuple[str, ...] = ("k1", "k2", "k3", "abs")


def kl_penalty(logp: npt.ArrayLike, ref_logp: npt.ArrayLike, mask: Optional[npt.ArrayLike] = None,
               beta: float = _D.beta, estimator: str = _D.estimator,
               rewards: Optional[npt.ArrayLike] = None, mode: str = "carry") -> _F32:
    """Eq. (7): ``rewards - beta * kl(logp, ref_logp)`` per token (``rewards`` defaults to 0,
    giving the penalty alone). Estimators: k1 ``d``, k2 ``d^2/2``, k3 ``exp(-d) + d - 1``,
    abs ``|d|`` with ``d = logp - ref_logp``. Returns float32 ``[B, T]``.
    """
    lp = _float("logp", logp, 2)
    rl = _float("ref_logp", ref_logp, 2)
    _same_shape("ref_logp", rl, lp.shape)
    r = np.zeros_like(lp) if rewards is None else _float("rewards", rewards, 2)
    _same_shape("rewards", r, lp.shape)
    m = _mask(mask, lp.shape)
    if estimator not in _ESTIMATORS:
        raise ValueError(f"`estimator` = {estimator!r}, expected one of {_ESTIMATORS}")
    b, t = lp.shape
    out, _ = _fastrl.kl_penalty_flat(
        r.ravel(), lp.ravel(), rl.ravel(), m.ravel(), b, t, float(beta), estimator, _mode(mode)
    )
    return out.reshape(b, t)


def _channels(
    rewards: _Rewards, batch_shape: Optional[Tuple[int, ...]] = None
) -> Tuple[list[_F32], list[bool], int, Optional[int]]:
    """Reward channels as (flat arrays, dense flags, (B, T) or (B,)).

    ``rewards`` is an array ``[n, B]`` (sequence-level), ``[n, B, T]`` (per token), or a
    list of ``[B]`` and ``[B, T]`` arrays (mixed).
    """
    if isinstance(rewards, (list, tuple)):
        chans = [_float(f"rewards[{i}]", x, (1, 2)) for i, x in enumerate(rewards)]
    else:
        arr = _float("rewards", rewards, (2, 3))
        chans = list(arr)
    if not chans:
        raise ValueError("`rewards` holds no channel (n = 0)")
    b = chans[0].shape[0]
    t = None
    for i, c in enumerate(chans):
        if c.shape[0] != b:
            raise ValueError(f"`rewards[{i}]` has {c.shape[0]} rows, expected {b}")
        if c.ndim == 2:
            if t is not None and c.shape[1] != t:
                raise ValueError(f"`rewards[{i}]` has {c.shape[1]} tokens per row, expected {t}")
            t = c.shape[1]
    return [c.ravel() for c in chans], [c.ndim == 2 for c in chans], b, t


def _weights(weights: npt.ArrayLike, n: int) -> _F32:
    w = _float("weights", weights, 1)
    if w.shape[0] != n:
        raise ValueError(f"`weights` has length {w.shape[0]}, expected {n} (one per reward)")
    return w


def compose(rewards: _Rewards, weights: npt.ArrayLike, mask: Optional[npt.ArrayLike] = None,
            mode: str = "carry") -> _F32:
    """Eq. (6): ``r_com = sum_i w_i r_i``.

    * ``rewards`` ``[n, B]`` and no mask: returns ``[B]``.
    * ``rewards`` ``[n, B]`` with ``mask`` ``[B, T]``: each row's score lands on its last
      valid token; returns ``[B, T]``.
    * ``rewards`` ``[n, B, T]`` (or a list mixing ``[B]`` and ``[B, T]``): returns ``[B, T]``,
      0 at masked tokens.
    """
    flat, dense, b, t = _channels(rewards)
    w = _weights(weights, len(flat))
    if t is None and mask is None:
        out = _fastrl.compose_flat(flat, dense, w, np.ones(b, dtype=np.uint8), b, 1, "prefix")
        return out
    if t is None:
        t = np.asarray(mask).shape[-1] if np.asarray(mask).ndim == 2 else 0
    m = _mask(mask, (b, t))
    return _fastrl.compose_flat(flat, dense, w, m.ravel(), b, t, _mode(mode)).reshape(b, t)


def fused(rewards: _Rewards, weights: npt.ArrayLike, logp: npt.ArrayLike, ref_logp: npt.ArrayLike,
          values: npt.ArrayLike, mask: Optional[npt.ArrayLike] = None, gamma: float = _D.gamma,
          lam: float = _D.lam, beta: float = _D.beta, estimator: str = _D.estimator,
          mode: str = "carry",
          whiten: bool = False) -> dict[str, Any]:
    """Composition + KL penalty + GAE + returns in one pass over each row.

    ``rewards`` as in :func:`compose`; ``logp``, ``ref_logp``, ``values``, ``mask``: ``[B, T]``.
    Returns a dict: ``rewards`` (``r_com - beta kl``), ``advantages`` (whitened over valid
    tokens when ``whiten``), ``returns``, ``valid_tokens``, ``kl_mean``, ``reward_mean``.
    """
    flat, dense, b, t = _channels(rewards)
    lp = _float("logp", logp, 2)
    if lp.shape[0] != b:
        raise ValueError(f"`logp` has {lp.shape[0]} rows, expected {b} (as rewards)")
    if t is not None and lp.shape[1] != t:
        raise ValueError(f"`logp` has shape {lp.shape}, expected {(b, t)} (as rewards)")
    shape = lp.shape
    rl = _float("ref_logp", ref_logp, 2)
    _same_shape("ref_logp", rl, shape)
    v = _float("values", values, 2)
    _same_shape("values", v, shape)
    m = _mask(mask, shape)
    w = _weights(weights, len(flat))
    if estimator not in _ESTIMATORS:
        raise ValueError(f"`estimator` = {estimator!r}, expected one of {_ESTIMATORS}")
    r, a, ret, n, kl_sum, r_sum = _fastrl.fused_flat(
        flat, dense, w, lp.ravel(), rl.ravel(), v.ravel(), m.ravel(), shape[0], shape[1],
        float(gamma), float(lam), float(beta), estimator, _mode(mode),
    )
    if whiten:
        a = _fastrl.whiten_flat(a, m.ravel())
    return {
        "rewards": r.reshape(shape),
        "advantages": a.reshape(shape),
        "returns": ret.reshape(shape),
        "valid_tokens": n,
        "kl_mean": kl_sum / n if n else 0.0,
        "reward_mean": r_sum / n if n else 0.0,
    }


def whiten(x: npt.ArrayLike, mask: Optional[npt.ArrayLike] = None) -> _F32:
    """Masked whitening: ``(x - mean) / sqrt(var + 1e-8)`` over valid tokens (unbiased var);
    0 at masked tokens. Returns a new float32 array of ``x``'s shape."""
    a = _float("x", x)
    m = _mask(mask, a.shape)
    return _fastrl.whiten_flat(a.ravel(), m.ravel()).reshape(a.shape)


class _Composer:
    """Common methods; see the subclasses."""

    _raw: _fastrl.RawComposer

    def __init__(self, raw: _fastrl.RawComposer) -> None:
        self._raw = raw

    def update(self, reward_means: npt.ArrayLike) -> _F32:
        """Consumes this batch's per-reward means; returns the weights (float32 ``[n]``) to
        compose this batch with (Algorithm 1: update, then compose)."""
        m = _float("reward_means", reward_means, 1)
        return self._raw.update(m.tolist())

    @property
    def weights(self) -> _F32:
        """The current weights, float32 ``[n]``."""
        return self._raw.weights()

    @property
    def num_rewards(self) -> int:
        return self._raw.num_rewards()

    @property
    def steps(self) -> int:
        """Updates done so far."""
        return self._raw.steps()

    def state_dict(self) -> bytes:
        """The composer's state as a versioned, checksummed byte record (``bytes``)."""
        return self._raw.state_bytes()

    def load_state_dict(self, state: Union[bytes, bytearray, memoryview]) -> None:
        """Restores from :meth:`state_dict`'s bytes; raises ``ValueError`` (and changes
        nothing) for a truncated, corrupted, wrong-version or wrong-kind record."""
        if not isinstance(state, (bytes, bytearray, memoryview)):
            raise ValueError(f"`state` must be bytes, got {type(state).__name__}")
        self._raw.load_state_bytes(bytes(state))

    def diagnostics(self, reward_means: npt.ArrayLike) -> dict[str, Any]:
        """Weights, disparity (std of the reward means across rewards), min and mean reward,
        composite, and Theorem 1/2's ``C`` in ``composite = mean - C * disparity`` with its
        (corrected) bound ``c_bound``."""
        return self._raw.diagnostics(_float("reward_means", reward_means, 1).tolist())


class FastRLComposer(_Composer):
    """Fast RL (Eq. (4)-(5)): ``w_i <- w_i exp(-eta g_i / temperature + b_i) / Z`` from
    uniform, weight moving toward the rewards that lag (see ``composer_core::FastRl``).

    * ``eta``: a step size >= 0, or ``"auto"``: Hedge's rate ``sqrt(8 ln n / horizon) /
      signal_range`` for a run of ``horizon`` updates (required with ``"auto"``).
    * ``smoothing``: None, ``"ema"`` (``ema_decay``), ``"clip"`` (``clip=(lo, hi)``) or
      ``"tanh"`` (``tanh_scale``).
    * ``normalize``: ``"none"`` (the paper; also False), ``"standardize"`` (also True: a
      batch mean against its own history) or ``"reference"`` (z-scores against the
      starting policy's statistics, set with :meth:`set_reference` or
      :meth:`calibrate`).
    * ``compose_on``: ``"raw"`` or ``"normalized"`` (Eq. (6) on the reference z-scores;
      :meth:`composition` gives the equivalent raw weights and offset).
    * ``rule``: ``"plain"`` (Eq. (5)) or ``"optimistic"`` (``2 s_t - s_{t-1}``: the last
      iterate converges in the max-min game).
    * ``radius``: the KL ball around uniform the weights are projected onto (``inf``:
      the paper's rule). ``averaging``: return the mean iterate. ``floor``: mix with
      uniform.
    """

    def __init__(self, n: int, eta: Union[float, str], temperature: float = _D.temperature,
                 bias: Optional[npt.ArrayLike] = None, smoothing: Optional[str] = None,
                 ema_decay: float = 0.9, clip: Tuple[float, float] = (0.0, 1.0),
                 tanh_scale: float = 1.0, normalize: Union[str, bool, None] = _D.normalize,
                 floor: float = _D.floor, compose_on: str = _D.compose_on, rule: str = _D.rule,
                 radius: float = _D.radius, averaging: bool = _D.averaging,
                 horizon: Optional[int] = None, signal_range: float = 1.0) -> None:
        kind = "none" if smoothing is None else smoothing
        a, b = 0.0, 0.0
        if kind == "ema":
            a = ema_decay
        elif kind == "clip":
            a, b = clip
        elif kind == "tanh":
            a = tanh_scale
        if normalize is True:
            normalize = "standardize"
        elif normalize is False or normalize is None:
            normalize = "none"
        if isinstance(eta, str):
            if eta != "auto":
                raise ValueError(f'`eta` = {eta!r}, expected a number or "auto"')
            if horizon is None or int(horizon) < 1:
                raise ValueError('`eta` = "auto" needs `horizon`, the number of updates (>= 1)')
            eta_value, horizon_value = 0.0, int(horizon)
        else:
            eta_value, horizon_value = float(eta), 0
        bias_list = None if bias is None else _float("bias", bias, 1).tolist()
        super().__init__(_fastrl.RawComposer.fastrl(
            int(n), eta_value, float(temperature), bias_list, kind, float(a), float(b),
            str(normalize), float(floor), str(compose_on), str(rule), float(radius),
            bool(averaging), horizon_value, float(signal_range),
        ))

    @property
    def eta(self) -> float:
        """The step size in effect (the given one, or Hedge's rate for ``"auto"``)."""
        return self._raw.eta()

    def set_reference(self, mean: npt.ArrayLike, std: npt.ArrayLike) -> None:
        """Sets the reference statistics of ``normalize="reference"``: per reward the
        starting policy's mean and per-response std (std > 0)."""
        n = self.num_rewards
        m = _float("mean", mean, 1)
        sd = _float("std", std, 1)
        for name, a in (("mean", m), ("std", sd)):
            if a.shape[0] != n:
                raise ValueError(f"`{name}` has length {a.shape[0]}, expected {n} (one per reward)")
        self._raw.set_reference(m.tolist(), sd.tolist())

    def calibrate(self, scores: npt.ArrayLike) -> Tuple[_F32, _F32]:
        """Sets the reference statistics from calibration scores ``[n, m]`` (reward ``i``'s
        scores of ``m >= 2`` responses of the starting policy); returns ``(mean, std)``."""
        mean, std = reference_stats(scores)
        self.set_reference(mean, std)
        return mean, std

    @property
    def reference(self) -> Optional[Tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]]:
        """``(mean, std)`` float64 arrays, or None before calibration."""
        r = self._raw.reference()
        return None if r is None else (np.asarray(r[0]), np.asarray(r[1]))

    def composition(self) -> Tuple[_F32, float]:
        """Eq. (6)'s weights on the raw rewards and the batch-constant offset:
        ``(w, 0)`` with ``compose_on="raw"``, ``(w / std, -sum w mean / std)`` with
        ``"normalized"``."""
        w, offset = self._raw.composition()
        return w, offset


def reference_stats(scores: npt.ArrayLike) -> Tuple[_F32, _F32]:
    """Per reward, the mean and unbiased (ddof=1) standard deviation of calibration
    scores ``[n, m]`` (``m >= 2``); a reward constant on the set is a ``ValueError``.
    Returns two float32 arrays ``[n]``."""
    a = _float("scores", scores, 2)
    mean, std = _fastrl.reference_stats_flat(a.tolist())
    return np.asarray(mean, dtype=np.float32), np.asarray(std, dtype=np.float32)


@overload
def group_advantages(rewards: _Rewards, groups: npt.ArrayLike,
                     weights: Optional[npt.ArrayLike] = None,
                     mask: Optional[npt.ArrayLike] = None, estimator: str = _D.group_estimator,
                     scale: str = _D.group_scale, convention: str = _D.convention, whiten: Optional[bool] = None,
                     group_size: Optional[int] = None, per_token: bool = False,
                     return_stats: Literal[False] = False) -> _F32: ...
@overload
def group_advantages(rewards: _Rewards, groups: npt.ArrayLike,
                     weights: Optional[npt.ArrayLike] = None,
                     mask: Optional[npt.ArrayLike] = None, estimator: str = _D.group_estimator,
                     scale: str = _D.group_scale, convention: str = _D.convention, whiten: Optional[bool] = None,
                     group_size: Optional[int] = None, per_token: bool = False, *,
                     return_stats: Literal[True]) -> Tuple[_F32, dict[str, int]]: ...
@overload
def group_advantages(rewards: _Rewards, groups: npt.ArrayLike,
                     weights: Optional[npt.ArrayLike] = None,
                     mask: Optional[npt.ArrayLike] = None, estimator: str = _D.group_estimator,
                     scale: str = _D.group_scale, convention: str = _D.convention, whiten: Optional[bool] = None,
                     group_size: Optional[int] = None, per_token: bool = False,
                     return_stats: bool = False) -> Union[_F32, Tuple[_F32, dict[str, int]]]: ...
def group_advantages(rewards: _Rewards, groups: npt.ArrayLike,
                     weights: Optional[npt.ArrayLike] = None,
                     mask: Optional[npt.ArrayLike] = None, estimator: str = _D.group_estimator,
                     scale: str = _D.group_scale, convention: str = _D.convention, whiten: Optional[bool] = None,
                     group_size: Optional[int] = None, per_token: bool = False,
                     return_stats: bool = False) -> Union[_F32, Tuple[_F32, dict[str, int]]]:
    """Critic-free, group-relative advantages (``composer_core::group``): GRPO, RLOO,
    REINFORCE++ with a group baseline, or GDPO, as verl 0.9.1 (``convention="verl"``) or
    trl 1.16.0 (``"trl"``) define them.

    ``rewards``: ``[n, B]`` sequence-level scores, ``[n, B, T]`` per-token ones (summed
    over valid tokens per response), or a list mixing ``[B]`` and ``[B, T]``.
    ``groups``: ``[B]`` labels of the prompt each response answers (ints or strings such
    as verl's ``uid``). ``weights``: ``[n]`` (default all 1); pass a composer's weights to
    compose GDPO by Fast RL. ``mask``: ``[B, T]`` response mask (needed for per-token
    output and verl's token-weighted whitening; default all valid). ``scale``:
    ``"group"``, ``"batch"`` (trl) or ``"none"`` (Dr. GRPO), for GRPO. ``whiten``: None for
    the peers' default (on for REINFORCE++ and GDPO). ``group_size``: if set, every group
    must have exactly that many responses.

    Returns float32 ``[B]`` advantages, or ``[B, T]`` (0 at masked tokens) with
    ``per_token=True``; with ``return_stats=True`` also a dict with ``groups``,
    ``singletons`` and ``zero_variance``.
    """
    flat, dense, b, t = _channels(rewards)
    n = len(flat)
    w = np.ones(n, dtype=np.float32) if weights is None else _weights(weights, n)
    labels = np.asarray(groups)
    if labels.ndim != 1 or labels.shape[0] != b:
        raise ValueError(f"`groups` has shape {labels.shape}, expected ({b},) (one label per response)")
    if np.issubdtype(labels.dtype, np.integer) and labels.size and labels.min() >= 0 \
            and labels.max() < 2 * b:
        # Small non-negative ints are dense enough to use as ids directly.
        ids, n_ids = labels, int(labels.max()) + 1
    else:
        uniq, ids = np.unique(labels, return_inverse=True)
        n_ids = len(uniq)
    if mask is None and t is None and per_token:
        raise ValueError("`per_token=True` needs `mask` (or per-token rewards) to know the length")
    if t is None:
        t = 1 if mask is None else np.asarray(mask).shape[-1]
    m = _mask(mask, (b, t))
    adv, n_groups, singletons, zero_var = _fastrl.group_advantages_flat(
        flat, dense, w, np.ascontiguousarray(ids, dtype=np.uint32), n_ids, m.ravel(), b, t,
        str(estimator), str(scale), str(convention),
        None if whiten is None else bool(whiten),
        None if group_size is None else int(group_size),
    )
    out = adv[:, None] * m if per_token else adv
    if return_stats:
        return out, {"groups": n_groups, "singletons": singletons, "zero_variance": zero_var}
    return out


class FixedComposer(_Composer):
    """Constant weights (need not sum to 1), e.g. RL4LMs' 0.25 / 0.75."""

    def __init__(self, weights: npt.ArrayLike) -> None:
        super().__init__(_fastrl.RawComposer.fixed(_float("weights", weights, 1).tolist()))


class ShapingComposer(_Composer):
    """Reward shaping over ``[reward, cost]``: ``R - alpha * C``."""

    def __init__(self, alpha: float) -> None:
        super().__init__(_fastrl.RawComposer.shaping(float(alpha)))


class LagrangianComposer(_Composer):
    """Lagrangian constrained composition.

    ``constraints[i]`` is None (free), ``(">=", threshold)`` or ``("<=", threshold)``;
    multipliers ``lambda_i = squash(p_i)`` with ``p_i += lr * violation``; weights
    ``base_i +/- lambda_i`` (divided by ``1 + sum lambda`` when ``normalize``).
    ``LagrangianComposer.safe_rlhf(threshold, ...)`` gives safe-rlhf's
    ``(R - lambda C) / (1 + lambda)``.
    """

    def __init__(self, base: npt.ArrayLike, constraints: Iterable[_Constraint],
                 lr: float = _D.lagrangian_lr, squash: str = _D.squash,
                 init: float = _D.lagrangian_init, max_multiplier: float = _D.max_multiplier,
                 normalize: bool = _D.lagrangian_normalize, _raw: Optional[_fastrl.RawComposer] = None) -> None:
        if _raw is not None:
            super().__init__(_raw)
            return
        kinds, thresholds = [], []
        for i, c in enumerate(constraints):
            if c is None:
                kinds.append("free")
                thresholds.append(0.0)
            elif isinstance(c, tuple) and len(c) == 2 and c[0] in (">=", "<="):
                kinds.append("at_least" if c[0] == ">=" else "at_most")
                thresholds.append(float(c[1]))
            else:
                raise ValueError(f'`constraints[{i}]` = {c!r}, expected None, (">=", t) or ("<=", t)')
        base_list = _float("base", base, 1).tolist()
        super().__init__(_fastrl.RawComposer.lagrangian(
            base_list, kinds, thresholds, float(lr), squash, float(init), float(max_multiplier),
            bool(normalize),
        ))

    @classmethod
    def safe_rlhf(cls, threshold: float = 0.0, lr: float = 0.1, init: float = 1.0,
                  max_multiplier: float = 100.0) -> LagrangianComposer:
        # `base` and `constraints` are not read when `_raw` is given (None is no array).
        return cls(None, None, _raw=_fastrl.RawComposer.safe_rlhf(  # type: ignore[arg-type]
            float(threshold), float(lr), float(init), float(max_multiplier)))
