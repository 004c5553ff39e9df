//! Distance transforms: equal to the brute-force minimum on random
//! anisotropic cases, to scipy on real livers, and the same for any number
//! of threads.

use liverkit::distance::{
    distance_to_background_mm, distance_to_foreground_mm, signed_distance_mm,
    squared_distance_to_background_mm2, squared_distance_to_foreground_mm2,
};
use liverkit::io::{read_label_map, ReadOptions};
use liverkit::{Grid, Mask};
use nalgebra::Matrix4;
use ndarray::{Array3, ShapeBuilder};
use proptest::prelude::*;

use crate::common::{data, expected};

/// Brute force: for every voxel the minimum over all voxels of the other
/// kind of Σ (sₐ·Δₐ)², in f64.
fn brute_force(mask: &Array3<bool>, spacing: [f64; 3], to_foreground: bool) -> Array3<f64> {
    let dims = mask.dim();
    let targets: Vec<[usize; 3]> = mask
        .indexed_iter()
        .filter(|(_, &b)| b == to_foreground)
        .map(|((i, j, k), _)| [i, j, k])
        .collect();
    Array3::from_shape_fn(dims, |(i, j, k)| {
        targets
            .iter()
            .map(|t| {
                let d = [
                    i as f64 - t[0] as f64,
                    j as f64 - t[1] as f64,
                    k as f64 - t[2] as f64,
                ];
                (0..3).map(|a| (d[a] * spacing[a]).powi(2)).sum::<f64>()
            })
            .fold(f64::INFINITY, f64::min)
    })
}

fn arb_case() -> impl Strategy<Value = (Array3<bool>, [f64; 3])> {
    (
        1usize..13,
        1usize..11,
        1usize..9,
        0.2f64..3.0,
        0.2f64..3.0,
        0.2f64..3.0,
        0u32..100,
        any::<u64>(),
    )
        .prop_map(|(ni, nj, nk, s0, s1, s2, density, seed)| {
            let mut state = seed | 1;
            let mask = Array3::from_shape_simple_fn((ni, nj, nk).f(), || {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                (state % 100) < density as u64
            });
            (mask, [s0, s1, s2])
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]
    #[test]
    fn equals_brute_force_on_random_anisotropic_cases((mask, spacing) in arb_case()) {
        let dims = [mask.dim().0, mask.dim().1, mask.dim().2];
        // A rotated grid with these spacings: distances do not depend on the rotation.
        let (s, c) = (0.6f64.sin(), 0.6f64.cos());
        let rot = Matrix4::new(c, -s, 0.0, 0.0, s, c, 0.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 0.0, 1.0);
        let affine = rot * Matrix4::new_nonuniform_scaling(&nalgebra::Vector3::new(spacing[0], spacing[1], spacing[2]));
        let grid = Grid::new(dims, affine).unwrap();
        let m = Mask::new(grid, mask.clone()).unwrap();
        for (to_fg, got) in [
            (true, squared_distance_to_foreground_mm2(&m).unwrap()),
            (false, squared_distance_to_background_mm2(&m).unwrap()),
        ] {
            let want = brute_force(&mask, spacing, to_fg);
            for (g, w) in got.data().iter().zip(want.iter()) {
                if w.is_infinite() {
                    // No voxel of the other kind: +∞ (or 0 for the cropped background transform of an empty mask).
                    prop_assert!(g.is_infinite() || (*g == 0.0 && !to_fg), "{g} vs {w}");
                } else {
                    prop_assert!((*g as f64 - w).abs() <= 1e-6 * w.max(1.0), "{g} vs {w}");
                }
            }
        }
    }
}

#[test]
fn identical_for_any_thread_count() {
    let liver = read_label_map(
        &data("totalsegmentator/example_seg_fast_force_split.nii.gz"),
        &ReadOptions::default(),
    )
    .unwrap()
    .value
    .mask_of(&[5]);
    let run = |n: usize| {
        let pool = rayon::ThreadPoolBuilder::new().num_threads(n).build().unwrap();
        pool.install(|| {
            (
                signed_distance_mm(&liver).unwrap(),
                squared_distance_to_foreground_mm2(&liver).unwrap(),
            )
        })
    };
    let one = run(1);
    for n in [2, 3, 5] {
        assert_eq!(run(n), one, "{n} threads");
    }
}

#[test]
fn equals_scipy_on_real_livers() {
    let cases = expected()["edt"].as_array().unwrap();
    assert!(!cases.is_empty());
    for c in cases {
        let file = c["file"].as_str().unwrap();
        let label = c["label"].as_i64().unwrap();
        let liver = read_label_map(&data(file), &ReadOptions::default())
            .unwrap()
            .value
            .mask_of(&[label]);
        let inside = distance_to_background_mm(&liver).unwrap();
        let outside = distance_to_foreground_mm(&liver).unwrap();
        for (name, vol) in [("inside", &inside), ("outside", &outside)] {
            let want = &c[name];
            let a = vol.data();
            let sum: f64 = a.iter().map(|&v| v as f64).sum();
            let max = a.iter().cloned().fold(0f32, f32::max) as f64;
            let w_sum = want["sum"].as_f64().unwrap();
            assert!(
                (sum - w_sum).abs() <= 1e-6 * w_sum,
                "{file} {name}: sum {sum} vs {w_sum}"
            );
            assert!(
                (max - want["max"].as_f64().unwrap()).abs() <= 1e-5 * max,
                "{file} {name}: max"
            );
            for s in want["samples"].as_array().unwrap() {
                let ijk = [
                    s[0].as_u64().unwrap() as usize,
                    s[1].as_u64().unwrap() as usize,
                    s[2].as_u64().unwrap() as usize,
                ];
                let w = s[3].as_f64().unwrap();
                let g = a[ijk] as f64;
                assert!(
                    (g - w).abs() <= 1e-6 * w.max(1.0),
                    "{file} {name} {ijk:?}: {g} vs scipy {w}"
                );
            }
        }
        // The inside transform in full, voxel by voxel, from a NIfTI scipy wrote.
        if let Some(full) = c["inside_file"].as_str() {
            let scipy = liverkit::io::read_intensity(&data(full), &ReadOptions::default())
                .unwrap()
                .value;
            let mut worst = 0f64;
            for (g, w) in inside.data().iter().zip(scipy.data().iter()) {
                worst = worst.max((*g as f64 - *w as f64).abs() / (*w as f64).max(1.0));
            }
            assert!(worst <= 1e-6, "{file}: worst relative difference {worst}");
        }
    }
}

proptest! {
    /// Masks held elsewhere (views in C order, Fortran order or strided)
    /// give the transforms of the owned mask.
    #[test]
    fn views_in_any_order_equal_the_owned_mask((mask, spacing) in arb_case()) {
        use liverkit::distance::{distance_to_background_view_mm, signed_distance_view_mm};
        let dims = mask.dim();
        let grid = Grid::from_spacing([dims.0, dims.1, dims.2], spacing).unwrap();
        let owned = Mask::new(grid.clone(), mask.clone()).unwrap();
        let depth = distance_to_background_mm(&owned).unwrap();
        let signed = signed_distance_mm(&owned).unwrap();
        let c_order = mask.as_standard_layout().to_owned();
        let mut wide = Array3::from_elem((dims.0, dims.1, 2 * dims.2), false);
        wide.slice_mut(ndarray::s![.., .., ..;2]).assign(&mask);
        let strided = wide.slice(ndarray::s![.., .., ..;2]);
        for view in [mask.view(), c_order.view(), strided] {
            let d = distance_to_background_view_mm(&grid, view).unwrap();
            let s = signed_distance_view_mm(&grid, view).unwrap();
            prop_assert_eq!(d.data(), depth.data());
            prop_assert_eq!(s.data(), signed.data());
        }
    }
}

#[test]
fn a_view_of_another_shape_is_refused() {
    let grid = Grid::from_spacing([4, 4, 4], [1.0; 3]).unwrap();
    let mask = Array3::from_elem((4, 4, 3), true);
    let e = liverkit::distance::distance_to_background_view_mm(&grid, mask.view()).unwrap_err();
    assert_eq!(e.field(), Some("mask"));
}
