//! `fastrl-experiments`: the experiment harness around `fastrl-trainer`, kept apart so
//! that training links no plotting or font library.
//!
//! - The fair test of the paper's claim ([`compare`], `fastrl-experiments compare`):
//!   [`arms`] and the settings they share, [`fair`] (per-run z-scores, paired
//!   comparisons with seed-level [`student_t`] intervals and the seeds x prompts
//!   bootstrap, gates, the conflict check, [`verdict`]s with a replication), its report
//!   and figures ([`fair_report`]).
//! - The composer grid ([`grid`], `fastrl-experiments grid`): its [`cells`], report
//!   ([`grid_report`]) and [`figures`].
//! - Shared: [`step_summary`] (what the analysis reads of `metrics.jsonl`), [`m_eval`] and [`m_eval_rows`] (the paper's aggregate normalised over runs),
//!   [`plot`] and [`interval_plot`] (PNG figures), [`error`].
//!
//! The rules the fair test applies were written before its runs: `docs/fair-test.md`.

#![forbid(unsafe_code)]

pub mod arms;
pub mod cells;
pub mod compare;
pub mod error;
pub mod fair;
pub mod fair_report;
pub mod figures;
pub mod grid;
pub mod grid_report;
pub mod interval_plot;
pub mod m_eval;
pub mod m_eval_rows;
pub mod plot;
pub mod step_summary;
pub mod student_t;
pub mod verdict;

pub use error::ExperimentError;
