//! Label volumetry on real segmentations: independent of thread count, masks
//! agree with the multi-label map, TotalSegmentator's own statistics, and
//! structures cut by the scan are flagged.

use std::collections::BTreeMap;

use liverkit::case::volumes::{mask_files_in, mask_name, volumes_of_label_file, volumes_of_masks};
use liverkit::io::{read_label_map, ReadOptions};
use liverkit::volumetry::label_volumes;
use liverkit::{Grid, LabelArray, LabelMap, LabelNames};
use ndarray::{Array3, ShapeBuilder};

use crate::common::{assert_close, data};

fn pool(n: usize) -> rayon::ThreadPool {
    rayon::ThreadPoolBuilder::new().num_threads(n).build().unwrap()
}

/// A 160 x 130 x 90 phantom with nested blobs and noise, in several types.
fn phantom() -> Array3<u16> {
    let mut state = 12345u64;
    Array3::from_shape_fn((160, 130, 90).f(), |(i, j, k)| {
        state = state
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        let (x, y, z) = (i as f64 - 80.0, j as f64 - 60.0, k as f64 - 45.0);
        let r = (x * x / 3600.0 + y * y / 2500.0 + z * z / 1600.0).sqrt();
        if (state >> 60) == 0 && r < 1.2 {
            700 // scattered voxels of a label above 255
        } else if r < 0.3 {
            2
        } else if r < 1.0 {
            5
        } else if i == 0 && j > 100 {
            9 // touches the i_min face
        } else {
            0
        }
    })
}

#[test]
fn results_identical_for_any_thread_count() {
    let grid = Grid::from_spacing([160, 130, 90], [0.78, 0.78, 2.0]).unwrap();
    let map = LabelMap::new(grid, LabelArray::U16(phantom()), LabelNames::new()).unwrap();
    let one = pool(1).install(|| label_volumes(&map).unwrap());
    for n in [2, 3, 4, 7] {
        let many = pool(n).install(|| label_volumes(&map).unwrap());
        assert_eq!(many, one, "{n} threads");
    }
    let labels: Vec<i64> = one.iter().map(|l| l.label).collect();
    assert_eq!(labels, vec![2, 5, 9, 700]);
    // Reference count by the obvious loop.
    let a = phantom();
    let mut want: BTreeMap<u16, u64> = BTreeMap::new();
    for v in a.iter().filter(|&&v| v != 0) {
        *want.entry(*v).or_default() += 1;
    }
    for l in &one {
        assert_eq!(l.voxels, want[&(l.label as u16)], "label {}", l.label);
    }
    let nine = one.iter().find(|l| l.label == 9).unwrap();
    assert!(nine.touches_edge && nine.edge_faces.iter().any(|f| f.face == "i_min"));
}

#[test]
fn streamed_file_identical_for_any_thread_count() {
    let path = data("totalsegmentator/example_seg_fast_force_split.nii.gz");
    let one = pool(1).install(|| volumes_of_label_file(&path, &ReadOptions::default()).unwrap());
    let two = pool(2).install(|| volumes_of_label_file(&path, &ReadOptions::default()).unwrap());
    let five = pool(5).install(|| volumes_of_label_file(&path, &ReadOptions::default()).unwrap());
    assert_eq!(one, two);
    assert_eq!(one, five);
}

#[test]
fn c_order_arrays_give_the_same_result() {
    let grid = Grid::from_spacing([160, 130, 90], [1.0, 1.0, 1.0]).unwrap();
    let f = phantom();
    let mut c = Array3::<u16>::zeros((160, 130, 90));
    c.assign(&f);
    assert!(c.is_standard_layout());
    let a =
        label_volumes(&LabelMap::new(grid.clone(), LabelArray::U16(f), LabelNames::new()).unwrap()).unwrap();
    let b = label_volumes(&LabelMap::new(grid, LabelArray::U16(c), LabelNames::new()).unwrap()).unwrap();
    assert_eq!(a, b);
}

#[test]
fn totalsegmentator_masks_match_its_statistics_json() {
    // TotalSegmentator's own statistics.json gives each structure's volume in mm3.
    let dir = data("totalsegmentator/example_seg_fast");
    let stats: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("statistics.json")).unwrap()).unwrap();
    let files = mask_files_in(&dir).unwrap();
    assert_eq!(files.len(), 5);
    let report = volumes_of_masks(&files, &ReadOptions::default()).unwrap();
    for l in &report.labels {
        let name = l.name.as_deref().unwrap();
        let mm3 = stats[name]["volume"].as_f64().unwrap();
        assert_close(l.volume_ml * 1000.0, mm3, 1e-9, name);
        assert!(l.source.as_ref().unwrap().ends_with(format!("{name}.nii.gz")));
    }
    let names: Vec<&str> = report.labels.iter().map(|l| l.name.as_deref().unwrap()).collect();
    assert_eq!(
        names,
        [
            "gallbladder",
            "inferior_vena_cava",
            "liver",
            "portal_vein_and_splenic_vein",
            "spleen"
        ]
    );
}

#[test]
fn masks_agree_with_the_multilabel_map() {
    // The binary masks are the labels 4, 63, 5, 64, 1 of example_seg_fast.nii.gz.
    let multi = volumes_of_label_file(
        &data("totalsegmentator/example_seg_fast.nii.gz"),
        &ReadOptions::default(),
    )
    .unwrap();
    let masks = volumes_of_masks(
        &mask_files_in(&data("totalsegmentator/example_seg_fast")).unwrap(),
        &ReadOptions::default(),
    )
    .unwrap();
    for m in &masks.labels {
        let l = multi.labels.iter().find(|l| l.name == m.name).unwrap();
        assert_eq!(
            (l.voxels, l.bbox_min, l.bbox_max),
            (m.voxels, m.bbox_min, m.bbox_max),
            "{:?}",
            m.name
        );
        assert_eq!(l.centroid_mm, m.centroid_mm);
        assert_eq!(l.edge_faces, m.edge_faces);
    }
}

#[test]
fn liver_cut_by_the_top_slice_is_flagged() {
    // example_seg_fast_force_split covers the whole CT, whose top slice cuts the liver.
    let r = volumes_of_label_file(
        &data("totalsegmentator/example_seg_fast_force_split.nii.gz"),
        &ReadOptions::default(),
    )
    .unwrap();
    let liver = r.labels.iter().find(|l| l.label == 5).unwrap();
    assert!(liver.touches_edge);
    let faces: Vec<(&str, &str)> = liver.edge_faces.iter().map(|f| (f.face, f.direction)).collect();
    assert_eq!(faces, [("k_max", "superior")]);
    assert_close(
        liver.edge_faces[0].area_mm2,
        liver.edge_faces[0].voxels as f64 * 9.0,
        1e-12,
        "area",
    );
    let w = r.warnings.iter().find(|w| w.field == "touches_edge").unwrap();
    assert!(w.message.contains("liver (superior)"), "{}", w.message);
    // The gallbladder is inside the field of view.
    let gb = r.labels.iter().find(|l| l.label == 4).unwrap();
    assert!(!gb.touches_edge && gb.edge_faces.is_empty());
}

#[test]
fn mr_liver_in_lps_has_world_centroid_in_ras() {
    let r = volumes_of_label_file(
        &data("totalsegmentator/example_seg_mr.nii.gz"),
        &ReadOptions::default(),
    )
    .unwrap();
    assert_eq!(r.orientation.to_string(), "LPS");
    let liver = r.labels.iter().find(|l| l.label == 5).unwrap();
    assert_eq!(liver.name.as_deref(), Some("liver"));
    // The liver lies on the patient's right: positive x in RAS+, although
    // the file's i axis runs towards the left.
    assert!(liver.centroid_mm[0] > 0.0, "{:?}", liver.centroid_mm);
    let spleen = r
        .labels
        .iter()
        .find(|l| l.name.as_deref() == Some("spleen"))
        .unwrap();
    assert!(spleen.centroid_mm[0] < 0.0, "{:?}", spleen.centroid_mm);
    // Plausible volume for an adult liver slab (cut by the 20-slice MR).
    assert!(
        liver.volume_ml > 100.0 && liver.volume_ml < 2500.0,
        "{}",
        liver.volume_ml
    );
}

#[test]
fn empty_and_multivalued_masks_warn() {
    let dir = tempfile::tempdir().unwrap();
    let src = read_label_map(&data("generated/dtype_uint8.nii"), &ReadOptions::default())
        .unwrap()
        .value;
    let empty = src.mask_of(&[99]);
    let e = dir.path().join("empty.nii.gz");
    liverkit::io::nifti::write_mask(&e, &empty, None).unwrap();
    let multi = dir.path().join("multi.nii");
    liverkit::io::nifti::write_label_map(&multi, &src, None).unwrap();
    let r = volumes_of_masks(&[e.clone(), multi.clone()], &ReadOptions::default()).unwrap();
    assert_eq!(r.labels[0].voxels, 0);
    assert_eq!(r.labels[0].name.as_deref(), Some("empty"));
    assert_eq!(r.labels[1].voxels, 568 + 93 + 69);
    assert!(
        r.warnings.iter().any(|w| w.message.contains("empty")),
        "{:?}",
        r.warnings
    );
    assert!(
        r.warnings.iter().any(|w| w.message.contains("[1, 2, 7]")),
        "{:?}",
        r.warnings
    );
    assert_eq!(mask_name(&multi), "multi");
}
