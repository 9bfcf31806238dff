//! The reward interface and the batch scorer every caller uses.

use crate::error::TrainerError;

/// What a reward scores a response against.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Target {
    /// The reference reply (METEOR, BLEU, semantic similarity, ...; reference-free rewards
    /// ignore it).
    Reference,
    /// The last utterance of the context, the one the response answers (relevance).
    LastTurn,
}

/// The texts a batch of responses is scored against: `references[i]` and the last turn of
/// the context, `last_turns[i]`, for response `i`.
#[derive(Clone, Copy, Debug)]
pub struct Targets<'a> {
    /// The reference replies.
    pub references: &'a [String],
    /// The last utterance of each context ([`last_turn`]).
    pub last_turns: &'a [String],
}

impl<'a> Targets<'a> {
    /// The texts `reward` reads as its second argument.
    pub fn of(&self, reward: &dyn Reward) -> &'a [String] {
        match reward.target() {
            Target::Reference => self.references,
            Target::LastTurn => self.last_turns,
        }
    }
}

/// The last non-empty utterance of a corpus context (utterances separated by `<EOU>`);
/// the whole context, trimmed, when it has no marker.
pub fn last_turn(context: &str) -> String {
    fastrl_models::chat::turns_of(context)
        .pop()
        .map(|m| m.content)
        .unwrap_or_default()
}

/// A reward function: scores a generated response against the reference response (or,
/// for a [`Target::LastTurn`] reward, against the utterance it answers).
///
/// A score that cannot be computed is an `Err` (its cause kept); a non-finite score is
/// refused by [`score_all`] with the row and the texts. Each implementation documents
/// its true range.
pub trait Reward: Send + Sync {
    /// Its name in metrics and configs.
    fn name(&self) -> &str;
    /// What the second argument of [`Reward::score`] is.
    fn target(&self) -> Target {
        Target::Reference
    }
    /// Score of `response` given the `reference` (or the last turn, see [`Reward::target`]).
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

/// Scores every response with every reward, each against its [`Target`]: `[reward][row]`.
/// A failure keeps its cause; a non-finite score stops with the reward, the row and the
/// texts, so it never reaches the optimiser.
pub fn score_all(
    rewards: &[Box<dyn Reward>],
    responses: &[String],
    targets: Targets<'_>,
) -> Result<Vec<Vec<f32>>, TrainerError> {
    rewards
        .iter()
        .map(|r| score_one(&**r, responses, targets))
        .collect()
}

/// [`score_all`] for one reward: its score of every response, checked the same way.
pub fn score_one(
    r: &dyn Reward,
    responses: &[String],
    targets: Targets<'_>,
) -> Result<Vec<f32>, TrainerError> {
    let references = targets.of(r);
    if references.len() != responses.len() {
        return Err(TrainerError::Reward(format!(
            "{}: {} responses and {} texts to score them against",
            r.name(),
            responses.len(),
            references.len()
        )));
    }
    let scores = r
        .score_batch(responses, references)
        .map_err(|e| failed(r, e))?;
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
                    "{} returned {s} for row {i} (response {h:?}, against {y:?}); \
                     fix the reward: a non-finite score would corrupt the update",
                    r.name()
                )))
            }
        })
        .collect()
}
