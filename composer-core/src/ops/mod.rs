//! The per-token and per-batch operations: composition (Eq. 6), the KL penalty (Eq. 7)
//! and its estimators, GAE, whitening, the fused pass, group-relative advantages,
//! reward means and reference statistics; the row kernels they share live here too.

pub mod compose;
pub(crate) mod expf;
pub(crate) mod forward;
pub mod fused;
pub mod gae;
pub mod group;
pub mod kl;
pub mod kl_estimator;
pub(crate) mod non_finite;
pub(crate) mod prepared;
pub mod reduce;
pub mod reference_stats;
pub(crate) mod row;
pub mod whiten;
