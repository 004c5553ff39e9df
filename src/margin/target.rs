//! Planning the ablation: the target zone each tumour needs, what it costs the
//! liver, and the vessels that may draw heat from it.
//!
//! ```text
//! target     = { voxels within margin_mm of the tumour } ∩ (liver ∪ tumours)
//! outside    = { voxels within margin_mm of the tumour } \ (liver ∪ tumours)
//! healthy    = target ∩ liver \ tumours
//! ```
//!
//! "Within margin_mm" thresholds the exact distance transform between voxel
//! centres (`d² ≤ margin²`). The subcapsular surface is the part of the
//! tumour surface (sampled as in the margin assessment) lying within the
//! margin of the liver's outside: there the full margin would leave the
//! liver. Vessels within 10 mm of the target are listed with their distance
//! to the tumour and their local diameter; a diameter ≥ 3 mm is a heat-sink
//! risk for RFA (heat sink in 73 % of veins > 3 mm against 0 % below [Lu2002]);
//! microwave ablation is still affected by veins > 6 mm [Yu2008].

use rayon::prelude::*;
use serde::Serialize;

use crate::distance::squared_edt_in_box;
use crate::error::{parameter_error, Result, Warning};
use crate::grid::ensure_orthogonal;
use crate::grid::Grid;
use crate::morphology::{BoxedComponents, Connectivity};
use crate::roi::VoxelBox;
use crate::volume::Mask;
use crate::volume::{bool_bytes, fortran_values};

use super::kdtree::KdTree;
use super::patch_around;
use super::surface::{self, Fields};

/// Vessels closer than this to the target are reported, mm: heat sinks were counted within about 10 mm of the zone [Lu2002].
pub const VESSEL_REACH_MM: f64 = 10.0;
/// Diameter from which a vessel is a heat-sink risk for RFA, mm [Lu2002].
pub const HEAT_SINK_DIAMETER_MM: f64 = 3.0;
/// Diameter from which a vessel still cools a microwave ablation, mm [Yu2008].
pub const MWA_HEAT_SINK_DIAMETER_MM: f64 = 6.0;

/// A vessel near a target zone.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct VesselRisk {
    /// Label value.
    pub label: i64,
    /// Label name.
    pub name: Option<String>,
    /// Distance between the tumour's and the vessel's boundaries, mm (0 when touching).
    pub min_distance_mm: f64,
    /// Whether the vessel enters the target zone.
    pub in_target: bool,
    /// Local diameter near the target: twice the largest inside distance of
    /// its voxels there (boundary midway between voxel centres), mm.
    pub diameter_mm: f64,
    /// Diameter ≥ 3 mm: heat-sink risk [Lu2002].
    pub heat_sink_risk: bool,
    /// Diameter ≥ 6 mm: still a risk for microwave ablation [Yu2008].
    pub mwa_heat_sink_risk: bool,
}

/// The target zone of one tumour.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TargetZone {
    /// Tumour number (1-based): connected components in the order of each
    /// one's first voxel.
    pub tumor: usize,
    /// The label value of the tumour's first voxel in the file it came from
    /// (`--tumor 11,…,17` keeps each tumour's own value).
    pub label: Option<i64>,
    /// That label's name, from the file's label table.
    pub label_name: Option<String>,
    /// A voxel of the tumour (its first in scan order), grid indices.
    pub first_voxel: [usize; 3],
    /// Tumour volume, mL.
    pub tumor_ml: f64,
    /// Tumour centre of mass, world RAS+ mm.
    pub centroid_mm: [f64; 3],
    /// Target zone (tumour + margin, inside the liver), mL.
    pub target_ml: f64,
    /// Healthy liver inside the target: what the ablation takes from the remnant, mL.
    pub healthy_liver_in_target_ml: f64,
    /// The same in % of the functional liver.
    pub healthy_liver_in_target_pct: f64,
    /// Part of the ideal zone outside the liver, mL.
    pub outside_liver_ml: f64,
    /// Tumour surface with no room for the full margin inside the liver, % of its area.
    pub subcapsular_surface_pct: f64,
    /// Vessels in the target or within 10 mm of it.
    pub vessels: Vec<VesselRisk>,
}

/// A vessel role: its label, name and mask.
pub struct VesselInput {
    /// Label value (for the report).
    pub label: i64,
    /// Name (for the report).
    pub name: Option<String>,
    /// Its voxels.
    pub mask: Mask,
}

/// Every tumour's target, the union mask and warnings.
pub struct TargetPlan {
    /// One entry per tumour.
    pub zones: Vec<TargetZone>,
    /// Functional liver (liver without tumours), mL.
    pub functional_liver_ml: f64,
    /// The union of the target zones.
    pub target: Mask,
    /// What the user must know.
    pub warnings: Vec<Warning>,
}

/// Plans the target zone of every tumour (26-connected components).
///
/// # Errors
/// `GridMismatch` when the masks are not on one grid; `Parameter` for an
/// empty tumour or liver or a bad margin; `Unsupported` on a sheared grid.
pub fn plan_targets(
    tumor: &Mask,
    liver: &Mask,
    vessels: &[VesselInput],
    margin_mm: f64,
) -> Result<TargetPlan> {
    let grid = tumor.grid();
    grid.ensure_same(liver.grid(), "tumour", "liver")?;
    for v in vessels {
        grid.ensure_same(v.mask.grid(), "tumour", &format!("vessel {}", v.label))?;
    }
    ensure_orthogonal(grid)?;
    crate::vocabulary::MARGIN_MM.check(margin_mm)?;
    let dims = grid.dims();
    let spacing = grid.spacing_mm();
    let vv_ml = grid.voxel_volume_mm3() / 1000.0;
    let t_all = fortran_values(tumor.data());
    let l_all = fortran_values(liver.data());
    if !crate::volume::any_set(&l_all) {
        return Err(parameter_error("liver", "0 voxels", "a non-empty liver"));
    }
    let Some(comps) = BoxedComponents::new(&t_all, dims, Connectivity::Full26) else {
        return Err(parameter_error("tumor", "0 voxels", "a non-empty tumour mask"));
    };
    const CHUNK: usize = 1 << 20;
    let functional = l_all
        .par_chunks(CHUNK)
        .zip(t_all.par_chunks(CHUNK))
        .map(|(l, t)| {
            // On the bytes (0 or 1): a loop that vectorises.
            let (l, t) = (bool_bytes(l), bool_bytes(t));
            l.iter().zip(t).map(|(&l, &t)| u32::from(l & !t)).sum::<u32>() as usize
        })
        .sum::<usize>() as f64
        * vv_ml;
    let region = |n: usize| l_all[n] || t_all[n];
    let vessel_vals: Vec<_> = vessels.iter().map(|v| fortran_values(v.mask.data())).collect();
    // The tumours side by side: each reads the shared masks and returns its
    // zone, its target voxels and its warning.
    let one = |(c, bbox): (usize, &VoxelBox)| -> (TargetZone, Vec<usize>, Option<Warning>) {
        let id = c as u32 + 1;
        let mut target_voxels = Vec::new();
        let mut warning = None;
        let grow = [0, 1, 2].map(|a| (margin_mm / spacing[a]).ceil() as usize + 1);
        let roi = bbox.grown_by(grow, dims);
        let feature: Vec<bool> = (0..roi.len())
            .map(|n| {
                let l = [
                    n % roi.dims[0],
                    (n / roi.dims[0]) % roi.dims[1],
                    n / (roi.dims[0] * roi.dims[1]),
                ];
                let g = [0, 1, 2].map(|a| roi.start[a] + l[a]);
                comps.at(g[0] + dims[0] * (g[1] + dims[1] * g[2])) == id
            })
            .collect();
        let d2 = squared_edt_in_box(&feature, roi.dims, spacing);
        // The tumour's voxels dilated by the margin: d² ≤ margin² between
        // voxel centres.
        let m2 = (margin_mm * margin_mm) as f32;
        let (mut tumor_n, mut target_n, mut healthy_n, mut outside_n) = (0u64, 0u64, 0u64, 0u64);
        let mut this_zone: Vec<[usize; 3]> = Vec::new();
        let mut sum = [0f64; 3];
        let mut first_voxel: Option<[usize; 3]> = None;
        for k in 0..roi.dims[2] {
            for j in 0..roi.dims[1] {
                for i in 0..roi.dims[0] {
                    let local = roi.index([i, j, k]);
                    let g = [roi.start[0] + i, roi.start[1] + j, roi.start[2] + k];
                    let n = g[0] + dims[0] * (g[1] + dims[1] * g[2]);
                    if feature[local] {
                        tumor_n += 1;
                        first_voxel = first_voxel.or(Some(g));
                        for a in 0..3 {
                            sum[a] += g[a] as f64;
                        }
                    }
                    if d2[local] > m2 {
                        continue;
                    }
                    this_zone.push(g);
                    if region(n) {
                        target_n += 1;
                        target_voxels.push(n);
                        if l_all[n] && !t_all[n] {
                            healthy_n += 1;
                        }
                    } else {
                        outside_n += 1;
                    }
                }
            }
        }
        let centroid_mm = grid.voxel_to_world(sum.map(|s| s / tumor_n.max(1) as f64));
        if bbox.touches(dims).iter().any(|&t| t) {
            warning = Some(Warning::new(
                None,
                format!("tumor {id}"),
                "reaches the edge of the scan: its target zone is cut",
            ));
        }

        // Subcapsular surface: tumour surface within the margin of the outside of liver ∪ tumours.
        let pad = surface::padding(spacing);
        let (tpatch, tlo, thi) = patch_around(dims, *bbox, [1; 3], pad, |n| comps.at(n) == id);
        let fields = Fields::new(&tpatch, spacing);
        let points = surface::surface_points(&tpatch, &fields, grid, tlo, thi);
        let ext = super::liver_exterior(&l_all, &t_all, grid, roi);
        // fold from +0.0: an empty float sum is −0.0.
        let total: f64 = points.iter().map(|p| p.area_mm2).fold(0.0, |a, b| a + b);
        let sub: f64 = super::near_outside(&points, &ext, roi, spacing, margin_mm)
            .iter()
            .zip(&points)
            .filter(|(&near, _)| near)
            .map(|(_, p)| p.area_mm2)
            .fold(0.0, |a, b| a + b);

        // Vessel distances run between boundary faces of both structures
        // (see `vessel_gap`).
        let faces = surface::face_centres(&tpatch, grid, tlo, thi);
        let tree = KdTree::new(faces.iter().map(|f| f.0).collect());
        let vessel_risks = vessels
            .iter()
            .zip(vessel_vals.iter())
            .filter_map(|(v, vals)| {
                vessel_risk(grid, v, vals, &this_zone, &comps, id, *bbox, margin_mm, &tree)
            })
            .collect();
        let zone = TargetZone {
            tumor: id as usize,
            label: None,
            label_name: None,
            first_voxel: first_voxel.unwrap_or(bbox.start),
            tumor_ml: tumor_n as f64 * vv_ml,
            centroid_mm,
            target_ml: target_n as f64 * vv_ml,
            healthy_liver_in_target_ml: healthy_n as f64 * vv_ml,
            healthy_liver_in_target_pct: 100.0 * healthy_n as f64 * vv_ml / functional.max(f64::MIN_POSITIVE),
            outside_liver_ml: outside_n as f64 * vv_ml,
            subcapsular_surface_pct: 100.0 * sub / total.max(f64::MIN_POSITIVE),
            vessels: vessel_risks,
        };
        (zone, target_voxels, warning)
    };
    let planned: Vec<_> = comps.boxes.par_iter().enumerate().map(one).collect();
    let mut target_all = vec![false; t_all.len()];
    let mut zones = Vec::new();
    let mut warnings = Vec::new();
    for (zone, voxels, warning) in planned {
        for n in voxels {
            target_all[n] = true;
        }
        zones.push(zone);
        warnings.extend(warning);
    }
    let target = Mask::new(
        grid.clone(),
        ndarray::Array3::from_shape_vec(ndarray::ShapeBuilder::f(dims), target_all)
            .map_err(|e| parameter_error("target", e, "a mask of the grid's shape"))?,
    )?;
    Ok(TargetPlan {
        zones,
        functional_liver_ml: functional,
        target,
        warnings,
    })
}

/// Local diameter of a vessel near the target, mm.
///
/// The largest ball inside a thin vessel reads low on a voxel grid (a 4 mm
/// vessel at 0.78 mm holds a ball of 2.7 mm between voxel centres), which
/// would hide a heat sink. liverkit counts the vessel's volume in slabs
/// through its point nearest the tumour, across 64 directions and the
/// principal axis of the vessel voxels within a few radii, takes the
/// smallest (the section perpendicular to the local axis) and reports the
/// diameter of the circle of the same area:
///
/// ```text
/// diameter_mm = 2 · √(A / π),   A = vessel volume in the slab / slab thickness
/// ```
///
/// Where the vessel is not elongated there (a bifurcation, a blob), the
/// diameter of the largest inscribed ball on a grid of half the finest
/// spacing is used instead.
fn vessel_diameter(grid: &Grid, vals: &[bool], roi: VoxelBox, near: &[usize], nearest: [usize; 3]) -> f64 {
    let dims = grid.dims();
    let spacing = grid.spacing_mm();
    let coarsest = spacing.iter().cloned().fold(0.0, f64::max);
    let vessel_roi = roi.extract(vals, dims);
    let outside: Vec<bool> = vessel_roi.iter().map(|&b| !b).collect();
    let d_in = squared_edt_in_box(&outside, roi.dims, spacing);
    let depth = near.iter().map(|&n| (d_in[n] as f64).sqrt()).fold(0.0, f64::max);
    // Vessel voxels within a few radii of the point nearest the tumour.
    let p0 = grid.voxel_to_world(nearest.map(|x| x as f64));
    let reach = (3.0 * depth).max(3.0 * coarsest);
    let mut pts: Vec<[f64; 3]> = Vec::new();
    for (n, &inside) in vessel_roi.iter().enumerate() {
        if !inside {
            continue;
        }
        let l = [
            n % roi.dims[0],
            (n / roi.dims[0]) % roi.dims[1],
            n / (roi.dims[0] * roi.dims[1]),
        ];
        let w = grid.voxel_to_world([0, 1, 2].map(|a| (roi.start[a] + l[a]) as f64));
        if (0..3).map(|a| (w[a] - p0[a]).powi(2)).sum::<f64>() <= reach * reach {
            pts.push(w);
        }
    }
    if pts.len() >= 8 {
        // The cross-section perpendicular to the local axis is the smallest
        // of all sections through the point (a cylinder cut at an angle θ
        // has the area A / cos θ), so the smallest slab count over
        // directions is taken, the vessel's principal axis among them. At a
        // confluence the principal axis points between the branches and a
        // section across it holds both; the smallest section does not.
        let count = pts.len() as f64;
        let mean = [0, 1, 2].map(|a| pts.iter().map(|p| p[a]).sum::<f64>() / count);
        let mut cov = nalgebra::Matrix3::<f64>::zeros();
        for p in &pts {
            let d = nalgebra::Vector3::new(p[0] - mean[0], p[1] - mean[1], p[2] - mean[2]);
            cov += d * d.transpose();
        }
        let eig = nalgebra::SymmetricEigen::new(cov / count);
        let mut order = [0usize, 1, 2];
        order.sort_by(|&a, &b| eig.eigenvalues[b].total_cmp(&eig.eigenvalues[a]));
        let (l1, l2) = (eig.eigenvalues[order[0]], eig.eigenvalues[order[1]]);
        if l1 >= 2.0 * l2.max(f64::MIN_POSITIVE) {
            let mut dirs = hemisphere_directions(SECTION_DIRECTIONS);
            dirs.push(eig.eigenvectors.column(order[0]).into_owned());
            let thickness = 3.0 * coarsest;
            let radial = 2.0 * depth + 2.0 * coarsest;
            let offsets: Vec<nalgebra::Vector3<f64>> = pts
                .iter()
                .map(|p| nalgebra::Vector3::new(p[0] - p0[0], p[1] - p0[1], p[2] - p0[2]))
                .collect();
            let smallest = dirs
                .iter()
                .map(|u| {
                    offsets
                        .iter()
                        .filter(|d| {
                            let along = d.dot(u);
                            along.abs() <= thickness / 2.0 && (*d - u * along).norm() <= radial
                        })
                        .count()
                })
                .min()
                .unwrap_or(0);
            if smallest > 0 {
                let area = smallest as f64 * grid.voxel_volume_mm3() / thickness;
                return 2.0 * (area / std::f64::consts::PI).sqrt();
            }
        }
    }
    inscribed_diameter(grid, vals, roi, near, depth)
}

/// Directions tried for a vessel's smallest cross-section.
const SECTION_DIRECTIONS: usize = 64;

/// `n` unit vectors spread evenly over the half sphere z ≥ 0 (a Fibonacci
/// lattice), the directions of planes through a point.
fn hemisphere_directions(n: usize) -> Vec<nalgebra::Vector3<f64>> {
    let golden = std::f64::consts::PI * (3.0 - 5f64.sqrt());
    (0..n)
        .map(|k| {
            let z = (k as f64 + 0.5) / n as f64;
            let r = (1.0 - z * z).sqrt();
            let phi = golden * k as f64;
            nalgebra::Vector3::new(r * phi.cos(), r * phi.sin(), z)
        })
        .collect()
}

/// Diameter of the largest ball inside the vessel near the target, on a grid
/// of about half the finest spacing where the lightly smoothed mask is
/// thresholded at one half.
fn inscribed_diameter(grid: &Grid, vals: &[bool], roi: VoxelBox, near: &[usize], depth: f64) -> f64 {
    let dims = grid.dims();
    let spacing = grid.spacing_mm();
    let finest = spacing.iter().cloned().fold(f64::INFINITY, f64::min);
    // Box of the near vessel voxels, grown by the vessel's coarse depth so
    // that its whole cross-section is inside.
    let locals: Vec<[usize; 3]> = near
        .iter()
        .map(|&n| {
            [
                n % roi.dims[0],
                (n / roi.dims[0]) % roi.dims[1],
                n / (roi.dims[0] * roi.dims[1]),
            ]
        })
        .collect();
    let mut lo = [usize::MAX; 3];
    let mut hi = [0usize; 3];
    for l in &locals {
        for a in 0..3 {
            lo[a] = lo[a].min(roi.start[a] + l[a]);
            hi[a] = hi[a].max(roi.start[a] + l[a]);
        }
    }
    let near_box = VoxelBox {
        start: lo,
        dims: [0, 1, 2].map(|a| hi[a] - lo[a] + 1),
    };
    let grow = [0, 1, 2].map(|a| ((depth + finest) / spacing[a]).ceil() as usize + 1);
    let pad = surface::padding(spacing);
    let (patch, plo, phi) = patch_around(dims, near_box, grow, pad, |n| vals[n]);
    // A light smoothing (σ = half the finest spacing): enough to round the
    // staircase, too little to shrink a thin vessel (the margins' wider
    // smoothing would halve a 2 mm one).
    let smooth = surface::gaussian(&patch, spacing, 0.5 * finest);
    let f = smooth.as_slice();
    // Fine grid over the patch interior [plo, phi), about finest/2 spacing,
    // at most 8 million points.
    let mut factor = spacing.map(|s| ((2.0 * s / finest).round() as usize).max(1));
    let extent = [0, 1, 2].map(|a| phi[a] - plo[a]);
    while (0..3).map(|a| (extent[a] - 1) * factor[a] + 1).product::<usize>() > 8_000_000
        && factor.iter().any(|&x| x > 1)
    {
        factor = factor.map(|x| (x / 2).max(1));
    }
    let fdims = [0, 1, 2].map(|a| (extent[a] - 1) * factor[a] + 1);
    let fspacing = [0, 1, 2].map(|a| spacing[a] / factor[a] as f64);
    let mut fine_out = vec![false; fdims[0] * fdims[1] * fdims[2]];
    for k in 0..fdims[2] {
        for j in 0..fdims[1] {
            for i in 0..fdims[0] {
                let x = [
                    plo[0] as f64 + i as f64 / factor[0] as f64,
                    plo[1] as f64 + j as f64 / factor[1] as f64,
                    plo[2] as f64 + k as f64 / factor[2] as f64,
                ];
                fine_out[i + fdims[0] * (j + fdims[1] * k)] = surface::sample(f, patch.dims, x) < 0.5;
            }
        }
    }
    let d2 = squared_edt_in_box(&fine_out, fdims, fspacing);
    // Largest inside distance at fine points within one voxel of a near vessel voxel.
    let mut best = 0f64;
    for l in &locals {
        let g = [0, 1, 2].map(|a| roi.start[a] + l[a]);
        let c = [0, 1, 2].map(|a| (g[a] as isize - patch.origin[a] - plo[a] as isize) as usize * factor[a]);
        for dk in 0..factor[2] {
            for dj in 0..factor[1] {
                for di in 0..factor[0] {
                    let p = [c[0] + di, c[1] + dj, c[2] + dk];
                    if p[0] < fdims[0] && p[1] < fdims[1] && p[2] < fdims[2] {
                        best = best.max(d2[p[0] + fdims[0] * (p[1] + fdims[1] * p[2])] as f64);
                    }
                }
            }
        }
    }
    let fine_min = fspacing.iter().cloned().fold(f64::INFINITY, f64::min);
    (2.0 * (best.sqrt() - 0.5 * fine_min)).max(finest)
}

/// Boundary-to-boundary distance between a vessel (its voxels `near`, in
/// the box `roi`) and one tumour, mm, with the vessel voxel closest to it.
///
/// Both boundaries are the faces between inside and outside voxels (module
/// `surface`, [`surface::face_centres`]), so the distance is measured
/// between boundaries in every direction alike: a voxel-centre distance
/// less half the finest spacing read up to half the slice spacing too far
/// across a thick slice axis. The faces are not refined on the smoothed
/// masks, which pulls a thin vessel's surface to its voxel centres and
/// would lengthen the gap. Touching or overlapping structures are 0 mm apart.
fn vessel_gap(
    grid: &Grid,
    vals: &[bool],
    roi: VoxelBox,
    near: &[usize],
    comps: &BoxedComponents,
    id: u32,
    tumor_surface: &KdTree,
) -> (f64, [usize; 3]) {
    let dims = grid.dims();
    let mut lo = [usize::MAX; 3];
    let mut hi = [0usize; 3];
    for &n in near {
        let local = [
            n % roi.dims[0],
            (n / roi.dims[0]) % roi.dims[1],
            n / (roi.dims[0] * roi.dims[1]),
        ];
        let g = [0, 1, 2].map(|a| roi.start[a] + local[a]);
        if comps.at(g[0] + dims[0] * (g[1] + dims[1] * g[2])) == id {
            return (0.0, g);
        }
        for a in 0..3 {
            lo[a] = lo[a].min(g[a]);
            hi[a] = hi[a].max(g[a]);
        }
    }
    let near_box = VoxelBox {
        start: lo,
        dims: [0, 1, 2].map(|a| hi[a] - lo[a] + 1),
    };
    let (patch, plo, phi) = patch_around(dims, near_box, [0; 3], [1; 3], |n| vals[n]);
    let mut best = (f64::INFINITY, lo);
    for (position, voxel) in surface::face_centres(&patch, grid, plo, phi) {
        if let Some((_, d2)) = tumor_surface.nearest(position) {
            if d2 < best.0 {
                best = (d2, voxel);
            }
        }
    }
    (best.0.sqrt(), best.1)
}

/// Distance and diameter of a vessel near one tumour's target, or `None` when
/// it is farther than [`VESSEL_REACH_MM`] from the target.
#[allow(clippy::too_many_arguments)]
fn vessel_risk(
    grid: &Grid,
    v: &VesselInput,
    vals: &[bool],
    zone_voxels: &[[usize; 3]],
    comps: &BoxedComponents,
    id: u32,
    bbox: VoxelBox,
    margin_mm: f64,
    tumor_surface: &KdTree,
) -> Option<VesselRisk> {
    let dims = grid.dims();
    let spacing = grid.spacing_mm();
    // Box: the target's reach plus room for the vessel's cross-section.
    let reach = margin_mm + VESSEL_REACH_MM + 25.0;
    let roi = bbox.grown_mm(reach, spacing, dims);
    let vessel = roi.extract(vals, dims);
    if !vessel.contains(&true) {
        return None;
    }
    // This tumour's ideal zone (tumour + margin, before clipping to the
    // liver: a vessel is not liver, yet it may run through the zone). Its
    // voxels lie inside the box, which holds the tumour grown by more than
    // the margin.
    let mut target = vec![false; roi.len()];
    for g in zone_voxels {
        let local = [0, 1, 2].map(|a| g[a] - roi.start[a]);
        target[roi.index(local)] = true;
    }
    let d_target = squared_edt_in_box(&target, roi.dims, spacing);
    let reach2 = (VESSEL_REACH_MM * VESSEL_REACH_MM) as f32;
    let near: Vec<usize> = (0..roi.len())
        .filter(|&n| vessel[n] && d_target[n] <= reach2)
        .collect();
    if near.is_empty() {
        return None;
    }
    let in_target = near.iter().any(|&n| d_target[n] == 0.0);
    let (min_d, nearest) = vessel_gap(grid, vals, roi, &near, comps, id, tumor_surface);
    let diameter = vessel_diameter(grid, vals, roi, &near, nearest);
    Some(VesselRisk {
        label: v.label,
        name: v.name.clone(),
        min_distance_mm: min_d,
        in_target,
        diameter_mm: diameter,
        heat_sink_risk: diameter >= HEAT_SINK_DIAMETER_MM,
        mwa_heat_sink_risk: diameter >= MWA_HEAT_SINK_DIAMETER_MM,
    })
}

/// How close the applicator's active part may come to a vessel of
/// [`HEAT_SINK_DIAMETER_MM`] or more before liverkit warns, mm. liverkit's
/// own choice, not a published cut-off: half the 10 mm reach within which
/// [Lu2002] counted vessels as heat sinks, i.e. a vessel inside the zone's
/// core, where it cools the zone at its source and its wall may be injured.
pub const APPLICATOR_VESSEL_WARN_MM: f64 = 5.0;

/// A vessel close to the applicator's active part.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ApplicatorVessel {
    /// Label value.
    pub label: i64,
    /// Label name.
    pub name: Option<String>,
    /// Distance from the active part's axis to the vessel's boundary, mm.
    pub distance_mm: f64,
    /// Local diameter of the vessel there, mm.
    pub diameter_mm: f64,
    /// The vessel voxel closest to the applicator, world RAS+ mm.
    pub closest_mm: [f64; 3],
}

/// Vessels whose boundary comes within `reach_mm` of the segment `a`–`b`
/// (the applicator's active part) with a local diameter of at least
/// [`HEAT_SINK_DIAMETER_MM`].
///
/// The distance runs from the segment to each vessel voxel centre, less the
/// voxel's half extent towards the segment (`½ Σ |uₐ| sₐ`, the box's reach
/// along the unit direction u): never more than the gap to the voxelised
/// boundary. The diameter is measured as in the target's vessel list.
pub fn vessels_near_segment(
    grid: &Grid,
    vessels: &[VesselInput],
    a: [f64; 3],
    b: [f64; 3],
    reach_mm: f64,
) -> Vec<ApplicatorVessel> {
    let dims = grid.dims();
    let spacing = grid.spacing_mm();
    let ends = [grid.world_to_voxel(a), grid.world_to_voxel(b)];
    let grow = reach_mm + VESSEL_REACH_MM + 25.0;
    let lo = [0, 1, 2].map(|k| {
        let v = ends[0][k].min(ends[1][k]) - grow / spacing[k];
        v.floor().clamp(0.0, dims[k] as f64 - 1.0) as usize
    });
    let hi = [0, 1, 2].map(|k| {
        let v = ends[0][k].max(ends[1][k]) + grow / spacing[k];
        v.ceil().clamp(0.0, dims[k] as f64 - 1.0) as usize
    });
    if (0..3).any(|k| {
        ends[0][k].max(ends[1][k]) < -grow / spacing[k]
            || ends[0][k].min(ends[1][k]) > dims[k] as f64 + grow / spacing[k]
    }) {
        return Vec::new();
    }
    let roi = VoxelBox {
        start: lo,
        dims: [0, 1, 2].map(|k| hi[k] - lo[k] + 1),
    };
    let ab = [b[0] - a[0], b[1] - a[1], b[2] - a[2]];
    let len2 = ab.iter().map(|x| x * x).sum::<f64>();
    let mut out = Vec::new();
    for v in vessels {
        let vals = fortran_values(v.mask.data());
        let local = roi.extract(&vals, dims);
        let mut near = Vec::new();
        let mut best = (f64::INFINITY, [0usize; 3], [0f64; 3]);
        for (n, &inside) in local.iter().enumerate() {
            if !inside {
                continue;
            }
            let l = [
                n % roi.dims[0],
                (n / roi.dims[0]) % roi.dims[1],
                n / (roi.dims[0] * roi.dims[1]),
            ];
            let g = [0, 1, 2].map(|k| roi.start[k] + l[k]);
            let c = grid.voxel_to_world(g.map(|x| x as f64));
            let t = if len2 > 0.0 {
                ((0..3).map(|k| (c[k] - a[k]) * ab[k]).sum::<f64>() / len2).clamp(0.0, 1.0)
            } else {
                0.0
            };
            let q = [0, 1, 2].map(|k| a[k] + t * ab[k]);
            let d = [0, 1, 2].map(|k| c[k] - q[k]);
            let r = d.iter().map(|x| x * x).sum::<f64>().sqrt();
            let half = if r > 0.0 {
                let dv = grid.world_to_voxel(c);
                let dq = grid.world_to_voxel(q);
                // Direction in voxel units, scaled to mm per axis.
                let u = [0, 1, 2].map(|k| (dv[k] - dq[k]) * spacing[k] / r);
                0.5 * (0..3).map(|k| u[k].abs() * spacing[k]).sum::<f64>()
            } else {
                0.0
            };
            let gap = (r - half).max(0.0);
            if gap <= reach_mm {
                near.push(n);
                if gap < best.0 {
                    best = (gap, g, c);
                }
            }
        }
        if near.is_empty() {
            continue;
        }
        let diameter = vessel_diameter(grid, &vals, roi, &near, best.1);
        if diameter >= HEAT_SINK_DIAMETER_MM {
            out.push(ApplicatorVessel {
                label: v.label,
                name: v.name.clone(),
                distance_mm: best.0,
                diameter_mm: diameter,
                closest_mm: best.2,
            });
        }
    }
    out.sort_by(|x, y| x.distance_mm.total_cmp(&y.distance_mm));
    out
}
