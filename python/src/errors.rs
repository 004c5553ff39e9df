//! liverkit errors as Python exceptions. The exception classes are defined
//! in Python (`liverkit/errors.py`), because file errors must also be
//! `OSError`s and the others `ValueError`s, which takes multiple
//! inheritance; this module picks the class by the error's kind and fills
//! in `.path`, `.field`, `.expected` and `.found`.

use pyo3::prelude::*;
use pyo3::types::PyDict;

use liverkit::{Error, ErrorKind};

/// The class name in `liverkit.errors` for each kind of error.
fn class_name(kind: ErrorKind) -> &'static str {
    match kind {
        ErrorKind::Read => "FileError",
        ErrorKind::Write => "WriteError",
        ErrorKind::Truncated => "TruncatedError",
        ErrorKind::Header => "HeaderError",
        ErrorKind::Data => "DataError",
        ErrorKind::Unsupported => "UnsupportedError",
        ErrorKind::GridMismatch => "GridMismatchError",
        ErrorKind::Parameter => "ParameterError",
        _ => "LiverkitError",
    }
}

/// The operating system's error number of a read or write error.
fn errno(e: &Error) -> Option<i32> {
    let source = match e {
        Error::Read { source, .. } | Error::Write { source, .. } => source,
        _ => return None,
    };
    source.raw_os_error().or(match source.kind() {
        std::io::ErrorKind::NotFound => Some(2),          // ENOENT
        std::io::ErrorKind::PermissionDenied => Some(13), // EACCES
        _ => None,
    })
}

fn build(py: Python<'_>, e: &Error) -> PyResult<PyErr> {
    let module = py.import("liverkit.errors")?;
    let class = module.getattr(class_name(e.kind()))?;
    let kwargs = PyDict::new(py);
    kwargs.set_item("path", e.path().map(|p| p.display().to_string()))?;
    kwargs.set_item("field", e.field())?;
    kwargs.set_item("expected", e.expected())?;
    kwargs.set_item("found", e.found())?;
    kwargs.set_item("errno", errno(e))?;
    let instance = class.call((e.to_string(),), Some(&kwargs))?;
    Ok(PyErr::from_value(instance))
}

/// The library names parameters in backticks in its messages (see
/// `liverkit::Error::render_parameters`); Python shows them as the keyword
/// a caller writes (`margin_mm=`). The parameter of a parameter error keeps
/// its bare name, which is also the exception's `.field`. This is the
/// bindings' one place for it.
fn as_keywords(e: Error) -> Error {
    match e.render_parameters(|name| Some(format!("{name}="))) {
        Error::Parameter {
            name,
            value,
            expected,
        } => Error::Parameter {
            name: name.trim_end_matches('=').to_string(),
            value,
            expected,
        },
        e => e,
    }
}

/// The Python exception for a liverkit error.
pub fn to_py(py: Python<'_>, e: Error) -> PyErr {
    let e = as_keywords(e);
    match build(py, &e) {
        Ok(err) => err,
        // The package is not importable (a broken install): say what failed.
        Err(import) => pyo3::exceptions::PyRuntimeError::new_err(format!("{e} (and {import})")),
    }
}
