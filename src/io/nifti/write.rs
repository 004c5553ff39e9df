//! Writing NIfTI-1 files, atomically: the header laid out here from the
//! `nifti` crate's header struct (byte for byte what that crate writes, a
//! unit test checks it), the voxels gzipped on every thread ([`crate::io::gzip`]).
//!
//! The output keeps the geometry fields of the file it derives from (sform and
//! qform with their codes, pixdim, qfac, `xyzt_units`) and its header
//! extensions, so that a mask written from a scan overlays it exactly in any
//! viewer. The file is gzipped when its name ends in `.gz`.

use std::io::Write;
use std::path::Path;

use flate2::Compression;
use nalgebra::Matrix4;
use ndarray::Array3;
use nifti::{DataElement, NiftiType, XForm};

use crate::error::{parameter_error, Error, Result};
use crate::grid::Grid;
use crate::io::atomic::AtomicOutput;
use crate::io::gzip::write_gzip;
use crate::io::nifti::header::NIFTI1_HEADER_SIZE;
use crate::io::nifti::{extension, Extension, NiftiHeader};
use crate::volume::{bool_bytes, fortran_values, LabelArray, LabelMap, Mask, Volume};
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
    let values = fortran_values(mask.data());
    write_bytes(path, mask.grid(), NiftiType::Uint8, bool_bytes(&values), template)
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
    let values = fortran_values(data);
    write_bytes(path, grid, T::DATA_TYPE, bytemuck::cast_slice(&values), template)
}

/// Writes voxel bytes (Fortran order, native byte order) of type `datatype`
/// with the template's header: the one writer behind [`write_volume`],
/// [`write_mask`] and [`write_label_map`].
fn write_bytes(
    path: &Path,
    grid: &Grid,
    datatype: NiftiType,
    voxels: &[u8],
    template: Option<&NiftiTemplate>,
) -> Result<()> {
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
    let pair = out.companion_path().map(Path::to_path_buf);
    let head = header_bytes(template, dims, datatype, pair.is_some());
    let write_err = |e: std::io::Error| Error::Write {
        path: path.to_path_buf(),
        source: e,
    };
    let gz = path.to_string_lossy().to_ascii_lowercase().ends_with(".gz");
    match &pair {
        None => put(out.staging_path(), &[&head, voxels], gz).map_err(write_err)?,
        Some(img) => {
            put(out.staging_path(), &[&head], gz).map_err(write_err)?;
            put(img, &[voxels], gz).map_err(write_err)?;
        }
    }
    out.commit()
}

/// Writes `parts` to a new file at `path`, gzipped on every thread when `gz`.
fn put(path: &Path, parts: &[&[u8]], gz: bool) -> std::io::Result<()> {
    let mut file = std::io::BufWriter::new(std::fs::File::create(path)?);
    if gz {
        // Level 1, as nibabel's default and the nifti crate's: masks are
        // mostly runs, which level 1 already packs about 100-fold.
        write_gzip(&mut file, parts, Compression::fast())?;
    } else {
        for p in parts {
            file.write_all(p)?;
        }
    }
    file.flush()
}

/// The NIfTI-1 header (348 bytes, native byte order, `nifti1.h` layout
/// [NIfTI1]) and the extension block after it: the template's fields with
/// this volume's dims and type, no scaling, `n+1` with the voxels at
/// `vox_offset` (352 plus the extensions) or `ni1` with `vox_offset` 0 for a
/// `.hdr`/`.img` pair.
fn header_bytes(t: &NiftiTemplate, dims: [usize; 3], datatype: NiftiType, pair: bool) -> Vec<u8> {
    let h = &t.header;
    let exts: Vec<(i32, Vec<u8>)> = t
        .extensions
        .iter()
        .map(|e| {
            // esize (8 + data) a multiple of 16, as the standard asks.
            let mut data = e.data.clone();
            data.resize((data.len() + 8).div_ceil(16) * 16 - 8, 0);
            (e.code, data)
        })
        .collect();
    let ext_bytes: usize = exts.iter().map(|(_, d)| 8 + d.len()).sum();
    let mut b = Vec::with_capacity(352 + ext_bytes);
    let i16s = |b: &mut Vec<u8>, v: i16| b.extend_from_slice(&v.to_ne_bytes());
    let f32s = |b: &mut Vec<u8>, v: f32| b.extend_from_slice(&v.to_ne_bytes());
    let text = |b: &mut Vec<u8>, v: &[u8], n: usize| {
        let keep = &v[..v.len().min(n)];
        b.extend_from_slice(keep);
        b.resize(b.len() + n - keep.len(), 0);
    };
    b.extend_from_slice(&(NIFTI1_HEADER_SIZE as i32).to_ne_bytes());
    text(&mut b, &h.data_type, 10);
    text(&mut b, &h.db_name, 18);
    b.extend_from_slice(&h.extents.to_ne_bytes());
    i16s(&mut b, h.session_error);
    b.push(h.regular);
    b.push(h.dim_info);
    let mut dim = [1u16; 8];
    dim[0] = 3;
    for a in 0..3 {
        dim[a + 1] = dims[a] as u16;
    }
    for d in dim {
        b.extend_from_slice(&d.to_ne_bytes());
    }
    for p in [h.intent_p1, h.intent_p2, h.intent_p3] {
        f32s(&mut b, p);
    }
    i16s(&mut b, h.intent_code);
    i16s(&mut b, datatype as i16);
    i16s(&mut b, (datatype.size_of() * 8) as i16);
    i16s(&mut b, h.slice_start);
    for p in h.pixdim {
        f32s(&mut b, p);
    }
    f32s(&mut b, if pair { 0.0 } else { (352 + ext_bytes) as f32 });
    f32s(&mut b, 1.0); // scl_slope
    f32s(&mut b, 0.0); // scl_inter
    i16s(&mut b, h.slice_end);
    b.push(h.slice_code);
    b.push(h.xyzt_units);
    for v in [h.cal_max, h.cal_min, h.slice_duration, h.toffset] {
        f32s(&mut b, v);
    }
    b.extend_from_slice(&h.glmax.to_ne_bytes());
    b.extend_from_slice(&h.glmin.to_ne_bytes());
    text(&mut b, &h.descrip, 80);
    text(&mut b, &h.aux_file, 24);
    i16s(&mut b, h.qform_code);
    i16s(&mut b, h.sform_code);
    for v in [
        h.quatern_b,
        h.quatern_c,
        h.quatern_d,
        h.quatern_x,
        h.quatern_y,
        h.quatern_z,
    ] {
        f32s(&mut b, v);
    }
    for row in [h.srow_x, h.srow_y, h.srow_z] {
        for v in row {
            f32s(&mut b, v);
        }
    }
    text(&mut b, &h.intent_name, 16);
    b.extend_from_slice(if pair { b"ni1\0" } else { b"n+1\0" });
    debug_assert_eq!(b.len(), NIFTI1_HEADER_SIZE);
    // The extender: byte 0 says whether extensions follow.
    b.extend_from_slice(&[u8::from(!exts.is_empty()), 0, 0, 0]);
    for (code, data) in &exts {
        b.extend_from_slice(&(8 + data.len() as i32).to_ne_bytes());
        b.extend_from_slice(&code.to_ne_bytes());
        b.extend_from_slice(data);
    }
    b
}

/// A template's geometry must be the grid's: otherwise the file would place
/// the voxels somewhere else than the caller's grid says.
fn check_template(t: &NiftiTemplate, grid: &Grid) -> Result<()> {
    t.grid.ensure_same(grid, "output template", "volume to write")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::io::nifti::NiftiFile;
    use crate::io::ReadOptions;

    /// liverkit's header and extension bytes are the `nifti` crate's: the
    /// same label map with its label table, written uncompressed by both,
    /// gives the same file byte for byte.
    #[test]
    fn files_match_the_nifti_crates_writer_byte_for_byte() {
        let src = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("testdata/generated")
            .join("oblique.nii.gz");
        let input = NiftiFile::open(&src).unwrap();
        let map = input.read_label_map(&ReadOptions::default()).unwrap().0;
        let mut t = input.template();
        t.extensions.retain(|e| !extension::is_label_table(e));
        t.extensions.push(extension::label_table_extension(
            &crate::volume::LabelNames::from([(1, "liver".to_string())]),
        ));
        let dir = tempfile::tempdir().unwrap();
        let ours = dir.path().join("ours.nii");
        let theirs = dir.path().join("theirs.nii");
        let with_label_array = |a: &LabelArray| match a {
            LabelArray::U8(a) => a.clone(),
            other => panic!("a uint8 fixture, got {}", other.type_name()),
        };
        let labels = with_label_array(map.labels());
        write_array(&ours, map.grid(), &labels, Some(&t)).unwrap();
        let exts = t
            .extensions
            .iter()
            .map(|e| {
                let mut data = e.data.clone();
                data.resize((data.len() + 8).div_ceil(16) * 16 - 8, 0);
                nifti::Extension::new(e.code, data)
            })
            .collect();
        nifti::writer::WriterOptions::new(&theirs)
            .reference_header(&t.header)
            .with_extensions(nifti::ExtensionSequence::new(
                nifti::Extender::from([1, 0, 0, 0]),
                exts,
            ))
            .write_nifti(&labels)
            .unwrap();
        let (a, b) = (std::fs::read(&ours).unwrap(), std::fs::read(&theirs).unwrap());
        assert_eq!(a.len(), b.len());
        assert!(
            a == b,
            "first difference at byte {:?}",
            a.iter().zip(&b).position(|(x, y)| x != y)
        );
    }
}
