//! Label volumetry: voxels and millilitres per label, bounding box, centroid,
//! and whether the structure touches the edge of the field of view.
//!
//! Voxels are counted as `u64` and converted once:
//!
//! ```text
//! volume_ml = voxels · |det(A₃ₓ₃)| / 1000        (docs/references.md)
//! ```
//!
//! where `A₃ₓ₃` is the linear part of the voxel-to-world affine in mm. The
//! counts are exact integers, identical for any number of threads.
//!
//! A structure that touches a face of the volume is cut by the scan: its
//! volume is a lower bound. Every such contact is reported (`edge_faces`)
//! and raised as a warning, never dropped.

pub(crate) mod stats;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::error::Result;
use crate::grid::Grid;
use crate::volume::{LabelMap, LabelNames};
use crate::with_label_array;

use stats::{LabelAcc, FACE_NAMES};

/// One face of the field of view that a structure touches.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct EdgeFace {
    /// `i_min`, `i_max`, `j_min`, `j_max`, `k_min` or `k_max`.
    pub face: &'static str,
    /// The anatomical side of the scan this face is on (`superior`, …).
    pub direction: &'static str,
    /// Voxels of the structure lying on that face.
    pub voxels: u64,
    /// Their area on the face in mm² (voxels × the face's voxel area).
    pub area_mm2: f64,
}

/// Volumetry of one label.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LabelVolume {
    /// Label value (for masks: 1-based position in the list of masks).
    pub label: i64,
    /// Label name, from the file's label table or the mask's file name.
    pub name: Option<String>,
    /// Number of voxels.
    pub voxels: u64,
    /// Volume in mL.
    pub volume_ml: f64,
    /// Smallest voxel index `[i, j, k]` of the label (inclusive).
    pub bbox_min: [usize; 3],
    /// Largest voxel index `[i, j, k]` of the label (inclusive).
    pub bbox_max: [usize; 3],
    /// Centre of mass, world RAS+ coordinates in mm.
    pub centroid_mm: [f64; 3],
    /// Whether the label reaches the edge of the field of view (its volume
    /// is then a lower bound).
    pub touches_edge: bool,
    /// The faces it reaches.
    pub edge_faces: Vec<EdgeFace>,
    /// The mask file this label was read from (mask inputs only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source: Option<PathBuf>,
}

/// Volumetry of every non-zero label of an in-memory label map.
///
/// # Errors
/// `Parameter` (`labels`) for a `uint64` label above `i64::MAX`.
pub fn label_volumes(map: &LabelMap) -> Result<Vec<LabelVolume>> {
    let acc = label_accumulator(map)?;
    Ok(summarize(acc.into_map(), map.grid(), map.names(), None))
}

/// The per-label sums of an in-memory label map, every layer counted.
///
/// # Errors
/// As [`label_volumes`].
pub(crate) fn label_accumulator(map: &LabelMap) -> Result<stats::Accumulator> {
    let dims = map.grid().dims();
    let mut acc = stats::Accumulator::default();
    // Every layer of an overlapping segmentation counts its own labels
    // (label values are unique across layers).
    for layer in map.layers() {
        let layer_acc = with_label_array!(layer, a => {
            // The kernel walks rows along i: use the memory as is when it is in
            // Fortran order (the transposed view is then in C order), else a
            // Fortran-order copy.
            let fortran = a.t();
            let copy;
            let slice = match fortran.as_slice() {
                Some(s) => s,
                None => {
                    // Logical order of the transposed view: i fastest.
                    copy = fortran.iter().copied().collect::<Vec<_>>();
                    &copy[..]
                }
            };
            stats::scan_rows_par(slice, dims, 0)
        })
        .map_err(|bad| {
            crate::error::parameter_error("labels", bad.value, "labels within the 64-bit signed range")
        })?;
        acc.merge(&layer_acc);
    }
    Ok(acc)
}

/// The most distinct labels a label map may hold. Segmentations hold tens
/// of structures (TotalSegmentator's `total` task 117) and detailed brain
/// atlases a few hundred; a file with more distinct values is an intensity
/// image (a CT holds about two thousand), whose "volumes" would mean nothing.
pub const MAX_LABELS: usize = 1000;

/// Above this many labels without a label table, liverkit asks whether the
/// file is an image: an MR holds a few hundred distinct values (the shipped
/// TotalSegmentator MR 831), under [`MAX_LABELS`]; a segmentation that many
/// structures usually names them.
pub const UNNAMED_LABELS_WARN: usize = 255;

pub(crate) fn summarize(
    accs: BTreeMap<i64, LabelAcc>,
    grid: &Grid,
    names: &LabelNames,
    source: Option<&Path>,
) -> Vec<LabelVolume> {
    let orientation = grid.orientation();
    let spacing = grid.spacing_mm();
    accs.into_iter()
        .filter(|(label, a)| *label != 0 && a.voxels > 0)
        .map(|(label, a)| {
            let n = a.voxels as f64;
            let centroid_mm =
                grid.voxel_to_world([a.sum[0] as f64 / n, a.sum[1] as f64 / n, a.sum[2] as f64 / n]);
            let edge_faces: Vec<EdgeFace> = (0..6)
                .filter(|&f| a.faces[f] > 0)
                .map(|f| {
                    let axis = f / 2;
                    let toward = orientation.axis(axis);
                    let dir = if f % 2 == 1 { toward } else { toward.opposite() };
                    let (u, v) = ((axis + 1) % 3, (axis + 2) % 3);
                    EdgeFace {
                        face: FACE_NAMES[f],
                        direction: dir.word(),
                        voxels: a.faces[f],
                        area_mm2: a.faces[f] as f64 * spacing[u] * spacing[v],
                    }
                })
                .collect();
            LabelVolume {
                label,
                name: names.get(&label).cloned(),
                voxels: a.voxels,
                volume_ml: grid.volume_ml(a.voxels),
                bbox_min: a.min,
                bbox_max: a.max,
                centroid_mm,
                touches_edge: !edge_faces.is_empty(),
                edge_faces,
                source: source.map(Path::to_path_buf),
            }
        })
        .collect()
}
