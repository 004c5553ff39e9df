//! What `liverkit info` reports about a file: the header as liverkit reads it.

use std::path::PathBuf;

use serde::Serialize;

use crate::error::Warning;
use crate::grid::Orientation;
use crate::io::nifti::{GeometrySource, NiftiFile};

/// Header and geometry of an image file.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ImageInfo {
    /// The file.
    pub path: PathBuf,
    /// `NIfTI-1` or `NIfTI-2`.
    pub format: String,
    /// Whether the header file is gzip-compressed.
    pub compressed: bool,
    /// `little-endian` or `big-endian`.
    pub byte_order: &'static str,
    /// The file holding the voxels (differs for a `.hdr`/`.img` pair).
    pub data_file: PathBuf,
    /// Byte offset of the voxels.
    pub vox_offset: u64,
    /// All dimensions `dim[1..=dim[0]]`.
    pub dims: Vec<u64>,
    /// Voxel type (numpy name).
    pub datatype: &'static str,
    /// NIfTI datatype code.
    pub datatype_code: i16,
    /// Bits per voxel as the header says.
    pub bitpix: i16,
    /// Voxel spacing in mm along `i`, `j`, `k` (from the affine).
    pub spacing_mm: [f64; 3],
    /// `pixdim[0..8]` as stored (`pixdim[0]` is qfac).
    pub pixdim: [f64; 8],
    /// Volume of one voxel in mm³ (`|det|` of the affine).
    pub voxel_volume_mm3: f64,
    /// Spatial unit of the file (`mm`, `meter`, `micron`, `unknown (taken as mm)`).
    pub units_space: &'static str,
    /// Temporal unit of the file.
    pub units_time: &'static str,
    /// Orientation code of the voxel axes.
    pub orientation: Orientation,
    /// Which fields give the geometry.
    pub geometry_source: GeometrySource,
    /// `sform_code`.
    pub sform_code: i32,
    /// Meaning of `sform_code`.
    pub sform_code_name: &'static str,
    /// `qform_code`.
    pub qform_code: i32,
    /// Meaning of `qform_code`.
    pub qform_code_name: &'static str,
    /// The voxel-to-world affine (RAS+, mm) liverkit uses, rows.
    pub affine: [[f64; 4]; 4],
    /// `scl_slope` (applied to intensity images only).
    pub scl_slope: f64,
    /// `scl_inter`.
    pub scl_inter: f64,
    /// `descrip`.
    pub description: String,
    /// Header extensions.
    pub extensions: Vec<ExtensionInfo>,
    /// Label names from the label table, ascending by value.
    pub labels: Vec<LabelEntry>,
    /// Header warnings.
    pub warnings: Vec<Warning>,
}

/// A label value and its name.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LabelEntry {
    /// Label value.
    pub label: i64,
    /// Its name.
    pub name: String,
}

/// One header extension.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ExtensionInfo {
    /// `ecode`.
    pub code: i32,
    /// Content size in bytes.
    pub bytes: usize,
    /// What it holds, where liverkit recognises it.
    pub content: &'static str,
}

fn xform_name(code: i32) -> &'static str {
    match code {
        0 => "unknown",
        1 => "scanner_anat",
        2 => "aligned_anat",
        3 => "talairach",
        4 => "mni_152",
        5 => "template_other",
        _ => "non-standard code",
    }
}

impl ImageInfo {
    /// Collects the header information of an opened NIfTI file.
    pub fn of_nifti(f: &NiftiFile) -> ImageInfo {
        let h = f.header();
        let g = f.grid();
        let a = g.affine();
        ImageInfo {
            path: f.path().to_path_buf(),
            format: format!("NIfTI-{}", h.version),
            compressed: f.is_compressed(),
            byte_order: if h.big_endian {
                "big-endian"
            } else {
                "little-endian"
            },
            data_file: f.data_path().to_path_buf(),
            vox_offset: h.vox_offset as u64,
            dims: f.all_dims().to_vec(),
            datatype: f.dtype().name(),
            datatype_code: h.datatype,
            bitpix: h.bitpix,
            spacing_mm: g.spacing_mm(),
            pixdim: h.pixdim,
            voxel_volume_mm3: g.voxel_volume_mm3(),
            units_space: match h.xyzt_units & 7 {
                1 => "meter",
                2 => "mm",
                3 => "micron",
                _ => "unknown (taken as mm)",
            },
            units_time: match h.xyzt_units & 0x38 {
                8 => "s",
                16 => "ms",
                24 => "us",
                32 => "Hz",
                40 => "ppm",
                48 => "rad/s",
                _ => "unknown",
            },
            orientation: g.orientation(),
            geometry_source: f.geometry_source(),
            sform_code: h.sform_code,
            sform_code_name: xform_name(h.sform_code),
            qform_code: h.qform_code,
            qform_code_name: xform_name(h.qform_code),
            affine: [0, 1, 2, 3].map(|r| [a[(r, 0)], a[(r, 1)], a[(r, 2)], a[(r, 3)]]),
            scl_slope: h.scl_slope,
            scl_inter: h.scl_inter,
            description: h.descrip.clone(),
            extensions: f
                .extensions()
                .iter()
                .map(|e| ExtensionInfo {
                    code: e.code,
                    bytes: e.data.len(),
                    content: if String::from_utf8_lossy(&e.data).contains("<LabelTable") {
                        "XML label table"
                    } else {
                        match e.code {
                            2 => "DICOM",
                            4 => "AFNI",
                            6 => "comment",
                            30 => "CARET",
                            _ => "other",
                        }
                    },
                })
                .collect(),
            labels: f
                .label_names()
                .iter()
                .map(|(k, v)| LabelEntry {
                    label: *k,
                    name: v.clone(),
                })
                .collect(),
            warnings: f.warnings().to_vec(),
        }
    }
}

/// Header and geometry of a NRRD or `.seg.nrrd` file.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct NrrdInfo {
    /// The file.
    pub path: PathBuf,
    /// `NRRD`.
    pub format: &'static str,
    /// `raw`, `gzip` or `ascii`.
    pub encoding: &'static str,
    /// Voxel type (numpy name).
    pub datatype: &'static str,
    /// Voxels along the three domain axes.
    pub dims: [usize; 3],
    /// Layers (the leading list axis of a layered segmentation; 1 without).
    pub layers: usize,
    /// Voxel spacing, mm.
    pub spacing_mm: [f64; 3],
    /// Voxel volume, mm³.
    pub voxel_volume_mm3: f64,
    /// Axis codes of the voxel axes in liverkit's RAS+ world.
    pub orientation: Orientation,
    /// The frame of the file's coordinates (`space`).
    pub space: String,
    /// Voxel → RAS+ world affine, rows.
    pub affine: [[f64; 4]; 4],
    /// Every header field as written.
    pub fields: std::collections::BTreeMap<String, String>,
    /// Segments of a `.seg.nrrd`.
    pub segments: Vec<crate::io::nrrd::SegmentInfo>,
    /// What the user should know.
    pub warnings: Vec<Warning>,
}

impl NrrdInfo {
    /// What an opened NRRD file's header says.
    pub fn of_nrrd(f: &crate::io::nrrd::NrrdFile) -> NrrdInfo {
        let g = f.grid();
        let a = g.affine();
        let mut affine = [[0.0; 4]; 4];
        for (r, row) in affine.iter_mut().enumerate() {
            for (c, v) in row.iter_mut().enumerate() {
                *v = a[(r, c)];
            }
        }
        NrrdInfo {
            path: f.path().to_path_buf(),
            format: "NRRD",
            encoding: f.encoding(),
            datatype: f.dtype().name(),
            dims: g.dims(),
            layers: f.layers(),
            spacing_mm: g.spacing_mm(),
            voxel_volume_mm3: g.voxel_volume_mm3(),
            orientation: g.orientation(),
            space: f.space().to_string(),
            affine,
            fields: f.fields().clone(),
            segments: f.segments().to_vec(),
            warnings: f.warnings().to_vec(),
        }
    }
}

/// What `liverkit info` reports about a DICOM series or SEG.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DicomInfo {
    /// The input.
    pub path: PathBuf,
    /// `DICOM series` or `DICOM SEG`.
    pub format: &'static str,
    /// Modality.
    pub modality: String,
    /// The series read (for a SEG: the SEG's own series).
    pub series_uid: String,
    /// Every series in the input (series only).
    pub series: Vec<crate::io::dicom::SeriesSummary>,
    /// Slices (series) or frames (SEG).
    pub slices: usize,
    /// Voxels along i, j, k.
    pub dims: [usize; 3],
    /// Voxel spacing, mm (the slice step from the positions).
    pub spacing_mm: [f64; 3],
    /// SliceThickness as written (not used for geometry).
    pub slice_thickness_mm: Option<f64>,
    /// Axis codes in liverkit's RAS+ world.
    pub orientation: Orientation,
    /// Voxel → RAS+ world affine, rows.
    pub affine: [[f64; 4]; 4],
    /// Transfer syntax UID.
    pub transfer_syntax_uid: String,
    /// Its name.
    pub transfer_syntax: &'static str,
    /// Acquisition date (YYYY-MM-DD).
    pub date: Option<String>,
    /// BINARY or FRACTIONAL (SEG only).
    pub segmentation_type: Option<String>,
    /// The series a SEG references.
    pub referenced_series_uid: Option<String>,
    /// Segments of a SEG.
    pub segments: Vec<crate::io::dicom::SegmentDescription>,
    /// What the user should know.
    pub warnings: Vec<Warning>,
}

fn affine_rows(g: &crate::grid::Grid) -> [[f64; 4]; 4] {
    let a = g.affine();
    let mut out = [[0.0; 4]; 4];
    for (r, row) in out.iter_mut().enumerate() {
        for (c, v) in row.iter_mut().enumerate() {
            *v = a[(r, c)];
        }
    }
    out
}

impl DicomInfo {
    /// Reads a DICOM input (a SEG file, or a series as a directory or its
    /// files) and describes it.
    ///
    /// # Errors
    /// As [`crate::io::dicom::read_series`] and [`crate::io::dicom::read_seg`];
    /// `Parameter` for several paths of which one is a SEG.
    pub fn read(paths: &[PathBuf], options: &crate::io::ReadOptions) -> crate::error::Result<DicomInfo> {
        let seg = match paths {
            [one] => crate::io::dicom::input_is_seg(one)?,
            _ => false,
        };
        Self::read_listed(paths, options, seg, None)
    }

    /// [`DicomInfo::read`] of an input known to be a SEG or not (one path
    /// for a SEG), with its series already listed when `listed` holds them.
    pub(crate) fn read_listed(
        paths: &[PathBuf],
        options: &crate::io::ReadOptions,
        seg: bool,
        listed: Option<Vec<crate::io::dicom::SeriesSummary>>,
    ) -> crate::error::Result<DicomInfo> {
        use crate::io::dicom;
        let path = paths
            .first()
            .map(PathBuf::as_path)
            .unwrap_or(std::path::Path::new("."));
        if seg {
            let seg = dicom::read_seg(path, None, &dicom::SegOptions::default(), options)?;
            let g = seg.map.grid();
            return Ok(DicomInfo {
                path: path.to_path_buf(),
                format: "DICOM SEG",
                modality: "SEG".into(),
                series_uid: String::new(),
                series: Vec::new(),
                slices: seg.frames,
                dims: g.dims(),
                spacing_mm: g.spacing_mm(),
                slice_thickness_mm: None,
                orientation: g.orientation(),
                affine: affine_rows(g),
                transfer_syntax_uid: seg.transfer_syntax.0.clone(),
                transfer_syntax: seg.transfer_syntax.1,
                date: seg.date.clone(),
                segmentation_type: Some(seg.segmentation_type.clone()),
                referenced_series_uid: seg.referenced_series_uid.clone(),
                segments: seg.segments.clone(),
                warnings: seg.warnings.clone(),
            });
        }
        let all = match listed {
            Some(l) => l,
            None => dicom::list_series(paths)?,
        };
        let s = dicom::read_series(paths, options.series.as_deref(), options)?;
        let g = s.volume.grid();
        Ok(DicomInfo {
            path: path.to_path_buf(),
            format: "DICOM series",
            modality: s.summary.modality.clone(),
            series_uid: s.summary.uid.clone(),
            series: all,
            slices: g.dims()[2],
            dims: g.dims(),
            spacing_mm: g.spacing_mm(),
            slice_thickness_mm: s.slice_thickness_mm,
            orientation: g.orientation(),
            affine: affine_rows(g),
            transfer_syntax_uid: s.transfer_syntax.0.clone(),
            transfer_syntax: s.transfer_syntax.1,
            date: s.summary.date.clone(),
            segmentation_type: None,
            referenced_series_uid: None,
            segments: Vec::new(),
            warnings: s.warnings.clone(),
        })
    }
}

/// What `liverkit info` reports about one input, by its format.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
pub enum Info {
    /// A NIfTI-1 or NIfTI-2 file (or an Analyze-style `.hdr`/`.img` pair).
    Nifti(ImageInfo),
    /// An NRRD file or a 3D Slicer `.seg.nrrd`.
    Nrrd(NrrdInfo),
    /// A DICOM SEG, or a DICOM series (a directory or its files).
    Dicom(DicomInfo),
    /// A DICOM input holding several series, none chosen: each is listed
    /// (folder, description, file count) for the user to choose one.
    DicomSeriesList(SeriesList),
}

/// The series of a DICOM input that holds several.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SeriesList {
    /// The path given.
    pub path: PathBuf,
    /// `DICOM series list`.
    pub format: &'static str,
    /// Each series.
    pub series: Vec<crate::io::dicom::SeriesSummary>,
    /// How to read one of them.
    pub hint: String,
}

/// Reads the header of an input and describes it: several paths, or one
/// DICOM path, are a DICOM input; else the format is sniffed from the file.
///
/// # Errors
/// Read and header errors of the file(s).
pub fn read_info(paths: &[PathBuf], options: &crate::io::ReadOptions) -> crate::Result<Info> {
    let Some(first) = paths.first() else {
        return Err(crate::error::parameter_error(
            "path",
            "nothing",
            "a file or a DICOM directory",
        ));
    };
    // A series input lists its series once; several without a choice are
    // listed for the user, one is described with that list.
    let series_input = |paths: &[PathBuf]| -> crate::Result<Info> {
        let series = crate::io::dicom::list_series(paths)?;
        if options.series.is_none() && series.len() > 1 {
            return Ok(Info::DicomSeriesList(SeriesList {
                path: first.clone(),
                format: "DICOM series list",
                series,
                hint:
                    "read one series with `series` UID, or give its folder; a folder per structure of mask \
                       series is read as masks with `mask_series`"
                        .into(),
            }));
        }
        Ok(Info::Dicom(DicomInfo::read_listed(
            paths,
            options,
            false,
            Some(series),
        )?))
    };
    if paths.len() > 1 {
        return series_input(paths);
    }
    let opened = crate::io::open(first, options)?;
    if opened.format() == crate::io::Format::Dicom && !opened.is_dicom_seg() {
        return series_input(paths);
    }
    opened.info()
}
