//! Masked advantage whitening.

use crate::error::{length, Error};
use crate::Result;

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
/// Two passes with `f64` accumulators. An all-masked input becomes all zeros.
pub fn whiten(x: &mut [f32], mask: &[u8]) -> Result<WhitenStats> {
    length("mask", x.len(), mask.len())?;
    let mut sum = 0.0f64;
    let mut n = 0usize;
    for (i, (&v, &m)) in x.iter().zip(mask).enumerate() {
        if m != 0 {
            if !v.is_finite() {
                return Err(Error::NonFinite {
                    arg: "advantages",
                    index: i,
                });
            }
            sum += v as f64;
            n += 1;
        }
    }
    if n == 0 {
        x.fill(0.0);
        return Ok(WhitenStats::default());
    }
    let mean = sum / n as f64;
    let mut ss = 0.0f64;
    for (&v, &m) in x.iter().zip(mask) {
        if m != 0 {
            let d = v as f64 - mean;
            ss += d * d;
        }
    }
    let var = if n > 1 { ss / (n - 1) as f64 } else { 0.0 };
    let inv = 1.0 / libm::sqrt(var + 1e-8);
    for (v, &m) in x.iter_mut().zip(mask) {
        *v = if m != 0 {
            ((*v as f64 - mean) * inv) as f32
        } else {
            0.0
        };
    }
    Ok(WhitenStats {
        mean,
        std: libm::sqrt(var),
        tokens: n,
    })
}
