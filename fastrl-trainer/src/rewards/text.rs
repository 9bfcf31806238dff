//! Text-overlap rewards from the `fastrl-metrics` crate (tested equal to sacrebleu, nltk
//! and rouge-score on fixtures).

use crate::error::TrainerError;
use crate::rewards::reward::Reward;
use fastrl_metrics::{length_band, meteor_with, rouge_l, rouge_n, vader_compound, WordNet};

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

/// VADER's compound sentiment of the response (`vaderSentiment` 3.3.2), in `[-1, 1]`; the
/// reference is not read.
pub struct Sentiment;

impl Reward for Sentiment {
    fn name(&self) -> &str {
        "sentiment"
    }
    fn score(&self, response: &str, _reference: &str) -> Result<f64, TrainerError> {
        Ok(vader_compound(response))
    }
}

/// How close the response's word count is to the band `[lo, hi]`
/// ([`fastrl_metrics::length_band`]), in `[0, 1]`; the reference is not read.
pub struct Length {
    /// Fewest words in the band.
    pub lo: usize,
    /// Most words in the band (>= 1, >= `lo`).
    pub hi: usize,
}

impl Reward for Length {
    fn name(&self) -> &str {
        "length"
    }
    fn score(&self, response: &str, _reference: &str) -> Result<f64, TrainerError> {
        length_band(response, self.lo, self.hi).map_err(|e| TrainerError::Reward(e.to_string()))
    }
}
