//! The target in voxels: the tumour's box, its margin's surface points, the
//! liver around it, and the targets of one mask (its separate tumours,
//! joined where their margins touch).

use crate::distance::squared_edt_in_box;
use crate::error::{Result, Warning};
use crate::roi::VoxelBox;
use crate::volume::{fortran_values, Mask, Volume};

/// At most this many targets of one mask are planned, the largest first
/// (each costs a search and its confirmations); the rest are listed in a
/// warning and leave the case uncovered. A liverkit choice: more than five
/// metastases is rarely an ablation case.
pub const MAX_TUMOURS: usize = 5;

/// What is planned for one tumour mask: its targets, each one tumour or
/// several whose margins touch, the largest (most tumour) first.
pub(super) struct Targets {
    /// The tumour voxels of each of the first [`MAX_TUMOURS`] targets (only
    /// those are built: a mask of many specks would otherwise cost a
    /// full-grid mask each).
    pub masks: Vec<Mask>,
    /// Tumour voxels of every target.
    pub sizes: Vec<u64>,
    /// How many separate tumours each target holds.
    pub tumours: Vec<usize>,
}

/// The targets of `tumor`: its separate tumours (26-connected components),
/// joined where their targets (tumour + `margin_mm`) touch or overlap, so
/// that tumours less than two margins apart (a satellite beside its
/// metastasis) are planned as one target and one ablation may take both,
/// as an operator would. A liverkit choice. The distance to the tumours is
/// computed in their box grown by the margin and a voxel.
pub(super) fn targets(tumor: &Mask, margin_mm: f64) -> Targets {
    use crate::morphology::{label_components, Connectivity};
    let grid = tumor.grid();
    let (dims, sp) = (grid.dims(), grid.spacing_mm());
    let voxel = sp.iter().copied().fold(0.0, f64::max);
    let single = |n: u64| Targets {
        masks: vec![tumor.clone()],
        sizes: vec![n],
        tumours: vec![1],
    };
    let Some((vals, roi)) = tumour_box(tumor, margin_mm.max(0.0) + voxel) else {
        return single(0);
    };
    let inside = roi.extract(&vals, dims);
    let (labels, sizes) = label_components(&inside, roi.dims, Connectivity::Full26);
    if sizes.len() < 2 {
        return single(sizes.iter().sum());
    }
    let dist2 = squared_edt_in_box(&inside, roi.dims, sp);
    let reach2 = (margin_mm.max(0.0) * margin_mm.max(0.0)) as f32;
    let near: Vec<bool> = dist2.iter().map(|&d| d <= reach2).collect();
    let (group_labels, group_sizes) = label_components(&near, roi.dims, Connectivity::Full26);
    // Every tumour lies in its own target, so each component has one group;
    // every group holds a tumour (a voxel within the margin of a tumour
    // voxel is joined to it by voxels nearer still).
    let mut group_of = vec![0usize; sizes.len()];
    for (&t, &g) in labels.iter().zip(&group_labels) {
        if t > 0 {
            group_of[t as usize - 1] = g as usize - 1;
        }
    }
    let mut voxels = vec![0u64; group_sizes.len()];
    let mut tumours = vec![0usize; group_sizes.len()];
    for (c, &g) in group_of.iter().enumerate() {
        voxels[g] += sizes[c];
        tumours[g] += 1;
    }
    let mut order: Vec<usize> = (0..voxels.len()).collect();
    order.sort_by(|&a, &b| voxels[b].cmp(&voxels[a]).then(a.cmp(&b)));
    let masks = order
        .iter()
        .take(MAX_TUMOURS)
        .filter_map(|&g| {
            let mut data = tumor.data().to_owned();
            data.fill(false);
            each_in_box(roi, |local, ijk| {
                let t = labels[roi.index(local)];
                if t > 0 && group_of[t as usize - 1] == g {
                    data[ijk] = true;
                }
            });
            Volume::new(grid.clone(), data).ok()
        })
        .collect();
    Targets {
        masks,
        sizes: order.iter().map(|&g| voxels[g]).collect(),
        tumours: order.iter().map(|&g| tumours[g]).collect(),
    }
}

/// A warning when the mask holds several separate tumours: how they were
/// grouped into targets (`t`), each planned on its own (at most
/// [`MAX_TUMOURS`]).
pub(super) fn separate_tumours(t: &Targets, grid: &crate::grid::Grid, margin_mm: f64) -> Option<Warning> {
    let count: usize = t.tumours.iter().sum();
    if count < 2 {
        return None;
    }
    let list: Vec<String> = t
        .sizes
        .iter()
        .zip(&t.tumours)
        .map(|(&n, &k)| {
            let ml = format!("{:.2} mL", grid.volume_ml(n));
            if k > 1 {
                format!("{ml} in {k} tumours")
            } else {
                ml
            }
        })
        .collect();
    let joined = if t.sizes.len() < count {
        let n = t.sizes.len();
        let s = if n == 1 { "" } else { "s" };
        format!("; tumours whose targets (tumour + {margin_mm} mm) touch are one target, so {count} tumours make {n} target{s}")
    } else {
        String::new()
    };
    let skipped = t.sizes.len().saturating_sub(MAX_TUMOURS);
    let rest = if skipped > 0 {
        format!("; the {skipped} smallest targets are not planned, so the case is not covered (give one tumour's mask to plan it)")
    } else {
        String::new()
    };
    Some(Warning::about(
        "tumor",
        format!(
            "the mask holds {count} separate tumours{joined}; each target is planned on its own, largest first \
             ({}; other_tumors in --json){rest}",
            list.join(", ")
        ),
    ))
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
pub(super) fn tumour_box(tumor: &Mask, grow_mm: f64) -> Option<(std::borrow::Cow<'_, [bool]>, VoxelBox)> {
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

/// The surface points the zone surrogate must hold, relative to the
/// tumour's centre (at most `max` of them, every n-th), and the target's
/// volume (tumour + margin), mL. The points bound the tumour grown by the
/// margin and one voxel (the largest spacing): the confirmation judges the
/// margin on the voxels of a zone whose shape differs a little from the
/// surrogate's ellipsoid, and a zone fitted to the margin itself came out
/// up to a voxel short (a liverkit choice, `tests/plan.rs`). The distance to
/// the tumour is computed in its box grown by the margin and three voxels,
/// which holds every point and its neighbours.
pub(super) fn target_points(
    tumor: &Mask,
    margin_mm: f64,
    centre: [f64; 3],
    max: usize,
) -> Result<(Vec<[f64; 3]>, f64)> {
    let grid = tumor.grid();
    let sp = grid.spacing_mm();
    let voxel = sp.iter().copied().fold(0.0, f64::max);
    let Some((vals, roi)) = tumour_box(tumor, margin_mm + 3.0 * voxel) else {
        return Ok((Vec::new(), 0.0));
    };
    let dist2 = squared_edt_in_box(&roi.extract(&vals, grid.dims()), roi.dims, sp);
    let within = |local: [usize; 3], mm: f64| f64::from(dist2[roi.index(local)].sqrt()) <= mm;
    let inside = |local: [usize; 3]| within(local, margin_mm + voxel);
    let mut pts = Vec::new();
    let mut count = 0u64;
    each_in_box(roi, |local, ijk| {
        if !inside(local) {
            return;
        }
        count += u64::from(within(local, margin_mm));
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
pub(super) fn liver_around(tumor: &Mask, liver: &Mask) -> (usize, usize) {
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::grid::Grid;

    /// Three balls of radius 2 mm on a line: A and B 5 mm apart (nearest
    /// voxel centres), B and C 12 mm apart. With a 3 mm margin A's and B's
    /// targets touch (5 ≤ 2 × 3) and C's does not (12 > 6): two targets,
    /// A + B first. No margin: three; a 10 mm margin: one.
    #[test]
    fn tumours_whose_margins_touch_are_one_target() {
        let grid = Grid::from_spacing([36, 9, 9], [1.0; 3]).unwrap();
        let centres = [6.0, 15.0, 31.0];
        let ball =
            |c: f64, p: [f64; 3]| (p[0] - c).powi(2) + (p[1] - 4.0).powi(2) + (p[2] - 4.0).powi(2) <= 4.0;
        let mut m = Volume::filled(grid.clone(), false);
        for ((i, j, k), v) in m.data_mut().indexed_iter_mut() {
            *v = centres.iter().any(|&c| ball(c, [i as f64, j as f64, k as f64]));
        }
        let one_ball = m
            .data()
            .indexed_iter()
            .filter(|((i, j, k), _)| ball(31.0, [*i as f64, *j as f64, *k as f64]))
            .count() as u64;
        assert_eq!(one_ball, 33);
        let t = targets(&m, 3.0);
        assert_eq!(t.tumours, vec![2, 1]);
        assert_eq!(t.sizes, vec![2 * one_ball, one_ball]);
        for ((i, j, k), &v) in m.data().indexed_iter() {
            let first = v && (i as f64) < 20.0;
            assert_eq!(t.masks[0].data()[[i, j, k]], first, "{i},{j},{k}");
            assert_eq!(t.masks[1].data()[[i, j, k]], v && !first, "{i},{j},{k}");
        }
        assert_eq!(targets(&m, 0.0).tumours, vec![1, 1, 1]);
        assert_eq!(targets(&m, 10.0).tumours, vec![3]);
        // The warning says how the tumours were grouped.
        let w = separate_tumours(&t, &grid, 3.0).unwrap().to_string();
        assert!(w.contains("3 tumours make 2 targets"), "{w}");
    }
}
