//! The Fast RL composer: mirror-descent (exponentiated-gradient) weights, Eq. (4)-(5).

use crate::composers::composer::{check_means, Composer, ComposerKind};
use crate::error::Result;
use crate::error::{finite, in_range, length, Error};
use crate::names::named_enum;
use crate::ops::expf::exp_nonpositive;
use crate::shape::check_channel_count;
use crate::shape::MAX_REWARDS;
use crate::state::StateRecord;

/// `smooth(.)` of Eq. (5): applied to each reward's (optionally normalised) batch mean
/// before the update.
#[derive(Clone, Copy, Debug, PartialEq, Default)]
pub enum Smoothing {
    /// `s = rbar` (Eq. (4)).
    #[default]
    None,
    /// Exponential moving average over steps: `m <- decay*m + (1-decay)*rbar`, `s = m`,
    /// with `m = rbar` on the first step. `decay` in `[0, 1)`.
    Ema {
        /// Weight of the past, in `[0, 1)`.
        decay: f32,
    },
    /// `s = clamp(rbar, min, max)`: extreme batches move the weights no further than the
    /// bounds.
    Clip {
        /// Lower bound.
        min: f32,
        /// Upper bound, `>= min`.
        max: f32,
    },
    /// `s = scale * tanh(rbar / scale)`: identity near 0, saturating at `+/-scale`.
    Tanh {
        /// Saturation level, `> 0`.
        scale: f32,
    },
}

/// The kind of a [`Smoothing`], without its parameters: what front ends name.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum SmoothingKind {
    /// [`Smoothing::None`].
    #[default]
    None,
    /// [`Smoothing::Ema`].
    Ema,
    /// [`Smoothing::Clip`].
    Clip,
    /// [`Smoothing::Tanh`].
    Tanh,
}

named_enum!(SmoothingKind, "smoothing", {
    SmoothingKind::None => (0, "none"),
    SmoothingKind::Ema => (1, "ema"),
    SmoothingKind::Clip => (2, "clip"),
    SmoothingKind::Tanh => (3, "tanh"),
});

impl Smoothing {
    /// The smoothing of `kind` with parameters `a`, `b`: `Ema { decay: a }`,
    /// `Clip { min: a, max: b }`, `Tanh { scale: a }` (unused parameters are ignored).
    /// The domains are checked by [`FastRlConfig::validate`].
    pub fn from_parts(kind: SmoothingKind, a: f32, b: f32) -> Self {
        match kind {
            SmoothingKind::None => Smoothing::None,
            SmoothingKind::Ema => Smoothing::Ema { decay: a },
            SmoothingKind::Clip => Smoothing::Clip { min: a, max: b },
            SmoothingKind::Tanh => Smoothing::Tanh { scale: a },
        }
    }

    /// `(kind, a, b)` with [`from_parts`](Smoothing::from_parts)' parameter layout
    /// (unused parameters are 0).
    pub fn parts(self) -> (SmoothingKind, f32, f32) {
        match self {
            Smoothing::None => (SmoothingKind::None, 0.0, 0.0),
            Smoothing::Ema { decay } => (SmoothingKind::Ema, decay, 0.0),
            Smoothing::Clip { min, max } => (SmoothingKind::Clip, min, max),
            Smoothing::Tanh { scale } => (SmoothingKind::Tanh, scale, 0.0),
        }
    }
}

/// Per-reward normalisation applied before smoothing. **Goes beyond the paper**: the
/// paper feeds raw means, which lets a reward on a large scale (a reward model in
/// `[-10, 10]`) swamp one on a small scale (BLEU in `[0, 1]`): Eq. (4) then moves all
/// weight to the reward with the smallest *scale*, not the one that lags.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Normalization {
    /// Raw means (the paper).
    #[default]
    None,
    /// `z_i = (rbar_i - m_i) / sqrt(v_i + 1e-8)` with `m_i`, `v_i` the running mean and
    /// (unbiased) variance of reward `i`'s *batch means*, this batch included (Welford);
    /// `z = 0` for the first two batches (one batch has no spread). What it measures: a
    /// batch mean against its own history, in units of the spread of batch means, which
    /// is about `sqrt(B)` smaller than the per-response spread (`B` the batch size), and
    /// which shrinks as training settles. The weights then move toward the rewards that
    /// are low relative to their own past, not relative to each other.
    Standardize,
    /// Reference z-scores: `z_i = (rbar_i - mu_i) / sigma_i` with `mu_i`, `sigma_i` the
    /// mean and per-response standard deviation of reward `i` on the starting policy's
    /// samples (a calibration set, [`reference_stats`](crate::reference_stats), set with
    /// [`FastRl::set_reference`]). `z_i` is reward `i`'s improvement over the starting
    /// policy in units of its own per-response spread: comparable across rewards, fixed
    /// over the run. Updating before the reference is set is [`Error::NotCalibrated`].
    Reference,
}

/// What Eq. (6) composes: the raw rewards or their reference z-scores.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum ComposeOn {
    /// `r_com = sum_i w_i r_i` (the paper).
    #[default]
    Raw,
    /// `r_com = sum_i w_i (r_i - mu_i) / sigma_i` with the reference statistics (needs
    /// [`Normalization::Reference`]). [`FastRl::composition`] gives the equivalent
    /// weights on the raw rewards, `w_i / sigma_i`, and the batch-constant offset
    /// `-sum_i w_i mu_i / sigma_i`.
    Normalized,
}

/// How the signal enters the exponentiated-gradient step.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum UpdateRule {
    /// `log w <- log w - eta s_t` (Eq. (5)). Its time average converges in the max-min
    /// game, its last iterate cycles.
    #[default]
    Plain,
    /// Optimistic exponentiated gradient: `log w <- log w - eta (2 s_t - s_{t-1})`
    /// (`s_0 := s_1`), the extrapolation step that gives last-iterate convergence in
    /// monotone games (Daskalakis and Panageas 2019; Rakhlin and Sridharan 2013).
    Optimistic,
}

/// The Hedge step size for a run of known length (`FastRlConfig::eta_auto`).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct AutoEta {
    /// Number of updates the run will make, `T >= 1`.
    pub horizon: u64,
    /// Width `R > 0` of the range the signal lives in (1 for rewards in `[0, 1]`; for
    /// z-scores a few units, e.g. 2).
    pub range: f32,
}

impl AutoEta {
    /// `eta = sqrt(8 ln n / T) / R`: Hedge's rate, for which the regret against the best
    /// fixed reward after `T` steps of signals in a range of width `R` is at most
    /// `R sqrt(T ln n / 2)` (Cesa-Bianchi and Lugosi 2006, Thm. 2.2: `ln n / eta +
    /// eta T R^2 / 8`, minimised). 0 for `n = 1`.
    pub fn eta(&self, n: usize) -> f32 {
        let t = self.horizon.max(1) as f64;
        (libm::sqrt(8.0 * libm::log(n as f64) / t) / self.range as f64) as f32
    }
}

named_enum!(Normalization, "normalization", {
    Normalization::None => (0, "none"),
    Normalization::Standardize => (1, "standardize"),
    Normalization::Reference => (2, "reference"),
});

named_enum!(ComposeOn, "composition target", {
    ComposeOn::Raw => (0, "raw"),
    ComposeOn::Normalized => (1, "normalized"),
});

named_enum!(UpdateRule, "update rule", {
    UpdateRule::Plain => (0, "plain"),
    UpdateRule::Optimistic => (1, "optimistic"),
});

/// Fast RL hyperparameters. Build with `..FastRlConfig::default()` so new options keep
/// their paper-faithful defaults.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct FastRlConfig {
    /// Step size `eta` (the paper's `lambda`), `>= 0`. `0` keeps the weights uniform.
    /// Ignored when [`eta_auto`](FastRlConfig::eta_auto) is set.
    pub eta: f32,
    /// `eta` "auto": Hedge's rate for the run's length and `n` ([`AutoEta::eta`]).
    pub eta_auto: Option<AutoEta>,
    /// Temperature dividing the signal, `> 0` (the appendix pseudo-code's `temperature`).
    pub temperature: f32,
    /// `smooth(.)` of Eq. (5).
    pub smoothing: Smoothing,
    /// Optional per-reward normalisation (beyond the paper).
    pub normalization: Normalization,
    /// What Eq. (6) composes ([`ComposeOn::Normalized`] needs
    /// [`Normalization::Reference`]).
    pub compose_on: ComposeOn,
    /// Plain (Eq. (5)) or optimistic exponentiated gradient.
    pub rule: UpdateRule,
    /// Radius `rho >= 0` of the KL ball around uniform the weights are projected onto
    /// after each step ([`crate::composers::ball`]); `f32::INFINITY` (default) is the paper's rule.
    pub radius: f32,
    /// Return the running average of the iterates `(1/t) sum_s w_s` instead of the last
    /// one (Cesaro averaging; the average of the max-min dynamics converges).
    pub averaging: bool,
    /// Weight floor `f` in `[0, 1]`: after each update `w <- (1-f) w + f/n`, so no weight
    /// falls below `f/n`. `0` (default) is the paper's rule.
    pub floor: f32,
}

impl Default for FastRlConfig {
    fn default() -> Self {
        FastRlConfig {
            eta: 1.0,
            eta_auto: None,
            temperature: 1.0,
            smoothing: Smoothing::None,
            normalization: Normalization::None,
            compose_on: ComposeOn::Raw,
            rule: UpdateRule::Plain,
            radius: f32::INFINITY,
            averaging: false,
            floor: 0.0,
        }
    }
}

impl FastRlConfig {
    /// Checks every field's domain.
    pub fn validate(&self) -> Result<()> {
        if !(self.eta.is_finite() && self.eta >= 0.0) {
            return Err(Error::OutOfRange {
                arg: "eta",
                expected: "[0, inf)",
                actual: self.eta as f64,
            });
        }
        if !(self.temperature.is_finite() && self.temperature > 0.0) {
            return Err(Error::OutOfRange {
                arg: "temperature",
                expected: "(0, inf)",
                actual: self.temperature as f64,
            });
        }
        in_range("floor", self.floor, 0.0, 1.0, "[0, 1]")?;
        if self.radius.is_nan() || self.radius < 0.0 {
            return Err(Error::OutOfRange {
                arg: "radius",
                expected: "[0, inf]",
                actual: self.radius as f64,
            });
        }
        if let Some(auto) = self.eta_auto {
            if auto.horizon == 0 {
                return Err(Error::OutOfRange {
                    arg: "eta_auto.horizon",
                    expected: "[1, inf)",
                    actual: 0.0,
                });
            }
            if !(auto.range.is_finite() && auto.range > 0.0) {
                return Err(Error::OutOfRange {
                    arg: "eta_auto.range",
                    expected: "(0, inf)",
                    actual: auto.range as f64,
                });
            }
        }
        if self.compose_on == ComposeOn::Normalized
            && self.normalization != Normalization::Reference
        {
            return Err(Error::Incompatible {
                arg: "compose_on",
                reason: "composing z-scores needs normalization = reference",
            });
        }
        match self.smoothing {
            Smoothing::None => {}
            Smoothing::Ema { decay } => {
                if !(decay.is_finite() && (0.0..1.0).contains(&decay)) {
                    return Err(Error::OutOfRange {
                        arg: "smoothing.decay",
                        expected: "[0, 1)",
                        actual: decay as f64,
                    });
                }
            }
            Smoothing::Clip { min, max } => {
                finite("smoothing.min", min)?;
                in_range("smoothing.max", max, min, f32::MAX, "[min, inf)")?;
            }
            Smoothing::Tanh { scale } => {
                if !(scale.is_finite() && scale > 0.0) {
                    return Err(Error::OutOfRange {
                        arg: "smoothing.scale",
                        expected: "(0, inf)",
                        actual: scale as f64,
                    });
                }
            }
        }
        Ok(())
    }
}

/// The Fast RL composer.
///
/// One update, Eq. (5) in log space and the options around it, in order:
///
/// ```text
/// s_i     = smooth(norm(rbar_i))                         signal (Eq. (5)'s smooth)
/// g_i     = s_i                  (plain)                 Eq. (4)
///         = 2 s_i - s_prev_i     (optimistic, s_prev := s on the first step)
/// log w_i <- log w_i - eta * g_i / temperature + b_i
/// log w_i <- log w_i - logsumexp_j(log w_j)              (so sum_i w_i = 1)
/// w       <- argmin_{KL(w||1/n) <= rho} KL(w || v)       (only when outside; crate::composers::ball)
/// w       <- (1 - f) w + f / n                           (floor, when f > 0)
/// return  w, or (1/t) sum_s w_s with averaging
/// ```
///
/// starting from `w_i = 1/n`. `eta` is the configured value or, with
/// [`FastRlConfig::eta_auto`], Hedge's rate [`AutoEta::eta`].
///
/// **Sign convention.** Eq. (3) is `max_theta min_w sum_i w_i r_i`: `w` is the min
/// player, so its exponentiated-gradient step is `exp(-eta * r_i)` and weight moves
/// toward the rewards that *lag*. The appendix pseudo-code writes
/// `w_i *= exp(lambda * r_i / temperature)`, the same rule with `lambda = -eta < 0`.
///
/// **Numerics.** The log-weights are kept in `f64` and the step formed in `f64` (any
/// product of finite `f32` values is finite in `f64`), relative to its largest entry.
/// The normalisation is a log-sum-exp whose exponentials (all of arguments `<= 0`) are
/// evaluated in `f32` by a vectorisable routine within a few ulp, so for every finite
/// input the weights are finite, non-negative and sum to 1 (within `1e-6`). Rewards of
/// `+/-1e30` with `eta = 1e6` are fine. Cost: tens of nanoseconds (the README's bench
/// table); the projection, when active, a few Newton steps more.
#[derive(Clone, Debug)]
pub struct FastRl {
    n: usize,
    cfg: FastRlConfig,
    /// `eta / temperature` in effect.
    scale: f64,
    bias: [f32; MAX_REWARDS],
    /// Log-weights of the iterate; the lanes past `n` are unused (`-inf`, weight 0).
    log_w: [f64; MAX_REWARDS],
    /// The weights returned: the iterate, or the average of the iterates.
    w: [f32; MAX_REWARDS],
    ema: [f64; MAX_REWARDS],
    ema_ready: bool,
    norm_count: u64,
    norm_mean: [f64; MAX_REWARDS],
    norm_m2: [f64; MAX_REWARDS],
    /// Reference statistics (`Normalization::Reference`).
    reference: Option<([f64; MAX_REWARDS], [f64; MAX_REWARDS])>,
    /// The previous signal (optimistic rule), once there is one.
    prev: Option<[f64; MAX_REWARDS]>,
    /// Running average of the iterates (averaging).
    avg: [f64; MAX_REWARDS],
    step: u64,
}

impl FastRl {
    /// A composer for `n` rewards with uniform weights `1/n` and zero bias.
    pub fn new(n: usize, cfg: FastRlConfig) -> Result<Self> {
        check_channel_count(n)?;
        cfg.validate()?;
        let eta = match cfg.eta_auto {
            Some(auto) => auto.eta(n),
            None => cfg.eta,
        };
        let mut c = FastRl {
            n,
            cfg,
            scale: eta as f64 / cfg.temperature as f64,
            bias: [0.0; MAX_REWARDS],
            log_w: [f64::NEG_INFINITY; MAX_REWARDS],
            w: [0.0; MAX_REWARDS],
            ema: [0.0; MAX_REWARDS],
            ema_ready: false,
            norm_count: 0,
            norm_mean: [0.0; MAX_REWARDS],
            norm_m2: [0.0; MAX_REWARDS],
            reference: None,
            prev: None,
            avg: [0.0; MAX_REWARDS],
            step: 0,
        };
        let u = -libm::log(n as f64);
        c.log_w[..n].fill(u);
        c.avg[..n].fill(1.0 / n as f64);
        c.refresh_weights();
        Ok(c)
    }

    /// Sets the bias `b_i` of Eq. (5) (prior priority; positive favours reward `i`).
    pub fn with_bias(mut self, bias: &[f32]) -> Result<Self> {
        length("bias", self.n, bias.len())?;
        if let Some(index) = bias.iter().position(|b| !b.is_finite()) {
            return Err(Error::NonFinite { arg: "bias", index });
        }
        self.bias[..self.n].copy_from_slice(bias);
        Ok(self)
    }

    /// Sets the reference statistics of [`Normalization::Reference`]: per reward the mean
    /// `mu_i` and per-response standard deviation `sigma_i` of the starting policy's
    /// samples (see [`reference_stats`](crate::reference_stats)). `sigma_i` must be finite
    /// and `> 0`: a reward that does not vary on the calibration set cannot be
    /// normalised. Nothing changes on error.
    pub fn set_reference(&mut self, mean: &[f32], std: &[f32]) -> Result<()> {
        let (m, s) = crate::ops::reference_stats::checked_reference(self.n, mean, std)?;
        self.reference = Some((m, s));
        Ok(())
    }

    /// The reference statistics `(mean, std)`, once set.
    pub fn reference(&self) -> Option<(&[f64], &[f64])> {
        self.reference
            .as_ref()
            .map(|(m, s)| (&m[..self.n], &s[..self.n]))
    }

    /// The configuration.
    pub fn config(&self) -> &FastRlConfig {
        &self.cfg
    }

    /// The step size in effect (`eta`, or [`AutoEta::eta`]).
    pub fn eta(&self) -> f32 {
        (self.scale * self.cfg.temperature as f64) as f32
    }

    /// Log-weights `log w_i` of the iterate (normalised: `logsumexp = 0`).
    pub fn log_weights(&self) -> &[f64] {
        &self.log_w[..self.n]
    }

    /// Eq. (6)'s weights on the *raw* rewards and a batch-constant offset: with
    /// [`ComposeOn::Raw`], `(w_i, 0)`; with [`ComposeOn::Normalized`],
    /// `(w_i / sigma_i, -sum_i w_i mu_i / sigma_i)`, so that
    /// `sum_i out_i r_i + offset = sum_i w_i (r_i - mu_i) / sigma_i`. The offset is the
    /// same for every response of a batch: it changes no group-relative or whitened
    /// advantage, only the critic's targets. Writes `out[..n]`.
    pub fn composition(&self, out: &mut [f32]) -> Result<f32> {
        length("out", self.n, out.len())?;
        let w = &self.w[..self.n];
        match (self.cfg.compose_on, self.reference) {
            (ComposeOn::Normalized, Some((mu, sd))) => {
                let mut offset = 0.0f64;
                for i in 0..self.n {
                    out[i] = (w[i] as f64 / sd[i]) as f32;
                    offset -= w[i] as f64 * mu[i] / sd[i];
                }
                Ok(offset as f32)
            }
            (ComposeOn::Normalized, None) => Err(Error::NotCalibrated),
            (ComposeOn::Raw, _) => {
                out.copy_from_slice(w);
                Ok(0.0)
            }
        }
    }

    fn refresh_weights(&mut self) {
        let src = if self.cfg.averaging {
            self.avg
        } else {
            self.log_w.map(libm::exp)
        };
        for i in 0..self.n {
            self.w[i] = src[i] as f32;
        }
    }

    /// The signal `s_i = smooth(norm(rbar_i))` of this batch, advancing the smoother and
    /// normaliser state. Called only after the means and the reference are validated, so
    /// it cannot fail.
    fn signal(&mut self, means: &[f32], s: &mut [f64; MAX_REWARDS]) {
        let n = self.n;
        for i in 0..n {
            s[i] = means[i] as f64;
        }
        match self.cfg.normalization {
            Normalization::None => {}
            Normalization::Standardize => {
                self.norm_count += 1;
                let c = self.norm_count as f64;
                for i in 0..n {
                    let x = s[i];
                    let d = x - self.norm_mean[i];
                    self.norm_mean[i] += d / c;
                    self.norm_m2[i] += d * (x - self.norm_mean[i]);
                    s[i] = if self.norm_count >= 2 {
                        let var = self.norm_m2[i] / (c - 1.0);
                        (x - self.norm_mean[i]) / libm::sqrt(var + 1e-8)
                    } else {
                        0.0
                    };
                }
            }
            Normalization::Reference => {
                if let Some((mu, sd)) = &self.reference {
                    for i in 0..n {
                        s[i] = (s[i] - mu[i]) / sd[i];
                    }
                }
            }
        }
        match self.cfg.smoothing {
            Smoothing::None => {}
            Smoothing::Ema { decay } => {
                let d = decay as f64;
                for i in 0..n {
                    if self.ema_ready {
                        self.ema[i] = d * self.ema[i] + (1.0 - d) * s[i];
                    } else {
                        self.ema[i] = s[i];
                    }
                    s[i] = self.ema[i];
                }
            }
            Smoothing::Clip { min, max } => {
                for x in &mut s[..n] {
                    *x = x.clamp(min as f64, max as f64);
                }
            }
            Smoothing::Tanh { scale } => {
                let k = scale as f64;
                for x in &mut s[..n] {
                    *x = k * libm::tanh(*x / k);
                }
            }
        }
        self.ema_ready = true;
    }

    /// Eq. (5)'s exponentiated-gradient step by `g` and the log-sum-exp normalisation.
    fn step_by(&mut self, g: &[f64; MAX_REWARDS]) {
        let n = self.n;
        // The step is shift-invariant, so take it relative to its largest entry: tied
        // rewards then get an increment of exactly 0, and a huge common offset (rewards
        // of -1e30) cannot wash out the log-weights it is added to.
        let mut step = [0.0f64; MAX_REWARDS];
        for i in 0..n {
            step[i] = -self.scale * g[i] + self.bias[i] as f64;
        }
        let top = max_of(&step[..n]);
        for i in 0..n {
            self.log_w[i] += step[i] - top;
        }
        let max = max_of(&self.log_w[..n]);
        // Log-sum-exp: shifted logits are <= 0, so e_i in [0, 1] (the largest is 1) and
        // z in [1, n]. Subtract the max first, then log(z): `l - (max + log z)` would lose
        // log(z) entirely when |max| is huge. Four partial sums keep the adds independent.
        let mut e = [0.0f32; MAX_REWARDS];
        for i in 0..n {
            self.log_w[i] -= max;
            e[i] = exp_nonpositive(self.log_w[i] as f32);
        }
        let zs = [
            e[0] + e[4] + e[8] + e[12],
            e[1] + e[5] + e[9] + e[13],
            e[2] + e[6] + e[10] + e[14],
            e[3] + e[7] + e[11] + e[15],
        ];
        // z in [1, 16]: relative error below 1e-6 / 2 in f32, so the weights sum to 1
        // within 1e-6.
        let z = (zs[0] + zs[1]) + (zs[2] + zs[3]);
        let log_z = libm::logf(z) as f64;
        let inv_z = 1.0 / z;
        for i in 0..n {
            self.log_w[i] -= log_z;
            self.w[i] = e[i] * inv_z;
        }
    }
}

impl Composer for FastRl {
    fn kind(&self) -> ComposerKind {
        ComposerKind::FastRl
    }

    fn set_reference(&mut self, mean: &[f32], std: &[f32]) -> Result<()> {
        FastRl::set_reference(self, mean, std)
    }

    fn reference(&self) -> Option<(&[f64], &[f64])> {
        FastRl::reference(self)
    }

    fn step_size(&self) -> Option<f32> {
        Some(FastRl::eta(self))
    }

    fn num_rewards(&self) -> usize {
        self.n
    }

    /// Eq. (5) with this batch's means; see the type's docs.
    fn update(&mut self, reward_means: &[f32]) -> Result<&[f32]> {
        check_means(reward_means, self.n)?;
        if self.cfg.normalization == Normalization::Reference && self.reference.is_none() {
            return Err(Error::NotCalibrated);
        }
        // Nothing below can fail: the state is updated in place.
        let n = self.n;
        let mut s = [0.0f64; MAX_REWARDS];
        self.signal(reward_means, &mut s);
        let g = match self.cfg.rule {
            UpdateRule::Plain => s,
            UpdateRule::Optimistic => {
                let prev = self.prev.unwrap_or(s);
                self.prev = Some(s);
                let mut g = [0.0f64; MAX_REWARDS];
                for i in 0..n {
                    g[i] = 2.0 * s[i] - prev[i];
                }
                g
            }
        };
        self.step_by(&g);
        let rho = self.cfg.radius as f64;
        if rho.is_finite()
            && crate::composers::ball::project(&mut self.log_w[..n], &self.w[..n], rho) < 1.0
        {
            for i in 0..n {
                self.w[i] = libm::exp(self.log_w[i]) as f32;
            }
        }
        let f = self.cfg.floor;
        if f > 0.0 {
            for i in 0..n {
                self.w[i] = (1.0 - f) * self.w[i] + f / n as f32;
                self.log_w[i] = libm::log(self.w[i] as f64);
            }
        }
        self.step += 1;
        if self.cfg.averaging {
            let t = self.step as f64;
            for i in 0..n {
                self.avg[i] += (self.w[i] as f64 - self.avg[i]) / t;
                self.w[i] = self.avg[i] as f32;
            }
        }
        Ok(&self.w[..n])
    }

    fn weights(&self) -> &[f32] {
        &self.w[..self.n]
    }

    /// [`FastRl::composition`].
    fn composition(&self, out: &mut [f32]) -> Result<f32> {
        FastRl::composition(self, out)
    }

    fn steps(&self) -> u64 {
        self.step
    }

    fn save(&self, r: &mut StateRecord) {
        r.step = self.step;
        r.log_weights = [0.0; MAX_REWARDS];
        r.log_weights[..self.n].copy_from_slice(&self.log_w[..self.n]);
        r.ema = self.ema;
        r.ema_ready = self.ema_ready;
        r.norm_count = self.norm_count;
        r.norm_mean = self.norm_mean;
        r.norm_m2 = self.norm_m2;
        r.reference = self.reference;
        r.prev_signal = self.prev;
        r.avg_weights = [0.0; MAX_REWARDS];
        r.avg_weights[..self.n].copy_from_slice(&self.avg[..self.n]);
    }

    fn restore(&mut self, r: &StateRecord) -> Result<()> {
        r.expect(ComposerKind::FastRl, self.n)?;
        // The log-weights must be a normalised distribution: sum of exp within 1e-6 of 1.
        let sum: f64 = r.log_weights[..self.n].iter().map(|&l| libm::exp(l)).sum();
        if (sum - 1.0).abs() > 1e-6 || r.log_weights[..self.n].iter().any(|&l| l > 1e-9) {
            return Err(Error::RecordField {
                field: "log_weights",
            });
        }
        // A version-1 record has no average: start it at the iterate.
        let mut avg = [0.0f64; MAX_REWARDS];
        let avg_sum: f64 = r.avg_weights[..self.n].iter().sum();
        if avg_sum == 0.0 {
            for i in 0..self.n {
                avg[i] = libm::exp(r.log_weights[i]);
            }
        } else if (avg_sum - 1.0).abs() > 1e-6 || r.avg_weights.iter().any(|&a| a < 0.0) {
            return Err(Error::RecordField {
                field: "avg_weights",
            });
        } else {
            avg[..self.n].copy_from_slice(&r.avg_weights[..self.n]);
        }
        if self.cfg.normalization == Normalization::Reference {
            if let Some((_, sd)) = &r.reference {
                if sd[..self.n].iter().any(|&s| s <= 0.0) {
                    return Err(Error::RecordField {
                        field: "reference_std",
                    });
                }
            }
        }
        self.step = r.step;
        self.log_w = [f64::NEG_INFINITY; MAX_REWARDS];
        self.log_w[..self.n].copy_from_slice(&r.log_weights[..self.n]);
        self.ema = r.ema;
        self.ema_ready = r.ema_ready;
        self.norm_count = r.norm_count;
        self.norm_mean = r.norm_mean;
        self.norm_m2 = r.norm_m2;
        if r.reference.is_some() {
            self.reference = r.reference;
        }
        self.prev = r.prev_signal;
        self.avg = avg;
        self.refresh_weights();
        Ok(())
    }
}

/// The largest of `x` (non-empty, no NaN): a select per element, cheaper in the serial
/// chain than `f64::max` with its NaN handling.
#[inline(always)]
fn max_of(x: &[f64]) -> f64 {
    let mut m = f64::NEG_INFINITY;
    for &v in x {
        m = if v > m { v } else { m };
    }
    m
}
