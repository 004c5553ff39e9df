//! What a public patient, a new user and a mistyped command found: role
//! files with several labels, an intensity image given as labels, tumours
//! numbered without their labels, a remnant verdict on the edge of its
//! threshold, outputs written over inputs, staging folders left by killed
//! runs, and usage errors that did not look like liverkit's.

use std::path::Path;

use liverkit::io::nifti::write_label_map;
use liverkit::{Grid, LabelArray, LabelMap, LabelNames};
use ndarray::{Array3, ShapeBuilder};

use crate::common::{data, run_cli};

fn sample() -> String {
    data("sample_case/pre_pve.nii.gz").to_string_lossy().into_owned()
}

/// A label map with two tumours labelled 11 and 17 (no names) in a liver (1).
fn two_tumours(dir: &Path) -> String {
    let g = Grid::from_spacing([60, 60, 40], [1.0, 1.0, 1.5]).unwrap();
    let labels = Array3::from_shape_fn((60, 60, 40).f(), |(i, j, k)| {
        let p = [i as f64, j as f64, k as f64 * 1.5];
        let d = |c: [f64; 3]| (0..3).map(|a| (p[a] - c[a]).powi(2)).sum::<f64>().sqrt();
        if d([20.0, 30.0, 30.0]) <= 5.0 {
            11u8
        } else if d([42.0, 30.0, 30.0]) <= 4.0 {
            17
        } else if (5..55).contains(&i) && (5..55).contains(&j) {
            1
        } else {
            0
        }
    });
    let path = dir.join("two.nii.gz");
    let map = LabelMap::new(g, LabelArray::U8(labels), LabelNames::new()).unwrap();
    write_label_map(&path, &map, None).unwrap();
    path.to_string_lossy().into_owned()
}

#[test]
fn a_role_file_with_several_labels_is_refused_or_taken_by_name() {
    let dir = tempfile::tempdir().unwrap();
    let two = two_tumours(dir.path());
    // No label table: refused, with the labels present.
    let (code, _, err) = run_cli(&["margin", "--tumor", &two, "--zone", &two]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("tumor labels") && err.contains("1, 11, 17"), "{err}");
    // A label table naming liver_tumor: that label is taken, with a warning.
    let zone = data("sample_case/ablation_zone.nii.gz");
    let (code, out, err) = run_cli(&[
        "margin",
        "--tumor",
        &sample(),
        "--zone",
        zone.to_str().unwrap(),
        "--json",
    ]);
    assert!(code == 0 || code == 1, "{err}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    let total: f64 = v["tumors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["tumor_ml"].as_f64().unwrap())
        .sum();
    // The two metastases hold about 24 mL (volumes of label 9), not the
    // whole 1.2 L liver.
    let vols = run_cli(&["volumes", "--json", &sample()]).1;
    let vols: serde_json::Value = serde_json::from_str(&vols).unwrap();
    let tumor_ml = vols["labels"]
        .as_array()
        .unwrap()
        .iter()
        .find(|l| l["name"] == "liver_tumor")
        .unwrap()["volume_ml"]
        .as_f64()
        .unwrap();
    assert!((total - tumor_ml).abs() < 1e-6, "{total} vs {tumor_ml}");
    let warnings = v["warnings"].to_string();
    assert!(warnings.contains("label 9 (liver_tumor)"), "{warnings}");
}

#[test]
fn an_intensity_image_is_not_a_label_map() {
    let ct = data("totalsegmentator/example_ct_sm.nii.gz");
    let (code, out, err) = run_cli(&["volumes", ct.to_str().unwrap()]);
    assert_eq!(code, 2, "{out}");
    assert!(
        err.starts_with("liverkit: ") && err.contains("voxel values") && err.contains("intensity image"),
        "{err}"
    );
}

#[test]
fn target_tumours_carry_their_label() {
    let dir = tempfile::tempdir().unwrap();
    let two = two_tumours(dir.path());
    let (code, out, err) = run_cli(&["target", &two, "--tumor", "11,17", "--liver", "1", "--json"]);
    assert_eq!(code, 0, "{err}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    let labels: Vec<i64> = v["tumors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["label"].as_i64().unwrap())
        .collect();
    // The tumour at x = 20 mm (label 11) comes first in scan order... by
    // its first voxel, which for these spheres is the one of lowest z.
    let mut sorted = labels.clone();
    sorted.sort();
    assert_eq!(sorted, vec![11, 17], "{out}");
    for t in v["tumors"].as_array().unwrap() {
        let expected_r: f64 = if t["label"] == 11 { 5.0 } else { 4.0 };
        let ball = 4.0 / 3.0 * std::f64::consts::PI * expected_r.powi(3) / 1000.0;
        assert!(
            (t["tumor_ml"].as_f64().unwrap() - ball).abs() / ball < 0.15,
            "{t}"
        );
    }
    // The sample case names its tumour label.
    let (_, out, err) = run_cli(&["target", &sample(), "--json"]);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap_or_else(|e| panic!("{e} {err}"));
    assert_eq!(v["tumors"][0]["label"], 9);
    assert_eq!(v["tumors"][0]["label_name"], "liver_tumor");
}

/// The sample's right hepatectomy leaves sFLR 20.3 % against 20 %: 0.3
/// points above, within 6.3 % of the value (1.3 points), so borderline.
#[test]
fn a_remnant_at_its_threshold_is_borderline() {
    let (code, out, err) = run_cli(&[
        "remnant",
        &sample(),
        "--resection",
        "right-hepatectomy",
        "--height-cm",
        "175",
        "--weight-kg",
        "75",
        "--json",
    ]);
    assert_eq!(code, 0, "{err}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    let pct = v["checked_pct"].as_f64().unwrap();
    assert!((pct - 20.3).abs() < 0.1, "{pct}");
    let band = v["uncertainty_points"].as_f64().unwrap();
    assert!((band - 0.063 * pct).abs() < 1e-9);
    assert_eq!(v["borderline"], true);
    assert!(
        v["verdict"].as_str().unwrap().starts_with("BORDERLINE"),
        "{}",
        v["verdict"]
    );
    // A lower threshold far below: no longer borderline.
    let (_, out, _) = run_cli(&[
        "remnant",
        &sample(),
        "--resection",
        "right-hepatectomy",
        "--min-flr-pct",
        "10",
        "--json",
    ]);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["borderline"], false, "{}", v["verdict"]);
    assert!(v["verdict"].as_str().unwrap().starts_with("SUFFICIENT"));
}

#[test]
fn an_output_over_an_input_is_refused_before_any_work() {
    let dir = tempfile::tempdir().unwrap();
    let copy = dir.path().join("case.nii.gz");
    std::fs::copy(data("sample_case/pre_pve.nii.gz"), &copy).unwrap();
    let before = std::fs::read(&copy).unwrap();
    let c = copy.to_str().unwrap();
    let (code, _, err) = run_cli(&["target", c, "--out", c]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("output path") && err.contains("destroy"), "{err}");
    // Through a symbolic link too.
    let link = dir.path().join("link.nii.gz");
    std::os::unix::fs::symlink(&copy, &link).unwrap();
    let (code, _, err) = run_cli(&["target", c, "--out", link.to_str().unwrap()]);
    assert_eq!(code, 2, "{err}");
    let zone = data("sample_case/ablation_zone.nii.gz");
    let (code, _, err) = run_cli(&[
        "margin",
        "--tumor",
        &format!("{c}:liver_tumor"),
        "--zone",
        zone.to_str().unwrap(),
        "--margin-map",
        c,
    ]);
    assert_eq!(code, 2, "{err}");
    assert_eq!(std::fs::read(&copy).unwrap(), before, "the input is intact");
}

#[test]
fn staging_folders_of_ended_runs_are_removed_and_outputs_land_whole() {
    let dir = tempfile::tempdir().unwrap();
    // A staging folder left by a process that no longer runs (pid 1 is
    // never a liverkit run here; a number above the kernel's limit is not
    // a live process).
    let stale = dir.path().join(".liverkit-4194305-abc123");
    std::fs::create_dir(&stale).unwrap();
    std::fs::write(stale.join("out.nii.gz"), b"partial").unwrap();
    let out = dir.path().join("target.nii.gz");
    let (code, _, err) = run_cli(&["target", &sample(), "--out", out.to_str().unwrap()]);
    assert_eq!(code, 0, "{err}");
    assert!(!stale.exists(), "the stale staging folder is removed");
    let left: Vec<String> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(left, vec!["target.nii.gz".to_string()], "{left:?}");
}

#[test]
fn usage_errors_speak_like_liverkit() {
    let (code, _, err) = run_cli(&["volumes", "--bogus"]);
    assert_eq!(code, 2);
    assert!(err.starts_with("liverkit: "), "{err}");
    // A negative number is a value, refused by the range check that names it.
    let (code, _, err) = run_cli(&[
        "simulate",
        &sample(),
        "--applicator",
        "mwa",
        "--power-w",
        "-5",
        "--time-s",
        "600",
        "--tip",
        "70,-30,-45",
        "--direction",
        "0,0,-1",
    ]);
    assert_eq!(code, 2);
    assert!(err.contains("--power-w") && !err.contains("-- -5"), "{err}");
    // Without a direction, the message offers --entry as well.
    let (code, _, err) = run_cli(&[
        "simulate",
        &sample(),
        "--applicator",
        "mwa",
        "--power-w",
        "100",
        "--time-s",
        "600",
        "--tip",
        "70,-30,-45",
    ]);
    assert_eq!(code, 2);
    assert!(err.contains("--entry"), "{err}");
    let (_, help, _) = run_cli(&["simulate", "--help"]);
    assert!(
        help.contains("Global options") && help.contains("Example:"),
        "{help}"
    );
}

/// `--csv` on the commands that print tables: one row per tumour for
/// target and margin (with the label), one for the case for remnant.
#[test]
fn csv_on_every_table_command() {
    let (code, out, err) = run_cli(&["target", &sample(), "--csv"]);
    assert_eq!(code, 0, "{err}");
    let mut rows = csv_table(&out);
    let header = rows.remove(0);
    assert_eq!(rows.len(), 2, "{out}");
    let col = |name: &str| {
        header
            .iter()
            .position(|h| h == name)
            .unwrap_or_else(|| panic!("{name} in {header:?}"))
    };
    assert_eq!(rows[0][col("label")], "9");
    assert_eq!(rows[0][col("label_name")], "liver_tumor");
    let zone = data("sample_case/ablation_zone.nii.gz");
    let (_, out, _) = run_cli(&[
        "margin",
        "--tumor",
        &format!("{}:liver_tumor", sample()),
        "--zone",
        zone.to_str().unwrap(),
        "--csv",
    ]);
    let rows = csv_table(&out);
    assert_eq!(rows.len(), 3, "{out}");
    let (_, text, _) = run_cli(&[
        "margin",
        "--tumor",
        &format!("{}:liver_tumor", sample()),
        "--zone",
        zone.to_str().unwrap(),
    ]);
    assert!(
        text.contains(") mm = LPS ("),
        "positions give LPS beside RAS: {text}"
    );
    assert!(
        rows[0].iter().any(|h| h == "min_margin_at_lps_mm_0"),
        "{:?}",
        rows[0]
    );
    let (_, out, _) = run_cli(&["remnant", &sample(), "--resection", "right-hepatectomy", "--csv"]);
    let rows = csv_table(&out);
    assert_eq!(rows.len(), 2, "{out}");
    assert!(rows[0].iter().any(|h| h == "remnant_ml"));
    let (_, out, _) = run_cli(&["protocols", "--csv"]);
    assert!(csv_table(&out).len() >= 3, "{out}");
}

/// A minimal CSV reader for the tests (quoted cells with doubled quotes).
fn csv_table(text: &str) -> Vec<Vec<String>> {
    let mut rows = Vec::new();
    let (mut row, mut cell, mut quoted) = (Vec::new(), String::new(), false);
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match (c, quoted) {
            ('"', true) if chars.peek() == Some(&'"') => {
                cell.push('"');
                chars.next();
            }
            ('"', _) => quoted = !quoted,
            (',', false) => row.push(std::mem::take(&mut cell)),
            ('\n', false) => {
                row.push(std::mem::take(&mut cell));
                rows.push(std::mem::take(&mut row));
            }
            (c, _) => cell.push(c),
        }
    }
    rows
}

/// Between 256 and 1000 distinct values without a label table (an MR image
/// holds a few hundred): measured, with a warning asking whether it is an
/// image.
#[test]
fn many_unnamed_labels_are_questioned() {
    let dir = tempfile::tempdir().unwrap();
    let g = Grid::from_spacing([20, 20, 20], [1.0; 3]).unwrap();
    let labels = Array3::from_shape_fn((20, 20, 20).f(), |(i, j, k)| {
        ((i + 20 * j + 400 * k) % 300) as u16
    });
    let path = dir.path().join("mr_like.nii.gz");
    let map = LabelMap::new(g, LabelArray::U16(labels), LabelNames::new()).unwrap();
    write_label_map(&path, &map, None).unwrap();
    let (code, out, err) = run_cli(&["volumes", "--json", path.to_str().unwrap()]);
    assert_eq!(code, 0, "{err}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["labels"].as_array().unwrap().len(), 299);
    assert!(
        v["warnings"].to_string().contains("intensity image"),
        "{}",
        v["warnings"]
    );
}

mod choices {
    //! The named choices of the request vocabulary (`bsa`, `telv`,
    //! `condition`, `applicator`): each parses its own names, gives them back,
    //! and refuses others naming the parameter.
    use liverkit::bioheat::applicator::ApplicatorKind;
    use liverkit::remnant::formulas::{BsaFormula, LiverCondition, TelvFormula};
    use liverkit::vocabulary::Named;

    fn round_trip<T: Named + std::fmt::Debug + std::str::FromStr<Err = liverkit::Error>>() {
        for (name, value) in T::NAMES {
            assert_eq!(name.parse::<T>().unwrap(), *value);
            assert_eq!(value.name(), *name);
        }
        let e = "no-such-name".parse::<T>().unwrap_err();
        assert_eq!(e.field(), Some(T::PARAMETER));
        assert!(e.to_string().contains(T::NAMES[0].0), "{e}");
    }

    #[test]
    fn every_choice_parses_its_own_names_and_refuses_others() {
        round_trip::<BsaFormula>();
        round_trip::<TelvFormula>();
        round_trip::<LiverCondition>();
        round_trip::<ApplicatorKind>();
        assert_eq!(
            " Mosteller ".parse::<BsaFormula>().unwrap(),
            BsaFormula::Mosteller
        );
        assert_eq!(
            BsaFormula::NAMES[0].1,
            BsaFormula::Mosteller,
            "the default comes first"
        );
        assert_eq!(
            TelvFormula::NAMES[0].1,
            TelvFormula::Vauthey,
            "the default comes first"
        );
        assert_eq!(
            LiverCondition::NAMES[0].1,
            LiverCondition::Normal,
            "the default comes first"
        );
    }
}
