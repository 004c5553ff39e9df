//! The device-protocol library: applicators, the power and time range the
//! model is meant for, and reference settings with the zone each produces in
//! homogeneous liver, with sources. The library ships in the binary
//! (`protocols.json` beside this file); another can be read from a file.
//!
//! The microwave pattern's two free constants (the fraction of the power
//! that reaches tissue and the length of the radiating section) are fitted
//! so that the model reproduces the device's calibration setting: see
//! [`calibrate_microwave`] and docs/formulas/bioheat.md.

use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::bioheat::applicator::DryingMicrowave;
use crate::bioheat::applicator::{ApplicatorKind, Pose};
use crate::bioheat::solver::{run, Lattice, RunSettings};
use crate::bioheat::tissue::{Parameters, Walls};
use crate::bioheat::zone::{zone_shape, LatticeField, ZoneShape};
use crate::error::{header_error, parameter_error, Error, Result, Warning};
use crate::grid::Grid;
use crate::progress::Progress;

/// The library shipped with liverkit.
pub const BUILTIN: &str = include_str!("protocols.json");

/// An applicator model with its intended range.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Device {
    /// Identifier (`mwa-2450`).
    pub id: String,
    /// `mwa` or `rfa`.
    pub applicator: ApplicatorKind,
    /// What it is.
    pub name: String,
    /// Powers the model is meant for, W.
    pub power_range_w: [f64; 2],
    /// Times the model is meant for, s.
    pub time_range_s: [f64; 2],
    /// Where the range comes from.
    pub range_source: String,
    /// The applicator's working length (skin to tip at most), mm: the
    /// planner's limit on path length.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub working_length_mm: Option<f64>,
    /// Where the working length comes from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub working_length_source: Option<String>,
    /// Microwave: the source's constants fitted to the device's settings
    /// marked `fitted` (`liverkit protocols --calibrate`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub microwave_fit: Option<MicrowaveFit>,
    /// Radiofrequency: the electrode's exposed (active) length, mm
    /// (`rf.active_length_mm` when this device is used).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rf_active_length_mm: Option<f64>,
}

/// A microwave device's fitted source constants.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MicrowaveFit {
    /// Fraction of the generator's power deposited in tissue.
    pub efficiency_frac: f64,
    /// Standard deviation of the radiating section along the antenna, mm.
    pub axial_width_mm: f64,
}

impl Device {
    /// `params` with this device's fitted constants, their source naming it.
    pub fn apply(&self, params: &Parameters) -> Parameters {
        let mut p = params.clone();
        if let Some(f) = self.microwave_fit {
            p.microwave.efficiency_frac = f.efficiency_frac;
            p.microwave.axial_width_mm = f.axial_width_mm;
            let src = format!(
                "fitted to device {}'s settings (liverkit protocols --calibrate)",
                self.id
            );
            p.set_source("microwave.efficiency_frac", src.clone());
            p.set_source("microwave.axial_width_mm", src);
        }
        if let Some(l) = self.rf_active_length_mm {
            p.rf.active_length_mm = l;
            p.set_source("rf.active_length_mm", format!("device {}'s exposed tip", self.id));
        }
        p
    }
}

/// A reference setting and the zone it produces.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Setting {
    /// Identifier (`emprint-100w-10min`).
    pub id: String,
    /// The device it belongs to.
    pub device: String,
    /// Power, W (none for a range over settings).
    pub power_w: Option<f64>,
    /// Time, s.
    pub time_s: Option<f64>,
    /// Zone diameter, mm (lowest and highest; equal for one value).
    pub zone_diameter_mm: Option<[f64; 2]>,
    /// Zone length along the needle, mm.
    pub zone_length_mm: Option<[f64; 2]>,
    /// Tissue and conditions of the reference.
    pub tissue: String,
    /// Where the numbers come from.
    pub source: String,
    /// What liverkit's model produces for this setting in the calibration
    /// conditions (its damage zone), diameter and length, mm.
    pub model_zone_mm: Option<[f64; 2]>,
    /// Whether the device's fitted constants were fitted to this setting
    /// (false: held out, a check of the fit).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fitted: Option<bool>,
    /// Whether the zone was made in perfused (in vivo) liver; absent or
    /// false: ex vivo, as the calibration conditions.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub in_vivo: Option<bool>,
}

/// A protocol library.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Library {
    /// What the library is.
    pub about: String,
    /// Applicators.
    pub devices: Vec<Device>,
    /// Reference settings.
    pub settings: Vec<Setting>,
}

impl Library {
    /// The library shipped with liverkit.
    ///
    /// # Errors
    /// Never for the shipped file (a test parses it).
    pub fn builtin() -> Result<Library> {
        Library::parse(BUILTIN, Path::new("<built-in protocols.json>"))
    }

    /// A library read from a JSON file.
    ///
    /// # Errors
    /// `Read` for an unreadable file, `Header` for invalid JSON, unknown keys
    /// or settings naming an unknown device.
    pub fn from_file(path: &Path) -> Result<Library> {
        let text = std::fs::read_to_string(path).map_err(|source| Error::Read {
            path: path.to_path_buf(),
            source,
        })?;
        Library::parse(&text, path)
    }

    fn parse(text: &str, path: &Path) -> Result<Library> {
        let lib: Library = serde_json::from_str(text).map_err(|e| {
            header_error(
                path,
                format!("line {} column {}", e.line(), e.column()),
                "a protocol library (about, devices, settings)",
                e.to_string(),
            )
        })?;
        for s in &lib.settings {
            if !lib.devices.iter().any(|d| d.id == s.device) {
                return Err(header_error(
                    path,
                    format!("settings.{}.device", s.id),
                    "the id of a device in the library",
                    s.device.clone(),
                ));
            }
        }
        for d in &lib.devices {
            let ok = |r: [f64; 2]| r[0].is_finite() && r[1].is_finite() && 0.0 < r[0] && r[0] <= r[1];
            if !ok(d.power_range_w) || !ok(d.time_range_s) {
                return Err(header_error(
                    path,
                    format!("devices.{}", d.id),
                    "power and time ranges [low, high] with 0 < low <= high",
                    format!("{:?} W, {:?} s", d.power_range_w, d.time_range_s),
                ));
            }
        }
        Ok(lib)
    }

    /// The device `id`, or the first device of `kind` when no id is given.
    ///
    /// # Errors
    /// `Parameter` (`device`) when there is none, or it is of another kind.
    pub fn device(&self, id: Option<&str>, kind: ApplicatorKind) -> Result<&Device> {
        let found = match id {
            Some(id) => self.devices.iter().find(|d| d.id == id),
            None => self.devices.iter().find(|d| d.applicator == kind),
        };
        let ids: Vec<&str> = self
            .devices
            .iter()
            .filter(|d| d.applicator == kind)
            .map(|d| d.id.as_str())
            .collect();
        match found {
            Some(d) if d.applicator == kind => Ok(d),
            _ => Err(parameter_error(
                "device",
                id.unwrap_or("(none)"),
                format!("a {} device of the library: {}", kind.name(), ids.join(", ")),
            )),
        }
    }

    /// The setting `id`.
    pub fn setting(&self, id: &str) -> Option<&Setting> {
        self.settings.iter().find(|s| s.id == id)
    }

    /// The settings of a device.
    pub fn settings_of<'a>(&'a self, device: &'a str) -> impl Iterator<Item = &'a Setting> + 'a {
        self.settings.iter().filter(move |s| s.device == device)
    }
}

/// Warnings for a power or time outside the device's range.
pub fn range_warnings(device: &Device, power_w: f64, time_s: f64) -> Vec<Warning> {
    let mut out = Vec::new();
    let [p0, p1] = device.power_range_w;
    if power_w < p0 || power_w > p1 {
        out.push(Warning::new(
            None,
            "power_w",
            format!(
                "{power_w} W is outside {}'s range {p0}-{p1} W ({}): the prediction extrapolates",
                device.id, device.range_source
            ),
        ));
    }
    let [t0, t1] = device.time_range_s;
    if time_s < t0 || time_s > t1 {
        out.push(Warning::new(
            None,
            "time_s",
            format!(
                "{time_s} s is outside {}'s range {t0}-{t1} s ({}): the prediction extrapolates",
                device.id, device.range_source
            ),
        ));
    }
    out
}

/// The conditions of the calibration: homogeneous liver without perfusion
/// (the reference charts are ex vivo), starting at 37 °C, on a 1 mm lattice
/// around an antenna along the lattice's z axis.
#[derive(Debug, Clone)]
pub struct CalibrationCase {
    /// The lattice's grid (world = lattice mm, antenna tip at the origin).
    pub grid: Grid,
    /// Homogeneous liver, no perfusion.
    pub lattice: Lattice,
    /// The antenna.
    pub pose: Pose,
}

/// A lattice grid around a needle along +z with its tip at the origin:
/// `half_mm` to each side, `before_mm` beyond the tip, `behind_mm` behind it.
///
/// # Errors
/// `Parameter` for a spacing too coarse for the box.
pub fn needle_grid(spacing_mm: f64, half_mm: f64, before_mm: f64, behind_mm: f64) -> Result<Grid> {
    let half = (half_mm / spacing_mm).round() as usize;
    let before = (before_mm / spacing_mm).round() as usize;
    let behind = (behind_mm / spacing_mm).round() as usize;
    let dims = [2 * half + 1, 2 * half + 1, before + behind + 1];
    let mut affine = nalgebra::Matrix4::identity();
    for a in 0..3 {
        affine[(a, a)] = spacing_mm;
    }
    affine[(0, 3)] = -(half as f64) * spacing_mm;
    affine[(1, 3)] = -(half as f64) * spacing_mm;
    affine[(2, 3)] = -(behind as f64) * spacing_mm;
    Grid::new(dims, affine)
}

/// Homogeneous, unperfused liver around an antenna pointing along +z with its
/// tip at the world origin, at the given spacing.
///
/// # Errors
/// `Parameter` for an invalid spacing.
pub fn calibration_case(params: &Parameters, spacing_mm: f64) -> Result<CalibrationCase> {
    liver_block(params, spacing_mm, false)
}

/// [`calibration_case`] with the liver perfused as `params` say (in vivo).
///
/// # Errors
/// `Parameter` for an invalid spacing.
pub fn perfused_case(params: &Parameters, spacing_mm: f64) -> Result<CalibrationCase> {
    liver_block(params, spacing_mm, true)
}

fn liver_block(params: &Parameters, spacing_mm: f64, perfused: bool) -> Result<CalibrationCase> {
    // ±40 mm across, 36 mm beyond the tip and 70 mm behind it: room for the
    // largest zone of the table (45 × 55 mm) and its damage zone.
    let grid = needle_grid(spacing_mm, 40.0, 36.0, 70.0)?;
    let dims = grid.dims();
    let mut liver = params.liver;
    if !perfused {
        liver.perfusion_1_s = 0.0;
    }
    let lattice = Lattice {
        dims,
        spacing_mm,
        materials: vec![
            crate::bioheat::material(params, &liver, "liver", Some(1)),
            crate::bioheat::dried_material(params, &liver, "liver"),
        ],
        material: vec![0; dims[0] * dims[1] * dims[2]],
    };
    let pose = Pose::from_direction([0.0, 0.0, 0.0], [0.0, 0.0, 1.0])?;
    Ok(CalibrationCase { grid, lattice, pose })
}

/// The zones of one setting: above the isotherm (70 °C) and dead by the
/// Arrhenius damage (Ω ≥ 1).
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct ModelZones {
    /// Heating time, s.
    pub time_s: f64,
    /// The 70 °C zone.
    pub iso: ZoneShape,
    /// The damage zone.
    pub damage: ZoneShape,
}

/// The microwave model's zones in the calibration conditions at `power_w`
/// for each of `times_s`, from one run to the longest.
///
/// # Errors
/// As the solver.
pub fn model_zones(
    case: &CalibrationCase,
    params: &Parameters,
    power_w: f64,
    times_s: &[f64],
    progress: &dyn Progress,
) -> Result<Vec<ModelZones>> {
    let longest = times_s.iter().copied().fold(0.0f64, f64::max);
    let q = crate::bioheat::applicator::microwave_power_density(
        &case.grid,
        &case.pose,
        power_w,
        &params.microwave,
    )?;
    let settings = RunSettings {
        heating_s: longest,
        cooldown_s: 0.0,
        stability_safety_frac: params.solver.stability_safety_frac,
        dt_s: None,
        blood_c: params.blood.temperature_c,
        initial_c: params.blood.temperature_c,
        boiling_c: params.water.boiling_c,
        isotherm_c: params.damage.isotherm_c,
        walls: Walls::BodyTemperature,
        damage: params.damage,
        snapshots_s: times_s.to_vec(),
    };
    let mut source = DryingMicrowave::new(
        q,
        params.microwave.dry_absorption_frac,
        params.microwave.update_interval_s,
    );
    let fields = run(&case.lattice, &settings, &mut source, progress)?;
    zones_at(&case.grid, &case.pose, &fields.snapshots, times_s, params)
}

/// The 70 °C and damage zones of the snapshot taken at each of `times_s`
/// (the first at or after it, else the last).
///
/// # Errors
/// `Parameter` (`time_s`) when the run kept no snapshot.
fn zones_at(
    grid: &Grid,
    pose: &Pose,
    snapshots: &[crate::bioheat::solver::Snapshot],
    times_s: &[f64],
    params: &Parameters,
) -> Result<Vec<ModelZones>> {
    let mut out = Vec::with_capacity(times_s.len());
    for &t in times_s {
        let snap = snapshots
            .iter()
            .find(|s| s.time_s >= t - 1e-9 * t)
            .or(snapshots.last())
            .ok_or_else(|| parameter_error("time_s", t, "a heating time"))?;
        let iso = LatticeField {
            grid,
            values: &snap.tmax_c,
            outside: params.blood.temperature_c as f32,
        };
        let dmg = LatticeField {
            grid,
            values: &snap.damage_omega,
            outside: 0.0,
        };
        out.push(ModelZones {
            time_s: t,
            iso: zone_shape(&iso, params.damage.isotherm_c as f32, pose),
            damage: zone_shape(&dmg, 1.0, pose),
        });
    }
    Ok(out)
}

/// The 70 °C zone of the microwave model in the calibration conditions.
///
/// # Errors
/// As the solver.
pub fn model_zone(
    case: &CalibrationCase,
    params: &Parameters,
    power_w: f64,
    time_s: f64,
    progress: &dyn Progress,
) -> Result<ZoneShape> {
    Ok(model_zones(case, params, power_w, &[time_s], progress)?[0].iso)
}

/// The radiofrequency model's zones at each of `times_s` (one run to the
/// longest): a homogeneous block of liver (perfused when `in_vivo`, else as
/// the calibration conditions), the electrode along +z, simulated as
/// `liverkit simulate` does with `params` (the device applied).
///
/// # Errors
/// As [`crate::bioheat::simulate`].
pub fn rf_model_zones(
    params: &Parameters,
    power_w: f64,
    times_s: &[f64],
    in_vivo: bool,
    progress: &dyn Progress,
) -> Result<Vec<ModelZones>> {
    // 121 mm of liver each way at 1 mm: wider than the simulated region
    // (the expected reach, 25 mm, plus the region's margin around the
    // electrode), so the region holds liver only.
    let grid = needle_grid(1.0, 60.0, 60.0, 60.0)?;
    let block = crate::volume::Volume::new(
        grid.clone(),
        ndarray::Array3::from_elem(ndarray::ShapeBuilder::f(grid.dims()), true),
    )?;
    let mut p = params.clone();
    if !in_vivo {
        p.liver.perfusion_1_s = 0.0;
    }
    // The electrode's middle at the block's centre.
    let tip = [0.0, 0.0, 0.5 * p.rf.active_length_mm];
    let longest = times_s.iter().copied().fold(0.0f64, f64::max);
    let request = crate::bioheat::Request {
        applicator: ApplicatorKind::Rfa,
        power_w,
        time_s: longest,
        pose: Pose::from_direction(tip, [0.0, 0.0, 1.0])?,
        allow_outside: false,
        max_bytes: u64::MAX,
        margin_mm: 10.0,
        expected_radius_mm: 25.0,
        together: Vec::new(),
    };
    let tissues = crate::bioheat::Tissues {
        liver: &block,
        tumor: None,
        vessels: Vec::new(),
    };
    let sim = crate::bioheat::simulate_with_snapshots(&tissues, &request, &p, times_s, progress)?;
    zones_at(&sim.sim.grid, &request.pose, &sim.fields.snapshots, times_s, &p)
}
