//! The `liverkit` program: what each command prints and how it exits.

use std::io::Read;
use std::process::{Command, Stdio};

use crate::common::{data, expected_for, run_cli};

fn path(rel: &str) -> String {
    data(rel).display().to_string()
}

#[test]
fn volumes_table_lists_labels_with_names() {
    let (code, out, err) = run_cli(&["volumes", &path("totalsegmentator/example_seg.nii.gz")]);
    assert_eq!(code, 0, "{err}");
    let header = out.lines().find(|l| l.starts_with("label")).unwrap();
    let cols: Vec<&str> = header.split_whitespace().collect();
    assert_eq!(cols, ["label", "name", "voxels", "volume_ml", "touches_edge"]);
    let liver = out
        .lines()
        .find(|l| l.split_whitespace().nth(1) == Some("liver"))
        .unwrap();
    let f: Vec<&str> = liver.split_whitespace().collect();
    let want = &expected_for("totalsegmentator/example_seg.nii.gz")["labels"]["5"];
    assert_eq!(f[2], want["voxels"].as_u64().unwrap().to_string());
    assert_eq!(f[3], format!("{:.3}", want["volume_ml"].as_f64().unwrap()));
    assert_eq!(f[4], "inferior,superior");
    assert!(out.contains("orientation RAS"));
    assert!(err.contains("liverkit: warning: touches_edge"), "{err}");
}

#[test]
fn volumes_json_has_the_documented_keys() {
    let (code, out, _) = run_cli(&[
        "volumes",
        "--json",
        &path("totalsegmentator/example_seg_dicom.nii.gz"),
    ]);
    assert_eq!(code, 0);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    for key in [
        "input",
        "dims",
        "spacing_mm",
        "voxel_volume_mm3",
        "orientation",
        "warnings",
        "labels",
    ] {
        assert!(!v[key].is_null(), "missing {key}");
    }
    assert_eq!(v["orientation"], "LAS");
    assert_eq!(v["dims"], serde_json::json!([512, 512, 20]));
    let liver = v["labels"]
        .as_array()
        .unwrap()
        .iter()
        .find(|l| l["label"] == 5)
        .unwrap();
    for key in [
        "label",
        "name",
        "voxels",
        "volume_ml",
        "bbox_min",
        "bbox_max",
        "centroid_mm",
        "touches_edge",
    ] {
        assert!(!liver[key].is_null(), "label is missing {key}");
    }
    let want = &expected_for("totalsegmentator/example_seg_dicom.nii.gz")["labels"]["5"];
    assert_eq!(liver["voxels"], want["voxels"]);
    assert_eq!(liver["name"], "liver");
    assert_eq!(liver["bbox_min"], want["bbox_min"]);
}

#[test]
fn volumes_csv_and_mask_directory() {
    let (code, out, _) = run_cli(&["volumes", "--csv", &path("totalsegmentator/example_seg_fast")]);
    assert_eq!(code, 0);
    let mut lines = out.lines();
    let header: Vec<&str> = lines.next().unwrap().split(',').collect();
    assert_eq!(&header[..4], ["label", "name", "voxels", "volume_ml"]);
    let rows: Vec<Vec<String>> = lines.map(|l| l.split(',').map(String::from).collect()).collect();
    assert_eq!(rows.len(), 5);
    let liver = rows.iter().find(|r| r[1] == "liver").unwrap();
    assert_eq!(liver[2], "39350");
    assert!(liver.last().unwrap().ends_with("liver.nii.gz"));

    // Several mask files.
    let (code, out, _) = run_cli(&[
        "volumes",
        "--json",
        &path("totalsegmentator/example_seg_fast/liver.nii.gz"),
        &path("totalsegmentator/example_seg_fast/spleen.nii.gz"),
    ]);
    assert_eq!(code, 0);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["input"].as_array().unwrap().len(), 2);
    assert_eq!(v["labels"][0]["name"], "liver");
    assert_eq!(v["labels"][1]["name"], "spleen");
}

#[test]
fn info_prints_the_header() {
    let (code, out, _) = run_cli(&["info", &path("totalsegmentator/example_seg_dicom.nii.gz")]);
    assert_eq!(code, 0);
    for needle in [
        "NIfTI-1 (gzip)",
        "512 x 512 x 20",
        "uint8",
        "0.976562 x 0.976562 x 2",
        "LAS",
        "sform_code 2",
        "117 named",
        "5 liver",
    ] {
        assert!(out.contains(needle), "missing {needle:?} in\n{out}");
    }
    let (code, out, _) = run_cli(&["info", "--json", &path("nibabel/example_nifti2.nii.gz")]);
    assert_eq!(code, 0);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["format"], "NIfTI-2");
    assert_eq!(v["dims"], serde_json::json!([32, 20, 12, 2]));
    assert_eq!(v["geometry_source"], "sform");
}

#[test]
fn errors_exit_2_with_file_and_field() {
    let (code, out, err) = run_cli(&["volumes", &path("bad/negative_pixdim.nii")]);
    assert_eq!(code, 2);
    assert!(out.is_empty());
    assert!(err.starts_with("liverkit: "), "{err}");
    assert!(
        err.contains("negative_pixdim.nii")
            && err.contains("pixdim[2]")
            && err.contains("expected")
            && err.contains("found -1"),
        "{err}"
    );

    let (code, _, err) = run_cli(&["volumes", "/no/such/scan.nii.gz"]);
    assert_eq!(code, 2);
    assert!(err.contains("/no/such/scan.nii.gz"), "{err}");

    let (code, _, err) = run_cli(&[
        "volumes",
        &path("generated/grid_a.nii.gz"),
        &path("generated/grid_b.nii.gz"),
    ]);
    assert_eq!(code, 2);
    assert!(
        err.contains("grid_a.nii.gz") && err.contains("grid_b.nii.gz"),
        "{err}"
    );

    // Usage errors (clap) also exit 2.
    let (code, _, _) = run_cli(&["volumes"]);
    assert_eq!(code, 2);
    let (code, _, _) = run_cli(&["volumes", "--json", "--csv", &path("generated/dtype_uint8.nii")]);
    assert_eq!(code, 2);
    let (code, _, err) = run_cli(&["--threads", "0", "volumes", &path("generated/dtype_uint8.nii")]);
    assert_eq!(code, 2);
    assert!(err.contains("--threads"), "{err}");
}

#[test]
fn threads_option_gives_identical_output() {
    let p = path("totalsegmentator/example_seg_fast_force_split.nii.gz");
    let (code1, one, err1) = run_cli(&["--threads", "1", "volumes", "--json", &p]);
    let (code3, three, err3) = run_cli(&["--threads", "3", "volumes", "--json", &p]);
    assert_eq!(code1, 0, "{err1}");
    assert_eq!(code3, 0, "{err3}");
    let v: serde_json::Value = serde_json::from_str(&one).unwrap();
    assert!(
        v["labels"].as_array().is_some_and(|l| !l.is_empty()),
        "no labels in {one}"
    );
    assert_eq!(one, three);
}

#[test]
fn broken_pipe_exits_quietly() {
    // Many lines of output into a reader that closes at once.
    let mut child = Command::new(env!("CARGO_BIN_EXE_liverkit"))
        .args([
            "volumes",
            "--csv",
            &path("totalsegmentator/example_seg_fast_force_split.nii.gz"),
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take());
    let status = child.wait().unwrap();
    let mut err = String::new();
    child.stderr.take().unwrap().read_to_string(&mut err).unwrap();
    assert_eq!(status.code(), Some(0), "{err}");
    assert!(!err.contains("panicked"), "{err}");
}

/// Library messages name parameters (`liver`, `exclude_capsule`); the
/// command line shows them as the flags the user types.
#[test]
fn messages_name_the_flag_not_the_library_parameter() {
    let tumor = format!("{}:liver_tumor", path("sample_case/pre_pve.nii.gz"));
    let zone = path("sample_case/ablation_zone.nii.gz");
    let (code, out, err) = run_cli(&["margin", "--tumor", &tumor, "--zone", &zone, "--exclude-capsule"]);
    assert_eq!(code, 2, "{out}");
    assert!(
        err.starts_with("liverkit: --exclude-capsule: expected a liver mask (--liver) to find the capsule"),
        "{err}"
    );
    assert!(!err.contains('`'), "{err}");
}
