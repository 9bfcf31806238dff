//! Evaluation: [`evaluate`] (a policy on held-out pairs: reward means, per-prompt scores,
//! the paper's six raw m_eval metrics, diversity, samples) and [`bootstrap`] (paired
//! intervals over seeds and prompts). The experiment harness that compares composers
//! (the fair test, the grid, their reports and figures) is the `fastrl-experiments`
//! crate, so training links no plotting.

pub mod bootstrap;
pub mod evaluate;
