//! `liverkit simulate` and `liverkit protocols` from the command line: the
//! JSON interface, the verdict's exit codes, the files written on the input
//! grid, and every bad input the simulation refuses or warns about.

use std::path::{Path, PathBuf};

use liverkit::io::nifti::write_label_map;
use liverkit::io::{read_intensity, read_label_map, ReadOptions};
use liverkit::{Grid, LabelArray, LabelMap, LabelNames};
use ndarray::{Array3, ShapeBuilder};
use serde_json::Value;

use crate::common::run_cli;

/// CT-like anisotropic voxels.
const SPACING: [f64; 3] = [1.25, 1.25, 2.0];
/// The tumour centre, world mm (the grid's origin is 0).
const TUMOR_C: [f64; 3] = [40.0, 40.0, 40.0];

/// A label map 80 mm across: 1 liver (x in 4..76 mm), 2 a tumour of radius
/// `tumor_r` at [`TUMOR_C`], 3 a vessel of radius 3 mm along z at x = 62 mm.
fn phantom(dir: &Path, tumor_r: f64) -> PathBuf {
    let dims = SPACING.map(|s| (80.0 / s).round() as usize);
    let g = Grid::from_spacing(dims, SPACING).unwrap();
    let labels = Array3::from_shape_fn((dims[0], dims[1], dims[2]).f(), |(i, j, k)| {
        let p = [
            i as f64 * SPACING[0],
            j as f64 * SPACING[1],
            k as f64 * SPACING[2],
        ];
        let r2: f64 = (0..3).map(|a| (p[a] - TUMOR_C[a]).powi(2)).sum();
        if r2 <= tumor_r * tumor_r {
            2u8
        } else if (p[0] - 62.0).powi(2) + (p[1] - 40.0).powi(2) <= 9.0 {
            3
        } else if (4.0..76.0).contains(&p[0]) {
            1
        } else {
            0
        }
    });
    let names: LabelNames = [
        (1, "liver".into()),
        (2, "liver_tumor".into()),
        (3, "portal_vein".into()),
    ]
    .into();
    let path = dir.join(format!("case_{tumor_r}.nii.gz"));
    write_label_map(
        &path,
        &LabelMap::new(g, LabelArray::U8(labels), names).unwrap(),
        None,
    )
    .unwrap();
    path
}

/// `simulate` on `case` with a needle along −z whose zone centres on the
/// tumour (the tip 15 mm below it), plus `extra` arguments.
fn simulate(case: &Path, power: &str, time: &str, extra: &[&str]) -> (i32, String, String) {
    let tip = format!("{},{},{}", TUMOR_C[0], TUMOR_C[1], TUMOR_C[2] - 15.0);
    let mut args = vec![
        "simulate",
        case.to_str().unwrap(),
        "--applicator",
        "mwa",
        "--power-w",
        power,
        "--time-s",
        time,
        "--tip",
        &tip,
        "--direction",
        "0,0,-1",
    ];
    args.extend_from_slice(extra);
    run_cli(&args)
}

fn json(out: &str) -> Value {
    serde_json::from_str(out).unwrap_or_else(|e| panic!("{e}: {out}"))
}

fn f(v: &Value, key: &str) -> f64 {
    v[key].as_f64().unwrap_or_else(|| panic!("{key}: {}", v[key]))
}

#[test]
fn a_covering_zone_exits_0_with_the_documented_json_and_files_on_the_input_grid() {
    let dir = tempfile::tempdir().unwrap();
    let case = phantom(dir.path(), 3.0);
    let out_dir = dir.path().join("out");
    // The 70 °C zone must reach 26 mm across: more than the device's 60 W
    // give in 20 min, so 250 W (41 W in tissue) with --allow-outside.
    let (code, out, err) = simulate(
        &case,
        "250",
        "600",
        &[
            "--out-dir",
            out_dir.to_str().unwrap(),
            "--vessels",
            "portal_vein",
            "--json",
            "--allow-outside",
        ],
    );
    assert_eq!(code, 0, "{err}\n{out}");
    let v = json(&out);
    for key in [
        "zone70_ml",
        "zone_damage_ml",
        "zone_length_mm",
        "zone_diameter_mm",
        "max_temperature_c",
        "min_margin_mm",
        "coverage_ge10_pct",
        "covers_target",
        "grid",
        "steps",
        "dt_s",
        "parameters",
        "vessels",
        "warnings",
    ] {
        assert!(v.get(key).is_some(), "missing {key}");
    }
    assert_eq!(v["covers_target"], true);
    assert!(f(&v, "min_margin_mm") >= 10.0 && f(&v, "coverage_ge10_pct") == 100.0);
    assert!(f(&v, "zone70_ml") > 8.0 && f(&v, "zone_diameter_mm") > 26.0);
    // Above the boiling point only where tissue boiled dry.
    assert!(f(&v, "max_temperature_c") > 90.0);
    assert!(
        f(&v, "max_temperature_c") <= 100.0 || f(&v, "dried_ml") > 0.0,
        "{}",
        v["dried_ml"]
    );
    assert_eq!(v["verdict_zone"], "zone70");
    // The damage zone holds the 70 °C zone, so it covers too, with more margin.
    assert_eq!(v["damage_zone_covers_target"], true);
    assert!(f(&v, "damage_zone_min_margin_mm") >= f(&v, "min_margin_mm"));
    let e = &v["energy"];
    let taken: f64 = ["stored_j", "latent_j", "perfusion_j", "vessels_j", "boundary_j"]
        .iter()
        .map(|k| f(e, k))
        .sum();
    assert!((taken / f(e, "deposited_j") - 1.0).abs() < 0.01, "{e}");
    assert_eq!(v["grid"]["spacing_mm"], 1.0);
    assert_eq!(v["grid"]["size"].as_array().unwrap().len(), 3);
    assert!(v["steps"].as_u64().unwrap() > 300 && f(&v, "dt_s") <= f(&v, "dt_bound_s"));
    // Every parameter used, with a value and a source.
    let params = v["parameters"].as_object().unwrap();
    for key in [
        "liver.perfusion_1_s",
        "liver.conductivity_w_mk",
        "damage.arrhenius_a_1_s",
        "vessel.min_sink_diameter_mm",
    ] {
        let p = &params[key];
        assert!(
            p["value"].is_number() && p["source"].as_str().is_some_and(|s| !s.is_empty()),
            "{key}: {p}"
        );
    }
    assert!(params
        .values()
        .all(|p| p.get("value").is_some() && p.get("source").is_some()));
    // The 6 mm vessel is a heat sink, named.
    assert_eq!(v["vessels"][0]["name"], "portal_vein");
    assert!(f(&v["vessels"][0], "sink_ml") > 0.5);
    // Its class sets its velocity; its diameter is measured from the mask
    // and its wall coefficient follows from both.
    assert_eq!(v["vessels"][0]["class"], "portal_vein");
    let d = f(&v["vessels"][0], "diameter_max_mm");
    assert!((d - 6.0).abs() < 1.5, "{d}");
    let h = f(&v["vessels"][0], "heat_transfer_mean_w_m2k");
    assert!(h > 300.0 && h < 5000.0, "{h}");

    // The zones come back on the input grid; their volume is the reported one.
    let opts = ReadOptions::default();
    let input = read_label_map(&case, &opts).unwrap().value;
    let zone = read_label_map(&out_dir.join("zone70.nii.gz"), &opts)
        .unwrap()
        .value;
    input.grid().ensure_same(zone.grid(), "input", "zone70").unwrap();
    let voxels = zone.nonzero_mask().data().iter().filter(|&&b| b).count() as u64;
    let ml = input.grid().volume_ml(voxels);
    assert!((ml - f(&v, "zone70_mask_ml")).abs() < 1e-9, "{ml}");
    // The mask and the lattice zone agree to the voxel sampling.
    assert!(
        (ml - f(&v, "zone70_ml")).abs() < 0.05 * f(&v, "zone70_ml"),
        "{ml} vs {}",
        v["zone70_ml"]
    );
    let damage = read_label_map(&out_dir.join("zone_damage.nii.gz"), &opts)
        .unwrap()
        .value;
    input
        .grid()
        .ensure_same(damage.grid(), "input", "zone_damage")
        .unwrap();
    // The lattice maps: the highest temperature is the reported one.
    let tmax = read_intensity(&out_dir.join("tmax_c.nii.gz"), &opts)
        .unwrap()
        .value;
    let hottest = tmax.data().iter().fold(f64::MIN, |a, &b| a.max(b as f64));
    assert!((hottest - f(&v, "max_temperature_c")).abs() < 1e-3, "{hottest}");
    assert_eq!(
        tmax.grid().dims().to_vec(),
        crate::common::usizes(&v["grid"]["size"])
    );
    for name in ["time_to_70c_s", "damage_omega", "cem43_min", "tissue"] {
        assert!(out_dir.join(format!("{name}.nii.gz")).is_file(), "{name}");
    }
    // No temporary files are left beside them.
    let names: Vec<String> = std::fs::read_dir(&out_dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert!(names.iter().all(|n| n.ends_with(".nii.gz")), "{names:?}");
}

#[test]
fn a_short_weak_ablation_exits_1_with_the_shortfall_and_a_range_warning() {
    let dir = tempfile::tempdir().unwrap();
    let case = phantom(dir.path(), 8.0);
    // 30 s is below the device's 60 s: an error naming --time-s, or with
    // --allow-outside a prediction with a warning.
    let (code, _, err) = simulate(&case, "40", "30", &["--json"]);
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains("--time-s") && err.contains("--allow-outside"),
        "{err}"
    );
    // 100 W is above the device's 60 W too: both are warned about.
    let (code, out, err) = simulate(&case, "100", "30", &["--json", "--allow-outside"]);
    assert_eq!(code, 1, "{err}\n{out}");
    let v = json(&out);
    assert_eq!(v["covers_target"], false);
    assert!(f(&v, "coverage_ge10_pct") < 100.0);
    assert!(!v["tumor"]["shortfalls"].as_array().unwrap().is_empty());
    let warnings = v["warnings"].to_string();
    assert!(
        warnings.contains("time_s") && warnings.contains("60") && warnings.contains("power_w"),
        "{warnings}"
    );
    // The text form says so too.
    let (code, out, _) = simulate(&case, "100", "30", &["--allow-outside"]);
    assert_eq!(code, 1);
    assert!(
        out.contains("does NOT cover") && out.contains("shortfall"),
        "{out}"
    );
    assert!(!out.contains("-0 %") && !out.contains("/-0"), "{out}");
}

#[test]
fn bad_simulation_input_is_refused_with_the_field_named() {
    let dir = tempfile::tempdir().unwrap();
    let case = phantom(dir.path(), 4.0);
    let c = case.to_str().unwrap();
    let base = |tip: &str, dir_arg: &str| {
        vec![
            "simulate".to_string(),
            c.to_string(),
            "--applicator".into(),
            "mwa".into(),
            "--power-w".into(),
            "60".into(),
            "--time-s".into(),
            "120".into(),
            "--tip".into(),
            tip.to_string(),
            "--direction".into(),
            dir_arg.to_string(),
        ]
    };
    let cli = |args: Vec<String>| {
        let a: Vec<&str> = args.iter().map(String::as_str).collect();
        run_cli(&a)
    };
    // The tip outside the liver (x = 1 mm is outside 4..76 mm).
    let (code, _, err) = cli(base("1,40,30", "0,0,-1"));
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("tip") && err.contains("--allow-outside"), "{err}");
    let mut allowed = base("1,40,30", "0,0,-1");
    allowed.extend(["--allow-outside".to_string(), "--json".to_string()]);
    let (code, out, err) = cli(allowed);
    assert!(code == 0 || code == 1, "{err}");
    assert!(
        json(&out)["warnings"].to_string().contains("outside the liver"),
        "{out}"
    );
    // A zero-length direction, and an entry point on the tip.
    let (code, _, err) = cli(base("40,40,30", "0,0,0"));
    assert_eq!(code, 2);
    assert!(err.contains("direction"), "{err}");
    let (code, _, err) = run_cli(&[
        "simulate",
        c,
        "--applicator",
        "mwa",
        "--power-w",
        "60",
        "--time-s",
        "120",
        "--tip",
        "40,40,30",
        "--entry",
        "40,40,30",
    ]);
    assert_eq!(code, 2);
    assert!(err.contains("entry"), "{err}");
    // A region over the memory bound is refused before anything is allocated.
    let mut small = base("40,40,30", "0,0,-1");
    small.splice(0..0, ["--max-memory-gib".to_string(), "0.001".to_string()]);
    let (code, _, err) = cli(small);
    assert_eq!(code, 2);
    assert!(err.contains("region of interest") && err.contains("GiB"), "{err}");
    // A parameter file with an unknown key, or a non-physical value, or a
    // value in the wrong unit: the key is named.
    for (text, key) in [
        ("[liver]\nconductivity = 0.5\n", "liver.conductivity"),
        ("[liver]\nconductivity_w_mk = -0.5\n", "liver.conductivity_w_mk"),
        ("[liver]\nperfusion_1_s = 6.4\n", "liver.perfusion_1_s"),
        ("[blod]\ntemperature_c = 37\n", "blod"),
        ("[solver]\nspacing_mm = 0\n", "solver.spacing_mm"),
    ] {
        let p = dir.path().join("params.toml");
        std::fs::write(&p, text).unwrap();
        let mut args = base("40,40,30", "0,0,-1");
        args.extend(["--params".to_string(), p.to_str().unwrap().to_string()]);
        let (code, _, err) = cli(args);
        assert_eq!(code, 2, "{text}");
        assert!(err.contains(key) && err.contains("params.toml"), "{text}: {err}");
    }
    // A JSON parameter file is read too, and the overridden value's source
    // is the file.
    let p = dir.path().join("params.json");
    std::fs::write(&p, r#"{"liver": {"perfusion_1_s": 0.004}}"#).unwrap();
    let mut args = base("40,40,30", "0,0,-1");
    args.extend([
        "--params".to_string(),
        p.to_str().unwrap().to_string(),
        "--json".to_string(),
    ]);
    let (code, out, err) = cli(args);
    assert!(code == 0 || code == 1, "{err}");
    let v = json(&out);
    assert_eq!(v["parameters"]["liver.perfusion_1_s"]["value"], 0.004);
    assert!(v["parameters"]["liver.perfusion_1_s"]["source"]
        .as_str()
        .unwrap()
        .contains("params.json"));
}

#[test]
fn the_protocol_library_lists_devices_and_settings_with_sources() {
    let (code, out, err) = run_cli(&["protocols", "--json"]);
    assert_eq!(code, 0, "{err}");
    let v = json(&out);
    let settings = v["settings"].as_array().unwrap();
    // The published table's 18 rows, each with its source; half fitted.
    let he: Vec<_> = settings
        .iter()
        .filter(|s| s["device"] == "mwa-2450-cooled")
        .collect();
    assert_eq!(he.len(), 18);
    let row = he
        .iter()
        .find(|s| s["id"] == "he2010-40w-10min")
        .expect("40 W, 10 min");
    assert_eq!(row["power_w"], 40.0);
    assert_eq!(row["time_s"], 600.0);
    assert_eq!(row["table_zone_diameter_mm"][0], 32.0);
    assert!(row["source"].as_str().unwrap().contains("He"));
    let fitted = he.iter().filter(|s| s["fitted"] == true).count();
    assert!(fitted > 0 && fitted < 18, "{fitted}");
    // Every device names its source; no unsourced entry is left.
    for d in v["devices"].as_array().unwrap() {
        assert!(!d["range_source"].as_str().unwrap().is_empty());
    }
    assert!(
        !out.contains("UNSOURCED") && !out.to_lowercase().contains("emprint"),
        "{out}"
    );
    // A broken library names the file and what is wrong.
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("lib.json");
    std::fs::write(&p, r#"{"devices": [], "settings": [{"id": "x"}]}"#).unwrap();
    let (code, _, err) = run_cli(&["protocols", "--protocols", p.to_str().unwrap()]);
    assert_eq!(code, 2);
    assert!(err.contains("lib.json"), "{err}");
}

/// A tip placed next to a 6 mm vessel is named in a warning and in the JSON
/// (`applicator_vessels`), with the distance between the needle axis and the
/// vessel's boundary; a tip far from it gives no such entry.
#[test]
fn a_tip_beside_a_vessel_is_warned_about() {
    let dir = tempfile::tempdir().unwrap();
    let case = phantom(dir.path(), 8.0);
    let case = case.to_str().unwrap();
    // The vessel's axis is x = 62 mm, y = 40 mm, radius 3 mm: a needle along
    // -z with the tip at x = 57.5 mm runs 1.5 mm from its wall.
    let run = |tip: &str| {
        run_cli(&[
            "simulate",
            case,
            "--applicator",
            "mwa",
            "--power-w",
            "60",
            "--time-s",
            "300",
            "--tip",
            tip,
            "--direction",
            "0,0,-1",
            "--vessels",
            "portal_vein",
            "--json",
        ])
    };
    let (code, out, err) = run("57.5,40,25");
    assert!(code == 0 || code == 1, "{err}");
    let v = json(&out);
    let near = v["applicator_vessels"].as_array().expect("applicator_vessels");
    assert_eq!(near.len(), 1, "{out}");
    assert_eq!(near[0]["name"], "portal_vein");
    let d = f(&near[0], "distance_mm");
    // The voxelised wall lies within half a voxel of the true one.
    assert!((0.0..=1.5 + 0.5 * SPACING[0] + 0.01).contains(&d), "distance {d}");
    assert!(f(&near[0], "diameter_mm") >= 5.0);
    let warnings = v["warnings"].to_string();
    assert!(
        warnings.contains("applicator_vessels") && warnings.contains("portal_vein"),
        "{warnings}"
    );
    let (code, out, err) = run("40,40,25");
    assert!(code == 0 || code == 1, "{err}");
    assert_eq!(
        json(&out)["applicator_vessels"].as_array().map(Vec::len),
        Some(0),
        "{out}"
    );
}
