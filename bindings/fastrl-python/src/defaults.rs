//! The core's defaults, for the Python layer's keyword defaults: one source of truth, so
//! `fastrl.gae(r, v)` uses what `GaeParams::default()` says and a change in the core
//! reaches Python without an edit there.

use composer_core::{FastRlConfig, FusedParams, GroupParams, LagrangianConfig};
use pyo3::prelude::*;

/// The shortest decimal that reads back as `x` (0.99, not 0.9900000095367432): the value
/// Python shows in signatures, which converts back to the same `f32`.
fn decimal(x: f32) -> f64 {
    x.to_string().parse().unwrap_or(f64::from(x))
}

/// The core's defaults (`GaeParams`, `FusedParams`, `FastRlConfig`, `GroupParams`,
/// `LagrangianConfig`), names as the Python keywords take them.
#[pyclass(module = "fastrl._fastrl", frozen, get_all)]
pub struct Defaults {
    /// GAE discount (the paper's Table 7).
    gamma: f64,
    /// GAE lambda (Table 7).
    lam: f64,
    /// KL coefficient (Table 7).
    beta: f64,
    /// KL estimator.
    estimator: String,
    /// Fast RL: the softmax temperature.
    temperature: f64,
    /// Fast RL: normalisation of the rewards.
    normalize: String,
    /// Fast RL: what is composed (raw rewards or z-scores).
    compose_on: String,
    /// Fast RL: the update rule.
    rule: String,
    /// Fast RL: the KL ball's radius around uniform (infinite: the paper's rule).
    radius: f64,
    /// Fast RL: return the mean iterate.
    averaging: bool,
    /// Fast RL: the mix with uniform.
    floor: f64,
    /// Group-relative: the estimator.
    group_estimator: String,
    /// Group-relative: GRPO's division.
    group_scale: String,
    /// Group-relative: whose definitions.
    convention: String,
    /// Lagrangian: the multipliers' learning rate.
    lagrangian_lr: f64,
    /// Lagrangian: the multipliers' squash.
    squash: String,
    /// Lagrangian: the multipliers' start.
    lagrangian_init: f64,
    /// Lagrangian: the multipliers' cap.
    max_multiplier: f64,
    /// Lagrangian: divide the weights by `1 + sum lambda`.
    lagrangian_normalize: bool,
}

/// The core's defaults.
#[pyfunction]
pub fn defaults() -> Defaults {
    let fused = FusedParams::default();
    let fast = FastRlConfig::default();
    let group = GroupParams::default();
    let lag = LagrangianConfig::default();
    Defaults {
        gamma: decimal(fused.gae.gamma),
        lam: decimal(fused.gae.lambda),
        beta: decimal(fused.beta),
        estimator: fused.estimator.name().into(),
        temperature: decimal(fast.temperature),
        normalize: fast.normalization.name().into(),
        compose_on: fast.compose_on.name().into(),
        rule: fast.rule.name().into(),
        radius: decimal(fast.radius),
        averaging: fast.averaging,
        floor: decimal(fast.floor),
        group_estimator: group.estimator.name().into(),
        group_scale: group.scale.name().into(),
        convention: group.convention.name().into(),
        lagrangian_lr: decimal(lag.lr),
        squash: lag.squash.name().into(),
        lagrangian_init: decimal(lag.init),
        max_multiplier: decimal(lag.max_multiplier),
        lagrangian_normalize: lag.normalize,
    }
}
