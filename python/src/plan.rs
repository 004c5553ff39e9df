//! `liverkit.plan`: the planner of `liverkit plan`.

use std::path::PathBuf;

use pyo3::prelude::*;

use liverkit::bioheat::applicator::ApplicatorKind;
use liverkit::case::plan::{plan_case, PlanRequest};
use liverkit::planner::Constraints;
use liverkit::progress::NoProgress;

use crate::ablation::{case_roles, library, margin_or_default, simulation_parameters};
use crate::convert::Geometry;
use crate::errors::to_py;
use crate::threads::run_detached;
use crate::{main_grid, role_spec, to_json, ReadArgs};

/// The JSON of `liverkit plan --json`.
#[pyfunction]
#[pyo3(signature = (labels, tumor=None, liver=None, vessels=vec![], applicator="mwa", device=None, protocols=None,
    margin_mm=None, body=None, image=None, vessel_clearance_mm=None, obstacle_clearance_mm=None, min_liver_mm=None,
    min_capsule_angle_deg=None, no_posterior=false, directions=4000, confirm=3, out_dir=None, spacing_mm=None,
    affine=None, threads=None, *, read))]
#[allow(clippy::too_many_arguments)]
pub(crate) fn plan<'py>(
    py: Python<'py>,
    labels: &Bound<'py, PyAny>,
    tumor: Option<&Bound<'py, PyAny>>,
    liver: Option<&Bound<'py, PyAny>>,
    vessels: Vec<String>,
    applicator: &str,
    device: Option<String>,
    protocols: Option<PathBuf>,
    margin_mm: Option<f64>,
    body: Option<&Bound<'py, PyAny>>,
    image: Option<PathBuf>,
    vessel_clearance_mm: Option<f64>,
    obstacle_clearance_mm: Option<f64>,
    min_liver_mm: Option<f64>,
    min_capsule_angle_deg: Option<f64>,
    no_posterior: bool,
    directions: usize,
    confirm: usize,
    out_dir: Option<PathBuf>,
    spacing_mm: Option<[f64; 3]>,
    affine: Option<[[f64; 4]; 4]>,
    threads: Option<usize>,
    read: ReadArgs,
) -> PyResult<String> {
    let read = read.options(py)?;
    let kind: ApplicatorKind = applicator.parse().map_err(|e| to_py(py, e))?;
    let params = simulation_parameters(py, None, None, None)?;
    let lib = library(py, protocols.as_deref())?;
    let geometry = Geometry { spacing_mm, affine };
    let (mut files, liver, tumor) = case_roles(py, labels, &geometry, &read, liver, tumor)?;
    let grid = main_grid(&files);
    let body = role_spec(py, &mut files, "body", body, &geometry, grid.as_ref())?;
    let d = Constraints::default();
    let c = Constraints {
        vessel_clearance_mm: vessel_clearance_mm.unwrap_or(d.vessel_clearance_mm),
        other_clearance_mm: obstacle_clearance_mm.unwrap_or(d.other_clearance_mm),
        min_liver_mm: min_liver_mm.unwrap_or(d.min_liver_mm),
        min_capsule_angle_deg: min_capsule_angle_deg.unwrap_or(d.min_capsule_angle_deg),
        no_posterior,
        ..d
    };
    let req = PlanRequest {
        tumor,
        liver,
        vessels,
        applicator: kind,
        device,
        margin_mm: margin_or_default(margin_mm),
        body,
        image,
        constraints: c,
        directions,
        confirm,
        out_dir,
    };
    let report = run_detached(py, threads, move || {
        plan_case(&mut files, &req, &params, &lib, &NoProgress)
    })?;
    to_json(&report)
}
