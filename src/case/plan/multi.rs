//! Overlapping ablations for a target that no single zone holds.
//!
//! When the best confirmed single plan leaves tumour or margin outside its
//! 70 °C zone, the planner proposes up to [`MAX_ABLATIONS`] ablations with
//! the device's largest surrogate zone, shrunk by how much smaller the full
//! simulation found this patient's zones than the surrogate. Zone centres ("anchors") are spread
//! over the target: its centre, and 26 directions at 40 % and 75 % of its
//! radius. Each anchor is reached along the admissible directions of the
//! single-plan search, every path traced again from its own tip, so each
//! ablation keeps every hard constraint. The best single plan is the first
//! ablation; a greedy set cover [Chvatal1979] of the target's surface
//! points it leaves picks the others; each new one is confirmed
//! with the full simulation, and the union of their 70 °C zones is judged
//! against the tumour by the margin assessment of `liverkit margin`.
//!
//! The ablations are simulated one at a time, each in fresh tissue: the
//! union is what sequential overlapping ablations give. Antennas powered
//! together heat more (their heat adds): when the union falls short, the
//! same microwave antennas are simulated once more powered together
//! ([`Together`]), the way multi-antenna systems are used for large
//! tumours.

use rayon::prelude::*;
use serde::Serialize;

use super::{PlanCandidate, SurrogateZone};
use crate::planner::{greedy_cover, trace, zone_holds, Constraints, Path, PathMaps, ZoneSize};

/// At most this many ablations in one plan.
pub const MAX_ABLATIONS: usize = 3;

/// At most this many of the admissible directions are tried per anchor.
const DIRECTIONS_PER_ANCHOR: usize = 160;

/// How the ablations of a multi-ablation plan are delivered and modelled.
pub const DELIVERY: &str = "one after another, each simulated in fresh tissue, judged on the union of \
     their 70 °C zones; when that falls short, the same microwave antennas are simulated again powered at once (together)";

/// A plan of several overlapping ablations.
#[derive(Debug, Clone, Serialize)]
pub struct MultiPlan {
    /// The ablations, in the order the cover picked them (`rank` 1, 2, 3),
    /// each confirmed alone.
    pub ablations: Vec<PlanCandidate>,
    /// Share of the target's surface points inside the union of the
    /// surrogate zones, %.
    pub predicted_coverage_pct: f64,
    /// The union of the confirmed 70 °C zones, judged.
    #[serde(flatten)]
    pub union: ZoneJudgement,
    /// How the ablations are delivered and modelled.
    pub delivery: &'static str,
    /// The same antennas powered together, simulated in one run, when one
    /// after another they fall short (microwave only).
    pub together: Option<Together>,
}

/// The antennas of a multi-ablation plan powered at the same time: one
/// simulation in which their absorbed powers add
/// ([`crate::bioheat::Request::together`]), judged on its 70 °C zone.
#[derive(Debug, Clone, Serialize)]
pub struct Together {
    /// Antennas powered together.
    pub antennas: usize,
    /// Each antenna's power, W (the largest of the ablations').
    pub power_w: f64,
    /// Heating time, s (the longest of the ablations').
    pub time_s: f64,
    /// Their 70 °C zone, judged.
    #[serde(flatten)]
    pub zone: ZoneJudgement,
}

/// How one 70 °C zone of several ablations (their union, or the antennas
/// powered together) treats the target.
#[derive(Debug, Clone, Serialize)]
pub struct ZoneJudgement {
    /// Whether it covers tumour and margin.
    pub covers_target: bool,
    /// Minimal margin of the tumour in it, mm.
    pub min_margin_mm: f64,
    /// Tumour surface with margin ≥ 10 mm in it [Shady2018], %.
    pub coverage_ge10_pct: f64,
    /// Tumour outside it, mL.
    pub residual_tumor_ml: f64,
    /// Its volume, mL.
    pub zone70_ml: f64,
    /// Healthy liver inside it, mL.
    pub healthy_liver_ablated_ml: f64,
    /// The same as a share of the functional liver, %.
    pub healthy_liver_ablated_pct: Option<f64>,
}

/// A proposed ablation, before confirmation.
#[derive(Debug, Clone, Copy)]
pub(super) struct Proposed {
    /// Its path, traced from its tip.
    pub path: Path,
    /// The tip, RAS+ mm.
    pub tip_mm: [f64; 3],
    /// Share of the target's points its zone alone holds, 0–1.
    pub covered_frac: f64,
}

/// The zone centres tried, relative to the target's centre.
fn anchors(points_mm: &[[f64; 3]]) -> Vec<[f64; 3]> {
    let radius = points_mm
        .iter()
        .map(|p| (p[0] * p[0] + p[1] * p[1] + p[2] * p[2]).sqrt())
        .fold(0.0, f64::max);
    let mut out = vec![[0.0; 3]];
    for f in [0.4, 0.75] {
        for i in -1i32..=1 {
            for j in -1i32..=1 {
                for k in -1i32..=1 {
                    if (i, j, k) == (0, 0, 0) {
                        continue;
                    }
                    let v = [i, j, k].map(f64::from);
                    let n = (v[0] * v[0] + v[1] * v[1] + v[2] * v[2]).sqrt();
                    out.push(v.map(|x| f * radius * x / n));
                }
            }
        }
    }
    out
}

/// Up to `max` ablations of `zone` that add the most of the target's points
/// (`points_mm`, relative to `centre`) to those `held` already (the best
/// single plan's zone), along `directions` (admissible from the centre),
/// each path admissible from its own tip, each tip where `in_organ` holds.
/// Returns them in the order picked and the share of the points held in
/// the end.
#[allow(clippy::too_many_arguments)]
pub(super) fn propose(
    maps: &PathMaps<'_>,
    constraints: &Constraints,
    points_mm: &[[f64; 3]],
    centre: [f64; 3],
    zone: &SurrogateZone,
    directions: &[[f64; 3]],
    held: &[u64],
    max: usize,
    in_organ: impl Fn([f64; 3]) -> bool + Sync,
) -> (Vec<Proposed>, f64) {
    if points_mm.is_empty() || directions.is_empty() {
        return (Vec::new(), 0.0);
    }
    let size = ZoneSize {
        diameter_mm: zone.diameter_mm,
        length_mm: zone.length_mm,
        beyond_tip_mm: zone.beyond_tip_mm,
    };
    let stride = directions.len().div_ceil(DIRECTIONS_PER_ANCHOR).max(1);
    let dirs: Vec<[f64; 3]> = directions.iter().copied().step_by(stride).collect();
    let tries: Vec<([f64; 3], [f64; 3])> = anchors(points_mm)
        .into_iter()
        .flat_map(|a| dirs.iter().map(move |u| (a, *u)))
        .collect();
    let (found, sets): (Vec<Proposed>, Vec<Vec<u64>>) = tries
        .par_iter()
        .filter_map(|&(a, u)| {
            let d = u.map(|v| -v);
            // The zone's centre lies length/2 − beyond_tip behind the tip.
            let back = size.length_mm / 2.0 - size.beyond_tip_mm;
            let tip_mm = [0, 1, 2].map(|k| centre[k] + a[k] + back * d[k]);
            if !in_organ(tip_mm) {
                return None;
            }
            let path = trace(maps, tip_mm, u, constraints).ok()?;
            let holds = zone_holds(points_mm, a, d, &size);
            let n: u32 = holds.iter().map(|w| w.count_ones()).sum();
            let covered_frac = f64::from(n) / points_mm.len() as f64;
            Some((
                Proposed {
                    path,
                    tip_mm,
                    covered_frac,
                },
                holds,
            ))
        })
        .unzip();
    let (picked, held) = greedy_cover(&sets, held, max);
    let chosen = picked.iter().map(|&i| found[i]).collect();
    (chosen, held as f64 / points_mm.len() as f64)
}
