//! A learned reward: a linear regression head on the frozen all-MiniLM-L6-v2 sentence
//! embedding, trained on the Chit Chat corpus's human ratings (witty, upbeat,
//! interesting; 1-10). The target is their mean mapped to [0, 1]; the input is the
//! conversation's text (its utterances joined, truncated by the encoder). The
//! `reward-model` command trains it; the `rating` reward scores a response with it.

use crate::error::TrainerError;
use crate::rewards::encoder::{Encoder, Shared};
use crate::rewards::reward::Reward;
use crate::rng::Rng;
use fastrl_data::chitchat::Conversation;
use fastrl_data::{split_of, Split};
use serde::{Deserialize, Serialize};
use std::path::Path;
use std::sync::Arc;
use tch::{Kind, Tensor};

/// The head and how it was fitted.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RatingHead {
    /// Weights over the embedding.
    pub w: Vec<f32>,
    /// Bias.
    pub b: f32,
    /// Conversations used for training / validation.
    pub n_train: usize,
    /// Validation conversations.
    pub n_val: usize,
    /// Validation mean squared error of the head.
    pub val_mse: f64,
    /// Validation mean squared error of predicting the training mean (the baseline).
    pub val_mse_baseline: f64,
}

/// The mean rating of a conversation mapped from [1, 10] to [0, 1].
fn target(c: &Conversation) -> Option<f32> {
    c.ratings
        .map(|r| ((r.witty + r.upbeat + r.interesting) / 3.0 - 1.0) / 9.0)
}

fn embed_all(enc: &Encoder, texts: &[String], batch: usize) -> Result<Tensor, TrainerError> {
    let mut out = Vec::new();
    for chunk in texts.chunks(batch) {
        let refs: Vec<&str> = chunk.iter().map(String::as_str).collect();
        out.push(enc.sentence_embeddings(&refs)?);
    }
    Ok(Tensor::cat(&out, 0))
}

/// Fits the head by ridge-regularised least squares (closed form, in f64) on the rated
/// training conversations, at most `max_train` of them, and reports the validation error
/// against the mean predictor.
pub fn train(
    enc: &Encoder,
    conversations: &[Conversation],
    max_train: usize,
    max_val: usize,
    seed: u64,
) -> Result<RatingHead, TrainerError> {
    let mut train = Vec::new();
    let mut val = Vec::new();
    for c in conversations {
        let Some(y) = target(c) else { continue };
        let text = c.dialogue.utterances.join(" ");
        match split_of(&c.dialogue.id) {
            Split::Train => train.push((text, y)),
            Split::Validation => val.push((text, y)),
            Split::Test => {}
        }
    }
    let mut rng = Rng::new(seed);
    rng.shuffle(&mut train);
    rng.shuffle(&mut val);
    train.truncate(max_train.max(1));
    val.truncate(max_val.max(1));
    if train.len() < 10 || val.is_empty() {
        return Err(TrainerError::Data(format!(
            "{} rated training and {} validation conversations: too few to fit a reward model",
            train.len(),
            val.len()
        )));
    }
    let (tx, ty): (Vec<String>, Vec<f32>) = train.into_iter().unzip();
    let (vx, vy): (Vec<String>, Vec<f32>) = val.into_iter().unzip();
    let xe = embed_all(enc, &tx, 32)?.to_kind(Kind::Double);
    let ve = embed_all(enc, &vx, 32)?.to_kind(Kind::Double);
    let y = Tensor::from_slice(&ty).to_kind(Kind::Double);
    let yv = Tensor::from_slice(&vy).to_kind(Kind::Double);
    // Centre, then (X'X + lambda I) w = X'y.
    let xm = xe.mean_dim(0, true, Kind::Double);
    let ym = y.mean(Kind::Double);
    let xc = &xe - &xm;
    let yc = &y - &ym;
    let d = xc.size()[1];
    let lambda = 1.0;
    let a = xc.tr().matmul(&xc) + Tensor::eye(d, (Kind::Double, xc.device())) * lambda;
    let w = Tensor::linalg_solve(&a, &xc.tr().matmul(&yc.unsqueeze(1)), true).squeeze_dim(1);
    let b = &ym - xm.squeeze_dim(0).dot(&w);
    let pred = ve.matmul(&w) + &b;
    let val_mse = (pred - &yv).square().mean(Kind::Double).double_value(&[]);
    let val_mse_baseline = (yv - &ym).square().mean(Kind::Double).double_value(&[]);
    Ok(RatingHead {
        w: Vec::try_from(&w.to_kind(Kind::Float))?,
        b: b.double_value(&[]) as f32,
        n_train: tx.len(),
        n_val: vx.len(),
        val_mse,
        val_mse_baseline,
    })
}

impl RatingHead {
    /// Writes the head as JSON (atomically).
    pub fn save(&self, path: &Path) -> Result<(), TrainerError> {
        let tmp = path.with_extension("tmp");
        let text = serde_json::to_string(self).map_err(|e| TrainerError::record(path, 0, e))?;
        std::fs::write(&tmp, text).map_err(|e| TrainerError::io(&tmp, e))?;
        std::fs::rename(&tmp, path).map_err(|e| TrainerError::io(path, e))
    }

    /// Reads a head written by [`RatingHead::save`].
    pub fn load(path: &Path) -> Result<Self, TrainerError> {
        let text = std::fs::read_to_string(path).map_err(|_| {
            TrainerError::Checkpoint(format!(
                "{} does not exist: train the reward model first (fastrl-trainer reward-model)",
                path.display()
            ))
        })?;
        serde_json::from_str(&text)
            .map_err(|e| TrainerError::Checkpoint(format!("{}: {e}", path.display())))
    }
}

/// The learned reward: the head's predicted rating of the response. A linear function of
/// a unit-norm embedding, so unbounded in principle: `|score - b| <= |w|`; about `[0, 1]`
/// on the ratings it was fitted to (their mean mapped from `[1, 10]`).
pub struct Rating {
    /// The encoder.
    pub encoder: Arc<Shared>,
    /// The head.
    pub head: RatingHead,
}

impl Reward for Rating {
    fn name(&self) -> &str {
        "rating"
    }
    fn score(&self, response: &str, reference: &str) -> Result<f64, TrainerError> {
        Ok(self.score_batch(&[response.to_string()], &[reference.to_string()])?[0])
    }
    fn score_batch(
        &self,
        responses: &[String],
        _references: &[String],
    ) -> Result<Vec<f64>, TrainerError> {
        let texts: Vec<&str> = responses.iter().map(String::as_str).collect();
        let e = self.encoder.with(|enc| enc.sentence_embeddings(&texts))?;
        let w = Tensor::from_slice(&self.head.w);
        let p = e.matmul(&w) + f64::from(self.head.b);
        Ok(Vec::try_from(&p.to_kind(Kind::Double))?)
    }
}
