//! The run configuration's shape: one struct per TOML section, a serde enum for every
//! choice. composer-core's enums are read and written through their own names
//! ([`core_name`]), so the trainer holds no second copy of any mapping.

use crate::rewards::kind::RewardKind;
use composer_core::{
    ComposeOn, ConstraintKind, Convention, FastRlConfig, GroupEstimator, GroupScale, KlEstimator,
    LagrangianConfig, Normalization, SmoothingKind, Squash, UpdateRule,
};
use serde::{Deserialize, Serialize};
use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;

/// Serde for a composer-core enum through its `FromStr` / `Display` (the core's one
/// name table): `#[serde(with = "core_name")]`.
pub mod core_name {
    use serde::{de::Error as _, Deserialize, Deserializer, Serializer};
    use std::fmt::Display;
    use std::str::FromStr;

    /// Writes the core's name.
    pub fn serialize<T: Display, S: Serializer>(v: &T, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(v)
    }

    /// Parses the core's name; the error quotes the name and lists the accepted ones.
    pub fn deserialize<'de, T, D>(d: D) -> Result<T, D::Error>
    where
        T: FromStr<Err = composer_core::Error>,
        D: Deserializer<'de>,
    {
        let s = String::deserialize(d)?;
        s.parse()
            .map_err(|e: composer_core::Error| D::Error::custom(format!("{s:?}: {e}")))
    }
}

/// Serde for a list of composer-core enums (`#[serde(with = "core_names")]`).
pub mod core_names {
    use serde::{de::Error as _, Deserialize, Deserializer, Serializer};
    use std::fmt::Display;
    use std::str::FromStr;

    /// Writes each name.
    pub fn serialize<T: Display, S: Serializer>(v: &[T], s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(v.iter().map(|x| x.to_string()))
    }

    /// Parses each name.
    pub fn deserialize<'de, T, D>(d: D) -> Result<Vec<T>, D::Error>
    where
        T: FromStr<Err = composer_core::Error>,
        D: Deserializer<'de>,
    {
        Vec::<String>::deserialize(d)?
            .into_iter()
            .map(|s| {
                s.parse()
                    .map_err(|e: composer_core::Error| D::Error::custom(format!("{s:?}: {e}")))
            })
            .collect()
    }
}

/// Everything a run needs.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Output, seed, threads, device.
    pub run: RunConfig,
    /// Corpus and sizes.
    pub data: DataConfig,
    /// Tokenizer.
    pub tokenizer: TokenizerConfig,
    /// Model shape or pretrained directory.
    pub model: ModelConfig,
    /// Supervised fine-tuning.
    pub sft: SftConfig,
    /// PPO.
    pub ppo: PpoConfig,
    /// Rewards and their composition.
    pub composer: ComposerConfig,
}

/// `run.device`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DeviceChoice {
    /// The CPU.
    Cpu,
    /// CUDA device 0 (an error when libtorch sees none).
    Cuda,
    /// CUDA device 0 when libtorch sees one, else the CPU.
    Auto,
}

/// `[run]`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RunConfig {
    /// Run directory.
    pub out_dir: PathBuf,
    /// Seed of every random choice (initialisation, sampling, minibatches).
    pub seed: u64,
    /// Intra-op CPU threads (0 = libtorch's default).
    pub threads: usize,
    /// `"cpu"`, `"cuda"` or `"auto"`.
    pub device: DeviceChoice,
    /// PPO checkpoints kept on disk (the newest first; `--resume` falls back to an older
    /// one when the newest fails its checksums).
    #[serde(default = "default_keep")]
    pub keep_checkpoints: usize,
}

fn default_keep() -> usize {
    2
}

/// `data.corpus`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CorpusChoice {
    /// PyPI `chitchat-dataset` (found in `.venv`, or `data.path`).
    Chitchat,
    /// DailyDialog's release `dialogues_text.txt` (`data.path`).
    Dailydialog,
}

impl CorpusChoice {
    /// The name in the config.
    pub fn name(self) -> &'static str {
        match self {
            CorpusChoice::Chitchat => "chitchat",
            CorpusChoice::Dailydialog => "dailydialog",
        }
    }
}

/// `[data]`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DataConfig {
    /// `"chitchat"` or `"dailydialog"`.
    pub corpus: CorpusChoice,
    /// Path override: the chitchat JSON file, or DailyDialog's `dialogues_text.txt`
    /// (empty = none).
    pub path: PathBuf,
    /// Training pairs used at most (0 = all).
    pub max_train_pairs: usize,
    /// Evaluation pairs (from the validation split) used at most.
    pub max_eval_pairs: usize,
    /// Context utterances per pair (the paper: 5).
    pub context_utterances: usize,
}

/// `[tokenizer]`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TokenizerConfig {
    /// Byte-level BPE vocabulary size when training one.
    pub vocab_size: usize,
    /// A `tokenizer.json` to use instead of training (empty = train on the corpus).
    pub path: PathBuf,
    /// Context tokens kept (the end of the context).
    pub max_context_tokens: usize,
    /// Response tokens at most (SFT targets and PPO generations).
    pub max_response_tokens: usize,
}

/// `[model]`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModelConfig {
    /// What to start from: a Hugging Face directory (GPT-2, Llama, Qwen2), a `.gguf`
    /// file, or a known model name found in `.venv` (`SmolLM2-135M-Instruct`); empty =
    /// a new GPT-2 of this shape.
    pub pretrained: String,
    /// Train only the top this many blocks (plus the final norm, an untied LM head and
    /// the value head); the embeddings and lower blocks stay frozen (0 = train all).
    #[serde(default)]
    pub train_top_blocks: usize,
    /// Hidden size.
    pub n_embd: i64,
    /// Blocks.
    pub n_layer: i64,
    /// Heads.
    pub n_head: i64,
    /// Positions.
    pub n_positions: i64,
}

/// `[sft]`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SftConfig {
    /// Optimiser steps.
    pub steps: usize,
    /// Pairs per step.
    pub batch_size: usize,
    /// Adam learning rate.
    pub lr: f64,
}

/// `[ppo]` (defaults of paper Table 7 where they apply; see the presets).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PpoConfig {
    /// PPO iterations (rollout + update).
    pub steps: usize,
    /// Prompts per rollout.
    pub batch_size: usize,
    /// Rows per minibatch. When it does not divide `batch_size`, each epoch's last
    /// minibatch holds the remainder (`batch_size % minibatch_size` rows) and counts as
    /// one minibatch in the mean losses.
    pub minibatch_size: usize,
    /// Passes over each rollout.
    pub epochs: usize,
    /// Adam learning rate.
    pub lr: f64,
    /// Sampling: keep the k most likely tokens (0 = all).
    pub top_k: i64,
    /// Sampling temperature.
    pub temperature: f64,
    /// Policy ratio clip epsilon.
    pub clip: f64,
    /// Value clip range.
    pub value_clip: f64,
    /// Value loss coefficient.
    pub vf_coef: f64,
    /// Gradient clipping (global L2 norm).
    pub max_grad_norm: f64,
    /// GAE discount.
    pub gamma: f32,
    /// GAE lambda.
    pub lam: f32,
    /// KL estimator: composer-core's names (`k1`, `k2`, `k3`, `abs`).
    #[serde(with = "core_name")]
    pub kl_estimator: KlEstimator,
    /// KL coefficient beta (initial beta when adaptive).
    pub kl_coef: f32,
    /// Adaptive KL controller target (0 = fixed beta).
    pub kl_target: f32,
    /// Adaptive KL horizon.
    pub kl_horizon: f32,
    /// Whiten advantages over the batch.
    pub whiten: bool,
    /// Checkpoint every this many steps (and at the end).
    pub checkpoint_every: usize,
    /// Evaluate on the held-out pairs before PPO and every this many steps, one line of
    /// `eval-curve.jsonl` each (0 = never).
    #[serde(default)]
    pub eval_every: usize,
    /// Advantages: `gae` (Algorithm 1: critic, KL in the reward, GAE) or a critic-free
    /// group-relative estimator of composer-core (`grpo`, `rloo`, `reinforce_pp`,
    /// `gdpo`): `group_size` responses per prompt, no value loss, the KL penalty as a
    /// loss term (`kl_coef` times the mean `k3` over valid tokens, verl's `low_var_kl`).
    #[serde(default)]
    pub advantage: AdvantageChoice,
    /// Responses per prompt for a group-relative estimator (divides `batch_size`).
    #[serde(default = "one")]
    pub group_size: usize,
    /// Whose definitions the group-relative estimator follows (`verl`, `trl`).
    #[serde(default, with = "core_name")]
    pub group_convention: Convention,
    /// GRPO's division (`group`, `batch`, `none` = Dr. GRPO).
    #[serde(default, with = "core_name")]
    pub group_scale: GroupScale,
    /// The value head's learning rate (0 = `lr`). The head starts at zero and has to
    /// catch up with the returns: a rate above the policy's lets it help sooner.
    #[serde(default)]
    pub value_lr: f64,
    /// Steps at the start that train only the value head (rollouts, rewards and
    /// returns as usual, no policy update), so the critic is fitted before its values
    /// shape the advantages. Fewer than `steps`.
    #[serde(default)]
    pub value_warmup_steps: usize,
    /// The critic-free estimators' KL loss coefficient (`kl_loss_coef * mean k3`, verl's
    /// `actor.kl_loss_coef`, trl GRPO's `beta`); `kl_coef` is the in-reward penalty of
    /// Eq. (7) on the GAE path and is not used there.
    #[serde(default = "default_kl_loss_coef")]
    pub kl_loss_coef: f32,
    /// The learning rate over the run: `constant`, or `linear` decay to 0 at `steps`
    /// (trl's PPO and GRPO default).
    #[serde(default)]
    pub lr_schedule: LrSchedule,
}

/// verl's `actor.kl_loss_coef` default.
fn default_kl_loss_coef() -> f32 {
    0.001
}

/// `ppo.lr_schedule`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LrSchedule {
    /// `lr` at every step.
    #[default]
    Constant,
    /// `lr * (1 - step / steps)` at step `step` (0-based), as transformers' linear
    /// schedule without warm-up.
    Linear,
}

impl LrSchedule {
    /// The base learning rate at 0-based `step` of `steps`.
    pub fn at(self, lr: f64, step: usize, steps: usize) -> f64 {
        match self {
            LrSchedule::Constant => lr,
            LrSchedule::Linear => lr * (1.0 - step as f64 / steps.max(1) as f64),
        }
    }
}

fn one() -> usize {
    1
}

/// `ppo.advantage`: GAE with a critic, or one of composer-core's group-relative,
/// critic-free estimators.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub enum AdvantageChoice {
    /// Generalised advantage estimation on the value head (the paper's PPO).
    #[default]
    Gae,
    /// A group-relative estimator ([`GroupEstimator`]).
    Group(GroupEstimator),
}

impl AdvantageChoice {
    const GAE: &'static str = "gae";
}

impl FromStr for AdvantageChoice {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        if s == Self::GAE {
            return Ok(AdvantageChoice::Gae);
        }
        s.parse().map(AdvantageChoice::Group).map_err(|_| {
            format!(
                "unknown advantage estimator {s:?}; use {:?} or one of {:?}",
                Self::GAE,
                GroupEstimator::NAMES
            )
        })
    }
}

impl fmt::Display for AdvantageChoice {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AdvantageChoice::Gae => f.write_str(Self::GAE),
            AdvantageChoice::Group(g) => f.write_str(g.name()),
        }
    }
}

impl TryFrom<String> for AdvantageChoice {
    type Error = String;
    fn try_from(s: String) -> Result<Self, String> {
        s.parse()
    }
}

impl From<AdvantageChoice> for String {
    fn from(c: AdvantageChoice) -> String {
        c.to_string()
    }
}

/// `composer.kind`: one of composer-core's composers, or reward shaping (a fixed
/// `[1, -alpha]` over `[reward, cost]`, a trainer-only choice).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub enum ComposerChoice {
    /// A composer-core composer (`fastrl`, `fixed`, `lagrangian`).
    Core(composer_core::ComposerKind),
    /// `shaping`: `r = reward - alpha * cost` ([`composer_core::Fixed::reward_shaping`]).
    Shaping,
}

impl ComposerChoice {
    const SHAPING: &'static str = "shaping";
}

impl FromStr for ComposerChoice {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        if s == Self::SHAPING {
            return Ok(ComposerChoice::Shaping);
        }
        s.parse().map(ComposerChoice::Core).map_err(|_| {
            format!(
                "unknown composer {s:?}; use one of {:?} or {:?}",
                composer_core::ComposerKind::NAMES,
                Self::SHAPING
            )
        })
    }
}

impl fmt::Display for ComposerChoice {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ComposerChoice::Core(k) => f.write_str(k.name()),
            ComposerChoice::Shaping => f.write_str(Self::SHAPING),
        }
    }
}

impl TryFrom<String> for ComposerChoice {
    type Error = String;
    fn try_from(s: String) -> Result<Self, String> {
        s.parse()
    }
}

impl From<ComposerChoice> for String {
    fn from(c: ComposerChoice) -> String {
        c.to_string()
    }
}

/// Where a reward's score lands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Placement {
    /// On the response's last token (Eq. 6).
    Sequence,
    /// Each sentence's score on the sentence's last token (fine-grained).
    Sentence,
}

/// `[composer]`: the rewards and how they combine. Every composer-core option is a key;
/// a key missing from a file takes composer-core's default, so a new core option is one
/// field here plus its line in [`ComposerConfig::default`].
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ComposerConfig {
    /// Rewards, in order ([`RewardKind::NAMES`]).
    pub rewards: Vec<RewardKind>,
    /// `fastrl`, `fixed`, `lagrangian` or `shaping`.
    pub kind: ComposerChoice,
    /// Fast RL step size eta (Eq. 4).
    pub eta: f32,
    /// Fast RL temperature.
    pub temperature: f32,
    /// Fast RL: per-reward normalisation of the batch means (`none`, `standardize`, or
    /// `reference`: z-scores against the starting policy, calibrated on
    /// [`ComposerConfig::calibration`] responses before PPO).
    #[serde(with = "core_name")]
    pub normalization: Normalization,
    /// Fast RL: `smooth(.)` of Eq. (5) (`none`, `ema`, `clip`, `tanh`), with
    /// [`ComposerConfig::smoothing_params`].
    #[serde(with = "core_name")]
    pub smoothing: SmoothingKind,
    /// The smoothing's parameters: `ema` `[decay]`, `clip` `[min, max]`, `tanh`
    /// `[scale]`, `none` `[]`.
    pub smoothing_params: Vec<f32>,
    /// Fast RL: the bias `b_i` of Eq. (5), one per reward (empty = all 0).
    pub bias: Vec<f32>,
    /// Fast RL: weight floor in `[0, 1]` (no weight below `floor / n`).
    pub floor: f32,
    /// Fast RL: what Eq. (6) composes, `raw` rewards or their reference z-scores
    /// (`normalized`, needs `normalization = "reference"`).
    #[serde(with = "core_name")]
    pub compose_on: ComposeOn,
    /// Fast RL: `plain` exponentiated gradient (Eq. 5) or `optimistic` (`2 s_t - s_{t-1}`).
    #[serde(with = "core_name")]
    pub rule: UpdateRule,
    /// Fast RL: radius of the KL ball around uniform the weights stay in (`inf` = the
    /// paper's unbounded rule).
    pub radius: f32,
    /// Fast RL: return the running average of the weight iterates.
    pub averaging: bool,
    /// Fast RL: eta "auto", Hedge's rate `sqrt(8 ln n / T) / eta_range` for the run's
    /// `T = ppo.steps` updates (`eta` is then ignored).
    pub eta_auto: bool,
    /// Width of the signal's range for `eta_auto` (1 for rewards in [0, 1]; a few units
    /// for reference z-scores).
    pub eta_range: f32,
    /// `normalization = "reference"`: how many responses of the starting policy (on
    /// training prompts, before PPO) give each reward's mean and std.
    pub calibration: usize,
    /// `normalization = "reference"`: the starting policy's per-reward means, given
    /// instead of calibrating (with [`ComposerConfig::reference_std`]; empty = calibrate).
    /// The comparison calibrates once and gives every arm the same statistics.
    pub reference_mean: Vec<f32>,
    /// The per-reward standard deviations that go with `reference_mean`.
    pub reference_std: Vec<f32>,
    /// Fixed / Lagrangian base weights (empty = uniform).
    pub weights: Vec<f32>,
    /// Lagrangian: per-reward thresholds (empty = none constrained).
    pub thresholds: Vec<f32>,
    /// Lagrangian: per-reward constraint kinds (`free`, `at_least`, `at_most`; empty =
    /// `at_least` for every threshold).
    #[serde(with = "core_names")]
    pub constraints: Vec<ConstraintKind>,
    /// Lagrangian multiplier learning rate.
    pub multiplier_lr: f32,
    /// Lagrangian multiplier parameterisation (`projected`, `sigmoid`, `tanh`, `exp`).
    #[serde(with = "core_name")]
    pub squash: Squash,
    /// Lagrangian initial multiplier.
    pub multiplier_init: f32,
    /// Lagrangian upper bound on each multiplier.
    pub max_multiplier: f32,
    /// Lagrangian: divide the weights by `1 + sum lambda`.
    pub normalize_multipliers: bool,
    /// Shaping: the cost coefficient alpha (the last reward is the cost).
    pub alpha: f32,
    /// Per reward: `"sequence"` or `"sentence"`; empty = all sequence-level.
    pub placement: Vec<Placement>,
    /// The learned `rating` reward's head (empty = `<out_dir>/reward-model/head.json`).
    pub rating_model: PathBuf,
    /// The `length` reward's band `[lo, hi]` of words: 1 inside, `1/hi` less per word
    /// outside (`fastrl_metrics::length_band`).
    pub length_band: [usize; 2],
}

impl Default for ComposerConfig {
    fn default() -> Self {
        let f = FastRlConfig::default();
        let l = LagrangianConfig::default();
        let (smoothing, a, b) = f.smoothing.parts();
        ComposerConfig {
            rewards: vec![RewardKind::Meteor, RewardKind::Bleu, RewardKind::RougeL],
            kind: ComposerChoice::Core(composer_core::ComposerKind::FastRl),
            eta: f.eta,
            temperature: f.temperature,
            normalization: f.normalization,
            smoothing,
            smoothing_params: smoothing_params(smoothing, a, b),
            bias: Vec::new(),
            floor: f.floor,
            compose_on: f.compose_on,
            rule: f.rule,
            radius: f.radius,
            averaging: f.averaging,
            eta_auto: false,
            eta_range: 1.0,
            calibration: 256,
            reference_mean: Vec::new(),
            reference_std: Vec::new(),
            weights: Vec::new(),
            thresholds: Vec::new(),
            constraints: Vec::new(),
            multiplier_lr: l.lr,
            squash: l.squash,
            multiplier_init: l.init,
            max_multiplier: l.max_multiplier,
            normalize_multipliers: l.normalize,
            alpha: 1.0,
            placement: Vec::new(),
            rating_model: PathBuf::new(),
            length_band: [4, 12],
        }
    }
}

/// How many parameters the smoothing `kind` takes.
pub fn smoothing_arity(kind: SmoothingKind) -> usize {
    match kind {
        SmoothingKind::None => 0,
        SmoothingKind::Ema | SmoothingKind::Tanh => 1,
        SmoothingKind::Clip => 2,
    }
}

fn smoothing_params(kind: SmoothingKind, a: f32, b: f32) -> Vec<f32> {
    [a, b][..smoothing_arity(kind)].to_vec()
}
