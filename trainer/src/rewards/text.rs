//! Text-overlap rewards from the `fastrl-metrics` crate (tested equal to sacrebleu, nltk
//! and rouge-score on fixtures).

use crate::error::TrainerError;
use crate::rewards::reward::Reward;
use fastrl_metrics::{meteor_with, rouge_l, rouge_n, WordNet};

/// nltk's `meteor_score` over whitespace tokens, with WordNet synonyms when present.
/// In `[0, 1]`.
pub struct Meteor {
    /// WordNet 3.0 for the synonym stage (exact and stem stages only without it).
    pub wordnet: Option<WordNet>,
}

impl Meteor {
    /// METEOR with WordNet 3.0 from Debian's `wordnet-base` (or `$FASTRL_WORDNET`) when
    /// present; without it, a note on stderr says so once and scoring uses the exact and
    /// stem stages.
    pub fn load() -> Self {
        let wordnet = WordNet::default_dir().and_then(|d| WordNet::load(&d).ok());
        if wordnet.is_none() {
            crate::note!(
                "note: WordNet 3.0 not found (apt-get install wordnet-base \
                 wordnet-sense-index, or set FASTRL_WORDNET); METEOR uses exact \
                 and stem matches only"
            );
        }
        Meteor { wordnet }
    }
}

impl Reward for Meteor {
    fn name(&self) -> &str {
        "meteor"
    }
    fn score(&self, response: &str, reference: &str) -> Result<f64, TrainerError> {
        let r: Vec<&str> = reference.split_whitespace().collect();
        let h: Vec<&str> = response.split_whitespace().collect();
        Ok(meteor_with(&[r], &h, self.wordnet.as_ref()))
    }
}

/// sacrebleu's `sentence_bleu` (13a, exponential smoothing), scaled to `[0, 1]`.
pub struct Bleu;

impl Reward for Bleu {
    fn name(&self) -> &str {
        "bleu"
    }
    fn score(&self, response: &str, reference: &str) -> Result<f64, TrainerError> {
        Ok(fastrl_metrics::sentence_bleu(response, &[reference]).score / 100.0)
    }
}

/// rouge-score's ROUGE-L F-measure (`n = 0`) or ROUGE-n F-measure, in `[0, 1]`.
pub struct Rouge {
    /// 0 for ROUGE-L, else the n-gram order.
    pub n: usize,
}

impl Reward for Rouge {
    fn name(&self) -> &str {
        if self.n == 0 {
            "rouge_l"
        } else {
            "rouge_2"
        }
    }
    fn score(&self, response: &str, reference: &str) -> Result<f64, TrainerError> {
        Ok(if self.n == 0 {
            rouge_l(reference, response).fmeasure
        } else {
            rouge_n(reference, response, self.n).fmeasure
        })
    }
}
