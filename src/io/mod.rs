//! Reading and writing image files.
//!
//! * [`nifti`]: NIfTI-1 and NIfTI-2 (`.nii`, `.nii.gz`, `.hdr`/`.img` pairs).
//! * [`nrrd`]: NRRD (`.nrrd`, `.nhdr`) and 3D Slicer's `.seg.nrrd`.
//! * [`dicom`]: DICOM CT/MR series and DICOM SEG.
//!
//! [`open`] takes any of them: the format is recognised once, by the file's
//! first bytes, not its name, and the header is read and validated; the
//! [`Opened`] input then reads its voxels as a label map, an intensity image,
//! or whichever they are ([`Opened::read_auto`]), and gives the output
//! template and the `info` report. [`read_label_map`] and [`read_intensity`]
//! are the two common paths through it.
//!
//! Files are read in two steps: opening reads and validates the header only
//! (cheap, even for a gigabyte scan); the voxels are then either read whole
//! into a [`crate::Volume`] or streamed in slabs of whole rows through
//! [`nifti::NiftiFile::stream_voxels`], decompressing on one thread while the
//! caller works on the previous slab, so that label statistics never hold the
//! whole volume in memory.
//!
//! Writing goes to a temporary file in the target directory, renamed over the
//! target only when complete ([`atomic`]).

pub mod atomic;
pub mod dicom;
pub(crate) mod gzip;
pub mod info;
pub mod nifti;
pub mod nrrd;
mod open;
pub mod output;
mod raw;
pub mod structure;

pub use open::{open, Image, Opened};
pub use raw::{Chunk, Element};

use std::path::Path;

use crate::error::{Error, Result, Warning};
use crate::volume::{LabelMap, Volume};

/// The formats liverkit reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// NIfTI-1 or NIfTI-2 (anything that is not one of the others).
    Nifti,
    /// NRRD or `.seg.nrrd` (the file starts with `NRRD`).
    Nrrd,
    /// A DICOM file (`DICM` at byte 128) or a directory of them.
    Dicom,
}

/// The format of `path`, from its first bytes (a directory is DICOM).
pub fn format_of(path: &Path) -> Format {
    if nrrd::is_nrrd(path) {
        Format::Nrrd
    } else if dicom::is_dicom(path) {
        Format::Dicom
    } else {
        Format::Nifti
    }
}

/// The scan date of an input (AcquisitionDate or StudyDate, YYYY-MM-DD):
/// read from the first DICOM file's header; `None` for NIfTI and NRRD,
/// which carry none. The PVE interval comes from it when no dates are given.
///
/// # Errors
/// Read and header errors of the DICOM file.
pub fn scan_date(path: &Path) -> Result<Option<String>> {
    if format_of(path) != Format::Dicom {
        return Ok(None);
    }
    dicom::scan_date(path)
}

/// The header that files written on the grid of input `path` take (see
/// [`Opened::output_template`]).
///
/// # Errors
/// As [`open`].
pub fn output_template(path: &Path, grid: &crate::grid::Grid) -> Result<nifti::NiftiTemplate> {
    Ok(open(path, &ReadOptions::default())?.output_template(grid))
}

/// Voxel types liverkit reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "lowercase")]
#[allow(missing_docs)]
pub enum DataType {
    U8,
    I8,
    U16,
    I16,
    U32,
    I32,
    U64,
    I64,
    F32,
    F64,
}

impl DataType {
    /// The type for a NIfTI `datatype` code (nifti1.h `DT_*`). `Err(Some(name))`
    /// for a known type liverkit does not read (complex, RGB, bit, float128),
    /// `Err(None)` for an unknown code.
    pub fn from_nifti_code(code: i16) -> std::result::Result<DataType, Option<&'static str>> {
        Ok(match code {
            2 => DataType::U8,
            4 => DataType::I16,
            8 => DataType::I32,
            16 => DataType::F32,
            64 => DataType::F64,
            256 => DataType::I8,
            512 => DataType::U16,
            768 => DataType::U32,
            1024 => DataType::I64,
            1280 => DataType::U64,
            1 => return Err(Some("binary (1 bit)")),
            32 => return Err(Some("complex64")),
            128 => return Err(Some("rgb24")),
            1536 => return Err(Some("float128")),
            1792 => return Err(Some("complex128")),
            2048 => return Err(Some("complex256")),
            2304 => return Err(Some("rgba32")),
            _ => return Err(None),
        })
    }

    /// The NIfTI `datatype` code.
    pub fn nifti_code(self) -> i16 {
        match self {
            DataType::U8 => 2,
            DataType::I16 => 4,
            DataType::I32 => 8,
            DataType::F32 => 16,
            DataType::F64 => 64,
            DataType::I8 => 256,
            DataType::U16 => 512,
            DataType::U32 => 768,
            DataType::I64 => 1024,
            DataType::U64 => 1280,
        }
    }

    /// Bytes per voxel.
    pub fn size(self) -> usize {
        match self {
            DataType::U8 | DataType::I8 => 1,
            DataType::U16 | DataType::I16 => 2,
            DataType::U32 | DataType::I32 | DataType::F32 => 4,
            DataType::U64 | DataType::I64 | DataType::F64 => 8,
        }
    }

    /// `uint8`, `int16`, `float32`, … (numpy's names).
    pub fn name(self) -> &'static str {
        match self {
            DataType::U8 => "uint8",
            DataType::I8 => "int8",
            DataType::U16 => "uint16",
            DataType::I16 => "int16",
            DataType::U32 => "uint32",
            DataType::I32 => "int32",
            DataType::U64 => "uint64",
            DataType::I64 => "int64",
            DataType::F32 => "float32",
            DataType::F64 => "float64",
        }
    }

    /// Whether this is a floating-point type.
    pub fn is_float(self) -> bool {
        matches!(self, DataType::F32 | DataType::F64)
    }
}

/// Limits applied when reading.
#[derive(Debug, Clone, PartialEq)]
pub struct ReadOptions {
    /// Largest voxel data, in bytes, that a file may announce; larger files
    /// are refused before anything is allocated. Default 16 GiB.
    pub max_bytes: u64,
    /// The DICOM series to read when a directory holds several
    /// (SeriesInstanceUID, or the fallback key `liverkit info` lists).
    pub series: Option<String>,
    /// A DICOM series (directory or files) whose grid DICOM SEGs are read
    /// onto, after checking that they reference it.
    pub reference: Option<std::path::PathBuf>,
    /// Fraction at or above which a FRACTIONAL SEG voxel belongs to its
    /// segment (0.5).
    pub seg_threshold: f64,
    /// Read a DICOM image series given where a mask or label map is needed
    /// as a mask: every non-zero stored value is inside (many archives keep
    /// each structure as its own 8-bit series, values 0/1 or 0/255).
    pub mask_series: bool,
}

impl Default for ReadOptions {
    fn default() -> Self {
        ReadOptions {
            max_bytes: (crate::vocabulary::MAX_MEMORY_GIB.default_value() * crate::error::GIB) as u64,
            series: None,
            reference: None,
            seg_threshold: crate::vocabulary::SEG_THRESHOLD.default_value(),
            mask_series: false,
        }
    }
}

impl ReadOptions {
    /// Options with the memory bound given in GiB, checked: the bound must
    /// be positive and the SEG threshold a fraction in (0, 1].
    ///
    /// # Errors
    /// `Parameter` (`max_memory_gib`, `seg_threshold`).
    pub fn checked(
        max_memory_gib: f64,
        seg_threshold: f64,
        series: Option<String>,
        reference: Option<std::path::PathBuf>,
    ) -> Result<ReadOptions> {
        crate::vocabulary::MAX_MEMORY_GIB.check(max_memory_gib)?;
        crate::vocabulary::SEG_THRESHOLD.check(seg_threshold)?;
        Ok(ReadOptions {
            max_bytes: (max_memory_gib * crate::error::GIB) as u64,
            series,
            reference,
            seg_threshold,
            mask_series: false,
        })
    }

    /// These options with DICOM image series read as masks where a mask or
    /// label map is needed (see [`ReadOptions::mask_series`]).
    pub fn with_mask_series(mut self, mask_series: bool) -> ReadOptions {
        self.mask_series = mask_series;
        self
    }
}

/// A value read from a file together with what the user should know about it.
#[derive(Debug, Clone)]
pub struct Loaded<T> {
    /// The value.
    pub value: T,
    /// Header and data warnings.
    pub warnings: Vec<Warning>,
}

/// Reads a label map (integers read raw, float maps accepted when every value
/// is integral): [`open`], then [`Opened::read_label_map`].
///
/// # Errors
/// As those two.
pub fn read_label_map(path: &Path, options: &ReadOptions) -> Result<Loaded<LabelMap>> {
    open(path, options)?.read_label_map()
}

/// Reads an intensity image as `f32`: [`open`], then
/// [`Opened::read_intensity`].
///
/// # Errors
/// As those two.
pub fn read_intensity(path: &Path, options: &ReadOptions) -> Result<Loaded<Volume<f32>>> {
    open(path, options)?.read_intensity()
}

/// A vector of `n` zeroed values, or an error naming the file when the
/// memory cannot be had (an abort otherwise: the size comes from a header).
///
/// # Errors
/// `Header` (`field`) when the allocation fails.
pub(crate) fn zeroed_vec<T: Clone + bytemuck::Zeroable>(
    n: usize,
    path: &Path,
    field: &str,
) -> Result<Vec<T>> {
    // The allocator's zeroed memory: a large block comes as fresh pages that
    // the kernel maps on first write, rather than being filled with zeros
    // and then overwritten.
    bytemuck::allocation::try_zeroed_vec(n).map_err(|()| Error::Header {
        path: path.to_path_buf(),
        field: field.into(),
        expected: "voxel data that fits in this machine's memory".into(),
        found: format!(
            "{n} values of {} bytes that could not be allocated",
            std::mem::size_of::<T>()
        ),
    })
}
