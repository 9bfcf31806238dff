//! The KL penalty of Eq. (7): per-token estimators, the penalised reward, and the fixed
//! or adaptive coefficient `beta`.

use crate::error::Result;
use crate::error::{length, Error};
pub use crate::ops::kl_estimator::KlEstimator;
use crate::ops::non_finite::diagnose_row;
use crate::ops::row;
use crate::shape::{MaskMode, Shape};
use crate::state::StateRecord;
use crate::storage::Storage;

/// Sum of the KL estimate over valid tokens.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct KlStats {
    /// Sum over valid tokens (`f64`).
    pub kl_sum: f64,
    /// Number of valid tokens.
    pub tokens: usize,
}

impl KlStats {
    /// Mean KL per valid token (0 when there is none).
    pub fn mean(&self) -> f32 {
        if self.tokens == 0 {
            0.0
        } else {
            (self.kl_sum / self.tokens as f64) as f32
        }
    }
}

/// Eq. (7) per token: `out[b,t] = rewards[b,t] - beta * kl(logp[b,t], ref_logp[b,t])` at
/// valid tokens, 0 at masked ones. Returns the KL sum over valid tokens.
#[allow(clippy::too_many_arguments)]
pub fn kl_penalty<T: Storage>(
    rewards: &[f32],
    logp: &[T],
    ref_logp: &[T],
    mask: &[u8],
    shape: Shape,
    mode: MaskMode,
    beta: f32,
    estimator: KlEstimator,
    out: &mut [f32],
) -> Result<KlStats> {
    let tokens = shape.tokens()?;
    length("rewards", tokens, rewards.len())?;
    length("logp", tokens, logp.len())?;
    length("ref_logp", tokens, ref_logp.len())?;
    length("mask", tokens, mask.len())?;
    length("out", tokens, out.len())?;
    check_beta(beta)?;
    let mut stats = KlStats::default();
    for b in 0..shape.batch {
        let lo = b * shape.len;
        let hi = lo + shape.len;
        row::scan(&mask[lo..hi], b, mode)?;
        out[lo..hi].copy_from_slice(&rewards[lo..hi]);
        let (kl_sum, _, ok) = row::penalize_row(
            &mut out[lo..hi],
            &logp[lo..hi],
            &ref_logp[lo..hi],
            &mask[lo..hi],
            beta,
            estimator,
        );
        if !ok {
            return Err(diagnose_row(
                &[("rewards", rewards)],
                &[("logp", logp), ("ref_logp", ref_logp)],
                mask,
                lo..hi,
                "rewards (penalised)",
                b,
            ));
        }
        stats.kl_sum += kl_sum;
        stats.tokens += mask[lo..hi].iter().filter(|&&m| m != 0).count();
    }
    Ok(stats)
}

pub(crate) fn check_beta(beta: f32) -> Result<()> {
    if beta.is_finite() && beta >= 0.0 {
        Ok(())
    } else {
        Err(Error::OutOfRange {
            arg: "beta",
            expected: "[0, inf)",
            actual: beta as f64,
        })
    }
}

/// The KL coefficient `beta` of Eq. (7): fixed, or adapted toward a target KL.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum KlController {
    /// Constant `beta`.
    Fixed {
        /// The coefficient.
        beta: f32,
    },
    /// RL4LMs' and OpenRLHF's adaptive controller (Ziegler et al. 2019):
    /// `beta <- beta * (1 + clip(kl/target - 1, -0.2, 0.2) * n_steps / horizon)`,
    /// kept in `[0, f32::MAX]`.
    Adaptive {
        /// Current coefficient.
        beta: f32,
        /// Target KL per token, `> 0`.
        target: f32,
        /// Horizon in steps (samples), `> 0`; `K = n_steps / horizon`.
        horizon: f32,
    },
}

impl KlController {
    /// A fixed coefficient.
    pub fn fixed(beta: f32) -> Result<Self> {
        check_beta(beta)?;
        Ok(KlController::Fixed { beta })
    }

    /// An adaptive controller starting at `beta`.
    pub fn adaptive(beta: f32, target: f32, horizon: f32) -> Result<Self> {
        check_beta(beta)?;
        for (arg, x) in [("target", target), ("horizon", horizon)] {
            if !(x.is_finite() && x > 0.0) {
                return Err(Error::OutOfRange {
                    arg,
                    expected: "(0, inf)",
                    actual: x as f64,
                });
            }
        }
        Ok(KlController::Adaptive {
            beta,
            target,
            horizon,
        })
    }

    /// The current coefficient.
    pub fn beta(&self) -> f32 {
        match *self {
            KlController::Fixed { beta } | KlController::Adaptive { beta, .. } => beta,
        }
    }

    /// Feeds the batch's mean KL per token; returns the new `beta`.
    pub fn update(&mut self, kl_mean: f32, n_steps: u64) -> Result<f32> {
        if !kl_mean.is_finite() {
            return Err(Error::NonFinite {
                arg: "kl_mean",
                index: 0,
            });
        }
        if let KlController::Adaptive {
            beta,
            target,
            horizon,
        } = self
        {
            let err = (kl_mean as f64 / *target as f64 - 1.0).clamp(-0.2, 0.2);
            let mult = 1.0 + err * n_steps as f64 / *horizon as f64;
            *beta = (*beta as f64 * mult).clamp(0.0, f32::MAX as f64) as f32;
        }
        Ok(self.beta())
    }

    /// Writes `beta` into the record.
    pub fn save(&self, r: &mut StateRecord) {
        r.kl_beta = Some(self.beta() as f64);
    }

    /// Restores `beta` from the record; an error if the record holds none or an invalid one.
    pub fn restore(&mut self, r: &StateRecord) -> Result<()> {
        let b = r.kl_beta.ok_or(Error::RecordField { field: "kl_beta" })?;
        if !(b >= 0.0 && b <= f32::MAX as f64) {
            return Err(Error::RecordField { field: "kl_beta" });
        }
        match self {
            KlController::Fixed { beta } | KlController::Adaptive { beta, .. } => *beta = b as f32,
        }
        Ok(())
    }
}
