//! The one list of rewards: [`RewardKind`] names every reward the trainer can build, and
//! the configuration, the registry and the reports all read names from it.

use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// A reward the trainer knows how to build ([`crate::rewards::registry::build`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub enum RewardKind {
    /// nltk's METEOR, in `[0, 1]`.
    Meteor,
    /// sacrebleu's sentence BLEU / 100, in `[0, 1]`.
    Bleu,
    /// ROUGE-L F-measure, in `[0, 1]`.
    RougeL,
    /// ROUGE-2 F-measure, in `[0, 1]`.
    Rouge2,
    /// BERTScore-style F1 over all-MiniLM-L6-v2 token embeddings, in `[-1, 1]` (0 for an
    /// empty response).
    Bertscore,
    /// Cosine similarity of all-MiniLM-L6-v2 sentence embeddings, in `[-1, 1]`.
    Semantic,
    /// The learned rating head (a linear regression on the sentence embedding):
    /// unbounded, about `[0, 1]` on the Chit Chat ratings it was fitted to.
    Rating,
    /// VADER's compound sentiment (equal to `vaderSentiment` 3.3.2), in `[-1, 1]`;
    /// reference-free.
    Sentiment,
    /// Closeness of the word count to the band `composer.length_band`, in `[0, 1]`;
    /// reference-free.
    Length,
    /// Cosine similarity of the all-MiniLM-L6-v2 sentence embeddings of the response and
    /// the utterance it answers (the context's last turn), in `[-1, 1]`; reference-free.
    Relevance,
}

impl RewardKind {
    /// Every reward, in the order of [`RewardKind::NAMES`].
    pub const ALL: [RewardKind; 10] = [
        RewardKind::Meteor,
        RewardKind::Bleu,
        RewardKind::RougeL,
        RewardKind::Rouge2,
        RewardKind::Bertscore,
        RewardKind::Semantic,
        RewardKind::Rating,
        RewardKind::Sentiment,
        RewardKind::Length,
        RewardKind::Relevance,
    ];

    /// Every accepted name.
    pub const NAMES: [&'static str; 10] = [
        "meteor",
        "bleu",
        "rouge_l",
        "rouge_2",
        "bertscore",
        "semantic",
        "rating",
        "sentiment",
        "length",
        "relevance",
    ];

    /// The name in configs, metrics and reports.
    pub fn name(self) -> &'static str {
        Self::NAMES[self as usize]
    }

    /// Whether building it loads all-MiniLM-L6-v2.
    pub fn needs_encoder(self) -> bool {
        matches!(
            self,
            RewardKind::Bertscore
                | RewardKind::Semantic
                | RewardKind::Rating
                | RewardKind::Relevance
        )
    }
}

/// A name that is no reward.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UnknownReward(pub String);

impl fmt::Display for UnknownReward {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "unknown reward {:?}; known: {:?}",
            self.0,
            RewardKind::NAMES
        )
    }
}

impl std::error::Error for UnknownReward {}

impl FromStr for RewardKind {
    type Err = UnknownReward;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        RewardKind::NAMES
            .iter()
            .position(|&n| n == s)
            .map(|i| RewardKind::ALL[i])
            .ok_or_else(|| UnknownReward(s.to_string()))
    }
}

impl TryFrom<String> for RewardKind {
    type Error = UnknownReward;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        s.parse()
    }
}

impl From<RewardKind> for String {
    fn from(k: RewardKind) -> String {
        k.name().to_string()
    }
}

impl fmt::Display for RewardKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_kinds_are_one_table() {
        for (i, k) in RewardKind::ALL.iter().enumerate() {
            assert_eq!(*k as usize, i);
            assert_eq!(k.name().parse::<RewardKind>(), Ok(*k));
        }
        let e = "bertscore2".parse::<RewardKind>().unwrap_err().to_string();
        assert!(e.contains("bertscore2") && e.contains("rating"), "{e}");
    }
}
