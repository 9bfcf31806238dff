//! The diversity statistics of GEM-metrics' `NGramStats` (which RL4LMs reports and the
//! paper's m_eval uses: conditional entropy of 3-grams, vocabulary size of 3-grams without
//! punctuation, mean prediction length without punctuation), over tokenised texts.
//!
//! GEM tokenises with nltk's `word_tokenize`; [`diversity`] uses sacrebleu's 13a tokens
//! instead (nltk's tokenizer needs the punkt model, which cannot be fetched here), then
//! lowercases; "nopunct" drops tokens that are a single ASCII punctuation character
//! (Python's `string.punctuation`). The formulas are GEM's, tested against them.

use std::collections::HashMap;

/// Statistics of the n-grams of one order.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct NGramOrder {
    /// Distinct n-grams / all n-grams (0 when there is none).
    pub distinct: f64,
    /// Number of distinct n-grams.
    pub vocab_size: usize,
    /// Number of n-grams that occur exactly once.
    pub unique: usize,
    /// Shannon entropy (bits) of the n-gram distribution.
    pub entropy: f64,
    /// `H(w_n | w_1..w_{n-1})` from n-gram and (n-1)-gram counts (orders 2 and 3).
    pub cond_entropy: Option<f64>,
}

/// GEM's `NGramStats` for one token stream.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct NGramStats {
    /// Sum of lengths.
    pub total_length: usize,
    /// Mean length.
    pub mean_pred_length: f64,
    /// Population standard deviation of lengths.
    pub std_pred_length: f64,
    /// Median length.
    pub median_pred_length: f64,
    /// Shortest.
    pub min_pred_length: usize,
    /// Longest.
    pub max_pred_length: usize,
    /// Orders 1, 2, 3.
    pub orders: [NGramOrder; 3],
}

fn counts(data: &[Vec<String>], n: usize) -> (HashMap<&[String], usize>, usize) {
    let mut m: HashMap<&[String], usize> = HashMap::new();
    let mut total = 0;
    for inst in data {
        for g in inst.windows(n) {
            *m.entry(g).or_insert(0) += 1;
            total += 1;
        }
    }
    (m, total)
}

/// The statistics of `data` (each element one prediction's tokens). Empty input gives zeros.
pub fn ngram_stats(data: &[Vec<String>]) -> NGramStats {
    let mut s = NGramStats::default();
    if data.is_empty() {
        return s;
    }
    let mut lens: Vec<usize> = data.iter().map(Vec::len).collect();
    let n = lens.len() as f64;
    s.total_length = lens.iter().sum();
    s.mean_pred_length = s.total_length as f64 / n;
    s.std_pred_length = (lens
        .iter()
        .map(|&l| (l as f64 - s.mean_pred_length).powi(2))
        .sum::<f64>()
        / n)
        .sqrt();
    lens.sort_unstable();
    let k = lens.len();
    s.median_pred_length = if k % 2 == 1 {
        lens[k / 2] as f64
    } else {
        (lens[k / 2 - 1] + lens[k / 2]) as f64 / 2.0
    };
    s.min_pred_length = lens[0];
    s.max_pred_length = lens[k - 1];
    let mut prev: Option<(HashMap<&[String], usize>, usize)> = None;
    for order in 1..=3 {
        let (freqs, total) = counts(data, order);
        let o = &mut s.orders[order - 1];
        o.vocab_size = freqs.len();
        o.distinct = if total > 0 {
            freqs.len() as f64 / total as f64
        } else {
            0.0
        };
        o.unique = freqs.values().filter(|&&c| c == 1).count();
        let tf = total as f64;
        o.entropy = -freqs
            .values()
            .map(|&c| c as f64 / tf * (c as f64 / tf).log2())
            .sum::<f64>();
        if let Some((ctx, ctx_total)) = &prev {
            // GEM computes this whenever the lower-order counts are non-empty.
            if !ctx.is_empty() {
                let ct = *ctx_total as f64;
                o.cond_entropy = Some(
                    -freqs
                        .iter()
                        .map(|(g, &c)| {
                            let pj = c as f64 / tf;
                            pj * (pj / (ctx[&g[..g.len() - 1]] as f64 / ct)).log2()
                        })
                        .sum::<f64>(),
                );
            }
        }
        prev = Some((freqs, total));
    }
    s
}

/// Python's `string.punctuation`.
fn is_punct(t: &str) -> bool {
    let mut c = t.chars();
    matches!((c.next(), c.next()), (Some(ch), None) if ch.is_ascii_punctuation())
}

/// Tokenises (13a), lowercases, and returns the statistics with and without punctuation.
pub fn diversity(texts: &[&str]) -> (NGramStats, NGramStats) {
    let lower: Vec<Vec<String>> = texts
        .iter()
        .map(|t| {
            crate::tokenize_13a(t.trim_end())
                .into_iter()
                .map(|w| w.to_lowercase())
                .collect()
        })
        .collect();
    let nopunct: Vec<Vec<String>> = lower
        .iter()
        .map(|v| v.iter().filter(|w| !is_punct(w)).cloned().collect())
        .collect();
    (ngram_stats(&lower), ngram_stats(&nopunct))
}
