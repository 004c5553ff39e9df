//! What each command's HTML report shows ([`crate::case::report_html`]):
//! its title, request, verdict, key numbers and charts, taken from the same
//! report the command prints as JSON, so the page and `--json` cannot
//! disagree.

use serde::Serialize;
use serde_json::Value;

use crate::case::margin::MarginReport;
use crate::case::remnant::{PveReport, RemnantReport};
use crate::case::report_html::{bar_chart, histogram_mm, Chart, Page, Tone, FAIL_RGB};
use crate::case::simulate::SimulateReport;
use crate::case::target::TargetReport;
use crate::case::volumes::VolumeReport;
use crate::error::{Error, Result, Warning};
use crate::io::structure::Structure;
use crate::volume::Volume;

/// Units by key suffix, as every number in liverkit's reports is named.
const UNITS: [(&str, &str); 12] = [
    ("_ml", "mL"),
    ("_pct", "%"),
    ("_mm", "mm"),
    ("_c", "°C"),
    ("_s", "s"),
    ("_w", "W"),
    ("_j", "J"),
    ("_m2", "m²"),
    ("_kg", "kg"),
    ("_cm", "cm"),
    ("_points", "points"),
    ("_ohm", "Ω"),
];

/// Words for keys whose name alone reads badly.
const LABELS: &[(&str, &str)] = &[
    ("flr_pct", "FLR"),
    ("sflr_pct", "sFLR (standardised FLR)"),
    ("telv_ml", "standard liver volume (TELV)"),
    ("flr_bwr_pct", "FLR / body weight"),
    ("margin_points", "above the threshold"),
    ("dh_points", "degree of hypertrophy (DH)"),
    ("flr_growth_ml", "remnant growth"),
    ("flr_growth_pct", "remnant growth (relative)"),
    ("uncertainty_points", "volumetry uncertainty"),
    ("coverage_ge0_pct", "surface with margin ≥ 0 mm"),
    ("coverage_ge5_pct", "surface with margin ≥ 5 mm"),
    ("coverage_ge10_pct", "surface with margin ≥ 10 mm"),
    ("p5_margin_mm", "5th percentile margin"),
    ("under5_ml", "tumour with margin < 5 mm"),
    ("under10_ml", "tumour with margin < 10 mm"),
    ("zone70_ml", "70 °C zone"),
    ("zone_length_mm", "70 °C zone length"),
    ("zone_diameter_mm", "70 °C zone diameter"),
    ("zone_beyond_tip_mm", "70 °C zone beyond the tip"),
    ("zone_damage_ml", "damage zone (Ω ≥ 1)"),
    ("zone_damage_length_mm", "damage zone length"),
    ("zone_damage_diameter_mm", "damage zone diameter"),
    ("deposited_w", "power deposited in tissue"),
    ("dried_ml", "tissue boiled dry"),
    ("damage_zone_min_margin_mm", "damage zone min margin"),
];

/// `key` in words with its unit: `remnant_ml` → ("remnant", "mL").
fn label_unit(key: &str) -> Option<(String, &'static str)> {
    let (suffix, unit) = UNITS.iter().find(|(suffix, _)| key.ends_with(suffix))?;
    let words = match LABELS.iter().find(|(k, _)| *k == key) {
        Some((_, words)) => (*words).to_string(),
        None => key[..key.len() - suffix.len()].replace('_', " "),
    };
    Some((words, unit))
}

/// The numbers `keys` of a JSON object, in that order, as (label, value
/// with the unit its key names); keys that are absent, null or without a
/// unit suffix are left out.
pub fn key_numbers(v: &Value, keys: &[&str], prefix: &str) -> Vec<(String, String)> {
    keys.iter()
        .filter_map(|k| {
            let n = v.get(k)?.as_f64()?;
            let (label, unit) = label_unit(k)?;
            let digits = if n.abs() >= 100.0 { 1 } else { 2 };
            Some((format!("{prefix}{label}"), format!("{n:.digits$} {unit}")))
        })
        .collect()
}

fn json<T: Serialize>(r: &T) -> Result<Value> {
    serde_json::to_value(r).map_err(|e| Error::Write {
        path: "report".into(),
        source: std::io::Error::other(e.to_string()),
    })
}

fn words(warnings: &[Warning]) -> Vec<String> {
    warnings.iter().map(ToString::to_string).collect()
}

fn inputs(paths: &[std::path::PathBuf]) -> Vec<String> {
    paths.iter().map(|p| p.display().to_string()).collect()
}

/// The remnant definition and the threshold with its source.
fn remnant_request(r: &RemnantReport) -> Vec<(String, String)> {
    let mut parameters = Vec::new();
    if let Some(d) = &r.remnant_definition {
        parameters.push(("remnant".to_string(), d.clone()));
    }
    parameters.push((
        "threshold".into(),
        format!("{} % ({})", r.threshold_pct, r.threshold_source),
    ));
    parameters
}

/// The remnant's colour when it is enough, red when it is not.
fn verdict_rgb(sufficient: Option<bool>) -> [u8; 3] {
    if sufficient == Some(true) {
        Structure::Remnant.rgb()
    } else {
        FAIL_RGB
    }
}

/// The remnant report: FLR/sFLR against the threshold, segment bars
/// coloured remnant or resected.
///
/// # Errors
/// Internal errors of the charts.
pub fn remnant_page(r: &RemnantReport) -> Result<Page> {
    let v = json(r)?;
    let mut parameters = remnant_request(r);
    if let (Some(h), Some(w)) = (r.height_cm, r.weight_kg) {
        parameters.push(("patient".into(), format!("{h} cm, {w} kg")));
    }
    let mut charts = Vec::new();
    if let Some(c) = r.checked_pct {
        let basis = if r.sflr_pct.is_some() { "sFLR" } else { "FLR" };
        charts.push(Chart {
            title: format!("{basis} against the threshold"),
            svg: bar_chart(
                &[(basis.to_string(), c, verdict_rgb(r.sufficient))],
                Some((r.threshold_pct, "threshold")),
                "%",
            )?,
        });
    }
    if !r.segments.is_empty() {
        let bars: Vec<(String, f64, [u8; 3])> = r
            .segments
            .iter()
            .map(|s| {
                let colour = match s.in_remnant {
                    Some(true) => Structure::Remnant.rgb(),
                    Some(false) => Structure::ResectedLiver.rgb(),
                    None => Structure::Liver.rgb(),
                };
                (format!("S{}", s.segment), s.volume_ml, colour)
            })
            .collect();
        charts.push(Chart {
            title: "Couinaud segments (green: remnant; other: resected)".into(),
            svg: bar_chart(&bars, None, "mL")?,
        });
    }
    Ok(Page {
        command: "remnant".into(),
        title: "Future liver remnant".into(),
        inputs: inputs(&r.input),
        parameters,
        verdict: Some((r.verdict.clone(), Tone::of(r.sufficient, &r.verdict))),
        numbers: key_numbers(&v, REMNANT_KEYS, ""),
        charts,
        warnings: words(&r.warnings),
        ..Page::default()
    })
}

const REMNANT_KEYS: &[&str] = &[
    "total_liver_ml",
    "tumor_ml",
    "functional_liver_ml",
    "remnant_ml",
    "resected_ml",
    "flr_pct",
    "telv_ml",
    "sflr_pct",
    "flr_bwr_pct",
    "threshold_pct",
    "margin_points",
    "uncertainty_points",
];

const TARGET_KEYS: &[&str] = &[
    "tumor_ml",
    "target_ml",
    "healthy_liver_in_target_ml",
    "healthy_liver_in_target_pct",
    "outside_liver_ml",
    "subcapsular_surface_pct",
];

const MARGIN_KEYS: &[&str] = &[
    "tumor_ml",
    "min_margin_mm",
    "p5_margin_mm",
    "median_margin_mm",
    "coverage_ge0_pct",
    "coverage_ge5_pct",
    "coverage_ge10_pct",
    "residual_tumor_ml",
    "under5_ml",
    "under10_ml",
];

const SIMULATE_KEYS: &[&str] = &[
    "zone70_ml",
    "zone_length_mm",
    "zone_diameter_mm",
    "zone_beyond_tip_mm",
    "zone_damage_ml",
    "zone_damage_length_mm",
    "zone_damage_diameter_mm",
    "max_temperature_c",
    "min_margin_mm",
    "coverage_ge10_pct",
    "residual_tumor_ml",
    "damage_zone_min_margin_mm",
    "deposited_w",
    "dried_ml",
];

/// Growth after portal vein embolisation: the verdict, the numbers before
/// and after, the remnant (FLR or sFLR) before and after against the
/// threshold, and the remnant volume before and after.
///
/// # Errors
/// Internal errors of the charts.
pub fn pve_page(r: &PveReport) -> Result<Page> {
    let v = json(r)?;
    let mut numbers = key_numbers(
        &v,
        &["dh_points", "flr_growth_ml", "flr_growth_pct", "threshold_pct"],
        "",
    );
    numbers.insert(
        0,
        (
            "interval".into(),
            format!("{:.0} days ({:.1} weeks)", r.days, r.weeks),
        ),
    );
    numbers.push((
        "kinetic growth rate (KGR)".into(),
        format!("{:.2} points/week", r.kgr_points_per_week),
    ));
    numbers.extend(key_numbers(&v["pre"], REMNANT_KEYS, "before · "));
    numbers.extend(key_numbers(&v["post"], REMNANT_KEYS, "after · "));
    let basis = if r.pre.sflr_pct.is_some() { "sFLR" } else { "FLR" };
    let mut charts = Vec::new();
    if let (Some(a), Some(b)) = (r.pre.checked_pct, r.post.checked_pct) {
        charts.push(Chart {
            title: format!("{basis} before and after PVE, against the threshold"),
            svg: bar_chart(
                &[
                    ("before".into(), a, verdict_rgb(r.pre.sufficient)),
                    ("after".into(), b, verdict_rgb(r.post.sufficient)),
                ],
                Some((r.threshold_pct, "threshold")),
                "%",
            )?,
        });
    }
    if let (Some(a), Some(b)) = (r.pre.remnant_ml, r.post.remnant_ml) {
        charts.push(Chart {
            title: format!("Remnant volume, {:.1} weeks apart", r.weeks),
            svg: bar_chart(
                &[
                    ("before".into(), a, Structure::Remnant.rgb()),
                    ("after".into(), b, Structure::Remnant.rgb()),
                ],
                None,
                "mL",
            )?,
        });
    }
    let mut warnings = words(&r.pre.warnings);
    warnings.extend(words(&r.post.warnings));
    warnings.extend(words(&r.warnings));
    let mut inputs = inputs(&r.pre.input);
    inputs.extend(r.post.input.iter().map(|p| p.display().to_string()));
    let parameters = remnant_request(&r.pre);
    Ok(Page {
        command: "pve".into(),
        title: "Remnant growth after portal vein embolisation".into(),
        inputs,
        parameters,
        verdict: Some((r.verdict.clone(), Tone::of(Some(r.sufficient), &r.verdict))),
        numbers,
        charts,
        warnings,
        ..Page::default()
    })
}

/// The ablation targets: each tumour's target and the healthy liver it takes.
///
/// # Errors
/// Internal errors of the charts.
pub fn target_page(r: &TargetReport) -> Result<Page> {
    let v = json(r)?;
    let mut numbers = key_numbers(&v, &["functional_liver_ml"], "");
    for (i, t) in v["tumors"].as_array().into_iter().flatten().enumerate() {
        numbers.extend(key_numbers(t, TARGET_KEYS, &format!("tumour {} · ", i + 1)));
    }
    let mut bars = Vec::new();
    for t in &r.tumors {
        bars.push((format!("T{} tumour", t.tumor), t.tumor_ml, Structure::Tumor.rgb()));
        bars.push((
            format!("T{} healthy", t.tumor),
            t.healthy_liver_in_target_ml,
            Structure::AblationTarget.rgb(),
        ));
    }
    let charts = if bars.is_empty() {
        Vec::new()
    } else {
        vec![Chart {
            title: "Tumour and healthy liver inside each target".into(),
            svg: bar_chart(&bars, None, "mL")?,
        }]
    };
    Ok(Page {
        command: "target".into(),
        title: "Ablation target: tumour + margin".into(),
        inputs: inputs(&r.input),
        parameters: vec![("margin".into(), format!("{} mm", r.margin_mm))],
        verdict: Some((
            format!(
                "{} tumour(s); target = tumour + {} mm inside the liver",
                r.tumors.len(),
                r.margin_mm
            ),
            Tone::Neutral,
        )),
        numbers,
        charts,
        warnings: words(&r.warnings),
        ..Page::default()
    })
}

/// The margin of a zone: the verdict, each tumour's numbers, and the
/// histogram of the surface margin with the 0, 5 and 10 mm lines.
///
/// # Errors
/// Internal errors of the charts.
pub fn margin_page(r: &MarginReport, margin_map: Option<&Volume<f32>>) -> Result<Page> {
    let v = json(r)?;
    let mut numbers = Vec::new();
    for (i, t) in v["tumors"].as_array().into_iter().flatten().enumerate() {
        let prefix = format!("tumour {} · ", i + 1);
        numbers.extend(key_numbers(t, MARGIN_KEYS, &prefix));
    }
    let mut charts = Vec::new();
    if let Some(map) = margin_map {
        let values: Vec<f64> = map
            .data()
            .iter()
            .filter(|x| x.is_finite())
            .map(|&x| x as f64)
            .collect();
        if !values.is_empty() {
            charts.push(Chart {
                title: format!(
                    "Margin over the tumour surface, per surface voxel (lines at {} mm [Shady2018]; \
                     amber below the required {} mm)",
                    crate::margin::COVERAGE_THRESHOLDS_MM
                        .map(|t| t.to_string())
                        .join(", "),
                    r.margin_mm
                ),
                svg: histogram_mm(
                    &values,
                    &crate::margin::COVERAGE_THRESHOLDS_MM,
                    r.margin_mm,
                    "margin (mm)",
                )?,
            });
        }
    }
    Ok(Page {
        command: "margin".into(),
        title: "Ablation margin".into(),
        inputs: inputs(&r.input),
        parameters: vec![
            ("required margin".into(), format!("{} mm", r.margin_mm)),
            ("capsule excluded".into(), r.exclude_capsule.to_string()),
        ],
        verdict: Some((r.verdict.clone(), Tone::of(Some(r.sufficient), &r.verdict))),
        numbers,
        charts,
        warnings: words(&r.warnings),
        ..Page::default()
    })
}

/// A simulated ablation: the verdict on the 70 °C zone, the zones and the
/// energy budget.
///
/// # Errors
/// Internal errors of the charts.
pub fn simulate_page(r: &SimulateReport) -> Result<Page> {
    let v = json(r)?;
    let a = &r.applicator;
    let parameters = vec![
        (
            "applicator".into(),
            format!("{} · {}", crate::vocabulary::Named::name(a.kind), a.device),
        ),
        ("power, time".into(), format!("{} W, {} s", a.power_w, a.time_s)),
        (
            "tip (RAS mm)".into(),
            format!("{:.1}, {:.1}, {:.1}", a.tip_mm[0], a.tip_mm[1], a.tip_mm[2]),
        ),
        ("required margin".into(), format!("{} mm", r.margin_mm)),
    ];
    let e = &r.energy;
    let budget = [
        ("stored", e.stored_j),
        ("latent", e.latent_j),
        ("perfusion", e.perfusion_j),
        ("vessels", e.vessels_j),
        ("boundary", e.boundary_j),
    ];
    let bars: Vec<(String, f64, [u8; 3])> = budget
        .iter()
        .map(|(k, j)| (k.to_string(), j / 1000.0, [120, 120, 200]))
        .collect();
    let charts = vec![Chart {
        title: format!("Where the {:.1} kJ deposited went", e.deposited_j / 1000.0),
        svg: bar_chart(&bars, None, "kJ")?,
    }];
    let verdict = r.verdict();
    Ok(Page {
        command: "simulate".into(),
        title: "Predicted ablation zone".into(),
        inputs: inputs(&r.input),
        parameters,
        verdict: Some((verdict.clone(), Tone::of(r.covers_target, &verdict))),
        numbers: key_numbers(&v, SIMULATE_KEYS, ""),
        charts,
        warnings: words(&r.warnings),
        ..Page::default()
    })
}

/// Label volumetry: each label's volume, the largest as bars in the colours
/// the slices and the 3D view draw them in.
///
/// # Errors
/// Internal errors of the charts.
pub fn volumes_page(r: &VolumeReport) -> Result<Page> {
    let name =
        |l: &crate::volumetry::LabelVolume| l.name.clone().unwrap_or_else(|| format!("label {}", l.label));
    let numbers = r
        .labels
        .iter()
        .map(|l| {
            (
                format!("{} ({})", name(l), l.label),
                format!("{:.3} mL", l.volume_ml),
            )
        })
        .collect();
    let bars: Vec<(String, f64, [u8; 3])> = crate::case::volumes::largest_labels(r)
        .iter()
        .enumerate()
        .map(|(i, l)| (name(l), l.volume_ml, crate::render::label_rgb(i)))
        .collect();
    let mut charts = Vec::new();
    if !bars.is_empty() {
        charts.push(Chart {
            title: format!("The {} largest labels", bars.len()),
            svg: bar_chart(&bars, None, "mL")?,
        });
    }
    let total: f64 = r.labels.iter().map(|l| l.volume_ml).sum();
    let s = r.spacing_mm;
    Ok(Page {
        command: "volumes".into(),
        title: "Label volumes".into(),
        inputs: inputs(&r.input),
        parameters: vec![(
            "grid".into(),
            format!(
                "{} × {} × {} voxels of {:.3} × {:.3} × {:.3} mm, {}",
                r.dims[0], r.dims[1], r.dims[2], s[0], s[1], s[2], r.orientation
            ),
        )],
        verdict: Some((
            format!("{} labels, {total:.1} mL in all", r.labels.len()),
            Tone::Neutral,
        )),
        numbers,
        charts,
        warnings: words(&r.warnings),
        ..Page::default()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_carry_the_unit_of_their_key() {
        let v = serde_json::json!({"remnant_ml": 512.34, "flr_pct": 31.5, "name": "x", "steps": 12});
        let n = key_numbers(&v, &["remnant_ml", "name", "steps", "flr_pct", "absent_ml"], "");
        assert_eq!(
            n,
            vec![
                ("remnant".to_string(), "512.3 mL".to_string()),
                ("FLR".to_string(), "31.50 %".to_string())
            ]
        );
    }
}
