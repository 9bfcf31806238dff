//! `run.device` as a libtorch device.

use crate::config::schema::DeviceChoice;
use crate::error::TrainerError;
use tch::Device;

impl DeviceChoice {
    /// The device: `cuda` is an error when libtorch sees no CUDA device.
    pub fn device(self) -> Result<Device, TrainerError> {
        Ok(match self {
            DeviceChoice::Cpu => Device::Cpu,
            DeviceChoice::Cuda if tch::Cuda::is_available() => Device::Cuda(0),
            DeviceChoice::Cuda => return Err(TrainerError::Config(
                "run.device = \"cuda\" but libtorch sees no CUDA device; use \"auto\" or \"cpu\""
                    .into(),
            )),
            DeviceChoice::Auto => Device::cuda_if_available(),
        })
    }
}
