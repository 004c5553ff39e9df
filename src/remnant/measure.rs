//! Counting the voxels of the liver, its tumours, its segments and the
//! remnant, in one pass over the grid.

use std::collections::VecDeque;

use ndarray::Array3;
use rayon::prelude::*;
use serde::Serialize;

use crate::error::{parameter_error, Result};
use crate::morphology::{connected_components, Connectivity, FlatGrid};
use crate::volume::fortran_values;
use crate::volume::Mask;

use super::resection::RemnantDefinition;

/// The anatomy on one grid: liver, tumour and Couinaud segments.
#[derive(Debug, Clone)]
pub struct Anatomy {
    /// The liver (with or without its tumours).
    pub liver: Mask,
    /// Liver tumours, if any.
    pub tumor: Option<Mask>,
    /// Couinaud segment of each voxel (0: none, 1–8), if known.
    pub segments: Option<Array3<u8>>,
}

/// Where the remnant is, for [`measure`].
#[derive(Debug, Clone, Copy)]
pub enum RemnantRegion<'a> {
    /// No remnant: volumes only.
    None,
    /// An explicit remnant mask.
    Mask(&'a Mask),
    /// A segment-based definition or a cutting plane.
    Definition(&'a RemnantDefinition),
}

/// Voxel counts of one assessment (exact integers; volumes follow from them).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Measurement {
    /// Volume of one voxel in mm³.
    pub voxel_volume_mm3: f64,
    /// Voxels of the total liver (liver ∪ attached tumour).
    pub total_liver_voxels: u64,
    /// Tumour voxels inside or touching the liver.
    pub tumor_voxels: u64,
    /// Tumour voxels in components that do not touch the liver (excluded).
    pub tumor_outside_voxels: u64,
    /// Non-tumour liver voxels per segment (index 0: no segment).
    pub segment_functional_voxels: [u64; 9],
    /// Tumour voxels per segment (index 0: no segment).
    pub segment_tumor_voxels: [u64; 9],
    /// Non-tumour liver voxels that no segment covered and that were given
    /// to the nearest one (tumour voxels are given to theirs silently).
    pub filled_voxels: u64,
    /// Segment voxels outside the liver.
    pub segments_outside_voxels: u64,
    /// Whether segments were given.
    pub has_segments: bool,
    /// Non-tumour liver voxels in the remnant.
    pub remnant_functional_voxels: Option<u64>,
    /// Tumour voxels in the remnant.
    pub remnant_tumor_voxels: Option<u64>,
    /// Remnant-mask voxels outside the liver (explicit remnant only).
    pub remnant_outside_voxels: u64,
    /// Whether the liver reaches a face of the volume.
    pub liver_touches_edge: bool,
}

impl Measurement {
    pub(crate) fn ml(&self, voxels: u64) -> f64 {
        voxels as f64 * self.voxel_volume_mm3 / crate::grid::MM3_PER_ML
    }

    /// Functional (non-tumour) voxels of the segments marked in `kept`.
    pub(crate) fn kept_functional(&self, kept: &[bool; 9]) -> u64 {
        (1..9)
            .filter(|&s| kept[s])
            .map(|s| self.segment_functional_voxels[s])
            .sum()
    }

    pub(crate) fn kept_tumor(&self, kept: &[bool; 9]) -> u64 {
        (1..9)
            .filter(|&s| kept[s])
            .map(|s| self.segment_tumor_voxels[s])
            .sum()
    }
}

#[derive(Default, Clone, Copy)]
struct Counts {
    seg_functional: [u64; 9],
    seg_tumor: [u64; 9],
    remnant_functional: u64,
    remnant_tumor: u64,
    remnant_outside: u64,
    segments_outside: u64,
}

impl Counts {
    fn add(mut self, o: Counts) -> Counts {
        for s in 0..9 {
            self.seg_functional[s] += o.seg_functional[s];
            self.seg_tumor[s] += o.seg_tumor[s];
        }
        self.remnant_functional += o.remnant_functional;
        self.remnant_tumor += o.remnant_tumor;
        self.remnant_outside += o.remnant_outside;
        self.segments_outside += o.segments_outside;
        self
    }
}

/// What one assessment works on, flattened in Fortran order (i fastest):
/// the liver region with its attached tumours, the segments filled out to
/// it, and the remnant rule.
struct Prepared<'a> {
    dims: [usize; 3],
    region: Vec<bool>,
    tumor: Vec<bool>,
    tumor_outside_voxels: u64,
    total_liver_voxels: u64,
    seg: Option<Vec<u8>>,
    filled_voxels: u64,
    remnant_mask: Option<std::borrow::Cow<'a, [bool]>>,
    kept: Option<[bool; 9]>,
    /// A cutting plane as `g · (i, j, k) + offset ≤ 0`.
    plane: Option<([f64; 3], f64)>,
    has_remnant: bool,
}

impl Prepared<'_> {
    /// Whether region voxel `n` at `(i, j, k)` is in the remnant.
    fn in_remnant(&self, n: usize, s: usize, ijk: [usize; 3]) -> bool {
        if let Some(m) = &self.remnant_mask {
            m[n]
        } else if let Some(kept) = &self.kept {
            kept[s]
        } else if let Some((g, off)) = &self.plane {
            g[0] * ijk[0] as f64 + g[1] * ijk[1] as f64 + g[2] * ijk[2] as f64 + off <= 0.0
        } else {
            false
        }
    }
}

/// Counts the liver, tumour, segments and remnant voxels.
///
/// # Errors
/// `GridMismatch` when the masks or segments are not on the liver's grid;
/// `Parameter` for an empty liver or an invalid remnant definition.
pub fn measure(anatomy: &Anatomy, remnant: RemnantRegion<'_>) -> Result<Measurement> {
    let p = prepare(anatomy, remnant)?;
    Ok(measurement(anatomy, &p))
}

/// [`measure`], and the remnant and the resected liver as masks exactly as
/// it counts them (the liver with its attached tumours split by the
/// remnant rule; `None` without a remnant), from one preparation.
///
/// # Errors
/// As [`measure`].
pub fn measure_with_parts(
    anatomy: &Anatomy,
    remnant: RemnantRegion<'_>,
) -> Result<(Measurement, Option<(Mask, Mask)>)> {
    let p = prepare(anatomy, remnant)?;
    Ok((measurement(anatomy, &p), parts(anatomy, &p)?))
}

fn measurement(anatomy: &Anatomy, p: &Prepared<'_>) -> Measurement {
    let counts = count(p);
    let grid = anatomy.liver.grid();
    Measurement {
        voxel_volume_mm3: grid.voxel_volume_mm3(),
        total_liver_voxels: p.total_liver_voxels,
        tumor_voxels: counts.seg_tumor.iter().sum(),
        tumor_outside_voxels: p.tumor_outside_voxels,
        segment_functional_voxels: counts.seg_functional,
        segment_tumor_voxels: counts.seg_tumor,
        filled_voxels: p.filled_voxels,
        segments_outside_voxels: counts.segments_outside,
        has_segments: p.seg.is_some(),
        remnant_functional_voxels: p.has_remnant.then_some(counts.remnant_functional),
        remnant_tumor_voxels: p.has_remnant.then_some(counts.remnant_tumor),
        remnant_outside_voxels: counts.remnant_outside,
        liver_touches_edge: touches_edge(&p.region, p.dims),
    }
}

fn parts(anatomy: &Anatomy, p: &Prepared<'_>) -> Result<Option<(Mask, Mask)>> {
    if !p.has_remnant {
        return Ok(None);
    }
    let [ni, nj, _] = p.dims;
    let kept: Vec<bool> = (0..p.region.len())
        .into_par_iter()
        .map(|n| {
            let s = p.seg.as_ref().map_or(0, |v| v[n] as usize);
            p.region[n] && p.in_remnant(n, s, [n % ni, (n / ni) % nj, n / (ni * nj)])
        })
        .collect();
    let resected: Vec<bool> = p.region.iter().zip(&kept).map(|(&r, &k)| r && !k).collect();
    let grid = anatomy.liver.grid();
    let as_mask = |v: Vec<bool>| -> Result<Mask> {
        let a = Array3::from_shape_vec(ndarray::ShapeBuilder::f(p.dims), v)
            .map_err(|e| parameter_error("remnant", e, "a mask on the liver's grid"))?;
        Mask::new(grid.clone(), a)
    };
    Ok(Some((as_mask(kept)?, as_mask(resected)?)))
}

fn prepare<'a>(anatomy: &Anatomy, remnant: RemnantRegion<'a>) -> Result<Prepared<'a>> {
    let grid = anatomy.liver.grid();
    let dims = grid.dims();
    check_inputs(anatomy, remnant)?;
    let flat = FlatGrid { dims };
    let liver = fortran_values(anatomy.liver.data());
    let (tumor, tumor_outside_voxels) = attached_tumor(anatomy, &liver, flat);
    let region: Vec<bool> = (0..liver.len())
        .into_par_iter()
        .map(|n| liver[n] || tumor[n])
        .collect();
    let total_liver_voxels = region.iter().filter(|&&b| b).count() as u64;
    if total_liver_voxels == 0 {
        return Err(parameter_error("liver", "0 voxels", "a non-empty liver"));
    }
    let (seg, filled_voxels) = match &anatomy.segments {
        Some(s) => {
            let (seg, filled) = filled_segments(s, &region, &tumor, flat);
            (Some(seg), filled)
        }
        None => (None, 0),
    };
    let plane = match remnant {
        RemnantRegion::Definition(RemnantDefinition::Plane { point_mm, normal }) => {
            // d(i, j, k) = (A·[i j k 1] − P) · N, linear in the indices.
            let a = grid.affine();
            let coef = |c: usize| (0..3).map(|r| a[(r, c)] * normal[r]).sum::<f64>();
            let offset: f64 = (0..3).map(|r| (a[(r, 3)] - point_mm[r]) * normal[r]).sum();
            Some(([coef(0), coef(1), coef(2)], offset))
        }
        _ => None,
    };
    Ok(Prepared {
        dims,
        region,
        tumor,
        tumor_outside_voxels,
        total_liver_voxels,
        seg,
        filled_voxels,
        remnant_mask: match remnant {
            RemnantRegion::Mask(m) => Some(fortran_values(m.data())),
            _ => None,
        },
        kept: match remnant {
            RemnantRegion::Definition(d) => d.kept_segments(),
            _ => None,
        },
        plane,
        has_remnant: !matches!(remnant, RemnantRegion::None),
    })
}

fn check_inputs(anatomy: &Anatomy, remnant: RemnantRegion<'_>) -> Result<()> {
    let grid = anatomy.liver.grid();
    let dims = grid.dims();
    if let Some(t) = &anatomy.tumor {
        grid.ensure_same(t.grid(), "liver", "tumour")?;
    }
    if let Some(s) = &anatomy.segments {
        if s.shape() != dims {
            return Err(parameter_error(
                "segments",
                format!("shape {:?}", s.shape()),
                format!("shape {dims:?}"),
            ));
        }
    }
    if let RemnantRegion::Mask(m) = remnant {
        grid.ensure_same(m.grid(), "liver", "remnant")?;
    }
    if let RemnantRegion::Definition(d) = remnant {
        d.validate()?;
        if d.kept_segments().is_some() && anatomy.segments.is_none() {
            return Err(parameter_error(
                "remnant",
                d.describe(),
                "Couinaud segments (`segments`, or a label map with liver_segment_1..8 labels) for a segment-based remnant",
            ));
        }
    }
    Ok(())
}

/// Tumour components that overlap or touch the liver belong to it: the
/// attached tumour voxels, and the count of those left out.
fn attached_tumor(anatomy: &Anatomy, liver: &[bool], flat: FlatGrid) -> (Vec<bool>, u64) {
    let n_voxels = liver.len();
    let mut tumor = vec![false; n_voxels];
    let mut outside = 0u64;
    if let Some(t) = &anatomy.tumor {
        let comps = connected_components(t, Connectivity::Full26);
        let labels = fortran_values(&comps.labels);
        let mut attached = vec![false; comps.count() + 1];
        for n in 0..n_voxels {
            let c = labels[n] as usize;
            if c == 0 || attached[c] {
                continue;
            }
            let mut touch = liver[n];
            flat.for_each_neighbor(n, Connectivity::Faces6, |m| touch |= liver[m]);
            attached[c] = touch;
        }
        for n in 0..n_voxels {
            let c = labels[n] as usize;
            if c != 0 {
                if attached[c] {
                    tumor[n] = true;
                } else {
                    outside += 1;
                }
            }
        }
    }
    (tumor, outside)
}

/// Segments, with liver voxels outside every segment given to the nearest
/// one (breadth first); the count of non-tumour voxels so given.
fn filled_segments(s: &Array3<u8>, region: &[bool], tumor: &[bool], flat: FlatGrid) -> (Vec<u8>, u64) {
    let mut filled_voxels = 0u64;
    let mut seg = fortran_values(s).into_owned();
    let mut queue = VecDeque::new();
    for n in 0..seg.len() {
        if region[n] && seg[n] != 0 {
            let mut frontier = false;
            flat.for_each_neighbor(n, Connectivity::Faces6, |m| frontier |= region[m] && seg[m] == 0);
            if frontier {
                queue.push_back(n);
            }
        }
    }
    while let Some(n) = queue.pop_front() {
        let s = seg[n];
        flat.for_each_neighbor(n, Connectivity::Faces6, |m| {
            if region[m] && seg[m] == 0 {
                seg[m] = s;
                // Tumour voxels of a map whose labels exclude each other
                // are expected to lie in no segment; only liver counts.
                filled_voxels += u64::from(!tumor[m]);
                queue.push_back(m);
            }
        });
    }
    (seg, filled_voxels)
}

fn count(p: &Prepared<'_>) -> Counts {
    let [ni, nj, _] = p.dims;
    (0..nj * p.dims[2])
        .into_par_iter()
        .fold(Counts::default, |mut c, row| {
            let (j, k) = (row % nj, row / nj);
            for i in 0..ni {
                let n = i + ni * row;
                let s = p.seg.as_ref().map(|v| v[n] as usize).unwrap_or(0);
                if !p.region[n] {
                    if s != 0 {
                        c.segments_outside += 1;
                    }
                    if p.remnant_mask.as_ref().is_some_and(|m| m[n]) {
                        c.remnant_outside += 1;
                    }
                    continue;
                }
                let is_tumor = p.tumor[n];
                if is_tumor {
                    c.seg_tumor[s] += 1;
                } else {
                    c.seg_functional[s] += 1;
                }
                if p.in_remnant(n, s, [i, j, k]) {
                    if is_tumor {
                        c.remnant_tumor += 1;
                    } else {
                        c.remnant_functional += 1;
                    }
                }
            }
            c
        })
        .reduce(Counts::default, Counts::add)
}

fn touches_edge(region: &[bool], dims: [usize; 3]) -> bool {
    let flat = FlatGrid { dims };
    let [ni, nj, nk] = dims;
    let on = |i: usize, j: usize, k: usize| region[flat.index([i, j, k])];
    (0..nj).any(|j| (0..nk).any(|k| on(0, j, k) || on(ni - 1, j, k)))
        || (0..ni).any(|i| (0..nk).any(|k| on(i, 0, k) || on(i, nj - 1, k)))
        || (0..ni).any(|i| (0..nj).any(|j| on(i, j, 0) || on(i, j, nk - 1)))
}
