//! `liverkit simulate`: predict the ablation zone on the patient's voxels and
//! judge whether it covers the tumour and its margin; `liverkit protocols`:
//! the device-protocol library and the microwave calibration.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::Args;

use liverkit::bioheat::applicator::{ApplicatorKind, Pose};
use liverkit::bioheat::protocols::Library;
use liverkit::bioheat::tissue::Parameters;
use liverkit::case::figures::{simulate_overlays, Drawn, SINK_RGB};
use liverkit::case::outputs::{write_report_sr, write_structures};
use liverkit::case::pages::simulate_page;
use liverkit::case::protocols::{protocols_report, ProtocolsReport, ProtocolsRequest};
use liverkit::case::report_sr::simulate_sr;
use liverkit::case::roles::{Files, RoleSpec};
use liverkit::case::simulate::{
    simulate_case, simulate_structures, write_outputs, SimulateCase, SimulateReport,
};
use liverkit::grid::ras_lps_text;
use liverkit::io::nifti::NiftiTemplate;
use liverkit::io::structure::{Segment, Structure};
use liverkit::io::ReadOptions;
use liverkit::progress::{NoProgress, Progress};
use liverkit::vocabulary::MARGIN_MM;
use liverkit::Error;

use super::figures::FigureSet;
use super::output::{self, Align};
use super::Failure;

/// `liverkit simulate` arguments.
#[derive(Debug, Args)]
#[command(group(clap::ArgGroup::new("pose").required(true).args(["direction", "entry"])))]
pub struct SimulateArgs {
    /// Label map holding the liver, the tumours and the vessels.
    #[arg(value_name = "LABELMAP")]
    label_map: PathBuf,
    /// Liver: label values or names, a mask file, or FILE:labels. Default: a
    /// label named `liver`, or the union of `liver_segment_1..8`.
    #[arg(long, value_name = "SPEC")]
    liver: Option<String>,
    /// Tumours, given like --liver. Default: a label named `liver_tumor`. The
    /// tumour holding the tip (or the nearest one) is assessed.
    #[arg(long, alias = "tumour", value_name = "SPEC")]
    tumor: Option<String>,
    /// Vessel labels (values or names of the label map) acting as heat sinks.
    #[arg(long, value_name = "V,...", value_delimiter = ',')]
    vessels: Vec<String>,
    /// Microwave (mwa) or radiofrequency (rfa).
    #[arg(long, value_parser = super::choice::<ApplicatorKind>())]
    applicator: ApplicatorKind,
    /// Generator power, W.
    #[arg(long, value_name = "W")]
    power_w: f64,
    /// Heating time, s.
    #[arg(long, value_name = "S")]
    time_s: f64,
    /// Applicator tip, world RAS+ mm.
    #[arg(long, value_name = "X,Y,Z", allow_hyphen_values = true)]
    tip: String,
    /// Needle direction, from the entry towards the tip.
    #[arg(long, value_name = "DX,DY,DZ", allow_hyphen_values = true)]
    direction: Option<String>,
    /// Entry point of the needle, world RAS+ mm.
    #[arg(long, value_name = "X,Y,Z", allow_hyphen_values = true)]
    entry: Option<String>,
    /// Tissue and solver parameters overriding the defaults (TOML or JSON).
    #[arg(long, value_name = "FILE")]
    params: Option<PathBuf>,
    /// Device of the protocol library (default: the first of the applicator's kind).
    #[arg(long, value_name = "ID")]
    device: Option<String>,
    /// A protocol library instead of the built-in one (JSON).
    #[arg(long, value_name = "FILE")]
    protocols: Option<PathBuf>,
    /// Simulate even when the tip is outside the liver.
    #[arg(long)]
    allow_outside: bool,
    /// Lattice spacing, mm (overrides solver.spacing_mm; default 1).
    #[arg(long, value_name = "MM")]
    spacing_mm: Option<f64>,
    /// The margin the zone must give the tumour, mm.
    #[arg(long, value_name = "MM", default_value_t = MARGIN_MM.default_value())]
    margin_mm: f64,
    /// Judge the verdict without the tumour surface next to the liver capsule.
    #[arg(long)]
    exclude_capsule: bool,
    /// Write the zones (scan grid) and the temperature, damage, CEM43 and
    /// tissue maps (simulation lattice) as NIfTI files into DIR.
    #[arg(long, value_name = "DIR")]
    out_dir: Option<PathBuf>,
    /// Write the targeted tumour, its target (tumour + margin), the predicted
    /// 70 °C and damage zones and the margin shortfall as one segmentation on
    /// the scan grid: a DICOM SEG (FILE.dcm, joined to the DICOM series of the
    /// inputs or --reference), a 3D Slicer FILE.seg.nrrd, or a NIfTI label map.
    #[arg(long, value_name = "FILE")]
    seg: Option<PathBuf>,
    /// Write the numbers as a DICOM Structured Report (TID 1500 measurement
    /// report), in the study of the DICOM inputs or --reference, pointing to
    /// the segments of --seg FILE.dcm.
    #[arg(long, value_name = "FILE.dcm")]
    sr: Option<PathBuf>,
    #[command(flatten)]
    figures: super::figures::FigureArgs,
    /// Print one JSON object instead of a table.
    #[arg(long, conflicts_with = "csv")]
    json: bool,
    /// Print CSV instead of a table (one row for the case; nested fields flattened to
    /// parent_child columns).
    #[arg(long)]
    csv: bool,
}

/// `liverkit protocols` arguments.
#[derive(Debug, Args)]
pub struct ProtocolsArgs {
    /// A protocol library instead of the built-in one (JSON).
    #[arg(long, value_name = "FILE")]
    protocols: Option<PathBuf>,
    /// Refit the microwave source of each microwave device (or of the one
    /// named by --device) to its settings marked as fitted, check it on all
    /// of them, and print the constants and the errors (about a minute per
    /// device on 2 cores).
    #[arg(long)]
    calibrate: bool,
    /// With --calibrate: fit a new device to your own zone chart, a CSV with
    /// the columns power_w,time_s,short_axis_mm,long_axis_mm (the
    /// manufacturer's or your hospital's ex vivo zones).
    #[arg(long, value_name = "FILE.csv", requires = "calibrate")]
    chart: Option<PathBuf>,
    /// The id of the device --chart creates, or the device to calibrate.
    #[arg(long, value_name = "ID")]
    device: Option<String>,
    /// Write the library with the fitted device(s) to this JSON file, for
    /// `simulate --protocols FILE --device ID`.
    #[arg(long, value_name = "FILE.json", requires = "calibrate")]
    out: Option<PathBuf>,
    /// Also simulate every setting with a power and time in the calibration
    /// conditions and print the model's zones beside the table's.
    #[arg(long)]
    check: bool,
    /// With --calibrate: also predict every setting from a fit to all the
    /// others and print those errors (one fit per setting: 28 minutes for
    /// the 18 rows of the shipped device on 2 cores).
    #[arg(long, requires = "calibrate")]
    leave_one_out: bool,
    /// Tissue parameters (TOML or JSON) for --calibrate and --check.
    #[arg(long, value_name = "FILE")]
    params: Option<PathBuf>,
    /// Print one JSON object instead of a table.
    #[arg(long, conflicts_with = "csv")]
    json: bool,
    /// Print CSV instead of a table (one row per setting; nested fields flattened to
    /// parent_child columns).
    #[arg(long)]
    csv: bool,
}

pub(super) fn point(name: &str, text: &str) -> Result<[f64; 3], Error> {
    let v: Vec<f64> = text
        .split(',')
        .map(|t| t.trim().parse::<f64>())
        .collect::<Result<_, _>>()
        .map_err(|_| Error::parameter(name, text, "three numbers X,Y,Z (mm)"))?;
    match v[..] {
        [x, y, z] if v.iter().all(|c| c.is_finite()) => Ok([x, y, z]),
        _ => Err(Error::parameter(name, text, "three finite numbers X,Y,Z")),
    }
}

/// A progress bar on stderr when it is a terminal.
struct Bar(indicatif::ProgressBar);

impl Progress for Bar {
    fn start(&self, stage: &str, total: u64) {
        self.0.set_length(total);
        self.0.set_position(0);
        self.0.set_message(stage.to_string());
    }
    fn advance(&self, done: u64) {
        self.0.inc(done);
    }
    fn finish(&self) {
        self.0.finish_and_clear();
    }
}

pub(super) fn progress() -> Box<dyn Progress> {
    if std::io::stderr().is_terminal() {
        let bar = indicatif::ProgressBar::new(0);
        if let Ok(style) =
            indicatif::ProgressStyle::with_template("{msg:>12} [{bar:40}] {pos}/{len} steps {eta}")
        {
            bar.set_style(style.progress_chars("=> "));
        }
        Box::new(Bar(bar))
    } else {
        Box::new(NoProgress)
    }
}

pub(super) fn library(path: Option<&Path>) -> Result<Library, Error> {
    match path {
        Some(p) => Library::from_file(p),
        None => Library::builtin(),
    }
}

pub(super) fn parameters(path: Option<&Path>) -> Result<Parameters, Error> {
    match path {
        Some(p) => Parameters::from_file(p),
        None => Ok(Parameters::default()),
    }
}

pub fn run_simulate(a: &SimulateArgs, read: &ReadOptions) -> Result<ExitCode, Failure> {
    let kind = a.applicator;
    if let Some(dir) = &a.out_dir {
        let map = a.label_map.to_string_lossy();
        let mut inputs = vec![map.as_ref()];
        inputs.extend(a.tumor.as_deref());
        inputs.extend(a.liver.as_deref());
        for name in liverkit::case::simulate::OUTPUT_FILES {
            liverkit::io::atomic::ensure_not_input(&dir.join(name), &inputs)?;
        }
    }
    for seg in a.seg.iter().chain(&a.sr) {
        let map = a.label_map.to_string_lossy();
        let mut inputs = vec![map.as_ref()];
        inputs.extend(a.tumor.as_deref());
        inputs.extend(a.liver.as_deref());
        liverkit::io::atomic::ensure_not_input(seg, &inputs)?;
    }
    let tip = point("--tip", &a.tip)?;
    let pose = match (&a.direction, &a.entry) {
        (Some(d), _) => Pose::from_direction(tip, point("--direction", d)?)?,
        (None, Some(e)) => Pose::from_entry(tip, point("--entry", e)?)?,
        (None, None) => {
            return Err(Error::parameter("--direction", "nothing", "--direction or --entry").into())
        }
    };
    let mut params = parameters(a.params.as_deref())?;
    if let Some(h) = a.spacing_mm {
        params.solver.spacing_mm = h;
        params.set_source("solver.spacing_mm", "--spacing-mm");
    }
    params.validate()?;
    let lib = library(a.protocols.as_deref())?;
    let case = SimulateCase {
        applicator: kind,
        power_w: a.power_w,
        time_s: a.time_s,
        pose,
        device: a.device.clone(),
        allow_outside: a.allow_outside,
        margin_mm: a.margin_mm,
        exclude_capsule: a.exclude_capsule,
        together: Vec::new(),
    };
    let mut files = Files::new(Some(&a.label_map), read.clone())?;
    let liver_spec = a
        .liver
        .as_deref()
        .map(|l| RoleSpec::parse("liver", l))
        .transpose()?;
    let tumor_spec = a
        .tumor
        .as_deref()
        .map(|t| RoleSpec::parse("tumor", t))
        .transpose()?;
    let bar = progress();
    let mut outcome = simulate_case(
        &mut files,
        liver_spec.as_ref(),
        tumor_spec.as_ref(),
        &a.vessels,
        &case,
        &params,
        &lib,
        bar.as_ref(),
    )?;
    if let Some(dir) = &a.out_dir {
        // The input's header, kept when the case read it (not opened again).
        let template = files
            .output_template(&a.label_map)
            .unwrap_or_else(|| NiftiTemplate::from_grid(outcome.zone70.grid()));
        write_outputs(&mut outcome, dir, &template)?;
    }
    let mut written = None;
    let structures = if a.seg.is_some() || a.figures.wanted() {
        simulate_structures(&outcome)?
    } else {
        Vec::new()
    };
    if let Some(path) = &a.seg {
        let segments: Vec<Segment<'_>> = structures
            .iter()
            .map(|(mask, structure)| Segment {
                mask,
                structure: *structure,
            })
            .collect();
        let w = write_structures(
            &files,
            Some(&a.label_map),
            path,
            &segments,
            "liverkit ablation simulation",
        )?;
        outcome.report.warnings.extend(w.warning.clone());
        written = Some(w);
        outcome.report.outputs.insert("seg".into(), path.clone());
    }
    if let Some(sr) = &a.sr {
        let note = write_report_sr(&files, sr, &simulate_sr(&outcome.report), written.as_ref())?;
        outcome.report.warnings.extend(note);
        outcome.report.outputs.insert("sr".into(), sr.clone());
    }
    if a.figures.wanted() {
        // Through the needle tip: the liver, the 50 and 60 °C isotherms,
        // the heat-sink vessels, then the zones and the tumour.
        let (liver, _) = files.liver(liver_spec.as_ref())?;
        let overlays = simulate_overlays(&outcome, &mut files, &a.vessels, params.blood.temperature_c)?;
        let mut drawn = vec![Drawn::of(&liver, Structure::Liver)];
        let names: Vec<String> = overlays
            .isotherms
            .iter()
            .map(|(c, _, _)| format!("max. temperature ≥ {c} °C"))
            .collect();
        for ((_, rgb, m), name) in overlays.isotherms.iter().zip(&names) {
            drawn.push(Drawn {
                mask: m,
                name,
                rgb: *rgb,
                fill: 0.3,
                structure: None,
                in_scene: false,
            });
        }
        for (name, m) in &overlays.sinks {
            drawn.push(Drawn {
                mask: m,
                name,
                rgb: SINK_RGB,
                fill: 0.6,
                structure: None,
                in_scene: true,
            });
        }
        drawn.extend(structures.iter().map(|(m, s)| Drawn::of(m, *s)));
        let page = || simulate_page(&outcome.report);
        // The needle from its tip to 80 mm back along the shaft.
        let extras = liverkit::case::report3d::SceneExtras {
            needle: Some((case.pose.tip_mm, case.pose.behind(80.0))),
            ..Default::default()
        };
        let set = FigureSet {
            name: "",
            grid: Some(liver.grid()),
            point_mm: case.pose.tip_mm,
            drawn: &drawn,
            image: a.figures.image.as_deref(),
        };
        for p in a.figures.write_sets(read, &[set], extras, page)? {
            let key = match p.extension().and_then(|e| e.to_str()) {
                Some("png") => p
                    .file_stem()
                    .map(|s| format!("{}_png", s.to_string_lossy()))
                    .unwrap_or_default(),
                _ => "report".to_string(),
            };
            outcome.report.outputs.insert(key, p);
        }
    }
    let report = &outcome.report;
    let text = if a.json {
        output::json(report)?
    } else if a.csv {
        output::warn(&report.warnings);
        output::csv_rows(&[report])?
    } else {
        output::warn(&report.warnings);
        simulate_text(report)
    };
    output::print(&text)?;
    Ok(match report.covers_target {
        Some(false) => ExitCode::from(1),
        _ => ExitCode::SUCCESS,
    })
}

fn simulate_text(r: &SimulateReport) -> String {
    let mut o = String::new();
    setup_lines(&mut o, r);
    zone_lines(&mut o, r);
    tumour_lines(&mut o, r);
    for (k, p) in &r.outputs {
        o.push_str(&format!("output       {k}: {}\n", p.display()));
    }
    let verdict = r.verdict();
    if let Some(c) = r.damage_zone_covers_target {
        let m = r
            .damage_zone_min_margin_mm
            .map(|m| format!("minimal margin {m:.1} mm; "))
            .unwrap_or_default();
        o.push_str(&format!(
            "damage zone  {m}it would {}cover the tumour and {} mm around it (information: the verdict uses the 70 C zone)\n",
            if c { "" } else { "NOT " },
            r.margin_mm
        ));
    }
    o.push_str(&format!("\nverdict      {verdict}\n"));
    o
}

/// The inputs, the applicator, the lattice, the RF generator and the vessels.
fn setup_lines(o: &mut String, r: &SimulateReport) {
    let inputs: Vec<String> = r.input.iter().map(|p| p.display().to_string()).collect();
    o.push_str(&format!("input        {}\n", inputs.join(" ")));
    let ap = &r.applicator;
    o.push_str(&format!(
        "applicator   {} ({}), {} W for {} s, tip {}, direction RAS ({:.3}, {:.3}, {:.3})\n",
        ap.kind.name(),
        ap.device,
        ap.power_w,
        ap.time_s,
        ras_lps_text(ap.tip_mm),
        ap.direction[0],
        ap.direction[1],
        ap.direction[2]
    ));
    o.push_str(&format!(
        "lattice      {}x{}x{} voxels at {} mm, {} steps of {:.3} s (bound {:.3} s)\n",
        r.grid.size[0], r.grid.size[1], r.grid.size[2], r.grid.spacing_mm, r.steps, r.dt_s, r.dt_bound_s
    ));
    if let Some(rf) = &r.rf {
        o.push_str(&format!(
            "electrode    {} voxels ({}, near-field gain {:.2}), impedance {:.1} -> {:.1} ohm over {} potential solutions\n",
            rf.electrode_voxels,
            if rf.cooled_electrode { "cooled" } else { "bare" },
            rf.near_field_gain,
            rf.impedance_start_ohm,
            rf.impedance_end_ohm,
            rf.solutions
        ));
        let limits = [
            (rf.current_limited, "held back by its current limit"),
            (
                rf.temperature_limited,
                "held back to hold the hottest tissue at rf.control_target_c",
            ),
        ]
        .iter()
        .filter(|(on, _)| *on)
        .map(|(_, what)| *what)
        .collect::<Vec<_>>()
        .join(", ");
        o.push_str(&format!(
            "generator    delivered {:.0} J, mean {:.1} W, on for {:.0} s{}{}\n",
            rf.delivered_energy_j,
            rf.delivered_mean_w,
            rf.power_on_s,
            if limits.is_empty() {
                String::new()
            } else {
                format!("; {limits}")
            },
            if rf.rolloffs > 0 {
                format!("; rolled off {} time(s)", rf.rolloffs)
            } else {
                String::new()
            }
        ));
    }
    for v in &r.vessels {
        let name = v.name.as_deref().map(|n| format!(" ({n})")).unwrap_or_default();
        let wall = v
            .heat_transfer_mean_w_m2k
            .map_or("walls at blood temperature".to_string(), |h| {
                format!("mean wall coefficient {h:.0} W/(m2 K)")
            });
        let below = if v.below_sink_diameter_ml > 0.0 {
            format!(
                ", {:.2} mL narrower than the sink diameter (as tissue)",
                v.below_sink_diameter_ml
            )
        } else {
            String::new()
        };
        if v.sink_ml <= 0.0 && v.below_sink_diameter_ml <= 0.0 {
            o.push_str(&format!(
                "vessel       {}{name}: not in the simulated region (beyond its margin around the expected zone and the target): no heat sink\n",
                v.label
            ));
            continue;
        }
        // The region holds only the part of the vessel near the zone: its
        // volume and widest diameter are those of that part.
        o.push_str(&format!(
            "vessel       {}{name}: {:.2} mL in the simulated region, a heat sink as {}, up to {:.1} mm wide there, {wall}{below}\n",
            v.label,
            v.sink_ml,
            v.class.key().replace('_', " "),
            v.diameter_max_mm
        ));
    }
}

/// The zones table, the temperature, the energy balance and the reference zone.
fn zone_lines(o: &mut String, r: &SimulateReport) {
    o.push('\n');
    let rows = vec![
        vec![
            "T >= 70 C".to_string(),
            format!("{:.2}", r.zone70_ml),
            format!("{:.1}", r.zone_diameter_mm),
            format!("{:.1}", r.zone_length_mm),
            format!("{:.1}", r.zone_beyond_tip_mm),
        ],
        vec![
            "damage >= 1".to_string(),
            format!("{:.2}", r.zone_damage_ml),
            format!("{:.1}", r.zone_damage_diameter_mm),
            format!("{:.1}", r.zone_damage_length_mm),
            String::new(),
        ],
    ];
    // What is known of each zone for this applicator (docs/formulas/bioheat.md):
    // the RF check holds for the clinical setting only.
    o.push_str(match &r.rf {
        Some(rf) if rf.cooled_electrode && rf.impedance_controlled => {
            "zones        the verdict uses T >= 70 C, within 17 % of published cooled-electrode zones \
             [Cvir2009]; damage >= 1 (Arrhenius) is 75-90 % larger than they are\n"
        }
        Some(_) => {
            "zones        the verdict uses T >= 70 C; neither zone is checked against published zones \
             for this electrode and generator (only the cooled, impedance-controlled one is)\n"
        }
        None => "zones        the verdict uses T >= 70 C; damage >= 1 (Arrhenius) is the calibrated gross-pathology zone\n",
    });
    o.push_str(&output::table(
        &[
            ("zone", Align::Left),
            ("volume_ml", Align::Right),
            ("diameter_mm", Align::Right),
            ("length_mm", Align::Right),
            ("beyond_tip_mm", Align::Right),
        ],
        &rows,
    ));
    o.push_str(&format!(
        "max temperature {:.1} C; CEM43 >= 240 min: {:.2} mL; boiled dry {:.2} mL\n",
        r.max_temperature_c, r.zone_cem43_ml, r.dried_ml
    ));
    let e = &r.energy;
    let pct = |v: f64| {
        if e.deposited_j > 0.0 {
            100.0 * v / e.deposited_j
        } else {
            0.0
        }
    };
    o.push_str(&format!(
        "energy       generator {:.0} J, deposited in tissue {:.0} J ({:.1} W) = stored {:.0} % + latent {:.0} % \
         + perfusion {:.0} % + vessels {:.0} % + boundary {:.0} % (residual {:.3} %)\n",
        r.generator_energy_j,
        e.deposited_j,
        r.deposited_w,
        pct(e.stored_j),
        pct(e.latent_j),
        pct(e.perfusion_j),
        pct(e.vessels_j),
        pct(e.boundary_j),
        pct(e.residual_j)
    ));
    if let Some(rf) = &r.reference {
        let d = rf
            .table_zone_diameter_mm
            .map(range_text)
            .unwrap_or_else(|| "-".into());
        let l = rf
            .table_zone_length_mm
            .map(range_text)
            .unwrap_or_else(|| "-".into());
        let m = rf
            .model_zone_mm
            .map(|z| format!("; model in the same conditions {:.1} x {:.1} mm", z[0], z[1]))
            .unwrap_or_default();
        o.push_str(&format!(
            "reference    {}: {} x {} mm ({}){}\n",
            rf.setting, d, l, rf.conditions, m
        ));
    }
}

/// The targeted tumour: margins, residual tumour, shortfall regions.
fn tumour_lines(o: &mut String, r: &SimulateReport) {
    if let Some(t) = &r.tumor {
        o.push_str(&format!(
            "\ntumour       {:.2} mL centred at {}\n",
            t.tumor_ml,
            ras_lps_text(t.centroid_mm)
        ));
        match &t.margins {
            Some(m) => o.push_str(&format!(
                "margin       minimum {:.1} mm at {}, 5th percentile {:.1} mm; surface covered >=0/5/10 mm: {:.0}/{:.0}/{:.0} %\n",
                m.min_margin_mm, ras_lps_text(m.min_margin_at_mm), m.p5_margin_mm, m.coverage_ge0_pct, m.coverage_ge5_pct, m.coverage_ge10_pct
            )),
            None => o.push_str("margin       no zone reaches 70 C\n"),
        }
        o.push_str(&format!(
            "residual     {:.3} mL of tumour outside the zone\n",
            t.residual_tumor_ml
        ));
        for s in &t.shortfalls {
            o.push_str(&format!(
                "shortfall    region of {:.0} mm2 centred at {}; minimum {:.1} mm at {}\n",
                s.area_mm2,
                ras_lps_text(s.centroid_mm),
                s.min_margin_mm,
                ras_lps_text(s.min_margin_at_mm)
            ));
        }
    }
}

fn range_text(r: [f64; 2]) -> String {
    if r[0] == r[1] {
        format!("{}", r[0])
    } else {
        format!("{}-{}", r[0], r[1])
    }
}

pub fn run_protocols(a: &ProtocolsArgs) -> Result<ExitCode, Failure> {
    let request = ProtocolsRequest {
        protocols: a.protocols.clone(),
        params: a.params.clone(),
        calibrate: a.calibrate,
        chart: a.chart.clone(),
        device: a.device.clone(),
        out: a.out.clone(),
        check: a.check,
        leave_one_out: a.leave_one_out,
    };
    let bar = progress();
    let report = protocols_report(&request, bar.as_ref())?;
    output::warn(&report.warnings);
    let text = if a.json {
        output::json(&report)?
    } else if a.csv {
        output::csv_rows(&report.settings)?
    } else {
        protocols_text(&report)
    };
    output::print(&text)?;
    Ok(ExitCode::SUCCESS)
}

/// The leave-one-out table and its summary.
fn loo_text(loo: &liverkit::bioheat::calibration::LeaveOneOut) -> String {
    let rows: Vec<Vec<String>> = loo
        .rows
        .iter()
        .map(|r| {
            vec![
                format!("{}", r.row.power_w),
                format!("{}", r.row.time_s),
                format!("{:.1} x {:.1}", r.row.short_axis_mm, r.row.long_axis_mm),
                format!("{:.1} x {:.1}", r.model_short_axis_mm, r.model_long_axis_mm),
                format!("{:+.1} / {:+.1}", r.short_axis_error_pct, r.long_axis_error_pct),
                format!("{:.4}", r.efficiency_frac),
                format!("{:.3}", r.axial_width_mm),
            ]
        })
        .collect();
    let mut o = String::from("\nleave-one-out: each setting predicted by a fit to all the others\n");
    o.push_str(&output::table(
        &[
            ("power_w", Align::Right),
            ("time_s", Align::Right),
            ("table_mm", Align::Right),
            ("predicted_mm", Align::Right),
            ("error_pct", Align::Right),
            ("efficiency", Align::Right),
            ("width_mm", Align::Right),
        ],
        &rows,
    ));
    o.push_str(&format!(
        "left out     {:.1} % mean, {:.1} % worst (damage zone vs table, both axes; {} runs)\n",
        loo.mae_pct, loo.max_pct, loo.runs
    ));
    o
}

fn protocols_text(r: &ProtocolsReport) -> String {
    let mut o = String::new();
    let rows: Vec<Vec<String>> = r
        .devices
        .iter()
        .map(|d| {
            vec![
                d.id.clone(),
                d.applicator.name().to_string(),
                format!("{}-{}", d.power_range_w[0], d.power_range_w[1]),
                format!("{}-{}", d.time_range_s[0], d.time_range_s[1]),
                d.name.clone(),
            ]
        })
        .collect();
    o.push_str(&output::table(
        &[
            ("device", Align::Left),
            ("kind", Align::Left),
            ("power_w", Align::Right),
            ("time_s", Align::Right),
            ("name", Align::Left),
        ],
        &rows,
    ));
    o.push('\n');
    let opt = |v: Option<f64>| v.map(|x| x.to_string()).unwrap_or_else(|| "-".into());
    let rows: Vec<Vec<String>> = r
        .settings
        .iter()
        .map(|s| {
            vec![
                s.id.clone(),
                opt(s.power_w),
                opt(s.time_s),
                format!(
                    "{} x {}",
                    s.table_zone_diameter_mm
                        .map(range_text)
                        .unwrap_or_else(|| "-".into()),
                    s.table_zone_length_mm
                        .map(range_text)
                        .unwrap_or_else(|| "-".into())
                ),
                match s.fitted {
                    Some(true) => "fitted",
                    Some(false) => "held out",
                    None => "-",
                }
                .to_string(),
                s.model_zone_mm
                    .map(|z| format!("{:.1} x {:.1}", z[0], z[1]))
                    .unwrap_or_else(|| "-".into()),
                s.checked_zone_mm
                    .map(|z| format!("{:.1} x {:.1}", z[0], z[1]))
                    .unwrap_or_else(|| "-".into()),
                s.checked_zone70_mm
                    .map(|z| format!("{:.1} x {:.1}", z[0], z[1]))
                    .unwrap_or_else(|| "-".into()),
            ]
        })
        .collect();
    o.push_str(&output::table(
        &[
            ("setting", Align::Left),
            ("power_w", Align::Right),
            ("time_s", Align::Right),
            ("table_mm", Align::Right),
            ("use", Align::Left),
            ("model_mm", Align::Right),
            ("checked_mm", Align::Right),
            ("checked_70c_mm", Align::Right),
        ],
        &rows,
    ));
    for c in &r.calibration {
        let k = &c.check;
        // With every row fitted the check's "held-out" figures cover all rows.
        let errors = if k.rows.iter().all(|r| r.fitted) {
            format!(
                "every row fitted, none held out: {:.1} % mean, {:.1} % worst",
                k.held_out_mae_pct, k.held_out_max_pct
            )
        } else {
            format!(
                "fitted rows {:.1} % mean; held-out rows {:.1} % mean, {:.1} % worst",
                k.fitted_mae_pct, k.held_out_mae_pct, k.held_out_max_pct
            )
        };
        let time = if k.published_time_exponent.is_finite() && k.model_time_exponent.is_finite() {
            format!(
                "diameter grows as t^{:.3} in the model, t^{:.3} in the table",
                k.model_time_exponent, k.published_time_exponent
            )
        } else {
            "not measured: no power of the chart has two or more times".to_string()
        };
        o.push_str(&format!(
            "\ncalibrated   {}: efficiency_frac {:.4}, axial_width_mm {:.3} ({} runs)\n\
             errors       {errors} (damage zone vs table, both axes)\n\
             time         {time}\n",
            c.device, c.fit.efficiency_frac, c.fit.axial_width_mm, c.fit.runs,
        ));
        if let Some(loo) = &c.leave_one_out {
            o.push_str(&loo_text(loo));
        }
    }
    if !r.settings.is_empty() {
        o.push_str("\nSources: liverkit protocols --json lists each setting's source.\n");
    }
    o
}
