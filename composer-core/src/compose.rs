//! Composition, Eq. (6): `r_com = sum_i w_i r_i`, per token.

use crate::error::{length, Error};
use crate::kl::diagnose_row;
use crate::row;
use crate::shape::{check_batch, Channel, MaskMode, Shape};
use crate::storage::Storage;
use crate::{Result, MAX_REWARDS};

/// Channels split into dense and sequence-level lists with their weights, in channel
/// order, as the row kernels in `row.rs` read them.
pub(crate) struct Prepared<'a, T> {
    pub(crate) dense_w: [f32; MAX_REWARDS],
    pub(crate) dense: [&'a [T]; MAX_REWARDS],
    pub(crate) nd: usize,
    seq_w: [f32; MAX_REWARDS],
    seq: [&'a [T]; MAX_REWARDS],
    pub(crate) ns: usize,
}

impl<'a, T: Storage> Prepared<'a, T> {
    /// Splits `channels` (already length-checked) and checks `weights`.
    pub(crate) fn new(channels: &[Channel<'a, T>], weights: &[f32]) -> Result<Self> {
        length("weights", channels.len(), weights.len())?;
        if let Some(index) = weights.iter().position(|w| !w.is_finite()) {
            return Err(Error::NonFinite {
                arg: "weights",
                index,
            });
        }
        let mut p = Prepared {
            dense_w: [0.0; MAX_REWARDS],
            dense: [&[]; MAX_REWARDS],
            nd: 0,
            seq_w: [0.0; MAX_REWARDS],
            seq: [&[]; MAX_REWARDS],
            ns: 0,
        };
        for (c, &w) in channels.iter().zip(weights) {
            match *c {
                Channel::Dense(d) => {
                    p.dense[p.nd] = d;
                    p.dense_w[p.nd] = w;
                    p.nd += 1;
                }
                Channel::Sequence(s) => {
                    p.seq[p.ns] = s;
                    p.seq_w[p.ns] = w;
                    p.ns += 1;
                }
            }
        }
        Ok(p)
    }

    /// `sum_{sequence-level i} w_i r_i[b]`, accumulated in channel order from 0.
    #[inline(always)]
    pub(crate) fn row_sequence(&self, b: usize) -> f32 {
        let mut acc = 0.0f32;
        for k in 0..self.ns {
            acc += self.seq_w[k] * self.seq[k][b].to_f32();
        }
        acc
    }

    /// Names the first non-finite reward input used by row `b`, or an overflow.
    pub(crate) fn diagnose(
        &self,
        mask: &[u8],
        shape: Shape,
        b: usize,
        output: &'static str,
    ) -> Error {
        for k in 0..self.ns {
            if !self.seq[k][b].to_f32().is_finite() {
                return Error::NonFinite {
                    arg: "rewards",
                    index: b,
                };
            }
        }
        let range = b * shape.len..(b + 1) * shape.len;
        for k in 0..self.nd {
            if let Error::NonFinite { index, .. } = diagnose_row::<T>(
                &[],
                &[("rewards", self.dense[k])],
                mask,
                range.clone(),
                output,
                b,
            ) {
                return Error::NonFinite {
                    arg: "rewards",
                    index,
                };
            }
        }
        Error::Overflow {
            arg: output,
            row: b,
        }
    }
}

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
