//! Portal vein embolisation: the remnant before and after, its growth, the
//! degree of hypertrophy and the kinetic growth rate.

use serde::Serialize;

use crate::error::{parameter_error, Result, Warning};
use crate::io::ReadOptions;

use super::report::RemnantReport;
use super::{assess, AssessOptions, RemnantRequest};
use crate::remnant::formulas::{self, FormulaUse};

/// Before and after portal vein embolisation: what `liverkit pve --json` prints.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PveReport {
    /// The pre-PVE assessment.
    pub pre: RemnantReport,
    /// The post-PVE assessment.
    pub post: RemnantReport,
    /// Days from the embolisation (or pre-PVE date) to the post-PVE scan.
    pub days: f64,
    /// The same in weeks.
    pub weeks: f64,
    /// `"sflr"` (with height and weight) or `"flr"`: what DH and KGR are computed on.
    pub basis: &'static str,
    /// Degree of hypertrophy, percentage points [Shindoh2013].
    pub dh_points: f64,
    /// Kinetic growth rate, points per week [Shindoh2013].
    pub kgr_points_per_week: f64,
    /// Whether KGR ≥ 2 points per week.
    pub kgr_sufficient: bool,
    /// Whether DH ≥ 5 points (the older rule) [Ribero2007].
    pub dh_ge_5_points: bool,
    /// Growth of the functional remnant, mL.
    pub flr_growth_ml: f64,
    /// Growth of the functional remnant, % of the pre-PVE remnant.
    pub flr_growth_pct: f64,
    /// Growth of the functional remnant per day, % per day (as ALPPS papers report it).
    pub flr_growth_pct_per_day: f64,
    /// Minimum remnant, %.
    pub threshold_pct: f64,
    /// Whether the post-PVE remnant meets the threshold and KGR ≥ 2 points per week.
    pub sufficient: bool,
    /// The verdict in words.
    pub verdict: String,
    /// What the user must know (both scans' warnings are in `pre` and `post`).
    pub warnings: Vec<Warning>,
    /// Formulas used, with their source keys.
    pub formulas: Vec<FormulaUse>,
}

/// Days between two ISO dates (`YYYY-MM-DD`).
///
/// # Errors
/// `Parameter` for a date that does not parse, or a post date not after the
/// pre date.
pub fn days_between(pre: &str, post: &str) -> Result<f64> {
    let parse = |name: &str, s: &str| {
        chrono::NaiveDate::parse_from_str(s.trim(), "%Y-%m-%d")
            .map_err(|_| parameter_error(name, s, "an ISO date YYYY-MM-DD"))
    };
    let a = parse("pre_date", pre)?;
    let b = parse("post_date", post)?;
    let days = (b - a).num_days();
    if days <= 0 {
        return Err(parameter_error(
            "post_date",
            post,
            format!("a date after the pre date {pre}"),
        ));
    }
    Ok(days as f64)
}

/// Compares the remnant before and after PVE. The two scans are assessed
/// separately, each on its own grid; nothing is compared voxel by voxel.
///
/// # Errors
/// Errors of [`assess`] for either scan; `Parameter` when `days` is not
/// positive, when either request has no remnant, or when the pre-PVE
/// remnant is empty.
pub fn assess_pve(
    pre: &RemnantRequest,
    post: &RemnantRequest,
    days: f64,
    options: &AssessOptions,
    read: &ReadOptions,
) -> Result<PveReport> {
    check_pve_request(pre, post, days)?;
    let pre_r = assess(pre, options, read)?;
    let post_r = assess(post, options, read)?;
    pve_report(pre_r, post_r, days, options)
}

/// Checks a PVE comparison before anything is measured: a positive
/// interval and a remnant definition for both scans.
///
/// # Errors
/// `Parameter` (`days`, `remnant`).
pub fn check_pve_request(pre: &RemnantRequest, post: &RemnantRequest, days: f64) -> Result<()> {
    check_days(days)?;
    if pre.remnant.is_none() || post.remnant.is_none() {
        return Err(parameter_error(
            "remnant",
            "none",
            "a remnant definition, applied to both scans",
        ));
    }
    Ok(())
}

fn check_days(days: f64) -> Result<()> {
    crate::vocabulary::DAYS.check(days).map(|_| ())
}

/// The growth between two remnant assessments of one patient, before and
/// after PVE, `days` apart (each assessed on its own grid, with the same
/// remnant definition and options).
///
/// # Errors
/// `Parameter` when `days` is not positive, when either report has no
/// remnant, or when the pre-PVE remnant is empty.
pub fn pve_report(
    pre_r: RemnantReport,
    post_r: RemnantReport,
    days: f64,
    options: &AssessOptions,
) -> Result<PveReport> {
    check_days(days)?;
    let basis = if options.patient.is_some() { "sflr" } else { "flr" };
    let pct = |r: &RemnantReport| {
        if options.patient.is_some() {
            r.sflr_pct
        } else {
            r.flr_pct
        }
    };
    let (Some(p0), Some(p1), Some(v0), Some(v1)) =
        (pct(&pre_r), pct(&post_r), pre_r.remnant_ml, post_r.remnant_ml)
    else {
        return Err(parameter_error("remnant", "none", "a remnant in both scans"));
    };
    if v0 <= 0.0 {
        return Err(parameter_error(
            "remnant",
            "0 mL before PVE",
            "a non-empty pre-PVE remnant",
        ));
    }
    let weeks = days / 7.0;
    let dh = formulas::dh_points(p0, p1);
    let kgr = formulas::kgr_points_per_week(dh, weeks);
    let kgr_sufficient = kgr >= formulas::KGR_LIMIT_POINTS_PER_WEEK;
    let post_ok = post_r.sufficient.unwrap_or(false);
    let sufficient = post_ok && kgr_sufficient;
    let mut warnings = Vec::new();
    if options.patient.is_none() {
        warnings.push(Warning::new(
            None,
            "basis",
            "no height and weight: DH and KGR use the measured FLR %, not the standardised sFLR of [Shindoh2013]",
        ));
    }
    if !(21.0..=42.0).contains(&days) {
        warnings.push(Warning::new(
            None,
            "days",
            format!("{days} days between PVE and the post-PVE scan; the usual interval is 3-6 weeks and KGR depends on timing"),
        ));
    }
    let name = if basis == "sflr" { "sFLR" } else { "FLR" };
    let verdict = format!(
        "{}: post-PVE {name} {p1:.1} % {} {} %; KGR {kgr:.2} points/week {} 2",
        if sufficient { "SUFFICIENT" } else { "INSUFFICIENT" },
        if post_ok { ">=" } else { "<" },
        post_r.threshold_pct,
        if kgr_sufficient { ">=" } else { "<" },
    );
    let mut used = pre_r.formulas.clone();
    used.extend([formulas::DH, formulas::KGR, formulas::GROWTH]);
    Ok(PveReport {
        days,
        weeks,
        basis,
        dh_points: dh,
        kgr_points_per_week: kgr,
        kgr_sufficient,
        dh_ge_5_points: dh >= formulas::DH_LIMIT_POINTS,
        flr_growth_ml: v1 - v0,
        flr_growth_pct: formulas::growth_pct(v0, v1),
        flr_growth_pct_per_day: formulas::growth_pct(v0, v1) / days,
        threshold_pct: post_r.threshold_pct,
        sufficient,
        verdict,
        warnings,
        formulas: used,
        pre: pre_r,
        post: post_r,
    })
}
