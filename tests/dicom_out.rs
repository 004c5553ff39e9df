//! DICOM in and out: mask series read as masks, DICOM SEG and `.seg.nrrd`
//! written and read back voxel for voxel, and the bad inputs of each.

use liverkit::case::volumes::volumes_of_paths;
use liverkit::grid::Grid;
use liverkit::io::dicom::{read_series, write_seg};
use liverkit::io::nrrd::write_seg_nrrd;
use liverkit::io::structure::{Segment, Structure};
use liverkit::io::{read_label_map, ReadOptions};
use liverkit::volume::{LabelMap, Mask};
use liverkit::ErrorKind;
use nalgebra::Matrix4;
use ndarray::Array3;

use crate::common::{data, run_cli};

fn masks_read() -> ReadOptions {
    ReadOptions::default().with_mask_series(true)
}

/// Voxel (i, j, k) of `grid` in the voxel indices of `other`, through the
/// world (the two files' own affines), rounded.
fn voxel_in(grid: &Grid, other: &Grid, ijk: [usize; 3]) -> Option<[usize; 3]> {
    let w = grid.voxel_to_world(ijk.map(|v| v as f64));
    let v = other.world_to_voxel(w);
    let d = other.dims();
    let r = [0, 1, 2].map(|a| v[a].round());
    (r.iter().zip(&v).all(|(r, v)| (r - v).abs() < 1e-3)
        && (0..3).all(|a| r[a] >= 0.0 && (r[a] as usize) < d[a]))
    .then(|| r.map(|x| x as usize))
}

/// Every voxel of `mask` equals `label` in `map` at the same world point.
fn same_voxels(mask: &Mask, map: &LabelMap, label: i64) {
    let g = mask.grid();
    let d = g.dims();
    let mut inside = 0u64;
    for k in 0..d[2] {
        for j in 0..d[1] {
            for i in 0..d[0] {
                let at = voxel_in(g, map.grid(), [i, j, k]).expect("the same points");
                let want = map.labels().get(at) == Some(label);
                assert_eq!(mask.data()[[i, j, k]], want, "voxel ({i}, {j}, {k})");
                inside += u64::from(want);
            }
        }
    }
    assert!(inside > 1000, "a real structure ({inside} voxels)");
}

#[test]
fn mask_series_are_the_nifti_labels_voxel_for_voxel() {
    // testdata/make_mask_series.py carried labels 5 (liver) and 1 (spleen)
    // of the NIfTI (LAS) onto the CT's pixel grid (LPS) with pydicom.
    let nifti = read_label_map(
        &data("totalsegmentator/example_seg_dicom.nii.gz"),
        &ReadOptions::default(),
    )
    .unwrap()
    .value;
    for (folder, label) in [("liver", 5), ("spleen", 1)] {
        let read = read_label_map(&data(&format!("mask_series/{folder}")), &masks_read()).unwrap();
        assert_eq!(read.value.names().get(&1).map(String::as_str), Some(folder));
        same_voxels(&read.value.mask_of(&[1]), &nifti, label);
        // One of its files names the whole series (image_10 sorts before
        // image_2 as text; the positions order the slices).
        let one = read_label_map(&data(&format!("mask_series/{folder}/image_10")), &masks_read()).unwrap();
        assert_eq!(one.value, read.value);
    }
    // The folder of folders: one mask per structure, named after it.
    let r = volumes_of_paths(&[data("mask_series")], false, &masks_read()).unwrap();
    let names: Vec<_> = r
        .labels
        .iter()
        .map(|l| (l.name.clone().unwrap(), l.voxels))
        .collect();
    let count = |v: u8| {
        let a = read_label_map(
            &data("totalsegmentator/example_seg_dicom.nii.gz"),
            &ReadOptions::default(),
        )
        .unwrap()
        .value;
        a.mask_of(&[i64::from(v)]).data().iter().filter(|&&b| b).count() as u64
    };
    assert_eq!(
        names,
        vec![("liver".to_string(), count(5)), ("spleen".to_string(), count(1))]
    );
}

#[test]
fn a_mask_series_needs_asking_and_a_matching_reference() {
    let e = read_label_map(&data("mask_series/liver"), &ReadOptions::default()).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Header, "{e}");
    assert!(
        e.to_string().contains("DICOM image series, not a segmentation"),
        "{e}"
    );
    assert!(e.to_string().contains("mask_series"), "{e}");
    let (code, _, err) = run_cli(&["volumes", data("mask_series").to_str().unwrap()]);
    assert_eq!(code, 2);
    assert!(err.contains("--mask-series"), "{err}");
    // Its own CT as the reference: accepted; another series: refused by
    // geometry (the mask series has no frame of reference to compare).
    let ct = ReadOptions {
        reference: Some(data("totalsegmentator/example_ct_dicom")),
        ..masks_read()
    };
    read_label_map(&data("mask_series/liver"), &ct).unwrap();
    let other = ReadOptions {
        reference: Some(data("dcmqi/ct-3slice")),
        ..masks_read()
    };
    let e = read_label_map(&data("mask_series/liver"), &other).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::GridMismatch, "{e}");
    // A CT read as a mask: too many values, refused.
    let e = read_label_map(&data("totalsegmentator/example_ct_dicom"), &masks_read()).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Data, "{e}");
    assert!(e.to_string().contains("PixelData"), "{e}");
}

fn ball(grid: &Grid, centre: [f64; 3], r: f64) -> Mask {
    let d = grid.dims();
    let a = Array3::from_shape_fn((d[0], d[1], d[2]), |(i, j, k)| {
        let w = grid.voxel_to_world([i as f64, j as f64, k as f64]);
        (0..3).map(|x| (w[x] - centre[x]).powi(2)).sum::<f64>() <= r * r
    });
    Mask::new(grid.clone(), a).unwrap()
}

/// An oblique grid with an odd number of pixels a slice (frames then do not
/// start on byte boundaries).
fn oblique_grid() -> Grid {
    let (s, c) = 20f64.to_radians().sin_cos();
    let a = Matrix4::new(
        0.8 * c,
        -0.8 * s,
        0.0,
        -20.0,
        0.8 * s,
        0.8 * c,
        0.0,
        10.0,
        0.0,
        0.0,
        2.5,
        -30.0,
        0.0,
        0.0,
        0.0,
        1.0,
    );
    Grid::new([37, 29, 13], a).unwrap()
}

#[test]
fn a_seg_reads_back_voxel_for_voxel_on_its_own_grid() {
    let grid = oblique_grid();
    let tumour = ball(&grid, grid.voxel_to_world([18.0, 14.0, 6.0]), 5.0);
    let target = ball(&grid, grid.voxel_to_world([18.0, 14.0, 6.0]), 9.0);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("x.dcm");
    let segments = [
        Segment {
            mask: &tumour,
            structure: Structure::Tumor,
        },
        Segment {
            mask: &target,
            structure: Structure::AblationTarget,
        },
    ];
    write_seg(&path, &segments, None, "test").unwrap();
    let back = read_label_map(&path, &ReadOptions::default()).unwrap().value;
    grid.ensure_same(back.grid(), "written", "read").unwrap();
    assert_eq!(back.mask_of(&[1]).data(), tumour.data());
    assert_eq!(back.mask_of(&[2]).data(), target.data());
    assert_eq!(
        back.names().get(&2).map(String::as_str),
        Some("Ablation target (tumor + margin)")
    );
    // Overlapping segments in a .seg.nrrd: layers, read back the same.
    let nrrd = dir.path().join("x.seg.nrrd");
    write_seg_nrrd(&nrrd, &segments).unwrap();
    let back = read_label_map(&nrrd, &ReadOptions::default()).unwrap().value;
    grid.ensure_same(back.grid(), "written", "read").unwrap();
    assert_eq!(back.mask_of(&[1]).data(), tumour.data());
    assert_eq!(back.mask_of(&[2]).data(), target.data());
}

#[test]
fn a_seg_on_a_dicom_series_refers_to_its_images() {
    // Made from the mask series: same frame of reference rules, per-frame
    // references to the series' images, read back on that series' grid.
    let source = read_series(&[data("mask_series/liver")], None, &ReadOptions::default()).unwrap();
    let liver = read_label_map(&data("mask_series/liver"), &masks_read())
        .unwrap()
        .value
        .mask_of(&[1]);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("liver.dcm");
    let seg = [Segment {
        mask: &liver,
        structure: Structure::Liver,
    }];
    write_seg(&path, &seg, Some(&source.source()), "test").unwrap();
    let on_source = ReadOptions {
        reference: Some(data("mask_series/liver")),
        ..ReadOptions::default()
    };
    let back = read_label_map(&path, &on_source).unwrap().value;
    assert_eq!(back.mask_of(&[1]).data(), liver.data());
    // Every frame names an image of the series, by the parser's reading.
    let obj = dicom_object::open_file(&path).unwrap();
    let frames = obj
        .element(dicom_dictionary_std::tags::PER_FRAME_FUNCTIONAL_GROUPS_SEQUENCE)
        .unwrap()
        .items()
        .unwrap();
    let present = (0..20)
        .filter(|&k| liver.data().index_axis(ndarray::Axis(2), k).iter().any(|&v| v))
        .count();
    assert_eq!(frames.len(), present, "one frame per slice holding liver");
    for f in frames {
        let uid = f
            .element(dicom_dictionary_std::tags::DERIVATION_IMAGE_SEQUENCE)
            .unwrap()
            .items()
            .unwrap()[0]
            .element(dicom_dictionary_std::tags::SOURCE_IMAGE_SEQUENCE)
            .unwrap()
            .items()
            .unwrap()[0]
            .element(dicom_dictionary_std::tags::REFERENCED_SOP_INSTANCE_UID)
            .unwrap()
            .to_str()
            .unwrap()
            .trim_end_matches('\0')
            .to_string();
        assert!(source.instance_uids.contains(&uid), "{uid}");
    }
}

#[test]
fn a_nifti_in_las_becomes_a_seg_on_its_lps_ct() {
    // TotalSegmentator wrote the NIfTI with j flipped; --reference names the
    // CT it came from: the SEG lies on the CT, voxel for voxel.
    let dir = tempfile::tempdir().unwrap();
    let target = |out: &std::path::Path, extra: &[&str]| {
        let map = data("totalsegmentator/example_seg_dicom.nii.gz");
        let mut args = vec!["target", map.to_str().unwrap(), "--tumor", "1", "--liver", "5"];
        args.extend(["--margin-mm", "5", "--out", out.to_str().unwrap()]);
        args.extend(extra);
        let (code, _, err) = run_cli(&args);
        assert_eq!(code, 0, "{err}");
        err
    };
    let out = dir.path().join("target.dcm");
    let ct_dir = data("totalsegmentator/example_ct_dicom");
    let err = target(&out, &["--reference", ct_dir.to_str().unwrap()]);
    assert!(!err.contains("stands alone"), "{err}");
    let nii = dir.path().join("target.nii.gz");
    target(&nii, &[]);
    let on_ct = ReadOptions {
        reference: Some(data("totalsegmentator/example_ct_dicom")),
        ..ReadOptions::default()
    };
    let seg = read_label_map(&out, &on_ct).unwrap().value;
    let ct = read_series(
        &[data("totalsegmentator/example_ct_dicom")],
        None,
        &ReadOptions::default(),
    )
    .unwrap();
    ct.volume.grid().ensure_same(seg.grid(), "ct", "seg").unwrap();
    let nifti = read_label_map(&nii, &ReadOptions::default()).unwrap().value;
    same_voxels(&seg.mask_of(&[1]), &nifti, 1);
}

#[test]
fn bad_seg_outputs_are_clear_errors_and_leave_no_file() {
    let grid = oblique_grid();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("x.dcm");
    // An empty mask.
    let empty = Mask::new(grid.clone(), Array3::from_elem(grid.dims(), false)).unwrap();
    let e = write_seg(
        &path,
        &[Segment {
            mask: &empty,
            structure: Structure::MarginShortfall,
        }],
        None,
        "t",
    )
    .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Data, "{e}");
    assert!(e.to_string().contains("Margin shortfall"), "{e}");
    // A sheared grid DICOM cannot describe.
    let mut a = *grid.affine();
    a[(0, 2)] = 1.0;
    let sheared = Grid::new(grid.dims(), a).unwrap();
    let m = ball(&sheared, sheared.voxel_to_world([18.0, 14.0, 6.0]), 5.0);
    let e = write_seg(
        &path,
        &[Segment {
            mask: &m,
            structure: Structure::Tumor,
        }],
        None,
        "t",
    )
    .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Unsupported, "{e}");
    assert!(e.to_string().contains("affine"), "{e}");
    // A source series on another grid.
    let source = read_series(&[data("dcmqi/ct-3slice")], None, &ReadOptions::default()).unwrap();
    let m = ball(&grid, grid.voxel_to_world([18.0, 14.0, 6.0]), 5.0);
    let e = write_seg(
        &path,
        &[Segment {
            mask: &m,
            structure: Structure::Tumor,
        }],
        Some(&source.source()),
        "t",
    )
    .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::GridMismatch, "{e}");
    assert_eq!(
        std::fs::read_dir(dir.path()).unwrap().count(),
        0,
        "nothing left behind"
    );
    // A conflicting --reference on the command line: error, no file.
    let out = dir.path().join("t.dcm");
    let (code, _, err) = run_cli(&[
        "target",
        data("sample_case/pre_pve.nii.gz").to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
        "--reference",
        data("dcmqi/ct-3slice").to_str().unwrap(),
    ]);
    assert_eq!(code, 2);
    assert!(
        err.contains("reference series") && err.contains("not on the same voxel grid"),
        "{err}"
    );
    assert!(!out.exists());
}

#[test]
fn remnant_and_margin_write_their_structures() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("r.seg.nrrd");
    let (code, json, err) = run_cli(&[
        "remnant",
        data("sample_case/pre_pve.nii.gz").to_str().unwrap(),
        "--resection",
        "right-hepatectomy",
        "--out",
        out.to_str().unwrap(),
        "--json",
    ]);
    assert!(code == 0 || code == 1, "{err}");
    let report: serde_json::Value = serde_json::from_str(&json).unwrap();
    let back = read_label_map(&out, &ReadOptions::default()).unwrap().value;
    let ml = |label: i64| {
        back.grid()
            .volume_ml(back.mask_of(&[label]).data().iter().filter(|&&v| v).count() as u64)
    };
    // The remnant holds the functional remnant and its tumour; the two parts
    // make the whole liver.
    let remnant = report["remnant_ml"].as_f64().unwrap() + report["remnant_tumor_ml"].as_f64().unwrap();
    assert!((ml(1) - remnant).abs() < 1e-6, "{} vs {remnant}", ml(1));
    assert!((ml(1) + ml(2) - report["total_liver_ml"].as_f64().unwrap()).abs() < 1e-6);
    // Without a remnant there is nothing to write.
    let (code, _, err) = run_cli(&[
        "remnant",
        data("sample_case/pre_pve.nii.gz").to_str().unwrap(),
        "--out",
        dir.path().join("none.dcm").to_str().unwrap(),
    ]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("--out") && err.contains("remnant"), "{err}");

    // The margin shortfall is the target outside the zone.
    let seg = dir.path().join("m.dcm");
    let (code, _, err) = run_cli(&[
        "margin",
        "--tumor",
        &format!("{}:liver_tumor", data("sample_case/pre_pve.nii.gz").display()),
        "--zone",
        data("sample_case/ablation_zone.nii.gz").to_str().unwrap(),
        "--margin-map",
        seg.to_str().unwrap(),
    ]);
    assert_eq!(code, 1, "{err}");
    let back = read_label_map(&seg, &ReadOptions::default()).unwrap().value;
    let zone = read_label_map(&data("sample_case/ablation_zone.nii.gz"), &ReadOptions::default())
        .unwrap()
        .value
        .nonzero_mask();
    let (target, short) = (back.mask_of(&[2]), back.mask_of(&[3]));
    let mut n = 0;
    for ((&t, &s), &z) in target.data().iter().zip(short.data()).zip(zone.data()) {
        assert_eq!(s, t && !z);
        n += usize::from(s);
    }
    assert!(n > 0, "the sample's zone falls short");
}
