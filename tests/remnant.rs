//! The future liver remnant: formulas against CLINICAL.md's worked vector,
//! resections on a phantom of known segment volumes, plane cuts against an
//! analytic sphere and against numpy on a real liver, PVE, and bad input.

use std::path::{Path, PathBuf};

use liverkit::case::remnant::{
    assess, assess_pve, days_between, report, AssessOptions, Patient, RemnantRequest, RemnantSpec, Roles,
    Threshold,
};
use liverkit::case::roles::{LabelRef, RoleSpec};
use liverkit::io::nifti::write_label_map;
use liverkit::io::ReadOptions;
use liverkit::remnant::formulas::{self, BsaFormula, LiverCondition, TelvFormula};
use liverkit::remnant::resection::{RemnantDefinition, Resection};
use liverkit::remnant::{measure, Anatomy, RemnantRegion};
use liverkit::{ErrorKind, Grid, LabelArray, LabelMap, LabelNames, Mask};
use ndarray::{Array3, ShapeBuilder};

use crate::common::{assert_close, data, expected, run_cli};

fn round(v: f64, decimals: i32) -> f64 {
    let f = 10f64.powi(decimals);
    (v * f).round() / f
}

fn patient() -> AssessOptions {
    AssessOptions {
        patient: Some(Patient {
            height_cm: 175.0,
            weight_kg: 75.0,
        }),
        ..AssessOptions::default()
    }
}

fn roles() -> Roles {
    Roles {
        liver: "test liver".into(),
        tumor: Some("test tumour".into()),
        segments: None,
    }
}

#[test]
fn clinical_worked_vector() {
    // CLINICAL.md §2: 175 cm, 75 kg.
    let mosteller = formulas::bsa_m2(175.0, 75.0, BsaFormula::Mosteller);
    assert_eq!(round(mosteller, 4), 1.9094);
    assert_eq!(
        round(formulas::bsa_m2(175.0, 75.0, BsaFormula::DuBois), 4),
        1.9031
    );
    assert_eq!(
        round(formulas::telv_ml(mosteller, TelvFormula::Vauthey), 1),
        1625.3
    );
    assert_eq!(round(formulas::telv_ml(mosteller, TelvFormula::Urata), 1), 1350.8);
    assert_eq!(
        round(formulas::telv_ml(mosteller, TelvFormula::Heinemann), 1),
        1702.7
    );

    // FLR 400 -> 520 mL over 4 weeks, through the whole pipeline: voxels of
    // exactly 1 mL (10 mm cubes), remnants of 400 and 520 voxels.
    let dir = tempfile::tempdir().unwrap();
    let pre = case_file(dir.path(), "pre.nii.gz", 400);
    let post = case_file(dir.path(), "post.nii.gz", 520);
    let req = |p: PathBuf| RemnantRequest {
        label_map: Some(p),
        liver: Some(RoleSpec::Labels(vec![LabelRef::Value(1), LabelRef::Value(2)])),
        tumor: None,
        segments: None,
        remnant: Some(RemnantSpec::Region(RoleSpec::Labels(vec![LabelRef::Value(2)]))),
    };
    let pve = assess_pve(&req(pre), &req(post), 28.0, &patient(), &ReadOptions::default()).unwrap();
    assert_eq!(pve.pre.remnant_ml, Some(400.0));
    assert_eq!(round(pve.pre.sflr_pct.unwrap(), 2), 24.61);
    assert_eq!(round(pve.post.sflr_pct.unwrap(), 2), 31.99);
    assert_eq!(round(pve.dh_points, 2), 7.38);
    assert_eq!(round(pve.kgr_points_per_week, 2), 1.85);
    assert_eq!(round(pve.pre.flr_bwr_pct.unwrap(), 2), 0.53);
    assert_eq!(round(pve.post.flr_bwr_pct.unwrap(), 2), 0.69);
    assert_eq!(pve.weeks, 4.0);
    assert!(!pve.kgr_sufficient, "1.85 points/week is below 2");
    assert!(!pve.sufficient);
    assert!(pve.dh_ge_5_points);
    assert_close(pve.flr_growth_ml, 120.0, 1e-12, "growth mL");
    assert_close(pve.flr_growth_pct, 30.0, 1e-12, "growth %");
}

/// A 1000-voxel liver of 1 mL voxels (label 1) of which `remnant` voxels are label 2.
fn case_file(dir: &Path, name: &str, remnant: usize) -> PathBuf {
    let grid = Grid::from_spacing([10, 10, 10], [10.0, 10.0, 10.0]).unwrap();
    let mut n = 0;
    let a = Array3::from_shape_simple_fn((10, 10, 10).f(), || {
        n += 1;
        if n <= remnant {
            2u8
        } else {
            1
        }
    });
    let map = LabelMap::new(grid, LabelArray::U8(a), LabelNames::new()).unwrap();
    let path = dir.join(name);
    write_label_map(&path, &map, None).unwrap();
    path
}

/// A box liver cut into the eight Couinaud segments, each a slab of known
/// size along i: segment s occupies `widths[s-1]` columns of 12 x 10 voxels.
fn segment_phantom() -> (Anatomy, [u64; 9]) {
    let widths = [3usize, 7, 5, 11, 9, 13, 8, 10];
    let ni: usize = widths.iter().sum();
    let grid = Grid::from_spacing([ni, 12, 10], [0.8, 0.9, 2.5]).unwrap();
    let mut seg = Array3::<u8>::zeros((ni, 12, 10).f());
    let mut counts = [0u64; 9];
    let mut i0 = 0;
    for (s, w) in widths.iter().enumerate() {
        for i in i0..i0 + w {
            seg.slice_mut(ndarray::s![i, .., ..]).fill(s as u8 + 1);
        }
        counts[s + 1] = (w * 12 * 10) as u64;
        i0 += w;
    }
    let liver = Mask::filled(grid, true);
    (
        Anatomy {
            liver,
            tumor: None,
            segments: Some(seg),
        },
        counts,
    )
}

#[test]
fn every_named_resection_on_known_segments() {
    let (anatomy, counts) = segment_phantom();
    let total: u64 = counts.iter().sum();
    for r in Resection::ALL {
        for with_caudate in [false, true] {
            let def = RemnantDefinition::Resection {
                resection: r,
                with_caudate,
            };
            let m = measure(&anatomy, RemnantRegion::Definition(&def)).unwrap();
            let removed = r.removed(with_caudate);
            let kept: u64 = (1..=8u8)
                .filter(|s| !removed.contains(s))
                .map(|s| counts[s as usize])
                .sum();
            assert_eq!(
                m.remnant_functional_voxels,
                Some(kept),
                "{} caudate {with_caudate}",
                r.name()
            );
            let rep = report(&m, Some(&def), &AssessOptions::default(), roles(), vec![], vec![]).unwrap();
            assert_close(
                rep.flr_pct.unwrap(),
                100.0 * kept as f64 / total as f64,
                1e-12,
                r.name(),
            );
            for s in &rep.segments {
                assert_eq!(s.in_remnant, Some(!removed.contains(&s.segment)));
                assert_close(
                    s.volume_ml,
                    counts[s.segment as usize] as f64 * 0.8 * 0.9 * 2.5 / 1000.0,
                    1e-12,
                    "seg",
                );
            }
        }
    }
    // Keep / remove lists mean the same as the named resection.
    let keep = RemnantDefinition::Keep(vec![1, 2, 3, 4]);
    let remove = RemnantDefinition::Remove(vec![5, 6, 7, 8]);
    let a = measure(&anatomy, RemnantRegion::Definition(&keep)).unwrap();
    let b = measure(&anatomy, RemnantRegion::Definition(&remove)).unwrap();
    assert_eq!(a, b);
    // Without a definition, every named resection is listed.
    let m = measure(&anatomy, RemnantRegion::None).unwrap();
    let rep = report(&m, None, &AssessOptions::default(), roles(), vec![], vec![]).unwrap();
    assert_eq!(rep.resections.len(), 8);
    assert!(rep.sufficient.is_none() && rep.remnant_ml.is_none());
    let right = rep
        .resections
        .iter()
        .find(|x| x.resection == "right-hepatectomy")
        .unwrap();
    assert_close(
        right.flr_pct,
        100.0 * (3 + 7 + 5 + 11) as f64 / 66.0,
        1e-12,
        "right hepatectomy",
    );
}

#[test]
fn tumour_in_the_remnant_is_reported_and_excluded() {
    let (mut anatomy, counts) = segment_phantom();
    // A tumour block in segment 2 (kept by a right hepatectomy) and one in 6.
    let grid = anatomy.liver.grid().clone();
    let mut tumor = Mask::filled(grid, false);
    tumor
        .data_mut()
        .slice_mut(ndarray::s![4..6, 2..5, 3..5])
        .fill(true); // segment 2: 2*3*2 = 12 voxels
    tumor
        .data_mut()
        .slice_mut(ndarray::s![36..40, 0..2, 0..2])
        .fill(true); // segment 6: 16 voxels
    anatomy.tumor = Some(tumor);
    let def = RemnantDefinition::Resection {
        resection: Resection::RightHepatectomy,
        with_caudate: false,
    };
    let m = measure(&anatomy, RemnantRegion::Definition(&def)).unwrap();
    assert_eq!(m.tumor_voxels, 28);
    assert_eq!(m.remnant_tumor_voxels, Some(12));
    assert_eq!(
        m.remnant_functional_voxels,
        Some(counts[1] + counts[2] + counts[3] + counts[4] - 12)
    );
    let rep = report(&m, Some(&def), &AssessOptions::default(), roles(), vec![], vec![]).unwrap();
    let vv = 0.8 * 0.9 * 2.5 / 1000.0;
    assert_close(
        rep.remnant_tumor_ml.unwrap(),
        12.0 * vv,
        1e-12,
        "tumour in remnant",
    );
    assert_close(
        rep.functional_liver_ml,
        rep.total_liver_ml - 28.0 * vv,
        1e-12,
        "functional",
    );
    assert!(
        rep.warnings.iter().any(|w| w.field == "remnant_tumor_ml"),
        "{:?}",
        rep.warnings
    );
}

#[test]
fn tumour_outside_the_liver_is_excluded_with_a_warning() {
    let grid = Grid::from_spacing([30, 20, 20], [1.0; 3]).unwrap();
    let mut liver = Mask::filled(grid.clone(), false);
    liver.data_mut().slice_mut(ndarray::s![0..15, .., ..]).fill(true);
    let mut tumor = Mask::filled(grid, false);
    tumor
        .data_mut()
        .slice_mut(ndarray::s![15..17, 5..7, 5..7])
        .fill(true); // touches the liver: 8 voxels
    tumor
        .data_mut()
        .slice_mut(ndarray::s![25..28, 5..7, 5..7])
        .fill(true); // apart: 12 voxels
    let a = Anatomy {
        liver,
        tumor: Some(tumor),
        segments: None,
    };
    let m = measure(&a, RemnantRegion::None).unwrap();
    assert_eq!(m.tumor_voxels, 8);
    assert_eq!(m.tumor_outside_voxels, 12);
    assert_eq!(m.total_liver_voxels, 15 * 20 * 20 + 8);
    let rep = report(&m, None, &AssessOptions::default(), roles(), vec![], vec![]).unwrap();
    let w = rep.warnings.iter().find(|w| w.field == "tumor").unwrap();
    assert!(
        w.message.contains("0.0 mL") || w.message.contains("neither overlaps"),
        "{}",
        w.message
    );
    assert_close(rep.tumor_outside_liver_ml, 0.012, 1e-12, "outside mL");
}

#[test]
fn plane_cut_of_a_sphere_matches_the_spherical_cap() {
    // Sphere of radius R = 40 mm on a 0.8 x 0.8 x 2.0 mm grid; plane at
    // distance d = 15 mm from the centre with an oblique normal.
    let (r, d) = (40.0f64, 15.0f64);
    let spacing = [0.8, 0.8, 2.0];
    let dims = [120usize, 120, 50];
    let centre = [48.0, 47.6, 49.0];
    let grid = Grid::from_spacing(dims, spacing).unwrap();
    let liver = Mask::new(
        grid.clone(),
        Array3::from_shape_fn((dims[0], dims[1], dims[2]).f(), |(i, j, k)| {
            let p = [
                i as f64 * spacing[0],
                j as f64 * spacing[1],
                k as f64 * spacing[2],
            ];
            (0..3).map(|a| (p[a] - centre[a]).powi(2)).sum::<f64>() <= r * r
        }),
    )
    .unwrap();
    let n = [0.48, 0.6, 0.64]; // unit normal
    let point = [centre[0] + d * n[0], centre[1] + d * n[1], centre[2] + d * n[2]];
    let def = RemnantDefinition::Plane {
        point_mm: point,
        normal: n,
    };
    let m = measure(
        &Anatomy {
            liver,
            tumor: None,
            segments: None,
        },
        RemnantRegion::Definition(&def),
    )
    .unwrap();
    let vv = grid.voxel_volume_mm3();
    let sphere = 4.0 / 3.0 * std::f64::consts::PI * r.powi(3);
    let h = r - d;
    let cap = std::f64::consts::PI * h * h * (3.0 * r - h) / 3.0;
    let kept = m.remnant_functional_voxels.unwrap() as f64 * vv;
    let total = m.total_liver_voxels as f64 * vv;
    // Voxelisation error: counting voxel centres misclassifies only voxels
    // cut by the surface, whose errors largely cancel; for a 40 mm sphere at
    // this spacing the count is within 0.3 % of the analytic volume (the
    // half-voxel shell is about 5 % of the volume, so this is 1/15 of it).
    assert!(
        (total - sphere).abs() / sphere < 0.003,
        "sphere {total} vs {sphere}"
    );
    assert!(
        (kept - (sphere - cap)).abs() / (sphere - cap) < 0.003,
        "kept {kept} vs {}",
        sphere - cap
    );
    let removed = total - kept;
    assert!((removed - cap).abs() / cap < 0.01, "cap {removed} vs {cap}");
}

#[test]
fn real_livers_cut_by_a_plane_match_numpy() {
    let cuts = expected()["plane_cuts"].as_array().unwrap();
    assert!(!cuts.is_empty());
    for c in cuts {
        let file = c["file"].as_str().unwrap();
        let p: Vec<f64> = c["point_mm"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_f64().unwrap())
            .collect();
        let n: Vec<f64> = c["normal"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_f64().unwrap())
            .collect();
        let req = RemnantRequest {
            label_map: Some(data(file)),
            liver: Some(RoleSpec::Labels(vec![LabelRef::Value(
                c["label"].as_i64().unwrap(),
            )])),
            tumor: None,
            segments: None,
            remnant: Some(RemnantSpec::Definition(RemnantDefinition::Plane {
                point_mm: [p[0], p[1], p[2]],
                normal: [n[0], n[1], n[2]],
            })),
        };
        let r = assess(&req, &AssessOptions::default(), &ReadOptions::default()).unwrap();
        assert_close(
            r.total_liver_ml,
            c["total_liver_ml"].as_f64().unwrap(),
            1e-9,
            file,
        );
        assert_close(
            r.remnant_ml.unwrap(),
            c["remnant_ml"].as_f64().unwrap(),
            1e-9,
            file,
        );
        assert_close(r.flr_pct.unwrap(), c["flr_pct"].as_f64().unwrap(), 1e-9, file);
        // Both livers are cut by their scans: the verdict says so.
        assert!(r.liver_touches_edge);
        assert!(r.verdict.contains("lower bound"), "{}", r.verdict);
    }
}

#[test]
fn totalsegmentator_names_give_the_default_roles() {
    // The `total` task: liver = 5, found by its name.
    let req = RemnantRequest {
        label_map: Some(data("totalsegmentator/example_seg_fast_force_split.nii.gz")),
        ..Default::default()
    };
    let r = assess(&req, &AssessOptions::default(), &ReadOptions::default()).unwrap();
    assert!(r.roles.liver.contains("5 (liver)"), "{}", r.roles.liver);
    assert_close(r.total_liver_ml, 1125.684, 1e-9, "TLV");
    assert!(
        r.warnings.iter().any(|w| w.field == "tumor"),
        "no tumour role must be said"
    );

    // The sample case: liver_segment_1..8 and liver_tumor.
    let req = RemnantRequest {
        label_map: Some(data("sample_case/pre_pve.nii.gz")),
        ..Default::default()
    };
    let r = assess(&req, &patient(), &ReadOptions::default()).unwrap();
    assert!(r.roles.tumor.as_deref().unwrap().contains("liver_tumor"));
    assert_eq!(r.segments.len(), 8);
    assert_eq!(r.resections.len(), 8);
    assert!(r.tumor_ml > 20.0);
    assert!(
        r.warnings.iter().all(|w| w.field != "segments"),
        "{:?}",
        r.warnings
    );

    // A map without names needs roles: nothing is guessed from values.
    let req = RemnantRequest {
        label_map: Some(data("generated/dtype_uint8.nii")),
        ..Default::default()
    };
    let e = assess(&req, &AssessOptions::default(), &ReadOptions::default()).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Parameter);
    assert_eq!(e.field(), Some("liver"));
}

#[test]
fn overlapping_files_like_totalsegmentator_tasks() {
    // liver_segments-style segments file + a liver_vessels-style tumour file
    // (1 vessels, 2 liver_tumor) overlapping the segments.
    let dir = tempfile::tempdir().unwrap();
    let (anatomy, counts) = segment_phantom();
    let grid = anatomy.liver.grid().clone();
    let seg = anatomy.segments.clone().unwrap();
    let seg_names: LabelNames = (1..=8)
        .map(|s| (s as i64, format!("liver_segment_{s}")))
        .collect();
    let seg_map = LabelMap::new(grid.clone(), LabelArray::U8(seg), seg_names).unwrap();
    let seg_path = dir.path().join("liver_segments.nii.gz");
    write_label_map(&seg_path, &seg_map, None).unwrap();
    let mut vt = Array3::<u8>::zeros((66, 12, 10).f());
    vt.slice_mut(ndarray::s![20..22, 0..3, 0..3]).fill(1); // vessel: ignored
    vt.slice_mut(ndarray::s![60..64, 5..8, 5..8]).fill(2); // tumour in segment 8: 36 voxels
    let vt_names: LabelNames = [(1, "liver_vessels".to_string()), (2, "liver_tumor".to_string())].into();
    let vt_path = dir.path().join("liver_vessels.nii.gz");
    write_label_map(
        &vt_path,
        &LabelMap::new(grid, LabelArray::U8(vt), vt_names).unwrap(),
        None,
    )
    .unwrap();

    let req = RemnantRequest {
        label_map: Some(seg_path),
        liver: None,
        tumor: Some(RoleSpec::parse("tumor", &format!("{}:liver_tumor", vt_path.display())).unwrap()),
        segments: None,
        remnant: Some(RemnantSpec::Definition(RemnantDefinition::Resection {
            resection: Resection::LeftHepatectomy,
            with_caudate: false,
        })),
    };
    let r = assess(&req, &AssessOptions::default(), &ReadOptions::default()).unwrap();
    let vv = 0.8 * 0.9 * 2.5 / 1000.0; // spacing stored as float32: compare to 1e-6
    assert_close(r.tumor_ml, 36.0 * vv, 1e-6, "tumour");
    let kept: u64 = [1, 5, 6, 7, 8].iter().map(|&s| counts[s]).sum::<u64>() - 36;
    assert_close(r.remnant_ml.unwrap(), kept as f64 * vv, 1e-6, "remnant");
    assert_close(r.remnant_tumor_ml.unwrap(), 36.0 * vv, 1e-6, "tumour in remnant");
    assert_eq!(r.input.len(), 2);
}

/// Measures and reports the remnant that keeps all eight segments.
fn keep_every_segment(
    anatomy: &Anatomy,
) -> (
    liverkit::remnant::Measurement,
    liverkit::case::remnant::RemnantReport,
) {
    let keep_all = RemnantDefinition::Keep((1..=8).collect());
    let m = measure(anatomy, RemnantRegion::Definition(&keep_all)).unwrap();
    let rep = report(
        &m,
        Some(&keep_all),
        &AssessOptions::default(),
        roles(),
        vec![],
        vec![],
    )
    .unwrap();
    (m, rep)
}

/// A liver island that no segment reaches (here: cut off from the
/// segmented liver by a gap of non-liver) is in no segment: it counts in the
/// functional liver but never in a segment-based remnant, and the report
/// says how much of it there is.
#[test]
fn liver_no_segment_reaches_stays_unassigned() {
    let (mut anatomy, _) = segment_phantom();
    let grid = anatomy.liver.grid().clone();
    let vv_ml = grid.voxel_volume_mm3() / 1000.0;
    // Liver: slabs i = 0..40 (segmented) and an island i = 50..60; no liver
    // between them. Segments: only i < 40.
    let mut liver = Mask::filled(grid.clone(), false);
    liver.data_mut().slice_mut(ndarray::s![0..40, .., ..]).fill(true);
    liver.data_mut().slice_mut(ndarray::s![50..60, .., ..]).fill(true);
    anatomy.liver = liver;
    let mut seg = anatomy.segments.take().unwrap();
    seg.slice_mut(ndarray::s![40.., .., ..]).fill(0);
    anatomy.segments = Some(seg);
    let (_, rep) = keep_every_segment(&anatomy);
    let per_slab = 12 * 10;
    assert_close(
        rep.functional_liver_ml,
        (50 * per_slab) as f64 * vv_ml,
        1e-9,
        "functional liver",
    );
    assert_close(
        rep.segments_unassigned_ml,
        (10 * per_slab) as f64 * vv_ml,
        1e-9,
        "unassigned",
    );
    // Keeping every segment keeps only the segmented 40 slabs: 80 %.
    assert_close(
        rep.remnant_ml.unwrap(),
        (40 * per_slab) as f64 * vv_ml,
        1e-9,
        "remnant",
    );
    assert_close(rep.flr_pct.unwrap(), 80.0, 1e-9, "flr");
    let sum: f64 = rep.segments.iter().map(|s| s.volume_ml).sum();
    assert_close(sum, (40 * per_slab) as f64 * vv_ml, 1e-9, "segments sum");
    assert!(
        rep.warnings
            .iter()
            .any(|w| w.field == "segments" && w.message.contains("reached by no segment")),
        "{:?}",
        rep.warnings
    );
}

#[test]
fn segments_that_miss_the_liver_warn() {
    let (mut anatomy, _) = segment_phantom();
    // Segments cover only the first half of the liver along j; the rest is
    // filled from the nearest segment.
    let seg = anatomy.segments.as_mut().unwrap();
    seg.slice_mut(ndarray::s![.., 6.., ..]).fill(0);
    let m = measure(&anatomy, RemnantRegion::None).unwrap();
    assert_eq!(m.filled_voxels, 66 * 6 * 10);
    let rep = report(&m, None, &AssessOptions::default(), roles(), vec![], vec![]).unwrap();
    assert!(rep.segments_filled_ml > 0.0);
    let msgs: Vec<&str> = rep
        .warnings
        .iter()
        .filter(|w| w.field == "segments")
        .map(|w| w.message.as_str())
        .collect();
    assert!(msgs.iter().any(|m| m.contains("nearest segment")), "{msgs:?}");
    assert!(msgs.iter().any(|m| m.contains("cover only 50.0 %")), "{msgs:?}");

    // A liver part that no segment reaches stays unassigned, out of the remnant.
    let (mut anatomy, counts) = segment_phantom();
    let grid = anatomy.liver.grid().clone();
    let mut liver = Mask::filled(grid.clone(), false);
    liver.data_mut().slice_mut(ndarray::s![0..60, .., ..]).fill(true);
    anatomy.liver = liver;
    let mut seg = anatomy.segments.take().unwrap();
    seg.slice_mut(ndarray::s![30..40, .., ..]).fill(0); // a gap cuts the liver in two
    anatomy.segments = Some(seg);
    let (m, rep) = keep_every_segment(&anatomy);
    assert!(
        rep.segments_unassigned_ml == 0.0,
        "the gap is filled from both sides"
    );
    assert_eq!(
        m.segments_outside_voxels,
        6 * 120,
        "segment voxels beyond the liver are counted"
    );
    assert_eq!(m.remnant_functional_voxels, Some(60 * 120));
    let _ = counts;
    assert!(
        rep.warnings
            .iter()
            .any(|w| w.message.contains("outside the liver")),
        "{:?}",
        rep.warnings
    );
}

#[test]
fn bad_roles_and_parameters() {
    let opts = AssessOptions::default();
    let read = ReadOptions::default();
    let map = data("totalsegmentator/example_seg.nii.gz");
    // Unknown label: the error lists the labels present.
    let req = RemnantRequest {
        label_map: Some(map.clone()),
        liver: Some(RoleSpec::Labels(vec![LabelRef::Value(250)])),
        ..Default::default()
    };
    let e = assess(&req, &opts, &read).unwrap_err();
    assert_eq!((e.kind(), e.field()), (ErrorKind::Parameter, Some("liver")));
    assert!(
        e.to_string().contains("5 (liver)") && e.to_string().contains("64 (portal_vein_and_splenic_vein)"),
        "{e}"
    );
    let req = RemnantRequest {
        label_map: Some(map.clone()),
        tumor: Some(RoleSpec::Labels(vec![LabelRef::Name("tumour".into())])),
        ..Default::default()
    };
    let e = assess(&req, &opts, &read).unwrap_err();
    assert_eq!(e.field(), Some("tumor"));
    assert!(e.to_string().contains("labels present"), "{e}");

    // Empty liver: a mask file with no voxel.
    let dir = tempfile::tempdir().unwrap();
    let empty = dir.path().join("empty.nii.gz");
    let src = liverkit::io::read_label_map(&map, &read).unwrap().value;
    liverkit::io::nifti::write_mask(&empty, &src.mask_of(&[200]), None).unwrap();
    let req = RemnantRequest {
        liver: Some(RoleSpec::parse("liver", empty.to_str().unwrap()).unwrap()),
        ..Default::default()
    };
    let e = assess(&req, &opts, &read).unwrap_err();
    assert_eq!(e.field(), Some("liver"));
    assert!(e.to_string().contains("non-empty"), "{e}");

    // Files on different grids: the error prints both grids.
    let req = RemnantRequest {
        label_map: Some(map.clone()),
        tumor: Some(RoleSpec::parse("tumor", data("generated/grid_a.nii.gz").to_str().unwrap()).unwrap()),
        ..Default::default()
    };
    let e = assess(&req, &opts, &read).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::GridMismatch);
    assert!(
        e.to_string().contains("122 x 101 x 30") && e.to_string().contains("23 x 17 x 11"),
        "{e}"
    );

    // Height and weight outside the human range.
    for (h, w, field) in [
        (17.5, 75.0, "height_cm"),
        (175.0, 0.75, "weight_kg"),
        (300.0, 75.0, "height_cm"),
    ] {
        let o = AssessOptions {
            patient: Some(Patient {
                height_cm: h,
                weight_kg: w,
            }),
            ..AssessOptions::default()
        };
        let req = RemnantRequest {
            label_map: Some(map.clone()),
            ..Default::default()
        };
        let e = assess(&req, &o, &read).unwrap_err();
        assert_eq!(e.field(), Some(field));
    }

    // Dates: post before pre, and not dates at all.
    assert_eq!(days_between("2026-03-02", "2026-03-30").unwrap(), 28.0);
    assert_eq!(
        days_between("2026-03-30", "2026-03-02").unwrap_err().field(),
        Some("post_date")
    );
    assert_eq!(
        days_between("2026-03-30", "2026-03-30").unwrap_err().field(),
        Some("post_date")
    );
    assert_eq!(
        days_between("March 2nd", "2026-03-30").unwrap_err().field(),
        Some("pre_date")
    );

    // A segment-based remnant needs segments.
    let req = RemnantRequest {
        label_map: Some(map),
        remnant: Some(RemnantSpec::Definition(RemnantDefinition::Keep(vec![2, 3]))),
        ..Default::default()
    };
    let e = assess(&req, &opts, &read).unwrap_err();
    assert_eq!(e.field(), Some("remnant"));
}

#[test]
fn thresholds_and_basis() {
    let (anatomy, _) = segment_phantom();
    let def = RemnantDefinition::Resection {
        resection: Resection::RightHepatectomy,
        with_caudate: false,
    };
    let m = measure(&anatomy, RemnantRegion::Definition(&def)).unwrap();
    // Segments 1-4 are 3 + 7 + 5 + 11 = 26 of the phantom's 66 slabs, so
    // FLR = 26/66 = 39.4 %: enough for a normal liver (20 %) or after
    // chemotherapy (30 %), not for cirrhosis (40 %): [Kishi2009],
    // [Shindoh2013], [Kubota1997] as docs/formulas/remnant.md tabulates them.
    let flr = 100.0 * 26.0 / 66.0;
    for (c, min_pct, enough) in [
        (LiverCondition::Normal, 20.0, true),
        (LiverCondition::Chemotherapy, 30.0, true),
        (LiverCondition::Cirrhosis, 40.0, false),
    ] {
        let o = AssessOptions {
            threshold: Threshold::Condition(c),
            ..AssessOptions::default()
        };
        let r = report(&m, Some(&def), &o, roles(), vec![], vec![]).unwrap();
        assert_eq!(r.threshold_basis, "flr");
        assert_eq!(r.threshold_pct, min_pct);
        assert_close(r.flr_pct.unwrap(), flr, 1e-12, "flr_pct");
        assert_eq!(r.sufficient, Some(enough), "{c:?}");
        // A verdict within the volumetry's uncertainty is BORDERLINE, with the
        // side in lower case.
        let says_insufficient = r.verdict.to_lowercase().contains("insufficient");
        assert_eq!(says_insufficient, !enough, "{c:?}: {}", r.verdict);
        assert_close(r.margin_points.unwrap(), flr - min_pct, 1e-12, "margin");
    }
    let o = AssessOptions {
        threshold: Threshold::MinPct(45.0),
        ..AssessOptions::default()
    };
    let r = report(&m, Some(&def), &o, roles(), vec![], vec![]).unwrap();
    assert_eq!(r.sufficient, Some(false));
    assert!(r.verdict.starts_with("INSUFFICIENT"), "{}", r.verdict);
    let e = report(
        &m,
        Some(&def),
        &AssessOptions {
            threshold: Threshold::MinPct(140.0),
            ..o
        },
        roles(),
        vec![],
        vec![],
    )
    .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Parameter);
    assert_eq!(e.field(), Some("min_flr_pct"), "{e}");
    // With height and weight the check uses sFLR: the phantom liver is tiny.
    // Independently: 26 slabs of 12 x 10 voxels of 0.8 x 0.9 x 2.5 mm;
    // BSA = sqrt(175 * 75 / 3600) m2 [Mosteller1987];
    // TELV = -794.41 + 1267.28 * BSA mL [Vauthey2002].
    let remnant_ml = 26.0 * 120.0 * 0.8 * 0.9 * 2.5 / 1000.0;
    let bsa = (175.0f64 * 75.0 / 3600.0).sqrt();
    let telv = -794.41 + 1267.28 * bsa;
    let r = report(&m, Some(&def), &patient(), roles(), vec![], vec![]).unwrap();
    assert_eq!(r.threshold_basis, "sflr");
    assert_close(r.remnant_ml.unwrap(), remnant_ml, 1e-9, "remnant_ml");
    assert_close(r.bsa_m2.unwrap(), bsa, 1e-12, "bsa");
    assert_close(r.telv_ml.unwrap(), telv, 1e-9, "telv");
    assert_close(r.sflr_pct.unwrap(), 100.0 * remnant_ml / telv, 1e-9, "sflr");
    assert_eq!(r.sufficient, Some(false));
    // FLR / body weight = 100 * remnant (mL ~ g) / weight (g) [Truant2007].
    assert_close(
        r.flr_bwr_pct.unwrap(),
        100.0 * remnant_ml / 75_000.0,
        1e-9,
        "flr_bwr",
    );
    assert_eq!(r.flr_bwr_low, Some(true));
    assert!(r.formulas.iter().any(|f| f.source == "[Vauthey2002]"));
}

/// Voxels per label value 0..=9 of a sample-case file, counted one voxel at
/// a time (independent of liverkit's volumetry and remnant code), and the
/// voxel volume in mL from the spacing.
fn sample_counts(path: &Path) -> ([u64; 10], f64) {
    let map = liverkit::io::read_label_map(path, &ReadOptions::default())
        .unwrap()
        .value;
    let [ni, nj, nk] = map.labels().shape();
    let mut counts = [0u64; 10];
    for k in 0..nk {
        for j in 0..nj {
            for i in 0..ni {
                counts[map.labels().get([i, j, k]).unwrap() as usize] += 1;
            }
        }
    }
    let s = map.grid().spacing_mm();
    (counts, s[0] * s[1] * s[2] / 1000.0)
}

/// sFLR % of a sample-case file after a right hepatectomy (segments 5-8
/// removed) for 175 cm and 75 kg: Mosteller BSA [Mosteller1987], Vauthey
/// TELV [Vauthey2002]. The sample's tumour (label 9) lies in segments 6 and 7,
/// so the remnant is segments 1-4 exactly.
fn sample_sflr_pct(path: &Path) -> f64 {
    let (c, ml) = sample_counts(path);
    let remnant_ml = (c[1] + c[2] + c[3] + c[4]) as f64 * ml;
    let bsa = (175.0f64 * 75.0 / 3600.0).sqrt();
    100.0 * remnant_ml / (-794.41 + 1267.28 * bsa)
}

#[test]
fn cli_remnant_and_pve() {
    let pre = data("sample_case/pre_pve.nii.gz");
    let post = data("sample_case/post_pve.nii.gz");
    let (p0, p1) = (pre.to_str().unwrap(), post.to_str().unwrap());
    let common = [
        "--resection",
        "right-hepatectomy",
        "--height-cm",
        "175",
        "--weight-kg",
        "75",
    ];
    let mut args = vec!["remnant", p0];
    args.extend(common);
    args.push("--json");
    let (code, out, err) = run_cli(&args);
    assert_eq!(code, 0, "{err}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    for key in [
        "total_liver_ml",
        "tumor_ml",
        "functional_liver_ml",
        "remnant_ml",
        "remnant_tumor_ml",
        "flr_pct",
        "bsa_m2",
        "telv_ml",
        "sflr_pct",
        "flr_bwr_pct",
        "threshold_pct",
        "threshold_basis",
        "sufficient",
        "segments",
        "warnings",
        "formulas",
    ] {
        assert!(v.get(key).is_some(), "missing {key}");
    }
    assert_eq!(v["threshold_basis"], "sflr");
    // Independently: sFLR 20.3 % >= 20 % (normal liver) but < 30 %
    // (after chemotherapy).
    let sflr_pre = sample_sflr_pct(&pre);
    assert!((20.0..30.0).contains(&sflr_pre), "{sflr_pre}");
    assert_close(v["sflr_pct"].as_f64().unwrap(), sflr_pre, 1e-9, "sflr");
    assert_eq!(v["sufficient"], true);
    assert!(
        v["verdict"].as_str().unwrap().contains("(sufficient)"),
        "{}",
        v["verdict"]
    );
    assert_eq!(v["segments"].as_array().unwrap().len(), 8);

    // After chemotherapy the same remnant is insufficient: exit status 1.
    let mut args = vec!["remnant", p0];
    args.extend(common);
    args.extend(["--condition", "chemotherapy"]);
    let (code, out, _) = run_cli(&args);
    assert_eq!(code, 1);
    assert!(out.contains("INSUFFICIENT"), "{out}");

    // PVE, dates given.
    let mut args = vec!["pve", p0, p1];
    args.extend(common);
    args.extend(["--pre-date", "2026-03-02", "--post-date", "2026-03-30", "--json"]);
    let (code, out, err) = run_cli(&args);
    assert_eq!(code, 0, "{err}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    for key in [
        "pre",
        "post",
        "weeks",
        "dh_points",
        "kgr_points_per_week",
        "flr_growth_ml",
        "flr_growth_pct",
        "kgr_sufficient",
        "sufficient",
    ] {
        assert!(v.get(key).is_some(), "missing {key}");
    }
    assert_eq!(v["weeks"], 4.0);
    // DH = post - pre sFLR, KGR = DH per week [Shindoh2013], from the
    // independent counts; 28 days from 2 to 30 March.
    let dh = sample_sflr_pct(&post) - sflr_pre;
    assert_close(v["dh_points"].as_f64().unwrap(), dh, 1e-9, "dh");
    assert_close(v["kgr_points_per_week"].as_f64().unwrap(), dh / 4.0, 1e-9, "kgr");
    // KGR >= 2 points per week and a post-PVE sFLR >= 20 %: sufficient.
    let sflr_post = sample_sflr_pct(&post);
    let expect = dh / 4.0 >= 2.0 && sflr_post >= 20.0;
    assert_eq!(v["kgr_sufficient"], dh / 4.0 >= 2.0);
    assert_eq!(v["sufficient"], expect);
    let word = if expect { "SUFFICIENT" } else { "INSUFFICIENT" };
    assert!(
        v["verdict"].as_str().unwrap().starts_with(word),
        "{}",
        v["verdict"]
    );

    // Post date before pre date: error, exit 2.
    let mut args = vec!["pve", p0, p1];
    args.extend(common);
    args.extend(["--pre-date", "2026-03-30", "--post-date", "2026-03-02"]);
    let (code, _, err) = run_cli(&args);
    assert_eq!(code, 2);
    assert!(err.contains("--post-date"), "{err}");
    // Table output names its units.
    let mut args = vec!["remnant", p0];
    args.extend(common);
    let (_, out, _) = run_cli(&args);
    for unit in [" mL", " %", " m2"] {
        assert!(out.contains(unit), "missing {unit} in\n{out}");
    }
}

/// A label map already in memory, with an array standing in for the tumour
/// file, gives the report of the files (what the Python module relies on).
#[test]
fn in_memory_case_gives_the_report_of_its_files() {
    use liverkit::case::remnant::assess_case;
    use liverkit::case::roles::Files;
    let path = data("sample_case/pre_pve.nii.gz");
    let read = ReadOptions::default();
    let definition = RemnantSpec::Definition(RemnantDefinition::Resection {
        resection: Resection::RightHepatectomy,
        with_caudate: false,
    });
    let request = RemnantRequest {
        label_map: Some(path.clone()),
        remnant: Some(definition.clone()),
        ..Default::default()
    };
    let from_file = assess(&request, &patient(), &read).unwrap();
    let map = liverkit::io::read_label_map(&path, &read).unwrap().value;
    let tumour = map.mask_of(&[9]);
    let mut files = Files::with_map(path.clone(), map.clone(), read.clone());
    let in_memory = assess_case(&mut files, &request, &patient()).unwrap();
    assert_eq!(
        serde_json::to_value(&from_file).unwrap(),
        serde_json::to_value(&in_memory).unwrap()
    );

    // The tumour as a separate in-memory map.
    let mut files = Files::with_map(path.clone(), map.clone(), read.clone());
    let as_map = LabelMap::new(
        tumour.grid().clone(),
        LabelArray::U8(tumour.data().mapv(u8::from)),
        LabelNames::new(),
    )
    .unwrap();
    files.insert("<tumor>", as_map).unwrap();
    let request = RemnantRequest {
        tumor: Some(RoleSpec::File {
            path: "<tumor>".into(),
            labels: None,
        }),
        ..request
    };
    let with_array = assess_case(&mut files, &request, &patient()).unwrap();
    assert_eq!(with_array.remnant_ml, from_file.remnant_ml);
    assert_eq!(with_array.tumor_ml, from_file.tumor_ml);

    // A map on another grid is refused.
    let mut files = Files::with_map(path, map, read);
    let other = LabelMap::new(
        Grid::from_spacing([3, 3, 3], [1.0; 3]).unwrap(),
        LabelArray::U8(Array3::zeros((3, 3, 3))),
        LabelNames::new(),
    )
    .unwrap();
    assert_eq!(
        files.insert("<other>", other).unwrap_err().kind(),
        ErrorKind::GridMismatch
    );
}

/// The five ways of naming a remnant have one constructor: at most one may
/// be given, each parses to its definition, and the caudate needs a named
/// resection.
#[test]
fn one_constructor_for_the_five_ways_of_naming_a_remnant() {
    use liverkit::case::remnant::RemnantWords;
    let words = |f: &dyn Fn(&mut RemnantWords)| {
        let mut w = RemnantWords::default();
        f(&mut w);
        RemnantSpec::from_words(w)
    };
    assert_eq!(words(&|_| {}).unwrap(), None);
    assert_eq!(
        words(&|w| w.keep = Some("1-4".into())).unwrap(),
        Some(RemnantSpec::Definition(RemnantDefinition::Keep(vec![1, 2, 3, 4])))
    );
    assert_eq!(
        words(&|w| {
            w.resection = Some("right-hepatectomy".into());
            w.with_caudate = true;
        })
        .unwrap(),
        Some(RemnantSpec::Definition(RemnantDefinition::Resection {
            resection: Resection::RightHepatectomy,
            with_caudate: true,
        }))
    );
    let e = words(&|w| {
        w.keep = Some("1-4".into());
        w.plane = Some("0,0,0:1,0,0".into());
    })
    .unwrap_err();
    assert_eq!(
        (e.kind(), e.field()),
        (ErrorKind::Parameter, Some("remnant")),
        "{e}"
    );
    let e = words(&|w| w.with_caudate = true).unwrap_err();
    assert_eq!(
        (e.kind(), e.field()),
        (ErrorKind::Parameter, Some("with_caudate")),
        "{e}"
    );
    let e = words(&|w| w.remove = Some("9".into())).unwrap_err();
    assert_eq!(e.field(), Some("remove"), "{e}");
}
