//! `liverkit._native`: the PyO3 layer of the Python package.
//!
//! It converts arguments (numpy arrays, `Volume`s, paths), calls the core
//! crate with the GIL released on rayon threads, and returns each report as
//! the JSON text the command-line program prints, so that a result's
//! `.to_dict()` equals `liverkit … --json` by construction. The Python
//! package (`liverkit/__init__.py`) wraps these functions in typed, immutable
//! result objects; nothing here computes a number of its own.

#![deny(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod convert;
mod errors;
mod threads;

use std::path::PathBuf;

use numpy::{PyArray2, PyArray3};
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyTuple};

use liverkit::bioheat::applicator::{ApplicatorKind, Pose};
use liverkit::bioheat::protocols::Library;
use liverkit::bioheat::tissue::Parameters;
use liverkit::case::margin::margin_report;
use liverkit::case::remnant::{
    assess_case, check_pve_request, pve_report, AssessOptions, Patient, RemnantRequest, RemnantSpec,
    RemnantWords, Threshold,
};
use liverkit::case::roles::{Files, RoleSpec};
use liverkit::case::simulate::{simulate_case, write_outputs, SimulateCase};
use liverkit::case::target::target_report;
use liverkit::io::nifti::NiftiTemplate;
use liverkit::io::ReadOptions;
use liverkit::margin::MarginOptions;
use liverkit::progress::NoProgress;
use liverkit::remnant::formulas::{BsaFormula, LiverCondition, TelvFormula};
use liverkit::volume::{LabelMap, Mask};
use liverkit::{Error, Grid};

use convert::{Geometry, Source};
use errors::to_py;
use threads::run_detached;

/// Reading options: the `read` dict every function takes (`series`,
/// `reference`, `seg_threshold`, `max_memory_gib`, `mask_series`, as on the
/// command line).
#[derive(FromPyObject)]
#[pyo3(from_item_all)]
struct ReadArgs {
    series: Option<String>,
    reference: Option<PathBuf>,
    seg_threshold: f64,
    max_memory_gib: f64,
    mask_series: bool,
}

impl ReadArgs {
    fn options(self, py: Python<'_>) -> PyResult<ReadOptions> {
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

fn to_json<T: serde::Serialize>(value: &T) -> PyResult<String> {
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
) -> PyResult<String> {
    let read = read.options(py)?;
    let geometry = Geometry { spacing_mm, affine };
    // A list of paths: mask files, as on the command line.
    if !source.is_instance_of::<pyo3::types::PyString>() {
        if let Ok(paths) = source.extract::<Vec<PathBuf>>() {
            let r = run_detached(py, threads, move || {
                liverkit::case::volumes::volumes_of_paths(&paths, true, &read)
            })?;
            return to_json(&r);
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
    to_json(&r)
}

fn binarize(py: Python<'_>, map: &convert::MapRef<'_>) -> PyResult<convert::MapRef<'static>> {
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
fn is_text_role(v: &Bound<'_, PyAny>) -> bool {
    v.is_instance_of::<pyo3::types::PyString>()
        || v.is_instance_of::<pyo3::types::PyInt>()
        || v.is_instance_of::<pyo3::types::PyList>()
        || v.is_instance_of::<PyTuple>()
}

/// A role argument: text as on the command line, or an in-memory mask or
/// label map registered in `files` under `<role>`.
fn role_spec(
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
fn case_files(
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

fn main_grid(files: &Files) -> Option<Grid> {
    files.main_map().map(|m| m.grid().clone())
}

/// The patient and the threshold: the `check` dict of `remnant` and `pve`
/// (`height_cm`, `weight_kg`, `bsa`, `telv`, `condition`, `min_flr_pct`, as
/// on the command line).
#[derive(FromPyObject)]
#[pyo3(from_item_all)]
struct CheckArgs {
    height_cm: Option<f64>,
    weight_kg: Option<f64>,
    bsa: String,
    telv: String,
    condition: String,
    min_flr_pct: Option<f64>,
}

impl CheckArgs {
    fn options(&self) -> Result<AssessOptions, Error> {
        assess_options(
            self.height_cm,
            self.weight_kg,
            &self.bsa,
            &self.telv,
            &self.condition,
            self.min_flr_pct,
        )
    }
}

fn assess_options(
    height_cm: Option<f64>,
    weight_kg: Option<f64>,
    bsa: &str,
    telv: &str,
    condition: &str,
    min_flr_pct: Option<f64>,
) -> Result<AssessOptions, Error> {
    let patient = match (height_cm, weight_kg) {
        (Some(h), Some(w)) => Some(Patient {
            height_cm: h,
            weight_kg: w,
        }),
        (None, None) => None,
        (h, _) => {
            let (name, value) = if h.is_some() {
                ("weight_kg", "nothing")
            } else {
                ("height_cm", "nothing")
            };
            return Err(Error::parameter(
                name,
                value,
                "both height_cm and weight_kg, or neither",
            ));
        }
    };
    let bsa: BsaFormula = bsa.parse()?;
    let telv: TelvFormula = telv.parse()?;
    let threshold = match min_flr_pct {
        Some(p) => Threshold::MinPct(p),
        None => Threshold::Condition(condition.parse::<LiverCondition>()?),
    };
    Ok(AssessOptions {
        patient,
        bsa,
        telv,
        threshold,
    })
}

/// The remnant definition: at most one of the five ways
/// ([`RemnantSpec::from_words`]); a region may be an array or a Volume.
fn remnant_definition(
    py: Python<'_>,
    files: &mut Files,
    defs: &Bound<'_, PyDict>,
    geometry: &Geometry,
) -> PyResult<Option<RemnantSpec>> {
    let item = |k: &str| defs.get_item(k).ok().flatten().filter(|v| !v.is_none());
    let with_caudate = item("with_caudate")
        .map(|v| v.is_truthy())
        .transpose()?
        .unwrap_or(false);
    let text = |k: &str| -> PyResult<Option<String>> { item(k).map(|v| convert::spec_text(&v)).transpose() };
    let grid = main_grid(files);
    let remnant = match item("remnant") {
        Some(r) => role_spec(py, files, "remnant", Some(&r), geometry, grid.as_ref())?,
        None => None,
    };
    RemnantSpec::from_words(RemnantWords {
        remnant,
        keep: text("keep")?,
        remove: text("remove")?,
        resection: text("resection")?,
        plane: text("plane")?,
        with_caudate,
    })
    .map_err(|e| to_py(py, e))
}

/// Resolves one scan of a remnant assessment.
#[allow(clippy::too_many_arguments)]
fn remnant_case(
    py: Python<'_>,
    labels: Option<&Bound<'_, PyAny>>,
    geometry: &Geometry,
    liver: Option<&Bound<'_, PyAny>>,
    tumor: Option<&Bound<'_, PyAny>>,
    segments: Option<&Bound<'_, PyAny>>,
    defs: &Bound<'_, PyDict>,
    read: &ReadOptions,
) -> PyResult<(Files, RemnantRequest)> {
    let mut files = case_files(py, labels, geometry, read)?;
    let grid = main_grid(&files);
    let liver = role_spec(py, &mut files, "liver", liver, geometry, grid.as_ref())?;
    let tumor = role_spec(py, &mut files, "tumor", tumor, geometry, grid.as_ref())?;
    let segments = match role_spec(py, &mut files, "segments", segments, geometry, grid.as_ref())? {
        None => None,
        Some(RoleSpec::File { path, .. }) => Some(path),
        Some(RoleSpec::Labels(_)) => {
            return Err(to_py(
                py,
                Error::parameter(
                    "segments",
                    "labels",
                    "a label map of Couinaud segments (path, Volume or array)",
                ),
            ))
        }
    };
    let remnant = remnant_definition(py, &mut files, defs, geometry)?;
    Ok((
        files,
        RemnantRequest {
            label_map: None,
            liver,
            tumor,
            segments,
            remnant,
        },
    ))
}

/// The future liver remnant: the JSON of `liverkit remnant --json`.
#[pyfunction]
#[pyo3(signature = (labels, defs, spacing_mm=None, affine=None, liver=None, tumor=None, segments=None,
    threads=None, *, check, read))]
#[allow(clippy::too_many_arguments)]
fn remnant(
    py: Python<'_>,
    labels: Option<&Bound<'_, PyAny>>,
    defs: &Bound<'_, PyDict>,
    spacing_mm: Option<[f64; 3]>,
    affine: Option<[[f64; 4]; 4]>,
    liver: Option<&Bound<'_, PyAny>>,
    tumor: Option<&Bound<'_, PyAny>>,
    segments: Option<&Bound<'_, PyAny>>,
    threads: Option<usize>,
    check: CheckArgs,
    read: ReadArgs,
) -> PyResult<String> {
    let read = read.options(py)?;
    let options = check.options().map_err(|e| to_py(py, e))?;
    let geometry = Geometry { spacing_mm, affine };
    if labels.is_none() && liver.is_none() {
        return Err(to_py(
            py,
            Error::parameter("labels", "nothing", "a label map, or liver="),
        ));
    }
    let (mut files, request) = remnant_case(py, labels, &geometry, liver, tumor, segments, defs, &read)?;
    let r = run_detached(py, threads, move || assess_case(&mut files, &request, &options))?;
    to_json(&r)
}

/// Growth after portal vein embolisation: the JSON of `liverkit pve --json`.
#[pyfunction]
#[pyo3(signature = (pre, post, days, defs, spacing_mm=None, affine=None, liver=None, tumor=None,
    pre_segments=None, post_segments=None, threads=None, *, check, read))]
#[allow(clippy::too_many_arguments)]
fn pve(
    py: Python<'_>,
    pre: &Bound<'_, PyAny>,
    post: &Bound<'_, PyAny>,
    days: f64,
    defs: &Bound<'_, PyDict>,
    spacing_mm: Option<[f64; 3]>,
    affine: Option<[[f64; 4]; 4]>,
    liver: Option<&Bound<'_, PyAny>>,
    tumor: Option<&Bound<'_, PyAny>>,
    pre_segments: Option<&Bound<'_, PyAny>>,
    post_segments: Option<&Bound<'_, PyAny>>,
    threads: Option<usize>,
    check: CheckArgs,
    read: ReadArgs,
) -> PyResult<String> {
    let read = read.options(py)?;
    let options = check.options().map_err(|e| to_py(py, e))?;
    let geometry = Geometry { spacing_mm, affine };
    // Roles given as arrays belong to one scan's grid: only text roles apply
    // to both scans.
    for (name, v) in [("liver", liver), ("tumor", tumor)] {
        if v.is_some_and(|v| !is_text_role(v)) {
            return Err(to_py(
                py,
                Error::parameter(name, "an array", "label values or names, applied to both scans"),
            ));
        }
    }
    let (mut pre_files, pre_req) =
        remnant_case(py, Some(pre), &geometry, liver, tumor, pre_segments, defs, &read)?;
    let (mut post_files, post_req) = remnant_case(
        py,
        Some(post),
        &geometry,
        liver,
        tumor,
        post_segments,
        defs,
        &read,
    )?;
    check_pve_request(&pre_req, &post_req, days).map_err(|e| to_py(py, e))?;
    let r = run_detached(py, threads, move || {
        let a = assess_case(&mut pre_files, &pre_req, &options)?;
        let b = assess_case(&mut post_files, &post_req, &options)?;
        pve_report(a, b, days, &options)
    })?;
    to_json(&r)
}

/// Ablation targets: the JSON of `liverkit target --json` and the target
/// mask.
#[pyfunction]
#[pyo3(signature = (labels, spacing_mm=None, affine=None, tumor=None, liver=None, vessels=vec![], margin_mm=10.0,
    threads=None, *, read))]
#[allow(clippy::too_many_arguments)]
fn target<'py>(
    py: Python<'py>,
    labels: &Bound<'py, PyAny>,
    spacing_mm: Option<[f64; 3]>,
    affine: Option<[[f64; 4]; 4]>,
    tumor: Option<&Bound<'py, PyAny>>,
    liver: Option<&Bound<'py, PyAny>>,
    vessels: Vec<String>,
    margin_mm: f64,
    threads: Option<usize>,
    read: ReadArgs,
) -> PyResult<(String, Bound<'py, PyArray3<bool>>)> {
    let read = read.options(py)?;
    let geometry = Geometry { spacing_mm, affine };
    let mut files = case_files(py, Some(labels), &geometry, &read)?;
    let grid = main_grid(&files);
    let tumor = role_spec(py, &mut files, "tumor", tumor, &geometry, grid.as_ref())?;
    let liver = role_spec(py, &mut files, "liver", liver, &geometry, grid.as_ref())?;
    let (report, plan) = run_detached(py, threads, move || {
        target_report(&mut files, tumor.as_ref(), liver.as_ref(), &vessels, margin_mm)
    })?;
    let json = to_json(&report)?;
    let (_, data) = plan.target.into_parts();
    Ok((json, PyArray3::from_owned_array(py, data)))
}

/// A margin role of `liverkit margin`: a file (FILE or FILE:LABEL), a Volume
/// or an array.
fn margin_role(
    py: Python<'_>,
    files: &mut Files,
    role: &str,
    value: &Bound<'_, PyAny>,
    geometry: &Geometry,
    grid: Option<&Grid>,
) -> PyResult<RoleSpec> {
    match role_spec(py, files, role, Some(value), geometry, grid)? {
        Some(spec @ RoleSpec::File { .. }) => Ok(spec),
        _ => {
            let text = value.extract::<String>().unwrap_or_default();
            Err(to_py(
                py,
                Error::Read {
                    path: text.split(':').next().unwrap_or(&text).into(),
                    source: std::io::Error::new(
                        std::io::ErrorKind::NotFound,
                        format!("{role}: no such file (give FILE or FILE:LABEL, a Volume or an array)"),
                    ),
                },
            ))
        }
    }
}

/// The margin an ablation zone gives each tumour: the JSON of `liverkit
/// margin --json` and the signed margin map when asked for.
#[pyfunction]
#[pyo3(signature = (tumor, zone, spacing_mm=None, affine=None, liver=None, margin_mm=10.0, exclude_capsule=false,
    margin_map=false, threads=None, *, read))]
#[allow(clippy::too_many_arguments)]
fn margin<'py>(
    py: Python<'py>,
    tumor: &Bound<'py, PyAny>,
    zone: &Bound<'py, PyAny>,
    spacing_mm: Option<[f64; 3]>,
    affine: Option<[[f64; 4]; 4]>,
    liver: Option<&Bound<'py, PyAny>>,
    margin_mm: f64,
    exclude_capsule: bool,
    margin_map: bool,
    threads: Option<usize>,
    read: ReadArgs,
) -> PyResult<(String, Option<Bound<'py, PyArray3<f32>>>)> {
    let read = read.options(py)?;
    let geometry = Geometry { spacing_mm, affine };
    let mut files = Files::new(None, read).map_err(|e| to_py(py, e))?;
    let roles: Vec<(&str, &Bound<'py, PyAny>)> =
        [("tumor", Some(tumor)), ("zone", Some(zone)), ("liver", liver)]
            .into_iter()
            .filter_map(|(r, v)| v.map(|v| (r, v)))
            .collect();
    // Files first: arrays then take the grid of the first Volume or file.
    let mut specs = std::collections::BTreeMap::new();
    for (role, v) in &roles {
        if v.extract::<PathBuf>().is_ok() && !v.is_instance_of::<numpy::PyUntypedArray>() {
            let spec = margin_role(py, &mut files, role, v, &geometry, None)?;
            files.resolve(role, &spec).map_err(|e| to_py(py, e))?;
            specs.insert(*role, spec);
        }
    }
    let grid = files
        .grid()
        .cloned()
        .or_else(|| roles.iter().find_map(|(_, v)| convert::volume_grid(v)));
    for (role, v) in &roles {
        if !specs.contains_key(role) {
            let spec = margin_role(py, &mut files, role, v, &geometry, grid.as_ref())?;
            specs.insert(*role, spec);
        }
    }
    let (Some(t), Some(z)) = (specs.remove("tumor"), specs.remove("zone")) else {
        return Err(pyo3::exceptions::PyRuntimeError::new_err(
            "tumor and zone roles were not resolved",
        ));
    };
    let l = specs.remove("liver");
    let options = MarginOptions {
        margin_mm,
        exclude_capsule,
        margin_map,
    };
    let (report, map) = run_detached(py, threads, move || {
        margin_report(&mut files, &t, &z, l.as_ref(), &options)
    })?;
    let json = to_json(&report)?;
    let map = map.map(|m| PyArray3::from_owned_array(py, m.into_parts().1));
    Ok((json, map))
}

/// Parameters from a file (TOML or JSON) or JSON text in the file's layout
/// (the Python layer's dict of overrides).
fn simulation_parameters(
    py: Python<'_>,
    params: Option<&Bound<'_, PyAny>>,
    params_json: Option<&str>,
    spacing: Option<f64>,
) -> PyResult<Parameters> {
    let mut p = Parameters::default();
    if let Some(v) = params {
        let path: PathBuf = v.extract()?;
        p.apply_file(&path).map_err(|e| to_py(py, e))?;
    }
    if let Some(text) = params_json {
        p.apply_json(text, "Python argument params")
            .map_err(|e| to_py(py, e))?;
    }
    if let Some(h) = spacing {
        p.solver.spacing_mm = h;
        p.set_source("solver.spacing_mm", "lattice_spacing_mm");
    }
    p.validate().map_err(|e| to_py(py, e))?;
    Ok(p)
}

/// Thermal ablation simulation: the JSON of `liverkit simulate --json` and
/// the 70 °C zone on the scan's grid.
#[pyfunction]
#[pyo3(signature = (labels, applicator, power_w, time_s, tip_mm, direction=None, entry_mm=None, spacing_mm=None,
    affine=None, liver=None, tumor=None, vessels=vec![], params=None, params_json=None, device=None, protocols=None,
    allow_outside=false, lattice_spacing_mm=None, margin_mm=10.0, exclude_capsule=false, out_dir=None,
    threads=None, *, read))]
#[allow(clippy::too_many_arguments)]
fn simulate<'py>(
    py: Python<'py>,
    labels: &Bound<'py, PyAny>,
    applicator: &str,
    power_w: f64,
    time_s: f64,
    tip_mm: [f64; 3],
    direction: Option<[f64; 3]>,
    entry_mm: Option<[f64; 3]>,
    spacing_mm: Option<[f64; 3]>,
    affine: Option<[[f64; 4]; 4]>,
    liver: Option<&Bound<'py, PyAny>>,
    tumor: Option<&Bound<'py, PyAny>>,
    vessels: Vec<String>,
    params: Option<&Bound<'py, PyAny>>,
    params_json: Option<&str>,
    device: Option<String>,
    protocols: Option<PathBuf>,
    allow_outside: bool,
    lattice_spacing_mm: Option<f64>,
    margin_mm: f64,
    exclude_capsule: bool,
    out_dir: Option<PathBuf>,
    threads: Option<usize>,
    read: ReadArgs,
) -> PyResult<(String, Bound<'py, PyArray3<bool>>)> {
    let read = read.options(py)?;
    let kind: ApplicatorKind = applicator.parse().map_err(|e| to_py(py, e))?;
    let pose = match (direction, entry_mm) {
        (Some(d), None) => Pose::from_direction(tip_mm, d),
        (None, Some(e)) => Pose::from_entry(tip_mm, e),
        (Some(_), Some(_)) => Err(Error::parameter(
            "direction",
            "direction and entry_mm",
            "one of them",
        )),
        (None, None) => Err(Error::parameter("direction", "nothing", "direction or entry_mm")),
    }
    .map_err(|e| to_py(py, e))?;
    let params = simulation_parameters(py, params, params_json, lattice_spacing_mm)?;
    let lib = match &protocols {
        Some(p) => Library::from_file(p),
        None => Library::builtin(),
    }
    .map_err(|e| to_py(py, e))?;
    let geometry = Geometry { spacing_mm, affine };
    let mut files = case_files(py, Some(labels), &geometry, &read)?;
    let grid = main_grid(&files);
    let liver = role_spec(py, &mut files, "liver", liver, &geometry, grid.as_ref())?;
    let tumor = role_spec(py, &mut files, "tumor", tumor, &geometry, grid.as_ref())?;
    let case = SimulateCase {
        applicator: kind,
        power_w,
        time_s,
        pose,
        device,
        allow_outside,
        margin_mm,
        exclude_capsule,
    };
    // Output files take the header of the input file, when there is one.
    let source_path = convert::volume_path(labels).or_else(|| {
        (!labels.is_instance_of::<numpy::PyUntypedArray>())
            .then(|| labels.extract::<PathBuf>().ok())
            .flatten()
    });
    let outcome = run_detached(py, threads, move || {
        let mut outcome = simulate_case(
            &mut files,
            liver.as_ref(),
            tumor.as_ref(),
            &vessels,
            &case,
            &params,
            &lib,
            &NoProgress,
        )?;
        if let Some(dir) = &out_dir {
            let template = match &source_path {
                Some(p) => match files.output_template(p) {
                    Some(t) => t,
                    None => liverkit::io::output_template(p, outcome.zone70.grid())?,
                },
                None => NiftiTemplate::from_grid(outcome.zone70.grid()),
            };
            write_outputs(&mut outcome, dir, &template)?;
        }
        Ok(outcome)
    })?;
    let json = to_json(&outcome.report)?;
    let (_, zone) = outcome.zone70.into_parts();
    Ok((json, PyArray3::from_owned_array(py, zone)))
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

/// The device library as `liverkit protocols --json` prints it, with the
/// calibration and the check when asked for.
#[pyfunction]
#[pyo3(signature = (protocols=None, params=None, calibrate=false, chart=None, device=None, out=None, check=false,
    threads=None))]
#[allow(clippy::too_many_arguments)]
fn protocols(
    py: Python<'_>,
    protocols: Option<PathBuf>,
    params: Option<PathBuf>,
    calibrate: bool,
    chart: Option<PathBuf>,
    device: Option<String>,
    out: Option<PathBuf>,
    check: bool,
    threads: Option<usize>,
) -> PyResult<String> {
    let request = liverkit::case::protocols::ProtocolsRequest {
        protocols,
        params,
        calibrate,
        chart,
        device,
        out,
        check,
    };
    let r = run_detached(py, threads, move || {
        liverkit::case::protocols::protocols_report(&request, &NoProgress)
    })?;
    to_json(&r)
}

#[pymodule]
fn _native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<PyVolume>()?;
    m.add_function(wrap_pyfunction!(load, m)?)?;
    m.add_function(wrap_pyfunction!(volume_from_array, m)?)?;
    m.add_function(wrap_pyfunction!(volumes, m)?)?;
    m.add_function(wrap_pyfunction!(distance_transform, m)?)?;
    m.add_function(wrap_pyfunction!(remnant, m)?)?;
    m.add_function(wrap_pyfunction!(pve, m)?)?;
    m.add_function(wrap_pyfunction!(target, m)?)?;
    m.add_function(wrap_pyfunction!(margin, m)?)?;
    m.add_function(wrap_pyfunction!(simulate, m)?)?;
    m.add_function(wrap_pyfunction!(info, m)?)?;
    m.add_function(wrap_pyfunction!(protocols, m)?)?;
    m.add_function(wrap_pyfunction!(version, m)?)?;
    m.add_function(wrap_pyfunction!(days_between, m)?)?;
    m.add_function(wrap_pyfunction!(scan_date, m)?)?;
    Ok(())
}
