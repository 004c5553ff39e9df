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
//! σ_f h ΔV², equals the set power. The potential is solved again as the
//! conductivity follows temperature: every `rf.update_interval_s` of heating
//! while the impedance moves, less often (up to `rf.max_update_interval_s`)
//! once it has settled.

use rayon::prelude::*;

use crate::bioheat::solver::{HeatSource, SourceState};
use crate::error::{parameter_error, Result};

/// Electrical conductivity of tissue that has boiled dry, as a fraction
/// of its wet value: desiccated tissue is close to an insulator, which is what
/// makes the impedance rise; the 1 % is a liverkit assumption
/// (docs/formulas/bioheat.md, "Boiling").
pub const DRY_CONDUCTIVITY_FRAC: f64 = 0.01;

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
}

/// Bytes per voxel the potential solver adds while running.
pub const RF_BYTES_PER_VOXEL: u64 = 128;

const TOLERANCE: f64 = 1e-4;
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
        })
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
    ///
    /// The unknowns live on a lattice padded by one voxel (the grounded
    /// layer, V = 0); electrode voxels are held at zero in the search
    /// directions and their known potential enters the right-hand side, so
    /// every pass is free of branches. An iteration is three fused passes.
    fn solve(&mut self, sigma: &[f64]) -> Result<(f64, Vec<f64>)> {
        let [nx, ny, nz] = self.dims;
        let (px, py, pz) = (nx + 2, ny + 2, nz + 2);
        let (sx, sy, sz) = (1usize, px, px * py);
        let np = px * py * pz;
        let plane = px * py;
        let pad = |x: usize, y: usize, z: usize| (x + 1) + px * ((y + 1) + py * (z + 1));
        // Conductivity on the padded lattice: the grounded layer takes the
        // conductivity of the voxel next to it (see `face`).
        let mut sig = vec![0.0f64; np];
        let mut free = vec![0.0f64; np];
        for z in 0..nz {
            for y in 0..ny {
                for x in 0..nx {
                    let i = x + nx * (y + ny * z);
                    let j = pad(x, y, z);
                    sig[j] = sigma[i];
                    free[j] = if self.electrode[i] { 0.0 } else { 1.0 };
                }
            }
        }
        let inside = |j: usize| {
            let (x, y, z) = (j % px, (j / px) % py, j / plane);
            x >= 1 && x <= nx && y >= 1 && y <= ny && z >= 1 && z <= nz
        };
        // Face conductance between j and j + stride: harmonic mean inside,
        // the inner voxel's own conductivity towards the grounded layer.
        let face = |j: usize, k: usize| -> f64 {
            match (inside(j), inside(k)) {
                (true, true) => 2.0 * sig[j] * sig[k] / (sig[j] + sig[k]),
                (true, false) => sig[j],
                (false, true) => sig[k],
                (false, false) => 0.0,
            }
        };
        let mut f = [vec![0.0f64; np], vec![0.0f64; np], vec![0.0f64; np]];
        for (fa, stride) in f.iter_mut().zip([sx, sy, sz]) {
            for (j, g) in fa.iter_mut().enumerate().take(np - stride) {
                *g = face(j, j + stride);
            }
        }
        let [fx, fy, fz] = &f;
        let mut diag = vec![1.0f64; np];
        let mut b = vec![0.0f64; np];
        for z in 0..nz {
            for y in 0..ny {
                for x in 0..nx {
                    let j = pad(x, y, z);
                    if free[j] == 0.0 {
                        continue;
                    }
                    let nb = [
                        (fx[j], j + sx),
                        (fx[j - sx], j - sx),
                        (fy[j], j + sy),
                        (fy[j - sy], j - sy),
                        (fz[j], j + sz),
                        (fz[j - sz], j - sz),
                    ];
                    diag[j] = nb.iter().map(|(g, _)| g).sum();
                    // Electrode neighbours (inside, not free) hold V = 1.
                    b[j] = nb
                        .iter()
                        .filter(|(_, k)| inside(*k) && free[*k] == 0.0)
                        .map(|(g, _)| g)
                        .sum();
                }
            }
        }
        let inv_diag: Vec<f64> = diag.iter().zip(&free).map(|(d, f)| f / d).collect();
        // Unknowns: the previous potential on free voxels (warm start).
        let mut v = vec![0.0f64; np];
        for z in 0..nz {
            for y in 0..ny {
                for x in 0..nx {
                    let j = pad(x, y, z);
                    v[j] = free[j] * self.potential[x + nx * (y + ny * z)];
                }
            }
        }
        let apply = |p: &[f64], out: &mut [f64]| -> f64 {
            // out = A p on free voxels; returns p·Ap (sums per plane, in order).
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
        };
        let mut ap = vec![0.0f64; np];
        apply(&v, &mut ap);
        let mut r: Vec<f64> = b.iter().zip(&ap).map(|(b, a)| b - a).collect();
        let sum_planes =
            |parts: Vec<(f64, f64)>| parts.iter().fold((0.0, 0.0), |s, p| (s.0 + p.0, s.1 + p.1));
        let mut p: Vec<f64> = r.iter().zip(&inv_diag).map(|(r, d)| r * d).collect();
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
            let pap = apply(&p, &mut ap);
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
        self.iterations.push(iterations);
        // The potential everywhere (electrode at 1 V, grounded layer at 0).
        for z in 0..nz {
            for y in 0..ny {
                for x in 0..nx {
                    let j = pad(x, y, z);
                    if free[j] == 0.0 {
                        v[j] = 1.0;
                    }
                }
            }
        }
        // Dissipation σ_f h ΔV² of every face, half to each inside voxel; a
        // face to the grounded layer gives all of it to the voxel inside.
        let h = self.spacing_m;
        let mut qp = vec![0.0f64; np];
        let mut total = 0.0;
        for (axis, stride) in [sx, sy, sz].into_iter().enumerate() {
            for j in 0..np - stride {
                let g = f[axis][j];
                if g == 0.0 {
                    continue;
                }
                let k = j + stride;
                let dv = v[j] - v[k];
                let pw = g * h * dv * dv;
                total += pw;
                match (inside(j), inside(k)) {
                    (true, true) => {
                        qp[j] += 0.5 * pw;
                        qp[k] += 0.5 * pw;
                    }
                    (true, false) => qp[j] += pw,
                    _ => qp[k] += pw,
                }
            }
        }
        let voxel_m3 = h * h * h;
        let mut q = vec![0.0; nx * ny * nz];
        for z in 0..nz {
            for y in 0..ny {
                for x in 0..nx {
                    let i = x + nx * (y + ny * z);
                    let j = pad(x, y, z);
                    q[i] = qp[j] / voxel_m3;
                    self.potential[i] = v[j];
                }
            }
        }
        Ok((total, q))
    }
}

impl HeatSource for RfSource {
    fn power_w_m3(&mut self, state: &SourceState, out: &mut [f32]) -> Result<()> {
        let c = self.temp_coeff_per_c;
        // Current flows through the tissue's water: a voxel that has boiled
        // dry conducts DRY_CONDUCTIVITY_FRAC of what it did, which is what
        // makes the impedance rise.
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
        // Power control: V₀² = P / P(1 V).
        let scale = self.power_w / p1;
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
        for (o, v) in out.iter_mut().zip(&q) {
            *o = (v * scale) as f32;
        }
        Ok(())
    }

    fn stale(&self, elapsed_s: f64, _water_changed: bool) -> bool {
        elapsed_s >= self.interval_s
    }
}
