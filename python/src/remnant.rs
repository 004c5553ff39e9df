//! Remnant and PVE: `liverkit.remnant` and `liverkit.pve`.

use pyo3::prelude::*;
use pyo3::types::PyDict;

use liverkit::case::remnant::{
    assess_case, check_pve_request, pve_report, AssessOptions, Patient, RemnantRequest, RemnantSpec,
    RemnantWords, Threshold,
};
use liverkit::case::roles::{Files, RoleSpec};
use liverkit::io::ReadOptions;
use liverkit::remnant::formulas::{BsaFormula, LiverCondition, TelvFormula};
use liverkit::Error;

use crate::convert::{self, Geometry};
use crate::errors::to_py;
use crate::threads::run_detached;
use crate::{case_files, is_text_role, json_and_page, main_grid, role_spec, ReadArgs};
use liverkit::case::pages::{pve_page, remnant_page};

/// The patient and the threshold: the `check` dict of `remnant` and `pve`
/// (`height_cm`, `weight_kg`, `bsa`, `telv`, `condition`, `min_flr_pct`, as
/// on the command line).
#[derive(FromPyObject)]
#[pyo3(from_item_all)]
pub(crate) struct CheckArgs {
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
pub(crate) fn remnant(
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
) -> PyResult<(String, String)> {
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
    json_and_page(py, &r, remnant_page(&r))
}

/// Growth after portal vein embolisation: the JSON of `liverkit pve --json`.
#[pyfunction]
#[pyo3(signature = (pre, post, days, defs, spacing_mm=None, affine=None, liver=None, tumor=None,
    pre_segments=None, post_segments=None, threads=None, *, check, read))]
#[allow(clippy::too_many_arguments)]
pub(crate) fn pve(
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
) -> PyResult<(String, String)> {
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
    json_and_page(py, &r, pve_page(&r))
}
