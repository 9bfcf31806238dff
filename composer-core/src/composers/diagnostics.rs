//! Cheap per-step diagnostics, including the decomposition of Theorems 1 and 2.

use crate::error::length;
use crate::error::Result;
use crate::shape::check_channel_count;
use crate::shape::MAX_REWARDS;

/// One step's view of the composition.
///
/// With `rbar` the mean of the reward means and `sigma` their (population) standard
/// deviation across rewards (the *disparity*), Theorems 1 and 2 write the composite
/// objective as `Obj = sum_i w_i r_i = rbar - C * sigma`. [`Diagnostics::c`] is that `C`.
///
/// **Bound on `C`.** For weights on the simplex, Cauchy-Schwarz gives
/// `|C| <= sqrt(n) * ||w - 1/n||_2 <= sqrt(n - 1)` ([`Diagnostics::c_bound`]).
/// The paper states `|C| <= (n+1)/n` (Theorem 2); its proof drops the factor `sqrt(n)`
/// between `sqrt(sum_i d_i)` and `sqrt(Var)`, and the stated bound fails for `n >= 3`
/// (e.g. `r = (1, 0, 0)`, `w = (1, 0, 0)` gives `C = -sqrt(2)`; `|C| > 4/3`). It holds
/// for `n = 2`, where `sqrt(n-1) = 1 <= 3/2`. Both facts are tests in this crate.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Diagnostics {
    /// Number of rewards.
    pub n: usize,
    /// The weights `w` (first `n` entries).
    pub weights: [f32; MAX_REWARDS],
    /// Mean across rewards of the reward means, `rbar`.
    pub mean: f32,
    /// Smallest reward mean.
    pub min: f32,
    /// Index of the smallest reward mean (the most lagging reward).
    pub argmin: usize,
    /// Disparity: population standard deviation of the reward means across rewards.
    pub disparity: f32,
    /// The composite objective `sum_i w_i rbar_i`.
    pub composite: f32,
    /// `C` in `composite = mean - C * disparity` (0 when `disparity = 0`).
    pub c: f32,
    /// `sqrt(n) * ||w - 1/n||_2`, the bound on `|C|` for simplex weights.
    pub c_bound: f32,
}

impl Diagnostics {
    /// Diagnostics of `weights` against `reward_means` (both length `n`).
    pub fn new(weights: &[f32], reward_means: &[f32]) -> Result<Self> {
        let n = weights.len();
        check_channel_count(n)?;
        length("reward_means", n, reward_means.len())?;
        if let Some(index) = reward_means.iter().position(|x| !x.is_finite()) {
            return Err(crate::Error::NonFinite {
                arg: "reward_means",
                index,
            });
        }
        let nf = n as f64;
        let mean = reward_means.iter().map(|&r| r as f64).sum::<f64>() / nf;
        let var = reward_means
            .iter()
            .map(|&r| (r as f64 - mean) * (r as f64 - mean))
            .sum::<f64>()
            / nf;
        let sd = libm::sqrt(var);
        let composite: f64 = weights
            .iter()
            .zip(reward_means)
            .map(|(&w, &r)| w as f64 * r as f64)
            .sum();
        let u2: f64 = weights
            .iter()
            .map(|&w| (w as f64 - 1.0 / nf) * (w as f64 - 1.0 / nf))
            .sum();
        let (mut argmin, mut min) = (0, reward_means[0]);
        for (i, &r) in reward_means.iter().enumerate() {
            if r < min {
                min = r;
                argmin = i;
            }
        }
        let mut w = [0.0; MAX_REWARDS];
        w[..n].copy_from_slice(weights);
        Ok(Diagnostics {
            n,
            weights: w,
            mean: mean as f32,
            min,
            argmin,
            disparity: sd as f32,
            composite: composite as f32,
            c: if sd > 0.0 {
                ((mean - composite) / sd) as f32
            } else {
                0.0
            },
            c_bound: (libm::sqrt(nf) * libm::sqrt(u2)) as f32,
        })
    }
}
