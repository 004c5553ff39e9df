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

use std::collections::BTreeMap;
use std::path::Path;

use dicom_dictionary_std::tags;
use dicom_object::InMemDicomObject;
use serde::Serialize;

use super::{
    first_item, floats, header_error, int, items, orientation, stack_affine, text, transfer_syntax_name,
    DicomSeries,
};
use crate::error::{Error, Result, Warning};
use crate::grid::Grid;
use crate::io::ReadOptions;
use crate::volume::{LabelArray, LabelMap, LabelNames};

/// Legacy SNOMED-RT codes and the SNOMED CT codes of the same structure, as
/// DICOM's mapping of the two schemes gives them [DICOM PS3.16, the SNOMED
/// "SRT" to "SCT" code mapping table].
pub const SRT_TO_SCT: [(&str, &str, &str); 8] = [
    ("T-62000", "10200004", "Liver"),
    ("T-48810", "32764006", "Portal vein"),
    ("T-48720", "8993003", "Hepatic vein"),
    ("T-48610", "64131007", "Inferior vena cava"),
    ("M-80000", "108369006", "Neoplasm"),
    ("M-80003", "86049000", "Malignant neoplasm, primary"),
    ("T-D0050", "85756007", "Tissue"),
    ("T-62600", "28231008", "Gallbladder"),
];

/// A coded concept.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Code {
    /// CodeValue.
    pub value: String,
    /// CodingSchemeDesignator (SCT, SRT, DCM, …).
    pub scheme: String,
    /// CodeMeaning.
    pub meaning: String,
}

impl Code {
    fn of(item: Option<&InMemDicomObject>) -> Option<Code> {
        let i = item?;
        let mut value = text(i, tags::CODE_VALUE);
        if value.is_empty() {
            value = text(i, tags::LONG_CODE_VALUE);
        }
        if value.is_empty() {
            return None;
        }
        Some(Code {
            value,
            scheme: text(i, tags::CODING_SCHEME_DESIGNATOR),
            meaning: text(i, tags::CODE_MEANING),
        })
    }

    /// The ways a user may name this code: `SCHEME^VALUE`, and the same
    /// concept in the other SNOMED scheme.
    pub fn aliases(&self) -> Vec<String> {
        let mut out = vec![format!("{}^{}", self.scheme, self.value)];
        for (srt, sct, _) in SRT_TO_SCT {
            if self.scheme == "SRT" && self.value == srt {
                out.push(format!("SCT^{sct}"));
            }
            if self.scheme == "SCT" && self.value == sct {
                out.push(format!("SRT^{srt}"));
            }
        }
        out
    }
}

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

/// One frame: where it goes and for which segment.
struct Frame {
    segment: i64,
    position: [f64; 3],
    source_uid: Option<String>,
}

/// PackBits-style DICOM RLE [DICOM PS3.5 G]: a 64-byte header of up to 15
/// segment offsets, each segment a run-length coded byte stream. Returns the
/// segments' bytes concatenated in order (one segment for 8-bit and 1-bit
/// data).
fn decode_rle(path: &Path, frame: &[u8], expected: usize) -> Result<Vec<u8>> {
    let bad = |found: String| Error::Truncated {
        path: path.to_path_buf(),
        field: "PixelData (RLE)".into(),
        expected: format!("an RLE frame of {expected} bytes"),
        found,
    };
    if frame.len() < 64 {
        return Err(bad(format!("{} bytes", frame.len())));
    }
    let word = |i: usize| {
        u32::from_le_bytes([frame[4 * i], frame[4 * i + 1], frame[4 * i + 2], frame[4 * i + 3]]) as usize
    };
    let count = word(0);
    if count == 0 || count > 15 {
        return Err(bad(format!("{count} RLE segments")));
    }
    let mut out = Vec::with_capacity(expected);
    let per_segment = expected.div_ceil(count);
    for s in 0..count {
        let start = word(1 + s);
        let end = if s + 1 < count { word(2 + s) } else { frame.len() };
        if start < 64 || start > end || end > frame.len() {
            return Err(bad(format!("segment {s} at bytes {start}..{end}")));
        }
        let data = &frame[start..end];
        let target = out.len() + per_segment;
        let mut i = 0;
        // A segment may end with a padding byte: stop once it is complete.
        while i < data.len() && out.len() < target {
            let n = data[i] as i8;
            i += 1;
            if n >= 0 {
                let len = n as usize + 1;
                let lit = data
                    .get(i..i + len)
                    .ok_or_else(|| bad("a literal run past the end".into()))?;
                out.extend_from_slice(lit);
                i += len;
            } else if n != -128 {
                let len = (1 - n as isize) as usize;
                let v = *data
                    .get(i)
                    .ok_or_else(|| bad("a repeat run past the end".into()))?;
                out.extend(std::iter::repeat_n(v, len));
                i += 1;
            }
        }
        if out.len() < target {
            return Err(bad(format!(
                "segment {s} decoding to {} bytes",
                out.len() + per_segment - target
            )));
        }
        out.truncate(target);
    }
    Ok(out)
}

/// The pixel values of every frame (one byte per pixel: 0/1 for BINARY, the
/// stored value for FRACTIONAL).
fn frame_values(
    path: &Path,
    obj: &super::Object,
    rows: usize,
    cols: usize,
    frames: usize,
    bits: usize,
) -> Result<Vec<Vec<u8>>> {
    let ts = obj.meta().transfer_syntax().trim_end_matches('\0').to_string();
    let plane = rows * cols;
    let element = obj.element_opt(tags::PIXEL_DATA).ok().flatten().ok_or_else(|| {
        header_error(
            path,
            "PixelData",
            "pixel data",
            "none (a DICOM file without an image)",
        )
    })?;
    let unsupported = |detail: String| Error::Unsupported {
        path: path.to_path_buf(),
        field: "TransferSyntaxUID".into(),
        found: format!("{ts} ({}): {detail}", transfer_syntax_name(&ts)),
        hint: "decode it first (for example dcmdrle or gdcmconv --raw) to explicit VR little endian".into(),
    };
    let unpack = |bytes: &[u8], first_bit: usize| -> Option<Vec<u8>> {
        let last = first_bit + plane;
        if bytes.len() * 8 < last {
            return None;
        }
        Some((first_bit..last).map(|b| (bytes[b / 8] >> (b % 8)) & 1).collect())
    };
    let truncated = |found: String| Error::Truncated {
        path: path.to_path_buf(),
        field: "PixelData".into(),
        expected: format!("{frames} frames of {rows} x {cols} pixels at {bits} bit(s)"),
        found,
    };
    if let Some(fragments) = element.fragments() {
        // Encapsulated: one compressed stream per frame.
        let per_frame: Vec<Vec<u8>> = if fragments.len() == frames {
            fragments.to_vec()
        } else {
            let table: Vec<u32> = element.offset_table().map(|t| t.to_vec()).unwrap_or_default();
            let all: Vec<u8> = fragments.concat();
            if frames == 1 {
                vec![all]
            } else if table.len() == frames {
                // Offsets count item headers (8 bytes per fragment) too: split
                // by walking the fragments instead.
                let mut starts = Vec::new();
                let mut at = 0usize;
                let mut bounds = Vec::new();
                for f in fragments {
                    bounds.push(at);
                    at += f.len() + 8;
                }
                for &t in &table {
                    let k = bounds.iter().position(|&b| b == t as usize).ok_or_else(|| {
                        truncated(format!("a basic offset table entry {t} not at a fragment"))
                    })?;
                    starts.push(k);
                }
                starts.push(fragments.len());
                starts
                    .windows(2)
                    .map(|w| fragments[w[0]..w[1]].concat())
                    .collect()
            } else {
                return Err(truncated(format!(
                    "{} fragments and no usable offset table",
                    fragments.len()
                )));
            }
        };
        let shape = super::frames::FrameShape {
            rows,
            cols,
            bits_allocated: bits,
            samples: 1,
        };
        for (k, data) in per_frame.iter().enumerate() {
            match ts.as_str() {
                "1.2.840.10008.1.2.5" => super::frames::check_rle(path, data, k, shape)?,
                "1.2.840.10008.1.2.4.90" | "1.2.840.10008.1.2.4.91" => {
                    super::frames::check_j2k(path, data, k, shape)?
                }
                _ => {}
            }
        }
        return per_frame
            .iter()
            .map(|data| match ts.as_str() {
                "1.2.840.10008.1.2.5" => {
                    let bytes_out = if bits == 1 { plane.div_ceil(8) } else { plane };
                    let raw = decode_rle(path, data, bytes_out)?;
                    if bits == 1 {
                        unpack(&raw, 0)
                            .ok_or_else(|| truncated(format!("an RLE frame of {} bytes", raw.len())))
                    } else {
                        raw.get(..plane)
                            .map(<[u8]>::to_vec)
                            .ok_or_else(|| truncated(format!("an RLE frame of {} bytes", raw.len())))
                    }
                }
                "1.2.840.10008.1.2.8.1" => {
                    // Deflated Image Frame Compression: each frame's native
                    // bytes (bits packed from the frame's first byte) as a
                    // raw deflate stream.
                    let mut raw = Vec::new();
                    std::io::Read::read_to_end(&mut flate2::read::DeflateDecoder::new(&data[..]), &mut raw)
                        .map_err(|e| truncated(format!("a damaged deflate stream: {e}")))?;
                    if bits == 1 {
                        unpack(&raw, 0)
                            .ok_or_else(|| truncated(format!("a deflated frame of {} bytes", raw.len())))
                    } else {
                        raw.get(..plane)
                            .map(<[u8]>::to_vec)
                            .ok_or_else(|| truncated(format!("a deflated frame of {} bytes", raw.len())))
                    }
                }
                "1.2.840.10008.1.2.4.90" | "1.2.840.10008.1.2.4.91" => {
                    let img = jpeg2k::Image::from_bytes(data)
                        .map_err(|e| unsupported(format!("JPEG 2000 frame: {e}")))?;
                    let comp = img
                        .components()
                        .first()
                        .ok_or_else(|| truncated("a JPEG 2000 frame without components".into()))?;
                    if comp.width() as usize != cols || comp.height() as usize != rows {
                        return Err(truncated(format!(
                            "a {} x {} JPEG 2000 frame",
                            comp.width(),
                            comp.height()
                        )));
                    }
                    Ok(comp.data().iter().map(|&v| v.clamp(0, 255) as u8).collect())
                }
                _ => Err(unsupported("not decoded for segmentations".into())),
            })
            .collect();
    }
    // Native: bits follow each other across frames.
    let bytes = element
        .to_bytes()
        .map_err(|e| truncated(format!("unreadable pixel data: {e}")))?;
    (0..frames)
        .map(|f| {
            if bits == 1 {
                unpack(&bytes, f * plane).ok_or_else(|| truncated(format!("{} bytes", bytes.len())))
            } else {
                bytes
                    .get(f * plane..(f + 1) * plane)
                    .map(<[u8]>::to_vec)
                    .ok_or_else(|| truncated(format!("{} bytes", bytes.len())))
            }
        })
        .collect()
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

    // Frame geometry.
    let shared = first_item(&obj, tags::SHARED_FUNCTIONAL_GROUPS_SEQUENCE);
    let per_frame = items(&obj, tags::PER_FRAME_FUNCTIONAL_GROUPS_SEQUENCE);
    if per_frame.len() != frames {
        return Err(header_error(
            path,
            "PerFrameFunctionalGroupsSequence",
            format!("{frames} items (NumberOfFrames)"),
            per_frame.len(),
        ));
    }
    let group =
        |k: usize, seq| first_item(&per_frame[k], seq).or_else(|| shared.and_then(|s| first_item(s, seq)));
    let iop = group(0, tags::PLANE_ORIENTATION_SEQUENCE)
        .and_then(|g| floats(g, tags::IMAGE_ORIENTATION_PATIENT))
        .filter(|v| v.len() == 6)
        .ok_or_else(|| {
            header_error(
                path,
                "PlaneOrientationSequence",
                "ImageOrientationPatient",
                "none",
            )
        })?;
    let measures = group(0, tags::PIXEL_MEASURES_SEQUENCE);
    let spacing = measures
        .and_then(|g| floats(g, tags::PIXEL_SPACING))
        .filter(|v| v.len() == 2 && v.iter().all(|x| *x > 0.0))
        .ok_or_else(|| header_error(path, "PixelMeasuresSequence", "PixelSpacing", "none"))?;
    let between = measures
        .and_then(|g| floats(g, tags::SPACING_BETWEEN_SLICES))
        .and_then(|v| v.first().copied());
    let thickness = measures
        .and_then(|g| floats(g, tags::SLICE_THICKNESS))
        .and_then(|v| v.first().copied());
    let (row_dir, col_dir, normal) = orientation(path, &iop)?;
    let mut frame_info = Vec::with_capacity(frames);
    for (k, item) in per_frame.iter().enumerate() {
        let segment = group(k, tags::SEGMENT_IDENTIFICATION_SEQUENCE)
            .and_then(|g| int(g, tags::REFERENCED_SEGMENT_NUMBER))
            .ok_or_else(|| {
                header_error(
                    path,
                    "SegmentIdentificationSequence",
                    "a segment for every frame",
                    format!("none for frame {}", k + 1),
                )
            })?;
        if !segments.iter().any(|s| s.number == segment) {
            return Err(header_error(
                path,
                "ReferencedSegmentNumber",
                "a segment of SegmentSequence",
                format!("{segment} in frame {}", k + 1),
            ));
        }
        let pos = group(k, tags::PLANE_POSITION_SEQUENCE)
            .and_then(|g| floats(g, tags::IMAGE_POSITION_PATIENT))
            .filter(|v| v.len() == 3)
            .ok_or_else(|| {
                header_error(
                    path,
                    "PlanePositionSequence",
                    "a position for every frame",
                    format!("none for frame {}", k + 1),
                )
            })?;
        if let Some(o) = first_item(item, tags::PLANE_ORIENTATION_SEQUENCE)
            .and_then(|g| floats(g, tags::IMAGE_ORIENTATION_PATIENT))
        {
            if o.iter().zip(&iop).any(|(a, b)| (a - b).abs() > 1e-4) {
                return Err(header_error(
                    path,
                    "PlaneOrientationSequence",
                    format!("{iop:?} in every frame"),
                    format!("{o:?} in frame {}", k + 1),
                ));
            }
        }
        let source_uid = first_item(item, tags::DERIVATION_IMAGE_SEQUENCE)
            .and_then(|d| first_item(d, tags::SOURCE_IMAGE_SEQUENCE))
            .map(|s| text(s, tags::REFERENCED_SOP_INSTANCE_UID))
            .filter(|s| !s.is_empty());
        frame_info.push(Frame {
            segment,
            position: [pos[0], pos[1], pos[2]],
            source_uid,
        });
    }
    let referenced_series_uid = first_item(&obj, tags::REFERENCED_SERIES_SEQUENCE)
        .map(|r| text(r, tags::SERIES_INSTANCE_UID))
        .filter(|s| !s.is_empty());
    let frame_of_reference_uid = text(&obj, tags::FRAME_OF_REFERENCE_UID);

    // The grid and each frame's slice.
    let (grid, slice_of) = match reference {
        Some(r) => on_reference(
            path,
            r,
            &frame_info,
            &iop,
            &spacing,
            rows,
            cols,
            referenced_series_uid.as_deref(),
            &frame_of_reference_uid,
        )?,
        None => {
            let d: Vec<f64> = frame_info
                .iter()
                .map(|f| super::dot(f.position, normal))
                .collect();
            let mut distinct: Vec<f64> = d.clone();
            distinct.sort_by(f64::total_cmp);
            distinct.dedup_by(|a, b| (*a - *b).abs() < 1e-3);
            let step = if distinct.len() > 1 {
                distinct
                    .windows(2)
                    .map(|w| w[1] - w[0])
                    .fold(f64::INFINITY, f64::min)
            } else {
                let s = between.or(thickness).unwrap_or(1.0);
                warnings.push(Warning::new(
                    Some(path),
                    "SpacingBetweenSlices",
                    format!("all frames lie in one plane: the slice step is taken as {s} mm"),
                ));
                s
            };
            let d0 = distinct[0];
            let mut slice_of = Vec::with_capacity(frames);
            for (k, &dk) in d.iter().enumerate() {
                let q = (dk - d0) / step;
                if (q - q.round()).abs() > 0.01 {
                    return Err(header_error(
                        path,
                        "PlanePositionSequence",
                        format!("frames on slices {step:.4} mm apart"),
                        format!("frame {} {:.4} mm from the first slice", k + 1, dk - d0),
                    ));
                }
                // In-plane, every frame starts where the first does.
                let p0 = frame_info[0].position;
                let back =
                    [0, 1, 2].map(|a| frame_info[k].position[a] - (dk - super::dot(p0, normal)) * normal[a]);
                if (0..3).any(|a| (back[a] - p0[a]).abs() > 0.01) {
                    return Err(header_error(
                        path,
                        "PlanePositionSequence",
                        "frames stacked along the normal of the image plane",
                        format!("frame {} shifted in-plane (a tilted or cropped frame)", k + 1),
                    ));
                }
                slice_of.push(q.round() as usize);
            }
            if let (Some(t), true) = (thickness, distinct.len() > 1) {
                if (t - step).abs() > 0.01 {
                    warnings.push(Warning::new(
                        Some(path),
                        "SliceThickness",
                        format!("{t} mm differs from the step {step:.4} mm between frame positions; the positions are used"),
                    ));
                }
            }
            let slices = slice_of.iter().max().map_or(1, |m| m + 1);
            let first = frame_info
                .iter()
                .zip(&d)
                .find(|(_, &dk)| (dk - d0).abs() < 1e-3)
                .map(|(f, _)| f.position)
                .unwrap_or(frame_info[0].position);
            let affine = stack_affine(row_dir, col_dir, [spacing[0], spacing[1]], normal, step, first);
            (Grid::new([cols, rows, slices], affine)?, slice_of)
        }
    };
    let dims = grid.dims();
    let n = dims[0] * dims[1] * dims[2];
    if (n as u64).saturating_mul(segments.len() as u64 + 2) > read.max_bytes {
        return Err(header_error(
            path,
            "NumberOfFrames",
            format!(
                "at most {:.1} GiB of segment masks (--max-memory-gib)",
                read.max_bytes as f64 / (1u64 << 30) as f64
            ),
            format!(
                "{} segments on {}x{}x{} voxels",
                segments.len(),
                dims[0],
                dims[1],
                dims[2]
            ),
        ));
    }

    // Pixels into per-segment masks.
    let values = frame_values(path, &obj, rows, cols, frames, bits)?;
    let plane = rows * cols;
    let mut masks: BTreeMap<i64, Vec<bool>> = BTreeMap::new();
    let mut fractions: BTreeMap<i64, f64> = BTreeMap::new();
    let threshold = seg_options.threshold;
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
    for s in &mut segments {
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
    for s in &segments {
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
    for s in &segments {
        if let Some(c) = &s.property_type {
            codes.insert(s.number, c.aliases());
        }
    }
    let map = LabelMap::new(grid, first, names)?
        .with_overlays(arrays)?
        .with_codes(codes);
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

/// Places every frame on a slice of the reference series, after checking
/// that the SEG belongs to it.
#[allow(clippy::too_many_arguments)]
fn on_reference(
    path: &Path,
    r: &DicomSeries,
    frames: &[Frame],
    iop: &[f64],
    spacing: &[f64],
    rows: usize,
    cols: usize,
    referenced_series: Option<&str>,
    frame_of_reference: &str,
) -> Result<(Grid, Vec<usize>)> {
    let grid = r.volume.grid().clone();
    let mismatch = |reason: String| Error::GridMismatch {
        reason,
        left_name: path.display().to_string(),
        left: format!("{cols} x {rows} frames, orientation {iop:?}, pixel spacing {spacing:?}"),
        right_name: format!("series {}", r.summary.uid),
        right: grid.to_string(),
    };
    if let (Some(want), false) = (referenced_series, r.series_uid.is_empty()) {
        if want != r.series_uid {
            return Err(mismatch(format!(
                "the SEG references series {want}, not this one"
            )));
        }
    }
    if !frame_of_reference.is_empty()
        && !r.frame_of_reference_uid.is_empty()
        && frame_of_reference != r.frame_of_reference_uid
    {
        return Err(mismatch(format!(
            "frame of reference {frame_of_reference} differs from the series' {}",
            r.frame_of_reference_uid
        )));
    }
    let d = grid.dims();
    if d[0] != cols || d[1] != rows {
        return Err(mismatch("different image sizes".into()));
    }
    let a = grid.affine();
    let (row_dir, col_dir, _) = orientation(path, iop)?;
    // The reference's in-plane axes in LPS, unit length.
    let axis = |c: usize, s: f64| super::lps_to_ras([a[(0, c)] / s, a[(1, c)] / s, a[(2, c)] / s]);
    let sp = grid.spacing_mm();
    let same = |u: [f64; 3], v: [f64; 3]| (0..3).all(|i| (u[i] - v[i]).abs() < 1e-4);
    if !same(axis(0, sp[0]), row_dir) || !same(axis(1, sp[1]), col_dir) {
        return Err(mismatch("different orientations".into()));
    }
    if (sp[0] - spacing[1]).abs() > 1e-4 || (sp[1] - spacing[0]).abs() > 1e-4 {
        return Err(mismatch("different pixel spacings".into()));
    }
    let mut out = Vec::with_capacity(frames.len());
    for (k, f) in frames.iter().enumerate() {
        let by_uid = f
            .source_uid
            .as_ref()
            .and_then(|u| r.instance_uids.iter().position(|x| x == u));
        let world = super::lps_to_ras(f.position);
        let by_pos = {
            let v = grid.world_to_voxel(world);
            let s = v[2].round();
            let ok = (v[0]).abs() < 1e-2
                && (v[1]).abs() < 1e-2
                && (v[2] - s).abs() < 1e-2
                && s >= 0.0
                && (s as usize) < d[2];
            ok.then_some(s as usize)
        };
        match (by_uid, by_pos) {
            (Some(u), Some(p)) if u != p => {
                return Err(mismatch(format!(
                    "frame {} references slice {} but lies at slice {}",
                    k + 1,
                    u + 1,
                    p + 1
                )))
            }
            (_, Some(p)) => out.push(p),
            (Some(u), None) => {
                return Err(mismatch(format!(
                    "frame {} references slice {} but its position {:?} is not on it",
                    k + 1,
                    u + 1,
                    f.position
                )))
            }
            (None, None) => {
                return Err(mismatch(format!(
                    "frame {} at {:?} lies on no slice of the series",
                    k + 1,
                    f.position
                )));
            }
        }
    }
    Ok((grid, out))
}
