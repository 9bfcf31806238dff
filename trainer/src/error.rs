//! One error type for the trainer; every message names the problem and, where there is
//! one, the fix.

use std::fmt;
use std::path::{Path, PathBuf};

/// What stopped the trainer.
#[derive(Debug)]
pub enum TrainerError {
    /// A bad configuration value or file.
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
    /// Missing or empty data.
    Data(String),
    /// Tokenizer problems (including a tokenizer that does not match the model).
    Tokenizer(String),
    /// A reward returned a non-finite value or failed.
    Reward(String),
    /// libtorch reported an error.
    Torch(tch::TchError),
    /// The composer core refused its input.
    Core(composer_core::Error),
    /// A plot could not be drawn or written.
    Plot(String),
}

impl TrainerError {
    /// An I/O error on `path`.
    pub fn io(path: &Path, source: std::io::Error) -> Self {
        TrainerError::Io {
            path: path.to_path_buf(),
            source,
        }
    }
}

impl fmt::Display for TrainerError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TrainerError::Config(m) => write!(f, "config: {m}"),
            TrainerError::Io { path, source } => write!(f, "{}: {source}", path.display()),
            TrainerError::Checkpoint(m) => write!(f, "checkpoint: {m}"),
            TrainerError::Data(m) => write!(f, "data: {m}"),
            TrainerError::Tokenizer(m) => write!(f, "tokenizer: {m}"),
            TrainerError::Reward(m) => write!(f, "reward: {m}"),
            TrainerError::Torch(e) => write!(f, "libtorch: {e}"),
            TrainerError::Core(e) => write!(f, "composer: {e}"),
            TrainerError::Plot(m) => write!(f, "plot: {m}"),
        }
    }
}

impl std::error::Error for TrainerError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            TrainerError::Io { source, .. } => Some(source),
            TrainerError::Torch(e) => Some(e),
            TrainerError::Core(e) => Some(e),
            _ => None,
        }
    }
}

impl From<tch::TchError> for TrainerError {
    fn from(e: tch::TchError) -> Self {
        TrainerError::Torch(e)
    }
}

impl From<composer_core::Error> for TrainerError {
    fn from(e: composer_core::Error) -> Self {
        TrainerError::Core(e)
    }
}

impl From<fastrl_data::DataError> for TrainerError {
    fn from(e: fastrl_data::DataError) -> Self {
        TrainerError::Data(e.to_string())
    }
}
