//! The `reward-model` command: fits the learned `rating` reward's head to the Chit Chat
//! ratings and writes it where the config's `rating` reward reads it.

use crate::config::Config;
use crate::error::TrainerError;
use crate::jobs::stages::project_root;
use crate::rewards::encoder::{find_minilm, Encoder};
use crate::rewards::rating::{train, RatingHead};
use std::time::Instant;

/// Fits and saves the head; prints its validation error against the mean predictor.
pub fn fit(cfg: &Config, max_train: usize, max_val: usize) -> Result<RatingHead, TrainerError> {
    let root = project_root()?;
    let convs = fastrl_data::chitchat::load(&fastrl_data::chitchat::find(&root)?)?;
    let enc = Encoder::load(&find_minilm(&root)?, tch::Device::Cpu)?;
    let t0 = Instant::now();
    let head = train(&enc, &convs, max_train, max_val, cfg.run.seed)?;
    let path = cfg.rating_head();
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(|e| TrainerError::io(dir, e))?;
    }
    head.save(&path)?;
    crate::say!(
        "rating head fitted on {} conversations in {:.0} s; validation MSE {:.4} vs {:.4} \
         for the mean predictor ({} conversations) -> {}",
        head.n_train,
        t0.elapsed().as_secs_f64(),
        head.val_mse,
        head.val_mse_baseline,
        head.n_val,
        path.display()
    );
    Ok(head)
}
