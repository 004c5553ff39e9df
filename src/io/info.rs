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
