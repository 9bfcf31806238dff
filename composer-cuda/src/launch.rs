//! Shape validation and launch planning, done on the host before anything touches CUDA
//! (so it is tested without a GPU).

use crate::error::CudaError;
use crate::params::{
    ChannelsC, FusedParamsC, GroupParamsC, SumsParamsC, WhitenParamsC, GROUP_BIT_BAD_ID,
    GROUP_BIT_BAD_REWARD, GROUP_BIT_BAD_SIZE, GROUP_BIT_OVERFLOW, GROUP_REPORT_LEN, GROUP_R_BAD_ID,
    GROUP_R_BAD_REWARD, GROUP_R_BAD_SIZE, GROUP_R_BITS, GROUP_R_GROUPS, GROUP_R_OVERFLOW,
    GROUP_R_SINGLETONS, GROUP_R_TOKENS, GROUP_R_ZERO_VAR,
};
use composer_core::{
    Error, FusedParams, GroupEstimator, GroupParams, GroupScale, GroupStats, Shape, MAX_REWARDS,
};
use cudarc::driver::LaunchConfig;

/// A device buffer given as a raw device pointer (e.g. tch's `data_ptr()` of a contiguous
/// CUDA tensor) and its length in elements. The library never frees it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DevPtr {
    /// Device address.
    pub ptr: u64,
    /// Length in elements.
    pub len: usize,
}

/// One reward channel on the device: `dense` = `[batch*len]` scores, else `[batch]`.
#[derive(Clone, Copy, Debug)]
pub struct DevChannel {
    /// Scores.
    pub data: DevPtr,
    /// Per-token (true) or per-row (false).
    pub dense: bool,
}

/// Buffers of one fused launch.
#[derive(Clone, Copy, Debug)]
pub struct FusedBuffers<'a> {
    /// Reward channels (1..=16).
    pub channels: &'a [DevChannel],
    /// Composition weights (host).
    pub weights: &'a [f32],
    /// `[batch*len]` policy log-probs.
    pub logp: DevPtr,
    /// `[batch*len]` reference log-probs.
    pub ref_logp: DevPtr,
    /// `[batch*len]` values.
    pub values: DevPtr,
    /// `[batch*len]` u8 mask.
    pub mask: DevPtr,
    /// `[batch*len]` f32 out: penalised composite reward.
    pub out_rewards: DevPtr,
    /// `[batch*len]` f32 out: advantages.
    pub out_adv: DevPtr,
    /// `[batch*len]` f32 out: returns.
    pub out_ret: DevPtr,
    /// `[3]` f64, zeroed by the caller: KL sum, composite sum, valid tokens (accumulated).
    pub stats: DevPtr,
    /// `[1]` i32, zeroed by the caller: status bits (or-ed).
    pub status: DevPtr,
}

pub(crate) fn check(arg: &'static str, p: DevPtr, expected: usize) -> Result<(), CudaError> {
    if p.len != expected {
        return Err(Error::Length {
            arg,
            expected,
            actual: p.len,
        }
        .into());
    }
    if p.ptr == 0 && expected > 0 {
        return Err(CudaError::NullPointer { arg });
    }
    Ok(())
}

pub(crate) fn check_at_least(arg: &'static str, p: DevPtr, min: usize) -> Result<(), CudaError> {
    if p.len < min {
        return Err(Error::Length {
            arg,
            expected: min,
            actual: p.len,
        }
        .into());
    }
    if p.ptr == 0 {
        return Err(CudaError::NullPointer { arg });
    }
    Ok(())
}

/// Threads per row block: a power of two in [32, 1024] giving each thread about 8 tokens.
pub fn threads_for(len: usize) -> u32 {
    (len.div_ceil(8)).next_power_of_two().clamp(32, 1024) as u32
}

fn dims(shape: Shape) -> Result<(i32, i32), CudaError> {
    shape.tokens()?;
    let b = i32::try_from(shape.batch)
        .map_err(|_| CudaError::Unsupported(format!("batch {} > i32::MAX", shape.batch)))?;
    let l = i32::try_from(shape.len)
        .map_err(|_| CudaError::Unsupported(format!("len {} > i32::MAX", shape.len)))?;
    Ok((b, l))
}

fn channels(chs: &[DevChannel], weights: &[f32], shape: Shape) -> Result<ChannelsC, CudaError> {
    if chs.is_empty() {
        return Err(Error::NoRewards.into());
    }
    if chs.len() > MAX_REWARDS {
        return Err(Error::TooManyRewards {
            max: MAX_REWARDS,
            actual: chs.len(),
        }
        .into());
    }
    if weights.len() != chs.len() {
        return Err(Error::Length {
            arg: "weights",
            expected: chs.len(),
            actual: weights.len(),
        }
        .into());
    }
    if let Some(index) = weights.iter().position(|w| !w.is_finite()) {
        return Err(Error::NonFinite {
            arg: "weights",
            index,
        }
        .into());
    }
    let tokens = shape.tokens()?;
    let mut c = ChannelsC {
        ptr: [0; MAX_REWARDS],
        w: [0.0; MAX_REWARDS],
        dense: [0; MAX_REWARDS],
        n: chs.len() as i32,
        _pad: 0,
    };
    for (i, ch) in chs.iter().enumerate() {
        if ch.dense {
            check("rewards (dense channel)", ch.data, tokens)?;
        } else {
            check("rewards (sequence-level channel)", ch.data, shape.batch)?;
        }
        c.ptr[i] = ch.data.ptr;
        c.w[i] = weights[i];
        c.dense[i] = ch.dense as i32;
    }
    Ok(c)
}

/// Validates a fused launch and builds its parameters and grid (one block per row).
pub fn plan_fused(
    b: &FusedBuffers<'_>,
    shape: Shape,
    params: &FusedParams,
) -> Result<(FusedParamsC, LaunchConfig), CudaError> {
    let (batch, len) = dims(shape)?;
    let tokens = shape.tokens()?;
    params.gae.validate()?;
    if !(params.beta.is_finite() && params.beta >= 0.0) {
        return Err(Error::OutOfRange {
            arg: "beta",
            expected: "[0, inf)",
            actual: params.beta as f64,
        }
        .into());
    }
    let ch = channels(b.channels, b.weights, shape)?;
    for (arg, p) in [
        ("logp", b.logp),
        ("ref_logp", b.ref_logp),
        ("values", b.values),
        ("mask", b.mask),
        ("rewards (output)", b.out_rewards),
        ("advantages", b.out_adv),
        ("returns", b.out_ret),
    ] {
        check(arg, p, tokens)?;
    }
    check_at_least("stats", b.stats, 3)?;
    check_at_least("status", b.status, 1)?;
    let p = FusedParamsC {
        ch,
        logp: b.logp.ptr,
        ref_logp: b.ref_logp.ptr,
        values: b.values.ptr,
        mask: b.mask.ptr,
        out_rewards: b.out_rewards.ptr,
        out_adv: b.out_adv.ptr,
        out_ret: b.out_ret.ptr,
        stats: b.stats.ptr,
        status: b.status.ptr,
        batch,
        len,
        gamma: params.gae.gamma,
        gl: params.gae.gamma * params.gae.lambda,
        beta: params.beta,
        estimator: params.estimator.code(),
        mode: params.mode.code(),
        _pad: 0,
    };
    let cfg = LaunchConfig {
        grid_dim: (batch.max(1) as u32, 1, 1),
        block_dim: (threads_for(shape.len), 1, 1),
        shared_mem_bytes: 0,
    };
    Ok((p, cfg))
}

/// Validates a `reward_sums` launch (`sums`: `[MAX_REWARDS + 2]` f64, zeroed by the caller).
pub fn plan_sums(
    chs: &[DevChannel],
    mask: DevPtr,
    sums: DevPtr,
    shape: Shape,
) -> Result<(SumsParamsC, LaunchConfig), CudaError> {
    let (batch, len) = dims(shape)?;
    let ch = channels(chs, &vec![1.0; chs.len()], shape)?;
    check("mask", mask, shape.tokens()?)?;
    check_at_least("sums", sums, MAX_REWARDS + 2)?;
    let p = SumsParamsC {
        ch,
        mask: mask.ptr,
        sums: sums.ptr,
        batch,
        len,
    };
    let cfg = LaunchConfig {
        grid_dim: (batch.max(1) as u32, 1, 1),
        block_dim: (threads_for(shape.len), 1, 1),
        shared_mem_bytes: 0,
    };
    Ok((p, cfg))
}

/// Validates a whitening launch over `n` elements (`stats`: `[3]` f64, zeroed by the caller).
pub fn plan_whiten(
    x: DevPtr,
    mask: DevPtr,
    stats: DevPtr,
) -> Result<(WhitenParamsC, LaunchConfig), CudaError> {
    check("mask", mask, x.len)?;
    if x.ptr == 0 && x.len > 0 {
        return Err(CudaError::NullPointer { arg: "advantages" });
    }
    check_at_least("stats", stats, 3)?;
    let n = i64::try_from(x.len).map_err(|_| CudaError::Unsupported("too many elements".into()))?;
    let blocks = (x.len.div_ceil(256)).clamp(1, 4096) as u32;
    let p = WhitenParamsC {
        x: x.ptr,
        mask: mask.ptr,
        stats: stats.ptr,
        n,
    };
    Ok((
        p,
        LaunchConfig {
            grid_dim: (blocks, 1, 1),
            block_dim: (256, 1, 1),
            shared_mem_bytes: 0,
        },
    ))
}

/// Buffers of one group-relative advantage pass ([`crate::Gpu::group_advantages_raw`]).
#[derive(Clone, Copy, Debug)]
pub struct GroupBuffers<'a> {
    /// Reward channels (1..=16): sequence-level `[batch]` or dense `[batch*len]` scores.
    pub channels: &'a [DevChannel],
    /// Weights (host), finite.
    pub weights: &'a [f32],
    /// `[batch]` u32 group ids; ids `>= num_groups` are found on the device (report).
    pub groups: DevPtr,
    /// `[batch*len]` u8 mask (only its count of valid tokens per row is read, for dense
    /// sums and verl's whitening).
    pub mask: DevPtr,
    /// `[batch]` f32 advantages out.
    pub out: DevPtr,
    /// At least [`group_device_scratch_len`] f64; needs no initialisation.
    pub scratch: DevPtr,
    /// At least [`GROUP_REPORT_LEN`] u64; zeroed by the pass itself, read back and
    /// decoded by [`group_outcome`].
    pub report: DevPtr,
}

/// The f64 scratch the device pass needs: `(n + 2) * batch + (2 n + 2) * num_groups + 1`
/// (row scores per channel, valid tokens and composites per row; counts, centres and
/// multipliers per channel, and first/last rows per group; the batch std). Saturates
/// instead of overflowing (such a length is then refused by [`plan_group`]).
pub fn group_device_scratch_len(batch: usize, n: usize, num_groups: usize) -> usize {
    let rows = n.saturating_add(2).saturating_mul(batch);
    let groups = n
        .saturating_mul(2)
        .saturating_add(2)
        .saturating_mul(num_groups);
    rows.saturating_add(groups).saturating_add(1)
}

/// The launches of one group pass, in order, all with the same parameters.
#[derive(Clone, Copy, Debug)]
pub struct GroupPlan {
    /// `group_params` for every kernel.
    pub params: GroupParamsC,
    /// `group_init`: zeroes the report and the group ranges.
    pub init: LaunchConfig,
    /// `group_scores_{f32,bf16}`: one block per row.
    pub scores: LaunchConfig,
    /// `group_batch_std`, one block (GRPO with [`GroupScale::Batch`] only).
    pub batch_std: Option<LaunchConfig>,
    /// `group_affine`: one warp per group, 8 per block.
    pub affine: LaunchConfig,
    /// `group_apply`: one thread per row (without whitening).
    pub apply: Option<LaunchConfig>,
    /// `group_whiten`: one block over every row (with whitening).
    pub whiten: Option<LaunchConfig>,
}

/// Validates a group pass on the host and plans its launches. Checks, in the CPU
/// oracle's spirit and with its error names: 1..=16 channels, finite weights of the same
/// count, channel, mask, `groups` and `out` lengths, a non-empty batch
/// ([`Error::EmptyBatch`] on `"groups"`), `num_groups` in `1..=i32::MAX` (the oracle
/// accepts 0 and then reports every id), scratch and report lengths, null pointers.
/// Group ids in range, finite scores and `group_size` are checked on the device
/// ([`group_outcome`]).
pub fn plan_group(
    b: &GroupBuffers<'_>,
    num_groups: usize,
    shape: Shape,
    params: &GroupParams,
) -> Result<GroupPlan, CudaError> {
    let ch = channels(b.channels, b.weights, shape)?;
    let (batch, len) = dims(shape)?;
    let tokens = shape.tokens()?;
    check("mask", b.mask, tokens)?;
    check("groups", b.groups, shape.batch)?;
    check("out", b.out, shape.batch)?;
    if shape.batch == 0 {
        return Err(Error::EmptyBatch { arg: "groups" }.into());
    }
    let ng = match i32::try_from(num_groups) {
        Ok(g) if g >= 1 => g,
        _ => {
            return Err(Error::OutOfRange {
                arg: "num_groups",
                expected: "[1, 2^31 - 1]",
                actual: num_groups as f64,
            }
            .into())
        }
    };
    let n = b.channels.len();
    check_at_least(
        "scratch",
        b.scratch,
        group_device_scratch_len(shape.batch, n, num_groups),
    )?;
    check_at_least("report", b.report, GROUP_REPORT_LEN)?;
    if tokens >= 1 << 56 {
        return Err(CudaError::Unsupported(format!(
            "{tokens} tokens: the report keys flat indices below 2^56"
        )));
    }
    let p = GroupParamsC {
        ch,
        groups: b.groups.ptr,
        mask: b.mask.ptr,
        out: b.out.ptr,
        scratch: b.scratch.ptr,
        report: b.report.ptr,
        eps: params.convention.eps(),
        group_size: params
            .group_size
            .map_or(-1, |k| i64::try_from(k).unwrap_or(i64::MAX)),
        batch,
        len,
        num_groups: ng,
        estimator: params.estimator.code(),
        scale: params.scale.code(),
        convention: params.convention.code(),
        whiten: params.whiten as i32,
        _pad: 0,
    };
    let cfg = |blocks: usize, threads: u32| LaunchConfig {
        grid_dim: (blocks as u32, 1, 1),
        block_dim: (threads, 1, 1),
        shared_mem_bytes: 0,
    };
    let single = cfg(1, 1024);
    let grpo_batch = params.estimator == GroupEstimator::Grpo && params.scale == GroupScale::Batch;
    Ok(GroupPlan {
        params: p,
        init: cfg((2 * num_groups).max(GROUP_REPORT_LEN).div_ceil(256), 256),
        scores: cfg(shape.batch, threads_for(shape.len)),
        batch_std: grpo_batch.then_some(single),
        affine: cfg(num_groups.div_ceil(8), 256),
        apply: (!params.whiten).then(|| cfg(shape.batch.div_ceil(256), 256)),
        whiten: params.whiten.then_some(single),
    })
}

/// Decodes a group pass's report (read back after the stream completes) into the
/// oracle's result: the first error in the oracle's order (a group id out of range, a
/// non-finite score, a group of the wrong size, an advantage that overflows `f32`), each
/// naming what the oracle names, or the [`GroupStats`] (`n` channels; GDPO's
/// `zero_variance` is the fewest of any one reward, as the oracle's).
pub fn group_outcome(
    report: &[u64],
    n: usize,
    params: &GroupParams,
) -> Result<GroupStats, CudaError> {
    if report.len() < GROUP_REPORT_LEN {
        return Err(Error::Length {
            arg: "report",
            expected: GROUP_REPORT_LEN,
            actual: report.len(),
        }
        .into());
    }
    if n == 0 {
        return Err(Error::NoRewards.into());
    }
    if n > MAX_REWARDS {
        return Err(Error::TooManyRewards {
            max: MAX_REWARDS,
            actual: n,
        }
        .into());
    }
    let bits = report[GROUP_R_BITS];
    let first = |slot: usize| !report[slot];
    if bits & GROUP_BIT_BAD_ID != 0 {
        return Err(Error::OutOfRange {
            arg: "groups",
            expected: "[0, num_groups)",
            actual: (first(GROUP_R_BAD_ID) & 0xffff_ffff) as f64,
        }
        .into());
    }
    if bits & GROUP_BIT_BAD_REWARD != 0 {
        return Err(Error::NonFinite {
            arg: "rewards",
            index: (first(GROUP_R_BAD_REWARD) & ((1 << 56) - 1)) as usize,
        }
        .into());
    }
    if bits & GROUP_BIT_BAD_SIZE != 0 {
        let key = first(GROUP_R_BAD_SIZE);
        return Err(Error::GroupSize {
            group: (key >> 32) as usize,
            expected: params.group_size.unwrap_or(0),
            actual: (key & 0xffff_ffff) as usize,
        }
        .into());
    }
    if bits & GROUP_BIT_OVERFLOW != 0 {
        return Err(Error::Overflow {
            arg: "advantages",
            row: first(GROUP_R_OVERFLOW) as usize,
        }
        .into());
    }
    if bits != 0 {
        return Err(CudaError::Status { bits: bits as i32 });
    }
    let zv = &report[GROUP_R_ZERO_VAR..GROUP_R_ZERO_VAR + n];
    let zero_variance = if params.estimator == GroupEstimator::Gdpo {
        zv.iter().copied().min().unwrap_or(0)
    } else {
        zv[0]
    };
    Ok(GroupStats {
        groups: report[GROUP_R_GROUPS] as usize,
        singletons: report[GROUP_R_SINGLETONS] as usize,
        zero_variance: zero_variance as usize,
        tokens: report[GROUP_R_TOKENS] as usize,
    })
}
