//! DICOM Segmentation objects (SEG) [DICOM PS3.3 A.51, C.8.20].
//!
//! * BINARY segmentations hold one bit per pixel, packed least significant
//!   bit first, frames following each other bit by bit — a frame whose pixel
//!   count is not a multiple of 8 ends inside a byte and the next starts
//!   there. Encapsulated (RLE, JPEG 2000) frames are compressed one by one
//!   and start on their own.
//! * FRACTIONAL segmentations hold 8 bits per pixel, a probability or
//!   occupancy of value / MaximumFractionalValue; a voxel belongs to the
//!   segment when its fraction is at least the threshold (0.5 by default),
//!   and the fractional volume Σ fraction × voxel volume is reported too.
//! * Frames belong to segments by ReferencedSegmentNumber and lie where their
//!   PlanePositionSequence says; frames only where a segment is present
//!   (sparse) are fine. Without a reference series the SEG's own grid spans
//!   its frames' positions with the smallest step between them (every other
//!   step a whole multiple of it). With a reference series, every frame is
//!   placed on its slice, found by ReferencedSOPInstanceUID or by position,
//!   after checking that the SEG references that series and shares its frame
//!   of reference, orientation and pixel spacing.
//! * Segments become labels numbered by SegmentNumber and named by
//!   SegmentLabel; when segments overlap, each keeps its voxels in a layer
//!   of its own ([`crate::volume::LabelMap`] overlays). Segments can be
//!   chosen by number, by label or by their SegmentedPropertyTypeCode as
//!   `SCHEME^VALUE` (`SCT^10200004`); SNOMED CT codes and the legacy
//!   SNOMED-RT (`SRT`) codes of the same concept match each other for the
//!   structures of [`SRT_TO_SCT`].
//!
//! The stages, one file each: `codes` (coded concepts), `geometry` (the
//! functional groups and the grid frames are placed on), `pixels`
//! (decoding the frames, with liverkit's own 1-bit RLE decoder and why) and
//! `layers` (segments into a label map, overlaps kept apart).

use std::path::Path;

use dicom_dictionary_std::tags;
use serde::Serialize;

mod codes;
mod geometry;
mod layers;
mod pixels;

pub use codes::{Code, SRT_TO_SCT};

use super::{first_item, header_error, int, items, text, transfer_syntax_name, DicomSeries};
use crate::error::{ensure_fits, Result, Warning};
use crate::io::ReadOptions;
use crate::volume::LabelMap;

/// A segment as the SEG describes it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SegmentDescription {
    /// SegmentNumber (the label in the label map).
    pub number: i64,
    /// SegmentLabel.
    pub label: String,
    /// SegmentedPropertyCategoryCodeSequence.
    pub category: Option<Code>,
    /// SegmentedPropertyTypeCodeSequence.
    pub property_type: Option<Code>,
    /// SegmentAlgorithmType.
    pub algorithm_type: String,
    /// Voxels in the segment.
    pub voxels: u64,
    /// For FRACTIONAL segmentations: Σ fraction × voxel volume, mL.
    pub fractional_ml: Option<f64>,
}

/// Options for reading a SEG.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SegOptions {
    /// Fraction at or above which a FRACTIONAL voxel belongs to the segment
    /// (0.5 by default: the voxel is at least half segment, or the segment
    /// at least as likely as not).
    pub threshold: f64,
}

impl Default for SegOptions {
    fn default() -> Self {
        SegOptions { threshold: 0.5 }
    }
}

/// A SEG read into a label map.
#[derive(Debug, Clone)]
pub struct Segmentation {
    /// Segments as labels (numbered by SegmentNumber), with overlays when
    /// they overlap.
    pub map: LabelMap,
    /// The segments.
    pub segments: Vec<SegmentDescription>,
    /// BINARY or FRACTIONAL.
    pub segmentation_type: String,
    /// PROBABILITY or OCCUPANCY (FRACTIONAL only).
    pub fractional_type: Option<String>,
    /// Frames in the file.
    pub frames: usize,
    /// Transfer syntax UID and name.
    pub transfer_syntax: (String, &'static str),
    /// The series the SEG was made on (ReferencedSeriesSequence).
    pub referenced_series_uid: Option<String>,
    /// Frame of reference.
    pub frame_of_reference_uid: String,
    /// Date of the scan (AcquisitionDate or StudyDate, YYYY-MM-DD).
    pub date: Option<String>,
    /// What the user should know.
    pub warnings: Vec<Warning>,
}

/// Reads a DICOM SEG, on its own grid or on `reference`'s.
///
/// # Errors
/// `Header` for a file that is not a SEG or lacks geometry; `GridMismatch`
/// when the reference series is not the one the SEG was made on or its grid
/// differs; `Unsupported` for a transfer syntax that cannot be decoded;
/// `Truncated` for missing pixel data.
pub fn read_seg(
    path: &Path,
    reference: Option<&DicomSeries>,
    seg_options: &SegOptions,
    read: &ReadOptions,
) -> Result<Segmentation> {
    let (obj, layout) = super::open_checked(path, true)?;
    if !super::is_seg(&obj) {
        return Err(header_error(
            path,
            "Modality",
            "SEG (a DICOM Segmentation)",
            text(&obj, tags::MODALITY),
        ));
    }
    let mut warnings = Vec::new();
    let rows = int(&obj, tags::ROWS).unwrap_or(0) as usize;
    let cols = int(&obj, tags::COLUMNS).unwrap_or(0) as usize;
    let bits = int(&obj, tags::BITS_ALLOCATED).unwrap_or(0) as usize;
    let seg_type = text(&obj, tags::SEGMENTATION_TYPE);
    match (seg_type.as_str(), bits) {
        ("BINARY", 1) | ("FRACTIONAL", 8) => {}
        _ => {
            return Err(header_error(
                path,
                "SegmentationType/BitsAllocated",
                "BINARY with 1 bit or FRACTIONAL with 8 bits",
                format!("{seg_type} with {bits} bits"),
            ))
        }
    }
    if rows == 0 || cols == 0 {
        return Err(header_error(
            path,
            "Rows/Columns",
            "an image size",
            format!("{rows} x {cols}"),
        ));
    }
    let frames = super::check_frames(path, &obj, &layout, rows, cols)?;
    let fractional_type = (seg_type == "FRACTIONAL").then(|| text(&obj, tags::SEGMENTATION_FRACTIONAL_TYPE));
    let max_fraction = int(&obj, tags::MAXIMUM_FRACTIONAL_VALUE).unwrap_or(255).max(1) as f64;

    // Segments.
    let mut segments: Vec<SegmentDescription> = items(&obj, tags::SEGMENT_SEQUENCE)
        .iter()
        .map(|s| SegmentDescription {
            number: int(s, tags::SEGMENT_NUMBER).unwrap_or(0),
            label: text(s, tags::SEGMENT_LABEL),
            category: Code::of(first_item(s, tags::SEGMENTED_PROPERTY_CATEGORY_CODE_SEQUENCE)),
            property_type: Code::of(first_item(s, tags::SEGMENTED_PROPERTY_TYPE_CODE_SEQUENCE)),
            algorithm_type: text(s, tags::SEGMENT_ALGORITHM_TYPE),
            voxels: 0,
            fractional_ml: None,
        })
        .collect();
    if segments.is_empty()
        || segments
            .iter()
            .any(|s| s.number < 1 || s.number > i64::from(u16::MAX))
    {
        return Err(header_error(
            path,
            "SegmentSequence",
            "segments numbered 1 to 65535",
            format!("{} segments", segments.len()),
        ));
    }

    let geometry = geometry::frame_geometry(path, &obj, frames, &segments)?;
    let referenced_series_uid = first_item(&obj, tags::REFERENCED_SERIES_SEQUENCE)
        .map(|r| text(r, tags::SERIES_INSTANCE_UID))
        .filter(|s| !s.is_empty());
    let frame_of_reference_uid = text(&obj, tags::FRAME_OF_REFERENCE_UID);

    // The grid and each frame's slice.
    let (grid, slice_of) = match reference {
        Some(r) => geometry::on_reference(
            path,
            r,
            &geometry.frames,
            &geometry.iop,
            &geometry.spacing,
            rows,
            cols,
            referenced_series_uid.as_deref(),
            &frame_of_reference_uid,
        )?,
        None => geometry::own_grid(path, &geometry, rows, cols, &mut warnings)?,
    };
    let dims = grid.dims();
    let n = dims[0] * dims[1] * dims[2];
    let need = (n as u64).checked_mul(segments.len() as u64 + 2);
    ensure_fits(need, read.max_bytes, "segment masks").map_err(|expected| {
        header_error(
            path,
            "NumberOfFrames",
            expected,
            format!(
                "{} segments on {}x{}x{} voxels",
                segments.len(),
                dims[0],
                dims[1],
                dims[2]
            ),
        )
    })?;

    // Pixels into per-segment masks, then layers.
    let values = pixels::frame_values(path, &obj, rows, cols, frames, bits)?;
    let pixels = layers::Pixels {
        values: &values,
        frames: &geometry.frames,
        slice_of: &slice_of,
        plane: rows * cols,
        seg_type: &seg_type,
        max_fraction,
        threshold: seg_options.threshold,
    };
    let map = layers::label_map(path, grid, &pixels, &mut segments, &mut warnings)?;
    let ts = obj.meta().transfer_syntax().trim_end_matches('\0').to_string();
    let name = transfer_syntax_name(&ts);
    Ok(Segmentation {
        map,
        segments,
        segmentation_type: seg_type,
        fractional_type,
        frames,
        transfer_syntax: (ts, name),
        referenced_series_uid,
        frame_of_reference_uid,
        date: super::seg_scan_date(&obj),
        warnings,
    })
}
