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
    let (u, n) = mean_column(&axial, liverkit::io::structure::Structure::Liver.rgb());
    assert!(n > 50 && u < 0.5, "liver contour on the image's left");
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

/// The mean column of the pixels of colour `rgb`, as a fraction of the
/// width, and their count.
fn mean_column(img: &image::RgbImage, rgb: [u8; 3]) -> (f64, usize) {
    let columns: Vec<u32> = img
        .enumerate_pixels()
        .filter(|(_, _, p)| p.0 == rgb)
        .map(|(u, _, _)| u)
        .collect();
    let mean = columns.iter().map(|&u| u as f64).sum::<f64>() / columns.len().max(1) as f64;
    (mean / img.width() as f64, columns.len())
}

/// The `data:image/png;base64,` images of an HTML page, decoded.
fn page_images(html: &str) -> Vec<image::RgbImage> {
    use base64::Engine as _;
    html.split("src=\"data:image/png;base64,")
        .skip(1)
        .map(|rest| {
            let b64 = &rest[..rest.find('"').unwrap()];
            let bytes = base64::engine::general_purpose::STANDARD.decode(b64).unwrap();
            image::load_from_memory(&bytes).unwrap().to_rgb8()
        })
        .collect()
}

/// The 3D view's scene: the JSON the page carries for its viewer.
fn page_scene(html: &str) -> serde_json::Value {
    let open = "<script type=\"application/json\" id=\"scene3d\">";
    let start = html.find(open).expect("a 3D scene") + open.len();
    let end = start + html[start..].find("</script>").unwrap();
    serde_json::from_str(&html[start..end].replace("<\\/", "</")).unwrap()
}

/// The vertices (RAS mm) of the scene's mesh named `name`.
fn mesh_vertices(scene: &serde_json::Value, name: &str) -> Vec<[f32; 3]> {
    use base64::Engine as _;
    let mesh = scene["meshes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["name"] == name)
        .unwrap_or_else(|| panic!("no mesh {name}"));
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(mesh["positions"].as_str().unwrap())
        .unwrap();
    bytes
        .chunks_exact(12)
        .map(|c| [0, 4, 8].map(|o| f32::from_le_bytes(c[o..o + 4].try_into().unwrap())))
        .collect()
}

#[test]
fn html_report_is_self_contained_shows_the_remnant_and_agrees_with_the_json() {
    let dir = tempfile::tempdir().unwrap();
    let page = dir.path().join("remnant.html");
    let map = data("sample_case/pre_pve.nii.gz");
    let args = [
        "remnant",
        map.to_str().unwrap(),
        "--resection",
        "right-hepatectomy",
        "--height-cm",
        "175",
        "--weight-kg",
        "75",
    ];
    let (code, json, err) = run_cli(&[&args[..], &["--json", "--report", page.to_str().unwrap()]].concat());
    assert_eq!(code, 0, "{err}");
    let r: serde_json::Value = serde_json::from_str(&json).unwrap();
    let html = std::fs::read_to_string(&page).unwrap();
    assert!(html.starts_with("<!DOCTYPE html>"));
    for outside in ["src=\"http", "href=", "src=\"/", "url("] {
        assert!(
            !html.contains(outside),
            "the page loads nothing from outside: {outside}"
        );
    }
    // The verdict and the numbers are the JSON's.
    let verdict = r["verdict"]
        .as_str()
        .unwrap()
        .replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&#39;");
    assert!(html.contains(&verdict), "verdict");
    let tone = if r["borderline"] == true {
        "borderline"
    } else if r["sufficient"] == true {
        "pass"
    } else {
        "fail"
    };
    assert!(html.contains(&format!("class=\"verdict {tone}\"")), "tone {tone}");
    let remnant = format!("{:.1} mL", r["remnant_ml"].as_f64().unwrap());
    assert!(html.contains(&remnant), "remnant {remnant}");
    assert_eq!(html.matches("<svg").count(), 2, "sFLR and segment charts");
    // Three slices; a right hepatectomy keeps the left liver, which a
    // radiologist sees on the image's right in the axial slice.
    let images = page_images(&html);
    assert_eq!(images.len(), 3);
    let (u, n) = mean_column(&images[0], liverkit::io::structure::Structure::Remnant.rgb());
    assert!(n > 50 && u > 0.5, "remnant on the image's right");
    // The 3D view: the remnant's surface on the patient's left (RAS −x) of
    // the resected part's.
    let scene = page_scene(&html);
    let mean_x = |name: &str| {
        let v = mesh_vertices(&scene, name);
        assert!(v.len() > 100, "{name} has a surface");
        v.iter().map(|p| p[0] as f64).sum::<f64>() / v.len() as f64
    };
    assert!(mean_x("Liver remnant") < mean_x("Resected liver") - 20.0);
    assert!(html.len() < 5_000_000, "page {} bytes", html.len());

    // An unwritable report path: a clear error naming it; the PNGs asked
    // for alongside are still written.
    let png = dir.path().join("png");
    let bad = dir.path().join("no_such_dir").join("r.html");
    let (code, _, err) = run_cli(
        &[
            &args[..],
            &["--png", png.to_str().unwrap(), "--report", bad.to_str().unwrap()],
        ]
        .concat(),
    );
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("no_such_dir"), "{err}");
    assert!(png.join("axial.png").exists());
}

#[test]
fn margin_report_draws_the_surface_histogram_and_the_failed_verdict() {
    let dir = tempfile::tempdir().unwrap();
    let page = dir.path().join("margin.html");
    let (code, json, _) = run_cli(&[
        "margin",
        "--tumor",
        &format!("{}:liver_tumor", data("sample_case/pre_pve.nii.gz").display()),
        "--zone",
        data("sample_case/ablation_zone.nii.gz").to_str().unwrap(),
        "--json",
        "--report",
        page.to_str().unwrap(),
    ]);
    let r: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(code == 0, r["sufficient"] == true);
    let html = std::fs::read_to_string(&page).unwrap();
    let tone = if r["sufficient"] == true { "pass" } else { "fail" };
    assert!(html.contains(&format!("class=\"verdict {tone}\"")));
    assert!(html.contains("<svg") && html.contains("margin (mm)"));
    let min = format!("{:.2} mm", r["tumors"][0]["min_margin_mm"].as_f64().unwrap());
    assert!(html.contains(&min), "{min}");
    assert_eq!(page_images(&html).len(), 3);
    // The tumour surface in 3D, one margin colour per vertex.
    let scene = page_scene(&html);
    let tumor = scene["meshes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["name"] == "Tumor")
        .unwrap();
    assert!(tumor["colors"].is_string());
}

#[test]
fn pve_report_shows_before_and_after_against_the_threshold() {
    let dir = tempfile::tempdir().unwrap();
    let page = dir.path().join("pve.html");
    let (code, json, err) = run_cli(&[
        "pve",
        data("sample_case/pre_pve.nii.gz").to_str().unwrap(),
        data("sample_case/post_pve.nii.gz").to_str().unwrap(),
        "--resection",
        "right-hepatectomy",
        "--height-cm",
        "175",
        "--weight-kg",
        "75",
        "--days",
        "28",
        "--json",
        "--report",
        page.to_str().unwrap(),
    ]);
    assert!(code == 0 || code == 1, "{err}");
    let r: serde_json::Value = serde_json::from_str(&json).unwrap();
    let html = std::fs::read_to_string(&page).unwrap();
    let tone = if r["sufficient"] == true { "pass" } else { "fail" };
    assert!(html.contains(&format!("class=\"verdict {tone}\"")), "{tone}");
    let kgr = format!("{:.2} points/week", r["kgr_points_per_week"].as_f64().unwrap());
    assert!(html.contains(&kgr), "{kgr}");
    // Both remnants, before and after, as the two scans' reports give them.
    for scan in ["pre", "post"] {
        let ml = format!("{:.1} mL", r[scan]["remnant_ml"].as_f64().unwrap());
        assert!(html.contains(&ml), "{scan} {ml}");
    }
    assert_eq!(html.matches("<svg").count(), 2);
    assert!(!html.contains("src=\"http") && !html.contains("href="));
    // Slices of both scans, and those slices as PNG files with --png.
    assert_eq!(page_images(&html).len(), 6);
    let png = dir.path().join("png");
    let (code, _, err) = run_cli(&[
        "pve",
        data("sample_case/pre_pve.nii.gz").to_str().unwrap(),
        data("sample_case/post_pve.nii.gz").to_str().unwrap(),
        "--resection",
        "right-hepatectomy",
        "--days",
        "28",
        "--png",
        png.to_str().unwrap(),
    ]);
    assert!(code == 0 || code == 1, "{err}");
    for scan in ["pre", "post"] {
        for plane in ["axial", "coronal", "sagittal"] {
            assert!(png.join(format!("{scan}_{plane}.png")).exists(), "{scan}_{plane}");
        }
    }
}

#[test]
fn volumes_report_draws_the_largest_labels_where_they_are() {
    let dir = tempfile::tempdir().unwrap();
    let page = dir.path().join("volumes.html");
    let seg = data("totalsegmentator/example_seg.nii.gz");
    let (code, json, err) = run_cli(&[
        "volumes",
        seg.to_str().unwrap(),
        "--json",
        "--report",
        page.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{err}");
    let r: serde_json::Value = serde_json::from_str(&json).unwrap();
    let html = std::fs::read_to_string(&page).unwrap();
    let labels = r["labels"].as_array().unwrap();
    assert!(html.contains(&format!("{} labels", labels.len())));
    assert_eq!(page_images(&html).len(), 3);
    let scene = page_scene(&html);
    assert_eq!(scene["meshes"].as_array().unwrap().len(), 12, "the 12 largest");
    // Each surface lies around its label's centroid from the JSON: the
    // spleen on the patient's left (RAS −x) of the liver.
    let centroid_x = |name: &str| {
        labels.iter().find(|l| l["name"] == name).unwrap()["centroid_mm"][0]
            .as_f64()
            .unwrap()
    };
    let mean_x = |name: &str| {
        let v = mesh_vertices(&scene, name);
        v.iter().map(|p| p[0] as f64).sum::<f64>() / v.len() as f64
    };
    for organ in ["liver", "spleen"] {
        assert!(
            (mean_x(organ) - centroid_x(organ)).abs() < 25.0,
            "{organ}: surface {} vs centroid {}",
            mean_x(organ),
            centroid_x(organ)
        );
    }
    assert!(mean_x("spleen") < mean_x("liver") - 100.0);
}

/// The longest vertical run of pixels of colour `rgb`.
fn longest_column_run(img: &image::RgbImage, rgb: [u8; 3]) -> u32 {
    let mut best = 0;
    for x in 0..img.width() {
        let mut run = 0;
        for y in 0..img.height() {
            if img.get_pixel(x, y).0 == rgb {
                run += 1;
                best = best.max(run);
            } else {
                run = 0;
            }
        }
    }
    best
}

#[test]
fn simulate_slices_show_the_needle_and_remnant_slices_the_cutting_plane() {
    let dir = tempfile::tempdir().unwrap();
    let sample = data("sample_case/pre_pve.nii.gz");
    let png = dir.path().join("sim");
    let (code, _, err) = run_cli(&[
        "simulate",
        sample.to_str().unwrap(),
        "--applicator",
        "mwa",
        "--power-w",
        "50",
        "--time-s",
        "600",
        "--tip",
        "70,-30,-45",
        "--direction",
        "0,0,-1",
        "--png",
        png.to_str().unwrap(),
    ]);
    assert!(code == 0 || code == 1, "{err}");
    // The needle points inferior: on the coronal slice it is a vertical
    // white line 80 mm long (over 60 pixels of at most 1.3 mm), longer
    // than any letter.
    let coronal = image::open(png.join("coronal.png")).unwrap().to_rgb8();
    let run = longest_column_run(&coronal, liverkit::case::figures::NEEDLE_RGB);
    assert!(run > 60, "needle run {run} px");
    // A sagittal cutting plane crosses the axial slice as a vertical
    // dashed cyan line.
    let png = dir.path().join("rem");
    let (code, _, err) = run_cli(&[
        "remnant",
        sample.to_str().unwrap(),
        "--plane",
        "60,0,0:-1,0,0",
        "--png",
        png.to_str().unwrap(),
    ]);
    assert!(code == 0 || code == 1, "{err}");
    let axial = image::open(png.join("axial.png")).unwrap().to_rgb8();
    let cyan = axial
        .pixels()
        .filter(|p| p.0 == liverkit::case::figures::PLANE_RGB)
        .count();
    assert!(cyan > 40, "{cyan} plane pixels");
    let sagittal = image::open(png.join("sagittal.png")).unwrap().to_rgb8();
    assert_eq!(
        sagittal
            .pixels()
            .filter(|p| p.0 == liverkit::case::figures::PLANE_RGB)
            .count(),
        0,
        "the sagittal slice through the liver's centre lies beside the plane, which never crosses it"
    );
}
