//! The shape of a predicted zone: volume, length along the needle, diameter
//! across it, and its resampling onto the scan's grid.
//!
//! Fields live on the simulation lattice and are read between voxel centres
//! by trilinear interpolation, so boundaries are found to a fraction of a
//! voxel: along the needle axis from the hottest point on it, outwards until
//! the field falls below the threshold, then by bisection to 0.01 mm.
//!
//! * length: the extent of the zone along the needle axis;
//! * diameter: the widest chord through the axis perpendicular to it, over
//!   axial positions every half voxel and directions every 5°;
//! * beyond the tip: how far the zone reaches past the tip along the axis.
//!
//! A zone whose voxels reach more than a voxel past what the walk along the
//! axis found (a cooled electrode keeps the axis cooler than the shell around
//! it) is measured by its outer boundary: its ends from the zone's end
//! voxels, its diameter as the longest chord across the axis from the zone's
//! first point to its last, across the cool core.

use ndarray::{Array3, ShapeBuilder};
use serde::Serialize;

use crate::bioheat::applicator::Pose;
use crate::error::Result;
use crate::grid::Grid;
use crate::volume::{Mask, Volume};

/// A scalar field on a lattice, read anywhere in world coordinates.
#[derive(Debug, Clone, Copy)]
pub struct LatticeField<'a> {
    /// The lattice.
    pub grid: &'a Grid,
    /// Values, x fastest.
    pub values: &'a [f32],
    /// The value outside the lattice.
    pub outside: f32,
}

impl LatticeField<'_> {
    /// Trilinear interpolation at a world point (mm).
    pub fn at(&self, p_mm: [f64; 3]) -> f32 {
        let [nx, ny, nz] = self.grid.dims();
        let c = self.grid.world_to_voxel(p_mm);
        let mut base = [0usize; 3];
        let mut frac = [0.0f64; 3];
        for a in 0..3 {
            let n = [nx, ny, nz][a];
            if !(c[a] >= 0.0 && c[a] <= (n - 1) as f64) {
                return self.outside;
            }
            let f = c[a].floor().min((n.max(2) - 2) as f64).max(0.0);
            base[a] = f as usize;
            frac[a] = if n == 1 { 0.0 } else { c[a] - f };
        }
        let idx = |x: usize, y: usize, z: usize| {
            let x = x.min(nx - 1);
            let y = y.min(ny - 1);
            let z = z.min(nz - 1);
            self.values[x + nx * (y + ny * z)] as f64
        };
        let [x, y, z] = base;
        let [fx, fy, fz] = frac;
        let lerp = |a: f64, b: f64, t: f64| a + (b - a) * t;
        let c00 = lerp(idx(x, y, z), idx(x + 1, y, z), fx);
        let c10 = lerp(idx(x, y + 1, z), idx(x + 1, y + 1, z), fx);
        let c01 = lerp(idx(x, y, z + 1), idx(x + 1, y, z + 1), fx);
        let c11 = lerp(idx(x, y + 1, z + 1), idx(x + 1, y + 1, z + 1), fx);
        lerp(lerp(c00, c10, fy), lerp(c01, c11, fy), fz) as f32
    }
}

/// The size of a zone.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Default)]
pub struct ZoneShape {
    /// Volume, mL (lattice voxels at or above the threshold).
    pub volume_ml: f64,
    /// Extent along the needle axis, mm.
    pub length_mm: f64,
    /// Widest chord through the axis, perpendicular to it, mm.
    pub diameter_mm: f64,
    /// How far the zone reaches beyond the tip along the axis, mm (negative:
    /// it stops short of the tip).
    pub beyond_tip_mm: f64,
    /// Where along the axis (mm behind the tip) the zone is widest.
    pub widest_at_mm: f64,
}

const BISECTIONS: usize = 24;

/// The distance from `from` along the unit vector `u` at which the field
/// first drops below `threshold` (the field at `from` is at or above it).
pub fn reach_mm(field: &LatticeField, threshold: f32, from: [f64; 3], u: [f64; 3], step_mm: f64) -> f64 {
    let at = |r: f64| field.at([from[0] + r * u[0], from[1] + r * u[1], from[2] + r * u[2]]);
    let limit = {
        let d = field.grid.dims();
        let s = field.grid.spacing_mm();
        ((d[0] as f64 * s[0]).powi(2) + (d[1] as f64 * s[1]).powi(2) + (d[2] as f64 * s[2]).powi(2)).sqrt()
    };
    let mut r = 0.0;
    while r < limit {
        let next = r + step_mm;
        if at(next) < threshold {
            return boundary(r, next, |m| at(m) >= threshold);
        }
        r = next;
    }
    limit
}

/// The point between `inside` and `outside` (positions along a line, in
/// either order) where `is_in` changes, by [`BISECTIONS`] halvings.
fn boundary(inside: f64, outside: f64, is_in: impl Fn(f64) -> bool) -> f64 {
    let (mut lo, mut hi) = (inside, outside);
    for _ in 0..BISECTIONS {
        let mid = 0.5 * (lo + hi);
        if is_in(mid) {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    0.5 * (lo + hi)
}

/// Two unit vectors perpendicular to `d` and to each other.
pub fn perpendiculars(d: [f64; 3]) -> ([f64; 3], [f64; 3]) {
    let pick = if d[0].abs() < 0.9 {
        [1.0, 0.0, 0.0]
    } else {
        [0.0, 1.0, 0.0]
    };
    let cross = |a: [f64; 3], b: [f64; 3]| {
        [
            a[1] * b[2] - a[2] * b[1],
            a[2] * b[0] - a[0] * b[2],
            a[0] * b[1] - a[1] * b[0],
        ]
    };
    let e1 = cross(d, pick);
    let n = (e1[0] * e1[0] + e1[1] * e1[1] + e1[2] * e1[2]).sqrt();
    let e1 = e1.map(|v| v / n);
    let e2 = cross(d, e1);
    (e1, e2)
}

/// The 36 directions, 5° apart over a half turn, in the plane of `e1` and
/// `e2`: each chord across the axis is measured along one of them.
fn across(e1: [f64; 3], e2: [f64; 3]) -> impl Iterator<Item = [f64; 3]> {
    (0..36).map(move |k| {
        let t = k as f64 * std::f64::consts::PI / 36.0;
        [0, 1, 2].map(|a| t.cos() * e1[a] + t.sin() * e2[a])
    })
}

/// Volume, length, diameter and reach beyond the tip of the zone where
/// `field ≥ threshold`.
pub fn zone_shape(field: &LatticeField, threshold: f32, pose: &Pose) -> ZoneShape {
    let h = field.grid.spacing_mm()[0];
    let voxel_ml = field.grid.voxel_volume_mm3() / 1000.0;
    let count = field.values.iter().filter(|&&v| v >= threshold).count();
    let volume_ml = count as f64 * voxel_ml;
    if count == 0 {
        return ZoneShape::default();
    }
    let d = pose.direction;
    let step = h / 4.0;
    // The hottest point on the axis, within the lattice.
    let span = {
        let g = field.grid.dims();
        (g[0].max(g[1]).max(g[2]) as f64) * h * 1.8
    };
    let mut best = (f32::MIN, 0.0);
    let mut s = -span;
    while s <= span {
        let v = field.at(pose.behind(s));
        if v > best.0 {
            best = (v, s);
        }
        s += step;
    }
    if best.0 < threshold {
        let ends = axial_extent(field, threshold, pose);
        return sleeve_shape(field, threshold, pose, volume_ml, ends);
    }
    let s_hot = best.1;
    let hot = pose.behind(s_hot);
    let distal = s_hot - reach_mm(field, threshold, hot, d, step);
    let proximal = s_hot + reach_mm(field, threshold, hot, d.map(|v| -v), step);
    let (e1, e2) = perpendiculars(d);
    let mut widest = (0.0f64, s_hot);
    let mut s = distal;
    while s <= proximal + 1e-9 {
        let c = pose.behind(s);
        if field.at(c) >= threshold {
            for u in across(e1, e2) {
                let w = reach_mm(field, threshold, c, u, step)
                    + reach_mm(field, threshold, c, u.map(|v| -v), step);
                if w > widest.0 {
                    widest = (w, s);
                }
            }
        }
        s += h / 2.0;
    }
    let walked = ZoneShape {
        volume_ml,
        length_mm: proximal - distal,
        diameter_mm: widest.0,
        beyond_tip_mm: -distal,
        widest_at_mm: widest.1,
    };
    // The walk from the hottest point of the axis sees a zone that holds the
    // axis, as a microwave zone does. A cooled electrode keeps the axis
    // itself cooler than the shell around it: the zone is a sleeve, and the
    // walk stops at the first cool stretch. When the zone's voxels reach
    // more than a voxel past what the walk found, it is measured by its
    // outer boundary instead.
    let (first, last) = axial_extent(field, threshold, pose);
    if first < distal - h || last > proximal + h {
        return sleeve_shape(field, threshold, pose, volume_ml, (first, last));
    }
    walked
}

/// The positions behind the tip (mm) of the voxel centres at or above the
/// threshold, with those centres, in lattice order.
fn zone_centres<'a>(
    field: &'a LatticeField,
    threshold: f32,
    pose: &'a Pose,
) -> impl Iterator<Item = (f64, [f64; 3])> + 'a {
    let [nx, ny, _] = field.grid.dims();
    field
        .values
        .iter()
        .enumerate()
        .filter(move |(_, &v)| v >= threshold)
        .map(move |(i, _)| {
            let p =
                field
                    .grid
                    .voxel_to_world([(i % nx) as f64, ((i / nx) % ny) as f64, (i / (nx * ny)) as f64]);
            (pose.axial_radial(p).0, p)
        })
}

/// The smallest and largest position behind the tip (mm) of the zone's
/// voxel centres.
fn axial_extent(field: &LatticeField, threshold: f32, pose: &Pose) -> (f64, f64) {
    zone_centres(field, threshold, pose).fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), (s, _)| {
        (lo.min(s), hi.max(s))
    })
}

/// The first and last points of the line `centre + r·u`, |r| ≤ `half_mm`,
/// where the field is at or above the threshold, as (r_first, r_last),
/// each found by bisection between samples `step_mm` apart; `None` when
/// no sample reaches it.
fn chord_ends(
    field: &LatticeField,
    threshold: f32,
    centre: [f64; 3],
    u: [f64; 3],
    half_mm: f64,
    step_mm: f64,
) -> Option<(f64, f64)> {
    let at =
        |r: f64| field.at([centre[0] + r * u[0], centre[1] + r * u[1], centre[2] + r * u[2]]) >= threshold;
    let n = (2.0 * half_mm / step_mm).ceil() as usize;
    let r_of = |k: usize| -half_mm + k as f64 * step_mm;
    let first = (0..=n).find(|&k| at(r_of(k)))?;
    let last = (first..=n).rev().find(|&k| at(r_of(k)))?;
    let edge = |inside: f64, outside: f64| boundary(inside, outside, at);
    Some((
        edge(r_of(first), r_of(first) - step_mm),
        edge(r_of(last), r_of(last) + step_mm),
    ))
}

/// The shape of a zone measured by its outer boundary: its ends along the
/// axis from the voxels within a voxel of the zone's ends (each one's
/// boundary found from its centre along the axis direction), its diameter
/// as the longest chord perpendicular to the axis, end to end across any
/// cool core.
fn sleeve_shape(
    field: &LatticeField,
    threshold: f32,
    pose: &Pose,
    volume_ml: f64,
    (first, last): (f64, f64),
) -> ZoneShape {
    let h = field.grid.spacing_mm()[0];
    let step = h / 4.0;
    let d = pose.direction;
    let back = d.map(|v| -v);
    let (mut distal, mut proximal) = (first, last);
    for (s, p) in zone_centres(field, threshold, pose) {
        if s < first + h {
            distal = distal.min(s - reach_mm(field, threshold, p, d, step));
        }
        if s > last - h {
            proximal = proximal.max(s + reach_mm(field, threshold, p, back, step));
        }
    }
    let half = {
        let g = field.grid.dims();
        (g[0].max(g[1]).max(g[2]) as f64) * h
    };
    let (e1, e2) = perpendiculars(d);
    let mut widest = (0.0f64, 0.5 * (distal + proximal));
    let mut s = distal;
    while s <= proximal + 1e-9 {
        let c = pose.behind(s);
        for u in across(e1, e2) {
            if let Some((a, b)) = chord_ends(field, threshold, c, u, half, step) {
                if b - a > widest.0 {
                    widest = (b - a, s);
                }
            }
        }
        s += h / 2.0;
    }
    ZoneShape {
        volume_ml,
        length_mm: proximal - distal,
        diameter_mm: widest.0,
        beyond_tip_mm: -distal,
        widest_at_mm: widest.1,
    }
}

/// The zone `field ≥ threshold` as a mask on another grid (the scan's):
/// every voxel whose centre reads at or above the threshold.
///
/// # Errors
/// Only from building the mask (never for a valid grid).
pub fn resample_mask(field: &LatticeField, threshold: f32, target: &Grid) -> Result<Mask> {
    let dims = target.dims();
    let mut data = Array3::from_elem(dims.f(), false);
    let Some((lo, hi)) = lattice_box(field, target) else {
        return Volume::new(target.clone(), data);
    };
    let ((x0, y0, z0), (x1, y1, z1)) = ((lo[0], lo[1], lo[2]), (hi[0], hi[1], hi[2]));
    for z in z0..=z1 {
        for y in y0..=y1 {
            for x in x0..=x1 {
                let w = target.voxel_to_world([x as f64, y as f64, z as f64]);
                if field.at(w) >= threshold {
                    data[[x, y, z]] = true;
                }
            }
        }
    }
    Volume::new(target.clone(), data)
}

/// The voxels of `target` the lattice covers: the box (inclusive) around
/// its corners in `target`'s voxel indices, clipped to `target`; `None`
/// when they do not meet.
pub fn lattice_box(field: &LatticeField, target: &Grid) -> Option<([usize; 3], [usize; 3])> {
    let dims = target.dims();
    let g = field.grid.dims();
    let mut lo = [f64::INFINITY; 3];
    let mut hi = [f64::NEG_INFINITY; 3];
    for corner in 0..8 {
        let c = [0, 1, 2].map(|a| {
            if corner >> a & 1 == 0 {
                0.0
            } else {
                (g[a] - 1) as f64
            }
        });
        let t = target.world_to_voxel(field.grid.voxel_to_world(c));
        for a in 0..3 {
            lo[a] = lo[a].min(t[a]);
            hi[a] = hi[a].max(t[a]);
        }
    }
    let mut out = ([0usize; 3], [0usize; 3]);
    for a in 0..3 {
        let l = lo[a].floor().max(0.0);
        let h = hi[a].ceil().min(dims[a] as f64 - 1.0);
        if h < l {
            return None;
        }
        out.0[a] = l as usize;
        out.1[a] = h as usize;
    }
    Some(out)
}

/// Where `field ≥ threshold` on the part of `target` the lattice covers
/// ([`Grid::crop`] of [`lattice_box`]): an isotherm to draw without a mask
/// of the whole scan. `None` when the lattice misses `target`.
///
/// # Errors
/// Only from building the mask (never for a valid grid).
pub fn resample_mask_on_part(field: &LatticeField, threshold: f32, target: &Grid) -> Result<Option<Mask>> {
    let Some((lo, hi)) = lattice_box(field, target) else {
        return Ok(None);
    };
    resample_mask(field, threshold, &target.crop(lo, hi)?).map(Some)
}
