//! Each command's report as the measurement groups of a DICOM SR
//! ([`crate::io::dicom::SrReport`]): the numbers a radiologist reads in the
//! terminal, coded so that PACS and research pipelines can read them.
//!
//! Volumes are SNOMED CT "Volume" (118565006) in mL; quantities DICOM's
//! vocabulary does not name (the remnant fraction, sFLR, kinetic growth
//! rate, minimal ablation margin, target coverage) take codes of liverkit's
//! own scheme `99LIVERKIT`, as DICOM allows private coding schemes whose
//! designator begins with "99" [DICOM PS3.3 8.2]. Units are UCUM [DICOM
//! PS3.16 CID 7181].

use crate::case::margin::MarginReport;
use crate::case::remnant::{PveReport, RemnantReport};
use crate::case::simulate::SimulateReport;
use crate::case::target::TargetReport;
use crate::case::volumes::VolumeReport;
use crate::io::dicom::{SrGroup, SrMeasurement, SrReport};
use crate::io::structure::{Concept, Structure};

const VOLUME: Concept = Concept::new("118565006", "SCT", "Volume");
const FLR: Concept = Concept::new(
    "flr-pct",
    "99LIVERKIT",
    "Future liver remnant, % of functional liver",
);
const SFLR: Concept = Concept::new(
    "sflr-pct",
    "99LIVERKIT",
    "Standardized future liver remnant, % of TELV",
);
const TELV: Concept = Concept::new("telv-ml", "99LIVERKIT", "Total estimated liver volume");
const DH: Concept = Concept::new("dh-points", "99LIVERKIT", "Degree of hypertrophy");
const KGR: Concept = Concept::new("kgr-pct-week", "99LIVERKIT", "Kinetic growth rate");
const MIN_MARGIN: Concept = Concept::new("min-margin-mm", "99LIVERKIT", "Minimal ablation margin");
const COVERAGE: Concept = Concept::new(
    "cov-10mm-pct",
    "99LIVERKIT",
    "Tumor surface with at least 10 mm of margin",
);
const RESIDUAL: Concept = Concept::new(
    "residual-ml",
    "99LIVERKIT",
    "Residual tumor outside the ablation zone",
);
const ML: Concept = Concept::new("ml", "UCUM", "milliliter");
const PCT: Concept = Concept::new("%", "UCUM", "percent");
const MM: Concept = Concept::new("mm", "UCUM", "millimeter");
const PCT_PER_WEEK: Concept = Concept::new("%/wk", "UCUM", "percent per week");
const TISSUE: Concept = Concept::new("85756007", "SCT", "Tissue");

fn m(name: Concept, value: f64, unit: Concept) -> Option<SrMeasurement> {
    value.is_finite().then_some(SrMeasurement { name, value, unit })
}

fn group(id: impl Into<String>, structure: Structure, measurements: Vec<Option<SrMeasurement>>) -> SrGroup {
    SrGroup {
        tracking_id: id.into(),
        finding: structure.property_type(),
        segment: Some(structure),
        measurements: measurements.into_iter().flatten().collect(),
    }
}

/// `liverkit volumes`: one group per label.
pub fn volumes_sr(r: &VolumeReport) -> SrReport {
    let groups = r
        .labels
        .iter()
        .map(|l| {
            let name = l.name.clone().unwrap_or_else(|| format!("label {}", l.label));
            let lower = name.to_ascii_lowercase();
            let finding = if lower == "liver" {
                Structure::Liver.property_type()
            } else if lower.contains("tumor") || lower.contains("tumour") {
                Structure::Tumor.property_type()
            } else {
                TISSUE
            };
            SrGroup {
                tracking_id: name,
                finding,
                segment: None,
                measurements: m(VOLUME, l.volume_ml, ML).into_iter().collect(),
            }
        })
        .collect();
    SrReport {
        description: "liverkit volumes".into(),
        groups,
        conclusion: None,
    }
}

fn remnant_groups(r: &RemnantReport, when: &str) -> Vec<SrGroup> {
    let at = |what: &str| format!("{what}{when}");
    let mut groups = vec![
        group(
            at("total liver"),
            Structure::Liver,
            vec![
                m(VOLUME, r.total_liver_ml, ML),
                r.telv_ml.and_then(|t| m(TELV, t, ML)),
            ],
        ),
        group(at("tumours"), Structure::Tumor, vec![m(VOLUME, r.tumor_ml, ML)]),
    ];
    if let Some(v) = r.remnant_ml {
        groups.push(group(
            at("liver remnant"),
            Structure::Remnant,
            vec![
                m(VOLUME, v, ML),
                r.flr_pct.and_then(|p| m(FLR, p, PCT)),
                r.sflr_pct.and_then(|p| m(SFLR, p, PCT)),
            ],
        ));
    }
    if let Some(v) = r.resected_ml {
        groups.push(group(
            at("resected liver"),
            Structure::ResectedLiver,
            vec![m(VOLUME, v, ML)],
        ));
    }
    groups
}

/// `liverkit remnant`: the liver, its tumours, the remnant (volume, FLR,
/// sFLR) and the resected part; the verdict.
pub fn remnant_sr(r: &RemnantReport) -> SrReport {
    SrReport {
        description: "liverkit remnant".into(),
        groups: remnant_groups(r, ""),
        conclusion: Some(r.verdict.clone()),
    }
}

/// `liverkit pve`: both scans' groups, and the growth (degree of
/// hypertrophy, kinetic growth rate); the verdict.
pub fn pve_sr(r: &PveReport) -> SrReport {
    let mut groups = remnant_groups(&r.pre, " before PVE");
    groups.extend(remnant_groups(&r.post, " after PVE"));
    groups.push(SrGroup {
        tracking_id: "remnant growth after PVE".into(),
        finding: Structure::Remnant.property_type(),
        segment: None,
        measurements: [
            m(VOLUME, r.flr_growth_ml, ML),
            m(DH, r.dh_points, PCT),
            m(KGR, r.kgr_points_per_week, PCT_PER_WEEK),
        ]
        .into_iter()
        .flatten()
        .collect(),
    });
    for g in &mut groups {
        // Two scans: the SEG (of one of them) is not pointed to.
        g.segment = None;
    }
    SrReport {
        description: "liverkit pve".into(),
        groups,
        conclusion: Some(r.verdict.clone()),
    }
}

/// `liverkit target`: per tumour, its volume and its target's (each group
/// points to the segment holding every tumour, or every target).
pub fn target_sr(r: &TargetReport) -> SrReport {
    let mut groups = Vec::new();
    for t in &r.tumors {
        groups.push(group(
            format!("tumour {}", t.tumor),
            Structure::Tumor,
            vec![m(VOLUME, t.tumor_ml, ML)],
        ));
        groups.push(group(
            format!("ablation target of tumour {} (+{} mm)", t.tumor, r.margin_mm),
            Structure::AblationTarget,
            vec![m(VOLUME, t.target_ml, ML)],
        ));
    }
    SrReport {
        description: "liverkit target".into(),
        groups,
        conclusion: None,
    }
}

/// `liverkit margin`: per tumour, volume, minimal margin, coverage and
/// residual tumour; the verdict.
pub fn margin_sr(r: &MarginReport) -> SrReport {
    let groups: Vec<SrGroup> = r
        .tumors
        .iter()
        .map(|t| {
            group(
                format!("tumour {}", t.tumor),
                Structure::Tumor,
                vec![
                    m(VOLUME, t.tumor_ml, ML),
                    m(MIN_MARGIN, t.margins.min_margin_mm, MM),
                    m(COVERAGE, t.margins.coverage_ge10_pct, PCT),
                    m(RESIDUAL, t.residual_tumor_ml, ML),
                ],
            )
        })
        .collect();
    SrReport {
        description: "liverkit margin".into(),
        groups,
        conclusion: Some(r.verdict.clone()),
    }
}

/// `liverkit simulate`: the predicted zones and the targeted tumour's
/// margin, coverage and residual tumour; the verdict.
pub fn simulate_sr(r: &SimulateReport) -> SrReport {
    let mut groups = vec![
        group(
            "predicted ablation zone (70 C)",
            Structure::AblationZone,
            vec![m(VOLUME, r.zone70_ml, ML)],
        ),
        group(
            "predicted thermal damage",
            Structure::ThermalDamage,
            vec![m(VOLUME, r.zone_damage_ml, ML)],
        ),
    ];
    if let Some(t) = &r.tumor {
        let margins = t.margins.as_ref();
        groups.push(group(
            "targeted tumour",
            Structure::Tumor,
            vec![
                m(VOLUME, t.tumor_ml, ML),
                margins.and_then(|s| m(MIN_MARGIN, s.min_margin_mm, MM)),
                margins.and_then(|s| m(COVERAGE, s.coverage_ge10_pct, PCT)),
                m(RESIDUAL, t.residual_tumor_ml, ML),
            ],
        ));
    }
    let conclusion = r.covers_target.is_some().then(|| r.verdict());
    SrReport {
        description: "liverkit simulate".into(),
        groups,
        conclusion,
    }
}
