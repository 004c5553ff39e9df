//! `liverkit target` and `liverkit margin`: the ablation zone to plan, and the
//! margin an ablation achieved.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;

use liverkit::case::figures::centroid_mm;
use liverkit::case::margin::{margin_report, margin_structures, MarginReport};
use liverkit::case::outputs::{write_report_sr, write_structures};
use liverkit::case::pages::{margin_page, target_page};
use liverkit::case::report3d::SceneExtras;
use liverkit::case::report_sr::{margin_sr, target_sr};
use liverkit::case::roles::{Files, RoleSpec};
use liverkit::case::target::{target_report, TargetReport};
use liverkit::grid::ras_lps_text;
use liverkit::io::nifti::write_volume;
use liverkit::io::output::MaskFormat;
use liverkit::io::structure::{Segment, Structure};
use liverkit::io::ReadOptions;
use liverkit::margin::MarginOptions;
use liverkit::vocabulary::MARGIN_MM;
use liverkit::Error;

use super::output::{self, Align};
use super::Failure;

/// `liverkit target` arguments.
#[derive(Debug, Args)]
pub struct TargetArgs {
    /// Label map holding the tumours, the liver and the vessels.
    #[arg(value_name = "LABELMAP")]
    label_map: PathBuf,
    /// Tumours: label values or names (`2,3`, `liver_tumor`), a mask file, or
    /// FILE:labels. Default: a label named `liver_tumor`.
    #[arg(long, alias = "tumour", value_name = "SPEC")]
    tumor: Option<String>,
    /// Liver: label values or names, a mask file, or FILE:labels. Default: a
    /// label named `liver`, or the union of `liver_segment_1..8`.
    #[arg(long, value_name = "SPEC")]
    liver: Option<String>,
    /// Vessel labels (values or names of the label map), comma-separated.
    #[arg(long, value_name = "V,...", value_delimiter = ',')]
    vessels: Vec<String>,
    /// The margin around each tumour, mm.
    #[arg(long, value_name = "MM", default_value_t = MARGIN_MM.default_value())]
    margin_mm: f64,
    /// Write the target zones (union) on the input grid: a NIfTI mask, a DICOM
    /// SEG when FILE ends in .dcm (joined to the DICOM series of the inputs or
    /// --reference), or a 3D Slicer segmentation when it ends in .seg.nrrd.
    #[arg(long, value_name = "FILE")]
    out: Option<PathBuf>,
    /// Write the numbers as a DICOM Structured Report (TID 1500 measurement
    /// report), in the study of the DICOM inputs or --reference, pointing to
    /// the SEG written in the same run.
    #[arg(long, value_name = "FILE.dcm")]
    sr: Option<PathBuf>,
    #[command(flatten)]
    figures: super::figures::FigureArgs,
    /// Print one JSON object instead of a table.
    #[arg(long, conflicts_with = "csv")]
    json: bool,
    /// Print CSV instead of a table (one row per tumour; nested fields flattened to
    /// parent_child columns).
    #[arg(long)]
    csv: bool,
}

/// `liverkit margin` arguments.
#[derive(Debug, Args)]
pub struct MarginArgs {
    /// Tumour mask: FILE (non-zero voxels) or FILE:LABEL.
    #[arg(long, alias = "tumour", value_name = "FILE[:LABEL]")]
    tumor: String,
    /// Ablation-zone mask: FILE or FILE:LABEL.
    #[arg(long, value_name = "FILE[:LABEL]")]
    zone: String,
    /// Liver mask (adds the capsule-excluded margins): FILE or FILE:LABEL.
    #[arg(long, value_name = "FILE[:LABEL]")]
    liver: Option<String>,
    /// Judge the verdict without the capsule-adjacent surface (needs --liver).
    #[arg(long)]
    exclude_capsule: bool,
    /// The margin required everywhere, mm.
    #[arg(long, value_name = "MM", default_value_t = MARGIN_MM.default_value())]
    margin_mm: f64,
    /// Write the signed margin on the tumour surface as NIfTI (mm, NaN
    /// elsewhere); or, when FILE ends in .dcm (DICOM SEG) or .seg.nrrd (3D
    /// Slicer), the tumour, its target (tumour + margin) and the margin
    /// shortfall (the target outside the zone) as segments.
    #[arg(long, value_name = "FILE")]
    margin_map: Option<PathBuf>,
    /// Write the numbers as a DICOM Structured Report (TID 1500 measurement
    /// report), in the study of the DICOM inputs or --reference, pointing to
    /// the SEG written in the same run.
    #[arg(long, value_name = "FILE.dcm")]
    sr: Option<PathBuf>,
    #[command(flatten)]
    figures: super::figures::FigureArgs,
    /// Print one JSON object instead of a table.
    #[arg(long, conflicts_with = "csv")]
    json: bool,
    /// Print CSV instead of a table (one row per tumour; nested fields flattened to
    /// parent_child columns).
    #[arg(long)]
    csv: bool,
}

fn file_spec(role: &str, text: &str) -> Result<RoleSpec, Error> {
    let spec = RoleSpec::parse(role, text)?;
    match spec {
        RoleSpec::File { .. } => Ok(spec),
        RoleSpec::Labels(_) => Err(Error::Read {
            path: text.split(':').next().unwrap_or(text).into(),
            source: std::io::Error::new(
                std::io::ErrorKind::NotFound,
                format!("--{role}: no such file (give FILE or FILE:LABEL)"),
            ),
        }),
    }
}

pub fn run_margin(a: &MarginArgs, read: &ReadOptions) -> Result<ExitCode, Failure> {
    for out in a.margin_map.iter().chain(&a.sr) {
        let mut inputs = vec![a.tumor.as_str(), a.zone.as_str()];
        inputs.extend(a.liver.as_deref());
        liverkit::io::atomic::ensure_not_input(out, &inputs)?;
    }
    let tumor = file_spec("tumor", &a.tumor)?;
    let zone = file_spec("zone", &a.zone)?;
    let liver = a.liver.as_deref().map(|l| file_spec("liver", l)).transpose()?;
    // A segmentation output (.dcm, .seg.nrrd) holds the shortfall regions;
    // a NIfTI one the signed margin map.
    let structures_out = a
        .margin_map
        .as_deref()
        .filter(|p| MaskFormat::of(p) != MaskFormat::Nifti);
    let options = MarginOptions {
        margin_mm: a.margin_mm,
        exclude_capsule: a.exclude_capsule,
        margin_map: (a.margin_map.is_some() && structures_out.is_none()) || a.figures.report.is_some(),
    };
    let mut files = Files::new(None, read.clone())?;
    let (mut report, map) = margin_report(&mut files, &tumor, &zone, liver.as_ref(), &options)?;
    let from = match &tumor {
        RoleSpec::File { path: src, .. } => Some(src.clone()),
        RoleSpec::Labels(_) => None,
    };
    let mut written = None;
    let structures = if structures_out.is_some() || a.figures.wanted() {
        Some(margin_structures(&mut files, &tumor, &zone, a.margin_mm)?)
    } else {
        None
    };
    if let (Some(path), Some(s)) = (structures_out, &structures) {
        let w = write_structures(
            &files,
            from.as_deref(),
            path,
            &s.segments(),
            "liverkit margin check",
        )?;
        report.warnings.extend(w.warning.clone());
        written = Some(w);
    } else if let (Some(path), Some(map)) = (&a.margin_map, &map) {
        let template = from.as_deref().and_then(|src| files.output_template(src));
        write_volume(path, map, template.as_ref())?;
    }
    if let Some(sr) = &a.sr {
        let note = write_report_sr(&files, sr, &margin_sr(&report), written.as_ref())?;
        report.warnings.extend(note);
    }
    if let Some(s) = &structures {
        // Through the point of the smallest margin of the worst tumour.
        let worst = report
            .tumors
            .iter()
            .min_by(|x, y| x.margins.min_margin_mm.total_cmp(&y.margins.min_margin_mm));
        let point = worst
            .map(|t| t.margins.min_margin_at_mm)
            .map_or_else(|| centroid_mm(&[&s.tumor]), |p| Ok(Some(p)))?;
        let (zone_mask, _) = files.resolve("zone", &zone)?;
        let mut drawn = vec![(&zone_mask, Structure::AblationZone)];
        drawn.extend(s.segments().iter().map(|g| (g.mask, g.structure)));
        let page = || margin_page(&report, map.as_ref());
        let extras = SceneExtras {
            margin: map.as_ref().map(|m| (m, a.margin_mm)),
            ..SceneExtras::default()
        };
        a.figures
            .write(read, point.unwrap_or_default(), &drawn, extras, page)?;
    }
    let text = if a.json {
        output::json(&report)?
    } else if a.csv {
        output::warn(&report.warnings);
        output::csv_rows(&per_tumour(&report.input, report.margin_mm, &report.tumors))?
    } else {
        output::warn(&report.warnings);
        margin_text(&report)
    };
    output::print(&text)?;
    Ok(if report.sufficient {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

fn margin_text(r: &MarginReport) -> String {
    let mut o = String::new();
    let inputs: Vec<String> = r.input.iter().map(|p| p.display().to_string()).collect();
    o.push_str(&format!("input        {}\n", inputs.join(" ")));
    o.push_str(&format!(
        "required     {} mm everywhere{}\n\n",
        r.margin_mm,
        if r.exclude_capsule {
            " (capsule-adjacent surface excluded)"
        } else {
            ""
        }
    ));
    let rows: Vec<Vec<String>> = r
        .tumors
        .iter()
        .map(|t| {
            let m = &t.margins;
            vec![
                t.tumor.to_string(),
                format!("{:.2}", t.tumor_ml),
                format!("{:.1}", m.min_margin_mm),
                format!("{:.1}", m.p5_margin_mm),
                format!("{:.1}", m.median_margin_mm),
                format!(
                    "{:.0}/{:.0}/{:.0}",
                    m.coverage_ge0_pct, m.coverage_ge5_pct, m.coverage_ge10_pct
                ),
                format!("{:.3}", t.residual_tumor_ml),
                format!("{:.2}/{:.2}", t.under5_ml, t.under10_ml),
                if m.sufficient { "yes".into() } else { "NO".into() },
            ]
        })
        .collect();
    o.push_str(&output::table(
        &[
            ("tumor", Align::Right),
            ("tumor_ml", Align::Right),
            ("min_mm", Align::Right),
            ("p5_mm", Align::Right),
            ("median_mm", Align::Right),
            ("cover>=0/5/10_%", Align::Right),
            ("residual_ml", Align::Right),
            ("under5/10_ml", Align::Right),
            ("sufficient", Align::Left),
        ],
        &rows,
    ));
    for t in &r.tumors {
        if let Some(c) = &t.capsule_excluded {
            match &c.margins {
                Some(m) => o.push_str(&format!(
                    "tumour {}: capsule-adjacent surface {:.0} % excluded: minimum {:.1} mm, coverage >=10 mm {:.0} %\n",
                    t.tumor, c.excluded_surface_pct, m.min_margin_mm, m.coverage_ge10_pct
                )),
                None => o.push_str(&format!("tumour {}: the whole surface is capsule-adjacent\n", t.tumor)),
            }
        }
        for s in &t.shortfalls {
            o.push_str(&format!(
                "tumour {}: region short of {} mm: {:.0} mm2 centred at {}; minimum {:.1} mm at {}\n",
                t.tumor,
                r.margin_mm,
                s.area_mm2,
                ras_lps_text(s.centroid_mm),
                s.min_margin_mm,
                ras_lps_text(s.min_margin_at_mm),
            ));
        }
    }
    o.push_str(&format!("\nverdict      {}\n", r.verdict));
    o
}

pub fn run_target(a: &TargetArgs, read: &ReadOptions) -> Result<ExitCode, Failure> {
    for out in a.out.iter().chain(&a.sr) {
        let map = a.label_map.to_string_lossy();
        let mut inputs = vec![map.as_ref()];
        inputs.extend(a.tumor.as_deref());
        inputs.extend(a.liver.as_deref());
        liverkit::io::atomic::ensure_not_input(out, &inputs)?;
    }
    let mut files = Files::new(Some(&a.label_map), read.clone())?;
    let tumor_spec = a
        .tumor
        .as_deref()
        .map(|t| RoleSpec::parse("tumor", t))
        .transpose()?;
    let liver_spec = a
        .liver
        .as_deref()
        .map(|l| RoleSpec::parse("liver", l))
        .transpose()?;
    let (mut report, plan) = target_report(
        &mut files,
        tumor_spec.as_ref(),
        liver_spec.as_ref(),
        &a.vessels,
        a.margin_mm,
    )?;
    let mut written = None;
    if let Some(path) = &a.out {
        let segments = [Segment {
            mask: &plan.target,
            structure: Structure::AblationTarget,
        }];
        let w = write_structures(
            &files,
            Some(&a.label_map),
            path,
            &segments,
            "liverkit ablation target",
        )?;
        report.warnings.extend(w.warning.clone());
        written = Some(w);
        report.target_file = Some(path.clone());
    }
    if let Some(sr) = &a.sr {
        let note = write_report_sr(&files, sr, &target_sr(&report), written.as_ref())?;
        report.warnings.extend(note);
    }
    if a.figures.wanted() {
        // Through the centre of the largest tumour.
        let (liver, _) = files.liver(liver_spec.as_ref())?;
        let tumor = files.tumor(tumor_spec.as_ref())?.map(|(m, _)| m);
        let largest = report
            .tumors
            .iter()
            .max_by(|x, y| x.tumor_ml.total_cmp(&y.tumor_ml));
        let point = largest
            .map(|t| t.centroid_mm)
            .map_or_else(|| centroid_mm(&[&plan.target]), |p| Ok(Some(p)))?;
        let mut drawn = vec![(&liver, Structure::Liver)];
        drawn.extend(tumor.as_ref().map(|t| (t, Structure::Tumor)));
        drawn.push((&plan.target, Structure::AblationTarget));
        a.figures.write(
            read,
            point.unwrap_or_default(),
            &drawn,
            SceneExtras::default(),
            || target_page(&report),
        )?;
    }
    let text = if a.json {
        output::json(&report)?
    } else if a.csv {
        output::warn(&report.warnings);
        output::csv_rows(&per_tumour(&report.input, report.margin_mm, &report.tumors))?
    } else {
        output::warn(&report.warnings);
        target_text(&report)
    };
    output::print(&text)?;
    Ok(ExitCode::SUCCESS)
}

fn target_text(r: &TargetReport) -> String {
    let mut o = String::new();
    let inputs: Vec<String> = r.input.iter().map(|p| p.display().to_string()).collect();
    o.push_str(&format!("input        {}\n", inputs.join(" ")));
    o.push_str(&format!(
        "target       each tumour + {} mm, inside the liver; functional liver {:.1} mL\n\n",
        r.margin_mm, r.functional_liver_ml
    ));
    let rows: Vec<Vec<String>> = r
        .tumors
        .iter()
        .map(|t| {
            vec![
                t.tumor.to_string(),
                match (&t.label, &t.label_name) {
                    (Some(v), Some(n)) => format!("{v} {n}"),
                    (Some(v), None) => v.to_string(),
                    _ => "-".into(),
                },
                format!("{:.2}", t.tumor_ml),
                format!("{:.2}", t.target_ml),
                format!("{:.2}", t.healthy_liver_in_target_ml),
                format!("{:.2}", t.healthy_liver_in_target_pct),
                format!("{:.2}", t.outside_liver_ml),
                format!("{:.0}", t.subcapsular_surface_pct),
            ]
        })
        .collect();
    o.push_str(&output::table(
        &[
            ("tumor", Align::Right),
            ("label", Align::Left),
            ("tumor_ml", Align::Right),
            ("target_ml", Align::Right),
            ("healthy_ml", Align::Right),
            ("healthy_pct", Align::Right),
            ("outside_liver_ml", Align::Right),
            ("subcapsular_%", Align::Right),
        ],
        &rows,
    ));
    for t in &r.tumors {
        for v in &t.vessels {
            o.push_str(&format!(
                "tumour {}: vessel {}{} {:.1} mm away{}, diameter {:.1} mm{}\n",
                t.tumor,
                v.label,
                v.name.as_ref().map(|n| format!(" ({n})")).unwrap_or_default(),
                v.min_distance_mm,
                if v.in_target { ", inside the target" } else { "" },
                v.diameter_mm,
                if v.heat_sink_risk {
                    ": HEAT-SINK RISK (>= 3 mm)"
                } else {
                    ""
                }
            ));
        }
    }
    if let Some(p) = &r.target_file {
        o.push_str(&format!("\ntarget mask  {}\n", p.display()));
    }
    o
}

/// CSV rows: each tumour's fields with the inputs and the margin beside them.
fn per_tumour<T: serde::Serialize>(
    input: &[PathBuf],
    margin_mm: f64,
    tumors: &[T],
) -> Vec<serde_json::Value> {
    let inputs: Vec<String> = input.iter().map(|p| p.display().to_string()).collect();
    tumors
        .iter()
        .map(|t| {
            let mut v = serde_json::to_value(t).unwrap_or_default();
            if let Some(o) = v.as_object_mut() {
                o.insert("input".into(), inputs.join(";").into());
                o.insert("margin_mm".into(), margin_mm.into());
            }
            v
        })
        .collect()
}
