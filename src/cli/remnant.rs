//! `liverkit remnant` and `liverkit pve`: the future liver remnant before a
//! resection and its growth after portal vein embolisation.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;
use liverkit::vocabulary::Named;

use liverkit::case::figures::{centroid_mm, Drawn};
use liverkit::case::outputs::{write_report_sr, write_structures};
use liverkit::case::pages::{pve_page, remnant_page};
use liverkit::case::remnant::{
    assess_case_parts, check_pve_request, days_between, pve_report, AssessOptions, Patient, PveReport,
    RemnantReport, RemnantRequest, RemnantSpec, RemnantWords, Threshold,
};
use liverkit::case::report3d::SceneExtras;
use liverkit::case::report_sr::{pve_sr, remnant_sr};
use liverkit::case::roles::{Files, RoleSpec};
use liverkit::io::structure::{Segment, Structure};
use liverkit::io::ReadOptions;
use liverkit::remnant::formulas::{BsaFormula, LiverCondition, TelvFormula};
use liverkit::remnant::resection::{RemnantDefinition, Resection};
use liverkit::volume::Mask;
use liverkit::Error;

use super::figures::FigureSet;
use super::output::{self, Align};
use super::Failure;

/// Where the liver and the tumours are.
#[derive(Debug, Args)]
pub struct RoleArgs {
    /// Liver: label values or names of the label map (`5`, `liver`), a mask
    /// file, or labels of another file (`FILE:5`). Default: a label named
    /// `liver`, or the union of `liver_segment_1..8`.
    #[arg(long, value_name = "SPEC")]
    liver: Option<String>,
    /// Tumours, given like --liver (`2,3`, `tumour.nii.gz`,
    /// `liver_vessels.nii.gz:liver_tumor`). Default: a label named
    /// `liver_tumor`.
    #[arg(long, alias = "tumour", value_name = "SPEC")]
    tumor: Option<String>,
}

/// Which part of the liver remains.
#[derive(Debug, Args)]
#[group(multiple = false)]
pub struct RemnantDefArgs {
    /// The remnant as labels or a mask file (given like --liver).
    #[arg(long, value_name = "SPEC")]
    remnant: Option<String>,
    /// Couinaud segments kept (`2,3`, `1-4`).
    #[arg(long, value_name = "SEGMENTS")]
    keep: Option<String>,
    /// Couinaud segments removed (`5,6,7,8`, `5-8`).
    #[arg(long, value_name = "SEGMENTS")]
    remove: Option<String>,
    /// A named resection (Brisbane 2000).
    #[arg(long, value_name = "NAME", value_parser = Resection::ALL.map(|r| r.name()))]
    resection: Option<String>,
    /// A cutting plane: a point in world mm (RAS+) and the normal towards the
    /// removed side, `X,Y,Z:NX,NY,NZ`.
    #[arg(long, value_name = "X,Y,Z:NX,NY,NZ", allow_hyphen_values = true)]
    plane: Option<String>,
}

/// The patient and the threshold.
#[derive(Debug, Args)]
pub struct CheckArgs {
    /// Also remove segment 1 (caudate) with --resection ("± 1").
    #[arg(long, requires = "resection")]
    with_caudate: bool,
    /// Height in cm (with --weight-kg: BSA, TELV, sFLR).
    #[arg(long, value_name = "CM", requires = "weight_kg")]
    height_cm: Option<f64>,
    /// Weight in kg.
    #[arg(long, value_name = "KG", requires = "height_cm")]
    weight_kg: Option<f64>,
    /// Body-surface-area formula.
    #[arg(long, value_parser = super::choice::<BsaFormula>(), default_value = BsaFormula::NAMES[0].0)]
    bsa: BsaFormula,
    /// Total-estimated-liver-volume formula.
    #[arg(long, value_parser = super::choice::<TelvFormula>(), default_value = TelvFormula::NAMES[0].0)]
    telv: TelvFormula,
    /// State of the liver: minimum remnant 20, 30 or 40 %.
    #[arg(long, value_parser = super::choice::<LiverCondition>(), default_value = LiverCondition::NAMES[0].0)]
    condition: LiverCondition,
    /// Minimum remnant in %, instead of --condition.
    #[arg(long, value_name = "PCT", conflicts_with = "condition")]
    min_flr_pct: Option<f64>,
    /// Write the numbers as a DICOM Structured Report (TID 1500 measurement
    /// report), in the study of the DICOM inputs or --reference.
    #[arg(long, value_name = "FILE.dcm")]
    sr: Option<PathBuf>,
    /// Print one JSON object instead of a table.
    #[arg(long, conflicts_with = "csv")]
    json: bool,
    /// Print CSV instead of a table (one row for the case; nested fields flattened to
    /// parent_child columns).
    #[arg(long)]
    csv: bool,
}

/// `liverkit remnant` arguments.
#[derive(Debug, Args)]
pub struct RemnantArgs {
    /// Label map holding the liver, tumours and/or segments (optional when
    /// every role is a file).
    #[arg(value_name = "LABELMAP")]
    label_map: Option<PathBuf>,
    #[command(flatten)]
    roles: RoleArgs,
    /// Couinaud segments: a label map with segments 1-8 (or labels named
    /// liver_segment_1..8). Default: the label map, when it has those names.
    #[arg(long, value_name = "FILE")]
    segments: Option<PathBuf>,
    #[command(flatten)]
    def: RemnantDefArgs,
    #[command(flatten)]
    check: CheckArgs,
    /// Write the remnant and the resected liver (label 1 and 2 of a NIfTI
    /// label map; segments of a DICOM SEG when FILE ends in .dcm, of a 3D
    /// Slicer segmentation when it ends in .seg.nrrd). Needs a remnant.
    #[arg(long, value_name = "FILE")]
    out: Option<PathBuf>,
    #[command(flatten)]
    figures: super::figures::FigureArgs,
}

/// `liverkit pve` arguments.
#[derive(Debug, Args)]
pub struct PveArgs {
    /// Label map of the scan before PVE.
    #[arg(value_name = "PRE")]
    pre: PathBuf,
    /// Label map of the scan after PVE.
    #[arg(value_name = "POST")]
    post: PathBuf,
    #[command(flatten)]
    roles: RoleArgs,
    /// Couinaud segments of the pre-PVE scan (default: PRE's own labels).
    #[arg(long, value_name = "FILE")]
    pre_segments: Option<PathBuf>,
    /// Couinaud segments of the post-PVE scan (default: POST's own labels).
    #[arg(long, value_name = "FILE")]
    post_segments: Option<PathBuf>,
    #[command(flatten)]
    def: RemnantDefArgs,
    #[command(flatten)]
    check: CheckArgs,
    /// Days from the embolisation to the post-PVE scan. Without it (or the
    /// dates), DICOM inputs give their scan dates.
    #[arg(long, value_name = "N", conflicts_with_all = ["pre_date", "post_date"])]
    days: Option<f64>,
    /// Date of the embolisation (or of the pre-PVE scan), YYYY-MM-DD.
    #[arg(long, value_name = "DATE", requires = "post_date")]
    pre_date: Option<String>,
    /// Date of the post-PVE scan, YYYY-MM-DD.
    #[arg(long, value_name = "DATE", requires = "pre_date")]
    post_date: Option<String>,
    /// Slices before and after (pre_axial.png … post_sagittal.png with
    /// --png), the report with the growth charts and the 3D view of the
    /// post-PVE remnant; --image is drawn behind the pre-PVE slices.
    #[command(flatten)]
    figures: super::figures::FigureArgs,
    /// The CT (or MR) drawn behind the post-PVE slices; it must lie on the
    /// post-PVE scan's grid.
    #[arg(long, value_name = "FILE", requires = "figure_outputs")]
    post_image: Option<PathBuf>,
}

/// The cutting plane of a remnant defined by one, for the figures.
fn cut_plane(req: &RemnantRequest) -> SceneExtras<'static> {
    let plane = match &req.remnant {
        Some(RemnantSpec::Definition(RemnantDefinition::Plane { point_mm, normal })) => {
            Some((*point_mm, *normal))
        }
        _ => None,
    };
    SceneExtras {
        plane,
        ..SceneExtras::default()
    }
}

fn options(c: &CheckArgs) -> AssessOptions {
    AssessOptions {
        patient: c
            .height_cm
            .zip(c.weight_kg)
            .map(|(height_cm, weight_kg)| Patient { height_cm, weight_kg }),
        bsa: c.bsa,
        telv: c.telv,
        threshold: match c.min_flr_pct {
            Some(p) => Threshold::MinPct(p),
            None => Threshold::Condition(c.condition),
        },
    }
}

fn remnant_spec(d: &RemnantDefArgs, with_caudate: bool) -> Result<Option<RemnantSpec>, Error> {
    RemnantSpec::from_words(RemnantWords {
        remnant: d
            .remnant
            .as_deref()
            .map(|r| RoleSpec::parse("remnant", r))
            .transpose()?,
        keep: d.keep.clone(),
        remove: d.remove.clone(),
        resection: d.resection.clone(),
        plane: d.plane.clone(),
        with_caudate,
    })
}

fn request(
    label_map: Option<PathBuf>,
    roles: &RoleArgs,
    segments: Option<PathBuf>,
    def: &RemnantDefArgs,
    with_caudate: bool,
) -> Result<RemnantRequest, Error> {
    Ok(RemnantRequest {
        label_map,
        liver: roles
            .liver
            .as_deref()
            .map(|s| RoleSpec::parse("liver", s))
            .transpose()?,
        tumor: roles
            .tumor
            .as_deref()
            .map(|s| RoleSpec::parse("tumor", s))
            .transpose()?,
        segments,
        remnant: remnant_spec(def, with_caudate)?,
    })
}

fn exit(sufficient: Option<bool>) -> ExitCode {
    match sufficient {
        Some(false) => ExitCode::from(1),
        _ => ExitCode::SUCCESS,
    }
}

pub fn run_remnant(a: &RemnantArgs, read: &ReadOptions) -> Result<ExitCode, Failure> {
    let req = request(
        a.label_map.clone(),
        &a.roles,
        a.segments.clone(),
        &a.def,
        a.check.with_caudate,
    )?;
    if req.label_map.is_none() && req.liver.is_none() {
        return Err(Failure::Error(Error::parameter(
            "LABELMAP",
            "nothing",
            "a label map, or --liver FILE",
        )));
    }
    let mut inputs: Vec<String> = a.label_map.iter().map(|p| p.display().to_string()).collect();
    inputs.extend(a.roles.liver.clone());
    inputs.extend(a.roles.tumor.clone());
    inputs.extend(a.def.remnant.clone());
    let inputs: Vec<&str> = inputs.iter().map(String::as_str).collect();
    for out in a.out.iter().chain(&a.check.sr) {
        liverkit::io::atomic::ensure_not_input(out, &inputs)?;
    }
    let mut files = Files::new(req.label_map.as_deref(), read.clone())?;
    let want_parts = a.out.is_some() || a.figures.wanted();
    let (mut r, parts) = assess_case_parts(&mut files, &req, &options(&a.check), want_parts)?;
    let mut written = None;
    if let Some(out) = &a.out {
        let Some((remnant, resected)) = &parts else {
            return Err(Failure::Error(Error::parameter(
                "out",
                out.display(),
                "a remnant to write (give --remnant, --keep, --remove, --resection or --plane)",
            )));
        };
        let segments = [
            Segment {
                mask: remnant,
                structure: Structure::Remnant,
            },
            Segment {
                mask: resected,
                structure: Structure::ResectedLiver,
            },
        ];
        let from = req.label_map.clone().or_else(|| match &req.liver {
            Some(RoleSpec::File { path, .. }) => Some(path.clone()),
            _ => None,
        });
        let w = write_structures(&files, from.as_deref(), out, &segments, "liverkit remnant")?;
        r.warnings.extend(w.warning.clone());
        written = Some(w);
    }
    if let Some(sr) = &a.check.sr {
        let note = write_report_sr(&files, sr, &remnant_sr(&r), written.as_ref())?;
        r.warnings.extend(note);
    }
    if a.figures.wanted() {
        // Through the centre of the liver: the remnant beside the resected part.
        let (liver, _) = files.liver(req.liver.as_ref())?;
        let mut drawn = vec![(&liver, Structure::Liver)];
        if let Some((remnant, resected)) = &parts {
            drawn = vec![
                (remnant, Structure::Remnant),
                (resected, Structure::ResectedLiver),
            ];
        }
        let parts_drawn: Vec<&liverkit::volume::Mask> = drawn.iter().map(|(m, _)| *m).collect();
        let point = centroid_mm(&parts_drawn)?.unwrap_or_default();
        let tumor = files.tumor(req.tumor.as_ref())?.map(|(m, _)| m);
        drawn.extend(tumor.as_ref().map(|t| (t, Structure::Tumor)));
        a.figures
            .write(read, point, &drawn, cut_plane(&req), || remnant_page(&r))?;
    }
    let text = if a.check.json {
        output::json(&r)?
    } else if a.check.csv {
        output::warn(&r.warnings);
        output::csv_rows(&[&r])?
    } else {
        output::warn(&r.warnings);
        remnant_text(&r)
    };
    output::print(&text)?;
    Ok(exit(r.sufficient))
}

pub fn run_pve(a: &PveArgs, read: &ReadOptions) -> Result<ExitCode, Failure> {
    let with_caudate = a.check.with_caudate;
    let pre = request(
        Some(a.pre.clone()),
        &a.roles,
        a.pre_segments.clone(),
        &a.def,
        with_caudate,
    )?;
    let post = request(
        Some(a.post.clone()),
        &a.roles,
        a.post_segments.clone(),
        &a.def,
        with_caudate,
    )?;
    let days =
        match (&a.days, &a.pre_date, &a.post_date) {
            (Some(d), _, _) => *d,
            (None, Some(p0), Some(p1)) => days_between(p0, p1)?,
            _ => match (dicom_date(&a.pre)?, dicom_date(&a.post)?) {
                (Some(p0), Some(p1)) => days_between(&p0, &p1)?,
                _ => return Err(Failure::Error(Error::parameter(
                    "days",
                    "nothing",
                    "--days N or --pre-date and --post-date (the scan dates are read only from DICOM inputs)",
                ))),
            },
        };
    check_pve_request(&pre, &post, days)?;
    let opts = options(&a.check);
    let want = a.figures.wanted();
    let mut pre_files = Files::new(pre.label_map.as_deref(), read.clone())?;
    let (pre_r, pre_parts) = assess_case_parts(&mut pre_files, &pre, &opts, want)?;
    let mut post_files = Files::new(post.label_map.as_deref(), read.clone())?;
    let (post_r, post_parts) = assess_case_parts(&mut post_files, &post, &opts, want)?;
    let mut r = pve_report(pre_r, post_r, days, &opts)?;
    if let Some(sr) = &a.check.sr {
        let files = Files::new(None, read.clone())?;
        let note = write_report_sr(&files, sr, &pve_sr(&r), None)?;
        r.warnings.extend(note);
    }
    if let (Some(pre_parts), Some(post_parts)) = (&pre_parts, &post_parts) {
        let pre_drawn = [
            Drawn::of(&pre_parts.0, Structure::Remnant),
            Drawn::of(&pre_parts.1, Structure::ResectedLiver),
        ];
        let post_drawn = [
            Drawn::of(&post_parts.0, Structure::Remnant),
            Drawn::of(&post_parts.1, Structure::ResectedLiver),
        ];
        let centre = |d: &[Drawn]| -> Result<[f64; 3], Failure> {
            let masks: Vec<&Mask> = d.iter().map(|d| d.mask).collect();
            Ok(centroid_mm(&masks)?.unwrap_or_default())
        };
        let sets = [
            FigureSet {
                name: "pre",
                grid: None,
                point_mm: centre(&pre_drawn)?,
                drawn: &pre_drawn,
                image: a.figures.image.as_deref(),
            },
            FigureSet {
                name: "post",
                grid: None,
                point_mm: centre(&post_drawn)?,
                drawn: &post_drawn,
                image: a.post_image.as_deref(),
            },
        ];
        a.figures
            .write_sets(read, &sets, Default::default(), || pve_page(&r))?;
    }
    let text = if a.check.json {
        output::json(&r)?
    } else if a.check.csv {
        output::warn(&r.warnings);
        output::csv_rows(&[&r])?
    } else {
        output::warn(&r.pre.warnings);
        output::warn(&r.post.warnings);
        output::warn(&r.warnings);
        pve_text(&r)
    };
    output::print(&text)?;
    Ok(exit(Some(r.sufficient)))
}

fn opt(v: Option<f64>, decimals: usize, unit: &str) -> String {
    v.map(|x| format!("{x:.decimals$} {unit}"))
        .unwrap_or_else(|| "-".into())
}

fn line(out: &mut String, label: &str, value: String, note: &str) {
    out.push_str(&format!("  {label:<30} {value:>18}   {note}\n").replace("   \n", "\n"));
}

/// The human-readable remnant report.
pub fn remnant_text(r: &RemnantReport) -> String {
    let mut o = String::new();
    let inputs: Vec<String> = r.input.iter().map(|p| p.display().to_string()).collect();
    o.push_str(&format!("input        {}\n", inputs.join(" ")));
    o.push_str(&format!("liver        {}\n", r.roles.liver));
    o.push_str(&format!(
        "tumour       {}\n",
        r.roles.tumor.as_deref().unwrap_or("none given")
    ));
    if let Some(s) = &r.roles.segments {
        o.push_str(&format!("segments     {s}\n"));
    }
    o.push_str(&format!(
        "remnant      {}\n",
        r.remnant_definition.as_deref().unwrap_or("not defined")
    ));
    volume_lines(&mut o, r);
    table_lines(&mut o, r);
    let basis = if r.threshold_basis == "sflr" {
        "sFLR"
    } else {
        "measured FLR"
    };
    let cond = r
        .condition
        .map(|c| format!("{} liver", c.name()))
        .unwrap_or_else(|| "user threshold".into());
    o.push_str(&format!(
        "\ncheck        {cond}: minimum {} % of {basis} {}\n",
        r.threshold_pct,
        super::flags(&r.threshold_source)
    ));
    o.push_str(&format!("verdict      {}\n", r.verdict));
    o
}

/// The volumes, the remnant and, with the patient's height and weight, the
/// standardised remnant.
fn volume_lines(o: &mut String, r: &RemnantReport) {
    o.push_str("\nvolumes\n");
    line(
        o,
        "total liver (TLV)",
        opt(Some(r.total_liver_ml), 1, "mL"),
        "liver with its tumours",
    );
    line(o, "tumour", opt(Some(r.tumor_ml), 1, "mL"), "");
    line(
        o,
        "functional liver",
        opt(Some(r.functional_liver_ml), 1, "mL"),
        "TLV - tumour",
    );
    if r.remnant_ml.is_some() {
        line(
            o,
            "remnant, functional (FLR)",
            opt(r.remnant_ml, 1, "mL"),
            "tumour excluded",
        );
        line(
            o,
            "tumour inside the remnant",
            opt(r.remnant_tumor_ml, 1, "mL"),
            "",
        );
        line(o, "resected functional liver", opt(r.resected_ml, 1, "mL"), "");
        line(
            o,
            "measured FLR",
            opt(r.flr_pct, 1, "%"),
            "100 * FLR / functional liver",
        );
    }
    if let (Some(h), Some(w)) = (r.height_cm, r.weight_kg) {
        o.push_str(&format!("\npatient      height {h} cm, weight {w} kg\n"));
        let bsa = format!("BSA ({:?})", r.bsa_formula.unwrap_or(BsaFormula::Mosteller));
        line(o, &bsa, opt(r.bsa_m2, 3, "m2"), "");
        let telv = format!("TELV ({:?})", r.telv_formula.unwrap_or(TelvFormula::Vauthey));
        line(o, &telv, opt(r.telv_ml, 1, "mL"), "estimated total liver volume");
        if r.remnant_ml.is_some() {
            line(
                o,
                "standardised FLR (sFLR)",
                opt(r.sflr_pct, 1, "%"),
                "100 * FLR / TELV",
            );
            let low = if r.flr_bwr_low == Some(true) {
                "<= 0.5 %: predicts morbidity"
            } else {
                "> 0.5 %"
            };
            line(o, "FLR / body weight", opt(r.flr_bwr_pct, 2, "%"), low);
        }
    }
}

/// The per-segment table and the named resections.
fn table_lines(o: &mut String, r: &RemnantReport) {
    if !r.segments.is_empty() {
        o.push_str("\nsegments (functional liver, tumour excluded)\n");
        let rows: Vec<Vec<String>> = r
            .segments
            .iter()
            .map(|s| {
                vec![
                    s.segment.to_string(),
                    format!("{:.1}", s.volume_ml),
                    format!("{:.1}", s.pct),
                    format!("{:.1}", s.tumor_ml),
                    match s.in_remnant {
                        Some(true) => "kept".into(),
                        Some(false) => "removed".into(),
                        None => "".into(),
                    },
                ]
            })
            .collect();
        let t = output::table(
            &[
                ("segment", Align::Right),
                ("volume_ml", Align::Right),
                ("pct", Align::Right),
                ("tumor_ml", Align::Right),
                ("remnant", Align::Left),
            ],
            &rows,
        );
        o.push_str(&output::indented(&t));
    }
    if !r.resections.is_empty() {
        o.push_str("\nnamed resections (Brisbane 2000)\n");
        let rows: Vec<Vec<String>> = r
            .resections
            .iter()
            .map(|x| {
                vec![
                    x.resection.to_string(),
                    x.removed_segments
                        .iter()
                        .map(|s| s.to_string())
                        .collect::<Vec<_>>()
                        .join(","),
                    format!("{:.1}", x.remnant_ml),
                    format!("{:.1}", x.flr_pct),
                    x.sflr_pct
                        .map(|v| format!("{v:.1}"))
                        .unwrap_or_else(|| "-".into()),
                    if x.sufficient { "yes".into() } else { "NO".into() },
                ]
            })
            .collect();
        let t = output::table(
            &[
                ("resection", Align::Left),
                ("removed", Align::Left),
                ("remnant_ml", Align::Right),
                ("flr_pct", Align::Right),
                ("sflr_pct", Align::Right),
                ("sufficient", Align::Left),
            ],
            &rows,
        );
        o.push_str(&output::indented(&t));
    }
}

fn pve_text(r: &PveReport) -> String {
    let mut o = String::new();
    o.push_str("== before PVE\n");
    o.push_str(&remnant_text(&r.pre));
    o.push_str("\n== after PVE\n");
    o.push_str(&remnant_text(&r.post));
    let name = if r.basis == "sflr" { "sFLR" } else { "FLR" };
    o.push_str("\n== growth\n");
    line(
        &mut o,
        "interval",
        format!("{:.0} days", r.days),
        &format!("{:.2} weeks", r.weeks),
    );
    line(
        &mut o,
        "FLR growth",
        opt(Some(r.flr_growth_ml), 1, "mL"),
        &format!("{:.1} % of the pre-PVE FLR", r.flr_growth_pct),
    );
    line(
        &mut o,
        "FLR growth per day",
        opt(Some(r.flr_growth_pct_per_day), 2, "%/day"),
        "",
    );
    line(
        &mut o,
        "degree of hypertrophy (DH)",
        opt(Some(r.dh_points), 2, "points"),
        &format!("{name} post - pre"),
    );
    line(
        &mut o,
        "kinetic growth rate (KGR)",
        opt(Some(r.kgr_points_per_week), 2, "points/week"),
        if r.kgr_sufficient {
            ">= 2: sufficient"
        } else {
            "< 2: predicts insufficiency"
        },
    );
    o.push_str(&format!("\nverdict      {}\n", r.verdict));
    o
}

/// The scan date of a DICOM input, `None` for other formats.
fn dicom_date(path: &std::path::Path) -> Result<Option<String>, Failure> {
    Ok(liverkit::io::scan_date(path)?)
}
