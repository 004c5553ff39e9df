//! `liverkit plan`: the needle path, tip, power and time that cover a
//! tumour and its margin.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;

use liverkit::bioheat::applicator::ApplicatorKind;
use liverkit::case::plan::{plan_case, PlanReport, PlanRequest, TumorPlan};
use liverkit::case::roles::{Files, RoleSpec};
use liverkit::io::ReadOptions;
use liverkit::planner::Constraints;
use liverkit::vocabulary::MARGIN_MM;

use super::output::{self, Align};
use super::simulate::{library, parameters, point, progress};
use super::Failure;

/// `liverkit plan` arguments.
#[derive(Debug, Args)]
pub struct PlanArgs {
    /// Label map with the liver, the tumour and the structures to avoid
    /// (TotalSegmentator's `total` names: ribs, lungs, bowel, vessels…).
    #[arg(value_name = "LABELMAP")]
    label_map: PathBuf,
    /// Tumour: label values or names, a mask file, or FILE:labels. Default:
    /// a label named `liver_tumor`. Each separate tumour in it (at most 5,
    /// largest first) gets its own plan; tumours less than two margins
    /// apart (their targets touch) are planned as one target.
    #[arg(long, alias = "tumour", value_name = "SPEC")]
    tumor: Option<String>,
    /// Liver, given like --tumor. Default: a label named `liver`.
    #[arg(long, value_name = "SPEC")]
    liver: Option<String>,
    /// Liver vessel labels: avoided with the vessel clearance and simulated
    /// as heat sinks.
    #[arg(long, value_name = "V,...", value_delimiter = ',')]
    vessels: Vec<String>,
    /// Microwave (mwa) or radiofrequency (rfa: cooled electrode, impedance-controlled
    /// generator; its confirmation takes about 40 s per candidate).
    #[arg(long, default_value = "mwa", value_parser = super::choice::<ApplicatorKind>())]
    applicator: ApplicatorKind,
    /// Device of the protocol library (default: the first of the kind).
    #[arg(long, value_name = "ID")]
    device: Option<String>,
    /// A protocol library instead of the built-in one (JSON).
    #[arg(long, value_name = "FILE")]
    protocols: Option<PathBuf>,
    /// Tissue parameters (TOML or JSON).
    #[arg(long, value_name = "FILE")]
    params: Option<PathBuf>,
    /// Margin the zone must give the tumour, mm.
    #[arg(long, value_name = "MM", default_value_t = MARGIN_MM.default_value())]
    margin_mm: f64,
    /// The body as a mask (FILE, FILE:labels or labels).
    #[arg(long, value_name = "MASK", conflicts_with = "image")]
    body: Option<String>,
    /// The CT on the label map's grid: the body is where it is above −500 HU.
    #[arg(long, value_name = "CT")]
    image: Option<PathBuf>,
    /// Clearance from vessels along the path, mm.
    #[arg(long, value_name = "MM", default_value_t = Constraints::default().vessel_clearance_mm)]
    vessel_clearance_mm: f64,
    /// Clearance from other obstacles (bone, lung, bowel…), mm.
    #[arg(long, value_name = "MM", default_value_t = Constraints::default().other_clearance_mm)]
    obstacle_clearance_mm: f64,
    /// Liver crossed before the tumour, at least, mm.
    #[arg(long, value_name = "MM", default_value_t = Constraints::default().min_liver_mm)]
    min_liver_mm: f64,
    /// Smallest angle between the path and the liver capsule, degrees.
    #[arg(long, value_name = "DEG", default_value_t = Constraints::default().min_capsule_angle_deg)]
    min_capsule_angle_deg: f64,
    /// Refuse entries from behind (more than 30° posterior).
    #[arg(long)]
    no_posterior: bool,
    /// Entries must lie in this box, RAS+ mm: X0,Y0,Z0:X1,Y1,Z1.
    #[arg(long, value_name = "BOX", allow_hyphen_values = true)]
    entry_box: Option<String>,
    /// Candidate directions over the sphere.
    #[arg(long, value_name = "N", default_value_t = 4000)]
    directions: usize,
    /// Best candidates confirmed with the full simulation.
    #[arg(long, value_name = "N", default_value_t = 3)]
    confirm: usize,
    /// Write the recommended plan's masks on the scan's grid into DIR:
    /// path.nii.gz (the needle from skin to tip), tip.nii.gz (a 2 mm ball)
    /// and zone.nii.gz (the confirmed 70 °C zone, the union for overlapping
    /// ablations, the one zone of antennas powered together).
    #[arg(long, value_name = "DIR")]
    out_dir: Option<PathBuf>,
    /// Print one JSON object instead of a table.
    #[arg(long)]
    json: bool,
}

fn spec(role: &str, text: Option<&str>) -> Result<Option<RoleSpec>, Failure> {
    Ok(text.map(|t| RoleSpec::parse(role, t)).transpose()?)
}

fn entry_box(text: &str) -> Result<([f64; 3], [f64; 3]), Failure> {
    let Some((a, b)) = text.split_once(':') else {
        return Err(liverkit::Error::parameter("--entry-box", text, "X0,Y0,Z0:X1,Y1,Z1 (mm)").into());
    };
    let (a, b) = (point("--entry-box", a)?, point("--entry-box", b)?);
    Ok((
        [0, 1, 2].map(|k| a[k].min(b[k])),
        [0, 1, 2].map(|k| a[k].max(b[k])),
    ))
}

fn check_positive(name: &str, v: f64) -> Result<(), Failure> {
    if v.is_finite() && v >= 0.0 {
        Ok(())
    } else {
        Err(liverkit::Error::parameter(name, v, "a finite number ≥ 0").into())
    }
}

pub fn run_plan(a: &PlanArgs, read: &ReadOptions) -> Result<ExitCode, Failure> {
    MARGIN_MM.check(a.margin_mm)?;
    for (n, v) in [
        ("--vessel-clearance-mm", a.vessel_clearance_mm),
        ("--obstacle-clearance-mm", a.obstacle_clearance_mm),
        ("--min-liver-mm", a.min_liver_mm),
        ("--min-capsule-angle-deg", a.min_capsule_angle_deg),
    ] {
        check_positive(n, v)?;
    }
    if !(1..=100_000).contains(&a.directions) || !(1..=10).contains(&a.confirm) {
        return Err(liverkit::Error::parameter(
            "--directions",
            a.directions,
            "1 to 100000 directions and --confirm 1 to 10",
        )
        .into());
    }
    if let Some(dir) = &a.out_dir {
        let map = a.label_map.to_string_lossy();
        let mut inputs = vec![map.as_ref()];
        inputs.extend(a.tumor.as_deref());
        inputs.extend(a.liver.as_deref());
        inputs.extend(a.body.as_deref());
        for name in liverkit::case::plan::OUTPUT_FILES {
            liverkit::io::atomic::ensure_not_input(&dir.join(name), &inputs)?;
        }
        // A folder that cannot be made fails now, not after the planning.
        std::fs::create_dir_all(dir).map_err(|source| liverkit::Error::Write {
            path: dir.clone(),
            source,
        })?;
    }
    let constraints = Constraints {
        vessel_clearance_mm: a.vessel_clearance_mm,
        other_clearance_mm: a.obstacle_clearance_mm,
        min_liver_mm: a.min_liver_mm,
        min_capsule_angle_deg: a.min_capsule_angle_deg,
        no_posterior: a.no_posterior,
        entry_box: a.entry_box.as_deref().map(entry_box).transpose()?,
        ..Constraints::default()
    };
    let req = PlanRequest {
        tumor: spec("tumor", a.tumor.as_deref())?,
        liver: spec("liver", a.liver.as_deref())?,
        vessels: a.vessels.clone(),
        applicator: a.applicator,
        device: a.device.clone(),
        margin_mm: a.margin_mm,
        body: spec("body", a.body.as_deref())?,
        image: a.image.clone(),
        constraints,
        directions: a.directions,
        confirm: a.confirm,
        out_dir: a.out_dir.clone(),
    };
    let lib = library(a.protocols.as_deref())?;
    let params = parameters(a.params.as_deref())?;
    params.validate()?;
    let mut files = Files::new(Some(&a.label_map), read.clone())?;
    let bar = progress();
    let report = plan_case(&mut files, &req, &params, &lib, bar.as_ref())?;
    let text = if a.json {
        output::json(&report)?
    } else {
        output::warn(&report.warnings);
        table(&report)
    };
    output::print(&text)?;
    Ok(if report.all_tumors_covered {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

fn f1(v: Option<f64>) -> String {
    v.map_or("-".into(), |x| format!("{x:.1}"))
}

fn table(r: &PlanReport) -> String {
    let n = 1 + r.other_tumors.len() + r.tumors_not_planned;
    // Targets, not tumours, when some tumours were joined.
    let joined = r.tumors().any(|t| t.tumors_in_target > 1);
    let word = if joined { "target" } else { "tumour" };
    let mut out = String::new();
    for t in r.tumors() {
        out.push_str(&tumour_table(r, t, n, word));
    }
    for (name, path) in &r.outputs {
        out.push_str(&format!("# wrote {name}: {}\n", path.display()));
    }
    if n > 1 {
        let (what, each) = if joined {
            ("TARGETS", "TARGET")
        } else {
            ("TUMOURS", "TUMOUR")
        };
        let verdict = if r.all_tumors_covered {
            format!("ALL {n} {what} COVERED")
        } else {
            let covered = r.tumors().filter(|t| t.covers_target).count();
            format!("NOT EVERY {each} IS COVERED: {covered} of {n}")
        };
        out.push_str(&format!("{verdict}\n"));
    }
    out
}

/// One tumour's lines: its target, the directions, the ranked plans, the
/// overlapping ablations and its verdict (prefixed by which tumour when
/// the mask holds `n` > 1, as a `word`: tumour, or target when some
/// tumours were joined).
fn tumour_table(r: &PlanReport, t: &TumorPlan, n: usize, word: &str) -> String {
    let joined = if t.tumors_in_target > 1 {
        format!(
            " ({} tumours less than two margins apart, planned together)",
            t.tumors_in_target
        )
    } else {
        String::new()
    };
    let (which, prefix) = if n > 1 {
        let c = t.tumor_centre_mm;
        (
            format!(
                " {} of {n} at {:.1},{:.1},{:.1}{joined}",
                t.tumor_index, c[0], c[1], c[2]
            ),
            format!("{word} {}: ", t.tumor_index),
        )
    } else {
        (joined, String::new())
    };
    let mut out = format!(
        "# device {}; {word}{which} {:.2} mL, target (tumour + {} mm) {:.2} mL\n# directions: {} tried, {} admissible; rejected: {}\n",
        r.device,
        t.tumor_ml,
        r.margin_mm,
        t.target_ml,
        r.directions_tried,
        t.directions_admissible,
        t.rejected
            .iter()
            .filter(|(_, n)| **n > 0)
            .map(|(k, n)| format!("{k} {n}"))
            .collect::<Vec<_>>()
            .join(", ")
    );
    let rows: Vec<Vec<String>> = t
        .plans
        .iter()
        .map(|p| {
            let e = p.entry_mm;
            let t = p.tip_mm;
            vec![
                p.rank.to_string(),
                format!("{:.1},{:.1},{:.1}", e[0], e[1], e[2]),
                format!("{:.1},{:.1},{:.1}", t[0], t[1], t[2]),
                format!("{:.0}", p.depth_mm),
                format!("{:.0} W {:.0} s", p.power_w, p.time_s),
                f1(p.min_margin_mm),
                f1(p.healthy_liver_ablated_ml),
                f1(p.vessel_clearance_mm
                    .map(|v| v.min(p.obstacle_clearance_mm.unwrap_or(f64::INFINITY)))
                    .or(p.obstacle_clearance_mm)),
                match p.covers_target {
                    Some(true) => "yes".into(),
                    Some(false) => "no".into(),
                    None => "-".into(),
                },
            ]
        })
        .collect();
    out.push_str(&output::table(
        &[
            ("rank", Align::Right),
            ("entry_ras_mm", Align::Left),
            ("tip_ras_mm", Align::Left),
            ("depth_mm", Align::Right),
            ("protocol", Align::Left),
            ("min_margin_mm", Align::Right),
            ("healthy_ml", Align::Right),
            ("clearance_mm", Align::Right),
            ("covers", Align::Left),
        ],
        &rows,
    ));
    if let Some(m) = &t.multi_ablation {
        out.push_str(&format!(
            "# {} overlapping ablations: union of their 70 °C zones {:.1} mL, minimal margin {:.1} mm, healthy liver {:.1} mL\n#   delivery: {}\n",
            m.ablations.len(),
            m.union.zone70_ml,
            m.union.min_margin_mm,
            m.union.healthy_liver_ablated_ml,
            m.delivery
        ));
        for p in &m.ablations {
            let (e, t) = (p.entry_mm, p.tip_mm);
            out.push_str(&format!(
                "#   {}: entry {:.1},{:.1},{:.1} tip {:.1},{:.1},{:.1} depth {:.0} mm, {:.0} W {:.0} s\n",
                p.rank, e[0], e[1], e[2], t[0], t[1], t[2], p.depth_mm, p.power_w, p.time_s
            ));
        }
        if let Some(g) = &m.together {
            out.push_str(&format!(
                "# the {} antennas powered together ({:.0} W each, {:.0} s): 70 °C zone {:.1} mL, minimal margin {:.1} mm, healthy liver {:.1} mL\n",
                g.antennas,
                g.power_w,
                g.time_s,
                g.zone.zone70_ml,
                g.zone.min_margin_mm,
                g.zone.healthy_liver_ablated_ml
            ));
        }
    }
    out.push_str(&format!("{prefix}{}\n", t.verdict));
    out
}
