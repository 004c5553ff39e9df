//! Writing masks as a DICOM Segmentation [DICOM PS3.3 A.51, C.8.20]: BINARY,
//! one segment per structure with its SNOMED CT codes and display colour.
//!
//! * Geometry comes from the masks' grid: ImageOrientationPatient from its
//!   i and j axes, PixelSpacing, and each frame's ImagePositionPatient (LPS),
//!   so the SEG lies where the masks do in any viewer.
//! * With a source series whose images all carry UIDs, the SEG joins the
//!   patient's study and frame of reference, lists the series in
//!   ReferencedSeriesSequence, and each frame names its source image
//!   (DerivationImageSequence); frames where a segment is empty are left
//!   out, as the standard allows. Without one (a NIfTI input, or a mask
//!   series without UIDs) every slice of every segment is written, so the SEG
//!   alone gives back the whole grid.
//! * Pixels are packed one bit a pixel, least significant bit first, frame
//!   after frame without padding [DICOM PS3.5 8.1.1].

use std::path::Path;

use dicom_core::Tag;
use dicom_dictionary_std::tags;
use dicom_object::InMemDicomObject;
use rayon::prelude::*;

use super::sr::SegReference;
use super::{ds, ds_list, write_part10, Common, Dataset};
use crate::error::{Error, Result};
use crate::grid::{ras_to_lps, Grid};
use crate::io::dicom::source::{new_uid, SourceSeries};
use crate::io::dicom::SEG_STORAGE;
use crate::io::structure::{Concept, Segment};
use crate::volume::Mask;
use dicom_core::VR;

/// "Source image for image processing operation" (DCM 121322).
const SOURCE_IMAGE_PURPOSE: Concept =
    Concept::new("121322", "DCM", "Source image for image processing operation");
/// "Segmentation" (DCM 113076), the derivation.
const SEGMENTATION_DERIVATION: Concept = Concept::new("113076", "DCM", "Segmentation");

/// Writes `segments` (all on one grid, none empty) as a BINARY DICOM SEG at
/// `path`, referring to `source` when given; returns what a report written
/// with it refers to.
///
/// # Errors
/// `Parameter` for no segments; `GridMismatch` when the masks are not on one
/// grid or not on the source's; `Data` for an empty mask; `Unsupported` for
/// a grid DICOM cannot describe (sheared axes); `Write` when the file cannot
/// be written — nothing is left at `path` on any error.
pub fn write_seg(
    path: &Path,
    segments: &[Segment<'_>],
    source: Option<&SourceSeries>,
    description: &str,
) -> Result<SegReference> {
    let Some(first) = segments.first() else {
        return Err(crate::error::parameter_error(
            "segments",
            "none",
            "at least one mask to write",
        ));
    };
    let grid = first.mask.grid();
    let shown = path.display().to_string();
    for s in &segments[1..] {
        grid.ensure_same(s.mask.grid(), first.structure.label(), s.structure.label())?;
    }
    if let Some(src) = source {
        src.grid.ensure_same(grid, "the source series", &shown)?;
    }
    let geometry = Geometry::of(path, grid)?;
    let referenced = source.filter(|s| s.references_images());
    // Which slices of each segment become frames.
    let mut frames: Vec<(usize, usize)> = Vec::new();
    for (n, s) in segments.iter().enumerate() {
        let present = slices_present(s.mask);
        if !present.iter().any(|&p| p) {
            return Err(Error::Data {
                path: path.to_path_buf(),
                field: format!("segment \"{}\"", s.structure.label()),
                expected: "a mask with at least one voxel (a DICOM SEG segment cannot be empty)".into(),
                found: "an empty mask".into(),
            });
        }
        for (k, &p) in present.iter().enumerate() {
            if p || referenced.is_none() {
                frames.push((n, k));
            }
        }
    }
    let pixels = pack_frames(segments, &frames, grid.dims());

    let mut d = Dataset::new();
    let common = Common::put(&mut d, source, None, SEG_STORAGE, "SEG", description);
    d.frame_of_reference(&common.frame_of_reference_uid);
    let [cols, rows, _] = grid.dims();
    d.str(tags::IMAGE_TYPE, VR::CS, "DERIVED\\PRIMARY")
        .str(tags::CONTENT_LABEL, VR::CS, "LIVERKIT")
        .str(tags::CONTENT_DESCRIPTION, VR::LO, description)
        .str(tags::CONTENT_CREATOR_NAME, VR::PN, "")
        .str(tags::SEGMENTATION_TYPE, VR::CS, "BINARY")
        .u16s(tags::SAMPLES_PER_PIXEL, &[1])
        .str(tags::PHOTOMETRIC_INTERPRETATION, VR::CS, "MONOCHROME2")
        .u16s(tags::ROWS, &[rows as u16])
        .u16s(tags::COLUMNS, &[cols as u16])
        .u16s(tags::BITS_ALLOCATED, &[1])
        .u16s(tags::BITS_STORED, &[1])
        .u16s(tags::HIGH_BIT, &[0])
        .u16s(tags::PIXEL_REPRESENTATION, &[0])
        .str(tags::LOSSY_IMAGE_COMPRESSION, VR::CS, "00")
        .str(tags::NUMBER_OF_FRAMES, VR::IS, frames.len().to_string());
    d.seq(tags::SEGMENT_SEQUENCE, segment_items(segments));
    let organization = new_uid();
    d.seq(
        tags::DIMENSION_ORGANIZATION_SEQUENCE,
        vec![{
            let mut o = Dataset::new();
            o.str(tags::DIMENSION_ORGANIZATION_UID, VR::UI, organization.clone());
            o.done()
        }],
    );
    let dimension = |index: Tag, group: Tag, what: &str| {
        let mut o = Dataset::new();
        o.str(tags::DIMENSION_ORGANIZATION_UID, VR::UI, organization.clone())
            .tags(tags::DIMENSION_INDEX_POINTER, &[index])
            .tags(tags::FUNCTIONAL_GROUP_POINTER, &[group])
            .str(tags::DIMENSION_DESCRIPTION_LABEL, VR::LO, what);
        o.done()
    };
    d.seq(
        tags::DIMENSION_INDEX_SEQUENCE,
        vec![
            dimension(
                tags::REFERENCED_SEGMENT_NUMBER,
                tags::SEGMENT_IDENTIFICATION_SEQUENCE,
                "ReferencedSegmentNumber",
            ),
            dimension(
                tags::IMAGE_POSITION_PATIENT,
                tags::PLANE_POSITION_SEQUENCE,
                "ImagePositionPatient",
            ),
        ],
    );
    d.seq(tags::SHARED_FUNCTIONAL_GROUPS_SEQUENCE, vec![geometry.shared()]);
    let per_frame = frames
        .iter()
        .map(|&(n, k)| frame_item(&geometry, n, k, referenced))
        .collect();
    d.seq(tags::PER_FRAME_FUNCTIONAL_GROUPS_SEQUENCE, per_frame);
    if let Some(src) = referenced {
        d.seq(tags::REFERENCED_SERIES_SEQUENCE, vec![referenced_series(src)]);
    }
    d.0.put(dicom_core::DataElement::new(
        tags::PIXEL_DATA,
        VR::OB,
        dicom_core::PrimitiveValue::U8(pixels.into()),
    ));
    write_part10(path, d, SEG_STORAGE, &common.sop_instance_uid)?;
    Ok(SegReference {
        sop_instance_uid: common.sop_instance_uid,
        series_uid: common.series_uid,
        study_uid: common.study_uid,
        frame_of_reference_uid: common.frame_of_reference_uid,
        segments: segments.iter().map(|s| s.structure).collect(),
    })
}

/// The grid as DICOM geometry (LPS).
struct Geometry {
    row_dir: [f64; 3],
    col_dir: [f64; 3],
    spacing: [f64; 3],
    grid: Grid,
}

impl Geometry {
    fn of(path: &Path, grid: &Grid) -> Result<Geometry> {
        let a = grid.affine();
        let sp = grid.spacing_mm();
        let axis = |c: usize| ras_to_lps([a[(0, c)] / sp[c], a[(1, c)] / sp[c], a[(2, c)] / sp[c]]);
        let (r, c, k) = (axis(0), axis(1), axis(2));
        let dot = crate::io::dicom::dot;
        let n = crate::io::dicom::cross(r, c);
        if dot(r, c).abs() > 1e-4 || dot(n, k).abs() < 1.0 - 1e-4 {
            return Err(Error::Unsupported {
                path: path.to_path_buf(),
                field: "affine".into(),
                found: format!("voxel axes i {r:?}, j {c:?}, k {k:?} (LPS) that are not at right angles"),
                hint: "a DICOM SEG needs slices stacked along the normal of orthogonal rows and columns; \
                       resample the volume to an orthogonal grid, or write NIfTI"
                    .into(),
            });
        }
        let d = grid.dims();
        if d[0] > usize::from(u16::MAX) || d[1] > usize::from(u16::MAX) {
            return Err(Error::Unsupported {
                path: path.to_path_buf(),
                field: "Rows/Columns".into(),
                found: format!("{} x {} voxels a slice", d[0], d[1]),
                hint: "DICOM images have at most 65535 rows and columns; write NIfTI".into(),
            });
        }
        Ok(Geometry {
            row_dir: r,
            col_dir: c,
            spacing: sp,
            grid: grid.clone(),
        })
    }

    fn shared(&self) -> InMemDicomObject {
        let mut measures = Dataset::new();
        measures
            .str(
                tags::PIXEL_SPACING,
                VR::DS,
                ds_list(&[self.spacing[1], self.spacing[0]]),
            )
            .str(tags::SLICE_THICKNESS, VR::DS, ds(self.spacing[2]))
            .str(tags::SPACING_BETWEEN_SLICES, VR::DS, ds(self.spacing[2]));
        let mut orientation = Dataset::new();
        orientation.str(
            tags::IMAGE_ORIENTATION_PATIENT,
            VR::DS,
            ds_list(&[
                self.row_dir[0],
                self.row_dir[1],
                self.row_dir[2],
                self.col_dir[0],
                self.col_dir[1],
                self.col_dir[2],
            ]),
        );
        let mut shared = Dataset::new();
        shared
            .seq(tags::PIXEL_MEASURES_SEQUENCE, vec![measures.done()])
            .seq(tags::PLANE_ORIENTATION_SEQUENCE, vec![orientation.done()]);
        shared.done()
    }

    /// ImagePositionPatient of slice `k` (LPS).
    fn position(&self, k: usize) -> [f64; 3] {
        ras_to_lps(self.grid.voxel_to_world([0.0, 0.0, k as f64]))
    }
}

fn segment_items(segments: &[Segment<'_>]) -> Vec<InMemDicomObject> {
    segments
        .iter()
        .enumerate()
        .map(|(n, s)| {
            let mut item = Dataset::new();
            item.u16s(tags::SEGMENT_NUMBER, &[n as u16 + 1])
                .str(tags::SEGMENT_LABEL, VR::LO, s.structure.label())
                .str(tags::SEGMENT_ALGORITHM_TYPE, VR::CS, "AUTOMATIC")
                .str(tags::SEGMENT_ALGORITHM_NAME, VR::LO, "liverkit")
                .code(
                    tags::SEGMENTED_PROPERTY_CATEGORY_CODE_SEQUENCE,
                    s.structure.category(),
                )
                .code(
                    tags::SEGMENTED_PROPERTY_TYPE_CODE_SEQUENCE,
                    s.structure.property_type(),
                )
                .u16s(
                    tags::RECOMMENDED_DISPLAY_CIE_LAB_VALUE,
                    &s.structure.cielab_scaled(),
                );
            item.done()
        })
        .collect()
}

fn frame_item(g: &Geometry, segment: usize, k: usize, source: Option<&SourceSeries>) -> InMemDicomObject {
    let mut content = Dataset::new();
    content.u32s(tags::DIMENSION_INDEX_VALUES, &[segment as u32 + 1, k as u32 + 1]);
    let mut position = Dataset::new();
    position.str(tags::IMAGE_POSITION_PATIENT, VR::DS, ds_list(&g.position(k)));
    let mut ident = Dataset::new();
    ident.u16s(tags::REFERENCED_SEGMENT_NUMBER, &[segment as u16 + 1]);
    let mut item = Dataset::new();
    item.seq(tags::FRAME_CONTENT_SEQUENCE, vec![content.done()])
        .seq(tags::PLANE_POSITION_SEQUENCE, vec![position.done()])
        .seq(tags::SEGMENT_IDENTIFICATION_SEQUENCE, vec![ident.done()]);
    if let Some(src) = source {
        let (uid, frame) = &src.instances[k];
        let mut image = Dataset::new();
        image
            .str(tags::REFERENCED_SOP_CLASS_UID, VR::UI, src.sop_class_uid.clone())
            .str(tags::REFERENCED_SOP_INSTANCE_UID, VR::UI, uid.clone());
        if let Some(f) = frame {
            image.str(tags::REFERENCED_FRAME_NUMBER, VR::IS, f.to_string());
        }
        image.code(tags::PURPOSE_OF_REFERENCE_CODE_SEQUENCE, SOURCE_IMAGE_PURPOSE);
        let mut derivation = Dataset::new();
        derivation
            .seq(tags::SOURCE_IMAGE_SEQUENCE, vec![image.done()])
            .code(tags::DERIVATION_CODE_SEQUENCE, SEGMENTATION_DERIVATION);
        item.seq(tags::DERIVATION_IMAGE_SEQUENCE, vec![derivation.done()]);
    }
    item.done()
}

fn referenced_series(src: &SourceSeries) -> InMemDicomObject {
    let mut seen = std::collections::BTreeSet::new();
    let instances = src
        .instances
        .iter()
        .filter(|(u, _)| seen.insert(u.clone()))
        .map(|(u, _)| {
            let mut i = Dataset::new();
            i.str(tags::REFERENCED_SOP_CLASS_UID, VR::UI, src.sop_class_uid.clone())
                .str(tags::REFERENCED_SOP_INSTANCE_UID, VR::UI, u.clone());
            i.done()
        })
        .collect();
    let mut s = Dataset::new();
    s.str(tags::SERIES_INSTANCE_UID, VR::UI, src.series_uid.clone())
        .seq(tags::REFERENCED_INSTANCE_SEQUENCE, instances);
    s.done()
}

/// Whether each slice of the mask holds a voxel.
fn slices_present(mask: &Mask) -> Vec<bool> {
    let data = mask.data();
    (0..mask.grid().dims()[2])
        .into_par_iter()
        .map(|k| data.index_axis(ndarray::Axis(2), k).iter().any(|&v| v))
        .collect()
}

/// The frames' pixels, one bit each, row by row (j), column by column (i)
/// within a row, frames one after another; padded to an even length.
fn pack_frames(segments: &[Segment<'_>], frames: &[(usize, usize)], dims: [usize; 3]) -> Vec<u8> {
    let plane = dims[0] * dims[1];
    let total_bits = plane * frames.len();
    let mut bytes = vec![0u8; total_bits.div_ceil(8).next_multiple_of(2)];
    // One frame's pixels, row by row (j), column by column (i) within a
    // row: the memory order of a Fortran-order mask's slice, used as is
    // when the slice is contiguous so.
    let frame_bits = |n: usize, k: usize| -> std::borrow::Cow<'_, [bool]> {
        let rows = segments[n]
            .mask
            .data()
            .index_axis(ndarray::Axis(2), k)
            .reversed_axes();
        match rows.to_slice() {
            Some(s) => std::borrow::Cow::Borrowed(s),
            None => std::borrow::Cow::Owned(rows.iter().copied().collect()),
        }
    };
    if plane % 8 == 0 {
        // Every frame starts on a byte: pack them in parallel.
        let per = plane / 8;
        bytes[..per * frames.len()]
            .par_chunks_mut(per)
            .zip(frames.par_iter())
            .for_each(|(out, &(n, k))| {
                for (b, chunk) in out.iter_mut().zip(frame_bits(n, k).chunks(8)) {
                    *b = chunk
                        .iter()
                        .enumerate()
                        .fold(0u8, |acc, (t, &v)| acc | (u8::from(v) << t));
                }
            });
    } else {
        for (f, &(n, k)) in frames.iter().enumerate() {
            for (p, &v) in frame_bits(n, k).iter().enumerate() {
                if v {
                    let bit = f * plane + p;
                    bytes[bit / 8] |= 1 << (bit % 8);
                }
            }
        }
    }
    bytes
}
