//! The voxel grid: dimensions, voxel-to-world affine, spacing, orientation.
//!
//! Conventions (also in `docs/conventions.md`):
//!
//! * A voxel is addressed by its index `(i, j, k)`, `i` varying fastest in
//!   memory, as stored in NIfTI files and as nibabel presents them.
//! * World coordinates are millimetres in the patient-based **RAS+** frame of
//!   NIfTI: +x points to the patient's Right, +y Anterior, +z Superior.
//!   (DICOM's LPS+ differs by the sign of x and y; readers of LPS formats
//!   convert.)
//! * The affine maps the *centre* of voxel `(i, j, k)` to world `(x, y, z)`:
//!   `[x y z 1]ᵀ = A · [i j k 1]ᵀ`.

use std::fmt;

use nalgebra::{Matrix3, Matrix4, Vector4};
use serde::Serialize;

use crate::error::{parameter_error, Error, Result};

/// Cubic millimetres in one millilitre.
pub const MM3_PER_ML: f64 = 1000.0;

/// Default tolerance of [`Grid::ensure_same`], as a fraction of the smallest
/// voxel spacing: two grids are the same when no corner of the volume moves by
/// more than 1 % of a voxel. Rounding of float32 header fields moves corners by
/// micrometres; any real difference (crop, flip, resampling) by a voxel or more.
pub const SAME_GRID_TOLERANCE_VOXELS: f64 = 0.01;

/// A voxel grid: dimensions and the voxel-index → world (RAS+, mm) affine.
#[derive(Debug, Clone, PartialEq)]
pub struct Grid {
    dims: [usize; 3],
    affine: Matrix4<f64>,
    inverse: Matrix4<f64>,
}

impl Grid {
    /// A grid of `dims` voxels placed in the world by `affine` (voxel index →
    /// RAS+ mm, last row `0 0 0 1`).
    ///
    /// # Errors
    /// `Parameter` when a dimension is zero, an affine entry is not finite,
    /// the last row is not `0 0 0 1`, or the 3×3 part is singular.
    pub fn new(dims: [usize; 3], affine: Matrix4<f64>) -> Result<Grid> {
        if dims.contains(&0) {
            return Err(parameter_error(
                "dims",
                format!("{dims:?}"),
                "three dimensions of at least 1 voxel",
            ));
        }
        if affine.iter().any(|v| !v.is_finite()) {
            return Err(parameter_error("affine", format_affine(&affine), "finite values"));
        }
        let last = affine.row(3);
        if last[0] != 0.0 || last[1] != 0.0 || last[2] != 0.0 || last[3] != 1.0 {
            return Err(parameter_error(
                "affine",
                format_affine(&affine),
                "last row 0 0 0 1",
            ));
        }
        let det = linear_part(&affine).determinant();
        let inverse = match affine.try_inverse() {
            Some(inv) if det != 0.0 && det.is_finite() => inv,
            _ => {
                return Err(parameter_error(
                    "affine",
                    format_affine(&affine),
                    "an invertible 3x3 part (non-zero determinant)",
                ))
            }
        };
        Ok(Grid {
            dims,
            affine,
            inverse,
        })
    }

    /// An axis-aligned RAS grid with the given spacing and voxel (0,0,0) at the
    /// world origin.
    ///
    /// # Errors
    /// `Parameter` unless every spacing is finite and > 0 and every dimension ≥ 1.
    pub fn from_spacing(dims: [usize; 3], spacing_mm: [f64; 3]) -> Result<Grid> {
        for (axis, s) in spacing_mm.iter().enumerate() {
            if !(s.is_finite() && *s > 0.0) {
                return Err(parameter_error(
                    format!("spacing_mm[{axis}]"),
                    s,
                    "a finite spacing > 0 mm",
                ));
            }
        }
        let mut a = Matrix4::identity();
        for (axis, s) in spacing_mm.iter().enumerate() {
            a[(axis, axis)] = *s;
        }
        Grid::new(dims, a)
    }

    /// Number of voxels along `i`, `j`, `k`.
    pub fn dims(&self) -> [usize; 3] {
        self.dims
    }

    /// Total number of voxels.
    pub fn voxel_count(&self) -> u64 {
        self.dims.iter().map(|&d| d as u64).product()
    }

    /// The voxel-index → world (RAS+, mm) affine.
    pub fn affine(&self) -> &Matrix4<f64> {
        &self.affine
    }

    /// Distance in mm between neighbouring voxel centres along `i`, `j`, `k`
    /// (the norms of the affine's columns).
    pub fn spacing_mm(&self) -> [f64; 3] {
        let m = linear_part(&self.affine);
        [m.column(0).norm(), m.column(1).norm(), m.column(2).norm()]
    }

    /// Volume of one voxel in mm³: `|det(A₃ₓ₃)|` (docs/references.md).
    pub fn voxel_volume_mm3(&self) -> f64 {
        linear_part(&self.affine).determinant().abs()
    }

    /// Volume in mL of `voxels` voxels of this grid: `voxels · |det(A₃ₓ₃)| / 1000`.
    pub fn volume_ml(&self, voxels: u64) -> f64 {
        voxels as f64 * self.voxel_volume_mm3() / MM3_PER_ML
    }

    /// The part of this grid from voxel `lo` to `hi` (inclusive): the same
    /// axes and spacing, voxel (0, 0, 0) at `lo`.
    ///
    /// # Errors
    /// `Parameter` when `hi` is below `lo` or outside the grid.
    pub fn crop(&self, lo: [usize; 3], hi: [usize; 3]) -> Result<Grid> {
        if (0..3).any(|a| hi[a] < lo[a] || hi[a] >= self.dims[a]) {
            return Err(crate::error::parameter_error(
                "crop",
                format!("{lo:?}..{hi:?}"),
                format!("voxels inside {:?}", self.dims),
            ));
        }
        let mut a = self.affine;
        let o = self.voxel_to_world(lo.map(|v| v as f64));
        for r in 0..3 {
            a[(r, 3)] = o[r];
        }
        Grid::new([0, 1, 2].map(|x| hi[x] - lo[x] + 1), a)
    }

    /// Where this grid's voxel (0, 0, 0) lies in `parent` when this grid is
    /// a part of it ([`Grid::crop`]: the same axes and spacing, an integer
    /// offset, within 10⁻⁴ voxel), else `None`.
    pub fn offset_within(&self, parent: &Grid) -> Option<[isize; 3]> {
        let same_axes =
            (0..3).all(|r| (0..3).all(|c| (self.affine[(r, c)] - parent.affine[(r, c)]).abs() < 1e-6));
        let o = parent.world_to_voxel(self.origin_mm());
        let off = o.map(|v| v.round());
        let integral = (0..3).all(|a| (o[a] - off[a]).abs() < 1e-4);
        (same_axes && integral).then(|| off.map(|v| v as isize))
    }

    /// World position (mm) of the centre of voxel (0, 0, 0).
    pub fn origin_mm(&self) -> [f64; 3] {
        [self.affine[(0, 3)], self.affine[(1, 3)], self.affine[(2, 3)]]
    }

    /// World position (RAS+, mm) of a (possibly fractional) voxel index.
    pub fn voxel_to_world(&self, ijk: [f64; 3]) -> [f64; 3] {
        let w = self.affine * Vector4::new(ijk[0], ijk[1], ijk[2], 1.0);
        [w[0], w[1], w[2]]
    }

    /// Fractional voxel index of a world position (RAS+, mm).
    pub fn world_to_voxel(&self, xyz_mm: [f64; 3]) -> [f64; 3] {
        let v = self.inverse * Vector4::new(xyz_mm[0], xyz_mm[1], xyz_mm[2], 1.0);
        [v[0], v[1], v[2]]
    }

    /// The voxel whose centre is nearest a world position (RAS+, mm), or
    /// `None` when the position lies outside the grid.
    pub fn nearest_voxel(&self, xyz_mm: [f64; 3]) -> Option<[usize; 3]> {
        let v = self.world_to_voxel(xyz_mm);
        let mut out = [0usize; 3];
        for a in 0..3 {
            let r = v[a].round();
            if !(r >= 0.0 && r <= (self.dims[a] - 1) as f64) {
                return None;
            }
            out[a] = r as usize;
        }
        Some(out)
    }

    /// The anatomical direction each voxel axis points to.
    pub fn orientation(&self) -> Orientation {
        Orientation::from_affine(&self.affine)
    }

    /// Largest distance in mm between corresponding corners of the two
    /// volumes, or `None` when the dimensions differ.
    pub fn corner_distance_mm(&self, other: &Grid) -> Option<f64> {
        if self.dims != other.dims {
            return None;
        }
        let mut worst = 0.0f64;
        for corner in 0..8 {
            let ijk = [0, 1, 2].map(|axis| {
                if corner & (1 << axis) != 0 {
                    (self.dims[axis] - 1) as f64
                } else {
                    0.0
                }
            });
            // Also compare the far side of the corner voxel, so that spacing
            // differences show even on a 1-voxel axis.
            for extra in [0.0, 1.0] {
                let p = ijk.map(|v| v + extra);
                let a = self.voxel_to_world(p);
                let b = other.voxel_to_world(p);
                let d = ((a[0] - b[0]).powi(2) + (a[1] - b[1]).powi(2) + (a[2] - b[2]).powi(2)).sqrt();
                worst = worst.max(d);
            }
        }
        Some(worst)
    }

    /// Checks that `other` is the same grid within
    /// [`SAME_GRID_TOLERANCE_VOXELS`] of the smallest spacing.
    ///
    /// # Errors
    /// `GridMismatch`, printing both grids, when the dimensions differ or a
    /// corner of the volume moves by more than the tolerance.
    pub fn ensure_same(&self, other: &Grid, self_name: &str, other_name: &str) -> Result<()> {
        let min_spacing = self
            .spacing_mm()
            .into_iter()
            .chain(other.spacing_mm())
            .fold(f64::INFINITY, f64::min);
        self.ensure_same_within(
            other,
            self_name,
            other_name,
            SAME_GRID_TOLERANCE_VOXELS * min_spacing,
        )
    }

    /// As [`Grid::ensure_same`] with an explicit tolerance in mm.
    ///
    /// # Errors
    /// `GridMismatch` when the grids differ by more than `tolerance_mm`.
    pub fn ensure_same_within(
        &self,
        other: &Grid,
        self_name: &str,
        other_name: &str,
        tolerance_mm: f64,
    ) -> Result<()> {
        let reason = match self.corner_distance_mm(other) {
            None => format!(
                "dimensions {} and {} differ",
                fmt_dims(self.dims),
                fmt_dims(other.dims)
            ),
            Some(d) if d > tolerance_mm => {
                format!("the volumes are displaced by up to {d:.4} mm, tolerance {tolerance_mm:.4} mm")
            }
            Some(_) => return Ok(()),
        };
        Err(Error::GridMismatch {
            reason,
            left_name: self_name.to_string(),
            left: self.to_string(),
            right_name: other_name.to_string(),
            right: other.to_string(),
        })
    }
}

/// How the voxels of one grid sit on another that samples the same points
/// with its axes permuted or reversed (a NIfTI in LAS and the DICOM series it
/// came from in LPS): for each axis of the target, the source axis that runs
/// along it and whether it runs backwards.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AxisMap {
    /// `source_axis[a]`: the axis of the source grid along target axis `a`.
    pub source_axis: [usize; 3],
    /// Whether that source axis runs against target axis `a`.
    pub reversed: [bool; 3],
}

impl Grid {
    /// How this grid's voxels map onto `target`'s when the two sample the
    /// same points (within [`SAME_GRID_TOLERANCE_VOXELS`] of the smallest
    /// spacing) with axes permuted or reversed; `None` when they do not.
    pub fn axis_map_onto(&self, target: &Grid) -> Option<AxisMap> {
        let (a, b) = (self.affine(), target.affine());
        let col = |m: &Matrix4<f64>, c: usize| nalgebra::Vector3::new(m[(0, c)], m[(1, c)], m[(2, c)]);
        let tolerance = SAME_GRID_TOLERANCE_VOXELS
            * self
                .spacing_mm()
                .into_iter()
                .chain(target.spacing_mm())
                .fold(f64::INFINITY, f64::min);
        let mut map = AxisMap {
            source_axis: [0; 3],
            reversed: [false; 3],
        };
        for t in 0..3 {
            let want = col(b, t);
            let found = (0..3).find_map(|s| {
                let have = col(a, s);
                if (have - want).norm() * (target.dims[t] as f64) < tolerance
                    && self.dims[s] == target.dims[t]
                {
                    Some((s, false))
                } else if (have + want).norm() * (target.dims[t] as f64) < tolerance
                    && self.dims[s] == target.dims[t]
                {
                    Some((s, true))
                } else {
                    None
                }
            })?;
            map.source_axis[t] = found.0;
            map.reversed[t] = found.1;
        }
        let mut used = map.source_axis;
        used.sort_unstable();
        if used != [0, 1, 2] {
            return None;
        }
        // The target's first voxel must be the source voxel the map names.
        let mut first = [0.0; 3];
        for t in 0..3 {
            if map.reversed[t] {
                first[map.source_axis[t]] = (self.dims[map.source_axis[t]] - 1) as f64;
            }
        }
        let p = self.voxel_to_world(first);
        let q = target.voxel_to_world([0.0; 3]);
        let d = ((p[0] - q[0]).powi(2) + (p[1] - q[1]).powi(2) + (p[2] - q[2]).powi(2)).sqrt();
        (d < tolerance).then_some(map)
    }
}

impl fmt::Display for Grid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = self.spacing_mm();
        let o = self.origin_mm();
        write!(
            f,
            "dims {}, spacing {:.4} x {:.4} x {:.4} mm, origin ({:.3}, {:.3}, {:.3}) mm, orientation {}, affine {}",
            fmt_dims(self.dims),
            s[0],
            s[1],
            s[2],
            o[0],
            o[1],
            o[2],
            self.orientation(),
            format_affine(&self.affine)
        )
    }
}

fn fmt_dims(d: [usize; 3]) -> String {
    format!("{} x {} x {}", d[0], d[1], d[2])
}

/// The 3×3 linear part of a 4×4 affine.
pub(crate) fn linear_part(a: &Matrix4<f64>) -> Matrix3<f64> {
    a.fixed_view::<3, 3>(0, 0).into_owned()
}

/// One-line rendering of the upper 3×4 rows of an affine.
pub(crate) fn format_affine(a: &Matrix4<f64>) -> String {
    let rows: Vec<String> = (0..3)
        .map(|r| {
            format!(
                "[{} {} {} {}]",
                format_number(a[(r, 0)]),
                format_number(a[(r, 1)]),
                format_number(a[(r, 2)]),
                format_number(a[(r, 3)])
            )
        })
        .collect();
    format!("[{}]", rows.join(" "))
}

/// A number with at most six decimals and no trailing zeros (`3`, `0.976562`,
/// `-177.956329`), `NaN` for NaN: for headers and affines shown to people.
pub fn format_number(v: f64) -> String {
    if v.is_nan() {
        return "NaN".into();
    }
    let s = format!("{v:.6}");
    let s = s.trim_end_matches('0').trim_end_matches('.');
    if s == "-0" {
        "0".to_string()
    } else {
        s.to_string()
    }
}

/// An anatomical direction of the RAS+ world frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
pub enum Direction {
    /// Patient right (+x in RAS).
    R,
    /// Patient left (−x).
    L,
    /// Anterior (+y).
    A,
    /// Posterior (−y).
    P,
    /// Superior (+z).
    S,
    /// Inferior (−z).
    I,
}

impl Direction {
    fn from_world_axis(axis: usize, positive: bool) -> Direction {
        match (axis, positive) {
            (0, true) => Direction::R,
            (0, false) => Direction::L,
            (1, true) => Direction::A,
            (1, false) => Direction::P,
            (_, true) => Direction::S,
            (_, false) => Direction::I,
        }
    }

    /// The opposite direction.
    pub fn opposite(self) -> Direction {
        match self {
            Direction::R => Direction::L,
            Direction::L => Direction::R,
            Direction::A => Direction::P,
            Direction::P => Direction::A,
            Direction::S => Direction::I,
            Direction::I => Direction::S,
        }
    }

    /// The letter (`R`, `L`, `A`, `P`, `S`, `I`).
    pub fn letter(self) -> char {
        match self {
            Direction::R => 'R',
            Direction::L => 'L',
            Direction::A => 'A',
            Direction::P => 'P',
            Direction::S => 'S',
            Direction::I => 'I',
        }
    }

    /// The word a radiologist uses (`right`, …, `inferior`).
    pub fn word(self) -> &'static str {
        match self {
            Direction::R => "right",
            Direction::L => "left",
            Direction::A => "anterior",
            Direction::P => "posterior",
            Direction::S => "superior",
            Direction::I => "inferior",
        }
    }
}

/// The anatomical direction in which each voxel axis `i`, `j`, `k` points
/// (nibabel's axis codes: `RAS` means +i → Right, +j → Anterior, +k → Superior).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Orientation(pub [Direction; 3]);

impl Orientation {
    /// Orientation of an affine, the way nibabel's `io_orientation` finds it:
    /// normalise the columns, replace the 3×3 part by the nearest orthogonal
    /// matrix (polar decomposition by SVD), then assign each voxel axis in turn
    /// to the world axis of its largest component, never reusing a world axis.
    pub fn from_affine(affine: &Matrix4<f64>) -> Orientation {
        let mut m = linear_part(affine);
        for c in 0..3 {
            let n = m.column(c).norm();
            if n > 0.0 {
                m.column_mut(c).scale_mut(1.0 / n);
            }
        }
        let svd = m.svd(true, true);
        let mut r = match (svd.u, svd.v_t) {
            (Some(u), Some(v_t)) => u * v_t,
            _ => m,
        };
        let mut out = [Direction::R, Direction::A, Direction::S];
        let mut used = [false; 3];
        for (axis, slot) in out.iter_mut().enumerate() {
            let mut best = None;
            for world in 0..3 {
                if used[world] {
                    continue;
                }
                let v = r[(world, axis)];
                if best.is_none_or(|(_, b): (usize, f64)| v.abs() > b.abs()) {
                    best = Some((world, v));
                }
            }
            if let Some((world, v)) = best {
                used[world] = true;
                *slot = Direction::from_world_axis(world, v >= 0.0);
                for c in 0..3 {
                    r[(world, c)] = 0.0;
                }
            }
        }
        Orientation(out)
    }

    /// The direction voxel axis `axis` points to (towards increasing index).
    pub fn axis(&self, axis: usize) -> Direction {
        self.0[axis.min(2)]
    }
}

impl fmt::Display for Orientation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for d in self.0 {
            write!(f, "{}", d.letter())?;
        }
        Ok(())
    }
}

impl Serialize for Orientation {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

/// A world point (RAS+ mm) in DICOM patient coordinates (LPS mm), as PACS
/// viewers show it: x and y change sign [DICOM PS3.3 C.7.6.2.1.1].
pub fn ras_to_lps(p: [f64; 3]) -> [f64; 3] {
    [-p[0], -p[1], p[2]]
}

/// A world point as text for people: `RAS (x, y, z) mm = LPS (x, y, z) mm`,
/// one decimal.
pub fn ras_lps_text(p: [f64; 3]) -> String {
    let l = ras_to_lps(p);
    format!(
        "RAS ({:.1}, {:.1}, {:.1}) mm = LPS ({:.1}, {:.1}, {:.1}) mm",
        p[0], p[1], p[2], l[0], l[1], l[2]
    )
}

/// Largest cosine allowed between two axes of the grid.
const ORTHOGONAL_TOLERANCE: f64 = 1e-3;

/// Checks that the grid's axes are orthogonal (distance transforms need it).
///
/// # Errors
/// `Unsupported` (`affine`) for a sheared grid, with the angle.
pub fn ensure_orthogonal(grid: &Grid) -> Result<()> {
    let m = linear_part(grid.affine());
    for (a, b) in [(0, 1), (0, 2), (1, 2)] {
        let (ca, cb) = (m.column(a), m.column(b));
        let cos = ca.dot(&cb) / (ca.norm() * cb.norm());
        if cos.abs() > ORTHOGONAL_TOLERANCE {
            let angle = cos.clamp(-1.0, 1.0).acos().to_degrees();
            return Err(Error::Unsupported {
                path: "<grid>".into(),
                field: "affine".into(),
                found: format!(
                    "voxel axes {a} and {b} at {angle:.2} degrees (a sheared grid, such as a gantry tilt)"
                ),
                hint: "distances need orthogonal voxel axes; resample the volume to an orthogonal grid first"
                    .into(),
            });
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rot_x(deg: f64) -> Matrix4<f64> {
        let (s, c) = deg.to_radians().sin_cos();
        Matrix4::new(
            1.0, 0.0, 0.0, 0.0, 0.0, c, -s, 0.0, 0.0, s, c, 0.0, 0.0, 0.0, 0.0, 1.0,
        )
    }

    #[test]
    fn world_voxel_round_trip_on_oblique_grid() {
        let mut a = rot_x(30.0) * Matrix4::new_nonuniform_scaling(&nalgebra::Vector3::new(0.7, 0.8, 2.5));
        a[(0, 3)] = -100.0;
        a[(1, 3)] = 20.0;
        a[(2, 3)] = 5.0;
        let g = Grid::new([10, 20, 30], a).unwrap();
        let w = g.voxel_to_world([3.5, 7.0, 11.25]);
        let v = g.world_to_voxel(w);
        for (x, y) in v.iter().zip([3.5, 7.0, 11.25]) {
            assert!((x - y).abs() < 1e-9, "{v:?}");
        }
        let s = g.spacing_mm();
        assert!((s[0] - 0.7).abs() < 1e-12 && (s[1] - 0.8).abs() < 1e-12 && (s[2] - 2.5).abs() < 1e-12);
        assert!((g.voxel_volume_mm3() - 0.7 * 0.8 * 2.5).abs() < 1e-12);
    }

    #[test]
    fn orientation_codes() {
        let las = Matrix4::new(
            -2.0, 0.0, 0.0, 0.0, 0.0, 2.0, 0.0, 0.0, 0.0, 0.0, 2.0, 0.0, 0.0, 0.0, 0.0, 1.0,
        );
        assert_eq!(Orientation::from_affine(&las).to_string(), "LAS");
        let lps = Matrix4::new(
            -1.0, 0.0, 0.0, 0.0, 0.0, -1.0, 0.0, 0.0, 0.0, 0.0, 3.0, 0.0, 0.0, 0.0, 0.0, 1.0,
        );
        assert_eq!(Orientation::from_affine(&lps).to_string(), "LPS");
        // Axes permuted: i along z, j along x, k along y.
        let perm = Matrix4::new(
            0.0, 1.0, 0.0, 0.0, 0.0, 0.0, -1.0, 0.0, 1.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 1.0,
        );
        assert_eq!(Orientation::from_affine(&perm).to_string(), "SRP");
        // 30 degrees oblique still reads as the nearest axes.
        assert_eq!(Orientation::from_affine(&rot_x(30.0)).to_string(), "RAS");
        assert_eq!(Orientation::from_affine(&rot_x(60.0)).to_string(), "RSP");
    }

    #[test]
    fn same_grid_tolerance_and_mismatch_message() {
        let g = Grid::from_spacing([4, 5, 6], [1.0, 1.0, 2.0]).unwrap();
        let mut a = *g.affine();
        a[(0, 3)] += 0.005; // 0.5 % of a voxel: same grid
        let near = Grid::new([4, 5, 6], a).unwrap();
        g.ensure_same(&near, "a", "b").unwrap();
        a[(0, 3)] += 0.5;
        let far = Grid::new([4, 5, 6], a).unwrap();
        let e = g.ensure_same(&far, "a.nii", "b.nii").unwrap_err();
        let msg = e.to_string();
        assert!(
            msg.contains("a.nii") && msg.contains("b.nii") && msg.contains("0.505"),
            "{msg}"
        );
        let other_dims = Grid::from_spacing([4, 5, 7], [1.0, 1.0, 2.0]).unwrap();
        let e = g.ensure_same(&other_dims, "a", "b").unwrap_err();
        assert!(e.to_string().contains("4 x 5 x 6 and 4 x 5 x 7"), "{e}");
        // A spacing difference shows even on a one-voxel axis.
        let thin1 = Grid::from_spacing([4, 5, 1], [1.0, 1.0, 2.0]).unwrap();
        let thin2 = Grid::from_spacing([4, 5, 1], [1.0, 1.0, 2.5]).unwrap();
        let e = thin1.ensure_same(&thin2, "a", "b").unwrap_err();
        assert_eq!(e.kind(), crate::ErrorKind::GridMismatch, "{e}");
    }

    #[test]
    fn rejects_singular_and_non_finite_affines() {
        let mut a = Matrix4::identity();
        a[(2, 2)] = 0.0;
        assert_eq!(
            Grid::new([2, 2, 2], a).unwrap_err().kind(),
            crate::ErrorKind::Parameter
        );
        let mut b = Matrix4::identity();
        b[(0, 3)] = f64::NAN;
        let field = |r: Result<Grid>| {
            let e = r.unwrap_err();
            assert_eq!(e.kind(), crate::ErrorKind::Parameter, "{e}");
            e.field().map(str::to_string)
        };
        assert_eq!(field(Grid::new([2, 2, 2], b)).as_deref(), Some("affine"));
        assert_eq!(
            field(Grid::new([0, 2, 2], Matrix4::identity())).as_deref(),
            Some("dims")
        );
        assert_eq!(
            field(Grid::from_spacing([2, 2, 2], [1.0, -1.0, 1.0])).as_deref(),
            Some("spacing_mm[1]")
        );
    }
}
