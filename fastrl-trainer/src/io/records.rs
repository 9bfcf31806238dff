//! The typed records a run writes and the grid reads back: per-step metrics
//! (`metrics.jsonl`), evaluations (`eval.json`, `grid/sft-eval.json`, a cell's
//! `eval.json`) and eval-curve points (`eval-curve.jsonl`).
//!
//! Fields are declared in alphabetical order, so each record's JSON has the key order it
//! always had; numbers are `f64` (the `f32` values the step computes are widened, as
//! `serde_json::json!` widened them). Every field is required: a missing or unreadable
//! field is an error naming the file, the line and the field ([`crate::io::jsonl`]).

use serde::{Deserialize, Deserializer, Serialize};
use std::collections::BTreeMap;

/// Per reward name, a value.
pub type PerReward = BTreeMap<String, f64>;

/// One line of `sft-metrics.jsonl`: an SFT step's loss.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SftStep {
    /// The step (1-based).
    pub step: usize,
    /// The mean token negative log-likelihood of its batch.
    pub loss: f64,
}

/// Seconds of each phase of a PPO step (each waits for the device).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PhaseSeconds {
    /// Policy and reference forwards over the rollout.
    pub forward: f64,
    /// Composition + KL penalty + GAE (+ whitening).
    pub fused: f64,
    /// Sampling the responses.
    pub generate: f64,
    /// Scoring with every reward and updating the weights.
    pub score: f64,
    /// The PPO epochs.
    pub train: f64,
}

/// One line of `metrics.jsonl`: what one PPO step measured.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StepMetrics {
    /// The KL coefficient used in this step's penalty.
    pub beta: f64,
    /// Fraction of valid tokens where the clipped surrogate term was the active one
    /// (trl's count; mean over minibatches). Records written before counted every
    /// ratio outside `[1 - clip, 1 + clip]`.
    pub clip_frac: f64,
    /// The composite `sum_i w_i rbar_i` at the weights before this step's update.
    pub composite: f64,
    /// Standard deviation of the reward means.
    pub disparity: f64,
    /// Mean KL estimate per valid token.
    pub kl: f64,
    /// The smallest reward mean.
    pub min_reward: f64,
    /// Phase timings.
    pub phase_s: PhaseSeconds,
    /// Mean clipped policy loss over minibatches.
    pub policy_loss: f64,
    /// Mean response length in tokens.
    pub response_len: f64,
    /// Each reward's batch mean ([`composer_core::reward_means`]).
    pub rewards: PerReward,
    /// The first response of the batch.
    pub sample: String,
    /// Steps done, this one included.
    pub step: usize,
    /// Seconds of the step.
    pub step_s: f64,
    /// Response tokens per second.
    pub tokens_per_s: f64,
    /// Mean clipped value loss over minibatches.
    pub value_loss: f64,
    /// The weights after this step's update, used in this step's composite reward.
    pub weights: PerReward,
    /// The value head's explained variance of the returns before the update, over the
    /// valid tokens: `1 - Var(R - V) / Var(R)` (verl's `critic/vf_explained_var`; 0 on
    /// the critic-free path; absent from older records).
    #[serde(default)]
    pub explained_var: f64,
    /// The share of responses that ended at end-of-turn (the rest hit the length cap).
    #[serde(default)]
    pub eos_share: f64,
    /// The largest gap between the log-probability the sampler drew a token with and
    /// the one the ratio and the KL use for it (0 up to rounding when they are the same
    /// distribution, as they must be).
    #[serde(default)]
    pub logp_gap: f64,
    /// The base learning rate of this step ([`crate::config::LrSchedule`]).
    #[serde(default)]
    pub lr: f64,
    /// Whether this step trained only the value head (`ppo.value_warmup_steps`).
    #[serde(default)]
    pub value_warmup: bool,
}

/// Deserialises an `Option` that must be present (as a value or `null`): serde's default
/// would read a missing field as `None`.
fn present<'de, D: Deserializer<'de>>(d: D) -> Result<Option<f64>, D::Error> {
    Option::<f64>::deserialize(d)
}

/// The six metrics of the paper's m_eval for one evaluation (normalised across runs by
/// `fastrl_experiments::m_eval`).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MEvalMetrics {
    /// Conditional entropy of 3-grams (`null` when no response has a 3-gram).
    #[serde(deserialize_with = "present")]
    pub cond_entropy_3: Option<f64>,
    /// Mean length without punctuation.
    pub mean_length_nopunct: f64,
    /// Mean ROUGE-2 F.
    pub rouge_2: f64,
    /// Mean ROUGE-L F.
    pub rouge_l: f64,
    /// Corpus SacreBLEU.
    pub sacrebleu: f64,
    /// 3-gram vocabulary without punctuation.
    pub vocab_3_nopunct: usize,
}

impl MEvalMetrics {
    /// The metric named `name` of `fastrl_experiments::m_eval::M_EVAL`; `None` for an unknown
    /// name or an undefined value.
    pub fn get(&self, name: &str) -> Option<f64> {
        match name {
            "sacrebleu" => Some(self.sacrebleu),
            "rouge_2" => Some(self.rouge_2),
            "rouge_l" => Some(self.rouge_l),
            "cond_entropy_3" => self.cond_entropy_3,
            "vocab_3_nopunct" => Some(self.vocab_3_nopunct as f64),
            "mean_length_nopunct" => Some(self.mean_length_nopunct),
            _ => None,
        }
    }
}

/// A context, its reference and the sampled response.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Sample {
    /// The context.
    pub context: String,
    /// The reference response.
    pub reference: String,
    /// The sampled response.
    pub response: String,
}

/// An evaluation of a policy on held-out pairs.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EvalReport {
    /// Distinct-2 of the responses.
    pub distinct_2: f64,
    /// The six raw metrics of m_eval.
    pub m_eval_metrics: MEvalMetrics,
    /// Mean response length (13a tokens).
    pub mean_length: f64,
    /// Pairs evaluated.
    pub pairs: usize,
    /// Each reward's mean over the responses.
    pub rewards: PerReward,
    /// A few samples.
    pub samples: Vec<Sample>,
    /// Every response's score, per reward.
    pub scores: BTreeMap<String, Vec<f64>>,
    /// Every response, in the order of the evaluation pairs (absent in reports written
    /// before it was recorded).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub responses: Vec<String>,
    /// A grid cell's final composer weights (the last line of its `metrics.jsonl`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub weights: Option<PerReward>,
}

/// `eval.json` of the default job: the SFT model and the PPO model.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RunReport {
    /// After PPO.
    pub ppo: EvalReport,
    /// After SFT.
    pub sft: EvalReport,
}

/// One line of `eval-curve.jsonl`: the policy's evaluation at a step.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EvalPoint {
    /// Distinct-2.
    pub distinct_2: f64,
    /// The raw m_eval metrics.
    pub m_eval_metrics: MEvalMetrics,
    /// Mean response length.
    pub mean_length: f64,
    /// Reward means.
    pub rewards: PerReward,
    /// PPO steps done (0 = before PPO).
    pub step: usize,
}

impl EvalPoint {
    /// The point of `e` at `step`.
    pub fn of(step: usize, e: &EvalReport) -> Self {
        EvalPoint {
            distinct_2: e.distinct_2,
            m_eval_metrics: e.m_eval_metrics.clone(),
            mean_length: e.mean_length,
            rewards: e.rewards.clone(),
            step,
        }
    }
}
