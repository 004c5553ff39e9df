//! Setting up a simulation: the isotropic lattice over the region of
//! interest, each lattice voxel's tissue from the scan voxel its centre falls
//! in, the materials (each tissue with its dried form), the vessels wide
//! enough to act as heat sinks, and the RF electrode's voxels.

use nalgebra::Matrix4;

use crate::error::{ensure_fits, parameter_error, Result, Warning, GIB};
use crate::grid::ensure_orthogonal;
use crate::grid::Grid;
use crate::volume::{Mask, Volume};

use super::applicator::{ApplicatorKind, Pose};
use super::rf::RF_BYTES_PER_VOXEL;
use super::solver::{self, Boiling, Lattice, Material, BYTES_PER_VOXEL};
use super::tissue::{Parameters, TissueProperties};
use super::vessels::VesselClass;
use super::{Request, SimLattice, Tissues, VesselUse, LIVER, SOFT_TISSUE, TUMOR};

/// Distinct vessel walls fitted into `slots` materials: each wall
/// coefficient (W/(m²·K), infinite for a fixed wall) is rounded on a
/// logarithmic scale, 2^(1/8) apart (±4.4 %) and coarser when the walls would
/// not fit, then each level takes the geometric mean of its members. Returns
/// the levels (coefficient, RF conductivity) and each wall's level.
/// A wall: its coefficient, W/(m²·K), and its blood's RF conductivity, S/m.
type Wall = (f64, f64);

fn quantize_walls(walls: &[Wall], slots: usize) -> Result<(Vec<Wall>, Vec<usize>)> {
    let mut step = 2f64.ln() / 8.0;
    for _ in 0..12 {
        let mut keys: Vec<(i64, u64)> = Vec::new();
        let mut index = Vec::with_capacity(walls.len());
        for &(h, sigma) in walls {
            let level = if h.is_finite() {
                (h.ln() / step).round() as i64
            } else {
                i64::MAX
            };
            let key = (level, sigma.to_bits());
            let at = match keys.iter().position(|k| *k == key) {
                Some(at) => at,
                None => {
                    keys.push(key);
                    keys.len() - 1
                }
            };
            index.push(at);
        }
        if keys.len() <= slots {
            let mut sum = vec![0.0f64; keys.len()];
            let mut count = vec![0usize; keys.len()];
            for (&(h, _), &at) in walls.iter().zip(&index) {
                sum[at] += if h.is_finite() { h.ln() } else { 0.0 };
                count[at] += 1;
            }
            let levels = keys
                .iter()
                .enumerate()
                .map(|(k, &(level, sigma))| {
                    let h = if level == i64::MAX {
                        f64::INFINITY
                    } else {
                        (sum[k] / count[k] as f64).exp()
                    };
                    (h, f64::from_bits(sigma))
                })
                .collect();
            return Ok((levels, index));
        }
        step *= 2.0;
    }
    Err(parameter_error(
        "vessels",
        walls.len(),
        format!("at most {slots} distinct vessel walls (RF conductivities)"),
    ))
}

/// Lays out a lattice aligned with `scan`'s axes, spacing `h_mm`, covering the
/// box `[lo, hi]` given in mm along the scan's axes from its origin.
fn lattice_grid(scan: &Grid, lo: [f64; 3], hi: [f64; 3], h_mm: f64) -> Result<Grid> {
    let a = scan.affine();
    let s = scan.spacing_mm();
    let mut affine = Matrix4::identity();
    let mut dims = [0usize; 3];
    let mut origin = [a[(0, 3)], a[(1, 3)], a[(2, 3)]];
    for ax in 0..3 {
        dims[ax] = ((hi[ax] - lo[ax]) / h_mm).ceil().max(0.0) as usize + 1;
        for r in 0..3 {
            let unit = a[(r, ax)] / s[ax];
            affine[(r, ax)] = unit * h_mm;
            origin[r] += unit * lo[ax];
        }
    }
    for r in 0..3 {
        affine[(r, 3)] = origin[r];
    }
    Grid::new(dims, affine)
}

/// The position of a world point in mm along the scan's axes from its origin.
fn scan_mm(scan: &Grid, p: [f64; 3]) -> [f64; 3] {
    let v = scan.world_to_voxel(p);
    let s = scan.spacing_mm();
    [v[0] * s[0], v[1] * s[1], v[2] * s[2]]
}

/// A tissue as a lattice material; it boils into material `dried`.
pub fn material(p: &Parameters, t: &TissueProperties, name: &str, dried: Option<u8>) -> Material {
    Material {
        name: name.into(),
        heat_capacity_j_m3k: t.density_kg_m3 * t.specific_heat_j_kgk,
        conductivity_w_mk: t.conductivity_w_mk,
        perfusion_w_m3k: t.perfusion_1_s * p.blood.density_kg_m3 * p.blood.specific_heat_j_kgk,
        wall_w_m2k: None,
        wall_c: None,
        wall_gain: 1.0,
        boiling: dried.filter(|_| t.water_mass_frac > 0.0).map(|d| Boiling {
            latent_heat_j_m3: p.latent_heat_j_m3(t),
            dried: d,
        }),
    }
}

/// A tissue once dry: no water, no perfusion (dry tissue is dead).
pub fn dried_material(p: &Parameters, t: &TissueProperties, name: &str) -> Material {
    let (rc, k) = p.dried(t);
    Material {
        name: format!("{name} (dried)"),
        heat_capacity_j_m3k: rc,
        conductivity_w_mk: k,
        perfusion_w_m3k: 0.0,
        wall_w_m2k: None,
        wall_c: None,
        wall_gain: 1.0,
        boiling: None,
    }
}

/// The tumour component the applicator targets: the one holding the tip, or
/// else the nearest, with the count of the others.
pub fn targeted_tumor(tumor: &Mask, tip_mm: [f64; 3]) -> Option<(Mask, usize)> {
    use crate::morphology::{connected_components, Connectivity};
    let comps = connected_components(tumor, Connectivity::Full26);
    if comps.count() == 0 {
        return None;
    }
    let grid = tumor.grid();
    let mut best = (f64::INFINITY, 0u32);
    // Zip walks the labels in memory order (indexed_iter would stride
    // through a Fortran-ordered scan).
    ndarray::Zip::indexed(&comps.labels).for_each(|(i, j, k), &l| {
        if l == 0 {
            return;
        }
        let w = grid.voxel_to_world([i as f64, j as f64, k as f64]);
        let d = (0..3).map(|a| (w[a] - tip_mm[a]).powi(2)).sum::<f64>();
        if d < best.0 {
            best = (d, l);
        }
    });
    let data = comps.labels.mapv(|l| l == best.1);
    Volume::new(grid.clone(), data)
        .ok()
        .map(|m| (m, comps.count() - 1))
}

/// Builds the lattice over the region of interest and labels its voxels.
///
/// # Errors
/// `Parameter` when the region needs more memory than allowed; `GridMismatch`
/// when the masks are not on one grid; `Unsupported` for a sheared grid.
pub fn build_lattice(
    tissues: &Tissues,
    target: Option<&Mask>,
    request: &Request,
    params: &Parameters,
) -> Result<(SimLattice, Vec<Warning>)> {
    check_tissues(tissues)?;
    let (grid, warnings) = region_grid(tissues.liver.grid(), target, request, params)?;
    let mut materials = tissue_materials(params);
    let (mut labels, vessel_of) = rasterise(&grid, tissues);
    // An internally cooled RF electrode: a wall at the coolant's
    // temperature, before the vessel walls (which stay last).
    let rfa = request.applicator == ApplicatorKind::Rfa;
    let cooled = rfa && params.rf.cooled;
    let electrode = if rfa {
        electrode_voxels(
            &grid,
            &request.pose,
            params.rf.electrode_radius_mm,
            params.rf.active_length_mm,
        )
    } else {
        Vec::new()
    };
    if cooled {
        let at = materials.len() as u8;
        let mut wall = wall_material(
            params,
            "cooled electrode",
            f64::INFINITY,
            Some(params.rf.coolant_c),
        );
        wall.wall_gain = electrode_wall_gain(&grid, &request.pose, &electrode, &params.rf);
        materials.push(wall);
        for (l, _) in labels.iter_mut().zip(&electrode).filter(|(_, &e)| e) {
            *l = at;
        }
    }
    let walls = VesselWalls {
        grid: &grid,
        tissues,
        params,
        vessel_of: &vessel_of,
        skip: if cooled { &electrode } else { &[] },
    };
    let (vessel_use, vessel_labels) = walls.place(&mut materials, &mut labels, cooled)?;
    let lattice = Lattice {
        dims: grid.dims(),
        spacing_mm: params.solver.spacing_mm,
        materials,
        material: labels,
    };
    let sim = SimLattice {
        grid,
        lattice,
        vessel_labels,
        vessel_use,
        electrode,
    };
    Ok((sim, warnings))
}

/// The masks share the liver's grid, which is not sheared, and the vessel
/// labels fit the lattice's material indices.
fn check_tissues(tissues: &Tissues) -> Result<()> {
    let scan = tissues.liver.grid();
    ensure_orthogonal(scan)?;
    if let Some(t) = tissues.tumor {
        scan.ensure_same(t.grid(), "liver", "tumour")?;
    }
    for v in &tissues.vessels {
        scan.ensure_same(v.mask.grid(), "liver", &format!("vessel {}", v.label))?;
    }
    if tissues.vessels.len() > 254 {
        return Err(parameter_error(
            "vessels",
            tissues.vessels.len(),
            "at most 254 vessel labels",
        ));
    }
    Ok(())
}

/// The lattice over the region of interest: the applicator's reach and the
/// expected zone, the target with its margin, and `solver.roi_margin_mm`
/// around them (for RF at least `rf.ground_margin_mm`), refused when it
/// needs more memory than allowed; with a warning when it reaches beyond
/// the scan.
fn region_grid(
    scan: &Grid,
    target: Option<&Mask>,
    request: &Request,
    params: &Parameters,
) -> Result<(Grid, Vec<Warning>)> {
    let h = params.solver.spacing_mm;
    let s = scan.spacing_mm();
    let dims = scan.dims();
    // The box to simulate, in mm along the scan's axes.
    let mut lo = [f64::INFINITY; 3];
    let mut hi = [f64::NEG_INFINITY; 3];
    let mut include = |p: [f64; 3], r: f64| {
        for a in 0..3 {
            lo[a] = lo[a].min(p[a] - r);
            hi[a] = hi[a].max(p[a] + r);
        }
    };
    let reach = match request.applicator {
        ApplicatorKind::Mwa => params.microwave.axial_centre_mm + 2.0 * params.microwave.axial_width_mm,
        ApplicatorKind::Rfa => params.rf.active_length_mm,
    };
    let r = request.expected_radius_mm;
    for pose in std::iter::once(&request.pose).chain(&request.together) {
        include(scan_mm(scan, pose.tip_mm), r);
        include(scan_mm(scan, pose.behind(reach)), r);
    }
    if let Some(t) = target {
        ndarray::Zip::indexed(t.data()).for_each(|(i, j, k), &v| {
            if v {
                let p = [i as f64 * s[0], j as f64 * s[1], k as f64 * s[2]];
                include(p, request.margin_mm + 0.5 * s[0].max(s[1]).max(s[2]));
            }
        });
    }
    let m = match request.applicator {
        ApplicatorKind::Mwa => params.solver.roi_margin_mm,
        ApplicatorKind::Rfa => params.solver.roi_margin_mm.max(params.rf.ground_margin_mm),
    };
    for a in 0..3 {
        lo[a] -= m;
        hi[a] += m;
    }
    let grid = lattice_grid(scan, lo, hi, h)?;
    let n = grid.voxel_count();
    let per_voxel = BYTES_PER_VOXEL
        + 4 * 4 // maps written out
        + if request.applicator == ApplicatorKind::Rfa { RF_BYTES_PER_VOXEL } else { 0 };
    let need = n.checked_mul(per_voxel);
    ensure_fits(need, request.max_bytes, "solver lattice").map_err(|expected| {
        let gd = grid.dims();
        parameter_error(
            "region of interest",
            format!(
                "{}x{}x{} voxels at {h} mm ({:.2} GiB)",
                gd[0],
                gd[1],
                gd[2],
                need.map_or(f64::INFINITY, |b| b as f64 / GIB)
            ),
            format!("{expected}; use a coarser solver.spacing_mm or a smaller solver.roi_margin_mm"),
        )
    })?;
    let mut warnings = Vec::new();
    let scan_hi = [
        (dims[0] - 1) as f64 * s[0],
        (dims[1] - 1) as f64 * s[1],
        (dims[2] - 1) as f64 * s[2],
    ];
    let outside_scan = (0..3).any(|a| lo[a] < -0.5 * s[a] || hi[a] > scan_hi[a] + 0.5 * s[a]);
    if outside_scan {
        warnings.push(Warning::new(
            None,
            "region of interest",
            "extends beyond the scan; tissue there is taken as soft tissue",
        ));
    }
    Ok((grid, warnings))
}

/// Soft tissue, liver and tumour (indices [`SOFT_TISSUE`], [`LIVER`],
/// [`TUMOR`]), each boiling into its dried form, which follow them.
fn tissue_materials(params: &Parameters) -> Vec<Material> {
    let tissues = [
        (&params.soft_tissue, "soft_tissue"),
        (&params.liver, "liver"),
        (&params.tumor, "tumor"),
    ];
    let first_dried = tissues.len() as u8;
    let mut materials: Vec<Material> = tissues
        .iter()
        .enumerate()
        .map(|(i, (t, name))| material(params, t, name, Some(first_dried + i as u8)))
        .collect();
    materials.extend(tissues.iter().map(|(t, name)| dried_material(params, t, name)));
    materials
}

/// A wall with blood (or coolant at `wall_c`) behind it.
fn wall_material(params: &Parameters, name: &str, wall_w_m2k: f64, wall_c: Option<f64>) -> Material {
    Material {
        name: name.into(),
        heat_capacity_j_m3k: params.blood.density_kg_m3 * params.blood.specific_heat_j_kgk,
        conductivity_w_mk: params.liver.conductivity_w_mk,
        perfusion_w_m3k: 0.0,
        wall_w_m2k: Some(wall_w_m2k),
        wall_c,
        wall_gain: 1.0,
        boiling: None,
    }
}

/// Each lattice voxel's tissue, from the scan voxel its centre falls in,
/// and for vessel voxels which vessel (index + 1; empty without vessels).
fn rasterise(grid: &Grid, tissues: &Tissues) -> (Vec<u8>, Vec<u8>) {
    use rayon::prelude::*;
    let scan = tissues.liver.grid();
    let gd = grid.dims();
    let plane_len = gd[0] * gd[1];
    let mut labels = vec![SOFT_TISSUE; plane_len * gd[2]];
    let mut vessel_of = vec![
        0u8;
        if tissues.vessels.is_empty() {
            0
        } else {
            labels.len()
        }
    ];
    let liver = tissues.liver.data();
    let tumor = tissues.tumor.map(|t| t.data());
    let vessels: Vec<_> = tissues.vessels.iter().map(|v| v.mask.data()).collect();
    let fill = |z: usize, plane: &mut [u8], mut of: Option<&mut [u8]>| {
        for y in 0..gd[1] {
            for x in 0..gd[0] {
                let w = grid.voxel_to_world([x as f64, y as f64, z as f64]);
                let Some([i, j, k]) = scan.nearest_voxel(w) else {
                    continue;
                };
                let at = x + gd[0] * y;
                plane[at] = if tumor.is_some_and(|t| t[[i, j, k]]) {
                    TUMOR
                } else if liver[[i, j, k]] {
                    LIVER
                } else {
                    SOFT_TISSUE
                };
                if let Some(of) = of.as_mut() {
                    if let Some(vi) = vessels.iter().position(|d| d[[i, j, k]]) {
                        of[at] = vi as u8 + 1;
                    }
                }
            }
        }
    };
    if vessel_of.is_empty() {
        labels
            .par_chunks_mut(plane_len)
            .enumerate()
            .for_each(|(z, plane)| fill(z, plane, None));
    } else {
        labels
            .par_chunks_mut(plane_len)
            .zip(vessel_of.par_chunks_mut(plane_len))
            .enumerate()
            .for_each(|(z, (plane, of))| fill(z, plane, Some(of)));
    }
    (labels, vessel_of)
}

/// The vessels of a lattice, before their walls are placed.
struct VesselWalls<'a> {
    grid: &'a Grid,
    tissues: &'a Tissues<'a>,
    params: &'a Parameters,
    /// Which vessel each lattice voxel is in (index + 1; empty without vessels).
    vessel_of: &'a [u8],
    /// Voxels taken by something else (the cooled electrode).
    skip: &'a [bool],
}

impl VesselWalls<'_> {
    /// Makes the vessel voxels wide enough to act as heat sinks into walls:
    /// each voxel's heat-transfer coefficient from its vessel's class and the
    /// local diameter, the coefficients grouped into the materials left.
    /// Returns what each vessel did and the labels of each wall material.
    fn place(
        &self,
        materials: &mut Vec<Material>,
        labels: &mut [u8],
        cooled: bool,
    ) -> Result<(Vec<VesselUse>, Vec<Vec<i64>>)> {
        let (tissues, params) = (self.tissues, self.params);
        let mut vessel_use: Vec<VesselUse> = tissues
            .vessels
            .iter()
            .map(|v| VesselUse {
                label: v.label,
                name: v.name.clone(),
                class: params
                    .vessel_wall(v.label, v.name.as_deref())
                    .class
                    .unwrap_or_else(|| VesselClass::from_name(v.name.as_deref())),
                sink_ml: 0.0,
                below_sink_diameter_ml: 0.0,
                diameter_max_mm: 0.0,
                heat_transfer_mean_w_m2k: None,
            })
            .collect();
        let mut vessel_labels: Vec<Vec<i64>> = Vec::new();
        if self.vessel_of.is_empty() {
            return Ok((vessel_use, vessel_labels));
        }
        let (sinks, walls) = self.sinks(&mut vessel_use)?;
        let slots = solver::MAX_MATERIALS - materials.len() - usize::from(cooled);
        let (levels, index) = quantize_walls(&walls, slots)?;
        let first_wall = materials.len();
        for (k, &(coefficient, _)) in levels.iter().enumerate() {
            materials.push(wall_material(
                params,
                &format!("vessel wall {}", k + 1),
                coefficient,
                None,
            ));
            vessel_labels.push(Vec::new());
        }
        for (&i, &k) in sinks.iter().zip(&index) {
            labels[i] = (first_wall + k) as u8;
            let label = tissues.vessels[self.vessel_of[i] as usize - 1].label;
            if !vessel_labels[k].contains(&label) {
                vessel_labels[k].push(label);
            }
        }
        Ok((vessel_use, vessel_labels))
    }

    /// The voxels that act as heat sinks and their walls, with each vessel's
    /// volumes, widest diameter and mean coefficient counted in `vessel_use`.
    fn sinks(&self, vessel_use: &mut [VesselUse]) -> Result<(Vec<usize>, Vec<Wall>)> {
        let (tissues, params) = (self.tissues, self.params);
        let diameter = super::vessels::local_diameters_mm(self.grid, self.vessel_of)?;
        let h = params.solver.spacing_mm;
        let voxel_ml = h * h * h * 1e-3;
        let label_walls: Vec<_> = tissues
            .vessels
            .iter()
            .map(|v| params.vessel_wall(v.label, v.name.as_deref()))
            .collect();
        let mut sinks: Vec<usize> = Vec::new();
        let mut walls: Vec<Wall> = Vec::new();
        let mut finite_sum = vec![(0.0f64, 0usize); tissues.vessels.len()];
        for (i, &of) in self.vessel_of.iter().enumerate() {
            let vi = of as usize;
            if vi == 0 || self.skip.get(i).copied().unwrap_or(false) {
                continue;
            }
            let (v, w, u) = (
                &tissues.vessels[vi - 1],
                &label_walls[vi - 1],
                &mut vessel_use[vi - 1],
            );
            let d_mm = diameter[i] as f64;
            u.diameter_max_mm = u.diameter_max_mm.max(d_mm);
            if d_mm < params.vessel_min_sink_diameter_mm {
                u.below_sink_diameter_ml += voxel_ml;
                continue;
            }
            u.sink_ml += voxel_ml;
            let coefficient = w.heat_transfer_w_m2k.unwrap_or_else(|| {
                params
                    .wall_exchange(v.label, v.name.as_deref(), d_mm)
                    .map_or(f64::INFINITY, |x| x.effective_w_m2k)
            });
            if coefficient.is_finite() {
                finite_sum[vi - 1].0 += coefficient;
                finite_sum[vi - 1].1 += 1;
            }
            sinks.push(i);
            walls.push((coefficient, w.rf_conductivity_s_m));
        }
        for (u, (sum, n)) in vessel_use.iter_mut().zip(finite_sum) {
            u.heat_transfer_mean_w_m2k = (n > 0).then(|| sum / n as f64);
        }
        Ok((sinks, walls))
    }
}

/// Whether the tip lies in the liver or a tumour (nearest scan voxel).
pub(crate) fn tip_in_liver(tissues: &Tissues, tip_mm: [f64; 3]) -> bool {
    let Some([i, j, k]) = tissues.liver.grid().nearest_voxel(tip_mm) else {
        return false;
    };
    tissues.liver.data()[[i, j, k]] || tissues.tumor.is_some_and(|t| t.data()[[i, j, k]])
}

/// The electrode voxels: centres within the electrode radius of the exposed
/// segment, or within half a voxel diagonal so that a thin electrode stays
/// connected on the lattice.
pub(crate) fn electrode_voxels(grid: &Grid, pose: &Pose, radius_mm: f64, length_mm: f64) -> Vec<bool> {
    let d = grid.dims();
    let h = grid.spacing_mm()[0];
    let r = radius_mm.max(0.5 * 3f64.sqrt() * h);
    let mut out = vec![false; d[0] * d[1] * d[2]];
    for z in 0..d[2] {
        for y in 0..d[1] {
            for x in 0..d[0] {
                if electrode_axis_distance_mm(grid, pose, length_mm, [x, y, z]) <= r {
                    out[x + d[0] * (y + d[1] * z)] = true;
                }
            }
        }
    }
    out
}

/// The gain on the conductance between a cooled electrode's wall and the
/// tissue beside it, so that the tissue there loses heat to the coolant as
/// through a cylinder of the electrode's true radius: the thermal twin of
/// [`crate::bioheat::electrode::near_field`], over the 18 neighbours of the
/// stencil (faces weighted 1/3, edges 1/6). The wall's own conductance is
/// 2k/h² per pair (its surface half a voxel away); the tissue between the
/// electrode's surface (radius a) and the neighbours' centres (mean
/// distance ρ̄ from the axis, weighted like the stencil) conducts
/// 2πk·L / ln(ρ̄/a) along the active length L, so
///
/// ```text
/// gain = 2π·L / (ln(ρ̄/a) · 2h · Σw)
/// ```
///
/// 2.6 for a 0.75 mm electrode along an axis of a 1 mm lattice [Peaceman1978].
pub(crate) fn electrode_wall_gain(
    grid: &Grid,
    pose: &Pose,
    electrode: &[bool],
    rf: &crate::bioheat::tissue::RfModel,
) -> f64 {
    use crate::bioheat::kernel::{W_EDGE, W_FACE};
    let stencil: Vec<([isize; 3], f64)> = (0..27usize)
        .filter_map(|k| {
            let o = [k % 3, (k / 3) % 3, k / 9].map(|v| v as isize - 1);
            match o.iter().map(|v| v.abs()).sum::<isize>() {
                1 => Some((o, W_FACE)),
                2 => Some((o, W_EDGE)),
                _ => None,
            }
        })
        .collect();
    // Every pair, caps included: the gain is the wall material's, so it
    // reaches every tissue voxel beside the electrode.
    let ring = crate::bioheat::electrode::electrode_ring(electrode, grid.dims(), &stencil, None, |q| {
        electrode_axis_position(grid, pose, rf.active_length_mm, q)
    });
    // A pair of weight w conducts w·2k/h² per volume: w·2h times k, in mm.
    let h = grid.spacing_mm()[0];
    ring.and_then(|r| r.line_gain(rf.electrode_radius_mm, rf.active_length_mm, 2.0 * h))
        .unwrap_or(1.0)
}

/// A lattice voxel centre's distance from the electrode's axis: the segment
/// from the tip back along the active length, mm.
pub(crate) fn electrode_axis_distance_mm(grid: &Grid, pose: &Pose, length_mm: f64, ijk: [usize; 3]) -> f64 {
    electrode_axis_position(grid, pose, length_mm, ijk).1
}

/// A lattice voxel centre's position along the shaft behind the tip, and
/// its distance from the active segment (the tip back along `length_mm`), mm.
pub(crate) fn electrode_axis_position(
    grid: &Grid,
    pose: &Pose,
    length_mm: f64,
    ijk: [usize; 3],
) -> (f64, f64) {
    let p = grid.voxel_to_world(ijk.map(|v| v as f64));
    let (s, rho) = pose.axial_radial(p);
    let s_c = s.clamp(0.0, length_mm);
    (s, (rho * rho + (s - s_c).powi(2)).sqrt())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn electrode_wall_gain_on_an_axis_matches_the_hand_count() {
        // A 0.75 mm electrode along z on a 1 mm lattice, 20 voxels long,
        // well inside. Per electrode voxel: 4 face neighbours at 1 mm
        // (w = 1/3), 8 edge neighbours one slice up or down at 1 mm and 4
        // in-plane diagonals at √2 mm (w = 1/6): Σw = 10/3, ρ̄ = (8/3 + 4/6·√2)/(10/3).
        // The two end voxels add their caps, which the hand count leaves
        // out, so the lattice's gain is a little lower.
        let grid = Grid::from_spacing([21, 21, 40], [1.0; 3]).unwrap();
        let pose = Pose::from_direction([10.0, 10.0, 30.0], [0.0, 0.0, 1.0]).unwrap();
        let rf = crate::bioheat::tissue::RfModel {
            electrode_radius_mm: 0.75,
            active_length_mm: 20.0,
            ..Default::default()
        };
        let electrode = electrode_voxels(&grid, &pose, rf.electrode_radius_mm, rf.active_length_mm);
        let gain = electrode_wall_gain(&grid, &pose, &electrode, &rf);
        let rho = (8.0 / 3.0 + 4.0 / 6.0 * 2f64.sqrt()) / (10.0 / 3.0);
        let hand = 2.0 * std::f64::consts::PI / ((rho / 0.75).ln() * 2.0 * 10.0 / 3.0);
        assert!(
            gain < hand && gain > 0.85 * hand,
            "gain {gain}, hand count {hand}"
        );
    }

    #[test]
    fn walls_are_rounded_to_levels_that_fit_the_slots() {
        let walls: Vec<(f64, f64)> = (0..200).map(|k| (100.0 * 1.01f64.powi(k), 0.34)).collect();
        let (levels, index) = quantize_walls(&walls, 9).unwrap();
        assert!(levels.len() <= 9 && levels.len() >= 4, "{levels:?}");
        for (&(h, _), &k) in walls.iter().zip(&index) {
            // Within the level's span: coarser than 2^(1/8) only as needed.
            assert!(
                (h / levels[k].0).ln().abs() < 2f64.ln() / 2.0,
                "{h} vs {:?}",
                levels[k]
            );
        }
        // Few walls keep their fine levels: within ±4.4 %.
        let few = [
            (150.0, 0.34),
            (151.0, 0.34),
            (900.0, 0.34),
            (f64::INFINITY, 0.34),
            (900.0, 0.7),
        ];
        let (levels, index) = quantize_walls(&few, 9).unwrap();
        assert_eq!(levels.len(), 4);
        assert_eq!(index[0], index[1]);
        assert!(levels[index[3]].0.is_infinite());
        assert_ne!(index[2], index[4]);
        // More distinct RF conductivities than slots cannot fit.
        let many: Vec<(f64, f64)> = (0..12).map(|k| (500.0, 0.1 + k as f64 * 0.1)).collect();
        let e = quantize_walls(&many, 9).unwrap_err();
        assert_eq!(
            (e.kind(), e.field()),
            (crate::ErrorKind::Parameter, Some("vessels")),
            "{e}"
        );
    }
}
