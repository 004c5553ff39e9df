//! Ablation: `liverkit.target`, `liverkit.margin`, `liverkit.simulate` and
//! `liverkit.protocols`.

use std::path::PathBuf;

use numpy::PyArray3;
use pyo3::prelude::*;

use liverkit::bioheat::applicator::{ApplicatorKind, Pose};
use liverkit::bioheat::protocols::Library;
use liverkit::bioheat::tissue::Parameters;
use liverkit::case::margin::margin_report;
use liverkit::case::roles::{Files, RoleSpec};
use liverkit::case::simulate::{simulate_case, write_outputs, SimulateCase};
use liverkit::case::target::target_report;
use liverkit::io::nifti::NiftiTemplate;
use liverkit::margin::MarginOptions;
use liverkit::progress::NoProgress;
use liverkit::{Error, Grid};

use crate::convert::{self, Geometry};
use crate::errors::to_py;
use crate::threads::run_detached;
use crate::{case_files, json_and_page, main_grid, role_spec, to_json, ReadArgs};
use liverkit::case::pages::{margin_page, simulate_page, target_page};

/// A report as JSON, its HTML page, and the array the command writes.
type Reported<A> = (String, String, A);

/// The margin given, or the library's default.
pub(crate) fn margin_or_default(margin_mm: Option<f64>) -> f64 {
    margin_mm.unwrap_or(liverkit::vocabulary::MARGIN_MM.default_value())
}
/// Ablation targets: the JSON of `liverkit target --json` and the target
/// mask.
#[pyfunction]
#[pyo3(signature = (labels, spacing_mm=None, affine=None, tumor=None, liver=None, vessels=vec![], margin_mm=None,
    threads=None, *, read))]
#[allow(clippy::too_many_arguments)]
pub(crate) fn target<'py>(
    py: Python<'py>,
    labels: &Bound<'py, PyAny>,
    spacing_mm: Option<[f64; 3]>,
    affine: Option<[[f64; 4]; 4]>,
    tumor: Option<&Bound<'py, PyAny>>,
    liver: Option<&Bound<'py, PyAny>>,
    vessels: Vec<String>,
    margin_mm: Option<f64>,
    threads: Option<usize>,
    read: ReadArgs,
) -> PyResult<Reported<Bound<'py, PyArray3<bool>>>> {
    let read = read.options(py)?;
    let geometry = Geometry { spacing_mm, affine };
    let mut files = case_files(py, Some(labels), &geometry, &read)?;
    let grid = main_grid(&files);
    let tumor = role_spec(py, &mut files, "tumor", tumor, &geometry, grid.as_ref())?;
    let liver = role_spec(py, &mut files, "liver", liver, &geometry, grid.as_ref())?;
    let (report, plan) = run_detached(py, threads, move || {
        target_report(
            &mut files,
            tumor.as_ref(),
            liver.as_ref(),
            &vessels,
            margin_or_default(margin_mm),
        )
    })?;
    let (json, page) = json_and_page(py, &report, target_page(&report))?;
    let (_, data) = plan.target.into_parts();
    Ok((json, page, PyArray3::from_owned_array(py, data)))
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
#[pyo3(signature = (tumor, zone, spacing_mm=None, affine=None, liver=None, margin_mm=None, exclude_capsule=false,
    margin_map=false, threads=None, *, read))]
#[allow(clippy::too_many_arguments)]
pub(crate) fn margin<'py>(
    py: Python<'py>,
    tumor: &Bound<'py, PyAny>,
    zone: &Bound<'py, PyAny>,
    spacing_mm: Option<[f64; 3]>,
    affine: Option<[[f64; 4]; 4]>,
    liver: Option<&Bound<'py, PyAny>>,
    margin_mm: Option<f64>,
    exclude_capsule: bool,
    margin_map: bool,
    threads: Option<usize>,
    read: ReadArgs,
) -> PyResult<Reported<Option<Bound<'py, PyArray3<f32>>>>> {
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
        margin_mm: margin_or_default(margin_mm),
        exclude_capsule,
        margin_map,
    };
    let (report, map) = run_detached(py, threads, move || {
        margin_report(&mut files, &t, &z, l.as_ref(), &options)
    })?;
    let (json, page) = json_and_page(py, &report, margin_page(&report, map.as_ref()))?;
    let map = map.map(|m| PyArray3::from_owned_array(py, m.into_parts().1));
    Ok((json, page, map))
}

/// Parameters from a file (TOML or JSON) or JSON text in the file's layout
/// (the Python layer's dict of overrides).
/// The protocol library: a file, or the built-in one.
pub(crate) fn library(py: Python<'_>, protocols: Option<&std::path::Path>) -> PyResult<Library> {
    match protocols {
        Some(p) => Library::from_file(p),
        None => Library::builtin(),
    }
    .map_err(|e| to_py(py, e))
}

/// The files of a case with its main label map, and its liver and tumour
/// roles.
pub(crate) fn case_roles<'py>(
    py: Python<'py>,
    labels: &Bound<'py, PyAny>,
    geometry: &Geometry,
    read: &liverkit::io::ReadOptions,
    liver: Option<&Bound<'py, PyAny>>,
    tumor: Option<&Bound<'py, PyAny>>,
) -> PyResult<(Files, Option<RoleSpec>, Option<RoleSpec>)> {
    let mut files = case_files(py, Some(labels), geometry, read)?;
    let grid = main_grid(&files);
    let liver = role_spec(py, &mut files, "liver", liver, geometry, grid.as_ref())?;
    let tumor = role_spec(py, &mut files, "tumor", tumor, geometry, grid.as_ref())?;
    Ok((files, liver, tumor))
}

pub(crate) fn simulation_parameters(
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
    allow_outside=false, lattice_spacing_mm=None, margin_mm=None, exclude_capsule=false, out_dir=None,
    threads=None, *, read))]
#[allow(clippy::too_many_arguments)]
pub(crate) fn simulate<'py>(
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
    margin_mm: Option<f64>,
    exclude_capsule: bool,
    out_dir: Option<PathBuf>,
    threads: Option<usize>,
    read: ReadArgs,
) -> PyResult<Reported<Bound<'py, PyArray3<bool>>>> {
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
    let lib = library(py, protocols.as_deref())?;
    let geometry = Geometry { spacing_mm, affine };
    let (mut files, liver, tumor) = case_roles(py, labels, &geometry, &read, liver, tumor)?;
    let case = SimulateCase {
        applicator: kind,
        power_w,
        time_s,
        pose,
        device,
        allow_outside,
        margin_mm: margin_or_default(margin_mm),
        exclude_capsule,
        together: Vec::new(),
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
    let (json, page) = json_and_page(py, &outcome.report, simulate_page(&outcome.report))?;
    let (_, zone) = outcome.zone70.into_parts();
    Ok((json, page, PyArray3::from_owned_array(py, zone)))
}

/// The device library as `liverkit protocols --json` prints it, with the
/// calibration and the check when asked for.
#[pyfunction]
#[pyo3(signature = (protocols=None, params=None, calibrate=false, chart=None, device=None, out=None, check=false,
    leave_one_out=false, threads=None))]
#[allow(clippy::too_many_arguments)]
pub(crate) fn protocols(
    py: Python<'_>,
    protocols: Option<PathBuf>,
    params: Option<PathBuf>,
    calibrate: bool,
    chart: Option<PathBuf>,
    device: Option<String>,
    out: Option<PathBuf>,
    check: bool,
    leave_one_out: bool,
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
        leave_one_out,
    };
    let r = run_detached(py, threads, move || {
        liverkit::case::protocols::protocols_report(&request, &NoProgress)
    })?;
    to_json(&r)
}
