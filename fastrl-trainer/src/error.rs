//! One error type for the trainer; every message names the problem and, where there is
//! one, the fix.

use std::fmt;
use std::path::{Path, PathBuf};

/// What stopped the trainer.
#[derive(Debug)]
pub enum TrainerError {
    /// A bad configuration value or file (the message names the key).
    Config(String),
    /// A file could not be read or written.
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// A checkpoint or model directory that does not fit.
    Checkpoint(String),
    /// A record file (`metrics.jsonl`, `eval.json`, `eval-curve.jsonl`, ...) lacks a field
    /// or cannot be parsed.
    Record {
        /// The file.
        file: PathBuf,
        /// The line (1-based) for JSON-lines files, 0 for a whole-file record.
        line: usize,
        /// What is wrong (serde's message names the field).
        message: String,
    },
    /// Missing or empty data.
    Data(String),
    /// Tokenizer problems (including a tokenizer that does not match the model).
    Tokenizer(String),
    /// A reward returned a non-finite value.
    Reward(String),
    /// A reward could not score at all; `source` is why (an encoder forward, a tensor
    /// conversion).
    RewardFailed {
        /// The reward.
        reward: String,
        /// The cause.
        source: Box<TrainerError>,
    },
    /// A loss became NaN or infinite: training stops before the optimiser applies it.
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
    Limit {
        /// What is limited (names the config keys).
        what: String,
        /// What the run needs.
        need: u64,
        /// What there is.
        have: u64,
    },
    /// A GGUF file could not be read or has what the model cannot use (names the file and
    /// the tensor or metadata key).
    Gguf(crate::model::gguf::GgufError),
    /// libtorch reported an error.
    Torch(tch::TchError),
    /// The composer core refused its input.
    Core(composer_core::Error),
    /// composer-cuda failed (driver, NVRTC, launch, or a kernel status bit).
    #[cfg(feature = "cuda")]
    Cuda(composer_cuda::CudaError),
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

impl fmt::Display for TrainerError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TrainerError::Config(m) => write!(f, "config: {m}"),
            TrainerError::Io { path, source } => write!(f, "{}: {source}", path.display()),
            TrainerError::Checkpoint(m) => write!(f, "checkpoint: {m}"),
            TrainerError::Record {
                file,
                line: 0,
                message,
            } => write!(f, "{}: {message}", file.display()),
            TrainerError::Record {
                file,
                line,
                message,
            } => write!(f, "{} line {line}: {message}", file.display()),
            TrainerError::Data(m) => write!(f, "data: {m}"),
            TrainerError::Tokenizer(m) => write!(f, "tokenizer: {m}"),
            TrainerError::Reward(m) => write!(f, "reward: {m}"),
            TrainerError::RewardFailed { reward, source } => {
                write!(f, "reward {reward} could not score: {source}")
            }
            TrainerError::NonFiniteLoss {
                phase,
                step,
                value,
                fix,
            } => write!(f, "{phase} loss became {value} at step {step}: lower {fix}"),
            TrainerError::Limit { what, need, have } => {
                write!(f, "limit: {what}: needs {need}, has {have}")
            }
            TrainerError::Gguf(e) => write!(f, "GGUF: {e}"),
            TrainerError::Torch(e) => write!(f, "libtorch: {e}"),
            TrainerError::Core(e) => write!(f, "composer: {e}"),
            #[cfg(feature = "cuda")]
            TrainerError::Cuda(e) => write!(f, "composer-cuda: {e}"),
        }
    }
}

impl std::error::Error for TrainerError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            TrainerError::Io { source, .. } => Some(source),
            TrainerError::RewardFailed { source, .. } => Some(&**source),
            TrainerError::Gguf(e) => Some(e),
            TrainerError::Torch(e) => Some(e),
            TrainerError::Core(e) => Some(e),
            #[cfg(feature = "cuda")]
            TrainerError::Cuda(e) => Some(e),
            _ => None,
        }
    }
}

impl From<tch::TchError> for TrainerError {
    fn from(e: tch::TchError) -> Self {
        TrainerError::Torch(e)
    }
}

impl From<crate::model::gguf::GgufError> for TrainerError {
    fn from(e: crate::model::gguf::GgufError) -> Self {
        TrainerError::Gguf(e)
    }
}

impl From<composer_core::Error> for TrainerError {
    fn from(e: composer_core::Error) -> Self {
        TrainerError::Core(e)
    }
}

#[cfg(feature = "cuda")]
impl From<composer_cuda::CudaError> for TrainerError {
    fn from(e: composer_cuda::CudaError) -> Self {
        TrainerError::Cuda(e)
    }
}

impl From<fastrl_data::DataError> for TrainerError {
    fn from(e: fastrl_data::DataError) -> Self {
        TrainerError::Data(e.to_string())
    }
}
