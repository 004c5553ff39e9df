//! DICOM series, DICOM SEG, NRRD and `.seg.nrrd` on the real files in
//! testdata/, against the values pydicom, highdicom and pynrrd give
//! (`testdata/formats_expected.py`, committed in `expected/formats.json`),
//! and every bad input the readers must refuse.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use liverkit::io::dicom::{read_seg, read_series, SegOptions};
use liverkit::io::{read_intensity, read_label_map, ReadOptions};
use liverkit::{ErrorKind, LabelMap};
use serde_json::Value;

use crate::common::{assert_close as close, data, run_cli};

fn expected() -> &'static Value {
    static E: OnceLock<Value> = OnceLock::new();
    E.get_or_init(|| {
        let text =
            std::fs::read_to_string(data("expected/formats.json")).expect("testdata/expected/formats.json");
        serde_json::from_str(&text).expect("valid JSON")
    })
}

fn f(v: &Value) -> f64 {
    v.as_f64().unwrap_or_else(|| panic!("not a number: {v}"))
}

/// Voxels, mL and world centroid (RAS mm) of one label in any layer.
fn label_stats(map: &LabelMap, label: i64) -> (u64, f64, [f64; 3]) {
    let m = map.mask_of(&[label]);
    let g = map.grid();
    let (mut n, mut sum) = (0u64, [0.0; 3]);
    for ((i, j, k), &v) in m.data().indexed_iter() {
        if v {
            n += 1;
            let w = g.voxel_to_world([i as f64, j as f64, k as f64]);
            for a in 0..3 {
                sum[a] += w[a];
            }
        }
    }
    (n, g.volume_ml(n), sum.map(|s| s / n.max(1) as f64))
}

#[test]
fn dicom_series_match_pydicom() {
    let opts = ReadOptions::default();
    for (rel, e) in expected()["series"].as_object().unwrap() {
        let v = read_intensity(&data(rel), &opts)
            .unwrap_or_else(|err| panic!("{rel}: {err}"))
            .value;
        let g = v.grid();
        let dims: Vec<usize> = e["dims"]
            .as_array()
            .unwrap()
            .iter()
            .map(|d| d.as_u64().unwrap() as usize)
            .collect();
        assert_eq!(g.dims().to_vec(), dims, "{rel}");
        let a = g.affine();
        // The in-plane columns and the origin always; the slice column when
        // the series has more than one slice.
        let rows = e["affine"].as_array();
        let sp = e["spacing_mm"].as_array().unwrap();
        close(g.spacing_mm()[0], f(&sp[0]), 1e-6, rel);
        close(g.spacing_mm()[1], f(&sp[1]), 1e-6, rel);
        if let Some(rows) = rows {
            for r in 0..3 {
                for c in 0..4 {
                    let want = f(&rows[r][c]);
                    assert!(
                        (a[(r, c)] - want).abs() < 1e-4,
                        "{rel}: affine[{r}][{c}] {} vs {want}",
                        a[(r, c)]
                    );
                }
            }
        }
        let values: Vec<f64> = v.data().iter().map(|&x| x as f64).collect();
        close(values.iter().sum(), f(&e["sum"]), 1e-9, &format!("{rel} sum"));
        close(
            values.iter().cloned().fold(f64::MAX, f64::min),
            f(&e["min"]),
            1e-9,
            rel,
        );
        close(
            values.iter().cloned().fold(f64::MIN, f64::max),
            f(&e["max"]),
            1e-9,
            rel,
        );
        for s in e["samples"].as_array().unwrap() {
            let ijk = [0, 1, 2].map(|a| s[a].as_u64().unwrap() as usize);
            let got = v.data()[[ijk[0], ijk[1], ijk[2]]] as f64;
            close(got, f(&s[3]), 1e-9, &format!("{rel} voxel {ijk:?}"));
        }
    }
}

#[test]
fn slice_step_comes_from_positions_not_slice_thickness() {
    // dcmqi's three slices are 1.0 mm apart while SliceThickness says 1.25;
    // TotalSegmentator's are 2 mm apart with SliceThickness 3.
    for (rel, step) in [
        ("dcmqi/ct-3slice", 1.0),
        ("totalsegmentator/example_ct_dicom", 2.0),
    ] {
        let s = read_series(&[data(rel)], None, &ReadOptions::default()).unwrap();
        close(s.slice_step_mm, step, 1e-9, rel);
        close(s.volume.grid().spacing_mm()[2], step, 1e-9, rel);
        assert!(
            s.warnings.iter().any(|w| w.field == "SliceThickness"),
            "{rel}: {:?}",
            s.warnings
        );
    }
    // The TotalSegmentator series has empty UIDs in its datasets: grouped by
    // frame of reference, slices identified by the file meta's SOP instance.
    let s = read_series(
        &[data("totalsegmentator/example_ct_dicom")],
        None,
        &ReadOptions::default(),
    )
    .unwrap();
    assert!(
        s.summary.uid.contains("no SeriesInstanceUID"),
        "{}",
        s.summary.uid
    );
    assert!(s
        .instance_uids
        .iter()
        .all(|u| u.starts_with("1.3.12.2.1107.5.1.4.60064")));
    // Same world grid as TotalSegmentator's NIfTI of this series (which flips j).
    let nifti = read_label_map(
        &data("totalsegmentator/example_seg_dicom.nii.gz"),
        &ReadOptions::default(),
    )
    .unwrap()
    .value;
    let (a, b) = (s.volume.grid(), nifti.grid());
    for corner in [[0.0, 0.0, 0.0], [511.0, 511.0, 19.0]] {
        let w = a.voxel_to_world(corner);
        let flipped = b.voxel_to_world([corner[0], 511.0 - corner[1], corner[2]]);
        for k in 0..3 {
            assert!((w[k] - flipped[k]).abs() < 1e-3, "{w:?} vs {flipped:?}");
        }
    }
}

#[test]
fn a_series_with_a_gap_is_reported_not_averaged() {
    let e = read_intensity(
        &data("pydicom/dicomdirtests/77654033/CT2"),
        &ReadOptions::default(),
    )
    .unwrap_err();
    let text = e.to_string();
    assert_eq!(e.kind(), ErrorKind::Header, "{text}");
    assert!(
        text.contains("gap of 202.500 mm") && text.contains("missing") && text.contains("17106"),
        "{text}"
    );
}

#[test]
fn dicom_segs_match_highdicom_and_all_liver_variants_agree() {
    let opts = ReadOptions::default();
    let reference = &expected()["seg"]["dcmqi/liver.dcm"]["segments"]["1"];
    for (rel, e) in expected()["seg"].as_object().unwrap() {
        let map = read_label_map(&data(rel), &opts)
            .unwrap_or_else(|err| panic!("{rel}: {err}"))
            .value;
        let segments = match e.get("segments") {
            Some(s) => s.as_object().unwrap().clone(),
            // highdicom cannot read this variant (big endian, deflated
            // frames, 1-bit RLE): it must give dcmqi's liver.
            None => {
                assert!(rel.contains("liver_"), "{rel}: {e}");
                [("1".to_string(), reference.clone())].into_iter().collect()
            }
        };
        if let Some(sp) = e.get("spacing_sorted_mm") {
            let mut mine = map.grid().spacing_mm().to_vec();
            mine.sort_by(f64::total_cmp);
            for (a, b) in mine.iter().zip(sp.as_array().unwrap()) {
                close(*a, f(b), 1e-5, rel);
            }
        }
        for (number, s) in &segments {
            let label: i64 = number.parse().unwrap();
            let (n, ml, centroid) = label_stats(&map, label);
            assert_eq!(n, s["voxels"].as_u64().unwrap(), "{rel} segment {number}");
            close(ml, f(&s["volume_ml"]), 1e-6, rel);
            if let Some(c) = s.get("centroid_mm") {
                for a in 0..3 {
                    assert!(
                        (centroid[a] - f(&c[a])).abs() < 1e-3,
                        "{rel} segment {number}: {centroid:?} vs {c}"
                    );
                }
            }
            assert_eq!(
                map.names().get(&label).map(String::as_str),
                s["label"].as_str(),
                "{rel}"
            );
        }
        if e["fractional"] == true {
            let seg = read_seg(&data(rel), None, &SegOptions::default(), &opts).unwrap();
            for s in &seg.segments {
                let want = f(&segments[&s.number.to_string()]["fractional_ml"]);
                close(s.fractional_ml.unwrap(), want, 1e-6, rel);
            }
        }
    }
}

#[test]
fn overlapping_segments_are_kept_apart() {
    let opts = ReadOptions::default();
    let map = read_label_map(&data("highdicom/seg_image_ct_binary_overlap.dcm"), &opts)
        .unwrap()
        .value;
    assert_eq!(
        map.overlays().len(),
        1,
        "two segments that overlap need two layers"
    );
    let both = map
        .mask_of(&[1])
        .data()
        .iter()
        .zip(map.mask_of(&[2]).data().iter())
        .filter(|(a, b)| **a && **b)
        .count();
    assert!(both > 0, "the segments share voxels");
    // Writing overlapping layers into one NIfTI label map is refused.
    let dir = tempfile::tempdir().unwrap();
    let e = liverkit::io::nifti::write_label_map(&dir.path().join("x.nii.gz"), &map, None).unwrap_err();
    assert!(e.to_string().contains("overlapping"), "{e}");
    assert!(!dir.path().join("x.nii.gz").exists());
}

#[test]
fn a_seg_on_its_reference_series_grid() {
    let opts = ReadOptions {
        reference: Some(data("dcmqi/ct-3slice")),
        ..ReadOptions::default()
    };
    let on_ct = read_label_map(&data("dcmqi/liver.dcm"), &opts).unwrap().value;
    let ct = read_series(&[data("dcmqi/ct-3slice")], None, &ReadOptions::default()).unwrap();
    ct.volume.grid().ensure_same(on_ct.grid(), "ct", "seg").unwrap();
    let own = read_label_map(&data("dcmqi/liver.dcm"), &ReadOptions::default())
        .unwrap()
        .value;
    assert_eq!(label_stats(&on_ct, 1).0, label_stats(&own, 1).0);
    for a in 0..3 {
        assert!((label_stats(&on_ct, 1).2[a] - label_stats(&own, 1).2[a]).abs() < 1e-4);
    }
    // A SEG made on another series is refused, naming both.
    let wrong = ReadOptions {
        reference: Some(data("dcmqi/ct-3slice")),
        ..ReadOptions::default()
    };
    let e = read_label_map(&data("highdicom/seg_image_ct_binary.dcm"), &wrong).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::GridMismatch, "{e}");
    assert!(e.to_string().contains("references series"), "{e}");
    // On the CLI: volumes of the SEG on the CT's grid.
    let (code, out, err) = run_cli(&[
        "--reference",
        data("dcmqi/ct-3slice").to_str().unwrap(),
        "volumes",
        data("dcmqi/liver.dcm").to_str().unwrap(),
        "--json",
    ]);
    assert_eq!(code, 0, "{err}");
    let v: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["labels"][0]["voxels"], 107098);
    assert_eq!(v["labels"][0]["name"], "Liver");
}

#[test]
fn nrrd_and_seg_nrrd_match_pynrrd() {
    let opts = ReadOptions::default();
    for (rel, e) in expected()["nrrd"].as_object().unwrap() {
        let path = data(rel);
        let g = if e["labels"].as_object().unwrap().is_empty() {
            let v = read_intensity(&path, &opts).unwrap().value;
            let sum: f64 = v.data().iter().map(|&x| x as f64).sum();
            close(sum, f(&e["sum"]), 1e-9, rel);
            v.grid().clone()
        } else {
            let map = read_label_map(&path, &opts).unwrap().value;
            assert_eq!(
                map.overlays().len() + 1,
                e["layers"].as_u64().unwrap() as usize,
                "{rel}"
            );
            for (key, want) in e["labels"].as_object().unwrap() {
                let label = key
                    .parse::<i64>()
                    .ok()
                    .or_else(|| map.names().iter().find(|(_, n)| *n == key).map(|(v, _)| *v))
                    .unwrap_or_else(|| panic!("{rel}: no label {key}"));
                let (n, ml, _) = label_stats(&map, label);
                assert_eq!(n, want["voxels"].as_u64().unwrap(), "{rel} {key}");
                close(ml, f(&want["volume_ml"]), 1e-6, rel);
            }
            map.grid().clone()
        };
        let dims: Vec<usize> = e["dims"]
            .as_array()
            .unwrap()
            .iter()
            .map(|d| d.as_u64().unwrap() as usize)
            .collect();
        assert_eq!(g.dims().to_vec(), dims, "{rel}");
        let a = g.affine();
        for r in 0..3 {
            for c in 0..4 {
                assert!(
                    (a[(r, c)] - f(&e["affine"][r][c])).abs() < 1e-6,
                    "{rel} affine[{r}][{c}]"
                );
            }
        }
    }
    // CTChest4 has negative x and y directions in LPS: RAS in liverkit's world.
    let v = read_intensity(&data("slicerio/CTChest4.nrrd"), &opts)
        .unwrap()
        .value;
    assert_eq!(v.grid().orientation().to_string(), "RAS");
}

fn write(dir: &Path, name: &str, bytes: &[u8]) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, bytes).unwrap();
    p
}

#[test]
fn bad_dicom_and_nrrd_input_is_refused_with_the_field_named() {
    let dir = tempfile::tempdir().unwrap();
    let opts = ReadOptions::default();
    // A DICOM file without pixel data.
    let mut obj = dicom_object::open_file(data("pydicom/CT_small.dcm")).unwrap();
    obj.remove_element(dicom_dictionary_std::tags::PIXEL_DATA);
    let no_pixels = dir.path().join("no_pixels.dcm");
    obj.write_to_file(&no_pixels).unwrap();
    let e = read_intensity(&no_pixels, &opts).unwrap_err();
    assert!(
        e.to_string().contains("PixelData") && e.to_string().contains("no_pixels.dcm"),
        "{e}"
    );
    // A truncated file.
    let full = std::fs::read(data("pydicom/CT_small.dcm")).unwrap();
    let cut = write(dir.path(), "cut.dcm", &full[..full.len() / 2]);
    let e = read_intensity(&cut, &opts).unwrap_err();
    assert!(e.to_string().contains("cut.dcm"), "{e}");
    assert!(
        matches!(e.kind(), ErrorKind::Truncated | ErrorKind::Header),
        "{e}"
    );
    // Transfer syntaxes the decoders lack: named.
    let (rel, uid) = ("pydicom/MR_small_jpeg_ls_lossless.dcm", "1.2.840.10008.1.2.4.80");
    let e = read_intensity(&data(rel), &opts).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Unsupported, "{rel}: {e}");
    assert!(
        e.to_string().contains(uid) && e.to_string().contains("TransferSyntaxUID"),
        "{e}"
    );
    // A directory holding two series: listed, and one chosen by UID.
    let two = dir.path().join("two");
    std::fs::create_dir(&two).unwrap();
    for rel in [
        "dcmqi/ct-3slice/01.dcm",
        "dcmqi/ct-3slice/02.dcm",
        "pydicom/MR_small.dcm",
    ] {
        std::fs::copy(data(rel), two.join(rel.replace('/', "_"))).unwrap();
    }
    let e = read_intensity(&two, &opts).unwrap_err();
    // The library names the parameter (`series`); the command line shows it
    // as --series.
    assert_eq!(e.field(), Some("series"), "{e}");
    assert!(e.to_string().contains("2 series"), "{e}");
    let mr = ReadOptions {
        series: Some("1.3.6.1.4.1.5962.1.3.4.1.20040826185059.5457".into()),
        ..ReadOptions::default()
    };
    assert_eq!(
        read_intensity(&two, &mr).unwrap().value.grid().dims(),
        [64, 64, 1]
    );
    // A label map is not an image series, nor the other way round.
    let e = read_label_map(&data("dcmqi/ct-3slice"), &opts).unwrap_err();
    assert!(e.to_string().contains("SEG"), "{e}");
    // NRRD: an unknown encoding, and data that does not match the header.
    let header = |encoding: &str| {
        format!(
            "NRRD0004\ntype: uint8\ndimension: 3\nspace: left-posterior-superior\nsizes: 4 4 2\n\
             space directions: (1,0,0) (0,1,0) (0,0,2)\nspace origin: (0,0,0)\nencoding: {encoding}\n\n"
        )
    };
    let mut bytes = header("bzip2").into_bytes();
    bytes.extend([0u8; 32]);
    let p = write(dir.path(), "bz.nrrd", &bytes);
    let e = read_label_map(&p, &opts).unwrap_err();
    assert!(
        e.to_string().contains("encoding") && e.to_string().contains("bzip2"),
        "{e}"
    );
    let mut bytes = header("raw").into_bytes();
    bytes.extend([1u8; 31]);
    let p = write(dir.path(), "short.nrrd", &bytes);
    let e = read_label_map(&p, &opts).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Truncated, "{e}");
    assert!(
        e.to_string().contains("short.nrrd") && e.to_string().contains("does not match"),
        "{e}"
    );
    let mut bytes = header("raw").into_bytes();
    bytes.extend([1u8; 32]);
    let p = write(dir.path(), "ok.nrrd", &bytes);
    assert_eq!(label_stats(&read_label_map(&p, &opts).unwrap().value, 1).0, 32);
    // A multi-byte type without an endianness.
    let p = write(
        dir.path(),
        "noendian.nrrd",
        b"NRRD0004\ntype: short\ndimension: 3\nsizes: 1 1 1\nspacings: 1 1 1\nencoding: raw\n\n\x01\x00",
    );
    let e = read_label_map(&p, &opts).unwrap_err();
    assert!(e.to_string().contains("endian"), "{e}");
}

#[test]
fn segments_chosen_by_code_and_pve_dates_from_dicom() {
    // The dcmqi liver is coded SRT T-62000; its SNOMED CT code selects it.
    let liver = data("pydicom-data/liver_j2k.dcm");
    let spec = format!("{}:SCT^10200004", liver.display());
    let (code, out, err) = run_cli(&["remnant", "--liver", &spec, "--plane", "0,0,0:1,0,0", "--json"]);
    assert!(code == 0 || code == 1, "{err}");
    let v: Value = serde_json::from_str(&out).unwrap();
    close(
        f(&v["total_liver_ml"]),
        107098.0 * 0.810547f64.powi(2) / 1000.0,
        1e-4,
        "liver by code",
    );
    // Scan dates from the DICOM inputs: StudyDate 1995-09-03 and 2003-04-17.
    let pre = data("highdicom/seg_image_ct_binary.dcm");
    let post = data("dcmqi/liver.dcm");
    let (code, out, err) = run_cli(&[
        "pve",
        pre.to_str().unwrap(),
        post.to_str().unwrap(),
        "--liver",
        "1",
        "--remnant",
        "1",
        "--json",
    ]);
    assert!(code == 0 || code == 1, "{err}");
    let v: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(f(&v["days"]), 2783.0, "{}", v["days"]);
}

#[test]
fn info_describes_dicom_and_nrrd_inputs() {
    let (code, out, err) = run_cli(&[
        "info",
        data("totalsegmentator/example_ct_dicom").to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{err}");
    for want in [
        "CT",
        "JPEG 2000 lossless",
        "slices       20",
        "0.976562 x 0.976562 x 2",
        "LPS",
        "2022-12-08",
    ] {
        assert!(out.contains(want), "missing {want}: {out}");
    }
    let (code, out, err) = run_cli(&[
        "info",
        data("dcmqi/partial_overlaps.dcm").to_str().unwrap(),
        "--json",
    ]);
    assert_eq!(code, 0, "{err}");
    let v: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["format"], "DICOM SEG");
    assert_eq!(v["segments"].as_array().unwrap().len(), 5);
    assert_eq!(v["segments"][0]["label"], "GREEN");
    assert!(v["segments"][0]["property_type"]["value"].as_str().is_some());
    let (code, out, err) = run_cli(&[
        "info",
        data("slicerio/SegmentationOverlapping.seg.nrrd")
            .to_str()
            .unwrap(),
    ]);
    assert_eq!(code, 0, "{err}");
    assert!(
        out.contains("in 2 layers") && out.contains("overlapping sphere") && out.contains("SCT^39607008"),
        "{out}"
    );
}

/// Copies of dcmqi's three CT slices with their geometry edited by `edit`
/// (slice index, position, orientation → new position, orientation).
fn edited_series(dir: &Path, edit: impl Fn(usize, [f64; 3], [f64; 6]) -> ([f64; 3], [f64; 6])) -> PathBuf {
    use dicom_core::{dicom_value, DataElement, VR};
    use dicom_dictionary_std::tags;
    let out = dir.join(format!("series_{}", rand_suffix()));
    std::fs::create_dir(&out).unwrap();
    for (k, name) in ["01.dcm", "02.dcm", "03.dcm"].iter().enumerate() {
        let mut obj = dicom_object::open_file(data(&format!("dcmqi/ct-3slice/{name}"))).unwrap();
        let pos: Vec<f64> = obj
            .element(tags::IMAGE_POSITION_PATIENT)
            .unwrap()
            .to_multi_float64()
            .unwrap();
        let iop: Vec<f64> = obj
            .element(tags::IMAGE_ORIENTATION_PATIENT)
            .unwrap()
            .to_multi_float64()
            .unwrap();
        let (p, o) = edit(
            k,
            [pos[0], pos[1], pos[2]],
            [iop[0], iop[1], iop[2], iop[3], iop[4], iop[5]],
        );
        let s = |v: f64| format!("{v}");
        obj.put(DataElement::new(
            tags::IMAGE_POSITION_PATIENT,
            VR::DS,
            dicom_value!(Strs, [s(p[0]), s(p[1]), s(p[2])]),
        ));
        obj.put(DataElement::new(
            tags::IMAGE_ORIENTATION_PATIENT,
            VR::DS,
            dicom_value!(Strs, [s(o[0]), s(o[1]), s(o[2]), s(o[3]), s(o[4]), s(o[5])]),
        ));
        obj.write_to_file(out.join(name)).unwrap();
    }
    out
}

fn rand_suffix() -> u64 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static N: AtomicU64 = AtomicU64::new(0);
    N.fetch_add(1, Ordering::Relaxed)
}

#[test]
fn tilted_uneven_duplicated_or_mixed_slices_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let opts = ReadOptions::default();
    let err = |p: &Path| read_intensity(p, &opts).unwrap_err().to_string();
    // The unedited copies read (the editing itself changes nothing).
    let same = edited_series(dir.path(), |_, p, o| (p, o));
    assert_eq!(
        read_intensity(&same, &opts).unwrap().value.grid().dims(),
        [512, 512, 3]
    );
    // Gantry tilt: each slice shifted 0.5 mm along y as z moves 1 mm.
    let tilted = edited_series(dir.path(), |k, p, o| {
        ([p[0], p[1] + 0.5 * (2 - k) as f64, p[2]], o)
    });
    let e = err(&tilted);
    assert!(e.contains("gantry tilt of 26.57°"), "{e}");
    // Uneven spacing: the last slice 0.2 mm further away.
    let uneven = edited_series(dir.path(), |k, p, o| {
        ([p[0], p[1], if k == 0 { p[2] + 0.2 } else { p[2] }], o)
    });
    let e = err(&uneven);
    assert!(e.contains("uniform slice spacing"), "{e}");
    // A tiny unevenness is a warning, the median step is used.
    let almost = edited_series(dir.path(), |k, p, o| {
        ([p[0], p[1], if k == 0 { p[2] + 0.005 } else { p[2] }], o)
    });
    let loaded = read_intensity(&almost, &opts).unwrap();
    assert!(
        loaded.warnings.iter().any(|w| w.message.contains("median")),
        "{:?}",
        loaded.warnings
    );
    // Two slices at one position.
    let dup = edited_series(dir.path(), |k, p, o| {
        ([p[0], p[1], if k == 1 { p[2] - 1.0 } else { p[2] }], o)
    });
    let e = err(&dup);
    assert!(e.contains("same position"), "{e}");
    // Mixed orientations.
    let mixed = edited_series(dir.path(), |k, p, o| {
        (
            p,
            if k == 2 {
                [1.0, 0.0, 0.0, 0.0, 0.0, -1.0]
            } else {
                o
            },
        )
    });
    let e = err(&mixed);
    assert!(
        e.contains("ImageOrientationPatient") && e.contains("one orientation per series"),
        "{e}"
    );
}

#[test]
fn outputs_from_nrrd_and_dicom_inputs_are_nifti_on_the_input_grid() {
    let dir = tempfile::tempdir().unwrap();
    let seg = data("slicerio/Segmentation.seg.nrrd");
    let out = dir.path().join("target.nii.gz");
    let (code, _, err) = run_cli(&[
        "target",
        seg.to_str().unwrap(),
        "--tumor",
        "thoracic vertebral column",
        "--liver",
        "tissue",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{err}");
    let opts = ReadOptions::default();
    let written = read_label_map(&out, &opts).unwrap().value;
    let input = read_label_map(&seg, &opts).unwrap().value;
    input
        .grid()
        .ensure_same(written.grid(), "seg.nrrd", "target")
        .unwrap();
    // The margin map of a DICOM SEG tumour against a zone from the same SEG.
    let overlaps = data("dcmqi/partial_overlaps.dcm");
    let o = overlaps.to_str().unwrap();
    let map = dir.path().join("margin.nii.gz");
    let (code, _, err) = run_cli(&[
        "margin",
        "--tumor",
        &format!("{o}:1"),
        "--zone",
        &format!("{o}:1,2,3,4,5"),
        "--margin-map",
        map.to_str().unwrap(),
    ]);
    assert!(code == 0 || code == 1, "{err}");
    let m = read_intensity(&map, &opts).unwrap().value;
    let own = read_label_map(&overlaps, &opts).unwrap().value;
    own.grid().ensure_same(m.grid(), "seg", "margin map").unwrap();
}
