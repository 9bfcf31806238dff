//! Baseline composers behind the same [`Composer`] trait: fixed linear weights (and
//! reward shaping `R - alpha*C`), and Lagrangian constrained composition.

use crate::composers::composer::{check_means, Composer, ComposerKind};
use crate::error::Result;
use crate::error::{length, Error};
use crate::names::named_enum;
use crate::shape::check_channel_count;
use crate::shape::MAX_REWARDS;
use crate::state::StateRecord;

/// Constant linear weights: `r_com = sum_i w_i r_i`.
///
/// Weights need not sum to 1 or be positive: RL4LMs uses 0.25 METEOR / 0.75 intent,
/// FineGrainedRLHF 0.3 / 0.5 / 0.3, and reward shaping `R - alpha*C` is `[1, -alpha]`
/// ([`Fixed::reward_shaping`]).
#[derive(Clone, Debug)]
pub struct Fixed {
    n: usize,
    w: [f32; MAX_REWARDS],
    step: u64,
}

impl Fixed {
    /// Fixed weights (finite, `1..=MAX_REWARDS` of them).
    pub fn new(weights: &[f32]) -> Result<Self> {
        check_channel_count(weights.len())?;
        if let Some(index) = weights.iter().position(|w| !w.is_finite()) {
            return Err(Error::NonFinite {
                arg: "weights",
                index,
            });
        }
        let mut w = [0.0; MAX_REWARDS];
        w[..weights.len()].copy_from_slice(weights);
        Ok(Fixed {
            n: weights.len(),
            w,
            step: 0,
        })
    }

    /// Reward shaping over channels `[reward, cost]`: `r_com = R - alpha * C`.
    pub fn reward_shaping(alpha: f32) -> Result<Self> {
        if !(alpha.is_finite() && alpha >= 0.0) {
            return Err(Error::OutOfRange {
                arg: "alpha",
                expected: "[0, inf)",
                actual: alpha as f64,
            });
        }
        Fixed::new(&[1.0, -alpha])
    }
}

impl Composer for Fixed {
    fn kind(&self) -> ComposerKind {
        ComposerKind::Fixed
    }
    fn num_rewards(&self) -> usize {
        self.n
    }
    fn update(&mut self, reward_means: &[f32]) -> Result<&[f32]> {
        check_means(reward_means, self.n)?;
        self.step += 1;
        Ok(&self.w[..self.n])
    }
    fn weights(&self) -> &[f32] {
        &self.w[..self.n]
    }
    fn steps(&self) -> u64 {
        self.step
    }
    fn save(&self, r: &mut StateRecord) {
        r.step = self.step;
    }
    fn restore(&mut self, r: &StateRecord) -> Result<()> {
        r.expect(ComposerKind::Fixed, self.n)?;
        self.step = r.step;
        Ok(())
    }
}

/// How a multiplier parameter `p` maps to the multiplier `lambda >= 0`.
#[derive(Clone, Copy, Debug, PartialEq, Default)]
pub enum Squash {
    /// Projected gradient: `lambda = p`, with `p` clamped to `[0, max_multiplier]`.
    #[default]
    Projected,
    /// `lambda = max_multiplier * sigmoid(p)` (ConstrainedRL4LMs' squashed multipliers).
    Sigmoid,
    /// `lambda = max_multiplier * tanh(max(p, 0))`.
    Tanh,
    /// `lambda = exp(p)`, `p <= ln(max_multiplier)` (safe-rlhf's `log_lambda`).
    Exp,
}

named_enum!(Squash, "multiplier squash", {
    Squash::Projected => (0, "projected"),
    Squash::Sigmoid => (1, "sigmoid"),
    Squash::Tanh => (2, "tanh"),
    Squash::Exp => (3, "exp"),
});

/// One reward's constraint.
#[derive(Clone, Copy, Debug, PartialEq, Default)]
pub enum Constraint {
    /// No constraint: the reward enters with its base weight only.
    #[default]
    Free,
    /// `rbar_i >= threshold`: the multiplier grows while the reward is below it and the
    /// reward's weight is `base_i + lambda_i`.
    AtLeast(f32),
    /// `rbar_i <= threshold` (a cost, or a proxy reward that must not be over-optimised):
    /// the multiplier grows while the reward exceeds it and the weight is
    /// `base_i - lambda_i`.
    AtMost(f32),
}

/// The kind of a [`Constraint`], without its threshold: what front ends name.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum ConstraintKind {
    /// [`Constraint::Free`].
    #[default]
    Free,
    /// [`Constraint::AtLeast`].
    AtLeast,
    /// [`Constraint::AtMost`].
    AtMost,
}

named_enum!(ConstraintKind, "constraint", {
    ConstraintKind::Free => (0, "free"),
    ConstraintKind::AtLeast => (1, "at_least"),
    ConstraintKind::AtMost => (2, "at_most"),
});

impl Constraint {
    /// The constraint of `kind` at `threshold` (ignored for [`ConstraintKind::Free`]).
    pub fn new(kind: ConstraintKind, threshold: f32) -> Self {
        match kind {
            ConstraintKind::Free => Constraint::Free,
            ConstraintKind::AtLeast => Constraint::AtLeast(threshold),
            ConstraintKind::AtMost => Constraint::AtMost(threshold),
        }
    }

    /// This constraint's kind.
    pub fn kind(self) -> ConstraintKind {
        match self {
            Constraint::Free => ConstraintKind::Free,
            Constraint::AtLeast(_) => ConstraintKind::AtLeast,
            Constraint::AtMost(_) => ConstraintKind::AtMost,
        }
    }
}

/// Lagrangian composer hyperparameters.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct LagrangianConfig {
    /// Multiplier learning rate, `>= 0`.
    pub lr: f32,
    /// Parameterisation of the multipliers.
    pub squash: Squash,
    /// Initial multiplier `lambda_0` (in `[0, max_multiplier]`, `> 0` for [`Squash::Exp`]).
    pub init: f32,
    /// Upper bound on each multiplier, `> 0`.
    pub max_multiplier: f32,
    /// Divide the weights by `1 + sum_i lambda_i` (safe-rlhf's `(A_r - lambda A_c)/(1+lambda)`).
    pub normalize: bool,
}

impl Default for LagrangianConfig {
    fn default() -> Self {
        LagrangianConfig {
            lr: 0.01,
            squash: Squash::Projected,
            init: 0.0,
            max_multiplier: 100.0,
            normalize: false,
        }
    }
}

/// Lagrangian constrained composition.
///
/// Each constrained reward `i` has a multiplier `lambda_i = squash(p_i)`, updated by a
/// gradient step on the dual each batch:
///
/// ```text
/// p_i <- p_i + lr * (threshold_i - rbar_i)     (AtLeast)
/// p_i <- p_i + lr * (rbar_i - threshold_i)     (AtMost)
/// w_i  = base_i +/- lambda_i    [ / (1 + sum_j lambda_j)  when normalize ]
/// ```
///
/// [`Lagrangian::safe_rlhf`] builds safe-rlhf's reward/cost form.
#[derive(Clone, Debug)]
pub struct Lagrangian {
    n: usize,
    base: [f32; MAX_REWARDS],
    constraints: [Constraint; MAX_REWARDS],
    cfg: LagrangianConfig,
    p: [f64; MAX_REWARDS],
    w: [f32; MAX_REWARDS],
    step: u64,
}

impl Lagrangian {
    /// A composer with base weights `base` and one constraint per reward.
    pub fn new(base: &[f32], constraints: &[Constraint], cfg: LagrangianConfig) -> Result<Self> {
        check_channel_count(base.len())?;
        length("constraints", base.len(), constraints.len())?;
        if let Some(index) = base.iter().position(|w| !w.is_finite()) {
            return Err(Error::NonFinite { arg: "base", index });
        }
        for (index, c) in constraints.iter().enumerate() {
            if let Constraint::AtLeast(t) | Constraint::AtMost(t) = c {
                if !t.is_finite() {
                    return Err(Error::NonFinite {
                        arg: "constraints",
                        index,
                    });
                }
            }
        }
        let range = |arg, x: f32, ok: bool, expected| {
            if x.is_finite() && ok {
                Ok(())
            } else {
                Err(Error::OutOfRange {
                    arg,
                    expected,
                    actual: x as f64,
                })
            }
        };
        range("lr", cfg.lr, cfg.lr >= 0.0, "[0, inf)")?;
        let max = cfg.max_multiplier;
        range("max_multiplier", max, max > 0.0, "(0, inf)")?;
        let p0 = match cfg.squash {
            Squash::Projected => {
                range(
                    "init",
                    cfg.init,
                    (0.0..=max).contains(&cfg.init),
                    "[0, max_multiplier]",
                )?;
                cfg.init as f64
            }
            Squash::Sigmoid => {
                range(
                    "init",
                    cfg.init,
                    cfg.init > 0.0 && cfg.init < max,
                    "(0, max_multiplier)",
                )?;
                let q = cfg.init as f64 / max as f64;
                libm::log(q / (1.0 - q))
            }
            Squash::Tanh => {
                range(
                    "init",
                    cfg.init,
                    cfg.init >= 0.0 && cfg.init < max,
                    "[0, max_multiplier)",
                )?;
                libm::atanh(cfg.init as f64 / max as f64)
            }
            Squash::Exp => {
                range(
                    "init",
                    cfg.init,
                    cfg.init > 0.0 && cfg.init <= max,
                    "(0, max_multiplier]",
                )?;
                libm::log(cfg.init as f64)
            }
        };
        let n = base.len();
        let mut l = Lagrangian {
            n,
            base: [0.0; MAX_REWARDS],
            constraints: [Constraint::Free; MAX_REWARDS],
            cfg,
            p: [0.0; MAX_REWARDS],
            w: [0.0; MAX_REWARDS],
            step: 0,
        };
        l.base[..n].copy_from_slice(base);
        l.constraints[..n].copy_from_slice(constraints);
        for i in 0..n {
            if l.constraints[i] != Constraint::Free {
                l.p[i] = p0;
            }
        }
        l.refresh_weights();
        Ok(l)
    }

    /// safe-rlhf's form over channels `[reward, cost]` with the cost constrained to
    /// `<= threshold`: `lambda = exp(log_lambda)`, `w = [1, -lambda] / (1 + lambda)`, i.e.
    /// `(R - lambda C) / (1 + lambda)`. Composition is linear and GAE is linear in the
    /// rewards, so this equals safe-rlhf's `(A_r - lambda A_c) / (1 + lambda)`.
    pub fn safe_rlhf(threshold: f32, lr: f32, init: f32, max_multiplier: f32) -> Result<Self> {
        Lagrangian::new(
            &[1.0, 0.0],
            &[Constraint::Free, Constraint::AtMost(threshold)],
            LagrangianConfig {
                lr,
                squash: Squash::Exp,
                init,
                max_multiplier,
                normalize: true,
            },
        )
    }

    /// The multipliers `lambda_i` (0 for unconstrained rewards).
    pub fn multipliers(&self, out: &mut [f32]) -> Result<()> {
        length("out", self.n, out.len())?;
        for (i, o) in out.iter_mut().enumerate() {
            *o = self.lambda(i) as f32;
        }
        Ok(())
    }

    fn lambda(&self, i: usize) -> f64 {
        if self.constraints[i] == Constraint::Free {
            return 0.0;
        }
        let max = self.cfg.max_multiplier as f64;
        let p = self.p[i];
        match self.cfg.squash {
            Squash::Projected => p,
            Squash::Sigmoid => max / (1.0 + libm::exp(-p)),
            Squash::Tanh => max * libm::tanh(p),
            Squash::Exp => libm::exp(p),
        }
    }

    /// Keeps `p` in the domain where `lambda` is in `[0, max_multiplier]` and finite.
    fn clamp_p(&self, p: f64) -> f64 {
        let max = self.cfg.max_multiplier as f64;
        match self.cfg.squash {
            Squash::Projected => p.clamp(0.0, max),
            // sigmoid saturates to exactly 0 or max in f64 beyond |p| ~ 745.
            Squash::Sigmoid => p.clamp(-745.0, 745.0),
            Squash::Tanh => p.clamp(0.0, 20.0),
            Squash::Exp => p.clamp(-745.0, libm::log(max)),
        }
    }

    fn refresh_weights(&mut self) {
        let mut total = 0.0f64;
        for i in 0..self.n {
            total += self.lambda(i);
        }
        let div = if self.cfg.normalize { 1.0 + total } else { 1.0 };
        for i in 0..self.n {
            let lam = self.lambda(i);
            let w = match self.constraints[i] {
                Constraint::Free | Constraint::AtLeast(_) => self.base[i] as f64 + lam,
                Constraint::AtMost(_) => self.base[i] as f64 - lam,
            };
            self.w[i] = (w / div) as f32;
        }
    }
}

impl Composer for Lagrangian {
    fn kind(&self) -> ComposerKind {
        ComposerKind::Lagrangian
    }
    fn num_rewards(&self) -> usize {
        self.n
    }
    fn update(&mut self, reward_means: &[f32]) -> Result<&[f32]> {
        check_means(reward_means, self.n)?;
        let lr = self.cfg.lr as f64;
        for i in 0..self.n {
            let r = reward_means[i] as f64;
            let g = match self.constraints[i] {
                Constraint::Free => continue,
                Constraint::AtLeast(t) => t as f64 - r,
                Constraint::AtMost(t) => r - t as f64,
            };
            self.p[i] = self.clamp_p(self.p[i] + lr * g);
        }
        self.refresh_weights();
        self.step += 1;
        Ok(&self.w[..self.n])
    }
    fn weights(&self) -> &[f32] {
        &self.w[..self.n]
    }
    fn steps(&self) -> u64 {
        self.step
    }
    fn save(&self, r: &mut StateRecord) {
        r.step = self.step;
        r.multipliers = self.p;
    }
    fn restore(&mut self, r: &StateRecord) -> Result<()> {
        r.expect(ComposerKind::Lagrangian, self.n)?;
        for i in 0..self.n {
            if self.clamp_p(r.multipliers[i]) != r.multipliers[i] {
                return Err(Error::RecordField {
                    field: "multipliers",
                });
            }
        }
        self.step = r.step;
        self.p[..self.n].copy_from_slice(&r.multipliers[..self.n]);
        self.refresh_weights();
        Ok(())
    }
}
