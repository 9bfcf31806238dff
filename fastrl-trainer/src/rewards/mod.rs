//! Rewards: each scores a generated response against the reference response, at the
//! sequence level (the score lands on the response's last token, Eq. (6)) or per
//! sentence ([`sentence`]).
//!
//! - [`kind`]: the one list of reward names ([`kind::RewardKind`]);
//! - [`reward`]: the [`reward::Reward`] trait and the batch scorer;
//! - [`registry`]: kinds to rewards;
//! - [`text`]: METEOR, BLEU, ROUGE; [`similarity`]: BERTScore and semantic similarity on
//!   [`encoder`] (all-MiniLM-L6-v2); [`rating`]: the learned rating head;
//! - [`sentence`]: sentence placement.

pub mod encoder;
pub mod kind;
pub mod rating;
pub mod registry;
pub mod reward;
pub mod sentence;
pub mod similarity;
pub mod text;
