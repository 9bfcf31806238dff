//! Typed errors. Every variant names the argument, and the expected and actual value
//! where there is one.

use core::fmt;

/// Everything that can go wrong in this crate. No function panics on bad input; it
/// returns one of these.
#[derive(Clone, Copy, Debug, PartialEq)]
#[non_exhaustive]
pub enum Error {
    /// A slice has the wrong length.
    Length {
        /// Argument name.
        arg: &'static str,
        /// Length the shape requires.
        expected: usize,
        /// Length passed.
        actual: usize,
    },
    /// `n = 0` reward channels.
    NoRewards,
    /// More reward channels than [`MAX_REWARDS`](crate::shape::MAX_REWARDS).
    TooManyRewards {
        /// The maximum.
        max: usize,
        /// Number passed.
        actual: usize,
    },
    /// A batch with no rows, no columns, or no valid (unmasked) token where a mean is needed.
    EmptyBatch {
        /// Argument name.
        arg: &'static str,
    },
    /// `batch * len` does not fit in `usize`.
    ShapeOverflow,
    /// A NaN or infinite input value.
    NonFinite {
        /// Argument name.
        arg: &'static str,
        /// Flat index of the first offending element.
        index: usize,
    },
    /// A scalar parameter outside its domain.
    OutOfRange {
        /// Argument name.
        arg: &'static str,
        /// The domain, in words (e.g. `"[0, 1]"`).
        expected: &'static str,
        /// Value passed.
        actual: f64,
    },
    /// [`MaskMode::Prefix`](crate::MaskMode::Prefix) was asked for but a row's mask has a
    /// valid token after a masked one.
    MaskNotPrefix {
        /// Row index.
        row: usize,
        /// First valid position found after a masked one.
        position: usize,
    },
    /// All inputs were finite but an output overflowed `f32` (e.g. `k2` of a log-ratio of
    /// `1e30`). Nothing non-finite is ever returned as a result.
    Overflow {
        /// Output name.
        arg: &'static str,
        /// Row index.
        row: usize,
    },
    /// A state record buffer is shorter than [`RECORD_LEN`](crate::RECORD_LEN).
    RecordTooShort {
        /// Bytes required.
        expected: usize,
        /// Bytes given.
        actual: usize,
    },
    /// The record does not start with the magic bytes: not a composer state record.
    RecordMagic,
    /// The record was written by another layout version.
    RecordVersion {
        /// Version this build reads.
        expected: u32,
        /// Version found.
        actual: u32,
    },
    /// The record's checksum does not match its contents: it was corrupted.
    RecordChecksum {
        /// Checksum stored in the record.
        stored: u64,
        /// Checksum of the contents.
        computed: u64,
    },
    /// The record holds a field that is invalid for its kind (e.g. an unknown composer kind).
    RecordField {
        /// Field name.
        field: &'static str,
    },
    /// The record belongs to another composer kind or reward count than the one restoring it.
    RecordMismatch {
        /// Field that differs (`"kind"` or `"n"`).
        field: &'static str,
        /// Value of the composer restoring.
        expected: u32,
        /// Value in the record.
        actual: u32,
    },
    /// A reward is constant on the calibration set: its reference standard deviation is
    /// 0, so it cannot be normalised.
    ConstantReward {
        /// The reward's index.
        index: usize,
    },
    /// A group does not have the declared number of members (`group_size`): the group
    /// ids do not form whole groups.
    GroupSize {
        /// The group id.
        group: usize,
        /// Members declared.
        expected: usize,
        /// Members found.
        actual: usize,
    },
    /// Two options that cannot be combined.
    Incompatible {
        /// The option that needs another.
        arg: &'static str,
        /// Why, in words.
        reason: &'static str,
    },
    /// `Normalization::Reference` (or composing z-scores) before
    /// [`FastRl::set_reference`](crate::FastRl::set_reference) gave the reference
    /// statistics.
    NotCalibrated,
    /// A name that is not one of an enum's names (e.g. `"k4"` for a KL estimator).
    UnknownName {
        /// What was being named (e.g. `"KL estimator"`).
        what: &'static str,
        /// The accepted names.
        expected: &'static [&'static str],
    },
    /// An integer code that is not one of an enum's codes (C ABI).
    UnknownCode {
        /// What was being coded (e.g. `"KL estimator"`).
        what: &'static str,
        /// The code passed.
        code: i32,
    },
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Error::Length {
                arg,
                expected,
                actual,
            } => write!(f, "`{arg}` has length {actual}, expected {expected}"),
            Error::NoRewards => write!(f, "no reward channels (n = 0), expected at least 1"),
            Error::TooManyRewards { max, actual } => {
                write!(f, "{actual} reward channels, at most {max} are supported")
            }
            Error::EmptyBatch { arg } => {
                write!(f, "`{arg}` is empty: no rows or no valid (unmasked) token")
            }
            Error::ShapeOverflow => write!(f, "batch * len overflows usize"),
            Error::NonFinite { arg, index } => {
                write!(f, "`{arg}` holds a NaN or infinite value at index {index}")
            }
            Error::OutOfRange {
                arg,
                expected,
                actual,
            } => write!(f, "`{arg}` = {actual}, expected a value in {expected}"),
            Error::MaskNotPrefix { row, position } => write!(
                f,
                "`mask` row {row} has a valid token at position {position} after a masked one; \
                 MaskMode::Prefix needs 1s then 0s (use MaskMode::Carry for masks with holes)"
            ),
            Error::Overflow { arg, row } => write!(
                f,
                "`{arg}` overflowed f32 in row {row} although all inputs are finite; \
                 scale the inputs down"
            ),
            Error::RecordTooShort { expected, actual } => write!(
                f,
                "state record is {actual} bytes, expected {expected} (truncated?)"
            ),
            Error::RecordMagic => write!(f, "not a composer state record (bad magic bytes)"),
            Error::RecordVersion { expected, actual } => write!(
                f,
                "state record version {actual}, this build reads version {expected}"
            ),
            Error::RecordChecksum { stored, computed } => write!(
                f,
                "state record is corrupted: checksum {stored:#018x} stored, {computed:#018x} computed"
            ),
            Error::RecordField { field } => {
                write!(f, "state record field `{field}` holds an invalid value")
            }
            Error::RecordMismatch {
                field,
                expected,
                actual,
            } => write!(
                f,
                "state record `{field}` is {actual}, the composer restoring it has {expected}"
            ),
            Error::UnknownName { what, expected } => {
                write!(f, "unknown {what}, expected one of ")?;
                for (i, name) in expected.iter().enumerate() {
                    let sep = if i == 0 { "" } else { ", " };
                    write!(f, "{sep}\"{name}\"")?;
                }
                Ok(())
            }
            Error::ConstantReward { index } => write!(
                f,
                "reward {index} is constant on the calibration set (reference std 0): \
                 it cannot be normalised; drop it or calibrate on more varied samples"
            ),
            Error::GroupSize {
                group,
                expected,
                actual,
            } => write!(
                f,
                "`groups`: group {group} has {actual} members, expected {expected} (group_size); \
                 the ids do not form whole groups"
            ),
            Error::Incompatible { arg, reason } => write!(f, "`{arg}`: {reason}"),
            Error::NotCalibrated => write!(
                f,
                "normalization = reference needs the reference statistics first \
                 (FastRl::set_reference with the starting policy's per-reward mean and std)"
            ),
            Error::UnknownCode { what, code } => write!(f, "unknown {what} code {code}"),
        }
    }
}

impl core::error::Error for Error {}

/// Checks that `x` is finite.
pub(crate) fn finite(arg: &'static str, x: f32) -> Result<()> {
    if x.is_finite() {
        Ok(())
    } else {
        Err(Error::NonFinite { arg, index: 0 })
    }
}

/// Checks `lo <= x <= hi` (and finite).
pub(crate) fn in_range(
    arg: &'static str,
    x: f32,
    lo: f32,
    hi: f32,
    expected: &'static str,
) -> Result<()> {
    if x.is_finite() && x >= lo && x <= hi {
        Ok(())
    } else {
        Err(Error::OutOfRange {
            arg,
            expected,
            actual: x as f64,
        })
    }
}

/// Checks a slice length.
pub(crate) fn length(arg: &'static str, expected: usize, actual: usize) -> Result<()> {
    if expected == actual {
        Ok(())
    } else {
        Err(Error::Length {
            arg,
            expected,
            actual,
        })
    }
}

/// Result alias for this crate.
pub type Result<T, E = Error> = core::result::Result<T, E>;
