"""The Python keyword defaults are the core's (``src/defaults.rs`` reads ``GaeParams``,
``FusedParams``, ``FastRlConfig``, ``GroupParams`` and ``LagrangianConfig``): the core's
values equal the paper's Table 7 and the core's documented defaults, every keyword that
names a core parameter defaults to the core's value, and leaving it out computes what
passing the paper's value does."""

import inspect
import math

import numpy as np

import fastrl
from fastrl import _fastrl

D = _fastrl.defaults()

# Which keyword of which public callable each core default feeds.
FED = {
    fastrl.gae: {"gamma": "gamma", "lam": "lam"},
    fastrl.kl_penalty: {"beta": "beta", "estimator": "estimator"},
    fastrl.fused: {"gamma": "gamma", "lam": "lam", "beta": "beta", "estimator": "estimator"},
    fastrl.FastRLComposer.__init__: {
        "temperature": "temperature",
        "normalize": "normalize",
        "compose_on": "compose_on",
        "rule": "rule",
        "radius": "radius",
        "averaging": "averaging",
        "floor": "floor",
    },
    fastrl.group_advantages: {
        "estimator": "group_estimator",
        "scale": "group_scale",
        "convention": "convention",
    },
    fastrl.LagrangianComposer.__init__: {
        "lr": "lagrangian_lr",
        "squash": "squash",
        "init": "lagrangian_init",
        "max_multiplier": "max_multiplier",
        "normalize": "lagrangian_normalize",
    },
}


def test_the_core_defaults_are_the_papers_table_7_and_the_documented_ones():
    # Table 7 (DailyDialog): gamma 0.99, lambda 0.95, beta 0.2.
    assert (D.gamma, D.lam, D.beta) == (0.99, 0.95, 0.2)
    assert D.estimator == "k1"
    # Fast RL as Eq. (5) writes it: temperature 1, no ball, no averaging, no floor.
    assert (D.temperature, D.radius, D.averaging, D.floor) == (1.0, math.inf, False, 0.0)
    assert (D.normalize, D.compose_on, D.rule) == ("none", "raw", "plain")
    assert (D.group_estimator, D.group_scale, D.convention) == ("grpo", "group", "verl")
    assert (D.lagrangian_lr, D.squash, D.lagrangian_init) == (0.01, "projected", 0.0)
    assert (D.max_multiplier, D.lagrangian_normalize) == (100.0, False)


def test_every_keyword_naming_a_core_parameter_defaults_to_the_core():
    for fn, keywords in FED.items():
        params = inspect.signature(fn).parameters
        for kw, attr in keywords.items():
            assert params[kw].default == getattr(D, attr), f"{fn.__qualname__}({kw}=...)"


def test_leaving_the_keywords_out_computes_the_papers_values():
    rng = np.random.default_rng(0)
    r, v = rng.normal(size=(2, 5)).astype(np.float32), rng.normal(size=(2, 5)).astype(np.float32)
    a0, ret0 = fastrl.gae(r, v)
    a1, ret1 = fastrl.gae(r, v, gamma=0.99, lam=0.95)
    np.testing.assert_array_equal(a0, a1)
    np.testing.assert_array_equal(ret0, ret1)
    a2, _ = fastrl.gae(r, v, gamma=0.9, lam=0.95)
    assert not np.array_equal(a0, a2), "gamma must matter, or the check above says nothing"
    lp, rlp = rng.normal(size=(2, 5)), rng.normal(size=(2, 5))
    np.testing.assert_array_equal(fastrl.kl_penalty(lp, rlp), fastrl.kl_penalty(lp, rlp, beta=0.2))
