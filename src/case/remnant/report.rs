//! From voxel counts to the remnant report: volumes, percentages, the
//! patient's numbers, warnings and the verdict.

use std::path::PathBuf;

use serde::Serialize;

use crate::error::{Result, Warning};

use super::{AssessOptions, Threshold};
use crate::remnant::formulas::{self, BsaFormula, FormulaUse, LiverCondition, TelvFormula};
use crate::remnant::resection::{RemnantDefinition, Resection};
use crate::remnant::Measurement;

/// One Couinaud segment in a report.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SegmentVolume {
    /// Segment number 1–8.
    pub segment: u8,
    /// Functional (non-tumour) liver in the segment, mL.
    pub volume_ml: f64,
    /// `volume_ml` in % of the functional liver.
    pub pct: f64,
    /// Tumour in the segment, mL.
    pub tumor_ml: f64,
    /// Whether a segment-based remnant keeps it.
    pub in_remnant: Option<bool>,
}

/// A named resection evaluated on the case (when no remnant was chosen).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ResectionOption {
    /// Resection name.
    pub resection: &'static str,
    /// Segments removed.
    pub removed_segments: Vec<u8>,
    /// Functional remnant, mL.
    pub remnant_ml: f64,
    /// Tumour left in the remnant, mL.
    pub remnant_tumor_ml: f64,
    /// Measured FLR, %.
    pub flr_pct: f64,
    /// Standardised FLR, % (with height and weight).
    pub sflr_pct: Option<f64>,
    /// Whether the remnant meets the threshold.
    pub sufficient: bool,
}

/// The remnant assessment of one scan: what `liverkit remnant --json` prints.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RemnantReport {
    /// Files read.
    pub input: Vec<PathBuf>,
    /// Where each role's voxels came from.
    pub roles: Roles,
    /// How the remnant was defined (`None`: volumes only).
    pub remnant_definition: Option<String>,
    /// Total liver volume (liver with its tumours), mL.
    pub total_liver_ml: f64,
    /// Liver tumour volume, mL.
    pub tumor_ml: f64,
    /// Tumour not touching the liver, left out of every volume, mL.
    pub tumor_outside_liver_ml: f64,
    /// `total_liver_ml − tumor_ml`, mL.
    pub functional_liver_ml: f64,
    /// The functional remnant (FLR): liver kept, tumour excluded, mL.
    pub remnant_ml: Option<f64>,
    /// Tumour inside the remnant, mL (the remnant is then not tumour-free).
    pub remnant_tumor_ml: Option<f64>,
    /// Functional liver removed, mL.
    pub resected_ml: Option<f64>,
    /// Measured FLR, % of the functional liver.
    pub flr_pct: Option<f64>,
    /// Height, cm.
    pub height_cm: Option<f64>,
    /// Weight, kg.
    pub weight_kg: Option<f64>,
    /// Body surface area, m².
    pub bsa_m2: Option<f64>,
    /// Formula of `bsa_m2`.
    pub bsa_formula: Option<BsaFormula>,
    /// Total estimated liver volume, mL.
    pub telv_ml: Option<f64>,
    /// Formula of `telv_ml`.
    pub telv_formula: Option<TelvFormula>,
    /// Standardised FLR, % of TELV.
    pub sflr_pct: Option<f64>,
    /// FLR-to-body-weight ratio, %.
    pub flr_bwr_pct: Option<f64>,
    /// Whether the FLR-to-body-weight ratio is ≤ 0.5 % [Truant2007].
    pub flr_bwr_low: Option<bool>,
    /// Liver condition that set the threshold (`None` for `--min-flr-pct`).
    pub condition: Option<LiverCondition>,
    /// Minimum remnant, %.
    pub threshold_pct: f64,
    /// Source of the threshold.
    pub threshold_source: String,
    /// `"sflr"` (with height and weight) or `"flr"`.
    pub threshold_basis: &'static str,
    /// The value checked against the threshold, %.
    pub checked_pct: Option<f64>,
    /// `checked_pct − threshold_pct`, percentage points.
    pub margin_points: Option<f64>,
    /// Whether the remnant is large enough (`None` without a remnant).
    pub sufficient: Option<bool>,
    /// The band around `checked_pct` the volumetry cannot resolve,
    /// percentage points (6.3 % of the value [CTtoSpecimen2019]).
    pub uncertainty_points: Option<f64>,
    /// Whether the verdict is borderline: the threshold lies within
    /// `uncertainty_points` of the value, or the body-weight criterion
    /// disagrees with the percentage one [Truant2007].
    pub borderline: Option<bool>,
    /// The verdict in words.
    pub verdict: String,
    /// Whether the liver reaches the edge of the scan.
    pub liver_touches_edge: bool,
    /// Couinaud segments (empty without segments).
    pub segments: Vec<SegmentVolume>,
    /// Liver in no segment that was given to the nearest segment, mL.
    pub segments_filled_ml: f64,
    /// Liver that no segment reaches, mL (never in a segment-based remnant).
    pub segments_unassigned_ml: f64,
    /// Every named resection (with segments and no remnant definition).
    pub resections: Vec<ResectionOption>,
    /// What the user must know.
    pub warnings: Vec<Warning>,
    /// Each formula used, with its source key.
    pub formulas: Vec<FormulaUse>,
}

/// Descriptions of the roles as resolved.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Roles {
    /// The liver.
    pub liver: String,
    /// The tumours.
    pub tumor: Option<String>,
    /// The Couinaud segments.
    pub segments: Option<String>,
}

/// Turns a measurement into the report: volumes, percentages, the patient's
/// numbers and the verdict.
///
/// # Errors
/// `Parameter` for a height or weight outside the human range or a threshold
/// outside 0–100 %.
pub fn report(
    m: &Measurement,
    definition: Option<&RemnantDefinition>,
    options: &AssessOptions,
    roles: Roles,
    input: Vec<PathBuf>,
    mut warnings: Vec<Warning>,
) -> Result<RemnantReport> {
    let (threshold_pct, condition, threshold_source) = match options.threshold {
        Threshold::Condition(c) => (c.min_remnant_pct(), Some(c), c.source().to_string()),
        Threshold::MinPct(p) => {
            crate::vocabulary::MIN_FLR_PCT.check(p)?;
            (p, None, "chosen by the user (`min_flr_pct`)".to_string())
        }
    };
    if let Some(p) = options.patient {
        formulas::check_body(p.height_cm, p.weight_kg)?;
    }
    let total_liver_ml = m.ml(m.total_liver_voxels);
    let tumor_ml = m.ml(m.tumor_voxels);
    let functional_liver_ml = total_liver_ml - tumor_ml;
    let remnant_ml = m.remnant_functional_voxels.map(|v| m.ml(v));
    let remnant_tumor_ml = m.remnant_tumor_voxels.map(|v| m.ml(v));
    let flr_pct = remnant_ml.map(|r| formulas::flr_pct(r, functional_liver_ml));
    let bsa_m2 = options
        .patient
        .map(|p| formulas::bsa_m2(p.height_cm, p.weight_kg, options.bsa));
    let telv_ml = bsa_m2.map(|b| formulas::telv_ml(b, options.telv));
    let sflr = |r: f64| telv_ml.map(|t| formulas::sflr_pct(r, t));
    let sflr_pct = remnant_ml.and_then(sflr);
    let flr_bwr_pct = remnant_ml
        .zip(options.patient)
        .map(|(r, p)| formulas::flr_bwr_pct(r, p.weight_kg));
    let flr_bwr_low = flr_bwr_pct.map(|b| b <= formulas::FLR_BWR_LIMIT_PCT);
    let threshold_basis = if options.patient.is_some() { "sflr" } else { "flr" };
    let checked_pct = if options.patient.is_some() {
        sflr_pct
    } else {
        flr_pct
    };
    let margin_points = checked_pct.map(|c| c - threshold_pct);
    let sufficient = checked_pct.map(|c| c >= threshold_pct);

    let filled_ml = m.ml(m.filled_voxels);
    let unassigned_ml = m.ml(m.segment_functional_voxels[0] + m.segment_tumor_voxels[0]);
    case_warnings(
        m,
        roles.tumor.is_none(),
        remnant_tumor_ml,
        flr_bwr_pct,
        &mut warnings,
    );

    let basis_name = if options.patient.is_some() { "sFLR" } else { "FLR" };
    let condition_text = match condition {
        Some(c) => format!("{} liver", c.name()),
        None => "user threshold".to_string(),
    };
    let uncertainty_points = checked_pct.map(formulas::uncertainty_points);
    let near_threshold = checked_pct
        .zip(uncertainty_points)
        .map(|(v, u)| (v - threshold_pct).abs() <= u);
    // The criteria disagree: enough by percentage but FLR/BW ≤ 0.5 %, or
    // short by percentage while FLR/BW is above it.
    let disagree = sufficient.zip(flr_bwr_low).map(|(s, low)| s == low);
    let borderline = near_threshold.map(|n| n || disagree == Some(true));
    let mut why = Vec::new();
    if near_threshold == Some(true) {
        why.push(format!(
            "within the volumetry's uncertainty of +/-{:.1} points (6.3 % of the value [CTtoSpecimen2019])",
            uncertainty_points.unwrap_or(0.0)
        ));
    }
    if disagree == Some(true) {
        why.push(format!(
            "the FLR-to-body-weight ratio {:.2} % says otherwise (limit 0.5 % [Truant2007])",
            flr_bwr_pct.unwrap_or(0.0)
        ));
    }
    let mut verdict = verdict_text(checked_pct, threshold_pct, basis_name, &condition_text, &why);
    if m.liver_touches_edge && sufficient.is_some() {
        verdict.push_str("; the liver reaches the edge of the scan, so the total liver volume is a lower bound and the FLR % is uncertain");
    }

    let segments = segment_rows(m, definition, functional_liver_ml);
    let resections = if m.has_segments && definition.is_none() {
        resection_options(m, functional_liver_ml, telv_ml, threshold_pct)
    } else {
        Vec::new()
    };

    let used = formulas_used(options, condition, remnant_ml.is_some() || !resections.is_empty());
    Ok(RemnantReport {
        input,
        roles,
        remnant_definition: definition.map(RemnantDefinition::describe),
        total_liver_ml,
        tumor_ml,
        tumor_outside_liver_ml: m.ml(m.tumor_outside_voxels),
        functional_liver_ml,
        remnant_ml,
        remnant_tumor_ml,
        resected_ml: remnant_ml.map(|r| functional_liver_ml - r),
        flr_pct,
        height_cm: options.patient.map(|p| p.height_cm),
        weight_kg: options.patient.map(|p| p.weight_kg),
        bsa_m2,
        bsa_formula: options.patient.map(|_| options.bsa),
        telv_ml,
        telv_formula: options.patient.map(|_| options.telv),
        sflr_pct,
        flr_bwr_pct,
        flr_bwr_low,
        condition,
        threshold_pct,
        threshold_source,
        threshold_basis,
        checked_pct,
        margin_points,
        sufficient,
        uncertainty_points,
        borderline,
        verdict,
        liver_touches_edge: m.liver_touches_edge,
        segments,
        segments_filled_ml: if m.has_segments { filled_ml } else { 0.0 },
        segments_unassigned_ml: if m.has_segments { unassigned_ml } else { 0.0 },
        resections,
        warnings,
        formulas: used,
    })
}

/// The verdict in words: `checked_pct` of `basis` (FLR or sFLR) against
/// `threshold_pct`, BORDERLINE with the reasons in `why` when there are any.
fn verdict_text(
    checked_pct: Option<f64>,
    threshold_pct: f64,
    basis: &str,
    condition_text: &str,
    why: &[String],
) -> String {
    let Some(v) = checked_pct else {
        return "no remnant defined: volumes only".to_string();
    };
    let (word, rel, side) = if v >= threshold_pct {
        (
            "SUFFICIENT",
            ">=",
            format!("{:.1} points above", v - threshold_pct),
        )
    } else {
        (
            "INSUFFICIENT",
            "<",
            format!("{:.1} points short", threshold_pct - v),
        )
    };
    let text = format!("{basis} {v:.1} % {rel} {threshold_pct} % ({condition_text}), {side}");
    if why.is_empty() {
        format!("{word}: {text}")
    } else {
        format!("BORDERLINE ({}): {text}; {}", word.to_lowercase(), why.join("; "))
    }
}

/// The formulas a report used, with their sources.
fn formulas_used(
    options: &AssessOptions,
    condition: Option<LiverCondition>,
    remnant: bool,
) -> Vec<FormulaUse> {
    let mut used = vec![formulas::VOLUME, formulas::FUNCTIONAL_LIVER];
    if remnant {
        used.push(formulas::FLR_PCT);
    }
    if options.patient.is_some() {
        used.extend([
            options.bsa.usage(),
            options.telv.usage(),
            formulas::SFLR_PCT,
            formulas::FLR_BWR,
        ]);
    }
    used.push(FormulaUse {
        quantity: "threshold_pct",
        formula: "minimum remnant: normal liver 20 %, after chemotherapy 30 %, cirrhosis 40 %",
        source: match condition {
            Some(c) => c.source(),
            None => "user (`min_flr_pct`)",
        },
    });
    used
}

/// What the user must know about the inputs and the result: tumour outside
/// the liver or not given, segments that miss the liver or cover it badly,
/// a remnant reaching outside the liver or holding tumour, a low
/// FLR-to-body-weight ratio, a liver cut by the field of view.
fn case_warnings(
    m: &Measurement,
    no_tumor_role: bool,
    remnant_tumor_ml: Option<f64>,
    flr_bwr_pct: Option<f64>,
    warnings: &mut Vec<Warning>,
) {
    if m.tumor_outside_voxels > 0 {
        warnings.push(Warning::new(
            None,
            "tumor",
            format!(
                "{:.1} mL of tumour neither overlaps nor touches the liver: left out of every volume (check the tumour role)",
                m.ml(m.tumor_outside_voxels)
            ),
        ));
    }
    if no_tumor_role {
        warnings.push(Warning::new(
            None,
            "tumor",
            "no tumour given (`tumor`): tumour volume is taken as 0 mL, so the functional liver includes any tumour",
        ));
    }
    let region_ml = m.ml(m.total_liver_voxels);
    let filled_ml = m.ml(m.filled_voxels);
    let unassigned_ml = m.ml(m.segment_functional_voxels[0] + m.segment_tumor_voxels[0]);
    if m.has_segments {
        if m.filled_voxels > 0 {
            warnings.push(Warning::new(
                None,
                "segments",
                format!(
                    "{filled_ml:.1} mL of liver ({:.1} %) lay in no segment and was given to the nearest segment",
                    100.0 * filled_ml / region_ml
                ),
            ));
        }
        if unassigned_ml > 0.0 {
            warnings.push(Warning::new(
                None,
                "segments",
                format!(
                    "{unassigned_ml:.1} mL of liver is reached by no segment: it is in no segment and never in a segment-based remnant"
                ),
            ));
        }
        let covered = 100.0 * (region_ml - filled_ml - unassigned_ml) / region_ml;
        let seg_ml: f64 = (1..9)
            .map(|s| m.ml(m.segment_functional_voxels[s] + m.segment_tumor_voxels[s]))
            .sum();
        let outside_ml = m.ml(m.segments_outside_voxels);
        if covered < 90.0 {
            warnings.push(Warning::new(
                None,
                "segments",
                format!("the segments cover only {covered:.1} % of the liver: check that they belong to this scan"),
            ));
        }
        if outside_ml > 0.05 * (seg_ml - filled_ml + outside_ml).max(f64::MIN_POSITIVE) {
            warnings.push(Warning::new(
                None,
                "segments",
                format!("{outside_ml:.1} mL of the segments lie outside the liver: the segments match the liver badly"),
            ));
        }
    }
    if m.remnant_outside_voxels > 0 {
        warnings.push(Warning::new(
            None,
            "remnant",
            format!(
                "{:.1} mL of the remnant region lie outside the liver and are ignored",
                m.ml(m.remnant_outside_voxels)
            ),
        ));
    }
    if let Some(t) = remnant_tumor_ml.filter(|&t| t > 0.0) {
        warnings.push(Warning::new(
            None,
            "remnant_tumor_ml",
            format!("the remnant holds {t:.1} mL of tumour: it is not tumour-free (excluded from the FLR)"),
        ));
    }
    if let Some(bwr) = flr_bwr_pct.filter(|&b| b <= formulas::FLR_BWR_LIMIT_PCT) {
        warnings.push(Warning::new(
            None,
            "flr_bwr_pct",
            format!(
                "FLR-to-body-weight ratio {bwr:.2} % is at or below 0.5 %, which predicts morbidity [Truant2007]"
            ),
        ));
    }
    if m.liver_touches_edge {
        warnings.push(Warning::new(
            None,
            "liver_touches_edge",
            "the liver reaches the edge of the scan: the total liver volume is a lower bound and the FLR % is uncertain",
        ));
    }
}

/// Each Couinaud segment's functional volume, share, tumour and whether the
/// remnant keeps it (empty without segments).
fn segment_rows(
    m: &Measurement,
    definition: Option<&RemnantDefinition>,
    functional_liver_ml: f64,
) -> Vec<SegmentVolume> {
    let kept = definition.and_then(RemnantDefinition::kept_segments);
    if m.has_segments {
        (1..9u8)
            .map(|s| {
                let v = m.ml(m.segment_functional_voxels[s as usize]);
                SegmentVolume {
                    segment: s,
                    volume_ml: v,
                    pct: 100.0 * v / functional_liver_ml,
                    tumor_ml: m.ml(m.segment_tumor_voxels[s as usize]),
                    in_remnant: kept.map(|k| k[s as usize]),
                }
            })
            .collect()
    } else {
        Vec::new()
    }
}

/// Every named resection with its remnant and whether it would be enough
/// (shown when segments are given and no remnant is named).
fn resection_options(
    m: &Measurement,
    functional_liver_ml: f64,
    telv_ml: Option<f64>,
    threshold_pct: f64,
) -> Vec<ResectionOption> {
    Resection::ALL
        .iter()
        .map(|&r| {
            let def = RemnantDefinition::Resection {
                resection: r,
                with_caudate: false,
            };
            let kept = def.kept_segments().unwrap_or([false; 9]);
            let rem = m.ml(m.kept_functional(&kept));
            let flr = formulas::flr_pct(rem, functional_liver_ml);
            let s = telv_ml.map(|t| formulas::sflr_pct(rem, t));
            // With height and weight (a TELV) the check is on sFLR.
            let checked = s.unwrap_or(flr);
            ResectionOption {
                resection: r.name(),
                removed_segments: r.removed(false),
                remnant_ml: rem,
                remnant_tumor_ml: m.ml(m.kept_tumor(&kept)),
                flr_pct: flr,
                sflr_pct: s,
                sufficient: checked >= threshold_pct,
            }
        })
        .collect()
}
