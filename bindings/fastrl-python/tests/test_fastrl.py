"""Tests of the fastrl Python package against hand-derived values and independent
NumPy re-creations of the equations (verl's GAE loop, the paper's appendix pseudo-code)."""

import math

import numpy as np
import pytest

import fastrl


def verl_gae(r, v, mask, gamma, lam):
    """verl's compute_gae_advantage_return loop (carry-forward mask), NumPy float64."""
    r, v, m = (np.asarray(x, dtype=np.float64) for x in (r, v, mask))
    b, t = r.shape
    next_v = np.zeros(b)
    last = np.zeros(b)
    adv = np.zeros((b, t))
    for k in reversed(range(t)):
        delta = r[:, k] + gamma * next_v - v[:, k]
        a = delta + gamma * lam * last
        next_v = v[:, k] * m[:, k] + (1 - m[:, k]) * next_v
        last = a * m[:, k] + (1 - m[:, k]) * last
        adv[:, k] = last
    ret = adv + v
    return adv * m, ret * m


def appendix_update(w, rewards, lam, temperature=1.0):
    """The paper's appendix pseudo-code, literally."""
    w = [wi * math.exp(lam * ri / temperature) for wi, ri in zip(w, rewards)]
    s = sum(w)
    return [wi / s for wi in w]


def test_gae_hand_values():
    r = np.array([[1, 2, 55], [1, 100, 3]], dtype=np.float32)
    v = np.array([[0.5, 1, np.nan], [1, 100, 2]], dtype=np.float32)
    m = np.array([[1, 1, 0], [1, 0, 1]])
    a, ret = fastrl.gae(r, v, m, gamma=0.5, lam=0.5, mode="carry")
    np.testing.assert_array_equal(a, [[1.25, 1.0, 0.0], [1.25, 0.0, 1.0]])
    np.testing.assert_array_equal(ret, [[1.75, 2.0, 0.0], [2.25, 0.0, 3.0]])
    assert a.dtype == np.float32 and a.shape == (2, 3)
    with pytest.raises(ValueError, match="MaskMode::Carry"):
        fastrl.gae(r, v, m, gamma=0.5, lam=0.5, mode="prefix")


@pytest.mark.parametrize("mode", ["carry", "prefix"])
def test_gae_matches_verl_loop(mode):
    rng = np.random.default_rng(0)
    b, t = 17, 67
    r = rng.normal(size=(b, t))  # float64 in, float32 out
    v = rng.normal(size=(b, t))
    if mode == "carry":
        m = (rng.random((b, t)) < 0.7).astype(np.float32)
    else:
        lens = rng.integers(0, t + 1, size=b)
        m = (np.arange(t)[None, :] < lens[:, None]).astype(bool)
    a, ret = fastrl.gae(r, v, m, gamma=0.99, lam=0.95, mode=mode)
    ea, er = verl_gae(r.astype(np.float32), v.astype(np.float32), m, 0.99, 0.95)
    np.testing.assert_allclose(a, ea, rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(ret, er, rtol=1e-4, atol=1e-4)


def test_non_contiguous_and_torch_like_inputs_are_accepted():
    rng = np.random.default_rng(1)
    r = rng.normal(size=(8, 5)).astype(np.float32)
    v = rng.normal(size=(8, 5)).astype(np.float32)
    a1, _ = fastrl.gae(r, v)
    a2, _ = fastrl.gae(np.asfortranarray(r), v[:, :])  # copied to C order
    a3, _ = fastrl.gae(r.T.copy().T, v)
    np.testing.assert_array_equal(a1, a2)
    np.testing.assert_array_equal(a1, a3)


def test_kl_penalty_estimators():
    lp = np.array([[-1.0, -1.5]], dtype=np.float32)
    rl = np.array([[-1.5, -1.0]], dtype=np.float32)
    # d = [0.5, -0.5]
    np.testing.assert_allclose(fastrl.kl_penalty(lp, rl, beta=1.0, estimator="k1"), [[-0.5, 0.5]])
    np.testing.assert_allclose(fastrl.kl_penalty(lp, rl, beta=1.0, estimator="k2"), [[-0.125, -0.125]])
    k3 = [math.exp(-0.5) + 0.5 - 1, math.exp(0.5) - 0.5 - 1]
    np.testing.assert_allclose(fastrl.kl_penalty(lp, rl, beta=2.0, estimator="k3"), [[-2 * k3[0], -2 * k3[1]]], rtol=1e-6)
    out = fastrl.kl_penalty(lp, rl, mask=[[1, 0]], beta=0.2, estimator="abs", rewards=np.ones((1, 2)))
    np.testing.assert_allclose(out, [[0.9, 0.0]], rtol=1e-6)


def test_compose_shapes():
    seq = np.array([[0.4, 0.8], [0.1, 0.2]])  # [n=2, B=2]
    np.testing.assert_allclose(fastrl.compose(seq, [0.25, 0.75]), [0.25 * 0.4 + 0.75 * 0.1, 0.25 * 0.8 + 0.75 * 0.2], rtol=1e-6)
    mask = np.array([[1, 1, 0], [1, 1, 1]])
    out = fastrl.compose(seq, [1.0, 1.0], mask=mask)
    np.testing.assert_allclose(out, [[0, 0.5, 0], [0, 0, 1.0]], rtol=1e-6)
    dense = np.ones((2, 2, 3))
    np.testing.assert_allclose(fastrl.compose(dense, [0.5, 0.25], mask=mask), 0.75 * mask, rtol=1e-6)
    mixed = [np.array([0.4, 0.8]), np.ones((2, 3))]
    out = fastrl.compose(mixed, [1.0, 0.5], mask=mask)
    np.testing.assert_allclose(out, [[0.5, 0.9, 0], [0.5, 0.5, 1.3]], rtol=1e-6)


def test_fused_equals_separate_functions():
    rng = np.random.default_rng(2)
    b, t, n = 9, 33, 3
    rewards = rng.normal(size=(n, b, t)).astype(np.float32)
    w = np.array([0.2, 0.3, 0.5], dtype=np.float32)
    lp, rl, v = (rng.normal(size=(b, t)).astype(np.float32) for _ in range(3))
    m = (rng.random((b, t)) < 0.8)
    out = fastrl.fused(rewards, w, lp, rl, v, m, gamma=0.9, lam=0.8, beta=0.1, estimator="k3", mode="carry")
    com = fastrl.compose(rewards, w, mask=m)
    pen = fastrl.kl_penalty(lp, rl, m, beta=0.1, estimator="k3", rewards=com)
    a, ret = fastrl.gae(pen, v, m, gamma=0.9, lam=0.8)
    np.testing.assert_array_equal(out["rewards"], pen)
    np.testing.assert_array_equal(out["advantages"], a)
    np.testing.assert_array_equal(out["returns"], ret)
    assert out["valid_tokens"] == int(m.sum())
    wa = fastrl.fused(rewards, w, lp, rl, v, m, gamma=0.9, lam=0.8, beta=0.1, estimator="k3", whiten=True)["advantages"]
    valid = a[m]
    np.testing.assert_allclose(wa[m], (valid - valid.mean()) / np.sqrt(valid.var(ddof=1) + 1e-8), rtol=1e-4, atol=1e-5)
    assert np.all(wa[~m] == 0)


def test_fastrl_composer_matches_appendix_pseudocode():
    c = fastrl.FastRLComposer(3, eta=0.7, temperature=1.5)
    w = [1 / 3] * 3
    for means in ([0.2, 0.9, 0.5], [0.4, 0.1, 0.3], [1.0, 1.0, -2.0]):
        w = appendix_update(w, means, lam=-0.7, temperature=1.5)
        np.testing.assert_allclose(c.update(means), w, rtol=1e-5, atol=1e-7)
    assert c.steps == 3
    # The lowest reward's weight grows.
    c = fastrl.FastRLComposer(2, eta=1.0)
    w = c.update([1.0, 0.3])
    assert w[1] > w[0]
    np.testing.assert_allclose(w[0], 1 / (1 + math.exp(0.7)), rtol=1e-6)


def test_baseline_composers():
    assert list(fastrl.FixedComposer([0.25, 0.75]).update([1.0, 2.0])) == [0.25, 0.75]
    assert list(fastrl.ShapingComposer(0.5).update([1.0, 1.0])) == [1.0, -0.5]
    s = fastrl.LagrangianComposer.safe_rlhf(threshold=0.0, lr=0.1, init=1.0)
    w = s.update([0.7, 2.0])
    lam = math.exp(0.2)
    np.testing.assert_allclose(w, [1 / (1 + lam), -lam / (1 + lam)], rtol=1e-6)
    p = fastrl.LagrangianComposer([1.0, 0.0], [None, (">=", 0.5)], lr=1.0)
    np.testing.assert_allclose(p.update([0.0, 0.2]), [1.0, 0.3], rtol=1e-6)


def test_state_dict_round_trip_and_corruption():
    a = fastrl.FastRLComposer(3, eta=0.5, smoothing="ema", ema_decay=0.8, normalize=True)
    for m in ([0.1, 0.5, 0.9], [0.3, 0.2, 0.1], [0.0, 1.0, 0.5]):
        a.update(m)
    state = a.state_dict()
    assert isinstance(state, bytes) and len(state) == fastrl.RECORD_LEN
    b = fastrl.FastRLComposer(3, eta=0.5, smoothing="ema", ema_decay=0.8, normalize=True)
    b.load_state_dict(state)
    np.testing.assert_array_equal(a.update([0.5, 0.5, 0.2]), b.update([0.5, 0.5, 0.2]))
    bad = bytearray(state)
    bad[100] ^= 0x40
    before = b.weights.copy()
    with pytest.raises(ValueError, match="corrupted"):
        b.load_state_dict(bytes(bad))
    with pytest.raises(ValueError, match="truncated"):
        b.load_state_dict(state[:-1])
    np.testing.assert_array_equal(before, b.weights)
    with pytest.raises(ValueError, match="kind"):
        fastrl.FixedComposer([1.0, 1.0, 1.0]).load_state_dict(state)


def test_diagnostics():
    c = fastrl.FixedComposer([0.25, 0.75])
    d = c.diagnostics([1.0, 0.3])
    assert d["argmin"] == 1
    assert abs(d["disparity"] - 0.35) < 1e-6 and abs(d["c"] - 0.5) < 1e-5


@pytest.mark.parametrize(
    "call, arg",
    [
        (lambda: fastrl.gae(np.ones((2, 3), dtype=np.int64), np.ones((2, 3))), "rewards"),
        (lambda: fastrl.gae(np.ones(3), np.ones(3)), "rewards"),
        (lambda: fastrl.gae(np.ones((2, 3)), np.ones((2, 4))), "values"),
        (lambda: fastrl.gae(np.ones((2, 3)), np.ones((2, 3)), np.ones((3, 3))), "mask"),
        (lambda: fastrl.gae(np.ones((2, 3)), np.ones((2, 3)), gamma=1.5), "gamma"),
        (lambda: fastrl.gae(np.ones((2, 3)), np.ones((2, 3)), lam=-0.1), "lambda"),
        (lambda: fastrl.gae(np.full((2, 3), np.nan), np.ones((2, 3))), "rewards"),
        (lambda: fastrl.gae(np.ones((2, 3)), np.ones((2, 3)), mode="both"), "mode"),
        (lambda: fastrl.kl_penalty(np.ones((2, 3)), np.ones((2, 3)), estimator="k9"), "estimator"),
        (lambda: fastrl.kl_penalty(np.ones((2, 3)), np.ones((2, 3)), beta=-1.0), "beta"),
        (lambda: fastrl.compose(np.ones((2, 4)), [1.0]), "weights"),
        (lambda: fastrl.FastRLComposer(2, eta=-1.0), "eta"),
        (lambda: fastrl.FastRLComposer(2, eta=1.0, temperature=0.0), "temperature"),
        (lambda: fastrl.FastRLComposer(0, eta=1.0), "n = 0"),
        (lambda: fastrl.FastRLComposer(2, eta=1.0).update([1.0, float("nan")]), "reward_means"),
        (lambda: fastrl.FastRLComposer(2, eta=1.0).update([1.0]), "reward_means"),
    ],
)
def test_bad_input_raises_value_error_naming_the_argument(call, arg):
    with pytest.raises(ValueError, match=arg):
        call()
