//! The reward interface and the batch scorer every caller uses.

use crate::error::TrainerError;

/// A reward function: scores a generated response against the reference response.
///
/// A score that cannot be computed is an `Err` (its cause kept); a non-finite score is
/// refused by [`score_all`] with the row and the texts. Each implementation documents
/// its true range.
pub trait Reward: Send + Sync {
    /// Its name in metrics and configs.
    fn name(&self) -> &str;
    /// Score of `response` given the `reference`.
    fn score(&self, response: &str, reference: &str) -> Result<f64, TrainerError>;
    /// Scores of many pairs (rewards with a model override this to batch).
    fn score_batch(
        &self,
        responses: &[String],
        references: &[String],
    ) -> Result<Vec<f64>, TrainerError> {
        responses
            .iter()
            .zip(references)
            .map(|(h, y)| self.score(h, y))
            .collect()
    }
}

/// Wraps a reward's failure with the reward's name.
pub fn failed(reward: &dyn Reward, e: TrainerError) -> TrainerError {
    TrainerError::RewardFailed {
        reward: reward.name().to_string(),
        source: Box::new(e),
    }
}

/// Scores every response with every reward: `[reward][row]`. A failure keeps its cause;
/// a non-finite score stops with the reward, the row and the texts, so it never reaches
/// the optimiser.
pub fn score_all(
    rewards: &[Box<dyn Reward>],
    responses: &[String],
    references: &[String],
) -> Result<Vec<Vec<f32>>, TrainerError> {
    rewards
        .iter()
        .map(|r| {
            let scores = r
                .score_batch(responses, references)
                .map_err(|e| failed(&**r, e))?;
            if scores.len() != responses.len() {
                return Err(TrainerError::Reward(format!(
                    "{} returned {} scores for {} responses",
                    r.name(),
                    scores.len(),
                    responses.len()
                )));
            }
            scores
                .into_iter()
                .zip(responses.iter().zip(references))
                .enumerate()
                .map(|(i, (s, (h, y)))| {
                    if s.is_finite() {
                        Ok(s as f32)
                    } else {
                        Err(TrainerError::Reward(format!(
                            "{} returned {s} for row {i} (response {h:?}, reference {y:?}); \
                             fix the reward: a non-finite score would corrupt the update",
                            r.name()
                        )))
                    }
                })
                .collect()
        })
        .collect()
}
