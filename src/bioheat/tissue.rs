//! The tissue property table of the thermal model: every value with its unit
//! (in its key), the range liverkit accepts, and its source.
//!
//! Defaults come from docs/references.md; each carries the key of its source in
//! docs/references.md, or says plainly that it is an assumption of liverkit.
//! A parameter file (TOML or JSON, by extension) overrides any of them with
//! the same keys, grouped by table:
//!
//! ```toml
//! [liver]
//! perfusion_1_s = 0.0036
//!
//! [vessels.portal_vein]           # by label name or value
//! class = "portal_vein"           # portal_vein, hepatic_vein or artery (else from the name)
//! velocity_m_s = 0.3              # a measured mean velocity, at every diameter
//! heat_transfer_w_m2k = 1000      # instead of "flow" (the default); "fixed" = wall at blood temperature
//! ```
//!
//! Unknown keys and values outside the accepted range are errors that name
//! the key; nothing is silently ignored.

use std::collections::BTreeMap;

use serde::Serialize;
use serde_json::Value;

use crate::error::{Error, Result};

use super::param_table::table;
use super::vessels::{murray_velocity_m_s, wall_exchange, Coolant, VesselClass, WallExchange};

/// Thermal and electrical properties of one tissue class.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize)]
pub struct TissueProperties {
    /// Density ρ, kg/m³.
    pub density_kg_m3: f64,
    /// Specific heat c, J/(kg·K).
    pub specific_heat_j_kgk: f64,
    /// Thermal conductivity k, W/(m·K).
    pub conductivity_w_mk: f64,
    /// Blood perfusion rate ω_b, 1/s (volume of blood per volume of tissue per second).
    pub perfusion_1_s: f64,
    /// Electrical conductivity at body temperature for radiofrequency heating, S/m.
    pub rf_conductivity_s_m: f64,
    /// Water, fraction of the tissue's mass (what can boil off).
    pub water_mass_frac: f64,
}

/// Tissue water at the boiling point: what boiling takes and what drying
/// leaves behind.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize)]
pub struct WaterProperties {
    /// Boiling point of tissue water, °C.
    pub boiling_c: f64,
    /// Latent heat of vaporisation at the boiling point, J/kg.
    pub latent_heat_j_kg: f64,
    /// Density of liquid water at the boiling point, kg/m³.
    pub density_kg_m3: f64,
    /// Specific heat of liquid water at the boiling point, J/(kg·K).
    pub specific_heat_j_kgk: f64,
    /// Specific heat of the tissue's dry matter, J/(kg·K).
    pub dry_matter_specific_heat_j_kgk: f64,
    /// Thermal conductivity of tissue with no water left, W/(m·K).
    pub dry_conductivity_w_mk: f64,
}

/// Blood, for the perfusion term and the vessel walls.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize)]
pub struct BloodProperties {
    /// Density ρ_b, kg/m³.
    pub density_kg_m3: f64,
    /// Specific heat c_b, J/(kg·K).
    pub specific_heat_j_kgk: f64,
    /// Arterial blood (and body) temperature T_b, °C.
    pub temperature_c: f64,
    /// Thermal conductivity, W/(m·K) (heat transfer at vessel walls).
    pub conductivity_w_mk: f64,
    /// Dynamic viscosity at 37 °C, Pa·s (heat transfer at vessel walls).
    pub viscosity_pa_s: f64,
}

/// Blood flow in the liver's vessels, by class: the mean velocity measured
/// in each class's trunk, the trunk's diameter (Murray's law scales the
/// velocity down in narrower branches), and the length of vessel a zone
/// heats (`vessels.rs`).
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize)]
pub struct BloodFlow {
    /// Mean velocity in the main portal vein, m/s.
    pub portal_vein_velocity_m_s: f64,
    /// Diameter of the main portal vein, mm.
    pub portal_vein_trunk_mm: f64,
    /// Mean velocity in a main hepatic vein, m/s.
    pub hepatic_vein_velocity_m_s: f64,
    /// Diameter of a main hepatic vein, mm.
    pub hepatic_vein_trunk_mm: f64,
    /// Mean velocity in the proper hepatic artery, m/s.
    pub artery_velocity_m_s: f64,
    /// Diameter of the proper hepatic artery, mm.
    pub artery_trunk_mm: f64,
    /// Length of vessel running through the heated region, mm.
    pub heated_length_mm: f64,
}

/// The thermal boundary a vessel's wall sets.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize)]
pub struct VesselWall {
    /// Heat-transfer coefficient from tissue to blood, W/(m²·K): `None`
    /// follows from the flow (`vessels.rs`, the default); infinite holds the
    /// wall at blood temperature (the strongest heat sink).
    pub heat_transfer_w_m2k: Option<f64>,
    /// Vessel class (its velocity); `None`: from the label's name.
    pub class: Option<VesselClass>,
    /// Mean blood velocity at every diameter, m/s, instead of the class's
    /// (for a measured flow, or a perfused tube in an experiment).
    pub velocity_m_s: Option<f64>,
    /// Electrical conductivity of blood for radiofrequency heating, S/m.
    pub rf_conductivity_s_m: f64,
}

/// A perfusion stop (`damage.perfusion_stop_c` or `_omega`) at or above
/// this never stops perfusion: the largest value the parameter table takes.
pub const PERFUSION_NEVER: f64 = 1e12;

/// Thermal damage models.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize)]
pub struct DamageModel {
    /// Arrhenius frequency factor A, 1/s.
    pub arrhenius_a_1_s: f64,
    /// Arrhenius activation energy Eₐ, J/mol.
    pub arrhenius_ea_j_mol: f64,
    /// CEM43 base R at or above 43 °C.
    pub cem43_r_above: f64,
    /// CEM43 base R below 43 °C.
    pub cem43_r_below: f64,
    /// CEM43 dose that counts as lethal, minutes.
    pub cem43_threshold_min: f64,
    /// The isotherm the clinic calls the ablation zone, °C.
    pub isotherm_c: f64,
    /// Maximum temperature from which a voxel's perfusion stops for good,
    /// °C ([Schutt2008]'s cessation above 60 °C; 1e12: never).
    pub perfusion_stop_c: f64,
    /// Arrhenius damage Ω from which a voxel's perfusion stops instead of
    /// [`DamageModel::perfusion_stop_c`] (1e12, the default: never; 1 is
    /// CLINICAL.md §6's "where the tissue has died").
    pub perfusion_stop_omega: f64,
}

/// Microwave propagation in liver and the analytic antenna pattern.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize)]
pub struct MicrowaveModel {
    /// Frequency, Hz.
    pub frequency_hz: f64,
    /// Relative permittivity of liver at that frequency.
    pub permittivity_rel: f64,
    /// Electrical conductivity of liver at that frequency, S/m.
    pub conductivity_s_m: f64,
    /// Radius that regularises the pattern at the antenna (its outer radius), mm.
    pub antenna_radius_mm: f64,
    /// Fraction of the generator's power deposited in tissue (calibrated).
    pub efficiency_frac: f64,
    /// Centre of the radiating section, mm behind the tip (model assumption).
    pub axial_centre_mm: f64,
    /// Standard deviation of the radiating section along the antenna, mm (calibrated).
    pub axial_width_mm: f64,
    /// Absorption of tissue that has boiled dry, relative to wet tissue.
    pub dry_absorption_frac: f64,
    /// Simulated time between two updates of the pattern as tissue dries, s.
    pub update_interval_s: f64,
}

/// Radiofrequency electrode and its power control.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize)]
pub struct RfModel {
    /// Rise of electrical conductivity with temperature, fraction per °C.
    pub conductivity_temp_coeff_per_c: f64,
    /// Electrode radius, mm.
    pub electrode_radius_mm: f64,
    /// Exposed (active) electrode length from the tip, mm.
    pub active_length_mm: f64,
    /// Simulated time between two solutions of the potential while the
    /// impedance is changing (by 1 % or more between solutions), s.
    pub update_interval_s: f64,
    /// Longest time between two solutions: while the impedance changes by
    /// less than 1 % the interval doubles, up to this, s.
    pub max_update_interval_s: f64,
    /// Whether the electrode is internally cooled (`rf.electrode = "cooled"`)
    /// or bare (`"bare"`).
    pub cooled: bool,
    /// Temperature of the electrode's surface when cooled, °C.
    pub coolant_c: f64,
    /// The generator's largest current, A.
    pub max_current_a: f64,
    /// Whether the generator is impedance controlled (`rf.generator =
    /// "impedance"`) or delivers its set power within its current limit
    /// (`"power"`).
    pub impedance_control: bool,
    /// The hottest tissue the generator's output is held to, °C.
    pub control_target_c: f64,
    /// Time between two adjustments of the generator's output, s.
    pub control_interval_s: f64,
    /// Impedance rise over the starting value that switches the generator off, Ω.
    pub rolloff_rise_ohm: f64,
    /// How long the generator stays off after a roll-off, s.
    pub rolloff_pause_s: f64,
    /// Smallest margin of the simulated region for RF, mm: its outer layer is
    /// the ground (the distant pads), so the potential, the impedance and the
    /// delivered energy depend on how far it lies.
    pub ground_margin_mm: f64,
}

/// What the outer faces of the simulated region do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Walls {
    /// Held at blood temperature (the far field of a body at rest).
    #[default]
    BodyTemperature,
    /// No heat crosses them (used to check the energy balance).
    Insulated,
}

/// Discretisation and run settings.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize)]
pub struct SolverSettings {
    /// Isotropic spacing of the simulation grid, mm.
    pub spacing_mm: f64,
    /// Margin of the simulated region around the target and the expected
    /// zone, mm (for RF at least `rf.ground_margin_mm`).
    pub roi_margin_mm: f64,
    /// Fraction of the explicit stability bound used as time step.
    pub stability_safety_frac: f64,
    /// Tissue temperature when heating starts, °C.
    pub initial_temperature_c: f64,
    /// Simulated time after the power stops, s.
    pub cooldown_s: f64,
    /// Outer faces of the region.
    pub walls: Walls,
}

/// Every parameter of a simulation.
#[derive(Debug, Clone, PartialEq)]
pub struct Parameters {
    /// Liver parenchyma.
    pub liver: TissueProperties,
    /// Tumour.
    pub tumor: TissueProperties,
    /// Everything that is neither liver, tumour nor vessel.
    pub soft_tissue: TissueProperties,
    /// Blood.
    pub blood: BloodProperties,
    /// Blood flow by vessel class.
    pub flow: BloodFlow,
    /// Tissue water and what drying leaves.
    pub water: WaterProperties,
    /// Default wall of every vessel label.
    pub vessel: VesselWall,
    /// Per-label walls (key: label name or value as written in the file).
    pub vessels: BTreeMap<String, VesselWall>,
    /// Vessels narrower than this act as perfused tissue, not as a heat sink,
    /// mm. 0 (the default): every segmented vessel is a sink whose strength
    /// follows its diameter and flow.
    pub vessel_min_sink_diameter_mm: f64,
    /// Damage models.
    pub damage: DamageModel,
    /// Microwave model.
    pub microwave: MicrowaveModel,
    /// Radiofrequency model.
    pub rf: RfModel,
    /// Solver settings.
    pub solver: SolverSettings,
    /// Where each value came from, by key (`liver.conductivity_w_mk`).
    pub sources: BTreeMap<String, String>,
}

/// A parameter as reported: its value and its source.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ParameterValue {
    /// The value (a number, or a word for the few that are words).
    pub value: Value,
    /// Where it comes from.
    pub source: String,
}

/// Fraction of the microwave generator's power deposited in tissue: the
/// constant of the library's device `mwa-2450-cooled`, fitted by
/// `liverkit protocols --calibrate` to the ex vivo zones of [He2010] (a test
/// checks the two agree; `simulate` uses the device's).
pub const MWA_EFFICIENCY_FRAC: f64 = 0.1669;

/// Width (standard deviation) of the microwave antenna's radiating section,
/// mm, fitted with [`MWA_EFFICIENCY_FRAC`].
pub const MWA_AXIAL_WIDTH_MM: f64 = 8.519;

/// Electrical conductivity of blood at ablation frequencies (near
/// 500 kHz), S/m [ITIS]: twice the liver's, so vessels draw current.
pub const BLOOD_RF_CONDUCTIVITY_S_M: f64 = 0.7;

/// Water content of liver, fraction of its mass: the middle of the
/// 70–78 % quoted for liver (issue 12; [ITIS] lists tissue water content).
pub const LIVER_WATER_MASS_FRAC: f64 = 0.74;

/// Default liver perfusion, 1/s: the geometric mean of the range
/// 3.6e-3 – 1e-2 1/s of [Hall2015] (√(3.6e-3 · 1e-2) = 6.0e-3), which puts the
/// perfusion length √(k/(ω_b ρ_b c_b)) at 4.8 mm, inside the range's 3.7–6.2 mm.
pub const DEFAULT_PERFUSION_1_S: f64 = 6.0e-3;

impl Default for Parameters {
    /// Every value from the parameter table (`param_table.rs`), with its
    /// source; the words: walls at body temperature, a bare electrode, a
    /// power-controlled generator, vessel walls from their flow.
    fn default() -> Self {
        let mut p = Parameters {
            liver: TissueProperties::default(),
            tumor: TissueProperties::default(),
            soft_tissue: TissueProperties::default(),
            blood: BloodProperties::default(),
            flow: BloodFlow::default(),
            water: WaterProperties::default(),
            vessel: VesselWall::default(),
            vessels: BTreeMap::new(),
            vessel_min_sink_diameter_mm: 0.0,
            damage: DamageModel::default(),
            microwave: MicrowaveModel::default(),
            rf: RfModel::default(),
            solver: SolverSettings::default(),
            sources: BTreeMap::new(),
        };
        for row in table() {
            *(row.get)(&mut p) = row.default;
            p.sources.insert(row.key.to_string(), row.source.to_string());
        }
        let assumption = "liverkit assumption (docs/formulas/bioheat.md)";
        let words = [
            (
                "vessel.heat_transfer_w_m2k",
                "\"flow\": from each voxel's diameter and velocity, [Hausen1943], [Murray1926], \
                 docs/formulas/bioheat.md"
                    .to_string(),
            ),
            (
                "rf.electrode",
                "cooled: the internally cooled electrode of percutaneous liver RF ([Goldberg2004]); \
                 its 70 C zone checked against [Cvir2009] (docs/formulas/bioheat.md, \"Radiofrequency \
                 against published zones\")"
                    .to_string(),
            ),
            (
                "rf.generator",
                "impedance: the output held so that the hottest tissue stays at boiling (100 °C), as \
                 [Schramm2007] model the impedance-controlled generator; \"power\" delivers the \
                 setting within the current limit"
                    .to_string(),
            ),
            ("solver.walls", format!("solver setting; {assumption}")),
        ];
        for (k, v) in words {
            p.sources.insert(k.to_string(), v);
        }
        // RF as a clinician sets it: an internally cooled electrode on an
        // impedance-controlled generator.
        p.rf.cooled = true;
        p.rf.impedance_control = true;
        p
    }
}

impl Parameters {
    /// Checks relations between values that each range alone cannot.
    ///
    /// # Errors
    /// `Parameter` naming the key.
    pub fn validate(&self) -> Result<()> {
        let mut copy = self.clone();
        for d in table() {
            let v = *(d.get)(&mut copy);
            if !(v.is_finite() && v >= d.min && v <= d.max) {
                return Err(Error::parameter(
                    d.key,
                    v,
                    format!("a value in [{}, {}]", d.min, d.max),
                ));
            }
        }
        let s = &self.solver;
        let boil = self.water.boiling_c;
        if s.initial_temperature_c >= boil {
            return Err(Error::parameter(
                "solver.initial_temperature_c",
                s.initial_temperature_c,
                format!("below water.boiling_c ({boil} °C)"),
            ));
        }
        if self.rf.max_update_interval_s < self.rf.update_interval_s {
            return Err(Error::parameter(
                "rf.max_update_interval_s",
                self.rf.max_update_interval_s,
                format!("at least rf.update_interval_s ({} s)", self.rf.update_interval_s),
            ));
        }
        if self.damage.isotherm_c >= boil {
            return Err(Error::parameter(
                "damage.isotherm_c",
                self.damage.isotherm_c,
                format!("below water.boiling_c ({boil} °C)"),
            ));
        }
        for (label, w) in std::iter::once(("(default)", &self.vessel))
            .chain(self.vessels.iter().map(|(k, v)| (k.as_str(), v)))
        {
            if let Some(h) = w.heat_transfer_w_m2k.filter(|h| h.is_nan() || *h <= 0.0) {
                return Err(Error::parameter(
                    format!("vessels.{label}.heat_transfer_w_m2k"),
                    h,
                    "a positive heat-transfer coefficient, \"flow\" or \"fixed\"",
                ));
            }
        }
        Ok(())
    }

    /// Latent heat of a tissue's water, J/m³: L·W·ρ.
    pub fn latent_heat_j_m3(&self, t: &TissueProperties) -> f64 {
        self.water.latent_heat_j_kg * t.water_mass_frac * t.density_kg_m3
    }

    /// Heat capacity (J/(m³·K)) and conductivity (W/(m·K)) of a tissue
    /// once its water has boiled off: its dry matter ρ(1 − W) with the dry
    /// matter's specific heat, and `water.dry_conductivity_w_mk`, at most
    /// the conductivity that keeps the explicit step of the wet tissue
    /// (a dry voxel among wet ones must not need a shorter step):
    ///
    /// ```text
    /// 2 k_d k_w / (k_d + k_w) ≤ (ρc)_d · k_w / (ρc)_w
    /// ```
    ///
    /// For liver this limit (0.016 W/(m·K)) is below the dry-matter value
    /// (0.08): the dry core conducts like the vapour-filled, charred tissue
    /// it is, and the 70 °C boundary lies well outside it.
    pub fn dried(&self, t: &TissueProperties) -> (f64, f64) {
        let rc_w = t.density_kg_m3 * t.specific_heat_j_kgk;
        let rc_d = t.density_kg_m3 * (1.0 - t.water_mass_frac) * self.water.dry_matter_specific_heat_j_kgk;
        let k_w = t.conductivity_w_mk;
        let x = rc_d * k_w / rc_w;
        let k_limit = x * k_w / (2.0 * k_w - x);
        (rc_d, self.water.dry_conductivity_w_mk.min(k_limit))
    }

    /// The wall of a vessel label, looked up by name first, then by value.
    pub fn vessel_wall(&self, value: i64, name: Option<&str>) -> VesselWall {
        name.and_then(|n| self.vessels.get(n))
            .or_else(|| self.vessels.get(&value.to_string()))
            .copied()
            .unwrap_or(self.vessel)
    }

    /// The heat exchange at the wall of a vessel of `diameter_mm` with
    /// label `value`/`name`: from its flow, or `None` when the parameters
    /// give the coefficient (`wall.heat_transfer_w_m2k`).
    pub fn wall_exchange(&self, value: i64, name: Option<&str>, diameter_mm: f64) -> Option<WallExchange> {
        let w = self.vessel_wall(value, name);
        if w.heat_transfer_w_m2k.is_some() {
            return None;
        }
        let f = &self.flow;
        let velocity = w.velocity_m_s.unwrap_or_else(|| {
            let (v, trunk) = match w.class.unwrap_or_else(|| VesselClass::from_name(name)) {
                VesselClass::PortalVein => (f.portal_vein_velocity_m_s, f.portal_vein_trunk_mm),
                VesselClass::HepaticVein => (f.hepatic_vein_velocity_m_s, f.hepatic_vein_trunk_mm),
                VesselClass::Artery => (f.artery_velocity_m_s, f.artery_trunk_mm),
            };
            murray_velocity_m_s(diameter_mm, v, trunk)
        });
        let blood = Coolant {
            density_kg_m3: self.blood.density_kg_m3,
            specific_heat_j_kgk: self.blood.specific_heat_j_kgk,
            conductivity_w_mk: self.blood.conductivity_w_mk,
            viscosity_pa_s: self.blood.viscosity_pa_s,
        };
        Some(wall_exchange(diameter_mm, velocity, &blood, f.heated_length_mm))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_default_is_in_range_and_has_a_source() {
        let p = Parameters::default();
        p.validate().unwrap();
        for (k, v) in p.report() {
            assert!(!v.source.is_empty() && v.source != "default", "{k} has no source");
        }
    }

    #[test]
    fn overrides_apply_and_name_their_file() {
        let mut p = Parameters::default();
        let v: Value = serde_json::json!({
            "liver": {"perfusion_1_s": 0.0},
            "vessels": {"portal_vein": {"heat_transfer_w_m2k": 1000}},
            "solver": {"walls": "insulated"}
        });
        p.apply_value(&v, "file x").unwrap();
        assert_eq!(p.liver.perfusion_1_s, 0.0);
        assert_eq!(
            p.vessel_wall(64, Some("portal_vein")).heat_transfer_w_m2k,
            Some(1000.0)
        );
        assert_eq!(p.vessel_wall(63, Some("ivc")).heat_transfer_w_m2k, None);
        assert_eq!(p.solver.walls, Walls::Insulated);
        assert_eq!(p.report()["liver.perfusion_1_s"].source, "file x");
    }

    #[test]
    fn unknown_keys_and_unphysical_values_name_the_key() {
        let mut p = Parameters::default();
        let e = p
            .apply_value(&serde_json::json!({"liver": {"conductivity": 0.5}}), "f")
            .unwrap_err();
        assert_eq!(e.0, "liver.conductivity");
        let e = p
            .apply_value(&serde_json::json!({"liver": {"density_kg_m3": -3}}), "f")
            .unwrap_err();
        assert_eq!(e.0, "liver.density_kg_m3");
        let e = p
            .apply_value(&serde_json::json!({"bone": {"x": 1}}), "f")
            .unwrap_err();
        assert_eq!(e.0, "bone.x");
    }
}
