//! Applicators: where the needle is, and the heat it deposits.
//!
//! * Microwave (2.45 GHz): an analytic pattern of specific absorption along
//!   the antenna, calibrated to a reference zone (see `protocols`).
//! * Radiofrequency: the electric potential of the electrode (`rf` module).

use serde::{Deserialize, Serialize};

use crate::bioheat::solver::exp_f32;
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

impl ApplicatorKind {
    /// The name used on the command line and in JSON (`mwa`, `rfa`).
    pub fn name(self) -> &'static str {
        match self {
            ApplicatorKind::Mwa => "mwa",
            ApplicatorKind::Rfa => "rfa",
        }
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

/// The microwave power density on a lattice, W/m³, summing to
/// `efficiency_frac · power_w` over the lattice.
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
/// on the lattice, so the power deposited in the simulated region is exactly
/// the power delivered; vessel voxels take their share away with the blood.
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
    let mut sources: Vec<([f32; 3], f32)> = Vec::with_capacity(n_src);
    for k in 0..n_src {
        let s = k as f64 * SOURCE_STEP_MM;
        let g = (-0.5 * ((s - s0) / w).powi(2)).exp();
        let p = pose.behind(s);
        sources.push(([p[0] as f32, p[1] as f32, p[2] as f32], g as f32));
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
    let pattern = |p: [f64; 3]| -> f32 {
        let p = [p[0] as f32, p[1] as f32, p[2] as f32];
        let mut v = 0.0f32;
        for (a, g) in &sources {
            let d = [p[0] - a[0], p[1] - a[1], p[2] - a[2]];
            let r2 = d[0] * d[0] + d[1] * d[1] + d[2] * d[2];
            v += g * exp_f32(-mu_mm * r2.sqrt()) / (r2 + a2);
        }
        v
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
    // Sums per plane, added in order: the same total for any thread count.
    let planes: Vec<f64> = q
        .par_chunks(nx * ny)
        .map(|c| c.iter().map(|&v| v as f64).sum::<f64>())
        .collect();
    let total: f64 = planes.iter().sum();
    let voxel_m3 = (h * 1e-3).powi(3);
    let deposited = model.efficiency_frac * power_w;
    let scale = if total > 0.0 {
        deposited / (total * voxel_m3)
    } else {
        0.0
    };
    q.par_iter_mut().for_each(|v| *v = (*v as f64 * scale) as f32);
    Ok(q)
}
