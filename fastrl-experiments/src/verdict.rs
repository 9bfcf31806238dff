//! The fair test's per-run statistics and verdict rules (written before any run;
//! `docs/fair-test.md`): a run's per-prompt z-scores ([`RunZ`]) and their statistics
//! ([`ZStat`]), what one interval says ([`Outcome`], alone or replicated) and a claim's
//! [`Verdict`].

use fastrl_trainer::eval::bootstrap::Interval;

/// One run's per-prompt z-scores: `z[i][p]` for reward `i` and evaluation prompt `p`,
/// the response's score minus the starting policy's mean, in the starting policy's
/// standard deviations.
#[derive(Clone, Debug, PartialEq)]
pub struct RunZ {
    /// `[reward][prompt]`.
    pub z: Vec<Vec<f64>>,
}

impl RunZ {
    /// Each reward's mean z over `prompts`.
    pub fn means(&self, prompts: &[usize]) -> Vec<f64> {
        self.z
            .iter()
            .map(|zi| prompts.iter().map(|&p| zi[p]).sum::<f64>() / prompts.len().max(1) as f64)
            .collect()
    }

    /// The statistic `stat` over `prompts`.
    pub fn stat(&self, stat: ZStat, prompts: &[usize]) -> f64 {
        let m = self.means(prompts);
        let min = m.iter().cloned().fold(f64::INFINITY, f64::min);
        let max = m.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
        match stat {
            ZStat::Min => min,
            ZStat::Mean => m.iter().sum::<f64>() / m.len().max(1) as f64,
            ZStat::Spread => max - min,
        }
    }
}

/// A statistic of a run's per-reward mean z-scores.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ZStat {
    /// The smallest (the fairness claim: the worst-off reward).
    Min,
    /// The mean over rewards.
    Mean,
    /// The largest minus the smallest.
    Spread,
}

impl ZStat {
    /// Its name in reports.
    pub fn name(self) -> &'static str {
        match self {
            ZStat::Min => "min z",
            ZStat::Mean => "mean z",
            ZStat::Spread => "spread of z",
        }
    }
}

/// What one interval says about "X beats Y".
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// The interval lies above 0.
    Better,
    /// The interval lies below 0.
    Worse,
    /// The interval lies inside `(-margin, margin)`: no difference that matters.
    Equivalent,
    /// None of these.
    Unclear,
}

/// The equivalence margin of [`Outcome::Equivalent`] (in the statistic's units).
pub const MARGIN: f64 = 0.05;

impl Outcome {
    /// The outcome of `iv` (a difference X - Y where larger is better).
    pub fn of(iv: &Interval) -> Self {
        Outcome::replicated(iv, &[])
    }

    /// The outcome of a replicated comparison: `pooled` is the interval over every seed,
    /// `parts` the estimates of each set of seeds (the first set and its replication).
    /// Better (worse) needs the pooled interval above (below) 0 **and** every set's
    /// estimate on that side: a sign that one set of seeds does not reproduce is not
    /// claimed. Equivalent reads the pooled interval alone. With no `parts` this is
    /// [`Outcome::of`].
    pub fn replicated(pooled: &Interval, parts: &[f64]) -> Self {
        if pooled.lo > 0.0 && parts.iter().all(|&e| e > 0.0) {
            Outcome::Better
        } else if pooled.hi < 0.0 && parts.iter().all(|&e| e < 0.0) {
            Outcome::Worse
        } else if pooled.lo > -MARGIN && pooled.hi < MARGIN {
            Outcome::Equivalent
        } else {
            Outcome::Unclear
        }
    }
}

/// A claim's verdict from the outcomes of its comparisons (e.g. B - A and B - C on
/// m_eval and min z).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// Every comparison is [`Outcome::Better`].
    Agrees,
    /// Some comparison is [`Outcome::Worse`] or [`Outcome::Equivalent`] and not all
    /// are better.
    Disagrees,
    /// Otherwise.
    Inconclusive,
}

impl Verdict {
    /// The verdict of `outcomes` (empty: inconclusive).
    pub fn of(outcomes: &[Outcome]) -> Self {
        if !outcomes.is_empty() && outcomes.iter().all(|o| *o == Outcome::Better) {
            Verdict::Agrees
        } else if outcomes
            .iter()
            .any(|o| matches!(o, Outcome::Worse | Outcome::Equivalent))
        {
            Verdict::Disagrees
        } else {
            Verdict::Inconclusive
        }
    }

    /// Its words in reports.
    pub fn words(self) -> &'static str {
        match self {
            Verdict::Agrees => "agrees",
            Verdict::Disagrees => "disagrees",
            Verdict::Inconclusive => "inconclusive",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn run_statistics_are_over_the_per_reward_means() {
        let r = RunZ {
            z: vec![vec![1.0, 3.0], vec![-1.0, 0.0], vec![0.5, 0.5]],
        };
        // Means: 2, -0.5, 0.5.
        assert_eq!(r.stat(ZStat::Min, &[0, 1]), -0.5);
        assert_eq!(r.stat(ZStat::Mean, &[0, 1]), 2.0 / 3.0);
        assert_eq!(r.stat(ZStat::Spread, &[0, 1]), 2.5);
        // Prompt 1 twice: 3, 0, 0.5.
        assert_eq!(r.stat(ZStat::Min, &[1, 1]), 0.0);
    }

    #[test]
    fn outcomes_and_verdicts_follow_the_written_rules() {
        let iv = |lo: f64, hi: f64| Interval {
            estimate: (lo + hi) / 2.0,
            lo,
            hi,
        };
        assert_eq!(Outcome::of(&iv(0.01, 0.4)), Outcome::Better);
        assert_eq!(Outcome::of(&iv(-0.4, -0.01)), Outcome::Worse);
        assert_eq!(Outcome::of(&iv(-0.04, 0.04)), Outcome::Equivalent);
        assert_eq!(Outcome::of(&iv(-0.2, 0.3)), Outcome::Unclear);
        // Replicated: the pooled interval and both sets' signs.
        assert_eq!(
            Outcome::replicated(&iv(0.01, 0.4), &[0.1, 0.3]),
            Outcome::Better
        );
        assert_eq!(
            Outcome::replicated(&iv(0.01, 0.4), &[-0.02, 0.4]),
            Outcome::Unclear
        );
        assert_eq!(
            Outcome::replicated(&iv(-0.4, -0.01), &[-0.1, -0.3]),
            Outcome::Worse
        );
        assert_eq!(
            Outcome::replicated(&iv(-0.4, -0.01), &[0.01, -0.3]),
            Outcome::Unclear
        );
        assert_eq!(
            Outcome::replicated(&iv(-0.04, 0.04), &[0.03, -0.03]),
            Outcome::Equivalent
        );
        use Outcome::*;
        assert_eq!(
            Verdict::of(&[Better, Better, Better, Better]),
            Verdict::Agrees
        );
        assert_eq!(Verdict::of(&[Better, Worse]), Verdict::Disagrees);
        assert_eq!(Verdict::of(&[Better, Equivalent]), Verdict::Disagrees);
        assert_eq!(Verdict::of(&[Better, Unclear]), Verdict::Inconclusive);
        assert_eq!(Verdict::of(&[]), Verdict::Inconclusive);
    }
}
