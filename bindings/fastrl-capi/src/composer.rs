//! Composer handles: Fast RL, fixed weights, reward shaping and the Safe-RLHF Lagrangian
//! behind one opaque handle; their update, weights, state records and reference
//! statistics.

use crate::ffi::*;
use crate::types::*;
use composer_core::{
    AutoEta, ComposeOn, Composer, Error, FastRl, FastRlConfig, Fixed, Lagrangian, Normalization,
    Smoothing, SmoothingKind, UpdateRule, MAX_REWARDS, RECORD_LEN,
};

/// An opaque composer handle.
pub struct FastrlComposer(Box<dyn Composer + Send>);

impl FastrlComposer {
    fn get(&self) -> &dyn Composer {
        self.0.as_ref()
    }

    fn get_mut(&mut self) -> &mut dyn Composer {
        self.0.as_mut()
    }
}

/// Size in bytes of a composer state record.
#[no_mangle]
pub extern "C" fn fastrl_record_len() -> usize {
    RECORD_LEN
}

fn new_handle(out: *mut *mut FastrlComposer, c: Box<dyn Composer + Send>) -> Result<(), Fail> {
    if out.is_null() {
        return Err(Fail(FastrlStatus::Null, "`out` is a null pointer".into()));
    }
    // SAFETY: `out` is non-null and the caller guarantees it is writable.
    unsafe { *out = Box::into_raw(Box::new(FastrlComposer(c))) };
    Ok(())
}

/// A Fast RL composer for `n` rewards; `bias` may be empty (zero bias). Free with
/// [`fastrl_composer_free`].
///
/// # Safety
/// `bias` satisfies the slice contract; `out` points to a writable handle pointer.
#[no_mangle]
pub unsafe extern "C" fn fastrl_fastrl_new(
    n: usize,
    config: FastrlConfig,
    bias: FastrlF32,
    out: *mut *mut FastrlComposer,
) -> FastrlStatus {
    guard(|| {
        let kind = code("smoothing", config.smoothing, SmoothingKind::NAMES)?;
        let smoothing = Smoothing::from_parts(kind, config.smooth_a, config.smooth_b);
        let normalization = code("normalize", config.normalize, Normalization::NAMES)?;
        let cfg = FastRlConfig {
            eta: config.eta,
            eta_auto: (config.eta_auto_horizon > 0).then_some(AutoEta {
                horizon: config.eta_auto_horizon,
                range: config.eta_auto_range,
            }),
            temperature: config.temperature,
            smoothing,
            normalization,
            compose_on: code("compose_on", config.compose_on, ComposeOn::NAMES)?,
            rule: code("rule", config.rule, UpdateRule::NAMES)?,
            radius: if config.bounded != 0 {
                config.radius
            } else {
                f32::INFINITY
            },
            averaging: config.averaging != 0,
            floor: config.floor,
        };
        let mut c = FastRl::new(n, cfg)?;
        // SAFETY: the caller's contract covers `bias`.
        let b = unsafe { slice("bias", bias.ptr, bias.len)? };
        if !b.is_empty() {
            c = c.with_bias(b)?;
        }
        new_handle(out, Box::new(c))
    })
}

/// Fixed linear weights.
///
/// # Safety
/// `weights` satisfies the slice contract; `out` points to a writable handle pointer.
#[no_mangle]
pub unsafe extern "C" fn fastrl_fixed_new(
    weights: FastrlF32,
    out: *mut *mut FastrlComposer,
) -> FastrlStatus {
    guard(|| {
        // SAFETY: the caller's contract covers `weights`.
        let w = unsafe { slice("weights", weights.ptr, weights.len)? };
        new_handle(out, Box::new(Fixed::new(w)?))
    })
}

/// Reward shaping over `[reward, cost]`: `R - alpha * C`.
///
/// # Safety
/// `out` points to a writable handle pointer.
#[no_mangle]
pub unsafe extern "C" fn fastrl_shaping_new(
    alpha: f32,
    out: *mut *mut FastrlComposer,
) -> FastrlStatus {
    guard(|| new_handle(out, Box::new(Fixed::reward_shaping(alpha)?)))
}

/// safe-rlhf's Lagrangian over `[reward, cost]`, cost constrained to `<= threshold`.
///
/// # Safety
/// `out` points to a writable handle pointer.
#[no_mangle]
pub unsafe extern "C" fn fastrl_safe_rlhf_new(
    threshold: f32,
    lr: f32,
    init: f32,
    max_multiplier: f32,
    out: *mut *mut FastrlComposer,
) -> FastrlStatus {
    guard(|| {
        new_handle(
            out,
            Box::new(Lagrangian::safe_rlhf(threshold, lr, init, max_multiplier)?),
        )
    })
}

/// Frees a composer (null is a no-op).
///
/// # Safety
/// `c` is null or a handle from a `fastrl_*_new` function, not used afterwards.
#[no_mangle]
pub unsafe extern "C" fn fastrl_composer_free(c: *mut FastrlComposer) {
    if !c.is_null() {
        // SAFETY: `c` came from Box::into_raw in `new_handle` and is freed once.
        drop(unsafe { Box::from_raw(c) });
    }
}

/// # Safety
/// `c` is null or a live handle.
unsafe fn handle<'a>(c: *mut FastrlComposer) -> Result<&'a mut FastrlComposer, Fail> {
    if c.is_null() {
        return Err(Fail(FastrlStatus::Null, "composer handle is null".into()));
    }
    // SAFETY: non-null live handle, per the caller.
    Ok(unsafe { &mut *c })
}

/// Eq. (4)-(5): feeds this batch's reward means and writes the new weights (`n` floats).
///
/// # Safety
/// `c` is a live handle; the slices satisfy the slice contract.
#[no_mangle]
pub unsafe extern "C" fn fastrl_composer_update(
    c: *mut FastrlComposer,
    means: FastrlF32,
    weights_out: FastrlMutF32,
) -> FastrlStatus {
    guard(|| {
        // SAFETY: the caller's contract covers the handle and slices.
        unsafe {
            let c = handle(c)?;
            let m = slice("means", means.ptr, means.len)?;
            let o = slice_mut("weights_out", weights_out.ptr, weights_out.len)?;
            let n = c.get().num_rewards();
            if o.len() != n {
                return Err(Error::Length {
                    arg: "weights_out",
                    expected: n,
                    actual: o.len(),
                }
                .into());
            }
            o.copy_from_slice(c.get_mut().update(m)?);
        }
        Ok(())
    })
}

/// Number of rewards of a composer (0 for a null handle).
///
/// # Safety
/// `c` is null or a live handle.
#[no_mangle]
pub unsafe extern "C" fn fastrl_composer_num_rewards(c: *const FastrlComposer) -> usize {
    if c.is_null() {
        return 0;
    }
    // SAFETY: non-null live handle, per the caller.
    unsafe { (*c).get().num_rewards() }
}

/// Writes the current weights (`n` floats).
///
/// # Safety
/// `c` is a live handle; `out` satisfies the slice contract.
#[no_mangle]
pub unsafe extern "C" fn fastrl_composer_weights(
    c: *mut FastrlComposer,
    out: FastrlMutF32,
) -> FastrlStatus {
    guard(|| {
        // SAFETY: the caller's contract covers the handle and slice.
        unsafe {
            let c = handle(c)?;
            let o = slice_mut("out", out.ptr, out.len)?;
            let w = c.get().weights();
            if o.len() != w.len() {
                return Err(Error::Length {
                    arg: "out",
                    expected: w.len(),
                    actual: o.len(),
                }
                .into());
            }
            o.copy_from_slice(w);
        }
        Ok(())
    })
}

/// Saves the composer's state into `out` (at least `fastrl_record_len()` bytes).
///
/// # Safety
/// `c` is a live handle; `out` points to `out_len` writable bytes.
#[no_mangle]
pub unsafe extern "C" fn fastrl_composer_save(
    c: *mut FastrlComposer,
    out: *mut u8,
    out_len: usize,
) -> FastrlStatus {
    guard(|| {
        // SAFETY: the caller's contract covers the handle and buffer.
        unsafe {
            let c = handle(c)?;
            let o = slice_mut("out", out, out_len)?;
            c.get().save_bytes(None, o)?;
        }
        Ok(())
    })
}

/// Restores the composer's state from a record; nothing changes on error.
///
/// # Safety
/// `c` is a live handle; `record` satisfies the slice contract.
#[no_mangle]
pub unsafe extern "C" fn fastrl_composer_restore(
    c: *mut FastrlComposer,
    record: FastrlU8,
) -> FastrlStatus {
    guard(|| {
        // SAFETY: the caller's contract covers the handle and slice.
        unsafe {
            let c = handle(c)?;
            let r = slice("record", record.ptr, record.len)?;
            c.get_mut().restore_bytes(None, r)?;
        }
        Ok(())
    })
}

/// The paper's Fast RL configuration (eta 1, temperature 1, no smoothing,
/// normalisation, bound, floor or averaging; plain updates): start from it and set fields.
#[no_mangle]
pub extern "C" fn fastrl_config_default() -> FastrlConfig {
    FastrlConfig {
        eta: 1.0,
        temperature: 1.0,
        smoothing: 0,
        smooth_a: 0.0,
        smooth_b: 0.0,
        normalize: 0,
        floor: 0.0,
        compose_on: 0,
        rule: 0,
        bounded: 0,
        radius: 0.0,
        averaging: 0,
        eta_auto_horizon: 0,
        eta_auto_range: 1.0,
    }
}

/// Fast RL only: sets the reference statistics of `normalize` = 2 (per reward the
/// starting policy's mean and per-response std, `n` floats each, std > 0).
///
/// # Safety
/// `c` is a live handle; the slices satisfy the slice contract.
#[no_mangle]
pub unsafe extern "C" fn fastrl_fastrl_set_reference(
    c: *mut FastrlComposer,
    mean: FastrlF32,
    std: FastrlF32,
) -> FastrlStatus {
    guard(|| {
        // SAFETY: the caller's contract covers the handle and slices.
        unsafe {
            let c = handle(c)?;
            let m = slice("mean", mean.ptr, mean.len)?;
            let s = slice("std", std.ptr, std.len)?;
            // A composer without reference statistics: Error::Incompatible (CONFIG).
            c.get_mut().set_reference(m, s)?;
        }
        Ok(())
    })
}

/// The largest number of rewards a composer takes.
#[no_mangle]
pub extern "C" fn fastrl_max_rewards() -> usize {
    MAX_REWARDS
}
