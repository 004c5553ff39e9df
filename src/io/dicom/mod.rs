//! DICOM: CT and MR series (single-frame files or enhanced multi-frame) and
//! segmentations (DICOM SEG), read with dicom-object and decoded with
//! dicom-pixeldata.
//!
//! A series is given as a directory (searched recursively) or a list of
//! files. Files are grouped by SeriesInstanceUID; files whose dataset carries
//! an empty SeriesInstanceUID (as some anonymisers leave them) are grouped by
//! their frame of reference and series description instead, and identified by
//! the SOP instance UID of their file meta information. Several series in
//! one input are listed in an error; `--series UID` chooses one.
//!
//! Geometry [DICOM PS3.3 C.7.6.2]: the in-plane axes come from
//! ImageOrientationPatient (row direction, then column direction) and
//! PixelSpacing (row spacing, column spacing); slices are sorted along the
//! normal row × column by the projection of ImagePositionPatient, and the
//! slice step is the median difference of those projections — never
//! SliceThickness, which is the thickness of the reconstructed slab and often
//! differs. The positions must be uniform:
//!
//! * a step more than 1.5 × the median is a missing slice: error naming the
//!   positions on either side;
//! * steps differing from the median by more than 1 % (and 0.01 mm): error;
//!   smaller differences: a warning, the median step is used;
//! * two slices at one position, different orientations or pixel spacings,
//!   or positions off the normal (gantry tilt, error giving the angle) are
//!   errors.
//!
//! DICOM's patient coordinates are LPS; liverkit's world is RAS+, so x and y
//! change sign. Voxel index i runs along the row direction (columns of the
//! image), j along the column direction (rows), k along the sorted slices.
//!
//! Intensities are RescaleSlope · stored value + RescaleIntercept (HU for CT).

mod frames;
mod guard;
mod mask_series;
pub mod seg;
mod series;
pub mod source;
pub mod write;

pub use mask_series::{read_mask_series, MaskSeries};
pub use seg::{read_seg, Code, SegOptions, SegmentDescription, Segmentation};
pub use series::{list_series, read_series, DicomSeries, SeriesSummary};
pub use source::SourceSeries;
pub use write::seg::write_seg;
pub use write::sr::{write_sr, SegReference, SrGroup, SrMeasurement, SrReport};

use std::fs::File;
use std::io::Read;
use std::path::{Path, PathBuf};

use dicom_core::Tag;
use dicom_dictionary_std::tags;
use dicom_object::{InMemDicomObject, OpenFileOptions};

use crate::error::{Error, Result};

/// The in-memory dataset type.
pub(crate) type Object = dicom_object::FileDicomObject<InMemDicomObject>;

/// SOP class UIDs liverkit tells apart.
pub(crate) const SEG_STORAGE: &str = "1.2.840.10008.5.1.4.1.1.66.4";
const DICOMDIR: &str = "1.2.840.10008.1.3.10";

/// Whether `path` is a directory or a file with the DICOM preamble.
pub fn is_dicom(path: &Path) -> bool {
    if path.is_dir() {
        return true;
    }
    has_preamble(path)
}

fn has_preamble(path: &Path) -> bool {
    let mut head = [0u8; 132];
    File::open(path).and_then(|mut f| f.read_exact(&mut head)).is_ok() && &head[128..132] == b"DICM"
}

pub(crate) fn header_error(
    path: &Path,
    field: &str,
    expected: impl Into<String>,
    found: impl ToString,
) -> Error {
    Error::Header {
        path: path.to_path_buf(),
        field: field.to_string(),
        expected: expected.into(),
        found: found.to_string(),
    }
}

/// Whether `dir` holds DICOM files directly (not only in sub-folders).
pub fn holds_dicom_files(dir: &Path) -> bool {
    std::fs::read_dir(dir).is_ok_and(|entries| {
        entries
            .flatten()
            .any(|e| e.path().is_file() && has_preamble(&e.path()))
    })
}

/// Every file under the inputs: directories are searched recursively,
/// files without the DICOM preamble in a directory are skipped (a file
/// named explicitly must be DICOM). Sorted by path.
///
/// # Errors
/// `Read` for an unreadable directory; `Header` for a named file that is not
/// DICOM or a directory holding none.
pub fn collect_files(inputs: &[PathBuf]) -> Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    for input in inputs {
        if input.is_dir() {
            let before = out.len();
            walk(input, &mut out)?;
            if out.len() == before {
                return Err(header_error(
                    input,
                    "directory",
                    "DICOM files (with the DICM preamble)",
                    "none",
                ));
            }
        } else if has_preamble(input) {
            out.push(input.clone());
        } else if !input.exists() {
            return Err(Error::Read {
                path: input.clone(),
                source: std::io::Error::new(std::io::ErrorKind::NotFound, "no such file or directory"),
            });
        } else {
            return Err(header_error(
                input,
                "preamble",
                "\"DICM\" at byte 128 (a DICOM Part 10 file)",
                "something else",
            ));
        }
    }
    out.sort();
    out.dedup();
    Ok(out)
}

fn walk(dir: &Path, out: &mut Vec<PathBuf>) -> Result<()> {
    let read = |e| Error::Read {
        path: dir.to_path_buf(),
        source: e,
    };
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(read)?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .collect();
    entries.sort();
    for p in entries {
        if p.is_dir() {
            walk(&p, out)?;
        } else if has_preamble(&p) {
            out.push(p);
        }
    }
    Ok(())
}

/// Opens a file, reading the dataset up to the pixel data (or all of it).
pub(crate) fn open(path: &Path, with_pixels: bool) -> Result<Object> {
    open_checked(path, with_pixels).map(|(o, _)| o)
}

/// Opens a file after walking its element headers ([`guard`]): no declared
/// length runs past the file, so the parser never allocates more than the
/// file holds. Returns the dataset and the layout of its pixel data.
pub(crate) fn open_checked(path: &Path, with_pixels: bool) -> Result<(Object, guard::PixelLayout)> {
    let layout = guard::check_file(path, 16 << 30)?;
    let opts = OpenFileOptions::new();
    let opts = if with_pixels {
        opts
    } else {
        opts.read_until(tags::PIXEL_DATA)
    };
    let obj = opts.open_file(path).map_err(|e| {
        let text = e.to_string();
        if text.contains("ransfer syntax") && (text.contains("nsupported") || text.contains("nknown")) {
            header_error(
                path,
                "TransferSyntaxUID",
                "a transfer syntax liverkit decodes",
                text,
            )
        } else {
            Error::Truncated {
                path: path.to_path_buf(),
                field: "dataset".into(),
                expected: "a complete DICOM dataset".into(),
                found: format!("a file that cannot be parsed: {text}"),
            }
        }
    })?;
    Ok((obj, layout))
}

/// A string attribute, trimmed (empty when absent).
pub(crate) fn text(obj: &InMemDicomObject, tag: Tag) -> String {
    obj.element_opt(tag)
        .ok()
        .flatten()
        .and_then(|e| {
            e.to_str()
                .ok()
                .map(|s| s.trim().trim_end_matches('\0').to_string())
        })
        .unwrap_or_default()
}

/// A multi-valued decimal attribute.
pub(crate) fn floats(obj: &InMemDicomObject, tag: Tag) -> Option<Vec<f64>> {
    obj.element_opt(tag)
        .ok()
        .flatten()
        .and_then(|e| e.to_multi_float64().ok())
}

/// An integer attribute.
pub(crate) fn int(obj: &InMemDicomObject, tag: Tag) -> Option<i64> {
    obj.element_opt(tag)
        .ok()
        .flatten()
        .and_then(|e| e.to_int::<i64>().ok())
}

/// The items of a sequence (empty when absent).
pub(crate) fn items(obj: &InMemDicomObject, tag: Tag) -> &[InMemDicomObject] {
    obj.element_opt(tag)
        .ok()
        .flatten()
        .and_then(|e| e.items())
        .unwrap_or(&[])
}

/// The first item of a sequence.
pub(crate) fn first_item(obj: &InMemDicomObject, tag: Tag) -> Option<&InMemDicomObject> {
    items(obj, tag).first()
}

/// A required numeric vector of `n` values.
pub(crate) fn need_floats(
    path: &Path,
    obj: &InMemDicomObject,
    tag: Tag,
    name: &str,
    n: usize,
) -> Result<Vec<f64>> {
    match floats(obj, tag) {
        Some(v) if v.len() == n && v.iter().all(|x| x.is_finite()) => Ok(v),
        Some(v) => Err(header_error(
            path,
            name,
            format!("{n} finite numbers"),
            format!("{v:?}"),
        )),
        None => Err(header_error(
            path,
            name,
            format!("{n} numbers"),
            "no such attribute",
        )),
    }
}

/// The acquisition date of an image dataset: AcquisitionDate, SeriesDate or
/// StudyDate, the first present, as `YYYY-MM-DD`.
pub(crate) fn acquisition_date(obj: &InMemDicomObject) -> Option<String> {
    first_date(
        obj,
        &[tags::ACQUISITION_DATE, tags::SERIES_DATE, tags::STUDY_DATE],
    )
}

/// The scan date of a SEG: AcquisitionDate or StudyDate. Its SeriesDate and
/// ContentDate say when the segmentation was made, which can be days after
/// the scan.
pub(crate) fn seg_scan_date(obj: &InMemDicomObject) -> Option<String> {
    first_date(obj, &[tags::ACQUISITION_DATE, tags::STUDY_DATE])
}

fn first_date(obj: &InMemDicomObject, order: &[Tag]) -> Option<String> {
    order
        .iter()
        .map(|&t| text(obj, t))
        .find(|d| d.len() == 8 && d.bytes().all(|b| b.is_ascii_digit()))
        .map(|d| format!("{}-{}-{}", &d[0..4], &d[4..6], &d[6..8]))
}

/// The scan date of a DICOM input (a series directory or file, or a SEG),
/// `YYYY-MM-DD`; `None` when the datasets carry no date.
///
/// # Errors
/// As [`collect_files`] and parsing the first file.
pub fn scan_date(path: &Path) -> Result<Option<String>> {
    let files = collect_files(&[path.to_path_buf()])?;
    let Some(first) = files.first() else {
        return Ok(None);
    };
    let obj = open(first, false)?;
    Ok(if is_seg(&obj) {
        seg_scan_date(&obj)
    } else {
        acquisition_date(&obj)
    })
}

/// The transfer syntaxes liverkit decodes, by UID.
pub(crate) fn transfer_syntax_name(uid: &str) -> &'static str {
    match uid.trim_end_matches('\0') {
        "1.2.840.10008.1.2" => "implicit VR little endian",
        "1.2.840.10008.1.2.1" => "explicit VR little endian",
        "1.2.840.10008.1.2.1.99" => "deflated explicit VR little endian",
        "1.2.840.10008.1.2.2" => "explicit VR big endian",
        "1.2.840.10008.1.2.5" => "RLE lossless",
        "1.2.840.10008.1.2.8.1" => "deflated image frame compression",
        "1.2.840.10008.1.2.4.57" => "JPEG lossless",
        "1.2.840.10008.1.2.4.70" => "JPEG lossless, first-order prediction",
        "1.2.840.10008.1.2.4.50" => "JPEG baseline",
        "1.2.840.10008.1.2.4.51" => "JPEG extended (12-bit)",
        "1.2.840.10008.1.2.4.80" => "JPEG-LS lossless",
        "1.2.840.10008.1.2.4.81" => "JPEG-LS near-lossless",
        "1.2.840.10008.1.2.4.90" => "JPEG 2000 lossless",
        "1.2.840.10008.1.2.4.91" => "JPEG 2000",
        "1.2.840.10008.1.2.4.201" | "1.2.840.10008.1.2.4.202" | "1.2.840.10008.1.2.4.203" => "HTJ2K",
        _ => "unknown",
    }
}

/// Whether the object is a DICOM SEG.
pub(crate) fn is_seg(obj: &Object) -> bool {
    let class = obj
        .meta()
        .media_storage_sop_class_uid()
        .trim_end_matches('\0')
        .to_string();
    class == SEG_STORAGE || text(obj, tags::MODALITY) == "SEG"
}

/// Whether the object is a DICOMDIR (skipped in directories).
pub(crate) fn is_dicomdir(obj: &Object) -> bool {
    obj.meta().media_storage_sop_class_uid().trim_end_matches('\0') == DICOMDIR
}

/// Whether the first DICOM file of `path` (a file or a directory) is a SEG.
///
/// # Errors
/// As [`collect_files`] and reading the file.
pub fn input_is_seg(path: &Path) -> Result<bool> {
    if path.is_dir() {
        return Ok(false);
    }
    let obj = open(path, false)?;
    Ok(is_seg(&obj))
}

/// LPS (DICOM patient) to RAS+ (liverkit world): x and y change sign.
pub(crate) fn lps_to_ras(v: [f64; 3]) -> [f64; 3] {
    [-v[0], -v[1], v[2]]
}

pub(crate) fn dot(a: [f64; 3], b: [f64; 3]) -> f64 {
    a[0] * b[0] + a[1] * b[1] + a[2] * b[2]
}

pub(crate) fn cross(a: [f64; 3], b: [f64; 3]) -> [f64; 3] {
    [
        a[1] * b[2] - a[2] * b[1],
        a[2] * b[0] - a[0] * b[2],
        a[0] * b[1] - a[1] * b[0],
    ]
}

/// Sorted slice positions along the normal → (origin index order, step).
/// Checks duplicates, gaps, uniformity and tilt; `where_` names a slice for
/// messages.
pub(crate) struct SliceStack {
    /// Indices into the input, sorted by position along the normal.
    pub order: Vec<usize>,
    /// Slice step, mm (1 for a single slice unless given).
    pub step: f64,
    /// Non-fatal notes.
    pub warnings: Vec<String>,
}

/// Sorts `positions` (LPS, one per slice) along `normal` and checks them.
pub(crate) fn stack_slices(
    path: &Path,
    positions: &[[f64; 3]],
    normal: [f64; 3],
    single_slice_step: Option<f64>,
    where_: &dyn Fn(usize) -> String,
) -> Result<SliceStack> {
    let proj: Vec<f64> = positions.iter().map(|p| dot(*p, normal)).collect();
    let mut order: Vec<usize> = (0..positions.len()).collect();
    order.sort_by(|&a, &b| proj[a].total_cmp(&proj[b]));
    let sorted: Vec<f64> = order.iter().map(|&i| proj[i]).collect();
    let mut warnings = Vec::new();
    if sorted.len() == 1 {
        if let Some(t) = single_slice_step.filter(|t| !(t.is_finite() && *t > 0.0)) {
            return Err(header_error(
                path,
                "SliceThickness",
                "a positive thickness (a single slice's extent along the normal comes from it)",
                t,
            ));
        }
        return Ok(SliceStack {
            order,
            step: single_slice_step.unwrap_or(1.0),
            warnings,
        });
    }
    let steps: Vec<f64> = sorted.windows(2).map(|w| w[1] - w[0]).collect();
    if let Some(k) = steps.iter().position(|&s| s.abs() < 1e-3) {
        return Err(header_error(
            path,
            "ImagePositionPatient",
            "one slice per position",
            format!(
                "{} and {} at the same position ({:.3} mm along the normal)",
                where_(order[k]),
                where_(order[k + 1]),
                sorted[k]
            ),
        ));
    }
    let mut s = steps.clone();
    s.sort_by(f64::total_cmp);
    let median = s[s.len() / 2];
    for (k, &st) in steps.iter().enumerate() {
        if st > 1.5 * median {
            return Err(header_error(
                path,
                "ImagePositionPatient",
                format!("slices {median:.3} mm apart (the median step)"),
                format!(
                    "a gap of {st:.3} mm between {} ({:.3} mm) and {} ({:.3} mm): about {} slice(s) missing",
                    where_(order[k]),
                    sorted[k],
                    where_(order[k + 1]),
                    sorted[k + 1],
                    (st / median).round() as i64 - 1
                ),
            ));
        }
    }
    let worst = steps.iter().map(|st| (st - median).abs()).fold(0.0, f64::max);
    if worst > 0.01 && worst > 0.01 * median {
        return Err(header_error(
            path,
            "ImagePositionPatient",
            format!("uniform slice spacing (within 1 % of the median {median:.4} mm)"),
            format!("steps from {:.4} to {:.4} mm", s[0], s[s.len() - 1]),
        ));
    }
    if worst > 1e-4 {
        warnings.push(format!(
            "slice steps vary from {:.4} to {:.4} mm; the median {median:.4} mm is used",
            s[0],
            s[s.len() - 1]
        ));
    }
    // Tilt: consecutive positions must move along the normal.
    let first = positions[order[0]];
    let last = positions[order[order.len() - 1]];
    let d = [last[0] - first[0], last[1] - first[1], last[2] - first[2]];
    let len = dot(d, d).sqrt();
    if len > 0.0 {
        let cos = (dot(d, normal) / len).clamp(-1.0, 1.0);
        let angle = cos.acos().to_degrees();
        if angle > 0.05 {
            return Err(header_error(
                path,
                "ImagePositionPatient",
                "slices stacked along the normal of ImageOrientationPatient (no gantry tilt)",
                format!("a gantry tilt of {angle:.2}°: resample the series before measuring"),
            ));
        }
    }
    Ok(SliceStack {
        order,
        step: median,
        warnings,
    })
}

/// The RAS+ affine of a stack: row and column directions (LPS, from
/// ImageOrientationPatient), PixelSpacing (row spacing, column spacing),
/// the slice step along the normal and the first slice's position (LPS).
pub(crate) fn stack_affine(
    row_dir: [f64; 3],
    col_dir: [f64; 3],
    pixel_spacing: [f64; 2],
    normal: [f64; 3],
    step: f64,
    origin: [f64; 3],
) -> nalgebra::Matrix4<f64> {
    let mut a = nalgebra::Matrix4::identity();
    let cols = [
        lps_to_ras(row_dir).map(|v| v * pixel_spacing[1]),
        lps_to_ras(col_dir).map(|v| v * pixel_spacing[0]),
        lps_to_ras(normal).map(|v| v * step),
        lps_to_ras(origin),
    ];
    for (c, v) in cols.iter().enumerate() {
        for r in 0..3 {
            a[(r, c)] = v[r];
        }
    }
    a
}

/// Checks ImageOrientationPatient: two unit vectors at right angles.
pub(crate) fn orientation(path: &Path, iop: &[f64]) -> Result<([f64; 3], [f64; 3], [f64; 3])> {
    let r = [iop[0], iop[1], iop[2]];
    let c = [iop[3], iop[4], iop[5]];
    let ok = (dot(r, r).sqrt() - 1.0).abs() < 1e-3
        && (dot(c, c).sqrt() - 1.0).abs() < 1e-3
        && dot(r, c).abs() < 1e-3;
    if !ok {
        return Err(header_error(
            path,
            "ImageOrientationPatient",
            "two orthogonal unit vectors",
            format!("{iop:?}"),
        ));
    }
    let n = cross(r, c);
    Ok((r, c, n))
}

/// NumberOfFrames (1 when absent), checked against what the file holds
/// before any frame is looked at: native pixel data must hold every frame at
/// BitsAllocated × SamplesPerPixel bits a pixel, and encapsulated pixel data
/// has at least one fragment a frame [DICOM PS3.5 A.4]. This also catches a
/// BitsAllocated that disagrees with the pixel data.
///
/// # Errors
/// `Header` naming NumberOfFrames, BitsAllocated or PixelData.
pub(crate) fn check_frames(
    path: &Path,
    obj: &InMemDicomObject,
    layout: &guard::PixelLayout,
    rows: usize,
    cols: usize,
) -> Result<usize> {
    let announced = int(obj, tags::NUMBER_OF_FRAMES).unwrap_or(1);
    if announced < 0 {
        return Err(header_error(
            path,
            "NumberOfFrames",
            "a positive frame count",
            announced,
        ));
    }
    let frames = announced.max(1) as u64;
    let bits = int(obj, tags::BITS_ALLOCATED).unwrap_or(0);
    if ![1, 8, 16, 32, 64].contains(&bits) {
        return Err(header_error(path, "BitsAllocated", "1, 8, 16, 32 or 64", bits));
    }
    let stored = int(obj, tags::BITS_STORED).unwrap_or(bits);
    if !(1..=bits).contains(&stored) {
        return Err(header_error(
            path,
            "BitsStored",
            format!("1 to BitsAllocated ({bits})"),
            stored,
        ));
    }
    let high = int(obj, tags::HIGH_BIT).unwrap_or(stored - 1);
    if !(stored - 1..bits).contains(&high) {
        return Err(header_error(
            path,
            "HighBit",
            format!(
                "BitsStored - 1 ({}) to BitsAllocated - 1 ({})",
                stored - 1,
                bits - 1
            ),
            high,
        ));
    }
    let samples = int(obj, tags::SAMPLES_PER_PIXEL).unwrap_or(1).clamp(1, 4) as u64;
    let frame_bits = (rows as u64) * (cols as u64) * (bits as u64) * samples;
    match (layout.native_bytes, layout.fragments) {
        (Some(bytes), _) => {
            let need = frames.saturating_mul(frame_bits).div_ceil(8);
            if bytes < need {
                let field = if frames > 1 {
                    "NumberOfFrames"
                } else {
                    "BitsAllocated"
                };
                return Err(header_error(
                    path,
                    field,
                    format!(
                        "pixel data holding {frames} frame(s) of {cols} x {rows} pixels at {bits} bits \
                         ({need} bytes)"
                    ),
                    format!("{bytes} bytes of pixel data"),
                ));
            }
        }
        (None, Some((fragments, _))) => {
            if frames > fragments as u64 {
                return Err(header_error(
                    path,
                    "NumberOfFrames",
                    format!("at most one frame per fragment of the pixel data ({fragments} fragments)"),
                    frames,
                ));
            }
        }
        (None, None) => {
            return Err(header_error(
                path,
                "PixelData",
                "pixel data",
                "none (a DICOM file without an image)",
            ))
        }
    }
    usize::try_from(frames).map_err(|_| header_error(path, "NumberOfFrames", "a frame count", frames))
}
