//! One fused pass per row: composition (Eq. (6)) + KL penalty (Eq. (7)) + GAE + returns.

use crate::compose::Prepared;
use crate::error::length;
use crate::gae::{gae_step, GaeParams};
use crate::kl::{check_beta, diagnose_row, KlEstimator};
use crate::shape::{check_batch, last_valid, Channel, MaskMode, Shape};
use crate::storage::Storage;
use crate::Result;

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
/// The per-token arithmetic is the same code, in the same order, as the separate
/// functions, so on the CPU the results are **bit-identical** to
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
    for b in 0..shape.batch {
        let lo = b * shape.len;
        let hi = lo + shape.len;
        let Some(last) = last_valid(&mask[lo..hi], b, params.mode)? else {
            out.rewards[lo..hi].fill(0.0);
            out.advantages[lo..hi].fill(0.0);
            out.returns[lo..hi].fill(0.0);
            continue;
        };
        let last = lo + last;
        let seq = p.row_sequence(b);
        let (mut v_next, mut a_next) = (0.0f32, 0.0f32);
        let (mut kl_sum, mut r_sum, mut n) = (0.0f64, 0.0f64, 0usize);
        let mut ok = true;
        for i in (lo..hi).rev() {
            if mask[i] == 0 {
                out.rewards[i] = 0.0;
                out.advantages[i] = 0.0;
                out.returns[i] = 0.0;
                continue;
            }
            let r_com = p.token(i, i == last, seq);
            let kl = est.eval(logp[i].to_f32(), ref_logp[i].to_f32());
            let r = r_com - beta * kl;
            let v = values[i].to_f32();
            let a = gae_step(r, v, v_next, a_next, gamma, gl);
            let ret = a + v;
            ok &= r.is_finite() & a.is_finite() & ret.is_finite();
            out.rewards[i] = r;
            out.advantages[i] = a;
            out.returns[i] = ret;
            kl_sum += kl as f64;
            r_sum += r_com as f64;
            n += 1;
            v_next = v;
            a_next = a;
        }
        if !ok {
            let e = p.diagnose(mask, shape, b, "advantages");
            return Err(match e {
                crate::Error::Overflow { .. } => diagnose_row(
                    &[],
                    &[("logp", logp), ("ref_logp", ref_logp), ("values", values)],
                    mask,
                    lo..hi,
                    "advantages",
                    b,
                ),
                e => e,
            });
        }
        stats.kl_sum += kl_sum;
        stats.reward_sum += r_sum;
        stats.valid_tokens += n;
    }
    Ok(stats)
}
