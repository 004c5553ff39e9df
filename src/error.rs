//! The one error type of the crate.
//!
//! Every error names what it is about: the file (`path`), the field of the
//! file or the parameter (`field`), what was expected and what was found.
//! Variants are categories; their context selectors are crate-private, so new
//! causes can be added without breaking callers, who match on
//! [`Error::kind`] and read [`Error::field`].

use std::path::{Path, PathBuf};

use snafu::Snafu;

/// Result with the crate's [`Error`] as default error type.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that can go wrong in liverkit.
#[derive(Debug, Snafu)]
#[snafu(visibility(pub(crate)))]
#[non_exhaustive]
pub enum Error {
    /// The file could not be opened or read (missing file, permissions, I/O).
    #[snafu(display("{}: cannot read: {source}", path.display()))]
    Read {
        /// The file.
        path: PathBuf,
        /// The operating system's error.
        source: std::io::Error,
    },

    /// A header field holds a value liverkit cannot accept.
    #[snafu(display("{}: {field}: expected {expected}, found {found}", path.display()))]
    Header {
        /// The file.
        path: PathBuf,
        /// The header field, named as in the format's specification.
        field: String,
        /// What a valid file holds there.
        expected: String,
        /// What this file holds there.
        found: String,
    },

    /// The file ends before the data its header announces (or a compressed
    /// stream is corrupt).
    #[snafu(display("{}: {field}: file is truncated or corrupt: expected {expected}, found {found}", path.display()))]
    Truncated {
        /// The file.
        path: PathBuf,
        /// The part of the file that is incomplete (`header`, `extensions`, `voxel data`).
        field: String,
        /// What the header announces.
        expected: String,
        /// What the file holds.
        found: String,
    },

    /// Voxel values that the header allows but liverkit cannot accept (for
    /// example a float label map holding 2.5).
    #[snafu(display("{}: {field}: expected {expected}, found {found}", path.display()))]
    Data {
        /// The file.
        path: PathBuf,
        /// What is wrong (`voxel values`).
        field: String,
        /// What a valid file holds.
        expected: String,
        /// The first offending value and where it is.
        found: String,
    },

    /// A valid file that uses a feature liverkit does not read.
    #[snafu(display("{}: {field}: {found} is not supported; {hint}", path.display()))]
    Unsupported {
        /// The file.
        path: PathBuf,
        /// The header field that selects the feature.
        field: String,
        /// The value found.
        found: String,
        /// What to do instead.
        hint: String,
    },

    /// Two volumes that must share a voxel grid do not.
    #[snafu(display(
        "{left_name} and {right_name} are not on the same voxel grid ({reason}):\n  {left_name}: {left}\n  {right_name}: {right}"
    ))]
    GridMismatch {
        /// What was being combined, and why it failed (for example `max corner distance 3 mm > tolerance 0.001 mm`).
        reason: String,
        /// Name of the first volume (usually its file).
        left_name: String,
        /// Description of the first grid.
        left: String,
        /// Name of the second volume.
        right_name: String,
        /// Description of the second grid.
        right: String,
    },

    /// A parameter (function argument or command-line option) is out of range.
    #[snafu(display("{name}: expected {expected}, found {value}"))]
    Parameter {
        /// Parameter name as the caller wrote it.
        name: String,
        /// The value given.
        value: String,
        /// What is accepted.
        expected: String,
    },

    /// An output file could not be written. No partial file is left behind.
    #[snafu(display("{}: cannot write: {source}", path.display()))]
    Write {
        /// The target file.
        path: PathBuf,
        /// The operating system's error.
        source: std::io::Error,
    },
}

/// The category of an [`Error`], for callers that branch on it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorKind {
    /// See [`Error::Read`].
    Read,
    /// See [`Error::Header`].
    Header,
    /// See [`Error::Truncated`].
    Truncated,
    /// See [`Error::Data`].
    Data,
    /// See [`Error::Unsupported`].
    Unsupported,
    /// See [`Error::GridMismatch`].
    GridMismatch,
    /// See [`Error::Parameter`].
    Parameter,
    /// See [`Error::Write`].
    Write,
}

impl Error {
    /// A [`Error::Parameter`]: `name` was given `value`, `expected` says what
    /// is accepted.
    pub fn parameter(name: impl Into<String>, value: impl ToString, expected: impl Into<String>) -> Error {
        Error::Parameter {
            name: name.into(),
            value: value.to_string(),
            expected: expected.into(),
        }
    }

    /// The error with its parameter names rendered for one front end.
    ///
    /// The library names the caller's parameters as data (`margin_mm`,
    /// `max_memory_gib`): as the name of a [`Error::Parameter`], and in
    /// backticks inside what is expected (`` a liver mask (`liver`) ``). A
    /// front end renders them once, here: the command line as flags
    /// (`--margin-mm`), Python as keywords (`margin_mm=`). `render` gives the
    /// front end's spelling of a name, or `None` for a name it does not have
    /// (the name is then kept, without backticks).
    pub fn render_parameters(self, render: impl Fn(&str) -> Option<String>) -> Error {
        let text = |t: String| render_parameters(&t, &render);
        match self {
            Error::Parameter {
                name,
                value,
                expected,
            } => Error::Parameter {
                name: render(&name).unwrap_or(name),
                value,
                expected: text(expected),
            },
            Error::Header {
                path,
                field,
                expected,
                found,
            } => Error::Header {
                path,
                field,
                expected: text(expected),
                found,
            },
            Error::Data {
                path,
                field,
                expected,
                found,
            } => Error::Data {
                path,
                field,
                expected: text(expected),
                found,
            },
            Error::Truncated {
                path,
                field,
                expected,
                found,
            } => Error::Truncated {
                path,
                field,
                expected: text(expected),
                found,
            },
            Error::Unsupported {
                path,
                field,
                found,
                hint,
            } => Error::Unsupported {
                path,
                field,
                found,
                hint: text(hint),
            },
            e => e,
        }
    }

    /// The category of this error.
    pub fn kind(&self) -> ErrorKind {
        match self {
            Error::Read { .. } => ErrorKind::Read,
            Error::Header { .. } => ErrorKind::Header,
            Error::Truncated { .. } => ErrorKind::Truncated,
            Error::Data { .. } => ErrorKind::Data,
            Error::Unsupported { .. } => ErrorKind::Unsupported,
            Error::GridMismatch { .. } => ErrorKind::GridMismatch,
            Error::Parameter { .. } => ErrorKind::Parameter,
            Error::Write { .. } => ErrorKind::Write,
        }
    }

    /// The file this error is about, where there is one.
    pub fn path(&self) -> Option<&Path> {
        match self {
            Error::Read { path, .. }
            | Error::Header { path, .. }
            | Error::Truncated { path, .. }
            | Error::Data { path, .. }
            | Error::Unsupported { path, .. }
            | Error::Write { path, .. } => Some(path),
            Error::GridMismatch { .. } | Error::Parameter { .. } => None,
        }
    }

    /// The header field or parameter this error is about, where there is one.
    pub fn field(&self) -> Option<&str> {
        match self {
            Error::Header { field, .. }
            | Error::Truncated { field, .. }
            | Error::Data { field, .. }
            | Error::Unsupported { field, .. } => Some(field),
            Error::Parameter { name, .. } => Some(name),
            Error::Read { .. } | Error::GridMismatch { .. } | Error::Write { .. } => None,
        }
    }

    /// What was expected, where the error says.
    pub fn expected(&self) -> Option<&str> {
        match self {
            Error::Header { expected, .. }
            | Error::Truncated { expected, .. }
            | Error::Data { expected, .. }
            | Error::Parameter { expected, .. } => Some(expected),
            _ => None,
        }
    }

    /// What was found, where the error says.
    pub fn found(&self) -> Option<&str> {
        match self {
            Error::Header { found, .. }
            | Error::Truncated { found, .. }
            | Error::Data { found, .. }
            | Error::Unsupported { found, .. } => Some(found),
            Error::Parameter { value, .. } => Some(value),
            _ => None,
        }
    }
}

/// Builds a [`Error::Header`] for `path`; used by the readers.
pub(crate) fn header_error(
    path: &Path,
    field: impl Into<String>,
    expected: impl Into<String>,
    found: impl Into<String>,
) -> Error {
    Error::Header {
        path: path.to_path_buf(),
        field: field.into(),
        expected: expected.into(),
        found: found.into(),
    }
}

/// Builds a [`Error::Parameter`].
pub(crate) fn parameter_error(
    name: impl Into<String>,
    value: impl ToString,
    expected: impl Into<String>,
) -> Error {
    Error::parameter(name, value, expected)
}

/// A condition that does not stop the computation but must reach the user
/// (it is printed on stderr and goes into JSON output under `warnings`).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Warning {
    /// The file concerned, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub path: Option<PathBuf>,
    /// The header field or quantity concerned.
    pub field: String,
    /// What the user should know.
    pub message: String,
}

impl Warning {
    /// A warning about a quantity, not tied to a file.
    pub fn about(field: impl Into<String>, message: impl Into<String>) -> Self {
        Warning::new(None, field, message)
    }

    pub(crate) fn new(path: Option<&Path>, field: impl Into<String>, message: impl Into<String>) -> Self {
        Warning {
            path: path.map(Path::to_path_buf),
            field: field.into(),
            message: message.into(),
        }
    }
}

impl Warning {
    /// The warning with the parameter names in its message rendered for one
    /// front end, as [`Error::render_parameters`] does.
    pub fn render_parameters(&self, render: impl Fn(&str) -> Option<String>) -> Warning {
        Warning {
            path: self.path.clone(),
            field: self.field.clone(),
            message: render_parameters(&self.message, &render),
        }
    }
}

/// Replaces each parameter name in backticks (`` `margin_mm` ``: lower-case
/// letters, digits, `_` and `.`) with its rendering, or with the bare name
/// when `render` has none. Other backticked text is left as it is.
pub fn render_parameters(text: &str, render: impl Fn(&str) -> Option<String>) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(open) = rest.find('`') {
        out.push_str(&rest[..open]);
        let after = &rest[open + 1..];
        let Some(close) = after.find('`') else {
            out.push_str(&rest[open..]);
            return out;
        };
        let name = &after[..close];
        let is_name = name.starts_with(|c: char| c.is_ascii_lowercase())
            && name
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '.');
        if is_name {
            out.push_str(&render(name).unwrap_or_else(|| name.to_string()));
        } else {
            out.push('`');
            out.push_str(name);
            out.push('`');
        }
        rest = &after[close + 1..];
    }
    out.push_str(rest);
    out
}

/// Bytes in a GiB, for messages about the memory bound.
pub const GIB: f64 = (1u64 << 30) as f64;

/// The one memory bound. `need_bytes` (`None` when counting them overflowed)
/// must fit under `max_bytes` and in this machine's address space; else the
/// text of what is expected, naming the bound's parameter:
/// `` at most 16.0 GiB of voxel data (`max_memory_gib`) ``. Every reader and
/// the simulation's lattice check their size with it before allocating.
pub(crate) fn ensure_fits(
    need_bytes: Option<u64>,
    max_bytes: u64,
    what: &str,
) -> std::result::Result<(), String> {
    match need_bytes {
        Some(b) if b <= max_bytes && usize::try_from(b).is_ok() => Ok(()),
        _ => Err(format!(
            "at most {:.1} GiB of {what} (`max_memory_gib`)",
            max_bytes as f64 / GIB
        )),
    }
}

impl std::fmt::Display for Warning {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.path {
            Some(p) => write!(f, "{}: {}: {}", p.display(), self.field, self.message),
            None => write!(f, "{}: {}", self.field, self.message),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parameter_names_in_backticks_are_rendered_once() {
        let flag = |n: &str| (n != "unknown").then(|| format!("--{}", n.replace('_', "-")));
        assert_eq!(
            render_parameters(
                "a liver (`liver`), `max_memory_gib`; `unknown`, `Not A Name`, a ` alone",
                flag
            ),
            "a liver (--liver), --max-memory-gib; unknown, `Not A Name`, a ` alone"
        );
        let e = Error::parameter("exclude_capsule", true, "a liver mask (`liver`)");
        let e = e.render_parameters(|n| Some(format!("{n}=")));
        assert_eq!(
            e.to_string(),
            "exclude_capsule=: expected a liver mask (liver=), found true"
        );
    }

    #[test]
    fn one_memory_bound() {
        assert!(ensure_fits(Some(1 << 30), 1 << 30, "voxel data").is_ok());
        let text = ensure_fits(Some((1 << 30) + 1), 1 << 30, "voxel data").unwrap_err();
        assert_eq!(text, "at most 1.0 GiB of voxel data (`max_memory_gib`)");
        assert!(ensure_fits(None, u64::MAX, "voxels").is_err());
    }
}
