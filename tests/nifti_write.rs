//! Writing NIfTI: round trips keep voxels, geometry fields and extensions;
//! writes are atomic.

use liverkit::io::nifti::{write_label_map, write_mask, write_volume, NiftiFile, NiftiTemplate};
use liverkit::io::{read_intensity, read_label_map, ReadOptions};
use liverkit::{ErrorKind, Grid, Volume};
use nalgebra::Matrix4;
use ndarray::{Array3, ShapeBuilder};

use crate::common::data;

fn tmp() -> tempfile::TempDir {
    tempfile::tempdir().unwrap()
}

#[test]
fn label_map_round_trip_keeps_geometry_codes_units_and_names() {
    for src in [
        "totalsegmentator/example_seg.nii.gz",
        "totalsegmentator/example_seg_dicom.nii.gz",
        "generated/qform_only.nii.gz",
        "generated/units_micron.nii.gz",
        "generated/oblique.nii.gz",
        "generated/dtype_int64.nii.gz",
        "generated/nifti2_int32.nii.gz",
    ] {
        let input = NiftiFile::open(&data(src)).unwrap();
        let map = input.read_label_map(&ReadOptions::default()).unwrap().0;
        for ext in ["nii", "nii.gz", "hdr", "hdr.gz"] {
            let dir = tmp();
            let out = dir.path().join(format!("copy.{ext}"));
            write_label_map(&out, &map, Some(&input.template()))
                .unwrap_or_else(|e| panic!("{src} -> {ext}: {e}"));
            let back_file = NiftiFile::open(&out).unwrap();
            let back = back_file.read_label_map(&ReadOptions::default()).unwrap().0;
            assert_eq!(back.labels(), map.labels(), "{src} -> {ext}: voxels");
            back.grid()
                .ensure_same(map.grid(), "written", "original")
                .unwrap();
            let (h0, h1) = (input.header(), back_file.header());
            assert_eq!(
                (h1.sform_code, h1.qform_code),
                (h0.sform_code, h0.qform_code),
                "{src} -> {ext}: codes"
            );
            assert_eq!(h1.xyzt_units & 7, h0.xyzt_units & 7, "{src} -> {ext}: units");
            assert_eq!(h1.pixdim[0], h0.pixdim[0], "{src} -> {ext}: qfac");
            assert_eq!(back.names(), map.names(), "{src} -> {ext}: label names");
            assert_eq!(
                back_file.is_compressed(),
                ext.ends_with("gz"),
                "{src} -> {ext}: compression"
            );
            // Nothing but the output (and its .img) in the directory.
            let n = std::fs::read_dir(dir.path()).unwrap().count();
            assert_eq!(
                n,
                if ext.starts_with("hdr") { 2 } else { 1 },
                "{src} -> {ext}: stray files"
            );
        }
    }
}

#[test]
fn masks_and_intensities_round_trip() {
    let dir = tmp();
    let src = NiftiFile::open(&data("totalsegmentator/example_seg.nii.gz")).unwrap();
    let map = src.read_label_map(&ReadOptions::default()).unwrap().0;
    let liver = map.mask_of(&[5]);
    let out = dir.path().join("liver.nii.gz");
    write_mask(&out, &liver, Some(&src.template().without_extensions())).unwrap();
    let back = read_label_map(&out, &ReadOptions::default()).unwrap().value;
    assert_eq!(back.labels().type_name(), "uint8");
    assert_eq!(back.present_labels(), vec![0, 1]);
    assert_eq!(back.mask_of(&[1]).data(), liver.data());
    assert!(back.names().is_empty());

    let ct = read_intensity(
        &data("totalsegmentator/example_ct_sm.nii.gz"),
        &ReadOptions::default(),
    )
    .unwrap()
    .value;
    let out = dir.path().join("ct.nii");
    write_volume(&out, &ct, None).unwrap();
    let back = read_intensity(&out, &ReadOptions::default()).unwrap().value;
    assert_eq!(back.data(), ct.data());
    back.grid().ensure_same(ct.grid(), "written", "original").unwrap();
}

#[test]
fn grid_without_template_writes_sform_and_qform() {
    let mut a = Matrix4::new(
        0.0, -0.8, 0.0, 10.0, 0.7, 0.0, 0.0, -20.0, 0.0, 0.0, 2.5, 30.0, 0.0, 0.0, 0.0, 1.0,
    );
    a[(0, 2)] = 0.0;
    let grid = Grid::new([4, 3, 2], a).unwrap();
    let data: Array3<i16> = Array3::from_shape_fn((4, 3, 2).f(), |(i, j, k)| (i + 10 * j + 100 * k) as i16);
    let vol = Volume::new(grid.clone(), data.clone()).unwrap();
    let dir = tmp();
    let out = dir.path().join("v.nii.gz");
    write_volume(&out, &vol, None).unwrap();
    let f = NiftiFile::open(&out).unwrap();
    assert_eq!((f.header().sform_code, f.header().qform_code), (1, 1));
    f.grid().ensure_same(&grid, "written", "original").unwrap();
    let back = f.read_label_map(&ReadOptions::default()).unwrap().0;
    assert_eq!(back.labels().get([3, 2, 1]), Some(3 + 20 + 100));
    assert!(f.warnings().is_empty(), "{:?}", f.warnings());
}

#[test]
fn template_from_another_grid_is_refused() {
    let src = NiftiFile::open(&data("generated/grid_a.nii.gz")).unwrap();
    let other = NiftiFile::open(&data("generated/grid_b.nii.gz")).unwrap();
    let map = other.read_label_map(&ReadOptions::default()).unwrap().0;
    let dir = tmp();
    let out = dir.path().join("x.nii");
    let e = write_label_map(&out, &map, Some(&src.template())).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::GridMismatch);
    assert!(!out.exists());
}

#[test]
fn failed_write_leaves_no_file() {
    let src = NiftiFile::open(&data("generated/dtype_uint8.nii")).unwrap();
    let map = src.read_label_map(&ReadOptions::default()).unwrap().0;
    let dir = tmp();
    // The target is an existing directory: the rename at the end fails.
    let target = dir.path().join("taken.nii.gz");
    std::fs::create_dir(&target).unwrap();
    let e = write_label_map(&target, &map, None).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Write);
    let left: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(
        left,
        vec![std::ffi::OsString::from("taken.nii.gz")],
        "staging files left behind"
    );
    assert!(target.is_dir());

    // A missing directory fails before writing anything.
    let e = write_label_map(&dir.path().join("missing/out.nii"), &map, None).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Write);

    // An unknown extension is a parameter error.
    let e = write_label_map(&dir.path().join("out.png"), &map, None).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Parameter);
}

#[test]
fn existing_file_is_replaced_whole() {
    let dir = tmp();
    let out = dir.path().join("m.nii");
    std::fs::write(&out, b"old content").unwrap();
    let src = NiftiFile::open(&data("generated/dtype_uint8.nii")).unwrap();
    let map = src.read_label_map(&ReadOptions::default()).unwrap().0;
    write_label_map(&out, &map, Some(&NiftiTemplate::from_grid(map.grid()))).unwrap();
    assert_eq!(
        read_label_map(&out, &ReadOptions::default())
            .unwrap()
            .value
            .labels(),
        map.labels()
    );
}
