//! Where a SEG's frames lie: the shared and per-frame functional groups
//! (orientation, pixel spacing, position, segment, source image), and the
//! grid they are placed on — the SEG's own, spanning its frames, or the
//! reference series', after checking the SEG belongs to it.

use std::path::Path;

use dicom_dictionary_std::tags;

use crate::error::{Error, Result, Warning};
use crate::grid::Grid;
use crate::io::dicom::{first_item, floats, header_error, int, items, orientation, stack_affine, text};
use crate::io::dicom::{DicomSeries, Object};

use super::SegmentDescription;

/// One frame: where it goes and for which segment.
pub(super) struct Frame {
    pub segment: i64,
    pub position: [f64; 3],
    pub source_uid: Option<String>,
}

/// The frames' shared geometry and each frame's place.
pub(super) struct FrameGeometry {
    /// ImageOrientationPatient (LPS), the same in every frame.
    pub iop: Vec<f64>,
    /// PixelSpacing (row spacing, column spacing), mm.
    pub spacing: Vec<f64>,
    /// SpacingBetweenSlices, mm, when given.
    pub between: Option<f64>,
    /// SliceThickness, mm, when given.
    pub thickness: Option<f64>,
    /// Unit vector along a row (LPS).
    pub row_dir: [f64; 3],
    /// Unit vector along a column (LPS).
    pub col_dir: [f64; 3],
    /// The image plane's normal (LPS).
    pub normal: [f64; 3],
    /// One per frame.
    pub frames: Vec<Frame>,
}

/// Reads the functional groups of every frame, checking that each names a
/// segment of the SEG, has a position, and shares the first frame's
/// orientation.
pub(super) fn frame_geometry(
    path: &Path,
    obj: &Object,
    frames: usize,
    segments: &[SegmentDescription],
) -> Result<FrameGeometry> {
    let shared = first_item(obj, tags::SHARED_FUNCTIONAL_GROUPS_SEQUENCE);
    let per_frame = items(obj, tags::PER_FRAME_FUNCTIONAL_GROUPS_SEQUENCE);
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
    Ok(FrameGeometry {
        iop,
        spacing,
        between,
        thickness,
        row_dir,
        col_dir,
        normal,
        frames: frame_info,
    })
}

/// The SEG's own grid: its frames' positions along the normal, with the
/// smallest step between them (every other step a whole multiple of it), and
/// each frame's slice.
pub(super) fn own_grid(
    path: &Path,
    g: &FrameGeometry,
    rows: usize,
    cols: usize,
    warnings: &mut Vec<Warning>,
) -> Result<(Grid, Vec<usize>)> {
    let (frame_info, normal, between, thickness) = (&g.frames, g.normal, g.between, g.thickness);
    let (row_dir, col_dir, spacing) = (g.row_dir, g.col_dir, &g.spacing);
    let frames = frame_info.len();
    let d: Vec<f64> = frame_info
        .iter()
        .map(|f| crate::io::dicom::dot(f.position, normal))
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
        let back = [0, 1, 2]
            .map(|a| frame_info[k].position[a] - (dk - crate::io::dicom::dot(p0, normal)) * normal[a]);
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
    Ok((Grid::new([cols, rows, slices], affine)?, slice_of))
}

/// Places every frame on a slice of the reference series, after checking
/// that the SEG belongs to it.
#[allow(clippy::too_many_arguments)]
pub(super) fn on_reference(
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
    let axis = |c: usize, s: f64| crate::io::dicom::lps_to_ras([a[(0, c)] / s, a[(1, c)] / s, a[(2, c)] / s]);
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
        let world = crate::io::dicom::lps_to_ras(f.position);
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
