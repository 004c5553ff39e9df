//! `liverkit plan`: a path through the one window of a rib cage, checked by
//! independent ray casting; on real anatomy, a path that crosses no bone or
//! lung; bad input.

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
    let body = Array3::from_shape_fn((N, N, N), |(i, j, k)| {
        let p = g.voxel_to_world([i as f64, j as f64, k as f64]);
        (p[0] * p[0] + p[1] * p[1]).sqrt() <= 90.0
    });
    let body_path = dir.join("body.nii.gz");
    write_mask(&body_path, &Mask::new(g, body).unwrap(), None).unwrap();
    (path, body_path, ribs)
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

#[test]
fn the_path_goes_through_the_intercostal_window_and_clears_every_rib() {
    let dir = tempfile::tempdir().unwrap();
    let (case, body, ribs) = phantom(dir.path(), [0.0; 3]);
    let (code, out, err) = run_cli(&[
        "plan",
        case.to_str().unwrap(),
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
    let r: serde_json::Value = serde_json::from_str(&out).unwrap();
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
