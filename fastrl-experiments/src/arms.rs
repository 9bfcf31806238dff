//! The arms of the fair test (`fastrl-experiments compare`) and the settings they share,
//! each chosen before any run by a rule written here (and in `docs/fair-test.md`), never
//! tuned on results.
//!
//! Every arm but D composes the rewards' z-scores against the starting policy
//! (`normalization = "reference"`, `compose_on = "normalized"`, one calibration shared by
//! every arm of a comparison), so the arms differ only in how they weight them.

use crate::error::ExperimentError;
use composer_core::{ComposeOn, ComposerKind, GroupEstimator, Normalization, SmoothingKind};
use fastrl_trainer::config::{AdvantageChoice, ComposerChoice, Config};

/// One arm.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Arm {
    /// A: fixed uniform weights.
    Uniform,
    /// B: Fast RL, eta "auto", no smoothing, bias, floor or bound.
    FastRl,
    /// B': Fast RL in the KL ball of [`ArmPlan::radius`] with EMA smoothing.
    Bounded,
    /// C: the Lagrangian, every reward constrained to `z >= ArmPlan::target`.
    Lagrangian,
    /// D: the paper's rule as printed: raw rewards, eta = 2.
    Paper,
    /// E: critic-free GDPO with fixed uniform weights.
    GdpoUniform,
    /// F: critic-free GDPO composed by bounded Fast RL (as B').
    GdpoBounded,
    /// G: all weight on reward `i` (the improvement each reward can reach at all).
    Single(usize),
}

impl Arm {
    /// The letter.
    pub fn letter(self) -> String {
        match self {
            Arm::Uniform => "A".into(),
            Arm::FastRl => "B".into(),
            Arm::Bounded => "B'".into(),
            Arm::Lagrangian => "C".into(),
            Arm::Paper => "D".into(),
            Arm::GdpoUniform => "E".into(),
            Arm::GdpoBounded => "F".into(),
            Arm::Single(i) => format!("G{i}"),
        }
    }

    /// Directory name (`uniform`, `fastrl`, ..., `single-<i>`).
    pub fn slug(self) -> String {
        match self {
            Arm::Uniform => "uniform".into(),
            Arm::FastRl => "fastrl".into(),
            Arm::Bounded => "bounded".into(),
            Arm::Lagrangian => "lagrangian".into(),
            Arm::Paper => "paper".into(),
            Arm::GdpoUniform => "gdpo-uniform".into(),
            Arm::GdpoBounded => "gdpo-bounded".into(),
            Arm::Single(i) => format!("single-{i}"),
        }
    }

    /// What it is, in a few words.
    pub fn describe(self) -> String {
        match self {
            Arm::Uniform => "fixed uniform weights on z-scores".into(),
            Arm::FastRl => "Fast RL on z-scores, eta auto, unbounded".into(),
            Arm::Bounded => "Fast RL on z-scores in a KL ball, EMA-smoothed".into(),
            Arm::Lagrangian => "Lagrangian on z-scores, every z >= target".into(),
            Arm::Paper => "Fast RL as printed: raw rewards, eta 2".into(),
            Arm::GdpoUniform => "GDPO, fixed uniform weights".into(),
            Arm::GdpoBounded => "GDPO composed by bounded Fast RL".into(),
            Arm::Single(i) => format!("all weight on reward {i}"),
        }
    }

    /// Whether it composes reference z-scores (needs the shared calibration).
    pub fn on_z_scores(self) -> bool {
        self != Arm::Paper
    }
}

/// Every arm but the single-reward ones, in the order (A to F).
pub const COMPOSED: [Arm; 7] = [
    Arm::Uniform,
    Arm::FastRl,
    Arm::Bounded,
    Arm::Lagrangian,
    Arm::Paper,
    Arm::GdpoUniform,
    Arm::GdpoBounded,
];

/// The settings the arms share, fixed before the runs.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ArmPlan {
    /// The KL ball of B' and F: the radius whose largest weight is
    /// [`ArmPlan::max_weight`] ([`radius_for_max_weight`]).
    pub radius: f32,
    /// The largest weight the ball allows: halfway between uniform and all on one
    /// reward, `1/n + (1 - 1/n) / 2`.
    pub max_weight: f64,
    /// EMA decay of B' and F ([`ema_decay_for`]).
    pub ema_decay: f32,
    /// C's threshold on every reward's z-score.
    pub target: f32,
    /// Responses per prompt of E and F.
    pub group_size: usize,
    /// The starting policy's per-reward mean and std (the shared calibration).
    pub reference: (Vec<f32>, Vec<f32>),
    /// How many responses the calibration read.
    pub calibration: usize,
}

/// The improvement C asks of every reward, in starting-policy standard deviations of a
/// response: half of one. A batch mean of B responses starts near 0, so the multipliers
/// bind from the first step until the reward is half a standard deviation better.
pub const TARGET_Z: f32 = 0.5;

/// Width of the z-score signal's range for eta "auto" (B, B', F): 4 standard deviations.
pub const ETA_RANGE_Z: f32 = 4.0;

/// The noise level the EMA smooths a batch-mean z-score down to.
pub const SMOOTHED_NOISE: f64 = 0.1;

/// `rho = KL(w || u)` for `w = (p, (1 - p)/(n - 1), ...)`: the radius of the KL ball
/// around uniform whose largest weight is `p` (`n >= 2`, `1/n <= p < 1`); 0 for one
/// reward (its only weight is 1: the ball is the point).
pub fn radius_for_max_weight(n: usize, p: f64) -> f64 {
    if n < 2 {
        return 0.0;
    }
    let nf = n as f64;
    let q = (1.0 - p) / (nf - 1.0);
    p * (nf * p).ln() + (1.0 - p) * (nf * q).ln()
}

/// The EMA decay `d` that brings the noise of a batch mean, `se`, down to
/// [`SMOOTHED_NOISE`]: an EMA of independent noise has standard deviation
/// `se sqrt((1 - d) / (1 + d))`, so `d = (se^2 - s^2) / (se^2 + s^2)`, clipped to
/// `[0, 0.95]`. `se` is measured on the calibration responses (the standard deviation of
/// batch means of z-scores, about `1 / sqrt(batch)`).
pub fn ema_decay_for(se: f64) -> f64 {
    let (a, b) = (se * se, SMOOTHED_NOISE * SMOOTHED_NOISE);
    ((a - b) / (a + b)).clamp(0.0, 0.95)
}

impl ArmPlan {
    /// The plan for `n` rewards, batch-mean noise `se` (in z units), group size `k`,
    /// and the calibration `reference`.
    pub fn new(
        n: usize,
        se: f64,
        group_size: usize,
        reference: (Vec<f32>, Vec<f32>),
        calibration: usize,
    ) -> Self {
        let max_weight = 1.0 / n as f64 + (1.0 - 1.0 / n as f64) / 2.0;
        ArmPlan {
            radius: radius_for_max_weight(n, max_weight) as f32,
            max_weight,
            ema_decay: ema_decay_for(se) as f32,
            target: TARGET_Z,
            group_size,
            reference,
            calibration,
        }
    }
}

/// `base` with `arm`'s composer and estimator (the rewards, budget, seed and run
/// directory are the caller's).
pub fn arm_config(base: &Config, arm: Arm, plan: &ArmPlan) -> Result<Config, ExperimentError> {
    let mut c = base.clone();
    let n = c.composer.rewards.len();
    let k = &mut c.composer;
    k.weights = vec![];
    k.thresholds = vec![];
    k.constraints = vec![];
    k.bias = vec![];
    k.placement = vec![];
    k.floor = 0.0;
    k.averaging = false;
    k.smoothing = SmoothingKind::None;
    k.smoothing_params = vec![];
    k.radius = f32::INFINITY;
    k.eta_auto = false;
    k.eta_range = ETA_RANGE_Z;
    if arm.on_z_scores() {
        k.normalization = Normalization::Reference;
        k.compose_on = ComposeOn::Normalized;
        k.reference_mean = plan.reference.0.clone();
        k.reference_std = plan.reference.1.clone();
    } else {
        k.normalization = Normalization::None;
        k.compose_on = ComposeOn::Raw;
        k.reference_mean = vec![];
        k.reference_std = vec![];
    }
    let fastrl = ComposerChoice::Core(ComposerKind::FastRl);
    let fixed = ComposerChoice::Core(ComposerKind::Fixed);
    match arm {
        Arm::Uniform | Arm::GdpoUniform => k.kind = fixed,
        Arm::FastRl => {
            k.kind = fastrl;
            k.eta_auto = true;
        }
        Arm::Bounded | Arm::GdpoBounded => {
            k.kind = fastrl;
            k.eta_auto = true;
            k.radius = plan.radius;
            if plan.ema_decay > 0.0 {
                k.smoothing = SmoothingKind::Ema;
                k.smoothing_params = vec![plan.ema_decay];
            }
        }
        Arm::Lagrangian => {
            k.kind = ComposerChoice::Core(ComposerKind::Lagrangian);
            k.thresholds = vec![plan.target; n];
        }
        Arm::Paper => {
            k.kind = fastrl;
            k.eta = 2.0;
        }
        Arm::Single(i) => {
            if i >= n {
                return Err(ExperimentError::Config(format!(
                    "arm G{i}: there are only {n} rewards"
                )));
            }
            k.kind = fixed;
            k.weights = (0..n).map(|j| f32::from(u8::from(j == i))).collect();
        }
    }
    if matches!(arm, Arm::GdpoUniform | Arm::GdpoBounded) {
        c.ppo.advantage = AdvantageChoice::Group(GroupEstimator::Gdpo);
        c.ppo.group_size = plan.group_size;
        // No critic to warm up.
        c.ppo.value_warmup_steps = 0;
    } else {
        c.ppo.advantage = AdvantageChoice::Gae;
    }
    c.validate()?;
    Ok(c)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_ball_radius_allows_exactly_the_planned_largest_weight() {
        for n in [2usize, 3, 4] {
            let p = 1.0 / n as f64 + (1.0 - 1.0 / n as f64) / 2.0;
            let rho = radius_for_max_weight(n, p);
            // The oracle: composer-core's own inverse.
            let back = composer_core::kl_ball_max_weight(n, rho).unwrap();
            assert!((back - p).abs() < 1e-6, "n={n}: {back} vs {p}");
        }
        // One reward: no NaN (the old formula divided 0 by 0).
        assert_eq!(radius_for_max_weight(1, 1.0), 0.0);
    }

    #[test]
    fn the_ema_brings_batch_noise_down_to_the_planned_level() {
        for batch in [8.0f64, 32.0] {
            let se = 1.0 / batch.sqrt();
            let d = ema_decay_for(se);
            let smoothed = se * ((1.0 - d) / (1.0 + d)).sqrt();
            assert!((smoothed - SMOOTHED_NOISE).abs() < 1e-12, "B={batch}: {d}");
        }
        // Already quieter than the target: no smoothing.
        assert_eq!(ema_decay_for(0.05), 0.0);
    }

    #[test]
    fn every_arm_is_a_valid_config_that_differs_only_in_the_composer() {
        let base = Config::resolve("smoke", None, &[]).unwrap();
        let plan = ArmPlan::new(3, 0.2, 4, (vec![0.1, 0.2, 0.3], vec![0.05, 0.1, 0.1]), 16);
        for arm in COMPOSED.into_iter().chain([Arm::Single(2)]) {
            let c = arm_config(&base, arm, &plan).unwrap();
            assert_eq!((c.ppo.steps, c.run.seed), (base.ppo.steps, base.run.seed));
            assert_eq!(
                c.composer.normalization == Normalization::Reference,
                arm != Arm::Paper
            );
        }
        let b = arm_config(&base, Arm::Bounded, &plan).unwrap();
        assert!(b.composer.radius.is_finite() && b.composer.smoothing == SmoothingKind::Ema);
        let g = arm_config(&base, Arm::Single(2), &plan).unwrap();
        assert_eq!(g.composer.weights, [0.0, 0.0, 1.0]);
        assert!(arm_config(&base, Arm::Single(3), &plan).is_err());
    }
}
