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
use std::path::Path;

use serde::Serialize;
use serde_json::Value;

use crate::error::{header_error, Error, Result};

use super::vessels::{murray_velocity_m_s, wall_exchange, Coolant, VesselClass, WallExchange};

/// Thermal and electrical properties of one tissue class.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
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
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
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
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
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
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
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
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
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

/// Thermal damage models.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
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
}

/// Microwave propagation in liver and the analytic antenna pattern.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
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
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
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
}

/// What the outer faces of the simulated region do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Walls {
    /// Held at blood temperature (the far field of a body at rest).
    BodyTemperature,
    /// No heat crosses them (used to check the energy balance).
    Insulated,
}

/// Discretisation and run settings.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct SolverSettings {
    /// Isotropic spacing of the simulation grid, mm.
    pub spacing_mm: f64,
    /// Margin of the simulated region around the target and the expected zone, mm.
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

/// One numeric parameter: key, accepted range, default source and accessor.
struct Descriptor {
    key: &'static str,
    min: f64,
    max: f64,
    get: fn(&mut Parameters) -> &mut f64,
}

/// Ranges accepted for tissue properties: wide enough for any soft tissue,
/// narrow enough to catch a value given in the wrong unit.
const DENSITY: (f64, f64) = (500.0, 2500.0);
const SPECIFIC_HEAT: (f64, f64) = (500.0, 6000.0);
const CONDUCTIVITY: (f64, f64) = (0.05, 5.0);
const PERFUSION: (f64, f64) = (0.0, 0.2);
const RF_SIGMA: (f64, f64) = (0.01, 5.0);
const WATER_FRAC: (f64, f64) = (0.0, 0.95);
const VELOCITY: (f64, f64) = (1e-3, 5.0);
const TRUNK: (f64, f64) = (0.5, 50.0);

macro_rules! tissue_descriptors {
    ($group:literal, $field:ident) => {
        [
            Descriptor {
                key: concat!($group, ".density_kg_m3"),
                min: DENSITY.0,
                max: DENSITY.1,
                get: |p| &mut p.$field.density_kg_m3,
            },
            Descriptor {
                key: concat!($group, ".specific_heat_j_kgk"),
                min: SPECIFIC_HEAT.0,
                max: SPECIFIC_HEAT.1,
                get: |p| &mut p.$field.specific_heat_j_kgk,
            },
            Descriptor {
                key: concat!($group, ".conductivity_w_mk"),
                min: CONDUCTIVITY.0,
                max: CONDUCTIVITY.1,
                get: |p| &mut p.$field.conductivity_w_mk,
            },
            Descriptor {
                key: concat!($group, ".perfusion_1_s"),
                min: PERFUSION.0,
                max: PERFUSION.1,
                get: |p| &mut p.$field.perfusion_1_s,
            },
            Descriptor {
                key: concat!($group, ".rf_conductivity_s_m"),
                min: RF_SIGMA.0,
                max: RF_SIGMA.1,
                get: |p| &mut p.$field.rf_conductivity_s_m,
            },
            Descriptor {
                key: concat!($group, ".water_mass_frac"),
                min: WATER_FRAC.0,
                max: WATER_FRAC.1,
                get: |p| &mut p.$field.water_mass_frac,
            },
        ]
    };
}

fn descriptors() -> Vec<Descriptor> {
    let mut d = Vec::with_capacity(48);
    d.extend(tissue_descriptors!("liver", liver));
    d.extend(tissue_descriptors!("tumor", tumor));
    d.extend(tissue_descriptors!("soft_tissue", soft_tissue));
    let more = [
        Descriptor {
            key: "blood.density_kg_m3",
            min: DENSITY.0,
            max: DENSITY.1,
            get: |p| &mut p.blood.density_kg_m3,
        },
        Descriptor {
            key: "blood.specific_heat_j_kgk",
            min: SPECIFIC_HEAT.0,
            max: SPECIFIC_HEAT.1,
            get: |p| &mut p.blood.specific_heat_j_kgk,
        },
        Descriptor {
            key: "blood.temperature_c",
            min: 30.0,
            max: 42.0,
            get: |p| &mut p.blood.temperature_c,
        },
        Descriptor {
            key: "blood.conductivity_w_mk",
            min: CONDUCTIVITY.0,
            max: CONDUCTIVITY.1,
            get: |p| &mut p.blood.conductivity_w_mk,
        },
        Descriptor {
            key: "blood.viscosity_pa_s",
            min: 1e-4,
            max: 0.05,
            get: |p| &mut p.blood.viscosity_pa_s,
        },
        Descriptor {
            key: "flow.portal_vein_velocity_m_s",
            min: VELOCITY.0,
            max: VELOCITY.1,
            get: |p| &mut p.flow.portal_vein_velocity_m_s,
        },
        Descriptor {
            key: "flow.portal_vein_trunk_mm",
            min: TRUNK.0,
            max: TRUNK.1,
            get: |p| &mut p.flow.portal_vein_trunk_mm,
        },
        Descriptor {
            key: "flow.hepatic_vein_velocity_m_s",
            min: VELOCITY.0,
            max: VELOCITY.1,
            get: |p| &mut p.flow.hepatic_vein_velocity_m_s,
        },
        Descriptor {
            key: "flow.hepatic_vein_trunk_mm",
            min: TRUNK.0,
            max: TRUNK.1,
            get: |p| &mut p.flow.hepatic_vein_trunk_mm,
        },
        Descriptor {
            key: "flow.artery_velocity_m_s",
            min: VELOCITY.0,
            max: VELOCITY.1,
            get: |p| &mut p.flow.artery_velocity_m_s,
        },
        Descriptor {
            key: "flow.artery_trunk_mm",
            min: TRUNK.0,
            max: TRUNK.1,
            get: |p| &mut p.flow.artery_trunk_mm,
        },
        Descriptor {
            key: "flow.heated_length_mm",
            min: 1.0,
            max: 300.0,
            get: |p| &mut p.flow.heated_length_mm,
        },
        Descriptor {
            key: "water.boiling_c",
            min: 60.0,
            max: 150.0,
            get: |p| &mut p.water.boiling_c,
        },
        Descriptor {
            key: "water.latent_heat_j_kg",
            min: 1e5,
            max: 1e7,
            get: |p| &mut p.water.latent_heat_j_kg,
        },
        Descriptor {
            key: "water.density_kg_m3",
            min: DENSITY.0,
            max: DENSITY.1,
            get: |p| &mut p.water.density_kg_m3,
        },
        Descriptor {
            key: "water.specific_heat_j_kgk",
            min: SPECIFIC_HEAT.0,
            max: SPECIFIC_HEAT.1,
            get: |p| &mut p.water.specific_heat_j_kgk,
        },
        Descriptor {
            key: "water.dry_matter_specific_heat_j_kgk",
            min: 100.0,
            max: SPECIFIC_HEAT.1,
            get: |p| &mut p.water.dry_matter_specific_heat_j_kgk,
        },
        Descriptor {
            key: "water.dry_conductivity_w_mk",
            min: 0.005,
            max: CONDUCTIVITY.1,
            get: |p| &mut p.water.dry_conductivity_w_mk,
        },
        Descriptor {
            key: "microwave.dry_absorption_frac",
            min: 0.0,
            max: 1.0,
            get: |p| &mut p.microwave.dry_absorption_frac,
        },
        Descriptor {
            key: "microwave.update_interval_s",
            min: 0.1,
            max: 600.0,
            get: |p| &mut p.microwave.update_interval_s,
        },
        Descriptor {
            key: "vessel.min_sink_diameter_mm",
            min: 0.0,
            max: 50.0,
            get: |p| &mut p.vessel_min_sink_diameter_mm,
        },
        Descriptor {
            key: "vessel.rf_conductivity_s_m",
            min: RF_SIGMA.0,
            max: RF_SIGMA.1,
            get: |p| &mut p.vessel.rf_conductivity_s_m,
        },
        Descriptor {
            key: "damage.arrhenius_a_1_s",
            min: 1.0,
            max: 1e200,
            get: |p| &mut p.damage.arrhenius_a_1_s,
        },
        Descriptor {
            key: "damage.arrhenius_ea_j_mol",
            min: 1e4,
            max: 2e6,
            get: |p| &mut p.damage.arrhenius_ea_j_mol,
        },
        Descriptor {
            key: "damage.cem43_r_above",
            min: 0.01,
            max: 0.99,
            get: |p| &mut p.damage.cem43_r_above,
        },
        Descriptor {
            key: "damage.cem43_r_below",
            min: 0.01,
            max: 0.99,
            get: |p| &mut p.damage.cem43_r_below,
        },
        Descriptor {
            key: "damage.cem43_threshold_min",
            min: 1e-3,
            max: 1e9,
            get: |p| &mut p.damage.cem43_threshold_min,
        },
        Descriptor {
            key: "damage.isotherm_c",
            min: 40.0,
            max: 99.0,
            get: |p| &mut p.damage.isotherm_c,
        },
        Descriptor {
            key: "microwave.frequency_hz",
            min: 3e8,
            max: 1e10,
            get: |p| &mut p.microwave.frequency_hz,
        },
        Descriptor {
            key: "microwave.permittivity_rel",
            min: 1.0,
            max: 100.0,
            get: |p| &mut p.microwave.permittivity_rel,
        },
        Descriptor {
            key: "microwave.conductivity_s_m",
            min: 0.01,
            max: 20.0,
            get: |p| &mut p.microwave.conductivity_s_m,
        },
        Descriptor {
            key: "microwave.antenna_radius_mm",
            min: 0.1,
            max: 5.0,
            get: |p| &mut p.microwave.antenna_radius_mm,
        },
        Descriptor {
            key: "microwave.efficiency_frac",
            min: 0.01,
            max: 1.0,
            get: |p| &mut p.microwave.efficiency_frac,
        },
        Descriptor {
            key: "microwave.axial_centre_mm",
            min: 0.0,
            max: 100.0,
            get: |p| &mut p.microwave.axial_centre_mm,
        },
        Descriptor {
            key: "microwave.axial_width_mm",
            min: 0.5,
            max: 50.0,
            get: |p| &mut p.microwave.axial_width_mm,
        },
        Descriptor {
            key: "rf.conductivity_temp_coeff_per_c",
            min: 0.0,
            max: 0.1,
            get: |p| &mut p.rf.conductivity_temp_coeff_per_c,
        },
        Descriptor {
            key: "rf.electrode_radius_mm",
            min: 0.1,
            max: 5.0,
            get: |p| &mut p.rf.electrode_radius_mm,
        },
        Descriptor {
            key: "rf.active_length_mm",
            min: 1.0,
            max: 100.0,
            get: |p| &mut p.rf.active_length_mm,
        },
        Descriptor {
            key: "rf.update_interval_s",
            min: 0.1,
            max: 600.0,
            get: |p| &mut p.rf.update_interval_s,
        },
        Descriptor {
            key: "rf.max_update_interval_s",
            min: 0.1,
            max: 600.0,
            get: |p| &mut p.rf.max_update_interval_s,
        },
        Descriptor {
            key: "rf.coolant_c",
            min: -5.0,
            max: 37.0,
            get: |p| &mut p.rf.coolant_c,
        },
        Descriptor {
            key: "rf.max_current_a",
            min: 0.1,
            max: 10.0,
            get: |p| &mut p.rf.max_current_a,
        },
        Descriptor {
            key: "rf.control_target_c",
            min: 50.0,
            max: 150.0,
            get: |p| &mut p.rf.control_target_c,
        },
        Descriptor {
            key: "rf.control_interval_s",
            min: 0.1,
            max: 60.0,
            get: |p| &mut p.rf.control_interval_s,
        },
        Descriptor {
            key: "rf.rolloff_rise_ohm",
            min: 1.0,
            max: 1e6,
            get: |p| &mut p.rf.rolloff_rise_ohm,
        },
        Descriptor {
            key: "rf.rolloff_pause_s",
            min: 1.0,
            max: 600.0,
            get: |p| &mut p.rf.rolloff_pause_s,
        },
        Descriptor {
            key: "solver.spacing_mm",
            min: 0.1,
            max: 5.0,
            get: |p| &mut p.solver.spacing_mm,
        },
        Descriptor {
            key: "solver.roi_margin_mm",
            min: 0.0,
            max: 200.0,
            get: |p| &mut p.solver.roi_margin_mm,
        },
        Descriptor {
            key: "solver.stability_safety_frac",
            min: 0.05,
            max: 1.0,
            get: |p| &mut p.solver.stability_safety_frac,
        },
        Descriptor {
            key: "solver.initial_temperature_c",
            min: 0.0,
            max: 45.0,
            get: |p| &mut p.solver.initial_temperature_c,
        },
        Descriptor {
            key: "solver.cooldown_s",
            min: 0.0,
            max: 3600.0,
            get: |p| &mut p.solver.cooldown_s,
        },
    ];
    d.extend(more);
    d
}

const ITIS: &str = "[ITIS] IT'IS tissue database, docs/references.md";

fn liver_default() -> TissueProperties {
    TissueProperties {
        density_kg_m3: 1079.0,
        specific_heat_j_kgk: 3540.0,
        conductivity_w_mk: 0.52,
        perfusion_1_s: DEFAULT_PERFUSION_1_S,
        rf_conductivity_s_m: 0.34,
        water_mass_frac: LIVER_WATER_MASS_FRAC,
    }
}

/// Fraction of the microwave generator's power deposited in tissue: the
/// constant of the library's device `mwa-2450-cooled`, fitted by
/// `liverkit protocols --calibrate` to the ex vivo zones of [He2010] (a test
/// checks the two agree; `simulate` uses the device's).
pub const MWA_EFFICIENCY_FRAC: f64 = 0.165;

/// Width (standard deviation) of the microwave antenna's radiating section,
/// mm, fitted with [`MWA_EFFICIENCY_FRAC`].
pub const MWA_AXIAL_WIDTH_MM: f64 = 8.514;

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
    fn default() -> Self {
        let liver = liver_default();
        let mut tumor = liver;
        tumor.rf_conductivity_s_m = 0.57;
        let mut p = Parameters {
            liver,
            tumor,
            soft_tissue: liver,
            blood: BloodProperties {
                density_kg_m3: 1050.0,
                specific_heat_j_kgk: 3617.0,
                temperature_c: 37.0,
                conductivity_w_mk: 0.52,
                viscosity_pa_s: 3.35e-3,
            },
            flow: BloodFlow {
                portal_vein_velocity_m_s: 0.196,
                portal_vein_trunk_mm: 12.0,
                hepatic_vein_velocity_m_s: 0.1,
                hepatic_vein_trunk_mm: 10.0,
                artery_velocity_m_s: 0.2,
                artery_trunk_mm: 4.0,
                heated_length_mm: 30.0,
            },
            water: WaterProperties {
                boiling_c: 100.0,
                latent_heat_j_kg: 2.257e6,
                density_kg_m3: 958.4,
                specific_heat_j_kgk: 4216.0,
                dry_matter_specific_heat_j_kgk: 837.0,
                dry_conductivity_w_mk: 0.08,
            },
            vessel: VesselWall {
                heat_transfer_w_m2k: None,
                class: None,
                velocity_m_s: None,
                rf_conductivity_s_m: BLOOD_RF_CONDUCTIVITY_S_M,
            },
            vessels: BTreeMap::new(),
            vessel_min_sink_diameter_mm: 0.0,
            damage: DamageModel {
                arrhenius_a_1_s: 7.39e39,
                arrhenius_ea_j_mol: 2.577e5,
                cem43_r_above: 0.5,
                cem43_r_below: 0.25,
                cem43_threshold_min: 240.0,
                isotherm_c: 70.0,
            },
            microwave: MicrowaveModel {
                frequency_hz: 2.45e9,
                permittivity_rel: 43.0,
                conductivity_s_m: 1.69,
                antenna_radius_mm: 1.0,
                efficiency_frac: MWA_EFFICIENCY_FRAC,
                axial_centre_mm: 15.0,
                axial_width_mm: MWA_AXIAL_WIDTH_MM,
                dry_absorption_frac: 0.1,
                update_interval_s: 5.0,
            },
            rf: RfModel {
                conductivity_temp_coeff_per_c: 0.015,
                electrode_radius_mm: 0.75,
                active_length_mm: 30.0,
                update_interval_s: 10.0,
                max_update_interval_s: 40.0,
                cooled: false,
                coolant_c: 25.0,
                max_current_a: 2.0,
                impedance_control: false,
                control_target_c: 95.0,
                control_interval_s: 1.0,
                rolloff_rise_ohm: 10.0,
                rolloff_pause_s: 15.0,
            },
            solver: SolverSettings {
                spacing_mm: 1.0,
                roi_margin_mm: 20.0,
                stability_safety_frac: 0.9,
                initial_temperature_c: 37.0,
                cooldown_s: 0.0,
                walls: Walls::BodyTemperature,
            },
            sources: BTreeMap::new(),
        };
        let assumption = "liverkit assumption (docs/formulas/bioheat.md)";
        let mut s = |k: &str, v: &str| {
            p.sources.insert(k.to_string(), v.to_string());
        };
        for g in ["liver", "tumor", "soft_tissue"] {
            let same = if g == "liver" {
                ITIS.to_string()
            } else {
                format!("liver value; {assumption}")
            };
            s(&format!("{g}.density_kg_m3"), &same);
            s(&format!("{g}.specific_heat_j_kgk"), &same);
            s(&format!("{g}.conductivity_w_mk"), &same);
            let perf = if g == "liver" {
                "[Hall2015] geometric mean of 3.6e-3–1e-2 1/s, docs/references.md".to_string()
            } else {
                format!("liver value; {assumption}")
            };
            s(&format!("{g}.perfusion_1_s"), &perf);
            let water = if g == "liver" {
                "middle of the 70-78 % water content of liver (issue 12); [ITIS]".to_string()
            } else {
                format!("liver value; {assumption}")
            };
            s(&format!("{g}.water_mass_frac"), &water);
        }
        let iapws = "[IAPWS] water at 100 °C and 1 atm, docs/references.md";
        s(
            "water.boiling_c",
            "water boils at 100 °C at 1 atm [IAPWS]; tissue water boils near it ([Yang2007])",
        );
        s("water.latent_heat_j_kg", iapws);
        s("water.density_kg_m3", iapws);
        s("water.specific_heat_j_kgk", iapws);
        s(
            "water.dry_matter_specific_heat_j_kgk",
            "[Siebel1892] c = 837 + 3349·W J/(kg·K) at W = 0, docs/references.md",
        );
        s(
            "water.dry_conductivity_w_mk",
            "[Sweat1975] k = 0.08 + 0.52·W W/(m·K) for meats at W = 0, docs/references.md",
        );
        s(
            "microwave.dry_absorption_frac",
            &format!("dry liver absorbs far less at 2.45 GHz [Ji2011]; a tenth, {assumption}"),
        );
        s(
            "microwave.update_interval_s",
            &format!("solver setting; {assumption}"),
        );
        s(
            "liver.rf_conductivity_s_m",
            "[Zurbuchen2016], [Hall2015] middle of 0.33–0.35 S/m, docs/references.md",
        );
        s(
            "tumor.rf_conductivity_s_m",
            "[Zurbuchen2016] colorectal metastasis, docs/references.md",
        );
        s(
            "soft_tissue.rf_conductivity_s_m",
            &format!("liver value; {assumption}"),
        );
        s("blood.density_kg_m3", &format!("{ITIS} (1050–1060 kg/m³)"));
        s("blood.specific_heat_j_kgk", ITIS);
        s("blood.temperature_c", "docs/references.md");
        s(
            "vessel.heat_transfer_w_m2k",
            "\"flow\": from each voxel's diameter and velocity, [Hausen1943], [Murray1926], docs/formulas/bioheat.md",
        );
        s(
            "vessel.min_sink_diameter_mm",
            &format!(
                "0: every segmented vessel is a sink of the strength its diameter and flow give \
                 (no threshold; [Lu2002] saw little sink under 3 mm, which the flow reproduces); {assumption}"
            ),
        );
        s("blood.conductivity_w_mk", ITIS);
        s(
            "blood.viscosity_pa_s",
            "[Wesolowski2019] 3.35 mPa·s, whole blood at 37 °C, docs/references.md",
        );
        s(
            "flow.portal_vein_velocity_m_s",
            "[Zironi1992] mean portal velocity 19.6 cm/s in healthy controls, docs/references.md",
        );
        s(
            "flow.portal_vein_trunk_mm",
            &format!("main portal vein where it is measured, 12 mm; {assumption}"),
        );
        s(
            "flow.hepatic_vein_velocity_m_s",
            "[HVDuplex] middle hepatic vein peaks 0.21 and 0.16 m/s; the mean of a parabolic profile is half its peak; docs/references.md",
        );
        s(
            "flow.hepatic_vein_trunk_mm",
            &format!("main hepatic vein 1-2 cm from the cava, 10 mm; {assumption}"),
        );
        s(
            "flow.artery_velocity_m_s",
            &format!("proper hepatic artery, mean over the cardiac cycle; {assumption}"),
        );
        s(
            "flow.artery_trunk_mm",
            &format!("proper hepatic artery, 4 mm; {assumption}"),
        );
        s(
            "flow.heated_length_mm",
            &format!("a vessel crossing a 3 cm zone; {assumption}"),
        );
        s(
            "vessel.rf_conductivity_s_m",
            "[ITIS] blood at radiofrequency (about 0.7 S/m), docs/references.md",
        );
        s("damage.arrhenius_a_1_s", "[Chang2004], docs/references.md");
        s("damage.arrhenius_ea_j_mol", "[Chang2004], docs/references.md");
        s("damage.cem43_r_above", "[Sapareto1984], docs/references.md");
        s("damage.cem43_r_below", "[Sapareto1984], docs/references.md");
        s("damage.cem43_threshold_min", "[Sapareto1984], docs/references.md");
        s(
            "damage.isotherm_c",
            "docs/references.md (tumour and 10 mm above 70 °C)",
        );
        s(
            "microwave.frequency_hz",
            "2.45 GHz applicators, docs/references.md",
        );
        s("microwave.permittivity_rel", "[Ji2011], docs/references.md");
        s("microwave.conductivity_s_m", "[Ji2011], docs/references.md");
        s(
            "microwave.antenna_radius_mm",
            &format!("a 13–14 gauge antenna; {assumption}"),
        );
        let fitted = "fitted to [He2010] (device mwa-2450-cooled) by liverkit protocols --calibrate";
        s("microwave.efficiency_frac", fitted);
        s(
            "microwave.axial_centre_mm",
            &format!("zone mostly behind the tip, docs/references.md; {assumption}"),
        );
        s("microwave.axial_width_mm", fitted);
        s(
            "rf.conductivity_temp_coeff_per_c",
            "[Zurbuchen2016], [Hall2015] +1.5 %/°C, docs/references.md",
        );
        s(
            "rf.electrode_radius_mm",
            &format!("a 17 gauge electrode; {assumption}"),
        );
        s(
            "rf.active_length_mm",
            &format!("a 3 cm single electrode; {assumption}"),
        );
        s("rf.update_interval_s", &format!("solver setting; {assumption}"));
        s(
            "rf.electrode",
            &format!(
                "bare: on a 1 mm lattice a cooled surface under-predicts the zone \
                 (docs/formulas/bioheat.md, \"Radiofrequency generator\"); {assumption}"
            ),
        );
        s(
            "rf.generator",
            &format!(
                "power: the set power within the current limit; \"impedance\" holds the tissue \
                 below boiling as [Schramm2007]; {assumption}"
            ),
        );
        s(
            "rf.coolant_c",
            &format!("the tissue-side surface of an electrode perfused with chilled saline; {assumption}"),
        );
        s(
            "rf.max_current_a",
            "[Goldberg2004] maximum current of the cooled-electrode generator, 2000 mA; docs/references.md",
        );
        s(
            "rf.control_target_c",
            &format!(
                "[Schramm2007] hold the hottest tissue at 100 °C; 5 °C below boiling here so the \
                 control's overshoot does not boil tissue dry; {assumption}"
            ),
        );
        s("rf.control_interval_s", &format!("solver setting; {assumption}"));
        s(
            "rf.rolloff_rise_ohm",
            &format!("impedance-controlled generators switch off on a rise over the start; {assumption}"),
        );
        s(
            "rf.rolloff_pause_s",
            &format!("off time before the generator tries again; {assumption}"),
        );
        s(
            "rf.max_update_interval_s",
            &format!("solver setting; {assumption}"),
        );
        for k in [
            "solver.spacing_mm",
            "solver.roi_margin_mm",
            "solver.stability_safety_frac",
            "solver.initial_temperature_c",
            "solver.cooldown_s",
            "solver.walls",
        ] {
            s(k, &format!("solver setting; {assumption}"));
        }
        p
    }
}

impl Parameters {
    /// The defaults overridden by a parameter file (`.toml` or `.json`).
    ///
    /// # Errors
    /// `Read` when the file cannot be read; `Header` (field = the key) for a
    /// syntax error, an unknown key, a value of the wrong type or one outside
    /// its accepted range.
    pub fn from_file(path: &Path) -> Result<Parameters> {
        let mut p = Parameters::default();
        p.apply_file(path)?;
        Ok(p)
    }

    /// Overrides values from a parameter file (`.toml` or `.json`).
    ///
    /// # Errors
    /// As [`Parameters::from_file`].
    pub fn apply_file(&mut self, path: &Path) -> Result<()> {
        let text = std::fs::read_to_string(path).map_err(|source| Error::Read {
            path: path.to_path_buf(),
            source,
        })?;
        let ext = path
            .extension()
            .and_then(|e| e.to_str())
            .map(str::to_ascii_lowercase)
            .unwrap_or_default();
        let value: Value = match ext.as_str() {
            "toml" => toml::from_str(&text).map_err(|e| {
                header_error(
                    path,
                    "TOML",
                    "a valid TOML parameter file",
                    e.message().to_string(),
                )
            })?,
            "json" => serde_json::from_str(&text)
                .map_err(|e| header_error(path, "JSON", "a valid JSON parameter file", e.to_string()))?,
            _ => {
                return Err(header_error(
                    path,
                    "file name",
                    "a parameter file ending in .toml or .json",
                    format!("extension {:?}", ext),
                ))
            }
        };
        let source = format!("parameter file {}", path.display());
        self.apply_value(&value, &source)
            .map_err(|(field, expected, found)| header_error(path, field, expected, found))
    }

    /// Overrides values from JSON text in the parameter-file layout
    /// (`{"liver": {"perfusion_1_s": 0.0}}`); `source` says where it came
    /// from in the report.
    ///
    /// # Errors
    /// `Parameter` (name = the key) for invalid JSON, an unknown key, a value
    /// of the wrong type or one outside its accepted range.
    pub fn apply_json(&mut self, text: &str, source: &str) -> Result<()> {
        let value: Value = serde_json::from_str(text)
            .map_err(|e| crate::error::parameter_error("params", e.to_string(), "valid JSON parameters"))?;
        self.apply_value(&value, source)
            .map_err(|(field, expected, found)| crate::error::parameter_error(field, found, expected))
    }

    /// Applies a parsed parameter tree; the error names the key.
    fn apply_value(
        &mut self,
        root: &Value,
        source: &str,
    ) -> std::result::Result<(), (String, String, String)> {
        let Value::Object(groups) = root else {
            return Err((
                "(top level)".into(),
                "tables of parameters".into(),
                kind(root).into(),
            ));
        };
        let descriptors = descriptors();
        for (group, body) in groups {
            let Value::Object(fields) = body else {
                return Err((group.clone(), "a table of parameters".into(), kind(body).into()));
            };
            if group == "vessels" {
                for (label, wall) in fields {
                    let key = format!("vessels.{label}");
                    let Value::Object(wall) = wall else {
                        return Err((key, "a table with heat_transfer_w_m2k".into(), kind(wall).into()));
                    };
                    let mut w = self.vessel;
                    for (f, v) in wall {
                        let key = format!("vessels.{label}.{f}");
                        match f.as_str() {
                            "heat_transfer_w_m2k" => w.heat_transfer_w_m2k = heat_transfer(&key, v)?,
                            "rf_conductivity_s_m" => w.rf_conductivity_s_m = number(&key, v, RF_SIGMA)?,
                            "velocity_m_s" => w.velocity_m_s = Some(number(&key, v, VELOCITY)?),
                            "class" => {
                                let names: Vec<&str> = VesselClass::ALL.iter().map(|(_, k)| *k).collect();
                                w.class = Some(v.as_str().and_then(VesselClass::parse).ok_or_else(|| {
                                    (key.clone(), format!("one of {}", names.join(", ")), v.to_string())
                                })?)
                            }
                            _ => return Err((
                                key,
                                "a known key (class, velocity_m_s, heat_transfer_w_m2k, rf_conductivity_s_m)"
                                    .into(),
                                "an unknown key".into(),
                            )),
                        }
                        self.sources.insert(key, source.to_string());
                    }
                    self.vessels.insert(label.clone(), w);
                }
                continue;
            }
            for (field, v) in fields {
                let key = format!("{group}.{field}");
                if key == "vessel.heat_transfer_w_m2k" {
                    self.vessel.heat_transfer_w_m2k = heat_transfer(&key, v)?;
                } else if key == "rf.generator" {
                    self.rf.impedance_control = match v.as_str() {
                        Some("impedance") => true,
                        Some("power") => false,
                        _ => return Err((key, "\"power\" or \"impedance\"".into(), v.to_string())),
                    };
                } else if key == "rf.electrode" {
                    self.rf.cooled = match v.as_str() {
                        Some("cooled") => true,
                        Some("bare") => false,
                        _ => return Err((key, "\"cooled\" or \"bare\"".into(), v.to_string())),
                    };
                } else if key == "solver.walls" {
                    self.solver.walls = match v.as_str() {
                        Some("body_temperature") => Walls::BodyTemperature,
                        Some("insulated") => Walls::Insulated,
                        _ => {
                            return Err((key, "\"body_temperature\" or \"insulated\"".into(), v.to_string()))
                        }
                    };
                } else if let Some(d) = descriptors.iter().find(|d| d.key == key) {
                    *(d.get)(self) = number(&key, v, (d.min, d.max))?;
                } else {
                    let known: Vec<&str> = descriptors
                        .iter()
                        .filter(|d| d.key.starts_with(&format!("{group}.")))
                        .map(|d| d.key)
                        .collect();
                    let expected = if known.is_empty() {
                        "a known table (liver, tumor, soft_tissue, blood, flow, water, vessel, vessels, damage, \
                         microwave, rf, solver)"
                            .to_string()
                    } else {
                        format!("one of {}", known.join(", "))
                    };
                    return Err((key, expected, "an unknown key".into()));
                }
                self.sources.insert(key, source.to_string());
            }
        }
        Ok(())
    }

    /// Checks relations between values that each range alone cannot.
    ///
    /// # Errors
    /// `Parameter` naming the key.
    pub fn validate(&self) -> Result<()> {
        let mut copy = self.clone();
        for d in descriptors() {
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

    /// Every value with its source, keyed as in a parameter file.
    pub fn report(&self) -> BTreeMap<String, ParameterValue> {
        let mut copy = self.clone();
        let mut out = BTreeMap::new();
        let src = |k: &str| self.sources.get(k).cloned().unwrap_or_else(|| "default".into());
        for d in descriptors() {
            let v = *(d.get)(&mut copy);
            out.insert(
                d.key.to_string(),
                ParameterValue {
                    value: json_number(v),
                    source: src(d.key),
                },
            );
        }
        out.insert(
            "vessel.heat_transfer_w_m2k".into(),
            ParameterValue {
                value: wall_value(self.vessel.heat_transfer_w_m2k),
                source: src("vessel.heat_transfer_w_m2k"),
            },
        );
        for (label, w) in &self.vessels {
            let k = format!("vessels.{label}.heat_transfer_w_m2k");
            out.insert(
                k.clone(),
                ParameterValue {
                    value: wall_value(w.heat_transfer_w_m2k),
                    source: src(&k),
                },
            );
            let k = format!("vessels.{label}.rf_conductivity_s_m");
            out.insert(
                k.clone(),
                ParameterValue {
                    value: json_number(w.rf_conductivity_s_m),
                    source: src(&k),
                },
            );
            if let Some(c) = w.class {
                let k = format!("vessels.{label}.class");
                let value = Value::String(c.key().into());
                out.insert(
                    k.clone(),
                    ParameterValue {
                        value,
                        source: src(&k),
                    },
                );
            }
            if let Some(v) = w.velocity_m_s {
                let k = format!("vessels.{label}.velocity_m_s");
                let value = json_number(v);
                out.insert(
                    k.clone(),
                    ParameterValue {
                        value,
                        source: src(&k),
                    },
                );
            }
        }
        out.insert(
            "rf.generator".into(),
            ParameterValue {
                value: Value::String(
                    if self.rf.impedance_control {
                        "impedance"
                    } else {
                        "power"
                    }
                    .into(),
                ),
                source: src("rf.generator"),
            },
        );
        out.insert(
            "rf.electrode".into(),
            ParameterValue {
                value: Value::String(if self.rf.cooled { "cooled" } else { "bare" }.into()),
                source: src("rf.electrode"),
            },
        );
        let walls = match self.solver.walls {
            Walls::BodyTemperature => "body_temperature",
            Walls::Insulated => "insulated",
        };
        out.insert(
            "solver.walls".into(),
            ParameterValue {
                value: Value::String(walls.into()),
                source: src("solver.walls"),
            },
        );
        out
    }

    /// Records where a value came from (used by calibration and the CLI).
    pub fn set_source(&mut self, key: &str, source: impl Into<String>) {
        self.sources.insert(key.to_string(), source.into());
    }
}

fn wall_value(h: Option<f64>) -> Value {
    match h {
        None => Value::String("flow".into()),
        Some(h) if h.is_infinite() => Value::String("fixed".into()),
        Some(h) => json_number(h),
    }
}

fn json_number(v: f64) -> Value {
    serde_json::Number::from_f64(v).map_or(Value::Null, Value::Number)
}

fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "a table",
    }
}

fn number(key: &str, v: &Value, range: (f64, f64)) -> std::result::Result<f64, (String, String, String)> {
    let expected = format!("a number in [{}, {}]", range.0, range.1);
    match v.as_f64() {
        Some(x) if x.is_finite() && x >= range.0 && x <= range.1 => Ok(x),
        Some(x) => Err((key.to_string(), expected, x.to_string())),
        None => Err((key.to_string(), expected, kind(v).to_string())),
    }
}

fn heat_transfer(key: &str, v: &Value) -> std::result::Result<Option<f64>, (String, String, String)> {
    match v.as_str() {
        Some("fixed") => return Ok(Some(f64::INFINITY)),
        Some("flow") => return Ok(None),
        _ => {}
    }
    number(key, v, (1.0, 1e6)).map(Some).map_err(|(k, _, f)| {
        (
            k,
            "a heat-transfer coefficient in [1, 1e6] W/(m²·K), \"flow\" or \"fixed\"".into(),
            f,
        )
    })
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
