//! Storage types for per-token inputs: `f32` and `bf16`. Compute is always `f32`.

use half::bf16;

/// A per-token storage element that widens exactly to `f32`.
///
/// Widening `bf16 -> f32` is exact, so the `bf16` path computes exactly what the `f32`
/// path computes on the widened values; the only difference from an `f32` input is the
/// rounding that happened when the caller stored the value as `bf16` (relative error
/// at most `2^-9`). See the crate README for the bound this gives on advantages.
pub trait Storage: Copy + Send + Sync + 'static {
    /// Short dtype name (`"f32"`, `"bf16"`), as used in kernel names.
    const NAME: &'static str;
    /// Widens to `f32` (exact).
    fn to_f32(self) -> f32;
    /// Rounds an `f32` to this storage type (round to nearest even).
    fn from_f32(x: f32) -> Self;
}

impl Storage for f32 {
    const NAME: &'static str = "f32";
    #[inline(always)]
    fn to_f32(self) -> f32 {
        self
    }
    #[inline(always)]
    fn from_f32(x: f32) -> Self {
        x
    }
}

impl Storage for bf16 {
    const NAME: &'static str = "bf16";
    /// The bits shifted into the high half of an `f32`: exact, and branch-free so
    /// loops vectorise (`half`'s conversion also quiets NaNs, with a branch; a NaN stays
    /// a NaN here too).
    #[inline(always)]
    fn to_f32(self) -> f32 {
        f32::from_bits((self.to_bits() as u32) << 16)
    }
    #[inline(always)]
    fn from_f32(x: f32) -> Self {
        bf16::from_f32(x)
    }
}

/// Views raw `bf16` bit patterns (as a C or Python caller holds them, `u16`) as `bf16`.
pub fn bf16_from_bits(bits: &[u16]) -> &[bf16] {
    bytemuck::cast_slice(bits)
}
