//! The target in voxels: the tumour's box, its margin's surface points, the
//! liver around it, and the separate tumours of one mask.

use crate::distance::squared_edt_in_box;
use crate::error::{Result, Warning};
use crate::roi::VoxelBox;
use crate::volume::{fortran_values, Mask, Volume};

/// At most this many separate tumours of one mask are planned, the largest
/// first (each costs a search and its confirmations); the rest are listed
/// in a warning and leave the case uncovered. A liverkit choice: more than
/// five metastases is rarely an ablation case.
pub const MAX_TUMOURS: usize = 5;

/// The separate tumours (26-connected components) of `tumor`, largest
/// first: the masks of the first [`MAX_TUMOURS`] (only those are built: a
/// mask of many specks would otherwise cost a full-grid mask each) and the
/// voxel counts of all.
pub(super) fn separate(tumor: &Mask) -> (Vec<Mask>, Vec<u64>) {
    use crate::morphology::{connected_components, Connectivity};
    let comps = connected_components(tumor, Connectivity::Full26);
    if comps.count() < 2 {
        return (vec![tumor.clone()], comps.sizes);
    }
    let mut order: Vec<usize> = (0..comps.count()).collect();
    order.sort_by(|&a, &b| comps.sizes[b].cmp(&comps.sizes[a]).then(a.cmp(&b)));
    let masks = order
        .iter()
        .take(MAX_TUMOURS)
        .filter_map(|&c| {
            let label = u32::try_from(c + 1).ok()?;
            Volume::new(tumor.grid().clone(), comps.labels.mapv(|l| l == label)).ok()
        })
        .collect();
    (masks, order.iter().map(|&c| comps.sizes[c]).collect())
}

/// A warning when the mask holds several separate tumours (`sizes`, voxels,
/// largest first): each is planned on its own (at most [`MAX_TUMOURS`]).
pub(super) fn separate_tumours(sizes: &[u64], grid: &crate::grid::Grid) -> Option<Warning> {
    if sizes.len() < 2 {
        return None;
    }
    let list: Vec<String> = sizes
        .iter()
        .map(|&n| format!("{:.2}", grid.volume_ml(n)))
        .collect();
    let skipped = sizes.len().saturating_sub(MAX_TUMOURS);
    let rest = if skipped > 0 {
        format!("; the {skipped} smallest are not planned, so the case is not covered (give one tumour's mask to plan it)")
    } else {
        String::new()
    };
    Some(Warning::about(
        "tumor",
        format!(
            "the mask holds {} separate tumours ({} mL): each is planned on its own, largest first \
             (other_tumors in --json){rest}",
            sizes.len(),
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
