//! `fastrl-trainer`: PPO for causal language models on tch (libtorch), with several
//! rewards composed by Fast RL (or the baseline composers) from composer-core.
//!
//! The default job (`fastrl-trainer run`, preset `default`) fine-tunes
//! SmolLM2-135M-Instruct (its top 4 blocks) with PPO on Chit Chat dialogues against
//! relevance, sentiment and a length band composed by bounded Fast RL on reference
//! z-scores, and evaluates it before and after; `--preset tiny` trains a small GPT-2 from
//! scratch instead. It writes `metrics.jsonl`, checkpoints that resume exactly, and
//! Hugging Face model directories. The models (GPT-2, Llama/Qwen2, GGUF, the tokenizer)
//! are the `fastrl-models` crate; the experiment harness (the fair test, the grid) is
//! the `fastrl-experiments` crate.
//!
//! Layout, one job per file, dependencies pointing down the list:
//! - [`jobs`]: the commands' work (stages, the PPO loop, the default job, limits);
//! - [`eval`]: evaluation on held-out pairs and paired bootstrap intervals;
//! - [`rl`]: rollout, advantages (CPU and CUDA backends), losses, SFT, `Ppo::step`;
//! - [`io`]: typed records, checkpoints with checksums, progress;
//! - [`rewards`]: the reward kinds, trait, registry and implementations;
//! - [`config`], [`corpus`], [`optim`], [`rng`], [`error`].

#![forbid(unsafe_code)]

pub mod config;
pub mod corpus;
pub mod error;
pub mod eval;
pub mod io;
pub mod jobs;
pub mod optim;
pub mod rewards;
pub mod rl;
pub mod rng;

pub use error::TrainerError;
