//! The run configuration: TOML with presets (`smoke`, `default`, `paper-dialog`, `grid-full`), a file
//! that overrides the preset, and `--set section.key=value` overrides on top. Unknown keys
//! and wrong types stop with a message naming the key.

use crate::error::TrainerError;
use serde::{Deserialize, Serialize};

/// Embedded presets, by name.
pub const PRESETS: [(&str, &str); 4] = [
    ("smoke", include_str!("../presets/smoke.toml")),
    ("default", include_str!("../presets/default.toml")),
    ("paper-dialog", include_str!("../presets/paper-dialog.toml")),
    ("grid-full", include_str!("../presets/grid-full.toml")),
];

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

/// `[run]`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RunConfig {
    /// Run directory.
    pub out_dir: String,
    /// Seed of every random choice (initialisation, sampling, minibatches).
    pub seed: u64,
    /// Intra-op CPU threads (0 = libtorch's default).
    pub threads: usize,
    /// `"cpu"`, `"cuda"` or `"auto"`.
    pub device: String,
}

/// `[data]`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DataConfig {
    /// `"chitchat"` (PyPI `chitchat-dataset`) or `"dailydialog"` (release format).
    pub corpus: String,
    /// Path override: the chitchat JSON file, or DailyDialog's `dialogues_text.txt`.
    pub path: String,
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
    pub path: String,
    /// Context tokens kept (the end of the context).
    pub max_context_tokens: usize,
    /// Response tokens at most (SFT targets and PPO generations).
    pub max_response_tokens: usize,
}

/// `[model]`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModelConfig {
    /// A Hugging Face GPT-2 directory to start from (empty = a new model of this shape).
    pub pretrained: String,
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
    /// Rows per minibatch.
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
    /// KL estimator: `k1`, `k2`, `k3`, `abs`.
    pub kl_estimator: String,
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
}

/// `[composer]`: the rewards and how they combine.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ComposerConfig {
    /// Reward names, in order: `meteor`, `bleu`, `rouge_l`, `rouge_2`, `bertscore`,
    /// `semantic`.
    pub rewards: Vec<String>,
    /// `fastrl`, `fixed`, `lagrangian` or `shaping`.
    pub kind: String,
    /// Fast RL step size eta (Eq. 4).
    pub eta: f32,
    /// Fast RL temperature.
    pub temperature: f32,
    /// Fixed / base weights (empty = uniform).
    pub weights: Vec<f32>,
    /// Lagrangian: per-reward lower thresholds (empty = none constrained).
    pub thresholds: Vec<f32>,
    /// Lagrangian multiplier learning rate.
    pub multiplier_lr: f32,
    /// Shaping: the cost coefficient alpha (the last reward is the cost).
    pub alpha: f32,
    /// Per reward: `"sequence"` (the score lands on the last token, Eq. 6) or
    /// `"sentence"` (each sentence's score lands on its last token); empty = all
    /// sequence-level.
    #[serde(default)]
    pub placement: Vec<String>,
    /// The learned `rating` reward's head (empty = `<out_dir>/reward-model/head.json`).
    #[serde(default)]
    pub rating_model: String,
}

fn merge(base: &mut toml::Value, over: toml::Value) {
    match (base, over) {
        (toml::Value::Table(b), toml::Value::Table(o)) => {
            for (k, v) in o {
                match b.get_mut(&k) {
                    Some(bv) => merge(bv, v),
                    None => {
                        b.insert(k, v);
                    }
                }
            }
        }
        (b, o) => *b = o,
    }
}

fn parse(name: &str, text: &str) -> Result<toml::Value, TrainerError> {
    toml::from_str(text).map_err(|e| TrainerError::Config(format!("{name}: {e}")))
}

impl Config {
    /// The preset `name` (`smoke`, `default`, `paper-dialog`, `grid-full`), then `file`'s keys over it,
    /// then each `section.key=value` of `sets` (the value in TOML syntax; bare words are
    /// strings).
    pub fn resolve(
        preset: &str,
        file: Option<&std::path::Path>,
        sets: &[String],
    ) -> Result<Self, TrainerError> {
        let text = PRESETS
            .iter()
            .find(|(n, _)| *n == preset)
            .map(|(_, t)| *t)
            .ok_or_else(|| {
                TrainerError::Config(format!(
                    "unknown preset {preset:?}; choose one of {:?}",
                    PRESETS.map(|(n, _)| n)
                ))
            })?;
        let mut value = parse(&format!("preset {preset}"), text)?;
        if let Some(path) = file {
            let t = std::fs::read_to_string(path).map_err(|e| TrainerError::io(path, e))?;
            merge(&mut value, parse(&path.display().to_string(), &t)?);
        }
        for s in sets {
            let (key, raw) = s.split_once('=').ok_or_else(|| {
                TrainerError::Config(format!("--set {s:?}: expected section.key=value"))
            })?;
            let (section, field) = key.trim().split_once('.').ok_or_else(|| {
                TrainerError::Config(format!("--set {s:?}: the key must be section.key"))
            })?;
            let v: toml::Value = toml::from_str(&format!("v = {}", raw.trim()))
                .map(|t: toml::Table| t["v"].clone())
                .unwrap_or_else(|_| toml::Value::String(raw.trim().to_string()));
            let mut t = toml::Table::new();
            let mut inner = toml::Table::new();
            inner.insert(field.to_string(), v);
            t.insert(section.to_string(), toml::Value::Table(inner));
            merge(&mut value, toml::Value::Table(t));
        }
        let cfg: Config = value
            .try_into()
            .map_err(|e: toml::de::Error| TrainerError::Config(e.to_string()))?;
        cfg.validate()?;
        Ok(cfg)
    }

    /// Range checks the types cannot express.
    pub fn validate(&self) -> Result<(), TrainerError> {
        let bad = |m: String| Err(TrainerError::Config(m));
        let p = &self.ppo;
        if !["cpu", "cuda", "auto"].contains(&self.run.device.as_str()) {
            return bad(format!(
                "run.device = {:?}: use \"cpu\", \"cuda\" or \"auto\"",
                self.run.device
            ));
        }
        if !["chitchat", "dailydialog"].contains(&self.data.corpus.as_str()) {
            return bad(format!(
                "data.corpus = {:?}: use \"chitchat\" or \"dailydialog\"",
                self.data.corpus
            ));
        }
        if self.sft.batch_size == 0 || p.batch_size == 0 || p.minibatch_size == 0 {
            return bad("batch sizes must be at least 1".into());
        }
        if p.minibatch_size > p.batch_size {
            return bad(format!(
                "ppo.minibatch_size {} exceeds ppo.batch_size {}",
                p.minibatch_size, p.batch_size
            ));
        }
        let positive = |x: f64| x.is_finite() && x > 0.0;
        if ![p.temperature, p.clip, p.lr, self.sft.lr]
            .into_iter()
            .all(positive)
        {
            return bad("ppo.temperature, ppo.clip and the learning rates must be > 0".into());
        }
        if !(0.0..=1.0).contains(&p.gamma) || !(0.0..=1.0).contains(&p.lam) {
            return bad("ppo.gamma and ppo.lam must be in [0, 1]".into());
        }
        if self.tokenizer.max_response_tokens == 0 || self.tokenizer.max_context_tokens == 0 {
            return bad("tokenizer.max_context_tokens and max_response_tokens must be >= 1".into());
        }
        let need = (self.tokenizer.max_context_tokens + self.tokenizer.max_response_tokens) as i64;
        if self.model.pretrained.is_empty() && self.model.n_positions < need {
            return bad(format!(
                "model.n_positions {} < max_context_tokens + max_response_tokens = {need}",
                self.model.n_positions
            ));
        }
        if self.composer.rewards.is_empty() {
            return bad("composer.rewards is empty: name at least one reward".into());
        }
        for r in &self.composer.rewards {
            if !crate::rewards::NAMES.contains(&r.as_str()) {
                return bad(format!(
                    "composer.rewards: unknown reward {r:?}; known: {:?}",
                    crate::rewards::NAMES
                ));
            }
        }
        let n = self.composer.rewards.len();
        if !self.composer.weights.is_empty() && self.composer.weights.len() != n {
            return bad(format!(
                "composer.weights has {} entries for {n} rewards",
                self.composer.weights.len()
            ));
        }
        if !self.composer.thresholds.is_empty() && self.composer.thresholds.len() != n {
            return bad(format!(
                "composer.thresholds has {} entries for {n} rewards",
                self.composer.thresholds.len()
            ));
        }
        if !self.composer.placement.is_empty() && self.composer.placement.len() != n {
            return bad(format!(
                "composer.placement has {} entries for {n} rewards",
                self.composer.placement.len()
            ));
        }
        if let Some(p) = self
            .composer
            .placement
            .iter()
            .find(|p| !["sequence", "sentence"].contains(&p.as_str()))
        {
            return bad(format!(
                "composer.placement: {p:?} is not \"sequence\" or \"sentence\""
            ));
        }
        if !["fastrl", "fixed", "lagrangian", "shaping"].contains(&self.composer.kind.as_str()) {
            return bad(format!(
                "composer.kind = {:?}: use fastrl, fixed, lagrangian or shaping",
                self.composer.kind
            ));
        }
        if self.composer.kind == "shaping" && n != 2 {
            return bad(
                "composer.kind = \"shaping\" needs exactly two rewards (reward, cost)".into(),
            );
        }
        crate::ppo::estimator(&p.kl_estimator)?;
        Ok(())
    }

    /// Where the `rating` reward's head is read from.
    pub fn rating_head(&self) -> std::path::PathBuf {
        if self.composer.rating_model.is_empty() {
            std::path::Path::new(&self.run.out_dir).join("reward-model/head.json")
        } else {
            self.composer.rating_model.clone().into()
        }
    }

    /// The resolved configuration as TOML (written into the run directory).
    pub fn to_toml(&self) -> String {
        toml::to_string_pretty(self).expect("a Config always serialises")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_preset_resolves() {
        for (name, _) in PRESETS {
            Config::resolve(name, None, &[]).unwrap_or_else(|e| panic!("{name}: {e}"));
        }
    }

    #[test]
    fn overrides_apply_and_round_trip() {
        let c = Config::resolve(
            "smoke",
            None,
            &["ppo.steps=7".into(), "composer.kind=fixed".into()],
        )
        .unwrap();
        assert_eq!(c.ppo.steps, 7);
        assert_eq!(c.composer.kind, "fixed");
        let back: Config = toml::from_str(&c.to_toml()).unwrap();
        assert_eq!(back, c);
    }

    #[test]
    fn unknown_keys_and_wrong_types_are_named() {
        let e = Config::resolve("smoke", None, &["ppo.stepz=3".into()]).unwrap_err();
        assert!(e.to_string().contains("stepz"), "{e}");
        let e = Config::resolve("smoke", None, &["ppo.steps=\"many\"".into()]).unwrap_err();
        assert!(e.to_string().contains("steps"), "{e}");
        let e = Config::resolve("nope", None, &[]).unwrap_err();
        assert!(e.to_string().contains("smoke"), "{e}");
        let e = Config::resolve("smoke", None, &["composer.rewards=[\"bertscore2\"]".into()])
            .unwrap_err();
        assert!(e.to_string().contains("bertscore2"), "{e}");
    }
}
