//! Volumes: a 3-D array paired with the [`Grid`] that places it in the world.
//!
//! Arrays are indexed `[i, j, k]` with shape `grid.dims()`. Arrays that
//! liverkit creates are in Fortran (column-major) memory order, `i` varying
//! fastest, exactly as the voxels lie in a NIfTI file; functions accept any
//! memory order (see `docs/conventions.md`).

use std::collections::BTreeMap;

use ndarray::{Array3, ShapeBuilder};
use rayon::prelude::*;

use crate::error::{parameter_error, Result};
use crate::grid::Grid;

/// A 3-D array of voxels on a grid.
#[derive(Debug, Clone, PartialEq)]
pub struct Volume<T> {
    grid: Grid,
    data: Array3<T>,
}

impl<T> Volume<T> {
    /// Pairs `data` with `grid`.
    ///
    /// # Errors
    /// `Parameter` when the array's shape is not `grid.dims()`.
    pub fn new(grid: Grid, data: Array3<T>) -> Result<Volume<T>> {
        let shape = data.shape();
        if shape != grid.dims() {
            return Err(parameter_error(
                "data",
                format!("an array of shape {shape:?}"),
                format!("an array of shape {:?} (the grid's dims)", grid.dims()),
            ));
        }
        Ok(Volume { grid, data })
    }

    /// A volume filled with `value`, in Fortran memory order.
    pub fn filled(grid: Grid, value: T) -> Volume<T>
    where
        T: Clone,
    {
        let data = Array3::from_elem(grid.dims().f(), value);
        Volume { grid, data }
    }

    /// The grid.
    pub fn grid(&self) -> &Grid {
        &self.grid
    }

    /// The voxels, indexed `[i, j, k]`.
    pub fn data(&self) -> &Array3<T> {
        &self.data
    }

    /// The voxels, mutable.
    pub fn data_mut(&mut self) -> &mut Array3<T> {
        &mut self.data
    }

    /// Grid and array.
    pub fn into_parts(self) -> (Grid, Array3<T>) {
        (self.grid, self.data)
    }
}

/// A binary mask: `true` inside.
pub type Mask = Volume<bool>;

impl Volume<bool> {
    /// Voxels inside. Reads the array in its memory order: `data().iter()`
    /// walks the logical (C) order, which on a Fortran-ordered scan strides
    /// through memory and took over a second on 512 × 512 × 300.
    pub fn count(&self) -> usize {
        match self.data.as_slice_memory_order() {
            Some(s) => s
                .par_chunks(1 << 20)
                .map(|c| c.iter().filter(|&&v| v).count())
                .sum(),
            None => self.data.iter().filter(|&&v| v).count(),
        }
    }

    /// Whether any voxel is inside (in memory order, see [`Volume::count`]).
    pub fn any(&self) -> bool {
        match self.data.as_slice_memory_order() {
            Some(s) => any_set(s),
            None => self.data.iter().any(|&v| v),
        }
    }
}

/// Label names by label value (for example `5 → "liver"`).
pub type LabelNames = BTreeMap<i64, String>;

/// An integer voxel type that can hold labels. Float label maps are
/// converted on reading (see [`crate::io`]), so only integers appear here.
pub trait LabelValue: Copy + PartialEq + Send + Sync + std::fmt::Display + 'static {
    /// The label as `i64`, or `None` when it does not fit (a `u64` above
    /// `i64::MAX`, a float that is not an integer).
    fn to_label(self) -> Option<i64>;

    /// The value holding `label`, or `None` when this type cannot.
    fn from_label(label: i64) -> Option<Self>;

    /// Bits of a lookup table indexed by [`LabelValue::lut_index`]: 8 or 16
    /// for the narrow integer types, 0 (no table) for the others.
    const LUT_BITS: u32 = 0;

    /// The value's bit pattern as a table index (for `LUT_BITS > 0`).
    #[inline]
    fn lut_index(self) -> usize {
        0
    }

    /// The value whose table index is `i` (for `LUT_BITS > 0`).
    fn from_lut_index(_i: usize) -> Option<Self> {
        None
    }
}

macro_rules! label_value_narrow {
    ($($t:ty => $u:ty),*) => {$(
        impl LabelValue for $t {
            #[inline]
            fn to_label(self) -> Option<i64> {
                Some(i64::from(self))
            }
            #[inline]
            fn from_label(label: i64) -> Option<Self> {
                <$t>::try_from(label).ok()
            }
            const LUT_BITS: u32 = <$u>::BITS;
            #[inline]
            fn lut_index(self) -> usize {
                usize::from(self as $u)
            }
            fn from_lut_index(i: usize) -> Option<Self> {
                <$u>::try_from(i).ok().map(|u| u as $t)
            }
        }
    )*};
}
label_value_narrow!(u8 => u8, i8 => u8, u16 => u16, i16 => u16);

macro_rules! label_value_int {
    ($($t:ty),*) => {$(
        impl LabelValue for $t {
            #[inline]
            fn to_label(self) -> Option<i64> {
                i64::try_from(self).ok()
            }
            #[inline]
            fn from_label(label: i64) -> Option<Self> {
                <$t>::try_from(label).ok()
            }
        }
    )*};
}
label_value_int!(u32, i32, u64, i64);

macro_rules! label_value_float {
    ($($t:ty),*) => {$(
        impl LabelValue for $t {
            #[inline]
            fn to_label(self) -> Option<i64> {
                // Exactly integral and inside the i64 range [-2^63, 2^63).
                const TWO_POW_63: f64 = 9_223_372_036_854_775_808.0;
                let x = self as f64;
                if x.is_finite() && x.fract() == 0.0 && (-TWO_POW_63..TWO_POW_63).contains(&x) {
                    Some(x as i64)
                } else {
                    None
                }
            }
            #[inline]
            fn from_label(label: i64) -> Option<Self> {
                let v = label as $t;
                (v.to_label() == Some(label)).then_some(v)
            }
        }
    )*};
}
label_value_float!(f32, f64);

/// The lookup-table bits of `a`'s element type ([`LabelValue::LUT_BITS`]).
fn lut_bits<T: LabelValue>(_a: &Array3<T>) -> u32 {
    T::LUT_BITS
}

/// The value of `a`'s element type at table index `i`.
fn from_lut_index_like<T: LabelValue>(_a: &Array3<T>, i: usize) -> Option<T> {
    T::from_lut_index(i)
}

/// Sets `out` where `a` holds one of `wanted` (`invert`: none of them);
/// `first`: the first layer, assigned rather than OR-ed. Up to 4 values are
/// compared without branches, so that the loop vectorises; more are looked
/// up in a table (narrow types) or compared one by one.
fn mark_where<T: LabelValue>(a: &Array3<T>, out: &mut Array3<bool>, wanted: &[T], invert: bool, first: bool) {
    let same_layout = a.strides() == out.strides();
    let src = a.as_slice_memory_order().filter(|_| same_layout);
    let (Some(src), Some(dst)) = (src, out.as_slice_memory_order_mut()) else {
        ndarray::Zip::from(out)
            .and(a)
            .par_for_each(|o, v| *o |= wanted.contains(v) != invert);
        return;
    };
    // The first layer assigns rather than ORs: reading a fresh zeroed page
    // before writing it costs the kernel a second page fault.
    const CHUNK: usize = 1 << 18;
    let mut run = |hit: &(dyn Fn(&mut [bool], &[T]) + Sync)| {
        dst.par_chunks_mut(CHUNK)
            .zip(src.par_chunks(CHUNK))
            .for_each(|(o, i)| hit(o, i));
    };
    // A few values: compared with a fixed count, the loop vectorises (a
    // table lookup per voxel does not).
    fn fixed<T: LabelValue, const N: usize>(
        w: &[T],
        invert: bool,
        first: bool,
    ) -> impl Fn(&mut [bool], &[T]) + Sync {
        let w: [T; N] = std::array::from_fn(|n| w[n]);
        move |o, i| {
            mark_chunk(
                o,
                i,
                |v| w.iter().fold(false, |h, x| h | (*x == v)) != invert,
                first,
            )
        }
    }
    match wanted.len() {
        1 => run(&fixed::<T, 1>(wanted, invert, first)),
        2 => run(&fixed::<T, 2>(wanted, invert, first)),
        3 => run(&fixed::<T, 3>(wanted, invert, first)),
        4 => run(&fixed::<T, 4>(wanted, invert, first)),
        _ if T::LUT_BITS > 0 => {
            let mut lut = vec![invert; 1 << T::LUT_BITS];
            for w in wanted {
                lut[w.lut_index()] = !invert;
            }
            run(&|o: &mut [bool], i: &[T]| mark_chunk(o, i, |v: T| lut[v.lut_index()], first));
        }
        _ => run(&|o: &mut [bool], i: &[T]| {
            mark_chunk(
                o,
                i,
                |v: T| wanted.iter().fold(false, |h, w| h | (*w == v)) != invert,
                first,
            )
        }),
    }
}

/// One chunk of [`mark_where`]: `o = hit(i)` on the first layer, `o |= hit(i)` after.
#[inline]
fn mark_chunk<T: Copy>(o: &mut [bool], i: &[T], hit: impl Fn(T) -> bool, first: bool) {
    if first {
        for (o, &v) in o.iter_mut().zip(i) {
            *o = hit(v);
        }
    } else {
        for (o, &v) in o.iter_mut().zip(i) {
            *o |= hit(v);
        }
    }
}

/// `label` in the element type of `a`, when that type can hold it.
fn from_label_like<T: LabelValue>(_a: &Array3<T>, label: i64) -> Option<T> {
    T::from_label(label)
}

impl<T: Clone> Volume<T> {
    /// This volume's voxels on `target`, a grid that samples the same points
    /// with its axes permuted or reversed ([`Grid::axis_map_onto`]): an exact
    /// copy, no interpolation. `None` when the grids sample different points.
    pub fn on_grid_exactly(&self, target: &Grid) -> Option<Volume<T>> {
        let map = self.grid.axis_map_onto(target)?;
        let mut view = self.data.view().permuted_axes(map.source_axis);
        for (axis, &reversed) in map.reversed.iter().enumerate() {
            if reversed {
                view.invert_axis(ndarray::Axis(axis));
            }
        }
        Some(Volume {
            grid: target.clone(),
            data: view.to_owned(),
        })
    }

    /// This volume on `target`: as is when the grids are the same (within
    /// [`Grid::ensure_same`]'s tolerance), exactly carried over when `target`
    /// samples the same points in another axis order
    /// ([`Volume::on_grid_exactly`]), refused otherwise.
    ///
    /// # Errors
    /// `GridMismatch` naming both grids (`self_name`, `target_name`).
    pub fn on_grid(&self, target: &Grid, self_name: &str, target_name: &str) -> Result<Volume<T>> {
        match target.ensure_same(&self.grid, target_name, self_name) {
            Ok(()) => Ok(Volume {
                grid: target.clone(),
                data: self.data.clone(),
            }),
            Err(mismatch) => self.on_grid_exactly(target).ok_or(mismatch),
        }
    }
}

/// The voxels of a label map, in the integer type of the file.
#[derive(Debug, Clone, PartialEq)]
#[allow(missing_docs)]
pub enum LabelArray {
    U8(Array3<u8>),
    I8(Array3<i8>),
    U16(Array3<u16>),
    I16(Array3<i16>),
    U32(Array3<u32>),
    I32(Array3<i32>),
    U64(Array3<u64>),
    I64(Array3<i64>),
}

/// Runs `$body` with `$a` bound to the typed array inside a [`LabelArray`].
#[macro_export]
#[doc(hidden)]
macro_rules! with_label_array {
    ($arr:expr, $a:ident => $body:expr) => {
        match $arr {
            $crate::volume::LabelArray::U8($a) => $body,
            $crate::volume::LabelArray::I8($a) => $body,
            $crate::volume::LabelArray::U16($a) => $body,
            $crate::volume::LabelArray::I16($a) => $body,
            $crate::volume::LabelArray::U32($a) => $body,
            $crate::volume::LabelArray::I32($a) => $body,
            $crate::volume::LabelArray::U64($a) => $body,
            $crate::volume::LabelArray::I64($a) => $body,
        }
    };
}

impl LabelArray {
    /// The values as intensities in `f32`, in the same memory order:
    /// `(v · slope + inter)` computed in `f64` when a scaling is given (as
    /// NIfTI's `scl_slope`/`scl_inter` are applied), else each value
    /// converted directly. An image read as a label map is thus turned into
    /// the image without reading its file again.
    pub fn to_intensity(&self, scaling: Option<(f64, f64)>) -> Array3<f32> {
        match scaling {
            Some((slope, inter)) => {
                with_label_array!(self, a => a.mapv(|v| (v as f64 * slope + inter) as f32))
            }
            None => with_label_array!(self, a => a.mapv(|v| v as f32)),
        }
    }

    /// Whether any value is negative (never, for the unsigned types): an
    /// image such as a CT in HU rather than a label map.
    pub fn any_negative(&self) -> bool {
        with_label_array!(self, a => a.iter().any(|v| v.to_label().is_some_and(|l| l < 0)))
    }

    /// Shape `[ni, nj, nk]`.
    pub fn shape(&self) -> [usize; 3] {
        with_label_array!(self, a => { let s = a.shape(); [s[0], s[1], s[2]] })
    }

    /// The label at voxel `[i, j, k]`, `None` outside the array.
    pub fn get(&self, ijk: [usize; 3]) -> Option<i64> {
        with_label_array!(self, a => a.get(ijk).and_then(|v| v.to_label()))
    }

    /// Name of the element type (`uint8`, `int16`, …).
    pub fn type_name(&self) -> &'static str {
        match self {
            LabelArray::U8(_) => "uint8",
            LabelArray::I8(_) => "int8",
            LabelArray::U16(_) => "uint16",
            LabelArray::I16(_) => "int16",
            LabelArray::U32(_) => "uint32",
            LabelArray::I32(_) => "int32",
            LabelArray::U64(_) => "uint64",
            LabelArray::I64(_) => "int64",
        }
    }
}

/// A label map: integer labels on a grid, with optional label names.
///
/// Segmentations whose segments overlap (DICOM SEG, 3D Slicer `.seg.nrrd`
/// layers) carry further layers, the overlays: a voxel can hold one label in
/// each layer, and every label value belongs to one layer only. Masks,
/// label lookups and volumes take every layer into account.
#[derive(Debug, Clone, PartialEq)]
pub struct LabelMap {
    grid: Grid,
    labels: LabelArray,
    names: LabelNames,
    overlays: Vec<LabelArray>,
    codes: BTreeMap<i64, Vec<String>>,
}

impl LabelMap {
    /// Pairs labels with a grid.
    ///
    /// # Errors
    /// `Parameter` when the array's shape is not `grid.dims()`.
    pub fn new(grid: Grid, labels: LabelArray, names: LabelNames) -> Result<LabelMap> {
        if labels.shape() != grid.dims() {
            return Err(parameter_error(
                "labels",
                format!("an array of shape {:?}", labels.shape()),
                format!("an array of shape {:?} (the grid's dims)", grid.dims()),
            ));
        }
        Ok(LabelMap {
            grid,
            labels,
            names,
            overlays: Vec::new(),
            codes: BTreeMap::new(),
        })
    }

    /// Adds layers of labels that overlap the first (see the type's doc).
    ///
    /// # Errors
    /// `Parameter` when a layer's shape is not the grid's.
    pub fn with_overlays(mut self, overlays: Vec<LabelArray>) -> Result<LabelMap> {
        if let Some(bad) = overlays.iter().find(|o| o.shape() != self.grid.dims()) {
            return Err(parameter_error(
                "overlay",
                format!("an array of shape {:?}", bad.shape()),
                format!("an array of shape {:?} (the grid's dims)", self.grid.dims()),
            ));
        }
        self.overlays = overlays;
        Ok(self)
    }

    /// Adds coded names of labels (`SCT^10200004`), by which roles can
    /// choose them besides their names.
    pub fn with_codes(mut self, codes: BTreeMap<i64, Vec<String>>) -> LabelMap {
        self.codes = codes;
        self
    }

    /// Coded names of labels (DICOM SEG property types).
    pub fn codes(&self) -> &BTreeMap<i64, Vec<String>> {
        &self.codes
    }

    /// The layers beyond the first (empty for an ordinary label map).
    pub fn overlays(&self) -> &[LabelArray] {
        &self.overlays
    }

    /// Every layer, the first one first.
    pub fn layers(&self) -> impl Iterator<Item = &LabelArray> {
        std::iter::once(&self.labels).chain(self.overlays.iter())
    }

    /// The grid.
    pub fn grid(&self) -> &Grid {
        &self.grid
    }

    /// The label voxels.
    pub fn labels(&self) -> &LabelArray {
        &self.labels
    }

    /// Label names by value (from the file, where it has them).
    pub fn names(&self) -> &LabelNames {
        &self.names
    }

    /// The voxels holding any of `values` within voxels `lo..=hi`
    /// (inclusive), as a mask on that part of the grid ([`Grid::crop`]):
    /// a structure cut to its bounding box.
    ///
    /// # Errors
    /// `Parameter` when the box is not inside the grid.
    pub fn mask_of_within(&self, values: &[i64], lo: [usize; 3], hi: [usize; 3]) -> Result<Mask> {
        let grid = self.grid.crop(lo, hi)?;
        let mut out = Array3::from_elem(grid.dims().f(), false);
        for layer in self.layers() {
            with_label_array!(layer, a => {
                let wanted: Vec<_> = values.iter().filter_map(|&l| from_label_like(a, l)).collect();
                let part = a.slice(ndarray::s![lo[0]..=hi[0], lo[1]..=hi[1], lo[2]..=hi[2]]);
                ndarray::Zip::from(&mut out).and(&part).par_for_each(|o, v| *o |= wanted.contains(v));
            });
        }
        Ok(Volume { grid, data: out })
    }

    /// The mask of voxels whose label is one of `values` (in any layer).
    pub fn mask_of(&self, values: &[i64]) -> Mask {
        self.mask_where(values, false)
    }

    /// The mask of every non-zero voxel.
    pub fn nonzero_mask(&self) -> Mask {
        self.mask_where(&[0], true)
    }

    /// Voxels whose label is among `values` (`invert`: not among them), in
    /// any layer.
    fn mask_where(&self, values: &[i64], invert: bool) -> Mask {
        let dims = self.grid.dims();
        let mut out = Array3::from_elem(dims.f(), false);
        for (n, layer) in self.layers().enumerate() {
            with_label_array!(layer, a => {
                // Compare in the array's own type: the labels it can hold.
                let wanted: Vec<_> = values.iter().filter_map(|&l| from_label_like(a, l)).collect();
                mark_where(a, &mut out, &wanted, invert, n == 0);
            });
        }
        Volume {
            grid: self.grid.clone(),
            data: out,
        }
    }

    /// Whether some voxel holds `label` (stops at the first).
    pub fn contains_label(&self, label: i64) -> bool {
        self.contains_labels(&[label])[0]
    }

    /// Whether some voxel holds each of `labels`: one pass over the data
    /// that stops once every label is found (each chunk a byte or element
    /// search for the labels not yet seen).
    pub fn contains_labels(&self, labels: &[i64]) -> Vec<bool> {
        use std::sync::atomic::{AtomicBool, Ordering::Relaxed};
        let found: Vec<AtomicBool> = labels.iter().map(|_| AtomicBool::new(false)).collect();
        for layer in self.layers() {
            with_label_array!(layer, a => {
                let wanted: Vec<_> = labels.iter().map(|&l| from_label_like(a, l)).collect();
                // Whether this chunk leaves every label found.
                let scan = |c: &[_]| {
                    let mut all = true;
                    for (f, w) in found.iter().zip(&wanted) {
                        if f.load(Relaxed) {
                            continue;
                        }
                        match w {
                            Some(w) if c.contains(w) => f.store(true, Relaxed),
                            _ => all = false,
                        }
                    }
                    all
                };
                match a.as_slice_memory_order() {
                    Some(s) => {
                        s.par_chunks(1 << 16).any(scan);
                    }
                    None => {
                        for (f, w) in found.iter().zip(&wanted) {
                            if let Some(w) = w {
                                if !f.load(Relaxed) && a.iter().any(|v| v == w) {
                                    f.store(true, Relaxed);
                                }
                            }
                        }
                    }
                }
            });
        }
        found.into_iter().map(AtomicBool::into_inner).collect()
    }

    /// Label values present in the map, ascending (a full pass over the data).
    pub fn present_labels(&self) -> Vec<i64> {
        // Runs of equal labels are inserted once, so the set sees few items.
        fn distinct<T: LabelValue>(values: &[T]) -> std::collections::BTreeSet<i64> {
            let mut set = std::collections::BTreeSet::new();
            let mut prev: Option<T> = None;
            for &v in values {
                if prev != Some(v) {
                    if let Some(l) = v.to_label() {
                        set.insert(l);
                    }
                    prev = Some(v);
                }
            }
            set
        }
        // Narrow types: a table of the values seen, one store per voxel.
        // Blocks of one value (the background, the inside of a structure)
        // are told by a comparison that vectorises, and marked once.
        fn seen<T: LabelValue>(values: &[T]) -> Vec<bool> {
            let mut table = vec![false; 1 << T::LUT_BITS];
            for block in values.chunks(64) {
                let first = block[0];
                if block.iter().fold(true, |all, &v| all & (v == first)) {
                    table[first.lut_index()] = true;
                } else {
                    for &v in block {
                        table[v.lut_index()] = true;
                    }
                }
            }
            table
        }
        let mut all = std::collections::BTreeSet::new();
        for layer in self.layers() {
            with_label_array!(layer, a => {
                let set = match a.as_slice_memory_order() {
                    Some(s) if lut_bits(a) > 0 => {
                        let table = s
                            .par_chunks(1 << 20)
                            .map(seen)
                            .reduce(|| vec![false; 1 << lut_bits(a)], |mut x, y| {
                                x.iter_mut().zip(y).for_each(|(a, b)| *a |= b);
                                x
                            });
                        table
                            .iter()
                            .enumerate()
                            .filter(|(_, &hit)| hit)
                            .filter_map(|(i, _)| from_lut_index_like(a, i).and_then(|v| v.to_label()))
                            .collect()
                    }
                    Some(s) => s
                        .par_chunks(1 << 16)
                        .map(distinct)
                        .reduce(Default::default, |mut x, y| { x.extend(y); x }),
                    None => distinct(&a.iter().copied().collect::<Vec<_>>()),
                };
                all.extend(set);
            });
        }
        all.into_iter().collect()
    }
}

/// A mask's values as a Fortran-order vector (copied only when the array is
/// in another memory order).
pub(crate) fn fortran_values<T: Copy, S: ndarray::Data<Elem = T>>(
    a: &ndarray::ArrayBase<S, ndarray::Ix3>,
) -> std::borrow::Cow<'_, [T]> {
    let t = a.t();
    match t.to_slice() {
        Some(s) => std::borrow::Cow::Borrowed(s),
        None => std::borrow::Cow::Owned(t.iter().copied().collect()),
    }
}

/// The bytes of a `bool` slice (each 0 or 1), for byte searches:
/// `[u8]::contains` runs `memchr`, many times faster than a `bool` loop.
pub(crate) fn bool_bytes(s: &[bool]) -> &[u8] {
    bytemuck::cast_slice(s)
}

/// Whether any element is `true` (in parallel chunks, each a byte search).
pub(crate) fn any_set(s: &[bool]) -> bool {
    s.par_chunks(1 << 20).any(|c| bool_bytes(c).contains(&1))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn float_labels_must_be_integral() {
        assert_eq!(5.0f32.to_label(), Some(5));
        assert_eq!((-3.0f64).to_label(), Some(-3));
        assert_eq!(2.5f32.to_label(), None);
        assert_eq!(f32::NAN.to_label(), None);
        assert_eq!(f64::INFINITY.to_label(), None);
        assert_eq!(1e19f64.to_label(), None);
        assert_eq!(u64::MAX.to_label(), None);
    }

    #[test]
    fn shape_must_match_grid() {
        let g = Grid::from_spacing([2, 3, 4], [1.0; 3]).unwrap();
        assert!(Volume::new(g.clone(), Array3::<u8>::zeros((2, 3, 4))).is_ok());
        let e = Volume::new(g, Array3::<u8>::zeros((3, 2, 4))).unwrap_err();
        assert_eq!(e.kind(), crate::ErrorKind::Parameter);
    }

    #[test]
    fn mask_of_selects_labels() {
        let g = Grid::from_spacing([2, 2, 1], [1.0; 3]).unwrap();
        let a = Array3::from_shape_vec((2, 2, 1).f(), vec![0u8, 5, 5, 7]).unwrap();
        let m = LabelMap::new(g, LabelArray::U8(a), LabelNames::new()).unwrap();
        let mask = m.mask_of(&[5]);
        assert_eq!(mask.data().iter().filter(|&&b| b).count(), 2);
        assert_eq!(m.present_labels(), vec![0, 5, 7]);
        assert!(m.contains_label(7) && !m.contains_label(6) && !m.contains_label(300));
        assert_eq!(m.contains_labels(&[6, 7, 300, 0]), [false, true, false, true]);
        assert_eq!(m.nonzero_mask().data().iter().filter(|&&b| b).count(), 3);
        assert_eq!(m.labels().get([1, 1, 0]), Some(7));
    }

    /// The table paths (narrow types, negative values included) and the
    /// comparison paths (wide types, C order) against a plain filter.
    #[test]
    fn mask_paths_agree_with_a_plain_filter() {
        let g = Grid::from_spacing([7, 5, 3], [1.0; 3]).unwrap();
        let vals: Vec<i64> = (0..105).map(|n| ((n * 37) % 11) as i64 - 4).collect();
        let want = |pick: &dyn Fn(i64) -> bool| vals.iter().filter(|&&v| pick(v)).count();
        let arrays = [
            LabelArray::I8(
                Array3::from_shape_vec((7, 5, 3).f(), vals.iter().map(|&v| v as i8).collect()).unwrap(),
            ),
            LabelArray::I16(
                Array3::from_shape_vec((7, 5, 3).f(), vals.iter().map(|&v| v as i16).collect()).unwrap(),
            ),
            LabelArray::I32(
                Array3::from_shape_vec((7, 5, 3).f(), vals.iter().map(|&v| v as i32).collect()).unwrap(),
            ),
            LabelArray::I64(Array3::from_shape_vec((7, 5, 3), vals.clone()).unwrap()),
        ];
        for a in arrays {
            let m = LabelMap::new(g.clone(), a, LabelNames::new()).unwrap();
            let count = |mask: Mask| mask.data().iter().filter(|&&b| b).count();
            assert_eq!(count(m.mask_of(&[-4, 3, 99])), want(&|v| v == -4 || v == 3));
            assert_eq!(count(m.nonzero_mask()), want(&|v| v != 0));
            let mut distinct = vals.clone();
            distinct.sort();
            distinct.dedup();
            assert_eq!(m.present_labels(), distinct);
        }
    }
}
