//! The state of one run of the solver ([`crate::bioheat::solver::run`]) and
//! its stages: the time step, the heat source's power, one step with its
//! energy accounting, the drying of tissue that boiled off its water, and
//! the fields at the end. The scheme itself is described in
//! [`crate::bioheat::solver`].

use crate::bioheat::damage::DamageSteps;
use crate::bioheat::enthalpy::{dry_out, stored_energy, tissue_power, water_left};
use crate::bioheat::kernel::{damage_of_step, step_once, Coeffs, Losses, Mixed, Observed, W_EDGE, W_FACE};
use crate::bioheat::layout::{pair_table, wall_offsets, Plan};
use crate::bioheat::solver::{
    EnergyBudget, Fields, HeatSource, Lattice, RunSettings, Snapshot, SourceState, MAX_STEPS,
};
use crate::bioheat::tissue::PERFUSION_NEVER;
use crate::error::{parameter_error, Result};

/// Steps between two looks for voxels that have boiled dry.
pub(crate) const DRY_CHECK_STEPS: usize = 4;

/// The per-step coefficients for time step `dt`.
pub(crate) fn coefficients(l: &Lattice, g: &[f64], s: &RunSettings, dt: f64) -> Coeffs {
    let nm = l.materials.len();
    // Perfusion stops by damage where a dose below "never" is given, else
    // by the maximum temperature (docs/formulas/bioheat.md, "The equation").
    // The run's settings were validated first: neither is NaN.
    let given = |v: f64| v < PERFUSION_NEVER;
    let (gate_on_tmax, stop_gate) = if given(s.damage.perfusion_stop_omega) {
        (false, s.damage.perfusion_stop_omega as f32)
    } else if given(s.damage.perfusion_stop_c) {
        (true, s.damage.perfusion_stop_c as f32)
    } else {
        (false, f32::INFINITY)
    };
    let mut co = Coeffs {
        a: [0.0; 512],
        sink: [0.0; 512],
        outside: nm as u8,
        b: [0.0; 16],
        c: [0.0; 16],
        latent_k: [0.0; 16],
        heat_capacity: [0.0; 16],
        boil_k: (s.boiling_c - s.blood_c) as f32,
        stop_gate,
        gate_on_tmax,
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

/// The time step and the number of steps for `span_s` at most `bound`.
pub(crate) fn steps_for(span_s: f64, bound: f64, frac: f64) -> (f64, usize) {
    let target = (bound * frac).min(span_s);
    let n = (span_s / target).ceil().max(1.0) as usize;
    (span_s / n as f64, n)
}

pub(crate) fn too_many_steps(heating_s: f64, dt: f64) -> crate::error::Error {
    parameter_error(
        "time_s",
        heating_s,
        format!("a run of at most {MAX_STEPS} time steps (this lattice's step is {dt:.4} s)"),
    )
}

/// Where the heat went so far, J (`to_coolant`, `deposited`) or J/m³ per
/// voxel (the others), and what the run did.
#[derive(Default)]
struct Accounts {
    deposited_j: f64,
    to_coolant_j: f64,
    lost: Losses,
    vapour: f64,
    dried_voxels: usize,
    source_updates: usize,
}

/// The heat source's current power and the walls' constant source.
struct Heating {
    /// Power density of every voxel, W/m³, with the wall offsets added.
    q: Vec<f32>,
    /// The wall offsets alone (what the walls do once the heating stopped).
    cool_q: Vec<f32>,
    /// Walls held at their own temperature: constant sources (lattice index, W/m³).
    offsets: Vec<(usize, f32)>,
    /// Their total, W.
    offsets_w: f64,
    /// Power deposited in tissue by the source, W.
    tissue_w: f64,
    temps: Vec<f32>,
    water: Vec<f32>,
}

/// A run in progress.
pub(crate) struct Stepper<'a> {
    lattice: &'a Lattice,
    s: &'a RunSettings,
    g: Vec<f64>,
    /// The material of every voxel now (tissue that dried has changed).
    material: Vec<u8>,
    plan: Plan,
    co: Coeffs,
    /// The mixed-material voxels' coefficients for `plan` and `co`.
    mixed: Mixed,
    /// The length of the last step when its damage is still to be added
    /// (steps are paired: see [`Stepper::step`]), else 0, s.
    damage_pending_s: f64,
    latent_k: [f32; 16],
    voxel_m3: f64,
    /// The time step, s.
    pub dt: f64,
    /// The stability bound of the lattice as given, s.
    pub bound_s: f64,
    /// Temperatures Θ = T − T_b, padded (now, and the next step's).
    a: Vec<f32>,
    b: Vec<f32>,
    initial_j: f64,
    obs: Observed,
    heating: Heating,
    acc: Accounts,
}

impl<'a> Stepper<'a> {
    /// A run of `s` on `lattice` at its first time step, with the number
    /// of heating steps at that step.
    ///
    /// # Errors
    /// `Parameter` (`dt_s`) for a requested step above the stability bound.
    pub(crate) fn new(lattice: &'a Lattice, s: &'a RunSettings) -> Result<(Stepper<'a>, usize)> {
        let g = pair_table(lattice, s.walls);
        let material = lattice.material.clone();
        let plan = Plan::new(lattice, &material, s.walls, &g);
        let bound = plan.dt_bound_s;
        // Heating runs in phases of equal steps; a phase ends early when
        // drying lowers the stability bound below the step.
        let (dt, phase_steps) = match s.dt_s {
            Some(dt) => {
                if !(dt.is_finite() && dt > 0.0) || dt > bound {
                    return Err(parameter_error(
                        "dt_s",
                        dt,
                        format!(
                            "a time step in (0, {bound:.4}] s, the explicit stability bound of this lattice"
                        ),
                    ));
                }
                (dt, (s.heating_s / dt).round().max(1.0) as usize)
            }
            None => steps_for(s.heating_s, bound, s.stability_safety_frac),
        };
        if phase_steps + (s.cooldown_s / dt).round() as usize > MAX_STEPS {
            return Err(too_many_steps(s.heating_s, dt));
        }
        let count = material.len();
        let h_m = lattice.spacing_mm * 1e-3;
        let voxel_m3 = h_m * h_m * h_m;
        let nm = lattice.materials.len();
        let co = coefficients(lattice, &g, s, dt);
        let mixed = Mixed::new(&plan.layout, &co);
        let latent_k = co.latent_k;
        // Temperatures, padded: the outer layer and vessel voxels stay 0.
        let theta0 = (s.initial_c - s.blood_c) as f32;
        let mut a = vec![0.0f32; plan.layout.mat.len()];
        for (v, &m) in a.iter_mut().zip(&plan.layout.mat) {
            if (m as usize) < nm && lattice.materials[m as usize].wall_w_m2k.is_none() {
                *v = theta0;
            }
        }
        let b = a.clone();
        let initial_j = stored_energy(&a, &plan.layout, lattice, voxel_m3);
        let mut obs = Observed {
            omega: vec![0.0; count],
            cem: vec![0.0; count],
            tmax: vec![s.initial_c as f32; count],
            tiso: vec![-1.0; count],
            latent: vec![0.0; count],
        };
        for (t, &m) in obs.tmax.iter_mut().zip(&material) {
            if lattice.materials[m as usize].wall_w_m2k.is_some() {
                *t = s.blood_c as f32;
            }
        }
        // Walls at their own temperature (a cooled electrode) pull their
        // neighbours towards it: a constant source, counted with the walls.
        let offsets = wall_offsets(lattice, &material, &g, s.blood_c);
        let mut cool_q = vec![0.0f32; count];
        for &(i, o) in &offsets {
            cool_q[i] += o;
        }
        let offsets_w = offsets.iter().map(|&(_, o)| o as f64).sum::<f64>() * voxel_m3;
        let heating = Heating {
            q: vec![0.0f32; count],
            cool_q,
            offsets,
            offsets_w,
            tissue_w: 0.0,
            temps: vec![0.0f32; count],
            water: vec![1.0f32; count],
        };
        let stepper = Stepper {
            lattice,
            s,
            g,
            material,
            plan,
            co,
            mixed,
            damage_pending_s: 0.0,
            latent_k,
            voxel_m3,
            dt,
            bound_s: bound,
            a,
            b,
            initial_j,
            obs,
            heating,
            acc: Accounts::default(),
        };
        Ok((stepper, phase_steps))
    }

    /// Asks the source for its power in the current state (at heating time
    /// `time_s`), plus the constant source of walls at their own
    /// temperature, which is not deposited.
    ///
    /// # Errors
    /// Those of the source.
    pub(crate) fn update_power(&mut self, source: &mut dyn HeatSource, time_s: f64) -> Result<()> {
        let h = &mut self.heating;
        unpad(&self.a, &self.plan.layout, self.s.blood_c as f32, &mut h.temps);
        water_left(
            self.lattice,
            &self.material,
            &self.obs.latent,
            &self.latent_k,
            &mut h.water,
        );
        let state = SourceState {
            temperature_c: &h.temps,
            water_left_frac: &h.water,
            time_s,
            step_s: self.dt,
        };
        source.power_w_m3(&state, &mut h.q)?;
        h.tissue_w = tissue_power(&h.q, self.lattice, &self.material, self.voxel_m3);
        for &(i, o) in &h.offsets {
            h.q[i] += o;
        }
        self.acc.source_updates += 1;
        Ok(())
    }

    /// One time step from heating time `t` (the source on while `heating`);
    /// returns whether any tissue boiled.
    ///
    /// Damage is integrated over pairs of steps, with the temperature
    /// between them (the midpoint rule over 2Δt): the exponentials, the
    /// costliest part of a step, are taken every other step. A step left
    /// unpaired (before a snapshot, a change of step or the end) is closed
    /// with the mean temperature of its two ends ([`Stepper::close_damage`]).
    pub(crate) fn step(&mut self, t: f64, heating: bool) -> bool {
        let dt = self.dt;
        let qs: &[f32] = if heating {
            &self.heating.q
        } else {
            &self.heating.cool_q
        };
        self.acc.to_coolant_j -= self.heating.offsets_w * dt;
        if heating {
            self.acc.deposited_j += self.heating.tissue_w * dt;
        }
        let damage = (self.damage_pending_s > 0.0)
            .then(|| DamageSteps::new(&self.s.damage, self.damage_pending_s + dt));
        self.damage_pending_s = if damage.is_some() { 0.0 } else { dt };
        let lost = step_once(
            &self.plan.layout,
            &self.co,
            &self.mixed,
            &self.plan.open,
            damage.as_ref(),
            &self.a,
            &mut self.b,
            &mut self.obs,
            qs,
            self.s.blood_c as f32,
            self.s.isotherm_c as f32,
            t,
            dt,
        );
        self.acc.lost += lost;
        std::mem::swap(&mut self.a, &mut self.b);
        lost.latent > 0.0
    }

    /// Adds the damage of a step left unpaired, from the mean of the
    /// temperatures before and after it.
    fn close_damage(&mut self) {
        if self.damage_pending_s > 0.0 {
            let table = DamageSteps::new(&self.s.damage, self.damage_pending_s);
            // The step went from `b` to `a` (they were swapped after it).
            damage_of_step(
                &self.plan.layout,
                &table,
                self.s.blood_c as f32,
                &self.b,
                &self.a,
                &mut self.obs,
            );
            self.damage_pending_s = 0.0;
        }
    }

    /// A copy of the maximum temperature and damage so far, at heating time `time_s`.
    pub(crate) fn snapshot(&mut self, time_s: f64) -> Snapshot {
        self.close_damage();
        Snapshot {
            time_s,
            tmax_c: self.obs.tmax.clone(),
            damage_omega: self.obs.omega.clone(),
        }
    }

    /// Turns the voxels that boiled dry into their dried material, and
    /// returns the stability bound of the lattice as it is now when any did.
    pub(crate) fn dry(&mut self) -> Option<f64> {
        let (changed, vapour_j_m3) = dry_out(
            self.lattice,
            &mut self.material,
            &mut self.a,
            &self.plan.layout,
            &self.obs.latent,
            &self.latent_k,
            self.co.boil_k,
        );
        if changed.is_empty() {
            return None;
        }
        self.acc.dried_voxels += changed.len();
        self.acc.vapour += vapour_j_m3;
        self.plan.change(self.lattice, self.s.walls, &self.g, &changed);
        self.mixed = Mixed::new(&self.plan.layout, &self.co);
        let h = &mut self.heating;
        if !h.offsets.is_empty() {
            for &(i, o) in &h.offsets {
                h.q[i] -= o;
                h.cool_q[i] -= o;
            }
            h.offsets = wall_offsets(self.lattice, &self.material, &self.g, self.s.blood_c);
            for &(i, o) in &h.offsets {
                h.q[i] += o;
                h.cool_q[i] += o;
            }
            h.offsets_w = h.offsets.iter().map(|&(_, o)| o as f64).sum::<f64>() * self.voxel_m3;
        }
        Some(self.plan.dt_bound_s)
    }

    /// Continues with time step `dt`.
    pub(crate) fn set_step(&mut self, dt: f64) {
        self.close_damage();
        self.dt = dt;
        self.co = coefficients(self.lattice, &self.g, self.s, dt);
        self.mixed = Mixed::new(&self.plan.layout, &self.co);
    }

    /// The fields at the end of the run and its energy budget.
    pub(crate) fn finish(mut self, steps: usize, snapshots: Vec<Snapshot>) -> Fields {
        self.close_damage();
        let (lattice, voxel_m3, acc) = (self.lattice, self.voxel_m3, &self.acc);
        let count = self.material.len();
        // The heat capacity each voxel's latent store is counted in: the
        // wet material's, also after it dried.
        let mut latent_rc = [0.0f64; 16];
        for (i, m) in lattice.materials.iter().enumerate() {
            if let Some(b) = m.boiling {
                latent_rc[i] = m.heat_capacity_j_m3k;
                latent_rc[b.dried as usize] = m.heat_capacity_j_m3k;
            }
        }
        let mut final_c = vec![0.0f32; count];
        unpad(&self.a, &self.plan.layout, self.s.blood_c as f32, &mut final_c);
        let stored = stored_energy(&self.a, &self.plan.layout, lattice, voxel_m3) - self.initial_j;
        let latent_j = (self
            .obs
            .latent
            .iter()
            .zip(&self.material)
            .map(|(&l, &m)| l as f64 * latent_rc[m as usize])
            .sum::<f64>()
            + acc.vapour)
            * voxel_m3;
        let perfusion_j = acc.lost.perfusion * voxel_m3;
        let vessels_j = acc.lost.vessels * voxel_m3 + acc.to_coolant_j;
        let boundary_j = (acc.lost.outside + acc.lost.open) * voxel_m3;
        let deposited = acc.deposited_j;
        let mut vaporised_frac = vec![0.0f32; count];
        let cap = self.latent_k;
        for ((v, &m0), &l) in vaporised_frac
            .iter_mut()
            .zip(&lattice.material)
            .zip(&self.obs.latent)
        {
            if cap[m0 as usize] > 0.0 {
                *v = (l / cap[m0 as usize]).min(1.0);
            }
        }
        Fields {
            tmax_c: self.obs.tmax,
            time_to_isotherm_s: self.obs.tiso,
            damage_omega: self.obs.omega,
            cem43_min: self.obs.cem,
            final_c,
            vaporised_frac,
            dried_voxels: acc.dried_voxels,
            steps,
            dt_s: self.dt,
            dt_bound_s: self.bound_s,
            energy: EnergyBudget {
                deposited_j: deposited,
                stored_j: stored,
                latent_j,
                perfusion_j,
                vessels_j,
                boundary_j,
                residual_j: deposited - stored - latent_j - perfusion_j - vessels_j - boundary_j,
            },
            source_updates: acc.source_updates,
            snapshots,
        }
    }
}

fn unpad(theta: &[f32], layout: &crate::bioheat::kernel::Layout, blood_c: f32, out: &mut [f32]) {
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
