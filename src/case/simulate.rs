//! One simulation case from its roles to the report `liverkit simulate
//! --json` prints: the region sized from the device's reference zone, the
//! simulation, the 70 °C zone on the scan's grid, and the margin verdict on
//! the tumour the needle targets. The command line and the Python module
//! both call [`simulate_case`], so their reports are the same.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::case::roles::{Files, RoleSpec};
use crate::case::target::resolve_vessels;
use crate::error::{Error, Result, Warning};
use crate::io::nifti::{write_mask, write_volume, NiftiTemplate};
use crate::io::structure::Structure;
use crate::margin::target::{vessels_near_segment, ApplicatorVessel, VesselInput, APPLICATOR_VESSEL_WARN_MM};
use crate::margin::{assess_margins, MarginOptions, Shortfall, SurfaceMargins};
use crate::progress::Progress;
use crate::volume::Mask;

use crate::bioheat::applicator::{ApplicatorKind, Pose};
use crate::bioheat::protocols::{range_warnings, Device, Library, Setting};
use crate::bioheat::solver::EnergyBudget;
use crate::bioheat::tissue::{ParameterValue, Parameters};
use crate::bioheat::{
    simulate, targeted_tumor, Request, RfSummary, Simulation, Tissues, VesselMask, VesselUse,
};

/// The applicator as reported.
#[derive(Debug, Clone, Serialize)]
pub struct ApplicatorReport {
    /// Microwave or radiofrequency.
    pub kind: ApplicatorKind,
    /// Device of the protocol library.
    pub device: String,
    /// Generator power, W.
    pub power_w: f64,
    /// Heating time, s.
    pub time_s: f64,
    /// Tip, world RAS+ mm.
    pub tip_mm: [f64; 3],
    /// Unit needle direction, from the entry towards the tip.
    pub direction: [f64; 3],
}

/// The reference zone of the device beside the model's.
#[derive(Debug, Clone, Serialize)]
pub struct ReferenceReport {
    /// Setting of the protocol library.
    pub setting: String,
    /// Its power, W.
    pub power_w: Option<f64>,
    /// Its time, s.
    pub time_s: Option<f64>,
    /// The manufacturer's zone diameter range, mm.
    pub table_zone_diameter_mm: Option<[f64; 2]>,
    /// The manufacturer's zone length range, mm.
    pub table_zone_length_mm: Option<[f64; 2]>,
    /// The model's zone for that setting in the calibration conditions
    /// (diameter, length), mm.
    pub model_zone_mm: Option<[f64; 2]>,
    /// The tissue the table was measured in.
    pub conditions: String,
    /// Where the table comes from.
    pub source: String,
}

/// The lattice as reported.
#[derive(Debug, Clone, Serialize)]
pub struct GridReport {
    /// Isotropic spacing, mm.
    pub spacing_mm: f64,
    /// Voxels along each axis.
    pub size: [usize; 3],
    /// Voxels in all.
    pub voxels: u64,
    /// World position of voxel (0, 0, 0), mm.
    pub origin_mm: [f64; 3],
}

/// The targeted tumour's margins in the predicted zone.
#[derive(Debug, Clone, Serialize)]
pub struct TumorReport {
    /// Its volume, mL.
    pub tumor_ml: f64,
    /// Its centroid, world mm.
    pub centroid_mm: [f64; 3],
    /// Margins of its surface in the 70 °C zone (none when no voxel
    /// reaches 70 °C).
    #[serde(flatten)]
    pub margins: Option<SurfaceMargins>,
    /// Tumour outside the zone, mL.
    pub residual_tumor_ml: f64,
    /// Connected parts of the surface short of the margin, worst first.
    pub shortfalls: Vec<Shortfall>,
    /// Capsule-adjacent share of its surface, %, when computed.
    pub capsule_excluded_surface_pct: Option<f64>,
    /// Tumours not assessed (only the targeted one is).
    pub other_tumors: usize,
}

/// What `liverkit simulate --json` prints.
#[derive(Debug, Clone, Serialize)]
pub struct SimulateReport {
    /// Files read (in-memory inputs by their given names).
    pub input: Vec<PathBuf>,
    /// The applicator.
    pub applicator: ApplicatorReport,
    /// The device's reference setting, when the library has one.
    pub reference: Option<ReferenceReport>,
    /// Volume at or above the isotherm (`damage.isotherm_c`, 70 °C: the
    /// temperature the tumour and its margin must reach, docs/references.md) on
    /// the lattice, mL.
    pub zone70_ml: f64,
    /// Volume of the isotherm zone resampled onto the scan's grid, mL.
    pub zone70_mask_ml: f64,
    /// Length of the isotherm zone along the needle, mm.
    pub zone_length_mm: f64,
    /// Largest diameter across the needle, mm.
    pub zone_diameter_mm: f64,
    /// Reach beyond the tip, mm.
    pub zone_beyond_tip_mm: f64,
    /// Volume with Arrhenius damage Ω ≥ 1 (rate constants of [Chang2004]),
    /// mL.
    pub zone_damage_ml: f64,
    /// Its length, mm.
    pub zone_damage_length_mm: f64,
    /// Its diameter, mm.
    pub zone_damage_diameter_mm: f64,
    /// Volume with a thermal dose of at least `damage.cem43_threshold_min`
    /// (240 CEM43 minutes, [Sapareto1984]), mL.
    pub zone_cem43_ml: f64,
    /// Highest tissue temperature, °C.
    pub max_temperature_c: f64,
    /// The margin required, mm.
    pub margin_mm: f64,
    /// Minimal margin of the targeted tumour, mm.
    pub min_margin_mm: Option<f64>,
    /// Tumour surface with margin ≥ 0 mm, %.
    pub coverage_ge0_pct: Option<f64>,
    /// Tumour surface with margin ≥ 5 mm, %.
    pub coverage_ge5_pct: Option<f64>,
    /// Tumour surface with margin ≥ 10 mm (the ablative margin of
    /// docs/references.md), %.
    pub coverage_ge10_pct: Option<f64>,
    /// Tumour outside the zone, mL.
    pub residual_tumor_ml: Option<f64>,
    /// Whether the zone covers the tumour and the margin everywhere.
    pub covers_target: Option<bool>,
    /// Minimal margin of the targeted tumour in the damage zone (Ω ≥ 1), mm:
    /// for information, not the verdict.
    pub damage_zone_min_margin_mm: Option<f64>,
    /// Whether the damage zone would cover the tumour and the margin.
    pub damage_zone_covers_target: Option<bool>,
    /// The targeted tumour.
    pub tumor: Option<TumorReport>,
    /// The lattice.
    pub grid: GridReport,
    /// Time steps taken.
    pub steps: usize,
    /// Time step, s.
    pub dt_s: f64,
    /// Stability bound of the time step, s.
    pub dt_bound_s: f64,
    /// Heating power deposited in tissue, W.
    pub deposited_w: f64,
    /// Energy the generator delivered at its setting (power × time), J.
    pub generator_energy_j: f64,
    /// Tissue that boiled dry, mL.
    pub dried_ml: f64,
    /// Which zone the verdict (`covers_target`) is judged on: `zone70`, the
    /// 70 °C isotherm (the clinical rule). The damage zone is the model's
    /// estimate of what gross pathology calls coagulated, the zone the
    /// microwave source was fitted to.
    pub verdict_zone: String,
    /// Where the energy went.
    pub energy: EnergyBudget,
    /// Radiofrequency details.
    pub rf: Option<RfSummary>,
    /// Vessels and how they acted.
    pub vessels: Vec<VesselUse>,
    /// Vessels of 3 mm or more within 5 mm of the applicator's active part
    /// (tip included), closest first.
    pub applicator_vessels: Vec<ApplicatorVessel>,
    /// Files written, by name.
    pub outputs: BTreeMap<String, PathBuf>,
    /// Every parameter with its value, unit and source.
    pub parameters: BTreeMap<String, ParameterValue>,
    /// What the user must know.
    pub warnings: Vec<Warning>,
}

/// What to simulate, besides the roles.
#[derive(Debug, Clone)]
pub struct SimulateCase {
    /// Microwave or radiofrequency.
    pub applicator: ApplicatorKind,
    /// Generator power, W.
    pub power_w: f64,
    /// Heating time, s.
    pub time_s: f64,
    /// Tip and direction.
    pub pose: Pose,
    /// Device of the library (default: the first of the applicator's kind).
    pub device: Option<String>,
    /// Simulate even when the tip is outside the liver.
    pub allow_outside: bool,
    /// The margin the zone must give the tumour, mm.
    pub margin_mm: f64,
    /// Judge the verdict without the capsule-adjacent tumour surface.
    pub exclude_capsule: bool,
    /// Other microwave antennas powered together with the one at `pose`
    /// ([`crate::bioheat::Request::together`]).
    pub together: Vec<Pose>,
}

/// A simulated case: its report, the simulation (for the lattice maps) and
/// the 70 °C zone on the scan's grid.
#[derive(Debug, Clone)]
pub struct SimulateOutcome {
    /// What `liverkit simulate --json` prints.
    pub report: SimulateReport,
    /// The simulation on its lattice.
    pub simulation: Simulation,
    /// The isotherm zone on the scan's grid.
    pub zone70: Mask,
    /// The tumour the tip targets, when one was given.
    pub targeted_tumor: Option<Mask>,
    /// The margin the zone must give it, mm.
    pub margin_mm: f64,
}

/// Resolves the roles of a case, simulates it and judges the margin of the
/// tumour the tip targets.
///
/// # Errors
/// Role errors of [`Files`]; errors of [`simulate`] and of the margin
/// assessment; `Parameter` for an unknown device or bad parameters.
#[allow(clippy::too_many_arguments)]
pub fn simulate_case(
    files: &mut Files,
    liver: Option<&RoleSpec>,
    tumor: Option<&RoleSpec>,
    vessels: &[String],
    case: &SimulateCase,
    params: &Parameters,
    lib: &Library,
    progress: &dyn Progress,
) -> Result<SimulateOutcome> {
    params.validate()?;
    let device = lib.device(case.device.as_deref(), case.applicator)?;
    let params = &device.apply(params);
    let mut warnings = check_device_range(device, case)?;
    let (liver, _) = files.liver(liver)?;
    let tumor = files.tumor(tumor)?.map(|(m, _)| m);
    let vessels = resolve_vessels(files, vessels)?;
    warnings.extend(files.warnings.iter().cloned());
    let applicator_vessels = applicator_vessels(liver.grid(), &vessels, case, params, &mut warnings);
    if tumor.is_none() {
        warnings.push(Warning::about(
            "tumor",
            "no tumour given or named liver_tumor: the zone is predicted without a verdict",
        ));
    }

    let (reference, expected_radius_mm) = expected_reach(lib, device, case);
    let tissues = Tissues {
        liver: &liver,
        tumor: tumor.as_ref(),
        vessels: vessels
            .iter()
            .map(|v| VesselMask {
                label: v.label,
                name: v.name.clone(),
                mask: &v.mask,
            })
            .collect(),
    };
    let sim = run_simulation(files, &tissues, case, params, expected_radius_mm, progress)?;
    warnings.extend(sim.warnings.iter().cloned());

    let scan = liver.grid();
    let zone = sim.zone_iso_mask(scan, params.damage.isotherm_c, params.blood.temperature_c)?;
    let zone_voxels = zone.count() as u64;
    let zone70_mask_ml = scan.volume_ml(zone_voxels);

    // The verdict on the targeted tumour.
    let targeted = tumor.as_ref().and_then(|t| targeted_tumor(t, case.pose.tip_mm));
    let mut tumor_report = None;
    if let Some((target, others)) = &targeted {
        let others = *others;
        tumor_report = targeted_report(target, others, &zone, zone_voxels, &liver, case, &mut warnings)?;
        if others > 0 {
            warnings.push(Warning::about(
                "tumor",
                format!("{others} other tumour(s) are not assessed: only the one the tip targets"),
            ));
        }
    }

    let margins = tumor_report.as_ref().and_then(|t| t.margins.as_ref());
    let coverage =
        |f: fn(&SurfaceMargins) -> f64| tumor_report.as_ref().map(|t| t.margins.as_ref().map_or(0.0, f));
    let covers = tumor_report
        .as_ref()
        .map(|t| t.margins.as_ref().is_some_and(|m| m.sufficient) && t.residual_tumor_ml == 0.0);
    // The same check on the damage zone, for information (not the verdict).
    let damage_check = match &targeted {
        Some((target, _)) => damage_zone_check(&sim, target, &liver, case)?,
        None => (None, None),
    };
    let g = &sim.sim.grid;
    let report = SimulateReport {
        input: files.inputs.clone(),
        applicator: ApplicatorReport {
            kind: case.applicator,
            device: device.id.clone(),
            power_w: case.power_w,
            time_s: case.time_s,
            tip_mm: case.pose.tip_mm,
            direction: case.pose.direction,
        },
        reference: reference.map(|s| ReferenceReport {
            setting: s.id.clone(),
            power_w: s.power_w,
            time_s: s.time_s,
            table_zone_diameter_mm: s.zone_diameter_mm,
            table_zone_length_mm: s.zone_length_mm,
            model_zone_mm: s.model_zone_mm,
            conditions: s.tissue.clone(),
            source: s.source.clone(),
        }),
        zone70_ml: sim.zone_iso.volume_ml,
        zone70_mask_ml,
        zone_length_mm: sim.zone_iso.length_mm,
        zone_diameter_mm: sim.zone_iso.diameter_mm,
        zone_beyond_tip_mm: sim.zone_iso.beyond_tip_mm,
        zone_damage_ml: sim.zone_damage.volume_ml,
        zone_damage_length_mm: sim.zone_damage.length_mm,
        zone_damage_diameter_mm: sim.zone_damage.diameter_mm,
        zone_cem43_ml: sim.zone_cem43_ml,
        max_temperature_c: sim.max_temperature_c,
        margin_mm: case.margin_mm,
        min_margin_mm: margins.map(|m| m.min_margin_mm),
        coverage_ge0_pct: coverage(|m| m.coverage_ge0_pct),
        coverage_ge5_pct: coverage(|m| m.coverage_ge5_pct),
        coverage_ge10_pct: coverage(|m| m.coverage_ge10_pct),
        residual_tumor_ml: tumor_report.as_ref().map(|t| t.residual_tumor_ml),
        covers_target: covers,
        damage_zone_min_margin_mm: damage_check.0,
        damage_zone_covers_target: damage_check.1,
        tumor: tumor_report,
        grid: GridReport {
            spacing_mm: sim.sim.lattice.spacing_mm,
            size: g.dims(),
            voxels: g.voxel_count(),
            origin_mm: g.origin_mm(),
        },
        steps: sim.fields.steps,
        dt_s: sim.fields.dt_s,
        dt_bound_s: sim.fields.dt_bound_s,
        deposited_w: sim.deposited_w,
        generator_energy_j: case.power_w * case.time_s,
        dried_ml: sim.fields.dried_voxels as f64 * sim.sim.grid.voxel_volume_mm3() / 1000.0,
        verdict_zone: "zone70".to_string(),
        energy: sim.fields.energy,
        rf: sim.rf.clone(),
        vessels: sim.sim.vessel_use.clone(),
        applicator_vessels,
        outputs: BTreeMap::new(),
        parameters: params.report(),
        warnings,
    };
    Ok(SimulateOutcome {
        report,
        simulation: sim,
        zone70: zone,
        targeted_tumor: targeted.map(|(t, _)| t),
        margin_mm: case.margin_mm,
    })
}

/// Simulates the case; a tip outside the liver is refused naming the label
/// map the liver came from.
fn run_simulation(
    files: &Files,
    tissues: &Tissues,
    case: &SimulateCase,
    params: &Parameters,
    expected_radius_mm: f64,
    progress: &dyn Progress,
) -> Result<Simulation> {
    let request = Request {
        applicator: case.applicator,
        power_w: case.power_w,
        time_s: case.time_s,
        pose: case.pose,
        allow_outside: case.allow_outside,
        max_bytes: files.options().max_bytes,
        margin_mm: case.margin_mm,
        expected_radius_mm,
        together: case.together.clone(),
    };
    let main = files
        .inputs
        .first()
        .map(|p| p.display().to_string())
        .unwrap_or_default();
    simulate(tissues, &request, params, progress).map_err(|e| match e {
        Error::Parameter { name, value, .. } if name == "tip" => Error::Parameter {
            name,
            value,
            expected: format!("a tip inside the liver or a tumour of {main} (or `allow_outside`)"),
        },
        e => e,
    })
}

/// Power and time within the device's range, or outside it with
/// `allow_outside` (then with a warning).
///
/// # Errors
/// `Parameter` (`power_w`, `time_s`) outside the physical bounds, or
/// outside the device's range without `allow_outside`.
fn check_device_range(device: &Device, case: &SimulateCase) -> Result<Vec<Warning>> {
    crate::bioheat::check_power_time(case.power_w, case.time_s)?;
    let warnings = range_warnings(device, case.power_w, case.time_s);
    if !case.allow_outside {
        if let Some(w) = warnings.first() {
            return Err(Error::parameter(
                w.field.clone(),
                if w.field == "power_w" {
                    case.power_w
                } else {
                    case.time_s
                },
                format!(
                    "a value within the device's range ({}; or `allow_outside` to extrapolate)",
                    w.message
                ),
            ));
        }
    }
    Ok(warnings)
}

/// The vessels near the applicator's active part: the radiating section
/// behind a microwave tip (its Gaussian's centre plus two widths), the
/// exposed electrode of an RF one; each with a warning.
fn applicator_vessels(
    scan: &crate::grid::Grid,
    vessels: &[VesselInput],
    case: &SimulateCase,
    params: &Parameters,
    warnings: &mut Vec<Warning>,
) -> Vec<ApplicatorVessel> {
    let active_mm = match case.applicator {
        ApplicatorKind::Mwa => params.microwave.axial_centre_mm + 2.0 * params.microwave.axial_width_mm,
        ApplicatorKind::Rfa => params.rf.active_length_mm,
    };
    let near = vessels_near_segment(
        scan,
        vessels,
        case.pose.tip_mm,
        case.pose.behind(active_mm),
        APPLICATOR_VESSEL_WARN_MM,
    );
    for v in &near {
        warnings.push(Warning::about(
            "applicator_vessels",
            format!(
                "the applicator's active part (tip to {active_mm:.0} mm behind it) lies {:.1} mm from vessel {}{}, \
                 {:.1} mm wide, at {}: it will draw heat from the zone at its source, and its wall may be injured",
                v.distance_mm,
                v.label,
                v.name.as_ref().map(|n| format!(" ({n})")).unwrap_or_default(),
                v.diameter_mm,
                crate::grid::ras_lps_text(v.closest_mm)
            ),
        ));
    }
    near
}

/// The device's setting closest in energy to the case, and the expected
/// reach that sizes the simulated region: that setting's zone scaled by the
/// cube root of the energy, 15 to 60 mm (25 mm without a setting).
fn expected_reach<'l>(
    lib: &'l Library,
    device: &'l Device,
    case: &SimulateCase,
) -> (Option<&'l Setting>, f64) {
    let energy_of = |st: &&Setting| match (st.power_w, st.time_s) {
        (Some(p), Some(t)) => ((p * t) / (case.power_w * case.time_s)).ln().abs(),
        _ => f64::INFINITY,
    };
    let reference = lib
        .settings_of(&device.id)
        .min_by(|a, b| energy_of(a).total_cmp(&energy_of(b)));
    let radius_mm = match reference {
        Some(s) => {
            let d = s.zone_diameter_mm.map(|r| r[1]).unwrap_or(40.0);
            let energy = match (s.power_w, s.time_s) {
                (Some(p), Some(t)) => (case.power_w * case.time_s / (p * t)).cbrt(),
                _ => 1.0,
            };
            (0.5 * d * energy).clamp(15.0, 60.0)
        }
        None => 25.0,
    };
    (reference, radius_mm)
}

/// The margin check on the damage zone (Ω ≥ 1): its minimal margin and
/// whether it covers the target, for information beside the verdict.
fn damage_zone_check(
    sim: &Simulation,
    target: &Mask,
    liver: &Mask,
    case: &SimulateCase,
) -> Result<(Option<f64>, Option<bool>)> {
    let damage = sim.zone_damage_mask(liver.grid())?;
    if !damage.any() {
        return Ok((None, Some(false)));
    }
    let options = MarginOptions {
        margin_mm: case.margin_mm,
        exclude_capsule: case.exclude_capsule,
        margin_map: false,
    };
    let m = assess_margins(target, &damage, Some(liver), &options)?;
    Ok(match m.tumors.first() {
        Some(tm) => {
            let margins = match (&tm.capsule_excluded, case.exclude_capsule) {
                (Some(c), true) => c.margins.as_ref().unwrap_or(&tm.margins),
                _ => &tm.margins,
            };
            (
                Some(margins.min_margin_mm),
                Some(margins.sufficient && tm.residual_tumor_ml == 0.0),
            )
        }
        None => (None, None),
    })
}

impl SimulateReport {
    /// The verdict in words: whether the 70 °C zone covers the tumour and
    /// its margin.
    pub fn verdict(&self) -> String {
        match self.covers_target {
            Some(true) => format!(
                "the 70 C zone covers the tumour and {} mm around it",
                self.margin_mm
            ),
            Some(false) => format!(
                "the 70 C zone does NOT cover the tumour and {} mm around it",
                self.margin_mm
            ),
            None => "no tumour: zone only".to_string(),
        }
    }
}

/// The structures of a simulation, for a segmentation output: the targeted
/// tumour, its target (tumour + margin), the predicted 70 °C zone, the
/// predicted thermal damage and the margin shortfall (the target outside the
/// 70 °C zone); those without a voxel are left out.
///
/// # Errors
/// Those of mapping the damage zone onto the scan and of
/// [`crate::case::margin::target_and_shortfall`].
pub fn simulate_structures(outcome: &SimulateOutcome) -> Result<Vec<(Mask, Structure)>> {
    let scan = outcome.zone70.grid();
    let mut out = Vec::new();
    if let Some(t) = &outcome.targeted_tumor {
        let (target, shortfall) =
            crate::case::margin::target_and_shortfall(t, &outcome.zone70, outcome.margin_mm)?;
        out.push((t.clone(), Structure::Tumor));
        out.push((target, Structure::AblationTarget));
        out.push((shortfall, Structure::MarginShortfall));
    }
    out.push((outcome.zone70.clone(), Structure::AblationZone));
    out.push((
        outcome.simulation.zone_damage_mask(scan)?,
        Structure::ThermalDamage,
    ));
    out.retain(|(m, _)| m.any());
    Ok(out)
}

/// The margin report of the tumour the needle targets.
fn targeted_report(
    target: &Mask,
    others: usize,
    zone: &Mask,
    zone_voxels: u64,
    liver: &Mask,
    case: &SimulateCase,
    warnings: &mut Vec<Warning>,
) -> Result<Option<TumorReport>> {
    let scan = target.grid();
    if zone_voxels == 0 {
        // Volume and centroid as label volumetry measures them.
        let tumor_voxels = target.count() as u64;
        let tumor_ml = scan.volume_ml(tumor_voxels);
        let as_map = crate::LabelMap::new(
            scan.clone(),
            crate::LabelArray::U8(target.data().mapv(u8::from)),
            Default::default(),
        )?;
        let stats = crate::volumetry::label_volumes(&as_map)?;
        let centroid_mm = stats.first().map_or([f64::NAN; 3], |l| l.centroid_mm);
        return Ok(Some(TumorReport {
            tumor_ml,
            centroid_mm,
            margins: None,
            residual_tumor_ml: tumor_ml,
            shortfalls: Vec::new(),
            capsule_excluded_surface_pct: None,
            other_tumors: others,
        }));
    }
    let options = MarginOptions {
        margin_mm: case.margin_mm,
        exclude_capsule: case.exclude_capsule,
        margin_map: false,
    };
    let m = assess_margins(target, zone, Some(liver), &options)?;
    warnings.extend(m.warnings.iter().cloned());
    let Some(tm) = m.tumors.into_iter().next() else {
        return Ok(None);
    };
    let (margins, pct) = match (&tm.capsule_excluded, case.exclude_capsule) {
        (Some(c), true) => (
            c.margins.clone().unwrap_or(tm.margins.clone()),
            Some(c.excluded_surface_pct),
        ),
        (Some(c), false) => (tm.margins.clone(), Some(c.excluded_surface_pct)),
        (None, _) => (tm.margins.clone(), None),
    };
    Ok(Some(TumorReport {
        tumor_ml: tm.tumor_ml,
        centroid_mm: tm.centroid_mm,
        margins: Some(margins),
        residual_tumor_ml: tm.residual_tumor_ml,
        shortfalls: tm.shortfalls,
        capsule_excluded_surface_pct: pct,
        other_tumors: others,
    }))
}

/// The files `write_outputs` writes into its folder.
pub const OUTPUT_FILES: [&str; 7] = [
    "zone70.nii.gz",
    "zone_damage.nii.gz",
    "tmax_c.nii.gz",
    "time_to_70c_s.nii.gz",
    "damage_omega.nii.gz",
    "cem43_min.nii.gz",
    "tissue.nii.gz",
];

/// Writes the zones (scan grid, with `template`'s header) and the
/// temperature, damage, CEM43 and tissue maps (simulation lattice) as
/// NIfTI files into `dir`, each atomically, and lists them in the report's
/// `outputs`.
///
/// # Errors
/// `Write` when the directory or a file cannot be written.
pub fn write_outputs(outcome: &mut SimulateOutcome, dir: &Path, template: &NiftiTemplate) -> Result<()> {
    // The set is staged and moved into place when complete (a killed run's
    // staging folder is removed by the next run writing there).
    let sim = &outcome.simulation;
    let scan = outcome.zone70.grid();
    let lattice_template = NiftiTemplate::from_grid(&sim.sim.grid);
    let fields = [
        &sim.fields.tmax_c,
        &sim.fields.time_to_isotherm_s,
        &sim.fields.damage_omega,
        &sim.fields.cem43_min,
    ];
    let written = crate::io::atomic::write_set_in(dir, &OUTPUT_FILES, |i, at| match i {
        0 => write_mask(at, &outcome.zone70, Some(template)),
        1 => write_mask(at, &sim.zone_damage_mask(scan)?, Some(template)),
        2..=5 => write_volume(at, &sim.map(fields[i - 2])?, Some(&lattice_template)),
        _ => write_volume(at, &sim.tissue_map()?, Some(&lattice_template)),
    })?;
    for (name, target) in OUTPUT_FILES.iter().zip(written) {
        outcome
            .report
            .outputs
            .insert(name.trim_end_matches(".nii.gz").into(), target);
    }
    Ok(())
}
