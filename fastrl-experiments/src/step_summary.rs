//! [`StepSummary`]: the fields of one `metrics.jsonl` line the fair test reads (the step,
//! the KL to the reference, the composer's weights). It parses a full line of the
//! trainer's records (the other fields are skipped) and a summarised one, as
//! `scripts/compare-records.sh pack` commits them (`docs/fair-test.md`, "records").

use fastrl_trainer::io::records::PerReward;
use serde::{Deserialize, Serialize};

/// What the analysis reads of one PPO step.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct StepSummary {
    /// The PPO step (from 1).
    pub step: usize,
    /// The mean per-token KL to the reference in this step's batch.
    pub kl: f64,
    /// The composer's weights this step composed with, by reward name.
    pub weights: PerReward,
}

#[cfg(test)]
mod tests {
    use super::*;
    use fastrl_trainer::io::records::StepMetrics;

    #[test]
    fn a_full_record_and_its_summary_read_the_same_and_a_missing_field_is_an_error() {
        let full = StepMetrics {
            step: 7,
            kl: 0.125,
            beta: 0.05,
            weights: [("a".to_string(), 0.25), ("b".to_string(), 0.75)].into(),
            ..StepMetrics::default()
        };
        let line = serde_json::to_string(&full).unwrap();
        let s: StepSummary = serde_json::from_str(&line).unwrap();
        assert_eq!((s.step, s.kl), (7, 0.125));
        assert_eq!(s.weights, full.weights);
        let back: StepSummary = serde_json::from_str(&serde_json::to_string(&s).unwrap()).unwrap();
        assert_eq!(back, s);
        let e = serde_json::from_str::<StepSummary>(r#"{"step": 1, "kl": 0.0}"#).unwrap_err();
        assert!(e.to_string().contains("missing field `weights`"), "{e}");
    }
}
