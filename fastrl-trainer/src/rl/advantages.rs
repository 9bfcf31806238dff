//! Algorithm 1, lines 8-11 for a batch: the composite reward (Eq. 4, 6), the KL-penalised
//! reward (Eq. 7), GAE advantages and value targets (+ whitening), by one of two
//! backends behind [`advantages`]: composer-core's CPU pass, or composer-cuda's kernels
//! on the device tensors (feature `cuda`, policy on a CUDA device). Both return one
//! [`Advantages`].

use crate::error::TrainerError;
use crate::rl::channels::{core_channels, RewardChannel};
use composer_core::{fused_pass, whiten, FusedInputs, FusedOutputs, FusedParams, Shape};
use tch::{Device, Kind, Tensor};

/// What the fused pass of one step reads.
#[derive(Debug)]
pub struct AdvantageInputs<'a> {
    /// The channels (the rewards, and the composer's offset channel when it has one).
    pub channels: &'a [RewardChannel],
    /// The composer's weights.
    pub weights: &'a [f32],
    /// `[B, R]` policy log-probabilities of the sampled tokens.
    pub logp: &'a Tensor,
    /// `[B, R]` reference log-probabilities.
    pub ref_logp: &'a Tensor,
    /// `[B, R]` values.
    pub values: &'a Tensor,
    /// `[B * R]` response mask (prefix).
    pub mask: &'a [u8],
    /// `B`, `R`.
    pub shape: Shape,
    /// GAE, beta, estimator, mask mode.
    pub params: &'a FusedParams,
    /// Whiten the advantages over the valid tokens.
    pub whiten: bool,
}

/// Advantages and value targets of a batch, on the policy's device.
#[derive(Debug)]
pub struct Advantages {
    /// `[B, R]` advantages.
    pub advantages: Tensor,
    /// `[B, R]` returns (value targets).
    pub returns: Tensor,
    /// Sum of the KL estimate over valid tokens.
    pub kl_sum: f64,
    /// Valid tokens.
    pub valid_tokens: f64,
}

/// Where the fused pass runs.
#[derive(Debug)]
pub enum Backend {
    /// composer-core on the host.
    Cpu,
    /// composer-cuda on the policy's CUDA device.
    #[cfg(feature = "cuda")]
    Cuda(composer_cuda::tch::TchFused),
}

impl Backend {
    /// composer-cuda when built with `cuda` and `device` is a CUDA device with a driver
    /// and NVRTC; else the CPU core (with a note on stderr saying why, when the GPU was
    /// there but the kernels could not be loaded).
    pub fn for_device(device: Device) -> Result<Self, TrainerError> {
        #[cfg(feature = "cuda")]
        if let Device::Cuda(i) = device {
            return match composer_cuda::tch::TchFused::new(i) {
                Ok(g) => Ok(Backend::Cuda(g)),
                Err(e @ composer_cuda::CudaError::NoCuda { .. }) => {
                    crate::note!(
                        "note: the fused pass runs on the CPU core, not composer-cuda: {e}"
                    );
                    Ok(Backend::Cpu)
                }
                Err(e) => Err(e.into()),
            };
        }
        let _ = device;
        Ok(Backend::Cpu)
    }
}

/// The batch's advantages and returns on `device`, by `backend`.
pub fn advantages(
    x: &AdvantageInputs<'_>,
    backend: &Backend,
    device: Device,
) -> Result<Advantages, TrainerError> {
    match backend {
        Backend::Cpu => on_cpu(x, device),
        #[cfg(feature = "cuda")]
        Backend::Cuda(g) => on_cuda(x, g, device),
    }
}

fn to_vec(t: &Tensor) -> Result<Vec<f32>, TrainerError> {
    Ok(Vec::try_from(
        &t.to_kind(Kind::Float).to_device(Device::Cpu).reshape([-1]),
    )?)
}

/// The CPU pass (composer-core).
fn on_cpu(x: &AdvantageInputs<'_>, dev: Device) -> Result<Advantages, TrainerError> {
    let n = x.shape.batch * x.shape.len;
    let (lp, rlp, vals) = (to_vec(x.logp)?, to_vec(x.ref_logp)?, to_vec(x.values)?);
    let channels = core_channels(x.channels);
    let (mut rew, mut adv, mut ret) = (vec![0.0f32; n], vec![0.0f32; n], vec![0.0f32; n]);
    let stats = fused_pass(
        &FusedInputs {
            channels: &channels,
            weights: x.weights,
            logp: &lp,
            ref_logp: &rlp,
            values: &vals,
            mask: x.mask,
        },
        x.shape,
        x.params,
        &mut FusedOutputs {
            rewards: &mut rew,
            advantages: &mut adv,
            returns: &mut ret,
        },
    )?;
    if x.whiten {
        whiten(&mut adv, x.mask)?;
    }
    let shape = [x.shape.batch as i64, x.shape.len as i64];
    Ok(Advantages {
        advantages: Tensor::from_slice(&adv).view(shape).to(dev),
        returns: Tensor::from_slice(&ret).view(shape).to(dev),
        kl_sum: stats.kl_sum,
        valid_tokens: stats.valid_tokens as f64,
    })
}

/// The CUDA pass (composer-cuda's safe entry over the device tensors).
#[cfg(feature = "cuda")]
fn on_cuda(
    x: &AdvantageInputs<'_>,
    g: &composer_cuda::tch::TchFused,
    dev: Device,
) -> Result<Advantages, TrainerError> {
    let shape = [x.shape.batch as i64, x.shape.len as i64];
    let on = |t: &Tensor| t.to_kind(Kind::Float).contiguous();
    let chans: Vec<Tensor> = x
        .channels
        .iter()
        .map(|c| Tensor::from_slice(c.values()).to(dev))
        .collect();
    let dense: Vec<bool> = x.channels.iter().map(RewardChannel::is_dense).collect();
    let mask = Tensor::from_slice(x.mask).view(shape).to(dev);
    let (logp, ref_logp, values) = (on(x.logp), on(x.ref_logp), on(x.values));
    let o = g.run(
        &composer_cuda::tch::TchInputs {
            channels: &chans,
            dense: &dense,
            weights: x.weights,
            logp: &logp,
            ref_logp: &ref_logp,
            values: &values,
            mask: &mask,
        },
        x.params,
        x.whiten,
    )?;
    Ok(Advantages {
        advantages: o.advantages,
        returns: o.returns,
        kl_sum: o.kl_sum,
        valid_tokens: o.valid_tokens,
    })
}
