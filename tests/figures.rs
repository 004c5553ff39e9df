//! Figures: anatomy where a radiologist expects it, whatever the storage
//! order of the volume.

use liverkit::grid::Grid;
use liverkit::render::{render, Layer, Plane, SliceImage};
use liverkit::volume::Mask;
use nalgebra::Matrix4;
use ndarray::Array3;

use crate::common::{data, run_cli};

const YELLOW: [u8; 3] = [255, 255, 0];

/// A 41 mm cube of 1 mm voxels centred on the origin, stored with its axes
/// along `signs` (RAS: +1 +1 +1; LPS: -1 -1 +1), holding a 6 mm ball at
/// `centre` (RAS mm).
fn phantom(signs: [f64; 3], centre: [f64; 3]) -> Mask {
    let n = 41;
    let mut a = Matrix4::identity();
    for (ax, s) in signs.iter().enumerate() {
        a[(ax, ax)] = *s;
        a[(ax, 3)] = -s * 20.0;
    }
    let grid = Grid::new([n, n, n], a).unwrap();
    ball(&grid, centre)
}

fn ball(grid: &Grid, centre: [f64; 3]) -> Mask {
    let d = grid.dims();
    let data = Array3::from_shape_fn((d[0], d[1], d[2]), |(i, j, k)| {
        let w = grid.voxel_to_world([i as f64, j as f64, k as f64]);
        (0..3).map(|x| (w[x] - centre[x]).powi(2)).sum::<f64>() <= 36.0
    });
    Mask::new(grid.clone(), data).unwrap()
}

/// Mean column and row of the pixels drawn in pure yellow (the contour),
/// as fractions of the width and height.
fn where_yellow(img: &SliceImage) -> (f64, f64) {
    let (mut su, mut sv, mut n) = (0.0, 0.0, 0.0);
    for v in 0..img.height {
        for u in 0..img.width {
            if img.pixel(u, v) == YELLOW {
                su += u as f64;
                sv += v as f64;
                n += 1.0;
            }
        }
    }
    assert!(n > 10.0, "the tumour is drawn");
    (su / n / img.width as f64, sv / n / img.height as f64)
}

fn draw(mask: &Mask, centre: [f64; 3], plane: Plane) -> SliceImage {
    let layer = Layer {
        mask,
        rgb: YELLOW,
        fill: 0.5,
    };
    render(mask.grid(), centre, plane, None, &[layer]).unwrap()
}

#[test]
fn a_left_superior_anterior_tumour_is_where_radiologists_look_for_it() {
    // RAS: x < 0 is the patient's left, z > 0 superior, y > 0 anterior.
    let centre = [-10.0, 8.0, 10.0];
    let ras = phantom([1.0, 1.0, 1.0], centre);
    // Axial, seen from the feet: the patient's left on the image's right,
    // anterior at the top.
    let (u, v) = where_yellow(&draw(&ras, centre, Plane::Axial));
    assert!(u > 0.6 && v < 0.4, "axial at ({u:.2}, {v:.2})");
    // Coronal, seen from the front: left on the right, superior at the top.
    let (u, v) = where_yellow(&draw(&ras, centre, Plane::Coronal));
    assert!(u > 0.6 && v < 0.4, "coronal at ({u:.2}, {v:.2})");
    // Sagittal, facing left: anterior on the left, superior at the top.
    let (u, v) = where_yellow(&draw(&ras, centre, Plane::Sagittal));
    assert!(u < 0.4 && v < 0.4, "sagittal at ({u:.2}, {v:.2})");

    // The same anatomy stored LPS (i toward the left, j toward posterior)
    // gives the same pictures, pixel for pixel.
    let lps = phantom([-1.0, -1.0, 1.0], centre);
    for plane in Plane::ALL {
        assert_eq!(
            draw(&ras, centre, plane).rgb,
            draw(&lps, centre, plane).rgb,
            "{plane:?}"
        );
    }
}

#[test]
fn an_oblique_volume_shows_the_tumour_on_the_same_side() {
    // Rotated 25 degrees about z and 10 about x: sampled in the world, the
    // tumour keeps its side and height.
    let (s, c) = 25f64.to_radians().sin_cos();
    let (s2, c2) = 10f64.to_radians().sin_cos();
    let rz = Matrix4::new(
        c, -s, 0.0, 0.0, s, c, 0.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 0.0, 1.0,
    );
    let rx = Matrix4::new(
        1.0, 0.0, 0.0, 0.0, 0.0, c2, -s2, 0.0, 0.0, s2, c2, 0.0, 0.0, 0.0, 0.0, 1.0,
    );
    let mut a = rz * rx;
    let centre_voxel = nalgebra::Vector4::new(20.0, 20.0, 20.0, 1.0);
    let w = a * centre_voxel;
    for r in 0..3 {
        a[(r, 3)] = -w[r];
    }
    let grid = Grid::new([41, 41, 41], a).unwrap();
    let centre = [-10.0, 8.0, 10.0];
    let mask = ball(&grid, centre);
    let (u, v) = where_yellow(&draw(&mask, centre, Plane::Axial));
    assert!(u > 0.55 && v < 0.45, "axial at ({u:.2}, {v:.2})");
    let (u, v) = where_yellow(&draw(&mask, centre, Plane::Coronal));
    assert!(u > 0.55 && v < 0.45, "coronal at ({u:.2}, {v:.2})");
}

#[test]
fn png_slices_on_the_real_ct_and_a_background_on_another_grid() {
    let dir = tempfile::tempdir().unwrap();
    let png = dir.path().join("png");
    let map = data("totalsegmentator/example_seg_dicom.nii.gz");
    let ct = data("totalsegmentator/example_ct_dicom");
    // A LAS NIfTI drawn on its LPS CT: the liver (label 5) on the image's
    // left (the patient's right) in the axial slice.
    let (code, _, err) = run_cli(&[
        "target",
        map.to_str().unwrap(),
        "--tumor",
        "1",
        "--liver",
        "5",
        "--margin-mm",
        "5",
        "--png",
        png.to_str().unwrap(),
        "--image",
        ct.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{err}");
    for plane in ["axial", "coronal", "sagittal"] {
        let img = image::open(png.join(format!("{plane}.png"))).unwrap().to_rgb8();
        assert!(img.width() > 100 && img.height() > 10, "{plane}");
    }
    let axial = image::open(png.join("axial.png")).unwrap().to_rgb8();
    let liver_rgb = liverkit::io::structure::Structure::Liver.rgb();
    let (mut su, mut n) = (0.0, 0.0);
    for (u, _, p) in axial.enumerate_pixels() {
        if p.0 == liver_rgb {
            su += u as f64;
            n += 1.0;
        }
    }
    assert!(
        n > 50.0 && su / n < axial.width() as f64 / 2.0,
        "liver contour on the image's left"
    );
    // A background on another grid: a clear error, the mask still written.
    let out = dir.path().join("t.nii.gz");
    let (code, _, err) = run_cli(&[
        "target",
        data("sample_case/pre_pve.nii.gz").to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
        "--png",
        dir.path().join("bad").to_str().unwrap(),
        "--image",
        data("totalsegmentator/example_ct_sm.nii.gz").to_str().unwrap(),
    ]);
    assert_eq!(code, 2);
    assert!(
        err.contains("background image") && err.contains("not on the same voxel grid"),
        "{err}"
    );
    assert!(out.exists(), "the command's own output is written");
}
