"""Fast RL reward weights for trl's ``GRPOTrainer`` (tested against trl 1.16.0), saved in
trl's checkpoints.

trl's ``GRPOConfig.reward_weights`` are fixed for a run. :class:`FastRLRewardWeights`
makes them Fast RL weights::

    trainer = GRPOTrainer(model=..., reward_funcs=[f1, f2], args=GRPOConfig(
        ..., multi_objective_aggregation="normalize_then_sum"))
    FastRLRewardWeights(fastrl.FastRLComposer(2, eta=1.0)).attach(trainer)
    trainer.train()                       # or train(resume_from_checkpoint=True)

What ``attach`` does to the trainer instance (nothing else is patched):

* wraps ``trainer._calculate_rewards`` (trl's per-function rewards ``[B, n]`` of one
  generation batch, gathered over all processes): for a training batch it updates the
  composer once with the per-function means (NaN = function not applicable, skipped)
  and writes the new weights into ``trainer.reward_weights`` *before* trl composes this
  batch (Algorithm 1: update, then compose; no one-step lag). With
  ``"normalize_then_sum"`` trl then sums the per-function group-normalised rewards with
  these weights. Every process sees the same gathered rewards, so every rank computes
  the same weights.
* logs ``fastrl/weight/<name>`` next to trl's ``rewards/<name>/mean`` (through trl's
  own metrics buffer, averaged over the logging window like trl's metrics).
* registers itself as a ``TrainerCallback``: ``on_save`` writes
  ``checkpoint-N/fastrl_state.json`` (the composer's record, the weights, the names) on
  the main process; and wraps ``trainer.train`` so that ``resume_from_checkpoint``
  (a path, or ``True`` for the last checkpoint in ``output_dir``) restores it before
  trl starts.

A composer with ``normalize="standardize"`` or ``"reference"`` sees each function's
mean on its own scale (a z-score), so functions with different ranges compete fairly.
"""

from __future__ import annotations

import base64
import functools
import json
import os
from typing import TYPE_CHECKING, Any, Optional, Tuple, Union, cast

import numpy as np
import numpy.typing as npt
import torch
from transformers import TrainerCallback

if TYPE_CHECKING:
    from transformers import TrainerControl, TrainerState, TrainingArguments

    from . import _Composer

__all__ = ["FastRLRewardWeights", "STATE_FILE"]

#: The file written in each ``checkpoint-N`` folder.
STATE_FILE: str = "fastrl_state.json"
_STATE_VERSION: int = 1


class FastRLRewardWeights(TrainerCallback):
    """Drives ``trainer.reward_weights`` with a fastrl composer, one update per
    generation batch; saves and restores its state with trl's checkpoints.

    ``strict_resume``: resuming from a checkpoint without ``fastrl_state.json`` raises
    (False: keep the fresh composer)."""

    composer: _Composer
    strict_resume: bool
    #: The trl trainer (a ``GRPOTrainer``; None before :meth:`attach`). ``Any``: its
    #: methods are replaced on the instance.
    trainer: Any
    #: The trainer's reward function names (None before :meth:`attach`).
    names: Optional[list[str]]
    history: list[Tuple[int, list[float], list[float]]]

    def __init__(self, composer: _Composer, strict_resume: bool = True) -> None:
        self.composer = composer
        self.strict_resume = strict_resume
        self.trainer = None
        self.names = None
        self.history = []  # (global_step, means, weights) per training batch

    def attach(self, trainer: Any) -> FastRLRewardWeights:
        """Hooks into ``trainer`` (see the module docstring) and sets its weights to the
        composer's current ones."""
        if self.trainer is not None:
            raise RuntimeError("this FastRLRewardWeights is already attached to a trainer")
        names = list(trainer.reward_func_names)
        if len(names) != self.composer.num_rewards:
            raise ValueError(f"the composer has {self.composer.num_rewards} rewards, the trainer {len(names)} ({names})")
        self.trainer, self.names = trainer, names
        self._set_weights(self.composer.weights)

        original_rewards = trainer._calculate_rewards

        @functools.wraps(original_rewards)
        def _calculate_rewards(*args: Any, **kwargs: Any) -> Any:
            rewards_per_func = original_rewards(*args, **kwargs)
            if trainer.model.training:
                self._update(rewards_per_func)
            return rewards_per_func

        trainer._calculate_rewards = _calculate_rewards

        original_train = trainer.train

        @functools.wraps(original_train)
        def train(resume_from_checkpoint: Union[str, bool, None] = None, *args: Any,
                  **kwargs: Any) -> Any:
            if resume_from_checkpoint:
                path = resume_from_checkpoint
                if path is True:
                    from transformers.trainer_utils import get_last_checkpoint

                    path = get_last_checkpoint(trainer.args.output_dir)
                if path:
                    self.load(path)
            return original_train(resume_from_checkpoint, *args, **kwargs)

        trainer.train = train
        trainer.add_callback(self)
        return self

    def _set_weights(self, weights: npt.ArrayLike) -> None:
        self.trainer.reward_weights = torch.tensor(np.asarray(weights, dtype=np.float32))

    def _update(self, rewards_per_func: torch.Tensor) -> None:
        r = rewards_per_func.detach().to("cpu", torch.float64).numpy()
        means = np.array([np.nanmean(c) if np.isfinite(c).any() else np.nan for c in r.T])
        if not np.all(np.isfinite(means)):
            return  # a function scored nothing in this batch: keep the weights
        weights = np.asarray(self.composer.update(means.astype(np.float32)), dtype=np.float32)
        self._set_weights(weights)
        buf = self.trainer._metrics["train"]
        for name, w in zip(cast("list[str]", self.names), weights):  # set by attach()
            buf[f"fastrl/weight/{name}"].append(float(w))
        self.history.append((int(self.trainer.state.global_step), means.tolist(), weights.tolist()))

    # -- checkpoints ---------------------------------------------------------------------
    def state_record(self) -> dict[str, Any]:
        return {
            "version": _STATE_VERSION,
            "names": self.names,
            "composer": base64.b64encode(self.composer.state_dict()).decode("ascii"),
            "weights": [float(w) for w in self.trainer.reward_weights.tolist()],
        }

    def on_save(self, args: TrainingArguments, state: TrainerState, control: TrainerControl,
                **kwargs: Any) -> TrainerControl:
        if not state.is_world_process_zero:
            return control
        # `output_dir` is Optional in TrainingArguments' fields; __post_init__ sets it.
        folder = os.path.join(cast(str, args.output_dir), f"checkpoint-{state.global_step}")
        os.makedirs(folder, exist_ok=True)
        path = os.path.join(folder, STATE_FILE)
        with open(path + ".tmp", "w") as f:
            json.dump(self.state_record(), f)
        os.replace(path + ".tmp", path)
        return control

    def load(self, checkpoint_dir: Union[str, os.PathLike[str]]) -> Optional[dict[str, Any]]:
        """Restores the composer and the trainer's weights from ``checkpoint_dir``."""
        path = os.path.join(checkpoint_dir, STATE_FILE)
        if not os.path.exists(path):
            if self.strict_resume:
                raise FileNotFoundError(f"{path} is missing: this checkpoint holds no Fast RL state "
                                        "(strict_resume=False starts the composer afresh)")
            return None
        with open(path) as f:
            record: dict[str, Any] = json.load(f)
        if record.get("version") != _STATE_VERSION:
            raise ValueError(f"{path}: version {record.get('version')}, expected {_STATE_VERSION}")
        if record.get("names") != self.names:
            raise ValueError(f"{path} holds reward functions {record.get('names')}, the trainer {self.names}")
        self.composer.load_state_dict(base64.b64decode(record["composer"]))
        self._set_weights(record["weights"])
        return record
