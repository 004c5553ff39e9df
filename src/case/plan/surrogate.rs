//! The planner's zone surrogate: the device's 70 °C zones over its power
//! and time range, from the thermal model.

use rayon::prelude::*;

use super::SurrogateZone;
use crate::bioheat::applicator::ApplicatorKind;
use crate::bioheat::protocols::{model_zones, perfused_case, rf_model_zones, Library, ModelZones};
use crate::bioheat::tissue::Parameters;
use crate::error::Result;
use crate::progress::NoProgress;

/// The device's 70 °C zones in a block of perfused liver (the calibration
/// block, perfused as the confirmation runs are: with perfusion stopping
/// at 60 °C the sample's microwave zone keeps about a third of its
/// unperfused volume, 1.81 of 5.07 mL at 50 W, 10 min): three powers
/// across its range and six times across its range, one coarse (2 mm) run
/// per power. Sorted by zone volume.
///
/// A radiofrequency device gets [`rf_surrogate`]'s zones instead.
///
/// # Errors
/// Solver errors.
pub fn surrogate(
    lib: &Library,
    device: Option<&str>,
    kind: ApplicatorKind,
    params: &Parameters,
) -> Result<(String, Vec<SurrogateZone>)> {
    let dev = lib.device(device, kind)?;
    let p = dev.apply(params);
    let [p0, p1] = dev.power_range_w;
    let [t0, t1] = dev.time_range_s;
    let times: Vec<f64> = [0.25, 0.4, 0.55, 0.7, 0.85, 1.0]
        .iter()
        .map(|f| (t0 + f * (t1 - t0)).round())
        .collect();
    if kind == ApplicatorKind::Rfa {
        return Ok((dev.id.clone(), rf_surrogate(&p, p1, &times)?));
    }
    let case = perfused_case(&p, 2.0)?;
    let powers = [p0 + 0.5 * (p1 - p0), p1, p0 + 0.75 * (p1 - p0)];
    let runs: Vec<Result<Vec<SurrogateZone>>> = powers
        .par_iter()
        .map(|&pw| {
            let zones = model_zones(&case, &p, pw, &times, &NoProgress)?;
            Ok(zones.iter().map(|z| surrogate_zone(pw, z)).collect())
        })
        .collect();
    let mut all = Vec::new();
    for r in runs {
        all.extend(r?);
    }
    Ok((dev.id.clone(), by_volume(all)))
}

/// The radiofrequency surrogate: the generator at its highest setting
/// (the impedance control holds the hottest tissue at boiling, so the setting
/// caps the power rather than sets it), one run at the simulation's 1 mm
/// (a cooled electrode on a 2 mm lattice cools a voxel four times the
/// electrode's section and halves the zone) giving every time, in perfused
/// liver, as the confirmation runs (the RF zone shrinks by half in volume
/// with perfusion, as [Cvir2009]'s does).
/// Sorted by zone volume.
fn rf_surrogate(params: &Parameters, power_w: f64, times: &[f64]) -> Result<Vec<SurrogateZone>> {
    let zones = rf_model_zones(params, power_w, times, true, &NoProgress)?;
    Ok(by_volume(
        zones.iter().map(|z| surrogate_zone(power_w, z)).collect(),
    ))
}

/// The surrogate's zone: the model's 70 °C zone at `power_w`.
fn surrogate_zone(power_w: f64, z: &ModelZones) -> SurrogateZone {
    SurrogateZone {
        power_w,
        time_s: z.time_s,
        diameter_mm: z.iso.diameter_mm,
        length_mm: z.iso.length_mm,
        beyond_tip_mm: z.iso.beyond_tip_mm,
    }
}

/// The zones with a size, smallest volume first.
fn by_volume(mut all: Vec<SurrogateZone>) -> Vec<SurrogateZone> {
    all.retain(|z| z.diameter_mm > 0.0 && z.length_mm > 0.0);
    all.sort_by(|a, b| {
        (a.diameter_mm * a.diameter_mm * a.length_mm)
            .total_cmp(&(b.diameter_mm * b.diameter_mm * b.length_mm))
    });
    all
}
