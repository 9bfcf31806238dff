//! m_eval's six metrics on resampled prompts, for the comparison's bootstrap: each
//! response is tokenised and scored against its reference once ([`MEvalRows::new`]), and
//! a resample (prompt indices, with repeats) is scored from those rows
//! ([`MEvalRows::metrics`]): corpus SacreBLEU from summed n-gram statistics, ROUGE as
//! per-response means, the diversity statistics from n-grams interned as numbers (the
//! counts of a resample are the sums of its rows', fed to `fastrl_metrics::cond_entropy`
//! as `fastrl_metrics::ngram_stats` feeds it). The result equals
//! [`fastrl_trainer::eval::evaluate::m_eval_metrics`] on the resampled texts (a test checks it);
//! recomputing that on every draw tokenised and stemmed every response again (8 minutes
//! of the tiny size's final report).

use fastrl_metrics::{cond_entropy, diversity_tokens, rouge_l, rouge_n, BleuStats};
use fastrl_trainer::io::records::MEvalMetrics;
use std::collections::HashMap;

/// One response's share of the metrics.
#[derive(Clone, Debug)]
struct Row {
    bleu: BleuStats,
    rouge_2: f64,
    rouge_l: f64,
    /// Ids of the 2-grams of the 13a tokens, lowercased (one per window).
    bigrams: Vec<u32>,
    /// Ids of their 3-grams (one per window).
    trigrams: Vec<u32>,
    /// Ids of the 3-grams without punctuation tokens.
    trigrams_nopunct: Vec<u32>,
    /// Tokens without punctuation.
    len_nopunct: usize,
}

/// Numbers for the n-grams of one run's responses.
#[derive(Default)]
struct Interner {
    ids: HashMap<Vec<String>, u32>,
}

impl Interner {
    fn windows(&mut self, tokens: &[String], n: usize) -> Vec<u32> {
        tokens
            .windows(n)
            .map(|g| {
                let next = self.ids.len() as u32;
                *self.ids.entry(g.to_vec()).or_insert(next)
            })
            .collect()
    }
}

/// Every response of one run, prepared for resampling.
#[derive(Clone, Debug)]
pub struct MEvalRows {
    rows: Vec<Row>,
    /// The 2-gram id of each 3-gram id's first two tokens (lowercased, with punctuation).
    prefix: Vec<u32>,
    /// How many ids of each kind (2-grams, 3-grams, 3-grams without punctuation).
    n_ids: [usize; 3],
}

impl MEvalRows {
    /// Responses `hyps[i]` to references `refs[i]` (`refs` may be longer: the first
    /// `hyps.len()` are read).
    pub fn new(hyps: &[&str], refs: &[&str]) -> MEvalRows {
        let (mut two, mut three, mut three_np) = (
            Interner::default(),
            Interner::default(),
            Interner::default(),
        );
        let mut prefix: Vec<u32> = Vec::new();
        let rows = hyps
            .iter()
            .zip(refs)
            .map(|(h, r)| {
                let (lower, nopunct) = diversity_tokens(h);
                let bigrams = two.windows(&lower, 2);
                let trigrams = three.windows(&lower, 3);
                for (k, &t) in trigrams.iter().enumerate() {
                    if t as usize == prefix.len() {
                        prefix.push(bigrams[k]);
                    }
                }
                Row {
                    bleu: BleuStats::of(h, r),
                    rouge_2: rouge_n(r, h, 2).fmeasure,
                    rouge_l: rouge_l(r, h).fmeasure,
                    bigrams,
                    trigrams,
                    trigrams_nopunct: three_np.windows(&nopunct, 3),
                    len_nopunct: nopunct.len(),
                }
            })
            .collect();
        let n_ids = [two.ids.len(), three.ids.len(), three_np.ids.len()];
        MEvalRows {
            rows,
            prefix,
            n_ids,
        }
    }

    /// The metrics of the responses `idx` (indices into the rows, repeats allowed).
    pub fn metrics(&self, idx: &[usize]) -> MEvalMetrics {
        let rows = || idx.iter().map(|&i| &self.rows[i]);
        let n = idx.len().max(1) as f64;
        let mut bleu = BleuStats::default();
        for r in rows() {
            bleu.add(&r.bleu);
        }
        let count = |n_ids: usize, of: &dyn Fn(&Row) -> &[u32]| {
            let mut c = vec![0usize; n_ids];
            let mut total = 0usize;
            for r in rows() {
                for &g in of(r) {
                    c[g as usize] += 1;
                }
                total += of(r).len();
            }
            (c, total)
        };
        let (c2, t2) = count(self.n_ids[0], &|r| &r.bigrams);
        let (c3, t3) = count(self.n_ids[1], &|r| &r.trigrams);
        let (c3np, _) = count(self.n_ids[2], &|r| &r.trigrams_nopunct);
        let present = c3
            .iter()
            .zip(&self.prefix)
            .filter(|(&c, _)| c > 0)
            .map(|(&c, &pre)| (c, c2[pre as usize]));
        let len_nopunct: usize = rows().map(|r| r.len_nopunct).sum();
        MEvalMetrics {
            sacrebleu: bleu.corpus_score().score,
            rouge_2: rows().map(|r| r.rouge_2).sum::<f64>() / n,
            rouge_l: rows().map(|r| r.rouge_l).sum::<f64>() / n,
            cond_entropy_3: cond_entropy(present, t3, t2),
            vocab_3_nopunct: c3np.iter().filter(|&&c| c > 0).count(),
            mean_length_nopunct: if idx.is_empty() {
                0.0
            } else {
                len_nopunct as f64 / n
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use fastrl_trainer::eval::evaluate::m_eval_metrics;
    use fastrl_trainer::rng::Rng;

    #[test]
    fn a_resample_scores_as_its_texts_do() {
        let hyps = [
            "I'm sorry to hear that. What happened?",
            "who's there?",
            "me too, I am trying to finish my homework!",
            "",
            "Yeah, he spams answers in the chats.",
            "good good good, I am good",
            "Awesome! What can I do for you?",
            "no",
            "no way",
        ];
        let refs = [
            "what happened to you?",
            "who's there?",
            "good I am trying to finish some homework",
            "hello",
            "Yeah, he spam answers in the actual chats",
            "I am good, thanks",
            "What can I do for you today?",
            "yes",
            "yes way",
        ];
        let rows = MEvalRows::new(&hyps, &refs);
        let mut rng = Rng::new(5);
        let mut draws: Vec<Vec<usize>> =
            vec![(0..9).collect(), vec![3, 3], vec![7], vec![8, 8, 7], vec![]];
        for _ in 0..30 {
            let k = 1 + rng.below(12);
            draws.push((0..k).map(|_| rng.below(9)).collect());
        }
        for idx in draws {
            let h: Vec<&str> = idx.iter().map(|&i| hyps[i]).collect();
            let r: Vec<&str> = idx.iter().map(|&i| refs[i]).collect();
            let (want, got) = (m_eval_metrics(&h, &r), rows.metrics(&idx));
            let close = |a: f64, b: f64| (a - b).abs() <= 1e-12 * (1.0 + a.abs());
            assert!(
                close(want.sacrebleu, got.sacrebleu),
                "{idx:?}: {want:?} {got:?}"
            );
            assert!(close(want.rouge_2, got.rouge_2), "{idx:?}");
            assert!(close(want.rouge_l, got.rouge_l), "{idx:?}");
            assert!(
                close(want.mean_length_nopunct, got.mean_length_nopunct),
                "{idx:?}"
            );
            assert_eq!(want.vocab_3_nopunct, got.vocab_3_nopunct, "{idx:?}");
            match (want.cond_entropy_3, got.cond_entropy_3) {
                (Some(a), Some(b)) => assert!(close(a, b), "{idx:?}: {a} {b}"),
                (a, b) => assert_eq!(a, b, "{idx:?}"),
            }
        }
        // The draws cover BLEU matches and 3-grams (not a comparison of zeros), 2-grams
        // without 3-grams (entropy 0), and no 2-grams (undefined).
        let all = rows.metrics(&(0..9).collect::<Vec<_>>());
        assert!(
            all.sacrebleu > 1.0 && all.cond_entropy_3.unwrap().abs() > 0.1,
            "{all:?}"
        );
        assert_eq!(
            rows.metrics(&[8, 8, 7]).cond_entropy_3.map(f64::abs),
            Some(0.0)
        );
        assert_eq!(rows.metrics(&[7]).cond_entropy_3, None);
    }
}
