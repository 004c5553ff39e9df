//! Thermal ablation: the Pennes bioheat equation on the patient's voxels.
//!
//! [`simulate`] takes the segmentation (liver, tumour, vessels) on the scan's
//! grid, an applicator with its pose, power and time, and the tissue
//! [`Parameters`]; it
//!
//! 1. builds an isotropic lattice (default 1 mm) aligned with the scan's axes
//!    over the region of interest — the targeted tumour plus the required
//!    margin, and the applicator's expected zone, grown by
//!    `solver.roi_margin_mm` (20 mm) — and refuses it before allocating when it
//!    would exceed the memory bound;
//! 2. labels each lattice voxel from the scan voxel its centre falls in
//!    (vessel, tumour, liver, else soft tissue);
//! 3. computes the heating (microwave pattern or radiofrequency potential);
//! 4. steps the bioheat equation (`solver`) and measures the zones (`zone`).
//!
//! Why an isotropic lattice and not the scan's own voxels: CT slices are often
//! 2.5–5 mm apart, too coarse for a zone boundary that must be known to a
//! millimetre, while the explicit step is bounded by the finest spacing — the
//! scan's grid would cost the time of its finest axis and give the accuracy of
//! its coarsest. An isotropic lattice also treats every needle direction
//! alike. Results go back to the scan's grid by trilinear interpolation.
//!
//! Units: the solver works in SI (m, s, W/m³, J/(m³·K)); this module converts
//! from the mm, mL and °C of the rest of liverkit, here and nowhere else.

pub mod applicator;
pub mod protocols;
pub mod report;
pub mod rf;
pub mod solver;
pub mod tissue;
pub mod zone;

use nalgebra::Matrix4;
use serde::Serialize;

use crate::distance::ensure_orthogonal;
use crate::error::{parameter_error, Result, Warning};
use crate::grid::Grid;
use crate::progress::Progress;
use crate::volume::{Mask, Volume};

use applicator::{microwave_power_density, ApplicatorKind, Pose};
use rf::{RfSource, RF_BYTES_PER_VOXEL};
use solver::{run, Fields, FixedSource, HeatSource, Lattice, Material, RunSettings, BYTES_PER_VOXEL};
use tissue::{Parameters, TissueProperties};
use zone::{zone_shape, LatticeField, ZoneShape};

pub use tissue::Walls;

/// Lattice material indices of the tissue classes (vessels follow).
pub const SOFT_TISSUE: u8 = 0;
/// Liver.
pub const LIVER: u8 = 1;
/// Tumour.
pub const TUMOR: u8 = 2;

/// A vessel label and its voxels.
#[derive(Debug, Clone)]
pub struct VesselMask<'a> {
    /// Label value in the label map.
    pub label: i64,
    /// Label name, when the map names it.
    pub name: Option<String>,
    /// Its voxels.
    pub mask: &'a Mask,
}

/// The segmentation, all on the scan's grid.
#[derive(Debug, Clone)]
pub struct Tissues<'a> {
    /// Liver (parenchyma; tumours and vessels inside it are fine).
    pub liver: &'a Mask,
    /// The tumour(s); the one the applicator targets is assessed.
    pub tumor: Option<&'a Mask>,
    /// Vessels acting as heat sinks.
    pub vessels: Vec<VesselMask<'a>>,
}

/// What to simulate.
#[derive(Debug, Clone, PartialEq)]
pub struct Request {
    /// Microwave or radiofrequency.
    pub applicator: ApplicatorKind,
    /// Generator power, W.
    pub power_w: f64,
    /// Heating time, s.
    pub time_s: f64,
    /// Needle pose.
    pub pose: Pose,
    /// Simulate even when the tip is outside the liver.
    pub allow_outside: bool,
    /// Refuse lattices needing more memory than this, bytes.
    pub max_bytes: u64,
    /// The margin around the tumour that must be ablated, mm (10).
    pub margin_mm: f64,
    /// The zone the applicator is expected to reach (radius, mm), to size the
    /// region; the actual reach is checked after the run.
    pub expected_radius_mm: f64,
}

/// The simulation lattice: its grid and what it holds.
#[derive(Debug, Clone)]
pub struct SimLattice {
    /// The lattice as a grid (isotropic spacing, the scan's axes).
    pub grid: Grid,
    /// Materials and their layout.
    pub lattice: Lattice,
    /// Vessel labels in each vessel material (index − 3).
    pub vessel_labels: Vec<Vec<i64>>,
    /// How much of each vessel label acts as a heat sink.
    pub vessel_use: Vec<VesselUse>,
}

/// The part of a vessel label inside the simulated region, split by local
/// diameter (`vessel.min_sink_diameter_mm`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct VesselUse {
    /// Label value.
    pub label: i64,
    /// Label name, when known.
    pub name: Option<String>,
    /// Volume simulated as a heat sink (blood at its wall), mL.
    pub sink_ml: f64,
    /// Volume narrower than the sink diameter, simulated as the tissue around
    /// it (its blood is in the perfusion term), mL.
    pub below_sink_diameter_ml: f64,
}

/// The vessel voxels (`vessel_of` > 0, lattice order) whose local diameter
/// reaches `min_diameter_mm`: those within a ball of diameter ≥ the minimum
/// that fits inside the vessels.
///
/// On a lattice of spacing h a voxel whose centre lies d from the nearest
/// voxel outside the vessels sits in a vessel of diameter about 2d − h (the
/// wall lies half a voxel inside that outer centre), so the centres with
/// d ≥ (D + h)/2 mark vessels at least D wide and every vessel voxel within
/// (D + h)/2 of one of them belongs to such a vessel. D = 0 keeps every voxel.
fn sink_voxels(grid: &Grid, vessel_of: &[u8], min_diameter_mm: f64) -> Result<Vec<bool>> {
    use ndarray::{Array3, ShapeBuilder};
    let d = grid.dims();
    let shape = (d[0], d[1], d[2]).f();
    let inside: Vec<bool> = vessel_of.iter().map(|&v| v > 0).collect();
    if min_diameter_mm <= 0.0 {
        return Ok(inside);
    }
    let h = grid.spacing_mm()[0];
    let rho = 0.5 * (min_diameter_mm + h);
    let array = Array3::from_shape_vec(shape, inside.clone())
        .map_err(|e| parameter_error("vessel lattice", e, format!("{d:?} voxels")))?;
    let mask = Mask::new(grid.clone(), array)?;
    let depth = crate::distance::distance_to_background_mm(&mask)?;
    // Compare in f32 with a small allowance so that lattice distances equal
    // to the threshold (2.0 mm for 3 mm vessels at 1 mm) count.
    let core_at = (rho - 1e-3) as f32;
    let core = depth.data().mapv(|v| v >= core_at);
    let core = Mask::new(grid.clone(), core)?;
    let near = crate::morphology::dilate_mm(&core, rho)?;
    let near = near.data();
    let mut out = inside;
    for z in 0..d[2] {
        for y in 0..d[1] {
            for x in 0..d[0] {
                let i = x + d[0] * (y + d[1] * z);
                out[i] = out[i] && near[[x, y, z]];
            }
        }
    }
    Ok(out)
}

/// Radiofrequency details of a run.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RfSummary {
    /// Impedance between electrode and ground at the start, Ω.
    pub impedance_start_ohm: f64,
    /// At the last solution, Ω.
    pub impedance_end_ohm: f64,
    /// Potential solutions.
    pub solutions: usize,
    /// Electrode voxels in the lattice.
    pub electrode_voxels: usize,
    /// Conjugate-gradient iterations, all solutions together.
    pub iterations: usize,
}

/// The outcome of [`simulate`].
#[derive(Debug, Clone)]
pub struct Simulation {
    /// The lattice simulated.
    pub sim: SimLattice,
    /// The fields on it.
    pub fields: Fields,
    /// The needle.
    pub pose: Pose,
    /// The zone above the isotherm (70 °C).
    pub zone_iso: ZoneShape,
    /// The zone with Arrhenius damage Ω ≥ 1.
    pub zone_damage: ZoneShape,
    /// Volume with CEM43 ≥ its threshold (240 min), mL.
    pub zone_cem43_ml: f64,
    /// Highest temperature in tissue, °C.
    pub max_temperature_c: f64,
    /// Heating power deposited in tissue, W.
    pub deposited_w: f64,
    /// Radiofrequency details.
    pub rf: Option<RfSummary>,
    /// What the user must know.
    pub warnings: Vec<Warning>,
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

fn material(p: &Parameters, t: &TissueProperties, name: &str) -> Material {
    Material {
        name: name.into(),
        heat_capacity_j_m3k: t.density_kg_m3 * t.specific_heat_j_kgk,
        conductivity_w_mk: t.conductivity_w_mk,
        perfusion_w_m3k: t.perfusion_1_s * p.blood.density_kg_m3 * p.blood.specific_heat_j_kgk,
        wall_w_m2k: None,
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
    for ((i, j, k), &l) in comps.labels.indexed_iter() {
        if l == 0 {
            continue;
        }
        let w = grid.voxel_to_world([i as f64, j as f64, k as f64]);
        let d = (0..3).map(|a| (w[a] - tip_mm[a]).powi(2)).sum::<f64>();
        if d < best.0 {
            best = (d, l);
        }
    }
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
    let pose = &request.pose;
    let reach = match request.applicator {
        ApplicatorKind::Mwa => params.microwave.axial_centre_mm + 2.0 * params.microwave.axial_width_mm,
        ApplicatorKind::Rfa => params.rf.active_length_mm,
    };
    let r = request.expected_radius_mm;
    include(scan_mm(scan, pose.tip_mm), r);
    include(scan_mm(scan, pose.behind(reach)), r);
    if let Some(t) = target {
        for ((i, j, k), &v) in t.data().indexed_iter() {
            if v {
                let p = [i as f64 * s[0], j as f64 * s[1], k as f64 * s[2]];
                include(p, request.margin_mm + 0.5 * s[0].max(s[1]).max(s[2]));
            }
        }
    }
    let m = params.solver.roi_margin_mm;
    for a in 0..3 {
        lo[a] -= m;
        hi[a] += m;
    }
    let grid = lattice_grid(scan, lo, hi, h)?;
    let n = grid.voxel_count();
    let per_voxel = BYTES_PER_VOXEL
        + 4 * 4 // maps written out
        + if request.applicator == ApplicatorKind::Rfa { RF_BYTES_PER_VOXEL } else { 0 };
    let need = n.saturating_mul(per_voxel);
    if need > request.max_bytes {
        let gd = grid.dims();
        return Err(parameter_error(
            "region of interest",
            format!(
                "{}x{}x{} voxels at {h} mm ({:.2} GiB)",
                gd[0],
                gd[1],
                gd[2],
                need as f64 / (1u64 << 30) as f64
            ),
            format!(
                "at most {:.2} GiB (--max-memory-gib); use a coarser solver.spacing_mm or a smaller solver.roi_margin_mm",
                request.max_bytes as f64 / (1u64 << 30) as f64
            ),
        ));
    }
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

    // Materials: soft tissue, liver, tumour, then one per distinct vessel wall.
    let mut materials = vec![
        material(params, &params.soft_tissue, "soft_tissue"),
        material(params, &params.liver, "liver"),
        material(params, &params.tumor, "tumor"),
    ];
    let mut vessel_labels: Vec<Vec<i64>> = Vec::new();
    let mut vessel_material = Vec::with_capacity(tissues.vessels.len());
    let mut walls: Vec<(f64, f64)> = Vec::new();
    for v in &tissues.vessels {
        let w = params.vessel_wall(v.label, v.name.as_deref());
        let key = (w.heat_transfer_w_m2k, w.rf_conductivity_s_m);
        let idx = match walls.iter().position(|k| *k == key) {
            Some(i) => i,
            None => {
                if materials.len() >= solver::MAX_MATERIALS {
                    return Err(parameter_error(
                        "vessels",
                        tissues.vessels.len(),
                        format!("at most {} distinct vessel walls", solver::MAX_MATERIALS - 3),
                    ));
                }
                walls.push(key);
                vessel_labels.push(Vec::new());
                materials.push(Material {
                    name: format!("vessel wall {}", walls.len()),
                    heat_capacity_j_m3k: params.blood.density_kg_m3 * params.blood.specific_heat_j_kgk,
                    conductivity_w_mk: params.liver.conductivity_w_mk,
                    perfusion_w_m3k: 0.0,
                    wall_w_m2k: Some(w.heat_transfer_w_m2k),
                });
                walls.len() - 1
            }
        };
        vessel_labels[idx].push(v.label);
        vessel_material.push(3 + idx as u8);
    }
    let gd = grid.dims();
    let plane_len = gd[0] * gd[1];
    let mut labels = vec![SOFT_TISSUE; plane_len * gd[2]];
    // For vessel voxels: which vessel (index + 1) and the tissue beneath it.
    let mut vessel_of = vec![
        0u8;
        if tissues.vessels.is_empty() {
            0
        } else {
            labels.len()
        }
    ];
    let mut beneath = vec![SOFT_TISSUE; vessel_of.len()];
    let liver = tissues.liver.data();
    let tumor = tissues.tumor.map(|t| t.data());
    let vessels: Vec<_> = tissues.vessels.iter().map(|v| v.mask.data()).collect();
    let fill = |z: usize, plane: &mut [u8], of: Option<(&mut [u8], &mut [u8])>| {
        let mut of = of;
        for y in 0..gd[1] {
            for x in 0..gd[0] {
                let w = grid.voxel_to_world([x as f64, y as f64, z as f64]);
                let v = scan.world_to_voxel(w);
                let idx: Option<[usize; 3]> = (|| {
                    let mut out = [0usize; 3];
                    for a in 0..3 {
                        let r = v[a].round();
                        if r < 0.0 || r > (dims[a] - 1) as f64 {
                            return None;
                        }
                        out[a] = r as usize;
                    }
                    Some(out)
                })();
                let Some([i, j, k]) = idx else { continue };
                let tissue = if tumor.is_some_and(|t| t[[i, j, k]]) {
                    TUMOR
                } else if liver[[i, j, k]] {
                    LIVER
                } else {
                    SOFT_TISSUE
                };
                let at = x + gd[0] * y;
                plane[at] = tissue;
                if let Some(vi) = vessels.iter().position(|d| d[[i, j, k]]) {
                    plane[at] = vessel_material[vi];
                    if let Some((of, below)) = of.as_mut() {
                        of[at] = vi as u8 + 1;
                        below[at] = tissue;
                    }
                }
            }
        }
    };
    use rayon::prelude::*;
    if vessel_of.is_empty() {
        labels
            .par_chunks_mut(plane_len)
            .enumerate()
            .for_each(|(z, plane)| fill(z, plane, None));
    } else {
        labels
            .par_chunks_mut(plane_len)
            .zip(
                vessel_of
                    .par_chunks_mut(plane_len)
                    .zip(beneath.par_chunks_mut(plane_len)),
            )
            .enumerate()
            .for_each(|(z, (plane, (of, below)))| fill(z, plane, Some((of, below))));
    }
    let mut vessel_use: Vec<VesselUse> = tissues
        .vessels
        .iter()
        .map(|v| VesselUse {
            label: v.label,
            name: v.name.clone(),
            sink_ml: 0.0,
            below_sink_diameter_ml: 0.0,
        })
        .collect();
    if !vessel_of.is_empty() {
        let sink = sink_voxels(&grid, &vessel_of, params.vessel_min_sink_diameter_mm)?;
        let voxel_ml = h * h * h * 1e-3;
        for i in 0..labels.len() {
            let vi = vessel_of[i] as usize;
            if vi == 0 {
                continue;
            }
            if sink[i] {
                vessel_use[vi - 1].sink_ml += voxel_ml;
            } else {
                labels[i] = beneath[i];
                vessel_use[vi - 1].below_sink_diameter_ml += voxel_ml;
            }
        }
    }
    Ok((
        SimLattice {
            grid,
            lattice: Lattice {
                dims: gd,
                spacing_mm: h,
                materials,
                material: labels,
            },
            vessel_labels,
            vessel_use,
        },
        warnings,
    ))
}

/// Whether the tip lies in the liver or a tumour (nearest scan voxel).
fn tip_in_liver(tissues: &Tissues, tip_mm: [f64; 3]) -> bool {
    let g = tissues.liver.grid();
    let v = g.world_to_voxel(tip_mm);
    let d = g.dims();
    let mut idx = [0usize; 3];
    for a in 0..3 {
        let r = v[a].round();
        if r < 0.0 || r > (d[a] - 1) as f64 {
            return false;
        }
        idx[a] = r as usize;
    }
    let [i, j, k] = idx;
    tissues.liver.data()[[i, j, k]] || tissues.tumor.is_some_and(|t| t.data()[[i, j, k]])
}

/// The electrode voxels: centres within the electrode radius of the exposed
/// segment, or within half a voxel diagonal so that a thin electrode stays
/// connected on the lattice.
fn electrode_voxels(grid: &Grid, pose: &Pose, radius_mm: f64, length_mm: f64) -> Vec<bool> {
    let d = grid.dims();
    let h = grid.spacing_mm()[0];
    let r = radius_mm.max(0.5 * 3f64.sqrt() * h);
    let mut out = vec![false; d[0] * d[1] * d[2]];
    for z in 0..d[2] {
        for y in 0..d[1] {
            for x in 0..d[0] {
                let p = grid.voxel_to_world([x as f64, y as f64, z as f64]);
                let (s, rho) = pose.axial_radial(p);
                let s_c = s.clamp(0.0, length_mm);
                let dist = (rho * rho + (s - s_c).powi(2)).sqrt();
                if dist <= r {
                    out[x + d[0] * (y + d[1] * z)] = true;
                }
            }
        }
    }
    out
}

/// Runs an ablation simulation.
///
/// # Errors
/// `Parameter` for a tip outside the liver (unless allowed), invalid
/// parameters, a region above the memory bound; `GridMismatch` for masks on
/// different grids; solver errors.
pub fn simulate(
    tissues: &Tissues,
    request: &Request,
    params: &Parameters,
    progress: &dyn Progress,
) -> Result<Simulation> {
    params.validate()?;
    check_power_time(request.power_w, request.time_s)?;
    let mut warnings = Vec::new();
    if !tip_in_liver(tissues, request.pose.tip_mm) {
        let msg = format!(
            "({:.1}, {:.1}, {:.1}) mm",
            request.pose.tip_mm[0], request.pose.tip_mm[1], request.pose.tip_mm[2]
        );
        if !request.allow_outside {
            return Err(parameter_error(
                "tip",
                msg,
                "a tip inside the liver or a tumour (or --allow-outside)",
            ));
        }
        warnings.push(Warning::new(None, "tip", format!("{msg} is outside the liver")));
    }
    let target = tissues.tumor.and_then(|t| targeted_tumor(t, request.pose.tip_mm));
    let (sim, w) = build_lattice(tissues, target.as_ref().map(|t| &t.0), request, params)?;
    warnings.extend(w);
    let h_m = sim.lattice.spacing_mm * 1e-3;
    let settings = RunSettings {
        heating_s: request.time_s,
        cooldown_s: params.solver.cooldown_s,
        stability_safety_frac: params.solver.stability_safety_frac,
        dt_s: None,
        blood_c: params.blood.temperature_c,
        initial_c: params.solver.initial_temperature_c,
        cap_c: params.solver.boiling_cap_c,
        isotherm_c: params.damage.isotherm_c,
        walls: params.solver.walls,
        damage: params.damage,
        perfusion_stop_omega: 1.0,
    };
    let mut rf_summary = None;
    let fields = match request.applicator {
        ApplicatorKind::Mwa => {
            let q = microwave_power_density(&sim.grid, &request.pose, request.power_w, &params.microwave)?;
            run(&sim.lattice, &settings, &mut FixedSource(q), progress)?
        }
        ApplicatorKind::Rfa => {
            let electrode = electrode_voxels(
                &sim.grid,
                &request.pose,
                params.rf.electrode_radius_mm,
                params.rf.active_length_mm,
            );
            let sigma: Vec<f64> = sim
                .lattice
                .material
                .iter()
                .map(|&m| match m {
                    SOFT_TISSUE => params.soft_tissue.rf_conductivity_s_m,
                    LIVER => params.liver.rf_conductivity_s_m,
                    TUMOR => params.tumor.rf_conductivity_s_m,
                    v => {
                        let labels = &sim.vessel_labels[(v - 3) as usize];
                        let l = labels.first().copied().unwrap_or(0);
                        let name = tissues
                            .vessels
                            .iter()
                            .find(|x| x.label == l)
                            .and_then(|x| x.name.clone());
                        params.vessel_wall(l, name.as_deref()).rf_conductivity_s_m
                    }
                })
                .collect();
            let count = electrode.iter().filter(|&&e| e).count();
            let mut source = RfSource::new(
                sim.lattice.dims,
                sim.lattice.spacing_mm,
                sigma,
                electrode,
                params.rf.conductivity_temp_coeff_per_c,
                request.power_w,
                params.rf.update_interval_s,
            )?
            .with_max_interval(params.rf.max_update_interval_s);
            let f = run(
                &sim.lattice,
                &settings,
                &mut source as &mut dyn HeatSource,
                progress,
            )?;
            rf_summary = Some(RfSummary {
                impedance_start_ohm: source.impedance_ohm.first().copied().unwrap_or(f64::NAN),
                impedance_end_ohm: source.impedance_ohm.last().copied().unwrap_or(f64::NAN),
                solutions: source.impedance_ohm.len(),
                electrode_voxels: count,
                iterations: source.iterations.iter().sum(),
            });
            f
        }
    };
    let blood = params.blood.temperature_c as f32;
    let tmax = LatticeField {
        grid: &sim.grid,
        values: &fields.tmax_c,
        outside: blood,
    };
    let zone_iso = zone_shape(&tmax, params.damage.isotherm_c as f32, &request.pose);
    let omega = LatticeField {
        grid: &sim.grid,
        values: &fields.damage_omega,
        outside: 0.0,
    };
    let zone_damage = zone_shape(&omega, 1.0, &request.pose);
    let voxel_ml = sim.grid.voxel_volume_mm3() / 1000.0;
    let cem_threshold = params.damage.cem43_threshold_min as f32;
    let zone_cem43_ml = fields.cem43_min.iter().filter(|&&c| c >= cem_threshold).count() as f64 * voxel_ml;
    let is_tissue = |i: usize| {
        sim.lattice.materials[sim.lattice.material[i] as usize]
            .wall_w_m2k
            .is_none()
    };
    let max_temperature_c = fields
        .tmax_c
        .iter()
        .enumerate()
        .filter(|(i, _)| is_tissue(*i))
        .map(|(_, &t)| t as f64)
        .fold(f64::NEG_INFINITY, f64::max);
    // The region is large enough when its faces stayed near body temperature.
    let d = sim.lattice.dims;
    let mut edge_max = f32::NEG_INFINITY;
    for z in 0..d[2] {
        for y in 0..d[1] {
            for x in 0..d[0] {
                let on_face = x == 0 || y == 0 || z == 0 || x == d[0] - 1 || y == d[1] - 1 || z == d[2] - 1;
                if on_face {
                    edge_max = edge_max.max(fields.tmax_c[x + d[0] * (y + d[1] * z)]);
                }
            }
        }
    }
    if edge_max as f64 > params.blood.temperature_c + 5.0 {
        warnings.push(Warning::new(
            None,
            "region of interest",
            format!(
                "its faces reached {:.1} °C: heat reaches the edge of the simulated region, whose \
                 outer layer is held at body temperature; increase solver.roi_margin_mm",
                edge_max
            ),
        ));
    }
    let deposited_w = fields.energy.deposited_j / request.time_s;
    let _ = h_m;
    Ok(Simulation {
        sim,
        fields,
        pose: request.pose,
        zone_iso,
        zone_damage,
        zone_cem43_ml,
        max_temperature_c,
        deposited_w,
        rf: rf_summary,
        warnings,
    })
}

impl Simulation {
    /// A lattice field as a volume on the lattice's grid.
    ///
    /// # Errors
    /// Never for fields of this simulation.
    pub fn map(&self, values: &[f32]) -> Result<Volume<f32>> {
        let d = self.sim.grid.dims();
        let a =
            ndarray::Array3::from_shape_vec(ndarray::ShapeBuilder::f((d[0], d[1], d[2])), values.to_vec())
                .map_err(|e| parameter_error("map", e, "a lattice-sized field"))?;
        Volume::new(self.sim.grid.clone(), a)
    }

    /// The tissue classes as a label volume on the lattice (0 soft tissue,
    /// 1 liver, 2 tumour, 3… vessel walls).
    ///
    /// # Errors
    /// Never.
    pub fn tissue_map(&self) -> Result<Volume<u8>> {
        let d = self.sim.grid.dims();
        let a = ndarray::Array3::from_shape_vec(
            ndarray::ShapeBuilder::f((d[0], d[1], d[2])),
            self.sim.lattice.material.clone(),
        )
        .map_err(|e| parameter_error("tissue map", e, "a lattice-sized field"))?;
        Volume::new(self.sim.grid.clone(), a)
    }

    /// The isotherm zone (T_max ≥ 70 °C) on another grid.
    ///
    /// # Errors
    /// Never for a valid grid.
    pub fn zone_iso_mask(&self, target: &Grid, isotherm_c: f64, blood_c: f64) -> Result<Mask> {
        let f = LatticeField {
            grid: &self.sim.grid,
            values: &self.fields.tmax_c,
            outside: blood_c as f32,
        };
        zone::resample_mask(&f, isotherm_c as f32, target)
    }

    /// The damage zone (Ω ≥ 1) on another grid.
    ///
    /// # Errors
    /// Never for a valid grid.
    pub fn zone_damage_mask(&self, target: &Grid) -> Result<Mask> {
        let f = LatticeField {
            grid: &self.sim.grid,
            values: &self.fields.damage_omega,
            outside: 0.0,
        };
        zone::resample_mask(&f, 1.0, target)
    }
}

/// The highest generator power liverkit simulates, W. Not a clinical
/// parameter but a guard against typing errors: five times the top of the
/// widest device range in the library (200 W), refused even with
/// `allow_outside`.
pub const MAX_POWER_W: f64 = 1000.0;

/// The longest heating liverkit simulates, s: two hours, four times the
/// longest single ablation protocol in the device library.
pub const MAX_TIME_S: f64 = 7200.0;

/// Checks power and time: finite, positive and within the physical bounds
/// [`MAX_POWER_W`] and [`MAX_TIME_S`].
///
/// # Errors
/// `Parameter` naming `power_w` or `time_s`.
pub fn check_power_time(power_w: f64, time_s: f64) -> Result<()> {
    for (name, v, max, unit) in [
        ("power_w", power_w, MAX_POWER_W, "W"),
        ("time_s", time_s, MAX_TIME_S, "s"),
    ] {
        if !(v.is_finite() && v > 0.0 && v <= max) {
            return Err(parameter_error(
                name,
                v,
                format!("a positive value of at most {max} {unit}"),
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Round rods along z of the given diameters (in voxels of 1 mm), side
    /// by side; returns which of their voxels are sinks at `min_mm`.
    fn rods(diameters: &[f64], min_mm: f64) -> Vec<(f64, usize, usize)> {
        let (nx, ny, nz) = (16 * diameters.len(), 16, 6);
        let grid = Grid::new([nx, ny, nz], Matrix4::identity()).unwrap();
        let mut of = vec![0u8; nx * ny * nz];
        for (r, &d) in diameters.iter().enumerate() {
            let (cx, cy) = (16.0 * r as f64 + 8.0, 8.0);
            for z in 0..nz {
                for y in 0..ny {
                    for x in 0..nx {
                        let q = (x as f64 - cx).powi(2) + (y as f64 - cy).powi(2);
                        if q <= (0.5 * d).powi(2) {
                            of[x + nx * (y + ny * z)] = r as u8 + 1;
                        }
                    }
                }
            }
        }
        let sink = sink_voxels(&grid, &of, min_mm).unwrap();
        diameters
            .iter()
            .enumerate()
            .map(|(r, &d)| {
                let mine = |i: &usize| of[*i] == r as u8 + 1;
                let all = (0..of.len()).filter(mine).count();
                let kept = (0..of.len()).filter(|i| mine(i) && sink[*i]).count();
                (d, all, kept)
            })
            .collect()
    }

    #[test]
    fn only_vessels_at_least_the_sink_diameter_are_sinks() {
        // 1 and 2 mm rods are narrower than 3 mm; 3, 5 and 9 mm rods are sinks
        // in every voxel.
        for (d, all, kept) in rods(&[1.0, 2.0, 3.0, 5.0, 9.0], 3.0) {
            assert!(all > 0);
            if d < 3.0 {
                assert_eq!(kept, 0, "{d} mm rod");
            } else {
                assert_eq!(kept, all, "{d} mm rod");
            }
        }
        // A minimum of 0 keeps every vessel voxel.
        for (d, all, kept) in rods(&[1.0, 5.0], 0.0) {
            assert_eq!(kept, all, "{d} mm rod");
        }
    }
}
