//! The paper's m_eval: the mean of six metrics, each min-max normalised across the
//! compared evaluations.

use crate::error::ExperimentError;
use fastrl_trainer::io::records::MEvalMetrics;

/// The six metrics of m_eval, as [`MEvalMetrics`] names them.
pub const M_EVAL: [&str; 6] = [
    "sacrebleu",
    "rouge_2",
    "rouge_l",
    "cond_entropy_3",
    "vocab_3_nopunct",
    "mean_length_nopunct",
];

/// m_eval of each of `evals` (`(label, metrics)`): each metric min-max normalised over
/// `evals` (0 when all agree), then averaged:
///
/// ```text
/// m_eval(e) = (1/6) sum_k (x_k(e) - min_e' x_k(e')) / (max_e' x_k(e') - min_e' x_k(e'))
/// ```
///
/// An undefined metric (a conditional entropy of responses with no 3-gram at all) stays
/// out of the bounds, so it moves no other evaluation's score, and scores 0 for its own
/// evaluation: no 3-gram is the least diverse output there is ([`MBounds`]). The
/// evaluations that leave one undefined are listed by [`MBounds::undefined`].
pub fn m_eval(evals: &[(String, &MEvalMetrics)]) -> Result<Vec<f64>, ExperimentError> {
    let bounds = MBounds::over(evals)?;
    Ok(evals.iter().map(|(_, e)| bounds.score(e)).collect())
}

/// Each metric's smallest and largest value over a set of evaluations: the min-max
/// normalisation of m_eval, applicable to evaluations outside the set (the comparison
/// normalises over arm C's runs as the paper does, and scores bootstrap resamples with
/// bounds of the full samples).
#[derive(Clone, Debug, PartialEq)]
pub struct MBounds {
    lo: [f64; 6],
    hi: [f64; 6],
}

impl MBounds {
    /// The bounds over `evals` (`(label, metrics)`), each metric over the evaluations
    /// that define it. An error only for a value that is not finite (a bug upstream).
    pub fn over(evals: &[(String, &MEvalMetrics)]) -> Result<Self, ExperimentError> {
        let mut b = MBounds {
            lo: [f64::INFINITY; 6],
            hi: [f64::NEG_INFINITY; 6],
        };
        for (label, e) in evals {
            for (k, name) in M_EVAL.iter().enumerate() {
                let Some(x) = e.get(name) else { continue };
                if !x.is_finite() {
                    return Err(ExperimentError::Data(format!(
                        "m_eval: {label} has {name} = {x}"
                    )));
                }
                b.lo[k] = b.lo[k].min(x);
                b.hi[k] = b.hi[k].max(x);
            }
        }
        Ok(b)
    }

    /// `(label, metric)` of every metric an evaluation of `evals` leaves undefined.
    pub fn undefined(evals: &[(String, &MEvalMetrics)]) -> Vec<(String, &'static str)> {
        evals
            .iter()
            .flat_map(|(label, e)| {
                M_EVAL
                    .iter()
                    .filter(|name| e.get(name).is_none())
                    .map(move |name| (label.clone(), *name))
            })
            .collect()
    }

    /// m_eval of `e` under these bounds: the mean over the six metrics of
    /// `(x - lo) / (hi - lo)` (0 for a metric on which the set agrees, or that `e`
    /// leaves undefined).
    pub fn score(&self, e: &MEvalMetrics) -> f64 {
        M_EVAL
            .iter()
            .enumerate()
            .map(|(k, name)| match e.get(name) {
                Some(x) if self.hi[k] > self.lo[k] => (x - self.lo[k]) / (self.hi[k] - self.lo[k]),
                _ => 0.0,
            })
            .sum::<f64>()
            / M_EVAL.len() as f64
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    pub(crate) fn metrics(v: [f64; 6]) -> MEvalMetrics {
        MEvalMetrics {
            sacrebleu: v[0],
            rouge_2: v[1],
            rouge_l: v[2],
            cond_entropy_3: Some(v[3]),
            vocab_3_nopunct: v[4] as usize,
            mean_length_nopunct: v[5],
        }
    }

    #[test]
    fn m_eval_normalises_each_metric_over_the_runs() {
        let a = metrics([1.0, 0.1, 0.2, 1.0, 10.0, 5.0]);
        let b = metrics([3.0, 0.3, 0.2, 2.0, 30.0, 5.0]);
        let c = metrics([2.0, 0.2, 0.2, 1.5, 20.0, 5.0]);
        let m = m_eval(&[("a".into(), &a), ("b".into(), &b), ("c".into(), &c)]).unwrap();
        // a is the minimum of four metrics, b the maximum; rouge_l and length are equal (0).
        assert_eq!(m[0], 0.0);
        assert!((m[1] - 4.0 / 6.0).abs() < 1e-12, "{m:?}");
        assert!((m[2] - 2.0 / 6.0).abs() < 1e-12, "{m:?}");
    }

    #[test]
    fn an_undefined_metric_stays_out_of_the_bounds_and_scores_the_bottom() {
        let a = metrics([1.0, 0.1, 0.2, 1.0, 10.0, 5.0]);
        let c = metrics([2.0, 0.2, 0.2, 3.0, 20.0, 5.0]);
        let mut b = metrics([3.0, 0.3, 0.2, 99.0, 30.0, 5.0]);
        b.cond_entropy_3 = None;
        let evals = [
            ("a".into(), &a),
            ("fixed-2r-s0".into(), &b),
            ("c".into(), &c),
        ];
        let m = m_eval(&evals).unwrap();
        // Entropy bounds from a and c only (1 .. 3): c scores 1 on it, b 0, a 0.
        // a: 0 everywhere; b: 1 on sacrebleu, rouge_2, vocab; c: 0.5 x 3 + 1.
        assert_eq!(m[0], 0.0);
        assert!((m[1] - 3.0 / 6.0).abs() < 1e-12, "{m:?}");
        assert!((m[2] - 2.5 / 6.0).abs() < 1e-12, "{m:?}");
        assert_eq!(
            MBounds::undefined(&evals),
            [("fixed-2r-s0".to_string(), "cond_entropy_3")]
        );
    }
}
