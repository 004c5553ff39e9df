//! Needle path planning: which straight paths from the skin to a tumour are
//! admissible, and where along each the tip and the zone go.
//!
//! The search follows the shape of published planners (hard constraints on
//! the path, soft goals on the result, a thermal model to confirm;
//! [Baegert2007], [Seitel2011]): candidate directions spread evenly over the
//! sphere around the tumour ([`directions`], a Fibonacci lattice
//! [Gonzalez2010]); along each, a ray from the target's centre to the skin
//! reads the distance maps of the obstacles (clearance is a lookup, not a
//! re-voxelisation), the liver and the body ([`trace`]); the admissible ones
//! get a tip depth and a protocol from a zone surrogate ([`fit_zone`]: the
//! smallest ellipsoid of the device's table that holds the whole target), and
//! the case layer confirms the best with the full thermal model.
//!
//! World coordinates are RAS+ mm; a direction `u` points from the target
//! out towards the skin, the needle travels along `−u`.

use rayon::prelude::*;

use crate::error::Result;
use crate::grid::Grid;
use crate::roi::VoxelBox;
use crate::volume::{fortran_values, Mask};

/// The distance to a group of obstacles, mm, computed only where a needle
/// can reach and capped.
///
/// A path's clearance matters only within the applicator's working length
/// of its start (see [`trace`]), so the distance map is computed in a box of
/// the grid that holds every such point grown by the cap: an obstacle
/// closer than the cap to any of them lies in the box, so every distance
/// below the cap is exact, and every larger one reads as the cap (also
/// outside the box). On a 512 × 512 × 300 scan this leaves out the slices
/// beyond the needle's reach.
#[derive(Debug, Clone)]
pub struct CappedDistance {
    roi: VoxelBox,
    grid_dims: [usize; 3],
    mm: Vec<f32>,
    cap_mm: f32,
}

impl CappedDistance {
    /// The distance to `mask`'s voxels in `roi` (a box of its grid), capped
    /// at `cap_mm`.
    ///
    /// # Errors
    /// `Unsupported` on a sheared grid.
    pub fn new(mask: &Mask, roi: VoxelBox, cap_mm: f64) -> Result<CappedDistance> {
        let grid = mask.grid();
        crate::grid::ensure_orthogonal(grid)?;
        let feature = roi.extract(&fortran_values(mask.data()), grid.dims());
        let cap = cap_mm as f32;
        let mut mm = crate::distance::squared_edt_in_box(&feature, roi.dims, grid.spacing_mm());
        mm.par_iter_mut().for_each(|v| *v = v.sqrt().min(cap));
        Ok(CappedDistance {
            roi,
            grid_dims: grid.dims(),
            mm,
            cap_mm: cap,
        })
    }

    /// The distance at voxel `ijk` of the grid, mm (the cap outside the box).
    pub fn at(&self, ijk: [usize; 3]) -> f32 {
        debug_assert!((0..3).all(|a| ijk[a] < self.grid_dims[a]));
        let inside =
            (0..3).all(|a| ijk[a] >= self.roi.start[a] && ijk[a] < self.roi.start[a] + self.roi.dims[a]);
        if inside {
            self.mm[self.roi.index([0, 1, 2].map(|a| ijk[a] - self.roi.start[a]))]
        } else {
            self.cap_mm
        }
    }

    /// Distances at or above this read as it, mm.
    pub fn cap_mm(&self) -> f64 {
        f64::from(self.cap_mm)
    }
}

/// What a path must respect. Defaults: [`Constraints::default`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Constraints {
    /// Clearance from vessels along the path, mm.
    pub vessel_clearance_mm: f64,
    /// Clearance from every other obstacle (bone, lung, bowel…), mm.
    pub other_clearance_mm: f64,
    /// The applicator's working length: skin to tip at most, mm.
    pub max_length_mm: f64,
    /// Liver the path crosses before the tumour, at least, mm.
    pub min_liver_mm: f64,
    /// The smallest angle between the path and the liver capsule where it
    /// enters, degrees (smaller is grazing).
    pub min_capsule_angle_deg: f64,
    /// Refuse entries from behind (a direction more than 30° posterior of
    /// the horizontal plane).
    pub no_posterior: bool,
    /// Entries must lie in this box (RAS+ mm, low and high corners).
    pub entry_box: Option<([f64; 3], [f64; 3])>,
}

impl Default for Constraints {
    /// 5 mm from vessels and 3 mm from other structures, 10 mm of liver
    /// before the tumour (issue 17's defaults, as in [Baegert2007]'s hard
    /// constraints); a 150 mm working length; a capsule met at 20° or more
    /// (a liverkit choice: a tangential puncture tears the capsule and slides
    /// off it).
    fn default() -> Constraints {
        Constraints {
            vessel_clearance_mm: 5.0,
            other_clearance_mm: 3.0,
            max_length_mm: 150.0,
            min_liver_mm: 10.0,
            min_capsule_angle_deg: 20.0,
            no_posterior: false,
            entry_box: None,
        }
    }
}

/// The maps a path is traced through, all on one grid.
#[derive(Debug, Clone, Copy)]
pub struct PathMaps<'a> {
    /// The scan's grid.
    pub grid: &'a Grid,
    /// Distance to the nearest vessel voxel, mm (none: no vessel given).
    pub vessels_mm: Option<&'a CappedDistance>,
    /// Distance to the nearest other obstacle voxel, mm.
    pub others_mm: Option<&'a CappedDistance>,
    /// Where the body is (`None`: the scan's field of view stands for it).
    pub body: Option<&'a Mask>,
    /// The liver.
    pub liver: &'a Mask,
    /// The tumour planned for.
    pub tumor: &'a Mask,
}

/// Why a direction was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Rejection {
    /// The path passes closer to a vessel than its clearance.
    Vessel,
    /// Closer to another obstacle than its clearance.
    Obstacle,
    /// Longer from skin to tip than the working length.
    TooLong,
    /// Too little liver before the tumour.
    TooLittleLiver,
    /// It meets the capsule at a grazing angle.
    Grazing,
    /// It enters from behind (with `no_posterior`).
    Posterior,
    /// Its entry lies outside the entry box.
    OutsideEntryBox,
    /// The tip the zone needs lies outside the liver and the tumour.
    TipOutsideLiver,
    /// It leaves the scan still inside the body: its skin entry is not seen.
    LeavesScan,
}

impl Rejection {
    /// Every rejection, in report order.
    pub const ALL: [Rejection; 9] = [
        Rejection::Vessel,
        Rejection::Obstacle,
        Rejection::TooLong,
        Rejection::TooLittleLiver,
        Rejection::Grazing,
        Rejection::Posterior,
        Rejection::OutsideEntryBox,
        Rejection::TipOutsideLiver,
        Rejection::LeavesScan,
    ];

    /// Its key in reports.
    pub fn key(self) -> &'static str {
        match self {
            Rejection::Vessel => "vessel_clearance",
            Rejection::Obstacle => "obstacle_clearance",
            Rejection::TooLong => "too_long",
            Rejection::TooLittleLiver => "too_little_liver",
            Rejection::Grazing => "grazing_capsule",
            Rejection::Posterior => "posterior",
            Rejection::OutsideEntryBox => "outside_entry_box",
            Rejection::TipOutsideLiver => "tip_outside_liver",
            Rejection::LeavesScan => "leaves_scan_inside_body",
        }
    }
}

/// An admissible straight path from the target's centre to the skin.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Path {
    /// Unit direction from the target out to the skin.
    pub direction: [f64; 3],
    /// Where it enters the body (the outermost body point on the ray), mm.
    pub entry_mm: [f64; 3],
    /// From the target's centre to the entry, mm.
    pub length_mm: f64,
    /// Liver (not tumour) crossed, mm.
    pub liver_mm: f64,
    /// The least clearance to a vessel along the path, mm (∞ without
    /// vessels, or none within the distance maps' cap of the path).
    pub vessel_clearance_mm: f64,
    /// The least clearance to another obstacle, mm (∞ likewise).
    pub other_clearance_mm: f64,
    /// The angle between the path and the capsule where it enters, degrees.
    pub capsule_angle_deg: f64,
}

/// `n` unit vectors spread evenly over the sphere: the Fibonacci lattice
/// [Gonzalez2010] (points at equal-area latitudes, longitudes a golden angle
/// apart).
pub fn directions(n: usize) -> Vec<[f64; 3]> {
    let golden = std::f64::consts::PI * (3.0 - 5f64.sqrt());
    (0..n)
        .map(|i| {
            let z = 1.0 - 2.0 * (i as f64 + 0.5) / n as f64;
            let r = (1.0 - z * z).max(0.0).sqrt();
            let phi = golden * i as f64;
            [r * phi.cos(), r * phi.sin(), z]
        })
        .collect()
}

fn at_voxel<T: Copy>(v: &ndarray::Array3<T>, ijk: [usize; 3]) -> T {
    v[ijk]
}

/// The outward normal of the liver at a capsule point: the mean offset of
/// the outside voxels within two voxels, in world directions.
fn capsule_normal(liver: &Mask, ijk: [usize; 3]) -> Option<[f64; 3]> {
    let grid = liver.grid();
    let d = grid.dims();
    let centre = grid.voxel_to_world(ijk.map(|x| x as f64));
    let mut n = [0.0; 3];
    for di in -2i64..=2 {
        for dj in -2i64..=2 {
            for dk in -2i64..=2 {
                let q = [ijk[0] as i64 + di, ijk[1] as i64 + dj, ijk[2] as i64 + dk];
                if (0..3).any(|a| q[a] < 0 || q[a] >= d[a] as i64) {
                    continue;
                }
                let q = q.map(|x| x as usize);
                if !liver.data()[q] {
                    let w = grid.voxel_to_world(q.map(|x| x as f64));
                    for a in 0..3 {
                        n[a] += w[a] - centre[a];
                    }
                }
            }
        }
    }
    let len = (n[0] * n[0] + n[1] * n[1] + n[2] * n[2]).sqrt();
    (len > 0.0).then(|| n.map(|v| v / len))
}

/// Traces the ray from `from_mm` along `u` to where it leaves the scan and
/// judges it against `c`. The clearance read at each sample (every half of
/// the smallest spacing) is lowered by half a voxel diagonal and half a
/// step, so that a path accepted clears every obstacle voxel centre by at
/// least the clearance between samples too. Length constraints use the
/// target's centre as the tip (the case layer checks again at the tip it
/// places).
///
/// # Errors
/// The first constraint the path breaks.
pub fn trace(
    maps: &PathMaps<'_>,
    from_mm: [f64; 3],
    u: [f64; 3],
    c: &Constraints,
) -> Result<Path, Rejection> {
    let grid = maps.grid;
    let sp = grid.spacing_mm();
    let step = 0.5 * sp.iter().copied().fold(f64::INFINITY, f64::min);
    let slack = 0.5 * (sp[0] * sp[0] + sp[1] * sp[1] + sp[2] * sp[2]).sqrt() + 0.5 * step;
    let (mut vessel, mut other) = (f64::INFINITY, f64::INFINITY);
    let mut liver_mm = 0.0;
    let mut entry: Option<(f64, [usize; 3])> = None;
    let mut last_inside_grid = 0.0;
    let mut capsule: Option<[usize; 3]> = None;
    let mut in_liver_before = false;
    let mut last_in_body = false;
    let mut s = 0.0;
    loop {
        let p = [0, 1, 2].map(|a| from_mm[a] + s * u[a]);
        let Some(ijk) = grid.nearest_voxel(p) else {
            break;
        };
        last_inside_grid = s;
        let tumor = at_voxel(maps.tumor.data(), ijk);
        // Clearance counts within the working length: a point beyond it
        // is outside the body on an admissible path, and a path whose skin
        // lies beyond it is too long. A distance at the cap says nothing
        // nearer lies within it: the clearance stays unknown (infinite)
        // rather than set to the cap.
        if !tumor && s <= c.max_length_mm {
            for (map, clearance) in [(maps.vessels_mm, &mut vessel), (maps.others_mm, &mut other)] {
                let Some(m) = map else { continue };
                let d = f64::from(m.at(ijk));
                if d < m.cap_mm() {
                    *clearance = clearance.min(d - slack);
                }
            }
        }
        let liver = at_voxel(maps.liver.data(), ijk);
        if liver && !tumor {
            liver_mm += step;
        }
        if in_liver_before && !liver {
            capsule = Some(ijk);
        }
        in_liver_before = liver || tumor;
        last_in_body = maps.body.is_some_and(|b| at_voxel(b.data(), ijk));
        if maps.body.is_none_or(|b| at_voxel(b.data(), ijk)) {
            entry = Some((s, ijk));
        }
        s += step;
    }
    if last_in_body {
        return Err(Rejection::LeavesScan);
    }
    if vessel < c.vessel_clearance_mm {
        return Err(Rejection::Vessel);
    }
    if other < c.other_clearance_mm {
        return Err(Rejection::Obstacle);
    }
    let length_mm = entry.map_or(last_inside_grid, |(s, _)| s);
    if length_mm > c.max_length_mm {
        return Err(Rejection::TooLong);
    }
    if liver_mm < c.min_liver_mm {
        return Err(Rejection::TooLittleLiver);
    }
    let capsule_angle_deg = capsule
        .and_then(|q| capsule_normal(maps.liver, q))
        .map_or(90.0, |n| {
            let cos = (n[0] * u[0] + n[1] * u[1] + n[2] * u[2]).abs().min(1.0);
            90.0 - cos.acos().to_degrees()
        });
    if capsule_angle_deg < c.min_capsule_angle_deg {
        return Err(Rejection::Grazing);
    }
    // Posterior: RAS −y; more than 30° below the horizontal towards the back.
    if c.no_posterior && -u[1] > 0.5 {
        return Err(Rejection::Posterior);
    }
    let entry_mm = [0, 1, 2].map(|a| from_mm[a] + length_mm * u[a]);
    if let Some((lo, hi)) = c.entry_box {
        if (0..3).any(|a| entry_mm[a] < lo[a] || entry_mm[a] > hi[a]) {
            return Err(Rejection::OutsideEntryBox);
        }
    }
    Ok(Path {
        direction: u,
        entry_mm,
        length_mm,
        liver_mm,
        vessel_clearance_mm: vessel.max(0.0),
        other_clearance_mm: other.max(0.0),
        capsule_angle_deg,
    })
}

/// A zone of the surrogate: an ellipsoid around the needle axis.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ZoneSize {
    /// Width across the needle, mm.
    pub diameter_mm: f64,
    /// Extent along it, mm.
    pub length_mm: f64,
    /// How far it reaches beyond the tip, mm.
    pub beyond_tip_mm: f64,
}

/// Where a zone goes along a path and how much of the target it holds.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Placement {
    /// The tip, RAS+ mm.
    pub tip_mm: [f64; 3],
    /// Share of the target's points inside the zone, 0–1.
    pub covered_frac: f64,
}

/// Centres `zone` on the target's extent along the needle (the needle runs
/// along `−u` through `centre_mm`) and counts the target points
/// (`points_mm`, relative to `centre_mm`) inside its ellipsoid.
pub fn fit_zone(points_mm: &[[f64; 3]], centre_mm: [f64; 3], u: [f64; 3], zone: &ZoneSize) -> Placement {
    let d = u.map(|v| -v);
    let axial = |p: &[f64; 3]| p[0] * d[0] + p[1] * d[1] + p[2] * d[2];
    let (lo, hi) = points_mm
        .iter()
        .map(axial)
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(l, h), a| {
            (l.min(a), h.max(a))
        });
    let mid = if lo.is_finite() { 0.5 * (lo + hi) } else { 0.0 };
    let (a_half, r_half) = (zone.length_mm / 2.0, zone.diameter_mm / 2.0);
    let inside = points_mm
        .iter()
        .filter(|p| {
            let a = axial(p);
            let r2 = (p[0] * p[0] + p[1] * p[1] + p[2] * p[2]) - a * a;
            ((a - mid) / a_half).powi(2) + r2.max(0.0) / (r_half * r_half) <= 1.0
        })
        .count();
    // The zone's centre lies beyond_tip − length/2 along d from the tip.
    let tip_along = mid + a_half - zone.beyond_tip_mm;
    Placement {
        tip_mm: [0, 1, 2].map(|a| centre_mm[a] + tip_along * d[a]),
        covered_frac: if points_mm.is_empty() {
            0.0
        } else {
            inside as f64 / points_mm.len() as f64
        },
    }
}

/// Whether each target point (relative to the target's centre) lies inside
/// the zone whose centre is `zone_centre_mm` (relative too), its long axis
/// along `d`, as a bit set (bit `i` of word `i / 64`).
pub fn zone_holds(
    points_mm: &[[f64; 3]],
    zone_centre_mm: [f64; 3],
    d: [f64; 3],
    zone: &ZoneSize,
) -> Vec<u64> {
    let (a_half, r_half) = (zone.length_mm / 2.0, zone.diameter_mm / 2.0);
    let mut bits = vec![0u64; points_mm.len().div_ceil(64)];
    for (i, p) in points_mm.iter().enumerate() {
        let q = [0, 1, 2].map(|k| p[k] - zone_centre_mm[k]);
        let a = q[0] * d[0] + q[1] * d[1] + q[2] * d[2];
        let r2 = (q[0] * q[0] + q[1] * q[1] + q[2] * q[2]) - a * a;
        if (a / a_half).powi(2) + r2.max(0.0) / (r_half * r_half) <= 1.0 {
            bits[i / 64] |= 1 << (i % 64);
        }
    }
    bits
}

/// Greedy set cover [Chvatal1979]: starting from the points `held` already
/// (a bit set; empty for none), up to `max` of `sets` (bit sets over the
/// same points), each time the one adding the most points not yet held
/// (the first on ties); stops when nothing is left or nothing is added.
/// Returns the indices picked and the points held in the end.
pub fn greedy_cover(sets: &[Vec<u64>], held: &[u64], max: usize) -> (Vec<usize>, usize) {
    let words = sets.first().map_or(held.len(), Vec::len);
    let mut held: Vec<u64> = (0..words).map(|w| held.get(w).copied().unwrap_or(0)).collect();
    let mut picked = Vec::new();
    while picked.len() < max {
        let gain = |s: &Vec<u64>| -> u32 { s.iter().zip(&held).map(|(a, h)| (a & !h).count_ones()).sum() };
        let Some((best, g)) = sets
            .iter()
            .enumerate()
            .map(|(i, s)| (i, gain(s)))
            .max_by(|a, b| a.1.cmp(&b.1).then(b.0.cmp(&a.0)))
        else {
            break;
        };
        if g == 0 {
            break;
        }
        for (h, a) in held.iter_mut().zip(&sets[best]) {
            *h |= a;
        }
        picked.push(best);
    }
    let count = held.iter().map(|w| w.count_ones() as usize).sum();
    (picked, count)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_capped_distance_is_exact_below_its_cap_a_cap_inside_its_box() {
        // Scattered obstacle voxels on an anisotropic grid; the full map
        // (every voxel, distance module) is the reference.
        let grid = Grid::from_spacing([60, 50, 40], [0.8, 0.8, 2.0]).unwrap();
        let mut data = ndarray::Array3::from_elem(ndarray::ShapeBuilder::f([60, 50, 40]), false);
        for (n, ijk) in [[3, 4, 5], [55, 40, 30], [30, 25, 20], [10, 45, 38], [50, 5, 2]]
            .iter()
            .enumerate()
        {
            data[*ijk] = true;
            data[[ijk[0], ijk[1], (ijk[2] + n) % 40]] = true;
        }
        let mask = Mask::new(grid.clone(), data).unwrap();
        let full = crate::distance::distance_to_foreground_mm(&mask).unwrap();
        let roi = VoxelBox {
            start: [8, 6, 4],
            dims: [40, 36, 30],
        };
        let cap = 12.0;
        let capped = CappedDistance::new(&mask, roi, cap).unwrap();
        let sp = grid.spacing_mm();
        let mut checked = 0;
        for ((i, j, k), &d) in full.data().indexed_iter() {
            let ijk = [i, j, k];
            let inside = (0..3).all(|a| ijk[a] >= roi.start[a] && ijk[a] < roi.start[a] + roi.dims[a]);
            if !inside {
                assert_eq!(capped.at(ijk), cap as f32, "{ijk:?} outside the box");
                continue;
            }
            // At least the cap from every face of the box that is not a
            // face of the grid: every obstacle nearer than the cap is in it.
            let deep = (0..3).all(|a| {
                let lo = roi.start[a] == 0 || (ijk[a] - roi.start[a]) as f64 * sp[a] >= cap;
                let hi = roi.start[a] + roi.dims[a] == grid.dims()[a]
                    || (roi.start[a] + roi.dims[a] - 1 - ijk[a]) as f64 * sp[a] >= cap;
                lo && hi
            });
            let got = capped.at(ijk);
            assert!(got <= cap as f32 + 1e-6, "{ijk:?}: {got} over the cap");
            if deep {
                assert!((got - d.min(cap as f32)).abs() < 1e-4, "{ijk:?}: {got} vs {d}");
                checked += 1;
            } else {
                assert!(
                    got + 1e-4 >= d.min(cap as f32),
                    "{ijk:?}: {got} below the true {d}"
                );
            }
        }
        assert!(checked > 1000, "{checked} voxels checked exactly");
    }

    #[test]
    fn directions_cover_the_sphere_evenly() {
        let d = directions(2000);
        for v in &d {
            assert!(((v[0] * v[0] + v[1] * v[1] + v[2] * v[2]).sqrt() - 1.0).abs() < 1e-12);
        }
        // Every octant holds an eighth, within 2 %.
        for o in 0..8 {
            let n = d
                .iter()
                .filter(|v| (0..3).all(|a| (v[a] >= 0.0) == (o >> a & 1 == 1)))
                .count();
            assert!((n as f64 / 250.0 - 1.0).abs() < 0.02, "octant {o}: {n}");
        }
    }

    #[test]
    fn a_zone_holds_a_ball_it_is_wider_than_and_not_one_wider_than_it() {
        // Points of a 10 mm ball around the origin.
        let mut pts = Vec::new();
        for i in -10..=10 {
            for j in -10..=10 {
                for k in -10..=10 {
                    let p = [i as f64, j as f64, k as f64];
                    if p.iter().map(|v| v * v).sum::<f64>() <= 100.0 {
                        pts.push(p);
                    }
                }
            }
        }
        let u = [0.0, 0.0, 1.0];
        let big = ZoneSize {
            diameter_mm: 21.0,
            length_mm: 30.0,
            beyond_tip_mm: 5.0,
        };
        let p = fit_zone(&pts, [1.0, 2.0, 3.0], u, &big);
        assert_eq!(p.covered_frac, 1.0);
        // Centre at the ball's: the tip 15 − 5 = 10 mm further along −u.
        assert!((p.tip_mm[2] - (3.0 - 10.0)).abs() < 1e-9 && p.tip_mm[0] == 1.0);
        let small = ZoneSize {
            diameter_mm: 18.0,
            ..big
        };
        assert!(fit_zone(&pts, [0.0; 3], u, &small).covered_frac < 1.0);
    }

    #[test]
    fn greedy_cover_takes_the_largest_gain_first_and_stops_when_held() {
        // Points 0..10 on a line; zones as bit sets.
        let set = |r: std::ops::Range<u32>| vec![r.fold(0u64, |w, i| w | 1 << i)];
        let sets = vec![set(0..4), set(3..9), set(8..10), set(0..2)];
        let (picked, held) = greedy_cover(&sets, &[], 3);
        assert_eq!(picked, vec![1, 0, 2]);
        assert_eq!(held, 10);
        let (picked, held) = greedy_cover(&sets, &[], 1);
        assert_eq!((picked, held), (vec![1], 6));
        // Points 3..9 held already: 0..4 adds 3, 8..10 adds 1.
        let (picked, held) = greedy_cover(&sets, &set(3..9), 3);
        assert_eq!((picked, held), (vec![0, 2], 10));
    }

    #[test]
    fn zone_holds_matches_the_ellipsoid_equation() {
        let zone = ZoneSize {
            diameter_mm: 20.0,
            length_mm: 40.0,
            beyond_tip_mm: 5.0,
        };
        let d = [0.0, 0.0, 1.0];
        let pts = [
            [0.0, 0.0, 29.9],
            [0.0, 0.0, 30.1],
            [9.9, 0.0, 10.0],
            [0.0, 10.1, 10.0],
            [6.0, 6.0, 18.0],
        ];
        let bits = zone_holds(&pts, [0.0, 0.0, 10.0], d, &zone);
        let want: Vec<bool> = pts
            .iter()
            .map(|p| (p[2] - 10.0f64).powi(2) / 400.0 + (p[0] * p[0] + p[1] * p[1]) / 100.0 <= 1.0)
            .collect();
        for (i, w) in want.iter().enumerate() {
            assert_eq!(bits[0] >> i & 1 == 1, *w, "point {i}");
        }
        assert_eq!(want, vec![true, false, true, false, true]);
    }
}
