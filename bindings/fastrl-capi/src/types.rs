//! The `repr(C)` types of the C ABI: the status enum, slices, channels, parameters,
//! statistics and the composer configuration.

/// Result code of every function.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FastrlStatus {
    /// Success.
    Ok = 0,
    /// A null pointer where data (or a handle) was required.
    Null = 1,
    /// A buffer of the wrong length, or bad shape.
    Length = 2,
    /// A NaN or infinite input.
    NonFinite = 3,
    /// A parameter outside its domain (gamma, lambda, eta, ...), or an unknown enum value.
    Range = 4,
    /// A mask with holes under prefix semantics.
    Mask = 5,
    /// An output overflowed f32 from finite inputs.
    Overflow = 6,
    /// A truncated, corrupted, wrong-version or wrong-kind state record.
    Record = 7,
    /// No valid token where a mean is needed.
    Empty = 8,
    /// n = 0 or more than 16 rewards.
    Rewards = 9,
    /// A panic was caught (a bug: please report it).
    Panic = 10,
    /// Options that cannot be combined, or a reference normalisation used before its
    /// statistics were set.
    Config = 11,
    /// Group ids that do not form whole groups (`group_size`), or a reward constant on
    /// its calibration set.
    Group = 12,
}

/// Read-only `float` slice.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct FastrlF32 {
    /// First element (may be null when `len` is 0).
    pub ptr: *const f32,
    /// Number of elements.
    pub len: usize,
}

/// Writable `float` slice.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct FastrlMutF32 {
    /// First element (may be null when `len` is 0).
    pub ptr: *mut f32,
    /// Number of elements.
    pub len: usize,
}

/// Read-only bf16 slice (raw bit patterns).
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct FastrlBf16 {
    /// First element (may be null when `len` is 0).
    pub ptr: *const u16,
    /// Number of elements.
    pub len: usize,
}

/// Read-only byte slice (masks: nonzero = valid token; state records).
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct FastrlU8 {
    /// First element (may be null when `len` is 0).
    pub ptr: *const u8,
    /// Number of elements.
    pub len: usize,
}

/// One reward channel: `dense != 0` for `[batch * len]` per-token scores, `0` for
/// `[batch]` sequence-level scores (placed on each row's last valid token).
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct FastrlChannelF32 {
    /// Scores.
    pub data: FastrlF32,
    /// Dense (per-token) when nonzero.
    pub dense: i32,
}

/// One bf16 reward channel (see [`FastrlChannelF32`]).
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct FastrlChannelBf16 {
    /// Scores.
    pub data: FastrlBf16,
    /// Dense (per-token) when nonzero.
    pub dense: i32,
}

/// Scalars of the fused pass and GAE.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct FastrlParams {
    /// Rows.
    pub batch: usize,
    /// Tokens per row.
    pub len: usize,
    /// Discount, in [0, 1].
    pub gamma: f32,
    /// GAE lambda, in [0, 1].
    pub lambda: f32,
    /// KL coefficient, >= 0.
    pub beta: f32,
    /// 0 = k1, 1 = k2, 2 = k3, 3 = abs.
    pub estimator: i32,
    /// 0 = prefix (trl), 1 = carry (verl).
    pub mode: i32,
}

/// Sums returned by the fused pass.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub struct FastrlStats {
    /// Valid tokens.
    pub valid_tokens: usize,
    /// Sum of the KL estimate over valid tokens.
    pub kl_sum: f64,
    /// Sum of the composite reward (before the penalty) over valid tokens.
    pub reward_sum: f64,
}

/// Fast RL hyperparameters (see `FastRlConfig`).
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct FastrlConfig {
    /// Step size eta (the paper's lambda), >= 0.
    pub eta: f32,
    /// Temperature, > 0.
    pub temperature: f32,
    /// 0 = none, 1 = EMA (`smooth_a` = decay), 2 = clip (`smooth_a`, `smooth_b` = min, max),
    /// 3 = tanh (`smooth_a` = scale).
    pub smoothing: i32,
    /// First smoothing parameter.
    pub smooth_a: f32,
    /// Second smoothing parameter.
    pub smooth_b: f32,
    /// 1 = standardise each reward by its running mean and std (beyond the paper).
    pub normalize: i32,
    /// Weight floor in [0, 1].
    pub floor: f32,
    /// Eq. (6) on: 0 = raw rewards, 1 = reference z-scores (needs `normalize` = 2).
    pub compose_on: i32,
    /// 0 = plain exponentiated gradient (Eq. (5)), 1 = optimistic (`2 s_t - s_{t-1}`).
    pub rule: i32,
    /// Nonzero: project the weights onto the KL ball of radius `radius` around uniform.
    /// Zero (a zero-initialised struct): the paper's unbounded rule.
    pub bounded: i32,
    /// Radius rho >= 0 of the KL ball (read when `bounded` is nonzero).
    pub radius: f32,
    /// Nonzero: return the running average of the iterates.
    pub averaging: i32,
    /// Nonzero: eta "auto", Hedge's rate for this many updates (`eta` is then ignored).
    pub eta_auto_horizon: u64,
    /// Width of the signal's range for eta "auto" (> 0; 1 for rewards in [0, 1]).
    pub eta_auto_range: f32,
}

/// Parameters of `fastrl_group_advantages_f32`.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct FastrlGroupParams {
    /// 0 = GRPO, 1 = RLOO, 2 = REINFORCE++ (group baseline), 3 = GDPO.
    pub estimator: i32,
    /// GRPO's division: 0 = group std, 1 = batch std, 2 = none (Dr. GRPO).
    pub scale: i32,
    /// 0 = verl 0.9.1's definitions, 1 = trl 1.16.0's.
    pub convention: i32,
    /// -1 = the peers' default (on for REINFORCE++ and GDPO), 0 = off, 1 = on.
    pub whiten: i32,
    /// Nonzero: every group must have exactly this many members.
    pub group_size: usize,
}

/// Counts returned by `fastrl_group_advantages_f32`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub struct FastrlGroupStats {
    /// Groups with at least one member.
    pub groups: usize,
    /// Groups of one.
    pub singletons: usize,
    /// Groups whose composite is constant.
    pub zero_variance: usize,
}

/// Read-only `uint32_t` slice (group ids).
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct FastrlU32 {
    /// First element (may be null when `len` is 0).
    pub ptr: *const u32,
    /// Number of elements.
    pub len: usize,
}
