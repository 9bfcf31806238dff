//! Masked advantage whitening.

use crate::error::Result;
use crate::error::{length, Error};

/// Mean and standard deviation used by [`whiten`].
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct WhitenStats {
    /// Mean over valid tokens.
    pub mean: f64,
    /// Unbiased standard deviation over valid tokens (0 when fewer than 2).
    pub std: f64,
    /// Number of valid tokens.
    pub tokens: usize,
}

/// Whitens `x` in place over valid tokens only, as verl's and trl's `masked_whiten`:
///
/// ```text
/// mu  = (1/N) sum_{mask=1} x
/// var = (1/(N-1)) sum_{mask=1} (x - mu)^2        (0 when N < 2)
/// x  <- (x - mu) / sqrt(var + 1e-8)   at valid tokens;  0 at masked ones
/// ```
///
/// Sums are accumulated in `f64` (8 lanes each); the deviations `x - mu` and the
/// output are computed in `f32` (within a couple of ulp of the `f64` formula). An
/// all-masked input becomes all zeros.
pub fn whiten(x: &mut [f32], mask: &[u8]) -> Result<WhitenStats> {
    length("mask", x.len(), mask.len())?;
    let n = mask.iter().filter(|&&m| m != 0).count();
    if n == 0 {
        x.fill(0.0);
        return Ok(WhitenStats::default());
    }
    // A sum of finite f32 values cannot overflow f64, so a non-finite sum means a
    // non-finite input; only then look for it.
    let sum = lane_sum(x, mask, |v| v as f64);
    if !sum.is_finite() {
        let index = x
            .iter()
            .zip(mask)
            .position(|(v, &m)| m != 0 && !v.is_finite())
            .unwrap_or(0);
        return Err(Error::NonFinite {
            arg: "advantages",
            index,
        });
    }
    let mean = sum / n as f64;
    // Deviations in f32 (each within an ulp), squares summed in f64 lanes.
    let mean32 = mean as f32;
    let ss = lane_sum(x, mask, |v| {
        let d = (v - mean32) as f64;
        d * d
    });
    let var = if n > 1 { ss / (n - 1) as f64 } else { 0.0 };
    let inv = (1.0 / libm::sqrt(var + 1e-8)) as f32;
    for (v, &m) in x.iter_mut().zip(mask) {
        let w = (*v - mean32) * inv;
        *v = if m != 0 { w } else { 0.0 };
    }
    Ok(WhitenStats {
        mean,
        std: libm::sqrt(var),
        tokens: n,
    })
}

/// `sum_{mask=1} f(x)` in `f64`, over 8 independent lanes (then added in order), so the
/// loop is not serialised on one add. Deterministic for a given length.
fn lane_sum(x: &[f32], mask: &[u8], f: impl Fn(f32) -> f64) -> f64 {
    const LANES: usize = 8;
    let mut acc = [0.0f64; LANES];
    let body = x.len() - x.len() % LANES;
    for (xc, mc) in x[..body]
        .chunks_exact(LANES)
        .zip(mask[..body].chunks_exact(LANES))
    {
        for j in 0..LANES {
            acc[j] += if mc[j] != 0 { f(xc[j]) } else { 0.0 };
        }
    }
    let mut total = 0.0;
    for (&v, &m) in x[body..].iter().zip(&mask[body..]) {
        if m != 0 {
            total += f(v);
        }
    }
    acc.iter().sum::<f64>() + total
}
