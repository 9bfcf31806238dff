//! Batch shape, mask semantics and reward channels.

use crate::error::Result;
use crate::error::{length, Error};
use crate::names::named_enum;

/// The largest number of reward channels a composer holds. State lives in fixed-size
/// arrays of this length so that nothing allocates and the state record has one layout.
pub const MAX_REWARDS: usize = 16;

/// A `[batch, len]` token grid, stored row-major: token `t` of row `b` is at `b * len + t`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Shape {
    /// Rows (sequences) in the batch, `B`.
    pub batch: usize,
    /// Tokens per row including padding, `T`.
    pub len: usize,
}

impl Shape {
    /// A `[batch, len]` shape.
    pub const fn new(batch: usize, len: usize) -> Self {
        Shape { batch, len }
    }

    /// `batch * len`, or [`Error::ShapeOverflow`].
    pub fn tokens(&self) -> Result<usize> {
        self.batch.checked_mul(self.len).ok_or(Error::ShapeOverflow)
    }
}

/// How the mask is read. Both agree when the only masked tokens are trailing padding.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum MaskMode {
    /// End-of-row semantics (trl, RL4LMs): each row's mask is a valid prefix (1s then
    /// 0s). The recursion starts at the last valid token with `V = 0` past it: nothing
    /// bootstraps past the end. A mask with a hole is an error
    /// ([`Error::MaskNotPrefix`]).
    #[default]
    Prefix,
    /// verl's carry-forward semantics: masked tokens anywhere in a row (tool output,
    /// observation turns) are skipped. They neither contribute a reward nor a value, and
    /// the recursion carries `V_next` and `A_next` across them unchanged. Outputs at
    /// masked positions are 0 (verl leaves the carried value there; its loss masks it).
    Carry,
}

named_enum!(MaskMode, "mask mode", {
    MaskMode::Prefix => (0, "prefix"),
    MaskMode::Carry => (1, "carry"),
});

/// One reward channel `r_i`: a score per sequence or a score per token.
#[derive(Clone, Copy, Debug)]
pub enum Channel<'a, T> {
    /// One score per row (`[batch]`); it lands on the row's last valid token, as trl and
    /// verl place sequence-level rewards.
    Sequence(&'a [T]),
    /// One score per token (`[batch * len]`, fine-grained rewards); masked positions are
    /// ignored.
    Dense(&'a [T]),
}

impl<T> Channel<'_, T> {
    /// Checks the channel's length against `shape`.
    pub(crate) fn check(&self, shape: Shape) -> Result<()> {
        match self {
            Channel::Sequence(s) => {
                length("rewards (sequence-level channel)", shape.batch, s.len())
            }
            Channel::Dense(d) => length("rewards (dense channel)", shape.tokens()?, d.len()),
        }
    }
}

/// Validates a channel list (1..=MAX_REWARDS channels with the right lengths) and the
/// mask length; returns the token count.
pub(crate) fn check_batch<T>(
    channels: &[Channel<'_, T>],
    mask: &[u8],
    shape: Shape,
) -> Result<usize> {
    check_channel_count(channels.len())?;
    let tokens = shape.tokens()?;
    for c in channels {
        c.check(shape)?;
    }
    length("mask", tokens, mask.len())?;
    Ok(tokens)
}

/// `1 <= n <= MAX_REWARDS`.
pub(crate) fn check_channel_count(n: usize) -> Result<()> {
    if n == 0 {
        Err(Error::NoRewards)
    } else if n > MAX_REWARDS {
        Err(Error::TooManyRewards {
            max: MAX_REWARDS,
            actual: n,
        })
    } else {
        Ok(())
    }
}
