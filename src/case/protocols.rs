//! The protocols case: what `liverkit protocols` reports — the device
//! library with each setting's published zone, the model's zone beside it
//! (`check`), and the microwave calibration on request (`calibrate`), with a
//! new device fitted to a user's own zone chart (`chart`).

use std::path::PathBuf;

use serde::Serialize;

use crate::bioheat::applicator::ApplicatorKind;
use crate::bioheat::calibration::{
    calibrate_device, chart_warnings, device_from_chart, fit_warning, read_chart, DeviceCalibration,
};
use crate::bioheat::protocols::{calibration_case, model_zones, rf_model_zones, Device, Library};
use crate::bioheat::tissue::Parameters;
use crate::error::{parameter_error, Result, Warning};
use crate::progress::Progress;

/// What to report.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ProtocolsRequest {
    /// A protocol library (JSON) instead of the built-in one.
    pub protocols: Option<PathBuf>,
    /// Tissue parameters (TOML or JSON) for `calibrate` and `check`.
    pub params: Option<PathBuf>,
    /// Refit the microwave source of each microwave device (or of `device`).
    pub calibrate: bool,
    /// With `calibrate`: a zone chart (CSV) to fit a new device to.
    pub chart: Option<PathBuf>,
    /// The device to calibrate, or the id of the one `chart` creates.
    pub device: Option<String>,
    /// With `calibrate`: where to write the library with the fitted device(s).
    pub out: Option<PathBuf>,
    /// Simulate every microwave setting and report the model's zones.
    pub check: bool,
    /// With `calibrate`: also predict each setting from a fit to all the
    /// others (one fit per setting).
    pub leave_one_out: bool,
}

/// One setting as `liverkit protocols` reports it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SettingRow {
    /// Setting id.
    pub id: String,
    /// Device id.
    pub device: String,
    /// Generator power, W.
    pub power_w: Option<f64>,
    /// Heating time, s.
    pub time_s: Option<f64>,
    /// The published zone's short axis (range), mm.
    pub table_zone_diameter_mm: Option<[f64; 2]>,
    /// The published zone's long axis (range), mm.
    pub table_zone_length_mm: Option<[f64; 2]>,
    /// Whether the setting was used to fit the device's constants.
    pub fitted: Option<bool>,
    /// The model's zone (short, long axis) stored with the setting, mm.
    pub model_zone_mm: Option<[f64; 2]>,
    /// The damage zone simulated now (`check`), mm.
    pub checked_zone_mm: Option<[f64; 2]>,
    /// The 70 °C zone simulated now (`check`), mm.
    pub checked_zone70_mm: Option<[f64; 2]>,
    /// Where the setting comes from.
    pub source: String,
}

/// What `liverkit protocols --json` prints.
#[derive(Debug, Clone, Serialize)]
pub struct ProtocolsReport {
    /// The devices of the library.
    pub devices: Vec<Device>,
    /// Their settings.
    pub settings: Vec<SettingRow>,
    /// The calibrations run (`calibrate`).
    pub calibration: Vec<DeviceCalibration>,
    /// What to check in a chart and its fit (absent when there is nothing).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<Warning>,
}

/// Reads the library and the parameters, calibrates and checks as asked,
/// and writes the calibrated library to `out` (atomically).
///
/// # Errors
/// Read and parse errors of the files; `Parameter` (`device`) for a chart
/// device id already in the library; calibration and simulation errors.
pub fn protocols_report(request: &ProtocolsRequest, progress: &dyn Progress) -> Result<ProtocolsReport> {
    let mut lib = match &request.protocols {
        Some(p) => Library::from_file(p)?,
        None => Library::builtin()?,
    };
    let params = match &request.params {
        Some(p) => Parameters::from_file(p)?,
        None => Parameters::default(),
    };
    params.validate()?;
    let mut calibration = Vec::new();
    let mut warnings = Vec::new();
    if request.calibrate {
        let ids: Vec<String> = if let Some(chart) = &request.chart {
            let rows = read_chart(chart)?;
            warnings.extend(chart_warnings(chart, &rows));
            let id = request.device.clone().unwrap_or_else(|| "chart".to_string());
            if lib.devices.iter().any(|d| d.id == id) {
                return Err(parameter_error(
                    "device",
                    id,
                    "an id not yet in the library for the device `chart` creates",
                ));
            }
            let (device, settings) = device_from_chart(&id, chart, &rows);
            lib.devices.push(device);
            lib.settings.extend(settings);
            vec![id]
        } else {
            lib.devices
                .iter()
                .filter(|d| d.applicator == ApplicatorKind::Mwa)
                .filter(|d| request.device.as_ref().is_none_or(|id| *id == d.id))
                .map(|d| d.id.clone())
                .collect()
        };
        for id in ids {
            let c = calibrate_device(&mut lib, &id, &params, request.leave_one_out, progress)?;
            warnings.extend(fit_warning(&c, request.chart.as_deref()));
            calibration.push(c);
        }
        if let Some(out) = &request.out {
            let text = serde_json::to_string_pretty(&lib)
                .map_err(|e| parameter_error("out", e, "a library as JSON"))?;
            crate::io::atomic::write_file(out, format!("{text}\n").as_bytes())?;
        }
    }
    let case = if request.check {
        Some(calibration_case(&params, params.solver.spacing_mm)?)
    } else {
        None
    };
    let mut settings = Vec::new();
    for s in &lib.settings {
        let device = lib.devices.iter().find(|d| d.id == s.device);
        let checked = match (&case, device, s.power_w, s.time_s) {
            (Some(c), Some(d), Some(p), Some(t)) if d.applicator == ApplicatorKind::Mwa => {
                Some(model_zones(c, &d.apply(&params), p, &[t], progress)?[0])
            }
            (Some(_), Some(d), Some(p), Some(t)) => {
                Some(rf_model_zones(&d.apply(&params), p, &[t], s.in_vivo.unwrap_or(false), progress)?[0])
            }
            _ => None,
        };
        settings.push(SettingRow {
            id: s.id.clone(),
            device: s.device.clone(),
            power_w: s.power_w,
            time_s: s.time_s,
            table_zone_diameter_mm: s.zone_diameter_mm,
            table_zone_length_mm: s.zone_length_mm,
            fitted: s.fitted,
            model_zone_mm: s.model_zone_mm,
            checked_zone_mm: checked.map(|z| [z.damage.diameter_mm, z.damage.length_mm]),
            checked_zone70_mm: checked.map(|z| [z.iso.diameter_mm, z.iso.length_mm]),
            source: s.source.clone(),
        });
    }
    Ok(ProtocolsReport {
        devices: lib.devices.clone(),
        settings,
        calibration,
        warnings,
    })
}
