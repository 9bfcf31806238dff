//! One error type for the trainer; every message names the problem and, where there is
//! one, the fix. Sources are typed (`std::error::Error::source` reaches the cause).

use std::fmt;
use std::path::{Path, PathBuf};

/// " line N" for a JSON-lines record, nothing for a whole-file one (line 0).
fn line_suffix(line: usize) -> String {
    if line == 0 {
        String::new()
    } else {
        format!(" line {line}")
    }
}

/// What stopped the trainer.
#[derive(Debug, thiserror::Error)]
pub enum TrainerError {
    /// A bad configuration value or file (the message names the key).
    #[error("config: {0}")]
    Config(String),
    /// A file could not be read or written.
    #[error("{}: {source}", .path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// A checkpoint or model directory that does not fit.
    #[error("checkpoint: {0}")]
    Checkpoint(String),
    /// A record file (`metrics.jsonl`, `eval.json`, `eval-curve.jsonl`, ...) lacks a field
    /// or cannot be parsed.
    #[error("{}{}: {message}", .file.display(), line_suffix(*.line))]
    Record {
        /// The file.
        file: PathBuf,
        /// The line (1-based) for JSON-lines files, 0 for a whole-file record.
        line: usize,
        /// What is wrong (serde's message names the field).
        message: String,
    },
    /// Missing or empty data.
    #[error("data: {0}")]
    Data(String),
    /// The corpus could not be read (names the file and the fix).
    #[error("data: {0}")]
    Corpus(#[from] fastrl_data::DataError),
    /// Tokenizer problems (including a tokenizer that does not match the model).
    #[error("tokenizer: {0}")]
    Tokenizer(String),
    /// A reward returned a non-finite value.
    #[error("reward: {0}")]
    Reward(String),
    /// A reward could not score at all; `source` is why (an encoder forward, a tensor
    /// conversion).
    #[error("reward {reward} could not score: {source}")]
    RewardFailed {
        /// The reward.
        reward: String,
        /// The cause.
        source: Box<TrainerError>,
    },
    /// A loss became NaN or infinite: training stops before the optimiser applies it.
    #[error("{phase} loss became {value} at step {step}: lower {fix}")]
    NonFiniteLoss {
        /// `"SFT"` or `"PPO"`.
        phase: &'static str,
        /// The step (1-based).
        step: usize,
        /// The value.
        value: f64,
        /// The setting to lower.
        fix: &'static str,
    },
    /// A size or memory limit the run would exceed, checked before any work.
    #[error("limit: {what}: needs {need}, has {have}")]
    Limit {
        /// What is limited (names the config keys).
        what: String,
        /// What the run needs.
        need: u64,
        /// What there is.
        have: u64,
    },
    /// A model could not be built, loaded, saved or tokenised (fastrl-models' error,
    /// its message unchanged).
    #[error(transparent)]
    Model(#[from] fastrl_models::ModelError),
    /// libtorch reported an error.
    #[error("libtorch: {0}")]
    Torch(#[from] tch::TchError),
    /// The composer core refused its input.
    #[error("composer: {0}")]
    Core(#[from] composer_core::Error),
    /// composer-cuda failed (driver, NVRTC, launch, or a kernel status bit).
    #[cfg(feature = "cuda")]
    #[error("composer-cuda: {0}")]
    Cuda(#[from] composer_cuda::CudaError),
}

impl TrainerError {
    /// An I/O error on `path`.
    pub fn io(path: &Path, source: std::io::Error) -> Self {
        TrainerError::Io {
            path: path.to_path_buf(),
            source,
        }
    }

    /// A record error in `file` (at `line`, 1-based; 0 for a whole file).
    pub fn record(file: &Path, line: usize, message: impl fmt::Display) -> Self {
        TrainerError::Record {
            file: file.to_path_buf(),
            line,
            message: message.to_string(),
        }
    }
}
