//! Calibration for [`Normalization::Reference`](crate::Normalization::Reference): each
//! reward's mean and per-response standard deviation on the starting policy's samples.

use crate::error::Result;
use crate::error::{length, Error};
use crate::shape::check_channel_count;
use crate::shape::MAX_REWARDS;

/// Checks `n` rewards' reference statistics (finite means, finite positive stds, `n`
/// of each) and widens them to `f64` arrays (std 1 past `n`): what every composer on
/// z-scores stores.
pub(crate) fn checked_reference(
    n: usize,
    mean: &[f32],
    std: &[f32],
) -> Result<([f64; MAX_REWARDS], [f64; MAX_REWARDS])> {
    length("reference_mean", n, mean.len())?;
    length("reference_std", n, std.len())?;
    if let Some(index) = mean.iter().position(|m| !m.is_finite()) {
        return Err(Error::NonFinite {
            arg: "reference_mean",
            index,
        });
    }
    if let Some(index) = std.iter().position(|s| !(s.is_finite() && *s > 0.0)) {
        return Err(Error::OutOfRange {
            arg: "reference_std",
            expected: "(0, inf) for every reward",
            actual: std[index] as f64,
        });
    }
    let (mut m, mut s) = ([0.0f64; MAX_REWARDS], [1.0f64; MAX_REWARDS]);
    for i in 0..n {
        m[i] = mean[i] as f64;
        s[i] = std[i] as f64;
    }
    Ok((m, s))
}

/// Per reward `i`, the mean `mu_i` and the unbiased (ddof = 1) standard deviation
/// `sigma_i` of its scores on a calibration set of the starting policy's responses:
///
/// ```text
/// mu_i = (1/m) sum_j r_ij,        sigma_i = sqrt( sum_j (r_ij - mu_i)^2 / (m - 1) )
/// ```
///
/// `scores[i]` holds reward `i`'s `m >= 2` per-response scores (the same `m` for every
/// reward), accumulated in `f64` in two passes. Errors: fewer than two samples, unequal
/// lengths, a non-finite score, and a reward that is constant on the set (`sigma_i = 0`:
/// it cannot be normalised; the error names its index).
pub fn reference_stats(scores: &[&[f32]], mean_out: &mut [f32], std_out: &mut [f32]) -> Result<()> {
    let n = scores.len();
    check_channel_count(n)?;
    length("mean_out", n, mean_out.len())?;
    length("std_out", n, std_out.len())?;
    let m = scores[0].len();
    if m < 2 {
        return Err(Error::OutOfRange {
            arg: "scores (calibration samples per reward)",
            expected: "[2, inf)",
            actual: m as f64,
        });
    }
    for (i, s) in scores.iter().enumerate() {
        length("scores (every reward's calibration samples)", m, s.len())?;
        if let Some(j) = s.iter().position(|x| !x.is_finite()) {
            return Err(Error::NonFinite {
                arg: "scores",
                index: i * m + j,
            });
        }
    }
    for (i, s) in scores.iter().enumerate() {
        let mean = s.iter().map(|&x| x as f64).sum::<f64>() / m as f64;
        let ss: f64 = s
            .iter()
            .map(|&x| (x as f64 - mean) * (x as f64 - mean))
            .sum();
        let sd = libm::sqrt(ss / (m - 1) as f64);
        if sd.is_nan() || (sd as f32) <= 0.0 {
            return Err(Error::ConstantReward { index: i });
        }
        mean_out[i] = mean as f32;
        std_out[i] = sd as f32;
    }
    Ok(())
}
