//! Dialogue corpora as `(context, next utterance)` pairs, as the paper's DailyDialog setup
//! builds them (Appendix A): a context of up to five utterances, each followed by an
//! end-of-utterance token, and the utterance that follows as the reference response.
//!
//! * [`chitchat`]: the Chit Chat Challenge dataset (PyPI `chitchat-dataset`, MIT, 7,168
//!   conversations with `witty` / `upbeat` / `interesting` ratings), the default corpus.
//! * [`dailydialog`]: DailyDialog's release format (`dialogues_text.txt` with `__eou__`,
//!   `dialogues_act.txt`), read from a path.
//!
//! Splits are fixed and by conversation (no conversation spans two splits): a
//! conversation goes to train, validation or test by an FNV-1a hash of its id (80/10/10).

pub mod chitchat;
pub mod dailydialog;
mod error;
mod pairs;

pub use error::DataError;
pub use pairs::{pairs, split_of, Pair, PairConfig, Split};

/// One conversation: its id and its utterances in order (consecutive messages of one
/// speaker joined into one utterance).
#[derive(Clone, Debug, PartialEq)]
pub struct Dialogue {
    /// Stable id (the dataset's key, or the line number for DailyDialog).
    pub id: String,
    /// Utterances, speaker turns alternating.
    pub utterances: Vec<String>,
}
