//! Builds rewards from their [`RewardKind`]s: the one place a kind becomes a reward.

use crate::error::TrainerError;
use crate::rewards::encoder::{find_minilm, Encoder, Shared};
use crate::rewards::kind::RewardKind;
use crate::rewards::rating::{Rating, RatingHead};
use crate::rewards::reward::Reward;
use crate::rewards::similarity::{BertScore, Relevance, Semantic};
use crate::rewards::text::{Bleu, Length, Meteor, Rouge, Sentiment};
use std::path::Path;
use std::sync::Arc;

/// What some rewards read besides their kind.
#[derive(Clone, Debug, PartialEq)]
pub struct RewardSettings {
    /// The `rating` reward's head (written by the `reward-model` command).
    pub rating_head: std::path::PathBuf,
    /// The `length` reward's band `[lo, hi]` of words.
    pub length_band: [usize; 2],
}

/// Builds `kinds`, in order. `bertscore`, `semantic`, `relevance` and `rating` share one
/// all-MiniLM-L6-v2 encoder (found by [`find_minilm`] from the current directory), on the
/// CPU; `rating` reads its head from `settings.rating_head`, `length` its band.
pub fn build(
    kinds: &[RewardKind],
    settings: &RewardSettings,
) -> Result<Vec<Box<dyn Reward>>, TrainerError> {
    let rating_head = settings.rating_head.as_path();
    let mut encoder: Option<Arc<Shared>> = None;
    let mut shared = || -> Result<Arc<Shared>, TrainerError> {
        if let Some(e) = &encoder {
            return Ok(e.clone());
        }
        let root = std::env::current_dir().map_err(|e| TrainerError::io(Path::new("."), e))?;
        let e = Shared::new(Encoder::load(&find_minilm(&root)?, tch::Device::Cpu)?);
        encoder = Some(e.clone());
        Ok(e)
    };
    kinds
        .iter()
        .map(|&k| -> Result<Box<dyn Reward>, TrainerError> {
            Ok(match k {
                RewardKind::Meteor => Box::new(Meteor::load()),
                RewardKind::Bleu => Box::new(Bleu),
                RewardKind::RougeL => Box::new(Rouge { n: 0 }),
                RewardKind::Rouge2 => Box::new(Rouge { n: 2 }),
                RewardKind::Bertscore => Box::new(BertScore(shared()?)),
                RewardKind::Semantic => Box::new(Semantic(shared()?)),
                RewardKind::Relevance => Box::new(Relevance(Semantic(shared()?))),
                RewardKind::Rating => {
                    let head = RatingHead::load(rating_head)?;
                    Box::new(Rating {
                        head,
                        encoder: shared()?,
                    })
                }
                RewardKind::Sentiment => Box::new(Sentiment),
                RewardKind::Length => {
                    let [lo, hi] = settings.length_band;
                    Box::new(Length { lo, hi })
                }
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rewards::reward::{score_all, Targets};

    /// `refs` as both the references and the last turns.
    fn against(refs: &[String]) -> Targets<'_> {
        Targets {
            references: refs,
            last_turns: refs,
        }
    }

    struct Broken;
    impl Reward for Broken {
        fn name(&self) -> &str {
            "broken"
        }
        fn score(&self, _: &str, _: &str) -> Result<f64, TrainerError> {
            Ok(f64::NAN)
        }
    }

    struct Failing;
    impl Reward for Failing {
        fn name(&self) -> &str {
            "failing"
        }
        fn score(&self, _: &str, _: &str) -> Result<f64, TrainerError> {
            Err(TrainerError::Tokenizer(
                "the encoder's tokenizer failed".into(),
            ))
        }
    }

    #[test]
    fn scores_are_the_metrics_and_nan_stops() {
        let none = &RewardSettings {
            rating_head: "/nonexistent".into(),
            length_band: [2, 4],
        };
        let kinds = [RewardKind::Bleu, RewardKind::RougeL, RewardKind::Rouge2];
        let rs = build(&kinds, none).unwrap();
        let names: Vec<&str> = rs.iter().map(|r| r.name()).collect();
        assert_eq!(names, ["bleu", "rouge_l", "rouge_2"]);
        let s = score_all(
            &rs,
            &["the cat sat on the mat".into()],
            against(&["the cat sat on the mat".into()]),
        )
        .unwrap();
        for r in &s {
            assert!((r[0] - 1.0).abs() < 1e-6, "{s:?}");
        }
        let broken: Vec<Box<dyn Reward>> = vec![Box::new(Broken)];
        let e = score_all(&broken, &["a".into()], against(&["b".into()])).unwrap_err();
        assert!(
            e.to_string().contains("broken returned NaN for row 0"),
            "{e}"
        );
        let e = build(&[RewardKind::Rating], none)
            .err()
            .unwrap()
            .to_string();
        assert!(e.contains("reward-model"), "{e}");
    }

    #[test]
    fn the_reference_free_rewards_read_the_response_and_the_band() {
        let settings = RewardSettings {
            rating_head: "/nonexistent".into(),
            length_band: [2, 4],
        };
        let rs = build(&[RewardKind::Sentiment, RewardKind::Length], &settings).unwrap();
        // vaderSentiment 3.3.2: "good" is 0.4404 whatever the reference; against the
        // band [2, 4] words, one word scores 1 - 1/4 and six words 1 - 2/4.
        let s = score_all(
            &rs,
            &["good".into(), "one two three four five six".into()],
            against(&["terrible awful".into(), "x".into()]),
        )
        .unwrap();
        assert!((s[0][0] - 0.4404).abs() < 1e-6, "{s:?}");
        assert!(
            (s[1][0] - 0.75).abs() < 1e-6 && (s[1][1] - 0.5).abs() < 1e-6,
            "{s:?}"
        );
    }

    #[test]
    fn a_failing_reward_keeps_its_cause() {
        let failing: Vec<Box<dyn Reward>> = vec![Box::new(Failing)];
        let e = score_all(&failing, &["a".into()], against(&["b".into()])).unwrap_err();
        assert!(matches!(e, TrainerError::RewardFailed { ref reward, .. } if reward == "failing"));
        let cause = std::error::Error::source(&e).map(|c| c.to_string());
        assert_eq!(
            cause.as_deref(),
            Some("tokenizer: the encoder's tokenizer failed")
        );
        assert!(!e.to_string().contains("NaN"), "{e}");
    }
}
