//! The remnant case: the liver, tumour, segment and remnant roles resolved
//! from files, measured ([`crate::remnant::measure`]) and judged against the
//! threshold; before and after portal vein embolisation in [`assess_pve`].

mod pve;
mod report;

pub use pve::{assess_pve, check_pve_request, days_between, pve_report, PveReport};
pub use report::{report, RemnantReport, ResectionOption, Roles, SegmentVolume};

use std::path::PathBuf;

use serde::Serialize;

use crate::case::roles::{Files, RoleSpec};
use crate::error::{parameter_error, Result};
use crate::io::ReadOptions;
use crate::remnant::formulas::{BsaFormula, LiverCondition, TelvFormula};
use crate::remnant::resection::{parse_plane, parse_segments, RemnantDefinition, Resection};
use crate::remnant::{measure, Anatomy, RemnantRegion};
use crate::volume::Mask;

/// Height and weight of the patient.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Patient {
    /// Height in cm.
    pub height_cm: f64,
    /// Weight in kg.
    pub weight_kg: f64,
}

/// The minimum remnant.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Threshold {
    /// From the state of the liver (20 / 30 / 40 %).
    Condition(LiverCondition),
    /// A minimum in % chosen by the user.
    MinPct(f64),
}

/// How to compute and judge the numbers.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct AssessOptions {
    /// Height and weight, for BSA, TELV, sFLR and FLR-to-body-weight.
    pub patient: Option<Patient>,
    /// BSA formula (Mosteller by default).
    pub bsa: BsaFormula,
    /// TELV formula (Vauthey by default).
    pub telv: TelvFormula,
    /// Minimum remnant (normal liver, 20 %, by default).
    pub threshold: Threshold,
}

impl Default for AssessOptions {
    fn default() -> Self {
        AssessOptions {
            patient: None,
            bsa: BsaFormula::Mosteller,
            telv: TelvFormula::Vauthey,
            threshold: Threshold::Condition(LiverCondition::Normal),
        }
    }
}

/// The remnant, as the user names it.
#[derive(Debug, Clone, PartialEq)]
pub enum RemnantSpec {
    /// An explicit region: labels or a mask file.
    Region(RoleSpec),
    /// Segments, a named resection or a plane.
    Definition(RemnantDefinition),
}

/// The five ways of naming the remnant, as a user gives them: a region
/// (labels or a mask), segments kept, segments removed, a named resection,
/// or a cutting plane. At most one may be given.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct RemnantWords {
    /// The remnant as a region (`remnant`).
    pub remnant: Option<RoleSpec>,
    /// Couinaud segments kept (`keep`: `2,3`, `1-4`).
    pub keep: Option<String>,
    /// Couinaud segments removed (`remove`: `5-8`).
    pub remove: Option<String>,
    /// A named resection (`resection`: `right-hepatectomy`, …).
    pub resection: Option<String>,
    /// A cutting plane (`plane`: `X,Y,Z:NX,NY,NZ`, world RAS+ mm).
    pub plane: Option<String>,
    /// Also remove segment 1 with a named resection (`with_caudate`).
    pub with_caudate: bool,
}

impl RemnantSpec {
    /// The one constructor of a remnant from the user's words, shared by the
    /// command line and Python; `None` when none is given.
    ///
    /// # Errors
    /// `Parameter` (`remnant`) when several are given; the parse errors of
    /// [`parse_segments`] (`keep`, `remove`), [`Resection::from_name`]
    /// (`resection`) and [`parse_plane`] (`plane`); `Parameter`
    /// (`with_caudate`) without a named resection.
    pub fn from_words(w: RemnantWords) -> Result<Option<RemnantSpec>> {
        let given: Vec<&str> = [
            ("remnant", w.remnant.is_some()),
            ("keep", w.keep.is_some()),
            ("remove", w.remove.is_some()),
            ("resection", w.resection.is_some()),
            ("plane", w.plane.is_some()),
        ]
        .into_iter()
        .filter_map(|(name, given)| given.then_some(name))
        .collect();
        if given.len() > 1 {
            return Err(parameter_error(
                "remnant",
                given.join(", "),
                "one of `remnant`, `keep`, `remove`, `resection`, `plane`",
            ));
        }
        if w.with_caudate && w.resection.is_none() {
            return Err(parameter_error(
                "with_caudate",
                true,
                "a named resection (`resection`)",
            ));
        }
        let definition = |d: RemnantDefinition| Some(RemnantSpec::Definition(d));
        Ok(if let Some(r) = w.remnant {
            Some(RemnantSpec::Region(r))
        } else if let Some(k) = &w.keep {
            definition(RemnantDefinition::Keep(parse_segments("keep", k)?))
        } else if let Some(k) = &w.remove {
            definition(RemnantDefinition::Remove(parse_segments("remove", k)?))
        } else if let Some(name) = &w.resection {
            definition(RemnantDefinition::Resection {
                resection: Resection::from_name(name)?,
                with_caudate: w.with_caudate,
            })
        } else if let Some(p) = &w.plane {
            definition(parse_plane(p)?)
        } else {
            None
        })
    }
}

/// Everything needed to assess one scan from files.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct RemnantRequest {
    /// The label map holding the roles given by value or name.
    pub label_map: Option<PathBuf>,
    /// The liver (default: from the label names).
    pub liver: Option<RoleSpec>,
    /// The tumours (default: a label named `liver_tumor`).
    pub tumor: Option<RoleSpec>,
    /// A label map of Couinaud segments (default: the main map when it has
    /// `liver_segment_1..8` labels).
    pub segments: Option<PathBuf>,
    /// The remnant (none: volumes and, with segments, every named resection).
    pub remnant: Option<RemnantSpec>,
}

/// Reads the files of a request, resolves the roles and assesses the remnant.
///
/// # Errors
/// Read and header errors of the files; `GridMismatch` when they are not on
/// one grid; `Parameter` for an unknown label (the error lists the labels
/// present), a missing liver role, an empty liver, a bad height or weight.
pub fn assess(
    request: &RemnantRequest,
    options: &AssessOptions,
    read: &ReadOptions,
) -> Result<RemnantReport> {
    let mut files = Files::new(request.label_map.as_deref(), read.clone())?;
    assess_case(&mut files, request, options)
}

/// Assesses the remnant of a case whose main label map (if any) is already
/// in `files` (`request.label_map` is not read again); other files of the
/// request are read into `files` as needed, and in-memory maps added with
/// [`Files::insert`] stand for files of those names.
///
/// # Errors
/// As [`assess`].
pub fn assess_case(
    files: &mut Files,
    request: &RemnantRequest,
    options: &AssessOptions,
) -> Result<RemnantReport> {
    assess_case_parts(files, request, options, false).map(|(r, _)| r)
}

/// As [`assess_case`], with the remnant and the resected liver as masks
/// (the liver with its attached tumours split as the report counts it) when
/// `parts` asks for them and the request defines a remnant.
///
/// # Errors
/// As [`assess`].
pub fn assess_case_parts(
    files: &mut Files,
    request: &RemnantRequest,
    options: &AssessOptions,
    parts: bool,
) -> Result<(RemnantReport, Option<(Mask, Mask)>)> {
    let (liver, liver_desc) = files.liver(request.liver.as_ref())?;
    let tumor = files.tumor(request.tumor.as_ref())?;
    let segments = files.segments(request.segments.as_deref())?;
    let (remnant_mask, definition) = match &request.remnant {
        None => (None, None),
        Some(RemnantSpec::Region(spec)) => {
            let (m, d) = files.resolve("remnant", spec)?;
            (Some(m), Some(RemnantDefinition::Region { description: d }))
        }
        Some(RemnantSpec::Definition(d)) => (None, Some(d.clone())),
    };

    let anatomy = Anatomy {
        liver,
        tumor: tumor.as_ref().map(|(m, _)| m.clone()),
        segments: segments.as_ref().map(|(s, _)| s.clone()),
    };
    let region = match (&remnant_mask, &definition) {
        (Some(m), _) => RemnantRegion::Mask(m),
        (None, Some(d)) => RemnantRegion::Definition(d),
        (None, None) => RemnantRegion::None,
    };
    let (m, split) = if parts {
        crate::remnant::measure_with_parts(&anatomy, region)?
    } else {
        (measure(&anatomy, region)?, None)
    };
    let roles = Roles {
        liver: liver_desc,
        tumor: tumor.map(|(_, d)| d),
        segments: segments.map(|(_, d)| d),
    };
    let r = report(
        &m,
        definition.as_ref(),
        options,
        roles,
        files.inputs.clone(),
        files.warnings.clone(),
    )?;
    Ok((r, split))
}
