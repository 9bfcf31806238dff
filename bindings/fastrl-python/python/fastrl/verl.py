"""Fast RL inside verl (tested against verl 0.9.1): advantage estimators whose reward
weights come from a Fast RL composer, a GAE replacement, per-reward metrics, and the
composer's state (and the adaptive KL coefficient) saved in verl's checkpoints.

One call, in the process that runs verl's trainer (the Ray ``TaskRunner`` actor: pass it
as Ray's ``worker_process_setup_hook``, see the README section "Use it in verl / trl")::

    import fastrl.verl
    fastrl.verl.install()          # estimators fastrl_gdpo, fastrl_grpo, fastrl_rloo,
                                   # fastrl_reinforce_plus_plus_baseline
    fastrl.verl.install(gae=True)  # also: algorithm.adv_estimator=gae runs on our core,
                                   # composite built from the per-reward scores

What ``install`` changes (every change is a wrapper that delegates to verl's own code
for everything that is not a fastrl estimator; ``uninstall()`` undoes all of them):

1. ``core_algos.register_adv_est``: registers the estimators in :data:`ESTIMATORS`.
2. ``verl.trainer.ppo.ray_trainer.compute_advantage`` and the name
   ``verl.trainer.ppo.v1.utils.compute_advantage`` (the v1 trainer's reference to it):
   wrapped so that, during the call, the estimators can read the batch's
   ``non_tensor_batch`` (verl passes it only to the estimator named ``"gdpo"``). The
   wrapper then calls verl's ``compute_advantage``, whose own dispatch calls our
   estimator.
3. ``ray_trainer.compute_data_metrics`` (legacy trainer) and
   ``v1.trainer_base.PPOTrainer._compute_advantage`` (v1 trainer): add this step's
   ``fastrl/*`` metrics to verl's metrics dict. The v1 wrapper also fetches the
   per-reward scores from TransferQueue (the v1 trainer does not read them back for the
   advantage step; they are stored per response in ``extra_fields["reward_extra_info"]``
   or, with a colocated reward model, as fields named by the keys).
4. ``RayPPOTrainer._save_checkpoint`` / ``_load_checkpoint`` and the v1
   ``PPOTrainer._save_checkpoint`` / ``_load_checkpoint``: write
   ``global_step_N/fastrl_state.json`` (composer record, estimator, reward keys, the KL
   controller's ``value``) before verl writes its tracker file, and restore it after
   verl's load.
5. With ``gae=True``: ``core_algos.compute_gae_advantage_return`` becomes
   :func:`compute_gae_advantage_return` (same signature and results, one pass in the
   Rust core); verl's GAE branch calls it through the module, so the swap reaches it.

Configuration lives in verl's ``algorithm`` section (add the ``fastrl`` keys with
Hydra's ``+``): ``algorithm.gdpo_reward_keys`` names the per-reward scores (the keys of
``compute_score``'s dict, as for verl's ``gdpo``), ``algorithm.fastrl.*`` are passed to
:class:`fastrl.FastRLComposer` (``eta``, ``normalize``, ``rule``, ``radius``, ...), plus
``algorithm.fastrl.composer="fixed"`` (constant weights ``algorithm.gdpo_reward_weights``,
default all 1: verl's own ``gdpo`` exactly), ``reference_mean``/``reference_std`` (for
``normalize="reference"``) and ``strict_resume`` (default true: resuming from a
checkpoint without ``fastrl_state.json`` is an error).

Algorithm 1 order: each batch's per-reward means update the composer once, then that
batch is composed with the new weights.
"""

from __future__ import annotations

import base64
import contextvars
import functools
import json
import os
from typing import Any, Callable, Mapping, Optional, Sequence, Tuple, cast

import numpy as np
import numpy.typing as npt
import torch

import fastrl

__all__ = [
    "ESTIMATORS",
    "STATE_FILE",
    "install",
    "uninstall",
    "integration",
    "compute_gae_advantage_return",
    "FastRLVerl",
]

#: verl estimator name -> ``fastrl.group_advantages`` estimator.
ESTIMATORS: dict[str, str] = {
    "fastrl_gdpo": "gdpo",
    "fastrl_grpo": "grpo",
    "fastrl_rloo": "rloo",
    "fastrl_reinforce_plus_plus_baseline": "reinforce_pp",
}
#: The file written in verl's ``global_step_N`` checkpoint folder.
STATE_FILE: str = "fastrl_state.json"
_STATE_VERSION: int = 1

# (DataProto, algorithm config) of the compute_advantage call in progress (set by the wrapper).
_DATA: contextvars.ContextVar[Tuple[Any, Any]] = contextvars.ContextVar(
    "fastrl_verl_data", default=(None, None))
# Per-reward scores fetched from TransferQueue by the v1 wrapper, [n, B] float64.
_SCORES: contextvars.ContextVar[Optional[npt.NDArray[np.float64]]] = contextvars.ContextVar(
    "fastrl_verl_scores", default=None)

# A verl advantage estimator: (advantages, returns) per token.
_Estimator = Callable[..., Tuple[torch.Tensor, torch.Tensor]]


def _cfg_get(config: Any, key: str, default: Any = None) -> Any:
    if config is None:
        return default
    try:
        value = config.get(key, default)
    except AttributeError:
        value = getattr(config, key, default)
    return default if value is None else value


def _plain(x: Any) -> Any:
    """An OmegaConf node or mapping as plain Python containers."""
    try:
        from omegaconf import DictConfig, ListConfig, OmegaConf

        if isinstance(x, (DictConfig, ListConfig)):
            return OmegaConf.to_container(x, resolve=True)
    except ImportError:  # pragma: no cover - verl depends on omegaconf
        pass
    if isinstance(x, dict):
        return {k: _plain(v) for k, v in x.items()}
    return x


def _np(t: torch.Tensor) -> npt.NDArray[np.float32]:
    return t.detach().to("cpu", torch.float32).numpy()


class FastRLVerl:
    """The driver-side state of the integration: one composer per run, created from
    ``config.algorithm`` on the first batch (or on resume), plus this step's metrics."""

    gae: bool
    composer: Optional[fastrl._Composer]
    #: The per-reward score keys (``algorithm.gdpo_reward_keys``), set with the composer.
    reward_keys: Optional[list[str]]
    #: ``"fastrl"`` or ``"fixed"``, set with the composer.
    kind: Optional[str]
    pending_metrics: dict[str, float]

    def __init__(self, gae: bool = False) -> None:
        self.gae = bool(gae)
        self.composer = None
        self.reward_keys = None
        self.kind = None
        self.pending_metrics = {}

    def reset(self) -> None:
        """Forgets the composer (the next batch or resume creates a fresh one)."""
        self.composer = self.reward_keys = self.kind = None
        self.pending_metrics = {}

    # -- configuration --------------------------------------------------------------
    def options(self, config: Any) -> Tuple[dict[str, Any], Optional[list[str]]]:
        opts = dict(_plain(_cfg_get(config, "fastrl", {})) or {})
        keys = opts.pop("reward_keys", None) or _cfg_get(config, "gdpo_reward_keys", None)
        return opts, (list(_plain(keys)) if keys else None)

    def ensure_composer(self, config: Any) -> fastrl._Composer:
        """The composer for ``config`` (an ``algorithm`` section), created once."""
        if self.composer is not None:
            return self.composer
        opts, keys = self.options(config)
        if not keys:
            raise ValueError(
                "fastrl estimators need `algorithm.gdpo_reward_keys` (the keys of compute_score's "
                "dict holding the per-reward scores), got none"
            )
        kind = opts.pop("composer", "fastrl")
        opts.pop("strict_resume", None)
        ref_mean = opts.pop("reference_mean", None)
        ref_std = opts.pop("reference_std", None)
        n = len(keys)
        composer: fastrl._Composer
        if kind == "fixed":
            w = opts.pop("weights", None) or _cfg_get(config, "gdpo_reward_weights", None)
            w = np.ones(n, dtype=np.float32) if w is None else np.asarray(_plain(w), dtype=np.float32)
            composer = fastrl.FixedComposer(w)
        elif kind == "fastrl":
            opts.setdefault("eta", 1.0)
            composer = fastrl.FastRLComposer(n, **opts)
            if ref_mean is not None or ref_std is not None:
                composer.set_reference(np.asarray(ref_mean, np.float32), np.asarray(ref_std, np.float32))
        else:
            raise ValueError(f'`algorithm.fastrl.composer` = {kind!r}, expected "fastrl" or "fixed"')
        if composer.num_rewards != n:
            raise ValueError(f"the composer has {composer.num_rewards} rewards, `gdpo_reward_keys` {n}")
        self.composer, self.reward_keys, self.kind = composer, keys, kind
        return composer

    # -- one batch ---------------------------------------------------------------------
    def scores(self, config: Any, non_tensor_batch: Optional[Mapping[str, Any]],
               batch_size: int) -> npt.NDArray[np.float64]:
        """Per-reward sequence-level scores ``[n, B]`` (float64) for this batch."""
        _, keys = self.options(config)
        fetched = _SCORES.get()
        if fetched is not None:
            return fetched
        if non_tensor_batch is None:
            raise RuntimeError(
                "a fastrl estimator was called without the batch's non_tensor_batch: call "
                "fastrl.verl.install() in the process that runs verl's trainer"
            )
        # The ignores below: `keys` is None when the config names no reward keys, and
        # iterating it raises TypeError (ensure_composer's ValueError comes later).
        missing = [k for k in keys if k not in non_tensor_batch]  # type: ignore[union-attr]
        if missing:
            raise KeyError(
                f"reward keys {missing} not in non_tensor_batch (has {sorted(non_tensor_batch)}); "
                "compute_score must return a dict with them"
            )
        out = np.stack([np.asarray(non_tensor_batch[k], dtype=np.float64).reshape(-1)
                        for k in keys])  # type: ignore[union-attr]
        if out.shape[1] != batch_size:
            raise ValueError(f"reward scores have {out.shape[1]} rows, the batch {batch_size}")
        return out

    def weights_for(self, config: Any, scores: npt.NDArray[np.float64]) -> npt.NDArray[np.float32]:
        """Updates the composer once with this batch's per-reward means; records metrics;
        returns the weights to compose this batch with."""
        composer = self.ensure_composer(config)
        means = scores.mean(axis=1)
        weights = np.asarray(composer.update(means.astype(np.float32)), dtype=np.float32)
        m = self.pending_metrics
        for i, key in enumerate(cast("list[str]", self.reward_keys)):  # set by ensure_composer
            s = scores[i]
            m[f"fastrl/weight/{key}"] = float(weights[i])
            m[f"fastrl/reward/{key}/mean"] = float(means[i])
            m[f"fastrl/reward/{key}/std"] = float(s.std())
            m[f"fastrl/reward/{key}/min"] = float(s.min())
            m[f"fastrl/reward/{key}/max"] = float(s.max())
        m["fastrl/composite/mean"] = float(weights @ means)
        m["fastrl/steps"] = float(composer.steps)
        return weights

    def pop_metrics(self) -> dict[str, float]:
        m, self.pending_metrics = self.pending_metrics, {}
        return m

    # -- checkpoints -------------------------------------------------------------------
    def uses_composer(self, config: Any) -> bool:
        est = _cfg_get(config, "adv_estimator", "")
        est = str(getattr(est, "value", est))
        if est in ESTIMATORS:
            return True
        return self.gae and est == "gae" and bool(self.options(config)[1])

    def save(self, trainer: Any, folder: str) -> Optional[str]:
        config = trainer.config.algorithm
        kl = getattr(trainer, "kl_ctrl_in_reward", None)
        if not self.uses_composer(config) and kl is None:
            return None
        record: dict[str, Any] = {"version": _STATE_VERSION, "global_step": int(trainer.global_steps)}
        if self.composer is not None:
            record.update(
                estimator=str(_cfg_get(config, "adv_estimator")),
                reward_keys=self.reward_keys,
                composer_kind=self.kind,
                composer=base64.b64encode(self.composer.state_dict()).decode("ascii"),
            )
        if kl is not None:
            record["kl_value"] = float(kl.value)
        os.makedirs(folder, exist_ok=True)
        path = os.path.join(folder, STATE_FILE)
        tmp = path + ".tmp"
        with open(tmp, "w") as f:
            json.dump(record, f)
        os.replace(tmp, path)
        return path

    def load(self, trainer: Any, folder: str) -> Optional[dict[str, Any]]:
        config = trainer.config.algorithm
        path = os.path.join(folder, STATE_FILE)
        if not os.path.exists(path):
            strict = bool(_cfg_get(_cfg_get(config, "fastrl", {}), "strict_resume", True))
            if self.uses_composer(config) and strict:
                raise FileNotFoundError(
                    f"{path} is missing: this checkpoint holds no Fast RL state (set "
                    "+algorithm.fastrl.strict_resume=false to start the composer afresh)"
                )
            return None
        with open(path) as f:
            record: dict[str, Any] = json.load(f)
        if record.get("version") != _STATE_VERSION:
            raise ValueError(f"{path}: version {record.get('version')}, expected {_STATE_VERSION}")
        if "composer" in record and self.uses_composer(config):
            composer = self.ensure_composer(config)
            if record.get("reward_keys") != self.reward_keys:
                raise ValueError(
                    f"{path} holds reward keys {record.get('reward_keys')}, the config {self.reward_keys}"
                )
            composer.load_state_dict(base64.b64decode(record["composer"]))
        kl = getattr(trainer, "kl_ctrl_in_reward", None)
        if kl is not None and "kl_value" in record:
            kl.value = float(record["kl_value"])
        return record


_ACTIVE: Optional[FastRLVerl] = None
_PATCHES: list[Tuple[Any, str, Any]] = []  # (owner, attribute name, original value)


def integration() -> Optional[FastRLVerl]:
    """The installed :class:`FastRLVerl` (None before :func:`install`)."""
    return _ACTIVE


def _estimator(name: str, kind: str) -> _Estimator:
    def estimator(token_level_rewards: torch.Tensor, response_mask: torch.Tensor,
                  index: Optional[npt.ArrayLike] = None, config: Any = None,
                  non_tensor_batch: Optional[Mapping[str, Any]] = None, batch: Any = None,
                  epsilon: float = 1e-6, **kwargs: Any) -> Tuple[torch.Tensor, torch.Tensor]:
        state = _ACTIVE
        if state is None:
            raise RuntimeError(f"{name}: call fastrl.verl.install() first")
        data = _DATA.get()[0]
        if non_tensor_batch is None and data is not None:
            non_tensor_batch = data.non_tensor_batch
        if index is None:
            raise ValueError(f"{name} needs the group labels (`uid` in non_tensor_batch)")
        b = response_mask.shape[0]
        scores = state.scores(config, non_tensor_batch, b)
        weights = state.weights_for(config, scores)
        scale = "group" if bool(_cfg_get(config, "norm_adv_by_std_in_grpo", True)) else "none"
        adv = fastrl.group_advantages(
            scores, np.asarray(index), weights=weights, mask=_np(response_mask) != 0,
            estimator=kind, scale=scale, convention="verl", per_token=True,
        )
        out = torch.from_numpy(np.ascontiguousarray(adv)).to(
            device=token_level_rewards.device, dtype=token_level_rewards.dtype)
        return out, out

    estimator.__name__ = f"compute_{name}_advantage"
    estimator.__qualname__ = estimator.__name__
    estimator.__doc__ = (
        f"verl advantage estimator {name!r}: per-reward scores from non_tensor_batch "
        f"(algorithm.gdpo_reward_keys), Fast RL weights updated once per batch, "
        f"fastrl.group_advantages(estimator={kind!r}, convention='verl')."
    )
    return estimator


_ESTIMATOR_FNS: dict[str, _Estimator] = {name: _estimator(name, kind) for name, kind in ESTIMATORS.items()}


def compute_gae_advantage_return(token_level_rewards: torch.Tensor, values: torch.Tensor,
                                 response_mask: torch.Tensor, gamma: float,
                                 lam: float) -> Tuple[torch.Tensor, torch.Tensor]:
    """verl's ``compute_gae_advantage_return`` (carry-forward mask, advantages whitened
    over valid tokens) computed by the Rust core in one pass.

    Inside a ``compute_advantage`` call made after ``install(gae=True)`` with
    ``algorithm.gdpo_reward_keys`` set, the rewards are Fast RL's composite: verl's
    ``token_level_scores`` are replaced by ``sum_i w_i r_i`` placed on each response's
    last valid token, keeping verl's KL penalty (``token_level_rewards -
    token_level_scores``)."""
    rewards = _np(token_level_rewards)
    mask = _np(response_mask) != 0
    data, config = _DATA.get()
    state = _ACTIVE
    if data is not None and state is not None and state.gae:
        if config is not None and state.options(config)[1]:
            scores = state.scores(config, data.non_tensor_batch, rewards.shape[0])
            weights = state.weights_for(config, scores)
            composite = fastrl.compose(scores.astype(np.float32), weights, mask=mask, mode="carry")
            base = _np(data.batch["token_level_scores"]) if "token_level_scores" in data.batch.keys() else 0.0
            rewards = rewards - base + composite
    adv, ret = fastrl.gae(rewards, _np(values), mask, gamma=float(gamma), lam=float(lam),
                          mode="carry", whiten=True)
    dev = token_level_rewards.device
    return torch.from_numpy(adv).to(dev), torch.from_numpy(ret).to(dev)


def _wrap_compute_advantage(original: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(original)
    def compute_advantage(data: Any, adv_estimator: Any, *args: Any, config: Any = None,
                          **kwargs: Any) -> Any:
        token = _DATA.set((data, config))
        try:
            return original(data, adv_estimator, *args, config=config, **kwargs)
        finally:
            _DATA.reset(token)

    # A marker attribute on the wrapper (functools' _Wrapped type does not declare it).
    compute_advantage.__fastrl_original__ = original  # type: ignore[attr-defined]
    return compute_advantage


def _wrap_compute_data_metrics(original: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(original)
    def compute_data_metrics(*args: Any, **kwargs: Any) -> Any:
        out = original(*args, **kwargs)
        if _ACTIVE is not None:
            out.update(_ACTIVE.pop_metrics())
        return out

    return compute_data_metrics


def _tq_scores(batch: Any, keys: Sequence[str]) -> npt.NDArray[np.float64]:
    """The per-reward scores of a v1 ``KVBatchMeta`` from TransferQueue, ``[n, B]``."""
    import transfer_queue as tq

    data = tq.kv_batch_get(keys=batch.keys, partition_id=batch.partition_id, select_fields=["extra_fields"])
    extras = list(data["extra_fields"])
    rows = []
    for e in extras:
        info = e.get("reward_extra_info", {}) if isinstance(e, dict) else {}
        rows.append(info)
    if all(all(k in info for k in keys) for info in rows):
        return np.array([[float(info[k]) for info in rows] for k in keys], dtype=np.float64)
    # Colocated reward model: extra keys are written back as fields of their own.
    data = tq.kv_batch_get(keys=batch.keys, partition_id=batch.partition_id, select_fields=list(keys))
    return np.stack([np.asarray(list(data[k]), dtype=np.float64).reshape(-1) for k in keys])


def _wrap_v1_compute_advantage(original: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(original)
    def _compute_advantage(self: Any, batch: Any, metrics: dict[str, Any]) -> Any:
        state = _ACTIVE
        config = self.config.algorithm
        token: Optional[contextvars.Token[Optional[npt.NDArray[np.float64]]]] = None
        if state is not None and state.uses_composer(config):
            # No reward keys (None) raises TypeError in _tq_scores, as in scores().
            token = _SCORES.set(_tq_scores(batch, state.options(config)[1]))  # type: ignore[arg-type]
        try:
            out = original(self, batch, metrics)
        finally:
            if token is not None:
                _SCORES.reset(token)
        if state is not None:
            metrics.update(state.pop_metrics())
        return out

    return _compute_advantage


def _resume_folder(trainer: Any) -> Optional[str]:
    """The ``global_step_N`` folder verl's ``_load_checkpoint`` just loaded, or None."""
    if int(getattr(trainer, "global_steps", 0) or 0) <= 0:
        return None
    t = trainer.config.trainer
    if t.resume_mode == "resume_path":
        folder = t.resume_from_path
    else:
        folder = os.path.join(t.default_local_dir, f"global_step_{trainer.global_steps}")
    return folder if os.path.isabs(folder) else os.path.join(os.getcwd(), folder)


def _wrap_save(original: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(original)
    def _save_checkpoint(self: Any, *args: Any, **kwargs: Any) -> Any:
        if _ACTIVE is not None:
            folder = os.path.join(self.config.trainer.default_local_dir, f"global_step_{self.global_steps}")
            _ACTIVE.save(self, folder)  # before verl writes latest_checkpointed_iteration.txt
        return original(self, *args, **kwargs)

    return _save_checkpoint


def _wrap_load(original: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(original)
    def _load_checkpoint(self: Any, *args: Any, **kwargs: Any) -> Any:
        out = original(self, *args, **kwargs)
        folder = _resume_folder(self)
        if _ACTIVE is not None and folder is not None:
            _ACTIVE.load(self, folder)
        return out

    return _load_checkpoint


def _patch(owner: Any, name: str, new: Any) -> None:
    _PATCHES.append((owner, name, getattr(owner, name)))
    setattr(owner, name, new)


def install(gae: bool = False) -> FastRLVerl:
    """Installs the integration into the imported verl (idempotent; see the module
    docstring for every name it wraps). ``gae=True`` also swaps verl's GAE for ours.
    Returns the :class:`FastRLVerl` state."""
    global _ACTIVE
    from verl.trainer.ppo import core_algos, ray_trainer

    if _ACTIVE is not None:
        if gae and not _ACTIVE.gae:
            _ACTIVE.gae = True
            _patch(core_algos, "compute_gae_advantage_return", compute_gae_advantage_return)
        return _ACTIVE
    for name, fn in _ESTIMATOR_FNS.items():
        core_algos.register_adv_est(name)(fn)
    _patch(ray_trainer, "compute_advantage", _wrap_compute_advantage(ray_trainer.compute_advantage))
    _patch(ray_trainer, "compute_data_metrics", _wrap_compute_data_metrics(ray_trainer.compute_data_metrics))
    _patch(ray_trainer.RayPPOTrainer, "_save_checkpoint", _wrap_save(ray_trainer.RayPPOTrainer._save_checkpoint))
    _patch(ray_trainer.RayPPOTrainer, "_load_checkpoint", _wrap_load(ray_trainer.RayPPOTrainer._load_checkpoint))
    try:  # the v1 trainer needs TransferQueue; without it only the legacy trainer exists
        from verl.trainer.ppo.v1 import trainer_base, utils as v1_utils
    except ImportError:
        trainer_base = None
    if trainer_base is not None:
        _patch(v1_utils, "compute_advantage", ray_trainer.compute_advantage)
        cls = trainer_base.PPOTrainer
        _patch(cls, "_compute_advantage", _wrap_v1_compute_advantage(cls._compute_advantage))
        _patch(cls, "_save_checkpoint", _wrap_save(cls._save_checkpoint))
        _patch(cls, "_load_checkpoint", _wrap_load(cls._load_checkpoint))
    _ACTIVE = FastRLVerl(gae=gae)
    if gae:
        _patch(core_algos, "compute_gae_advantage_return", compute_gae_advantage_return)
    return _ACTIVE


def install_gae() -> FastRLVerl:
    """``install(gae=True)``, as a zero-argument callable for Ray's
    ``worker_process_setup_hook``."""
    return install(gae=True)


def uninstall() -> None:
    """Restores every wrapped name (the registered estimators stay in verl's registry,
    which has no removal; they raise until :func:`install` is called again)."""
    global _ACTIVE
    while _PATCHES:
        owner, name, original = _PATCHES.pop()
        setattr(owner, name, original)
    _ACTIVE = None
