//! [`ExperimentError`]: what the harness can fail with, the trainer's errors included.

use fastrl_trainer::TrainerError;

/// An error of the experiment harness.
#[derive(Debug, thiserror::Error)]
pub enum ExperimentError {
    /// The trainer failed (configuration, I/O, data, model, PPO).
    #[error(transparent)]
    Trainer(#[from] TrainerError),
    /// composer-core refused its input (e.g. calibration scores without spread).
    #[error(transparent)]
    Core(#[from] composer_core::Error),
    /// Records that cannot be analysed together (missing runs, mismatched shapes).
    #[error("data: {0}")]
    Data(String),
    /// A configuration of the harness (a comparison's settings) that cannot be used.
    #[error("config: {0}")]
    Config(String),
    /// A figure could not be drawn or written.
    #[error("plot: {0}")]
    Plot(String),
}
