//! Sentence placement (fine-grained, FineGrainedRLHF style): each sentence's score lands
//! on the token that completes the sentence.

use crate::error::TrainerError;
use crate::rewards::reward::{failed, Reward};

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
            let score = reward
                .score(sentence, reference)
                .map_err(|e| failed(reward, e))?;
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

#[cfg(test)]
mod tests {
    use super::*;

    struct Broken;
    impl Reward for Broken {
        fn name(&self) -> &str {
            "broken"
        }
        fn score(&self, _: &str, _: &str) -> Result<f64, TrainerError> {
            Ok(f64::NAN)
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
            fn score(&self, h: &str, _: &str) -> Result<f64, TrainerError> {
                Ok(h.len() as f64)
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
}
