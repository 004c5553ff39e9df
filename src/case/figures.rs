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

/// A structure as the figures draw it: its voxels, name, colour and fill,
/// and which clinical structure it is (none for a label of `volumes`).
#[derive(Debug, Clone, Copy)]
pub struct Drawn<'a> {
    /// Its voxels.
    pub mask: &'a Mask,
    /// Its name in the legend.
    pub name: &'a str,
    /// Its colour, sRGB.
    pub rgb: [u8; 3],
    /// Opacity of its fill in the slices, 0 (contour only) to 1.
    pub fill: f32,
    /// The clinical structure, when it is one.
    pub structure: Option<Structure>,
    /// Whether the 3D view shows it too (isotherms are for the slices).
    pub in_scene: bool,
}

impl<'a> Drawn<'a> {
    /// A clinical structure in its colours.
    pub fn of(mask: &'a Mask, s: Structure) -> Drawn<'a> {
        Drawn {
            mask,
            name: s.label(),
            rgb: s.rgb(),
            fill: fill(s),
            structure: Some(s),
            in_scene: true,
        }
    }

    /// Clinical structures in their colours.
    pub fn all(structures: &[(&'a Mask, Structure)]) -> Vec<Drawn<'a>> {
        structures.iter().map(|&(m, s)| Drawn::of(m, s)).collect()
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

/// The needle's colour on the slices.
pub const NEEDLE_RGB: [u8; 3] = [255, 255, 255];

/// The cutting plane's colour on the slices.
pub const PLANE_RGB: [u8; 3] = [0, 230, 255];

/// Renders the three planes through `point_mm` as PNG files in memory:
/// (plane, PNG bytes) for axial, coronal and sagittal, with the needle
/// (tip and a point on the shaft) projected onto each and the cutting
/// plane of a resection where it cuts each.
///
/// # Errors
/// `GridMismatch` for a structure or background on another grid.
pub fn render_pngs(
    grid: &Grid,
    point_mm: [f64; 3],
    background: Option<&Volume<f32>>,
    drawn: &[Drawn<'_>],
    extras: &crate::case::report3d::SceneExtras<'_>,
) -> Result<Vec<(Plane, Vec<u8>)>> {
    let layers: Vec<Layer<'_>> = drawn
        .iter()
        .map(|d| Layer {
            mask: d.mask,
            rgb: d.rgb,
            fill: d.fill,
        })
        .collect();
    let mut out = Vec::new();
    for plane in Plane::ALL {
        let mut img = render(
            grid,
            point_mm,
            plane,
            background.map(|b| (b, LIVER_WINDOW)),
            &layers,
        )?;
        if let Some((tip, shaft)) = extras.needle {
            img.draw_segment(tip, shaft, NEEDLE_RGB);
        }
        if let Some((p, n)) = extras.plane {
            img.draw_plane(p, n, PLANE_RGB);
        }
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
/// `coronal.png` and `sagittal.png` (after `prefix` and `_` when it is not
/// empty: `pre_axial.png`), each atomically; returns the paths.
///
/// # Errors
/// `Write` when the folder or a file cannot be written.
pub fn write_pngs(dir: &Path, prefix: &str, pngs: &[(Plane, Vec<u8>)]) -> Result<Vec<PathBuf>> {
    std::fs::create_dir_all(dir).map_err(|source| Error::Write {
        path: dir.to_path_buf(),
        source,
    })?;
    let mut out = Vec::new();
    for (plane, bytes) in pngs {
        let path = if prefix.is_empty() {
            dir.join(format!("{}.png", plane.name()))
        } else {
            dir.join(format!("{prefix}_{}.png", plane.name()))
        };
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
    let drawn = Drawn::all(structures);
    write_pngs(
        dir,
        "",
        &render_pngs(grid, point_mm, background, &drawn, &Default::default())?,
    )
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

/// The isotherms the simulate slices draw below the 70 °C zone (which is a
/// structure of its own): 50 °C, where liver cells die within 4–6 min, and
/// 60 °C, where protein coagulates almost at once [Goldberg2000]. Display
/// only; the verdict uses the 70 °C zone.
pub const ISOTHERMS_C: [(f64, [u8; 3]); 2] = [(50.0, [255, 214, 102]), (60.0, [255, 140, 26])];

/// The heat-sink vessels' colour.
pub const SINK_RGB: [u8; 3] = [40, 110, 230];

/// What the simulate figures add to the case's structures: the maximum
/// temperature as isotherms ([`ISOTHERMS_C`], each on the part of the scan
/// the simulation covers) and the vessels that acted as heat sinks (those
/// with a sink volume in the report).
#[derive(Debug, Clone, Default)]
pub struct SimulateOverlays {
    /// (isotherm °C, colour, where the maximum temperature reached it).
    pub isotherms: Vec<(f64, [u8; 3], Mask)>,
    /// (name, vessel) for each heat sink.
    pub sinks: Vec<(String, Mask)>,
}

/// The isotherms and the heat-sink vessels of a simulated case.
///
/// # Errors
/// Role errors of the vessels (already resolved once by the simulation).
pub fn simulate_overlays(
    outcome: &crate::case::simulate::SimulateOutcome,
    files: &mut crate::case::roles::Files,
    vessels: &[String],
    blood_c: f64,
) -> Result<SimulateOverlays> {
    let scan = outcome.zone70.grid();
    let mut isotherms = Vec::new();
    for (c, rgb) in ISOTHERMS_C {
        if let Some(m) = outcome.simulation.isotherm_on_part(scan, c, blood_c)? {
            if m.any() {
                isotherms.push((c, rgb, m));
            }
        }
    }
    let used = &outcome.report.vessels;
    let sinks = crate::case::target::resolve_vessels(files, vessels)?
        .into_iter()
        .filter(|v| used.iter().any(|u| u.label == v.label && u.sink_ml > 0.0))
        .map(|v| {
            let name = v.name.clone().unwrap_or_else(|| format!("label {}", v.label));
            (format!("Heat sink: {name}"), v.mask)
        })
        .collect();
    Ok(SimulateOverlays { isotherms, sinks })
}
