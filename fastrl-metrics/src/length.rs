//! A length reward: 1 inside a band of word counts, falling linearly outside it.

use core::fmt;

/// Arguments that [`length_band`] rejects.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LengthBandError {
    /// `hi` is 0: the penalty divides by it.
    ZeroHi,
    /// `lo > hi`: the band is empty.
    LoAboveHi {
        /// The lower bound given.
        lo: usize,
        /// The upper bound given.
        hi: usize,
    },
}

impl fmt::Display for LengthBandError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::ZeroHi => write!(f, "length_band: `hi` must be >= 1, got 0"),
            Self::LoAboveHi { lo, hi } => {
                write!(f, "length_band: `lo` must be <= `hi` ({hi}), got lo = {lo}")
            }
        }
    }
}

impl std::error::Error for LengthBandError {}

/// How well `text`'s length sits in the band `[lo, hi]` of word counts, in `[0, 1]`.
///
/// With n the number of white-space-separated words (`text.split_whitespace().count()`,
/// Unicode white space),
///
/// ```text
/// d = lo - n   if n < lo,
///     n - hi   if n > hi,
///     0        otherwise;
/// length_band = max(0, 1 - d / hi).
/// ```
///
/// So the reward is 1 on the band and loses 1/hi per word outside it, on both sides
/// (a project reward, not an equation of the paper). Needs `1 <= hi` and `lo <= hi`;
/// otherwise it returns [`LengthBandError`] naming the bad argument.
pub fn length_band(text: &str, lo: usize, hi: usize) -> Result<f64, LengthBandError> {
    if hi == 0 {
        return Err(LengthBandError::ZeroHi);
    }
    if lo > hi {
        return Err(LengthBandError::LoAboveHi { lo, hi });
    }
    let n = text.split_whitespace().count();
    // lo <= hi, so at most one of the two is non-zero.
    let d = lo.saturating_sub(n) + n.saturating_sub(hi);
    Ok((1.0 - d as f64 / hi as f64).max(0.0))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(n: usize) -> String {
        vec!["w"; n].join(" ")
    }

    #[test]
    fn hand_derived() {
        // Band [5, 10].
        for n in [5, 7, 10] {
            assert_eq!(length_band(&words(n), 5, 10), Ok(1.0), "n = {n}");
        }
        // 2 words: d = 3, 1 - 3/10 = 0.7; 13 words: d = 3 as well.
        assert_eq!(length_band(&words(2), 5, 10), Ok(0.7));
        assert_eq!(length_band(&words(13), 5, 10), Ok(0.7));
        // Empty text: d = 5 -> 0.5.
        assert_eq!(length_band("", 5, 10), Ok(0.5));
        // 20 words: d = 10 -> 0; 25: 1 - 15/10 < 0 -> clamped to 0.
        assert_eq!(length_band(&words(20), 5, 10), Ok(0.0));
        assert_eq!(length_band(&words(25), 5, 10), Ok(0.0));
        // Band [0, 1]: 0 and 1 words in it, 2 words d = 1 -> 0.
        assert_eq!(length_band("", 0, 1), Ok(1.0));
        assert_eq!(length_band("one", 0, 1), Ok(1.0));
        assert_eq!(length_band("one two", 0, 1), Ok(0.0));
        // lo = hi = 4: 3 words d = 1 -> 0.75.
        assert_eq!(length_band(&words(3), 4, 4), Ok(0.75));
    }

    #[test]
    fn words_are_split_on_any_white_space() {
        // Tabs, newlines, runs, leading/trailing space, U+3000: 4 words.
        let text = "  one\ttwo\n\nthree\u{3000}four  ";
        assert_eq!(length_band(text, 4, 8), Ok(1.0));
        assert_eq!(length_band(text, 6, 8), Ok(0.75));
        // Punctuation is part of a word.
        assert_eq!(length_band("Hi , there !", 4, 4), Ok(1.0));
        assert_eq!(length_band(" \t\n ", 0, 3), Ok(1.0));
    }

    #[test]
    fn bad_arguments_are_errors() {
        assert_eq!(length_band("a", 0, 0), Err(LengthBandError::ZeroHi));
        let e = length_band("a", 7, 3).unwrap_err();
        assert_eq!(e, LengthBandError::LoAboveHi { lo: 7, hi: 3 });
        assert_eq!(
            e.to_string(),
            "length_band: `lo` must be <= `hi` (3), got lo = 7"
        );
        assert_eq!(
            LengthBandError::ZeroHi.to_string(),
            "length_band: `hi` must be >= 1, got 0"
        );
    }
}
