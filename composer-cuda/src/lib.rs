//! # composer-cuda
//!
//! Our own CUDA kernels (`kernels/`) for the Fast RL step, compiled at run time by NVRTC
//! and launched through `cudarc` with dynamic loading:
//!
//! | kernel | what | CPU oracle |
//! |---|---|---|
//! | `fused_{f32,bf16}` | composition + KL penalty + GAE + returns, one block per row | `composer_core::fused_pass` |
//! | `reward_sums_{f32,bf16}` | per-reward masked sums of a batch | `composer_core::reward_means` |
//! | `fastrl_update` | Eq. (4)-(5) on device-resident log-weights | `composer_core::FastRl::update` |
//! | `whiten_{sum,sq,apply}_f32` | masked whitening | `composer_core::whiten` |
//! | `group_*` (init, scores, batch std, affine, apply, whiten) | group-relative advantages: GRPO, RLOO, REINFORCE++, GDPO | `composer_core::group_advantages` |
//!
//! **No CUDA never panics.** [`Gpu::new`] probes `libcuda` and `libnvrtc` first and
//! returns [`CudaError::NoCuda`], so a trainer falls back to the CPU core. Shapes,
//! lengths and null pointers are validated on the host before any launch ([`launch`]).
//! Interop with tch: pass raw device pointers and lengths of contiguous tensors
//! ([`DevPtr`]); launches go on the default stream, ordered with libtorch's; this crate
//! never frees memory it did not allocate.
//!
//! Status: every kernel compiles through NVRTC for sm_80 and sm_90 in CI (no GPU
//! needed). Host models of the fused scan (`tests/scan_model.rs`) and of the group pass
//! (`tests/group_model.rs`: every group kernel transliterated, on the real launch
//! parameters, scratch layout and report decoding) run against the CPU core without a
//! GPU. The GPU equivalence tests (`tests/gpu.rs`) and benches have not yet run on a GPU;
//! see the README.

pub mod device;
pub mod error;
pub mod launch;
pub mod params;
pub mod source;
#[cfg(feature = "tch")]
pub mod tch;

pub use device::{
    fused_shared_bytes, initial_update_state, Dtype, FusedVariant, Gpu, STAGED_MAX_LEN,
};
pub use error::CudaError;
pub use launch::{
    group_device_scratch_len, group_outcome, DevChannel, DevPtr, FusedBuffers, GroupBuffers,
};
pub use params::GROUP_REPORT_LEN;
