//! The `[composer]` and `[ppo]` sections as composer-core values: the composer, the KL
//! controller and the fused pass's parameters.

use crate::config::schema::{ComposerChoice, ComposerConfig, PpoConfig};
use crate::error::TrainerError;
use composer_core::{
    AutoEta, ComposeOn, Composer, ComposerKind, Constraint, ConstraintKind, FastRl, FastRlConfig,
    Fixed, FusedParams, GaeParams, KlController, Lagrangian, LagrangianConfig, MaskMode,
    Normalization, OnReference, Smoothing,
};

impl ComposerConfig {
    /// The Fast RL hyperparameters of this section, for a run of `horizon` updates
    /// (read by `eta_auto`).
    pub fn fastrl_config(&self, horizon: usize) -> FastRlConfig {
        let p = |i: usize| self.smoothing_params.get(i).copied().unwrap_or(0.0);
        FastRlConfig {
            eta: self.eta,
            eta_auto: self.eta_auto.then_some(AutoEta {
                horizon: horizon.max(1) as u64,
                range: self.eta_range,
            }),
            temperature: self.temperature,
            smoothing: Smoothing::from_parts(self.smoothing, p(0), p(1)),
            normalization: self.normalization,
            compose_on: self.compose_on,
            rule: self.rule,
            radius: self.radius,
            averaging: self.averaging,
            floor: self.floor,
        }
    }

    /// The Lagrangian hyperparameters of this section.
    pub fn lagrangian_config(&self) -> LagrangianConfig {
        LagrangianConfig {
            lr: self.multiplier_lr,
            squash: self.squash,
            init: self.multiplier_init,
            max_multiplier: self.max_multiplier,
            normalize: self.normalize_multipliers,
        }
    }

    /// Per reward: its constraint (free without thresholds; `at_least` unless
    /// `constraints` says otherwise).
    pub fn constraint_list(&self) -> Vec<Constraint> {
        let n = self.rewards.len();
        if self.thresholds.is_empty() {
            return vec![Constraint::Free; n];
        }
        self.thresholds
            .iter()
            .enumerate()
            .map(|(i, &t)| {
                let kind = self
                    .constraints
                    .get(i)
                    .copied()
                    .unwrap_or(ConstraintKind::AtLeast);
                Constraint::new(kind, t)
            })
            .collect()
    }

    /// The composer this section names, from composer-core, for a run of `horizon`
    /// updates; `reference` holds the calibration statistics `(mean, std)` of
    /// `normalization = "reference"` (see [`crate::rl::ppo::Ppo::calibrate`]).
    pub fn build(
        &self,
        horizon: usize,
        reference: Option<(&[f32], &[f32])>,
    ) -> Result<Box<dyn Composer>, TrainerError> {
        let n = self.rewards.len();
        let base = if self.weights.is_empty() {
            vec![1.0 / n as f32; n]
        } else {
            self.weights.clone()
        };
        Ok(match self.kind {
            ComposerChoice::Core(ComposerKind::FastRl) => {
                let mut f = FastRl::new(n, self.fastrl_config(horizon))?;
                if let Some((mean, std)) = reference {
                    f.set_reference(mean, std)?;
                }
                Box::new(if self.bias.is_empty() {
                    f
                } else {
                    f.with_bias(&self.bias)?
                })
            }
            ComposerChoice::Core(ComposerKind::Fixed) => {
                self.on_reference(Fixed::new(&base)?, reference)?
            }
            ComposerChoice::Shaping => {
                self.on_reference(Fixed::reward_shaping(self.alpha)?, reference)?
            }
            ComposerChoice::Core(ComposerKind::Lagrangian) => self.on_reference(
                Lagrangian::new(&base, &self.constraint_list(), self.lagrangian_config())?,
                reference,
            )?,
        })
    }

    /// A baseline composer as it is, or with `normalization = "reference"` on the
    /// starting policy's z-scores ([`OnReference`]: a Lagrangian's thresholds are then
    /// in standard deviations, and `compose_on = "normalized"` composes the z-scores).
    /// Before calibration (`reference` = `None`, as when a config is validated) the
    /// composer is returned as it is.
    fn on_reference<C: Composer + 'static>(
        &self,
        inner: C,
        reference: Option<(&[f32], &[f32])>,
    ) -> Result<Box<dyn Composer>, TrainerError> {
        match (self.normalization, reference) {
            (Normalization::Reference, Some((mean, std))) => Ok(Box::new(OnReference::new(
                inner,
                mean,
                std,
                self.compose_on,
            )?)),
            (Normalization::Standardize, _) => Err(TrainerError::Config(format!(
                "composer.normalization = \"standardize\" is Fast RL's; composer.kind = \"{}\" \
                 takes \"none\" or \"reference\"",
                self.kind
            ))),
            (Normalization::None, _) if self.compose_on == ComposeOn::Normalized => {
                Err(TrainerError::Config(
                    "composer.compose_on = \"normalized\" needs composer.normalization = \
                     \"reference\""
                        .into(),
                ))
            }
            _ => Ok(Box::new(inner)),
        }
    }
}

impl PpoConfig {
    /// The KL controller: adaptive toward `kl_target` when it is > 0, else fixed beta.
    pub fn kl_controller(&self) -> Result<KlController, TrainerError> {
        Ok(if self.kl_target > 0.0 {
            KlController::adaptive(self.kl_coef, self.kl_target, self.kl_horizon)?
        } else {
            KlController::fixed(self.kl_coef)?
        })
    }

    /// The fused pass's parameters at penalty `beta` (prefix masks: a response is its
    /// tokens up to and including end-of-text).
    pub fn fused_params(&self, beta: f32) -> FusedParams {
        FusedParams {
            gae: GaeParams {
                gamma: self.gamma,
                lambda: self.lam,
            },
            beta,
            estimator: self.kl_estimator,
            mode: MaskMode::Prefix,
        }
    }
}
