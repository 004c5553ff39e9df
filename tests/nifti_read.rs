//! Reading NIfTI files: geometry, labels and intensities against nibabel.

use liverkit::case::volumes::volumes_of_label_file;
use liverkit::io::nifti::{GeometrySource, NiftiFile};
use liverkit::io::{read_intensity, read_label_map, DataType, ReadOptions};
use liverkit::volumetry::{label_volumes, LabelVolume};
use liverkit::ErrorKind;
use serde_json::Value;

use crate::common::{assert_close, data, expected_files, expected_for, f64s, usizes};

/// Checks a file's grid against nibabel's.
fn check_grid(rel: &str, file: &NiftiFile, want: &Value) {
    let g = file.grid();
    assert_eq!(g.dims().to_vec(), usizes(&want["dims"]), "{rel}: dims");
    assert_eq!(
        file.all_dims().iter().map(|&d| d as usize).collect::<Vec<_>>(),
        usizes(&want["all_dims"]),
        "{rel}: all dims"
    );
    assert_eq!(
        g.orientation().to_string(),
        want["orientation"].as_str().unwrap(),
        "{rel}: orientation"
    );
    assert_close(
        g.voxel_volume_mm3(),
        want["voxel_volume_mm3"].as_f64().unwrap(),
        1e-9,
        &format!("{rel}: voxel volume"),
    );
    for (a, b) in g.spacing_mm().iter().zip(f64s(&want["spacing_mm"])) {
        assert_close(*a, b, 1e-9, &format!("{rel}: spacing"));
    }
    let rows = want["affine"].as_array().unwrap();
    for (r, row) in rows.iter().enumerate() {
        for (c, v) in f64s(row).into_iter().enumerate() {
            assert_close(g.affine()[(r, c)], v, 1e-9, &format!("{rel}: affine[{r}][{c}]"));
        }
    }
    assert_eq!(
        file.header().version as u64,
        want["nifti_version"].as_u64().unwrap(),
        "{rel}: version"
    );
}

/// Checks per-label results against nibabel's.
fn check_labels(rel: &str, got: &[LabelVolume], want: &Value, names: bool) {
    let want_labels = want["labels"].as_object().unwrap();
    assert_eq!(got.len(), want_labels.len(), "{rel}: number of labels");
    for l in got {
        let w = &want_labels[&l.label.to_string()];
        assert_eq!(
            l.voxels,
            w["voxels"].as_u64().unwrap(),
            "{rel}: label {} voxels",
            l.label
        );
        assert_close(
            l.volume_ml,
            w["volume_ml"].as_f64().unwrap(),
            1e-9,
            &format!("{rel}: label {} mL", l.label),
        );
        assert_eq!(
            l.bbox_min.to_vec(),
            usizes(&w["bbox_min"]),
            "{rel}: label {} bbox_min",
            l.label
        );
        assert_eq!(
            l.bbox_max.to_vec(),
            usizes(&w["bbox_max"]),
            "{rel}: label {} bbox_max",
            l.label
        );
        for (a, b) in l.centroid_mm.iter().zip(f64s(&w["centroid_mm"])) {
            assert!(
                (a - b).abs() < 1e-6,
                "{rel}: label {} centroid {:?} vs {b}",
                l.label,
                l.centroid_mm
            );
        }
        let faces = usizes(&w["faces"]);
        let names_of_faces = ["i_min", "i_max", "j_min", "j_max", "k_min", "k_max"];
        for (f, n) in names_of_faces.iter().zip(&faces) {
            let got_n = l
                .edge_faces
                .iter()
                .find(|e| e.face == *f)
                .map(|e| e.voxels)
                .unwrap_or(0);
            assert_eq!(got_n as usize, *n, "{rel}: label {} face {f}", l.label);
        }
        assert_eq!(
            l.touches_edge,
            faces.iter().any(|&n| n > 0),
            "{rel}: label {} touches_edge",
            l.label
        );
        if names {
            let want_name = want["names"].get(l.label.to_string()).and_then(Value::as_str);
            assert_eq!(l.name.as_deref(), want_name, "{rel}: label {} name", l.label);
        }
    }
}

#[test]
fn label_maps_match_nibabel_streamed_and_in_memory() {
    let files = expected_files("labels");
    assert!(
        files.len() >= 30,
        "expected many label files, got {}",
        files.len()
    );
    for rel in &files {
        let want = expected_for(rel);
        let path = data(rel);
        let file = NiftiFile::open(&path).unwrap_or_else(|e| panic!("{rel}: {e}"));
        check_grid(rel, &file, want);

        // Streaming path (what `liverkit volumes` uses).
        let report =
            volumes_of_label_file(&path, &ReadOptions::default()).unwrap_or_else(|e| panic!("{rel}: {e}"));
        check_labels(rel, &report.labels, want, true);

        // Whole-volume path.
        let loaded = read_label_map(&path, &ReadOptions::default()).unwrap_or_else(|e| panic!("{rel}: {e}"));
        let in_memory = label_volumes(&loaded.value).unwrap();
        assert_eq!(
            in_memory, report.labels,
            "{rel}: streamed and in-memory volumetry differ"
        );
        let names: Vec<(i64, String)> = loaded
            .value
            .names()
            .iter()
            .map(|(k, v)| (*k, v.clone()))
            .collect();
        let want_names: Vec<(i64, String)> = want["names"]
            .as_object()
            .unwrap()
            .iter()
            .map(|(k, v)| (k.parse().unwrap(), v.as_str().unwrap().to_string()))
            .collect();
        let mut want_names = want_names;
        want_names.sort();
        assert_eq!(names, want_names, "{rel}: label names");
    }
}

#[test]
fn intensity_images_match_nibabel_scaling() {
    for rel in expected_files("intensity") {
        let want = &expected_for(&rel)["intensity"];
        let path = data(&rel);
        let file = NiftiFile::open(&path).unwrap();
        check_grid(&rel, &file, expected_for(&rel));
        let vol = read_intensity(&path, &ReadOptions::default())
            .unwrap_or_else(|e| panic!("{rel}: {e}"))
            .value;
        let a = vol.data();
        let finite: Vec<f64> = a.iter().filter(|v| v.is_finite()).map(|&v| v as f64).collect();
        let nan = a.len() - finite.len();
        assert_eq!(
            nan as u64,
            want["nan_count"].as_u64().unwrap(),
            "{rel}: NaN voxels"
        );
        let sum: f64 = finite.iter().sum();
        assert_close(sum, want["sum"].as_f64().unwrap(), 1e-6, &format!("{rel}: sum"));
        let min = finite.iter().cloned().fold(f64::INFINITY, f64::min);
        let max = finite.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
        assert_close(min, want["min"].as_f64().unwrap(), 1e-6, &format!("{rel}: min"));
        assert_close(max, want["max"].as_f64().unwrap(), 1e-6, &format!("{rel}: max"));
        for s in want["samples"].as_array().unwrap() {
            let ijk = [
                s[0].as_u64().unwrap() as usize,
                s[1].as_u64().unwrap() as usize,
                s[2].as_u64().unwrap() as usize,
            ];
            let got = a[ijk];
            match s[3].as_f64() {
                Some(v) => assert_close(got as f64, v, 1e-6, &format!("{rel}: voxel {ijk:?}")),
                None => assert!(got.is_nan(), "{rel}: voxel {ijk:?} should be NaN"),
            }
        }
    }
}

#[test]
fn four_d_headers_read_and_data_refused() {
    for rel in expected_files("header") {
        let path = data(&rel);
        let file = NiftiFile::open(&path).unwrap_or_else(|e| panic!("{rel}: {e}"));
        check_grid(&rel, &file, expected_for(&rel));
        let e = read_label_map(&path, &ReadOptions::default()).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Unsupported, "{rel}: {e}");
        assert_eq!(e.field(), Some("dim[4]"), "{rel}");
    }
}

#[test]
fn oblique_volume_is_voxels_times_det() {
    // sform rotated 30 degrees about z and about x, spacing 0.7 x 0.9 x 2.5 mm.
    let path = data("generated/oblique.nii.gz");
    let file = NiftiFile::open(&path).unwrap();
    let det = 0.7 * 0.9 * 2.5;
    assert_close(file.grid().voxel_volume_mm3(), det, 1e-6, "|det|");
    let report = volumes_of_label_file(&path, &ReadOptions::default()).unwrap();
    for l in &report.labels {
        assert_close(
            l.volume_ml,
            l.voxels as f64 * file.grid().voxel_volume_mm3() / 1000.0,
            1e-12,
            "volume",
        );
    }
    assert_eq!(
        report
            .labels
            .iter()
            .map(|l| l.name.clone().unwrap())
            .collect::<Vec<_>>(),
        ["ellipsoid", "sphere", "slab"]
    );
    // Not axis aligned: the affine has off-diagonal terms.
    assert!(file.grid().affine()[(0, 1)].abs() > 0.1);
}

#[test]
fn geometry_policy_sform_then_qform_then_pixdim() {
    let open = |rel: &str| NiftiFile::open(&data(rel)).unwrap();
    assert_eq!(
        open("generated/oblique.nii.gz").geometry_source(),
        GeometrySource::Sform
    );
    assert_eq!(
        open("generated/qform_only.nii.gz").geometry_source(),
        GeometrySource::Qform
    );
    let none = open("generated/no_xform.nii.gz");
    assert_eq!(none.geometry_source(), GeometrySource::Pixdim);
    assert!(
        none.warnings().iter().any(|w| w.field == "sform_code"),
        "{:?}",
        none.warnings()
    );
    // example_nifti2's qform differs from its sform by ~1e-4 in rotation: the
    // sform is used without a warning (the corners move < 1 % of a voxel).
    let n2 = open("nibabel/example_nifti2.nii.gz");
    assert_eq!(n2.geometry_source(), GeometrySource::Sform);
    assert!(
        n2.warnings().iter().all(|w| w.field != "qform"),
        "{:?}",
        n2.warnings()
    );
}

#[test]
fn units_in_metres_and_microns_become_mm() {
    let mm = NiftiFile::open(&data("generated/dtype_uint8.nii")).unwrap();
    for rel in ["generated/units_meter.nii.gz", "generated/units_micron.nii.gz"] {
        let f = NiftiFile::open(&data(rel)).unwrap();
        f.grid().ensure_same(mm.grid(), rel, "mm reference").unwrap();
        let r = volumes_of_label_file(&data(rel), &ReadOptions::default()).unwrap();
        let liters: f64 = r.labels.iter().map(|l| l.volume_ml).sum();
        assert!(liters > 0.8 && liters < 1.0, "{rel}: {liters} mL");
    }
}

#[test]
fn every_datatype_reads_with_its_type() {
    let cases = [
        ("dtype_uint8.nii", DataType::U8, "uint8"),
        ("dtype_int8.nii.gz", DataType::I8, "int8"),
        ("dtype_uint16.nii.gz", DataType::U16, "uint16"),
        ("dtype_int16.nii.gz", DataType::I16, "int16"),
        ("dtype_uint32.nii.gz", DataType::U32, "uint32"),
        ("dtype_int32.nii.gz", DataType::I32, "int32"),
        ("dtype_uint64.nii.gz", DataType::U64, "uint64"),
        ("dtype_int64.nii.gz", DataType::I64, "int64"),
        // Float label maps with whole numbers are accepted, as integers.
        ("dtype_float32.nii.gz", DataType::F32, "int32"),
        ("dtype_float64.nii.gz", DataType::F64, "int64"),
        ("bigendian_int16.nii", DataType::I16, "int16"),
    ];
    for (name, dtype, array_type) in cases {
        let path = data(&format!("generated/{name}"));
        assert_eq!(NiftiFile::open(&path).unwrap().dtype(), dtype, "{name}");
        let map = read_label_map(&path, &ReadOptions::default()).unwrap().value;
        assert_eq!(map.labels().type_name(), array_type, "{name}");
    }
    let big = NiftiFile::open(&data("generated/bigendian_int16.nii")).unwrap();
    assert!(big.header().big_endian);
}

#[test]
fn warnings_for_odd_headers() {
    let det = NiftiFile::open(&data("generated/det_mismatch.nii.gz")).unwrap();
    let w: Vec<_> = det.warnings().iter().filter(|w| w.field == "pixdim").collect();
    assert_eq!(w.len(), 1, "{:?}", det.warnings());
    assert!(w[0].message.contains("5.000 %"), "{}", w[0]);

    let loaded = read_label_map(&data("generated/scaled_labels.nii.gz"), &ReadOptions::default()).unwrap();
    assert!(
        loaded.warnings.iter().any(|w| w.field == "scl_slope"),
        "{:?}",
        loaded.warnings
    );
    // Read raw: the labels are 1, 2, 7, not 3, 5, 15.
    assert_eq!(loaded.value.present_labels(), vec![0, 1, 2, 7]);

    let ok = NiftiFile::open(&data("totalsegmentator/example_seg.nii.gz")).unwrap();
    assert!(ok.warnings().is_empty(), "{:?}", ok.warnings());
}

#[test]
fn label_table_extension_gives_names() {
    let f = NiftiFile::open(&data("totalsegmentator/example_seg.nii.gz")).unwrap();
    assert_eq!(f.label_names().len(), 117);
    assert_eq!(f.label_names().get(&5).map(String::as_str), Some("liver"));
    assert_eq!(
        f.label_names().get(&64).map(String::as_str),
        Some("portal_vein_and_splenic_vein")
    );
    // roi_subset names 5 (liver) and 90 (brain); only the liver is present.
    let r = volumes_of_label_file(
        &data("totalsegmentator/example_seg_roi_subset.nii.gz"),
        &ReadOptions::default(),
    )
    .unwrap();
    assert_eq!(r.labels.len(), 1);
    assert_eq!(r.labels[0].name.as_deref(), Some("liver"));
    assert_eq!(r.absent_labels.len(), 1);
    assert_eq!(r.absent_labels[0].name, "brain");
}

#[test]
fn lps_and_las_files_keep_their_orientation() {
    let mr = NiftiFile::open(&data("totalsegmentator/example_seg_mr.nii.gz")).unwrap();
    assert_eq!(mr.grid().orientation().to_string(), "LPS");
    let dicom = NiftiFile::open(&data("totalsegmentator/example_seg_dicom.nii.gz")).unwrap();
    assert_eq!(dicom.grid().orientation().to_string(), "LAS");
    assert_eq!(dicom.header().pixdim[0], -1.0);
}
