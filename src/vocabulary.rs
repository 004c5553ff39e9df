//! The request vocabulary's named choices: each option that takes one of a
//! few names (`bsa`, `telv`, `condition`, `applicator`) lists them here once,
//! as data, with the parameter they belong to. The command line builds its
//! possible values from [`Named::NAMES`] and Python parses with
//! [`std::str::FromStr`], so neither spells them again.

use crate::error::{parameter_error, Result};

/// A choice among names.
pub trait Named: Copy + PartialEq + 'static {
    /// The parameter the choice belongs to (`bsa`), as errors name it.
    const PARAMETER: &'static str;
    /// Every name a user may type, with its value, the default first.
    const NAMES: &'static [(&'static str, Self)];

    /// The name of this value.
    fn name(self) -> &'static str {
        Self::NAMES
            .iter()
            .find(|(_, v)| *v == self)
            .map_or("", |(n, _)| n)
    }
}

/// Parses a name of `T` (case-insensitive, surrounding space ignored).
///
/// # Errors
/// `Parameter` (`T::PARAMETER`) listing the names, for any other text.
pub fn parse<T: Named>(text: &str) -> Result<T> {
    let key = text.trim().to_ascii_lowercase();
    T::NAMES
        .iter()
        .find(|(n, _)| *n == key)
        .map(|(_, v)| *v)
        .ok_or_else(|| {
            let names: Vec<&str> = T::NAMES.iter().map(|(n, _)| *n).collect();
            parameter_error(T::PARAMETER, text, format!("one of {}", names.join(", ")))
        })
}

/// `FromStr` for a [`Named`] type.
macro_rules! from_str_by_name {
    ($t:ty) => {
        impl std::str::FromStr for $t {
            type Err = $crate::Error;
            fn from_str(s: &str) -> $crate::Result<Self> {
                $crate::vocabulary::parse(s)
            }
        }
    };
}
pub(crate) use from_str_by_name;
