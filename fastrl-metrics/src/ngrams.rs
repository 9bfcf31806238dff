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

/// N-gram counts in first-occurrence order (Python's dict order, which GEM sums in), with
/// an index for lookups. Summing in a fixed order keeps the entropies bit-identical from
/// run to run (a `HashMap`'s iteration order is not), so an evaluation repeats exactly.
struct Counts<'a> {
    order: Vec<(&'a [String], usize)>,
    index: HashMap<&'a [String], usize>,
    total: usize,
}

impl<'a> Counts<'a> {
    fn new(data: &'a [Vec<String>], n: usize) -> Self {
        let mut c = Counts {
            order: Vec::new(),
            index: HashMap::new(),
            total: 0,
        };
        for inst in data {
            for g in inst.windows(n) {
                match c.index.get(g) {
                    Some(&i) => c.order[i].1 += 1,
                    None => {
                        c.index.insert(g, c.order.len());
                        c.order.push((g, 1));
                    }
                }
                c.total += 1;
            }
        }
        c
    }

    fn count(&self, g: &[String]) -> usize {
        self.order[self.index[g]].1
    }
}

/// GEM's conditional entropy of n-grams given their first n-1 tokens, from counts:
/// `-sum_g p(g) log2(p(g) / p(prefix of g))` over `counts` = (count of each distinct
/// n-gram g, count of its prefix (n-1)-gram), with `total` n-grams and `ctx_total`
/// (n-1)-grams in all. GEM computes it whenever there are (n-1)-grams: `None` without.
pub fn cond_entropy(
    counts: impl IntoIterator<Item = (usize, usize)>,
    total: usize,
    ctx_total: usize,
) -> Option<f64> {
    if ctx_total == 0 {
        return None;
    }
    let (tf, ct) = (total as f64, ctx_total as f64);
    Some(
        -counts
            .into_iter()
            .map(|(c, prefix)| {
                let pj = c as f64 / tf;
                pj * (pj / (prefix as f64 / ct)).log2()
            })
            .sum::<f64>(),
    )
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
    let mut prev: Option<Counts<'_>> = None;
    for order in 1..=3 {
        let freqs = Counts::new(data, order);
        let o = &mut s.orders[order - 1];
        let distinct = freqs.order.len();
        o.vocab_size = distinct;
        o.distinct = if freqs.total > 0 {
            distinct as f64 / freqs.total as f64
        } else {
            0.0
        };
        o.unique = freqs.order.iter().filter(|&&(_, c)| c == 1).count();
        let tf = freqs.total as f64;
        o.entropy = -freqs
            .order
            .iter()
            .map(|&(_, c)| c as f64 / tf * (c as f64 / tf).log2())
            .sum::<f64>();
        if let Some(ctx) = &prev {
            o.cond_entropy = cond_entropy(
                freqs
                    .order
                    .iter()
                    .map(|&(g, c)| (c, ctx.count(&g[..g.len() - 1]))),
                freqs.total,
                ctx.total,
            );
        }
        prev = Some(freqs);
    }
    s
}

/// Python's `string.punctuation`.
fn is_punct(t: &str) -> bool {
    let mut c = t.chars();
    matches!((c.next(), c.next()), (Some(ch), None) if ch.is_ascii_punctuation())
}

/// One text's tokens as [`diversity`] counts them: 13a, lowercased; and the same without
/// punctuation tokens.
pub fn diversity_tokens(text: &str) -> (Vec<String>, Vec<String>) {
    let lower: Vec<String> = crate::tokenize_13a(text.trim_end())
        .into_iter()
        .map(|w| w.to_lowercase())
        .collect();
    let nopunct = lower.iter().filter(|w| !is_punct(w)).cloned().collect();
    (lower, nopunct)
}

/// Tokenises (13a), lowercases, and returns the statistics with and without punctuation.
pub fn diversity(texts: &[&str]) -> (NGramStats, NGramStats) {
    let (lower, nopunct): (Vec<Vec<String>>, Vec<Vec<String>>) =
        texts.iter().map(|t| diversity_tokens(t)).unzip();
    (ngram_stats(&lower), ngram_stats(&nopunct))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statistics_repeat_bit_for_bit() {
        // Many n-grams with different counts: summed in a map's iteration order (random
        // per map), the entropies differed in the last bits between calls.
        let words = ["a", "b", "c", "d", "e", "f", "g"];
        let mut x: u64 = 7;
        let data: Vec<Vec<String>> = (0..40)
            .map(|_| {
                (0..12)
                    .map(|_| {
                        x = x
                            .wrapping_mul(6364136223846793005)
                            .wrapping_add(1442695040888963407);
                        words[((x >> 33) % 7) as usize].to_string()
                    })
                    .collect()
            })
            .collect();
        let first = ngram_stats(&data);
        for _ in 0..20 {
            let again = ngram_stats(&data);
            for (a, b) in first.orders.iter().zip(&again.orders) {
                assert_eq!(a.entropy.to_bits(), b.entropy.to_bits());
                assert_eq!(
                    a.cond_entropy.map(f64::to_bits),
                    b.cond_entropy.map(f64::to_bits)
                );
            }
        }
        // And the sum is the entropy: for order 1 against a hand count.
        let mut counts = [0usize; 7];
        for t in data.iter().flatten() {
            counts[words.iter().position(|w| w == t).unwrap()] += 1;
        }
        let h: f64 = -counts
            .iter()
            .filter(|&&c| c > 0)
            .map(|&c| c as f64 / 480.0 * (c as f64 / 480.0).log2())
            .sum::<f64>();
        assert!((first.orders[0].entropy - h).abs() < 1e-12);
    }
}
