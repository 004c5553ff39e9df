//! `liverkit._native`: the PyO3 layer of the Python package.
//!
//! It converts arguments (numpy arrays, `Volume`s, paths), calls the core
//! crate with the GIL released on rayon threads, and returns each report as
//! the JSON text the command-line program prints, so that a result's
//! `.to_dict()` equals `liverkit … --json` by construction. The Python
//! package (`liverkit/__init__.py`) wraps these functions in typed, immutable
//! result objects; nothing here computes a number of its own.

#![deny(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod ablation;
mod convert;
mod errors;
mod plan;
mod remnant;
mod threads;

use std::path::PathBuf;

use liverkit::case::pages::volumes_page;
use numpy::{PyArray2, PyArray3};
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyTuple};

use liverkit::case::roles::{Files, RoleSpec};
use liverkit::io::ReadOptions;
use liverkit::volume::{LabelMap, Mask};
use liverkit::Grid;

use convert::{Geometry, Source};
use errors::to_py;
use threads::run_detached;

/// Reading options: the `read` dict every function takes (`series`,
/// `reference`, `seg_threshold`, `max_memory_gib`, `mask_series`, as on the
/// command line).
#[derive(FromPyObject)]
#[pyo3(from_item_all)]
pub(crate) struct ReadArgs {
    series: Option<String>,
    reference: Option<PathBuf>,
    seg_threshold: f64,
    max_memory_gib: f64,
    mask_series: bool,
}

impl ReadArgs {
    pub(crate) fn options(self, py: Python<'_>) -> PyResult<ReadOptions> {
        ReadOptions::checked(
            self.max_memory_gib,
            self.seg_threshold,
            self.series,
            self.reference,
        )
        .map(|o| o.with_mask_series(self.mask_series))
        .map_err(|e| to_py(py, e))
    }
}

/// The numeric options (name, unit, default, accepted range) as JSON: the
/// library's one list, which the Python signatures take their defaults from.
#[pyfunction]
fn quantities() -> PyResult<String> {
    to_json(&liverkit::vocabulary::QUANTITIES)
}

/// The report as JSON with its HTML page (`--report`, without the slices
/// and the 3D view, which need the command line's masks).
pub(crate) fn json_and_page<T: serde::Serialize>(
    py: Python<'_>,
    report: &T,
    page: liverkit::Result<liverkit::case::report_html::Page>,
) -> PyResult<(String, String)> {
    let page = page.map_err(|e| to_py(py, e))?;
    Ok((to_json(report)?, liverkit::case::report_html::render_page(&page)))
}

pub(crate) fn to_json<T: serde::Serialize>(value: &T) -> PyResult<String> {
    serde_json::to_string(value).map_err(|e| pyo3::exceptions::PyRuntimeError::new_err(e.to_string()))
}

/// An image or label map with its grid, as `liverkit.load` reads it.
#[pyclass(frozen, module = "liverkit._native", name = "Volume")]
pub struct PyVolume {
    pub(crate) data: convert::VolumeData,
    pub(crate) path: Option<PathBuf>,
    pub(crate) warnings: Vec<String>,
}

#[pymethods]
impl PyVolume {
    /// The voxels as a read-only numpy array indexed `[i, j, k]`, sharing
    /// the volume's memory (no copy).
    #[getter]
    fn array<'py>(slf: Bound<'py, Self>) -> PyResult<Bound<'py, PyAny>> {
        let this = slf.get();
        let container = slf.clone().into_any();
        // SAFETY: the array borrows memory owned by `this`, which `container`
        // keeps alive; the volume is frozen (never mutated) and the numpy
        // array is made read-only below.
        let arr = unsafe { convert::borrow_array(&this.data, container) };
        let kwargs = PyDict::new(slf.py());
        kwargs.set_item("write", false)?;
        arr.call_method("setflags", (), Some(&kwargs))?;
        Ok(arr)
    }

    /// Voxel spacing in mm along `i`, `j`, `k`.
    #[getter]
    fn spacing_mm(&self) -> (f64, f64, f64) {
        let s = self.data.grid().spacing_mm();
        (s[0], s[1], s[2])
    }

    /// The 4×4 voxel-to-world affine (RAS+ mm).
    #[getter]
    fn affine<'py>(&self, py: Python<'py>) -> Bound<'py, PyArray2<f64>> {
        let a = self.data.grid().affine();
        let rows = ndarray::Array2::from_shape_fn((4, 4), |(r, c)| a[(r, c)]);
        PyArray2::from_owned_array(py, rows)
    }

    /// Label names by value (empty for an image or an unnamed map).
    #[getter]
    fn labels(&self) -> std::collections::BTreeMap<i64, String> {
        match &self.data {
            convert::VolumeData::Labels(m) => m.names().clone(),
            convert::VolumeData::Image(_) => Default::default(),
        }
    }

    /// Directions of the `i`, `j`, `k` axes (`RAS`, `LPS`, …).
    #[getter]
    fn orientation(&self) -> String {
        self.data.grid().orientation().to_string()
    }

    /// Voxels along `i`, `j`, `k`.
    #[getter]
    fn shape(&self) -> (usize, usize, usize) {
        let d = self.data.grid().dims();
        (d[0], d[1], d[2])
    }

    /// `"labels"` for a label map, `"image"` for intensities.
    #[getter]
    fn kind(&self) -> &'static str {
        match &self.data {
            convert::VolumeData::Labels(_) => "labels",
            convert::VolumeData::Image(_) => "image",
        }
    }

    /// The file it was read from.
    #[getter]
    fn path(&self) -> Option<PathBuf> {
        self.path.clone()
    }

    /// What the reader warned about.
    #[getter]
    fn warnings(&self) -> Vec<String> {
        self.warnings.clone()
    }

    fn __repr__(&self) -> String {
        let d = self.data.grid().dims();
        let s = self.data.grid().spacing_mm();
        format!(
            "Volume({} {}x{}x{} at {:.4}x{:.4}x{:.4} mm, {}{})",
            self.kind(),
            d[0],
            d[1],
            d[2],
            s[0],
            s[1],
            s[2],
            self.orientation(),
            self.path
                .as_ref()
                .map(|p| format!(", {}", p.display()))
                .unwrap_or_default()
        )
    }
}

/// Reads an image or label map (NIfTI, NRRD, DICOM series or SEG).
#[pyfunction]
#[pyo3(signature = (path, kind, read))]
fn load(py: Python<'_>, path: PathBuf, kind: &str, read: ReadArgs) -> PyResult<PyVolume> {
    let read = read.options(py)?;
    let kind = kind.to_string();
    let p = path.clone();
    let (data, warnings) = py
        .detach(move || convert::load(&p, &kind, &read))
        .map_err(|e| to_py(py, e))?;
    Ok(PyVolume {
        data,
        path: Some(path),
        warnings: warnings.iter().map(|w| w.to_string()).collect(),
    })
}

/// A volume from an array and its geometry (what `Volume.from_array` makes).
#[pyfunction]
#[pyo3(signature = (array, spacing_mm=None, affine=None, names=None))]
fn volume_from_array(
    py: Python<'_>,
    array: &Bound<'_, PyAny>,
    spacing_mm: Option<[f64; 3]>,
    affine: Option<[[f64; 4]; 4]>,
    names: Option<std::collections::BTreeMap<i64, String>>,
) -> PyResult<PyVolume> {
    let geometry = Geometry { spacing_mm, affine };
    let data = convert::volume_of_array(py, array, &geometry, names.unwrap_or_default())?;
    Ok(PyVolume {
        data,
        path: None,
        warnings: Vec::new(),
    })
}

/// Label volumetry: the JSON of `liverkit volumes --json`.
#[pyfunction]
#[pyo3(signature = (source, spacing_mm=None, affine=None, masks=false, threads=None, *, read))]
#[allow(clippy::too_many_arguments)]
fn volumes(
    py: Python<'_>,
    source: &Bound<'_, PyAny>,
    spacing_mm: Option<[f64; 3]>,
    affine: Option<[[f64; 4]; 4]>,
    masks: bool,
    threads: Option<usize>,
    read: ReadArgs,
) -> PyResult<(String, String)> {
    let read = read.options(py)?;
    let geometry = Geometry { spacing_mm, affine };
    // A list of paths: mask files, as on the command line.
    if !source.is_instance_of::<pyo3::types::PyString>() {
        if let Ok(paths) = source.extract::<Vec<PathBuf>>() {
            let r = run_detached(py, threads, move || {
                liverkit::case::volumes::volumes_of_paths(&paths, true, &read)
            })?;
            return json_and_page(py, &r, volumes_page(&r));
        }
    }
    let r = match Source::of(py, source, "labels", &geometry, None)? {
        Source::Path(path) => run_detached(py, threads, move || {
            liverkit::case::volumes::volumes_of_paths(&[path], masks, &read)
        })?,
        Source::Map { name, map, warnings } => {
            let map = if masks { binarize(py, &map)? } else { map };
            run_detached(py, threads, move || {
                liverkit::case::volumes::volumes_of_map(&map, vec![name], warnings)
            })?
        }
    };
    json_and_page(py, &r, volumes_page(&r))
}

pub(crate) fn binarize(py: Python<'_>, map: &convert::MapRef<'_>) -> PyResult<convert::MapRef<'static>> {
    let mask = map.nonzero_mask();
    let (grid, data) = mask.into_parts();
    let m = LabelMap::new(
        grid,
        liverkit::LabelArray::U8(data.mapv(u8::from)),
        Default::default(),
    )
    .map_err(|e| to_py(py, e))?;
    Ok(convert::MapRef::Owned(Box::new(m)))
}

/// Exact Euclidean distance transform in mm (float32 array on the mask's
/// grid).
#[pyfunction]
#[pyo3(signature = (mask, spacing_mm=None, affine=None, signed=false, threads=None))]
fn distance_transform<'py>(
    py: Python<'py>,
    mask: &Bound<'py, PyAny>,
    spacing_mm: Option<[f64; 3]>,
    affine: Option<[[f64; 4]; 4]>,
    signed: bool,
    threads: Option<usize>,
) -> PyResult<Bound<'py, PyArray3<f32>>> {
    let geometry = Geometry { spacing_mm, affine };
    let transform = move |grid: &Grid, view: ndarray::ArrayView3<'_, bool>| {
        if signed {
            liverkit::distance::signed_distance_view_mm(grid, view)
        } else {
            liverkit::distance::distance_to_background_view_mm(grid, view)
        }
    };
    // A boolean array is read where it lies (no copy); other inputs become
    // a mask first.
    let d = if let Ok(borrowed) = mask.extract::<numpy::PyReadonlyArray3<'py, bool>>() {
        let view = borrowed.as_array();
        let s = view.shape();
        let grid = geometry
            .grid([s[0], s[1], s[2]], None)
            .map_err(|e| to_py(py, e))?;
        run_detached(py, threads, move || transform(&grid, view))?
    } else {
        let mask: Mask = convert::mask_of(py, mask, &geometry)?;
        run_detached(py, threads, move || transform(mask.grid(), mask.data().view()))?
    };
    let (_, data) = d.into_parts();
    Ok(PyArray3::from_owned_array(py, data))
}

/// Whether a role is given as label values or names (or a path), as on the
/// command line, rather than as a Volume or an array.
pub(crate) fn is_text_role(v: &Bound<'_, PyAny>) -> bool {
    v.is_instance_of::<pyo3::types::PyString>()
        || v.is_instance_of::<pyo3::types::PyInt>()
        || v.is_instance_of::<pyo3::types::PyList>()
        || v.is_instance_of::<PyTuple>()
}

/// A role argument: text as on the command line, or an in-memory mask or
/// label map registered in `files` under `<role>`.
pub(crate) fn role_spec(
    py: Python<'_>,
    files: &mut Files,
    role: &str,
    value: Option<&Bound<'_, PyAny>>,
    geometry: &Geometry,
    default_grid: Option<&Grid>,
) -> PyResult<Option<RoleSpec>> {
    let Some(v) = value else { return Ok(None) };
    if is_text_role(v) {
        let text = convert::spec_text(v)?;
        return RoleSpec::parse(role, &text).map(Some).map_err(|e| to_py(py, e));
    }
    let src = Source::of(py, v, role, geometry, default_grid)?;
    let Source::Map { name, map, .. } = src else {
        return Err(pyo3::exceptions::PyTypeError::new_err(format!(
            "{role}: expected label values or names, a path, a Volume or a numpy array"
        )));
    };
    let name = if files.inputs.contains(&name) {
        PathBuf::from(format!("<{role}>"))
    } else {
        name
    };
    files
        .insert(name.clone(), map.into_owned())
        .map_err(|e| to_py(py, e))?;
    Ok(Some(RoleSpec::File {
        path: name,
        labels: None,
    }))
}

/// Starts a case from its main label map (a path, a Volume or an array).
pub(crate) fn case_files(
    py: Python<'_>,
    labels: Option<&Bound<'_, PyAny>>,
    geometry: &Geometry,
    read: &ReadOptions,
) -> PyResult<Files> {
    let Some(labels) = labels else {
        return Files::new(None, read.clone()).map_err(|e| to_py(py, e));
    };
    match Source::of(py, labels, "labels", geometry, None)? {
        Source::Path(p) => {
            let read = read.clone();
            py.detach(move || Files::new(Some(&p), read))
                .map_err(|e| to_py(py, e))
        }
        Source::Map { name, map, warnings } => {
            let mut f = Files::with_map(name, map.into_owned(), read.clone());
            f.warnings = warnings;
            Ok(f)
        }
    }
}

pub(crate) fn main_grid(files: &Files) -> Option<Grid> {
    files.main_map().map(|m| m.grid().clone())
}

/// Days between two ISO dates (YYYY-MM-DD), as `liverkit pve` counts them.
#[pyfunction]
fn days_between(py: Python<'_>, pre: &str, post: &str) -> PyResult<f64> {
    liverkit::case::remnant::days_between(pre, post).map_err(|e| to_py(py, e))
}

/// The scan date of a DICOM input (YYYY-MM-DD), None for other formats.
#[pyfunction]
fn scan_date(py: Python<'_>, path: PathBuf) -> PyResult<Option<String>> {
    liverkit::io::scan_date(&path).map_err(|e| to_py(py, e))
}

/// The version of the package.
#[pyfunction]
fn version() -> &'static str {
    env!("CARGO_PKG_VERSION")
}

/// The header of an input as `liverkit info --json` prints it: one file, or
/// a DICOM series (a directory or its files).
#[pyfunction]
#[pyo3(signature = (paths, *, read))]
fn info(py: Python<'_>, paths: Vec<PathBuf>, read: ReadArgs) -> PyResult<String> {
    let read = read.options(py)?;
    let r = run_detached(py, None, move || liverkit::io::info::read_info(&paths, &read))?;
    to_json(&r)
}

#[pymodule]
fn _native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<PyVolume>()?;
    m.add_function(wrap_pyfunction!(load, m)?)?;
    m.add_function(wrap_pyfunction!(volume_from_array, m)?)?;
    m.add_function(wrap_pyfunction!(volumes, m)?)?;
    m.add_function(wrap_pyfunction!(distance_transform, m)?)?;
    m.add_function(wrap_pyfunction!(remnant::remnant, m)?)?;
    m.add_function(wrap_pyfunction!(remnant::pve, m)?)?;
    m.add_function(wrap_pyfunction!(ablation::target, m)?)?;
    m.add_function(wrap_pyfunction!(ablation::margin, m)?)?;
    m.add_function(wrap_pyfunction!(ablation::simulate, m)?)?;
    m.add_function(wrap_pyfunction!(info, m)?)?;
    m.add_function(wrap_pyfunction!(ablation::protocols, m)?)?;
    m.add_function(wrap_pyfunction!(plan::plan, m)?)?;
    m.add_function(wrap_pyfunction!(version, m)?)?;
    m.add_function(wrap_pyfunction!(quantities, m)?)?;
    m.add_function(wrap_pyfunction!(days_between, m)?)?;
    m.add_function(wrap_pyfunction!(scan_date, m)?)?;
    Ok(())
}
