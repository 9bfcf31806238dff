"""Fast RL reward weights for trl's GRPOTrainer.

trl's ``GRPOConfig.reward_weights`` are fixed for the whole run. This callback makes them
Fast RL weights: after every optimisation step it reads the step's per-reward means
(trl logs them as ``rewards/<name>/mean``), feeds them to a ``fastrl.FastRLComposer``
(Eq. (4)-(5)) and writes the new weights into ``trainer.reward_weights``, which trl
multiplies into the per-function rewards of the next generation batch. It also logs
``fastrl/weight/<name>`` next to trl's metrics every step.

Usage::

    trainer = GRPOTrainer(model=..., reward_funcs=[f1, f2], args=GRPOConfig(..., logging_steps=1))
    cb = FastRLWeightsCallback(fastrl.FastRLComposer(2, eta=1.0))
    cb.attach(trainer)
    trainer.train()

Tested against trl==1.12.0 (it reads the trainer's ``_metrics`` buffer, trl's own store
of the step's reward means, which a later trl may rename). One difference from
Algorithm 1: trl computes the rewards and the advantages of a batch in one call, so the
weights moved by a batch's means compose the *next* batch (a one-step lag); the core's
own fused pass (``fastrl.fused``) has no lag.
"""

from __future__ import annotations

import torch
from transformers import TrainerCallback


class FastRLWeightsCallback(TrainerCallback):
    """Drives ``trainer.reward_weights`` with a fastrl composer, one update per step."""

    def __init__(self, composer):
        self.composer = composer
        self.trainer = None
        self.names = None
        self.history = []  # (step, means, weights)

    def attach(self, trainer):
        """Registers with ``trainer`` and sets its weights to the composer's (uniform)."""
        self.trainer = trainer
        self.names = list(trainer.reward_func_names)
        if len(self.names) != self.composer.num_rewards:
            raise ValueError(
                f"the composer has {self.composer.num_rewards} rewards, the trainer {len(self.names)}"
            )
        trainer.reward_weights = torch.tensor(self.composer.weights, dtype=torch.float32)
        trainer.add_callback(self)
        return self

    def on_step_end(self, args, state, control, **kwargs):
        metrics = self.trainer._metrics["train"]
        keys = [f"rewards/{name}/mean" for name in self.names]
        if not all(metrics.get(k) for k in keys):
            return control
        means = [float(metrics[k][-1]) for k in keys]
        weights = self.composer.update(means)
        self.trainer.reward_weights = torch.tensor(weights, dtype=torch.float32)
        for name, w in zip(self.names, weights):
            metrics[f"fastrl/weight/{name}"].append(float(w))
        self.history.append((state.global_step, means, [float(w) for w in weights]))
        return control
