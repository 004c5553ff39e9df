//! The plan on the scan's grid: needle paths, tips and the predicted zone,
//! as masks a viewer overlays on the CT (`liverkit plan --out-dir`).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::error::Result;
use crate::grid::Grid;
use crate::io::nifti::{write_mask, NiftiTemplate};
use crate::volume::{Mask, Volume};

/// The files `--out-dir` receives.
pub const OUTPUT_FILES: [&str; 3] = ["path.nii.gz", "tip.nii.gz", "zone.nii.gz"];

/// Radius of the drawn needle, mm: a display choice of liverkit, about the
/// half-width of a 14-gauge applicator (2.1 mm outer diameter by the
/// Birmingham wire gauge); never thinner than half a voxel diagonal, so the
/// path stays connected on coarse grids.
const NEEDLE_RADIUS_MM: f64 = 1.0;

/// Radius of the drawn tip, mm (a ball visible on every view).
const TIP_RADIUS_MM: f64 = 2.0;

/// Sets every voxel of `mask` whose centre lies within `radius` of the
/// segment `a`–`b` (world mm).
fn draw_segment(mask: &mut Mask, a: [f64; 3], b: [f64; 3], radius: f64) {
    let grid = mask.grid().clone();
    let dims = grid.dims();
    let sp = grid.spacing_mm();
    let r = radius.max(0.5 * (sp[0] * sp[0] + sp[1] * sp[1] + sp[2] * sp[2]).sqrt());
    let (va, vb) = (grid.world_to_voxel(a), grid.world_to_voxel(b));
    let reach = sp.map(|s| (r / s).ceil() + 1.0);
    let lo = [0, 1, 2].map(|k| (va[k].min(vb[k]) - reach[k]).floor().max(0.0) as usize);
    let hi = [0, 1, 2]
        .map(|k| ((va[k].max(vb[k]) + reach[k]).ceil().max(0.0) as usize).min(dims[k].saturating_sub(1)));
    let ab = [0, 1, 2].map(|k| b[k] - a[k]);
    let len2 = ab.iter().map(|v| v * v).sum::<f64>();
    let data = mask.data_mut();
    for k in lo[2]..=hi[2] {
        for j in lo[1]..=hi[1] {
            for i in lo[0]..=hi[0] {
                let p = grid.voxel_to_world([i as f64, j as f64, k as f64]);
                let ap = [0, 1, 2].map(|x| p[x] - a[x]);
                let t = if len2 > 0.0 {
                    ((ap[0] * ab[0] + ap[1] * ab[1] + ap[2] * ab[2]) / len2).clamp(0.0, 1.0)
                } else {
                    0.0
                };
                let d2: f64 = (0..3).map(|x| (ap[x] - t * ab[x]).powi(2)).sum();
                if d2 <= r * r {
                    data[[i, j, k]] = true;
                }
            }
        }
    }
}

/// Writes the needle paths (skin entry to tip), the tips and the predicted
/// zone on the scan's grid into `dir`, all or none: the set is staged and
/// moved into place when complete. Returns the files by name.
///
/// # Errors
/// `Write` when the folder or a file cannot be written.
pub fn write_plan_masks(
    dir: &Path,
    template: &NiftiTemplate,
    grid: &Grid,
    needles: &[([f64; 3], [f64; 3])],
    zone: &Mask,
) -> Result<BTreeMap<String, PathBuf>> {
    let mut path = Volume::filled(grid.clone(), false);
    let mut tip = Volume::filled(grid.clone(), false);
    for &(entry, t) in needles {
        draw_segment(&mut path, entry, t, NEEDLE_RADIUS_MM);
        draw_segment(&mut tip, t, t, TIP_RADIUS_MM);
    }
    let masks = [&path, &tip, zone];
    let written = crate::io::atomic::write_set_in(dir, &OUTPUT_FILES, |i, at| {
        write_mask(at, masks[i], Some(template))
    })?;
    Ok(OUTPUT_FILES
        .iter()
        .map(|n| n.trim_end_matches(".nii.gz").to_string())
        .zip(written)
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The drawn segment holds exactly the voxel centres within the radius
    /// of it, by a brute-force distance to densely sampled segment points.
    #[test]
    fn segment_voxels_are_those_within_the_radius() {
        let grid = Grid::from_spacing([20, 18, 12], [1.0, 1.0, 2.0]).unwrap();
        let mut m = Volume::filled(grid.clone(), false);
        let (a, b) = ([2.3, 3.1, 4.0], [15.2, 12.7, 18.5]);
        draw_segment(&mut m, a, b, 1.6);
        let samples: Vec<[f64; 3]> = (0..=4000)
            .map(|s| {
                let t = f64::from(s) / 4000.0;
                [0, 1, 2].map(|k| a[k] + t * (b[k] - a[k]))
            })
            .collect();
        for ((i, j, k), &v) in m.data().indexed_iter() {
            let p = grid.voxel_to_world([i as f64, j as f64, k as f64]);
            let d = samples
                .iter()
                .map(|q| (0..3).map(|x| (p[x] - q[x]).powi(2)).sum::<f64>().sqrt())
                .fold(f64::INFINITY, f64::min);
            if (d - 1.6).abs() > 0.01 {
                assert_eq!(v, d < 1.6, "voxel {i},{j},{k} at {d} mm");
            }
        }
    }
}
