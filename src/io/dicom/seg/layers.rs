//! A SEG's frames into a label map: each segment's voxels (a FRACTIONAL
//! voxel counts when its fraction reaches the threshold), segments that
//! overlap kept apart in layers, named by SegmentLabel and coded by their
//! property type.

use std::collections::BTreeMap;
use std::path::Path;

use crate::error::{Result, Warning};
use crate::grid::Grid;
use crate::io::dicom::header_error;
use crate::volume::{LabelArray, LabelMap, LabelNames};

use super::geometry::Frame;
use super::SegmentDescription;

/// The decoded frames and how their bytes count.
pub(super) struct Pixels<'a> {
    /// One byte per pixel per frame.
    pub values: &'a [Vec<u8>],
    /// Each frame's segment and place.
    pub frames: &'a [Frame],
    /// Each frame's slice on the grid.
    pub slice_of: &'a [usize],
    /// Pixels per frame.
    pub plane: usize,
    /// `BINARY` or `FRACTIONAL`.
    pub seg_type: &'a str,
    /// MaximumFractionalValue (FRACTIONAL).
    pub max_fraction: f64,
    /// The fraction at which a voxel belongs to its segment.
    pub threshold: f64,
}

/// The label map of the segments (their voxel counts and fractional
/// volumes filled in).
pub(super) fn label_map(
    path: &Path,
    grid: Grid,
    p: &Pixels<'_>,
    segments: &mut [SegmentDescription],
    warnings: &mut Vec<Warning>,
) -> Result<LabelMap> {
    let dims = grid.dims();
    let n = dims[0] * dims[1] * dims[2];
    let (values, frame_info, slice_of, plane) = (p.values, p.frames, p.slice_of, p.plane);
    let (seg_type, max_fraction) = (p.seg_type, p.max_fraction);
    let mut masks: BTreeMap<i64, Vec<bool>> = BTreeMap::new();
    let mut fractions: BTreeMap<i64, f64> = BTreeMap::new();
    let threshold = p.threshold;
    for (k, v) in values.iter().enumerate() {
        let f = &frame_info[k];
        let m = match masks.entry(f.segment) {
            std::collections::btree_map::Entry::Occupied(e) => e.into_mut(),
            std::collections::btree_map::Entry::Vacant(e) => {
                e.insert(crate::io::zeroed_vec(n, path, "Rows/Columns")?)
            }
        };
        let base = slice_of[k] * plane;
        if seg_type == "FRACTIONAL" {
            let mut sum = 0.0;
            for (i, &x) in v.iter().enumerate() {
                let frac = f64::from(x) / max_fraction;
                sum += frac;
                if frac >= threshold {
                    m[base + i] = true;
                }
            }
            *fractions.entry(f.segment).or_insert(0.0) += sum;
        } else {
            for (i, &x) in v.iter().enumerate() {
                if x != 0 {
                    m[base + i] = true;
                }
            }
        }
    }
    // Layers: a segment goes into the first layer where it overlaps nothing.
    let mut layers: Vec<Vec<u16>> = Vec::new();
    for s in segments.iter_mut() {
        let Some(m) = masks.get(&s.number) else { continue };
        s.voxels = m.iter().filter(|&&b| b).count() as u64;
        if seg_type == "FRACTIONAL" {
            s.fractional_ml =
                Some(fractions.get(&s.number).copied().unwrap_or(0.0) * grid.voxel_volume_mm3() / 1000.0);
        }
        let free = layers
            .iter()
            .position(|l| l.iter().zip(m).all(|(&v, &b)| !(b && v != 0)));
        let idx = match free {
            Some(i) => i,
            None => {
                layers.push(crate::io::zeroed_vec(n, path, "Rows/Columns")?);
                layers.len() - 1
            }
        };
        for (v, &b) in layers[idx].iter_mut().zip(m) {
            if b {
                *v = s.number as u16;
            }
        }
    }
    if layers.is_empty() {
        layers.push(crate::io::zeroed_vec(n, path, "Rows/Columns")?);
    }
    if layers.len() > 1 {
        warnings.push(Warning::new(
            Some(path),
            "SegmentSequence",
            format!("segments overlap: they are kept apart in {} layers", layers.len()),
        ));
    }
    let mut names = LabelNames::new();
    for s in segments.iter() {
        names.insert(
            s.number,
            if s.label.is_empty() {
                format!("segment {}", s.number)
            } else {
                s.label.clone()
            },
        );
    }
    let mut arrays: Vec<LabelArray> = Vec::with_capacity(layers.len());
    for l in layers {
        let a = ndarray::Array3::from_shape_vec(ndarray::ShapeBuilder::f((dims[0], dims[1], dims[2])), l)
            .map_err(|e| header_error(path, "Rows/Columns", "consistent sizes", e))?;
        arrays.push(LabelArray::U16(a));
    }
    let first = arrays.remove(0);
    let mut codes: BTreeMap<i64, Vec<String>> = BTreeMap::new();
    for s in segments.iter() {
        if let Some(c) = &s.property_type {
            codes.insert(s.number, c.aliases());
        }
    }
    let map = LabelMap::new(grid, first, names)?
        .with_overlays(arrays)?
        .with_codes(codes);
    Ok(map)
}
