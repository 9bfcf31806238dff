"""Fast RL reward weights for trl's GRPOTrainer: the supported API is now
``fastrl.trl.FastRLRewardWeights`` (see the README section "Use it in verl / trl"); this example keeps the
old name working.

Usage::

    trainer = GRPOTrainer(model=..., reward_funcs=[f1, f2], args=GRPOConfig(
        ..., logging_steps=1, multi_objective_aggregation="normalize_then_sum"))
    cb = FastRLWeightsCallback(fastrl.FastRLComposer(2, eta=1.0)).attach(trainer)
    trainer.train()

Each generation batch's per-function means update the composer once, and the new
weights compose that same batch (Algorithm 1, no lag); ``fastrl/weight/<name>`` is
logged every step and the composer's state is saved in each ``checkpoint-N`` and
restored by ``trainer.train(resume_from_checkpoint=...)``. Tested against trl 1.16.0
(tests/test_trl.py) and 1.12.0 (tests/test_examples.py).
"""

from fastrl.trl import FastRLRewardWeights as FastRLWeightsCallback

__all__ = ["FastRLWeightsCallback"]
