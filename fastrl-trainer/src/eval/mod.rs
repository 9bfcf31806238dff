//! Evaluation and the composer comparison: [`evaluate`] (a policy on held-out pairs),
//! [`m_eval`] (the paper's aggregate), the grid's cells ([`grid`]), its report
//! ([`report`]) and figures ([`figures`], drawn by [`plot`]). The driver that runs the
//! cells is [`crate::jobs::grid`].

pub mod arms;
pub mod bootstrap;
pub mod evaluate;
pub mod fair;
pub mod fair_report;
pub mod figures;
pub mod grid;
pub mod interval_plot;
pub mod m_eval;
pub mod m_eval_rows;
pub mod plot;
pub mod report;
pub mod student_t;
