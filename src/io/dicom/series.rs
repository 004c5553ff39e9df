//! CT and MR series: grouping, slice order, geometry checks and decoding.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use dicom_dictionary_std::tags;
use dicom_pixeldata::PixelDecoder;
use ndarray::{Array3, ShapeBuilder};
use rayon::prelude::*;
use serde::Serialize;

use super::frames::{check_encapsulated, FrameShape};
use super::guard::PixelLayout;
use super::{
    acquisition_date, check_frames, collect_files, first_item, floats, header_error, int, is_dicomdir,
    is_seg, items, need_floats, open, open_checked, orientation, stack_affine, stack_slices, text,
    transfer_syntax_name, Object,
};
use crate::error::{ensure_fits, Error, Result, Warning};
use crate::grid::Grid;
use crate::io::ReadOptions;
use crate::volume::Volume;

/// One series found in the input.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SeriesSummary {
    /// SeriesInstanceUID, or a description of the fallback grouping when the
    /// datasets carry none.
    pub uid: String,
    /// Modality (CT, MR, …).
    pub modality: String,
    /// SeriesDescription.
    pub description: String,
    /// Files in the series.
    pub files: usize,
    /// Acquisition date (YYYY-MM-DD), when present.
    pub date: Option<String>,
    /// The folder holding the series' files (their deepest common parent),
    /// which tells apart series that carry no UID or description, such as
    /// one mask series per structure folder.
    pub folder: PathBuf,
}

/// A series read into a volume.
#[derive(Debug, Clone)]
pub struct DicomSeries {
    /// Intensities (rescaled: HU for CT) on the series' grid.
    pub volume: Volume<f32>,
    /// Which series.
    pub summary: SeriesSummary,
    /// Transfer syntax UID and name of the first file.
    pub transfer_syntax: (String, &'static str),
    /// Slice step along the normal, mm (from the positions).
    pub slice_step_mm: f64,
    /// SliceThickness as written (not used for geometry).
    pub slice_thickness_mm: Option<f64>,
    /// SOP instance UID of each slice, in slice order.
    pub instance_uids: Vec<String>,
    /// Series instance UID as in the datasets (may be empty).
    pub series_uid: String,
    /// Frame of reference UID.
    pub frame_of_reference_uid: String,
    /// SOPClassUID of the images (CT Image Storage, …).
    pub sop_class_uid: String,
    /// The patient and study attributes of the first file, which objects
    /// derived from the series (SEG, SR) carry over.
    pub(crate) patient_study: dicom_object::InMemDicomObject,
    /// What the user should know.
    pub warnings: Vec<Warning>,
}

/// A file's header as grouping needs it.
struct Head {
    path: PathBuf,
    obj: Object,
    key: String,
    layout: PixelLayout,
}

/// One slice: which file and frame, and where.
struct Slice {
    file: usize,
    frame: usize,
    position: [f64; 3],
    iop: Vec<f64>,
    spacing: Vec<f64>,
    instance_uid: String,
}

fn group_key(path: &Path, obj: &Object) -> String {
    let uid = text(obj, tags::SERIES_INSTANCE_UID);
    if !uid.is_empty() {
        return uid;
    }
    // Without a UID, the folder also separates series: archives that keep
    // one mask series per structure folder often leave every UID empty.
    format!(
        "(no SeriesInstanceUID) folder {}, frame of reference {}, \"{}\"",
        path.parent().unwrap_or(Path::new("")).display(),
        text(obj, tags::FRAME_OF_REFERENCE_UID),
        text(obj, tags::SERIES_DESCRIPTION)
    )
}

/// The key of the series file `path` belongs to (as `--series` takes it).
///
/// # Errors
/// As opening the file.
pub(crate) fn series_key(path: &Path) -> Result<String> {
    Ok(group_key(path, &open(path, false)?))
}

/// The series in the inputs (SEG files and DICOMDIRs left out).
///
/// # Errors
/// As [`collect_files`]; `Truncated` or `Header` for a file that cannot be
/// parsed.
pub fn list_series(inputs: &[PathBuf]) -> Result<Vec<SeriesSummary>> {
    let heads = heads(inputs)?;
    Ok(groups(&heads)
        .into_iter()
        .map(|(_, g)| summary(&heads, &g))
        .collect())
}

fn heads(inputs: &[PathBuf]) -> Result<Vec<Head>> {
    let files = collect_files(inputs)?;
    let opened: Vec<Result<Option<Head>>> = files
        .par_iter()
        .map(|p| {
            let (obj, layout) = open_checked(p, false)?;
            if is_dicomdir(&obj) || is_seg(&obj) {
                return Ok(None);
            }
            let key = group_key(p, &obj);
            Ok(Some(Head {
                path: p.clone(),
                obj,
                key,
                layout,
            }))
        })
        .collect();
    let mut heads = Vec::new();
    for h in opened {
        if let Some(h) = h? {
            heads.push(h);
        }
    }
    if heads.is_empty() {
        let at = inputs.first().cloned().unwrap_or_default();
        return Err(header_error(
            &at,
            "SOPClassUID",
            "CT or MR image files",
            "no image files (only SEG or DICOMDIR)",
        ));
    }
    Ok(heads)
}

fn groups(heads: &[Head]) -> Vec<(String, Vec<usize>)> {
    let mut g: BTreeMap<String, Vec<usize>> = BTreeMap::new();
    for (i, h) in heads.iter().enumerate() {
        g.entry(h.key.clone()).or_default().push(i);
    }
    g.into_iter().collect()
}

fn summary(heads: &[Head], members: &[usize]) -> SeriesSummary {
    let o = &heads[members[0]].obj;
    SeriesSummary {
        uid: heads[members[0]].key.clone(),
        modality: text(o, tags::MODALITY),
        description: text(o, tags::SERIES_DESCRIPTION),
        files: members.len(),
        date: acquisition_date(o),
        folder: common_folder(members.iter().map(|&i| heads[i].path.as_path())),
    }
}

/// The deepest folder holding every one of `paths`.
fn common_folder<'a>(mut paths: impl Iterator<Item = &'a Path>) -> PathBuf {
    let Some(first) = paths.next() else {
        return PathBuf::new();
    };
    let mut common = first.parent().unwrap_or(Path::new("")).to_path_buf();
    for p in paths {
        while !p.starts_with(&common) {
            if !common.pop() {
                return PathBuf::new();
            }
        }
    }
    common
}

fn unsupported(path: &Path, ts: &str, detail: String) -> Error {
    Error::Unsupported {
        path: path.to_path_buf(),
        field: "TransferSyntaxUID".into(),
        found: format!("{ts} ({}): {detail}", transfer_syntax_name(ts)),
        hint:
            "decode it first (for example dcmdjpeg, dcmdrle or gdcmconv --raw) to explicit VR little endian"
                .into(),
    }
}

/// Reads a CT or MR series.
///
/// # Errors
/// `Parameter` (`--series`) when the input holds several series and none is
/// chosen, or the chosen one is absent, listing those present; `Header` for
/// missing geometry, mixed orientations or spacings, duplicate positions,
/// missing slices, non-uniform spacing or gantry tilt; `Unsupported` for a
/// transfer syntax that cannot be decoded; `Truncated` for a file that ends
/// early.
pub fn read_series(inputs: &[PathBuf], series: Option<&str>, options: &ReadOptions) -> Result<DicomSeries> {
    read_series_values(inputs, series, options, Values::Rescaled)
}

/// Which pixel values a series is read as.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Values {
    /// Through the modality LUT (RescaleSlope and RescaleIntercept): HU.
    Rescaled,
    /// As stored: a mask series' 0 is background whatever its rescale says.
    Stored,
}

/// [`read_series`], with the pixel values as `values` says.
pub(crate) fn read_series_values(
    inputs: &[PathBuf],
    series: Option<&str>,
    options: &ReadOptions,
    values: Values,
) -> Result<DicomSeries> {
    let heads = heads(inputs)?;
    let groups = groups(&heads);
    let chosen = match series {
        Some(uid) => groups.iter().find(|(k, _)| k == uid).ok_or_else(|| {
            Error::parameter(
                "series",
                uid,
                format!("one of the series present: {}", list_text(&heads, &groups)),
            )
        })?,
        None if groups.len() > 1 => {
            return Err(Error::parameter(
                "series",
                "nothing",
                format!(
                    "a series UID: the input holds {} series: {}",
                    groups.len(),
                    list_text(&heads, &groups)
                ),
            ))
        }
        None => &groups[0],
    };
    let members: Vec<&Head> = chosen.1.iter().map(|&i| &heads[i]).collect();
    let first = members[0];
    let mut warnings = Vec::new();

    let (slices, rows, cols) = slices_of(&members)?;
    let geometry = stack_geometry(&members, &slices, rows, cols, options)?;
    let (stack, grid, thickness) = (geometry.stack, geometry.grid, geometry.thickness);
    warnings.extend(geometry.warnings);
    let data = decode(&members, &slices, &stack.order, rows, cols, values)?;
    let array = Array3::from_shape_vec((cols, rows, slices.len()).f(), data)
        .map_err(|e| header_error(&first.path, "Rows/Columns", "consistent sizes", e))?;
    let ts = first
        .obj
        .meta()
        .transfer_syntax()
        .trim_end_matches('\0')
        .to_string();
    let name = transfer_syntax_name(&ts);
    Ok(DicomSeries {
        volume: Volume::new(grid, array)?,
        summary: summary(&heads, &chosen.1),
        transfer_syntax: (ts, name),
        slice_step_mm: stack.step,
        slice_thickness_mm: thickness,
        instance_uids: stack
            .order
            .iter()
            .map(|&i| slices[i].instance_uid.clone())
            .collect(),
        series_uid: text(&first.obj, tags::SERIES_INSTANCE_UID),
        frame_of_reference_uid: text(&first.obj, tags::FRAME_OF_REFERENCE_UID),
        sop_class_uid: {
            let c = text(&first.obj, tags::SOP_CLASS_UID);
            if c.is_empty() {
                first
                    .obj
                    .meta()
                    .media_storage_sop_class_uid()
                    .trim_end_matches('\0')
                    .to_string()
            } else {
                c
            }
        },
        patient_study: super::source::patient_study(&first.obj),
        warnings,
    })
}

/// Every slice of the series with its geometry (an enhanced multi-frame
/// file gives one per frame), all of one image size: the slices and
/// (rows, columns).
fn slices_of(members: &[&Head]) -> Result<(Vec<Slice>, usize, usize)> {
    let first = members[0];
    let mut slices = Vec::new();
    let (mut rows, mut cols) = (0usize, 0usize);
    for (f, h) in members.iter().enumerate() {
        let o = &h.obj;
        let p = &h.path;
        let r = int(o, tags::ROWS).unwrap_or(0) as usize;
        let c = int(o, tags::COLUMNS).unwrap_or(0) as usize;
        if r == 0 || c == 0 {
            return Err(header_error(
                p,
                "Rows/Columns",
                "an image size",
                format!("{r} x {c}"),
            ));
        }
        if f == 0 {
            (rows, cols) = (r, c);
        } else if (r, c) != (rows, cols) {
            return Err(header_error(
                p,
                "Rows/Columns",
                format!("{rows} x {cols} like {}", first.path.display()),
                format!("{r} x {c}"),
            ));
        }
        let frames = check_frames(p, o, &h.layout, r, c)?;
        let sop = {
            let s = text(o, tags::SOP_INSTANCE_UID);
            if s.is_empty() {
                h.obj
                    .meta()
                    .media_storage_sop_instance_uid()
                    .trim_end_matches('\0')
                    .to_string()
            } else {
                s
            }
        };
        let per_frame = items(o, tags::PER_FRAME_FUNCTIONAL_GROUPS_SEQUENCE);
        if frames > 1 || !per_frame.is_empty() {
            let shared = first_item(o, tags::SHARED_FUNCTIONAL_GROUPS_SEQUENCE);
            for k in 0..frames {
                let pf = per_frame.get(k);
                let group = |seq| {
                    pf.and_then(|g| first_item(g, seq))
                        .or_else(|| shared.and_then(|s| first_item(s, seq)))
                };
                let pos = group(tags::PLANE_POSITION_SEQUENCE)
                    .and_then(|g| floats(g, tags::IMAGE_POSITION_PATIENT))
                    .ok_or_else(|| {
                        header_error(
                            p,
                            "PlanePositionSequence",
                            "a position for every frame",
                            format!("none for frame {}", k + 1),
                        )
                    })?;
                let iop = group(tags::PLANE_ORIENTATION_SEQUENCE)
                    .and_then(|g| floats(g, tags::IMAGE_ORIENTATION_PATIENT))
                    .ok_or_else(|| header_error(p, "PlaneOrientationSequence", "an orientation", "none"))?;
                let spacing = group(tags::PIXEL_MEASURES_SEQUENCE)
                    .and_then(|g| floats(g, tags::PIXEL_SPACING))
                    .ok_or_else(|| header_error(p, "PixelMeasuresSequence", "a pixel spacing", "none"))?;
                if pos.len() != 3 || iop.len() != 6 || spacing.len() != 2 {
                    return Err(header_error(
                        p,
                        "functional groups",
                        "3 + 6 + 2 geometry values",
                        format!("{pos:?} {iop:?} {spacing:?}"),
                    ));
                }
                slices.push(Slice {
                    file: f,
                    frame: k,
                    position: [pos[0], pos[1], pos[2]],
                    iop,
                    spacing,
                    instance_uid: format!("{sop} frame {}", k + 1),
                });
            }
        } else {
            let pos = need_floats(p, o, tags::IMAGE_POSITION_PATIENT, "ImagePositionPatient", 3)?;
            let iop = need_floats(
                p,
                o,
                tags::IMAGE_ORIENTATION_PATIENT,
                "ImageOrientationPatient",
                6,
            )?;
            let spacing = need_floats(p, o, tags::PIXEL_SPACING, "PixelSpacing", 2)?;
            slices.push(Slice {
                file: f,
                frame: 0,
                position: [pos[0], pos[1], pos[2]],
                iop,
                spacing,
                instance_uid: sop,
            });
        }
    }
    Ok((slices, rows, cols))
}

/// The stacked series: its grid, the slices' order along the normal, the
/// slice thickness as written, and what the user should know.
struct Stacked {
    grid: Grid,
    stack: super::SliceStack,
    thickness: Option<f64>,
    warnings: Vec<Warning>,
}

/// Checks that the slices share one orientation and pixel spacing, orders
/// them along the normal with one step ([`super::stack_slices`]), bounds the
/// volume by the memory limit, and builds the grid.
fn stack_geometry(
    members: &[&Head],
    slices: &[Slice],
    rows: usize,
    cols: usize,
    options: &ReadOptions,
) -> Result<Stacked> {
    let first = members[0];
    let mut warnings = Vec::new();
    let s0 = &slices[0];
    for s in &slices[1..] {
        let p = &members[s.file].path;
        if s.iop.iter().zip(&s0.iop).any(|(a, b)| (a - b).abs() > 1e-4) {
            return Err(header_error(
                p,
                "ImageOrientationPatient",
                format!(
                    "{:?} like the series' first slice (one orientation per series)",
                    s0.iop
                ),
                format!("{:?}", s.iop),
            ));
        }
        if s.spacing
            .iter()
            .zip(&s0.spacing)
            .any(|(a, b)| (a - b).abs() > 1e-4)
        {
            return Err(header_error(
                p,
                "PixelSpacing",
                format!("{:?} like the first slice", s0.spacing),
                format!("{:?}", s.spacing),
            ));
        }
    }
    if s0.spacing.iter().any(|&v| v.is_nan() || v <= 0.0) {
        return Err(header_error(
            &members[0].path,
            "PixelSpacing",
            "positive spacings",
            format!("{:?}", s0.spacing),
        ));
    }
    let (row_dir, col_dir, normal) = orientation(&members[0].path, &s0.iop)?;
    let thickness = floats(&first.obj, tags::SLICE_THICKNESS).and_then(|v| v.first().copied());
    let positions: Vec<[f64; 3]> = slices.iter().map(|s| s.position).collect();
    let describe = |i: usize| {
        let s = &slices[i];
        let p = members[s.file].path.display();
        if s.frame > 0
            || members[s.file]
                .obj
                .element_opt(tags::NUMBER_OF_FRAMES)
                .ok()
                .flatten()
                .is_some()
        {
            format!("{p} frame {}", s.frame + 1)
        } else {
            format!("{p}")
        }
    };
    let stack = stack_slices(&first.path, &positions, normal, thickness, &describe)?;
    for w in &stack.warnings {
        warnings.push(Warning::new(Some(&first.path), "ImagePositionPatient", w.clone()));
    }
    if let Some(t) = thickness {
        if slices.len() > 1 && (t - stack.step).abs() > 0.01 {
            warnings.push(Warning::new(
                Some(&first.path),
                "SliceThickness",
                format!(
                    "{t} mm differs from the slice step {:.4} mm given by the positions; the positions are used",
                    stack.step
                ),
            ));
        }
    }
    let n = rows * cols * slices.len();
    ensure_fits((n as u64).checked_mul(4), options.max_bytes, "voxels").map_err(|expected| {
        header_error(
            &first.path,
            "Rows/Columns",
            expected,
            format!("{cols} x {rows} x {} voxels", slices.len()),
        )
    })?;
    let origin = slices[stack.order[0]].position;
    let affine = stack_affine(
        row_dir,
        col_dir,
        [s0.spacing[0], s0.spacing[1]],
        normal,
        stack.step,
        origin,
    );
    let grid = Grid::new([cols, rows, slices.len()], affine)?;
    Ok(Stacked {
        grid,
        stack,
        thickness,
        warnings,
    })
}

/// Decodes every file in parallel and copies each frame once into its slot
/// of the stacked volume (`order[slot]` is the slice there).
fn decode(
    members: &[&Head],
    slices: &[Slice],
    order: &[usize],
    rows: usize,
    cols: usize,
    values: Values,
) -> Result<Vec<f32>> {
    let first = members[0];
    let convert = match values {
        Values::Rescaled => dicom_pixeldata::ConvertOptions::new(),
        Values::Stored => {
            dicom_pixeldata::ConvertOptions::new().with_modality_lut(dicom_pixeldata::ModalityLutOption::None)
        }
    };
    let n = rows * cols * slices.len();
    // Slot of every (file, frame) in the sorted stack.
    let mut slot_of: BTreeMap<(usize, usize), usize> = BTreeMap::new();
    for (k, &i) in order.iter().enumerate() {
        slot_of.insert((slices[i].file, slices[i].frame), k);
    }
    let plane = rows * cols;
    let mut data: Vec<f32> = crate::io::zeroed_vec(n, &first.path, "Rows/Columns")?;
    let files: Vec<(usize, &Head)> = members.iter().copied().enumerate().collect();
    // Decode file by file in parallel; each gives its decoded frames and
    // the slot of each, and the frames are copied once into the volume.
    type Decoded = Result<(Vec<(usize, usize)>, Vec<f32>)>;
    let decoded: Vec<Decoded> = files
        .par_iter()
        .map(|(f, h)| {
            let obj = open(&h.path, true)?;
            if obj.element_opt(tags::PIXEL_DATA).ok().flatten().is_none() {
                return Err(header_error(
                    &h.path,
                    "PixelData",
                    "pixel data",
                    "none (a DICOM file without an image)",
                ));
            }
            let ts = obj.meta().transfer_syntax().trim_end_matches('\0').to_string();
            if let Some(fragments) = obj
                .element_opt(tags::PIXEL_DATA)
                .ok()
                .flatten()
                .and_then(|e| e.fragments())
            {
                let shape = FrameShape {
                    rows,
                    cols,
                    bits_allocated: int(&obj, tags::BITS_ALLOCATED).unwrap_or(0) as usize,
                    samples: int(&obj, tags::SAMPLES_PER_PIXEL).unwrap_or(1) as usize,
                };
                check_encapsulated(&h.path, &ts, fragments, shape)?;
            }
            // The frames were checked above; a decoder that panics all the
            // same is reported as an undecodable file, never a crash.
            let decoded = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| obj.decode_pixel_data()))
                .map_err(|_| unsupported(&h.path, &ts, "the decoder failed on this pixel data".into()))?;
            let pixels = decoded.map_err(|e| {
                let known = transfer_syntax_name(&ts);
                if matches!(
                    known,
                    "implicit VR little endian"
                        | "explicit VR little endian"
                        | "explicit VR big endian"
                        | "deflated explicit VR little endian"
                ) {
                    Error::Truncated {
                        path: h.path.clone(),
                        field: "PixelData".into(),
                        expected: format!("{rows} x {cols} pixels"),
                        found: format!("pixel data that cannot be decoded: {e}"),
                    }
                } else {
                    unsupported(&h.path, &ts, e.to_string())
                }
            })?;
            if pixels.samples_per_pixel() != 1 {
                return Err(header_error(
                    &h.path,
                    "SamplesPerPixel",
                    "1 (a grey-level image)",
                    pixels.samples_per_pixel(),
                ));
            }
            let converted = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                pixels.to_vec_with_options::<f32>(&convert)
            }))
            .map_err(|_| unsupported(&h.path, &ts, "the pixel values cannot be converted".into()))?;
            let values: Vec<f32> = converted.map_err(|e| Error::Truncated {
                path: h.path.clone(),
                field: "PixelData".into(),
                expected: format!("{rows} x {cols} pixels per frame"),
                found: e.to_string(),
            })?;
            let frames = values.len() / plane;
            if values.len() % plane != 0 || frames == 0 {
                return Err(Error::Truncated {
                    path: h.path.clone(),
                    field: "PixelData".into(),
                    expected: format!("whole frames of {rows} x {cols} pixels"),
                    found: format!("{} pixels", values.len()),
                });
            }
            let slots = (0..frames)
                .filter_map(|k| slot_of.get(&(*f, k)).map(|&slot| (k, slot)))
                .collect();
            Ok((slots, values))
        })
        .collect();
    let mut filled = vec![false; slices.len()];
    for d in decoded {
        let (slots, values) = d?;
        for (k, slot) in slots {
            data[slot * plane..(slot + 1) * plane].copy_from_slice(&values[k * plane..(k + 1) * plane]);
            filled[slot] = true;
        }
    }
    if let Some(k) = filled.iter().position(|f| !f) {
        let i = order[k];
        return Err(Error::Truncated {
            path: members[slices[i].file].path.clone(),
            field: "PixelData".into(),
            expected: format!("frame {}", slices[i].frame + 1),
            found: "fewer frames".into(),
        });
    }
    Ok(data)
}

fn list_text(heads: &[Head], groups: &[(String, Vec<usize>)]) -> String {
    groups
        .iter()
        .map(|(k, m)| {
            let s = summary(heads, m);
            format!(
                "{k} ({} {}, {} files in {})",
                s.modality,
                if s.description.is_empty() {
                    "-"
                } else {
                    &s.description
                },
                s.files,
                s.folder.display()
            )
        })
        .collect::<Vec<_>>()
        .join("; ")
}
