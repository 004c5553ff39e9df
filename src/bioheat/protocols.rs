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

use crate::bioheat::applicator::{ApplicatorKind, Pose};
use crate::bioheat::solver::{run, FixedSource, Lattice, Material, RunSettings};
use crate::bioheat::tissue::{Parameters, Walls};
use crate::bioheat::zone::{zone_shape, LatticeField, ZoneShape};
use crate::error::{header_error, parameter_error, Error, Result, Warning};
use crate::grid::Grid;
use crate::progress::{NoProgress, Progress};

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
    /// The setting the microwave pattern is calibrated to.
    pub calibration_setting: Option<String>,
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
    /// conditions, diameter and length, mm.
    pub model_zone_mm: Option<[f64; 2]>,
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
    // ±42 mm across, 36 mm beyond the tip and 66 mm behind it.
    let grid = needle_grid(spacing_mm, 42.0, 36.0, 66.0)?;
    let dims = grid.dims();
    let l = &params.liver;
    let lattice = Lattice {
        dims,
        spacing_mm,
        materials: vec![Material {
            name: "liver".into(),
            heat_capacity_j_m3k: l.density_kg_m3 * l.specific_heat_j_kgk,
            conductivity_w_mk: l.conductivity_w_mk,
            perfusion_w_m3k: 0.0,
            wall_w_m2k: None,
        }],
        material: vec![0; dims[0] * dims[1] * dims[2]],
    };
    let pose = Pose::from_direction([0.0, 0.0, 0.0], [0.0, 0.0, 1.0])?;
    Ok(CalibrationCase { grid, lattice, pose })
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
    let q = crate::bioheat::applicator::microwave_power_density(
        &case.grid,
        &case.pose,
        power_w,
        &params.microwave,
    )?;
    let settings = RunSettings {
        heating_s: time_s,
        cooldown_s: 0.0,
        stability_safety_frac: params.solver.stability_safety_frac,
        dt_s: None,
        blood_c: params.blood.temperature_c,
        initial_c: params.blood.temperature_c,
        cap_c: params.solver.boiling_cap_c,
        isotherm_c: params.damage.isotherm_c,
        walls: Walls::BodyTemperature,
        damage: params.damage,
        perfusion_stop_omega: 1.0,
    };
    let fields = run(&case.lattice, &settings, &mut FixedSource(q), progress)?;
    let field = LatticeField {
        grid: &case.grid,
        values: &fields.tmax_c,
        outside: params.blood.temperature_c as f32,
    };
    Ok(zone_shape(&field, params.damage.isotherm_c as f32, &case.pose))
}

/// The fitted microwave constants and the zone they give.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct MicrowaveCalibration {
    /// Fraction of the power deposited in tissue.
    pub efficiency_frac: f64,
    /// Standard deviation of the radiating section, mm.
    pub axial_width_mm: f64,
    /// The zone the model then produces, mm.
    pub zone: ZoneShape,
    /// Simulations run.
    pub runs: usize,
}

/// Fits the efficiency and the radiating length of the microwave pattern so
/// that the model's 70 °C zone in the calibration conditions matches a
/// setting's diameter and length (to 0.05 mm), by Newton's method with
/// finite-difference slopes. The centre of the radiating section stays at
/// its parameter value.
///
/// # Errors
/// `Parameter` when the setting lacks a power, time, diameter or length, or
/// the fit does not converge in 12 iterations.
pub fn calibrate_microwave(
    setting: &Setting,
    params: &Parameters,
    spacing_mm: f64,
    progress: &dyn Progress,
) -> Result<MicrowaveCalibration> {
    let need = |v: Option<f64>, what: &str| {
        v.ok_or_else(|| parameter_error(format!("settings.{}.{what}", setting.id), "null", "a value"))
    };
    let power = need(setting.power_w, "power_w")?;
    let time = need(setting.time_s, "time_s")?;
    let d_target = need(
        setting.zone_diameter_mm.map(|r| 0.5 * (r[0] + r[1])),
        "zone_diameter_mm",
    )?;
    let l_target = need(
        setting.zone_length_mm.map(|r| 0.5 * (r[0] + r[1])),
        "zone_length_mm",
    )?;
    let case = calibration_case(params, spacing_mm)?;
    let mut p = params.clone();
    let mut runs = 0;
    let mut eval = |eff: f64, width: f64| -> Result<ZoneShape> {
        p.microwave.efficiency_frac = eff;
        p.microwave.axial_width_mm = width;
        runs += 1;
        model_zone(&case, &p, power, time, &NoProgress)
    };
    let (mut eff, mut width) = (params.microwave.efficiency_frac, params.microwave.axial_width_mm);
    progress.start("calibrating", 12);
    for _ in 0..12 {
        let z = eval(eff, width)?;
        let (fd, fl) = (z.diameter_mm - d_target, z.length_mm - l_target);
        if fd.abs() < 0.05 && fl.abs() < 0.05 {
            progress.finish();
            return Ok(MicrowaveCalibration {
                efficiency_frac: eff,
                axial_width_mm: width,
                zone: z,
                runs,
            });
        }
        let (de, dw) = (0.05 * eff, 0.05 * width);
        let ze = eval(eff + de, width)?;
        let zw = eval(eff, width + dw)?;
        // Jacobian of (diameter, length) in (efficiency, width).
        let (a, b) = (
            (ze.diameter_mm - z.diameter_mm) / de,
            (zw.diameter_mm - z.diameter_mm) / dw,
        );
        let (c, d) = (
            (ze.length_mm - z.length_mm) / de,
            (zw.length_mm - z.length_mm) / dw,
        );
        let det = a * d - b * c;
        if det.abs() < 1e-12 {
            break;
        }
        let step_e = (d * fd - b * fl) / det;
        let step_w = (-c * fd + a * fl) / det;
        eff = (eff - step_e).clamp(0.5 * eff, 1.5 * eff).clamp(0.01, 1.0);
        width = (width - step_w).clamp(0.5 * width, 1.5 * width).clamp(0.5, 50.0);
        progress.advance(1);
    }
    progress.finish();
    Err(parameter_error(
        "calibration",
        setting.id.clone(),
        "a setting the microwave pattern can reproduce (the fit did not converge)",
    ))
}
