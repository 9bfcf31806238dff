//! [`KlEstimator`]: the per-token estimators of `KL(pi_theta || pi_ref)` used by Eq. (7).

use crate::names::named_enum;

/// Per-token estimator of `KL(pi_theta || pi_ref)` from the sampled token's log-probs,
/// with `d = logp - ref_logp`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum KlEstimator {
    /// `k1 = d` (unbiased, can be negative; trl/RL4LMs default).
    #[default]
    K1,
    /// `k2 = d^2 / 2` (`>= 0`).
    K2,
    /// `k3 = exp(-d) + d - 1` (`>= 0`, unbiased; Schulman's estimator, verl `low_var_kl`).
    /// Computed as `expm1(-d) + d` in `f64` (then rounded), so it keeps full `f32`
    /// relative precision near `d = 0` where `exp(-d) - 1 + d` cancels.
    K3,
    /// `|d|`.
    Abs,
}

impl KlEstimator {
    /// The estimate for one token.
    #[inline(always)]
    pub fn eval(self, logp: f32, ref_logp: f32) -> f32 {
        let d = logp - ref_logp;
        match self {
            KlEstimator::K1 => d,
            KlEstimator::K2 => 0.5 * d * d,
            KlEstimator::K3 => {
                let d = d as f64;
                ((libm::expm1(-d) + d) as f32).max(0.0)
            }
            KlEstimator::Abs => d.abs(),
        }
    }
}

named_enum!(KlEstimator, "KL estimator", {
    KlEstimator::K1 => (0, "k1"),
    KlEstimator::K2 => (1, "k2"),
    KlEstimator::K3 => (2, "k3"),
    KlEstimator::Abs => (3, "abs"),
});
