//! `liverkit plan`: the needle path, tip, power and time that cover a tumour
//! and its margin, avoiding what must not be crossed.
//!
//! Obstacles come from the label map's names (TotalSegmentator's `total`
//! task, [`obstacle_class`]) and the vessels given; their distance maps make
//! clearance a lookup along each candidate ray ([`crate::planner`]). The
//! zone surrogate is the device's 70 °C zone (the zone the verdict uses) in
//! the calibration conditions, for a grid of powers and times, from one
//! coarse run per power; the best candidates are confirmed with the full
//! simulation of `liverkit simulate` (perfusion and heat sinks included) and
//! ranked on the confirmed result.

mod masks;
mod multi;
mod surrogate;

use surrogate::separate_tumours;
pub use surrogate::surrogate;

use std::collections::BTreeMap;
use std::path::PathBuf;

use rayon::prelude::*;
use serde::Serialize;

use crate::bioheat::applicator::{ApplicatorKind, Pose};
use crate::bioheat::protocols::Library;
use crate::bioheat::tissue::Parameters;
use crate::case::roles::{Files, RoleSpec};
use crate::case::simulate::{simulate_case, SimulateCase};
use crate::distance::squared_edt_in_box;
use crate::error::{parameter_error, Result, Warning};
use crate::grid::ras_to_lps;
use crate::planner::{
    directions, fit_zone, trace, zone_holds, CappedDistance, Constraints, PathMaps, Rejection, ZoneSize,
};
use crate::progress::{NoProgress, Progress};
use crate::roi::VoxelBox;
use crate::volume::{fortran_values, Mask, Volume};

pub use masks::{write_plan_masks, OUTPUT_FILES};
pub use multi::{MultiPlan, DELIVERY, MAX_ABLATIONS};

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

/// What to plan.
#[derive(Debug, Clone)]
pub struct PlanRequest {
    /// The tumour (default: the label named `liver_tumor`).
    pub tumor: Option<RoleSpec>,
    /// The liver (default: the label named `liver`).
    pub liver: Option<RoleSpec>,
    /// Liver vessels (labels), avoided with the vessel clearance and
    /// simulated as heat sinks.
    pub vessels: Vec<String>,
    /// Microwave (radiofrequency is not planned yet).
    pub applicator: ApplicatorKind,
    /// Device of the library.
    pub device: Option<String>,
    /// The margin the zone must give the tumour, mm.
    pub margin_mm: f64,
    /// The body (a mask), else from `image`, else the field of view.
    pub body: Option<RoleSpec>,
    /// A CT to find the body in (air below −500 HU outside).
    pub image: Option<PathBuf>,
    /// The hard constraints.
    pub constraints: Constraints,
    /// Candidate directions.
    pub directions: usize,
    /// Candidates confirmed with the full simulation.
    pub confirm: usize,
    /// Where to write the recommended plan's masks (path, tip, zone).
    pub out_dir: Option<PathBuf>,
}

/// One protocol of the surrogate: a setting and its 70 °C zone.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct SurrogateZone {
    /// Generator power, W.
    pub power_w: f64,
    /// Heating time, s.
    pub time_s: f64,
    /// Width of the 70 °C zone, mm.
    pub diameter_mm: f64,
    /// Its length, mm.
    pub length_mm: f64,
    /// How far it reaches beyond the tip, mm.
    pub beyond_tip_mm: f64,
}

/// A ranked plan.
#[derive(Debug, Clone, Serialize)]
pub struct PlanCandidate {
    /// Rank, 1 = best.
    pub rank: usize,
    /// Entry on the skin, RAS+ mm.
    pub entry_mm: [f64; 3],
    /// Entry, DICOM LPS mm.
    pub entry_lps_mm: [f64; 3],
    /// Entry, voxel index (fractional).
    pub entry_voxel: [f64; 3],
    /// Tip, RAS+ mm.
    pub tip_mm: [f64; 3],
    /// Tip, DICOM LPS mm.
    pub tip_lps_mm: [f64; 3],
    /// Tip, voxel index (fractional).
    pub tip_voxel: [f64; 3],
    /// Unit direction of the needle, entry to tip (RAS+).
    pub direction: [f64; 3],
    /// Skin to tip, mm.
    pub depth_mm: f64,
    /// Generator power, W.
    pub power_w: f64,
    /// Heating time, s.
    pub time_s: f64,
    /// The surrogate's 70 °C zone: diameter and length, mm.
    pub predicted_zone_mm: [f64; 2],
    /// Share of the target the surrogate's zone holds, %.
    pub predicted_coverage_pct: f64,
    /// The confirmed 70 °C zone: diameter and length, mm.
    pub confirmed_zone_mm: Option<[f64; 2]>,
    /// Liver crossed before the tumour, mm.
    pub liver_path_mm: f64,
    /// The least clearance to a vessel along the path, mm (null: none
    /// given, or none within [`CLEARANCE_CAP_MM`] of the path).
    pub vessel_clearance_mm: Option<f64>,
    /// The least clearance to another obstacle, mm (null: none known, or
    /// none within [`CLEARANCE_CAP_MM`] of the path).
    pub obstacle_clearance_mm: Option<f64>,
    /// The angle between the path and the capsule, degrees.
    pub capsule_angle_deg: f64,
    /// After the full simulation: whether the 70 °C zone covers tumour and
    /// margin.
    pub covers_target: Option<bool>,
    /// Confirmed minimal margin, mm.
    pub min_margin_mm: Option<f64>,
    /// Confirmed tumour surface with margin ≥ 10 mm [Shady2018], %.
    pub coverage_ge10_pct: Option<f64>,
    /// Confirmed 70 °C zone, mL.
    pub zone70_ml: Option<f64>,
    /// Healthy liver inside the confirmed zone, mL.
    pub healthy_liver_ablated_ml: Option<f64>,
    /// The same as a share of the functional liver (liver without tumour), %.
    pub healthy_liver_ablated_pct: Option<f64>,
    /// Vessel volume the confirmation simulated as heat sinks (blood at the
    /// wall), mL: 0 when no vessel given reaches the zone's lattice.
    pub heat_sink_ml: Option<f64>,
}

/// What `liverkit plan --json` prints.
#[derive(Debug, Clone, Serialize)]
pub struct PlanReport {
    /// Files read.
    pub input: Vec<PathBuf>,
    /// Device used.
    pub device: String,
    /// Required margin, mm.
    pub margin_mm: f64,
    /// Tumour, mL.
    pub tumor_ml: f64,
    /// Tumour + margin, mL.
    pub target_ml: f64,
    /// Directions tried.
    pub directions_tried: usize,
    /// Directions that passed every hard constraint.
    pub directions_admissible: usize,
    /// Why the others were refused: count per constraint.
    pub rejected: BTreeMap<String, usize>,
    /// Obstacle labels found, by group.
    pub obstacles: BTreeMap<String, Vec<String>>,
    /// The surrogate's protocols (the device's 70 °C zones).
    pub protocols: Vec<SurrogateZone>,
    /// The single-ablation plans, best first.
    pub plans: Vec<PlanCandidate>,
    /// When no single plan covers: overlapping ablations (up to
    /// [`MAX_ABLATIONS`]), confirmed together.
    pub multi_ablation: Option<MultiPlan>,
    /// Which plan to follow: `single` (the first of `plans`),
    /// `multi_ablation`, or `none` when nothing admissible covers.
    pub recommended: String,
    /// Whether the recommended plan covers tumour and margin (after
    /// confirmation).
    pub covers_target: bool,
    /// The answer in words.
    pub verdict: String,
    /// Confirmations run again with a larger protocol after the first
    /// fell short.
    pub confirm_escalations: usize,
    /// Seconds spent: obstacles, search, confirmation (and the
    /// multi-ablation search and confirmation when tried).
    pub timing_s: BTreeMap<String, f64>,
    /// Files written (`--out-dir`): path, tip and zone masks of the
    /// recommended plan (the best single plan when none covers).
    pub outputs: BTreeMap<String, PathBuf>,
    /// What the user must know.
    pub warnings: Vec<Warning>,
}

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

/// Whether any of the six face neighbours of `ijk` in a grid of `dims`
/// satisfies `f`; a neighbour off the grid counts as `off_grid`.
fn any_neighbour(dims: [usize; 3], ijk: [usize; 3], off_grid: bool, f: impl Fn([usize; 3]) -> bool) -> bool {
    (0..3).any(|a| {
        [-1i64, 1].iter().any(|&o| {
            let mut q = ijk.map(|x| x as i64);
            q[a] += o;
            if q[a] < 0 || q[a] >= dims[a] as i64 {
                off_grid
            } else {
                f(q.map(|x| x as usize))
            }
        })
    })
}

/// The tumour's voxels in Fortran order and its bounding box grown by
/// `grow_mm` (inside the grid); `None` for an empty tumour.
fn tumour_box(tumor: &Mask, grow_mm: f64) -> Option<(std::borrow::Cow<'_, [bool]>, VoxelBox)> {
    let grid = tumor.grid();
    let vals = fortran_values(tumor.data());
    let bbox = VoxelBox::of_mask(&vals, grid.dims())?;
    let roi = bbox.grown_mm(grow_mm, grid.spacing_mm(), grid.dims());
    Some((vals, roi))
}

/// Calls `f(local, ijk)` for every voxel of `roi`: its index in the box and
/// in the grid, in Fortran order.
fn each_in_box(roi: VoxelBox, mut f: impl FnMut([usize; 3], [usize; 3])) {
    for k in 0..roi.dims[2] {
        for j in 0..roi.dims[1] {
            for i in 0..roi.dims[0] {
                f([i, j, k], [roi.start[0] + i, roi.start[1] + j, roi.start[2] + k]);
            }
        }
    }
}

/// The target's surface points (tumour + margin), relative to the tumour's
/// centre, at most `max` of them (every n-th), and the target's volume, mL.
/// The distance to the tumour is computed in its box grown by the margin
/// and two voxels, which holds every target voxel and its neighbours.
fn target_points(tumor: &Mask, margin_mm: f64, centre: [f64; 3], max: usize) -> Result<(Vec<[f64; 3]>, f64)> {
    let grid = tumor.grid();
    let sp = grid.spacing_mm();
    let Some((vals, roi)) = tumour_box(tumor, margin_mm + 2.0 * sp.iter().copied().fold(0.0, f64::max))
    else {
        return Ok((Vec::new(), 0.0));
    };
    let dist2 = squared_edt_in_box(&roi.extract(&vals, grid.dims()), roi.dims, sp);
    let inside = |local: [usize; 3]| f64::from(dist2[roi.index(local)].sqrt()) <= margin_mm;
    let mut pts = Vec::new();
    let mut count = 0u64;
    each_in_box(roi, |local, ijk| {
        if !inside(local) {
            return;
        }
        count += 1;
        // A neighbour beyond the box lies beyond the margin, or off the grid.
        if any_neighbour(roi.dims, local, true, |q| !inside(q)) {
            let w = grid.voxel_to_world(ijk.map(|x| x as f64));
            pts.push([0, 1, 2].map(|a| w[a] - centre[a]));
        }
    });
    let stride = pts.len().div_ceil(max.max(1)).max(1);
    let pts = pts.into_iter().step_by(stride).collect();
    Ok((pts, grid.volume_ml(count)))
}

/// How much of the tumour's surroundings is liver: (liver voxels, all
/// voxels) among the tumour's voxels that are liver too and the voxels just
/// outside it (6-neighbours), so that a tumour labelled apart from the liver
/// (TotalSegmentator's `liver_tumor`) counts as inside it. Only the
/// tumour's box, grown by one voxel, is visited.
fn liver_around(tumor: &Mask, liver: &Mask) -> (usize, usize) {
    let d = tumor.grid().dims();
    let (t, l) = (tumor.data(), liver.data());
    let (mut inside, mut all) = (0usize, 0usize);
    let sp = tumor.grid().spacing_mm();
    let Some((_, roi)) = tumour_box(tumor, sp.iter().copied().fold(0.0, f64::max)) else {
        return (0, 0);
    };
    each_in_box(roi, |_, ijk| {
        if t[ijk] {
            if l[ijk] {
                inside += 1;
                all += 1;
            }
        } else if any_neighbour(d, ijk, false, |q| t[q]) {
            all += 1;
            inside += usize::from(l[ijk]);
        }
    });
    (inside, all)
}

/// One admissible direction with its best protocol.
#[derive(Debug, Clone, Copy)]
struct Found {
    path: crate::planner::Path,
    zone: SurrogateZone,
    tip_mm: [f64; 3],
    covered_frac: f64,
}

/// The smallest protocol whose zone holds the whole target along `path`;
/// else the one holding the most, the largest of those on a tie (a target
/// larger than every zone is held nowhere: the largest zone leaves the
/// least of it).
fn best_protocol(
    path: &crate::planner::Path,
    pts: &[[f64; 3]],
    centre: [f64; 3],
    zones: &[SurrogateZone],
) -> Option<Found> {
    let mut best: Option<Found> = None;
    for z in zones {
        let size = ZoneSize {
            diameter_mm: z.diameter_mm,
            length_mm: z.length_mm,
            beyond_tip_mm: z.beyond_tip_mm,
        };
        let p = fit_zone(pts, centre, path.direction, &size);
        let f = Found {
            path: *path,
            zone: *z,
            tip_mm: p.tip_mm,
            covered_frac: p.covered_frac,
        };
        if p.covered_frac >= 1.0 {
            return Some(f);
        }
        if best.is_none_or(|b| p.covered_frac >= b.covered_frac) {
            best = Some(f);
        }
    }
    best
}

fn dist3(a: [f64; 3], b: [f64; 3]) -> f64 {
    (0..3).map(|k| (a[k] - b[k]).powi(2)).sum::<f64>().sqrt()
}

/// Plans the case: obstacles, search, confirmation, ranking.
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
    warnings.extend(separate_tumours(&tumor));
    let grid = liver.grid().clone();
    let tumor_voxels = tumor.count();
    let (inside, shell) = liver_around(&tumor, &liver);
    if tumor_voxels == 0 || inside * 2 < shell {
        return Err(parameter_error(
            "tumor",
            format!("{inside} of the {shell} voxels around it in the liver"),
            "a tumour inside the liver",
        ));
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
    let centre = crate::case::figures::centroid_mm(&[&tumor])?.unwrap_or_default();
    let (pts, target_ml) = target_points(&tumor, req.margin_mm, centre, 4000)?;
    let (device_id, zones) = surrogate(lib, req.device.as_deref(), req.applicator, params)?;
    let maps = PathMaps {
        grid: &grid,
        vessels_mm: vessels_mm.as_ref(),
        others_mm: others_mm.as_ref(),
        body: body.as_ref(),
        liver: &liver,
        tumor: &tumor,
    };
    let in_organ = |p: [f64; 3]| {
        grid.nearest_voxel(p)
            .is_some_and(|q| liver.data()[q] || tumor.data()[q])
    };
    let dirs = directions(req.directions);
    let traced: Vec<std::result::Result<Found, Rejection>> = dirs
        .par_iter()
        .map(|u| {
            let path = trace(&maps, centre, *u, &constraints)?;
            let mut f = best_protocol(&path, &pts, centre, &zones).ok_or(Rejection::TooLong)?;
            if !in_organ(f.tip_mm) {
                return Err(Rejection::TipOutsideLiver);
            }
            // The needle runs to the tip, not to the centre: judged again
            // from there (clearance beyond the centre, length).
            f.path = trace(&maps, f.tip_mm, *u, &constraints)?;
            Ok(f)
        })
        .collect();
    let mut rejected: BTreeMap<String, usize> =
        Rejection::ALL.iter().map(|r| (r.key().to_string(), 0)).collect();
    let mut admissible: Vec<Found> = Vec::new();
    for t in traced {
        match t {
            Ok(f) => admissible.push(f),
            Err(r) => *rejected.entry(r.key().to_string()).or_default() += 1,
        }
    }
    let volume = |z: &SurrogateZone| z.diameter_mm * z.diameter_mm * z.length_mm;
    let clearance = |f: &Found| f.path.vessel_clearance_mm.min(f.path.other_clearance_mm);
    admissible.sort_by(|a, b| {
        b.covered_frac
            .total_cmp(&a.covered_frac)
            .then(volume(&a.zone).total_cmp(&volume(&b.zone)))
            .then(clearance(b).total_cmp(&clearance(a)))
            .then(a.path.length_mm.total_cmp(&b.path.length_mm))
    });
    // The best few, at least 15° apart.
    let mut chosen: Vec<Found> = Vec::new();
    for f in &admissible {
        let apart = chosen.iter().all(|c| {
            let cos: f64 = (0..3).map(|a| c.path.direction[a] * f.path.direction[a]).sum();
            cos < 15f64.to_radians().cos()
        });
        if apart {
            chosen.push(*f);
        }
        if chosen.len() == req.confirm {
            break;
        }
    }
    timing.insert("search_s".to_string(), t1.elapsed().as_secs_f64());

    let t2 = std::time::Instant::now();
    let functional_voxels = ndarray::Zip::from(liver.data())
        .and(tumor.data())
        .fold(0u64, |n, &l, &t| n + u64::from(l && !t));
    let healthy_in = |zone: &Mask| {
        ndarray::Zip::from(zone.data())
            .and(liver.data())
            .and(tumor.data())
            .fold(0u64, |n, &z, &l, &t| n + u64::from(z && l && !t))
    };
    let confirm = |files: &mut Files, f: &Found| -> Result<(PlanCandidate, Mask, Found)> {
        let outcome = confirm_one(files, req, params, lib, &device_id, f)?;
        let healthy = healthy_in(&outcome.zone70);
        let c = candidate(f, &grid, &outcome.report, healthy, functional_voxels);
        Ok((c, outcome.zone70, *f))
    };
    // A confirmation that falls short gets one more try: the smallest larger
    // protocol whose zone, shrunk as the confirmation shrank this one (the
    // perfusion and tissue the surrogate leaves out), holds the target,
    // else the largest; kept when its margin is larger.
    let escalate = |c: &PlanCandidate, f: &Found| -> Option<Found> {
        let [d1, l1] = c.confirmed_zone_mm?;
        let [d0, l0] = c.predicted_zone_mm;
        let (rd, rl) = ((d1 / d0).min(1.0), (l1 / l0).min(1.0));
        let larger = zones.iter().filter(|z| volume(z) > volume(&f.zone) * 1.0001);
        let fit = |z: &SurrogateZone| {
            let size = ZoneSize {
                diameter_mm: z.diameter_mm * rd,
                length_mm: z.length_mm * rl,
                beyond_tip_mm: z.beyond_tip_mm * rl,
            };
            (fit_zone(&pts, centre, f.path.direction, &size), *z)
        };
        let (p, z) = larger
            .clone()
            .map(fit)
            .find(|(p, _)| p.covered_frac >= 1.0)
            .or_else(|| larger.clone().next_back().map(fit))?;
        let path = trace(&maps, p.tip_mm, f.path.direction, &constraints).ok()?;
        in_organ(p.tip_mm).then_some(Found {
            path,
            zone: z,
            tip_mm: p.tip_mm,
            covered_frac: p.covered_frac,
        })
    };
    let mut confirmed = Vec::new();
    let mut escalated = 0usize;
    progress.start("confirming", chosen.len() as u64);
    for f in &chosen {
        let mut c = confirm(files, f)?;
        if c.0.covers_target != Some(true) {
            if let Some(g) = escalate(&c.0, f) {
                let c2 = confirm(files, &g)?;
                escalated += 1;
                let margin = |p: &PlanCandidate| p.min_margin_mm.unwrap_or(f64::NEG_INFINITY);
                if margin(&c2.0) > margin(&c.0) {
                    c = c2;
                }
            }
        }
        confirmed.push(c);
        progress.advance(1);
    }
    progress.finish();

    timing.insert("confirm_s".to_string(), t2.elapsed().as_secs_f64());
    // Covering plans first, the least healthy liver ablated first among
    // them; plans that fall short by the smallest shortfall (the largest
    // minimal margin) first.
    confirmed.sort_by(|(a, _, _), (b, _, _)| {
        let covers = |p: &PlanCandidate| p.covers_target == Some(true);
        let healthy = |p: &PlanCandidate| p.healthy_liver_ablated_ml.unwrap_or(f64::MAX);
        let margin = |p: &PlanCandidate| p.min_margin_mm.unwrap_or(f64::NEG_INFINITY);
        covers(b).cmp(&covers(a)).then_with(|| {
            if covers(a) {
                healthy(a).total_cmp(&healthy(b))
            } else {
                margin(b)
                    .total_cmp(&margin(a))
                    .then(healthy(a).total_cmp(&healthy(b)))
            }
        })
    });
    for (i, (p, _, _)) in confirmed.iter_mut().enumerate() {
        p.rank = i + 1;
    }
    let single_covers = confirmed
        .first()
        .is_some_and(|(p, _, _)| p.covers_target == Some(true));

    // No single zone covers: the best single plan and up to two more
    // ablations of the largest zone.
    let mut multi: Option<(MultiPlan, Vec<Found>, Mask)> = None;
    if let (false, Some((first, first_zone, first_found)), Some(largest)) = (
        single_covers,
        confirmed.first(),
        zones.last().map(|z| shrunk(z, confirmed.iter().map(|c| &c.0))),
    ) {
        let largest = &largest;
        let t3 = std::time::Instant::now();
        let dirs: Vec<[f64; 3]> = admissible.iter().map(|f| f.path.direction).collect();
        let held = confirmed_holds(first, first_found, &pts, centre);
        let (proposed, held) = multi::propose(
            &maps,
            &constraints,
            &pts,
            centre,
            largest,
            &dirs,
            &held,
            MAX_ABLATIONS - 1,
            in_organ,
        );
        timing.insert("multi_search_s".to_string(), t3.elapsed().as_secs_f64());
        if !proposed.is_empty() {
            let t4 = std::time::Instant::now();
            let mut found = vec![*first_found];
            found.extend(proposed.iter().map(|p| Found {
                path: p.path,
                zone: *largest,
                tip_mm: p.tip_mm,
                covered_frac: p.covered_frac,
            }));
            let mut ablations = vec![PlanCandidate {
                rank: 1,
                ..first.clone()
            }];
            let mut union = first_zone.clone();
            progress.start("confirming the ablations", proposed.len() as u64);
            for (i, f) in found.iter().enumerate().skip(1) {
                let (mut c, zone, _) = confirm(files, f)?;
                c.rank = i + 1;
                ndarray::Zip::from(union.data_mut())
                    .and(zone.data())
                    .for_each(|u, &z| *u |= z);
                ablations.push(c);
                progress.advance(1);
            }
            progress.finish();
            let plan = judge_union(&tumor, &liver, &union, req.margin_mm, ablations, held)?;
            let healthy = healthy_in(&union);
            let plan = MultiPlan {
                healthy_liver_ablated_ml: grid.volume_ml(healthy),
                healthy_liver_ablated_pct: (functional_voxels > 0)
                    .then(|| 100.0 * healthy as f64 / functional_voxels as f64),
                ..plan
            };
            timing.insert("multi_confirm_s".to_string(), t4.elapsed().as_secs_f64());
            multi = Some((plan, found, union));
        }
    }
    let multi_covers = multi.as_ref().is_some_and(|(m, _, _)| m.covers_target);
    let recommended = if single_covers {
        "single"
    } else if multi_covers {
        "multi_ablation"
    } else {
        "none"
    };
    let mut outputs = BTreeMap::new();
    if let Some(dir) = &req.out_dir {
        let template = files
            .main_path()
            .and_then(|p| files.output_template(p))
            .unwrap_or_else(|| crate::io::nifti::NiftiTemplate::from_grid(&grid));
        let wanted = match (&multi, multi_covers && !single_covers) {
            (Some((_, found, union)), true) => Some((
                found
                    .iter()
                    .map(|f| (f.path.entry_mm, f.tip_mm))
                    .collect::<Vec<_>>(),
                union,
            )),
            _ => confirmed
                .first()
                .map(|(p, zone, _)| (vec![(p.entry_mm, p.tip_mm)], zone)),
        };
        if let Some((needles, zone)) = wanted {
            outputs = write_plan_masks(dir, &template, &grid, &needles, zone)?;
        }
    }
    let plans: Vec<PlanCandidate> = confirmed.into_iter().map(|(p, _, _)| p).collect();
    let multi_ablation = multi.map(|(m, _, _)| m);
    let covers_target = single_covers || multi_covers;
    let verdict = verdict_text(&plans, multi_ablation.as_ref(), admissible.len(), req.margin_mm);
    Ok(PlanReport {
        input: files_inputs(files),
        device: device_id,
        margin_mm: req.margin_mm,
        tumor_ml: grid.volume_ml(tumor_voxels as u64),
        target_ml,
        directions_tried: dirs.len(),
        directions_admissible: admissible.len(),
        rejected,
        obstacles: found,
        protocols: zones,
        plans,
        multi_ablation,
        recommended: recommended.into(),
        covers_target,
        verdict,
        confirm_escalations: escalated,
        timing_s: timing,
        outputs,
        warnings,
    })
}

/// `zone` scaled by how much smaller the full simulation found the zones of
/// this patient than the surrogate (the smallest ratio of confirmed to
/// predicted diameter and length over the confirmed single plans, never
/// above 1): the perfusion and heat sinks the surrogate leaves out.
fn shrunk<'a>(
    zone: &SurrogateZone,
    confirmed: impl Iterator<Item = &'a PlanCandidate> + Clone,
) -> SurrogateZone {
    let ratio = |axis: usize| {
        confirmed
            .clone()
            .filter_map(|p| {
                let c = p.confirmed_zone_mm?[axis];
                let want = p.predicted_zone_mm[axis];
                (want > 0.0 && c.is_finite()).then(|| c / want)
            })
            .fold(1.0, f64::min)
            .max(0.0)
    };
    SurrogateZone {
        diameter_mm: zone.diameter_mm * ratio(0),
        length_mm: zone.length_mm * ratio(1),
        ..*zone
    }
}

/// The target points (relative to `centre`) inside a confirmed plan's zone:
/// the ellipsoid of its confirmed diameter and length, reaching the
/// surrogate's `beyond_tip_mm` past its tip.
fn confirmed_holds(p: &PlanCandidate, f: &Found, pts: &[[f64; 3]], centre: [f64; 3]) -> Vec<u64> {
    let [diameter_mm, length_mm] = p.confirmed_zone_mm.unwrap_or(p.predicted_zone_mm);
    let size = ZoneSize {
        diameter_mm,
        length_mm,
        beyond_tip_mm: f.zone.beyond_tip_mm,
    };
    let d = f.path.direction.map(|v| -v);
    let back = length_mm / 2.0 - size.beyond_tip_mm;
    // The zone's centre lies length/2 − beyond_tip behind the tip.
    let zone_centre = [0, 1, 2].map(|k| f.tip_mm[k] - back * d[k] - centre[k]);
    zone_holds(pts, zone_centre, d, &size)
}

/// The full simulation of `liverkit simulate` for one proposed ablation.
fn confirm_one(
    files: &mut Files,
    req: &PlanRequest,
    params: &Parameters,
    lib: &Library,
    device_id: &str,
    f: &Found,
) -> Result<crate::case::simulate::SimulateOutcome> {
    let pose = Pose::from_entry(f.tip_mm, f.path.entry_mm)?;
    let case = SimulateCase {
        applicator: req.applicator,
        power_w: f.zone.power_w,
        time_s: f.zone.time_s,
        pose,
        device: Some(device_id.to_string()),
        allow_outside: false,
        margin_mm: req.margin_mm,
        exclude_capsule: false,
    };
    simulate_case(
        files,
        req.liver.as_ref(),
        req.tumor.as_ref(),
        &req.vessels,
        &case,
        params,
        lib,
        &NoProgress,
    )
}

/// The tumour's margins in the union of the ablations' zones (the margin
/// assessment of `liverkit margin`); the healthy liver is filled in by the
/// caller.
fn judge_union(
    tumor: &Mask,
    liver: &Mask,
    union: &Mask,
    margin_mm: f64,
    ablations: Vec<PlanCandidate>,
    held: f64,
) -> Result<MultiPlan> {
    let empty = !union.any();
    let (min_margin_mm, coverage_ge10_pct, residual_tumor_ml) = if empty {
        let n = tumor.count() as u64;
        (f64::NEG_INFINITY, 0.0, tumor.grid().volume_ml(n))
    } else {
        let options = crate::margin::MarginOptions {
            margin_mm,
            exclude_capsule: false,
            margin_map: false,
        };
        let a = crate::margin::assess_margins(tumor, union, Some(liver), &options)?;
        let worst = a
            .tumors
            .iter()
            .min_by(|x, y| x.margins.min_margin_mm.total_cmp(&y.margins.min_margin_mm));
        (
            worst.map_or(f64::NEG_INFINITY, |t| t.margins.min_margin_mm),
            worst.map_or(0.0, |t| t.margins.coverage_ge10_pct),
            a.tumors.iter().map(|t| t.residual_tumor_ml).sum(),
        )
    };
    let zone_voxels = union.count() as u64;
    Ok(MultiPlan {
        ablations,
        predicted_coverage_pct: 100.0 * held,
        covers_target: min_margin_mm >= margin_mm,
        min_margin_mm,
        coverage_ge10_pct,
        residual_tumor_ml,
        zone70_ml: union.grid().volume_ml(zone_voxels),
        healthy_liver_ablated_ml: 0.0,
        healthy_liver_ablated_pct: None,
        delivery: DELIVERY,
    })
}

fn files_inputs(files: &Files) -> Vec<PathBuf> {
    files
        .main_path()
        .map(|p| vec![p.to_path_buf()])
        .unwrap_or_default()
}

fn candidate(
    f: &Found,
    grid: &crate::grid::Grid,
    r: &crate::case::simulate::SimulateReport,
    healthy: u64,
    functional: u64,
) -> PlanCandidate {
    let d = [0, 1, 2].map(|a| -f.path.direction[a]);
    let healthy_ml = grid.volume_ml(healthy);
    PlanCandidate {
        rank: 0,
        entry_mm: f.path.entry_mm,
        entry_lps_mm: ras_to_lps(f.path.entry_mm),
        entry_voxel: grid.world_to_voxel(f.path.entry_mm),
        tip_mm: f.tip_mm,
        tip_lps_mm: ras_to_lps(f.tip_mm),
        tip_voxel: grid.world_to_voxel(f.tip_mm),
        direction: d,
        depth_mm: dist3(f.tip_mm, f.path.entry_mm),
        power_w: f.zone.power_w,
        time_s: f.zone.time_s,
        predicted_zone_mm: [f.zone.diameter_mm, f.zone.length_mm],
        predicted_coverage_pct: 100.0 * f.covered_frac,
        confirmed_zone_mm: Some([r.zone_diameter_mm, r.zone_length_mm]),
        liver_path_mm: f.path.liver_mm,
        vessel_clearance_mm: f
            .path
            .vessel_clearance_mm
            .is_finite()
            .then_some(f.path.vessel_clearance_mm),
        obstacle_clearance_mm: f
            .path
            .other_clearance_mm
            .is_finite()
            .then_some(f.path.other_clearance_mm),
        capsule_angle_deg: f.path.capsule_angle_deg,
        covers_target: r.covers_target,
        min_margin_mm: r.min_margin_mm,
        coverage_ge10_pct: r.coverage_ge10_pct,
        zone70_ml: Some(r.zone70_mask_ml),
        healthy_liver_ablated_ml: Some(healthy_ml),
        healthy_liver_ablated_pct: (functional > 0).then(|| 100.0 * healthy as f64 / functional as f64),
        heat_sink_ml: Some(r.vessels.iter().map(|v| v.sink_ml).sum()),
    }
}

fn verdict_text(
    plans: &[PlanCandidate],
    multi: Option<&MultiPlan>,
    admissible: usize,
    margin_mm: f64,
) -> String {
    let best_single = plans.first();
    if let Some(p) = best_single.filter(|p| p.covers_target == Some(true)) {
        return format!(
            "PLAN: {:.0} W for {:.0} s, depth {:.0} mm; the 70 °C zone covers the tumour and {margin_mm} mm",
            p.power_w, p.time_s, p.depth_mm
        );
    }
    if admissible == 0 {
        return "NO PLAN: no straight path passes every constraint (see rejected)".into();
    }
    let Some(best) = best_single else {
        return "NO PLAN: no candidate was confirmed".into();
    };
    let single = format!(
        "no single ablation covers the tumour and {margin_mm} mm (the best reaches a minimal margin of {})",
        best.min_margin_mm
            .map_or("-".to_string(), |m| format!("{m:.1} mm"))
    );
    match multi {
        Some(m) if m.covers_target => format!(
            "MULTI-ABLATION PLAN: {single}; {} overlapping ablations of {:.0} W for {:.0} s cover it \
             (minimal margin {:.1} mm in their union)",
            m.ablations.len(),
            m.ablations[0].power_w,
            m.ablations[0].time_s,
            m.min_margin_mm
        ),
        Some(m) => format!(
            "NO SINGLE PLAN: {single}; {} overlapping ablations reach a minimal margin of {:.1} mm, \
             still short: consider 2-3 antennas powered together, resection or another treatment",
            m.ablations.len(),
            m.min_margin_mm
        ),
        None => format!(
            "NO SINGLE PLAN: {single}; no set of overlapping ablations was found along the admissible paths"
        ),
    }
}
