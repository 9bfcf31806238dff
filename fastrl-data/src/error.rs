//! Typed errors: every one names the file and what is wrong with it.

use std::fmt;
use std::path::PathBuf;

/// Problems reading a corpus.
#[derive(Debug)]
#[non_exhaustive]
pub enum DataError {
    /// The file could not be read.
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// The file's content is not what the format says.
    Format {
        /// The file.
        path: PathBuf,
        /// Where and what.
        what: String,
    },
    /// The corpus holds no usable dialogue.
    Empty {
        /// The file.
        path: PathBuf,
    },
    /// The Chit Chat dataset was not found where it is looked for.
    NotFound {
        /// Where it was looked for.
        searched: Vec<PathBuf>,
    },
}

impl fmt::Display for DataError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DataError::Io { path, source } => write!(f, "cannot read {}: {source}", path.display()),
            DataError::Format { path, what } => write!(f, "{}: {what}", path.display()),
            DataError::Empty { path } => write!(f, "{} holds no dialogue with two or more utterances", path.display()),
            DataError::NotFound { searched } => write!(
                f,
                "chitchat-dataset not found (looked in {}); run ./scripts/python-env.sh (pip install chitchat-dataset) or set FASTRL_CHITCHAT to its dataset.json",
                searched.iter().map(|p| p.display().to_string()).collect::<Vec<_>>().join(", ")
            ),
        }
    }
}

impl std::error::Error for DataError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            DataError::Io { source, .. } => Some(source),
            _ => None,
        }
    }
}
