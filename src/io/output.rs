//! Writing the structures a command derives (target, zones, remnant,
//! shortfall) in the format the output's name asks for:
//!
//! * `.dcm`: a DICOM SEG ([`dicom::write_seg`]), joined to the source DICOM
//!   series when the case has one;
//! * `.seg.nrrd`: a 3D Slicer segmentation ([`nrrd::write_seg_nrrd`]);
//! * anything else: NIfTI — one mask as `uint8` 0/1, several as a label map
//!   (1, 2, … in the order given, with their names), on the input's header.

use std::path::Path;

use crate::error::{parameter_error, Result};
use crate::io::dicom::{self, SegReference, SourceSeries};
use crate::io::nifti::{self, NiftiTemplate};
use crate::io::nrrd;
use crate::io::structure::Segment;
use crate::volume::{LabelArray, LabelMap, LabelNames};

/// The formats derived structures are written in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MaskFormat {
    /// NIfTI-1 (`.nii`, `.nii.gz`, …).
    Nifti,
    /// DICOM Segmentation (`.dcm`).
    DicomSeg,
    /// 3D Slicer segmentation (`.seg.nrrd`).
    SegNrrd,
}

impl MaskFormat {
    /// The format a file name asks for.
    pub fn of(path: &Path) -> MaskFormat {
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().to_ascii_lowercase())
            .unwrap_or_default();
        if name.ends_with(".dcm") {
            MaskFormat::DicomSeg
        } else if name.ends_with(".seg.nrrd") {
            MaskFormat::SegNrrd
        } else {
            MaskFormat::Nifti
        }
    }
}

/// Writes `segments` at `path` in the format its name asks for (see the
/// module). `template` places a NIfTI output; `source` is the DICOM series a
/// SEG refers to; `description` names the SEG's series.
///
/// Returns, for a DICOM SEG, what a report written with it refers to.
///
/// # Errors
/// Those of the writer; for NIfTI, `Parameter` when several segments
/// overlap (one label map cannot hold them: write `.seg.nrrd` or `.dcm`).
pub fn write_segments(
    path: &Path,
    segments: &[Segment<'_>],
    template: Option<&NiftiTemplate>,
    source: Option<&SourceSeries>,
    description: &str,
) -> Result<Option<SegReference>> {
    match MaskFormat::of(path) {
        MaskFormat::DicomSeg => dicom::write_seg(path, segments, source, description).map(Some),
        MaskFormat::SegNrrd => nrrd::write_seg_nrrd(path, segments).map(|()| None),
        MaskFormat::Nifti => match segments {
            [] => Err(parameter_error("segments", "none", "at least one mask to write")),
            [one] => nifti::write_mask(path, one.mask, template).map(|()| None),
            several => nifti::write_label_map(path, &label_map(several)?, template).map(|()| None),
        },
    }
}

/// Non-overlapping segments as one label map (1, 2, …).
fn label_map(segments: &[Segment<'_>]) -> Result<LabelMap> {
    let grid = segments[0].mask.grid().clone();
    // Fortran order, like the scans' masks: the zip below then runs
    // through both in memory order.
    let mut labels = ndarray::Array3::<u8>::zeros(ndarray::ShapeBuilder::f(grid.dims()));
    for (n, s) in segments.iter().enumerate() {
        grid.ensure_same(s.mask.grid(), segments[0].structure.label(), s.structure.label())?;
        let overlap = ndarray::Zip::from(&mut labels).and(s.mask.data()).par_fold(
            || false,
            |seen, out, &v| {
                if !v {
                    return seen;
                }
                let clash = *out != 0;
                *out = n as u8 + 1;
                seen | clash
            },
            |a, b| a | b,
        );
        if overlap {
            return Err(parameter_error(
                "segments",
                "overlapping masks",
                "masks that do not overlap for one NIfTI label map (write .seg.nrrd or .dcm instead)",
            ));
        }
    }
    let names: LabelNames = segments
        .iter()
        .enumerate()
        .map(|(n, s)| (n as i64 + 1, s.structure.label().to_string()))
        .collect();
    LabelMap::new(grid, LabelArray::U8(labels), names)
}
