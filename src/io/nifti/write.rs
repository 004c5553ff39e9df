//! Writing NIfTI-1 files with the `nifti` crate, atomically.
//!
//! The output keeps the geometry fields of the file it derives from (sform and
//! qform with their codes, pixdim, qfac, `xyzt_units`) and its header
//! extensions, so that a mask written from a scan overlays it exactly in any
//! viewer. The file is gzipped when its name ends in `.gz`.

use std::path::Path;

use nalgebra::Matrix4;
use ndarray::Array3;
use nifti::writer::WriterOptions;
use nifti::{DataElement, Extender, ExtensionSequence, XForm};

use crate::error::{parameter_error, Error, Result};
use crate::grid::Grid;
use crate::io::atomic::AtomicOutput;
use crate::io::nifti::{extension, Extension, NiftiHeader};
use crate::volume::{LabelArray, LabelMap, Mask, Volume};
use crate::with_label_array;

/// The header fields that place a volume in the world, taken from a file read
/// earlier (or made from a grid), to write new volumes on the same grid.
#[derive(Debug, Clone, PartialEq)]
pub struct NiftiTemplate {
    header: nifti::NiftiHeader,
    extensions: Vec<Extension>,
    /// The grid these fields describe (as liverkit read them).
    grid: Grid,
}

impl NiftiTemplate {
    /// Geometry fields and extensions of a header read by liverkit, whose
    /// validated grid is `grid`.
    pub(crate) fn from_header(h: &NiftiHeader, extensions: &[Extension], grid: &Grid) -> NiftiTemplate {
        let f = |v: f64| v as f32;
        let mut out = nifti::NiftiHeader {
            sform_code: h.sform_code as i16,
            qform_code: h.qform_code as i16,
            quatern_b: f(h.quatern[0]),
            quatern_c: f(h.quatern[1]),
            quatern_d: f(h.quatern[2]),
            quatern_x: f(h.qoffset[0]),
            quatern_y: f(h.qoffset[1]),
            quatern_z: f(h.qoffset[2]),
            srow_x: h.srow[0].map(f),
            srow_y: h.srow[1].map(f),
            srow_z: h.srow[2].map(f),
            xyzt_units: (h.xyzt_units & 0xff) as u8,
            dim_info: h.dim_info,
            ..nifti::NiftiHeader::default()
        };
        for n in 0..8 {
            out.pixdim[n] = f(h.pixdim[n]);
        }
        out.endianness = nifti::Endianness::native();
        NiftiTemplate {
            header: out,
            extensions: extensions.to_vec(),
            grid: grid.clone(),
        }
    }

    /// A header for `grid` alone: sform and qform both set to the grid's
    /// affine with code 1 (scanner anatomical), units mm.
    pub fn from_grid(grid: &Grid) -> NiftiTemplate {
        let mut h = nifti::NiftiHeader::default();
        let a: Matrix4<f64> = *grid.affine();
        h.set_sform(&a, XForm::ScannerAnat);
        h.set_qform(&a, XForm::ScannerAnat);
        h.xyzt_units = 2; // NIFTI_UNITS_MM
        h.endianness = nifti::Endianness::native();
        NiftiTemplate {
            header: h,
            extensions: Vec::new(),
            grid: grid.clone(),
        }
    }

    /// Drops the header extensions (for example a label table that does not
    /// describe a derived mask).
    pub fn without_extensions(mut self) -> NiftiTemplate {
        self.extensions.clear();
        self
    }
}

/// Writes `volume` to `path` (`.nii`, `.nii.gz`, `.hdr` or `.hdr.gz`).
///
/// The geometry comes from `template`, which must describe the volume's grid
/// (checked: a template from another grid is refused), or from the grid itself
/// when `template` is `None`.
///
/// # Errors
/// `Parameter` for an unknown file extension or dimensions beyond NIfTI-1's
/// 32767; `GridMismatch` when the template does not match the grid; `Write`
/// when the file cannot be written — no partial file is left at `path`.
pub fn write_volume<T>(path: &Path, volume: &Volume<T>, template: Option<&NiftiTemplate>) -> Result<()>
where
    T: DataElement + bytemuck::Pod,
{
    write_array(path, volume.grid(), volume.data(), template)
}

/// Writes a mask as `uint8` 0/1. See [`write_volume`].
///
/// # Errors
/// As [`write_volume`].
pub fn write_mask(path: &Path, mask: &Mask, template: Option<&NiftiTemplate>) -> Result<()> {
    let data: Array3<u8> = mask.data().mapv(u8::from);
    write_array(path, mask.grid(), &data, template)
}

/// Writes a label map in its own integer type, with its label names as an
/// XML label table (replacing any label table of the template; its other
/// extensions are kept). See [`write_volume`].
///
/// # Errors
/// As [`write_volume`].
pub fn write_label_map(path: &Path, map: &LabelMap, template: Option<&NiftiTemplate>) -> Result<()> {
    if !map.overlays().is_empty() {
        return Err(crate::error::parameter_error(
            "label map",
            format!("{} overlapping layers", map.overlays().len() + 1),
            "one layer: overlapping segments cannot share one NIfTI label map (write each segment as a mask)",
        ));
    }
    let mut t = template
        .cloned()
        .unwrap_or_else(|| NiftiTemplate::from_grid(map.grid()));
    t.extensions.retain(|e| !extension::is_label_table(e));
    if !map.names().is_empty() {
        t.extensions.push(extension::label_table_extension(map.names()));
    }
    let labels: &LabelArray = map.labels();
    with_label_array!(labels, a => write_array(path, map.grid(), a, Some(&t)))
}

fn write_array<T>(path: &Path, grid: &Grid, data: &Array3<T>, template: Option<&NiftiTemplate>) -> Result<()>
where
    T: DataElement + bytemuck::Pod,
{
    let dims = grid.dims();
    if dims.iter().any(|&d| d > i16::MAX as usize) {
        return Err(parameter_error(
            "dims",
            format!("{dims:?}"),
            "at most 32767 voxels per axis (NIfTI-1)",
        ));
    }
    // NIfTI-1 stores the affine in float32.
    if grid.affine().iter().any(|v| v.abs() > 1e30) {
        return Err(parameter_error(
            "affine",
            crate::grid::format_affine(grid.affine()),
            "values that float32 can hold (|v| < 1e30)",
        ));
    }
    let owned;
    let template = match template {
        Some(t) => {
            check_template(t, grid)?;
            t
        }
        None => {
            owned = NiftiTemplate::from_grid(grid);
            &owned
        }
    };
    let out = AtomicOutput::new(path)?;
    let mut options = WriterOptions::new(out.staging_path()).reference_header(&template.header);
    if !template.extensions.is_empty() {
        let exts = template
            .extensions
            .iter()
            .map(|e| {
                let mut data = e.data.clone();
                data.resize((data.len() + 8).div_ceil(16) * 16 - 8, 0);
                nifti::Extension::new(e.code, data)
            })
            .collect();
        options = options.with_extensions(ExtensionSequence::new(Extender::from([1, 0, 0, 0]), exts));
    }
    options.write_nifti(data).map_err(|e| Error::Write {
        path: path.to_path_buf(),
        source: std::io::Error::other(e.to_string()),
    })?;
    out.commit()
}

/// A template's geometry must be the grid's: otherwise the file would place
/// the voxels somewhere else than the caller's grid says.
fn check_template(t: &NiftiTemplate, grid: &Grid) -> Result<()> {
    t.grid.ensure_same(grid, "output template", "volume to write")
}
