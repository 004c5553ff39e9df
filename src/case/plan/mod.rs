//! `liverkit plan`: the needle path, tip, power and time that cover a tumour
//! and its margin, avoiding what must not be crossed.
//!
//! Obstacles come from the label map's names (TotalSegmentator's `total`
//! task, [`obstacle_class`]) and the vessels given; their distance maps make
//! clearance a lookup along each candidate ray ([`crate::planner`]). The
//! zone surrogate is the device's 70 °C zone (the zone the verdict uses) in
//! a homogeneous block of perfused liver, for a grid of powers and times, from one
//! coarse run per power; the best candidates are confirmed with the full
//! simulation of `liverkit simulate` (perfusion and heat sinks included) and
//! ranked on the confirmed result.

mod masks;
mod multi;
mod one;
mod report;
mod surrogate;
mod target;

use std::collections::BTreeMap;

use crate::bioheat::protocols::Library;
use crate::bioheat::tissue::Parameters;
use crate::case::roles::Files;
use crate::error::{parameter_error, Result, Warning};
use crate::planner::{directions, CappedDistance};
use crate::progress::Progress;
use crate::volume::{Mask, Volume};
use one::{plan_tumour, Setting};
use target::{liver_around, separate_tumours, targets, tumour_box};

pub use masks::{write_plan_masks, OUTPUT_FILES};
pub use multi::{MultiPlan, Together, ZoneJudgement, DELIVERY, MAX_ABLATIONS};
pub use report::{PlanCandidate, PlanReport, PlanRequest, SurrogateZone, TumorPlan};
pub use surrogate::surrogate;
pub use target::MAX_TUMOURS;

/// Which kind of obstacle a label of TotalSegmentator's `total` task is:
/// `Some(true)` a vessel (the larger clearance), `Some(false)` another
/// structure the needle must not cross, `None` not an obstacle (liver,
/// muscle, fat…).
pub fn obstacle_class(name: &str) -> Option<bool> {
    const VESSELS: [&str; 4] = [
        "aorta",
        "inferior_vena_cava",
        "portal_vein_and_splenic_vein",
        "heart",
    ];
    const OTHERS: [&str; 21] = [
        "rib_",
        "vertebrae_",
        "sternum",
        "costal_cartilages",
        "scapula_",
        "clavicula_",
        "hip_",
        "sacrum",
        "lung_",
        "gallbladder",
        "stomach",
        "small_bowel",
        "duodenum",
        "colon",
        "esophagus",
        "kidney_",
        "spleen",
        "pancreas",
        "adrenal_gland_",
        "pulmonary_vein",
        "atrial_appendage_left",
    ];
    if VESSELS.contains(&name) {
        return Some(true);
    }
    OTHERS
        .iter()
        .any(|o| {
            if o.ends_with('_') {
                name.starts_with(o)
            } else {
                name == *o
            }
        })
        .then_some(false)
}

/// Clearances at or above this are reported as it, mm (at least twice the
/// largest clearance asked for): the obstacles' distance maps are computed
/// within the needle's reach and capped ([`CappedDistance`]). A liverkit
/// choice: beyond 3 cm the distance to a structure does not change a plan.
pub const CLEARANCE_CAP_MM: f64 = 30.0;

/// The obstacle groups a planner looks for, and how a label joins each.
const EXPECTED: [(&str, &str); 6] = [
    ("ribs", "rib_"),
    ("lungs", "lung_"),
    ("vertebrae", "vertebrae_"),
    ("bowel", "colon"),
    ("stomach", "stomach"),
    ("large vessels", "aorta"),
];
/// Vessels, other obstacles, and the labels found per group.
type Obstacles = (Option<Mask>, Option<Mask>, BTreeMap<String, Vec<String>>);

/// The obstacle masks of the main label map: (vessels, others) and the
/// labels found per group.
fn obstacle_masks(files: &mut Files, vessels: &[String]) -> Result<Obstacles> {
    let map = files
        .main_map()
        .ok_or_else(|| parameter_error("LABELMAP", "none", "a label map with named structures"))?;
    let mut vessel_labels = Vec::new();
    let mut other_labels = Vec::new();
    let mut found: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let present = map.present_labels();
    for (label, name) in map.names().iter() {
        if !present.contains(label) {
            continue;
        }
        let (labels, group) = match obstacle_class(name) {
            Some(true) => (&mut vessel_labels, "vessels"),
            Some(false) => (&mut other_labels, "others"),
            None => continue,
        };
        labels.push(*label);
        found.entry(group.to_string()).or_default().push(name.clone());
    }
    let mut vessel_mask = (!vessel_labels.is_empty()).then(|| map.mask_of(&vessel_labels));
    let others = (!other_labels.is_empty()).then(|| map.mask_of(&other_labels));
    for v in crate::case::target::resolve_vessels(files, vessels)? {
        let name = v.name.clone().unwrap_or_else(|| format!("label {}", v.label));
        found.entry("vessels".into()).or_default().push(name);
        match &mut vessel_mask {
            Some(m) => ndarray::Zip::from(m.data_mut())
                .and(v.mask.data())
                .for_each(|a, &b| *a |= b),
            None => vessel_mask = Some(v.mask),
        }
    }
    Ok((vessel_mask, others, found))
}

/// Where the CT holds the body: above −500 HU, halfway between air
/// (−1000 HU) and fat (about −100 HU) [RadiopaediaWindowing], a liverkit
/// choice; the lungs fall below it but lie inside the outermost body voxel
/// the tracer takes as the skin.
const BODY_HU: f32 = -500.0;

/// The body: a mask given, the CT above [`BODY_HU`], or none (the field of
/// view).
fn body_mask(files: &mut Files, req: &PlanRequest, grid: &crate::grid::Grid) -> Result<Option<Mask>> {
    if let Some(spec) = &req.body {
        let (m, _) = files.resolve("body", spec)?;
        if !m.any() {
            return Err(parameter_error(
                "body",
                "an empty mask",
                "a body mask with voxels",
            ));
        }
        return Ok(Some(m));
    }
    if let Some(ct) = &req.image {
        let v = crate::case::figures::background(ct, grid, files.options())?;
        let data = v.data().mapv(|hu| hu > BODY_HU);
        return Ok(Some(Volume::new(grid.clone(), data)?));
    }
    Ok(None)
}

/// Plans the case: obstacles and the surrogate, then each target of the
/// mask on its own (a tumour, or several whose margins touch; largest
/// first, at most [`MAX_TUMOURS`]).
///
/// # Errors
/// Role errors; `Parameter` for a tumour outside the liver, an empty body
/// mask, RF, or a device without a working length; solver errors.
pub fn plan_case(
    files: &mut Files,
    req: &PlanRequest,
    params: &Parameters,
    lib: &Library,
    progress: &dyn Progress,
) -> Result<PlanReport> {
    let t0 = std::time::Instant::now();
    let mut timing = BTreeMap::new();
    let mut warnings = Vec::new();
    let (liver, _) = files.liver(req.liver.as_ref())?;
    let (tumor, _) = files.tumor(req.tumor.as_ref())?.ok_or_else(|| {
        parameter_error(
            "tumor",
            "none",
            "a tumour (--tumor, or a label named liver_tumor)",
        )
    })?;
    let grid = liver.grid().clone();
    if !tumor.any() {
        return Err(parameter_error("tumor", "0 voxels", "a non-empty tumour"));
    }
    let targets = targets(&tumor, req.margin_mm);
    warnings.extend(separate_tumours(&targets, &grid, req.margin_mm));
    let (tumours, sizes) = (&targets.masks, &targets.sizes);
    for (i, t) in tumours.iter().enumerate() {
        let (inside, shell) = liver_around(t, &liver);
        if inside * 2 < shell {
            let which = if sizes.len() > 1 {
                format!(
                    "target {} of {} ({:.2} mL of tumour): ",
                    i + 1,
                    sizes.len(),
                    grid.volume_ml(t.count() as u64)
                )
            } else {
                String::new()
            };
            return Err(parameter_error(
                "tumor",
                format!("{which}{inside} of the {shell} voxels around it in the liver"),
                "a tumour inside the liver",
            ));
        }
    }
    let device = lib.device(req.device.as_deref(), req.applicator)?;
    let mut constraints = req.constraints;
    match device.working_length_mm {
        Some(w) => constraints.max_length_mm = constraints.max_length_mm.min(w),
        None => {
            return Err(parameter_error(
                "device",
                &device.id,
                "a device with a working length (working_length_mm in the protocol library)",
            ))
        }
    }
    let (vessels, others, found) = obstacle_masks(files, &req.vessels)?;
    let missing: Vec<&str> = EXPECTED
        .iter()
        .filter(|(_, prefix)| !found.values().flatten().any(|n| n.starts_with(prefix)))
        .map(|(group, _)| *group)
        .collect();
    if !missing.is_empty() {
        warnings.push(Warning::about(
            "obstacles",
            format!(
                "not in the label map, so not avoided: {} (segment them, e.g. TotalSegmentator's total task)",
                missing.join(", ")
            ),
        ));
    }
    let body = body_mask(files, req, &grid)?;
    if body.is_none() {
        warnings.push(Warning::about(
            "body",
            "no --body or --image: the skin is taken at the edge of the scan, so depths are lower bounds",
        ));
    }
    // Every point a path's clearance is read at lies within the working
    // length of a start in the target (the centre or a tip), so the
    // distance maps are computed in the tumour's box grown by the margin,
    // the working length, the cap and 10 mm for a tip at the target's edge.
    let cap_mm = CLEARANCE_CAP_MM.max(
        2.0 * constraints
            .vessel_clearance_mm
            .max(constraints.other_clearance_mm),
    );
    let reach = tumour_box(&tumor, req.margin_mm + constraints.max_length_mm + cap_mm + 10.0)
        .map(|(_, roi)| roi)
        .ok_or_else(|| parameter_error("tumor", "0 voxels", "a non-empty tumour"))?;
    let capped = |m: &Mask| CappedDistance::new(m, reach, cap_mm);
    let vessels_mm = vessels.as_ref().map(capped).transpose()?;
    let others_mm = others.as_ref().map(capped).transpose()?;
    timing.insert("obstacles_s".to_string(), t0.elapsed().as_secs_f64());

    let t1 = std::time::Instant::now();
    let (device_id, zones) = surrogate(lib, req.device.as_deref(), req.applicator, params)?;
    timing.insert("surrogate_s".to_string(), t1.elapsed().as_secs_f64());
    let functional_voxels = ndarray::Zip::from(liver.data())
        .and(tumor.data())
        .fold(0u64, |n, &l, &t| n + u64::from(l && !t));
    let dirs = directions(req.directions);
    let setting = Setting {
        req,
        params,
        lib,
        device_id: &device_id,
        zones: &zones,
        directions: &dirs,
        constraints: &constraints,
        grid: &grid,
        liver: &liver,
        tumours: &tumor,
        vessels_mm: vessels_mm.as_ref(),
        others_mm: others_mm.as_ref(),
        body: body.as_ref(),
        functional_voxels,
    };
    let mut planned = Vec::new();
    for (i, t) in tumours.iter().enumerate() {
        let which = (i + 1, targets.tumours[i]);
        planned.push(plan_tumour(files, &setting, t, which, &mut timing, progress)?);
    }
    let not_planned = sizes.len().saturating_sub(tumours.len());
    let mut outputs = BTreeMap::new();
    if let Some(dir) = &req.out_dir {
        let template = files
            .main_path()
            .and_then(|p| files.output_template(p))
            .unwrap_or_else(|| crate::io::nifti::NiftiTemplate::from_grid(&grid));
        let needles: Vec<([f64; 3], [f64; 3])> = planned.iter().flat_map(|p| p.needles.clone()).collect();
        let mut zone: Option<Mask> = None;
        for z in planned.iter().filter_map(|p| p.zone.as_ref()) {
            match &mut zone {
                Some(u) => ndarray::Zip::from(u.data_mut())
                    .and(z.data())
                    .for_each(|a, &b| *a |= b),
                None => zone = Some(z.clone()),
            }
        }
        if let Some(zone) = zone {
            outputs = write_plan_masks(dir, &template, &grid, &needles, &zone)?;
        }
    }
    let mut plans = planned.into_iter().map(|p| p.plan);
    let first = plans
        .next()
        .ok_or_else(|| parameter_error("tumor", "0 voxels", "a non-empty tumour"))?;
    let other_tumors: Vec<TumorPlan> = plans.collect();
    let all_tumors_covered =
        not_planned == 0 && first.covers_target && other_tumors.iter().all(|t| t.covers_target);
    Ok(PlanReport {
        input: files
            .main_path()
            .map(|p| vec![p.to_path_buf()])
            .unwrap_or_default(),
        device: device_id,
        margin_mm: req.margin_mm,
        directions_tried: dirs.len(),
        obstacles: found,
        protocols: zones,
        tumor: first,
        other_tumors,
        tumors_not_planned: not_planned,
        all_tumors_covered,
        timing_s: timing,
        outputs,
        warnings,
    })
}
