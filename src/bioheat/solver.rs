//! Explicit finite-volume stepping of the Pennes bioheat equation on an
//! isotropic lattice, in SI units.
//!
//! ```text
//! ρc ∂Θ/∂t = ∇·(k∇Θ) − ω_b ρ_b c_b Θ + Q          Θ = T − T_b   [Pennes1948]
//!
//! Θ_i' (1 + Δt/(ρc)_i · (S_i + a_i ω_b ρ_b c_b))
//!      = Θ_i + Δt/(ρc)_i · ( Σ_{j tissue} w_j G_ij (Θ_j − Θ_i) + Q_i )
//! S_i  = Σ_{j vessel or outside} w_j G_ij          heat sinks (Θ_j = 0), implicit
//! j    : the 6 face neighbours (w = 1/3) and 12 edge neighbours (w = 1/6)
//! G_ij = 2 k_i k_j / ((k_i + k_j) h²)            tissue–tissue (harmonic mean)
//! G_ij = 1 / ((h/(2k_i) + 1/h_w) h)               tissue–vessel wall (h_w = ∞: wall at T_b)
//! G_ij = k_i / h²  or 0                           the layer around the region at T_b, or insulated
//! a_i  = 1 while Ω_i < 1 (alive), else 0          perfusion stops in dead tissue
//! ```
//!
//! The 19-point stencil (the "Mehrstellen" weights 1/3 and 1/6, [Collatz1960]) is
//! isotropic to second order: its error is h²/12·∇⁴ in every direction,
//! where the 7-point stencil's depends on the direction. Around a point
//! source it stays within 0.9 % of the continuous solution from 3 voxels
//! out, where the 7-point stencil is 6.5 % off along the axes; and its
//! weights sum to 4 instead of 6, which allows a 1.5 times longer step.
//!
//! Every voxel is a control volume; each flux between tissue voxels is
//! computed once for both sides, so heat is conserved to rounding. Heat
//! leaving into sinks — perfusion, vessel walls, the outer faces — is taken
//! implicitly (backward Euler), which is stable for any step; conduction
//! between tissue voxels is explicit, stable and monotone (no new extrema)
//! when every voxel satisfies `Δt ≤ (ρc)_i / Σ_{j tissue} w_j G_ij`
//! (1.84 s in liver at 1 mm). Sinks therefore never shorten the step. The
//! time step is a fraction (`stability_safety_frac`) of the smallest bound,
//! and a requested step above it is refused.
//!
//! Boiling is an enthalpy balance: a voxel whose water has not all boiled off
//! stays at the boiling point and the heat above it goes into its latent
//! store, up to the latent heat of its water L·ρ_w·φ_w (`Boiling`). A voxel
//! whose store is full is dry: it becomes its dried material (less heat
//! capacity and conductivity: the water is gone) at the same enthalpy, and
//! heats above the boiling point. No heat is removed: the energy balance
//! `deposited = stored + latent + perfusion + vessels + boundary` holds to
//! rounding ([`EnergyBudget`]). A material change can lower the stability
//! bound; the step is then shortened for the rest of the run.
//!
//! Damage is integrated with the temperature at the middle of each step
//! (midpoint rule): `Ω += Δt·A·exp(−Eₐ/(R·T))` [Chang2004], `CEM43 += Δt·R^(43−T)`
//! [Sapareto1984], both evaluated in f32 with a polynomial exponential
//! (relative error below 1e-5).
//!
//! Voxels are updated in parallel, each from the previous step only, and
//! every sum is taken in a fixed order: results are identical for any number
//! of threads.

use crate::bioheat::damage::DamageSteps;
use crate::bioheat::enthalpy::{dry_out, stored_energy, tissue_power, water_left};
use crate::bioheat::kernel::{step_once, Coeffs, Layout, Losses, Observed, W_EDGE, W_FACE};
use crate::bioheat::layout::{pair_table, wall_offsets, Plan};
use crate::bioheat::tissue::{DamageModel, Walls};
use crate::error::{parameter_error, Result};
use crate::progress::Progress;

pub use crate::bioheat::damage::{arrhenius_rate_1_s, cem43_rate, GAS_CONSTANT_J_MOLK, KELVIN_AT_0C};
pub use crate::bioheat::kernel::{avx2_kernels_in_use, force_baseline_kernels};

/// The most materials a lattice may hold (vessels with equal walls share one).
pub const MAX_MATERIALS: usize = 15;

/// Bytes of memory per lattice voxel while a simulation runs (temperature
/// twice, material twice, heating, damage, CEM43, maximum temperature, time
/// to the isotherm, latent store, plus the padding), used to refuse a region
/// before allocating it.
pub const BYTES_PER_VOXEL: u64 = 36;

/// The most time steps one run takes: far beyond any ablation protocol
/// (a 30-minute run at a 0.1 s step is 18 000), so that a mistyped time
/// is refused instead of running for hours.
pub const MAX_STEPS: usize = 100_000;

/// Steps between two looks for voxels that have boiled dry.
const DRY_CHECK_STEPS: usize = 4;

/// What boiling does to a material.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Boiling {
    /// Latent heat of the water the material holds, L·ρ_w·φ_w, J/m³.
    pub latent_heat_j_m3: f64,
    /// The material it becomes once that water has boiled off (index into
    /// the lattice's materials; that material must not boil itself).
    pub dried: u8,
}

/// One material of the lattice.
#[derive(Debug, Clone, PartialEq)]
pub struct Material {
    /// Name for reports (`liver`, `tumor`, `soft_tissue`, `vessel 64`).
    pub name: String,
    /// Volumetric heat capacity ρc, J/(m³·K).
    pub heat_capacity_j_m3k: f64,
    /// Thermal conductivity k, W/(m·K).
    pub conductivity_w_mk: f64,
    /// Perfusion term ω_b ρ_b c_b, W/(m³·K).
    pub perfusion_w_m3k: f64,
    /// `Some(h)` for blood vessels: blood at T_b behind a wall with heat-transfer
    /// coefficient h, W/(m²·K) (infinite: the wall is at T_b). Vessel voxels are
    /// not heated.
    pub wall_w_m2k: Option<f64>,
    /// For walls: the temperature behind the wall, °C, when it is not the
    /// blood's (the coolant inside an internally cooled electrode).
    pub wall_c: Option<f64>,
    /// Its water boils (`None`: it heats on above the boiling point).
    pub boiling: Option<Boiling>,
}

/// An isotropic lattice of materials; voxel (x, y, z) is at index
/// `x + nx·(y + ny·z)`.
#[derive(Debug, Clone, PartialEq)]
pub struct Lattice {
    /// Voxels along each axis.
    pub dims: [usize; 3],
    /// Voxel edge, mm.
    pub spacing_mm: f64,
    /// The materials; `material` holds indices into this list.
    pub materials: Vec<Material>,
    /// Material of every voxel.
    pub material: Vec<u8>,
}

/// How long to heat, and the thermal settings of a run.
#[derive(Debug, Clone, PartialEq)]
pub struct RunSettings {
    /// Heating time, s.
    pub heating_s: f64,
    /// Time after the heating stops, s.
    pub cooldown_s: f64,
    /// Fraction of the stability bound used as time step.
    pub stability_safety_frac: f64,
    /// A fixed time step (s) instead of the automatic one; refused above the bound.
    pub dt_s: Option<f64>,
    /// Blood temperature T_b, °C.
    pub blood_c: f64,
    /// Initial tissue temperature, °C.
    pub initial_c: f64,
    /// Boiling point of tissue water, °C.
    pub boiling_c: f64,
    /// The isotherm whose arrival time is recorded, °C.
    pub isotherm_c: f64,
    /// Outer faces.
    pub walls: Walls,
    /// Damage models.
    pub damage: DamageModel,
    /// Damage Ω from which perfusion stops (1 in the model of docs/references.md;
    /// infinite to keep perfusion everywhere, as the closed-form oracles assume).
    pub perfusion_stop_omega: f64,
    /// Heating times (s) at which to keep a copy of the maximum temperature
    /// so far (one run gives the zones of several protocol times).
    pub snapshots_s: Vec<f64>,
}

/// The state a heat source may depend on, unpadded, indexed like the lattice.
pub struct SourceState<'a> {
    /// Temperature, °C.
    pub temperature_c: &'a [f32],
    /// Fraction of its water a voxel still holds (1 for materials that do
    /// not boil).
    pub water_left_frac: &'a [f32],
    /// Heating time elapsed, s.
    pub time_s: f64,
    /// The solver's time step, s.
    pub step_s: f64,
}

/// A heat source: the power density of every voxel, possibly depending on
/// the tissue's state (radiofrequency heating, microwave heating of drying
/// tissue).
pub trait HeatSource: Send {
    /// Writes the power density (W/m³) of every voxel into `out` for the
    /// state `state` (both indexed like the lattice).
    ///
    /// # Errors
    /// Whatever the source cannot compute.
    fn power_w_m3(&mut self, state: &SourceState, out: &mut [f32]) -> Result<()>;
    /// Whether the power must be recomputed after `elapsed_s` of heating
    /// since the last call; `water_changed` says whether any tissue water
    /// has boiled since then.
    fn stale(&self, elapsed_s: f64, water_changed: bool) -> bool;
}

/// A power density that does not change.
#[derive(Debug, Clone)]
pub struct FixedSource(pub Vec<f32>);

impl HeatSource for FixedSource {
    fn power_w_m3(&mut self, _state: &SourceState, out: &mut [f32]) -> Result<()> {
        out.copy_from_slice(&self.0);
        Ok(())
    }
    fn stale(&self, _elapsed_s: f64, _water_changed: bool) -> bool {
        false
    }
}

/// Where the energy went, J. Each term is counted where it happens, so
/// `residual_j` (deposited minus all the others) measures how well the
/// scheme conserves heat.
#[derive(Debug, Clone, Copy, PartialEq, Default, serde::Serialize)]
pub struct EnergyBudget {
    /// Heat deposited by the applicator in tissue.
    pub deposited_j: f64,
    /// Sensible heat stored in tissue at the end (above the initial state).
    pub stored_j: f64,
    /// Heat that boiled tissue water: its latent heat, and the sensible heat
    /// the vapour took with it when a voxel dried.
    pub latent_j: f64,
    /// Carried away by perfusion.
    pub perfusion_j: f64,
    /// Carried away by the blood behind vessel walls (and the coolant of a
    /// cooled electrode).
    pub vessels_j: f64,
    /// Lost through the faces of the simulated region.
    pub boundary_j: f64,
    /// Deposited minus all of the above.
    pub residual_j: f64,
}

/// A copy of the maximum temperature at one heating time.
#[derive(Debug, Clone)]
pub struct Snapshot {
    /// Heating time, s (the end of the step that reached it).
    pub time_s: f64,
    /// Highest temperature reached so far, °C, indexed like the lattice.
    pub tmax_c: Vec<f32>,
    /// Arrhenius damage so far.
    pub damage_omega: Vec<f32>,
}

/// The fields a run produces, indexed like the lattice.
#[derive(Debug, Clone)]
pub struct Fields {
    /// Highest temperature reached, °C.
    pub tmax_c: Vec<f32>,
    /// Time the isotherm was first reached, s (−1: never).
    pub time_to_isotherm_s: Vec<f32>,
    /// Arrhenius damage Ω (dimensionless).
    pub damage_omega: Vec<f32>,
    /// Cumulative equivalent minutes at 43 °C.
    pub cem43_min: Vec<f32>,
    /// Temperature at the end, °C.
    pub final_c: Vec<f32>,
    /// Fraction of its water each voxel boiled off (0–1; 0 for materials
    /// that do not boil).
    pub vaporised_frac: Vec<f32>,
    /// Voxels that boiled dry.
    pub dried_voxels: usize,
    /// Time steps taken (heating and cooling).
    pub steps: usize,
    /// The last time step, s.
    pub dt_s: f64,
    /// The stability bound of the lattice as given, s.
    pub dt_bound_s: f64,
    /// Energy accounting.
    pub energy: EnergyBudget,
    /// Times the heating was recomputed (radiofrequency, drying tissue).
    pub source_updates: usize,
    /// The maximum temperature at the requested heating times.
    pub snapshots: Vec<Snapshot>,
}

/// Checks the materials of a lattice.
fn check_lattice(l: &Lattice) -> Result<()> {
    let n = l.dims;
    let count = n[0] * n[1] * n[2];
    if n.contains(&0) {
        return Err(parameter_error(
            "lattice",
            format!("{n:?}"),
            "at least one voxel per axis",
        ));
    }
    if l.material.len() != count {
        return Err(parameter_error(
            "lattice.material",
            l.material.len(),
            format!("{count} voxels ({n:?})"),
        ));
    }
    if l.materials.is_empty() || l.materials.len() > MAX_MATERIALS {
        return Err(parameter_error(
            "lattice.materials",
            l.materials.len(),
            format!("1 to {MAX_MATERIALS} materials"),
        ));
    }
    if !(l.spacing_mm.is_finite() && l.spacing_mm > 0.0) {
        return Err(parameter_error("spacing_mm", l.spacing_mm, "a positive spacing"));
    }
    for m in &l.materials {
        let dried_ok = m.boiling.is_none_or(|b| {
            b.latent_heat_j_m3.is_finite()
                && b.latent_heat_j_m3 > 0.0
                && l.materials
                    .get(b.dried as usize)
                    .is_some_and(|d| d.boiling.is_none() && d.wall_w_m2k.is_none())
                && m.wall_w_m2k.is_none()
        });
        let ok = m.heat_capacity_j_m3k.is_finite()
            && m.heat_capacity_j_m3k > 0.0
            && m.conductivity_w_mk.is_finite()
            && m.conductivity_w_mk > 0.0
            && m.perfusion_w_m3k.is_finite()
            && m.perfusion_w_m3k >= 0.0
            && m.wall_w_m2k.is_none_or(|h| h > 0.0)
            && dried_ok;
        if !ok {
            return Err(parameter_error(
                format!("material {}", m.name),
                format!("{m:?}"),
                "positive heat capacity and conductivity, perfusion ≥ 0, wall > 0, \
                 a positive latent heat and a dried material that does not boil",
            ));
        }
    }
    let outside = l.materials.len() as u8;
    if let Some(bad) = l.material.iter().find(|&&m| m >= outside) {
        return Err(parameter_error(
            "lattice.material",
            bad,
            format!("material indices below {outside}"),
        ));
    }
    Ok(())
}

/// The stability bound of the explicit scheme on this lattice, s.
///
/// # Errors
/// `Parameter` for an invalid lattice.
pub fn stability_bound_s(lattice: &Lattice, walls: Walls) -> Result<f64> {
    check_lattice(lattice)?;
    let g = pair_table(lattice, walls);
    Ok(Plan::new(lattice, &lattice.material, walls, &g).dt_bound_s)
}

/// The per-step coefficients for time step `dt`.
fn coefficients(l: &Lattice, g: &[f64], s: &RunSettings, dt: f64) -> Coeffs {
    let nm = l.materials.len();
    let mut co = Coeffs {
        a: [0.0; 512],
        sink: [0.0; 512],
        outside: nm as u8,
        b: [0.0; 16],
        c: [0.0; 16],
        latent_k: [0.0; 16],
        heat_capacity: [0.0; 16],
        boil_k: (s.boiling_c - s.blood_c) as f32,
        stop_omega: if s.perfusion_stop_omega.is_finite() {
            s.perfusion_stop_omega as f32
        } else {
            f32::INFINITY
        },
    };
    for (m, mat) in l.materials.iter().enumerate() {
        let rc = mat.heat_capacity_j_m3k;
        co.heat_capacity[m] = rc;
        co.b[m] = (dt * mat.perfusion_w_m3k / rc) as f32;
        co.c[m] = (dt / rc) as f32;
        co.latent_k[m] = mat.boiling.map_or(0.0, |b| (b.latent_heat_j_m3 / rc) as f32);
        for b in 0..=nm {
            let to_sink = b == nm || l.materials[b].wall_w_m2k.is_some();
            let table = if to_sink { &mut co.sink } else { &mut co.a };
            table[m * 16 + b] = (W_FACE * dt * g[m * 16 + b] / rc) as f32;
            table[256 + m * 16 + b] = (W_EDGE * dt * g[m * 16 + b] / rc) as f32;
        }
    }
    co
}

/// Checks the settings of a run.
fn check_settings(s: &RunSettings) -> Result<()> {
    for (name, v, ok) in [
        ("heating_s", s.heating_s, s.heating_s > 0.0),
        ("cooldown_s", s.cooldown_s, s.cooldown_s >= 0.0),
        (
            "stability_safety_frac",
            s.stability_safety_frac,
            s.stability_safety_frac > 0.0 && s.stability_safety_frac <= 1.0,
        ),
        (
            "boiling_c",
            s.boiling_c,
            s.boiling_c > s.initial_c && s.boiling_c > s.blood_c,
        ),
        (
            "perfusion_stop_omega",
            1.0,
            !s.perfusion_stop_omega.is_nan() && s.perfusion_stop_omega > 0.0,
        ),
    ] {
        if !(v.is_finite() && ok) {
            return Err(parameter_error(name, v, "a finite value in range"));
        }
    }
    if let Some(bad) = s.snapshots_s.iter().find(|t| !(t.is_finite() && **t > 0.0)) {
        return Err(parameter_error("snapshots_s", bad, "positive heating times"));
    }
    Ok(())
}

/// The time step and the number of steps for `span_s` at most `bound`.
fn steps_for(span_s: f64, bound: f64, frac: f64) -> (f64, usize) {
    let target = (bound * frac).min(span_s);
    let n = (span_s / target).ceil().max(1.0) as usize;
    (span_s / n as f64, n)
}

fn too_many_steps(heating_s: f64, dt: f64) -> crate::error::Error {
    parameter_error(
        "time_s",
        heating_s,
        format!("a run of at most {MAX_STEPS} time steps (this lattice's step is {dt:.4} s)"),
    )
}

/// Runs the simulation: heating for `heating_s`, then cooling.
///
/// # Errors
/// `Parameter` for an invalid lattice or settings, or a requested time step
/// above the stability bound; errors of the heat source.
pub fn run(
    lattice: &Lattice,
    settings: &RunSettings,
    source: &mut dyn HeatSource,
    progress: &dyn Progress,
) -> Result<Fields> {
    let s = settings;
    check_settings(s)?;
    check_lattice(lattice)?;
    let g = pair_table(lattice, s.walls);
    let mut material = lattice.material.clone();
    let mut plan = Plan::new(lattice, &material, s.walls, &g);
    let bound = plan.dt_bound_s;
    // Heating runs in phases of equal steps; a phase ends early when drying
    // lowers the stability bound below the step.
    let (mut dt, mut phase_steps) = match s.dt_s {
        Some(dt) => {
            if !(dt.is_finite() && dt > 0.0) || dt > bound {
                return Err(parameter_error(
                    "dt_s",
                    dt,
                    format!("a time step in (0, {bound:.4}] s, the explicit stability bound of this lattice"),
                ));
            }
            (dt, (s.heating_s / dt).round().max(1.0) as usize)
        }
        None => steps_for(s.heating_s, bound, s.stability_safety_frac),
    };
    if phase_steps + (s.cooldown_s / dt).round() as usize > MAX_STEPS {
        return Err(too_many_steps(s.heating_s, dt));
    }

    let [nx, ny, nz] = lattice.dims;
    let count = nx * ny * nz;
    let h_m = lattice.spacing_mm * 1e-3;
    let voxel_m3 = h_m * h_m * h_m;
    let nm = lattice.materials.len();
    let mut co = coefficients(lattice, &g, s, dt);
    let mut table = DamageSteps::new(&s.damage, dt);
    // The heat capacity each voxel's latent store is counted in: the wet
    // material's, also after it dried.
    let mut latent_rc = [0.0f64; 16];
    for (i, m) in lattice.materials.iter().enumerate() {
        if let Some(b) = m.boiling {
            latent_rc[i] = m.heat_capacity_j_m3k;
            latent_rc[b.dried as usize] = m.heat_capacity_j_m3k;
        }
    }
    let latent_k = co.latent_k;

    // Temperatures (Θ = T − T_b), padded: the outer layer and vessel voxels stay 0.
    let theta0 = (s.initial_c - s.blood_c) as f32;
    let mut a = vec![0.0f32; plan.layout.mat.len()];
    for (i, v) in a.iter_mut().enumerate() {
        let m = plan.layout.mat[i] as usize;
        if m < nm && lattice.materials[m].wall_w_m2k.is_none() {
            *v = theta0;
        }
    }
    let mut b = a.clone();
    let initial_j: f64 = stored_energy(&a, &plan.layout, lattice, voxel_m3);
    let mut obs = Observed {
        omega: vec![0.0; count],
        cem: vec![0.0; count],
        tmax: vec![s.initial_c as f32; count],
        tiso: vec![-1.0; count],
        latent: vec![0.0; count],
    };
    for (i, t) in obs.tmax.iter_mut().enumerate() {
        if lattice.materials[lattice.material[i] as usize]
            .wall_w_m2k
            .is_some()
        {
            *t = s.blood_c as f32;
        }
    }
    let mut q = vec![0.0f32; count];
    let mut temps = vec![0.0f32; count];
    let mut water = vec![1.0f32; count];
    // The source's power for the current state.
    // The source's power for the current state, plus the constant source of
    // walls at their own temperature (`offsets`), which is not deposited.
    let power = |source: &mut dyn HeatSource,
                 (time_s, step_s): (f64, f64),
                 offsets: &[(usize, f32)],
                 a: &[f32],
                 layout: &Layout,
                 latent: &[f32],
                 material: &[u8],
                 (temps, water, q): (&mut [f32], &mut [f32], &mut [f32])|
     -> Result<f64> {
        unpad(a, layout, s.blood_c as f32, temps);
        water_left(lattice, material, latent, &latent_k, water);
        let state = SourceState {
            temperature_c: temps,
            water_left_frac: water,
            time_s,
            step_s,
        };
        source.power_w_m3(&state, q)?;
        let deposited_w = tissue_power(q, lattice, material, voxel_m3);
        for &(i, o) in offsets {
            q[i] += o;
        }
        Ok(deposited_w)
    };
    // Walls at their own temperature (a cooled electrode) pull their
    // neighbours towards it: a constant source, counted with the walls.
    let mut offsets = wall_offsets(lattice, &material, &g, s.blood_c);
    let mut q_tissue_w = power(
        source,
        (0.0, dt),
        &offsets,
        &a,
        &plan.layout,
        &obs.latent,
        &material,
        (&mut temps, &mut water, &mut q),
    )?;
    let mut cool_q = vec![0.0f32; count];
    for &(i, o) in &offsets {
        cool_q[i] += o;
    }
    let mut offsets_w: f64 = offsets.iter().map(|&(_, o)| o as f64).sum::<f64>() * voxel_m3;
    let mut to_coolant = 0.0f64;
    let mut updates = 1usize;
    let mut since_update_s = 0.0f64;
    let mut boiled_since_update = false;
    let mut boiled_since_check = false;
    let mut deposited = 0.0f64;
    let mut lost = Losses::default();
    let mut boundary_explicit = 0.0f64;
    let mut vapour = 0.0f64;
    let mut dried_voxels = 0usize;
    let mut snapshots_due: Vec<f64> = s.snapshots_s.clone();
    snapshots_due.sort_by(f64::total_cmp);
    snapshots_due.dedup();
    let mut snapshots = Vec::new();

    let expected = phase_steps + (s.cooldown_s / dt).round() as usize;
    let report_every = (expected / 200).max(1);
    progress.start("heating", expected as u64);
    let mut t = 0.0f64;
    let mut steps = 0usize;
    let mut heating = true;
    let mut step_in_phase = 0usize;
    let mut cool_steps = 0usize;
    loop {
        if heating && step_in_phase == phase_steps {
            heating = false;
            cool_steps = (s.cooldown_s / dt).round() as usize;
            step_in_phase = 0;
        }
        if !heating && step_in_phase >= cool_steps {
            break;
        }
        if heating && since_update_s > 0.0 && source.stale(since_update_s, boiled_since_update) {
            q_tissue_w = power(
                source,
                (t, dt),
                &offsets,
                &a,
                &plan.layout,
                &obs.latent,
                &material,
                (&mut temps, &mut water, &mut q),
            )?;
            updates += 1;
            since_update_s = 0.0;
            boiled_since_update = false;
        }
        let qs: &[f32] = if heating { &q } else { &cool_q };
        to_coolant -= offsets_w * dt;
        if heating {
            deposited += q_tissue_w * dt;
        }
        for &(i, g_out) in plan.open.iter().flatten() {
            boundary_explicit += g_out * dt * a[i as usize] as f64;
        }
        let step_lost = step_once(
            &plan.layout,
            &co,
            &table,
            &a,
            &mut b,
            &mut obs,
            qs,
            s.blood_c as f32,
            s.isotherm_c as f32,
            t,
            dt,
        );
        let boiled = step_lost.latent > 0.0;
        boiled_since_update |= boiled;
        boiled_since_check |= boiled;
        lost += step_lost;
        std::mem::swap(&mut a, &mut b);
        t += dt;
        steps += 1;
        step_in_phase += 1;
        if heating {
            since_update_s += dt;
            while snapshots_due.first().is_some_and(|&ts| t >= ts - 1e-9 * ts) {
                snapshots.push(Snapshot {
                    time_s: t,
                    tmax_c: obs.tmax.clone(),
                    damage_omega: obs.omega.clone(),
                });
                snapshots_due.remove(0);
            }
        }
        if steps > MAX_STEPS {
            return Err(too_many_steps(s.heating_s, dt));
        }
        if steps % DRY_CHECK_STEPS == 0 && boiled_since_check {
            boiled_since_check = false;
            let (changed, vapour_j_m3) = dry_out(
                lattice,
                &mut material,
                &mut a,
                &plan.layout,
                &obs.latent,
                &latent_k,
                co.boil_k,
            );
            if !changed.is_empty() {
                dried_voxels += changed.len();
                vapour += vapour_j_m3;
                plan.change(lattice, s.walls, &g, &changed);
                if !offsets.is_empty() {
                    for &(i, o) in &offsets {
                        q[i] -= o;
                        cool_q[i] -= o;
                    }
                    offsets = wall_offsets(lattice, &material, &g, s.blood_c);
                    for &(i, o) in &offsets {
                        q[i] += o;
                        cool_q[i] += o;
                    }
                    offsets_w = offsets.iter().map(|&(_, o)| o as f64).sum::<f64>() * voxel_m3;
                }
                if s.dt_s.is_none() && plan.dt_bound_s * s.stability_safety_frac < dt * (1.0 - 1e-9) {
                    // Shorten the step for the rest of this phase.
                    let left_s = if heating {
                        (phase_steps - step_in_phase) as f64 * dt
                    } else {
                        (cool_steps - step_in_phase) as f64 * dt
                    };
                    if left_s > 0.0 {
                        let (new_dt, n) = steps_for(left_s, plan.dt_bound_s, s.stability_safety_frac);
                        dt = new_dt;
                        step_in_phase = 0;
                        if heating {
                            phase_steps = n;
                        } else {
                            cool_steps = n;
                        }
                        co = coefficients(lattice, &g, s, dt);
                        table = DamageSteps::new(&s.damage, dt);
                    }
                } else if s.dt_s.is_some() && plan.dt_bound_s < dt {
                    return Err(parameter_error(
                        "dt_s",
                        dt,
                        format!(
                            "a time step below {:.4} s, the stability bound once tissue has dried",
                            plan.dt_bound_s
                        ),
                    ));
                }
            }
        }
        if steps % report_every == 0 {
            progress.advance(report_every as u64);
        }
    }
    progress.finish();
    // Snapshots asked for past the end of heating get the final state.
    for ts in snapshots_due {
        if ts <= s.heating_s * (1.0 + 1e-9) {
            snapshots.push(Snapshot {
                time_s: s.heating_s,
                tmax_c: obs.tmax.clone(),
                damage_omega: obs.omega.clone(),
            });
        }
    }

    let mut final_c = vec![0.0f32; count];
    unpad(&a, &plan.layout, s.blood_c as f32, &mut final_c);
    let stored = stored_energy(&a, &plan.layout, lattice, voxel_m3) - initial_j;
    let latent_j = (obs
        .latent
        .iter()
        .zip(&material)
        .map(|(&l, &m)| l as f64 * latent_rc[m as usize])
        .sum::<f64>()
        + vapour)
        * voxel_m3;
    let perfusion_j = lost.perfusion * voxel_m3;
    let vessels_j = lost.vessels * voxel_m3 + to_coolant;
    let boundary_j = (lost.outside + boundary_explicit) * voxel_m3;
    let mut vaporised_frac = vec![0.0f32; count];
    let cap = latent_k;
    for ((v, &m0), &l) in vaporised_frac.iter_mut().zip(&lattice.material).zip(&obs.latent) {
        if cap[m0 as usize] > 0.0 {
            *v = (l / cap[m0 as usize]).min(1.0);
        }
    }
    Ok(Fields {
        tmax_c: obs.tmax,
        time_to_isotherm_s: obs.tiso,
        damage_omega: obs.omega,
        cem43_min: obs.cem,
        final_c,
        vaporised_frac,
        dried_voxels,
        steps,
        dt_s: dt,
        dt_bound_s: bound,
        energy: EnergyBudget {
            deposited_j: deposited,
            stored_j: stored,
            latent_j,
            perfusion_j,
            vessels_j,
            boundary_j,
            residual_j: deposited - stored - latent_j - perfusion_j - vessels_j - boundary_j,
        },
        source_updates: updates,
        snapshots,
    })
}

fn unpad(theta: &[f32], layout: &Layout, blood_c: f32, out: &mut [f32]) {
    let [nx, ny, nz] = layout.n;
    let [px, py, _] = layout.p;
    for z in 0..nz {
        for y in 0..ny {
            let s = 1 + px * (y + 1 + py * (z + 1));
            let d = nx * (y + ny * z);
            for (o, &t) in out[d..d + nx].iter_mut().zip(&theta[s..s + nx]) {
                *o = blood_c + t;
            }
        }
    }
}
