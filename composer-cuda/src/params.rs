//! `#[repr(C)]` mirrors of the kernels' parameter structs (`kernels/*.cu`). Field order,
//! types and sizes match the C side, which `static_assert`s the same sizes.

use composer_core::{Convention, GroupEstimator, GroupScale, MAX_REWARDS};
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

/// `struct GroupParams` (group.cu): one parameter block for every kernel of the group
/// family.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct GroupParamsC {
    /// Reward channels (scores, weights, dense flags, n).
    pub ch: ChannelsC,
    /// `const uint32*` group ids, `[batch]`.
    pub groups: u64,
    /// `const uint8*` mask, `[batch * len]`.
    pub mask: u64,
    /// `float*` advantages out, `[batch]`.
    pub out: u64,
    /// `double*` scratch ([`crate::launch::group_device_scratch_len`]).
    pub scratch: u64,
    /// `unsigned long long*` report, `[GROUP_REPORT_LEN]`.
    pub report: u64,
    /// The convention's epsilon ([`Convention::eps`]).
    pub eps: f64,
    /// Members every occurring group must have; -1 = any.
    pub group_size: i64,
    /// Rows.
    pub batch: i32,
    /// Tokens per row.
    pub len: i32,
    /// Group ids lie in `0..num_groups`.
    pub num_groups: i32,
    /// [`GroupEstimator::code`].
    pub estimator: i32,
    /// [`GroupScale::code`].
    pub scale: i32,
    /// [`Convention::code`].
    pub convention: i32,
    /// 1 = whiten the final advantages.
    pub whiten: i32,
    /// Padding.
    pub _pad: i32,
}

/// `u64` words of the group family's report (`GROUP_REPORT_LEN` in group.cu). "First"
/// slots hold the bitwise complement of the smallest key seen (0 = none).
pub const GROUP_REPORT_LEN: usize = 8 + MAX_REWARDS;
/// Report slot: status bits ([`GROUP_BIT_BAD_ID`] ...), or-ed.
pub const GROUP_R_BITS: usize = 0;
/// Report slot: first row with a group id out of range, key `row << 32 | id`.
pub const GROUP_R_BAD_ID: usize = 1;
/// Report slot: first non-finite score used, key `channel << 56 | flat index`.
pub const GROUP_R_BAD_REWARD: usize = 2;
/// Report slot: first group whose size is not `group_size`, key `group << 32 | size`.
pub const GROUP_R_BAD_SIZE: usize = 3;
/// Report slot: first row whose `f32` advantage is not finite, key `row`.
pub const GROUP_R_OVERFLOW: usize = 4;
/// Report slot: groups with at least one member.
pub const GROUP_R_GROUPS: usize = 5;
/// Report slot: groups of one.
pub const GROUP_R_SINGLETONS: usize = 6;
/// Report slot: valid tokens.
pub const GROUP_R_TOKENS: usize = 7;
/// Report slots `[8, 8 + MAX_REWARDS)`: zero-variance groups per reward (GDPO) or of the
/// composite (the first slot).
pub const GROUP_R_ZERO_VAR: usize = 8;
/// Status bit: a group id is out of range.
pub const GROUP_BIT_BAD_ID: u64 = 1;
/// Status bit: an advantage overflowed `f32`.
pub const GROUP_BIT_OVERFLOW: u64 = 2;
/// Status bit: a score used is NaN or infinite.
pub const GROUP_BIT_BAD_REWARD: u64 = 4;
/// Status bit: a group does not have `group_size` members.
pub const GROUP_BIT_BAD_SIZE: u64 = 8;

// group.cu reads the core's codes as these numbers (GROUP_EST_*, GROUP_SCALE_*,
// GROUP_CONV_*); a change in the core's table fails the build here.
const _: () = assert!(
    GroupEstimator::Grpo.code() == 0
        && GroupEstimator::Rloo.code() == 1
        && GroupEstimator::ReinforcePlusPlus.code() == 2
        && GroupEstimator::Gdpo.code() == 3
);
const _: () = assert!(
    GroupScale::Group.code() == 0 && GroupScale::Batch.code() == 1 && GroupScale::None.code() == 2
);
const _: () = assert!(Convention::Verl.code() == 0 && Convention::Trl.code() == 1);

/// Doubles in `struct UpdateState` (update.cu): log_w, ema, norm_mean, norm_m2 (16 each),
/// norm_count, ema_ready, step, means (16).
pub const UPDATE_STATE_LEN: usize = 4 * MAX_REWARDS + 3 + MAX_REWARDS;

const _: () = assert!(core::mem::size_of::<ChannelsC>() == 264);
const _: () = assert!(core::mem::size_of::<FusedParamsC>() == 368);
const _: () = assert!(core::mem::size_of::<SumsParamsC>() == 288);
const _: () = assert!(core::mem::size_of::<UpdateParamsC>() == 192);
const _: () = assert!(core::mem::size_of::<WhitenParamsC>() == 32);
const _: () = assert!(core::mem::size_of::<StepParamsC>() == 72);
const _: () = assert!(core::mem::size_of::<GroupParamsC>() == 352);

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
// SAFETY: as above.
unsafe impl DeviceRepr for GroupParamsC {}
