//! NIfTI-1 and NIfTI-2 headers: byte layout, parsing, validation, geometry.
//!
//! liverkit parses the header itself rather than through the `nifti` crate:
//! nifti 0.18 reads NIfTI-1 only, and its `qform_affine` panics on a negative
//! pixdim or a qfac other than ±1. Every field is checked here before it is
//! used, and each problem becomes an error naming the field.
//!
//! Layouts follow `nifti1.h` and `nifti2.h` (NIfTI Data Format Working Group,
//! [NIfTI1], [NIfTI2] in `docs/references.md`).

use std::path::Path;

use nalgebra::{Matrix3, Matrix4};

use crate::error::{header_error, Error, Result, Warning};
use crate::grid::{linear_part, Grid, SAME_GRID_TOLERANCE_VOXELS};
use crate::io::DataType;

/// Size of a NIfTI-1 header in bytes.
pub const NIFTI1_HEADER_SIZE: usize = 348;
/// Size of a NIfTI-2 header in bytes.
pub const NIFTI2_HEADER_SIZE: usize = 540;

/// The header fields liverkit reads, widened to the NIfTI-2 types so that
/// both versions share one representation.
#[derive(Debug, Clone, PartialEq)]
pub struct NiftiHeader {
    /// 1 or 2.
    pub version: u8,
    /// Byte order of the file.
    pub big_endian: bool,
    /// `dim[0..8]`: `dim[0]` is the number of dimensions.
    pub dim: [i64; 8],
    /// NIfTI datatype code.
    pub datatype: i16,
    /// Bits per voxel.
    pub bitpix: i16,
    /// `pixdim[0..8]`: `pixdim[0]` is qfac, `pixdim[1..4]` the voxel spacing.
    pub pixdim: [f64; 8],
    /// Byte offset of the voxel data in the data file.
    pub vox_offset: f64,
    /// Intensity scaling slope (0 or NaN: no scaling).
    pub scl_slope: f64,
    /// Intensity scaling intercept.
    pub scl_inter: f64,
    /// Display range maximum.
    pub cal_max: f64,
    /// Display range minimum.
    pub cal_min: f64,
    /// Units of `pixdim` and world coordinates: bits 0–2 space, 3–5 time.
    pub xyzt_units: i32,
    /// Intent code.
    pub intent_code: i32,
    /// Intent name.
    pub intent_name: String,
    /// `qform_code` (0: no qform).
    pub qform_code: i32,
    /// `sform_code` (0: no sform).
    pub sform_code: i32,
    /// Quaternion parameters b, c, d.
    pub quatern: [f64; 3],
    /// qform translation (`qoffset_x/y/z`).
    pub qoffset: [f64; 3],
    /// sform rows `srow_x`, `srow_y`, `srow_z`.
    pub srow: [[f64; 4]; 3],
    /// Free-text description.
    pub descrip: String,
    /// Auxiliary file name.
    pub aux_file: String,
    /// `dim_info` byte (frequency/phase/slice axes).
    pub dim_info: u8,
    /// Slice timing code.
    pub slice_code: i32,
    /// Magic string (`n+1`, `ni1`, `n+2`, `ni2`).
    pub magic: String,
}

/// Which header fields define the geometry (the NIfTI policy, docs/references.md).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum GeometrySource {
    /// `sform_code > 0`: the `srow_*` affine.
    Sform,
    /// `sform_code == 0`, `qform_code > 0`: quaternion, pixdim and qfac.
    Qform,
    /// Neither: `pixdim` alone (NIfTI "method 1"), position unknown.
    Pixdim,
}

/// Little helper to read fixed-offset fields in either byte order.
struct Fields<'a> {
    b: &'a [u8],
    big: bool,
}

impl Fields<'_> {
    fn bytes<const N: usize>(&self, at: usize) -> [u8; N] {
        let mut out = [0u8; N];
        out.copy_from_slice(&self.b[at..at + N]);
        if self.big {
            out.reverse();
        }
        out
    }
    fn i16(&self, at: usize) -> i16 {
        i16::from_le_bytes(self.bytes(at))
    }
    fn i32(&self, at: usize) -> i32 {
        i32::from_le_bytes(self.bytes(at))
    }
    fn i64(&self, at: usize) -> i64 {
        i64::from_le_bytes(self.bytes(at))
    }
    fn f32(&self, at: usize) -> f64 {
        f32::from_le_bytes(self.bytes(at)) as f64
    }
    fn f64(&self, at: usize) -> f64 {
        f64::from_le_bytes(self.bytes(at))
    }
    fn text(&self, at: usize, len: usize) -> String {
        let raw = &self.b[at..at + len];
        let end = raw.iter().position(|&c| c == 0).unwrap_or(len);
        String::from_utf8_lossy(&raw[..end]).trim_end().to_string()
    }
}

/// Reads `sizeof_hdr` from the first four bytes: the NIfTI version and byte order.
///
/// # Errors
/// `Header` (`sizeof_hdr`) when the file is not NIfTI.
pub fn detect_version(path: &Path, first4: [u8; 4]) -> Result<(u8, bool)> {
    let le = i32::from_le_bytes(first4);
    let be = i32::from_be_bytes(first4);
    match (le, be) {
        (348, _) => Ok((1, false)),
        (_, 348) => Ok((1, true)),
        (540, _) => Ok((2, false)),
        (_, 540) => Ok((2, true)),
        _ => Err(header_error(
            path,
            "sizeof_hdr",
            "348 (NIfTI-1) or 540 (NIfTI-2); this is not a NIfTI file",
            format!("{le} (bytes {first4:02x?})"),
        )),
    }
}

/// Parses a complete header (`348` or `540` bytes).
///
/// Only the byte layout is read here; [`NiftiHeader::validate`] checks the values.
pub fn parse(bytes: &[u8], version: u8, big_endian: bool) -> NiftiHeader {
    let f = Fields {
        b: bytes,
        big: big_endian,
    };
    if version == 1 {
        let mut dim = [0i64; 8];
        let mut pixdim = [0f64; 8];
        for n in 0..8 {
            dim[n] = f.i16(40 + 2 * n) as i64;
            pixdim[n] = f.f32(76 + 4 * n);
        }
        let row = |at: usize| [f.f32(at), f.f32(at + 4), f.f32(at + 8), f.f32(at + 12)];
        NiftiHeader {
            version,
            big_endian,
            dim,
            datatype: f.i16(70),
            bitpix: f.i16(72),
            pixdim,
            vox_offset: f.f32(108),
            scl_slope: f.f32(112),
            scl_inter: f.f32(116),
            cal_max: f.f32(124),
            cal_min: f.f32(128),
            xyzt_units: bytes[123] as i32,
            intent_code: f.i16(68) as i32,
            intent_name: f.text(328, 16),
            qform_code: f.i16(252) as i32,
            sform_code: f.i16(254) as i32,
            quatern: [f.f32(256), f.f32(260), f.f32(264)],
            qoffset: [f.f32(268), f.f32(272), f.f32(276)],
            srow: [row(280), row(296), row(312)],
            descrip: f.text(148, 80),
            aux_file: f.text(228, 24),
            dim_info: bytes[39],
            slice_code: bytes[122] as i32,
            magic: f.text(344, 4),
        }
    } else {
        let mut dim = [0i64; 8];
        let mut pixdim = [0f64; 8];
        for n in 0..8 {
            dim[n] = f.i64(16 + 8 * n);
            pixdim[n] = f.f64(104 + 8 * n);
        }
        let row = |at: usize| [f.f64(at), f.f64(at + 8), f.f64(at + 16), f.f64(at + 24)];
        NiftiHeader {
            version,
            big_endian,
            dim,
            datatype: f.i16(12),
            bitpix: f.i16(14),
            pixdim,
            vox_offset: f.i64(168) as f64,
            scl_slope: f.f64(176),
            scl_inter: f.f64(184),
            cal_max: f.f64(192),
            cal_min: f.f64(200),
            xyzt_units: f.i32(500),
            intent_code: f.i32(504),
            intent_name: f.text(508, 16),
            qform_code: f.i32(344),
            sform_code: f.i32(348),
            quatern: [f.f64(352), f.f64(360), f.f64(368)],
            qoffset: [f.f64(376), f.f64(384), f.f64(392)],
            srow: [row(400), row(432), row(464)],
            descrip: f.text(240, 80),
            aux_file: f.text(320, 24),
            dim_info: bytes[524],
            slice_code: f.i32(496),
            magic: f.text(4, 4),
        }
    }
}

/// What a validated header says about the image.
#[derive(Debug, Clone)]
pub struct Validated {
    /// The 3-D grid (first three dimensions).
    pub grid: Grid,
    /// Which fields gave the geometry.
    pub geometry: GeometrySource,
    /// Voxel type.
    pub dtype: DataType,
    /// All dimensions `dim[1..=dim[0]]`.
    pub all_dims: Vec<u64>,
    /// Voxels in the whole file (all dimensions).
    pub voxel_count: u64,
    /// Whether the file stores its data in a separate `.img` file.
    pub pair: bool,
    /// Conditions worth telling the user.
    pub warnings: Vec<Warning>,
}

impl NiftiHeader {
    /// Size in bytes of this header on disk.
    pub fn header_size(&self) -> usize {
        if self.version == 1 {
            NIFTI1_HEADER_SIZE
        } else {
            NIFTI2_HEADER_SIZE
        }
    }

    /// Checks every field liverkit uses and derives the grid.
    ///
    /// # Errors
    /// `Header` naming the first invalid field; `Unsupported` for a datatype
    /// liverkit does not read.
    pub fn validate(&self, path: &Path) -> Result<Validated> {
        let mut warnings = Vec::new();
        let pair = self.check_magic(path)?;
        let dtype = self.check_datatype(path, &mut warnings)?;
        let (all_dims, voxel_count) = self.check_dims(path)?;
        let mm_per_unit = self.check_units(path)?;
        self.check_vox_offset(path, pair)?;
        let spatial = (self.dim[0] as usize).min(3);
        let mut spacing = [1.0f64; 3];
        for (axis, s) in spacing.iter_mut().enumerate() {
            let p = self.pixdim[axis + 1];
            if p.is_finite() && p > 0.0 {
                *s = p * mm_per_unit;
            } else if axis < spatial {
                let field = format!("pixdim[{}]", axis + 1);
                return Err(header_error(path, field, "a finite voxel spacing > 0", fmt_f(p)));
            }
        }
        let dims3 = [
            all_dims[0] as usize,
            all_dims.get(1).copied().unwrap_or(1) as usize,
            all_dims.get(2).copied().unwrap_or(1) as usize,
        ];

        let qform = if self.qform_code > 0 {
            Some(self.qform_affine(path, spacing, mm_per_unit, &mut warnings))
        } else {
            None
        };
        let (affine, geometry) = if self.sform_code > 0 {
            let a = self.sform_affine(path, mm_per_unit)?;
            match qform {
                Some(Ok(q)) => {
                    let dq = match (Grid::new(dims3, a), Grid::new(dims3, q)) {
                        (Ok(ga), Ok(gq)) => ga.corner_distance_mm(&gq).unwrap_or(0.0),
                        _ => 0.0,
                    };
                    let tol =
                        SAME_GRID_TOLERANCE_VOXELS * spacing.iter().cloned().fold(f64::INFINITY, f64::min);
                    if dq > tol {
                        warnings.push(Warning::new(
                            Some(path),
                            "qform",
                            format!("qform and sform disagree by up to {dq:.3} mm; the sform is used (NIfTI policy)"),
                        ));
                    }
                }
                Some(Err(e)) => warnings.push(Warning::new(
                    Some(path),
                    e.field().unwrap_or("qform").to_string(),
                    format!("invalid qform ignored, the sform is used: {e}"),
                )),
                None => {}
            }
            (a, GeometrySource::Sform)
        } else if let Some(q) = qform {
            (q?, GeometrySource::Qform)
        } else {
            warnings.push(Warning::new(
                Some(path),
                "sform_code",
                "neither sform_code nor qform_code is set: spacing from pixdim only (NIfTI method 1); \
                 orientation and position are unknown and reported as RAS from the origin",
            ));
            let mut a = Matrix4::identity();
            for (axis, s) in spacing.iter().enumerate() {
                a[(axis, axis)] = *s;
            }
            (a, GeometrySource::Pixdim)
        };
        let grid = Grid::new(dims3, affine).map_err(|e| {
            header_error(
                path,
                match geometry {
                    GeometrySource::Sform => "srow_x/srow_y/srow_z",
                    GeometrySource::Qform => "quatern_b/c/d",
                    GeometrySource::Pixdim => "pixdim",
                },
                "an invertible voxel-to-world affine",
                e.to_string(),
            )
        })?;

        // docs/references.md: cross-check |det| against the pixdim product.
        let det = grid.voxel_volume_mm3();
        let product = spacing[0] * spacing[1] * spacing[2];
        let rel = (det - product).abs() / product;
        if rel > 1e-3 {
            warnings.push(Warning::new(
                Some(path),
                "pixdim",
                format!(
                    "voxel volume from the affine |det| = {det:.6} mm^3 differs from the pixdim product \
                     {product:.6} mm^3 by {:.3} %; volumes use |det|",
                    rel * 100.0
                ),
            ));
        }
        for (axis, s) in grid.spacing_mm().iter().enumerate() {
            if !(0.01..=100.0).contains(s) {
                warnings.push(Warning::new(
                    Some(path),
                    format!("pixdim[{}]", axis + 1),
                    format!("implausible voxel spacing {s} mm for a CT or MR scan; check xyzt_units"),
                ));
            }
        }
        Ok(Validated {
            grid,
            geometry,
            dtype,
            all_dims,
            voxel_count,
            pair,
            warnings,
        })
    }

    /// `n+1`/`n+2`: single file; `ni1`/`ni2`: header and `.img` pair.
    fn check_magic(&self, path: &Path) -> Result<bool> {
        let (single, pair) = if self.version == 1 {
            ("n+1", "ni1")
        } else {
            ("n+2", "ni2")
        };
        if self.magic == single {
            Ok(false)
        } else if self.magic == pair {
            Ok(true)
        } else {
            Err(header_error(
                path,
                "magic",
                format!("\"{single}\" or \"{pair}\" (an ANALYZE 7.5 file has no magic and is not read: its orientation is ambiguous)"),
                format!("{:?}", self.magic),
            ))
        }
    }

    fn check_datatype(&self, path: &Path, warnings: &mut Vec<Warning>) -> Result<DataType> {
        let dtype = match DataType::from_nifti_code(self.datatype) {
            Ok(t) => t,
            Err(Some(name)) => {
                return Err(Error::Unsupported {
                    path: path.to_path_buf(),
                    field: "datatype".into(),
                    found: format!("{name} (code {})", self.datatype),
                    hint: "liverkit reads integer and real-valued scalar images; convert the image to one of those types".into(),
                })
            }
            Err(None) => {
                return Err(header_error(
                    path,
                    "datatype",
                    "a NIfTI datatype code (2, 4, 8, 16, 64, 256, 512, 768, 1024, 1280 for scalar images)",
                    self.datatype.to_string(),
                ))
            }
        };
        if self.bitpix as usize != dtype.size() * 8 {
            warnings.push(Warning::new(
                Some(path),
                "bitpix",
                format!(
                    "bitpix {} does not match datatype {} ({} bits); the datatype is used",
                    self.bitpix,
                    dtype.name(),
                    dtype.size() * 8
                ),
            ));
        }
        Ok(dtype)
    }

    fn check_dims(&self, path: &Path) -> Result<(Vec<u64>, u64)> {
        let n = self.dim[0];
        if !(1..=7).contains(&n) {
            return Err(header_error(
                path,
                "dim[0]",
                "a number of dimensions from 1 to 7",
                n.to_string(),
            ));
        }
        let mut dims = Vec::with_capacity(n as usize);
        let mut count: u64 = 1;
        for axis in 1..=n as usize {
            let d = self.dim[axis];
            if d < 1 {
                return Err(header_error(
                    path,
                    format!("dim[{axis}]"),
                    "a dimension of at least 1",
                    d.to_string(),
                ));
            }
            count = count.checked_mul(d as u64).ok_or_else(|| {
                header_error(
                    path,
                    "dim",
                    "dimensions whose product fits in 64 bits",
                    format!("{:?}", &self.dim[1..=n as usize]),
                )
            })?;
            dims.push(d as u64);
        }
        Ok((dims, count))
    }

    /// Millimetres per unit of `xyzt_units` (space bits): 0 unknown (taken
    /// as mm, as nibabel and ITK do), 1 m, 2 mm, 3 µm.
    fn check_units(&self, path: &Path) -> Result<f64> {
        match self.xyzt_units & 7 {
            0 | 2 => Ok(1.0),
            1 => Ok(1000.0),
            3 => Ok(0.001),
            other => Err(header_error(
                path,
                "xyzt_units",
                "a spatial unit code 0 (unknown), 1 (metre), 2 (mm) or 3 (micron)",
                other.to_string(),
            )),
        }
    }

    fn check_vox_offset(&self, path: &Path, pair: bool) -> Result<()> {
        let v = self.vox_offset;
        let min = if pair { 0.0 } else { self.header_size() as f64 };
        if !(v.is_finite() && v.fract() == 0.0 && v >= min && v < 9.0e15) {
            return Err(header_error(
                path,
                "vox_offset",
                format!("a whole number of bytes, at least {min} (the header size)"),
                fmt_f(v),
            ));
        }
        Ok(())
    }

    /// The sform affine, in mm.
    fn sform_affine(&self, path: &Path, mm_per_unit: f64) -> Result<Matrix4<f64>> {
        let names = ["srow_x", "srow_y", "srow_z"];
        let mut a = Matrix4::identity();
        for (r, row) in self.srow.iter().enumerate() {
            if row.iter().any(|v| !v.is_finite()) {
                return Err(header_error(path, names[r], "finite values", format!("{row:?}")));
            }
            for c in 0..4 {
                a[(r, c)] = row[c] * mm_per_unit;
            }
        }
        if linear_part(&a).determinant() == 0.0 {
            return Err(header_error(
                path,
                "srow_x/srow_y/srow_z",
                "an invertible 3x3 rotation-and-scaling part (sform_code > 0)",
                format!("{:?}", self.srow),
            ));
        }
        Ok(a)
    }

    /// The qform affine, in mm, from the quaternion, pixdim and qfac
    /// (nifti1.h, "METHOD 2").
    fn qform_affine(
        &self,
        path: &Path,
        spacing_mm: [f64; 3],
        mm_per_unit: f64,
        warnings: &mut Vec<Warning>,
    ) -> Result<Matrix4<f64>> {
        let q = self.pixdim[0];
        let qfac = if q == 1.0 || q == -1.0 {
            q
        } else if q == 0.0 {
            // nifti1.h: "pixdim[0] ... should be 1 or -1; if 0, treat as 1".
            warnings.push(Warning::new(
                Some(path),
                "pixdim[0] (qfac)",
                "qfac is 0; treated as 1 as nifti1.h prescribes",
            ));
            1.0
        } else {
            return Err(header_error(path, "pixdim[0] (qfac)", "1 or -1", fmt_f(q)));
        };
        let [b, c, d] = self.quatern;
        if ![b, c, d].iter().chain(self.qoffset.iter()).all(|v| v.is_finite()) {
            return Err(header_error(
                path,
                "quatern_b/c/d, qoffset_x/y/z",
                "finite values",
                format!("{:?} {:?}", self.quatern, self.qoffset),
            ));
        }
        let s = b * b + c * c + d * d;
        if s > 1.0 + 1e-6 {
            return Err(header_error(
                path,
                "quatern_b/c/d",
                "b^2 + c^2 + d^2 <= 1 (the vector part of a unit quaternion)",
                format!("{b}, {c}, {d} (sum of squares {s})"),
            ));
        }
        // As nifti1.h: a = sqrt(1 - b²-c²-d²); a tiny negative remainder is rounding.
        let (a, b, c, d) = if s > 1.0 - 1e-7 {
            let n = s.sqrt();
            (0.0, b / n, c / n, d / n)
        } else {
            ((1.0 - s).sqrt(), b, c, d)
        };
        let r = Matrix3::new(
            a * a + b * b - c * c - d * d,
            2.0 * (b * c - a * d),
            2.0 * (b * d + a * c),
            2.0 * (b * c + a * d),
            a * a + c * c - b * b - d * d,
            2.0 * (c * d - a * b),
            2.0 * (b * d - a * c),
            2.0 * (c * d + a * b),
            a * a + d * d - c * c - b * b,
        );
        let scale = Matrix3::from_diagonal(&nalgebra::Vector3::new(
            spacing_mm[0],
            spacing_mm[1],
            spacing_mm[2] * qfac,
        ));
        let m = r * scale;
        let mut out = Matrix4::identity();
        out.fixed_view_mut::<3, 3>(0, 0).copy_from(&m);
        for axis in 0..3 {
            out[(axis, 3)] = self.qoffset[axis] * mm_per_unit;
        }
        Ok(out)
    }
}

fn fmt_f(v: f64) -> String {
    if v.is_nan() {
        "NaN".into()
    } else {
        format!("{v}")
    }
}
