//! `#[repr(C)]` mirrors of the kernels' parameter structs (`kernels/*.cu`). Field order,
//! types and sizes match the C side, which `static_assert`s the same sizes.

use composer_core::MAX_REWARDS;
use cudarc::driver::DeviceRepr;

/// `struct Channels` (common.cuh).
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct ChannelsC {
    /// Device pointers to each channel's scores.
    pub ptr: [u64; MAX_REWARDS],
    /// Weights.
    pub w: [f32; MAX_REWARDS],
    /// 1 = dense `[batch*len]`, 0 = sequence-level `[batch]`.
    pub dense: [i32; MAX_REWARDS],
    /// Number of channels.
    pub n: i32,
    /// Padding.
    pub _pad: i32,
}

/// `struct FusedParams` (fused.cu).
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct FusedParamsC {
    /// Reward channels.
    pub ch: ChannelsC,
    /// `const T*` per-token policy log-probs.
    pub logp: u64,
    /// `const T*` reference log-probs.
    pub ref_logp: u64,
    /// `const T*` values.
    pub values: u64,
    /// `const uint8*` mask.
    pub mask: u64,
    /// `float*` penalised composite reward out.
    pub out_rewards: u64,
    /// `float*` advantages out.
    pub out_adv: u64,
    /// `float*` returns out.
    pub out_ret: u64,
    /// `double[3]` stats (kl_sum, reward_sum, valid_tokens), accumulated.
    pub stats: u64,
    /// `int*` status bits, or-ed.
    pub status: u64,
    /// Rows.
    pub batch: i32,
    /// Tokens per row.
    pub len: i32,
    /// Discount.
    pub gamma: f32,
    /// `gamma * lambda`.
    pub gl: f32,
    /// KL coefficient.
    pub beta: f32,
    /// 0 k1, 1 k2, 2 k3, 3 abs.
    pub estimator: i32,
    /// 0 prefix, 1 carry.
    pub mode: i32,
    /// Padding.
    pub _pad: i32,
}

/// `struct SumsParams` (update.cu).
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct SumsParamsC {
    /// Reward channels (weights unused).
    pub ch: ChannelsC,
    /// `const uint8*` mask.
    pub mask: u64,
    /// `double[MAX_REWARDS + 2]` sums out (accumulated).
    pub sums: u64,
    /// Rows.
    pub batch: i32,
    /// Tokens per row.
    pub len: i32,
}

/// `struct UpdateParams` (update.cu).
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct UpdateParamsC {
    /// `const double*` sums from `reward_sums`.
    pub sums: u64,
    /// `UpdateState*` composer state.
    pub state: u64,
    /// `float*` weights out.
    pub weights: u64,
    /// `int*` status.
    pub status: u64,
    /// Bias `b_i`.
    pub bias: [f32; MAX_REWARDS],
    /// 1 = dense channel (mean over tokens), 0 = sequence-level (mean over rows).
    pub dense: [i32; MAX_REWARDS],
    /// Rewards.
    pub n: i32,
    /// Step size.
    pub eta: f32,
    /// Temperature.
    pub temperature: f32,
    /// Weight floor.
    pub floor: f32,
    /// 0 none, 1 ema, 2 clip, 3 tanh.
    pub smoothing: i32,
    /// First smoothing parameter.
    pub sa: f32,
    /// Second smoothing parameter.
    pub sb: f32,
    /// 1 = standardise.
    pub normalize: i32,
}

/// `struct WhitenParams` (whiten.cu).
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct WhitenParamsC {
    /// `float*` advantages, whitened in place.
    pub x: u64,
    /// `const uint8*` mask.
    pub mask: u64,
    /// `double[3]` scratch statistics, zeroed before the first launch.
    pub stats: u64,
    /// Elements.
    pub n: i64,
}

/// `struct StepParams` (baseline.cu): one time step of the frameworks' GAE loop.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct StepParamsC {
    /// `const float*` rewards.
    pub rewards: u64,
    /// `const float*` values.
    pub values: u64,
    /// `const uint8*` mask.
    pub mask: u64,
    /// `float*` advantages.
    pub adv: u64,
    /// `float[batch]` carried next value.
    pub next_v: u64,
    /// `float[batch]` carried advantage.
    pub last: u64,
    /// Rows.
    pub batch: i32,
    /// Tokens per row.
    pub len: i32,
    /// The time step.
    pub t: i32,
    /// Discount.
    pub gamma: f32,
    /// `gamma * lambda`.
    pub gl: f32,
    /// Padding.
    pub _pad: i32,
}

/// Doubles in `struct UpdateState` (update.cu): log_w, ema, norm_mean, norm_m2 (16 each),
/// norm_count, ema_ready, step, means (16).
pub const UPDATE_STATE_LEN: usize = 4 * MAX_REWARDS + 3 + MAX_REWARDS;

const _: () = assert!(core::mem::size_of::<ChannelsC>() == 264);
const _: () = assert!(core::mem::size_of::<FusedParamsC>() == 368);
const _: () = assert!(core::mem::size_of::<SumsParamsC>() == 288);
const _: () = assert!(core::mem::size_of::<UpdateParamsC>() == 192);
const _: () = assert!(core::mem::size_of::<WhitenParamsC>() == 32);
const _: () = assert!(core::mem::size_of::<StepParamsC>() == 72);

// SAFETY: plain #[repr(C)] structs of integers and floats, mirrored exactly by the
// kernels' parameter structs (sizes asserted on both sides); passed by value.
unsafe impl DeviceRepr for FusedParamsC {}
// SAFETY: as above.
unsafe impl DeviceRepr for SumsParamsC {}
// SAFETY: as above.
unsafe impl DeviceRepr for UpdateParamsC {}
// SAFETY: as above.
unsafe impl DeviceRepr for WhitenParamsC {}
// SAFETY: as above.
unsafe impl DeviceRepr for StepParamsC {}
