//! ROUGE-N and ROUGE-L as `rouge_score.rouge_scorer.RougeScorer` (0.1.2) computes them
//! with its default tokenizer and no stemming.

use crate::bleu::py_space;
use std::collections::HashMap;

/// Precision, recall and F-measure.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Rouge {
    /// Precision.
    pub precision: f64,
    /// Recall.
    pub recall: f64,
    /// F-measure `2PR / (P + R)` (0 when both are 0).
    pub fmeasure: f64,
}

fn score(overlap: usize, pred: usize, target: usize) -> Rouge {
    let precision = overlap as f64 / pred.max(1) as f64;
    let recall = overlap as f64 / target.max(1) as f64;
    let fmeasure = if precision + recall > 0.0 {
        2.0 * precision * recall / (precision + recall)
    } else {
        0.0
    };
    Rouge {
        precision,
        recall,
        fmeasure,
    }
}

/// rouge-score's default tokenizer: lowercase, every run of characters outside `[a-z0-9]`
/// becomes a space, split, keep the `[a-z0-9]+` tokens.
pub fn rouge_tokenize(text: &str) -> Vec<String> {
    let lower = text.to_lowercase();
    let mapped: String = lower
        .chars()
        .map(|c| {
            if c.is_ascii_lowercase() || c.is_ascii_digit() {
                c
            } else {
                ' '
            }
        })
        .collect();
    mapped
        .split(py_space)
        .filter(|t| !t.is_empty())
        .map(str::to_string)
        .collect()
}

/// ROUGE-N of `prediction` against `target` (clipped n-gram overlap).
pub fn rouge_n(target: &str, prediction: &str, n: usize) -> Rouge {
    let (t, p) = (rouge_tokenize(target), rouge_tokenize(prediction));
    let count = |toks: &[String]| {
        let mut m: HashMap<Vec<String>, usize> = HashMap::new();
        if n > 0 {
            for w in toks.windows(n) {
                *m.entry(w.to_vec()).or_insert(0) += 1;
            }
        }
        m
    };
    let (tc, pc) = (count(&t), count(&p));
    let overlap: usize = tc
        .iter()
        .map(|(g, &c)| c.min(pc.get(g).copied().unwrap_or(0)))
        .sum();
    score(overlap, pc.values().sum(), tc.values().sum())
}

/// ROUGE-L of `prediction` against `target`: longest common subsequence of tokens;
/// all zeros when either side has no token.
pub fn rouge_l(target: &str, prediction: &str) -> Rouge {
    let (t, p) = (rouge_tokenize(target), rouge_tokenize(prediction));
    if t.is_empty() || p.is_empty() {
        return Rouge::default();
    }
    let mut prev = vec![0usize; p.len() + 1];
    let mut cur = vec![0usize; p.len() + 1];
    for ti in &t {
        for (j, pj) in p.iter().enumerate() {
            cur[j + 1] = if ti == pj {
                prev[j] + 1
            } else {
                prev[j + 1].max(cur[j])
            };
        }
        std::mem::swap(&mut prev, &mut cur);
    }
    let lcs = prev[p.len()];
    score(lcs, p.len(), t.len())
}
