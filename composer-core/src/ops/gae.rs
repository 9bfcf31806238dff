//! Generalised advantage estimation (Algorithm 1, line 11) over masked, variable-length rows.

use crate::error::Result;
use crate::error::{length, Error};
use crate::ops::non_finite::diagnose_row;
use crate::ops::row;
use crate::shape::{MaskMode, Shape};
use crate::storage::Storage;

/// GAE's discount `gamma` and trace decay `lambda`, both in `[0, 1]`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct GaeParams {
    /// Discount factor.
    pub gamma: f32,
    /// GAE `lambda`.
    pub lambda: f32,
}

impl Default for GaeParams {
    /// The paper's Table 7: `gamma = 0.99`, `lambda = 0.95`.
    fn default() -> Self {
        GaeParams {
            gamma: 0.99,
            lambda: 0.95,
        }
    }
}

impl GaeParams {
    /// Checks `gamma`, `lambda` in `[0, 1]`.
    pub fn validate(&self) -> Result<()> {
        crate::error::in_range("gamma", self.gamma, 0.0, 1.0, "[0, 1]")?;
        crate::error::in_range("lambda", self.lambda, 0.0, 1.0, "[0, 1]")
    }
}

/// GAE and returns for a `[batch, len]` batch of per-token rewards and values.
///
/// Per row, backwards over valid tokens `t` (masked tokens are skipped, see
/// [`MaskMode`]; `t'` is the next valid token after `t`, none past the last):
///
/// ```text
/// delta_t = r_t + gamma * V_{t'} - V_t        (V past the last valid token = 0)
/// A_t     = delta_t + gamma * lambda * A_{t'}  (A past the last valid token = 0)
/// R_t     = A_t + V_t
/// ```
///
/// Masked positions get `A = R = 0`; their rewards and values are never read into a
/// valid output (they may hold anything, even NaN). An all-masked row is all zeros.
#[allow(clippy::too_many_arguments)]
pub fn gae<T: Storage>(
    rewards: &[T],
    values: &[T],
    mask: &[u8],
    shape: Shape,
    mode: MaskMode,
    params: GaeParams,
    advantages: &mut [f32],
    returns: &mut [f32],
) -> Result<()> {
    params.validate()?;
    let tokens = shape.tokens()?;
    length("rewards", tokens, rewards.len())?;
    length("values", tokens, values.len())?;
    length("mask", tokens, mask.len())?;
    length("advantages", tokens, advantages.len())?;
    length("returns", tokens, returns.len())?;
    let gamma = params.gamma;
    let gl = params.gamma * params.lambda;
    let len = shape.len;
    let mut infos = [row::RowMask::default(); row::GAE_GROUP];
    for (b, g) in row::groups(shape.batch) {
        for k in 0..g {
            let row = b + k;
            infos[k] = row::scan(&mask[row * len..(row + 1) * len], row, mode)?;
        }
        let span = b * len..(b + g) * len;
        let bad = row::gae_group(
            len,
            &rewards[span.clone()],
            &values[span.clone()],
            &mask[span.clone()],
            &infos[..g],
            gamma,
            gl,
            &mut advantages[span.clone()],
            &mut returns[span],
        );
        if let Some(k) = bad {
            let row = b + k;
            return Err(overflow_or_input(
                rewards,
                values,
                mask,
                row * len..(row + 1) * len,
                row,
            ));
        }
    }
    Ok(())
}

fn overflow_or_input<T: Storage>(
    rewards: &[T],
    values: &[T],
    mask: &[u8],
    range: core::ops::Range<usize>,
    row: usize,
) -> Error {
    diagnose_row::<T>(
        &[],
        &[("rewards", rewards), ("values", values)],
        mask,
        range,
        "advantages",
        row,
    )
}
