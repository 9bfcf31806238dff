"""verl's gdpo / grpo advantage estimators vs fastrl.verl's on the same DataProto, in
one process, on the CPU, through verl's own ``compute_advantage`` dispatch.

    .venv-verl/bin/python bindings/fastrl-python/bench/verl_speed.py [--responses 4096]
        [--rewards 4] [--tokens 1024] [--group 8] [--repeats 3]

Prints the best-of-``repeats`` wall time of each and the ratio verl / fastrl. The
fastrl times include everything our estimator does per batch: reading the per-reward
scores from non_tensor_batch, the composer update, the group advantages in the Rust core,
and the torch <-> NumPy copies.
"""

import argparse
import copy
import time
import uuid

import numpy as np
import torch
from omegaconf import OmegaConf
from tensordict import TensorDict
from verl import DataProto
from verl.trainer.ppo import ray_trainer

import fastrl.verl


def batch(b, n, t, group, seed=0):
    g = np.random.default_rng(seed)
    keys = [f"r{i}" for i in range(n)]
    uids = np.array([str(uuid.uuid4()) for _ in range(b // group)], dtype=object)
    lengths = g.integers(1, t + 1, size=b)
    mask = (np.arange(t)[None, :] < lengths[:, None]).astype(np.int64)
    scores = {k: g.random(b).astype(np.float32) for k in keys}
    tls = np.zeros((b, t), np.float32)
    tls[np.arange(b), lengths - 1] = sum(scores.values())
    td = TensorDict({
        "prompts": torch.zeros(b, 16, dtype=torch.int64),
        "responses": torch.zeros(b, t, dtype=torch.int64),
        "attention_mask": torch.from_numpy(np.concatenate([np.ones((b, 16), np.int64), mask], axis=1)),
        "response_mask": torch.from_numpy(mask),
        "token_level_scores": torch.from_numpy(tls),
        "token_level_rewards": torch.from_numpy(tls.copy()),
    }, batch_size=[b])
    ntb = {"uid": np.repeat(uids, group), **{k: np.array(v.tolist()) for k, v in scores.items()}}
    return DataProto(batch=td, non_tensor_batch=ntb, meta_info={}), keys


def config(keys, estimator, **fastrl_opts):
    return OmegaConf.create({"adv_estimator": estimator, "gdpo_reward_keys": keys, "norm_adv_by_std_in_grpo": True,
                             "fastrl": fastrl_opts, "gamma": 1.0, "lam": 1.0})


def timed(data, cfg, repeats):
    best, out = float("inf"), None
    for _ in range(repeats):
        d = copy.copy(data)  # shallow: the estimators only add keys
        d.batch = data.batch.clone()
        t0 = time.perf_counter()
        d = ray_trainer.compute_advantage(d, adv_estimator=cfg.adv_estimator, config=cfg, num_repeat=1,
                                          norm_adv_by_std_in_grpo=True)
        best = min(best, time.perf_counter() - t0)
        out = d.batch["advantages"]
    return best, out


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--responses", type=int, default=4096)
    p.add_argument("--rewards", type=int, default=4)
    p.add_argument("--tokens", type=int, default=1024)
    p.add_argument("--group", type=int, default=8)
    p.add_argument("--repeats", type=int, default=3)
    a = p.parse_args()
    torch.set_num_threads(max(1, torch.get_num_threads()))
    state = fastrl.verl.install()
    data, keys = batch(a.responses, a.rewards, a.tokens, a.group)
    print(f"{a.responses} responses x {a.rewards} rewards x {a.tokens} tokens, groups of {a.group}, "
          f"CPU, torch threads {torch.get_num_threads()}, best of {a.repeats}")
    rows = []
    for verl_name, ours_name, opts in [("gdpo", "fastrl_gdpo", {"composer": "fixed"}),
                                       ("gdpo", "fastrl_gdpo", {"eta": 1.0}),
                                       ("grpo", "fastrl_grpo", {"composer": "fixed"})]:
        if verl_name == "grpo":  # verl's grpo sees the composite (here: the plain sum) as token_level_rewards
            ref = config(keys, "grpo")
        else:
            ref = config(keys, "gdpo")
        tv, av = timed(data, ref, a.repeats)
        state.reset()
        tf, af = timed(data, config(keys, ours_name, **opts), a.repeats)
        # Fixed weights all 1 are verl's own definition: the outputs must agree.
        err = float((af - av).abs().max()) if opts.get("composer") == "fixed" else float("nan")
        label = f"{ours_name} ({'fixed weights' if opts.get('composer') == 'fixed' else 'Fast RL'})"
        rows.append((verl_name, label, tv, tf, err))
    print(f"{'verl':<6} {'fastrl':<32} {'verl s':>9} {'fastrl s':>9} {'ratio':>7}  max|diff|")
    for v, f, tv, tf, err in rows:
        print(f"{v:<6} {f:<32} {tv:9.4f} {tf:9.4f} {tv / tf:7.1f}x  {err:.1e}")


if __name__ == "__main__":
    main()
