//! The numeric parameters of the thermal model, one row each: key (its
//! unit in its name), default, accepted range and source. `Parameters`'
//! defaults, parameter files, range checks and the report all read this
//! table (`tissue.rs`); the few parameters that are words (`solver.walls`,
//! `rf.electrode`, `rf.generator`, `vessel.heat_transfer_w_m2k`) are handled
//! there. Sources name their entry in docs/references.md, or say that the
//! value is a liverkit assumption (docs/formulas/bioheat.md).

use super::tissue::{
    Parameters, BLOOD_RF_CONDUCTIVITY_S_M, DEFAULT_PERFUSION_1_S, LIVER_WATER_MASS_FRAC, MWA_AXIAL_WIDTH_MM,
    MWA_EFFICIENCY_FRAC,
};

/// One numeric parameter.
pub(super) struct Param {
    /// Key in parameter files and reports (`group.name_unit`).
    pub key: &'static str,
    /// Default value.
    pub default: f64,
    /// Accepted range, inclusive.
    pub min: f64,
    /// Accepted range, inclusive.
    pub max: f64,
    /// Where the default comes from.
    pub source: &'static str,
    /// The value in a `Parameters`.
    pub get: fn(&mut Parameters) -> &mut f64,
}

/// A source that is a liverkit assumption.
macro_rules! assumed {
    ($text:literal) => {
        concat!($text, "; liverkit assumption (docs/formulas/bioheat.md)")
    };
}

/// A row: `group.field` names both the key and the field.
macro_rules! row {
    ($group:ident . $field:ident, $default:expr, $range:expr, $source:expr) => {
        Param {
            key: concat!(stringify!($group), ".", stringify!($field)),
            default: $default,
            min: $range.0,
            max: $range.1,
            source: $source,
            get: |p| &mut p.$group.$field,
        }
    };
}

/// Ranges accepted for tissue properties: wide enough for any soft tissue,
/// narrow enough to catch a value given in the wrong unit.
pub(super) const DENSITY: (f64, f64) = (500.0, 2500.0);
const SPECIFIC_HEAT: (f64, f64) = (500.0, 6000.0);
const CONDUCTIVITY: (f64, f64) = (0.05, 5.0);
const PERFUSION: (f64, f64) = (0.0, 0.2);
pub(super) const RF_SIGMA: (f64, f64) = (0.01, 5.0);
const WATER_FRAC: (f64, f64) = (0.0, 0.95);
pub(super) const VELOCITY: (f64, f64) = (1e-3, 5.0);
const TRUNK: (f64, f64) = (0.5, 50.0);

const ITIS: &str = "[ITIS] IT'IS tissue database, docs/references.md";
const CHANG2004: &str = "[Chang2004], docs/references.md";
const SAPARETO1984: &str = "[Sapareto1984], docs/references.md";
const FITTED_HE2010: &str = "fitted to [He2010] (device mwa-2450-cooled) by liverkit protocols --calibrate";
const JI2011: &str = "[Ji2011], docs/references.md";
const SOLVER_SETTING: &str = assumed!("solver setting");
const LIVER_VALUE: &str = assumed!("liver value");
const IAPWS: &str = "[IAPWS] water at 100 °C and 1 atm, docs/references.md";

/// Every numeric parameter.
pub(super) fn table() -> Vec<Param> {
    vec![
        row!(blood.conductivity_w_mk, 0.52, (CONDUCTIVITY.0, CONDUCTIVITY.1), ITIS),
        row!(blood.density_kg_m3, 1050.0, (DENSITY.0, DENSITY.1), "[ITIS] IT'IS tissue database, docs/references.md (1050–1060 kg/m³)"),
        row!(blood.specific_heat_j_kgk, 3617.0, (SPECIFIC_HEAT.0, SPECIFIC_HEAT.1), ITIS),
        row!(blood.temperature_c, 37.0, (30.0, 42.0), "docs/references.md"),
        row!(blood.viscosity_pa_s, 0.00335, (1e-4, 0.05), "[Wesolowski2019] 3.35 mPa·s, whole blood at 37 °C, docs/references.md"),
        row!(damage.arrhenius_a_1_s, 7.39e39, (1.0, 1e200), CHANG2004),
        row!(damage.arrhenius_ea_j_mol, 257700.0, (1e4, 2e6), CHANG2004),
        row!(damage.cem43_r_above, 0.5, (0.01, 0.99), SAPARETO1984),
        row!(damage.cem43_r_below, 0.25, (0.01, 0.99), SAPARETO1984),
        row!(damage.cem43_threshold_min, 240.0, (1e-3, 1e9), SAPARETO1984),
        row!(damage.perfusion_stop_c, 60.0, (40.0, 1e12), "[Schutt2008]: perfusion ceases where tissue has passed 60 °C (1e12: never), docs/references.md"),
        row!(damage.perfusion_stop_omega, 1e12, (1e-3, 1e12), "1e12: never, perfusion stops by temperature (damage.perfusion_stop_c); a smaller value stops it where Ω reaches it instead, e.g. 1 for CLINICAL.md §6's rule (docs/formulas/bioheat.md)"),
        row!(damage.isotherm_c, 70.0, (40.0, 99.0), "docs/references.md (tumour and 10 mm above 70 °C)"),
        row!(flow.artery_trunk_mm, 4.0, (TRUNK.0, TRUNK.1), assumed!("proper hepatic artery, 4 mm")),
        row!(flow.artery_velocity_m_s, 0.2, (VELOCITY.0, VELOCITY.1), assumed!("proper hepatic artery, mean over the cardiac cycle")),
        row!(flow.heated_length_mm, 30.0, (1.0, 300.0), assumed!("a vessel crossing a 3 cm zone")),
        row!(flow.hepatic_vein_trunk_mm, 10.0, (TRUNK.0, TRUNK.1), assumed!("main hepatic vein 1-2 cm from the cava, 10 mm")),
        row!(flow.hepatic_vein_velocity_m_s, 0.1, (VELOCITY.0, VELOCITY.1), "[HVDuplex] middle hepatic vein peaks 0.21 and 0.16 m/s; the mean of a parabolic profile is half its peak; docs/references.md"),
        row!(flow.portal_vein_trunk_mm, 12.0, (TRUNK.0, TRUNK.1), assumed!("main portal vein where it is measured, 12 mm")),
        row!(flow.portal_vein_velocity_m_s, 0.196, (VELOCITY.0, VELOCITY.1), "[Zironi1992] mean portal velocity 19.6 cm/s in healthy controls, docs/references.md"),
        row!(liver.conductivity_w_mk, 0.52, CONDUCTIVITY, ITIS),
        row!(liver.density_kg_m3, 1079.0, DENSITY, ITIS),
        row!(liver.perfusion_1_s, DEFAULT_PERFUSION_1_S, PERFUSION, "[Hall2015] geometric mean of 3.6e-3–1e-2 1/s, docs/references.md"),
        row!(liver.rf_conductivity_s_m, 0.34, RF_SIGMA, "[Zurbuchen2016], [Hall2015] middle of 0.33–0.35 S/m, docs/references.md"),
        row!(liver.specific_heat_j_kgk, 3540.0, SPECIFIC_HEAT, ITIS),
        row!(liver.water_mass_frac, LIVER_WATER_MASS_FRAC, WATER_FRAC, "middle of the 70-78 % water content of liver (issue 12); [ITIS]"),
        row!(microwave.antenna_radius_mm, 1.0, (0.1, 5.0), assumed!("a 13–14 gauge antenna")),
        row!(microwave.axial_centre_mm, 15.0, (0.0, 100.0), assumed!("zone mostly behind the tip, docs/references.md")),
        row!(microwave.axial_width_mm, MWA_AXIAL_WIDTH_MM, (0.5, 50.0), FITTED_HE2010),
        row!(microwave.conductivity_s_m, 1.69, (0.01, 20.0), JI2011),
        row!(microwave.dry_absorption_frac, 0.1, (0.0, 1.0), "dry liver absorbs far less at 2.45 GHz [Ji2011]; a tenth, liverkit assumption (docs/formulas/bioheat.md)"),
        row!(microwave.efficiency_frac, MWA_EFFICIENCY_FRAC, (0.01, 1.0), FITTED_HE2010),
        row!(microwave.frequency_hz, 2450000000.0, (3e8, 1e10), "2.45 GHz applicators, docs/references.md"),
        row!(microwave.permittivity_rel, 43.0, (1.0, 100.0), JI2011),
        row!(microwave.update_interval_s, 5.0, (0.1, 600.0), SOLVER_SETTING),
        row!(rf.active_length_mm, 30.0, (1.0, 100.0), assumed!("a 3 cm single electrode")),
        row!(rf.conductivity_temp_coeff_per_c, 0.015, (0.0, 0.1), "[Zurbuchen2016], [Hall2015] +1.5 %/°C, docs/references.md"),
        row!(rf.control_interval_s, 1.0, (0.1, 60.0), SOLVER_SETTING),
        row!(rf.control_target_c, 100.0, (50.0, 150.0), "[Schramm2007] power controlled to hold the hottest tissue at 100 °C, docs/references.md"),
        row!(rf.coolant_c, 25.0, (-5.0, 37.0), assumed!("the tissue-side surface of an electrode perfused with chilled saline")),
        row!(rf.electrode_radius_mm, 0.75, (0.1, 5.0), assumed!("a 17 gauge electrode")),
        row!(rf.ground_margin_mm, 20.0, (0.0, 200.0), assumed!("the ground layer 20 mm beyond the region RF needs (the region's margin before 2026-12-04; 10 mm moves the delivered energy by 4 %)")),
        row!(rf.max_current_a, 2.0, (0.1, 10.0), "[Goldberg2004] maximum current of the cooled-electrode generator, 2000 mA; docs/references.md"),
        row!(rf.max_update_interval_s, 40.0, (0.1, 600.0), SOLVER_SETTING),
        row!(rf.rolloff_pause_s, 15.0, (1.0, 600.0), assumed!("off time before the generator tries again")),
        row!(rf.rolloff_rise_ohm, 10.0, (1.0, 1e6), assumed!("impedance-controlled generators switch off on a rise over the start")),
        row!(rf.update_interval_s, 10.0, (0.1, 600.0), SOLVER_SETTING),
        row!(soft_tissue.conductivity_w_mk, 0.52, CONDUCTIVITY, LIVER_VALUE),
        row!(soft_tissue.density_kg_m3, 1079.0, DENSITY, LIVER_VALUE),
        row!(soft_tissue.perfusion_1_s, DEFAULT_PERFUSION_1_S, PERFUSION, LIVER_VALUE),
        row!(soft_tissue.rf_conductivity_s_m, 0.34, RF_SIGMA, LIVER_VALUE),
        row!(soft_tissue.specific_heat_j_kgk, 3540.0, SPECIFIC_HEAT, LIVER_VALUE),
        row!(soft_tissue.water_mass_frac, LIVER_WATER_MASS_FRAC, WATER_FRAC, LIVER_VALUE),
        row!(solver.cooldown_s, 0.0, (0.0, 3600.0), SOLVER_SETTING),
        row!(solver.initial_temperature_c, 37.0, (0.0, 45.0), SOLVER_SETTING),
        row!(solver.roi_margin_mm, 10.0, (0.0, 200.0), assumed!("solver setting: microwave zones on the sample move by under 0.3 % between 8 and 40 mm (docs/formulas/bioheat.md, The lattice)")),
        row!(solver.spacing_mm, 1.0, (0.1, 5.0), SOLVER_SETTING),
        row!(solver.stability_safety_frac, 0.9, (0.05, 1.0), SOLVER_SETTING),
        row!(tumor.conductivity_w_mk, 0.52, CONDUCTIVITY, LIVER_VALUE),
        row!(tumor.density_kg_m3, 1079.0, DENSITY, LIVER_VALUE),
        row!(tumor.perfusion_1_s, DEFAULT_PERFUSION_1_S, PERFUSION, LIVER_VALUE),
        row!(tumor.rf_conductivity_s_m, 0.57, RF_SIGMA, "[Zurbuchen2016] colorectal metastasis, docs/references.md"),
        row!(tumor.specific_heat_j_kgk, 3540.0, SPECIFIC_HEAT, LIVER_VALUE),
        row!(tumor.water_mass_frac, LIVER_WATER_MASS_FRAC, WATER_FRAC, LIVER_VALUE),
        Param {
            key: "vessel.min_sink_diameter_mm",
            default: 0.0,
            min: 0.0,
            max: 50.0,
            source: assumed!("0: every segmented vessel is a sink of the strength its diameter and flow give (no threshold; [Lu2002] saw little sink under 3 mm, which the flow reproduces)"),
            get: |p| &mut p.vessel_min_sink_diameter_mm,
        },
        row!(vessel.rf_conductivity_s_m, BLOOD_RF_CONDUCTIVITY_S_M, (RF_SIGMA.0, RF_SIGMA.1), "[ITIS] blood at radiofrequency (about 0.7 S/m), docs/references.md"),
        row!(water.boiling_c, 100.0, (60.0, 150.0), "water boils at 100 °C at 1 atm [IAPWS]; tissue water boils near it ([Yang2007])"),
        row!(water.density_kg_m3, 958.4, (DENSITY.0, DENSITY.1), IAPWS),
        row!(water.dry_conductivity_w_mk, 0.08, (0.005, CONDUCTIVITY.1), "[Sweat1975] k = 0.08 + 0.52·W W/(m·K) for meats at W = 0, docs/references.md"),
        row!(water.dry_matter_specific_heat_j_kgk, 837.0, (100.0, SPECIFIC_HEAT.1), "[Siebel1892] c = 837 + 3349·W J/(kg·K) at W = 0, docs/references.md"),
        row!(water.latent_heat_j_kg, 2257000.0, (1e5, 1e7), IAPWS),
        row!(water.specific_heat_j_kgk, 4216.0, (SPECIFIC_HEAT.0, SPECIFIC_HEAT.1), IAPWS),
    ]
}
