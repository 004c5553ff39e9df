//! What the planner is asked and what it answers (`liverkit plan --json`).

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::Serialize;

use super::MultiPlan;
use crate::bioheat::applicator::ApplicatorKind;
use crate::case::roles::RoleSpec;
use crate::error::Warning;
use crate::planner::Constraints;

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
    /// Microwave or radiofrequency.
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
    /// given, or none within [`super::CLEARANCE_CAP_MM`] of the path).
    pub vessel_clearance_mm: Option<f64>,
    /// The least clearance to another obstacle, mm (null: none known, or
    /// none within [`super::CLEARANCE_CAP_MM`] of the path).
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

/// The plan for one target of the tumour mask: one tumour (a 26-connected
/// component), or several whose targets (tumour + margin) touch, planned
/// together.
#[derive(Debug, Clone, Serialize)]
pub struct TumorPlan {
    /// Which target: 1 the one with the most tumour, 2 the next…
    pub tumor_index: usize,
    /// Separate tumours in this target (1 unless some lie less than two
    /// margins apart).
    pub tumors_in_target: usize,
    /// Its centre (centroid of its tumour voxels), RAS+ mm.
    pub tumor_centre_mm: [f64; 3],
    /// Tumour, mL.
    pub tumor_ml: f64,
    /// Tumour + margin, mL.
    pub target_ml: f64,
    /// Directions that passed every hard constraint.
    pub directions_admissible: usize,
    /// Why the others were refused: count per constraint.
    pub rejected: BTreeMap<String, usize>,
    /// The single-ablation plans, best first.
    pub plans: Vec<PlanCandidate>,
    /// When no single plan covers: overlapping ablations (up to
    /// [`super::MAX_ABLATIONS`]), confirmed together.
    pub multi_ablation: Option<MultiPlan>,
    /// Which plan to follow: `single` (the first of `plans`),
    /// `multi_ablation` (its ablations one after another),
    /// `multi_antenna` (its antennas powered together,
    /// `multi_ablation.together`), or `none` when nothing admissible covers.
    pub recommended: String,
    /// Whether the recommended plan covers this tumour and its margin
    /// (after confirmation).
    pub covers_target: bool,
    /// The answer in words.
    pub verdict: String,
    /// Confirmations run again with a larger protocol after the first
    /// fell short.
    pub confirm_escalations: usize,
}

/// What `liverkit plan --json` prints: the largest tumour's plan at the top
/// level, the other tumours of the mask in `other_tumors`.
#[derive(Debug, Clone, Serialize)]
pub struct PlanReport {
    /// Files read.
    pub input: Vec<PathBuf>,
    /// Device used.
    pub device: String,
    /// Required margin, mm.
    pub margin_mm: f64,
    /// Directions tried per tumour.
    pub directions_tried: usize,
    /// Obstacle labels found, by group.
    pub obstacles: BTreeMap<String, Vec<String>>,
    /// The surrogate's protocols (the device's 70 °C zones).
    pub protocols: Vec<SurrogateZone>,
    /// The largest tumour's plan.
    #[serde(flatten)]
    pub tumor: TumorPlan,
    /// The plans of the mask's other separate tumours, largest first.
    pub other_tumors: Vec<TumorPlan>,
    /// Tumours of the mask left unplanned (beyond
    /// [`super::target::MAX_TUMOURS`]).
    pub tumors_not_planned: usize,
    /// Whether every tumour of the mask is covered with its margin (the
    /// exit status).
    pub all_tumors_covered: bool,
    /// Seconds spent: obstacles, search, confirmation (and the
    /// multi-ablation search and confirmation when tried), summed over
    /// the tumours.
    pub timing_s: BTreeMap<String, f64>,
    /// Files written (`--out-dir`): path, tip and zone masks of the
    /// recommended plans of every tumour (each tumour's best single plan
    /// when none covers it).
    pub outputs: BTreeMap<String, PathBuf>,
    /// What the user must know.
    pub warnings: Vec<Warning>,
}

impl PlanReport {
    /// Every tumour's plan, the largest first.
    pub fn tumors(&self) -> impl Iterator<Item = &TumorPlan> {
        std::iter::once(&self.tumor).chain(&self.other_tumors)
    }
}
