//! The target case: tumour, liver and vessel roles resolved from files,
//! each tumour's ablation target planned ([`crate::margin::target::plan_targets`]).

use serde::Serialize;

use crate::case::roles::{Files, LabelRef, RoleSpec};
use crate::error::{parameter_error, Result, Warning};
use crate::margin::target::{plan_targets, TargetPlan, TargetZone, VesselInput};

/// What `liverkit target --json` prints.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TargetReport {
    /// Files read (in-memory inputs by their given names).
    pub input: Vec<std::path::PathBuf>,
    /// The margin around each tumour, mm.
    pub margin_mm: f64,
    /// Functional liver (liver without tumours), mL.
    pub functional_liver_ml: f64,
    /// One entry per tumour.
    pub tumors: Vec<TargetZone>,
    /// The target mask written, when one was.
    pub target_file: Option<std::path::PathBuf>,
    /// What the user must know.
    pub warnings: Vec<Warning>,
}

/// The vessel labels given by value or name, each as a mask with its label
/// and name, from the case's main label map.
///
/// # Errors
/// `Parameter` (`vessels`) for a label the map lacks (listing those present)
/// or when there is no main label map.
pub fn resolve_vessels(files: &mut Files, specs: &[String]) -> Result<Vec<VesselInput>> {
    let names = files.main_names().cloned().unwrap_or_default();
    let mut vessels = Vec::new();
    for v in specs {
        let r = match v.trim().parse::<i64>() {
            Ok(x) => LabelRef::Value(x),
            Err(_) => LabelRef::Name(v.trim().to_string()),
        };
        let (mask, _) = files.resolve("vessels", &RoleSpec::Labels(vec![r.clone()]))?;
        let label = match r {
            LabelRef::Value(x) => x,
            LabelRef::Name(n) => names.iter().find(|(_, s)| **s == n).map(|(k, _)| *k).unwrap_or(0),
        };
        vessels.push(VesselInput {
            label,
            name: names.get(&label).cloned(),
            mask,
        });
    }
    Ok(vessels)
}

/// Resolves the roles of a case and plans its targets: the report (with
/// `target_file` unset) and the plan (for the target mask).
///
/// # Errors
/// Role errors of [`Files`]; `Parameter` (`tumor`) when no
/// tumour is given or named; errors of [`plan_targets`].
pub fn target_report(
    files: &mut Files,
    tumor_spec: Option<&RoleSpec>,
    liver: Option<&RoleSpec>,
    vessels: &[String],
    margin_mm: f64,
) -> Result<(TargetReport, TargetPlan)> {
    let Some((tumor, _)) = files.tumor(tumor_spec)? else {
        return Err(parameter_error(
            "tumor",
            "nothing",
            "a tumour role (`tumor`: a label value, a label name or a mask file; no label is named liver_tumor)",
        ));
    };
    let (liver, _) = files.liver(liver)?;
    let vessels = resolve_vessels(files, vessels)?;
    let mut plan = plan_targets(&tumor, &liver, &vessels, margin_mm)?;
    // Each tumour's label in the file its role came from.
    let source = match tumor_spec {
        Some(RoleSpec::File { path, .. }) => files.label_map_of(path).ok(),
        _ => files.main_map(),
    };
    if let Some(map) = source {
        for z in &mut plan.zones {
            z.label = map.labels().get(z.first_voxel).filter(|&v| v != 0);
            z.label_name = z.label.and_then(|v| map.names().get(&v).cloned());
        }
    }
    let mut warnings = files.warnings.clone();
    warnings.extend(plan.warnings.iter().cloned());
    let report = TargetReport {
        input: files.inputs.clone(),
        margin_mm,
        functional_liver_ml: plan.functional_liver_ml,
        tumors: plan.zones.clone(),
        target_file: None,
        warnings,
    };
    Ok((report, plan))
}
