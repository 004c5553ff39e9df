//! Broken input: every file in testdata/bad gives an error of a known kind
//! naming the field, by both reading paths, and never a panic.

use std::path::PathBuf;

use liverkit::case::volumes::{volumes_of_label_file, volumes_of_masks};
use liverkit::io::nifti::NiftiFile;
use liverkit::io::{read_label_map, ReadOptions};
use liverkit::{Error, ErrorKind};

use crate::common::data;

/// Each broken file, the error kind it must give and the field it must name.
const CASES: &[(&str, ErrorKind, Option<&str>)] = &[
    ("empty.nii", ErrorKind::Truncated, Some("header")),
    ("not_nifti.nii", ErrorKind::Header, Some("sizeof_hdr")),
    ("short_header.nii", ErrorKind::Truncated, Some("header")),
    ("truncated_data.nii", ErrorKind::Truncated, Some("voxel data")),
    ("truncated.nii.gz", ErrorKind::Truncated, Some("voxel data")),
    (
        "dims_exceed_data.nii.gz",
        ErrorKind::Truncated,
        Some("voxel data"),
    ),
    ("zero_pixdim.nii", ErrorKind::Header, Some("pixdim[1]")),
    ("negative_pixdim.nii", ErrorKind::Header, Some("pixdim[2]")),
    ("nan_pixdim.nii", ErrorKind::Header, Some("pixdim[3]")),
    ("bad_qfac.nii", ErrorKind::Header, Some("pixdim[0] (qfac)")),
    ("bad_quaternion.nii", ErrorKind::Header, Some("quatern_b/c/d")),
    (
        "singular_sform.nii",
        ErrorKind::Header,
        Some("srow_x/srow_y/srow_z"),
    ),
    ("bad_dim0.nii", ErrorKind::Header, Some("dim[0]")),
    ("zero_dim.nii", ErrorKind::Header, Some("dim[2]")),
    ("huge_dims.nii", ErrorKind::Header, Some("dim")),
    ("overflow_dims.nii", ErrorKind::Header, Some("dim")),
    ("complex_datatype.nii", ErrorKind::Unsupported, Some("datatype")),
    ("unknown_datatype.nii", ErrorKind::Header, Some("datatype")),
    ("analyze_magic.nii", ErrorKind::Header, Some("magic")),
    ("bad_vox_offset.nii", ErrorKind::Header, Some("vox_offset")),
    ("bad_units.nii", ErrorKind::Header, Some("xyzt_units")),
    ("missing_img.hdr", ErrorKind::Read, None),
    ("float_nonintegral.nii.gz", ErrorKind::Data, Some("voxel values")),
    ("four_d.nii.gz", ErrorKind::Unsupported, Some("dim[4]")),
];

fn bad_files() -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(data("bad"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_file() && p.extension().is_none_or(|e| e != "md"))
        .collect();
    files.sort();
    files
}

fn check(name: &str, e: &Error, kind: ErrorKind, field: Option<&str>, how: &str) {
    assert_eq!(e.kind(), kind, "{name} ({how}): {e}");
    assert_eq!(e.field(), field, "{name} ({how}): {e}");
    let msg = e.to_string();
    assert!(
        msg.contains(name),
        "{name} ({how}): the message must name the file: {msg}"
    );
    if e.expected().is_some() {
        assert!(msg.contains("expected"), "{name}: {msg}");
    }
}

#[test]
fn every_bad_file_errors_with_kind_and_field() {
    let files = bad_files();
    assert_eq!(
        files.len(),
        CASES.len(),
        "every file in testdata/bad needs an entry in CASES and back"
    );
    for path in files {
        let name = path.file_name().unwrap().to_string_lossy().to_string();
        let &(_, kind, field) = CASES
            .iter()
            .find(|(n, _, _)| *n == name)
            .unwrap_or_else(|| panic!("{name} has no expected error in CASES"));
        let opts = ReadOptions::default();
        let streamed = volumes_of_label_file(&path, &opts).expect_err(&name);
        check(&name, &streamed, kind, field, "streamed");
        let whole = read_label_map(&path, &opts).expect_err(&name);
        check(&name, &whole, kind, field, "whole");
        let masks = volumes_of_masks(std::slice::from_ref(&path), &opts).expect_err(&name);
        check(&name, &masks, kind, field, "as a mask");
    }
}

#[test]
fn bad_values_are_reported() {
    let e = NiftiFile::open(&data("bad/negative_pixdim.nii")).unwrap_err();
    assert_eq!(e.found(), Some("-1"));
    let e = NiftiFile::open(&data("bad/bad_qfac.nii")).unwrap_err();
    assert_eq!(e.expected(), Some("1 or -1"));
    assert_eq!(e.found(), Some("0.5"));
    let e = read_label_map(&data("bad/float_nonintegral.nii.gz"), &ReadOptions::default()).unwrap_err();
    assert!(e.found().unwrap().starts_with("2.5 at voxel (2, 2, 2)"), "{e}");
    let e = NiftiFile::open(&data("bad/complex_datatype.nii")).unwrap_err();
    assert!(e.found().unwrap().contains("complex64"), "{e}");
}

#[test]
fn memory_bound_refuses_before_allocating() {
    // A valid 23 x 17 x 11 file refused under a 1 KiB bound, by both paths.
    let path = data("generated/dtype_uint8.nii");
    let tiny = ReadOptions {
        max_bytes: 1024,
        ..ReadOptions::default()
    };
    for e in [
        read_label_map(&path, &tiny).unwrap_err(),
        volumes_of_label_file(&path, &tiny).unwrap_err(),
    ] {
        assert_eq!(e.kind(), ErrorKind::Header);
        assert_eq!(e.field(), Some("dim"));
    }
}

#[test]
fn missing_file_is_a_read_error_naming_it() {
    let path = data("no/such/file.nii.gz");
    let e = NiftiFile::open(&path).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Read);
    assert_eq!(e.path(), Some(path.as_path()));
    assert!(e.to_string().contains("file.nii.gz"));
}

#[test]
fn masks_on_different_grids_are_refused() {
    let a = data("generated/grid_a.nii.gz");
    let b = data("generated/grid_b.nii.gz");
    let e = volumes_of_masks(&[a, b], &ReadOptions::default()).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::GridMismatch);
    let msg = e.to_string();
    assert!(
        msg.contains("grid_a.nii.gz") && msg.contains("grid_b.nii.gz") && msg.contains("0.8000 mm"),
        "{msg}"
    );
    // Different dimensions too.
    let c = data("totalsegmentator/example_seg_fast/liver.nii.gz");
    let e = volumes_of_masks(&[data("generated/grid_a.nii.gz"), c], &ReadOptions::default()).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::GridMismatch);
    assert!(e.to_string().contains("23 x 17 x 11 and 122 x 101 x 30"), "{e}");
}
