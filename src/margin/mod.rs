//! The ablation margin: how far the ablation zone reaches beyond each tumour.
//!
//! The margin at a point of a tumour's surface is the signed distance from
//! that point to the surface of the ablation zone: positive when the point
//! lies inside the zone, negative when tumour lies outside it. The minimal
//! ablative margin (MAM) is its minimum over the tumour surface. Clinical
//! thresholds (docs/references.md): a margin ≤ 5 mm carries a hazard ratio of
//! 14.6 (RFA) / 11.6 (MWA) for local progression, none above 10 mm
//! [Shady2018]; 2-year local-progression-free survival is 26 % at 0 mm and
//! 80 % at 11–15 mm [Wang2013]; > 5 mm is the minimum and ≥ 10 mm optimal
//! [Meta2023]. The target is 10 mm (`margin_mm`).
//!
//! Surfaces are sampled as the `surface` module describes: one point per
//! boundary face (midway between inside and outside voxel centres), moved
//! along the face to where the Gaussian-smoothed mask crosses one half, with
//! an area weight. The distance from a tumour point to the zone is the
//! distance to the nearest zone surface point, projected on that point's
//! normal (the tangent plane), its sign from whether the tumour point lies
//! inside the smoothed zone. Statistics over the surface are area-weighted.
//!
//! Each tumour (a 26-connected component of the tumour mask) is assessed on
//! its own, in a box around it that grows until it holds the zone surface
//! nearest to every tumour point.

mod kdtree;
pub(crate) mod surface;
pub mod target;

use std::collections::HashMap;

use ndarray::{Array3, ShapeBuilder};
use rayon::prelude::*;
use serde::Serialize;

use crate::distance::squared_edt_in_box;
use crate::error::{parameter_error, Result, Warning};
use crate::grid::ensure_orthogonal;
use crate::grid::{ras_to_lps, Grid};
use crate::morphology::{closing_in_box, BoxedComponents, Connectivity};
use crate::roi::VoxelBox;
use crate::volume::fortran_values;
use crate::volume::{Mask, Volume};

use kdtree::KdTree;
use surface::{Fields, Patch, SurfacePoint};

/// Clinical margin thresholds reported as coverage, mm [Shady2018], [Meta2023].
pub const COVERAGE_THRESHOLDS_MM: [f64; 3] = [0.0, 5.0, 10.0];

/// How to assess margins.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct MarginOptions {
    /// The margin required everywhere, mm (default 10).
    pub margin_mm: f64,
    /// Judge the verdict on the surface away from the liver capsule (needs a
    /// liver mask).
    pub exclude_capsule: bool,
    /// Build the signed margin map on the tumour surface.
    pub margin_map: bool,
}

impl Default for MarginOptions {
    fn default() -> Self {
        MarginOptions {
            margin_mm: crate::vocabulary::MARGIN_MM.default_value(),
            exclude_capsule: false,
            margin_map: false,
        }
    }
}

/// A connected part of a tumour surface whose margin is below the required one.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Shortfall {
    /// Area-weighted centroid of the region, world RAS+ mm. Not where the
    /// margin is smallest: a region covering the whole surface has its
    /// centroid at the tumour's centre.
    pub centroid_mm: [f64; 3],
    /// Surface area of the region, mm².
    pub area_mm2: f64,
    /// Smallest margin in the region, mm.
    pub min_margin_mm: f64,
    /// Where on the surface that smallest margin lies, world RAS+ mm.
    pub min_margin_at_mm: [f64; 3],
    /// The same point in DICOM patient coordinates (LPS mm), as PACS shows it.
    pub min_margin_at_lps_mm: [f64; 3],
}

/// Margin statistics over (part of) a tumour surface.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SurfaceMargins {
    /// Minimal ablative margin, mm (negative: tumour outside the zone).
    pub min_margin_mm: f64,
    /// The surface point where the minimal margin lies, world RAS+ mm.
    pub min_margin_at_mm: [f64; 3],
    /// The same point in DICOM patient coordinates (LPS mm).
    pub min_margin_at_lps_mm: [f64; 3],
    /// Area-weighted 5th percentile, mm.
    pub p5_margin_mm: f64,
    /// Area-weighted median, mm.
    pub median_margin_mm: f64,
    /// Largest margin, mm.
    pub max_margin_mm: f64,
    /// Surface with margin ≥ 0 mm, % of area.
    pub coverage_ge0_pct: f64,
    /// Surface with margin ≥ 5 mm, % of area.
    pub coverage_ge5_pct: f64,
    /// Surface with margin ≥ 10 mm, % of area.
    pub coverage_ge10_pct: f64,
    /// Surface area assessed, mm².
    pub surface_area_mm2: f64,
    /// Whether the margin reaches the required one everywhere.
    pub sufficient: bool,
}

/// The capsule-excluded variant of a tumour's margins.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CapsuleExcluded {
    /// Surface within the required margin of the liver's outside, % of area.
    pub excluded_surface_pct: f64,
    /// Statistics over the rest (`None` when all of it is capsule-adjacent).
    pub margins: Option<SurfaceMargins>,
}

/// The margin assessment of one tumour.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TumorMargin {
    /// Tumour number (1-based, in the order of each tumour's first voxel).
    pub tumor: usize,
    /// Tumour volume, mL.
    pub tumor_ml: f64,
    /// Centre of mass, world RAS+ mm.
    pub centroid_mm: [f64; 3],
    /// Margins over the whole tumour surface.
    #[serde(flatten)]
    pub margins: SurfaceMargins,
    /// Tumour outside the ablation zone, mL.
    pub residual_tumor_ml: f64,
    /// Tumour whose voxel centres are less than 5 mm inside the zone (or outside it), mL.
    /// (Voxels whose centre lies more than 10 mm plus a voxel diagonal inside
    /// the zone, by the distance transform, are counted above both limits
    /// without a surface query.)
    pub under5_ml: f64,
    /// The same for 10 mm, mL.
    pub under10_ml: f64,
    /// Surface regions whose margin is below the required one.
    pub shortfalls: Vec<Shortfall>,
    /// Margins with the capsule-adjacent surface excluded (liver given).
    pub capsule_excluded: Option<CapsuleExcluded>,
    /// Whether the tumour reaches the edge of the scan (margins there unknown).
    pub touches_edge: bool,
}

/// Margins of every tumour, the map and what the user must know.
#[derive(Debug, Clone)]
pub struct MarginAssessment {
    /// One entry per tumour.
    pub tumors: Vec<TumorMargin>,
    /// Signed margin (mm) on the tumour surface voxels, NaN elsewhere (when asked).
    pub margin_map: Option<Volume<f32>>,
    /// Warnings.
    pub warnings: Vec<Warning>,
}

/// One tumour's surface with its margins.
struct Assessed {
    points: Vec<SurfacePoint>,
    margins: Vec<f64>,
}

/// Assesses the margin of every tumour against the ablation zone.
///
/// # Errors
/// `GridMismatch` when the masks are not on one grid; `Parameter` for an
/// empty tumour or zone, a bad `margin_mm`, or capsule exclusion without a
/// liver; `Unsupported` on a sheared grid.
pub fn assess_margins(
    tumor: &Mask,
    zone: &Mask,
    liver: Option<&Mask>,
    options: &MarginOptions,
) -> Result<MarginAssessment> {
    let grid = tumor.grid();
    grid.ensure_same(zone.grid(), "tumour", "ablation zone")?;
    if let Some(l) = liver {
        grid.ensure_same(l.grid(), "tumour", "liver")?;
    }
    ensure_orthogonal(grid)?;
    crate::vocabulary::MARGIN_MM.check(options.margin_mm)?;
    if options.exclude_capsule && liver.is_none() {
        return Err(parameter_error(
            "exclude_capsule",
            "true",
            "a liver mask (`liver`) to find the capsule",
        ));
    }
    let dims = grid.dims();
    let zone_vals = fortran_values(zone.data());
    if !crate::volume::any_set(&zone_vals) {
        return Err(parameter_error("zone", "0 voxels", "a non-empty ablation zone"));
    }
    let tumor_all = fortran_values(tumor.data());
    let Some(comps) = BoxedComponents::new(&tumor_all, dims, Connectivity::Full26) else {
        return Err(parameter_error("tumor", "0 voxels", "a non-empty tumour mask"));
    };
    let liver_vals = liver.map(|l| fortran_values(l.data()));
    let vv_ml = grid.voxel_volume_mm3() / 1000.0;

    let results: Vec<(TumorMargin, Assessed)> = comps
        .boxes
        .par_iter()
        .enumerate()
        .map(|(c, bbox)| {
            let id = c as u32 + 1;
            let exterior = liver_vals.as_ref().map(|l| (&l[..], &tumor_all[..]));
            assess_one(grid, &comps, id, *bbox, &zone_vals, exterior, options, vv_ml)
        })
        .collect::<Result<_>>()?;

    let mut warnings = Vec::new();
    for (t, _) in &results {
        if t.touches_edge {
            warnings.push(Warning::new(
                None,
                format!("tumor {}", t.tumor),
                "reaches the edge of the scan: its margin there is unknown",
            ));
        }
    }
    let margin_map = options.margin_map.then(|| {
        let mut map = vec![f32::NAN; zone_vals.len()];
        for (_, a) in &results {
            for (p, &v) in a.points.iter().zip(&a.margins) {
                let n = p.voxel[0] + dims[0] * (p.voxel[1] + dims[1] * p.voxel[2]);
                let cur = map[n];
                if cur.is_nan() || (v as f32) < cur {
                    map[n] = v as f32;
                }
            }
        }
        let a =
            Array3::from_shape_vec(dims.f(), map).unwrap_or_else(|_| Array3::from_elem(dims.f(), f32::NAN));
        Volume::new(grid.clone(), a).unwrap_or_else(|_| Volume::filled(grid.clone(), f32::NAN))
    });
    Ok(MarginAssessment {
        tumors: results.into_iter().map(|(t, _)| t).collect(),
        margin_map,
        warnings,
    })
}

/// Gaps in the liver mask up to twice this wide (vessels inside the liver)
/// are filled before its outside is taken for the capsule, mm.
pub const LIVER_CLOSING_MM: f64 = 5.0;

/// The liver's outside within `roi`: voxels outside liver ∪ tumours after a
/// closing by [`LIVER_CLOSING_MM`] (vessels running through the liver are
/// not its capsule). Voxels beyond the scan are not taken as outside.
pub(crate) fn liver_exterior(liver: &[bool], tumor: &[bool], grid: &Grid, roi: VoxelBox) -> Vec<bool> {
    let dims = grid.dims();
    let spacing = grid.spacing_mm();
    let grow = spacing.map(|s| (2.0 * LIVER_CLOSING_MM / s).ceil() as usize + 1);
    let big = roi.grown_by(grow, dims);
    let region: Vec<bool> = big
        .extract(liver, dims)
        .iter()
        .zip(big.extract(tumor, dims))
        .map(|(&l, t)| l || t)
        .collect();
    if !region.contains(&false) {
        // Liver all around: the closing cannot change it, nothing is outside.
        return vec![false; roi.len()];
    }
    let closed = closing_in_box(&region, big.dims, spacing, LIVER_CLOSING_MM);
    let mut out = Vec::with_capacity(roi.len());
    for k in 0..roi.dims[2] {
        for j in 0..roi.dims[1] {
            for i in 0..roi.dims[0] {
                let p = [
                    roi.start[0] + i - big.start[0],
                    roi.start[1] + j - big.start[1],
                    roi.start[2] + k - big.start[2],
                ];
                out.push(!closed[big.index(p)]);
            }
        }
    }
    out
}

/// A surface patch around `bbox` grown by `grow` voxels, padded for smoothing.
pub(crate) fn patch_around(
    dims: [usize; 3],
    bbox: VoxelBox,
    grow: [usize; 3],
    pad: [usize; 3],
    inside: impl Fn(usize) -> bool,
) -> (Patch, [usize; 3], [usize; 3]) {
    let origin = [0, 1, 2].map(|a| bbox.start[a] as isize - (grow[a] + pad[a]) as isize);
    let pdims = [0, 1, 2].map(|a| bbox.dims[a] + 2 * (grow[a] + pad[a]));
    let patch = Patch::cut_with(dims, origin, pdims, inside);
    let lo = pad;
    let hi = [0, 1, 2].map(|a| pad[a] + bbox.dims[a] + 2 * grow[a]);
    (patch, lo, hi)
}

/// The voxels of the component `in_comp` inside `bbox`.
fn component_voxels(dims: [usize; 3], bbox: VoxelBox, in_comp: impl Fn(usize) -> bool) -> Vec<[usize; 3]> {
    let mut voxels: Vec<[usize; 3]> = Vec::new();
    for k in bbox.start[2]..bbox.start[2] + bbox.dims[2] {
        for j in bbox.start[1]..bbox.start[1] + bbox.dims[1] {
            for i in bbox.start[0]..bbox.start[0] + bbox.dims[0] {
                if in_comp(i + dims[0] * (j + dims[1] * k)) {
                    voxels.push([i, j, k]);
                }
            }
        }
    }
    voxels
}

/// Queries run in runs of this many points (in scan order, so neighbours),
/// each starting its search from the previous answer.
const QUERY_RUN: usize = 64;

/// The signed margin from each tumour surface point, and from each tumour
/// voxel centre, to the zone's surface (positive inside the zone).
fn margins_to_zone(
    grid: &Grid,
    bbox: VoxelBox,
    zone: &[bool],
    points: &[SurfacePoint],
    voxels: &[[usize; 3]],
    margin_mm: f64,
) -> (Vec<f64>, Vec<f64>) {
    let dims = grid.dims();
    let spacing = grid.spacing_mm();
    let pad = surface::padding(spacing);
    // Zone surface in a box that grows until it holds every nearest point.
    // Start a little beyond the required margin; the box doubles when a
    // nearest zone point may lie outside it.
    let mut reach_mm = margin_mm + 5.0;
    loop {
        let grow = [0, 1, 2].map(|a| (reach_mm / spacing[a]).ceil() as usize);
        let roi = bbox.grown_by(grow, dims);
        let whole = roi.start == [0; 3] && roi.dims == dims;
        let (zpatch, zlo, zhi) = patch_around(dims, roi, [0; 3], pad, |n| zone[n]);
        let zfields = Fields::new(&zpatch, spacing);
        let zpoints = surface::surface_points(&zpatch, &zfields, grid, zlo, zhi);
        let tree = KdTree::new(zpoints.iter().map(|p| p.position).collect());
        let field = zfields.for_axis(0);
        // `hint`: the previous query's nearest point (neighbouring queries
        // have neighbouring answers), which speeds the search, not its answer.
        let measure = |pos: [f64; 3],
                       inside_binary: Option<bool>,
                       hint: &mut Option<usize>|
         -> Option<(f64, f64)> {
            let (qi, d2) = tree.nearest_from(pos, *hint)?;
            *hint = Some(qi);
            let q = &zpoints[qi];
            let d = d2.sqrt();
            let diff = [
                pos[0] - q.position[0],
                pos[1] - q.position[1],
                pos[2] - q.position[2],
            ];
            let proj = -(diff[0] * q.normal[0] + diff[1] * q.normal[1] + diff[2] * q.normal[2]);
            let idx = grid.world_to_voxel(pos);
            let local = [0, 1, 2].map(|a| idx[a] - zpatch.origin[a] as f64);
            let inside = inside_binary.unwrap_or_else(|| surface::sample(field, zpatch.dims, local) >= 0.5);
            let mag = if d > 0.0 && proj.abs() >= 0.866 * d && (proj >= 0.0) == inside {
                proj.abs()
            } else {
                d
            };
            // Room inside the box along its inner faces (grid faces do not
            // count): a surface point left out (its inside voxel beyond the
            // box) lies at or beyond the box's outermost voxel centres.
            let mut room = f64::INFINITY;
            for a in 0..3 {
                if roi.start[a] > 0 {
                    room = room.min((idx[a] - roi.start[a] as f64) * spacing[a]);
                }
                if roi.start[a] + roi.dims[a] < dims[a] {
                    room = room.min((roi.start[a] as f64 + roi.dims[a] as f64 - 1.0 - idx[a]) * spacing[a]);
                }
            }
            Some((if inside { mag } else { -mag }, room - d))
        };
        // The queries run in parallel (a large tumour's thousands of points
        // would otherwise keep one thread busy while the others wait).
        let measured: Vec<Option<(f64, f64)>> = points
            .par_chunks(QUERY_RUN)
            .flat_map_iter(|run| {
                let mut hint = None;
                let measure = &measure;
                run.iter().map(move |p| measure(p.position, None, &mut hint))
            })
            .collect();
        let enough = !tree.is_empty() && measured.iter().all(|m| m.is_some_and(|(_, spare)| spare >= 0.0));
        let margins: Vec<f64> = measured.iter().filter_map(|m| m.map(|(mg, _)| mg)).collect();
        let mut vm = Vec::new();
        if enough || whole {
            // Voxel volumes only need to know whether a margin is below
            // 5 or 10 mm: a voxel whose centre lies far inside the zone
            // (by the distance transform between centres, less a voxel
            // diagonal) is known to be above, without a query.
            let outside_zone: Vec<bool> = roi.extract(zone, dims).into_iter().map(|b| !b).collect();
            let depth2 = &squared_edt_in_box(&outside_zone, roi.dims, spacing);
            let diagonal = (spacing[0].powi(2) + spacing[1].powi(2) + spacing[2].powi(2)).sqrt();
            let deep = COVERAGE_THRESHOLDS_MM[2] + diagonal;
            vm = voxels
                .par_chunks(QUERY_RUN)
                .flat_map_iter(|run| {
                    let mut hint = None;
                    let measure = &measure;
                    run.iter().map(move |v| {
                        let inside = zone[v[0] + dims[0] * (v[1] + dims[1] * v[2])];
                        let depth = (depth2[roi.index([0, 1, 2].map(|a| v[a] - roi.start[a]))] as f64).sqrt();
                        if !inside {
                            -depth.max(f64::MIN_POSITIVE)
                        } else if depth >= deep {
                            depth
                        } else {
                            let pos = grid.voxel_to_world(v.map(|x| x as f64));
                            measure(pos, Some(inside), &mut hint)
                                .map(|(mg, _)| mg)
                                .unwrap_or(f64::NEG_INFINITY)
                        }
                    })
                })
                .collect();
        }
        if enough || whole {
            break (margins, vm);
        }
        reach_mm *= 2.0;
    }
}

#[allow(clippy::too_many_arguments)]
fn assess_one(
    grid: &Grid,
    comps: &BoxedComponents,
    id: u32,
    bbox: VoxelBox,
    zone: &[bool],
    exterior: Option<(&[bool], &[bool])>,
    options: &MarginOptions,
    vv_ml: f64,
) -> Result<(TumorMargin, Assessed)> {
    let dims = grid.dims();
    let spacing = grid.spacing_mm();
    let pad = surface::padding(spacing);
    let in_comp = |n: usize| comps.at(n) == id;

    // The tumour's own surface.
    let (tpatch, tlo, thi) = patch_around(dims, bbox, [1; 3], pad, in_comp);
    let tfields = Fields::new(&tpatch, spacing);
    let points = surface::surface_points(&tpatch, &tfields, grid, tlo, thi);

    // Tumour voxels (for volumes and the centroid).
    let voxels = component_voxels(dims, bbox, in_comp);
    let n = voxels.len() as f64;
    let mean = [0, 1, 2].map(|a| voxels.iter().map(|v| v[a] as f64).sum::<f64>() / n);
    let centroid_mm = grid.voxel_to_world(mean);

    let (margins, voxel_margins) = margins_to_zone(grid, bbox, zone, &points, &voxels, options.margin_mm);

    // Capsule: surface points within the required margin of the liver's outside.
    let capsule = exterior.map(|(liver, tumor)| {
        let grow = [0, 1, 2].map(|a| (options.margin_mm / spacing[a]).ceil() as usize + 2);
        let roi = bbox.grown_by(grow, dims);
        near_outside(
            &points,
            &liver_exterior(liver, tumor, grid, roi),
            roi,
            spacing,
            options.margin_mm,
        )
    });

    let margins_all = surface_margins(&points, &margins, None, options.margin_mm);
    let capsule_excluded = capsule.as_ref().map(|cap| {
        let total: f64 = points.iter().map(|p| p.area_mm2).sum();
        // fold from +0.0: an empty float sum is −0.0.
        let excluded: f64 = points
            .iter()
            .zip(cap)
            .filter(|(_, &c)| c)
            .map(|(p, _)| p.area_mm2)
            .fold(0.0, |a, b| a + b);
        CapsuleExcluded {
            excluded_surface_pct: 100.0 * excluded / total.max(f64::MIN_POSITIVE),
            margins: surface_margins(&points, &margins, Some(cap), options.margin_mm),
        }
    });
    let use_capsule = options.exclude_capsule && capsule.is_some();
    let shortfalls = shortfall_regions(
        &points,
        &margins,
        if use_capsule { capsule.as_deref() } else { None },
        options.margin_mm,
    );
    let residual = voxels
        .iter()
        .filter(|v| !zone[v[0] + dims[0] * (v[1] + dims[1] * v[2])])
        .count();
    let under = |t: f64| voxel_margins.iter().filter(|&&m| m < t).count() as f64 * vv_ml;
    let touches_edge = bbox.touches(dims).iter().any(|&t| t);
    let Some(margins_summary) = margins_all else {
        return Err(parameter_error(
            "tumor",
            format!("tumour {id}"),
            "a tumour with a surface",
        ));
    };
    let tm = TumorMargin {
        tumor: id as usize,
        tumor_ml: n * vv_ml,
        centroid_mm,
        margins: margins_summary,
        residual_tumor_ml: residual as f64 * vv_ml,
        under5_ml: under(5.0),
        under10_ml: under(10.0),
        shortfalls,
        capsule_excluded,
        touches_edge,
    };
    Ok((tm, Assessed { points, margins }))
}

/// Which surface points lie within `margin_mm` of the `outside` voxels
/// (given in the box `roi`, which must hold every point's inside voxel).
/// Distances run between voxel centres; both boundaries lie half a voxel
/// from their centres, so the test is `d < margin + finest spacing`.
pub(crate) fn near_outside(
    points: &[SurfacePoint],
    outside: &[bool],
    roi: VoxelBox,
    spacing: [f64; 3],
    margin_mm: f64,
) -> Vec<bool> {
    if !outside.contains(&true) {
        return vec![false; points.len()];
    }
    let d2 = squared_edt_in_box(outside, roi.dims, spacing);
    let finest = spacing.iter().cloned().fold(f64::INFINITY, f64::min);
    let reach = margin_mm + finest;
    let r2 = (reach * reach) as f32;
    points
        .iter()
        .map(|p| {
            let local = [0, 1, 2].map(|a| p.voxel[a] - roi.start[a]);
            d2[roi.index(local)] < r2
        })
        .collect()
}

/// Area-weighted statistics; `skip[i]` leaves point `i` out.
fn surface_margins(
    points: &[SurfacePoint],
    margins: &[f64],
    skip: Option<&Vec<bool>>,
    required: f64,
) -> Option<SurfaceMargins> {
    let mut items: Vec<(f64, f64, [f64; 3])> = points
        .iter()
        .zip(margins)
        .enumerate()
        .filter(|(i, _)| skip.is_none_or(|s| !s[*i]))
        .map(|(_, (p, &m))| (m, p.area_mm2, p.position))
        .collect();
    if items.is_empty() {
        return None;
    }
    items.sort_by(|a, b| a.0.total_cmp(&b.0));
    let total: f64 = items.iter().map(|x| x.1).sum();
    let quantile = |q: f64| {
        let target = q * total;
        let mut acc = 0.0;
        for (m, w, _) in &items {
            acc += w;
            if acc >= target {
                return *m;
            }
        }
        items[items.len() - 1].0
    };
    // A fold from +0.0: an empty f64 sum is −0.0, which would print as "-0".
    let coverage = |t: f64| 100.0 * items.iter().filter(|x| x.0 >= t).fold(0.0, |a, x| a + x.1) / total;
    let (min, _, at) = items[0];
    Some(SurfaceMargins {
        min_margin_mm: min,
        min_margin_at_mm: at,
        min_margin_at_lps_mm: ras_to_lps(at),
        p5_margin_mm: quantile(0.05),
        median_margin_mm: quantile(0.5),
        max_margin_mm: items[items.len() - 1].0,
        coverage_ge0_pct: coverage(COVERAGE_THRESHOLDS_MM[0]),
        coverage_ge5_pct: coverage(COVERAGE_THRESHOLDS_MM[1]),
        coverage_ge10_pct: coverage(COVERAGE_THRESHOLDS_MM[2]),
        surface_area_mm2: total,
        sufficient: min >= required,
    })
}

/// Connected regions (26-adjacent inside voxels) of surface points whose
/// margin is below `required`, largest shortfall first.
fn shortfall_regions(
    points: &[SurfacePoint],
    margins: &[f64],
    skip: Option<&[bool]>,
    required: f64,
) -> Vec<Shortfall> {
    let mut by_voxel: HashMap<[usize; 3], Vec<usize>> = HashMap::new();
    for (i, (p, &m)) in points.iter().zip(margins).enumerate() {
        if m < required && skip.is_none_or(|s| !s[i]) {
            by_voxel.entry(p.voxel).or_default().push(i);
        }
    }
    let mut keys: Vec<[usize; 3]> = by_voxel.keys().copied().collect();
    keys.sort();
    let mut seen: HashMap<[usize; 3], bool> = HashMap::new();
    let mut out = Vec::new();
    for start in keys {
        if seen.contains_key(&start) {
            continue;
        }
        seen.insert(start, true);
        let mut stack = vec![start];
        let (mut area, mut wsum, mut min, mut at) = (0.0, [0.0; 3], f64::INFINITY, [0.0; 3]);
        while let Some(v) = stack.pop() {
            for &i in &by_voxel[&v] {
                let w = points[i].area_mm2;
                area += w;
                for (sum, x) in wsum.iter_mut().zip(points[i].position) {
                    *sum += w * x;
                }
                if margins[i] < min {
                    min = margins[i];
                    at = points[i].position;
                }
            }
            for d in Connectivity::Full26.offsets() {
                let q = [0, 1, 2].map(|a| v[a] as isize + d[a]);
                if q.iter().any(|&x| x < 0) {
                    continue;
                }
                let q = q.map(|x| x as usize);
                if by_voxel.contains_key(&q) && !seen.contains_key(&q) {
                    seen.insert(q, true);
                    stack.push(q);
                }
            }
        }
        let w = area.max(f64::MIN_POSITIVE);
        out.push(Shortfall {
            centroid_mm: wsum.map(|s| s / w),
            area_mm2: area,
            min_margin_mm: min,
            min_margin_at_mm: at,
            min_margin_at_lps_mm: ras_to_lps(at),
        });
    }
    out.sort_by(|a, b| a.min_margin_mm.total_cmp(&b.min_margin_mm));
    out
}

/// The surface sampling, stated in every report.
pub const SURFACE_SAMPLING: &str = "one point per boundary face (midway between inside and outside voxel centres), \
    moved along the face to the 0.5 level of the Gaussian-smoothed mask (sigma 1.5 voxels in-plane, 1 slice along a \
    coarse slice axis), area-weighted by face area x |normal component|";
