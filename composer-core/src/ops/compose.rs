//! Composition, Eq. (6): `r_com = sum_i w_i r_i`, per token.

use crate::error::length;
use crate::error::Result;
use crate::ops::prepared::Prepared;
use crate::ops::row;
use crate::shape::{check_batch, Channel, MaskMode, Shape};
use crate::storage::Storage;

/// Eq. (6) per token: `out[b,t] = sum_i w_i r_i[b,t]` at valid tokens, 0 at masked ones.
///
/// A sequence-level channel contributes `w_i r_i[b]` at row `b`'s last valid token only
/// (as trl and verl place sequence scores); dense channels contribute at every valid
/// token; the two kinds may be mixed. For a batch of only sequence-level channels this is
/// `r_com[b] = sum_i w_i r_i[b]` placed on the last valid token. Summation order: dense
/// channels in channel order, then the sequence-level sum (itself in channel order).
pub fn compose<T: Storage>(
    channels: &[Channel<'_, T>],
    weights: &[f32],
    mask: &[u8],
    shape: Shape,
    mode: MaskMode,
    out: &mut [f32],
) -> Result<()> {
    let tokens = check_batch(channels, mask, shape)?;
    length("out", tokens, out.len())?;
    let p = Prepared::new(channels, weights)?;
    for b in 0..shape.batch {
        let lo = b * shape.len;
        let hi = lo + shape.len;
        let info = row::scan(&mask[lo..hi], b, mode)?;
        if !row::compose_row(&p, b, lo, &mask[lo..hi], info, &mut out[lo..hi]) {
            return Err(p.diagnose(mask, shape, b, "rewards (composite)"));
        }
    }
    Ok(())
}
