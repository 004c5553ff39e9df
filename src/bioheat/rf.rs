//! Radiofrequency heating: the electric potential around the electrode and
//! the Joule heat it drives, at a controlled power.
//!
//! ```text
//! ∇·(σ(T) ∇V) = 0          V = V₀ on the electrode, 0 one voxel beyond the region
//! Q = σ |∇V|²               σ(T) = σ₃₇ · (1 + c·(T − 37 °C))    c = 0.015 /°C
//! ```
//! [Zurbuchen2016], [Hall2015], docs/references.md. The region's outer layer
//! stands for the distant grounding pads. Finite volumes on the 7-point
//! stencil with harmonic-mean face conductances; the system is solved by
//! conjugate gradients with a Jacobi preconditioner, warm-started from the
//! previous solution, to a relative residual of 1e-4: the dissipated power is
//! stationary in the potential (its error is quadratic in the potential's),
//! and against 1e-6 the impedance agreed to 2e-4 Ω and the zone to 0.01 mm
//! (tests/bioheat.rs RF run) at half the iterations. The generator is power
//! controlled: V₀ is set so that the dissipated power, summed face by face as
//! σ_f h ΔV², equals the set power, within the generator's current limit and
//! impedance roll-off ([`Generator`]). The potential is solved again as the
//! conductivity follows temperature: every `rf.update_interval_s` of heating
//! while the impedance moves, less often (up to `rf.max_update_interval_s`)
//! once it has settled.

use rayon::prelude::*;

use crate::bioheat::electrode::NearField;
use crate::bioheat::solver::{HeatSource, SourceState};
use crate::error::{parameter_error, Result};

/// Electrical conductivity of tissue that has boiled dry, as a fraction
/// of its wet value: desiccated tissue is close to an insulator, which is what
/// makes the impedance rise; the 1 % is a liverkit assumption
/// (docs/formulas/bioheat.md, "Boiling").
pub const DRY_CONDUCTIVITY_FRAC: f64 = 0.01;

/// How the generator delivers its set power.
///
/// It is power controlled: it delivers the set power P_set, at most
/// I_max²·Z (its current limit at the impedance Z). With
/// `impedance_control` it also acts as an impedance-controlled generator. An impedance-controlled
/// generator cuts its output when vapour at the electrode makes the
/// impedance rise and resumes when it falls back; averaged over these
/// pulses it delivers what keeps the tissue around the electrode at
/// boiling. liverkit models that average, as [Schramm2007] does (power
/// controlled to keep the hottest tissue at 100 °C): every `control_s` the
/// delivered power is set to the largest that heats no voxel past
/// `target_c` before the next adjustment, each voxel's losses taken as those
/// seen since the last one; it rises at most ×1.25 per adjustment, within
/// [0, min(P_set, I_max²·Z)]. If the impedance
/// still rises past `rolloff_rise_ohm` above its starting value (tissue has
/// boiled dry), the output is cut for `rolloff_pause_s`, and resumes when the
/// impedance has come back.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Generator {
    /// Largest current the generator drives, A.
    pub max_current_a: f64,
    /// Impedance control (the temperature hold and roll-off below); without
    /// it the generator delivers min(P_set, I_max²·Z) throughout.
    pub impedance_control: bool,
    /// The hottest tissue the output is held to, °C.
    pub target_c: f64,
    /// Blood (body) temperature, °C.
    pub blood_c: f64,
    /// Time between two adjustments of the output, s.
    pub control_s: f64,
    /// Volumetric heat capacity of the tissue it heats, J/(m³·K).
    pub heat_capacity_j_m3k: f64,
    /// Impedance rise above the starting impedance that cuts the output, Ω.
    pub rolloff_rise_ohm: f64,
    /// How long the output stays cut before it tries again, s.
    pub rolloff_pause_s: f64,
}

/// What the generator delivered over a run.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Delivery {
    /// Energy delivered into the lattice, J.
    pub energy_j: f64,
    /// Time with the power on, s.
    pub on_s: f64,
    /// Times the impedance switched the generator off.
    pub rolloffs: usize,
    /// Time at which the generator first switched off, s.
    pub first_rolloff_s: Option<f64>,
    /// Whether the current limit held the power below the setting at some time.
    pub current_limited: bool,
    /// Whether the temperature control held the power below the setting.
    pub temperature_limited: bool,
}

/// A radiofrequency electrode on a lattice, as a heat source.
#[derive(Debug, Clone)]
pub struct RfSource {
    dims: [usize; 3],
    spacing_m: f64,
    /// Conductivity at 37 °C of every voxel, S/m.
    sigma37: Vec<f64>,
    electrode: Vec<bool>,
    temp_coeff_per_c: f64,
    power_w: f64,
    update_interval_s: f64,
    max_interval_s: f64,
    interval_s: f64,
    potential: Vec<f64>,
    /// Impedance between electrode and ground at each solution, Ω.
    pub impedance_ohm: Vec<f64>,
    /// Conjugate-gradient iterations of each solution.
    pub iterations: Vec<usize>,
    generator: Option<Generator>,
    paused: bool,
    /// The power density at 1 V of the last solution, W/m³, and its total, W.
    unit_q: Vec<f64>,
    unit_power_w: f64,
    last_solve_s: f64,
    /// The power the generator delivers now, W.
    output_w: f64,
    /// Temperatures, time and output at the last adjustment.
    last_t: Vec<f32>,
    last_control_s: f64,
    last_output_w: f64,
    temperature_limited: bool,
    /// (heating time, delivered power W) from each solution on.
    delivered: Vec<(f64, f64)>,
    rolloffs: usize,
    first_rolloff_s: Option<f64>,
    current_limited: bool,
    /// The sub-voxel near field ([`crate::bioheat::electrode::near_field`]; none: no gain).
    near: Option<NearField>,
}

/// Bytes per voxel the potential solver adds while running.
pub const RF_BYTES_PER_VOXEL: u64 = 144;

const TOLERANCE: f64 = 1e-4;

/// Voxels per parallel task of the generator's control and rescale.
const CONTROL_CHUNK: usize = 1 << 14;
const MAX_ITERATIONS: usize = 5000;

impl RfSource {
    /// An electrode (`electrode` voxels) in tissue of conductivity `sigma37`
    /// (S/m at 37 °C), both indexed like the lattice.
    ///
    /// # Errors
    /// `Parameter` for an empty electrode, mismatched lengths or a
    /// non-positive power or conductivity.
    pub fn new(
        dims: [usize; 3],
        spacing_mm: f64,
        sigma37: Vec<f64>,
        electrode: Vec<bool>,
        temp_coeff_per_c: f64,
        power_w: f64,
        update_interval_s: f64,
    ) -> Result<RfSource> {
        let n = dims[0] * dims[1] * dims[2];
        if sigma37.len() != n || electrode.len() != n {
            return Err(parameter_error(
                "rf lattice",
                sigma37.len(),
                format!("{n} voxels"),
            ));
        }
        if !electrode.contains(&true) {
            return Err(parameter_error(
                "electrode",
                "0 voxels",
                "an electrode inside the simulated region",
            ));
        }
        if !(power_w.is_finite() && power_w > 0.0) {
            return Err(parameter_error("power_w", power_w, "a positive power in W"));
        }
        if let Some(bad) = sigma37.iter().find(|s| !(s.is_finite() && **s > 0.0)) {
            return Err(parameter_error(
                "rf_conductivity_s_m",
                bad,
                "a positive conductivity",
            ));
        }
        let potential = electrode.iter().map(|&e| if e { 1.0 } else { 0.0 }).collect();
        Ok(RfSource {
            dims,
            spacing_m: spacing_mm * 1e-3,
            sigma37,
            electrode,
            temp_coeff_per_c,
            power_w,
            update_interval_s,
            max_interval_s: update_interval_s,
            interval_s: update_interval_s,
            potential,
            impedance_ohm: Vec::new(),
            iterations: Vec::new(),
            generator: None,
            paused: false,
            unit_q: Vec::new(),
            unit_power_w: 0.0,
            last_solve_s: f64::NEG_INFINITY,
            output_w: power_w,
            last_t: Vec::new(),
            last_control_s: 0.0,
            last_output_w: 0.0,
            temperature_limited: false,
            delivered: Vec::new(),
            rolloffs: 0,
            first_rolloff_s: None,
            current_limited: false,
            near: None,
        })
    }

    /// Drives the electrode with `generator` (without one, the set power is
    /// always delivered).
    pub fn with_generator(mut self, generator: Generator) -> RfSource {
        self.generator = Some(generator);
        self
    }

    /// Gives the electrode its true radius below the voxel (see
    /// [`crate::bioheat::electrode::near_field`]).
    pub fn with_near_field(mut self, near: NearField) -> RfSource {
        self.near = Some(near);
        self
    }

    /// The potential of the last solution with the electrode at 1 V,
    /// indexed like the lattice (before the first: 1 on the electrode, 0
    /// elsewhere).
    pub fn unit_potential(&self) -> &[f64] {
        &self.potential
    }

    /// What was delivered over `heating_s` of heating.
    pub fn delivery(&self, heating_s: f64) -> Delivery {
        let mut energy_j = 0.0;
        let mut on_s = 0.0;
        for (k, &(t, p)) in self.delivered.iter().enumerate() {
            let end = self
                .delivered
                .get(k + 1)
                .map_or(heating_s, |n| n.0)
                .min(heating_s);
            let span = (end - t).max(0.0);
            energy_j += p * span;
            if p > 0.0 {
                on_s += span;
            }
        }
        Delivery {
            energy_j,
            on_s,
            rolloffs: self.rolloffs,
            first_rolloff_s: self.first_rolloff_s,
            current_limited: self.current_limited,
            temperature_limited: self.temperature_limited,
        }
    }

    /// Lets the interval between solutions grow up to `max_interval_s` while
    /// the impedance settles: it doubles after a solution that moved the
    /// impedance by less than 1 % and falls back to the shortest interval
    /// after one that moved it by more than 3 %.
    pub fn with_max_interval(mut self, max_interval_s: f64) -> RfSource {
        self.max_interval_s = max_interval_s.max(self.update_interval_s);
        self
    }

    /// Solves for the potential with V = 1 on the electrode; returns the
    /// dissipated power at 1 V (W) and the power density per volt² (W/m³).
    fn solve(&mut self, sigma: &[f64]) -> Result<(f64, Vec<f64>)> {
        let [nx, ny, nz] = self.dims;
        let sys = Conduction::new(self.dims, sigma, &self.electrode, self.near.as_ref());
        // Unknowns: the previous potential on free voxels (warm start).
        let mut v = vec![0.0f64; sys.np];
        for z in 0..nz {
            for y in 0..ny {
                for x in 0..nx {
                    let j = sys.pad(x, y, z);
                    v[j] = sys.free[j] * self.potential[x + nx * (y + ny * z)];
                }
            }
        }
        let iterations = sys.conjugate_gradient(&mut v)?;
        self.iterations.push(iterations);
        // The potential everywhere (electrode at 1 V, grounded layer at 0).
        for z in 0..nz {
            for y in 0..ny {
                for x in 0..nx {
                    let j = sys.pad(x, y, z);
                    if sys.free[j] == 0.0 {
                        v[j] = 1.0;
                    }
                }
            }
        }
        let h = self.spacing_m;
        let (total, qp) = sys.dissipation(&v, h);
        let voxel_m3 = h * h * h;
        let mut q = vec![0.0; nx * ny * nz];
        for z in 0..nz {
            for y in 0..ny {
                for x in 0..nx {
                    let i = x + nx * (y + ny * z);
                    let j = sys.pad(x, y, z);
                    q[i] = qp[j] / voxel_m3;
                    self.potential[i] = v[j];
                }
            }
        }
        Ok((total, q))
    }
}

/// The discrete conduction problem ∇·(σ∇V) = 0 with V = 1 on the electrode
/// and V = 0 on a grounded layer one voxel around the lattice.
///
/// The unknowns live on the lattice padded by that layer; electrode voxels
/// are held at zero in the search directions and their known potential
/// enters the right-hand side, so every pass is free of branches. An
/// iteration of the conjugate gradient is three fused passes.
struct Conduction {
    n: [usize; 3],
    /// Padded voxels, and voxels per padded plane.
    np: usize,
    plane: usize,
    /// Strides along x, y, z in the padded lattice.
    strides: [usize; 3],
    /// 1 for free (tissue) voxels, 0 for the electrode and the padding.
    free: Vec<f64>,
    /// Face conductance between j and j + stride, per axis.
    faces: [Vec<f64>; 3],
    diag: Vec<f64>,
    inv_diag: Vec<f64>,
    /// The right-hand side: conductance to electrode neighbours (V = 1).
    b: Vec<f64>,
}

impl Conduction {
    fn new(dims: [usize; 3], sigma: &[f64], electrode: &[bool], near: Option<&NearField>) -> Conduction {
        let [nx, ny, nz] = dims;
        let (px, py, pz) = (nx + 2, ny + 2, nz + 2);
        let mut sys = Conduction {
            n: dims,
            np: px * py * pz,
            plane: px * py,
            strides: [1, px, px * py],
            free: vec![0.0f64; px * py * pz],
            faces: [Vec::new(), Vec::new(), Vec::new()],
            diag: vec![1.0f64; px * py * pz],
            inv_diag: Vec::new(),
            b: vec![0.0f64; px * py * pz],
        };
        let np = sys.np;
        // Conductivity on the padded lattice: the grounded layer takes the
        // conductivity of the voxel next to it (see `face`).
        let mut sig = vec![0.0f64; np];
        for z in 0..nz {
            for y in 0..ny {
                for x in 0..nx {
                    let i = x + nx * (y + ny * z);
                    let j = sys.pad(x, y, z);
                    sig[j] = sigma[i];
                    sys.free[j] = if electrode[i] { 0.0 } else { 1.0 };
                }
            }
        }
        // Face conductance between j and k: harmonic mean inside, the inner
        // voxel's own conductivity towards the grounded layer.
        let face = |j: usize, k: usize| -> f64 {
            match (sys.inside(j), sys.inside(k)) {
                (true, true) => 2.0 * sig[j] * sig[k] / (sig[j] + sig[k]),
                (true, false) => sig[j],
                (false, true) => sig[k],
                (false, false) => 0.0,
            }
        };
        // Between the electrode and the tissue beside it the face stands for
        // the near field the lattice cannot resolve (`near_field`).
        let mut beside = vec![false; np];
        if let Some(nf) = near {
            for z in 0..nz {
                for y in 0..ny {
                    for x in 0..nx {
                        beside[sys.pad(x, y, z)] = nf.beside[x + nx * (y + ny * z)];
                    }
                }
            }
        }
        let gain = near.map_or(1.0, |nf| nf.gain);
        let is_electrode = |j: usize| sys.inside(j) && sys.free[j] == 0.0;
        let faces = sys.strides.map(|stride| {
            let mut fa = vec![0.0f64; np];
            for (j, g) in fa.iter_mut().enumerate().take(np - stride) {
                let k = j + stride;
                let near_face = (is_electrode(j) && beside[k]) || (beside[j] && is_electrode(k));
                *g = if near_face { gain } else { 1.0 } * face(j, k);
            }
            fa
        });
        sys.faces = faces;
        for z in 0..nz {
            for y in 0..ny {
                for x in 0..nx {
                    let j = sys.pad(x, y, z);
                    if sys.free[j] == 0.0 {
                        continue;
                    }
                    let nb = sys.neighbours(j);
                    sys.diag[j] = nb.iter().map(|(g, _)| g).sum();
                    // Electrode neighbours (inside, not free) hold V = 1.
                    sys.b[j] = nb
                        .iter()
                        .filter(|(_, k)| sys.inside(*k) && sys.free[*k] == 0.0)
                        .map(|(g, _)| g)
                        .sum();
                }
            }
        }
        sys.inv_diag = sys.diag.iter().zip(&sys.free).map(|(d, f)| f / d).collect();
        sys
    }

    fn pad(&self, x: usize, y: usize, z: usize) -> usize {
        (x + 1) + self.strides[1] * ((y + 1) + (self.n[1] + 2) * (z + 1))
    }

    fn inside(&self, j: usize) -> bool {
        let [nx, ny, nz] = self.n;
        let px = self.strides[1];
        let (x, y, z) = (j % px, (j / px) % (ny + 2), j / self.plane);
        x >= 1 && x <= nx && y >= 1 && y <= ny && z >= 1 && z <= nz
    }

    /// The six face neighbours of inside voxel `j` with their conductances.
    fn neighbours(&self, j: usize) -> [(f64, usize); 6] {
        let [sx, sy, sz] = self.strides;
        let [fx, fy, fz] = &self.faces;
        [
            (fx[j], j + sx),
            (fx[j - sx], j - sx),
            (fy[j], j + sy),
            (fy[j - sy], j - sy),
            (fz[j], j + sz),
            (fz[j - sz], j - sz),
        ]
    }

    /// out = A p on free voxels; returns p·Ap (sums per plane, in order).
    fn apply(&self, p: &[f64], out: &mut [f64]) -> f64 {
        let (np, plane) = (self.np, self.plane);
        let [sx, sy, sz] = self.strides;
        let [fx, fy, fz] = &self.faces;
        let (free, diag) = (&self.free, &self.diag);
        let parts: Vec<f64> = out[plane..np - plane]
            .par_chunks_mut(plane)
            .enumerate()
            .map(|(z, o)| {
                let base = (z + 1) * plane;
                let mut acc = 0.0;
                for (k, ok) in o.iter_mut().enumerate() {
                    let j = base + k;
                    if j < sz || j + sz >= np {
                        continue;
                    }
                    let a = free[j]
                        * (diag[j] * p[j]
                            - fx[j] * p[j + sx]
                            - fx[j - sx] * p[j - sx]
                            - fy[j] * p[j + sy]
                            - fy[j - sy] * p[j - sy]
                            - fz[j] * p[j + sz]
                            - fz[j - sz] * p[j - sz]);
                    *ok = a;
                    acc += a * p[j];
                }
                acc
            })
            .collect();
        parts.iter().sum()
    }

    /// Solves A v = b from the guess in `v` (Jacobi-preconditioned conjugate
    /// gradient, to a relative residual of `TOLERANCE`); returns the
    /// iterations taken.
    ///
    /// # Errors
    /// `Parameter` (`rf potential`) when it does not converge.
    fn conjugate_gradient(&self, v: &mut [f64]) -> Result<usize> {
        let plane = self.plane;
        let (b, inv_diag) = (&self.b, &self.inv_diag);
        let mut ap = vec![0.0f64; self.np];
        self.apply(v, &mut ap);
        let mut r: Vec<f64> = b.iter().zip(&ap).map(|(b, a)| b - a).collect();
        let sum_planes =
            |parts: Vec<(f64, f64)>| parts.iter().fold((0.0, 0.0), |s, p| (s.0 + p.0, s.1 + p.1));
        let mut p: Vec<f64> = r.iter().zip(inv_diag).map(|(r, d)| r * d).collect();
        let mut rz: f64 = r.iter().zip(&p).map(|(r, z)| r * z).sum();
        let b_norm = b.iter().map(|x| x * x).sum::<f64>().sqrt();
        let mut r_norm = r.iter().map(|x| x * x).sum::<f64>().sqrt();
        let mut iterations = 0;
        while r_norm > TOLERANCE * b_norm {
            if iterations >= MAX_ITERATIONS {
                return Err(parameter_error(
                    "rf potential",
                    format!("{iterations} iterations"),
                    "a converging potential (check the electrode and the conductivities)",
                ));
            }
            let pap = self.apply(&p, &mut ap);
            let alpha = rz / pap;
            let parts: Vec<(f64, f64)> = v
                .par_chunks_mut(plane)
                .zip(r.par_chunks_mut(plane))
                .zip(
                    p.par_chunks(plane)
                        .zip(ap.par_chunks(plane))
                        .zip(inv_diag.par_chunks(plane)),
                )
                .map(|((v, r), ((p, ap), d))| {
                    let (mut rz, mut rr) = (0.0, 0.0);
                    for k in 0..v.len() {
                        v[k] += alpha * p[k];
                        r[k] -= alpha * ap[k];
                        rz += r[k] * r[k] * d[k];
                        rr += r[k] * r[k];
                    }
                    (rz, rr)
                })
                .collect();
            let (rz_new, rr) = sum_planes(parts);
            let beta = rz_new / rz;
            rz = rz_new;
            r_norm = rr.sqrt();
            p.par_chunks_mut(plane)
                .zip(r.par_chunks(plane).zip(inv_diag.par_chunks(plane)))
                .for_each(|(p, (r, d))| {
                    for k in 0..p.len() {
                        p[k] = r[k] * d[k] + beta * p[k];
                    }
                });
            iterations += 1;
        }
        Ok(iterations)
    }

    /// Dissipation σ_f h ΔV² of every face for potential `v` (W at 1 V),
    /// half to each inside voxel; a face to the grounded layer or to the
    /// electrode gives all of it to the tissue voxel. Returns the total and
    /// each padded voxel's share.
    fn dissipation(&self, v: &[f64], h: f64) -> (f64, Vec<f64>) {
        let np = self.np;
        let mut qp = vec![0.0f64; np];
        let mut total = 0.0;
        for (axis, stride) in self.strides.into_iter().enumerate() {
            for j in 0..np - stride {
                let g = self.faces[axis][j];
                if g == 0.0 {
                    continue;
                }
                let k = j + stride;
                let dv = v[j] - v[k];
                let pw = g * h * dv * dv;
                total += pw;
                // Joule heat arises in tissue: a face between the electrode
                // (a conductor at one potential) and tissue gives all of it
                // to the tissue side.
                match (self.inside(j), self.inside(k)) {
                    (true, true) if self.free[j] == 0.0 => qp[k] += pw,
                    (true, true) if self.free[k] == 0.0 => qp[j] += pw,
                    (true, true) => {
                        qp[j] += 0.5 * pw;
                        qp[k] += 0.5 * pw;
                    }
                    (true, false) => qp[j] += pw,
                    _ => qp[k] += pw,
                }
            }
        }
        (total, qp)
    }
}

impl HeatSource for RfSource {
    fn power_w_m3(&mut self, state: &SourceState, out: &mut [f32]) -> Result<()> {
        // Solve again once the interval since the last solution has passed;
        // in between, the generator only rescales the last one.
        if self.unit_q.is_empty() || state.time_s - self.last_solve_s >= self.interval_s - 1e-9 {
            // Current flows through the tissue's water: a voxel that has
            // boiled dry conducts DRY_CONDUCTIVITY_FRAC of what it did, which
            // is what makes the impedance rise.
            let c = self.temp_coeff_per_c;
            let sigma: Vec<f64> = self
                .sigma37
                .iter()
                .zip(state.temperature_c)
                .zip(state.water_left_frac)
                .map(|((&s, &t), &w)| {
                    s * (1.0 + c * (t as f64 - 37.0)).max(0.05) * (w as f64).max(DRY_CONDUCTIVITY_FRAC)
                })
                .collect();
            let (p1, q) = self.solve(&sigma)?;
            if p1.is_nan() || p1 <= 0.0 {
                return Err(parameter_error("rf potential", p1, "a positive dissipated power"));
            }
            let z = 1.0 / p1;
            if let Some(&last) = self.impedance_ohm.last() {
                let change = (z - last).abs() / last;
                self.interval_s = if change < 0.01 {
                    (2.0 * self.interval_s).min(self.max_interval_s)
                } else if change > 0.03 {
                    self.update_interval_s
                } else {
                    self.interval_s
                };
            }
            self.impedance_ohm.push(z);
            self.unit_q = q;
            self.unit_power_w = p1;
            self.last_solve_s = state.time_s;
        }
        // Power control: V₀² = P / P(1 V), P within the generator's limits.
        let z = 1.0 / self.unit_power_w;
        let mut target = self.power_w;
        if let Some(g) = self.generator {
            let start = self.impedance_ohm.first().copied().unwrap_or(z);
            if g.impedance_control && z > start + g.rolloff_rise_ohm {
                if !self.paused {
                    self.rolloffs += 1;
                    self.first_rolloff_s.get_or_insert(state.time_s);
                }
                self.paused = true;
                target = 0.0;
            } else {
                self.paused = false;
                let limit = g.max_current_a * g.max_current_a * z;
                if limit < target {
                    target = limit;
                    self.current_limited = true;
                }
            }
        }
        if let Some(g) = self.generator.filter(|g| g.impedance_control && !self.paused) {
            // The largest power that keeps every voxel below the target
            // until the next adjustment. Each voxel heats at r_i per watt
            // (q_i(1 W)/ρc) and loses heat at the rate c_i seen since the
            // last adjustment (r_i·P_last − its observed warming):
            // T_i + Δt·(r_i·P − c_i) ≤ T_target.
            let ahead_s = (g.control_s / state.step_s).ceil().max(1.0) * state.step_s;
            let since_s = state.time_s - self.last_control_s;
            let seen = self.last_t.len() == state.temperature_c.len() && since_s > 0.0;
            // A minimum over the voxels, taken in parallel chunks (exact in
            // any order, so every thread count gives the same output).
            let (unit_power_w, last_output_w) = (self.unit_power_w, self.last_output_w);
            let last_t: &[f32] = if seen { &self.last_t } else { &[] };
            let allowed = state
                .temperature_c
                .par_chunks(CONTROL_CHUNK)
                .zip(self.unit_q.par_chunks(CONTROL_CHUNK))
                .zip(self.electrode.par_chunks(CONTROL_CHUNK))
                .enumerate()
                .map(|(c, ((ts, qs), es))| {
                    let mut allowed = f64::INFINITY;
                    for (k, ((&t, &q), &e)) in ts.iter().zip(qs).zip(es).enumerate() {
                        if e || q <= 0.0 {
                            continue;
                        }
                        let r = q / unit_power_w / g.heat_capacity_j_m3k;
                        let loss = match last_t.get(c * CONTROL_CHUNK + k) {
                            Some(&t0) => (r * last_output_w - (t - t0) as f64 / since_s).max(0.0),
                            None => 0.0,
                        };
                        let p = (g.target_c - t as f64 + ahead_s * loss) / (ahead_s * r);
                        allowed = allowed.min(p.max(0.0));
                    }
                    allowed
                })
                .reduce(|| f64::INFINITY, f64::min);
            self.last_t.clear();
            self.last_t.extend_from_slice(state.temperature_c);
            self.last_control_s = state.time_s;
            let factor = (allowed / self.output_w.max(1e-3)).min(1.25);
            let held = (self.output_w.max(1e-3) * factor).min(target);
            if held < target * (1.0 - 1e-9) {
                self.temperature_limited = true;
            }
            self.output_w = held;
            self.last_output_w = held;
            target = held;
        }
        self.delivered.push((state.time_s, target));
        let scale = target / self.unit_power_w;
        out.par_chunks_mut(CONTROL_CHUNK)
            .zip(self.unit_q.par_chunks(CONTROL_CHUNK))
            .for_each(|(o, q)| {
                for (o, v) in o.iter_mut().zip(q) {
                    *o = (v * scale) as f32;
                }
            });
        Ok(())
    }

    fn stale(&self, elapsed_s: f64, _water_changed: bool) -> bool {
        match self.generator {
            Some(g) if self.paused => elapsed_s >= g.rolloff_pause_s,
            Some(g) if g.impedance_control => elapsed_s >= g.control_s.min(self.interval_s),
            _ => elapsed_s >= self.interval_s,
        }
    }
}
