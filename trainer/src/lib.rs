//! `fastrl-trainer`: PPO for causal language models on tch (libtorch), with several
//! rewards composed by Fast RL (or the baseline composers) from composer-core.
//!
//! The default job (`fastrl-trainer run`) trains a byte-level BPE tokenizer and a small
//! GPT-2 from scratch on the Chit Chat corpus (SFT), then fine-tunes it with PPO against
//! METEOR, BLEU and ROUGE-L composed by Fast RL, writing `metrics.jsonl`, checkpoints
//! that resume exactly, and Hugging Face model directories.

pub mod checkpoint;
pub mod config;
pub mod corpus;
pub mod encoder;
mod error;
pub mod eval;
#[cfg(feature = "cuda")]
pub mod gpu;
pub mod grid;
pub mod model;
pub mod optim;
pub mod plot;
pub mod ppo;
pub mod progress;
pub mod reward_model;
pub mod rewards;
pub mod tokenizer;

pub use error::TrainerError;
