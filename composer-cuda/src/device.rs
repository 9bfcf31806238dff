//! The GPU handle: context, default stream, NVRTC modules compiled at first use and
//! cached, one launch function per kernel.

use crate::error::CudaError;
use crate::launch::{
    check, check_at_least, group_device_scratch_len, group_outcome, plan_fused, plan_group,
    plan_sums, plan_whiten, DevChannel, DevPtr, FusedBuffers, GroupBuffers,
};
use crate::params::{UpdateParamsC, GROUP_REPORT_LEN};
use crate::source::{
    compile, driver_available, nvrtc_available, Family, FUSED, GROUP, UPDATE, WHITEN,
};
use composer_core::{
    Channel, FastRlConfig, FusedParams, GroupParams, GroupStats, Shape, Storage, MAX_REWARDS,
};
use cudarc::driver::sys::CUfunction_attribute;
use cudarc::driver::{
    CudaContext, CudaFunction, CudaModule, CudaSlice, CudaStream, DevicePtr, DeviceRepr,
    LaunchConfig, PushKernelArg, ValidAsZeroBits,
};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// Element type of the per-token inputs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Dtype {
    /// `float`.
    F32,
    /// bf16 bit patterns (`unsigned short`).
    Bf16,
}

impl Dtype {
    /// The kernels' dtype of a storage type (`f32` or `bf16`).
    pub fn of<T: Storage>() -> Result<Self, CudaError> {
        match T::NAME {
            "f32" => Ok(Dtype::F32),
            "bf16" => Ok(Dtype::Bf16),
            other => Err(CudaError::Unsupported(format!(
                "storage type {other}: the kernels take f32 or bf16"
            ))),
        }
    }
}

/// The longest row the staged fused kernel takes (`FASTRL_STAGED_MAX_LEN` in
/// kernels/fused.cu); longer rows use the streaming kernel. Sized so the staged row
/// (74 KiB) plus the scan's maps (20 KiB) fit the smallest opt-in shared memory of the
/// supported architectures (99 KiB on sm_86/89/120; 163 KiB on sm_80, 227 KiB on sm_90).
pub const STAGED_MAX_LEN: usize = 8192;

/// Dynamic shared memory of a fused launch over rows of `len` tokens
/// (kernels/fused.cu): the scan's maps, 20 bytes per thread; then, for the staged
/// kernel, composite and values as f32 with one pad word per 32, and the mask bytes.
pub fn fused_shared_bytes(len: usize, staged: bool) -> usize {
    let scan = 20 * crate::launch::threads_for(len) as usize;
    if !staged {
        return scan;
    }
    let plen = len + len / 32 + 1;
    (scan + 2 * plen * 4 + len).next_multiple_of(16)
}

/// Which fused kernel runs. Both compute the same results bit for bit (tested); they
/// differ in memory traffic.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum FusedVariant {
    /// Staged for rows up to [`STAGED_MAX_LEN`] tokens, streaming beyond.
    #[default]
    Auto,
    /// The row lives in shared memory between phases; every global byte moves once,
    /// coalesced. Rows up to [`STAGED_MAX_LEN`] tokens.
    Staged,
    /// Phases re-read the row from global memory (L2); any row length.
    Streaming,
}

impl FusedVariant {
    /// Whether rows of `len` tokens run on the staged kernel; an error for
    /// [`FusedVariant::Staged`] with rows over [`STAGED_MAX_LEN`].
    pub fn staged_for(self, len: usize) -> Result<bool, CudaError> {
        match self {
            FusedVariant::Auto => Ok(len <= STAGED_MAX_LEN),
            FusedVariant::Staged if len > STAGED_MAX_LEN => Err(CudaError::Unsupported(format!(
                "the staged fused kernel takes rows up to {STAGED_MAX_LEN} tokens, got {len}"
            ))),
            FusedVariant::Staged => Ok(true),
            FusedVariant::Streaming => Ok(false),
        }
    }
}

/// A CUDA device with the fastrl kernels. Launches go on the context's default stream,
/// so they are ordered with libtorch's work on that stream.
pub struct Gpu {
    ctx: Arc<CudaContext>,
    stream: Arc<CudaStream>,
    arch: &'static str,
    modules: Mutex<HashMap<&'static str, Arc<CudaModule>>>,
    functions: Mutex<HashMap<&'static str, CudaFunction>>,
}

impl std::fmt::Debug for Gpu {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Gpu").field("arch", &self.arch).finish()
    }
}

fn arch_of(major: i32, minor: i32) -> Result<&'static str, CudaError> {
    Ok(match (major, minor) {
        (8, 0) => "sm_80",
        (8, 6) => "sm_86",
        (8, 7) => "sm_87",
        (8, 9) => "sm_89",
        (9, 0) => "sm_90",
        (10, 0) => "sm_100",
        (12, 0) => "sm_120",
        _ => {
            return Err(CudaError::Unsupported(format!(
                "compute capability {major}.{minor}"
            )))
        }
    })
}

impl Gpu {
    /// Opens device `ordinal`. Returns [`CudaError::NoCuda`] (never panics) when the
    /// driver or NVRTC cannot be loaded, so callers can fall back to the CPU core.
    pub fn new(ordinal: usize) -> Result<Self, CudaError> {
        if !driver_available() {
            return Err(CudaError::NoCuda {
                library: "libcuda",
                hint: "no NVIDIA driver on this machine; use composer-core's CPU path",
            });
        }
        if !nvrtc_available() {
            return Err(CudaError::NoCuda {
                library: "libnvrtc",
                hint: "put NVRTC on LD_LIBRARY_PATH (pip install torch==2.11.0 brings nvidia/cu13/lib/libnvrtc.so.13)",
            });
        }
        let ctx = CudaContext::new(ordinal)?;
        let (major, minor) = ctx.compute_capability()?;
        let arch = arch_of(major, minor)?;
        let stream = ctx.default_stream();
        Ok(Gpu {
            ctx,
            stream,
            arch,
            modules: Mutex::new(HashMap::new()),
            functions: Mutex::new(HashMap::new()),
        })
    }

    /// The target architecture kernels are compiled for (e.g. `"sm_90"`).
    pub fn arch(&self) -> &'static str {
        self.arch
    }

    /// The default stream every launch goes on.
    pub fn stream(&self) -> &Arc<CudaStream> {
        &self.stream
    }

    /// The context.
    pub fn context(&self) -> &Arc<CudaContext> {
        &self.ctx
    }

    /// A kernel by name, loaded once and cached (the launch path then costs one lock and
    /// one hash lookup).
    fn function(&self, family: &Family, name: &'static str) -> Result<CudaFunction, CudaError> {
        let poisoned = |_| CudaError::Driver("function cache poisoned".into());
        if let Some(f) = self.functions.lock().map_err(poisoned)?.get(name) {
            return Ok(f.clone());
        }
        let f = self.load_function(family, name)?;
        if name.starts_with("fused_staged_") {
            // Opt in to more than 48 KiB of dynamic shared memory, once per function.
            f.set_attribute(
                CUfunction_attribute::CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES,
                fused_shared_bytes(STAGED_MAX_LEN, true) as i32,
            )?;
        }
        self.functions
            .lock()
            .map_err(poisoned)?
            .insert(name, f.clone());
        Ok(f)
    }

    fn load_function(&self, family: &Family, name: &str) -> Result<CudaFunction, CudaError> {
        let module = {
            let mut cache = self
                .modules
                .lock()
                .map_err(|_| CudaError::Driver("module cache poisoned".into()))?;
            match cache.get(family.name) {
                Some(m) => m.clone(),
                None => {
                    let m = self.ctx.load_module(compile(family, self.arch)?)?;
                    cache.insert(family.name, m.clone());
                    m
                }
            }
        };
        Ok(module.load_function(name)?)
    }

    /// Launches the fused pass on the default stream (asynchronous).
    ///
    /// # Safety
    /// Every [`DevPtr`] must address at least `len` elements of the stated type in this
    /// context's device memory (tensors must be contiguous), live until the launch
    /// completes; outputs must not alias inputs or each other; inputs are `float` for
    /// [`Dtype::F32`] and bf16 bits for [`Dtype::Bf16`]. Lengths and null pointers are
    /// checked; what cannot be checked is that the addresses are real.
    pub unsafe fn fused_raw(
        &self,
        dtype: Dtype,
        buffers: &FusedBuffers<'_>,
        shape: Shape,
        params: &FusedParams,
    ) -> Result<(), CudaError> {
        // SAFETY: this function's contract is fused_raw_with's.
        unsafe { self.fused_raw_with(FusedVariant::Auto, dtype, buffers, shape, params) }
    }

    /// [`Gpu::fused_raw`] with an explicit kernel variant (benchmarks and tests compare
    /// them); [`FusedVariant::Staged`] with rows over [`STAGED_MAX_LEN`] is an error.
    ///
    /// # Safety
    /// As [`Gpu::fused_raw`].
    pub unsafe fn fused_raw_with(
        &self,
        variant: FusedVariant,
        dtype: Dtype,
        buffers: &FusedBuffers<'_>,
        shape: Shape,
        params: &FusedParams,
    ) -> Result<(), CudaError> {
        let (p, mut cfg) = plan_fused(buffers, shape, params)?;
        let staged = variant.staged_for(shape.len)?;
        if shape.batch == 0 {
            return Ok(());
        }
        let name = match (staged, dtype) {
            (false, Dtype::F32) => "fused_f32",
            (false, Dtype::Bf16) => "fused_bf16",
            (true, Dtype::F32) => "fused_staged_f32",
            (true, Dtype::Bf16) => "fused_staged_bf16",
        };
        cfg.shared_mem_bytes = fused_shared_bytes(shape.len, staged) as u32;
        let f = self.function(&FUSED, name)?;
        let mut b = self.stream.launch_builder(&f);
        b.arg(&p);
        // SAFETY: `p` mirrors `FusedParams` in kernels/fused.cu (sizes asserted); the
        // grid has one block per row and block_dim <= 1024 as the kernel requires; the
        // staged kernel gets the dynamic shared memory its row needs; the pointers are
        // valid per this function's contract.
        unsafe { b.launch(cfg) }?;
        Ok(())
    }

    /// Adds each reward's masked sum of a batch to `sums` (`[MAX_REWARDS + 2]` f64: sums,
    /// rows with a valid token, valid tokens) on the default stream.
    ///
    /// # Safety
    /// As [`Gpu::fused_raw`] for `channels`, `mask` and `sums`.
    pub unsafe fn reward_sums_raw(
        &self,
        dtype: Dtype,
        channels: &[DevChannel],
        mask: DevPtr,
        sums: DevPtr,
        shape: Shape,
    ) -> Result<(), CudaError> {
        let (p, cfg) = plan_sums(channels, mask, sums, shape)?;
        if shape.batch == 0 {
            return Ok(());
        }
        let name = match dtype {
            Dtype::F32 => "reward_sums_f32",
            Dtype::Bf16 => "reward_sums_bf16",
        };
        let f = self.function(&UPDATE, name)?;
        let mut b = self.stream.launch_builder(&f);
        b.arg(&p);
        // SAFETY: `p` mirrors `SumsParams` (kernels/update.cu); pointers valid per contract.
        unsafe { b.launch(cfg) }?;
        Ok(())
    }

    /// The Fast RL weight update on the device (one thread): means from `sums`, Eq. (5) on
    /// the state, weights into `weights` (`[n]` f32). No host round trip.
    ///
    /// # Safety
    /// `sums` holds `MAX_REWARDS + 2` f64; `state` holds [`crate::params::UPDATE_STATE_LEN`]
    /// f64 initialised by [`initial_update_state`]; `weights` holds `n` f32; `status` one i32.
    #[allow(clippy::too_many_arguments)]
    pub unsafe fn fastrl_update_raw(
        &self,
        cfg: &FastRlConfig,
        bias: &[f32],
        dense: &[bool],
        sums: DevPtr,
        state: DevPtr,
        weights: DevPtr,
        status: DevPtr,
    ) -> Result<(), CudaError> {
        cfg.validate()?;
        // The device-side update implements Eq. (5) with standardisation only; the
        // reference normalisation, the KL ball, optimistic steps, averaging and eta
        // "auto" run in the CPU composer (the weights are n <= 16 numbers per step).
        let default = FastRlConfig::default();
        if cfg.normalization == composer_core::Normalization::Reference
            || cfg.radius.is_finite()
            || cfg.rule != default.rule
            || cfg.averaging
            || cfg.eta_auto.is_some()
            || cfg.compose_on != default.compose_on
        {
            return Err(composer_core::Error::Incompatible {
                arg: "device weight update",
                reason: "reference normalisation, radius, optimistic rule, averaging and eta \
                         auto run in the CPU composer; update there and pass the weights",
            }
            .into());
        }
        let n = dense.len();
        if n == 0 || n > MAX_REWARDS {
            return Err(composer_core::Error::TooManyRewards {
                max: MAX_REWARDS,
                actual: n,
            }
            .into());
        }
        if bias.len() != n {
            return Err(composer_core::Error::Length {
                arg: "bias",
                expected: n,
                actual: bias.len(),
            }
            .into());
        }
        for (arg, p, min) in [
            ("sums", sums, MAX_REWARDS + 2),
            ("state", state, crate::params::UPDATE_STATE_LEN),
            ("weights", weights, n),
            ("status", status, 1),
        ] {
            check_at_least(arg, p, min)?;
        }
        let (smoothing, sa, sb) = cfg.smoothing.parts();
        let mut p = UpdateParamsC {
            sums: sums.ptr,
            state: state.ptr,
            weights: weights.ptr,
            status: status.ptr,
            bias: [0.0; MAX_REWARDS],
            dense: [0; MAX_REWARDS],
            n: n as i32,
            eta: cfg.eta,
            temperature: cfg.temperature,
            floor: cfg.floor,
            smoothing: smoothing.code(),
            sa,
            sb,
            normalize: cfg.normalization.code(),
        };
        p.bias[..n].copy_from_slice(bias);
        for (d, &x) in p.dense.iter_mut().zip(dense) {
            *d = x as i32;
        }
        let f = self.function(&UPDATE, "fastrl_update")?;
        let mut b = self.stream.launch_builder(&f);
        b.arg(&p);
        let one = LaunchConfig {
            grid_dim: (1, 1, 1),
            block_dim: (1, 1, 1),
            shared_mem_bytes: 0,
        };
        // SAFETY: `p` mirrors `UpdateParams` (kernels/update.cu); pointers valid per contract.
        unsafe { b.launch(one) }?;
        Ok(())
    }

    /// Masked whitening of `x` in place: three launches on the default stream.
    ///
    /// # Safety
    /// `x` holds `x.len` f32, `mask` as many u8, `stats` 3 f64 zeroed by the caller.
    pub unsafe fn whiten_raw(
        &self,
        x: DevPtr,
        mask: DevPtr,
        stats: DevPtr,
    ) -> Result<(), CudaError> {
        let (p, cfg) = plan_whiten(x, mask, stats)?;
        for name in WHITEN.kernels {
            let f = self.function(&WHITEN, name)?;
            let mut b = self.stream.launch_builder(&f);
            b.arg(&p);
            // SAFETY: `p` mirrors `WhitenParams` (kernels/whiten.cu); the kernels are
            // grid-stride loops over `n`; pointers valid per contract.
            unsafe { b.launch(cfg) }?;
        }
        Ok(())
    }
}

impl Gpu {
    /// Group-relative advantages on the default stream (asynchronous): the kernels of
    /// `kernels/group.cu` (init, row scores, [batch std], per-group constants, apply or
    /// whiten), the same definitions as `composer_core::group_advantages`, one `f32` per
    /// row into `buffers.out`. The outcome is in `buffers.report` once the stream has
    /// reached it: read it back and decode it with [`group_outcome`], which gives the
    /// oracle's error (group id out of range, non-finite score, wrong group size, `f32`
    /// overflow) or its [`GroupStats`]. While the report holds an error, `out` is
    /// unspecified (never out of bounds: a row with a bad id reads nothing through it).
    ///
    /// # Safety
    /// Every [`DevPtr`] must address at least `len` elements of its type in this
    /// context's device memory, live until the launches complete: channel scores `float`
    /// for [`Dtype::F32`] and bf16 bits for [`Dtype::Bf16`], `groups` u32, `mask` u8, `out`
    /// f32, `scratch` f64, `report` u64. `out`, `scratch` and `report` must not alias each
    /// other or the inputs, and no other work may use `scratch` or `report` until the
    /// launches complete. Lengths and null pointers are checked ([`plan_group`]); what
    /// cannot be checked is that the addresses are real.
    pub unsafe fn group_advantages_raw(
        &self,
        dtype: Dtype,
        buffers: &GroupBuffers<'_>,
        num_groups: usize,
        shape: Shape,
        params: &GroupParams,
    ) -> Result<(), CudaError> {
        let plan = plan_group(buffers, num_groups, shape, params)?;
        let scores = match dtype {
            Dtype::F32 => "group_scores_f32",
            Dtype::Bf16 => "group_scores_bf16",
        };
        let steps = [
            Some(("group_init", plan.init)),
            Some((scores, plan.scores)),
            plan.batch_std.map(|c| ("group_batch_std", c)),
            Some(("group_affine", plan.affine)),
            plan.apply.map(|c| ("group_apply", c)),
            plan.whiten.map(|c| ("group_whiten", c)),
        ];
        for (name, cfg) in steps.into_iter().flatten() {
            let f = self.function(&GROUP, name)?;
            let mut b = self.stream.launch_builder(&f);
            b.arg(&plan.params);
            // SAFETY: `plan.params` mirrors `GroupParams` (kernels/group.cu, sizes asserted
            // on both sides); plan_group checked every length against the shape, n and
            // num_groups, and the grids are the ones each kernel indexes by (a block per
            // row, a warp per group, single blocks loop over rows; every access is
            // bounds-guarded, group ids included); the launches run in order on one
            // stream; the pointers are valid per this function's contract.
            unsafe { b.launch(cfg) }?;
        }
        Ok(())
    }

    /// [`Gpu::group_advantages_raw`] over host slices, with the signature of
    /// `composer_core::group_advantages` less its scratch: validates, copies the inputs
    /// to the device, runs the pass, synchronises, and returns the oracle's result (the
    /// same typed errors, wrapped in [`CudaError::Invalid`], or its [`GroupStats`]);
    /// `out` is written only on success. Allocates per call (tests, benches, one-off
    /// use); a trainer with device tensors calls the raw entry.
    #[allow(clippy::too_many_arguments)]
    pub fn group_advantages<T: Storage>(
        &self,
        channels: &[Channel<'_, T>],
        weights: &[f32],
        groups: &[u32],
        num_groups: usize,
        mask: &[u8],
        shape: Shape,
        params: &GroupParams,
        out: &mut [f32],
    ) -> Result<GroupStats, CudaError> {
        let dtype = Dtype::of::<T>()?;
        let n = channels.len();
        let scratch_len = group_device_scratch_len(shape.batch, n, num_groups);
        // Every length is checked before anything is allocated, against placeholder
        // addresses that are never launched on.
        let at = |len: usize| DevPtr { ptr: 1, len };
        let kind = |c: &Channel<'_, T>| match c {
            Channel::Sequence(x) => (x.len(), false),
            Channel::Dense(x) => (x.len(), true),
        };
        let host: Vec<DevChannel> = channels
            .iter()
            .map(|c| {
                let (len, dense) = kind(c);
                DevChannel {
                    data: at(len),
                    dense,
                }
            })
            .collect();
        plan_group(
            &GroupBuffers {
                channels: &host,
                weights,
                groups: at(groups.len()),
                mask: at(mask.len()),
                out: at(out.len()),
                scratch: at(scratch_len),
                report: at(GROUP_REPORT_LEN),
            },
            num_groups,
            shape,
            params,
        )?;
        let s = &self.stream;
        // Scores as the kernels read them: f32, or the bf16 bits (widening is exact, so
        // the top half of the widened f32 is the stored bf16).
        let staged: Vec<CudaSlice<u8>> = channels
            .iter()
            .map(|c| {
                let x = match c {
                    Channel::Sequence(x) | Channel::Dense(x) => x,
                };
                let bytes: Vec<u8> = match dtype {
                    Dtype::F32 => x.iter().flat_map(|v| v.to_f32().to_ne_bytes()).collect(),
                    Dtype::Bf16 => x
                        .iter()
                        .flat_map(|v| ((v.to_f32().to_bits() >> 16) as u16).to_ne_bytes())
                        .collect(),
                };
                upload(s, &bytes)
            })
            .collect::<Result<_, _>>()?;
        let d_groups = upload(s, groups)?;
        let d_mask = upload(s, mask)?;
        let d_out = zeros::<f32>(s, shape.batch)?;
        let d_scratch = zeros::<f64>(s, scratch_len)?;
        let d_report = zeros::<u64>(s, GROUP_REPORT_LEN)?;
        let dev: Vec<DevChannel> = staged
            .iter()
            .zip(&host)
            .map(|(x, h)| DevChannel {
                data: dev_ptr(x, s, h.data.len),
                dense: h.dense,
            })
            .collect();
        let buffers = GroupBuffers {
            channels: &dev,
            weights,
            groups: dev_ptr(&d_groups, s, groups.len()),
            mask: dev_ptr(&d_mask, s, mask.len()),
            out: dev_ptr(&d_out, s, shape.batch),
            scratch: dev_ptr(&d_scratch, s, scratch_len),
            report: dev_ptr(&d_report, s, GROUP_REPORT_LEN),
        };
        // SAFETY: every pointer comes from a live CudaSlice allocated above with at least
        // the stated number of elements of the stated type (a channel's bytes hold its
        // elements as f32 or bf16 bits per `dtype`); outputs are separate allocations;
        // the slices outlive the launches (the stream is synchronised below, before they
        // drop).
        unsafe { self.group_advantages_raw(dtype, &buffers, num_groups, shape, params) }?;
        let report = s.clone_dtoh(&d_report)?;
        s.synchronize()?;
        let stats = group_outcome(&report, n, params)?;
        s.memcpy_dtoh(&d_out, out)?;
        s.synchronize()?;
        Ok(stats)
    }
}

/// Copies `x` to a new device buffer (one element for an empty slice, so the address
/// is real; its length is passed separately).
fn upload<T: DeviceRepr + ValidAsZeroBits>(
    s: &Arc<CudaStream>,
    x: &[T],
) -> Result<CudaSlice<T>, CudaError> {
    if x.is_empty() {
        return zeros(s, 0);
    }
    Ok(s.clone_htod(x)?)
}

/// A zeroed device buffer of `n` elements (at least one).
fn zeros<T: DeviceRepr + ValidAsZeroBits>(
    s: &Arc<CudaStream>,
    n: usize,
) -> Result<CudaSlice<T>, CudaError> {
    Ok(s.alloc_zeros::<T>(n.max(1))?)
}

/// The device address of `x` with a length of `len` elements (`len <= x.len()`).
fn dev_ptr<T>(x: &CudaSlice<T>, s: &Arc<CudaStream>, len: usize) -> DevPtr {
    let (ptr, _sync) = x.device_ptr(s);
    DevPtr { ptr, len }
}

impl Gpu {
    /// The frameworks' pattern, for benchmarks: GAE as `len` launches of one time step
    /// each over all rows (no whitening, no returns). `next_v` and `last` are `batch`
    /// f32 scratch buffers the caller zeroes.
    ///
    /// # Safety
    /// The pointers address `batch * len` f32 (`rewards`, `values`, `adv`), as many u8
    /// (`mask`) and `batch` f32 (`next_v`, `last`), live until the launches complete.
    #[allow(clippy::too_many_arguments)]
    pub unsafe fn gae_per_step_raw(
        &self,
        rewards: DevPtr,
        values: DevPtr,
        mask: DevPtr,
        adv: DevPtr,
        next_v: DevPtr,
        last: DevPtr,
        shape: Shape,
        gamma: f32,
        lambda: f32,
    ) -> Result<(), CudaError> {
        let tokens = shape.tokens()?;
        for (arg, p, n) in [
            ("rewards", rewards, tokens),
            ("values", values, tokens),
            ("mask", mask, tokens),
            ("advantages", adv, tokens),
            ("next_v", next_v, shape.batch),
            ("last", last, shape.batch),
        ] {
            check(arg, p, n)?;
        }
        let f = self.function(&crate::source::BASELINE, "gae_step_f32")?;
        let cfg = LaunchConfig {
            grid_dim: (shape.batch.div_ceil(256) as u32, 1, 1),
            block_dim: (256, 1, 1),
            shared_mem_bytes: 0,
        };
        for t in (0..shape.len).rev() {
            let p = crate::params::StepParamsC {
                rewards: rewards.ptr,
                values: values.ptr,
                mask: mask.ptr,
                adv: adv.ptr,
                next_v: next_v.ptr,
                last: last.ptr,
                batch: shape.batch as i32,
                len: shape.len as i32,
                t: t as i32,
                gamma,
                gl: gamma * lambda,
                _pad: 0,
            };
            let mut b = self.stream.launch_builder(&f);
            b.arg(&p);
            // SAFETY: `p` mirrors `StepParams` (kernels/baseline.cu); pointers valid per contract.
            unsafe { b.launch(cfg) }?;
        }
        Ok(())
    }
}

/// The initial device state of the Fast RL update for `n` rewards: uniform log-weights.
pub fn initial_update_state(n: usize) -> Vec<f64> {
    let mut s = vec![0.0f64; crate::params::UPDATE_STATE_LEN];
    for x in s.iter_mut().take(n) {
        *x = -(n as f64).ln();
    }
    s
}
