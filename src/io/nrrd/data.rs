//! Reading NRRD voxels: raw, gzip or ASCII, in the file's byte order, as a
//! label map (layers of a `.seg.nrrd` kept apart) or an intensity image.

use std::fs::File;
use std::io::Read;

use ndarray::{Array3, ShapeBuilder};

use crate::error::{ensure_fits, Error, Result, Warning};
use crate::io::{DataType, Element, ReadOptions};
use crate::volume::{LabelArray, LabelMap, LabelNames, Volume};

use super::{header_error, Encoding, NrrdFile};

impl NrrdFile {
    fn voxels(&self) -> u64 {
        (self.dims[0] * self.dims[1] * self.dims[2]) as u64 * self.layers as u64
    }

    fn data_error(&self, expected: String, found: String) -> Error {
        Error::Truncated {
            path: self.data_path.clone(),
            field: "data".into(),
            expected,
            found,
        }
    }

    /// Reads the voxels of every layer in file order (layer fastest), native
    /// byte order.
    fn read_values<T: Element + std::str::FromStr>(&self, options: &ReadOptions) -> Result<Vec<T>> {
        let n = self.voxels();
        let bytes = n.saturating_mul(self.dtype.size() as u64);
        ensure_fits(
            n.checked_mul(self.dtype.size() as u64),
            options.max_bytes,
            "voxel data",
        )
        .map_err(|expected| {
            header_error(
                &self.path,
                "sizes",
                expected,
                format!("{n} voxels of {} bytes", self.dtype.size()),
            )
        })?;
        let read = |e| Error::Read {
            path: self.data_path.clone(),
            source: e,
        };
        let mut file = File::open(&self.data_path).map_err(read)?;
        let meta = file.metadata().map_err(read)?;
        if !meta.is_file() {
            // A device or a pipe could be read forever.
            return Err(header_error(
                &self.path,
                "data file",
                "a regular file",
                format!("{} (not a regular file)", self.data_path.display()),
            ));
        }
        let len = meta.len();
        let start = match self.data_offset {
            Some(o) => o,
            None => len.saturating_sub(bytes),
        };
        let expected = format!("{bytes} bytes of {} voxels", n);
        let wanted = bytes.saturating_add(self.byte_skip);
        if self.encoding == Encoding::Raw && len.saturating_sub(start) < wanted {
            return Err(self.data_error(
                expected,
                format!(
                    "{} bytes after the header (the data size does not match the header: the file is too short)",
                    len.saturating_sub(start)
                ),
            ));
        }
        let mut stored = Vec::new();
        use std::io::{Seek, SeekFrom};
        file.seek(SeekFrom::Start(start)).map_err(read)?;
        let stored_limit = if self.encoding == Encoding::Raw {
            wanted
        } else {
            u64::MAX
        };
        file.take(stored_limit).read_to_end(&mut stored).map_err(read)?;
        let data = match self.encoding {
            Encoding::Raw => stored,
            Encoding::Gzip => {
                // Inflate no more than the header announces (one byte more
                // tells a stream that is too long); the buffer grows with
                // what the stream really holds, never with what is announced.
                let mut out = Vec::new();
                flate2::read::MultiGzDecoder::new(&stored[..])
                    .take(wanted.saturating_add(1))
                    .read_to_end(&mut out)
                    .map_err(|e| self.data_error(expected.clone(), format!("a damaged gzip stream: {e}")))?;
                out
            }
            Encoding::Ascii => {
                let text = String::from_utf8_lossy(&stored);
                let values: Vec<T> = text
                    .split_whitespace()
                    .map(|t| t.parse::<T>())
                    .collect::<std::result::Result<_, _>>()
                    .map_err(|_| self.data_error(expected.clone(), "a value that is not a number".into()))?;
                if values.len() as u64 != n {
                    return Err(self.data_error(format!("{n} values"), format!("{} values", values.len())));
                }
                return Ok(values);
            }
        };
        let skip = self.byte_skip as usize;
        let body = data.get(skip..).unwrap_or(&[]);
        if body.len() as u64 != bytes {
            return Err(self.data_error(
                expected,
                format!("{} bytes (the data size does not match the header)", body.len()),
            ));
        }
        let mut out: Vec<T> = vec![T::zeroed(); n as usize];
        bytemuck::cast_slice_mut::<T, u8>(&mut out).copy_from_slice(body);
        if self.big_endian != cfg!(target_endian = "big") && self.dtype.size() > 1 {
            out.iter_mut().for_each(|v| *v = v.swapped());
        }
        Ok(out)
    }

    /// The layers' arrays (x fastest) from interleaved values.
    fn layer_arrays<T: Element>(&self, values: Vec<T>) -> Result<Vec<Array3<T>>> {
        let d = self.dims;
        let shaped = |v: Vec<T>| {
            Array3::from_shape_vec(d.f(), v)
                .map_err(|e| header_error(&self.path, "sizes", "the announced voxels", e))
        };
        if self.layers == 1 {
            return Ok(vec![shaped(values)?]);
        }
        (0..self.layers)
            .map(|l| shaped(values.iter().skip(l).step_by(self.layers).copied().collect()))
            .collect()
    }

    /// Reads a label map. Float data must hold whole numbers. Segments of a
    /// `.seg.nrrd` become named labels; several layers become overlapping
    /// layers of the map.
    ///
    /// # Errors
    /// `Read`, `Truncated` (data size not as announced), `Data` (a float that
    /// is not a whole number).
    pub fn read_label_map(&self, options: &ReadOptions) -> Result<(LabelMap, Vec<Warning>)> {
        macro_rules! int_layers {
            ($t:ty, $variant:ident) => {{
                let v: Vec<$t> = self.read_values(options)?;
                self.layer_arrays(v)?
                    .into_iter()
                    .map(LabelArray::$variant)
                    .collect::<Vec<_>>()
            }};
        }
        let mut layers: Vec<LabelArray> = match self.dtype {
            DataType::U8 => int_layers!(u8, U8),
            DataType::I8 => int_layers!(i8, I8),
            DataType::U16 => int_layers!(u16, U16),
            DataType::I16 => int_layers!(i16, I16),
            DataType::U32 => int_layers!(u32, U32),
            DataType::I32 => int_layers!(i32, I32),
            DataType::U64 => int_layers!(u64, U64),
            DataType::I64 => int_layers!(i64, I64),
            DataType::F32 | DataType::F64 => {
                let v: Vec<f64> = if self.dtype == DataType::F32 {
                    self.read_values::<f32>(options)?
                        .into_iter()
                        .map(f64::from)
                        .collect()
                } else {
                    self.read_values::<f64>(options)?
                };
                if let Some((i, x)) = v
                    .iter()
                    .enumerate()
                    .find(|(_, x)| !(x.is_finite() && x.fract() == 0.0))
                {
                    return Err(Error::Data {
                        path: self.path.clone(),
                        field: "voxel values".into(),
                        expected: "whole numbers in a label map".into(),
                        found: format!("{x} at voxel {i} (file order)"),
                    });
                }
                let ints: Vec<i64> = v.into_iter().map(|x| x as i64).collect();
                self.layer_arrays(ints)?
                    .into_iter()
                    .map(LabelArray::I64)
                    .collect()
            }
        };
        let mut names = LabelNames::new();
        // Renumber by segment when layers share label values.
        if self.segments.iter().any(|s| s.label != s.label_value) {
            let mut renumbered: Vec<LabelArray> = Vec::with_capacity(layers.len());
            for (l, layer) in layers.iter().enumerate() {
                let map: Vec<(i64, i64)> = self
                    .segments
                    .iter()
                    .filter(|s| s.layer == l)
                    .map(|s| (s.label_value, s.label))
                    .collect();
                let mut unknown = None;
                let a = crate::with_label_array!(layer, a => a.mapv(|v| {
                    let v = crate::volume::LabelValue::to_label(v).unwrap_or(i64::MIN);
                    match map.iter().find(|(from, _)| *from == v) {
                        Some((_, to)) => *to,
                        None if v == 0 => 0,
                        None => {
                            unknown = Some(v);
                            0
                        }
                    }
                }));
                if let Some(v) = unknown {
                    return Err(Error::Data {
                        path: self.path.clone(),
                        field: format!("layer {l}"),
                        expected: "only the label values its Segment*_LabelValue fields name".into(),
                        found: format!("value {v}"),
                    });
                }
                renumbered.push(LabelArray::I64(a));
            }
            layers = renumbered;
        }
        for s in &self.segments {
            names.insert(s.label, s.name.clone());
        }
        let first = layers.remove(0);
        let map = LabelMap::new(self.grid.clone(), first, names)?.with_overlays(layers)?;
        Ok((map, Vec::new()))
    }

    /// Reads an intensity image as f32 (one layer only).
    ///
    /// # Errors
    /// As [`NrrdFile::read_label_map`]; `Header` (`sizes`) for a layered file.
    pub fn read_intensity(&self, options: &ReadOptions) -> Result<(Volume<f32>, Vec<Warning>)> {
        if self.layers != 1 {
            return Err(header_error(
                &self.path,
                "sizes",
                "a 3-D image",
                format!("{} layers", self.layers),
            ));
        }
        macro_rules! conv {
            ($t:ty) => {{
                let v: Vec<$t> = self.read_values(options)?;
                v.into_iter().map(|x| x as f32).collect::<Vec<f32>>()
            }};
        }
        let v: Vec<f32> = match self.dtype {
            DataType::U8 => conv!(u8),
            DataType::I8 => conv!(i8),
            DataType::U16 => conv!(u16),
            DataType::I16 => conv!(i16),
            DataType::U32 => conv!(u32),
            DataType::I32 => conv!(i32),
            DataType::U64 => conv!(u64),
            DataType::I64 => conv!(i64),
            DataType::F32 => self.read_values::<f32>(options)?,
            DataType::F64 => conv!(f64),
        };
        let a = Array3::from_shape_vec(self.dims.f(), v)
            .map_err(|e| header_error(&self.path, "sizes", "the announced voxels", e))?;
        Ok((Volume::new(self.grid.clone(), a)?, Vec::new()))
    }
}
