//! One mapping per enum between its variants, their names and their integer codes, shared
//! by every front end (Python, C, CUDA parameters, the trainer's config).
//!
//! [`named_enum!`] gives a unit-variant enum `NAMES`, `name()`, `code()`, [`FromStr`],
//! `TryFrom<i32>` and [`Display`](core::fmt::Display) from one table, so the name a user
//! types, the code the C ABI passes and the variant the math reads cannot drift apart.
//!
//! [`FromStr`]: core::str::FromStr

/// Implements the name and code mapping of a unit-variant enum from one table
/// `Variant => (code, "name")`.
macro_rules! named_enum {
    ($ty:ident, $what:literal, { $($variant:path => ($code:literal, $name:literal)),+ $(,)? }) => {
        impl $ty {
            /// Every accepted name, in code order.
            pub const NAMES: &'static [&'static str] = &[$($name),+];

            /// The name this variant is written as in configs, Python and reports.
            pub const fn name(self) -> &'static str {
                match self {
                    $($variant => $name),+
                }
            }

            /// The integer code this variant has in the C ABI and the CUDA parameters.
            pub const fn code(self) -> i32 {
                match self {
                    $($variant => $code),+
                }
            }
        }

        impl core::str::FromStr for $ty {
            type Err = $crate::Error;

            /// Parses a name of [`Self::NAMES`]; anything else is
            /// [`Error::UnknownName`]($crate::Error::UnknownName).
            fn from_str(s: &str) -> $crate::error::Result<Self> {
                match s {
                    $($name => Ok($variant),)+
                    _ => Err($crate::Error::UnknownName {
                        what: $what,
                        expected: Self::NAMES,
                    }),
                }
            }
        }

        impl TryFrom<i32> for $ty {
            type Error = $crate::Error;

            /// Decodes a code of [`Self::code`]; anything else is
            /// [`Error::UnknownCode`]($crate::Error::UnknownCode).
            fn try_from(code: i32) -> $crate::error::Result<Self> {
                match code {
                    $($code => Ok($variant),)+
                    _ => Err($crate::Error::UnknownCode { what: $what, code }),
                }
            }
        }

        impl core::fmt::Display for $ty {
            fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
                f.write_str(self.name())
            }
        }
    };
}

pub(crate) use named_enum;
