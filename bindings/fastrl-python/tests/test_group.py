"""fastrl.group_advantages against re-creations of the peers' own torch code (verl 0.9.1
``core_algos.py`` and ``torch_functional.py``, trl 1.16.0 ``grpo_trainer.py`` and
``rloo_trainer.py``, copied from the released wheels line for line), and the new Fast RL
options (reference normalisation, eta "auto", the KL ball, optimistic updates).

verl is not installed in this environment (it pins ``transformers<5.11``); where it can be
imported, its real functions are checked too."""

import math

import numpy as np
import pytest

import fastrl

torch = pytest.importorskip("torch")
from peer_defs import (  # noqa: E402
    trl_grpo,
    trl_rloo,
    verl_gdpo,
    verl_grpo,
    verl_reinforce_pp_baseline,
    verl_rloo,
)


# ---- data ------------------------------------------------------------------------------

def batch(seed, n=3, prompts=6, k=4, t=7):
    """n rewards on different scales, `prompts` groups of `k` (contiguous for trl, and a
    shuffled uid labelling for verl), a response mask of varying lengths."""
    rng = np.random.default_rng(seed)
    b = prompts * k
    scales = np.array([1.0, 30.0, 0.01])[:n]
    scores = (rng.normal(size=(n, b)) * scales[:, None]).astype(np.float32)
    lengths = rng.integers(1, t + 1, size=b)
    mask = (np.arange(t)[None, :] < lengths[:, None]).astype(np.float32)
    uid_of_prompt = np.array([f"uid-{p:03d}" for p in rng.permutation(prompts)], dtype=object)
    uid = np.repeat(uid_of_prompt, k)
    weights = rng.uniform(0.2, 1.0, size=n).astype(np.float32)
    return scores, mask, uid, weights


def token_level(score, mask):
    """A sequence score placed at the last valid token, as verl's reward managers do."""
    tl = torch.zeros(mask.shape, dtype=torch.float32)
    last = mask.sum(axis=1).astype(int) - 1
    tl[torch.arange(mask.shape[0]), torch.as_tensor(last)] = torch.as_tensor(score)
    return tl


def close(ours, theirs, tol=2e-5):
    theirs = np.asarray(theirs, dtype=np.float64)
    scale = max(1.0, float(np.abs(theirs).max()))
    np.testing.assert_allclose(np.asarray(ours, dtype=np.float64), theirs, rtol=0, atol=tol * scale)


# ---- verl --------------------------------------------------------------------------------

@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("norm", [True, False])
def test_grpo_equals_verl(seed, norm):
    scores, mask, uid, w = batch(seed)
    composite = (w[:, None] * scores).sum(axis=0)
    tm = torch.as_tensor(mask)
    want, _ = verl_grpo(token_level(composite, mask), tm, uid, norm_adv_by_std_in_grpo=norm)
    got = fastrl.group_advantages(scores, uid, weights=w, mask=mask, estimator="grpo",
                                  scale="group" if norm else "none", convention="verl",
                                  per_token=True)
    close(got, want)


@pytest.mark.parametrize("seed", [0, 1])
def test_rloo_and_reinforce_pp_equal_verl(seed):
    scores, mask, uid, w = batch(seed)
    composite = (w[:, None] * scores).sum(axis=0)
    tm = torch.as_tensor(mask)
    want, _ = verl_rloo(token_level(composite, mask), tm, uid)
    close(fastrl.group_advantages(scores, uid, w, mask, "rloo", per_token=True), want)
    want, _ = verl_reinforce_pp_baseline(token_level(composite, mask), tm, uid)
    close(fastrl.group_advantages(scores, uid, w, mask, "reinforce_pp", per_token=True), want)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_gdpo_equals_verl(seed):
    scores, mask, uid, w = batch(seed)
    tm = torch.as_tensor(mask)
    want, _ = verl_gdpo([token_level(s, mask) for s in scores], tm, uid, torch.as_tensor(w))
    got = fastrl.group_advantages(scores, uid, w, mask, "gdpo", convention="verl", per_token=True)
    close(got, want)


def test_singletons_follow_verl():
    scores, mask, uid, w = batch(3, prompts=3, k=2)
    uid = uid.copy()
    uid[0] = "alone"  # a group of one, and its former group shrinks to one too
    composite = (w[:, None] * scores).sum(axis=0)
    tm = torch.as_tensor(mask)
    want, _ = verl_grpo(token_level(composite, mask), tm, uid)
    got, stats = fastrl.group_advantages(scores, uid, w, mask, per_token=True, return_stats=True)
    close(got, want)
    assert stats["singletons"] == 2
    want, _ = verl_rloo(token_level(composite, mask), tm, uid)
    close(fastrl.group_advantages(scores, uid, w, mask, "rloo", per_token=True), want)


def test_dense_rewards_are_summed_per_response():
    scores, mask, uid, w = batch(4, n=2)
    rng = np.random.default_rng(4)
    dense = (rng.normal(size=(2,) + mask.shape) * mask).astype(np.float32)
    composite = (w[:, None, None] * dense).sum(axis=0)
    want, _ = verl_grpo(torch.as_tensor(composite), torch.as_tensor(mask), uid)
    got = fastrl.group_advantages(list(dense), uid, w, mask, per_token=True)
    close(got, want)


def test_real_verl_where_installed():
    core_algos = pytest.importorskip("verl.trainer.ppo.core_algos")
    scores, mask, uid, w = batch(5)
    composite = (w[:, None] * scores).sum(axis=0)
    want, _ = core_algos.compute_grpo_outcome_advantage(
        token_level_rewards=token_level(composite, mask), response_mask=torch.as_tensor(mask), index=uid)
    close(fastrl.group_advantages(scores, uid, w, mask, per_token=True), want)


# ---- trl ---------------------------------------------------------------------------------

@pytest.mark.parametrize("seed", [0, 1])
@pytest.mark.parametrize("scale", ["group", "batch", "none"])
def test_grpo_equals_trl(seed, scale):
    scores, mask, _, w = batch(seed)
    k = 4
    groups = np.repeat(np.arange(scores.shape[1] // k), k)  # trl: contiguous blocks
    want = trl_grpo(torch.as_tensor(scores.T.copy()), torch.as_tensor(w), k, scale, "sum_then_normalize")
    got = fastrl.group_advantages(scores, groups, w, estimator="grpo", scale=scale, convention="trl")
    close(got, want)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_gdpo_equals_trl_normalize_then_sum(seed):
    scores, _, _, w = batch(seed)
    k = 4
    groups = np.repeat(np.arange(scores.shape[1] // k), k)
    want = trl_grpo(torch.as_tensor(scores.T.copy()), torch.as_tensor(w), k, "group", "normalize_then_sum")
    got = fastrl.group_advantages(scores, groups, w, estimator="gdpo", convention="trl")
    close(got, want)


@pytest.mark.parametrize("normalize", [False, True])
def test_rloo_equals_trl(normalize):
    scores, _, _, w = batch(7)
    k = 4
    groups = np.repeat(np.arange(scores.shape[1] // k), k)
    want = trl_rloo(torch.as_tensor(scores.T.copy()), torch.as_tensor(w), k, normalize)
    got = fastrl.group_advantages(scores, groups, w, estimator="rloo", convention="trl", whiten=normalize)
    close(got, want)


def test_trl_groups_of_one_give_zero():
    scores, _, _, w = batch(8, prompts=5, k=1)
    groups = np.arange(scores.shape[1])
    want = trl_grpo(torch.as_tensor(scores.T.copy()), torch.as_tensor(w), 1, "group", "sum_then_normalize")
    got = fastrl.group_advantages(scores, groups, w, convention="trl")
    close(got, want)
    assert np.all(got == 0)


# ---- definitions that must fail: a wrong estimator is told apart -------------------------

def test_a_wrong_definition_is_detected():
    scores, mask, uid, w = batch(9)
    composite = (w[:, None] * scores).sum(axis=0)
    want, _ = verl_grpo(token_level(composite, mask), torch.as_tensor(mask), uid)
    # RLOO's k/(k-1) scaling and Dr. GRPO's missing division are not GRPO.
    for est, scale in [("rloo", "group"), ("grpo", "none"), ("grpo", "batch")]:
        got = fastrl.group_advantages(scores, uid, w, mask, est, scale=scale, per_token=True)
        with pytest.raises(AssertionError):
            close(got, want)


def test_bad_group_input_is_named():
    scores, mask, uid, w = batch(10)
    with pytest.raises(ValueError, match="groups"):
        fastrl.group_advantages(scores, uid[:-1], w, mask)
    with pytest.raises(ValueError, match="group_size|members"):
        fastrl.group_advantages(scores, uid, w, mask, group_size=3)
    with pytest.raises(ValueError, match="estimator"):
        fastrl.group_advantages(scores, uid, w, mask, estimator="ppo")
    bad = scores.copy()
    bad[1, 3] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        fastrl.group_advantages(bad, uid, w, mask)


# ---- Fast RL's new options ---------------------------------------------------------------

def test_reference_normalisation_and_composition():
    c = fastrl.FastRLComposer(2, eta=1.0, normalize="reference", compose_on="normalized")
    with pytest.raises(ValueError, match="reference"):
        c.update([0.1, 0.5])
    rng = np.random.default_rng(0)
    calib = np.stack([rng.normal(0.1, 0.05, 400), rng.normal(50.0, 20.0, 400)]).astype(np.float32)
    mean, std = c.calibrate(calib)
    np.testing.assert_allclose(mean, calib.mean(axis=1), rtol=1e-5)
    np.testing.assert_allclose(std, calib.std(axis=1, ddof=1), rtol=1e-5)
    # Each reward one std above its reference: z = (1, 1), the weights stay uniform
    # whatever the scales.
    w = c.update([mean[0] + std[0], mean[1] + std[1]])
    np.testing.assert_allclose(w, [0.5, 0.5], atol=1e-6)
    w = c.update([mean[0], mean[1] + std[1]])  # z = (0, 1): reward 0 lags by one std
    np.testing.assert_allclose(w[0] / w[1], math.e, rtol=1e-5)
    k, offset = c.composition()
    r = np.array([0.2, 70.0], dtype=np.float32)
    np.testing.assert_allclose(k @ r + offset, (c.weights * (r - mean) / std).sum(), rtol=1e-4)
    # The state record carries the reference.
    d = fastrl.FastRLComposer(2, eta=1.0, normalize="reference", compose_on="normalized")
    d.load_state_dict(c.state_dict())
    np.testing.assert_allclose(d.reference[1], std, rtol=1e-6)
    np.testing.assert_array_equal(d.update([0.3, 10.0]), c.update([0.3, 10.0]))


def test_eta_auto_ball_and_optimistic_rule():
    c = fastrl.FastRLComposer(4, eta="auto", horizon=200, radius=0.1, rule="optimistic")
    assert abs(c.eta - math.sqrt(8 * math.log(4) / 200)) < 1e-6
    for _ in range(300):
        w = c.update([0.0, 1.0, 1.0, 1.0])  # reward 0 always lags
        kl = float(np.sum(w * np.log(4 * w)))
        assert kl <= 0.1 + 1e-6
    assert w[0] > 0.25 and w.min() > 0.07  # pressed to the edge, above the floor 0.0776
    with pytest.raises(ValueError, match="horizon"):
        fastrl.FastRLComposer(2, eta="auto")
    with pytest.raises(ValueError, match="rule"):
        fastrl.FastRLComposer(2, eta=1.0, rule="nesterov")
    with pytest.raises(ValueError, match="radius"):
        fastrl.FastRLComposer(2, eta=1.0, radius=-1.0)


def test_fast_rl_composes_gdpo():
    """GDPO with weights from a bounded Fast RL composer: the lagging reward's share of
    the advantage grows, and the advantages equal verl's gdpo with those weights."""
    scores, mask, uid, _ = batch(11, n=2)
    c = fastrl.FastRLComposer(2, eta=2.0, radius=0.2)
    w = c.update([0.0, 1.0])
    assert w[0] > w[1]
    got = fastrl.group_advantages(scores, uid, w, mask, "gdpo", per_token=True)
    want, _ = verl_gdpo([token_level(s, mask) for s in scores], torch.as_tensor(mask), uid,
                        torch.as_tensor(w))
    close(got, want)
