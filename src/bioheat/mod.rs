//! Thermal ablation: the Pennes bioheat equation on the patient's voxels.
//!
//! [`simulate`] takes the segmentation (liver, tumour, vessels) on the scan's
//! grid, an applicator with its pose, power and time, and the tissue
//! [`Parameters`]; it
//!
//! 1. builds an isotropic lattice (default 1 mm) aligned with the scan's axes
//!    over the region of interest — the targeted tumour plus the required
//!    margin, and the applicator's expected zone, grown by
//!    `solver.roi_margin_mm` (10 mm; for RF at least `rf.ground_margin_mm`,
//!    20 mm) — and refuses it before allocating when it would exceed the
//!    memory bound;
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
//!
//! Reading a case's files, resolving its roles and writing its report is
//! [`crate::case::simulate`]; this module takes masks.

pub mod applicator;
pub mod calibration;
pub mod damage;
pub mod electrode;
mod enthalpy;
mod kernel;
mod layout;
mod overrides;
mod param_table;
pub mod protocols;
pub mod rf;
pub mod setup;
pub mod solver;
mod stepper;
pub mod tissue;
pub mod vessels;
pub mod zone;

use serde::Serialize;

use crate::error::{parameter_error, Result, Warning};
use crate::grid::Grid;
use crate::progress::Progress;
use crate::vocabulary::{POWER_W, TIME_S};
use crate::volume::{Mask, Volume};

use applicator::{microwave_power_density, ApplicatorKind, DryingMicrowave, Pose};
use rf::RfSource;
use solver::{run, Fields, HeatSource, Lattice, RunSettings};
use tissue::Parameters;
use zone::{zone_shape, LatticeField, ZoneShape};

pub use setup::{build_lattice, dried_material, material, targeted_tumor};
pub use tissue::Walls;

use setup::tip_in_liver;

/// Hottest tissue above which an RF run warns that a real generator would
/// have rolled off, °C: tissue water has boiled off well before (it boils at
/// 100 °C); 150 °C leaves room for the lattice's coarse near field.
pub const RF_ROLLOFF_WARNING_C: f64 = 150.0;

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
    /// Other microwave antennas powered at the same time as the one at
    /// `pose`, each at `power_w` for `time_s`: their absorbed powers add (a
    /// liverkit choice: antennas on separate generator channels, whose
    /// fields are not in phase, heat as the sum of their patterns). The
    /// zone's shape is measured along `pose`. Empty for one applicator;
    /// refused for radiofrequency.
    pub together: Vec<Pose>,
}

/// The simulation lattice: its grid and what it holds.
#[derive(Debug, Clone)]
pub struct SimLattice {
    /// The lattice as a grid (isotropic spacing, the scan's axes).
    pub grid: Grid,
    /// Materials and their layout.
    pub lattice: Lattice,
    /// Vessel labels in each vessel-wall material (the last materials).
    pub vessel_labels: Vec<Vec<i64>>,
    /// How much of each vessel label acts as a heat sink.
    pub vessel_use: Vec<VesselUse>,
    /// The RF electrode's voxels (empty for microwave).
    pub electrode: Vec<bool>,
}

/// The part of a vessel label inside the simulated region, split by local
/// diameter (`vessel.min_sink_diameter_mm`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct VesselUse {
    /// Label value.
    pub label: i64,
    /// Label name, when known.
    pub name: Option<String>,
    /// Volume simulated as a heat sink (blood at its wall), mL: the part of
    /// the vessel inside the simulated region.
    pub sink_ml: f64,
    /// Volume narrower than the sink diameter, simulated as the tissue around
    /// it (its blood is in the perfusion term), mL.
    pub below_sink_diameter_ml: f64,
    /// The class that set its blood velocity.
    pub class: vessels::VesselClass,
    /// Largest local diameter measured in the simulated region, mm (a vessel
    /// cut by the region's faces reads its width there, not its trunk's).
    pub diameter_max_mm: f64,
    /// Mean wall coefficient over its sink voxels, W/(m²·K); `None` when
    /// its walls are fixed at blood temperature or it has no sink voxel.
    pub heat_transfer_mean_w_m2k: Option<f64>,
}

/// Radiofrequency details of a run.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RfSummary {
    /// Impedance between electrode and ground at the start, Ω.
    pub impedance_start_ohm: f64,
    /// At the last solution, Ω.
    pub impedance_end_ohm: f64,
    /// The lowest over the run, Ω.
    pub impedance_min_ohm: f64,
    /// Potential solutions.
    pub solutions: usize,
    /// Electrode voxels in the lattice.
    pub electrode_voxels: usize,
    /// Gain on the electrode's faces for its sub-voxel near field
    /// ([`electrode::near_field`]; 1: none).
    pub near_field_gain: f64,
    /// Conjugate-gradient iterations, all solutions together.
    pub iterations: usize,
    /// Whether the electrode was internally cooled.
    pub cooled_electrode: bool,
    /// Whether the generator was impedance controlled (else it delivered
    /// its set power within its current limit).
    pub impedance_controlled: bool,
    /// Energy the generator delivered into the tissue and blood, J.
    pub delivered_energy_j: f64,
    /// Mean delivered power over the heating time, W (the setting is `power_w`).
    pub delivered_mean_w: f64,
    /// Heating time with the power on, s.
    pub power_on_s: f64,
    /// Times a rise in impedance switched the generator off.
    pub rolloffs: usize,
    /// When it first did, s.
    pub first_rolloff_s: Option<f64>,
    /// Whether the generator's current limit held the power below the setting.
    pub current_limited: bool,
    /// Whether holding the hottest tissue at boiling held it below the setting.
    pub temperature_limited: bool,
}

/// Gives each voxel of a cooled electrode the hottest history of the tissue
/// around it: the electrode is a boundary, not tissue, and the tissue it
/// runs through dies with the zone around it; left at the coolant's
/// temperature it would read as a hole along the needle in the zone and in
/// the margin check.
fn fill_electrode(fields: &mut [&mut [f32]], electrode: &[bool], d: [usize; 3]) {
    let at = |x: usize, y: usize, z: usize| x + d[0] * (y + d[1] * z);
    for f in fields.iter_mut() {
        let mut updates = Vec::new();
        for z in 0..d[2] {
            for y in 0..d[1] {
                for x in 0..d[0] {
                    let i = at(x, y, z);
                    if !electrode[i] {
                        continue;
                    }
                    let mut v = f32::NEG_INFINITY;
                    for (dx, dy, dz) in (0..27).map(|k| (k % 3, (k / 3) % 3, k / 9)) {
                        let (qx, qy, qz) = (x + dx, y + dy, z + dz);
                        if qx == 0 || qy == 0 || qz == 0 || qx > d[0] || qy > d[1] || qz > d[2] {
                            continue;
                        }
                        let j = at(qx - 1, qy - 1, qz - 1);
                        if !electrode[j] {
                            v = v.max(f[j]);
                        }
                    }
                    if v.is_finite() {
                        updates.push((i, v));
                    }
                }
            }
        }
        for (i, v) in updates {
            f[i] = v;
        }
    }
}

/// Closes the cooled rim: the coolant keeps the tissue within about a
/// millimetre of a cooled electrode below the isotherm while the zone
/// around it passes it, so the zone would be a sleeve with a thin cool
/// lining along the needle. That lining is enclosed by tissue above the
/// isotherm on every side; when the power and the coolant stop it heats
/// from that shell, and the needle's track lies in it. The tissue below
/// the isotherm that touches the electrode and is enclosed by the zone (not
/// connected through tissue below it to the region's faces) is given the
/// isotherm as its highest temperature. Enclosed cool tissue that does not
/// touch the electrode (a vessel inside the zone) is left as it is.
/// A liverkit assumption (docs/formulas/bioheat.md, "Radiofrequency against
/// published zones").
fn close_cooled_rim(tmax_c: &mut [f32], electrode: &[bool], d: [usize; 3], isotherm_c: f32) {
    use crate::morphology::{label_components, Connectivity};
    let cool: Vec<bool> = tmax_c.iter().map(|&t| t < isotherm_c).collect();
    let (labels, sizes) = label_components(&cool, d, Connectivity::Faces6);
    let mut open = vec![false; sizes.len() + 1];
    let mut touches = vec![false; sizes.len() + 1];
    let at = |x: usize, y: usize, z: usize| x + d[0] * (y + d[1] * z);
    for z in 0..d[2] {
        for y in 0..d[1] {
            for x in 0..d[0] {
                let i = at(x, y, z);
                let l = labels[i] as usize;
                if l == 0 {
                    continue;
                }
                let face = x == 0 || y == 0 || z == 0 || x + 1 == d[0] || y + 1 == d[1] || z + 1 == d[2];
                open[l] |= face;
                if electrode[i] {
                    touches[l] = true;
                    continue;
                }
                let near = [(1, 0, 0), (0, 1, 0), (0, 0, 1)].iter().any(|&(dx, dy, dz)| {
                    (x >= dx && y >= dy && z >= dz && electrode[at(x - dx, y - dy, z - dz)])
                        || (x + dx < d[0]
                            && y + dy < d[1]
                            && z + dz < d[2]
                            && electrode[at(x + dx, y + dy, z + dz)])
                });
                touches[l] |= near;
            }
        }
    }
    for (t, &l) in tmax_c.iter_mut().zip(&labels) {
        let l = l as usize;
        if l != 0 && touches[l] && !open[l] {
            *t = isotherm_c;
        }
    }
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
    simulate_with_snapshots(tissues, request, params, &[], progress)
}

/// [`simulate`], keeping the highest temperature and the damage at each of
/// `snapshots_s` (heating times, s) in `fields.snapshots`.
///
/// # Errors
/// As [`simulate`].
pub fn simulate_with_snapshots(
    tissues: &Tissues,
    request: &Request,
    params: &Parameters,
    snapshots_s: &[f64],
    progress: &dyn Progress,
) -> Result<Simulation> {
    params.validate()?;
    check_power_time(request.power_w, request.time_s)?;
    let mut warnings = check_tip(tissues, request)?;
    let target = tissues.tumor.and_then(|t| targeted_tumor(t, request.pose.tip_mm));
    let (sim, w) = build_lattice(tissues, target.as_ref().map(|t| &t.0), request, params)?;
    warnings.extend(w);
    let settings = RunSettings {
        snapshots_s: snapshots_s.to_vec(),
        ..run_settings(request, params)
    };
    let (fields, rf_summary) = match request.applicator {
        ApplicatorKind::Mwa => {
            let mut q =
                microwave_power_density(&sim.grid, &request.pose, request.power_w, &params.microwave)?;
            for pose in &request.together {
                let other = microwave_power_density(&sim.grid, pose, request.power_w, &params.microwave)?;
                q.iter_mut().zip(&other).for_each(|(a, b)| *a += b);
            }
            let mut source = DryingMicrowave::new(
                q,
                params.microwave.dry_absorption_frac,
                params.microwave.update_interval_s,
            );
            (run(&sim.lattice, &settings, &mut source, progress)?, None)
        }
        ApplicatorKind::Rfa => {
            let (f, summary) = run_rf(&sim, tissues, request, params, &settings, progress)?;
            (f, Some(summary))
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
    // A real generator cannot push its set power through tissue this hot:
    // the impedance would have risen and it would have cut its output.
    if let Some(r) = rf_summary
        .as_ref()
        .filter(|_| max_temperature_c > RF_ROLLOFF_WARNING_C)
    {
        warnings.push(Warning::new(
            None,
            "rf power",
            format!(
                "tissue against the electrode reached {max_temperature_c:.0} C at {:.0} W delivered; \
                 a generator would roll off (impedance rise) before that, so this zone may be too \
                 large (try rf.generator = \"impedance\"; docs/formulas/bioheat.md)",
                r.delivered_mean_w
            ),
        ));
    }
    warnings.extend(edge_warning(
        &sim.lattice,
        &fields.tmax_c,
        params.blood.temperature_c,
    ));
    let deposited_w = fields.energy.deposited_j / request.time_s;
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

/// Refuses a tip outside the liver and its tumours unless allowed (then a
/// warning says so), and antennas together for radiofrequency.
fn check_tip(tissues: &Tissues, request: &Request) -> Result<Vec<Warning>> {
    if !request.together.is_empty() && request.applicator == ApplicatorKind::Rfa {
        return Err(parameter_error(
            "together",
            format!("{} more electrodes", request.together.len()),
            "one radiofrequency electrode (antennas powered together are modelled for microwave only)",
        ));
    }
    let mut warnings = Vec::new();
    for pose in std::iter::once(&request.pose).chain(&request.together) {
        warnings.extend(check_one_tip(tissues, pose.tip_mm, request.allow_outside)?);
    }
    Ok(warnings)
}

/// [`check_tip`] for one tip.
fn check_one_tip(tissues: &Tissues, tip_mm: [f64; 3], allow_outside: bool) -> Result<Vec<Warning>> {
    if tip_in_liver(tissues, tip_mm) {
        return Ok(Vec::new());
    }
    let [x, y, z] = tip_mm;
    let msg = format!("({x:.1}, {y:.1}, {z:.1}) mm");
    if !allow_outside {
        return Err(parameter_error(
            "tip",
            msg,
            "a tip inside the liver or a tumour (or `allow_outside`)",
        ));
    }
    Ok(vec![Warning::new(
        None,
        "tip",
        format!("{msg} is outside the liver"),
    )])
}

/// The solver settings of a request.
fn run_settings(request: &Request, params: &Parameters) -> RunSettings {
    RunSettings {
        heating_s: request.time_s,
        cooldown_s: params.solver.cooldown_s,
        stability_safety_frac: params.solver.stability_safety_frac,
        dt_s: None,
        blood_c: params.blood.temperature_c,
        initial_c: params.solver.initial_temperature_c,
        boiling_c: params.water.boiling_c,
        isotherm_c: params.damage.isotherm_c,
        walls: params.solver.walls,
        damage: params.damage,
        snapshots_s: Vec::new(),
    }
}

/// A warning when the faces of the simulated region got more than 5 °C above
/// body temperature: the region was too small for the heat.
fn edge_warning(lattice: &Lattice, tmax_c: &[f32], blood_c: f64) -> Option<Warning> {
    let d = lattice.dims;
    let mut edge_max = f32::NEG_INFINITY;
    for z in 0..d[2] {
        for y in 0..d[1] {
            for x in 0..d[0] {
                let on_face = x == 0 || y == 0 || z == 0 || x == d[0] - 1 || y == d[1] - 1 || z == d[2] - 1;
                if on_face {
                    edge_max = edge_max.max(tmax_c[x + d[0] * (y + d[1] * z)]);
                }
            }
        }
    }
    (edge_max as f64 > blood_c + 5.0).then(|| {
        Warning::new(
            None,
            "region of interest",
            format!(
                "its faces reached {:.1} °C: heat reaches the edge of the simulated region, whose \
                 outer layer is held at body temperature; increase solver.roi_margin_mm",
                edge_max
            ),
        )
    })
}

/// The electrical conductivity of every lattice voxel at 37 °C, S/m: its
/// tissue's, the liver's for the electrode, the blood's for vessel walls.
fn rf_conductivities(sim: &SimLattice, tissues: &Tissues, params: &Parameters) -> Vec<f64> {
    let first_wall = sim.lattice.materials.len() - sim.vessel_labels.len();
    sim.lattice
        .material
        .iter()
        .map(|&m| match m {
            SOFT_TISSUE => params.soft_tissue.rf_conductivity_s_m,
            LIVER => params.liver.rf_conductivity_s_m,
            TUMOR => params.tumor.rf_conductivity_s_m,
            // The electrode itself (held at its potential).
            v if (v as usize) < first_wall => params.liver.rf_conductivity_s_m,
            v => {
                let labels = &sim.vessel_labels[v as usize - first_wall];
                let l = labels.first().copied().unwrap_or(0);
                let name = tissues
                    .vessels
                    .iter()
                    .find(|x| x.label == l)
                    .and_then(|x| x.name.clone());
                params.vessel_wall(l, name.as_deref()).rf_conductivity_s_m
            }
        })
        .collect()
}

/// Runs a radiofrequency ablation: the electrode's potential solved as the
/// tissue heats, driven by the generator of `params.rf`.
fn run_rf(
    sim: &SimLattice,
    tissues: &Tissues,
    request: &Request,
    params: &Parameters,
    settings: &RunSettings,
    progress: &dyn Progress,
) -> Result<(Fields, RfSummary)> {
    let electrode = sim.electrode.clone();
    let count = electrode.iter().filter(|&&e| e).count();
    let near = electrode::near_field(
        &electrode,
        sim.lattice.dims,
        sim.lattice.spacing_mm,
        params.rf.electrode_radius_mm,
        params.rf.active_length_mm,
        |q| setup::electrode_axis_position(&sim.grid, &request.pose, params.rf.active_length_mm, q),
    );
    let near_field_gain = near.as_ref().map_or(1.0, |n| n.gain);
    let mut source = RfSource::new(
        sim.lattice.dims,
        sim.lattice.spacing_mm,
        rf_conductivities(sim, tissues, params),
        electrode,
        params.rf.conductivity_temp_coeff_per_c,
        request.power_w,
        params.rf.update_interval_s,
    )?
    .with_max_interval(params.rf.max_update_interval_s)
    .with_generator(rf::Generator {
        max_current_a: params.rf.max_current_a,
        impedance_control: params.rf.impedance_control,
        target_c: params.rf.control_target_c,
        blood_c: params.blood.temperature_c,
        control_s: params.rf.control_interval_s,
        heat_capacity_j_m3k: params.liver.density_kg_m3 * params.liver.specific_heat_j_kgk,
        rolloff_rise_ohm: params.rf.rolloff_rise_ohm,
        rolloff_pause_s: params.rf.rolloff_pause_s,
    });
    if let Some(n) = near {
        source = source.with_near_field(n);
    }
    let mut f = run(
        &sim.lattice,
        settings,
        &mut source as &mut dyn HeatSource,
        progress,
    )?;
    let delivery = source.delivery(request.time_s);
    let summary = RfSummary {
        impedance_start_ohm: source.impedance_ohm.first().copied().unwrap_or(f64::NAN),
        impedance_end_ohm: source.impedance_ohm.last().copied().unwrap_or(f64::NAN),
        impedance_min_ohm: source.impedance_ohm.iter().copied().fold(f64::INFINITY, f64::min),
        solutions: source.impedance_ohm.len(),
        electrode_voxels: count,
        near_field_gain,
        iterations: source.iterations.iter().sum(),
        cooled_electrode: params.rf.cooled,
        impedance_controlled: params.rf.impedance_control,
        delivered_energy_j: delivery.energy_j,
        delivered_mean_w: delivery.energy_j / request.time_s,
        power_on_s: delivery.on_s,
        rolloffs: delivery.rolloffs,
        first_rolloff_s: delivery.first_rolloff_s,
        current_limited: delivery.current_limited,
        temperature_limited: delivery.temperature_limited,
    };
    if params.rf.cooled {
        let (e, d, iso) = (&sim.electrode, sim.lattice.dims, params.damage.isotherm_c as f32);
        fill_electrode(&mut [&mut f.tmax_c, &mut f.damage_omega, &mut f.cem43_min], e, d);
        close_cooled_rim(&mut f.tmax_c, e, d, iso);
        for snap in &mut f.snapshots {
            fill_electrode(&mut [&mut snap.tmax_c, &mut snap.damage_omega], e, d);
            close_cooled_rim(&mut snap.tmax_c, e, d, iso);
        }
    }
    Ok((f, summary))
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
    /// 1 liver, 2 tumour, 3… vessel walls, 255 a cooled electrode).
    ///
    /// # Errors
    /// Never.
    pub fn tissue_map(&self) -> Result<Volume<u8>> {
        let d = self.sim.grid.dims();
        // Walls follow the three dried tissues in the lattice; here they
        // come right after the tissues.
        let first_wall = self.sim.lattice.materials.len() - self.sim.vessel_labels.len();
        let labels = self
            .sim
            .lattice
            .material
            .iter()
            .map(|&m| {
                if m as usize >= first_wall {
                    m - first_wall as u8 + 3
                } else if m > TUMOR && self.sim.lattice.materials[m as usize].wall_c.is_some() {
                    255
                } else {
                    m
                }
            })
            .collect();
        let a = ndarray::Array3::from_shape_vec(ndarray::ShapeBuilder::f((d[0], d[1], d[2])), labels)
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

    /// Where the maximum temperature reached `isotherm_c`, on the part of
    /// `target` the lattice covers ([`zone::resample_mask_on_part`]): the
    /// isotherms the figures draw.
    ///
    /// # Errors
    /// Never for a valid grid.
    pub fn isotherm_on_part(&self, target: &Grid, isotherm_c: f64, blood_c: f64) -> Result<Option<Mask>> {
        let f = LatticeField {
            grid: &self.sim.grid,
            values: &self.fields.tmax_c,
            outside: blood_c as f32,
        };
        zone::resample_mask_on_part(&f, isotherm_c as f32, target)
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

/// Checks power and time: finite, positive and within the physical bounds
/// of [`POWER_W`] and [`TIME_S`] (refused even with `allow_outside`).
///
/// # Errors
/// `Parameter` naming `power_w` or `time_s`.
pub fn check_power_time(power_w: f64, time_s: f64) -> Result<()> {
    POWER_W.check(power_w)?;
    TIME_S.check(time_s)?;
    Ok(())
}
