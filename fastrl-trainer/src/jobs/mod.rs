//! The commands' work, built from the library's parts: [`stages`] (setup, SFT, PPO,
//! evaluation of a model directory), [`train`] (the PPO loop with logs, eval curve and
//! checkpoints), [`limits`] (checks before work), [`run`] (the default job) with its
//! [`summary`], [`rating`] (fitting the learned reward) and [`sample`] (generation). The
//! fair test and the grid are in `fastrl-experiments`.

pub mod limits;
pub mod rating;
pub mod run;
pub mod sample;
pub mod stages;
pub mod summary;
pub mod train;
