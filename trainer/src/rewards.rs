//! Rewards: each scores a generated response against the reference response, at the
//! sequence level (the score lands on the response's last token, Eq. (6)) or per
//! sentence (fine-grained: each sentence's score lands on its last token).
//!
//! The metrics are the `fastrl-metrics` crate's, tested equal to sacrebleu, nltk and
//! rouge-score on fixtures.

use crate::error::TrainerError;
use fastrl_metrics::{meteor_with, rouge_l, rouge_n, WordNet};

/// Reward names the configuration accepts.
pub const NAMES: [&str; 6] = [
    "meteor",
    "bleu",
    "rouge_l",
    "rouge_2",
    "bertscore",
    "semantic",
];

/// A reward function.
pub trait Reward: Send + Sync {
    /// Its name in metrics and configs.
    fn name(&self) -> &str;
    /// Score of `response` given the `reference`, in `[0, 1]`.
    fn score(&self, response: &str, reference: &str) -> f64;
    /// Scores of many pairs (rewards with a model override this to batch).
    fn score_batch(&self, responses: &[String], references: &[String]) -> Vec<f64> {
        responses
            .iter()
            .zip(references)
            .map(|(h, y)| self.score(h, y))
            .collect()
    }
}

/// nltk's `meteor_score` over whitespace tokens, with WordNet synonyms when present.
pub struct Meteor {
    wordnet: Option<WordNet>,
}

impl Reward for Meteor {
    fn name(&self) -> &str {
        "meteor"
    }
    fn score(&self, response: &str, reference: &str) -> f64 {
        let r: Vec<&str> = reference.split_whitespace().collect();
        let h: Vec<&str> = response.split_whitespace().collect();
        meteor_with(&[r], &h, self.wordnet.as_ref())
    }
}

/// sacrebleu's `sentence_bleu` (13a, exponential smoothing), scaled to `[0, 1]`.
pub struct Bleu;

impl Reward for Bleu {
    fn name(&self) -> &str {
        "bleu"
    }
    fn score(&self, response: &str, reference: &str) -> f64 {
        fastrl_metrics::sentence_bleu(response, &[reference]).score / 100.0
    }
}

/// rouge-score's ROUGE-L F-measure (or ROUGE-2 for `rouge_2`).
pub struct Rouge {
    n: usize,
}

impl Reward for Rouge {
    fn name(&self) -> &str {
        if self.n == 0 {
            "rouge_l"
        } else {
            "rouge_2"
        }
    }
    fn score(&self, response: &str, reference: &str) -> f64 {
        if self.n == 0 {
            rouge_l(reference, response).fmeasure
        } else {
            rouge_n(reference, response, self.n).fmeasure
        }
    }
}

/// Builds the named rewards. METEOR loads WordNet 3.0 from Debian's `wordnet-base` (or
/// `$FASTRL_WORDNET`) when present; without it, it says so once and scores with the
/// exact and stem stages. `bertscore` and `semantic` share one all-MiniLM-L6-v2 encoder
/// (found by [`crate::encoder::find_minilm`] from the current directory), on the CPU;
/// `rating` is the learned reward, its head read from `rating_head` (written by the
/// `reward-model` command).
pub fn build(
    names: &[String],
    rating_head: &std::path::Path,
) -> Result<Vec<Box<dyn Reward>>, TrainerError> {
    let mut encoder: Option<std::sync::Arc<crate::encoder::Shared>> = None;
    let mut shared = || -> Result<std::sync::Arc<crate::encoder::Shared>, TrainerError> {
        if encoder.is_none() {
            let root = std::env::current_dir().unwrap_or_else(|_| ".".into());
            let dir = crate::encoder::find_minilm(&root)?;
            let e = crate::encoder::Encoder::load(&dir, tch::Device::Cpu)?;
            encoder = Some(crate::encoder::Shared::new(e));
        }
        Ok(encoder.clone().expect("set above"))
    };
    names
        .iter()
        .map(|n| -> Result<Box<dyn Reward>, TrainerError> {
            Ok(match n.as_str() {
                "meteor" => {
                    let wordnet = WordNet::default_dir().and_then(|d| WordNet::load(&d).ok());
                    if wordnet.is_none() {
                        eprintln!(
                            "note: WordNet 3.0 not found (apt-get install wordnet-base \
                             wordnet-sense-index, or set FASTRL_WORDNET); METEOR uses exact \
                             and stem matches only"
                        );
                    }
                    Box::new(Meteor { wordnet })
                }
                "bleu" => Box::new(Bleu),
                "rouge_l" => Box::new(Rouge { n: 0 }),
                "rouge_2" => Box::new(Rouge { n: 2 }),
                "bertscore" => Box::new(crate::encoder::BertScore(shared()?)),
                "semantic" => Box::new(crate::encoder::Semantic(shared()?)),
                "rating" => Box::new(crate::reward_model::Rating {
                    head: crate::reward_model::RatingHead::load(rating_head)?,
                    encoder: shared()?,
                }),
                other => {
                    return Err(TrainerError::Config(format!(
                        "unknown reward {other:?}; known: {NAMES:?}"
                    )))
                }
            })
        })
        .collect()
}

/// Byte ranges of the sentences of `text`: a sentence ends after `.`, `!` or `?` followed
/// by whitespace or the end (a run of them stays together); trailing text without a
/// terminator is the last sentence. Whitespace between sentences belongs to none.
pub fn sentence_spans(text: &str) -> Vec<(usize, usize)> {
    let b = text.as_bytes();
    let mut spans = Vec::new();
    let mut start = None;
    let mut i = 0;
    while i < b.len() {
        if start.is_none() && !b[i].is_ascii_whitespace() {
            start = Some(i);
        }
        if matches!(b[i], b'.' | b'!' | b'?') {
            let mut j = i + 1;
            while j < b.len() && matches!(b[j], b'.' | b'!' | b'?') {
                j += 1;
            }
            if j == b.len() || b[j].is_ascii_whitespace() {
                if let Some(s) = start.take() {
                    spans.push((s, j));
                }
            }
            i = j;
            continue;
        }
        i += 1;
    }
    if let Some(s) = start {
        let end = text.trim_end().len();
        if end > s {
            spans.push((s, end));
        }
    }
    spans
}

/// Fine-grained placement (FineGrainedRLHF style) of one reward over a batch: each
/// sentence of a response is scored against the reference and `score / n_sentences`
/// lands on the token that completes the sentence, so a row's total is its mean sentence
/// score, on the scale of the sequence-level form. `tokens[row]` are the response's
/// token ids, `decode` gives the text of a token prefix; returns `[B * r_len]`.
pub fn sentence_channel(
    reward: &dyn Reward,
    tokens: &[Vec<i64>],
    references: &[String],
    r_len: usize,
    decode: &dyn Fn(&[i64]) -> Result<String, TrainerError>,
) -> Result<Vec<f32>, TrainerError> {
    let mut out = vec![0.0f32; tokens.len() * r_len];
    for (row, (toks, reference)) in tokens.iter().zip(references).enumerate() {
        let text = decode(toks)?;
        let spans = sentence_spans(&text);
        if spans.is_empty() {
            continue;
        }
        // Text length after each token.
        let ends: Vec<usize> = (1..=toks.len())
            .map(|j| decode(&toks[..j]).map(|t| t.len()))
            .collect::<Result<_, _>>()?;
        for &(s, e) in &spans {
            let sentence = &text[s..e];
            let score = reward.score(sentence, reference);
            if !score.is_finite() {
                return Err(TrainerError::Reward(format!(
                    "{} returned {score} for sentence {sentence:?} of row {row}; fix the \
                     reward: a non-finite score would corrupt the update",
                    reward.name()
                )));
            }
            let j = ends.iter().position(|&l| l >= e).unwrap_or(toks.len() - 1);
            out[row * r_len + j] += (score / spans.len() as f64) as f32;
        }
    }
    Ok(out)
}

/// Scores every response with every reward: `[reward][row]`. A non-finite score stops
/// with the reward, the row and the texts, so it never reaches the optimiser.
pub fn score_all(
    rewards: &[Box<dyn Reward>],
    responses: &[String],
    references: &[String],
) -> Result<Vec<Vec<f32>>, TrainerError> {
    rewards
        .iter()
        .map(|r| {
            r.score_batch(responses, references)
                .into_iter()
                .zip(responses.iter().zip(references))
                .enumerate()
                .map(|(i, (s, (h, y)))| {
                    if s.is_finite() {
                        Ok(s as f32)
                    } else {
                        Err(TrainerError::Reward(format!(
                            "{} returned {s} for row {i} (response {h:?}, reference {y:?}); \
                             fix the reward: a non-finite score would corrupt the update",
                            r.name()
                        )))
                    }
                })
                .collect()
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Broken;
    impl Reward for Broken {
        fn name(&self) -> &str {
            "broken"
        }
        fn score(&self, _: &str, _: &str) -> f64 {
            f64::NAN
        }
    }

    #[test]
    fn sentences_split_where_a_reader_would() {
        let t = "hi there. how are you?? fine";
        let spans: Vec<&str> = sentence_spans(t).iter().map(|&(s, e)| &t[s..e]).collect();
        assert_eq!(spans, ["hi there.", "how are you??", "fine"]);
        assert_eq!(sentence_spans("  "), vec![]);
        let t = "3.5 is a number. ok ";
        let spans: Vec<&str> = sentence_spans(t).iter().map(|&(s, e)| &t[s..e]).collect();
        assert_eq!(spans, ["3.5 is a number.", "ok"]);
    }

    #[test]
    fn sentence_scores_land_on_their_last_tokens() {
        // One "token" per character, so token j completes the text's byte j.
        let text = "ab. cd!";
        let toks: Vec<i64> = text.bytes().map(|b| b as i64).collect();
        let decode = |ids: &[i64]| -> Result<String, TrainerError> {
            Ok(ids.iter().map(|&i| i as u8 as char).collect())
        };
        struct Len;
        impl Reward for Len {
            fn name(&self) -> &str {
                "len"
            }
            fn score(&self, h: &str, _: &str) -> f64 {
                h.len() as f64
            }
        }
        let ch = sentence_channel(&Len, &[toks], &["x".into()], 9, &decode).unwrap();
        // "ab." ends at token 2 (score 3 / 2), "cd!" at token 6 (score 3 / 2).
        let mut want = vec![0.0f32; 9];
        want[2] = 1.5;
        want[6] = 1.5;
        assert_eq!(ch, want);
        let e = sentence_channel(&Broken, &[vec![104, 46]], &["x".into()], 2, &decode)
            .unwrap_err()
            .to_string();
        assert!(e.contains("broken returned NaN for sentence"), "{e}");
    }

    #[test]
    fn scores_are_the_metrics_and_nan_stops() {
        let none = std::path::Path::new("/nonexistent");
        let rs = build(&["bleu".into(), "rouge_l".into(), "rouge_2".into()], none).unwrap();
        let s = score_all(
            &rs,
            &["the cat sat on the mat".into()],
            &["the cat sat on the mat".into()],
        )
        .unwrap();
        for r in &s {
            assert!((r[0] - 1.0).abs() < 1e-6, "{s:?}");
        }
        let broken: Vec<Box<dyn Reward>> = vec![Box::new(Broken)];
        let e = score_all(&broken, &["a".into()], &["b".into()]).unwrap_err();
        assert!(
            e.to_string().contains("broken returned NaN for row 0"),
            "{e}"
        );
        assert!(build(&["bertscore9".into()], none).is_err());
        let e = build(&["rating".into()], none).err().unwrap().to_string();
        assert!(e.contains("reward-model"), "{e}");
    }
}
