//! Shape validation and launch planning, done on the host before anything touches CUDA
//! (so it is tested without a GPU).

use crate::error::CudaError;
use crate::params::{ChannelsC, FusedParamsC, SumsParamsC, WhitenParamsC};
use composer_core::{Error, FusedParams, Shape, MAX_REWARDS};
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
