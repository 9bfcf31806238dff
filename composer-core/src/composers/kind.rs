//! [`ComposerKind`]: which composer a state record belongs to.

use crate::names::named_enum;

/// Which composer wrote a state record. Its [`code`](ComposerKind::code) is the record's
/// `kind` field.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ComposerKind {
    /// [`FastRl`](crate::FastRl): mirror-descent weights, Eq. (4)-(5).
    FastRl,
    /// [`Fixed`](crate::Fixed): constant linear weights (also reward shaping `R - alpha*C`).
    Fixed,
    /// [`Lagrangian`](crate::Lagrangian): multipliers on reward thresholds.
    Lagrangian,
}

named_enum!(ComposerKind, "composer", {
    ComposerKind::FastRl => (1, "fastrl"),
    ComposerKind::Fixed => (2, "fixed"),
    ComposerKind::Lagrangian => (3, "lagrangian"),
});
