//! NIfTI-1 and NIfTI-2 files: `.nii`, `.nii.gz`, `.hdr`/`.img` pairs (either
//! half possibly gzipped), both byte orders, every integer and real datatype.
//!
//! Geometry policy (docs/references.md, as nibabel): the sform when
//! `sform_code > 0`, else the qform when `qform_code > 0`, else `pixdim`
//! alone. `xyzt_units` is honoured: a file in metres or microns is converted
//! to millimetres. Label maps are read raw (no `scl_slope`/`scl_inter`);
//! intensity images are scaled.

pub mod extension;
pub mod header;
mod write;

pub use extension::Extension;
pub use header::{GeometrySource, NiftiHeader};
pub use write::{write_label_map, write_mask, write_volume, NiftiTemplate};

use std::io::Read;
use std::path::{Path, PathBuf};

use ndarray::{Array3, ShapeBuilder};

use crate::error::{Error, Result, Warning};
use crate::grid::Grid;
use crate::io::raw::{fill, open_stream, RawData};
use crate::io::{Chunk, DataType, Element, Image, ReadOptions};
use crate::volume::{LabelArray, LabelMap, LabelNames, LabelValue, Volume};

/// An opened NIfTI file: header read and validated, voxels not yet read.
#[derive(Debug, Clone)]
pub struct NiftiFile {
    path: PathBuf,
    header: NiftiHeader,
    extensions: Vec<Extension>,
    grid: Grid,
    geometry: GeometrySource,
    dtype: DataType,
    all_dims: Vec<u64>,
    label_names: LabelNames,
    compressed: bool,
    raw: RawData,
    warnings: Vec<Warning>,
}

impl NiftiFile {
    /// Reads and validates the header (and extensions) of `path`.
    ///
    /// `path` may be a `.nii`/`.nii.gz` file, or either half of a
    /// `.hdr`/`.img` pair. Compression is recognised by content, not name.
    ///
    /// # Errors
    /// `Read` when the file (or its companion) cannot be opened; `Header`,
    /// `Truncated` or `Unsupported` naming the first field that is wrong.
    pub fn open(path: &Path) -> Result<NiftiFile> {
        let header_path = header_path_for(path);
        let compressed = crate::io::raw::is_gzip(&header_path)?;
        let mut r = open_stream(&header_path)?;
        let mut buf = vec![0u8; header::NIFTI2_HEADER_SIZE];
        let truncated_header = |found: String| Error::Truncated {
            path: header_path.clone(),
            field: "header".into(),
            expected: "a 348-byte (NIfTI-1) or 540-byte (NIfTI-2) header".into(),
            found,
        };
        let read_err = |e: std::io::Error| truncated_header(format!("a damaged stream: {e}"));
        let got = fill(&mut r, &mut buf[..4]).map_err(read_err)?;
        if got < 4 {
            return Err(truncated_header(format!("{got} bytes")));
        }
        let (version, big_endian) = header::detect_version(&header_path, [buf[0], buf[1], buf[2], buf[3]])?;
        let size = if version == 1 {
            header::NIFTI1_HEADER_SIZE
        } else {
            header::NIFTI2_HEADER_SIZE
        };
        let got = 4 + fill(&mut r, &mut buf[4..size]).map_err(read_err)?;
        if got < size {
            return Err(truncated_header(format!("{got} bytes")));
        }
        let header = header::parse(&buf[..size], version, big_endian);
        let validated = header.validate(&header_path)?;
        let mut warnings = validated.warnings;

        // Extensions: between the header and vox_offset (single file), or to
        // the end of the .hdr file (pair).
        let ext_end = if validated.pair {
            None
        } else {
            Some(header.vox_offset as u64)
        };
        let mut extensions = Vec::new();
        let mut extender = [0u8; 4];
        let has_extender = match ext_end {
            Some(end) if end >= size as u64 + 4 => fill(&mut r, &mut extender).map_err(read_err)? == 4,
            Some(_) => false,
            None => fill(&mut r, &mut extender).map_err(read_err)? == 4,
        };
        if has_extender && extender[0] != 0 {
            let mut ext_bytes = Vec::new();
            let limit = match ext_end {
                Some(end) => end - size as u64 - 4,
                None => 64 << 20,
            };
            r.take(limit)
                .read_to_end(&mut ext_bytes)
                .map_err(|e| Error::Truncated {
                    path: header_path.clone(),
                    field: "extensions".into(),
                    expected: format!("{limit} bytes of header extensions"),
                    found: format!("a damaged stream: {e}"),
                })?;
            if ext_end.is_some() && (ext_bytes.len() as u64) < limit {
                return Err(Error::Truncated {
                    path: header_path.clone(),
                    field: "extensions".into(),
                    expected: format!("{limit} bytes of header extensions before vox_offset"),
                    found: format!("{} bytes", ext_bytes.len()),
                });
            }
            extensions = extension::parse_extensions(&header_path, &ext_bytes, big_endian, &mut warnings);
        }
        let label_names = extension::label_names(&header_path, &extensions, &mut warnings);

        let data_path = if validated.pair {
            data_path_for(&header_path)?
        } else {
            header_path.clone()
        };
        let raw = RawData {
            path: data_path,
            offset: header.vox_offset as u64,
            dtype: validated.dtype,
            big_endian,
            voxels: validated.voxel_count,
            row_len: validated.all_dims[0] as usize,
        };
        Ok(NiftiFile {
            path: header_path,
            header,
            extensions,
            grid: validated.grid,
            geometry: validated.geometry,
            dtype: validated.dtype,
            all_dims: validated.all_dims,
            label_names,
            compressed,
            raw,
            warnings,
        })
    }

    /// The header file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The file holding the voxels (the same file, or the `.img` of a pair).
    pub fn data_path(&self) -> &Path {
        &self.raw.path
    }

    /// The parsed header.
    pub fn header(&self) -> &NiftiHeader {
        &self.header
    }

    /// Header extensions.
    pub fn extensions(&self) -> &[Extension] {
        &self.extensions
    }

    /// The voxel grid (first three dimensions), in mm.
    pub fn grid(&self) -> &Grid {
        &self.grid
    }

    /// Which header fields gave the geometry.
    pub fn geometry_source(&self) -> GeometrySource {
        self.geometry
    }

    /// Voxel type.
    pub fn dtype(&self) -> DataType {
        self.dtype
    }

    /// Every dimension `dim[1..=dim[0]]`.
    pub fn all_dims(&self) -> &[u64] {
        &self.all_dims
    }

    /// Label names from the header extension (TotalSegmentator's label table).
    pub fn label_names(&self) -> &LabelNames {
        &self.label_names
    }

    /// Whether the header file is gzip-compressed.
    pub fn is_compressed(&self) -> bool {
        self.compressed
    }

    /// Warnings about the header.
    pub fn warnings(&self) -> &[Warning] {
        &self.warnings
    }

    /// The geometry fields to copy into files written on this grid.
    pub fn template(&self) -> NiftiTemplate {
        NiftiTemplate::from_header(&self.header, &self.extensions, &self.grid)
    }

    /// Refuses images with more than one volume (dims 4 to 7 above 1).
    fn ensure_3d(&self) -> Result<()> {
        for (n, &d) in self.all_dims.iter().enumerate().skip(3) {
            if d > 1 {
                return Err(Error::Unsupported {
                    path: self.path.clone(),
                    field: format!("dim[{}]", n + 1),
                    found: format!("{d} volumes along dimension {} (dims {:?})", n + 1, self.all_dims),
                    hint: "liverkit reads one 3-D volume; extract it first (for example with nibabel: img.slicer[..., 0])".into(),
                });
            }
        }
        Ok(())
    }

    /// Streams the voxels in slabs of whole rows along `i` (see
    /// [`crate::io`]); `consume(chunk, first)` gets each slab in the file's
    /// own type and the linear (Fortran-order) index of its first voxel.
    ///
    /// # Errors
    /// `Unsupported` for a 4-D image, `Header` (`dim`) beyond
    /// `options.max_bytes`, `Truncated` when the data ends early, or the
    /// first error `consume` returns.
    pub fn stream_voxels<F>(&self, options: &ReadOptions, consume: F) -> Result<Vec<Warning>>
    where
        F: FnMut(Chunk<'_>, u64) -> Result<()>,
    {
        self.ensure_3d()?;
        self.raw.stream(options, consume)
    }

    /// Warnings for a label map whose header asks for scaling.
    pub fn label_scaling_warning(&self) -> Option<Warning> {
        let s = self.header.scl_slope;
        let i = self.header.scl_inter;
        let scaled = (s.is_finite() && s != 0.0 && s != 1.0)
            || (s.is_finite() && s != 0.0 && i.is_finite() && i != 0.0);
        scaled.then(|| {
            Warning::new(
                Some(&self.path),
                "scl_slope",
                format!("label map read raw: scl_slope {s} and scl_inter {i} are ignored"),
            )
        })
    }

    /// Reads the voxels as a label map. Integer types are kept; a float map is
    /// accepted only when every value is a whole number (converted to `int32`
    /// from float32, `int64` from float64). Scaling fields are ignored.
    ///
    /// # Errors
    /// As [`NiftiFile::stream_voxels`]; `Data` (`voxel values`) naming the
    /// first voxel of a float map that is not integral.
    pub fn read_label_map(&self, options: &ReadOptions) -> Result<(LabelMap, Vec<Warning>)> {
        self.ensure_3d()?;
        let mut warnings: Vec<Warning> = self.label_scaling_warning().into_iter().collect();
        let int_labels = self.read_int_labels(options, &mut warnings)?;
        let labels = match (int_labels, self.dtype) {
            (Some(l), _) => l,
            (None, DataType::F32) => {
                let a: Array3<f32> = self.read_array(options, &mut warnings)?;
                LabelArray::I32(self.integral_labels(&a, |l| i32::try_from(l).ok())?)
            }
            (None, _) => {
                let a: Array3<f64> = self.read_array(options, &mut warnings)?;
                LabelArray::I64(self.integral_labels(&a, Some)?)
            }
        };
        let map = LabelMap::new(self.grid.clone(), labels, self.label_names.clone())?;
        Ok((map, warnings))
    }

    /// Reads an integer-typed file's voxels raw, as the label array of its
    /// type; `None` for a float type (the caller reads those).
    fn read_int_labels(
        &self,
        options: &ReadOptions,
        warnings: &mut Vec<Warning>,
    ) -> Result<Option<LabelArray>> {
        Ok(Some(match self.dtype {
            DataType::U8 => LabelArray::U8(self.read_array(options, warnings)?),
            DataType::I8 => LabelArray::I8(self.read_array(options, warnings)?),
            DataType::U16 => LabelArray::U16(self.read_array(options, warnings)?),
            DataType::I16 => LabelArray::I16(self.read_array(options, warnings)?),
            DataType::U32 => LabelArray::U32(self.read_array(options, warnings)?),
            DataType::I32 => LabelArray::I32(self.read_array(options, warnings)?),
            DataType::U64 => LabelArray::U64(self.read_array(options, warnings)?),
            DataType::I64 => LabelArray::I64(self.read_array(options, warnings)?),
            DataType::F32 | DataType::F64 => return Ok(None),
        }))
    }

    /// Reads the voxels once and keeps them as a label map when every value
    /// is a whole number and none is negative, else as intensities (exactly
    /// what [`NiftiFile::read_intensity`] gives): how `kind="auto"` decides,
    /// without decoding a CT twice.
    ///
    /// # Errors
    /// As [`NiftiFile::stream_voxels`].
    pub fn read_auto(&self, options: &ReadOptions) -> Result<(Image, Vec<Warning>)> {
        self.ensure_3d()?;
        let (slope, inter) = self.scaling();
        let mut warnings = Vec::new();
        let int_labels = self.read_int_labels(options, &mut warnings)?;
        let labels = match (int_labels, self.dtype) {
            (Some(l), _) => l,
            (None, DataType::F32) => {
                let a: Array3<f32> = self.read_array(options, &mut warnings)?;
                match self.integral_labels(&a, |l| i32::try_from(l).ok().filter(|&v| v >= 0)) {
                    Ok(l) => LabelArray::I32(l),
                    Err(_) if slope == 1.0 && inter == 0.0 => {
                        return Ok((Image::Intensity(Volume::new(self.grid.clone(), a)?), warnings))
                    }
                    Err(_) => {
                        let v = a.mapv(|x| (x as f64 * slope + inter) as f32);
                        return Ok((Image::Intensity(Volume::new(self.grid.clone(), v)?), warnings));
                    }
                }
            }
            (None, _) => {
                let a: Array3<f64> = self.read_array(options, &mut warnings)?;
                match self.integral_labels(&a, |l| (l >= 0).then_some(l)) {
                    Ok(l) => LabelArray::I64(l),
                    Err(_) => {
                        let v = a.mapv(|x| (x * slope + inter) as f32);
                        return Ok((Image::Intensity(Volume::new(self.grid.clone(), v)?), warnings));
                    }
                }
            }
        };
        if labels.any_negative() {
            let v = labels.to_intensity(Some((slope, inter)));
            return Ok((Image::Intensity(Volume::new(self.grid.clone(), v)?), warnings));
        }
        let mut all: Vec<Warning> = self.label_scaling_warning().into_iter().collect();
        all.append(&mut warnings);
        let map = LabelMap::new(self.grid.clone(), labels, self.label_names.clone())?;
        Ok((Image::Labels(map), all))
    }

    /// `(scl_slope, scl_inter)` as applied to intensities: the identity
    /// unless `scl_slope` is finite and non-zero.
    fn scaling(&self) -> (f64, f64) {
        let slope = self.header.scl_slope;
        if slope.is_finite() && slope != 0.0 {
            let inter = self.header.scl_inter;
            (slope, if inter.is_finite() { inter } else { 0.0 })
        } else {
            (1.0, 0.0)
        }
    }

    /// Reads the voxels as intensities in `f32`, applying
    /// `value · scl_slope + scl_inter` when `scl_slope` is finite and non-zero.
    ///
    /// # Errors
    /// As [`NiftiFile::stream_voxels`].
    pub fn read_intensity(&self, options: &ReadOptions) -> Result<(Volume<f32>, Vec<Warning>)> {
        self.ensure_3d()?;
        let mut warnings = Vec::new();
        let (slope, inter) = self.scaling();
        fn scaled<T: Element + Into<f64>>(a: Array3<T>, slope: f64, inter: f64) -> Array3<f32> {
            a.mapv(|v| (v.into() * slope + inter) as f32)
        }
        macro_rules! lossy {
            ($t:ty) => {{
                let a: Array3<$t> = self.read_array(options, &mut warnings)?;
                a.mapv(|v| (v as f64 * slope + inter) as f32)
            }};
        }
        let data = match self.dtype {
            DataType::F32 if slope == 1.0 && inter == 0.0 => self.read_array(options, &mut warnings)?,
            DataType::U8 => scaled(self.read_array::<u8>(options, &mut warnings)?, slope, inter),
            DataType::I8 => scaled(self.read_array::<i8>(options, &mut warnings)?, slope, inter),
            DataType::U16 => scaled(self.read_array::<u16>(options, &mut warnings)?, slope, inter),
            DataType::I16 => scaled(self.read_array::<i16>(options, &mut warnings)?, slope, inter),
            DataType::U32 => scaled(self.read_array::<u32>(options, &mut warnings)?, slope, inter),
            DataType::I32 => scaled(self.read_array::<i32>(options, &mut warnings)?, slope, inter),
            DataType::F32 => scaled(self.read_array::<f32>(options, &mut warnings)?, slope, inter),
            DataType::F64 => scaled(self.read_array::<f64>(options, &mut warnings)?, slope, inter),
            DataType::U64 => lossy!(u64),
            DataType::I64 => lossy!(i64),
        };
        Ok((Volume::new(self.grid.clone(), data)?, warnings))
    }

    /// Reads the voxels into a Fortran-order array of the file's type.
    fn read_array<T: Element>(
        &self,
        options: &ReadOptions,
        warnings: &mut Vec<Warning>,
    ) -> Result<Array3<T>> {
        let (v, mut w) = self.raw.read_all::<T>(options)?;
        warnings.append(&mut w);
        let dims = self.grid.dims();
        Array3::from_shape_vec(dims.f(), v).map_err(|e| Error::Header {
            path: self.path.clone(),
            field: "dim".into(),
            expected: format!("{} voxels", self.raw.voxels),
            found: e.to_string(),
        })
    }

    /// Converts a float label array to integers, failing on the first voxel
    /// (in file order) that is not a whole number.
    fn integral_labels<F: LabelValue + std::fmt::Display, I: Clone + Default>(
        &self,
        a: &Array3<F>,
        narrow: impl Fn(i64) -> Option<I>,
    ) -> Result<Array3<I>> {
        let dims = self.grid.dims();
        let mut out = Array3::from_elem(dims.f(), I::default());
        for (((i, j, k), v), o) in a.indexed_iter().zip(out.iter_mut()) {
            match v.to_label().and_then(&narrow) {
                Some(l) => *o = l,
                None => {
                    return Err(Error::Data {
                        path: self.path.clone(),
                        field: "voxel values".into(),
                        expected: "whole numbers in a float label map".into(),
                        found: format!("{v} at voxel ({i}, {j}, {k})"),
                    })
                }
            }
        }
        Ok(out)
    }
}

/// The header file of `path`: `x.img` → `x.hdr` (or `x.hdr.gz`), else `path`.
fn header_path_for(path: &Path) -> PathBuf {
    let s = path.to_string_lossy();
    for (img, hdr) in [(".img.gz", ".hdr.gz"), (".img", ".hdr")] {
        if let Some(stem) = s.strip_suffix(img) {
            for candidate in [
                format!("{stem}{hdr}"),
                format!("{stem}.hdr"),
                format!("{stem}.hdr.gz"),
            ] {
                let p = PathBuf::from(&candidate);
                if p.exists() {
                    return p;
                }
            }
            return PathBuf::from(format!("{stem}{hdr}"));
        }
    }
    path.to_path_buf()
}

/// The data file of a `.hdr` header: `x.img` or `x.img.gz`.
fn data_path_for(header: &Path) -> Result<PathBuf> {
    let s = header.to_string_lossy();
    let stem = s.strip_suffix(".hdr.gz").or_else(|| s.strip_suffix(".hdr"));
    let Some(stem) = stem else {
        return Err(Error::Header {
            path: header.to_path_buf(),
            field: "magic".into(),
            expected: "\"n+1\"/\"n+2\" for a single .nii file (\"ni1\"/\"ni2\" marks a .hdr whose voxels are in a .img file)".into(),
            found: "a header-only magic in a file not named .hdr".into(),
        });
    };
    let candidates = [format!("{stem}.img"), format!("{stem}.img.gz")];
    for c in &candidates {
        let p = PathBuf::from(c);
        if p.exists() {
            return Ok(p);
        }
    }
    Err(Error::Read {
        path: PathBuf::from(&candidates[0]),
        source: std::io::Error::new(
            std::io::ErrorKind::NotFound,
            format!(
                "the voxel file of header {} (.img or .img.gz) does not exist",
                header.display()
            ),
        ),
    })
}
