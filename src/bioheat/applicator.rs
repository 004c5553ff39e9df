//! Applicators: where the needle is, and the heat it deposits.
//!
//! * Microwave (2.45 GHz): an analytic pattern of specific absorption along
//!   the antenna, calibrated to a reference zone (see `protocols`).
//! * Radiofrequency: the electric potential of the electrode (`rf` module).

use serde::{Deserialize, Serialize};

use crate::bioheat::kernel::exp_f32;
use crate::bioheat::solver::{HeatSource, SourceState};
use crate::bioheat::tissue::MicrowaveModel;
use crate::error::{parameter_error, Result};
use crate::grid::Grid;

/// The kind of applicator.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ApplicatorKind {
    /// Microwave ablation at 2.45 GHz.
    Mwa,
    /// Radiofrequency ablation.
    Rfa,
}

/// The names used on the command line, in Python and in JSON (`mwa`, `rfa`).
impl crate::vocabulary::Named for ApplicatorKind {
    const PARAMETER: &'static str = "applicator";
    const NAMES: &'static [(&'static str, Self)] =
        &[("mwa", ApplicatorKind::Mwa), ("rfa", ApplicatorKind::Rfa)];
}
crate::vocabulary::from_str_by_name!(ApplicatorKind);

impl ApplicatorKind {
    /// `mwa` or `rfa` (from [`crate::vocabulary::Named::NAMES`]).
    pub fn name(self) -> &'static str {
        crate::vocabulary::Named::name(self)
    }
}

/// Where the needle is: its tip and the direction it points (from the skin
/// towards the tip), world RAS+ mm.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Pose {
    /// Tip, world mm.
    pub tip_mm: [f64; 3],
    /// Unit vector along the needle, pointing from the entry to the tip.
    pub direction: [f64; 3],
}

impl Pose {
    /// A pose from the tip and a direction (normalised here).
    ///
    /// # Errors
    /// `Parameter` (`direction`) for a zero-length or non-finite direction,
    /// `Parameter` (`tip`) for a non-finite tip.
    pub fn from_direction(tip_mm: [f64; 3], direction: [f64; 3]) -> Result<Pose> {
        if !tip_mm.iter().all(|v| v.is_finite()) {
            return Err(parameter_error(
                "tip",
                fmt3(tip_mm),
                "three finite coordinates in mm",
            ));
        }
        let n = norm(direction);
        if !(n.is_finite() && n > 1e-9) {
            return Err(parameter_error(
                "direction",
                fmt3(direction),
                "a direction of non-zero length (DX,DY,DZ)",
            ));
        }
        Ok(Pose {
            tip_mm,
            direction: direction.map(|v| v / n),
        })
    }

    /// A pose from the tip and the entry point (the needle runs from entry to tip).
    ///
    /// # Errors
    /// `Parameter` (`entry`) when the entry coincides with the tip.
    pub fn from_entry(tip_mm: [f64; 3], entry_mm: [f64; 3]) -> Result<Pose> {
        if !entry_mm.iter().all(|v| v.is_finite()) {
            return Err(parameter_error(
                "entry",
                fmt3(entry_mm),
                "three finite coordinates in mm",
            ));
        }
        let d = [
            tip_mm[0] - entry_mm[0],
            tip_mm[1] - entry_mm[1],
            tip_mm[2] - entry_mm[2],
        ];
        if norm(d) < 1e-6 {
            return Err(parameter_error(
                "entry",
                fmt3(entry_mm),
                "an entry point away from the tip",
            ));
        }
        Pose::from_direction(tip_mm, d)
    }

    /// The point `s_mm` behind the tip along the shaft.
    pub fn behind(&self, s_mm: f64) -> [f64; 3] {
        [
            self.tip_mm[0] - s_mm * self.direction[0],
            self.tip_mm[1] - s_mm * self.direction[1],
            self.tip_mm[2] - s_mm * self.direction[2],
        ]
    }

    /// Signed distance behind the tip (positive towards the shaft) and
    /// distance from the axis of a point, mm.
    pub fn axial_radial(&self, p: [f64; 3]) -> (f64, f64) {
        let v = [
            self.tip_mm[0] - p[0],
            self.tip_mm[1] - p[1],
            self.tip_mm[2] - p[2],
        ];
        let s = v[0] * self.direction[0] + v[1] * self.direction[1] + v[2] * self.direction[2];
        let r2 = (v[0] * v[0] + v[1] * v[1] + v[2] * v[2] - s * s).max(0.0);
        (s, r2.sqrt())
    }
}

pub(crate) fn norm(v: [f64; 3]) -> f64 {
    (v[0] * v[0] + v[1] * v[1] + v[2] * v[2]).sqrt()
}

pub(crate) fn fmt3(v: [f64; 3]) -> String {
    format!("{},{},{}", v[0], v[1], v[2])
}

/// Power attenuation coefficient of a plane wave in tissue, 1/m: twice the
/// field attenuation
///
/// ```text
/// α = ω √(μ₀ε₀ε_r / 2) · √( √(1 + (σ/(ω ε₀ ε_r))²) − 1 )
/// ```
///
/// At 2.45 GHz in liver (ε_r = 43.0, σ = 1.69 S/m [Ji2011]) α = 48 Np/m:
/// the power falls by e every 10.4 mm.
pub fn power_attenuation_1_m(m: &MicrowaveModel) -> f64 {
    const EPS0: f64 = 8.854_187_812_8e-12;
    const MU0: f64 = 1.256_637_062_12e-6;
    let w = 2.0 * std::f64::consts::PI * m.frequency_hz;
    let eps = EPS0 * m.permittivity_rel;
    let loss = m.conductivity_s_m / (w * eps);
    let alpha = w * (MU0 * eps / 2.0).sqrt() * ((1.0 + loss * loss).sqrt() - 1.0).sqrt();
    2.0 * alpha
}

/// Spacing of the source points along the antenna, mm.
const SOURCE_STEP_MM: f64 = 0.25;

/// Step of the pattern table along the antenna, mm.
const TABLE_DS_MM: f64 = 0.2;
/// Step of the pattern table across it: fine near the antenna (where the
/// pattern varies on the scale of its radius), coarse beyond, mm.
const TABLE_DRHO_NEAR_MM: f64 = 0.05;
const TABLE_DRHO_FAR_MM: f64 = 0.2;
/// Where the fine steps end, mm from the axis.
const TABLE_NEAR_MM: f64 = 4.0;

/// The microwave pattern tabulated on (s, ρ): rows along the antenna,
/// columns across it (fine up to [`TABLE_NEAR_MM`], coarse beyond).
struct PatternTable {
    s0: f64,
    ns: usize,
    near_cols: usize,
    cols: usize,
    values: Vec<f32>,
}

impl PatternTable {
    fn rho_of(&self, j: usize) -> f64 {
        if j < self.near_cols {
            j as f64 * TABLE_DRHO_NEAR_MM
        } else {
            TABLE_NEAR_MM + (j - self.near_cols) as f64 * TABLE_DRHO_FAR_MM
        }
    }

    fn new(sources: &[(f32, f32)], mu_mm: f32, a2: f32, s_range: [f64; 2], rho_max: f64) -> PatternTable {
        use rayon::prelude::*;
        let s0 = s_range[0] - TABLE_DS_MM;
        let ns = ((s_range[1] + TABLE_DS_MM - s0) / TABLE_DS_MM).ceil() as usize + 1;
        let near_cols = (TABLE_NEAR_MM / TABLE_DRHO_NEAR_MM).round() as usize;
        let far = ((rho_max - TABLE_NEAR_MM).max(0.0) / TABLE_DRHO_FAR_MM).ceil() as usize + 3;
        let cols = near_cols + far;
        let mut t = PatternTable {
            s0,
            ns,
            near_cols,
            cols,
            values: vec![0.0; ns * cols],
        };
        let rhos: Vec<f32> = (0..cols).map(|j| t.rho_of(j) as f32).collect();
        // Eight columns side by side, each summing the sources in order:
        // the sums vectorise and every value is what one column alone gives.
        const LANES: usize = 8;
        t.values.par_chunks_mut(cols).enumerate().for_each(|(i, row)| {
            let s = (s0 + i as f64 * TABLE_DS_MM) as f32;
            for (vs, rs) in row.chunks_mut(LANES).zip(rhos.chunks(LANES)) {
                let mut rho = [0.0f32; LANES];
                rho[..rs.len()].copy_from_slice(rs);
                let mut sum = [0.0f32; LANES];
                for &(sk, g) in sources {
                    for l in 0..LANES {
                        let r2 = (s - sk) * (s - sk) + rho[l] * rho[l];
                        sum[l] += g * exp_f32(-mu_mm * r2.sqrt()) / (r2 + a2);
                    }
                }
                vs.copy_from_slice(&sum[..vs.len()]);
            }
        });
        t
    }

    /// Bilinear interpolation at (s, ρ).
    fn at(&self, s: f64, rho: f64) -> f32 {
        let fs = ((s - self.s0) / TABLE_DS_MM).clamp(0.0, (self.ns - 1) as f64);
        let i = (fs as usize).min(self.ns - 2);
        let ws = fs - i as f64;
        let (j, wr) = if rho < TABLE_NEAR_MM {
            let f = rho / TABLE_DRHO_NEAR_MM;
            let j = (f as usize).min(self.near_cols - 1);
            (j, f - j as f64)
        } else {
            let f = self.near_cols as f64 + (rho - TABLE_NEAR_MM) / TABLE_DRHO_FAR_MM;
            let f = f.min((self.cols - 1) as f64);
            let j = (f as usize).min(self.cols - 2);
            (j, f - j as f64)
        };
        let v = |i: usize, j: usize| self.values[i * self.cols + j] as f64;
        let top = v(i, j) * (1.0 - wr) + v(i, j + 1) * wr;
        let bottom = v(i + 1, j) * (1.0 - wr) + v(i + 1, j + 1) * wr;
        (top * (1.0 - ws) + bottom * ws) as f32
    }
}

/// The microwave power density on a lattice, W/m³, of an antenna that
/// delivers `efficiency_frac · power_w` to the tissue around it.
///
/// The antenna radiates from a section behind the tip: point radiators every
/// 0.25 mm at s ≥ 0 behind the tip, weighted by a Gaussian of centre
/// `axial_centre_mm` and width `axial_width_mm`. Each deposits power as a
/// spherical wave in lossy tissue,
///
/// ```text
/// SAR(p) ∝ Σ_k g_k · exp(−μ r_k) / (r_k² + a²)      r_k = |p − a_k|
/// ```
///
/// (μ the power attenuation, a the antenna radius), whose total over all
/// space is the point's power: near a long antenna this is the cylindrical
/// exp(−μρ)/ρ, far from it the spherical exp(−μr)/r². Voxels within two
/// spacings of the antenna average 4³ sub-points. The pattern is normalised
/// over all space, so that the antenna delivers `efficiency_frac · power_w`
/// to an unbounded medium: the simulated region takes its share (97 % on
/// the sample at the default margin), the power density at a point does
/// not depend on how far the region reaches, and the small remainder warms
/// tissue beyond the region, far from the zone. Vessel voxels take their
/// share away with the blood.
///
/// # Errors
/// `Parameter` for a non-positive power.
pub fn microwave_power_density(
    grid: &Grid,
    pose: &Pose,
    power_w: f64,
    model: &MicrowaveModel,
) -> Result<Vec<f32>> {
    if !(power_w.is_finite() && power_w > 0.0) {
        return Err(parameter_error("power_w", power_w, "a positive power in W"));
    }
    let mu_mm = (power_attenuation_1_m(model) * 1e-3) as f32;
    let a2 = (model.antenna_radius_mm * model.antenna_radius_mm) as f32;
    let (s0, w) = (model.axial_centre_mm, model.axial_width_mm);
    let s_max = s0 + 4.0 * w;
    let n_src = (s_max / SOURCE_STEP_MM).ceil() as usize + 1;
    let mut sources: Vec<(f32, f32)> = Vec::with_capacity(n_src);
    for k in 0..n_src {
        let s = k as f64 * SOURCE_STEP_MM;
        let g = (-0.5 * ((s - s0) / w).powi(2)).exp();
        sources.push((s as f32, g as f32));
    }
    let total_g: f32 = sources.iter().map(|s| s.1).sum();
    sources.iter_mut().for_each(|s| s.1 /= total_g);

    let dims = grid.dims();
    let aff = grid.affine();
    let col = |c: usize| [aff[(0, c)], aff[(1, c)], aff[(2, c)]];
    let (cx, cy, cz) = (col(0), col(1), col(2));
    let origin = [aff[(0, 3)], aff[(1, 3)], aff[(2, 3)]];
    let h = grid.spacing_mm()[0];
    let near = 2.0 * h;
    // The pattern depends only on the position along the antenna (s, behind
    // the tip) and the distance from its axis (ρ): it is tabulated once on
    // (s, ρ) and read by bilinear interpolation.
    let mut s_range = [f64::INFINITY, f64::NEG_INFINITY];
    let mut rho_max = 0.0f64;
    for corner in 0..8 {
        let f = |bit: usize, n: usize| if corner & bit != 0 { n as f64 - 0.5 } else { -0.5 };
        let p = [
            origin[0] + f(1, dims[0]) * cx[0] + f(2, dims[1]) * cy[0] + f(4, dims[2]) * cz[0],
            origin[1] + f(1, dims[0]) * cx[1] + f(2, dims[1]) * cy[1] + f(4, dims[2]) * cz[1],
            origin[2] + f(1, dims[0]) * cx[2] + f(2, dims[1]) * cy[2] + f(4, dims[2]) * cz[2],
        ];
        let (s, r) = pose.axial_radial(p);
        s_range = [s_range[0].min(s), s_range[1].max(s)];
        rho_max = rho_max.max(r);
    }
    let table = PatternTable::new(&sources, mu_mm, a2, s_range, rho_max);
    let pattern = |p: [f64; 3]| -> f32 {
        let (s, r) = pose.axial_radial(p);
        table.at(s, r)
    };
    let (nx, ny, nz) = (dims[0], dims[1], dims[2]);
    let mut q = vec![0.0f32; nx * ny * nz];
    use rayon::prelude::*;
    q.par_chunks_mut(nx * ny).enumerate().for_each(|(z, plane)| {
        for y in 0..ny {
            for x in 0..nx {
                let at = |fx: f64, fy: f64, fz: f64| {
                    [
                        origin[0] + fx * cx[0] + fy * cy[0] + fz * cz[0],
                        origin[1] + fx * cx[1] + fy * cy[1] + fz * cz[1],
                        origin[2] + fx * cx[2] + fy * cy[2] + fz * cz[2],
                    ]
                };
                let p = at(x as f64, y as f64, z as f64);
                let (s, r) = pose.axial_radial(p);
                let close = r < near && s > -near && s < s_max + near;
                plane[x + nx * y] = if close {
                    let mut sum = 0.0f32;
                    for i in 0..4 {
                        for j in 0..4 {
                            for k in 0..4 {
                                let o = |n: usize| (n as f64 + 0.5) / 4.0 - 0.5;
                                sum += pattern(at(x as f64 + o(i), y as f64 + o(j), z as f64 + o(k)));
                            }
                        }
                    }
                    sum / 64.0
                } else {
                    pattern(p)
                };
            }
        }
    });
    // The pattern's total over all space, mm³ × (1/mm²): each radiator's is
    // 4π ∫ r² e^(−μr) / (r² + a²) dr and their weights sum to 1. Normalising
    // on it rather than on the lattice keeps the power density at a point
    // independent of how far the simulated region reaches.
    let whole_mm = 4.0 * std::f64::consts::PI * radial_integral_mm(mu_mm as f64, a2 as f64);
    let deposited = model.efficiency_frac * power_w;
    let scale = deposited / (whole_mm * 1e-9);
    q.par_iter_mut().for_each(|v| *v = (*v as f64 * scale) as f32);
    Ok(q)
}

/// ∫₀^∞ r² e^(−μr) / (r² + a²) dr in mm (μ in 1/mm, a² in mm²): one point
/// radiator's pattern summed over all space is 4π times this.
///
/// Written as 1/μ − a² ∫₀^∞ e^(−μr) / (r² + a²) dr: the first term is exact
/// and the second, a few a long, is integrated by Simpson's rule on
/// [0, 2000 a] (the rest of it is below e^(−2000 μa) / (2000 a)), so the
/// result holds for any μ > 0 and a > 0.
fn radial_integral_mm(mu: f64, a2: f64) -> f64 {
    let a = a2.sqrt();
    let r_max = 2000.0 * a;
    let n = 200_000usize;
    let h = r_max / n as f64;
    let f = |r: f64| (-mu * r).exp() / (r * r + a2);
    let mut sum = f(0.0) + f(r_max);
    for i in 1..n {
        sum += f(i as f64 * h) * if i % 2 == 1 { 4.0 } else { 2.0 };
    }
    1.0 / mu - a2 * sum * h / 3.0
}

/// Microwave heating of tissue that dries: the antenna's pattern
/// ([`microwave_power_density`]) weighted by how much of its water each
/// voxel still holds, and scaled back to the same total.
///
/// At 2.45 GHz tissue absorbs through its water: as liver dries near the
/// antenna its permittivity and conductivity fall steeply and the power
/// passes on to the wet tissue beyond [Ji2011]. Here the absorption of a
/// voxel falls linearly with its water, from 1 (all its water) to
/// `dry_absorption_frac` (dry), and the power it no longer absorbs goes to
/// the other voxels in proportion to what they absorb: the generator's
/// power is delivered all the same, and most of the excess lands where the
/// pattern is strongest, at the edge of the dry core.
#[derive(Debug, Clone)]
pub struct DryingMicrowave {
    base: Vec<f32>,
    total: f64,
    dry_absorption_frac: f32,
    interval_s: f64,
}

impl DryingMicrowave {
    /// The source from the wet-tissue pattern (W/m³), the absorption of dry
    /// tissue relative to wet and the time between updates (s).
    pub fn new(base: Vec<f32>, dry_absorption_frac: f64, interval_s: f64) -> DryingMicrowave {
        let total = base.iter().map(|&v| v as f64).sum();
        DryingMicrowave {
            base,
            total,
            dry_absorption_frac: dry_absorption_frac as f32,
            interval_s,
        }
    }
}

impl HeatSource for DryingMicrowave {
    fn power_w_m3(&mut self, state: &SourceState, out: &mut [f32]) -> Result<()> {
        use rayon::prelude::*;
        let f = self.dry_absorption_frac;
        out.par_iter_mut()
            .zip(&self.base)
            .zip(state.water_left_frac)
            .for_each(|((o, &b), &w)| *o = b * (f + (1.0 - f) * w));
        // Sums per chunk, added in order: the same total for any thread count.
        let parts: Vec<f64> = out
            .par_chunks(1 << 14)
            .map(|c| c.iter().map(|&v| v as f64).sum::<f64>())
            .collect();
        let now: f64 = parts.iter().sum();
        if now > 0.0 {
            let k = self.total / now;
            out.par_iter_mut().for_each(|v| *v = (*v as f64 * k) as f32);
        }
        Ok(())
    }

    fn stale(&self, elapsed_s: f64, water_changed: bool) -> bool {
        water_changed && elapsed_s >= self.interval_s
    }
}

#[cfg(test)]
mod tests {
    use super::radial_integral_mm;

    /// The integral by the trapezoidal rule straight from its definition.
    fn trapezoid(mu: f64, a2: f64) -> f64 {
        let (r_max, n) = (80.0 / mu, 4_000_000usize);
        let h = r_max / n as f64;
        let f = |r: f64| r * r * (-mu * r).exp() / (r * r + a2);
        (1..n).map(|i| f(i as f64 * h)).sum::<f64>() * h + 0.5 * h * (f(0.0) + f(r_max))
    }

    #[test]
    fn the_radial_integral_matches_its_definition_and_its_limit() {
        for (mu, a) in [(0.048, 1.0), (0.5, 0.3), (0.01, 2.0)] {
            let (got, want) = (radial_integral_mm(mu, a * a), trapezoid(mu, a * a));
            assert!((got / want - 1.0).abs() < 1e-6, "mu {mu}, a {a}: {got} vs {want}");
        }
        // For μa ≪ 1 it is 1/μ − πa/2 to first order in μa (the second
        // term is a² ∫ dr / (r² + a²)).
        let (mu, a) = (0.048, 1e-3);
        let got = radial_integral_mm(mu, a * a);
        let want = 1.0 / mu - std::f64::consts::FRAC_PI_2 * a;
        assert!((got - want).abs() < 1e-6, "{got} vs {want}");
    }
}
