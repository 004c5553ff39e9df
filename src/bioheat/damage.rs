//! Thermal damage: the Arrhenius integral [Chang2004] and the CEM43 dose
//! [Sapareto1984], at a constant temperature (for checks and reports) and
//! per time step (for the solver, in f32 with constants arranged for it).

use crate::bioheat::kernel::exp_f32;
use crate::bioheat::tissue::DamageModel;

/// The molar gas constant R, J/(mol·K).
pub const GAS_CONSTANT_J_MOLK: f64 = 8.314_462_618;

/// Kelvin at 0 °C.
pub const KELVIN_AT_0C: f64 = 273.15;

/// Damage increments over a span (a pair of steps, or one unpaired step) as
/// exponentials of the temperature at its middle,
/// with constants arranged so that f32 keeps its precision:
///
/// ```text
/// ΔΩ    = exp(ln(Δt·A·e^(−Eₐ/(R T₀))) + (Eₐ/R)·(T − T₀)/(T·T₀))     T₀ = 310.15 K
/// ΔCEM  = exp(ln(Δt/60) + (43 − T)·ln R)                          R = 0.5 | 0.25
/// ```
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct DamageSteps {
    ln_omega_ref: f32,
    ea_over_r: f32,
    t_ref_c: f32,
    t_ref_k: f32,
    ln_cem_dt: f32,
    ln_r_above: f32,
    ln_r_below: f32,
}

impl DamageSteps {
    pub(crate) fn new(d: &DamageModel, dt_s: f64) -> DamageSteps {
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
    pub(crate) fn at(&self, t_c: f32) -> (f32, f32) {
        let t_k = t_c + KELVIN_AT_0C as f32;
        let x_omega = self.ln_omega_ref + self.ea_over_r * (t_c - self.t_ref_c) / (t_k * self.t_ref_k);
        // A bitwise select (not a branch, nor a load indexed by the
        // comparison), so that lanes of voxels vectorise.
        let above = 0u32.wrapping_sub((t_c >= 43.0) as u32);
        let ln_r = f32::from_bits((self.ln_r_above.to_bits() & above) | (self.ln_r_below.to_bits() & !above));
        let x_cem = self.ln_cem_dt + (43.0 - t_c) * ln_r;
        (exp_f32(x_omega), exp_f32(x_cem))
    }
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
