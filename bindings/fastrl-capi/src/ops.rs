//! The operations: composition (Eq. 6), the KL penalty (Eq. 7), GAE, the fused pass,
//! reference statistics and group-relative advantages, each an `extern "C"` entry over
//! the core.

use crate::ffi::*;
use crate::types::*;
use composer_core::{
    compose, fused_pass, gae, group_advantages, group_scratch_len, kl_penalty, reference_stats,
    Convention, FusedInputs, FusedOutputs, FusedParams, GaeParams, GroupEstimator, GroupParams,
    GroupScale, Shape, Storage,
};

/// Eq. (6): composes `n` channels with `weights` into `out` (`[batch * len]`).
///
/// # Safety
/// Every slice must point to at least its `len` elements (or have `len == 0`);
/// `channels` to `n_channels` channel structs; `out` must not alias the inputs.
#[no_mangle]
pub unsafe extern "C" fn fastrl_compose_f32(
    channels: *const FastrlChannelF32,
    n_channels: usize,
    weights: FastrlF32,
    mask: FastrlU8,
    params: FastrlParams,
    out: FastrlMutF32,
) -> FastrlStatus {
    guard(|| {
        // SAFETY: the caller's contract above covers every slice.
        unsafe {
            let chs = read_channels(channels, n_channels)?;
            let w = slice("weights", weights.ptr, weights.len)?;
            let m = slice("mask", mask.ptr, mask.len)?;
            let o = slice_mut("out", out.ptr, out.len)?;
            compose(
                &chs,
                w,
                m,
                Shape::new(params.batch, params.len),
                mode(params.mode)?,
                o,
            )?;
        }
        Ok(())
    })
}

/// Eq. (7): `out = rewards - beta * kl(logp, ref_logp)` at valid tokens; `kl_sum` (may be
/// null) receives the KL sum over valid tokens.
///
/// # Safety
/// Every slice must point to at least its `len` elements (or have `len == 0`); `out`
/// must not alias the inputs; `kl_sum` is null or points to a writable `double`.
#[no_mangle]
pub unsafe extern "C" fn fastrl_kl_penalty_f32(
    rewards: FastrlF32,
    logp: FastrlF32,
    ref_logp: FastrlF32,
    mask: FastrlU8,
    params: FastrlParams,
    out: FastrlMutF32,
    kl_sum: *mut f64,
) -> FastrlStatus {
    guard(|| {
        // SAFETY: the caller's contract above covers every slice and `kl_sum`.
        unsafe {
            let r = slice("rewards", rewards.ptr, rewards.len)?;
            let lp = slice("logp", logp.ptr, logp.len)?;
            let rl = slice("ref_logp", ref_logp.ptr, ref_logp.len)?;
            let m = slice("mask", mask.ptr, mask.len)?;
            let o = slice_mut("out", out.ptr, out.len)?;
            let shape = Shape::new(params.batch, params.len);
            let st = kl_penalty(
                r,
                lp,
                rl,
                m,
                shape,
                mode(params.mode)?,
                params.beta,
                estimator(params.estimator)?,
                o,
            )?;
            if !kl_sum.is_null() {
                *kl_sum = st.kl_sum;
            }
        }
        Ok(())
    })
}

fn run_gae<T: Storage>(
    r: &[T],
    v: &[T],
    m: &[u8],
    p: FastrlParams,
    a: &mut [f32],
    ret: &mut [f32],
) -> Result<(), Fail> {
    let g = GaeParams {
        gamma: p.gamma,
        lambda: p.lambda,
    };
    gae(
        r,
        v,
        m,
        Shape::new(p.batch, p.len),
        mode(p.mode)?,
        g,
        a,
        ret,
    )?;
    Ok(())
}

/// GAE and returns over `[batch * len]` rewards and values.
///
/// # Safety
/// Every slice must point to at least its `len` elements (or have `len == 0`); the
/// outputs must not alias the inputs or each other.
#[no_mangle]
pub unsafe extern "C" fn fastrl_gae_f32(
    rewards: FastrlF32,
    values: FastrlF32,
    mask: FastrlU8,
    params: FastrlParams,
    advantages: FastrlMutF32,
    returns: FastrlMutF32,
) -> FastrlStatus {
    guard(|| {
        // SAFETY: the caller's contract above covers every slice.
        unsafe {
            run_gae(
                slice("rewards", rewards.ptr, rewards.len)?,
                slice("values", values.ptr, values.len)?,
                slice("mask", mask.ptr, mask.len)?,
                params,
                slice_mut("advantages", advantages.ptr, advantages.len)?,
                slice_mut("returns", returns.ptr, returns.len)?,
            )
        }
    })
}

/// The body of both fused entry points.
///
/// # Safety
/// As [`fastrl_fused_f32`].
#[allow(clippy::too_many_arguments)]
unsafe fn fused_entry<C: InChannel>(
    chs: *const C,
    n_channels: usize,
    weights: FastrlF32,
    logp: C::Data,
    ref_logp: C::Data,
    values: C::Data,
    mask: FastrlU8,
    p: FastrlParams,
    rewards_out: FastrlMutF32,
    advantages: FastrlMutF32,
    returns: FastrlMutF32,
    stats: *mut FastrlStats,
) -> FastrlStatus {
    guard(|| {
        // SAFETY: the caller's contract covers every slice and `stats`.
        unsafe {
            let chs = read_channels(chs, n_channels)?;
            let inputs = FusedInputs {
                channels: &chs,
                weights: slice("weights", weights.ptr, weights.len)?,
                logp: logp.get("logp")?,
                ref_logp: ref_logp.get("ref_logp")?,
                values: values.get("values")?,
                mask: slice("mask", mask.ptr, mask.len)?,
            };
            let params = FusedParams {
                gae: GaeParams {
                    gamma: p.gamma,
                    lambda: p.lambda,
                },
                beta: p.beta,
                estimator: estimator(p.estimator)?,
                mode: mode(p.mode)?,
            };
            let mut out = FusedOutputs {
                rewards: slice_mut("rewards_out", rewards_out.ptr, rewards_out.len)?,
                advantages: slice_mut("advantages", advantages.ptr, advantages.len)?,
                returns: slice_mut("returns", returns.ptr, returns.len)?,
            };
            let s = fused_pass(&inputs, Shape::new(p.batch, p.len), &params, &mut out)?;
            if !stats.is_null() {
                *stats = FastrlStats {
                    valid_tokens: s.valid_tokens,
                    kl_sum: s.kl_sum,
                    reward_sum: s.reward_sum,
                };
            }
        }
        Ok(())
    })
}

/// The fused pass (composition + KL penalty + GAE + returns), `f32` inputs.
///
/// # Safety
/// Every slice must point to at least its `len` elements (or have `len == 0`);
/// `channels` to `n_channels` structs; outputs must not alias inputs or each other;
/// `stats` is null or writable.
#[no_mangle]
pub unsafe extern "C" fn fastrl_fused_f32(
    channels: *const FastrlChannelF32,
    n_channels: usize,
    weights: FastrlF32,
    logp: FastrlF32,
    ref_logp: FastrlF32,
    values: FastrlF32,
    mask: FastrlU8,
    params: FastrlParams,
    rewards_out: FastrlMutF32,
    advantages: FastrlMutF32,
    returns: FastrlMutF32,
    stats: *mut FastrlStats,
) -> FastrlStatus {
    // SAFETY: the same contract.
    unsafe {
        fused_entry(
            channels,
            n_channels,
            weights,
            logp,
            ref_logp,
            values,
            mask,
            params,
            rewards_out,
            advantages,
            returns,
            stats,
        )
    }
}

/// The fused pass with `bf16` inputs (raw bits), `f32` outputs.
///
/// # Safety
/// As [`fastrl_fused_f32`].
#[no_mangle]
pub unsafe extern "C" fn fastrl_fused_bf16(
    channels: *const FastrlChannelBf16,
    n_channels: usize,
    weights: FastrlF32,
    logp: FastrlBf16,
    ref_logp: FastrlBf16,
    values: FastrlBf16,
    mask: FastrlU8,
    params: FastrlParams,
    rewards_out: FastrlMutF32,
    advantages: FastrlMutF32,
    returns: FastrlMutF32,
    stats: *mut FastrlStats,
) -> FastrlStatus {
    // SAFETY: the same contract.
    unsafe {
        fused_entry(
            channels,
            n_channels,
            weights,
            logp,
            ref_logp,
            values,
            mask,
            params,
            rewards_out,
            advantages,
            returns,
            stats,
        )
    }
}

/// Per reward, the mean and unbiased std of calibration scores: `scores` holds `n` rows
/// of `m` scores (row-major, `n * m` floats); `mean_out` and `std_out` `n` floats each.
///
/// # Safety
/// The slices satisfy the slice contract.
#[no_mangle]
pub unsafe extern "C" fn fastrl_reference_stats(
    scores: FastrlF32,
    n: usize,
    mean_out: FastrlMutF32,
    std_out: FastrlMutF32,
) -> FastrlStatus {
    guard(|| {
        // SAFETY: the caller's contract covers the slices.
        unsafe {
            let s = slice("scores", scores.ptr, scores.len)?;
            if n == 0 || s.len() % n != 0 {
                return Err(Fail(
                    FastrlStatus::Length,
                    format!("`scores` has {} floats, not a multiple of n = {n}", s.len()),
                ));
            }
            let rows: Vec<&[f32]> = s.chunks(s.len() / n).collect();
            let mo = slice_mut("mean_out", mean_out.ptr, mean_out.len)?;
            let so = slice_mut("std_out", std_out.ptr, std_out.len)?;
            reference_stats(&rows, mo, so)?;
        }
        Ok(())
    })
}

/// Group-relative advantages (GRPO, RLOO, REINFORCE++, GDPO; `composer_core::group`):
/// `out[b]` for each of `params.batch` responses; `groups[b]` in `0..num_groups`; `mask`
/// is `[batch * len]`; `stats` may be null.
///
/// # Safety
/// Every slice satisfies the slice contract; `channels` points to `n_channels` channel
/// structs; `out` does not alias the inputs; `stats` is null or writable.
#[no_mangle]
#[allow(clippy::too_many_arguments)]
pub unsafe extern "C" fn fastrl_group_advantages_f32(
    channels: *const FastrlChannelF32,
    n_channels: usize,
    weights: FastrlF32,
    groups: FastrlU32,
    num_groups: usize,
    mask: FastrlU8,
    params: FastrlParams,
    group: FastrlGroupParams,
    out: FastrlMutF32,
    stats: *mut FastrlGroupStats,
) -> FastrlStatus {
    guard(|| {
        // SAFETY: the caller's contract covers every slice and `stats`.
        unsafe {
            let chs = read_channels(channels, n_channels)?;
            let w = slice("weights", weights.ptr, weights.len)?;
            let g = slice("groups", groups.ptr, groups.len)?;
            let m = slice("mask", mask.ptr, mask.len)?;
            let o = slice_mut("out", out.ptr, out.len)?;
            let mut gp = GroupParams::new(
                code("estimator", group.estimator, GroupEstimator::NAMES)?,
                code("convention", group.convention, Convention::NAMES)?,
            );
            gp.scale = code("scale", group.scale, GroupScale::NAMES)?;
            match group.whiten {
                -1 => {}
                0 => gp.whiten = false,
                1 => gp.whiten = true,
                x => return Err(range("whiten", x, "-1 (default), 0 or 1")),
            }
            gp.group_size = (group.group_size > 0).then_some(group.group_size);
            let mut scratch = vec![0.0f64; group_scratch_len(params.batch, num_groups)];
            let st = group_advantages(
                &chs,
                w,
                g,
                num_groups,
                m,
                Shape::new(params.batch, params.len),
                &gp,
                &mut scratch,
                o,
            )?;
            if !stats.is_null() {
                *stats = FastrlGroupStats {
                    groups: st.groups,
                    singletons: st.singletons,
                    zero_variance: st.zero_variance,
                };
            }
        }
        Ok(())
    })
}
