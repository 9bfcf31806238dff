//! # composer-core
//!
//! The math of **Fast RL** ("Fair and Stable reward composition for RL fine-tuning of
//! language models", Li et al., EMNLP 2024) as a `#![no_std]`, allocation-free library:
//!
//! | paper | item |
//! |---|---|
//! | Eq. (4), (5): mirror-descent weight update | [`FastRl::update`](composers::fastrl::FastRl) via [`Composer::update`] |
//! | Eq. (6): composition | [`compose()`] |
//! | Eq. (7): KL penalty | [`kl_penalty()`], [`KlEstimator`], [`KlController`] |
//! | Algorithm 1, line 11: advantages and target values | [`gae()`], [`whiten()`] |
//! | Algorithm 1, lines 8-11 in one pass | [`fused_pass()`] |
//! | Theorems 1 and 2 | [`Diagnostics`] |
//! | beyond the paper: reference z-scores, the KL ball, Hedge's eta, optimistic steps | [`Normalization::Reference`], [`reference_stats`], [`ball`](composers::ball), [`AutoEta`], [`UpdateRule`] |
//! | critic-free group-relative advantages (GRPO, RLOO, REINFORCE++, GDPO) | [`group_advantages()`] |
//!
//! Baseline composers ([`Fixed`], [`Lagrangian`]) sit behind the same [`Composer`]
//! trait so a trainer swaps them by configuration, and every composer's state saves to
//! a fixed-layout byte record ([`StateRecord`]).
//!
//! Per-token inputs are accepted as `f32` or [`bf16`] storage
//! ([`Storage`]); all arithmetic is `f32` (the weight update and batch reductions use
//! `f64` accumulators). Callers pass slices; the hot functions never allocate.
//!
//! ```
//! use composer_core::{Channel, Composer, FastRl, FastRlConfig, Shape, MaskMode};
//! use composer_core::{fused_pass, reward_means, FusedInputs, FusedOutputs, FusedParams};
//!
//! let shape = Shape::new(2, 3);
//! let mask = [1u8, 1, 1, 1, 1, 0];
//! let bleu = [0.2f32, 0.4];                      // sequence-level, one per row
//! let safety = [0.9f32, 0.8, 0.7, 0.9, 0.9, 0.0]; // per-token
//! let channels = [Channel::Sequence(&bleu[..]), Channel::Dense(&safety[..])];
//!
//! let mut composer = FastRl::new(2, FastRlConfig::default()).unwrap();
//! let mut means = [0.0f32; 2];
//! reward_means(&channels, &mask, shape, MaskMode::Prefix, &mut means).unwrap();
//! let weights = composer.update(&means).unwrap(); // Eq. (4): BLEU lags, so it gains weight
//! assert!(weights[0] > weights[1]);
//!
//! let logp = [-1.0f32; 6];
//! let ref_logp = [-1.1f32; 6];
//! let values = [0.0f32; 6];
//! let (mut reward, mut adv, mut ret) = ([0.0f32; 6], [0.0f32; 6], [0.0f32; 6]);
//! let inputs = FusedInputs { channels: &channels, weights, logp: &logp, ref_logp: &ref_logp,
//!                            values: &values, mask: &mask };
//! let params = FusedParams::default();
//! let stats = fused_pass(&inputs, shape, &params,
//!     &mut FusedOutputs { rewards: &mut reward, advantages: &mut adv, returns: &mut ret }).unwrap();
//! assert_eq!(stats.valid_tokens, 5);
//! ```
#![no_std]
#![forbid(unsafe_code)]
#![cfg_attr(docsrs, feature(doc_auto_cfg))]

#[cfg(feature = "alloc")]
extern crate alloc;
#[cfg(feature = "std")]
extern crate std;

pub mod composers;
pub mod error;
mod names;
pub mod ops;
pub mod shape;
pub mod state;
pub mod storage;

pub use composers::ball::{kl_ball_max_weight, kl_ball_min_weight, kl_from_uniform};
pub use composers::baselines::{
    Constraint, ConstraintKind, Fixed, Lagrangian, LagrangianConfig, Squash,
};
pub use composers::composer::Composer;
pub use composers::diagnostics::Diagnostics;
pub use composers::fastrl::{
    AutoEta, ComposeOn, FastRl, FastRlConfig, Normalization, Smoothing, SmoothingKind, UpdateRule,
};
pub use composers::kind::ComposerKind;
pub use composers::on_reference::OnReference;
pub use error::{Error, Result};
pub use ops::compose::compose;
pub use ops::fused::{fused_pass, FusedInputs, FusedOutputs, FusedParams, FusedStats};
pub use ops::gae::{gae, GaeParams};
pub use ops::group::{
    broadcast_rows, group_advantages, group_scratch_len, Convention, GroupEstimator, GroupParams,
    GroupScale, GroupStats,
};
pub use ops::kl::{kl_penalty, KlController, KlStats};
pub use ops::kl_estimator::KlEstimator;
pub use ops::reduce::reward_means;
pub use ops::reference_stats::reference_stats;
pub use ops::whiten::{whiten, WhitenStats};
pub use shape::{Channel, MaskMode, Shape, MAX_REWARDS};
pub use state::{StateRecord, RECORD_LEN, RECORD_LEN_V1, RECORD_VERSION};
pub use storage::Storage;

/// Re-export of the `bf16` storage type accepted by every per-token function.
pub use half::bf16;

/// The README's code blocks, compiled and run as doc tests.
#[cfg(doctest)]
#[doc = include_str!("../../README.md")]
pub struct ReadmeDoctests;
