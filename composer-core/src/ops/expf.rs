//! A vectorisable `exp` for the weight update's normalisation, where every argument is
//! `<= 0` (log-weights minus their maximum).
//!
//! Method (as in Cephes' `expf`): `x = k ln 2 + r` with `k = round(x / ln 2)` and
//! `|r| <= ln 2 / 2`, `ln 2` split in a high part exact in `f32` and a low part;
//! `e^r` by its degree-7 Taylor polynomial (Estrin's scheme) (truncation below `2.1e-9`
//! relative on that interval); `2^k` assembled from the exponent bits, in two factors
//! when `k < -126` so that subnormal results are kept (no flush to zero). Arguments below
//! `-104` give exactly 0 (`e^-104 < 2^-149`, the smallest `f32`). The error is within a
//! few ulp of `f32` (tested against `f64` `exp` in this crate's tests).

/// Below this, [`exp_nonpositive`] returns 0.
pub(crate) const EXP_CUTOFF: f32 = -80.0;

/// `e^x` for `x <= 0` (and `x` not NaN), 0 below [`EXP_CUTOFF`]; see the module docs.
#[inline(always)]
pub(crate) fn exp_nonpositive(x: f32) -> f32 {
    const LOG2E: f32 = core::f32::consts::LOG2_E;
    const LN2_HI: f32 = 0.693_145_75; // 0x3f317200: 9 trailing zero bits, k * LN2_HI exact
    const LN2_LO: f32 = 1.428_606_8e-6;
    let keep = x >= EXP_CUTOFF;
    let x = x.clamp(EXP_CUTOFF, 0.0);
    // Round to nearest (even) by the 1.5 * 2^23 trick: |x * LOG2E| <= 116 < 2^22.
    const SHIFTER: f32 = 12_582_912.0;
    let shifted = x * LOG2E + SHIFTER;
    let k = shifted - SHIFTER;
    let r = (x - k * LN2_HI) - k * LN2_LO;
    // e^r = sum_{i<=7} r^i / i!, in Estrin's scheme (a short dependency chain, so
    // several exponentials overlap in flight).
    let r2 = r * r;
    let r4 = r2 * r2;
    let p01 = 1.0 + r;
    let p23 = 0.5 + r * (1.0 / 6.0);
    let p45 = 1.0 / 24.0 + r * (1.0 / 120.0);
    let p67 = 1.0 / 720.0 + r * (1.0 / 5040.0);
    let p = (p01 + r2 * p23) + r4 * (p45 + r2 * p67);
    // k in [-116, 0] sits in the low mantissa bits of `shifted` (whose bits are
    // 0x4B40_0000 + k), so 2^k's exponent field is built with integer ops alone, and
    // 2^k is a normal f32.
    let k_bits = shifted.to_bits().wrapping_sub(0x4B40_0000);
    let two_k = f32::from_bits(k_bits.wrapping_add(127) << 23);
    if keep {
        p * two_k
    } else {
        0.0
    }
}

#[cfg(test)]
mod tests {
    use super::exp_nonpositive;

    #[test]
    fn matches_f64_exp_within_a_few_ulp() {
        let mut worst = 0.0f64;
        let mut x = 0.0f32;
        while x >= -80.0 {
            let got = exp_nonpositive(x) as f64;
            let want = libm::exp(x as f64);
            let rel = ((got - want) / want).abs();
            worst = worst.max(rel);
            x -= 0.000_731;
        }
        assert!(
            worst <= 3.0 * f32::EPSILON as f64,
            "worst relative error {worst}"
        );
    }

    #[test]
    fn edges() {
        assert_eq!(exp_nonpositive(0.0), 1.0);
        assert_eq!(exp_nonpositive(-0.0), 1.0);
        assert_eq!(exp_nonpositive(-1e30), 0.0);
        assert_eq!(exp_nonpositive(f32::NEG_INFINITY), 0.0);
        assert_eq!(exp_nonpositive(-80.001), 0.0);
        let s = exp_nonpositive(-80.0) as f64;
        assert!(
            ((s - libm::exp(-80.0)) / s).abs() <= 3.0 * f32::EPSILON as f64,
            "{s}"
        );
    }
}
