//! Critic-free, group-relative advantages for `n` reward channels: GRPO, RLOO,
//! REINFORCE++ with a group baseline and GDPO, with the weights of any composer (Fast RL
//! included), exactly as verl 0.9.1 and trl 1.16.0 define them.
//!
//! Notation: response `b` belongs to group `g(b)` (the responses to one prompt), `k_g`
//! members; `r_i[b]` is reward `i`'s score of `b` (a sequence-level channel's value, or a
//! dense channel's sum over `b`'s valid tokens, as verl's `token_level_rewards.sum(-1)`);
//! `R[b] = sum_i w_i r_i[b]` the composite; `mean_g`, `std_g` a group's mean and unbiased
//! (ddof = 1, as `torch.std` and trl's `nanstd`) standard deviation; `eps` the
//! convention's epsilon, added to the standard deviation (verl 1e-6, trl 1e-4).
//!
//! | estimator | advantage of response `b` | final whitening (`whiten`, default) |
//! |---|---|---|
//! | [`Grpo`](GroupEstimator::Grpo), scale `Group` | `(R - mean_g) / (std_g + eps)` | no |
//! | `Grpo`, scale `Batch` (trl) | `(R - mean_g) / (std_batch(R) + eps)` | no |
//! | `Grpo`, scale `None` (Dr. GRPO) | `R - mean_g` | no |
//! | [`Rloo`](GroupEstimator::Rloo) | `R - mean_{j in g, j != b} R_j = k/(k-1) (R - mean_g)` | no |
//! | [`ReinforcePlusPlus`](GroupEstimator::ReinforcePlusPlus) (verl's `_baseline`) | `R - mean_g` | yes |
//! | [`Gdpo`](GroupEstimator::Gdpo) | `S = sum_i w_i (r_i - mean_g(r_i)) / (std_g(r_i) + eps)` | yes |
//!
//! GRPO, RLOO and REINFORCE++ sum then normalise (trl's `sum_then_normalize`); GDPO
//! normalises each reward within its group, then sums (trl's `normalize_then_sum`,
//! verl's `gdpo`); GDPO's weights are not renormalised (verl's `gdpo_reward_weights`).
//!
//! **Whitening.** [`Convention::Verl`]: verl's `masked_whiten` over every valid token of
//! the batch, a row's advantage counted once per valid token: `mean = sum_b t_b A_b / N`,
//! `var = (sum_b t_b (A_b - mean)^2 / N) * N / (N - 1)`, `A <- (A - mean) / sqrt(var +
//! 1e-8)` (`t_b` row `b`'s valid tokens, `N = sum t_b`; epsilon inside the root).
//! [`Convention::Trl`]: once per sequence, `A <- (A - mean) / (std_u(A) + 1e-4)`.
//!
//! **Edge cases** (defined results; no NaN or inf for finite input):
//! * A group of one: verl sets `mean = 0, std = 1` (GRPO and GDPO give `r / (1 + eps)`,
//!   RLOO and REINFORCE++ the raw score); trl gives 0 (its std is taken as 0, so the
//!   advantage is `(r - r) / eps`). [`GroupStats::singletons`] counts them.
//! * A zero-variance group gives exactly 0 (statistics in `f64`: the mean of equal `f32`
//!   values is exact). The peers compute `(r - mean) / eps` in `f32`, where a one-ulp
//!   error of the mean is magnified `1/eps` times; this is the value they intend.
//! * Whitening a batch with at most one valid token (verl) or one response (trl) gives 0
//!   (verl raises; trl's std is then taken as 0).
//! * An advantage beyond `f32`'s range (RLOO's `k/(k-1)` of scores near `3e38`) is
//!   [`Error::Overflow`].
//! * Group ids must lie in `0..num_groups`; with `group_size = Some(k)` every group that
//!   occurs must have exactly `k` members ([`Error::GroupSize`]).
//!
//! Everything is accumulated in `f64` and rounded once to `f32`, so results equal the
//! peers' `f32` arithmetic to within rounding.

use crate::error::Result;
use crate::error::{length, Error};
use crate::names::named_enum;
use crate::shape::{check_batch, Channel, Shape};
use crate::storage::Storage;

/// Which critic-free estimator (the module docs' table).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum GroupEstimator {
    /// GRPO: the composite normalised within its group.
    #[default]
    Grpo,
    /// RLOO: the composite minus the leave-one-out mean of its group.
    Rloo,
    /// REINFORCE++ with a group-mean baseline, then whitened (verl's
    /// `reinforce_plus_plus_baseline`).
    ReinforcePlusPlus,
    /// GDPO: each reward normalised within its group, weighted sum, then whitened.
    Gdpo,
}

named_enum!(GroupEstimator, "group estimator", {
    GroupEstimator::Grpo => (0, "grpo"),
    GroupEstimator::Rloo => (1, "rloo"),
    GroupEstimator::ReinforcePlusPlus => (2, "reinforce_pp"),
    GroupEstimator::Gdpo => (3, "gdpo"),
});

/// GRPO's division (trl's `scale_rewards`; verl's `norm_adv_by_std_in_grpo` is
/// `Group` / `None`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum GroupScale {
    /// By the group's standard deviation.
    #[default]
    Group,
    /// By the standard deviation of the whole batch's composites (trl `"batch"`).
    Batch,
    /// Not at all: Dr. GRPO.
    None,
}

named_enum!(GroupScale, "group scale", {
    GroupScale::Group => (0, "group"),
    GroupScale::Batch => (1, "batch"),
    GroupScale::None => (2, "none"),
});

/// Whose definitions: epsilon, groups of one, and the whitening form (module docs).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Convention {
    /// verl 0.9.1 (`core_algos.py`): eps 1e-6, singleton `mean 0, std 1`, token-weighted
    /// whitening.
    #[default]
    Verl,
    /// trl 1.16.0 (`grpo_trainer.py`, `rloo_trainer.py`): eps 1e-4, singleton 0,
    /// per-sequence whitening.
    Trl,
}

named_enum!(Convention, "convention", {
    Convention::Verl => (0, "verl"),
    Convention::Trl => (1, "trl"),
});

impl Convention {
    /// The epsilon added to a standard deviation.
    pub const fn eps(self) -> f64 {
        match self {
            Convention::Verl => 1e-6,
            Convention::Trl => 1e-4,
        }
    }
}

/// Parameters of [`group_advantages`].
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct GroupParams {
    /// The estimator.
    pub estimator: GroupEstimator,
    /// GRPO's division (ignored by the others).
    pub scale: GroupScale,
    /// Whose definitions.
    pub convention: Convention,
    /// Whiten the final advantages (the module docs' form for the convention). Default:
    /// as the peers do, on for REINFORCE++ and GDPO, off for GRPO and RLOO (trl's RLOO
    /// `normalize_advantages = True` is RLOO with `whiten` on).
    pub whiten: bool,
    /// When set, every group that occurs must have exactly this many members.
    pub group_size: Option<usize>,
}

impl GroupParams {
    /// The peers' defaults for `estimator` under `convention`.
    pub const fn new(estimator: GroupEstimator, convention: Convention) -> Self {
        GroupParams {
            estimator,
            scale: GroupScale::Group,
            convention,
            whiten: matches!(
                estimator,
                GroupEstimator::ReinforcePlusPlus | GroupEstimator::Gdpo
            ),
            group_size: None,
        }
    }
}

impl Default for GroupParams {
    fn default() -> Self {
        GroupParams::new(GroupEstimator::Grpo, Convention::Verl)
    }
}

/// What [`group_advantages`] saw.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct GroupStats {
    /// Groups with at least one member.
    pub groups: usize,
    /// Groups of one.
    pub singletons: usize,
    /// Groups (of two or more) whose composite (GDPO: every reward) is constant.
    pub zero_variance: usize,
    /// Valid tokens in the batch.
    pub tokens: usize,
}

/// The `f64` scratch length [`group_advantages`] needs: `2 * batch + 3 * num_groups`.
pub const fn group_scratch_len(batch: usize, num_groups: usize) -> usize {
    2 * batch + 3 * num_groups
}

/// Group-relative advantages, one per response, into `out[..batch]` (the module docs'
/// definitions). `channels` are the `n` rewards (sequence-level `[batch]` or dense
/// `[batch * len]`), `weights` their weights (length `n`, finite), `groups[b]` response
/// `b`'s group id in `0..num_groups`, `mask` the `[batch, len]` response mask (holes
/// allowed: only its count of valid tokens per row is read, for dense sums and verl's
/// whitening). `scratch` holds at least [`group_scratch_len`] `f64`s. Spread the result
/// over tokens with [`broadcast_rows`].
#[allow(clippy::too_many_arguments)]
pub fn group_advantages<T: Storage>(
    channels: &[Channel<'_, T>],
    weights: &[f32],
    groups: &[u32],
    num_groups: usize,
    mask: &[u8],
    shape: Shape,
    params: &GroupParams,
    scratch: &mut [f64],
    out: &mut [f32],
) -> Result<GroupStats> {
    check_batch(channels, mask, shape)?;
    let (b_len, n) = (shape.batch, channels.len());
    length("weights", n, weights.len())?;
    length("groups", b_len, groups.len())?;
    length("out", b_len, out.len())?;
    if let Some(index) = weights.iter().position(|w| !w.is_finite()) {
        return Err(Error::NonFinite {
            arg: "weights",
            index,
        });
    }
    if b_len == 0 {
        return Err(Error::EmptyBatch { arg: "groups" });
    }
    let need = group_scratch_len(b_len, num_groups);
    if scratch.len() < need {
        return Err(Error::Length {
            arg: "scratch",
            expected: need,
            actual: scratch.len(),
        });
    }
    if let Some(index) = groups.iter().position(|&g| g as usize >= num_groups) {
        return Err(Error::OutOfRange {
            arg: "groups",
            expected: "[0, num_groups)",
            actual: groups[index] as f64,
        });
    }
    // Every score used must be finite.
    for c in channels {
        let bad = match c {
            Channel::Sequence(s) => s.iter().position(|x| !x.to_f32().is_finite()),
            Channel::Dense(d) => (0..d.len()).find(|&j| mask[j] != 0 && !d[j].to_f32().is_finite()),
        };
        if let Some(j) = bad {
            return Err(Error::NonFinite {
                arg: "rewards",
                index: j,
            });
        }
    }
    let (rows, rest) = scratch[..need].split_at_mut(b_len);
    let (chan, rest) = rest.split_at_mut(b_len);
    let (count, rest) = rest.split_at_mut(num_groups);
    let (sum, ssd) = rest.split_at_mut(num_groups);
    count.fill(0.0);
    for &g in groups {
        count[g as usize] += 1.0;
    }
    let mut stats = GroupStats::default();
    for (group, &c) in count.iter().enumerate() {
        if c > 0.0 {
            stats.groups += 1;
            if c == 1.0 {
                stats.singletons += 1;
            }
            if let Some(k) = params.group_size {
                if c as usize != k {
                    return Err(Error::GroupSize {
                        group,
                        expected: k,
                        actual: c as usize,
                    });
                }
            }
        }
    }
    stats.tokens = mask.iter().filter(|&&m| m != 0).count();
    let conv = params.convention;
    let eps = conv.eps();
    // Every estimator is `A = (x - c_g) * m_g` with a per-group centre and multiplier
    // (`affine` below), applied to the composite or, for GDPO, to each reward.
    match params.estimator {
        GroupEstimator::Gdpo => {
            rows.fill(0.0);
            // Reported: the fewest zero-variance groups of any one reward (a lower
            // bound on the groups where every reward is constant).
            let mut zv_groups = usize::MAX;
            for (i, c) in channels.iter().enumerate() {
                let w = weights[i] as f64;
                for (b, x) in chan.iter_mut().enumerate() {
                    *x = score(c, b, mask, shape);
                }
                moments(|b| chan[b], groups, count, sum, ssd);
                zv_groups = zv_groups.min(zero_variance(count, ssd));
                affine(
                    GroupEstimator::Grpo,
                    GroupScale::Group,
                    0.0,
                    conv,
                    eps,
                    count,
                    sum,
                    ssd,
                );
                for b in 0..b_len {
                    let g = groups[b] as usize;
                    rows[b] += w * ((chan[b] - sum[g]) * ssd[g]);
                }
            }
            stats.zero_variance = zv_groups;
        }
        est => {
            for b in 0..b_len {
                let mut r = 0.0f64;
                for (i, c) in channels.iter().enumerate() {
                    r += weights[i] as f64 * score(c, b, mask, shape);
                }
                rows[b] = r;
            }
            moments(|b| rows[b], groups, count, sum, ssd);
            stats.zero_variance = zero_variance(count, ssd);
            let batch_std = if est == GroupEstimator::Grpo && params.scale == GroupScale::Batch {
                sample_std(rows)
            } else {
                0.0
            };
            affine(est, params.scale, batch_std, conv, eps, count, sum, ssd);
            for b in 0..b_len {
                let g = groups[b] as usize;
                rows[b] = (rows[b] - sum[g]) * ssd[g];
            }
        }
    }
    if params.whiten {
        whiten_rows(rows, mask, shape, conv);
    }
    for b in 0..b_len {
        out[b] = rows[b] as f32;
        if !out[b].is_finite() {
            return Err(Error::Overflow {
                arg: "advantages",
                row: b,
            });
        }
    }
    Ok(stats)
}

/// `out[b, t] = seq[b]` at valid tokens, 0 at masked ones (verl's
/// `scores.unsqueeze(-1) * response_mask`).
pub fn broadcast_rows(seq: &[f32], mask: &[u8], shape: Shape, out: &mut [f32]) -> Result<()> {
    let tokens = shape.tokens()?;
    length("seq", shape.batch, seq.len())?;
    length("mask", tokens, mask.len())?;
    length("out", tokens, out.len())?;
    for b in 0..shape.batch {
        let lo = b * shape.len;
        for t in lo..lo + shape.len {
            out[t] = if mask[t] != 0 { seq[b] } else { 0.0 };
        }
    }
    Ok(())
}

/// Row `b`'s score in channel `c`: the value, or the dense sum over valid tokens.
#[inline]
fn score<T: Storage>(c: &Channel<'_, T>, b: usize, mask: &[u8], shape: Shape) -> f64 {
    match c {
        Channel::Sequence(s) => s[b].to_f32() as f64,
        Channel::Dense(d) => {
            let lo = b * shape.len;
            // Branch-free, in four lanes so the adds overlap.
            let (row, m) = (&d[lo..lo + shape.len], &mask[lo..lo + shape.len]);
            let mut acc = [0.0f64; 4];
            let mut rc = row.chunks_exact(4);
            let mut mc = m.chunks_exact(4);
            for (r4, m4) in (&mut rc).zip(&mut mc) {
                for j in 0..4 {
                    let x = r4[j].to_f32() as f64;
                    acc[j] += if m4[j] != 0 { x } else { 0.0 };
                }
            }
            let mut tail = 0.0f64;
            for (x, &mm) in rc.remainder().iter().zip(mc.remainder()) {
                tail += if mm != 0 { x.to_f32() as f64 } else { 0.0 };
            }
            (acc[0] + acc[1]) + (acc[2] + acc[3]) + tail
        }
    }
}

/// Per-group sums and sums of squared deviations of `x(b)` (two passes) into `sum`,
/// `ssd`; `count` holds the group sizes.
fn moments(
    x: impl Fn(usize) -> f64,
    groups: &[u32],
    count: &[f64],
    sum: &mut [f64],
    ssd: &mut [f64],
) {
    sum.fill(0.0);
    ssd.fill(0.0);
    for (b, &g) in groups.iter().enumerate() {
        sum[g as usize] += x(b);
    }
    for (g, s) in sum.iter_mut().enumerate() {
        if count[g] > 0.0 {
            *s /= count[g];
        }
    }
    for (b, &g) in groups.iter().enumerate() {
        let g = g as usize;
        let d = x(b) - sum[g];
        ssd[g] += d * d;
    }
}

/// Groups of two or more with no spread.
fn zero_variance(count: &[f64], ssd: &[f64]) -> usize {
    count
        .iter()
        .zip(ssd)
        .filter(|&(&k, &s)| k >= 2.0 && s == 0.0)
        .count()
}

/// Turns each group's `(mean, ssd)` in `(centre, ssd)` into the `(c_g, m_g)` of
/// `A = (x - c_g) * m_g` (module docs, including the singleton and zero-variance rules).
#[allow(clippy::too_many_arguments)]
fn affine(
    est: GroupEstimator,
    scale: GroupScale,
    batch_std: f64,
    conv: Convention,
    eps: f64,
    count: &[f64],
    centre: &mut [f64],
    mult: &mut [f64],
) {
    for g in 0..count.len() {
        let k = count[g];
        if k < 2.0 {
            // A group of one: verl centres at 0 and keeps GRPO's std of 1; trl gives 0.
            centre[g] = 0.0;
            mult[g] = match (conv, est, scale) {
                (Convention::Trl, _, _) => 0.0,
                (Convention::Verl, GroupEstimator::Grpo, GroupScale::Group) => 1.0 / (1.0 + eps),
                (Convention::Verl, GroupEstimator::Grpo, GroupScale::Batch) => {
                    1.0 / (batch_std + eps)
                }
                (Convention::Verl, _, _) => 1.0,
            };
            continue;
        }
        let ssd = mult[g];
        mult[g] = if ssd == 0.0 {
            0.0 // every member equals the mean: exactly 0
        } else {
            match (est, scale) {
                (GroupEstimator::Grpo, GroupScale::Group) => {
                    1.0 / (libm::sqrt(ssd / (k - 1.0)) + eps)
                }
                (GroupEstimator::Grpo, GroupScale::Batch) => 1.0 / (batch_std + eps),
                (GroupEstimator::Rloo, _) => k / (k - 1.0),
                _ => 1.0,
            }
        };
    }
}

/// Unbiased standard deviation of `x` (0 for fewer than two values).
fn sample_std(x: &[f64]) -> f64 {
    if x.len() < 2 {
        return 0.0;
    }
    let mean = x.iter().sum::<f64>() / x.len() as f64;
    let ss: f64 = x.iter().map(|&v| (v - mean) * (v - mean)).sum();
    libm::sqrt(ss / (x.len() - 1) as f64)
}

/// The convention's final whitening of the per-row advantages (module docs).
fn whiten_rows(rows: &mut [f64], mask: &[u8], shape: Shape, conv: Convention) {
    match conv {
        Convention::Verl => {
            let t = |b: usize| {
                mask[b * shape.len..(b + 1) * shape.len]
                    .iter()
                    .filter(|&&m| m != 0)
                    .count() as f64
            };
            let mut n_tok = 0.0f64;
            let mut s = 0.0f64;
            for (b, &x) in rows.iter().enumerate() {
                let tb = t(b);
                n_tok += tb;
                s += tb * x;
            }
            if n_tok <= 1.0 {
                rows.fill(0.0);
                return;
            }
            let mean = s / n_tok;
            let mut ss = 0.0f64;
            for (b, &x) in rows.iter().enumerate() {
                ss += t(b) * (x - mean) * (x - mean);
            }
            let var = ss / n_tok * (n_tok / (n_tok - 1.0));
            let inv = 1.0 / libm::sqrt(var + 1e-8);
            for x in rows.iter_mut() {
                *x = (*x - mean) * inv;
            }
        }
        Convention::Trl => {
            if rows.len() < 2 {
                rows.fill(0.0);
                return;
            }
            let mean = rows.iter().sum::<f64>() / rows.len() as f64;
            let sd = sample_std(rows);
            for x in rows.iter_mut() {
                *x = (*x - mean) / (sd + 1e-4);
            }
        }
    }
}
