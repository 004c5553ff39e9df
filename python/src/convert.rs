//! From Python values to the core crate's volumes: numpy arrays of any
//! integer (or boolean) dtype in C, Fortran or strided order, `Volume`s
//! read by `liverkit.load`, and paths.

use std::ops::Deref;
use std::path::PathBuf;

use nalgebra::Matrix4;
use ndarray::{Array3, ShapeBuilder};
use numpy::{Element, PyArray3, PyReadonlyArray3, PyUntypedArray, PyUntypedArrayMethods};
use pyo3::prelude::*;

use liverkit::io::{Image, ReadOptions};
use liverkit::volume::{LabelArray, LabelMap, LabelNames, Mask, Volume};
use liverkit::{Error, Grid, Warning};

use crate::errors::to_py;
use crate::PyVolume;

/// What a `Volume` holds.
pub enum VolumeData {
    /// Integer labels with their names.
    Labels(LabelMap),
    /// Intensities (CT in HU, MR).
    Image(Volume<f32>),
}

impl VolumeData {
    /// Its grid.
    pub fn grid(&self) -> &Grid {
        match self {
            VolumeData::Labels(m) => m.grid(),
            VolumeData::Image(v) => v.grid(),
        }
    }
}

/// A numpy array sharing the memory of `data`.
///
/// # Safety
/// `container` must own `data` and keep it unchanged while the array lives.
pub unsafe fn borrow_array<'py>(data: &VolumeData, container: Bound<'py, PyAny>) -> Bound<'py, PyAny> {
    macro_rules! borrow {
        ($a:expr) => {
            PyArray3::borrow_from_array($a, container).into_any()
        };
    }
    match data {
        VolumeData::Image(v) => borrow!(v.data()),
        VolumeData::Labels(m) => match m.labels() {
            LabelArray::U8(a) => borrow!(a),
            LabelArray::I8(a) => borrow!(a),
            LabelArray::U16(a) => borrow!(a),
            LabelArray::I16(a) => borrow!(a),
            LabelArray::U32(a) => borrow!(a),
            LabelArray::I32(a) => borrow!(a),
            LabelArray::U64(a) => borrow!(a),
            LabelArray::I64(a) => borrow!(a),
        },
    }
}

/// Reads a file as `kind`: `labels`, `image`, or `auto` — a DICOM SEG or a
/// `.seg.nrrd` is a label map, a DICOM image series an image; otherwise a
/// file whose values are all whole numbers, none negative, is a label map,
/// and anything else (CT with negative HU, non-integral values) an image.
pub fn load(
    path: &std::path::Path,
    kind: &str,
    read: &ReadOptions,
) -> Result<(VolumeData, Vec<Warning>), Error> {
    let labels = |l: liverkit::io::Loaded<_>| (VolumeData::Labels(l.value), l.warnings);
    let image = |l: liverkit::io::Loaded<_>| (VolumeData::Image(l.value), l.warnings);
    match kind {
        "labels" => liverkit::io::open(path, read)?.read_label_map().map(labels),
        "image" => liverkit::io::open(path, read)?.read_intensity().map(image),
        // Opened and decoded once, whatever it turns out to be.
        "auto" => {
            let l = liverkit::io::open(path, read)?.read_auto()?;
            Ok(match l.value {
                Image::Labels(m) => (VolumeData::Labels(m), l.warnings),
                Image::Intensity(v) => (VolumeData::Image(v), l.warnings),
            })
        }
        other => Err(Error::parameter("kind", other, "auto, labels or image")),
    }
}

/// Where the voxels of an array are in the world.
pub struct Geometry {
    /// Voxel spacing, mm.
    pub spacing_mm: Option<[f64; 3]>,
    /// Voxel-to-world affine (rows), RAS+ mm.
    pub affine: Option<[[f64; 4]; 4]>,
}

impl Geometry {
    /// The grid of an array of shape `dims`: from the affine, from the
    /// spacing (axes along R, A, S from the origin), or the grid of the
    /// case's label map.
    pub fn grid(&self, dims: [usize; 3], default: Option<&Grid>) -> Result<Grid, Error> {
        if let Some(rows) = self.affine {
            let m = Matrix4::from_fn(|r, c| rows[r][c]);
            let grid = Grid::new(dims, m)?;
            if let Some(s) = self.spacing_mm {
                let g = grid.spacing_mm();
                if (0..3).any(|i| (g[i] - s[i]).abs() > 1e-6 * s[i].abs().max(1.0)) {
                    return Err(Error::parameter(
                        "spacing_mm",
                        format!("{s:?}"),
                        format!("the spacing of the affine, {g:?} (or leave spacing_mm out)"),
                    ));
                }
            }
            return Ok(grid);
        }
        if let Some(s) = self.spacing_mm {
            return Grid::from_spacing(dims, s);
        }
        match default {
            Some(g) => Grid::new(dims, *g.affine()),
            None => Err(Error::parameter(
                "spacing_mm",
                "nothing",
                "the voxel spacing of the array in mm (or an affine, or a Volume from liverkit.load)",
            )),
        }
    }
}

/// A label map owned here or borrowed from a `Volume`.
pub enum MapRef<'a> {
    /// Borrowed from a frozen `Volume`.
    Borrowed(&'a LabelMap),
    /// Made from an array.
    Owned(Box<LabelMap>),
}

impl Deref for MapRef<'_> {
    type Target = LabelMap;
    fn deref(&self) -> &LabelMap {
        match self {
            MapRef::Borrowed(m) => m,
            MapRef::Owned(m) => m,
        }
    }
}

impl MapRef<'_> {
    /// The map itself (a copy when borrowed).
    pub fn into_owned(self) -> LabelMap {
        match self {
            MapRef::Borrowed(m) => m.clone(),
            MapRef::Owned(m) => *m,
        }
    }
}

/// An input: a file to read, or a label map in memory with its name for
/// reports.
pub enum Source<'a> {
    /// A path (str or os.PathLike).
    Path(PathBuf),
    /// A `Volume` or an array.
    Map {
        /// `<role>` for an array, the file of a `Volume`.
        name: PathBuf,
        /// The labels.
        map: MapRef<'a>,
        /// Warnings of the conversion.
        warnings: Vec<Warning>,
    },
}

impl<'a> Source<'a> {
    /// Interprets `obj` for `role`.
    pub fn of(
        py: Python<'_>,
        obj: &'a Bound<'_, PyAny>,
        role: &str,
        geometry: &Geometry,
        default: Option<&Grid>,
    ) -> PyResult<Source<'a>> {
        if let Ok(v) = obj.cast::<PyVolume>() {
            let v: &'a PyVolume = v.get();
            let VolumeData::Labels(map) = &v.data else {
                return Err(to_py(
                    py,
                    Error::parameter(
                        role,
                        format!("an image Volume{}", shown(&v.path)),
                        "a label map or mask (liverkit.load(path, kind='labels'))",
                    ),
                ));
            };
            return Ok(Source::Map {
                name: v.path.clone().unwrap_or_else(|| format!("<{role}>").into()),
                map: MapRef::Borrowed(map),
                warnings: Vec::new(),
            });
        }
        if obj.is_instance_of::<PyUntypedArray>() {
            let labels = label_array(py, obj, role)?;
            let grid = geometry.grid(labels.shape(), default).map_err(|e| to_py(py, e))?;
            let map = LabelMap::new(grid, labels, LabelNames::new()).map_err(|e| to_py(py, e))?;
            return Ok(Source::Map {
                name: format!("<{role}>").into(),
                map: MapRef::Owned(Box::new(map)),
                warnings: Vec::new(),
            });
        }
        match obj.extract::<PathBuf>() {
            Ok(p) => Ok(Source::Path(p)),
            Err(_) => Err(pyo3::exceptions::PyTypeError::new_err(format!(
                "{role}: expected a path, a liverkit.Volume or a 3-D numpy array, found {}",
                obj.get_type().name()?
            ))),
        }
    }
}

fn shown(path: &Option<PathBuf>) -> String {
    path.as_ref()
        .map(|p| format!(" of {}", p.display()))
        .unwrap_or_default()
}

/// The file a `Volume` was read from.
pub fn volume_path(obj: &Bound<'_, PyAny>) -> Option<PathBuf> {
    obj.cast::<PyVolume>().ok().and_then(|v| v.get().path.clone())
}

/// The grid of a `Volume`.
pub fn volume_grid(obj: &Bound<'_, PyAny>) -> Option<Grid> {
    obj.cast::<PyVolume>().ok().map(|v| v.get().data.grid().clone())
}

/// Copies a 3-D array into an owned one, keeping C or Fortran order.
fn owned<T: Element + Copy>(obj: &Bound<'_, PyAny>) -> Option<Array3<T>> {
    let a = obj.extract::<PyReadonlyArray3<'_, T>>().ok()?;
    Some(a.as_array().to_owned())
}

fn check_3d(py: Python<'_>, obj: &Bound<'_, PyAny>, role: &str) -> PyResult<()> {
    let a = obj.cast::<PyUntypedArray>()?;
    if a.ndim() != 3 {
        return Err(to_py(
            py,
            Error::parameter(
                role,
                format!("an array of shape {:?}", a.shape()),
                "a 3-D array indexed [i, j, k]",
            ),
        ));
    }
    Ok(())
}

/// A label array from a numpy array of any integer or boolean dtype.
pub fn label_array(py: Python<'_>, obj: &Bound<'_, PyAny>, role: &str) -> PyResult<LabelArray> {
    check_3d(py, obj, role)?;
    if let Some(a) = owned::<bool>(obj) {
        return Ok(LabelArray::U8(a.mapv(u8::from)));
    }
    macro_rules! try_types {
        ($($t:ty => $v:ident),*) => {
            $(if let Some(a) = owned::<$t>(obj) { return Ok(LabelArray::$v(a)); })*
        };
    }
    try_types!(u8 => U8, i8 => I8, u16 => U16, i16 => I16, u32 => U32, i32 => I32, u64 => U64, i64 => I64);
    let dtype = obj.getattr("dtype")?.str()?.to_string();
    Err(to_py(
        py,
        Error::parameter(
            role,
            format!("an array of dtype {dtype}"),
            "an integer or boolean array of labels",
        ),
    ))
}

/// A mask (non-zero voxels) from a `Volume` or an array of any integer,
/// boolean or float dtype.
pub fn mask_of(py: Python<'_>, obj: &Bound<'_, PyAny>, geometry: &Geometry) -> PyResult<Mask> {
    if let Ok(v) = obj.cast::<PyVolume>() {
        return Ok(match &v.get().data {
            VolumeData::Labels(m) => m.nonzero_mask(),
            VolumeData::Image(i) => {
                Volume::new(i.grid().clone(), i.data().mapv(|x| x != 0.0)).map_err(|e| to_py(py, e))?
            }
        });
    }
    if !obj.is_instance_of::<PyUntypedArray>() {
        return Err(pyo3::exceptions::PyTypeError::new_err(format!(
            "mask: expected a liverkit.Volume or a 3-D numpy array, found {}",
            obj.get_type().name()?
        )));
    }
    check_3d(py, obj, "mask")?;
    let data: Array3<bool> = if let Some(a) = owned::<bool>(obj) {
        a
    } else {
        macro_rules! nonzero {
            ($($t:ty),*) => {
                $(if let Ok(a) = obj.extract::<PyReadonlyArray3<'_, $t>>() {
                    // Keep the memory order of the input.
                    let view = a.as_array();
                    let mut out = if view.t().is_standard_layout() {
                        Array3::from_elem(view.raw_dim().f(), false)
                    } else {
                        Array3::from_elem(view.raw_dim(), false)
                    };
                    ndarray::Zip::from(&mut out).and(&view).par_for_each(|o, &v| *o = v != (0 as $t));
                    out
                } else)*
                {
                    let dtype = obj.getattr("dtype")?.str()?.to_string();
                    return Err(to_py(py, Error::parameter("mask", format!("an array of dtype {dtype}"), "a boolean or numeric array")));
                }
            };
        }
        nonzero!(u8, i8, u16, i16, u32, i32, u64, i64, f32, f64)
    };
    let s = data.shape();
    let grid = geometry
        .grid([s[0], s[1], s[2]], None)
        .map_err(|e| to_py(py, e))?;
    Volume::new(grid, data).map_err(|e| to_py(py, e))
}

/// A `Volume` made from an array: labels for integer and boolean dtypes,
/// an image (as float32) for float dtypes.
pub fn volume_of_array(
    py: Python<'_>,
    obj: &Bound<'_, PyAny>,
    geometry: &Geometry,
    names: LabelNames,
) -> PyResult<VolumeData> {
    if !obj.is_instance_of::<PyUntypedArray>() {
        return Err(pyo3::exceptions::PyTypeError::new_err(
            "array: expected a 3-D numpy array",
        ));
    }
    check_3d(py, obj, "array")?;
    let float = |a: Array3<f32>| -> PyResult<VolumeData> {
        let s = a.shape();
        let grid = geometry
            .grid([s[0], s[1], s[2]], None)
            .map_err(|e| to_py(py, e))?;
        Ok(VolumeData::Image(Volume::new(grid, a).map_err(|e| to_py(py, e))?))
    };
    if let Some(a) = owned::<f32>(obj) {
        return float(a);
    }
    if let Ok(a) = obj.extract::<PyReadonlyArray3<'_, f64>>() {
        return float(a.as_array().mapv(|v| v as f32));
    }
    let labels = label_array(py, obj, "array")?;
    let grid = geometry.grid(labels.shape(), None).map_err(|e| to_py(py, e))?;
    Ok(VolumeData::Labels(
        LabelMap::new(grid, labels, names).map_err(|e| to_py(py, e))?,
    ))
}

/// A role given as text (`"2,3"`, `"liver"`, a path) or as values (an int
/// or a list), as the command line writes it.
pub fn spec_text(v: &Bound<'_, PyAny>) -> PyResult<String> {
    if let Ok(s) = v.extract::<String>() {
        return Ok(s);
    }
    if let Ok(i) = v.extract::<i64>() {
        return Ok(i.to_string());
    }
    if let Ok(items) = v.extract::<Vec<Bound<'_, PyAny>>>() {
        let parts: PyResult<Vec<String>> = items.iter().map(|x| Ok(x.str()?.to_string())).collect();
        return Ok(parts?.join(","));
    }
    Ok(v.str()?.to_string())
}
