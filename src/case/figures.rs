//! Figures of a case: axial, coronal and sagittal slices through the point
//! that matters (a tumour's centre, the point of the smallest margin, the
//! needle tip), the CT behind them in the liver window when given, the
//! structures in their colours ([`crate::io::structure`]), as PNG files for
//! papers, cohort pipelines and a quick look, and for the HTML report.

use std::path::{Path, PathBuf};

use crate::error::{Error, Result};
use crate::grid::Grid;
use crate::io::structure::Structure;
use crate::render::{render, Layer, Plane, LIVER_WINDOW};
use crate::volume::{LabelArray, LabelMap, Mask, Volume};
use image::ImageEncoder;

/// How much of a structure's fill shows: organs faintly, what is judged
/// (tumour, shortfall) strongly, outlines (target, damage) not at all.
fn fill(s: Structure) -> f32 {
    match s {
        Structure::Liver | Structure::Remnant | Structure::ResectedLiver => 0.25,
        Structure::Tumor | Structure::MarginShortfall => 0.55,
        Structure::AblationZone => 0.35,
        Structure::AblationTarget | Structure::ThermalDamage => 0.0,
    }
}

/// The CT (or MR) to draw behind the structures: read as an intensity
/// image and put on the scan's grid — exactly, when it stores the same
/// points in another axis order.
///
/// # Errors
/// Read errors of the image (a 4-D or RGB file is refused by the reader);
/// `GridMismatch` when it lies on another grid.
pub fn background(image: &Path, grid: &Grid, read: &crate::io::ReadOptions) -> Result<Volume<f32>> {
    let v = crate::io::read_intensity(image, read)?.value;
    if v.grid() == grid {
        return Ok(v);
    }
    v.on_grid_exactly(grid).ok_or_else(|| {
        grid.ensure_same(
            v.grid(),
            "the scan",
            &format!("{} (background image)", image.display()),
        )
        .err()
        .unwrap_or_else(|| {
            crate::error::parameter_error("image", image.display(), "an image on the scan's grid")
        })
    })
}

/// Renders the three planes through `point_mm` as PNG files in memory:
/// (plane, PNG bytes) for axial, coronal and sagittal.
///
/// # Errors
/// `GridMismatch` for a structure or background on another grid.
pub fn render_pngs(
    grid: &Grid,
    point_mm: [f64; 3],
    background: Option<&Volume<f32>>,
    structures: &[(&Mask, Structure)],
) -> Result<Vec<(Plane, Vec<u8>)>> {
    let layers: Vec<Layer<'_>> = structures
        .iter()
        .map(|&(mask, s)| Layer {
            mask,
            rgb: s.rgb(),
            fill: fill(s),
        })
        .collect();
    let mut out = Vec::new();
    for plane in Plane::ALL {
        let img = render(
            grid,
            point_mm,
            plane,
            background.map(|b| (b, LIVER_WINDOW)),
            &layers,
        )?;
        let mut bytes = Vec::new();
        image::codecs::png::PngEncoder::new(&mut bytes)
            .write_image(
                &img.rgb,
                img.width as u32,
                img.height as u32,
                image::ExtendedColorType::Rgb8,
            )
            .map_err(|e| Error::Write {
                path: format!("{}.png", plane.name()).into(),
                source: std::io::Error::other(e.to_string()),
            })?;
        out.push((plane, bytes));
    }
    Ok(out)
}

/// Writes slices from [`render_pngs`] into `dir` as `axial.png`,
/// `coronal.png` and `sagittal.png`, each atomically; returns the paths.
///
/// # Errors
/// `Write` when the folder or a file cannot be written.
pub fn write_pngs(dir: &Path, pngs: &[(Plane, Vec<u8>)]) -> Result<Vec<PathBuf>> {
    std::fs::create_dir_all(dir).map_err(|source| Error::Write {
        path: dir.to_path_buf(),
        source,
    })?;
    let mut out = Vec::new();
    for (plane, bytes) in pngs {
        let path = dir.join(format!("{}.png", plane.name()));
        crate::io::atomic::write_file(&path, bytes)?;
        out.push(path);
    }
    Ok(out)
}

/// Renders the three planes through `point_mm` and writes them into `dir`
/// ([`render_pngs`], [`write_pngs`]).
///
/// # Errors
/// As those two.
pub fn write_slices(
    dir: &Path,
    grid: &Grid,
    point_mm: [f64; 3],
    background: Option<&Volume<f32>>,
    structures: &[(&Mask, Structure)],
) -> Result<Vec<PathBuf>> {
    write_pngs(dir, &render_pngs(grid, point_mm, background, structures)?)
}

/// The centre of the voxels in any of some masks on one grid, RAS+ mm, as
/// label volumetry measures it ([`crate::volumetry::label_volumes`]);
/// `None` when they are empty.
///
/// # Errors
/// `GridMismatch` when the masks are not on one grid.
pub fn centroid_mm(masks: &[&Mask]) -> Result<Option<[f64; 3]>> {
    let Some(first) = masks.first() else {
        return Ok(None);
    };
    let grid = first.grid();
    let mut union = first.data().mapv(u8::from);
    for m in &masks[1..] {
        grid.ensure_same(m.grid(), "a structure", "another structure")?;
        ndarray::Zip::from(&mut union)
            .and(m.data())
            .for_each(|u, &v| *u |= u8::from(v));
    }
    let map = LabelMap::new(grid.clone(), LabelArray::U8(union), Default::default())?;
    Ok(crate::volumetry::label_volumes(&map)?
        .first()
        .map(|l| l.centroid_mm))
}
