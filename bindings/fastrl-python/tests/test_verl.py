"""fastrl.verl against the installed verl (0.9.1): verl's own compute_advantage dispatch
on DataProto batches built as verl's trainer builds them, and save -> new process ->
restore through verl's own _save_checkpoint/_load_checkpoint.

Run in .venv-verl (scripts/verl-env.sh); skipped where verl is not importable.
verl's Ray trainer itself needs GPUs (its worker groups are FSDP/Megatron actors), so
the checkpoint tests call verl's real RayPPOTrainer / v1 PPOTrainer save and load
methods on a trainer whose only stand-in is the worker group (a recorder of the
save/load calls it receives).
"""

import copy
import json
import os
import subprocess
import sys
import uuid

import numpy as np
import pytest

if os.environ.get("FASTRL_REQUIRE_VERL") == "1":
    import verl  # noqa: F401  (scripts/test.sh: a missing verl is a failure, not a skip)
pytest.importorskip("verl", reason="verl is not installed here (run in .venv-verl: scripts/verl-env.sh)")
torch = pytest.importorskip("torch")

from omegaconf import OmegaConf  # noqa: E402
from tensordict import TensorDict  # noqa: E402
from verl import DataProto  # noqa: E402
from verl.trainer.ppo import core_algos, ray_trainer  # noqa: E402

import fastrl  # noqa: E402
import fastrl.verl as fv  # noqa: E402

KEYS = ["accuracy", "format", "length", "safety"]
CONFIG = os.path.join(os.path.dirname(ray_trainer.__file__), "..", "config", "_generated_ppo_trainer.yaml")
VERL_GAE = core_algos.compute_gae_advantage_return  # verl's own, saved before install()


@pytest.fixture(autouse=True)
def installed():
    state = fv.install(gae=True)
    state.reset()
    yield state
    state.reset()


def full_config(**algorithm):
    cfg = OmegaConf.load(CONFIG)
    cfg = OmegaConf.merge(cfg, {"algorithm": {"gdpo_reward_keys": list(KEYS), **algorithm}})
    return cfg


def make_batch(step, prompts=8, n=4, prompt_len=5, resp_len=12, levels=(0.8, 0.6, 0.4, 0.2), seed=0):
    """A batch as verl's fit loop holds it at the advantage step: uid repeated
    `n` times (interleaved, as `batch.repeat(interleave=True)`), right-padded responses,
    `token_level_scores` = the reward manager's score on the last valid token, the
    per-reward scores from compute_score's dict in non_tensor_batch."""
    g = np.random.default_rng(seed * 1000 + step)
    b = prompts * n
    uids = np.array([str(uuid.UUID(int=int(g.integers(1 << 62)))) for _ in range(prompts)], dtype=object)
    uid = np.repeat(uids, n)
    lengths = g.integers(1, resp_len + 1, size=b)
    response_mask = (np.arange(resp_len)[None, :] < lengths[:, None]).astype(np.int64)
    attention_mask = np.concatenate([np.ones((b, prompt_len), np.int64), response_mask], axis=1)
    scores = {k: np.clip(lv + 0.2 * g.standard_normal(b), 0, 1).astype(np.float32) for k, lv in zip(KEYS, levels)}
    total = sum(scores.values())
    tls = np.zeros((b, resp_len), np.float32)
    tls[np.arange(b), lengths - 1] = total
    td = TensorDict({
        "prompts": torch.from_numpy(g.integers(0, 100, size=(b, prompt_len))),
        "responses": torch.from_numpy(g.integers(0, 100, size=(b, resp_len))),
        "attention_mask": torch.from_numpy(attention_mask),
        "response_mask": torch.from_numpy(response_mask),
        "token_level_scores": torch.from_numpy(tls),
        "token_level_rewards": torch.from_numpy(tls.copy()),
        "values": torch.from_numpy(g.standard_normal((b, resp_len)).astype(np.float32)),
        "old_log_probs": torch.from_numpy(-np.abs(g.standard_normal((b, resp_len))).astype(np.float32)),
        "ref_log_prob": torch.from_numpy(-np.abs(g.standard_normal((b, resp_len))).astype(np.float32)),
    }, batch_size=[b])
    ntb = {"uid": uid, **{k: np.array(v.tolist()) for k, v in scores.items()}}
    return DataProto(batch=td, non_tensor_batch=ntb, meta_info={})


def advantages(data, cfg, full=False):
    out = ray_trainer.compute_advantage(
        copy.deepcopy(data), adv_estimator=cfg.algorithm.adv_estimator, gamma=cfg.algorithm.gamma,
        lam=cfg.algorithm.lam, num_repeat=4, norm_adv_by_std_in_grpo=cfg.algorithm.norm_adv_by_std_in_grpo,
        config=cfg.algorithm,
    )
    return out if full else (out.batch["advantages"], out.batch["returns"])


def composite_batch(data, weights):
    """The batch with token_level_rewards = sum_i w_i score_i on the last valid token."""
    d = copy.deepcopy(data)
    mask = d.batch["response_mask"].numpy() != 0
    chans = np.stack([np.asarray(d.non_tensor_batch[k], np.float32) for k in KEYS])
    tlr = fastrl.compose(chans, np.asarray(weights, np.float32), mask=mask, mode="carry")
    d.batch["token_level_rewards"] = torch.from_numpy(tlr)
    d.batch["token_level_scores"] = torch.from_numpy(tlr.copy())
    return d


def test_registered_in_verls_registry():
    for name in fv.ESTIMATORS:
        assert core_algos.get_adv_estimator_fn(name) is fv._ESTIMATOR_FNS[name]
    assert ray_trainer.compute_advantage.__fastrl_original__ is not None


@pytest.mark.parametrize("weights", [None, [0.1, 0.2, 0.3, 0.4]])
def test_fixed_weights_equal_verls_gdpo(installed, weights):
    extra = {} if weights is None else {"gdpo_reward_weights": weights}
    data = make_batch(0)
    ours, _ = advantages(data, full_config(adv_estimator="fastrl_gdpo", fastrl={"composer": "fixed"}, **extra))
    theirs, _ = advantages(data, full_config(adv_estimator="gdpo", **extra))
    torch.testing.assert_close(ours, theirs, rtol=1e-5, atol=1e-5)
    assert installed.pending_metrics["fastrl/weight/accuracy"] == pytest.approx(1.0 if weights is None else 0.1)


def test_fastrl_with_eta_zero_stays_uniform_and_equals_verls_gdpo(installed):
    data = make_batch(1)
    ours, _ = advantages(data, full_config(adv_estimator="fastrl_gdpo", fastrl={"eta": 0.0}))
    theirs, _ = advantages(data, full_config(adv_estimator="gdpo"))
    torch.testing.assert_close(ours, theirs, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(installed.composer.weights, 0.25, rtol=1e-6)


@pytest.mark.parametrize("ours,theirs,norm", [
    ("fastrl_grpo", "grpo", True),
    ("fastrl_grpo", "grpo", False),
    ("fastrl_rloo", "rloo", True),
    ("fastrl_reinforce_plus_plus_baseline", "reinforce_plus_plus_baseline", True),
])
def test_fixed_weights_equal_verls_estimator_on_the_composite(ours, theirs, norm):
    w = [0.4, 0.3, 0.2, 0.1]
    data = make_batch(2)
    a, _ = advantages(data, full_config(adv_estimator=ours, norm_adv_by_std_in_grpo=norm,
                                        gdpo_reward_weights=w, fastrl={"composer": "fixed"}))
    b, _ = advantages(composite_batch(data, w), full_config(adv_estimator=theirs, norm_adv_by_std_in_grpo=norm))
    torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-5)


def test_fastrl_moves_weight_to_the_lagging_reward_and_logs_it(installed):
    cfg = full_config(adv_estimator="fastrl_gdpo", fastrl={"eta": 2.0})
    history = []
    for step in range(5):
        data = advantages(make_batch(step), cfg, full=True)
        metrics = ray_trainer.compute_data_metrics(batch=data, use_critic=False)
        history.append([metrics[f"fastrl/weight/{k}"] for k in KEYS])
        assert metrics[f"fastrl/reward/{KEYS[0]}/mean"] > metrics[f"fastrl/reward/{KEYS[-1]}/mean"]
        assert "critic/score/mean" in metrics  # verl's own metrics are still there
        assert not any(k.startswith("fastrl/") for k in ray_trainer.compute_data_metrics(batch=data, use_critic=False))
    w = np.array(history)
    np.testing.assert_allclose(w.sum(axis=1), 1.0, rtol=1e-5)
    # The lowest-scoring reward ("safety") gains weight every step, the highest loses it.
    assert np.all(np.diff(w[:, -1]) > 0) and np.all(np.diff(w[:, 0]) < 0), w
    assert w[-1, -1] > 0.25 > w[-1, 0]


def test_gae_replacement_equals_verls_gae_and_composes_the_rewards(installed):
    data = make_batch(3)
    # No reward keys: verl's token_level_rewards as they are, on our core.
    plain = full_config(adv_estimator="gae", gamma=0.99, lam=0.95)
    plain.algorithm.gdpo_reward_keys = None
    a, r = advantages(data, plain)
    ea, er = VERL_GAE(data.batch["token_level_rewards"], data.batch["values"], data.batch["response_mask"], 0.99, 0.95)
    m = data.batch["response_mask"].bool()
    torch.testing.assert_close(a[m], ea[m], rtol=1e-4, atol=1e-4)
    torch.testing.assert_close(r[m], er[m], rtol=1e-4, atol=1e-4)
    # With the keys: Fast RL's composite in place of token_level_scores, KL part kept.
    cfg = full_config(adv_estimator="gae", gamma=0.99, lam=0.95, fastrl={"eta": 1.0})
    kl = copy.deepcopy(data)
    kl.batch["token_level_rewards"] = kl.batch["token_level_scores"] - 0.05 * kl.batch["response_mask"]
    a, r = advantages(kl, cfg)
    w = installed.composer.weights
    c = composite_batch(kl, w)
    ea, er = VERL_GAE(c.batch["token_level_rewards"] - 0.05 * c.batch["response_mask"], kl.batch["values"],
                      kl.batch["response_mask"], 0.99, 0.95)
    torch.testing.assert_close(a[m], ea[m], rtol=1e-4, atol=1e-4)
    torch.testing.assert_close(r[m], er[m], rtol=1e-4, atol=1e-4)
    assert installed.pending_metrics["fastrl/steps"] == 1.0


def test_estimator_without_install_context_says_what_to_do(installed):
    fn = core_algos.get_adv_estimator_fn("fastrl_gdpo")
    data = make_batch(4)
    with pytest.raises(RuntimeError, match="install"):
        fn(token_level_rewards=data.batch["token_level_rewards"], response_mask=data.batch["response_mask"],
           index=data.non_tensor_batch["uid"], config=full_config(adv_estimator="fastrl_gdpo").algorithm)


def test_ray_worker_process_setup_hook_installs_it_in_the_trainers_actor():
    """The documented way into verl's TaskRunner actor:
    +ray_kwargs.ray_init.runtime_env.worker_process_setup_hook=fastrl.verl.install_gae"""
    ray = pytest.importorskip("ray")

    @ray.remote
    class Probe:  # stands where verl's TaskRunner actor stands: a fresh Ray worker process
        def check(self):
            from verl.trainer.ppo import core_algos, ray_trainer

            import fastrl.verl as fv

            return ["fastrl_gdpo" in core_algos.ADV_ESTIMATOR_REGISTRY,
                    hasattr(ray_trainer.compute_advantage, "__fastrl_original__"),
                    core_algos.compute_gae_advantage_return is fv.compute_gae_advantage_return,
                    fv.integration() is not None and fv.integration().gae]

    ray.init(num_cpus=1, include_dashboard=False, log_to_driver=False,
             runtime_env={"worker_process_setup_hook": "fastrl.verl.install_gae"})
    try:
        assert ray.get(Probe.remote().check.remote(), timeout=300) == [True] * 4
    finally:
        ray.shutdown()


# -- checkpoints: verl's own _save_checkpoint / _load_checkpoint --------------------------


class RecordingWorkerGroup:
    """Stands in for the actor worker group (FSDP/Megatron Ray actors, GPU only)."""

    def __init__(self):
        self.calls = []

    def save_checkpoint(self, local_path, *args, **kwargs):
        os.makedirs(local_path, exist_ok=True)
        self.calls.append(("save", local_path))

    def load_checkpoint(self, local_path, *args, **kwargs):
        self.calls.append(("load", local_path))


def make_trainer(kind, ckpt_dir):
    from torchdata.stateful_dataloader import StatefulDataLoader

    cfg = full_config(adv_estimator="fastrl_gdpo", use_kl_in_reward=True,
                      kl_ctrl={"type": "adaptive", "kl_coef": 0.05, "target_kl": 0.01, "horizon": 100},
                      fastrl={"eta": 1.5, "rule": "optimistic"})
    cfg.trainer.default_local_dir = str(ckpt_dir)
    cfg.trainer.resume_mode = "auto"
    if kind == "legacy":
        cls = ray_trainer.RayPPOTrainer
    else:
        from verl.trainer.ppo.checkpoint_callback import CheckpointCallback
        from verl.trainer.ppo.v1.trainer_sync import PPOTrainerSync as cls  # trainer.v1.trainer_mode=sync
    t = object.__new__(cls)
    t.config = cfg
    t.global_steps = 0
    t.use_critic = False
    t.actor_rollout_wg = RecordingWorkerGroup()
    t.train_dataloader = StatefulDataLoader(list(range(64)), batch_size=4)
    t.kl_ctrl_in_reward = core_algos.get_kl_controller(cfg.algorithm.kl_ctrl)
    if kind == "v1":
        t.trainer_mode = "sync"
        t.checkpoint_callback = CheckpointCallback(config=cfg)
    return t


def train_step(t, step):
    """The advantage step of verl's fit loop: KL penalty into the rewards, then advantages."""
    data = make_batch(step, seed=7)
    data, _ = ray_trainer.apply_kl_penalty(data, kl_ctrl=t.kl_ctrl_in_reward, kl_penalty="kl")
    a, _ = advantages(data, t.config)
    t.global_steps = step + 1
    w = [float(x) for x in fv.integration().composer.weights]
    return {"weights": w, "adv": a.numpy().round(6).tolist(), "kl": float(t.kl_ctrl_in_reward.value)}


def resume_and_run(kind, ckpt_dir, steps):
    """In a fresh process: verl's _load_checkpoint (resume_mode=auto), then `steps` more."""
    fv.install(gae=True)
    t = make_trainer(kind, ckpt_dir)
    t._load_checkpoint()
    start = t.global_steps
    return {"start": start, "kl_at_start": float(t.kl_ctrl_in_reward.value),
            "steps": [train_step(t, s) for s in range(start, start + steps)]}


@pytest.mark.parametrize("kind", ["legacy", "v1"])
def test_save_new_process_restore_continues_identically(kind, tmp_path, installed):
    if kind == "v1":
        pytest.importorskip("transfer_queue", reason="verl's v1 trainer needs TransferQueue")
    t = make_trainer(kind, tmp_path)
    for s in range(3):
        train_step(t, s)
    kl_saved = float(t.kl_ctrl_in_reward.value)
    t._save_checkpoint()
    folder = tmp_path / "global_step_3"
    assert (folder / fv.STATE_FILE).exists() and (folder / "data.pt").exists()
    assert (tmp_path / "latest_checkpointed_iteration.txt").read_text() == "3"
    record = json.loads((folder / fv.STATE_FILE).read_text())
    assert record["reward_keys"] == KEYS and record["kl_value"] == kl_saved
    expected = [train_step(t, s) for s in range(3, 6)]

    out = subprocess.run(
        [sys.executable, __file__, "resume", kind, str(tmp_path), "3"],
        capture_output=True, text=True, timeout=600,
    )
    assert out.returncode == 0, out.stderr[-4000:]
    got = json.loads(out.stdout.strip().splitlines()[-1])
    assert got["start"] == 3
    assert got["kl_at_start"] == kl_saved  # verl alone would restart at kl_coef (verl #2653)
    assert got["steps"] == expected  # weights, advantages (6 decimals) and KL, step by step
    assert expected[-1]["weights"][-1] > expected[0]["weights"][-1]


def test_resume_from_a_checkpoint_without_fastrl_state_is_an_error(tmp_path):
    t = make_trainer("legacy", tmp_path)
    train_step(t, 0)
    t._save_checkpoint()
    os.remove(tmp_path / "global_step_1" / fv.STATE_FILE)
    fv.integration().reset()
    t2 = make_trainer("legacy", tmp_path)
    with pytest.raises(FileNotFoundError, match="strict_resume"):
        t2._load_checkpoint()
    t3 = make_trainer("legacy", tmp_path)
    t3.config.algorithm.fastrl.strict_resume = False
    t3._load_checkpoint()
    assert t3.global_steps == 1


if __name__ == "__main__" and sys.argv[1] == "resume":
    print(json.dumps(resume_and_run(sys.argv[2], sys.argv[3], int(sys.argv[4]))))
