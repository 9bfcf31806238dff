//! Per-reward batch means `rbar_i`, the input of the weight update (Eq. (4), (5)).

use crate::error::Error;
use crate::error::Result;
use crate::ops::row;
use crate::shape::{check_batch, Channel, MaskMode, Shape};
use crate::storage::Storage;

/// Computes each channel's batch mean `rbar_i` into `out[..n]` and returns the number
/// of valid tokens.
///
/// * Sequence-level channel: `rbar_i = (1/|R|) sum_{b in R} r_i[b]` over the rows `R`
///   that have at least one valid token (an all-masked row's score has nowhere to land
///   and is not used).
/// * Dense channel: `rbar_i = (1/N) sum_{b,t: mask=1} r_i[b,t]` over the `N` valid tokens.
///
/// Sums are accumulated in `f64`. Errors: bad lengths, a non-finite score that is used
/// ([`Error::NonFinite`]), or no valid token in the batch ([`Error::EmptyBatch`]).
pub fn reward_means<T: Storage>(
    channels: &[Channel<'_, T>],
    mask: &[u8],
    shape: Shape,
    mode: MaskMode,
    out: &mut [f32],
) -> Result<usize> {
    check_batch(channels, mask, shape)?;
    crate::error::length("out", channels.len(), out.len())?;
    let mut sums = [0.0f64; crate::shape::MAX_REWARDS];
    let mut rows = 0usize;
    let mut tokens = 0usize;
    for b in 0..shape.batch {
        let row = &mask[b * shape.len..(b + 1) * shape.len];
        if row::scan(row, b, mode)?.last.is_none() {
            continue;
        }
        rows += 1;
        for (i, c) in channels.iter().enumerate() {
            match c {
                Channel::Sequence(s) => {
                    let x = s[b].to_f32();
                    if !x.is_finite() {
                        return Err(Error::NonFinite {
                            arg: "rewards",
                            index: b,
                        });
                    }
                    sums[i] += x as f64;
                }
                Channel::Dense(d) => {
                    let base = b * shape.len;
                    for (t, &m) in row.iter().enumerate() {
                        if m != 0 {
                            let x = d[base + t].to_f32();
                            if !x.is_finite() {
                                return Err(Error::NonFinite {
                                    arg: "rewards",
                                    index: base + t,
                                });
                            }
                            sums[i] += x as f64;
                        }
                    }
                }
            }
        }
        tokens += row.iter().filter(|&&m| m != 0).count();
    }
    if tokens == 0 {
        return Err(Error::EmptyBatch { arg: "mask" });
    }
    for (i, c) in channels.iter().enumerate() {
        let denom = match c {
            Channel::Sequence(_) => rows,
            Channel::Dense(_) => tokens,
        };
        out[i] = (sums[i] / denom as f64) as f32;
    }
    Ok(tokens)
}
