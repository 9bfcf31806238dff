//! The commands' work, built from the library's parts: [`stages`] (setup, SFT, PPO,
//! evaluation of a model directory), [`train`] (the PPO loop with logs, eval curve and
//! checkpoints), [`limits`] (checks before work), [`run`] (the default job), [`grid`]
//! (the comparison grid), [`compare`] (the fair test), [`rating`] (fitting the learned reward) and [`sample`]
//! (generation).

pub mod compare;
pub mod grid;
pub mod limits;
pub mod rating;
pub mod run;
pub mod sample;
pub mod stages;
pub mod summary;
pub mod train;
