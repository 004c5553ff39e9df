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
//! a_i  = 1 while T_max,i < T_stop (60 °C [Schutt2008]; or Ω_i < Ω_stop when given), else 0
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
//! Damage is integrated over pairs of steps with the temperature between
//! them (the midpoint rule over 2Δt): `Ω += 2Δt·A·exp(−Eₐ/(R·T))` [Chang2004],
//! `CEM43 += 2Δt·R^(43−T)` [Sapareto1984], both evaluated in f32 with a
//! polynomial exponential (relative error below 1e-5). A step left unpaired
//! (before a snapshot, a change of step, the end) is closed with the mean of
//! its two temperatures. The maximum temperature and the isotherm's arrival
//! are taken every step.
//!
//! Voxels are updated in parallel, each from the previous step only, and
//! every sum is taken in a fixed order: results are identical for any number
//! of threads.

use crate::bioheat::layout::{pair_table, Plan};
use crate::bioheat::stepper::{steps_for, too_many_steps, Stepper, DRY_CHECK_STEPS};
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
    /// For walls: a gain on the conductance between the wall and the tissue
    /// beside it. 1, except for a thin cooled RF electrode, where it stands
    /// for the near field the lattice does not resolve
    /// ([`crate::bioheat::setup::electrode_wall_gain`]).
    pub wall_gain: f64,
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
    /// Damage models, and the temperature or damage from which perfusion
    /// stops (`damage.perfusion_stop_c`, `damage.perfusion_stop_omega`: both
    /// infinite keep perfusion everywhere, as the closed-form oracles assume).
    pub damage: DamageModel,
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
            "damage.perfusion_stop_omega",
            // Infinite is allowed (never): shown as the largest finite value.
            s.damage.perfusion_stop_omega.min(f64::MAX),
            !s.damage.perfusion_stop_omega.is_nan() && s.damage.perfusion_stop_omega > 0.0,
        ),
        (
            "damage.perfusion_stop_c",
            s.damage.perfusion_stop_c.min(f64::MAX),
            !s.damage.perfusion_stop_c.is_nan() && s.damage.perfusion_stop_c > s.blood_c,
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
    let (mut run, heating_steps) = Stepper::new(lattice, s)?;
    run.update_power(source, 0.0)?;
    let mut clock = Clock::new(s, heating_steps);
    let expected = heating_steps + (s.cooldown_s / run.dt).round() as usize;
    let report_every = (expected / 200).max(1);
    progress.start("heating", expected as u64);
    while clock.next_phase(s, run.dt) {
        if clock.heating
            && clock.since_update_s > 0.0
            && source.stale(clock.since_update_s, clock.boiled_since_update)
        {
            run.update_power(source, clock.t)?;
            clock.since_update_s = 0.0;
            clock.boiled_since_update = false;
        }
        let boiled = run.step(clock.t, clock.heating);
        clock.tick(run.dt, boiled);
        if clock.heating {
            while clock
                .snapshots_due
                .first()
                .is_some_and(|&ts| clock.t >= ts - 1e-9 * ts)
            {
                clock.snapshots.push(run.snapshot(clock.t));
                clock.snapshots_due.remove(0);
            }
        }
        if clock.steps > MAX_STEPS {
            return Err(too_many_steps(s.heating_s, run.dt));
        }
        if clock.steps % DRY_CHECK_STEPS == 0 && clock.boiled_since_check {
            clock.boiled_since_check = false;
            if let Some(bound) = run.dry() {
                shorten_step(&mut run, &mut clock, s, bound)?;
            }
        }
        if clock.steps % report_every == 0 {
            progress.advance(report_every as u64);
        }
    }
    progress.finish();
    // Snapshots asked for past the end of heating get the final state.
    for &ts in &clock.snapshots_due {
        if ts <= s.heating_s * (1.0 + 1e-9) {
            clock.snapshots.push(run.snapshot(s.heating_s));
        }
    }
    Ok(run.finish(clock.steps, clock.snapshots))
}

/// Where a run is in time: the phase (heating, then cooling), its steps,
/// and what is due.
struct Clock {
    t: f64,
    steps: usize,
    heating: bool,
    step_in_phase: usize,
    /// Steps of the current phase at the current time step.
    phase_steps: usize,
    since_update_s: f64,
    boiled_since_update: bool,
    boiled_since_check: bool,
    snapshots_due: Vec<f64>,
    snapshots: Vec<Snapshot>,
}

impl Clock {
    fn new(s: &RunSettings, heating_steps: usize) -> Clock {
        let mut snapshots_due: Vec<f64> = s.snapshots_s.clone();
        snapshots_due.sort_by(f64::total_cmp);
        snapshots_due.dedup();
        Clock {
            t: 0.0,
            steps: 0,
            heating: true,
            step_in_phase: 0,
            phase_steps: heating_steps,
            since_update_s: 0.0,
            boiled_since_update: false,
            boiled_since_check: false,
            snapshots_due,
            snapshots: Vec::new(),
        }
    }

    /// Moves from heating to cooling when the heating steps are done;
    /// false once the cooling steps are done too.
    fn next_phase(&mut self, s: &RunSettings, dt: f64) -> bool {
        if self.heating && self.step_in_phase == self.phase_steps {
            self.heating = false;
            self.phase_steps = (s.cooldown_s / dt).round() as usize;
            self.step_in_phase = 0;
        }
        self.heating || self.step_in_phase < self.phase_steps
    }

    fn tick(&mut self, dt: f64, boiled: bool) {
        self.boiled_since_update |= boiled;
        self.boiled_since_check |= boiled;
        self.t += dt;
        self.steps += 1;
        self.step_in_phase += 1;
        if self.heating {
            self.since_update_s += dt;
        }
    }
}

/// After tissue dried and the stability bound fell to `bound`: shortens the
/// automatic step for the rest of the phase, or refuses a fixed step now
/// above the bound.
fn shorten_step(run: &mut Stepper<'_>, clock: &mut Clock, s: &RunSettings, bound: f64) -> Result<()> {
    let dt = run.dt;
    if s.dt_s.is_none() && bound * s.stability_safety_frac < dt * (1.0 - 1e-9) {
        let left_s = (clock.phase_steps - clock.step_in_phase) as f64 * dt;
        if left_s > 0.0 {
            let (new_dt, n) = steps_for(left_s, bound, s.stability_safety_frac);
            run.set_step(new_dt);
            clock.step_in_phase = 0;
            clock.phase_steps = n;
        }
    } else if s.dt_s.is_some() && bound < dt {
        return Err(parameter_error(
            "dt_s",
            dt,
            format!("a time step below {bound:.4} s, the stability bound once tissue has dried"),
        ));
    }
    Ok(())
}
