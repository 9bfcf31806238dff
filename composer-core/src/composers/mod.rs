//! The composers: the [`Composer`](composer::Composer) trait and what implements it (Fast
//! RL with its scale-free and bounded variants, fixed weights, the Lagrangian, the
//! on-reference wrapper), the KL ball the bounded variant projects into, the per-step
//! diagnostics, and the kind tag of a state record.

pub mod ball;
pub mod baselines;
pub mod composer;
pub mod diagnostics;
pub mod fastrl;
pub mod kind;
pub mod on_reference;
