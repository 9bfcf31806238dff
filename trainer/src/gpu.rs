//! The fused pass on the GPU (feature `cuda`): composer-cuda's kernels read and write the
//! libtorch tensors in place, on the default stream libtorch also uses, so a PPO step on
//! a CUDA device needs no host round trip for composition, KL penalty, GAE and whitening
//! (the KL and valid-token sums are read back for the controller and the logs).

use crate::error::TrainerError;
use composer_core::{FusedParams, Shape};
use composer_cuda::{CudaError, DevChannel, DevPtr, Dtype, FusedBuffers, Gpu};
use tch::{Device, Kind, Tensor};

fn cuda(e: CudaError) -> TrainerError {
    TrainerError::Config(format!("composer-cuda: {e}"))
}

/// A device pointer to a contiguous tensor of `kind` on a CUDA device.
fn ptr(t: &Tensor, kind: Kind, what: &str) -> Result<DevPtr, TrainerError> {
    if t.kind() != kind || !t.is_contiguous() || !matches!(t.device(), Device::Cuda(_)) {
        return Err(TrainerError::Config(format!(
            "composer-cuda needs {what} as a contiguous {kind:?} CUDA tensor, got {:?} on {:?}",
            t.kind(),
            t.device()
        )));
    }
    Ok(DevPtr {
        ptr: t.data_ptr() as u64,
        len: t.numel(),
    })
}

/// Outputs of [`GpuFused::run`], on the device.
#[derive(Debug)]
pub struct GpuOutputs {
    /// `[B, R]` penalised composite reward.
    pub rewards: Tensor,
    /// `[B, R]` advantages (whitened when asked).
    pub advantages: Tensor,
    /// `[B, R]` returns.
    pub returns: Tensor,
    /// Sum of the KL estimate over valid tokens.
    pub kl_sum: f64,
    /// Valid tokens.
    pub valid_tokens: f64,
}

/// composer-cuda on the device libtorch uses.
#[derive(Debug)]
pub struct GpuFused {
    gpu: Gpu,
}

impl GpuFused {
    /// Opens device `ordinal`; `Ok(None)` without a driver or NVRTC (the CPU core is
    /// used, and a note on stderr says so and why: libtorch can see the GPU while NVRTC
    /// is not on the library path).
    pub fn new(ordinal: usize) -> Result<Option<Self>, TrainerError> {
        match Gpu::new(ordinal) {
            Ok(gpu) => Ok(Some(GpuFused { gpu })),
            Err(e @ CudaError::NoCuda { .. }) => {
                eprintln!("note: the fused pass runs on the CPU core, not composer-cuda: {e}");
                Ok(None)
            }
            Err(e) => Err(cuda(e)),
        }
    }

    /// Composition + KL penalty + GAE + returns (+ whitening) over `[B, R]` tensors:
    /// `channels` are f32 `[B]` (sequence-level) or `[B * R]` (dense, `dense[k]`); logp,
    /// ref_logp and values f32 `[B, R]`; mask u8 `[B, R]`, all on this CUDA device.
    #[allow(clippy::too_many_arguments)]
    pub fn run(
        &self,
        channels: &[Tensor],
        dense: &[bool],
        weights: &[f32],
        logp: &Tensor,
        ref_logp: &Tensor,
        values: &Tensor,
        mask: &Tensor,
        params: &FusedParams,
        whiten: bool,
    ) -> Result<GpuOutputs, TrainerError> {
        let (b, r) = mask.size2().map_err(TrainerError::Torch)?;
        let dev = mask.device();
        let chs = channels
            .iter()
            .zip(dense)
            .map(|(t, &d)| {
                Ok(DevChannel {
                    data: ptr(t, Kind::Float, "a reward channel")?,
                    dense: d,
                })
            })
            .collect::<Result<Vec<_>, TrainerError>>()?;
        let f32s = (Kind::Float, dev);
        let rewards = Tensor::zeros([b, r], f32s);
        let advantages = Tensor::zeros([b, r], f32s);
        let returns = Tensor::zeros([b, r], f32s);
        let stats = Tensor::zeros([3], (Kind::Double, dev));
        let wstats = Tensor::zeros([3], (Kind::Double, dev));
        let status = Tensor::zeros([1], (Kind::Int, dev));
        let bufs = FusedBuffers {
            channels: &chs,
            weights,
            logp: ptr(logp, Kind::Float, "logp")?,
            ref_logp: ptr(ref_logp, Kind::Float, "ref_logp")?,
            values: ptr(values, Kind::Float, "values")?,
            mask: ptr(mask, Kind::Uint8, "mask")?,
            out_rewards: ptr(&rewards, Kind::Float, "rewards")?,
            out_adv: ptr(&advantages, Kind::Float, "advantages")?,
            out_ret: ptr(&returns, Kind::Float, "returns")?,
            stats: ptr(&stats, Kind::Double, "stats")?,
            status: ptr(&status, Kind::Int, "status")?,
        };
        let shape = Shape::new(b as usize, r as usize);
        // SAFETY: every pointer is a contiguous tensor of the checked kind and length on
        // this device, alive until the synchronisation below; outputs are fresh tensors
        // that alias nothing.
        unsafe { self.gpu.fused_raw(Dtype::F32, &bufs, shape, params) }.map_err(cuda)?;
        if whiten {
            // SAFETY: as above.
            unsafe {
                self.gpu.whiten_raw(
                    bufs.out_adv,
                    bufs.mask,
                    ptr(&wstats, Kind::Double, "whiten stats")?,
                )
            }
            .map_err(cuda)?;
        }
        self.gpu
            .stream()
            .synchronize()
            .map_err(|e| cuda(e.into()))?;
        let bits = status.int64_value(&[0]) as i32;
        if bits & 2 != 0 {
            return Err(cuda(CudaError::Status { bits }));
        }
        Ok(GpuOutputs {
            rewards,
            advantages,
            returns,
            kl_sum: stats.double_value(&[0]),
            valid_tokens: stats.double_value(&[2]),
        })
    }
}
