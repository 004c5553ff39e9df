//! One tumour's plan: the search over directions, the confirmation of the
//! best candidates with the full simulation, the ranking, and the
//! overlapping ablations when no single zone covers it. Every zone (a
//! single plan's or a union) is judged against this tumour alone by the
//! margin assessment of `liverkit margin`.

use std::collections::BTreeMap;

use rayon::prelude::*;

use super::multi::{self, MultiPlan, Together, ZoneJudgement, DELIVERY, MAX_ABLATIONS};
use super::target::target_points;
use super::{PlanCandidate, PlanRequest, SurrogateZone, TumorPlan};
use crate::bioheat::applicator::{ApplicatorKind, Pose};
use crate::bioheat::protocols::Library;
use crate::bioheat::tissue::Parameters;
use crate::case::roles::Files;
use crate::case::simulate::{simulate_case, SimulateCase};
use crate::error::Result;
use crate::grid::{ras_to_lps, Grid};
use crate::planner::{
    fit_zone, trace, zone_holds, CappedDistance, Constraints, PathMaps, Rejection, ZoneSize,
};
use crate::progress::{NoProgress, Progress};
use crate::volume::Mask;

/// A confirmation that falls short is run again with a larger protocol at
/// most this many times, while the margin grows. A liverkit choice: the
/// surrogate's zone holds the target to its edge, and on a coarse grid the
/// first larger protocol can still fall a voxel short.
const MAX_ESCALATIONS: usize = 2;

/// What every tumour of a case shares.
pub(super) struct Setting<'a> {
    pub req: &'a PlanRequest,
    pub params: &'a Parameters,
    pub lib: &'a Library,
    pub device_id: &'a str,
    /// The surrogate's zones, smallest first.
    pub zones: &'a [SurrogateZone],
    /// The candidate directions, the same for every tumour.
    pub directions: &'a [[f64; 3]],
    pub constraints: &'a Constraints,
    pub grid: &'a Grid,
    pub liver: &'a Mask,
    /// Every tumour of the mask (not healthy liver; a tip may lie in any).
    pub tumours: &'a Mask,
    pub vessels_mm: Option<&'a CappedDistance>,
    pub others_mm: Option<&'a CappedDistance>,
    pub body: Option<&'a Mask>,
    /// Liver voxels outside every tumour.
    pub functional_voxels: u64,
}

/// A tumour's plan, and the needles and zone to write for it (its
/// recommended plan, else its best single plan).
pub(super) struct Planned {
    pub plan: TumorPlan,
    pub needles: Vec<([f64; 3], [f64; 3])>,
    pub zone: Option<Mask>,
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

/// Plans one target (`tumor`: one tumour of the mask, or several whose
/// margins touch; `index` and how many tumours it holds): search,
/// confirmation, ranking, overlapping ablations. Adds its times to
/// `timing`.
///
/// # Errors
/// Solver errors of the confirmations.
pub(super) fn plan_tumour(
    files: &mut Files,
    s: &Setting<'_>,
    tumor: &Mask,
    (index, tumors_in_target): (usize, usize),
    timing: &mut BTreeMap<String, f64>,
    progress: &dyn Progress,
) -> Result<Planned> {
    let (req, grid, liver, zones) = (s.req, s.grid, s.liver, s.zones);
    let constraints = s.constraints;
    let mut time = |key: &str, t: std::time::Instant| {
        *timing.entry(key.to_string()).or_default() += t.elapsed().as_secs_f64();
    };
    let t1 = std::time::Instant::now();
    let centre = crate::case::figures::centroid_mm(&[tumor])?.unwrap_or_default();
    let (pts, target_ml) = target_points(tumor, req.margin_mm, centre, 4000)?;
    let maps = PathMaps {
        grid,
        vessels_mm: s.vessels_mm,
        others_mm: s.others_mm,
        body: s.body,
        liver,
        tumor,
    };
    let in_organ = |p: [f64; 3]| {
        grid.nearest_voxel(p)
            .is_some_and(|q| liver.data()[q] || s.tumours.data()[q])
    };
    let dirs = s.directions;
    let traced: Vec<std::result::Result<Found, Rejection>> = dirs
        .par_iter()
        .map(|u| {
            let path = trace(&maps, centre, *u, constraints)?;
            let mut f = best_protocol(&path, &pts, centre, zones).ok_or(Rejection::TooLong)?;
            if !in_organ(f.tip_mm) {
                return Err(Rejection::TipOutsideLiver);
            }
            // The needle runs to the tip, not to the centre: judged again
            // from there (clearance beyond the centre, length).
            f.path = trace(&maps, f.tip_mm, *u, constraints)?;
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
    time("search_s", t1);

    let t2 = std::time::Instant::now();
    let healthy_in = |zone: &Mask| {
        ndarray::Zip::from(zone.data())
            .and(liver.data())
            .and(s.tumours.data())
            .fold(0u64, |n, &z, &l, &t| n + u64::from(z && l && !t))
    };
    // The judgement of the zone of several ablations.
    let judgement = |zone: &Mask| -> Result<ZoneJudgement> {
        let j = judge(tumor, liver, zone, req.margin_mm)?;
        let healthy = healthy_in(zone);
        Ok(ZoneJudgement {
            covers_target: j.covers,
            min_margin_mm: j.min_margin_mm,
            coverage_ge10_pct: j.coverage_ge10_pct,
            residual_tumor_ml: j.residual_tumor_ml,
            zone70_ml: grid.volume_ml(zone.count() as u64),
            healthy_liver_ablated_ml: grid.volume_ml(healthy),
            healthy_liver_ablated_pct: (s.functional_voxels > 0)
                .then(|| 100.0 * healthy as f64 / s.functional_voxels as f64),
        })
    };
    let confirm = |files: &mut Files, f: &Found| -> Result<(PlanCandidate, Mask, Found)> {
        let outcome = confirm_one(files, s, f, &[])?;
        let healthy = healthy_in(&outcome.zone70);
        let judged = judge(tumor, liver, &outcome.zone70, req.margin_mm)?;
        let c = candidate(f, grid, &outcome.report, &judged, healthy, s.functional_voxels);
        Ok((c, outcome.zone70, *f))
    };
    // A confirmation that falls short gets up to [`MAX_ESCALATIONS`] more
    // tries, each from the last: the smallest larger
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
        let path = trace(&maps, p.tip_mm, f.path.direction, constraints).ok()?;
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
        for _ in 0..MAX_ESCALATIONS {
            if c.0.covers_target == Some(true) {
                break;
            }
            let Some(g) = escalate(&c.0, &c.2) else {
                break;
            };
            let c2 = confirm(files, &g)?;
            escalated += 1;
            let margin = |p: &PlanCandidate| p.min_margin_mm.unwrap_or(f64::NEG_INFINITY);
            if margin(&c2.0) <= margin(&c.0) {
                break;
            }
            c = c2;
        }
        confirmed.push(c);
        progress.advance(1);
    }
    progress.finish();

    time("confirm_s", t2);
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
            constraints,
            &pts,
            centre,
            largest,
            &dirs,
            &held,
            MAX_ABLATIONS - 1,
            in_organ,
        );
        time("multi_search_s", t3);
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
            let mut plan = MultiPlan {
                ablations,
                predicted_coverage_pct: 100.0 * held,
                union: judgement(&union)?,
                delivery: DELIVERY,
                together: None,
            };
            time("multi_confirm_s", t4);
            // One after another they fall short: the same antennas powered
            // together (microwave), whose heat adds.
            if !plan.union.covers_target && req.applicator == ApplicatorKind::Mwa {
                let t5 = std::time::Instant::now();
                let outcome = confirm_one(files, s, &found[0], &found[1..])?;
                let zone = judgement(&outcome.zone70)?;
                if zone.covers_target {
                    union = outcome.zone70;
                }
                plan.together = Some(Together {
                    antennas: found.len(),
                    power_w: outcome.report.applicator.power_w,
                    time_s: outcome.report.applicator.time_s,
                    zone,
                });
                time("multi_together_s", t5);
            }
            multi = Some((plan, found, union));
        }
    }
    let sequential_covers = multi.as_ref().is_some_and(|(m, _, _)| m.union.covers_target);
    let together_covers = multi
        .as_ref()
        .is_some_and(|(m, _, _)| m.together.as_ref().is_some_and(|t| t.zone.covers_target));
    let multi_covers = sequential_covers || together_covers;
    let recommended = if single_covers {
        "single"
    } else if sequential_covers {
        "multi_ablation"
    } else if together_covers {
        "multi_antenna"
    } else {
        "none"
    };
    let wanted = match (&multi, multi_covers && !single_covers) {
        (Some((_, found, union)), true) => Some((
            found
                .iter()
                .map(|f| (f.path.entry_mm, f.tip_mm))
                .collect::<Vec<_>>(),
            union.clone(),
        )),
        _ => confirmed
            .first()
            .map(|(p, zone, _)| (vec![(p.entry_mm, p.tip_mm)], zone.clone())),
    };
    let (needles, zone) = wanted.map_or((Vec::new(), None), |(n, z)| (n, Some(z)));
    let plans: Vec<PlanCandidate> = confirmed.into_iter().map(|(p, _, _)| p).collect();
    let multi_ablation = multi.map(|(m, _, _)| m);
    let verdict = verdict_text(&plans, multi_ablation.as_ref(), admissible.len(), req.margin_mm);
    let plan = TumorPlan {
        tumor_index: index,
        tumors_in_target,
        tumor_centre_mm: centre,
        tumor_ml: grid.volume_ml(tumor.count() as u64),
        target_ml,
        directions_admissible: admissible.len(),
        rejected,
        plans,
        multi_ablation,
        recommended: recommended.into(),
        covers_target: single_covers || multi_covers,
        verdict,
        confirm_escalations: escalated,
    };
    Ok(Planned { plan, needles, zone })
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

/// The full simulation of `liverkit simulate` for one proposed ablation,
/// or for it and the antennas of `together` powered at once, all at the
/// largest power and time among them.
fn confirm_one(
    files: &mut Files,
    s: &Setting<'_>,
    f: &Found,
    together: &[Found],
) -> Result<crate::case::simulate::SimulateOutcome> {
    let pose = Pose::from_entry(f.tip_mm, f.path.entry_mm)?;
    let all = || std::iter::once(f).chain(together);
    let case = SimulateCase {
        applicator: s.req.applicator,
        power_w: all().map(|a| a.zone.power_w).fold(0.0, f64::max),
        time_s: all().map(|a| a.zone.time_s).fold(0.0, f64::max),
        pose,
        device: Some(s.device_id.to_string()),
        allow_outside: false,
        margin_mm: s.req.margin_mm,
        exclude_capsule: false,
        together: together
            .iter()
            .map(|a| Pose::from_entry(a.tip_mm, a.path.entry_mm))
            .collect::<Result<_>>()?,
    };
    simulate_case(
        files,
        s.req.liver.as_ref(),
        s.req.tumor.as_ref(),
        &s.req.vessels,
        &case,
        s.params,
        s.lib,
        &NoProgress,
    )
}

/// How a zone treats the tumour planned for.
struct Judged {
    /// Minimal margin, mm (−∞ for an empty zone).
    min_margin_mm: f64,
    /// Tumour surface with margin ≥ 10 mm, %.
    coverage_ge10_pct: f64,
    /// Tumour outside the zone, mL.
    residual_tumor_ml: f64,
    /// Whether the minimal margin reaches the margin asked for.
    covers: bool,
}

/// The tumour's margins in `zone` (the margin assessment of `liverkit
/// margin`): the one judgement of a single plan and of a union of
/// ablations, on this tumour alone.
fn judge(tumor: &Mask, liver: &Mask, zone: &Mask, margin_mm: f64) -> Result<Judged> {
    let (min_margin_mm, coverage_ge10_pct, residual_tumor_ml) = if zone.any() {
        let options = crate::margin::MarginOptions {
            margin_mm,
            exclude_capsule: false,
            margin_map: false,
        };
        let a = crate::margin::assess_margins(tumor, zone, Some(liver), &options)?;
        let worst = a
            .tumors
            .iter()
            .min_by(|x, y| x.margins.min_margin_mm.total_cmp(&y.margins.min_margin_mm));
        (
            worst.map_or(f64::NEG_INFINITY, |t| t.margins.min_margin_mm),
            worst.map_or(0.0, |t| t.margins.coverage_ge10_pct),
            a.tumors.iter().map(|t| t.residual_tumor_ml).sum(),
        )
    } else {
        let n = tumor.count() as u64;
        (f64::NEG_INFINITY, 0.0, tumor.grid().volume_ml(n))
    };
    Ok(Judged {
        min_margin_mm,
        coverage_ge10_pct,
        residual_tumor_ml,
        covers: min_margin_mm >= margin_mm,
    })
}

fn candidate(
    f: &Found,
    grid: &crate::grid::Grid,
    r: &crate::case::simulate::SimulateReport,
    j: &Judged,
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
        covers_target: Some(j.covers),
        min_margin_mm: j.min_margin_mm.is_finite().then_some(j.min_margin_mm),
        coverage_ge10_pct: Some(j.coverage_ge10_pct),
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
        Some(m) if m.union.covers_target => format!(
            "MULTI-ABLATION PLAN: {single}; {} overlapping ablations of {:.0} W for {:.0} s cover it \
             (minimal margin {:.1} mm in their union)",
            m.ablations.len(),
            m.ablations[0].power_w,
            m.ablations[0].time_s,
            m.union.min_margin_mm
        ),
        Some(m) => match &m.together {
            Some(g) if g.zone.covers_target => format!(
                "MULTI-ANTENNA PLAN: {single}; one after another {} overlapping ablations reach a minimal \
                 margin of {:.1} mm, but the {} antennas powered together ({:.0} W each for {:.0} s) cover \
                 it (minimal margin {:.1} mm)",
                m.ablations.len(),
                m.union.min_margin_mm,
                g.antennas,
                g.power_w,
                g.time_s,
                g.zone.min_margin_mm
            ),
            Some(g) => format!(
                "NO SINGLE PLAN: {single}; {} overlapping ablations reach a minimal margin of {:.1} mm, and \
                 the same antennas powered together {:.1} mm, still short: consider resection or another \
                 treatment",
                m.ablations.len(),
                m.union.min_margin_mm,
                g.zone.min_margin_mm
            ),
            // Radiofrequency: microwave antennas that fall short are always
            // simulated together.
            None => format!(
                "NO SINGLE PLAN: {single}; {} overlapping ablations reach a minimal margin of {:.1} mm, \
                 still short: consider several electrodes powered together (not modelled for radiofrequency), \
                 resection or another treatment",
                m.ablations.len(),
                m.union.min_margin_mm
            ),
        },
        None => format!(
            "NO SINGLE PLAN: {single}; no set of overlapping ablations was found along the admissible paths"
        ),
    }
}
