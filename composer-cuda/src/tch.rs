//! The safe entry over libtorch tensors (feature `tch`): the fused pass and whitening
//! read and write contiguous CUDA tensors in place, on the default stream libtorch also
//! uses, so a trainer on tch needs no `unsafe` and no host round trip.
//!
//! Every tensor's kind, contiguity, device and length are checked before the launch;
//! after it, every status bit the kernels report is an error
//! ([`CudaError::Status`]: a mask that is not a prefix, a non-finite output, an empty
//! batch), as the CPU core reports the same inputs.

use crate::device::{Dtype, Gpu};
use crate::error::CudaError;
use crate::launch::{DevChannel, DevPtr, FusedBuffers};
use ::tch::{Device, Kind, Tensor};
use composer_core::{FusedParams, Shape};

/// A device pointer to a contiguous tensor of `kind` on CUDA device `ordinal`.
fn ptr(t: &Tensor, kind: Kind, ordinal: usize, what: &str) -> Result<DevPtr, CudaError> {
    if t.kind() != kind || !t.is_contiguous() || t.device() != Device::Cuda(ordinal) {
        return Err(CudaError::Unsupported(format!(
            "{what} must be a contiguous {kind:?} tensor on cuda:{ordinal}, got {:?} on {:?} \
             (contiguous: {})",
            t.kind(),
            t.device(),
            t.is_contiguous()
        )));
    }
    Ok(DevPtr {
        ptr: t.data_ptr() as u64,
        len: t.numel(),
    })
}

/// Outputs of [`TchFused::run`], on the device.
#[derive(Debug)]
pub struct TchOutputs {
    /// `[B, R]` penalised composite reward (Eq. 7).
    pub rewards: Tensor,
    /// `[B, R]` advantages (whitened when asked).
    pub advantages: Tensor,
    /// `[B, R]` returns.
    pub returns: Tensor,
    /// Sum of the KL estimate over valid tokens.
    pub kl_sum: f64,
    /// Sum of the (unpenalised) composite reward over valid tokens.
    pub composite_sum: f64,
    /// Valid tokens.
    pub valid_tokens: f64,
}

/// The inputs of one fused pass, as libtorch tensors on one CUDA device.
#[derive(Debug)]
pub struct TchInputs<'a> {
    /// f32 `[B]` (sequence-level) or `[B * R]` (dense, `dense[k]`) reward channels.
    pub channels: &'a [Tensor],
    /// Which channels are dense.
    pub dense: &'a [bool],
    /// Composition weights (host).
    pub weights: &'a [f32],
    /// f32 `[B, R]` policy log-probabilities.
    pub logp: &'a Tensor,
    /// f32 `[B, R]` reference log-probabilities.
    pub ref_logp: &'a Tensor,
    /// f32 `[B, R]` values.
    pub values: &'a Tensor,
    /// u8 `[B, R]` response mask.
    pub mask: &'a Tensor,
}

/// composer-cuda on the device libtorch uses.
#[derive(Debug)]
pub struct TchFused {
    gpu: Gpu,
    ordinal: usize,
}

impl TchFused {
    /// Opens CUDA device `ordinal` (errors as [`Gpu::new`]).
    pub fn new(ordinal: usize) -> Result<Self, CudaError> {
        Ok(TchFused {
            gpu: Gpu::new(ordinal)?,
            ordinal,
        })
    }

    /// Free and total memory of this device in bytes (the driver's `cuMemGetInfo`; memory
    /// libtorch's caching allocator holds counts as used).
    pub fn memory(&self) -> Result<(u64, u64), CudaError> {
        let (free, total) = self.gpu.context().mem_get_info()?;
        Ok((free as u64, total as u64))
    }

    /// Composition + KL penalty + GAE + returns (+ whitening), then a wait for the
    /// stream and a check of the status word.
    pub fn run(
        &self,
        x: &TchInputs<'_>,
        params: &FusedParams,
        whiten: bool,
    ) -> Result<TchOutputs, CudaError> {
        let o = self.ordinal;
        let (b, r) = x
            .mask
            .size2()
            .map_err(|e| CudaError::Unsupported(format!("the mask must be [B, R]: {e}")))?;
        if x.channels.len() != x.dense.len() {
            return Err(CudaError::Invalid(composer_core::Error::Length {
                arg: "dense",
                expected: x.channels.len(),
                actual: x.dense.len(),
            }));
        }
        let dev = Device::Cuda(o);
        let chs = x
            .channels
            .iter()
            .zip(x.dense)
            .map(|(t, &d)| {
                Ok(DevChannel {
                    data: ptr(t, Kind::Float, o, "a reward channel")?,
                    dense: d,
                })
            })
            .collect::<Result<Vec<_>, CudaError>>()?;
        let f32s = (Kind::Float, dev);
        let rewards = Tensor::zeros([b, r], f32s);
        let advantages = Tensor::zeros([b, r], f32s);
        let returns = Tensor::zeros([b, r], f32s);
        let stats = Tensor::zeros([3], (Kind::Double, dev));
        let wstats = Tensor::zeros([3], (Kind::Double, dev));
        let status = Tensor::zeros([1], (Kind::Int, dev));
        let bufs = FusedBuffers {
            channels: &chs,
            weights: x.weights,
            logp: ptr(x.logp, Kind::Float, o, "logp")?,
            ref_logp: ptr(x.ref_logp, Kind::Float, o, "ref_logp")?,
            values: ptr(x.values, Kind::Float, o, "values")?,
            mask: ptr(x.mask, Kind::Uint8, o, "mask")?,
            out_rewards: ptr(&rewards, Kind::Float, o, "rewards")?,
            out_adv: ptr(&advantages, Kind::Float, o, "advantages")?,
            out_ret: ptr(&returns, Kind::Float, o, "returns")?,
            stats: ptr(&stats, Kind::Double, o, "stats")?,
            status: ptr(&status, Kind::Int, o, "status")?,
        };
        let shape = Shape::new(b as usize, r as usize);
        // SAFETY: every pointer is a contiguous tensor of the checked kind on this device
        // (`ptr`), and its length is checked against `shape` by the launch planner; the
        // tensors are borrowed or owned here and live until the synchronisation below;
        // the outputs are fresh tensors that alias nothing.
        unsafe { self.gpu.fused_raw(Dtype::F32, &bufs, shape, params) }?;
        if whiten {
            let ws = ptr(&wstats, Kind::Double, o, "whiten stats")?;
            // SAFETY: as above; `wstats` is 3 zeroed f64, `out_adv` and `mask` hold
            // B * R elements each.
            unsafe { self.gpu.whiten_raw(bufs.out_adv, bufs.mask, ws) }?;
        }
        self.gpu.stream().synchronize()?;
        let bits = status.int64_value(&[0]) as i32;
        if bits != 0 {
            return Err(CudaError::Status { bits });
        }
        Ok(TchOutputs {
            rewards,
            advantages,
            returns,
            kl_sum: stats.double_value(&[0]),
            composite_sum: stats.double_value(&[1]),
            valid_tokens: stats.double_value(&[2]),
        })
    }
}
