//! The counting kernel: per-label voxel count, index sums (for the centroid),
//! bounding box and contact with the six faces of the field of view, in one
//! pass over rows of voxels.
//!
//! Segmentations are made of long runs of one label along each row, so the
//! kernel works run by run: it finds where the current run ends (comparing a
//! block of voxels at a time, which the compiler turns into SIMD compares) and
//! updates the run's label once per run instead of once per voxel. Every
//! quantity is an integer, so the result is identical whatever the order in
//! which slabs and threads are merged.

use std::collections::{BTreeMap, HashMap};

use rayon::prelude::*;

use crate::volume::LabelValue;

/// Voxels per parallel task (about 64 KiB of `u8` labels).
const TASK_VOXELS: usize = 1 << 16;

/// Voxels compared at once when looking for the end of a run.
const BLOCK: usize = 32;

/// Index of the six faces of the field of view in [`LabelAcc::faces`].
pub(crate) const FACE_NAMES: [&str; 6] = ["i_min", "i_max", "j_min", "j_max", "k_min", "k_max"];

/// Integer statistics of one label.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct LabelAcc {
    pub voxels: u64,
    /// Sums of the `i`, `j`, `k` indices of the label's voxels.
    pub sum: [u64; 3],
    /// Bounding box, inclusive.
    pub min: [usize; 3],
    pub max: [usize; 3],
    /// Voxels lying on each face of the volume, in [`FACE_NAMES`] order.
    pub faces: [u64; 6],
}

impl LabelAcc {
    const EMPTY: LabelAcc = LabelAcc {
        voxels: 0,
        sum: [0; 3],
        min: [usize::MAX; 3],
        max: [0; 3],
        faces: [0; 6],
    };

    pub fn merge(&mut self, o: &LabelAcc) {
        self.voxels += o.voxels;
        for a in 0..3 {
            self.sum[a] += o.sum[a];
            self.min[a] = self.min[a].min(o.min[a]);
            self.max[a] = self.max[a].max(o.max[a]);
        }
        for f in 0..6 {
            self.faces[f] += o.faces[f];
        }
    }
}

/// A voxel whose value is not a usable label.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct BadVoxel {
    /// Linear (Fortran-order) index.
    pub index: u64,
    pub value: String,
}

/// Statistics of every label met so far.
///
/// Runs are first gathered per row (`row`, for the labels listed in
/// `touched`), then folded into `accs` once per row and label: a run costs a
/// table lookup and four additions, whatever the number of faces and axes.
#[derive(Debug, Clone)]
pub(crate) struct Accumulator {
    /// Slot + 1 of labels 0..=255 (0: not met yet); others go through `sparse`.
    dense: [u32; 256],
    sparse: HashMap<i64, u32>,
    labels: Vec<i64>,
    accs: Vec<LabelAcc>,
    /// The current row's runs, by slot.
    row: Vec<RowAcc>,
    /// Slots with runs in the current row.
    touched: Vec<u32>,
}

/// One label's runs within the current row. Runs arrive left to right, so the
/// first run gives the smallest `i` and the last the largest.
#[derive(Debug, Clone, Copy, Default)]
struct RowAcc {
    voxels: u64,
    sum_i: u64,
    min_i: usize,
    max_i: usize,
}

impl Default for Accumulator {
    fn default() -> Self {
        Accumulator {
            dense: [0; 256],
            sparse: HashMap::new(),
            labels: Vec::new(),
            accs: Vec::new(),
            row: Vec::new(),
            touched: Vec::new(),
        }
    }
}

impl Accumulator {
    #[inline]
    fn slot(&mut self, label: i64) -> usize {
        if (0..256).contains(&label) {
            let d = self.dense[label as usize];
            if d != 0 {
                return d as usize - 1;
            }
            let s = self.push(label);
            self.dense[label as usize] = s as u32 + 1;
            s
        } else if let Some(&s) = self.sparse.get(&label) {
            s as usize
        } else {
            let s = self.push(label);
            self.sparse.insert(label, s as u32);
            s
        }
    }

    fn push(&mut self, label: i64) -> usize {
        self.labels.push(label);
        self.accs.push(LabelAcc::EMPTY);
        self.row.push(RowAcc::default());
        self.accs.len() - 1
    }

    /// Adds the run of voxels `i0..i1` of the current row; returns its slot.
    #[inline]
    fn add_run(&mut self, label: i64, i0: usize, i1: usize) -> usize {
        let s = self.slot(label);
        let r = &mut self.row[s];
        if r.voxels == 0 {
            self.touched.push(s as u32);
            r.min_i = i0;
        }
        let len = (i1 - i0) as u64;
        r.voxels += len;
        // Σ i over i0..i1 = len · (i0 + i1 − 1) / 2 (the product is always even).
        r.sum_i += len * (i0 + i1 - 1) as u64 / 2;
        r.max_i = i1 - 1;
        s
    }

    /// Folds the current row `(j, k)` into the label statistics. `ends` are
    /// the slots of the labels at `i = 0` and `i = ni − 1`.
    fn end_row(&mut self, j: usize, k: usize, dims: [usize; 3], ends: (usize, usize)) {
        let on = [j == 0, j + 1 == dims[1], k == 0, k + 1 == dims[2]];
        for &s in &self.touched {
            let s = s as usize;
            let r = std::mem::take(&mut self.row[s]);
            let a = &mut self.accs[s];
            a.voxels += r.voxels;
            a.sum[0] += r.sum_i;
            a.sum[1] += r.voxels * j as u64;
            a.sum[2] += r.voxels * k as u64;
            a.min[0] = a.min[0].min(r.min_i);
            a.max[0] = a.max[0].max(r.max_i);
            a.min[1] = a.min[1].min(j);
            a.max[1] = a.max[1].max(j);
            a.min[2] = a.min[2].min(k);
            a.max[2] = a.max[2].max(k);
            for (f, &hit) in on.iter().enumerate() {
                if hit {
                    a.faces[2 + f] += r.voxels;
                }
            }
        }
        self.touched.clear();
        self.accs[ends.0].faces[0] += 1;
        self.accs[ends.1].faces[1] += 1;
    }

    /// Folds `other` into `self`.
    pub fn merge(&mut self, other: &Accumulator) {
        for (label, acc) in other.labels.iter().zip(&other.accs) {
            let s = self.slot(*label);
            self.accs[s].merge(acc);
        }
    }

    /// The statistics by label, ascending.
    pub fn into_map(self) -> BTreeMap<i64, LabelAcc> {
        self.labels.into_iter().zip(self.accs).collect()
    }
}

/// Index just past the run of `v` that starts at `i`.
#[inline]
fn run_end<T: PartialEq + Copy>(row: &[T], i: usize, v: T) -> usize {
    // Short runs (noisy maps, boundaries) end at once.
    if i >= row.len() || row[i] != v {
        return i;
    }
    let mut end = i + 1;
    for block in row[end..].chunks_exact(BLOCK) {
        // Non-short-circuit fold: compiles to vector compares.
        if block.iter().fold(true, |all, &x| all & (x == v)) {
            end += BLOCK;
        } else {
            break;
        }
    }
    while end < row.len() && row[end] == v {
        end += 1;
    }
    end
}

/// Scans whole rows of `data` (`data.len()` a multiple of `dims[0]`), whose
/// first row has linear row index `first_row` (`row = j + nj · k`).
pub(crate) fn scan_rows<T: LabelValue>(
    data: &[T],
    dims: [usize; 3],
    first_row: u64,
    acc: &mut Accumulator,
) -> Result<(), BadVoxel> {
    let nx = dims[0];
    for (r, row) in data.chunks_exact(nx).enumerate() {
        let row_index = first_row + r as u64;
        let j = (row_index % dims[1] as u64) as usize;
        let k = (row_index / dims[1] as u64) as usize;
        let mut i = 0;
        let mut first_slot = 0;
        let mut last_slot = 0;
        while i < nx {
            let v = row[i];
            let end = run_end(row, i + 1, v);
            let Some(label) = v.to_label() else {
                return Err(BadVoxel {
                    index: row_index * nx as u64 + i as u64,
                    value: v.to_string(),
                });
            };
            last_slot = acc.add_run(label, i, end);
            if i == 0 {
                first_slot = last_slot;
            }
            i = end;
        }
        acc.end_row(j, k, dims, (first_slot, last_slot));
    }
    Ok(())
}

/// [`scan_rows`] split over the rayon pool. The result does not depend on the
/// number of threads; of several bad voxels, the one with the lowest index is
/// reported.
pub(crate) fn scan_rows_par<T: LabelValue>(
    data: &[T],
    dims: [usize; 3],
    first_row: u64,
) -> Result<Accumulator, BadVoxel> {
    let nx = dims[0];
    let rows_per_task = (TASK_VOXELS / nx).max(1);
    data.par_chunks(rows_per_task * nx)
        .enumerate()
        .map(|(t, part)| {
            let mut acc = Accumulator::default();
            scan_rows(part, dims, first_row + (t * rows_per_task) as u64, &mut acc)?;
            Ok(acc)
        })
        .reduce(
            || Ok(Accumulator::default()),
            |a: Result<Accumulator, BadVoxel>, b: Result<Accumulator, BadVoxel>| match (a, b) {
                (Ok(mut x), Ok(y)) => {
                    x.merge(&y);
                    Ok(x)
                }
                (Err(e1), Err(e2)) => Err(if e1.index <= e2.index { e1 } else { e2 }),
                (Err(e), Ok(_)) | (Ok(_), Err(e)) => Err(e),
            },
        )
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Per-voxel reference: the obvious loop over every voxel.
    fn reference(data: &[i32], dims: [usize; 3]) -> BTreeMap<i64, LabelAcc> {
        let mut m: BTreeMap<i64, LabelAcc> = BTreeMap::new();
        for (n, &v) in data.iter().enumerate() {
            let i = n % dims[0];
            let j = (n / dims[0]) % dims[1];
            let k = n / (dims[0] * dims[1]);
            let a = m.entry(v as i64).or_insert(LabelAcc::EMPTY);
            a.voxels += 1;
            for (ax, idx) in [i, j, k].into_iter().enumerate() {
                a.sum[ax] += idx as u64;
                a.min[ax] = a.min[ax].min(idx);
                a.max[ax] = a.max[ax].max(idx);
                a.faces[2 * ax] += (idx == 0) as u64;
                a.faces[2 * ax + 1] += (idx + 1 == dims[ax]) as u64;
            }
        }
        m
    }

    proptest::proptest! {
        #[test]
        fn run_kernel_matches_per_voxel_reference(
            dims in (1usize..70, 1usize..6, 1usize..6),
            seed in 0u64..1000,
            labels in 1i32..6,
            run in 1usize..40,
        ) {
            let dims = [dims.0, dims.1, dims.2];
            let n = dims[0] * dims[1] * dims[2];
            // Runs of random length with random labels, some above 255 and negative.
            let mut state = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            let mut next = || { state = state.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407); (state >> 33) as usize };
            let mut data = Vec::with_capacity(n);
            while data.len() < n {
                let v = [0, 5, 300, -2, 7, 255][next() % labels as usize];
                let len = 1 + next() % run;
                data.extend(std::iter::repeat_n(v, len.min(n - data.len())));
            }
            let want = reference(&data, dims);
            let mut acc = Accumulator::default();
            scan_rows(&data, dims, 0, &mut acc).unwrap();
            proptest::prop_assert_eq!(&acc.into_map(), &want);
            let par = scan_rows_par(&data, dims, 0).unwrap();
            proptest::prop_assert_eq!(&par.into_map(), &want);
        }
    }

    #[test]
    fn float_labels_fail_at_first_bad_voxel() {
        let dims = [4, 2, 1];
        let data = [0.0f32, 1.0, 1.0, 2.5, 0.0, f32::NAN, 0.0, 0.0];
        let e = scan_rows_par(&data, dims, 0).unwrap_err();
        assert_eq!(e.index, 3);
        assert_eq!(e.value, "2.5");
    }
}
