//! `fastrl-trainer`: PPO for causal language models on tch (libtorch), with several
//! rewards composed by Fast RL (or the baseline composers) from composer-core.
//!
//! The default job (`fastrl-trainer run`) trains a byte-level BPE tokenizer and a small
//! GPT-2 from scratch on the Chit Chat corpus (SFT), then fine-tunes it with PPO against
//! METEOR, BLEU and ROUGE-L composed by Fast RL, writing `metrics.jsonl`, checkpoints
//! that resume exactly, and Hugging Face model directories.
//!
//! Layout, one job per file, dependencies pointing down the list:
//! - [`jobs`]: the commands' work (stages, the PPO loop, the grid driver, limits);
//! - [`eval`]: evaluation, m_eval, the grid's cells, report and figures;
//! - [`rl`]: rollout, advantages (CPU and CUDA backends), losses, SFT, `Ppo::step`;
//! - [`io`]: typed records, checkpoints with checksums, progress;
//! - [`rewards`]: the reward kinds, trait, registry and implementations;
//! - [`model`]: the `CausalLm` interface, GPT-2, safetensors, tokenizer;
//! - [`config`], [`corpus`], [`optim`], [`rng`], [`error`].

#![forbid(unsafe_code)]

pub mod config;
pub mod corpus;
pub mod error;
pub mod eval;
pub mod io;
pub mod jobs;
pub mod model;
pub mod optim;
pub mod rewards;
pub mod rl;
pub mod rng;

pub use error::TrainerError;
