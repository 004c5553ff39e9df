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
//! and a requested step above it is refused. Temperatures are capped at the boiling point and the
//! energy the cap removes is reported.
//!
//! Damage is integrated with the temperature at the middle of each step
//! (midpoint rule): `Ω += Δt·A·exp(−Eₐ/(R·T))` [Chang2004], `CEM43 += Δt·R^(43−T)`
//! [Sapareto1984], both evaluated in f32 with a polynomial exponential
//! (relative error below 1e-5).
//!
//! Voxels are updated in parallel, each from the previous step only, and
//! every sum is taken in a fixed order: results are identical for any number
//! of threads.

use rayon::prelude::*;

use crate::bioheat::tissue::{DamageModel, Walls};
use crate::error::{parameter_error, Result};
use crate::progress::Progress;

/// The molar gas constant R, J/(mol·K).
pub const GAS_CONSTANT_J_MOLK: f64 = 8.314_462_618;

/// Kelvin at 0 °C.
pub const KELVIN_AT_0C: f64 = 273.15;

/// The most materials a lattice may hold (vessels with equal walls share one).
pub const MAX_MATERIALS: usize = 15;

/// Bytes of memory per lattice voxel while a simulation runs (temperature
/// twice, material, heating, damage, CEM43, maximum temperature, time to the
/// isotherm, plus the padding), used to refuse a region before allocating it.
pub const BYTES_PER_VOXEL: u64 = 30;

/// Values below this (K) are set to zero, which keeps far-field temperatures
/// out of the slow subnormal range of f32.
const TINY_K: f32 = 1e-12;

/// The most time steps one run takes: far beyond any ablation protocol
/// (a 30-minute run at a 0.1 s step is 18 000), so that a mistyped time
/// is refused instead of running for hours.
pub const MAX_STEPS: usize = 100_000;

/// Face neighbour weight of the 19-point stencil.
const W_FACE: f64 = 1.0 / 3.0;
/// Edge neighbour weight of the 19-point stencil.
const W_EDGE: f64 = 1.0 / 6.0;

/// The 18 neighbour offsets of a padded index (faces first), and their weights.
fn neighbours(px: usize, pxy: usize) -> ([isize; 18], [f64; 18]) {
    let (x, y, z) = (1isize, px as isize, pxy as isize);
    let o = [
        -x,
        x,
        -y,
        y,
        -z,
        z,
        -x - y,
        -x + y,
        x - y,
        x + y,
        -x - z,
        -x + z,
        x - z,
        x + z,
        -y - z,
        -y + z,
        y - z,
        y + z,
    ];
    let mut w = [W_EDGE; 18];
    w[..6].fill(W_FACE);
    (o, w)
}

/// Lanes processed together in the kernels (two AVX or four SSE vectors).
const LANES: usize = 8;

const IRREGULAR: u8 = 254;
const FIXED: u8 = 255;

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
    /// Temperature cap (boiling), °C.
    pub cap_c: f64,
    /// The isotherm whose arrival time is recorded, °C.
    pub isotherm_c: f64,
    /// Outer faces.
    pub walls: Walls,
    /// Damage models.
    pub damage: DamageModel,
    /// Damage Ω from which perfusion stops (1 in the model of docs/references.md;
    /// infinite to keep perfusion everywhere, as the closed-form oracles assume).
    pub perfusion_stop_omega: f64,
}

/// A heat source: the power density of every voxel, possibly depending on
/// the temperatures (radiofrequency heating).
pub trait HeatSource: Send {
    /// Writes the power density (W/m³) of every voxel into `out` for the
    /// temperatures `temperature_c` (both indexed like the lattice).
    ///
    /// # Errors
    /// Whatever the source cannot compute.
    fn power_w_m3(&mut self, temperature_c: &[f32], out: &mut [f32]) -> Result<()>;
    /// Whether the power must be recomputed after `elapsed_s` of heating
    /// since the last call.
    fn stale(&self, elapsed_s: f64) -> bool;
}

/// A power density that does not change.
#[derive(Debug, Clone)]
pub struct FixedSource(pub Vec<f32>);

impl HeatSource for FixedSource {
    fn power_w_m3(&mut self, _t: &[f32], out: &mut [f32]) -> Result<()> {
        out.copy_from_slice(&self.0);
        Ok(())
    }
    fn stale(&self, _elapsed_s: f64) -> bool {
        false
    }
}

/// Where the energy went, J.
#[derive(Debug, Clone, Copy, PartialEq, Default, serde::Serialize)]
pub struct EnergyBudget {
    /// Heat deposited by the applicator in tissue.
    pub deposited_j: f64,
    /// Heat stored in tissue at the end (above the initial state).
    pub stored_j: f64,
    /// Heat removed by the boiling cap.
    pub capped_j: f64,
    /// The rest: carried away by perfusion, vessels and the outer faces.
    pub carried_away_j: f64,
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
    /// Time steps taken (heating and cooling).
    pub steps: usize,
    /// Time step, s.
    pub dt_s: f64,
    /// The stability bound of the lattice, s.
    pub dt_bound_s: f64,
    /// Energy accounting.
    pub energy: EnergyBudget,
    /// Times the heating was recomputed (radiofrequency).
    pub source_updates: usize,
}

/// One run of equal-kind voxels along x.
#[derive(Debug, Clone, Copy)]
struct Seg {
    x0: u32,
    x1: u32,
    kind: u8,
}

/// The lattice prepared for stepping.
struct Plan {
    n: [usize; 3],
    p: [usize; 3],
    mat: Vec<u8>,
    segs: Vec<Seg>,
    row_start: Vec<u32>,
    /// Pair conductances per volume, W/(m³·K), `[a*16 + b]`.
    g: Vec<f64>,
    dt_bound_s: f64,
}

fn pair_table(l: &Lattice, walls: Walls) -> Vec<f64> {
    let h = l.spacing_mm * 1e-3;
    let n = l.materials.len();
    let mut g = vec![0.0; 16 * 16];
    for (a, ma) in l.materials.iter().enumerate() {
        if ma.wall_w_m2k.is_some() {
            continue;
        }
        let ka = ma.conductivity_w_mk;
        for (b, mb) in l.materials.iter().enumerate() {
            g[a * 16 + b] = match mb.wall_w_m2k {
                None => {
                    let kb = mb.conductivity_w_mk;
                    2.0 * ka * kb / ((ka + kb) * h * h)
                }
                Some(hw) => 1.0 / ((h / (2.0 * ka) + 1.0 / hw) * h),
            };
        }
        // The layer of voxels around the region is held at body temperature
        // (conducting like the voxel inside it), or insulates.
        g[a * 16 + n] = match walls {
            Walls::BodyTemperature => ka / (h * h),
            Walls::Insulated => 0.0,
        };
    }
    g
}

impl Plan {
    fn new(l: &Lattice, walls: Walls) -> Result<Plan> {
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
            let ok = m.heat_capacity_j_m3k.is_finite()
                && m.heat_capacity_j_m3k > 0.0
                && m.conductivity_w_mk.is_finite()
                && m.conductivity_w_mk > 0.0
                && m.perfusion_w_m3k.is_finite()
                && m.perfusion_w_m3k >= 0.0
                && m.wall_w_m2k.is_none_or(|h| h > 0.0);
            if !ok {
                return Err(parameter_error(
                    format!("material {}", m.name),
                    format!("{m:?}"),
                    "positive heat capacity and conductivity, perfusion ≥ 0, wall > 0",
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
        let p = [n[0] + 2, n[1] + 2, n[2] + 2];
        let mut mat = vec![outside; p[0] * p[1] * p[2]];
        for z in 0..n[2] {
            for y in 0..n[1] {
                let src = n[0] * (y + n[1] * z);
                let dst = 1 + p[0] * (y + 1 + p[1] * (z + 1));
                mat[dst..dst + n[0]].copy_from_slice(&l.material[src..src + n[0]]);
            }
        }
        let g = pair_table(l, walls);
        let (px, pxy) = (p[0], p[0] * p[1]);
        let (offs, wts) = neighbours(px, pxy);
        let is_sink: Vec<bool> = l.materials.iter().map(|m| m.wall_w_m2k.is_some()).collect();
        let mut segs = Vec::new();
        let mut row_start = Vec::with_capacity(n[1] * n[2] + 1);
        let mut worst = 0.0f64;
        for z in 0..n[2] {
            for y in 0..n[1] {
                row_start.push(segs.len() as u32);
                let base = 1 + px * (y + 1 + p[1] * (z + 1));
                let mut cur: Option<Seg> = None;
                for x in 0..n[0] {
                    let i = base + x;
                    let m = mat[i];
                    let nb = offs.map(|o| mat[(i as isize + o) as usize]);
                    let kind = if l.materials[m as usize].wall_w_m2k.is_some() {
                        FIXED
                    } else {
                        let mi = m as usize;
                        let rate: f64 = nb
                            .iter()
                            .zip(&wts)
                            .filter(|(&b, _)| (b as usize) < l.materials.len() && !is_sink[b as usize])
                            .map(|(&b, w)| w * g[mi * 16 + b as usize])
                            .sum();
                        worst = worst.max(rate / l.materials[mi].heat_capacity_j_m3k);
                        // Around a voxel of one material, the body-temperature
                        // layer outside the region is just a neighbour at Θ = 0.
                        let open = walls == Walls::BodyTemperature;
                        if nb.iter().all(|&b| b == m || (open && b == outside)) {
                            m
                        } else {
                            IRREGULAR
                        }
                    };
                    match &mut cur {
                        Some(s) if s.kind == kind => s.x1 = x as u32 + 1,
                        _ => {
                            if let Some(s) = cur.take() {
                                segs.push(s);
                            }
                            cur = Some(Seg {
                                x0: x as u32,
                                x1: x as u32 + 1,
                                kind,
                            });
                        }
                    }
                }
                if let Some(s) = cur {
                    segs.push(s);
                }
            }
        }
        row_start.push(segs.len() as u32);
        let dt_bound_s = if worst > 0.0 { 1.0 / worst } else { f64::INFINITY };
        Ok(Plan {
            n,
            p,
            mat,
            segs,
            row_start,
            g,
            dt_bound_s,
        })
    }
}

/// Per-step coefficients, f32, scaled by the time step.
struct Coeffs {
    /// Δt·w·G[a][b]/(ρc)_a between tissues (0 towards sinks), for faces
    /// (`[0..256]`) and edges (`[256..512]`).
    a: [f32; 512],
    /// The same towards sinks (0 between tissues).
    sink: [f32; 512],
    /// Δt·perfusion/(ρc).
    b: [f32; 16],
    /// Δt/(ρc).
    c: [f32; 16],
    heat_capacity: [f64; 16],
    cap_k: f32,
    stop_omega: f32,
}

/// Damage increments per step as exponentials of the midpoint temperature,
/// with constants arranged so that f32 keeps its precision:
///
/// ```text
/// ΔΩ    = exp(ln(Δt·A·e^(−Eₐ/(R T₀))) + (Eₐ/R)·(T − T₀)/(T·T₀))     T₀ = 310.15 K
/// ΔCEM  = exp(ln(Δt/60) + (43 − T)·ln R)                          R = 0.5 | 0.25
/// ```
struct DamageSteps {
    ln_omega_ref: f32,
    ea_over_r: f32,
    t_ref_c: f32,
    t_ref_k: f32,
    ln_cem_dt: f32,
    ln_r_above: f32,
    ln_r_below: f32,
}

impl DamageSteps {
    fn new(d: &DamageModel, dt_s: f64) -> DamageSteps {
        let t_ref_c = 37.0;
        DamageSteps {
            ln_omega_ref: (dt_s.ln() + d.arrhenius_a_1_s.ln()
                - d.arrhenius_ea_j_mol / (GAS_CONSTANT_J_MOLK * (t_ref_c + KELVIN_AT_0C)))
                as f32,
            ea_over_r: (d.arrhenius_ea_j_mol / GAS_CONSTANT_J_MOLK) as f32,
            t_ref_c: t_ref_c as f32,
            t_ref_k: (t_ref_c + KELVIN_AT_0C) as f32,
            ln_cem_dt: (dt_s / 60.0).ln() as f32,
            ln_r_above: d.cem43_r_above.ln() as f32,
            ln_r_below: d.cem43_r_below.ln() as f32,
        }
    }

    /// (ΔΩ, ΔCEM43 in minutes) for one step at temperature `t_c`.
    #[inline(always)]
    fn at(&self, t_c: f32) -> (f32, f32) {
        let t_k = t_c + KELVIN_AT_0C as f32;
        let x_omega = self.ln_omega_ref + self.ea_over_r * (t_c - self.t_ref_c) / (t_k * self.t_ref_k);
        let ln_r = if t_c >= 43.0 {
            self.ln_r_above
        } else {
            self.ln_r_below
        };
        let x_cem = self.ln_cem_dt + (43.0 - t_c) * ln_r;
        (exp_f32(x_omega), exp_f32(x_cem))
    }
}

/// e^x in f32 from arithmetic alone (so that loops around it vectorise):
/// x = n·ln 2 + r with |r| ≤ ln2/2, e^r by its Taylor polynomial to r⁶
/// (relative error < 2e-7), 2^n from the exponent bits. Arguments are
/// clamped to [−87, 88], where f32 is normal.
#[inline(always)]
pub(crate) fn exp_f32(x: f32) -> f32 {
    const LOG2E: f32 = std::f32::consts::LOG2_E;
    const LN2_HI: f32 = 0.693_145_75;
    const LN2_LO: f32 = 1.428_606_8e-6;
    const ROUND: f32 = 12_582_912.0; // 1.5 · 2^23: adding it rounds to an integer
    let x = x.clamp(-87.0, 88.0);
    let shifted = x * LOG2E + ROUND;
    let n = shifted - ROUND;
    let r = (x - n * LN2_HI) - n * LN2_LO;
    let p = 1.0
        + r * (1.0 + r * (0.5 + r * (1.0 / 6.0 + r * (1.0 / 24.0 + r * (1.0 / 120.0 + r * (1.0 / 720.0))))));
    // The low bits of `shifted` hold n (two's complement): integer
    // arithmetic on them builds 2^n without a float-to-int conversion.
    let n_bits = shifted.to_bits().wrapping_sub(ROUND.to_bits());
    let scale = f32::from_bits(n_bits.wrapping_add(127) << 23);
    p * scale
}

/// Arrhenius damage rate at a constant temperature, 1/s:
/// `dΩ/dt = A·exp(−Eₐ/(R·T))`, T in kelvin [Chang2004].
pub fn arrhenius_rate_1_s(d: &DamageModel, t_c: f64) -> f64 {
    let t_k = t_c + KELVIN_AT_0C;
    (d.arrhenius_a_1_s.ln() - d.arrhenius_ea_j_mol / (GAS_CONSTANT_J_MOLK * t_k)).exp()
}

/// CEM43 accumulation rate, equivalent minutes per second:
/// `R^(43 − T) / 60`, R = 0.5 at or above 43 °C, 0.25 below [Sapareto1984].
pub fn cem43_rate(d: &DamageModel, t_c: f64) -> f64 {
    let r = if t_c >= 43.0 {
        d.cem43_r_above
    } else {
        d.cem43_r_below
    };
    r.powf(43.0 - t_c) / 60.0
}

/// The stability bound of the explicit scheme on this lattice, s.
///
/// # Errors
/// `Parameter` for an invalid lattice.
pub fn stability_bound_s(lattice: &Lattice, walls: Walls) -> Result<f64> {
    Ok(Plan::new(lattice, walls)?.dt_bound_s)
}

/// Observables of the lattice, unpadded.
struct Observed {
    omega: Vec<f32>,
    cem: Vec<f32>,
    tmax: Vec<f32>,
    tiso: Vec<f32>,
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
    for (name, v, ok) in [
        ("heating_s", s.heating_s, s.heating_s > 0.0),
        ("cooldown_s", s.cooldown_s, s.cooldown_s >= 0.0),
        (
            "stability_safety_frac",
            s.stability_safety_frac,
            s.stability_safety_frac > 0.0 && s.stability_safety_frac <= 1.0,
        ),
        ("cap_c", s.cap_c, s.cap_c > s.initial_c && s.cap_c > s.blood_c),
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
    let plan = Plan::new(lattice, s.walls)?;
    let bound = plan.dt_bound_s;
    let (dt, heat_steps) = match s.dt_s {
        Some(dt) => {
            if !(dt.is_finite() && dt > 0.0) || dt > bound {
                return Err(parameter_error(
                    "dt_s",
                    dt,
                    format!("a time step in (0, {bound:.4}] s, the explicit stability bound of this lattice"),
                ));
            }
            let n = (s.heating_s / dt).round().max(1.0) as usize;
            (dt, n)
        }
        None => {
            let target = (bound * s.stability_safety_frac).min(s.heating_s);
            let n = (s.heating_s / target).ceil().max(1.0) as usize;
            (s.heating_s / n as f64, n)
        }
    };
    let cool_steps = (s.cooldown_s / dt).round() as usize;
    let steps = heat_steps + cool_steps;
    if steps > MAX_STEPS {
        return Err(parameter_error(
            "time_s",
            s.heating_s,
            format!(
                "a run of at most {MAX_STEPS} time steps ({:.0} s of heating at this lattice's {dt:.4} s step)",
                MAX_STEPS as f64 * dt - s.cooldown_s
            ),
        ));
    }

    let [nx, ny, nz] = plan.n;
    let [px, py, _] = plan.p;
    let pxy = px * py;
    let count = nx * ny * nz;
    let h_m = lattice.spacing_mm * 1e-3;
    let voxel_m3 = h_m * h_m * h_m;

    let nm = lattice.materials.len();
    let mut co = Coeffs {
        a: [0.0; 512],
        sink: [0.0; 512],
        b: [0.0; 16],
        c: [0.0; 16],
        heat_capacity: [0.0; 16],
        cap_k: (s.cap_c - s.blood_c) as f32,
        stop_omega: if s.perfusion_stop_omega.is_finite() {
            s.perfusion_stop_omega as f32
        } else {
            f32::INFINITY
        },
    };
    for (m, mat) in lattice.materials.iter().enumerate() {
        let rc = mat.heat_capacity_j_m3k;
        co.heat_capacity[m] = rc;
        co.b[m] = (dt * mat.perfusion_w_m3k / rc) as f32;
        co.c[m] = (dt / rc) as f32;
        for b in 0..=nm {
            let to_sink = b == nm || lattice.materials[b].wall_w_m2k.is_some();
            let table = if to_sink { &mut co.sink } else { &mut co.a };
            table[m * 16 + b] = (W_FACE * dt * plan.g[m * 16 + b] / rc) as f32;
            table[256 + m * 16 + b] = (W_EDGE * dt * plan.g[m * 16 + b] / rc) as f32;
        }
    }
    let table = DamageSteps::new(&s.damage, dt);

    // Temperatures (Θ = T − T_b), padded: the outer layer and vessel voxels stay 0.
    let theta0 = (s.initial_c - s.blood_c) as f32;
    let mut a = vec![0.0f32; plan.mat.len()];
    for (i, v) in a.iter_mut().enumerate() {
        let m = plan.mat[i] as usize;
        if m < nm && lattice.materials[m].wall_w_m2k.is_none() {
            *v = theta0;
        }
    }
    let mut b = a.clone();
    let initial_j: f64 = stored_energy(&a, &plan, lattice, voxel_m3);
    let mut obs = Observed {
        omega: vec![0.0; count],
        cem: vec![0.0; count],
        tmax: vec![s.initial_c as f32; count],
        tiso: vec![-1.0; count],
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
    unpad(&a, &plan, s.blood_c as f32, &mut temps);
    source.power_w_m3(&temps, &mut q)?;
    let mut updates = 1usize;
    let mut q_tissue_w = tissue_power(&q, lattice, voxel_m3);
    let mut last_update_step = 0usize;
    let mut deposited = 0.0f64;
    let mut capped = 0.0f64;
    let zero_q = vec![0.0f32; count];

    let report_every = (steps / 200).max(1);
    progress.start("heating", steps as u64);
    for step in 0..steps {
        let heating = step < heat_steps;
        if heating && step > last_update_step {
            let elapsed = (step - last_update_step) as f64 * dt;
            if source.stale(elapsed) {
                unpad(&a, &plan, s.blood_c as f32, &mut temps);
                source.power_w_m3(&temps, &mut q)?;
                q_tissue_w = tissue_power(&q, lattice, voxel_m3);
                updates += 1;
                last_update_step = step;
            }
        }
        let qs: &[f32] = if heating { &q } else { &zero_q };
        if heating {
            deposited += q_tissue_w * dt;
        }
        let t_old = step as f64 * dt;
        capped += step_once(&plan, &co, &table, &a, &mut b, &mut obs, qs, s, t_old, dt);
        std::mem::swap(&mut a, &mut b);
        if (step + 1) % report_every == 0 {
            progress.advance(report_every as u64);
        }
    }
    progress.finish();
    let _ = pxy;

    let mut final_c = vec![0.0f32; count];
    unpad(&a, &plan, s.blood_c as f32, &mut final_c);
    let stored = stored_energy(&a, &plan, lattice, voxel_m3) - initial_j;
    let capped_j = capped * voxel_m3;
    Ok(Fields {
        tmax_c: obs.tmax,
        time_to_isotherm_s: obs.tiso,
        damage_omega: obs.omega,
        cem43_min: obs.cem,
        final_c,
        steps,
        dt_s: dt,
        dt_bound_s: bound,
        energy: EnergyBudget {
            deposited_j: deposited,
            stored_j: stored,
            capped_j,
            carried_away_j: deposited - stored - capped_j,
        },
        source_updates: updates,
    })
}

fn tissue_power(q: &[f32], l: &Lattice, voxel_m3: f64) -> f64 {
    q.chunks(4096)
        .zip(l.material.chunks(4096))
        .map(|(qc, mc)| {
            qc.iter()
                .zip(mc)
                .filter(|(_, &m)| l.materials[m as usize].wall_w_m2k.is_none())
                .map(|(&v, _)| v as f64)
                .sum::<f64>()
        })
        .sum::<f64>()
        * voxel_m3
}

fn stored_energy(theta: &[f32], plan: &Plan, l: &Lattice, voxel_m3: f64) -> f64 {
    let nm = l.materials.len();
    theta
        .chunks(4096)
        .zip(plan.mat.chunks(4096))
        .map(|(tc, mc)| {
            tc.iter()
                .zip(mc)
                .filter(|(_, &m)| (m as usize) < nm)
                .map(|(&t, &m)| t as f64 * l.materials[m as usize].heat_capacity_j_m3k)
                .sum::<f64>()
        })
        .sum::<f64>()
        * voxel_m3
}

fn unpad(theta: &[f32], plan: &Plan, blood_c: f32, out: &mut [f32]) {
    let [nx, ny, nz] = plan.n;
    let [px, py, _] = plan.p;
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

/// One time step from `src` into `dst`; returns Σ ρc·(excess over the cap) in J/m³.
#[allow(clippy::too_many_arguments)]
fn step_once(
    plan: &Plan,
    co: &Coeffs,
    table: &DamageSteps,
    src: &[f32],
    dst: &mut [f32],
    obs: &mut Observed,
    q: &[f32],
    s: &RunSettings,
    t_old_s: f64,
    dt_s: f64,
) -> f64 {
    let [nx, ny, nz] = plan.n;
    let [px, py, _] = plan.p;
    let pxy = px * py;
    let nxy = nx * ny;
    let interior = &mut dst[pxy..pxy * (nz + 1)];
    let blood = s.blood_c as f32;
    let iso = s.isotherm_c as f32;
    let per_plane: Vec<f64> = (
        interior.par_chunks_mut(pxy),
        obs.omega.par_chunks_mut(nxy),
        obs.cem.par_chunks_mut(nxy),
        obs.tmax.par_chunks_mut(nxy),
        obs.tiso.par_chunks_mut(nxy),
        q.par_chunks(nxy),
    )
        .into_par_iter()
        .enumerate()
        .map(|(z, (plane, omega, cem, tmax, tiso, qz))| {
            let mut capped = 0.0f64;
            let gz = (z + 1) * pxy;
            for y in 0..ny {
                let r = y + ny * z;
                let row = (y + 1) * px + 1;
                let u = y * nx;
                let segs = &plan.segs[plan.row_start[r] as usize..plan.row_start[r + 1] as usize];
                for sg in segs {
                    let (x0, x1) = (sg.x0 as usize, sg.x1 as usize);
                    let len = x1 - x0;
                    let pi = row + x0;
                    let gi = gz + pi;
                    let qq = &qz[u + x0..u + x1];
                    let om = &omega[u + x0..u + x1];
                    let out = &mut plane[pi..pi + len];
                    match sg.kind {
                        FIXED => {}
                        IRREGULAR => {
                            capped += irregular(plan, co, src, gi, qq, om, out);
                        }
                        m => {
                            capped += regular(co, m as usize, src, gi, px, pxy, qq, om, out);
                        }
                    }
                }
                // Damage, maximum and arrival time over the whole row.
                observe(
                    table,
                    blood,
                    iso,
                    t_old_s,
                    dt_s,
                    &src[gz + row..gz + row + nx],
                    &plane[row..row + nx],
                    &mut omega[u..u + nx],
                    &mut cem[u..u + nx],
                    &mut tmax[u..u + nx],
                    &mut tiso[u..u + nx],
                );
            }
            capped
        })
        .collect();
    per_plane.iter().sum()
}

/// Damage, CEM43, maximum temperature and arrival time of the isotherm for
/// one row, from the temperatures before (`old`) and after (`new`) the step.
#[allow(clippy::too_many_arguments)]
#[inline(always)]
fn observe_body(
    table: &DamageSteps,
    blood: f32,
    iso: f32,
    t_old_s: f64,
    dt_s: f64,
    old: &[f32],
    new: &[f32],
    omega: &mut [f32],
    cem: &mut [f32],
    tmax: &mut [f32],
    tiso: &mut [f32],
) {
    let n = new.len();
    let (old, omega, cem, tmax, tiso) = (
        &old[..n],
        &mut omega[..n],
        &mut cem[..n],
        &mut tmax[..n],
        &mut tiso[..n],
    );
    let (t_old_s, dt_s) = (t_old_s as f32, dt_s as f32);
    macro_rules! one {
        ($t0:expr, $t1:expr, $om:expr, $ce:expr, $tm:expr) => {{
            let t1 = blood + $t1;
            let (d_om, d_cem) = table.at(blood + 0.5 * ($t0 + $t1));
            $om += d_om;
            $ce += d_cem;
            $tm = $tm.max(t1);
            // Reaching the isotherm for the first time is rare: flag it here
            // and time it outside the vectorised loop.
            t1 >= iso
        }};
    }
    let arrival = |t0: f32, t1: f32| {
        let (t0, t1) = (blood + t0, blood + t1);
        let f = if t1 > t0 {
            ((iso - t0) / (t1 - t0)).clamp(0.0, 1.0)
        } else {
            0.0
        };
        t_old_s + dt_s * f
    };
    let whole = n / LANES * LANES;
    for base in (0..whole).step_by(LANES) {
        let (a, b) = (lane(old, base), lane(new, base));
        let (mut om, mut ce, mut tm, ti) = (
            lane(omega, base),
            lane(cem, base),
            lane(tmax, base),
            lane(tiso, base),
        );
        let mut hit = [false; LANES];
        for l in 0..LANES {
            hit[l] = one!(a[l], b[l], om[l], ce[l], tm[l]) & (ti[l] < 0.0);
        }
        omega[base..base + LANES].copy_from_slice(&om);
        cem[base..base + LANES].copy_from_slice(&ce);
        tmax[base..base + LANES].copy_from_slice(&tm);
        if hit.iter().any(|&h| h) {
            for l in 0..LANES {
                if hit[l] {
                    tiso[base + l] = arrival(a[l], b[l]);
                }
            }
        }
    }
    for k in whole..n {
        if one!(old[k], new[k], omega[k], cem[k], tmax[k]) & (tiso[k] < 0.0) {
            tiso[k] = arrival(old[k], new[k]);
        }
    }
}

/// Set to run the baseline kernels even where AVX2 is available (tests
/// compare the two bit for bit).
static BASELINE_ONLY: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// Makes every later run use the baseline (SSE2) kernels even on a processor
/// with AVX2, or lifts that. For tests that check the two kernels give the
/// same numbers; results never depend on it.
#[doc(hidden)]
pub fn force_baseline_kernels(on: bool) {
    BASELINE_ONLY.store(on, std::sync::atomic::Ordering::SeqCst);
}

/// Whether the AVX2 kernels run on this processor (and are not switched off).
#[doc(hidden)]
pub fn avx2_kernels_in_use() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        !BASELINE_ONLY.load(std::sync::atomic::Ordering::Relaxed)
            && std::arch::is_x86_feature_detected!("avx2")
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        false
    }
}

/// Defines `$name` to run `$body` compiled for AVX2 when the processor has
/// it (twice the lanes of the SSE2 baseline), and as compiled otherwise. The
/// two produce the same numbers: neither contracts products into FMAs
/// (`tests/bioheat.rs` compares them bit for bit).
macro_rules! with_avx2 {
    ($(#[$m:meta])* fn $name:ident($($arg:ident: $ty:ty),* $(,)?) -> $ret:ty => $body:ident) => {
        $(#[$m])*
        #[inline(never)]
        fn $name($($arg: $ty),*) -> $ret {
            #[cfg(target_arch = "x86_64")]
            {
                #[target_feature(enable = "avx2")]
                #[allow(clippy::too_many_arguments)]
                unsafe fn avx2($($arg: $ty),*) -> $ret {
                    $body($($arg),*)
                }
                if avx2_kernels_in_use() {
                    // SAFETY: the processor supports AVX2, checked just above
                    // (`avx2_kernels_in_use` asks the processor).
                    return unsafe { avx2($($arg),*) };
                }
            }
            $body($($arg),*)
        }
    };
}

with_avx2! {
    #[allow(clippy::too_many_arguments)]
    fn regular(
        co: &Coeffs,
        m: usize,
        src: &[f32],
        gi: usize,
        px: usize,
        pxy: usize,
        q: &[f32],
        omega: &[f32],
        out: &mut [f32],
    ) -> f64 => regular_body
}

with_avx2! {
    #[allow(clippy::too_many_arguments)]
    fn observe(
        table: &DamageSteps,
        blood: f32,
        iso: f32,
        t_old_s: f64,
        dt_s: f64,
        old: &[f32],
        new: &[f32],
        omega: &mut [f32],
        cem: &mut [f32],
        tmax: &mut [f32],
        tiso: &mut [f32],
    ) -> () => observe_body
}

/// `LANES` values of `s` from `base` (zeros past its end, which the callers
/// never reach).
#[inline(always)]
fn lane(s: &[f32], base: usize) -> [f32; LANES] {
    let mut out = [0.0f32; LANES];
    if let Some(v) = s.get(base..base + LANES) {
        out.copy_from_slice(v);
    }
    out
}

/// Uniform material m around every voxel of the run.
#[allow(clippy::too_many_arguments)]
#[inline(always)]
fn regular_body(
    co: &Coeffs,
    m: usize,
    src: &[f32],
    gi: usize,
    px: usize,
    pxy: usize,
    q: &[f32],
    omega: &[f32],
    out: &mut [f32],
) -> f64 {
    let len = out.len();
    let af = co.a[m * 16 + m];
    let ae = co.a[256 + m * 16 + m];
    let centre = 6.0 * af + 12.0 * ae;
    let inv_alive = 1.0 / (1.0 + co.b[m]);
    let c = co.c[m];
    let cap = co.cap_k;
    let stop = co.stop_omega;
    let at = |o: isize| {
        let s0 = (gi as isize + o) as usize;
        &src[s0..s0 + len]
    };
    let (x, y, z) = (1isize, px as isize, pxy as isize);
    let ctr = at(0);
    let (f0, f1, f2, f3, f4, f5) = (at(-x), at(x), at(-y), at(y), at(-z), at(z));
    let (e0, e1, e2, e3) = (at(-x - y), at(-x + y), at(x - y), at(x + y));
    let (e4, e5, e6, e7) = (at(-x - z), at(-x + z), at(x - z), at(x + z));
    let (e8, e9, e10, e11) = (at(-y - z), at(-y + z), at(y - z), at(y + z));
    let q = &q[..len];
    let omega = &omega[..len];
    // Lanes of 8 with per-lane sums of the excess over the cap: a float sum
    // across lanes would keep the compiler from vectorising the loop, and
    // fixed-size arrays free it from bounds checks.
    macro_rules! update {
        ($t:expr, $faces:expr, $edges:expr, $om:expr, $q:expr, $acc:expr) => {{
            let t = $t;
            let gain = if $om < stop { inv_alive } else { 1.0 };
            let v = (t + (af * $faces + ae * $edges - centre * t) + c * $q) * gain;
            $acc += (v - cap).max(0.0);
            let v = v.min(cap);
            if v.abs() < TINY_K {
                0.0
            } else {
                v
            }
        }};
    }
    let mut lanes = [0.0f32; LANES];
    let whole = len / LANES * LANES;
    for base in (0..whole).step_by(LANES) {
        let l8 = |s: &[f32]| -> [f32; LANES] { lane(s, base) };
        let (t, om, qq) = (l8(ctr), l8(omega), l8(q));
        let (a0, a1, a2, a3, a4, a5) = (l8(f0), l8(f1), l8(f2), l8(f3), l8(f4), l8(f5));
        let (b0, b1, b2, b3) = (l8(e0), l8(e1), l8(e2), l8(e3));
        let (b4, b5, b6, b7) = (l8(e4), l8(e5), l8(e6), l8(e7));
        let (b8, b9, b10, b11) = (l8(e8), l8(e9), l8(e10), l8(e11));
        let mut o = [0.0f32; LANES];
        for l in 0..LANES {
            let faces = ((a0[l] + a1[l]) + (a2[l] + a3[l])) + (a4[l] + a5[l]);
            let edges = (((b0[l] + b1[l]) + (b2[l] + b3[l])) + ((b4[l] + b5[l]) + (b6[l] + b7[l])))
                + ((b8[l] + b9[l]) + (b10[l] + b11[l]));
            o[l] = update!(t[l], faces, edges, om[l], qq[l], lanes[l]);
        }
        out[base..base + LANES].copy_from_slice(&o);
    }
    let mut excess: f32 = lanes.iter().sum();
    for k in whole..len {
        let faces = ((f0[k] + f1[k]) + (f2[k] + f3[k])) + (f4[k] + f5[k]);
        let edges = (((e0[k] + e1[k]) + (e2[k] + e3[k])) + ((e4[k] + e5[k]) + (e6[k] + e7[k])))
            + ((e8[k] + e9[k]) + (e10[k] + e11[k]));
        out[k] = update!(ctr[k], faces, edges, omega[k], q[k], excess);
    }
    excess as f64 * co.heat_capacity[m]
}

/// Mixed materials around the voxels of the run: conductances per neighbour.
#[inline(never)]
fn irregular(
    plan: &Plan,
    co: &Coeffs,
    src: &[f32],
    gi: usize,
    q: &[f32],
    omega: &[f32],
    out: &mut [f32],
) -> f64 {
    let px = plan.p[0];
    let pxy = px * plan.p[1];
    let (offs, _) = neighbours(px, pxy);
    let mat = &plan.mat;
    let cap = co.cap_k;
    let mut excess = 0.0f64;
    for k in 0..out.len() {
        let i = gi + k;
        let m = mat[i] as usize;
        let t = src[i];
        let mut flux = 0.0f32;
        let mut sink = 0.0f32;
        for (n, &o) in offs.iter().enumerate() {
            let j = (i as isize + o) as usize;
            let at = (if n < 6 { 0 } else { 256 }) + m * 16 + (mat[j] & 15) as usize;
            flux += co.a[at] * (src[j] - t);
            sink += co.sink[at];
        }
        let perf = if omega[k] < co.stop_omega { co.b[m] } else { 0.0 };
        let v = (t + flux + co.c[m] * q[k]) / (1.0 + sink + perf);
        if v > cap {
            excess += (v - cap) as f64 * co.heat_capacity[m];
        }
        let v = v.min(cap);
        out[k] = if v.abs() < TINY_K { 0.0 } else { v };
    }
    excess
}
