//! One fused pass per row: composition (Eq. (6)) + KL penalty (Eq. (7)) + GAE + returns.

use crate::error::length;
use crate::error::Error;
use crate::error::Result;
use crate::ops::forward::forward_row;
use crate::ops::gae::GaeParams;
use crate::ops::kl::check_beta;
use crate::ops::kl_estimator::KlEstimator;
use crate::ops::non_finite::diagnose_row;
use crate::ops::prepared::Prepared;
use crate::ops::row;
use crate::shape::{check_batch, Channel, MaskMode, Shape};
use crate::storage::Storage;

/// Inputs of [`fused_pass`]; every per-token slice is `[batch * len]`, row-major.
#[derive(Clone, Copy, Debug)]
pub struct FusedInputs<'a, T> {
    /// Reward channels `r_1..r_n` (sequence-level and/or dense).
    pub channels: &'a [Channel<'a, T>],
    /// Composition weights `w` (from [`Composer::update`](crate::Composer::update)).
    pub weights: &'a [f32],
    /// Policy log-prob of each sampled token.
    pub logp: &'a [T],
    /// Reference-model log-prob of each sampled token.
    pub ref_logp: &'a [T],
    /// Value estimates `V_t`.
    pub values: &'a [T],
    /// 1 = valid token, 0 = masked.
    pub mask: &'a [u8],
}

/// Outputs of [`fused_pass`], each `[batch * len]`; masked positions are written 0.
#[derive(Debug)]
pub struct FusedOutputs<'a> {
    /// The penalised composite reward `r_exp = r_com - beta * kl` per token.
    pub rewards: &'a mut [f32],
    /// Advantages `A_t`.
    pub advantages: &'a mut [f32],
    /// Returns (value targets) `A_t + V_t`.
    pub returns: &'a mut [f32],
}

/// Scalars of the fused pass.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct FusedParams {
    /// GAE discount and `lambda`.
    pub gae: GaeParams,
    /// KL coefficient `beta` (from [`KlController::beta`](crate::KlController::beta)).
    pub beta: f32,
    /// KL estimator.
    pub estimator: KlEstimator,
    /// Mask semantics.
    pub mode: MaskMode,
}

impl Default for FusedParams {
    /// The paper's Table 7 (DailyDialog): `gamma = 0.99`, `lambda = 0.95`, `beta = 0.2`;
    /// `k1`, prefix masks.
    fn default() -> Self {
        FusedParams {
            gae: GaeParams::default(),
            beta: 0.2,
            estimator: KlEstimator::K1,
            mode: MaskMode::Prefix,
        }
    }
}

/// Batch sums gathered by the fused pass at no extra memory traffic.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct FusedStats {
    /// Valid tokens.
    pub valid_tokens: usize,
    /// Sum of the KL estimate over valid tokens (feed `kl_sum / valid_tokens` to an
    /// adaptive [`KlController`](crate::KlController)).
    pub kl_sum: f64,
    /// Sum of the composite reward `r_com` (before the penalty) over valid tokens.
    pub reward_sum: f64,
}

/// Composition + KL penalty + GAE + returns in one backward pass over each row, reading
/// every input once.
///
/// Per valid token, backwards (see [`compose`](crate::compose()),
/// [`kl_penalty`](crate::kl_penalty()) and [`gae`](crate::gae()) for each step):
///
/// ```text
/// r_com = sum_i w_i r_i[b,t]                 Eq. (6)
/// r_exp = r_com - beta * kl(logp, ref_logp)  Eq. (7)
/// A_t   = r_exp + gamma V_{t'} - V_t + gamma lambda A_{t'},   R_t = A_t + V_t
/// ```
///
/// Each row runs the same row kernels as the separate functions, back to back while the
/// row is in cache, so on the CPU the results are **bit-identical** to
/// `compose -> kl_penalty -> gae` (a tested property). Whitening needs batch statistics
/// and is a separate pass ([`whiten`](crate::whiten())).
pub fn fused_pass<T: Storage>(
    inputs: &FusedInputs<'_, T>,
    shape: Shape,
    params: &FusedParams,
    out: &mut FusedOutputs<'_>,
) -> Result<FusedStats> {
    let tokens = check_batch(inputs.channels, inputs.mask, shape)?;
    length("logp", tokens, inputs.logp.len())?;
    length("ref_logp", tokens, inputs.ref_logp.len())?;
    length("values", tokens, inputs.values.len())?;
    length("rewards (output)", tokens, out.rewards.len())?;
    length("advantages", tokens, out.advantages.len())?;
    length("returns", tokens, out.returns.len())?;
    params.gae.validate()?;
    check_beta(params.beta)?;
    let p = Prepared::new(inputs.channels, inputs.weights)?;
    let (mask, logp, ref_logp, values) = (inputs.mask, inputs.logp, inputs.ref_logp, inputs.values);
    let gamma = params.gae.gamma;
    let gl = params.gae.gamma * params.gae.lambda;
    let beta = params.beta;
    let est = params.estimator;
    let mut stats = FusedStats::default();
    let len = shape.len;
    for (b, g) in row::groups(shape.batch) {
        // Forward over each row of the group: composite, penalty and delta ...
        let mut ends = [0usize; row::GAE_GROUP];
        for k in 0..g {
            let rw = b + k;
            let span = rw * len..(rw + 1) * len;
            let m = &mask[span.clone()];
            let info = row::scan(m, rw, params.mode)?;
            let (out_r, out_a, out_ret) = (
                &mut out.rewards[span.clone()],
                &mut out.advantages[span.clone()],
                &mut out.returns[span.clone()],
            );
            let Some(last) = info.last else {
                out_r.fill(0.0);
                out_a.fill(0.0);
                out_ret.fill(0.0);
                continue;
            };
            let fast = if info.holes {
                None
            } else {
                forward_row(
                    &p,
                    rw,
                    rw * len,
                    last,
                    &logp[span.clone()],
                    &ref_logp[span.clone()],
                    &values[span.clone()],
                    beta,
                    gamma,
                    est,
                    out_r,
                    out_a,
                )
            };
            if let Some(sums) = fast {
                out_r[last + 1..].fill(0.0);
                out_a[last + 1..].fill(0.0);
                out_ret[last + 1..].fill(0.0);
                ends[k] = last + 1;
                stats.kl_sum += sums.kl;
                stats.reward_sum += sums.reward;
                stats.valid_tokens += last + 1;
            } else {
                // Holes, or more dense channels than the fast kernel takes: the row kernels.
                let ok = row::compose_row(&p, rw, rw * len, m, info, out_r);
                let (kl_sum, r_sum, ok_kl) = row::penalize_row(
                    out_r,
                    &logp[span.clone()],
                    &ref_logp[span.clone()],
                    m,
                    beta,
                    est,
                );
                if !(ok & ok_kl) {
                    return Err(diagnose(&p, inputs, shape, rw));
                }
                row::holey_row(out_r, &values[span], m, last, gamma, gl, out_a, out_ret);
                stats.kl_sum += kl_sum;
                stats.reward_sum += r_sum;
                stats.valid_tokens += m.iter().filter(|&&x| x != 0).count();
            }
        }
        // ... then the serial part of GAE, interleaved across the group, and returns.
        let span = b * len..(b + g) * len;
        let bad = row::finish_group(
            len,
            &values[span.clone()],
            &ends[..g],
            gl,
            &mut out.advantages[span.clone()],
            &mut out.returns[span],
        );
        if let Some(k) = bad {
            return Err(diagnose(&p, inputs, shape, b + k));
        }
    }
    Ok(stats)
}

/// Names the first non-finite input of row `b`, or reports an overflow there.
fn diagnose<T: Storage>(
    p: &Prepared<'_, T>,
    inputs: &FusedInputs<'_, T>,
    shape: Shape,
    b: usize,
) -> Error {
    match p.diagnose(inputs.mask, shape, b, "advantages") {
        Error::Overflow { .. } => diagnose_row(
            &[],
            &[
                ("logp", inputs.logp),
                ("ref_logp", inputs.ref_logp),
                ("values", inputs.values),
            ],
            inputs.mask,
            b * shape.len..(b + 1) * shape.len,
            "advantages",
            b,
        ),
        e => e,
    }
}
