//! What the default job prints at its end: per reward, the validation means before and
//! after PPO with a 90% paired-bootstrap interval of the change over the validation
//! prompts; the same change in z units (the starting policy's per-response standard
//! deviation) and its mean over the rewards; and the path of the weights, the KL, the
//! critic's explained variance and the share of responses that end at end-of-turn.

use crate::error::TrainerError;
use crate::eval::bootstrap::{paired_bootstrap, BootstrapParams, Interval};
use crate::io::records::{EvalReport, StepMetrics};

/// One reward's change on the validation prompts.
#[derive(Clone, Debug, PartialEq)]
pub struct RewardChange {
    /// The reward's name.
    pub name: String,
    /// Mean before PPO.
    pub before: f64,
    /// Mean after PPO.
    pub after: f64,
    /// After minus before, with its 90% paired-bootstrap interval over prompts.
    pub change: Interval,
    /// The change over the starting policy's per-response standard deviation.
    pub z: Interval,
}

/// The before/after table of a run.
#[derive(Clone, Debug, PartialEq)]
pub struct Summary {
    /// Per reward, in the config's order.
    pub rewards: Vec<RewardChange>,
    /// The mean over rewards of the change in z units, with its interval.
    pub mean_z: Interval,
    /// Validation prompts.
    pub prompts: usize,
}

fn scores<'a>(e: &'a EvalReport, name: &str) -> Result<&'a [f64], TrainerError> {
    e.scores
        .get(name)
        .map(Vec::as_slice)
        .ok_or_else(|| TrainerError::Data(format!("the evaluation has no scores of reward {name}")))
}

/// The sample standard deviation (ddof 1) of `x`, at least `1e-12`.
fn sd(x: &[f64]) -> f64 {
    let n = x.len() as f64;
    let m = x.iter().sum::<f64>() / n;
    let v = x.iter().map(|a| (a - m).powi(2)).sum::<f64>() / (n - 1.0).max(1.0);
    v.sqrt().max(1e-12)
}

impl Summary {
    /// The change of every reward in `names` from `before` to `after` (the same
    /// validation prompts in the same order).
    pub fn of(
        names: &[&str],
        before: &EvalReport,
        after: &EvalReport,
    ) -> Result<Summary, TrainerError> {
        let p = BootstrapParams::default();
        let mut diffs: Vec<Vec<f64>> = Vec::with_capacity(names.len());
        let mut scales = Vec::with_capacity(names.len());
        let mut rewards = Vec::with_capacity(names.len());
        for &name in names {
            let (b, a) = (scores(before, name)?, scores(after, name)?);
            if a.len() != b.len() || b.is_empty() {
                return Err(TrainerError::Data(format!(
                    "reward {name}: {} scores before PPO and {} after; the two evaluations \
                     must score the same prompts",
                    b.len(),
                    a.len()
                )));
            }
            let d: Vec<f64> = a.iter().zip(b).map(|(x, y)| x - y).collect();
            let s = sd(b);
            let mean_of = |idx: &[usize], scale: f64| {
                idx.iter().map(|&i| d[i]).sum::<f64>() / idx.len() as f64 / scale
            };
            let change = paired_bootstrap(1, d.len(), &p, |_, idx| mean_of(idx, 1.0));
            let z = paired_bootstrap(1, d.len(), &p, |_, idx| mean_of(idx, s));
            rewards.push(RewardChange {
                name: name.to_string(),
                before: b.iter().sum::<f64>() / b.len() as f64,
                after: a.iter().sum::<f64>() / a.len() as f64,
                change,
                z,
            });
            diffs.push(d);
            scales.push(s);
        }
        let prompts = diffs.first().map_or(0, Vec::len);
        let k = diffs.len().max(1) as f64;
        let mean_z = paired_bootstrap(1, prompts, &p, |_, idx| {
            diffs
                .iter()
                .zip(&scales)
                .map(|(d, s)| idx.iter().map(|&i| d[i]).sum::<f64>() / idx.len() as f64 / s)
                .sum::<f64>()
                / k
        });
        Ok(Summary {
            rewards,
            mean_z,
            prompts,
        })
    }

    /// Whether every reward's validation mean ended above where it started.
    pub fn all_rose(&self) -> bool {
        self.rewards.iter().all(|r| r.after > r.before)
    }

    /// The table, one line per reward.
    pub fn lines(&self) -> Vec<String> {
        let mut out = vec![format!(
            "reward means on {} validation prompts (sampled), change with its 90% paired \
             bootstrap interval over prompts, and in z (the starting policy's SD):",
            self.prompts
        )];
        out.push(format!(
            "  {:10} {:>8} {:>8} {:>28} {:>26}",
            "reward", "before", "after", "change [90% CI]", "z [90% CI]"
        ));
        for r in &self.rewards {
            out.push(format!(
                "  {:10} {:>8.4} {:>8.4} {:>+10.4} [{:+.4}, {:+.4}] {:>+8.3} [{:+.3}, {:+.3}]",
                r.name,
                r.before,
                r.after,
                r.change.estimate,
                r.change.lo,
                r.change.hi,
                r.z.estimate,
                r.z.lo,
                r.z.hi
            ));
        }
        out.push(format!(
            "  mean z over the rewards {:+.3} [{:+.3}, {:+.3}]; every reward rose: {}",
            self.mean_z.estimate,
            self.mean_z.lo,
            self.mean_z.hi,
            if self.all_rose() { "yes" } else { "no" }
        ));
        out
    }
}

/// The path of a run's weights and diagnostics: about `points` evenly spaced steps of
/// `metrics`, each as one line (step, weights, batch reward means, KL, explained
/// variance, end-of-turn share).
pub fn path_lines(metrics: &[StepMetrics], points: usize) -> Vec<String> {
    if metrics.is_empty() {
        return Vec::new();
    }
    let n = metrics.len();
    let mut picks: Vec<usize> = (0..points.max(2))
        .map(|i| i * (n - 1) / (points.max(2) - 1))
        .collect();
    picks.dedup();
    let mut out = vec!["weights and diagnostics along the run (training batches):".to_string()];
    for i in picks {
        let m = &metrics[i];
        let w: Vec<String> = m
            .weights
            .iter()
            .map(|(k, v)| format!("{k} {v:.3}"))
            .collect();
        let r: Vec<String> = m
            .rewards
            .iter()
            .map(|(k, v)| format!("{k} {v:.3}"))
            .collect();
        out.push(format!(
            "  step {:>4}: weights {} | batch means {} | KL {:.3} | explained var {:+.2} | \
             end-of-turn {:.0}%",
            m.step,
            w.join(", "),
            r.join(", "),
            m.kl,
            m.explained_var,
            100.0 * m.eos_share
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    fn report(name: &str, s: &[f64]) -> EvalReport {
        let mut scores = BTreeMap::new();
        scores.insert(name.to_string(), s.to_vec());
        EvalReport {
            scores,
            ..EvalReport::default()
        }
    }

    #[test]
    fn the_change_and_its_z_are_by_hand_and_a_shift_of_every_prompt_has_a_point_interval() {
        // Every prompt rises by exactly 0.5: every bootstrap draw is 0.5. Before has
        // SD 1.2909944 (ddof 1 of 1, 2, 3, 4), so z = 0.5 / 1.2909944.
        let b = report("r", &[1.0, 2.0, 3.0, 4.0]);
        let a = report("r", &[1.5, 2.5, 3.5, 4.5]);
        let s = Summary::of(&["r"], &b, &a).unwrap();
        let r = &s.rewards[0];
        assert!((r.before - 2.5).abs() < 1e-12 && (r.after - 3.0).abs() < 1e-12);
        assert!((r.change.lo - 0.5).abs() < 1e-12 && (r.change.hi - 0.5).abs() < 1e-12);
        assert!((r.z.estimate - 0.5 / 1.290_994_448_735_805_6).abs() < 1e-12);
        assert!(s.all_rose());
        assert!((s.mean_z.estimate - r.z.estimate).abs() < 1e-12);
        // A reward missing from one evaluation is named.
        let e = Summary::of(&["q"], &b, &a).unwrap_err().to_string();
        assert!(e.contains("reward q"), "{e}");
    }
}
