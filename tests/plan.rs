//! `liverkit plan`: a path through the one window of a rib cage, checked by
//! independent ray casting; on real anatomy, a path that crosses no bone or
//! lung; a tip beside a vessel; overlapping ablations for a long target;
//! a clear no for a tumour too large; bad input.

use liverkit::grid::Grid;
use liverkit::io::nifti::{write_label_map, write_mask};
use liverkit::volume::{LabelArray, LabelMap, LabelNames, Mask};
use nalgebra::Matrix4;
use ndarray::Array3;

use crate::common::{data, run_cli};

const H: f64 = 2.0;
const N: usize = 100;

/// A 200 mm cube of 2 mm voxels centred on the origin.
fn grid() -> Grid {
    let mut a = Matrix4::identity();
    for k in 0..3 {
        a[(k, k)] = H;
        a[(k, 3)] = -(N as f64 - 1.0) * H / 2.0;
    }
    Grid::new([N, N, N], a).unwrap()
}

/// Rib voxel: a bony shell 72–78 mm from the z axis, for |z| ≤ 80 mm, with
/// one round window of 16 mm radius on the patient's right (+x), at z = 0.
fn rib(p: [f64; 3]) -> bool {
    let r = (p[0] * p[0] + p[1] * p[1]).sqrt();
    let shell = (72.0..=78.0).contains(&r) && p[2].abs() <= 80.0;
    let window = p[0] > 0.0 && (p[1] * p[1] + p[2] * p[2]).sqrt() <= 16.0;
    shell && !window
}

/// The phantom: body (a cylinder of radius 90 mm filling the scan's
/// height), liver (a 60 mm ball), a 3 mm tumour at its centre, and the rib
/// shell; returns the label map file, the body mask file and the rib voxel
/// centres.
fn phantom(
    dir: &std::path::Path,
    tumor_at: [f64; 3],
) -> (std::path::PathBuf, std::path::PathBuf, Vec<[f64; 3]>) {
    let g = grid();
    let mut ribs = Vec::new();
    let labels = Array3::from_shape_fn((N, N, N), |(i, j, k)| {
        let p = g.voxel_to_world([i as f64, j as f64, k as f64]);
        let d_t = (0..3).map(|a| (p[a] - tumor_at[a]).powi(2)).sum::<f64>().sqrt();
        let d_l = (p[0] * p[0] + p[1] * p[1] + p[2] * p[2]).sqrt();
        if rib(p) {
            ribs.push(p);
            3u8
        } else if d_t <= 3.0 {
            2
        } else if d_l <= 60.0 {
            1
        } else {
            0
        }
    });
    let names: LabelNames = [
        (1, "liver".into()),
        (2, "liver_tumor".into()),
        (3, "rib_right_8".into()),
    ]
    .into();
    let map = LabelMap::new(g.clone(), LabelArray::U8(labels), names).unwrap();
    let path = dir.join("case.nii.gz");
    write_label_map(&path, &map, None).unwrap();
    (path, write_body(&dir.join("body.nii.gz")), ribs)
}

/// Writes the body, a cylinder of radius 90 mm along z filling the scan's
/// height, to `path`.
fn write_body(path: &std::path::Path) -> std::path::PathBuf {
    let g = grid();
    let body = Array3::from_shape_fn((N, N, N), |(i, j, k)| {
        let p = g.voxel_to_world([i as f64, j as f64, k as f64]);
        (p[0] * p[0] + p[1] * p[1]).sqrt() <= 90.0
    });
    write_mask(path, &Mask::new(g, body).unwrap(), None).unwrap();
    path.to_path_buf()
}

fn v3(v: &serde_json::Value) -> [f64; 3] {
    let a = v.as_array().unwrap();
    [0, 1, 2].map(|k| a[k].as_f64().unwrap())
}

/// The least distance from the segment a–b (sampled every 0.1 mm) to any
/// of `points`.
fn clearance(a: [f64; 3], b: [f64; 3], points: &[[f64; 3]]) -> f64 {
    let len = (0..3).map(|k| (b[k] - a[k]).powi(2)).sum::<f64>().sqrt();
    let n = (len / 0.1).ceil() as usize;
    let mut best = f64::INFINITY;
    for s in 0..=n {
        let t = s as f64 / n as f64;
        let p = [0, 1, 2].map(|k| a[k] + t * (b[k] - a[k]));
        for q in points {
            let d = (0..3).map(|k| (p[k] - q[k]).powi(2)).sum::<f64>();
            best = best.min(d);
        }
    }
    best.sqrt()
}

/// Plans the rib-cage phantom's 3 mm tumour with a 3 mm margin (1500
/// directions, one confirmation) for `applicator`: the exit status, the
/// JSON report and the rib voxel centres.
fn plan_in_the_cage(applicator: &str) -> (i32, serde_json::Value, Vec<[f64; 3]>) {
    let dir = tempfile::tempdir().unwrap();
    let (case, body, ribs) = phantom(dir.path(), [0.0; 3]);
    let (code, out, err) = run_cli(&[
        "plan",
        case.to_str().unwrap(),
        "--applicator",
        applicator,
        "--body",
        body.to_str().unwrap(),
        "--margin-mm",
        "3",
        "--directions",
        "1500",
        "--confirm",
        "1",
        "--json",
    ]);
    assert!(code == 0 || code == 1, "{err}");
    (code, serde_json::from_str(&out).unwrap(), ribs)
}

#[test]
fn the_path_goes_through_the_intercostal_window_and_clears_every_rib() {
    let (_, r, ribs) = plan_in_the_cage("mwa");
    let best = &r["plans"][0];
    let (entry, tip) = (v3(&best["entry_mm"]), v3(&best["tip_mm"]));
    // Through the window: the path crosses the shell (r = 75 mm) within the
    // window's 16 mm of its centre (75, 0, 0).
    let d = [0, 1, 2].map(|k| entry[k] - tip[k]);
    let len = (0..3).map(|k| d[k] * d[k]).sum::<f64>().sqrt();
    let u = d.map(|v| v / len);
    let (a, b) = (u[0] * u[0] + u[1] * u[1], tip[0] * u[0] + tip[1] * u[1]);
    let c = tip[0] * tip[0] + tip[1] * tip[1] - 75.0 * 75.0;
    let s = (-b + (b * b - a * c).sqrt()) / a;
    let at = [0, 1, 2].map(|k| tip[k] + s * u[k]);
    let from_window = ((at[0] - 75.0).powi(2) + at[1].powi(2) + at[2].powi(2)).sqrt();
    assert!(from_window < 16.0, "crosses the shell at {at:?}");
    // Independent ray casting: every rib voxel centre at least the 3 mm
    // clearance away from the path from the entry to the tip.
    let cl = clearance(entry, tip, &ribs);
    assert!(cl >= 3.0, "clearance {cl:.2} mm");
    // The skin: the entry lies on the body cylinder (90 mm, within a voxel).
    let r_entry = (entry[0] * entry[0] + entry[1] * entry[1]).sqrt();
    assert!((r_entry - 90.0).abs() <= 2.0 * H, "entry at r = {r_entry}");
    // Most directions hit a rib or leave the scan inside the body.
    let rej = &r["rejected"];
    assert!(rej["obstacle_clearance"].as_u64().unwrap() > 500, "{rej}");
    assert!(
        r["warnings"].to_string().contains("lungs"),
        "missing roles are named"
    );
}

#[test]
fn a_tumour_outside_the_liver_or_a_device_without_a_working_length_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let (case, body, _) = phantom(dir.path(), [0.0, 0.0, 85.0]);
    let (code, _, err) = run_cli(&["plan", case.to_str().unwrap(), "--body", body.to_str().unwrap()]);
    assert_eq!(code, 2);
    assert!(err.contains("tumor") && err.contains("inside the liver"), "{err}");

    let (case, body, _) = phantom(dir.path(), [0.0; 3]);
    let lib: serde_json::Value = serde_json::from_str(liverkit::bioheat::protocols::BUILTIN).unwrap();
    let mut lib = lib;
    for d in lib["devices"].as_array_mut().unwrap() {
        d.as_object_mut().unwrap().remove("working_length_mm");
        d.as_object_mut().unwrap().remove("working_length_source");
    }
    let protocols = dir.path().join("p.json");
    std::fs::write(&protocols, lib.to_string()).unwrap();
    let (code, _, err) = run_cli(&[
        "plan",
        case.to_str().unwrap(),
        "--body",
        body.to_str().unwrap(),
        "--protocols",
        protocols.to_str().unwrap(),
    ]);
    assert_eq!(code, 2);
    assert!(err.contains("working_length_mm"), "{err}");
    // An empty body mask.
    let empty = dir.path().join("empty.nii.gz");
    write_mask(&empty, &Mask::filled(grid(), false), None).unwrap();
    let (code, _, err) = run_cli(&["plan", case.to_str().unwrap(), "--body", empty.to_str().unwrap()]);
    assert_eq!(code, 2);
    assert!(err.contains("body"), "{err}");
}

#[test]
fn on_real_anatomy_the_best_path_crosses_no_bone_or_lung() {
    // TotalSegmentator's example (ribs, lungs, vertebrae, vessels) with a
    // synthetic 5 mm tumour deep in the liver.
    let dir = tempfile::tempdir().unwrap();
    let seg = data("totalsegmentator/example_seg.nii.gz");
    let map = liverkit::io::read_label_map(&seg, &Default::default())
        .unwrap()
        .value;
    let liver = map.mask_of(&[5]);
    let g = map.grid().clone();
    let centre = [95.0, 167.3, 148.3];
    let tumor = Array3::from_shape_fn(g.dims(), |(i, j, k)| {
        let p = g.voxel_to_world([i as f64, j as f64, k as f64]);
        liver.data()[[i, j, k]] && (0..3).map(|a| (p[a] - centre[a]).powi(2)).sum::<f64>() <= 25.0
    });
    let tumor_path = dir.path().join("tumor.nii.gz");
    write_mask(&tumor_path, &Mask::new(g.clone(), tumor).unwrap(), None).unwrap();
    let (code, out, err) = run_cli(&[
        "plan",
        seg.to_str().unwrap(),
        "--tumor",
        tumor_path.to_str().unwrap(),
        "--image",
        data("totalsegmentator/example_ct_sm.nii.gz").to_str().unwrap(),
        "--margin-mm",
        "5",
        "--directions",
        "2000",
        "--confirm",
        "1",
        "--json",
    ]);
    assert!(code == 0 || code == 1, "{err}");
    let r: serde_json::Value = serde_json::from_str(&out).unwrap();
    let best = &r["plans"][0];
    let (entry, tip) = (v3(&best["entry_mm"]), v3(&best["tip_mm"]));
    // Walk the path every 0.1 mm and read the label under each point.
    let names = map.names();
    let bad: Vec<i64> = names
        .iter()
        .filter(|(_, n)| {
            n.starts_with("rib_") || n.starts_with("lung_") || n.starts_with("vertebrae_") || *n == "sternum"
        })
        .map(|(l, _)| *l)
        .collect();
    let len = (0..3).map(|k| (entry[k] - tip[k]).powi(2)).sum::<f64>().sqrt();
    let steps = (len / 0.1) as usize;
    for s in 0..=steps {
        let t = s as f64 / steps as f64;
        let p = [0, 1, 2].map(|k| tip[k] + t * (entry[k] - tip[k]));
        if let Some(v) = g.nearest_voxel(p) {
            let label = map.labels().get(v).unwrap_or(0);
            assert!(!bad.contains(&label), "the path crosses label {label} at {p:?}");
        }
    }
    assert!(best["depth_mm"].as_f64().unwrap() <= 150.0);
}

/// A body cylinder (radius 90 mm), a 60 mm liver ball, the tumour where
/// `tumor` holds and a vessel where `vessel` holds (both inside the liver),
/// on the 2 mm grid; returns the label map and body mask files.
fn organ_phantom(
    dir: &std::path::Path,
    tumor: impl Fn([f64; 3]) -> bool,
    vessel: impl Fn([f64; 3]) -> bool,
) -> (std::path::PathBuf, std::path::PathBuf) {
    let g = grid();
    let labels = Array3::from_shape_fn((N, N, N), |(i, j, k)| {
        let p = g.voxel_to_world([i as f64, j as f64, k as f64]);
        let in_liver = (p[0] * p[0] + p[1] * p[1] + p[2] * p[2]).sqrt() <= 60.0;
        match (in_liver, tumor(p), vessel(p)) {
            (false, _, _) => 0u8,
            (true, true, _) => 2,
            (true, false, true) => 3,
            (true, false, false) => 1,
        }
    });
    let names: LabelNames = [
        (1, "liver".into()),
        (2, "liver_tumor".into()),
        (3, "liver_vessels".into()),
    ]
    .into();
    let map = LabelMap::new(g.clone(), LabelArray::U8(labels), names).unwrap();
    let path = dir.join("organs.nii.gz");
    write_label_map(&path, &map, None).unwrap();
    (path, write_body(&dir.join("organs_body.nii.gz")))
}

fn ball(c: [f64; 3], r: f64) -> impl Fn([f64; 3]) -> bool {
    move |p| (0..3).map(|a| (p[a] - c[a]).powi(2)).sum::<f64>() <= r * r
}

fn f3(v: [f64; 3]) -> String {
    format!("{},{},{}", v[0], v[1], v[2])
}

#[test]
fn beside_a_vessel_the_tip_keeps_its_clearance_and_the_confirmed_zone_feels_the_sink() {
    // A 6 mm vessel along z, its axis 10 mm from a 3 mm tumour.
    let dir = tempfile::tempdir().unwrap();
    let in_vessel = |p: [f64; 3]| ((p[0] - 10.0).powi(2) + p[1] * p[1]).sqrt() <= 3.0;
    let (case, body) = organ_phantom(dir.path(), ball([0.0; 3], 3.0), in_vessel);
    let g = grid();
    let vessel_voxels: Vec<[f64; 3]> = ndarray::indices((N, N, N))
        .into_iter()
        .map(|(i, j, k)| g.voxel_to_world([i as f64, j as f64, k as f64]))
        .filter(|&p| in_vessel(p) && p.iter().map(|v| v * v).sum::<f64>() <= 3600.0)
        .collect();
    let (code, out, err) = run_cli(&[
        "plan",
        case.to_str().unwrap(),
        "--body",
        body.to_str().unwrap(),
        "--vessels",
        "liver_vessels",
        "--margin-mm",
        "3",
        "--directions",
        "800",
        "--confirm",
        "1",
        "--json",
    ]);
    assert!(code == 0 || code == 1, "{err}");
    let r: serde_json::Value = serde_json::from_str(&out).unwrap();
    let best = &r["plans"][0];
    let (entry, tip) = (v3(&best["entry_mm"]), v3(&best["tip_mm"]));
    // Every vessel voxel centre at least the 5 mm vessel clearance from the
    // needle, tip included (independent ray walk).
    let cl = clearance(entry, tip, &vessel_voxels);
    assert!(cl >= 5.0, "vessel clearance {cl:.2} mm");
    assert!(
        r["rejected"]["vessel_clearance"].as_u64().unwrap() > 0,
        "{}",
        r["rejected"]
    );
    // The confirmation simulated the vessel as a heat sink: the same
    // ablation simulated without it gives a larger 70 °C zone.
    assert!(best["heat_sink_ml"].as_f64().unwrap() > 0.0, "{best}");
    let (code, out, err) = run_cli(&[
        "simulate",
        case.to_str().unwrap(),
        "--applicator",
        "mwa",
        "--tip",
        &f3(tip),
        "--entry",
        &f3(entry),
        "--power-w",
        &best["power_w"].to_string(),
        "--time-s",
        &best["time_s"].to_string(),
        "--device",
        r["device"].as_str().unwrap(),
        "--margin-mm",
        "3",
        "--json",
    ]);
    assert!(code == 0 || code == 1, "{err}");
    let free: serde_json::Value = serde_json::from_str(&out).unwrap();
    let with_sink = best["zone70_ml"].as_f64().unwrap();
    let without = free["zone70_mask_ml"].as_f64().unwrap();
    assert!(
        with_sink < without,
        "zone with the vessel {with_sink} mL, without {without} mL"
    );
}

/// Every voxel of `zone.nii.gz` in `out_dir` within `reach` mm of a voxel
/// centre where `tumour` holds (inside the box |x| ≤ 30, |y|, |z| ≤ 12 mm) is
/// set: an independent check of the zone written, by brute force.
fn assert_zone_holds(out_dir: &std::path::Path, tumour: impl Fn([f64; 3]) -> bool, reach: f64) {
    let zone = liverkit::io::read_label_map(&out_dir.join("zone.nii.gz"), &Default::default())
        .unwrap()
        .value
        .nonzero_mask();
    let g = grid();
    let world = |i: usize, j: usize, k: usize| g.voxel_to_world([i as f64, j as f64, k as f64]);
    let tumour: Vec<[f64; 3]> = ndarray::indices((N, N, N))
        .into_iter()
        .map(|(i, j, k)| world(i, j, k))
        .filter(|&p| tumour(p))
        .collect();
    for ((i, j, k), &z) in zone.data().indexed_iter() {
        let p = world(i, j, k);
        if p[0].abs() > 30.0 || p[1].abs() > 12.0 || p[2].abs() > 12.0 {
            continue;
        }
        let near = tumour
            .iter()
            .any(|q| (0..3).map(|a| (p[a] - q[a]).powi(2)).sum::<f64>() <= reach * reach);
        assert!(!near || z, "voxel at {p:?} near the tumour is outside the zone");
    }
}

/// `liverkit plan --json` on a phantom with its body mask, 600 directions,
/// one confirmation and the masks written to `out_dir`: the exit status,
/// the report and the standard error.
fn plan_with_masks(
    case: &std::path::Path,
    body: &std::path::Path,
    margin_mm: &str,
    out_dir: &std::path::Path,
) -> (i32, serde_json::Value, String) {
    let (code, out, err) = run_cli(&[
        "plan",
        case.to_str().unwrap(),
        "--body",
        body.to_str().unwrap(),
        "--margin-mm",
        margin_mm,
        "--directions",
        "600",
        "--confirm",
        "1",
        "--out-dir",
        out_dir.to_str().unwrap(),
        "--json",
    ]);
    let r = serde_json::from_str(&out).unwrap_or_else(|_| panic!("{err}"));
    (code, r, err)
}

/// Points within `r` mm of the segment `a`–`b`.
fn capsule(a: [f64; 3], b: [f64; 3], r: f64) -> impl Fn([f64; 3]) -> bool + Clone {
    move |p| {
        let ab = [0, 1, 2].map(|k| b[k] - a[k]);
        let ap = [0, 1, 2].map(|k| p[k] - a[k]);
        let len2: f64 = ab.iter().map(|v| v * v).sum();
        let s = ((0..3).map(|k| ab[k] * ap[k]).sum::<f64>() / len2).clamp(0.0, 1.0);
        (0..3).map(|k| (ap[k] - s * ab[k]).powi(2)).sum::<f64>() <= r * r
    }
}

#[test]
fn a_target_too_long_for_one_zone_gets_overlapping_ablations_that_cover_it() {
    // A tumour 36 mm long and 6 mm wide: with a 3 mm margin the target
    // spans 42 mm, longer than the device's largest 70 °C zone.
    let dir = tempfile::tempdir().unwrap();
    let tumour = capsule([-15.0, 0.0, 0.0], [15.0, 0.0, 0.0], 3.0);
    let (case, body) = organ_phantom(dir.path(), tumour.clone(), |_| false);
    let out_dir = dir.path().join("plan");
    let (code, r, err) = plan_with_masks(&case, &body, "3", &out_dir);
    assert_eq!(r["plans"][0]["covers_target"], false, "{}", r["plans"][0]);
    let m = &r["multi_ablation"];
    let n = m["ablations"].as_array().unwrap().len();
    assert!((2..=3).contains(&n), "{m}");
    assert_eq!(r["recommended"], "multi_ablation", "{}", r["verdict"]);
    assert_eq!(code, 0, "{err}");
    assert!(r["verdict"].as_str().unwrap().starts_with("MULTI-ABLATION PLAN"));
    // Independent check on the zone written: every voxel centre within
    // margin − one voxel of a tumour voxel centre lies in the union.
    assert_zone_holds(&out_dir, tumour, 3.0 - H);
    // The paths and tips written: one path per ablation, tips apart (they
    // may share a track: a pull-back along one needle path).
    let tips: Vec<[f64; 3]> = m["ablations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| v3(&a["tip_mm"]))
        .collect();
    for (i, a) in tips.iter().enumerate() {
        for b in &tips[i + 1..] {
            let apart = (0..3).map(|k| (a[k] - b[k]).powi(2)).sum::<f64>().sqrt();
            assert!(apart >= 5.0, "tips {tips:?}");
        }
    }
    assert_masks_hold_tips(&out_dir, &tips);
}

/// `path.nii.gz` and `tip.nii.gz` in `out_dir` are not empty and hold
/// every tip.
fn assert_masks_hold_tips(out_dir: &std::path::Path, tips: &[[f64; 3]]) {
    let g = grid();
    for name in ["path", "tip"] {
        let m = liverkit::io::read_label_map(&out_dir.join(format!("{name}.nii.gz")), &Default::default())
            .unwrap()
            .value
            .nonzero_mask();
        assert!(m.data().iter().any(|&v| v), "{name} mask is empty");
        for t in tips {
            let v = g.nearest_voxel(*t).unwrap();
            assert!(m.data()[v], "{name} mask misses the tip {t:?}");
        }
    }
}

#[test]
fn separate_tumours_are_planned_one_by_one_and_each_judged_on_its_own() {
    // Two tumours of 2 mm radius 30 mm apart, a 2 mm margin: one target
    // would span 38 mm (more than any zone), but each tumour alone (8 mm)
    // fits one zone. Each gets its own single plan, judged on its own tumour; the
    // zone written holds both.
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = (ball([-15.0, 0.0, 0.0], 2.0), ball([15.0, 0.0, 0.0], 2.0));
    let (case, body) = organ_phantom(dir.path(), move |p| a(p) || b(p), |_| false);
    let out_dir = dir.path().join("plan");
    let (code, r, err) = plan_with_masks(&case, &body, "2", &out_dir);
    let others = r["other_tumors"].as_array().unwrap();
    assert_eq!(others.len(), 1, "{r}");
    let mut tips = Vec::new();
    for (i, t) in [&r, &others[0]].into_iter().enumerate() {
        assert_eq!(t["tumor_index"], i + 1);
        assert_eq!(t["recommended"], "single", "{}", t["verdict"]);
        assert_eq!(t["covers_target"], true, "{}", t["verdict"]);
        assert!(t["multi_ablation"].is_null());
        let c = v3(&t["tumor_centre_mm"]);
        assert!((c[0].abs() - 15.0).abs() < 0.5, "centre {c:?}");
        tips.push(v3(&t["plans"][0]["tip_mm"]));
    }
    assert_eq!(r["all_tumors_covered"], true);
    assert_eq!(code, 0, "{err}");
    let a = ball([-15.0, 0.0, 0.0], 2.0);
    let b = ball([15.0, 0.0, 0.0], 2.0);
    assert_zone_holds(&out_dir, move |p| a(p) || b(p), 2.0 - H);
    assert_masks_hold_tips(&out_dir, &tips);
}

#[test]
fn tumours_less_than_two_margins_apart_are_one_target() {
    // Two tumours of 2 mm radius 8 mm apart (4 mm between them), a 2.5 mm
    // margin: their targets overlap, so they are planned as one target
    // (17 × 9 mm with the margin), and the single zone written holds both
    // tumours and their margin less a voxel (brute force).
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = (ball([-4.0, 0.0, 0.0], 2.0), ball([4.0, 0.0, 0.0], 2.0));
    let (case, body) = organ_phantom(dir.path(), move |p| a(p) || b(p), |_| false);
    let out_dir = dir.path().join("plan");
    let (code, r, err) = plan_with_masks(&case, &body, "2.5", &out_dir);
    assert_eq!(r["tumors_in_target"], 2, "{r}");
    assert!(r["other_tumors"].as_array().unwrap().is_empty(), "{r}");
    assert_eq!(r["recommended"], "single", "{}", r["verdict"]);
    assert_eq!(r["covers_target"], true, "{}", r["verdict"]);
    assert_eq!(code, 0, "{err}");
    let warnings = r["warnings"].to_string();
    assert!(warnings.contains("2 tumours make 1 target;"), "{warnings}");
    let c = v3(&r["tumor_centre_mm"]);
    assert!(c.iter().all(|v| v.abs() < 0.5), "centre {c:?}");
    let a = ball([-4.0, 0.0, 0.0], 2.0);
    let b = ball([4.0, 0.0, 0.0], 2.0);
    assert_zone_holds(&out_dir, move |p| a(p) || b(p), 2.5 - H);
    assert_masks_hold_tips(&out_dir, &[v3(&r["plans"][0]["tip_mm"])]);
}

#[test]
fn a_tumour_too_large_for_three_zones_gets_a_clear_no_even_with_the_antennas_together() {
    let dir = tempfile::tempdir().unwrap();
    let (case, body) = organ_phantom(dir.path(), ball([0.0; 3], 22.0), |_| false);
    let (code, out, err) = run_cli(&[
        "plan",
        case.to_str().unwrap(),
        "--body",
        body.to_str().unwrap(),
        "--directions",
        "300",
        "--confirm",
        "1",
        "--json",
    ]);
    assert_eq!(code, 1, "{err}");
    let r: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert!(
        r["verdict"].as_str().unwrap().starts_with("NO SINGLE PLAN"),
        "{}",
        r["verdict"]
    );
    assert_eq!(r["recommended"], "none");
    // One after another the ablations fall short, so the same antennas are
    // simulated powered together: their heat adds, so the zone holds more
    // than the union of the zones made one at a time (superposition), and
    // the margin can only grow (less a voxel for the lattices' sampling).
    let m = &r["multi_ablation"];
    let g = &m["together"];
    assert_eq!(g["antennas"], m["ablations"].as_array().unwrap().len(), "{m}");
    assert!(g["antennas"].as_u64().unwrap() >= 2, "{m}");
    assert_eq!(g["covers_target"], false, "{g}");
    let (union, together) = (m["zone70_ml"].as_f64().unwrap(), g["zone70_ml"].as_f64().unwrap());
    assert!(
        together > 1.1 * union,
        "together {together} mL, one after another {union} mL"
    );
    let (seq, tog) = (
        m["min_margin_mm"].as_f64().unwrap(),
        g["min_margin_mm"].as_f64().unwrap(),
    );
    assert!(
        tog >= seq - H,
        "margin together {tog} mm, one after another {seq} mm"
    );
}

#[test]
fn a_radiofrequency_plan_goes_through_the_window_and_its_confirmed_zone_covers() {
    // The rib-cage phantom planned for the cooled RF electrode: the path
    // clears every rib (independent ray casting), and the confirmed 70 °C
    // zone of the full RF simulation covers the 3 mm tumour and 3 mm.
    let (code, r, ribs) = plan_in_the_cage("rfa");
    assert_eq!(code, 0, "{r}");
    assert_eq!(r["device"], "rfa-single", "{}", r["device"]);
    let best = &r["plans"][0];
    assert_eq!(best["covers_target"], true, "{best}");
    assert!(best["min_margin_mm"].as_f64().unwrap() >= 3.0, "{best}");
    let (entry, tip) = (v3(&best["entry_mm"]), v3(&best["tip_mm"]));
    let cl = clearance(entry, tip, &ribs);
    assert!(cl >= 3.0, "clearance {cl:.2} mm");
}
