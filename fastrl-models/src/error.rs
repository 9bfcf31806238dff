//! The models' error type; every message names the file, tensor or key at fault and, where
//! there is one, the fix. The trainer's `TrainerError` carries it unchanged.

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

/// What stopped a model from being built, loaded, saved or tokenised.
#[derive(Debug, thiserror::Error)]
pub enum ModelError {
    /// A bad model configuration (`config.json`, a name, a shape).
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
    /// A checkpoint or model directory that does not fit the model.
    #[error("checkpoint: {0}")]
    Checkpoint(String),
    /// A JSON file that cannot be parsed.
    #[error("{}{}: {message}", .file.display(), line_suffix(*.line))]
    Record {
        /// The file.
        file: PathBuf,
        /// The line (1-based) for JSON-lines files, 0 for a whole-file record.
        line: usize,
        /// What is wrong (serde's message names the field).
        message: String,
    },
    /// Tokenizer or chat-template problems (including a tokenizer that does not match the
    /// model).
    #[error("tokenizer: {0}")]
    Tokenizer(String),
    /// A GGUF file could not be read or has what the model cannot use (names the file and
    /// the tensor or metadata key).
    #[error("GGUF: {0}")]
    Gguf(#[from] crate::gguf::GgufError),
    /// libtorch reported an error.
    #[error("libtorch: {0}")]
    Torch(#[from] tch::TchError),
}

impl ModelError {
    /// An I/O error on `path`.
    pub fn io(path: &Path, source: std::io::Error) -> Self {
        ModelError::Io {
            path: path.to_path_buf(),
            source,
        }
    }

    /// A record error in `file` (at `line`, 1-based; 0 for a whole file).
    pub fn record(file: &Path, line: usize, message: impl fmt::Display) -> Self {
        ModelError::Record {
            file: file.to_path_buf(),
            line,
            message: message.to_string(),
        }
    }
}
