//! [`Prepared`]: reward channels split into dense and sequence-level lists with their
//! weights, the form the row kernels read (shared by composition and the fused pass).

use crate::error::Result;
use crate::error::{length, Error};
use crate::ops::non_finite::diagnose_row;
use crate::shape::MAX_REWARDS;
use crate::shape::{Channel, Shape};
use crate::storage::Storage;

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
