//! A thin RF electrode on the lattice: the tissue voxels beside it and the
//! gain on their faces that gives it its true radius below the voxel
//! ([Peaceman1978]), for the potential of [`crate::bioheat::rf`] and the
//! cooled electrode's wall.

/// The tissue voxels beside a thin electrode and the gain on their faces
/// to it ([`near_field`]).
#[derive(Debug, Clone, PartialEq)]
pub struct NearField {
    /// Gain on the conductance of each face between the electrode and a
    /// voxel of `beside`.
    pub gain: f64,
    /// Tissue voxels with a face on the electrode whose centres lie
    /// alongside its active length (not beyond its ends), indexed like the
    /// lattice.
    pub beside: Vec<bool>,
}

/// The gain that gives a thin electrode its true radius on the lattice (a
/// sub-voxel near field).
///
/// A line of voxels held at one potential conducts like a cylinder of
/// radius e^(−π/2)·h ≈ 0.21 h, whatever the electrode's radius: the
/// equivalent radius of a node held at a fixed value in the 5-point
/// stencil, found by Peaceman for wells in reservoir grids [Peaceman1978].
/// A 17-gauge electrode (0.75 mm) on a 1 mm lattice would therefore take
/// the current of a 0.21 mm wire, and its first ring of tissue would take
/// about five times the Joule heat it takes in reality (the potential of a
/// line electrode falls as ln r, so the ring a < r < ρ dissipates a share
/// ln(ρ/a) of it).
///
/// The faces between the electrode and the tissue voxels beside it (centres
/// alongside the active length; the two end caps keep their plain
/// conductance, their field is not a line's) are scaled so that together
/// they conduct as the tissue between the electrode's surface (radius a)
/// and those voxels' centres does:
///
/// ```text
/// gain = 2π·L / (n·h·ln(ρ̄/a))
/// ```
///
/// n such faces of conductance σh each, along the active length L, and ρ̄
/// their tissue centres' mean distance from the axis. Beyond the first ring
/// the lattice carries the ln r field itself. On an axis-aligned electrode
/// (4 faces per voxel, ρ̄ = h) this is Peaceman's correction,
/// π / (2·ln(h/a)): 5.5 for 0.75 mm on 1 mm, 1.6 on 2 mm.
/// `axis(x, y, z)` gives a voxel centre's position along the axis from the
/// tip (0 to L on the active part) and its distance from the active
/// segment, mm. `None` when the electrode has no such face or is not thin.
pub fn near_field(
    electrode: &[bool],
    dims: [usize; 3],
    spacing_mm: f64,
    radius_mm: f64,
    length_mm: f64,
    axis: impl Fn([usize; 3]) -> (f64, f64),
) -> Option<NearField> {
    let faces: Vec<([isize; 3], f64)> = (0..3)
        .flat_map(|a| {
            [-1isize, 1].map(|o| {
                let mut q = [0isize; 3];
                q[a] = o;
                (q, 1.0)
            })
        })
        .collect();
    let ring = electrode_ring(electrode, dims, &faces, Some(length_mm), axis)?;
    // Each face conducts σ·h.
    let gain = ring.line_gain(radius_mm, length_mm, spacing_mm)?;
    Some(NearField {
        gain,
        beside: ring.voxels,
    })
}

/// The tissue voxels beside an electrode, reached through a stencil.
pub(crate) struct Ring {
    /// The stencil weights summed over every (electrode, tissue) pair.
    pub weight: f64,
    /// The tissue centres' distance from the axis, weighted alike, mm.
    pub mean_distance_mm: f64,
    /// The tissue voxels counted, indexed like the lattice.
    pub voxels: Vec<bool>,
}

impl Ring {
    /// The gain that makes the ring's pairs conduct, together, as the
    /// cylindrical shell between the electrode's surface (`radius_mm`) and
    /// the ring's mean distance does along `length_mm`: 2π·L / (Σw·c·ln(ρ̄/a)),
    /// where a pair of weight w conducts w·c times the material's
    /// conductivity (`per_weight_mm`: c, mm). `None` when the ring does not
    /// lie outside the electrode's surface.
    pub fn line_gain(&self, radius_mm: f64, length_mm: f64, per_weight_mm: f64) -> Option<f64> {
        let log = (self.mean_distance_mm / radius_mm).ln();
        (log > 0.0).then(|| 2.0 * std::f64::consts::PI * length_mm / (self.weight * per_weight_mm * log))
    }
}

/// The tissue voxels that `stencil` (offsets and weights) reaches from the
/// electrode's voxels; with `alongside_mm`, only those whose centres lie
/// alongside the active part (0 to that far behind the tip). `axis(x, y,
/// z)` gives a voxel centre's position behind the tip and its distance
/// from the active segment, mm. `None` when no pair is found.
pub(crate) fn electrode_ring(
    electrode: &[bool],
    dims: [usize; 3],
    stencil: &[([isize; 3], f64)],
    alongside_mm: Option<f64>,
    axis: impl Fn([usize; 3]) -> (f64, f64),
) -> Option<Ring> {
    let at = |p: [usize; 3]| p[0] + dims[0] * (p[1] + dims[1] * p[2]);
    let mut voxels = vec![false; electrode.len()];
    let (mut weight, mut weighted) = (0.0f64, 0.0f64);
    for z in 0..dims[2] {
        for y in 0..dims[1] {
            for x in 0..dims[0] {
                if !electrode[at([x, y, z])] {
                    continue;
                }
                for &(o, w) in stencil {
                    let q = [0, 1, 2].map(|a| [x, y, z][a] as isize + o[a]);
                    if (0..3).any(|a| q[a] < 0 || q[a] >= dims[a] as isize) {
                        continue;
                    }
                    let q = q.map(|v| v as usize);
                    if electrode[at(q)] {
                        continue;
                    }
                    let (along, distance) = axis(q);
                    if alongside_mm.is_some_and(|l| !(0.0..=l).contains(&along)) {
                        continue;
                    }
                    weight += w;
                    weighted += w * distance;
                    voxels[at(q)] = true;
                }
            }
        }
    }
    (weight > 0.0).then(|| Ring {
        weight,
        mean_distance_mm: weighted / weight,
        voxels,
    })
}
