//! Boiling and the microwave calibration: the enthalpy model against its
//! closed form, the energy balance with every sink at work, and the shipped
//! device against the published zone table it was fitted to and checked on
//! ([He2010], testdata/he2010_exvivo_cooled_2450.csv).

use liverkit::bioheat::applicator::{ApplicatorKind, Pose};
use liverkit::bioheat::calibration::{
    check_chart, device_chart, fit_source, leave_one_out, read_chart, ChartRow,
};
use liverkit::bioheat::protocols::{calibration_case, model_zones, Library};
use liverkit::bioheat::solver::{run, FixedSource, Lattice};

use crate::bioheat::settings;
use liverkit::bioheat::tissue::{Parameters, Walls};
use liverkit::bioheat::{dried_material, material, simulate, Request, Tissues, VesselMask};
use liverkit::progress::NoProgress;
use liverkit::{Grid, Mask, Volume};
use ndarray::Array3;

const HE2010: &str = "he2010_exvivo_cooled_2450.csv";

#[test]
fn uniformly_heated_liver_boils_dry_and_heats_on_as_the_enthalpy_balance_says() {
    // Every voxel heated alike in an insulated block: no gradients, so each
    // voxel follows the closed form. It warms at q/(ρc)_wet to 100 °C, stays
    // there while its water's latent heat L·W·ρ is absorbed, then warms at
    // q/(ρc)_dry.
    let p = Parameters::default();
    let mut liver = p.liver;
    liver.perfusion_1_s = 0.0;
    let n = 6;
    let lattice = Lattice {
        dims: [n; 3],
        spacing_mm: 1.0,
        materials: vec![
            material(&p, &liver, "liver", Some(1)),
            dried_material(&p, &liver, "liver"),
        ],
        material: vec![0; n * n * n],
    };
    let q = 1.0e7; // W/m³
    let rc_wet = liver.density_kg_m3 * liver.specific_heat_j_kgk;
    let latent = p.water.latent_heat_j_kg * liver.water_mass_frac * liver.density_kg_m3;
    let rc_dry = liver.density_kg_m3 * (1.0 - liver.water_mass_frac) * p.water.dry_matter_specific_heat_j_kgk;
    let to_boil = rc_wet * (p.water.boiling_c - 37.0);
    for (t, expect_c) in [
        (0.5 * to_boil / q, 37.0 + 0.5 * to_boil / rc_wet),
        ((to_boil + 0.5 * latent) / q, p.water.boiling_c),
        (
            (to_boil + latent) / q + 60.0,
            p.water.boiling_c + 60.0 * q / rc_dry,
        ),
    ] {
        let s = settings(&p, t, Walls::Insulated);
        let f = run(
            &lattice,
            &s,
            &mut FixedSource(vec![q as f32; n * n * n]),
            &NoProgress,
        )
        .unwrap();
        for &v in &f.final_c {
            assert!(
                (v as f64 - expect_c).abs() < 0.01 * (expect_c - 37.0) + 0.05,
                "after {t:.0} s: {v} °C, expected {expect_c:.2} °C"
            );
        }
        let e = f.energy;
        assert!(e.residual_j.abs() < 1e-4 * e.deposited_j, "{e:?}");
        let boiled = (q * t - to_boil).clamp(0.0, latent) / latent;
        assert!(
            (f.vaporised_frac[0] as f64 - boiled).abs() < 0.01,
            "{} vs {boiled}",
            f.vaporised_frac[0]
        );
    }
}

/// A liver block with a 5 mm vessel beside a microwave antenna.
fn block_with_vessel() -> (Mask, Mask) {
    let n = 70;
    let grid = Grid::from_spacing([n; 3], [1.0; 3]).unwrap();
    let liver = Volume::new(grid.clone(), Array3::from_elem((n, n, n), true)).unwrap();
    let vessel = Array3::from_shape_fn((n, n, n), |(x, y, _)| {
        (x as f64 - 45.0).powi(2) + (y as f64 - 35.0).powi(2) <= 6.25
    });
    (liver, Volume::new(grid, vessel).unwrap())
}

#[test]
fn the_energy_balance_closes_within_1_pct_with_boiling_perfusion_vessels_and_open_faces() {
    let (liver, vessel) = block_with_vessel();
    let mut p = Parameters::default();
    p.solver.roi_margin_mm = 8.0;
    let request = Request {
        applicator: ApplicatorKind::Mwa,
        power_w: 150.0,
        time_s: 300.0,
        pose: Pose::from_direction([35.0, 35.0, 50.0], [0.0, 0.0, 1.0]).unwrap(),
        allow_outside: false,
        max_bytes: 1 << 30,
        margin_mm: 10.0,
        expected_radius_mm: 15.0,
        together: Vec::new(),
    };
    let tissues = Tissues {
        liver: &liver,
        tumor: None,
        vessels: vec![VesselMask {
            label: 5,
            name: None,
            mask: &vessel,
        }],
    };
    let sim = simulate(&tissues, &request, &p, &NoProgress).unwrap();
    let e = sim.fields.energy;
    // Every sink is at work, and what they took adds up to what was put in.
    assert!(
        e.latent_j > 0.0 && e.perfusion_j > 0.0 && e.vessels_j > 0.0 && e.boundary_j > 0.0,
        "{e:?}"
    );
    let taken = e.stored_j + e.latent_j + e.perfusion_j + e.vessels_j + e.boundary_j;
    assert!((taken / e.deposited_j - 1.0).abs() < 0.01, "{e:?}");
    // Wet tissue never exceeds the boiling point; only dried voxels do.
    for (i, &t) in sim.fields.tmax_c.iter().enumerate() {
        if t > p.water.boiling_c as f32 + 0.01 {
            assert!(
                sim.fields.vaporised_frac[i] >= 0.999,
                "voxel {i}: {t} °C with water left"
            );
        }
    }
    assert!(sim.fields.dried_voxels > 0);
}

#[test]
fn the_shipped_microwave_device_meets_the_goals_on_the_published_table() {
    // The published rows, read from the data file (not the library), and
    // which of them the shipped constants were fitted to.
    let rows = read_chart(&crate::common::data(HE2010)).unwrap();
    assert_eq!(rows.len(), 18);
    let lib = Library::builtin().unwrap();
    let device = lib.device(None, ApplicatorKind::Mwa).unwrap();
    let (lib_rows, fitted) = device_chart(&lib, &device.id);
    assert_eq!(lib_rows, rows, "the library's settings are the published table");
    assert!(fitted.iter().any(|&f| f) && fitted.iter().any(|&f| !f));
    let fit = device.microwave_fit.unwrap();
    let defaults = Parameters::default();
    assert_eq!(defaults.microwave.efficiency_frac, fit.efficiency_frac);
    assert_eq!(defaults.microwave.axial_width_mm, fit.axial_width_mm);
    let p = device.apply(&defaults);
    let c = check_chart(&rows, &fitted, &p, 1.0, &NoProgress).unwrap();
    for r in &c.rows {
        println!(
            "{:>3} W {:>4} s  table {:>4.1} x {:>4.1}  model {:>5.1} x {:>5.1}  ({:+5.1} %, {:+5.1} %)  70 °C {:>5.1} x {:>5.1}  {}",
            r.row.power_w,
            r.row.time_s,
            r.row.short_axis_mm,
            r.row.long_axis_mm,
            r.model_short_axis_mm,
            r.model_long_axis_mm,
            r.short_axis_error_pct,
            r.long_axis_error_pct,
            r.zone70_short_axis_mm,
            r.zone70_long_axis_mm,
            if r.fitted { "fitted" } else { "held out" }
        );
    }
    println!(
        "held out: {:.1} % mean, {:.1} % worst; fitted {:.1} %; exponent {:.3} (table {:.3})",
        c.held_out_mae_pct,
        c.held_out_max_pct,
        c.fitted_mae_pct,
        c.model_time_exponent,
        c.published_time_exponent
    );
    assert!(c.held_out_mae_pct <= 10.0, "{c:?}");
    let worst = c
        .rows
        .iter()
        .flat_map(|r| [r.short_axis_error_pct.abs(), r.long_axis_error_pct.abs()])
        .fold(0.0, f64::max);
    assert!(worst <= 20.0, "worst row {worst:.1} %");
    assert!(
        (c.model_time_exponent - c.published_time_exponent).abs() <= 0.05,
        "{} vs {}",
        c.model_time_exponent,
        c.published_time_exponent
    );
    // The library's recorded model zones are the model's (to 0.15 mm).
    for (s, r) in lib.settings_of(&device.id).zip(&c.rows) {
        let m = s.model_zone_mm.unwrap();
        assert!(
            (m[0] - r.model_short_axis_mm).abs() < 0.15 && (m[1] - r.model_long_axis_mm).abs() < 0.15,
            "{}: {m:?} vs {r:?}",
            s.id
        );
    }
    // The 70 °C zone lies inside the damage zone in every row.
    for r in &c.rows {
        assert!(r.zone70_short_axis_mm < r.model_short_axis_mm, "{r:?}");
    }
}

/// The lattice spacing of the fits on charts the model made, mm: these
/// tests check the fitting procedure, not the zones, and a 2 mm lattice
/// runs them about 15 times faster than the 1 mm one of the calibration.
const PROCEDURE_SPACING_MM: f64 = 2.0;

/// A chart the model made at 40 W with known constants (efficiency 0.3,
/// radiating width 6.5 mm) on the lattice of [`PROCEDURE_SPACING_MM`], one
/// row per time.
fn chart_made_by_the_model(times_s: &[f64]) -> Vec<ChartRow> {
    let mut truth = Parameters::default();
    truth.microwave.efficiency_frac = 0.3;
    truth.microwave.axial_width_mm = 6.5;
    let case = calibration_case(&truth, PROCEDURE_SPACING_MM).unwrap();
    let zones = model_zones(&case, &truth, 40.0, times_s, &NoProgress).unwrap();
    zones
        .iter()
        .map(|z| ChartRow {
            power_w: 40.0,
            time_s: z.time_s,
            short_axis_mm: z.damage.diameter_mm,
            long_axis_mm: z.damage.length_mm,
        })
        .collect()
}

#[test]
fn the_fit_recovers_known_source_constants_from_a_chart_the_model_made() {
    // The fit, started from other constants, must find the chart's again.
    let rows = chart_made_by_the_model(&[240.0, 480.0]);
    let mut start = Parameters::default();
    start.microwave.efficiency_frac = 0.4;
    start.microwave.axial_width_mm = 5.0;
    let fit = fit_source(
        &rows,
        &[true, true],
        &start,
        PROCEDURE_SPACING_MM,
        10,
        &NoProgress,
    )
    .unwrap();
    assert!((fit.efficiency_frac / 0.3 - 1.0).abs() < 0.03, "{fit:?}");
    assert!((fit.axial_width_mm / 6.5 - 1.0).abs() < 0.05, "{fit:?}");
}

#[test]
fn a_row_left_out_is_predicted_from_the_other_rows_alone() {
    // Three rows made by the model with known constants, the middle one
    // then made 15 % larger. Left out, it is predicted from a fit to the two
    // true rows, which pin both constants: the prediction is the true zone,
    // 13 % short of the altered row (a fit that had seen the row would be
    // pulled towards it). Fits start 25 % off in both constants.
    let mut rows = chart_made_by_the_model(&[240.0, 360.0, 480.0]);
    rows[1].short_axis_mm *= 1.15;
    rows[1].long_axis_mm *= 1.15;
    let mut start = Parameters::default();
    start.microwave.efficiency_frac = 0.375;
    start.microwave.axial_width_mm = 5.2;
    let loo = leave_one_out(&rows, &start, PROCEDURE_SPACING_MM, 10, &NoProgress).unwrap();
    assert_eq!(loo.rows.len(), 3);
    let mut errs = Vec::new();
    for (r, want) in loo.rows.iter().zip(&rows) {
        assert_eq!(r.row, *want);
        let short = 100.0 * (r.model_short_axis_mm / want.short_axis_mm - 1.0);
        let long = 100.0 * (r.model_long_axis_mm / want.long_axis_mm - 1.0);
        assert!((short - r.short_axis_error_pct).abs() < 1e-9 && (long - r.long_axis_error_pct).abs() < 1e-9);
        if r.row.time_s == rows[1].time_s {
            let want_pct = 100.0 * (1.0 / 1.15 - 1.0);
            assert!(
                (short - want_pct).abs() < 2.0 && (long - want_pct).abs() < 2.0,
                "{r:?}"
            );
        }
        errs.extend([short.abs(), long.abs()]);
    }
    let mean = errs.iter().sum::<f64>() / errs.len() as f64;
    assert!((loo.mae_pct - mean).abs() < 1e-9);
    assert!((loo.max_pct - errs.iter().copied().fold(0.0, f64::max)).abs() < 1e-9);
    // One row cannot be left out of itself; a chart longer than the bound
    // is refused before any fit runs (this returns at once).
    let e = leave_one_out(&rows[..1], &start, PROCEDURE_SPACING_MM, 10, &NoProgress).unwrap_err();
    assert_eq!(e.field(), Some("chart"));
    let long = vec![rows[0]; liverkit::bioheat::calibration::LOO_MAX_ROWS + 1];
    let e = leave_one_out(&long, &start, PROCEDURE_SPACING_MM, 10, &NoProgress).unwrap_err();
    assert_eq!(e.field(), Some("chart"));
    assert!(e.to_string().contains("61 row(s)"), "{e}");
}

#[test]
fn a_chart_with_a_bad_header_or_value_names_the_line_and_column() {
    let dir = tempfile::tempdir().unwrap();
    for (text, want) in [
        ("power,time\n30,360\n", "header"),
        ("power_w,time_s,short_axis_mm,long_axis_mm\n30,360,24\n", "line 2"),
        (
            "power_w,time_s,short_axis_mm,long_axis_mm\n30,-360,24,38\n",
            "time_s",
        ),
        (
            "power_w,time_s,short_axis_mm,long_axis_mm\n30,360,NaN,38\n",
            "short_axis_mm",
        ),
        ("power_w,time_s,short_axis_mm,long_axis_mm\n# nothing\n", "rows"),
        (
            "power_w,time_s,short_axis_mm,long_axis_mm\n1e9,360,24,38\n",
            "power_w",
        ),
        (
            "power_w,time_s,short_axis_mm,long_axis_mm\n30,7200,24,38\n",
            "time_s",
        ),
    ] {
        let path = dir.path().join("chart.csv");
        std::fs::write(&path, text).unwrap();
        let err = read_chart(&path).unwrap_err().to_string();
        assert!(err.contains(want) && err.contains("chart.csv"), "{text:?}: {err}");
    }
    // Thirteen powers would make every step of the fit 13 simulations.
    let path = dir.path().join("powers.csv");
    let mut text = String::from("power_w,time_s,short_axis_mm,long_axis_mm\n");
    for p in 0..13 {
        text.push_str(&format!("{},360,24,38\n", 20 + 5 * p));
    }
    std::fs::write(&path, &text).unwrap();
    let err = read_chart(&path).unwrap_err().to_string();
    assert!(err.contains("power_w") && err.contains("13"), "{err}");
    // Twelve are read.
    let twelve: String = text.lines().take(13).map(|l| format!("{l}\n")).collect();
    std::fs::write(&path, twelve).unwrap();
    assert_eq!(read_chart(&path).unwrap().len(), 12);
}

/// A chart row whose short axis is longer than its long axis (columns
/// swapped?) is named in a warning; a calibration that leaves a row more
/// than 20 % off is reported, one within it is not.
#[test]
fn a_swapped_chart_row_and_a_poor_fit_are_warned_about() {
    use liverkit::bioheat::calibration::{
        chart_warnings, fit_warning, ChartCheck, DeviceCalibration, RowCheck, SourceFit,
    };
    let row = |short: f64, long: f64| ChartRow {
        power_w: 30.0,
        time_s: 360.0,
        short_axis_mm: short,
        long_axis_mm: long,
    };
    let path = std::path::Path::new("chart.csv");
    let w = chart_warnings(path, &[row(24.0, 38.0), row(40.0, 20.0), row(30.0, 30.0)]);
    assert_eq!(w.len(), 1, "{w:?}");
    assert_eq!(w[0].field, "row 2 short_axis_mm");
    assert!(w[0].to_string().contains("chart.csv") && w[0].message.contains("swapped"));
    let calibration = |model_long_mm: f64| {
        let r = row(24.0, 38.0);
        DeviceCalibration {
            device: "chart".into(),
            fit: SourceFit {
                efficiency_frac: 0.2,
                axial_width_mm: 8.0,
                runs: 1,
            },
            check: ChartCheck {
                rows: vec![RowCheck {
                    row: r,
                    fitted: true,
                    model_short_axis_mm: 24.0,
                    model_long_axis_mm: model_long_mm,
                    short_axis_error_pct: 0.0,
                    long_axis_error_pct: 100.0 * (model_long_mm / r.long_axis_mm - 1.0),
                    zone70_short_axis_mm: 10.0,
                    zone70_long_axis_mm: 20.0,
                }],
                held_out_mae_pct: 0.0,
                held_out_max_pct: 0.0,
                fitted_mae_pct: 0.0,
                published_time_exponent: f64::NAN,
                model_time_exponent: f64::NAN,
            },
            leave_one_out: None,
        }
    };
    // 38 mm × 1.25 = 47.5 mm: 25 % off; 38 mm × 1.15: 15 % off.
    let poor = fit_warning(&calibration(47.5), Some(path)).expect("a warning at 25 %");
    assert!(
        poor.message.contains("25.0 %") && poor.to_string().contains("chart.csv"),
        "{poor}"
    );
    assert!(fit_warning(&calibration(43.7), Some(path)).is_none());
}
