//! Reading and writing image files.
//!
//! * [`nifti`]: NIfTI-1 and NIfTI-2 (`.nii`, `.nii.gz`, `.hdr`/`.img` pairs).
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
pub mod info;
pub mod nifti;
mod raw;

pub use raw::{Chunk, Element};

use std::path::Path;

use crate::error::{Result, Warning};
use crate::volume::{LabelMap, Volume};

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
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReadOptions {
    /// Largest voxel data, in bytes, that a file may announce; larger files
    /// are refused before anything is allocated. Default 16 GiB.
    pub max_bytes: u64,
}

impl Default for ReadOptions {
    fn default() -> Self {
        ReadOptions { max_bytes: 16 << 30 }
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
/// is integral).
///
/// # Errors
/// Any header or data error of [`nifti::NiftiFile::open`] and
/// [`nifti::NiftiFile::read_label_map`].
pub fn read_label_map(path: &Path, options: &ReadOptions) -> Result<Loaded<LabelMap>> {
    let file = nifti::NiftiFile::open(path)?;
    let (map, mut data_warnings) = file.read_label_map(options)?;
    let mut warnings = file.warnings().to_vec();
    warnings.append(&mut data_warnings);
    Ok(Loaded { value: map, warnings })
}

/// Reads an intensity image as `f32`, with `scl_slope`/`scl_inter` applied.
///
/// # Errors
/// Any header or data error of [`nifti::NiftiFile::open`].
pub fn read_intensity(path: &Path, options: &ReadOptions) -> Result<Loaded<Volume<f32>>> {
    let file = nifti::NiftiFile::open(path)?;
    let (vol, mut data_warnings) = file.read_intensity(options)?;
    let mut warnings = file.warnings().to_vec();
    warnings.append(&mut data_warnings);
    Ok(Loaded { value: vol, warnings })
}
