//! [`OnReference`]: any composer run on reference z-scores `z_i = (r_i - mu_i) / sigma_i`
//! instead of raw rewards, so that the fixed and Lagrangian baselines compare with Fast
//! RL's `normalization = reference` on the same scale.
//!
//! The wrapped composer sees the batch means as z-scores (a Lagrangian's thresholds are
//! then in standard deviations of the starting policy), and with
//! [`ComposeOn::Normalized`] Eq. (6) composes the z-scores:
//! `sum_i w_i z_i = sum_i (w_i / sigma_i) r_i - sum_i w_i mu_i / sigma_i`, returned by
//! [`Composer::composition`] as raw weights and a batch-constant offset.

use crate::composers::composer::Composer;
use crate::composers::diagnostics::Diagnostics;
use crate::composers::fastrl::ComposeOn;
use crate::composers::kind::ComposerKind;
use crate::error::length;
use crate::error::Result;
use crate::ops::reference_stats::checked_reference;
use crate::shape::MAX_REWARDS;
use crate::state::StateRecord;

/// A composer on reference z-scores (see the module docs).
#[derive(Clone, Debug)]
pub struct OnReference<C> {
    inner: C,
    mean: [f64; MAX_REWARDS],
    std: [f64; MAX_REWARDS],
    compose_on: ComposeOn,
}

impl<C: Composer> OnReference<C> {
    /// Wraps `inner` with the starting policy's per-reward `mean` and `std` (finite,
    /// `std > 0`, one per reward of `inner`).
    pub fn new(inner: C, mean: &[f32], std: &[f32], compose_on: ComposeOn) -> Result<Self> {
        let (m, s) = checked_reference(inner.num_rewards(), mean, std)?;
        Ok(OnReference {
            inner,
            mean: m,
            std: s,
            compose_on,
        })
    }

    /// The wrapped composer.
    pub fn inner(&self) -> &C {
        &self.inner
    }

    /// `means` as z-scores (`out[..n]`).
    fn z(&self, means: &[f32], out: &mut [f32; MAX_REWARDS]) -> Result<usize> {
        let n = self.inner.num_rewards();
        length("reward_means", n, means.len())?;
        for i in 0..n {
            out[i] = ((means[i] as f64 - self.mean[i]) / self.std[i]) as f32;
        }
        Ok(n)
    }
}

impl<C: Composer> Composer for OnReference<C> {
    fn kind(&self) -> ComposerKind {
        self.inner.kind()
    }

    fn num_rewards(&self) -> usize {
        self.inner.num_rewards()
    }

    /// The wrapped composer's update on this batch's means as z-scores.
    fn update(&mut self, reward_means: &[f32]) -> Result<&[f32]> {
        let mut z = [0.0f32; MAX_REWARDS];
        let n = self.z(reward_means, &mut z)?;
        self.inner.update(&z[..n])
    }

    fn weights(&self) -> &[f32] {
        self.inner.weights()
    }

    fn steps(&self) -> u64 {
        self.inner.steps()
    }

    fn save(&self, record: &mut StateRecord) {
        self.inner.save(record)
    }

    fn restore(&mut self, record: &StateRecord) -> Result<()> {
        self.inner.restore(record)
    }

    /// The diagnostics on the z-scores of `reward_means`.
    fn diagnostics(&self, reward_means: &[f32]) -> Result<Diagnostics> {
        let mut z = [0.0f32; MAX_REWARDS];
        let n = self.z(reward_means, &mut z)?;
        self.inner.diagnostics(&z[..n])
    }

    /// With [`ComposeOn::Normalized`], `(w_i / sigma_i, -sum_i w_i mu_i / sigma_i)`;
    /// with [`ComposeOn::Raw`], the wrapped composer's.
    fn composition(&self, out: &mut [f32]) -> Result<f32> {
        if self.compose_on == ComposeOn::Raw {
            return self.inner.composition(out);
        }
        let w = self.inner.weights();
        length("out", w.len(), out.len())?;
        let mut offset = 0.0f64;
        for i in 0..w.len() {
            out[i] = (w[i] as f64 / self.std[i]) as f32;
            offset -= w[i] as f64 * self.mean[i] / self.std[i];
        }
        Ok(offset as f32)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::composers::baselines::{Constraint, Fixed, Lagrangian, LagrangianConfig};

    #[test]
    fn fixed_weights_compose_the_z_scores() {
        let mut c = OnReference::new(
            Fixed::new(&[0.25, 0.75]).unwrap(),
            &[1.0, 10.0],
            &[0.5, 4.0],
            ComposeOn::Normalized,
        )
        .unwrap();
        c.update(&[1.5, 2.0]).unwrap();
        let mut k = [0.0f32; 2];
        let offset = c.composition(&mut k).unwrap();
        // By hand: 0.25 (r0 - 1) / 0.5 + 0.75 (r1 - 10) / 4 for r = (3, 6).
        let want = 0.25 * (3.0 - 1.0) / 0.5 + 0.75 * (6.0 - 10.0) / 4.0;
        let got = k[0] * 3.0 + k[1] * 6.0 + offset;
        assert!((got - want).abs() < 1e-6, "{got} vs {want}");
        // Raw composition is the plain weights.
        let raw = OnReference::new(
            Fixed::new(&[0.25, 0.75]).unwrap(),
            &[1.0, 10.0],
            &[0.5, 4.0],
            ComposeOn::Raw,
        )
        .unwrap();
        assert_eq!(raw.composition(&mut k).unwrap(), 0.0);
        assert_eq!(k, [0.25, 0.75]);
    }

    #[test]
    fn a_lagrangian_threshold_is_in_standard_deviations() {
        // Reward 0 must reach z >= 0.5: mean 1, std 2, so raw 2.0 is the threshold.
        let lag = || {
            Lagrangian::new(
                &[0.5, 0.5],
                &[Constraint::AtLeast(0.5), Constraint::Free],
                LagrangianConfig {
                    lr: 1.0,
                    ..LagrangianConfig::default()
                },
            )
            .unwrap()
        };
        let mut c =
            OnReference::new(lag(), &[1.0, 0.0], &[2.0, 1.0], ComposeOn::Normalized).unwrap();
        // Raw 1.5 is z = 0.25 < 0.5: the multiplier rises and reward 0 gains weight.
        let w = c.update(&[1.5, 0.0]).unwrap().to_vec();
        assert!(w[0] > 0.5, "{w:?}");
        // Raw 3.0 is z = 1 >= 0.5: the same step on the raw Lagrangian sees 3.0 vs 0.5.
        let mut c2 = OnReference::new(lag(), &[1.0, 0.0], &[2.0, 1.0], ComposeOn::Raw).unwrap();
        let w2 = c2.update(&[3.0, 0.0]).unwrap().to_vec();
        assert!((w2[0] - 0.5).abs() < 1e-6, "{w2:?}");
    }

    #[test]
    fn bad_reference_statistics_are_refused() {
        let f = || Fixed::new(&[0.5, 0.5]).unwrap();
        assert!(OnReference::new(f(), &[0.0], &[1.0, 1.0], ComposeOn::Raw).is_err());
        assert!(OnReference::new(f(), &[0.0, 0.0], &[1.0, 0.0], ComposeOn::Raw).is_err());
        assert!(OnReference::new(f(), &[f32::NAN, 0.0], &[1.0, 1.0], ComposeOn::Raw).is_err());
    }
}
