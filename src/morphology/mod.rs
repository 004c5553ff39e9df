//! Morphology on voxel masks: connected components and neighbourhoods.
//!
//! Masks are walked in Fortran order (linear index `n = i + ni·(j + nj·k)`,
//! see `docs/conventions.md`), so results are deterministic: components are
//! numbered in the order of their first voxel.

use std::collections::VecDeque;

use ndarray::{Array3, ShapeBuilder};

use crate::distance::squared_edt_in_box;
use crate::error::{parameter_error, Result};
use crate::grid::ensure_orthogonal;
use crate::roi::VoxelBox;
use crate::volume::{fortran_values, Mask};

/// Which voxels count as neighbours.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Connectivity {
    /// Voxels sharing a face (6 neighbours).
    Faces6,
    /// Voxels sharing a face, an edge or a corner (26 neighbours).
    Full26,
}

impl Connectivity {
    /// The neighbour offsets `(di, dj, dk)`.
    pub fn offsets(self) -> &'static [[isize; 3]] {
        const FACES: [[isize; 3]; 6] = [
            [-1, 0, 0],
            [1, 0, 0],
            [0, -1, 0],
            [0, 1, 0],
            [0, 0, -1],
            [0, 0, 1],
        ];
        static FULL: [[isize; 3]; 26] = {
            let mut out = [[0isize; 3]; 26];
            let mut n = 0;
            let mut dk = -1;
            while dk <= 1 {
                let mut dj = -1;
                while dj <= 1 {
                    let mut di = -1;
                    while di <= 1 {
                        if !(di == 0 && dj == 0 && dk == 0) {
                            out[n] = [di, dj, dk];
                            n += 1;
                        }
                        di += 1;
                    }
                    dj += 1;
                }
                dk += 1;
            }
            out
        };
        match self {
            Connectivity::Faces6 => &FACES,
            Connectivity::Full26 => &FULL,
        }
    }
}

/// Index arithmetic on a Fortran-order grid.
#[derive(Debug, Clone, Copy)]
pub(crate) struct FlatGrid {
    pub dims: [usize; 3],
}

impl FlatGrid {
    #[inline]
    pub fn index(&self, ijk: [usize; 3]) -> usize {
        ijk[0] + self.dims[0] * (ijk[1] + self.dims[1] * ijk[2])
    }

    #[inline]
    pub fn ijk(&self, n: usize) -> [usize; 3] {
        let i = n % self.dims[0];
        let r = n / self.dims[0];
        [i, r % self.dims[1], r / self.dims[1]]
    }

    /// Calls `f` with the linear index of each in-bounds neighbour of `n`.
    #[inline]
    pub fn for_each_neighbor(&self, n: usize, conn: Connectivity, mut f: impl FnMut(usize)) {
        let p = self.ijk(n);
        for d in conn.offsets() {
            let q = [p[0] as isize + d[0], p[1] as isize + d[1], p[2] as isize + d[2]];
            if (0..3).all(|a| q[a] >= 0 && (q[a] as usize) < self.dims[a]) {
                f(self.index([q[0] as usize, q[1] as usize, q[2] as usize]));
            }
        }
    }
}

/// Connected components of a mask.
#[derive(Debug, Clone, PartialEq)]
pub struct Components {
    /// Component number of each voxel: 0 outside the mask, 1..=n inside,
    /// numbered in the order of each component's first voxel (Fortran order).
    pub labels: Array3<u32>,
    /// Voxels in component `c` at index `c − 1`.
    pub sizes: Vec<u64>,
}

impl Components {
    /// Number of components.
    pub fn count(&self) -> usize {
        self.sizes.len()
    }
}

/// Labels the connected components of `mask` (breadth-first flood fill).
pub fn connected_components(mask: &Mask, connectivity: Connectivity) -> Components {
    let dims = mask.grid().dims();
    let inside = fortran_values(mask.data());
    let (labels, sizes) = label_components(&inside, dims, connectivity);
    let labels = Array3::from_shape_vec(dims.f(), labels).unwrap_or_else(|_| Array3::zeros(dims.f()));
    Components { labels, sizes }
}

/// Component labels (0 outside, 1..=n) of a Fortran-order mask and the
/// component sizes.
pub(crate) fn label_components(
    inside: &[bool],
    dims: [usize; 3],
    connectivity: Connectivity,
) -> (Vec<u32>, Vec<u64>) {
    let grid = FlatGrid { dims };
    let mut labels = vec![0u32; inside.len()];
    let mut sizes = Vec::new();
    let mut queue = VecDeque::new();
    for start in 0..inside.len() {
        if !inside[start] || labels[start] != 0 {
            continue;
        }
        let id = sizes.len() as u32 + 1;
        labels[start] = id;
        queue.push_back(start);
        let mut size = 0u64;
        while let Some(n) = queue.pop_front() {
            size += 1;
            grid.for_each_neighbor(n, connectivity, |m| {
                if inside[m] && labels[m] == 0 {
                    labels[m] = id;
                    queue.push_back(m);
                }
            });
        }
        sizes.push(size);
    }
    (labels, sizes)
}

/// The components of a mask found within its bounding box, so that a few
/// small tumours in a large scan cost the size of their box.
pub(crate) struct BoxedComponents {
    /// The mask's bounding box (grid indices).
    pub bbox: VoxelBox,
    /// Component of each voxel of the box (Fortran order), 0 outside.
    pub labels: Vec<u32>,
    /// Bounding box (grid indices) of each component, in label order.
    pub boxes: Vec<VoxelBox>,
    grid_dims: [usize; 3],
}

impl BoxedComponents {
    /// `None` for an empty mask.
    pub fn new(inside: &[bool], dims: [usize; 3], connectivity: Connectivity) -> Option<BoxedComponents> {
        let bbox = VoxelBox::of_mask(inside, dims)?;
        let crop = bbox.extract(inside, dims);
        let (labels, sizes) = label_components(&crop, bbox.dims, connectivity);
        let mut lo = vec![[usize::MAX; 3]; sizes.len()];
        let mut hi = vec![[0usize; 3]; sizes.len()];
        for (n, &c) in labels.iter().enumerate() {
            if c == 0 {
                continue;
            }
            let c = c as usize - 1;
            let p = [
                n % bbox.dims[0],
                (n / bbox.dims[0]) % bbox.dims[1],
                n / (bbox.dims[0] * bbox.dims[1]),
            ];
            for a in 0..3 {
                lo[c][a] = lo[c][a].min(bbox.start[a] + p[a]);
                hi[c][a] = hi[c][a].max(bbox.start[a] + p[a]);
            }
        }
        let boxes = (0..sizes.len())
            .map(|c| VoxelBox {
                start: lo[c],
                dims: [0, 1, 2].map(|a| hi[c][a] - lo[c][a] + 1),
            })
            .collect();
        Some(BoxedComponents {
            bbox,
            labels,
            boxes,
            grid_dims: dims,
        })
    }

    /// Component of grid voxel `n` (linear index), 0 when none.
    #[inline]
    pub fn at(&self, n: usize) -> u32 {
        let d = self.grid_dims;
        let p = [n % d[0], (n / d[0]) % d[1], n / (d[0] * d[1])];
        let b = &self.bbox;
        if (0..3).all(|a| p[a] >= b.start[a] && p[a] < b.start[a] + b.dims[a]) {
            self.labels[b.index([0, 1, 2].map(|a| p[a] - b.start[a]))]
        } else {
            0
        }
    }

    /// Number of components.
    #[cfg(test)]
    pub fn count(&self) -> usize {
        self.boxes.len()
    }
}

/// Morphological closing (dilation then erosion by `radius_mm`) of a mask
/// given in a box: fills gaps and channels up to twice the radius wide (the
/// vessels inside a liver mask). Voxels beyond the box are unknown: neither
/// inside nor outside, so the box's faces do not erode the result.
pub(crate) fn closing_in_box(
    inside: &[bool],
    dims: [usize; 3],
    spacing: [f64; 3],
    radius_mm: f64,
) -> Vec<bool> {
    let r2 = (radius_mm * radius_mm) as f32;
    let d_in = squared_edt_in_box(inside, dims, spacing);
    let dilated_out: Vec<bool> = d_in.iter().map(|&d| d > r2).collect();
    let d_out = squared_edt_in_box(&dilated_out, dims, spacing);
    d_out.iter().map(|&d| d > r2).collect()
}

fn mask_from(grid: &crate::grid::Grid, values: Vec<bool>) -> Mask {
    let dims = grid.dims();
    let a = Array3::from_shape_vec(dims.f(), values).unwrap_or_else(|_| Array3::from_elem(dims.f(), false));
    // The shape always matches the grid.
    Mask::new(grid.clone(), a).unwrap_or_else(|_| Mask::filled(grid.clone(), false))
}

fn check_radius(radius_mm: f64) -> Result<f64> {
    if radius_mm.is_finite() && radius_mm >= 0.0 {
        Ok(radius_mm)
    } else {
        Err(parameter_error("radius_mm", radius_mm, "a finite radius >= 0 mm"))
    }
}

/// Dilation by a radius in mm: the voxels whose centre lies within
/// `radius_mm` of a centre of the mask (`d² ≤ r²` on the exact distance
/// transform, so the ball is round on any anisotropic grid). Only the mask's
/// bounding box grown by the radius is computed.
///
/// # Errors
/// `Parameter` for a negative or non-finite radius; `Unsupported` on a
/// sheared grid.
pub fn dilate_mm(mask: &Mask, radius_mm: f64) -> Result<Mask> {
    let r = check_radius(radius_mm)?;
    let grid = mask.grid();
    ensure_orthogonal(grid)?;
    let dims = grid.dims();
    let inside = fortran_values(mask.data());
    let mut out = vec![false; inside.len()];
    if let Some(b) = VoxelBox::of_mask(&inside, dims) {
        let roi = b.grown_mm(r, grid.spacing_mm(), dims);
        let feature = roi.extract(&inside, dims);
        let d2 = squared_edt_in_box(&feature, roi.dims, grid.spacing_mm());
        let r2 = (r * r) as f32;
        let sub: Vec<bool> = d2.iter().map(|&d| d <= r2).collect();
        roi.insert(&sub, &mut out, dims);
    }
    Ok(mask_from(grid, out))
}

/// Erosion by a radius in mm: the voxels of the mask whose centre lies more
/// than `radius_mm` from every centre outside it (`d² > r²`).
///
/// # Errors
/// As [`dilate_mm`].
pub fn erode_mm(mask: &Mask, radius_mm: f64) -> Result<Mask> {
    let r = check_radius(radius_mm)?;
    let grid = mask.grid();
    ensure_orthogonal(grid)?;
    let dims = grid.dims();
    let inside = fortran_values(mask.data());
    let mut out = vec![false; inside.len()];
    if let Some(b) = VoxelBox::of_mask(&inside, dims) {
        let roi = b.grown(1, dims);
        let feature: Vec<bool> = roi.extract(&inside, dims).into_iter().map(|v| !v).collect();
        let d2 = squared_edt_in_box(&feature, roi.dims, grid.spacing_mm());
        let r2 = (r * r) as f32;
        let sub: Vec<bool> = roi
            .extract(&inside, dims)
            .iter()
            .zip(&d2)
            .map(|(&m, &d)| m && d > r2)
            .collect();
        roi.insert(&sub, &mut out, dims);
    }
    Ok(mask_from(grid, out))
}

/// The voxels of the mask with a neighbour outside it (by `connectivity`);
/// voxels on the border of the grid count as surface, since the mask may
/// continue beyond the field of view.
pub fn surface_voxels(mask: &Mask, connectivity: Connectivity) -> Mask {
    let dims = mask.grid().dims();
    let flat = FlatGrid { dims };
    let inside = fortran_values(mask.data());
    let out: Vec<bool> = (0..inside.len())
        .map(|n| {
            if !inside[n] {
                return false;
            }
            let p = flat.ijk(n);
            if (0..3).any(|a| p[a] == 0 || p[a] + 1 == dims[a]) {
                return true;
            }
            let mut edge = false;
            flat.for_each_neighbor(n, connectivity, |m| edge |= !inside[m]);
            edge
        })
        .collect();
    mask_from(mask.grid(), out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::grid::Grid;

    fn mask(dims: [usize; 3], on: &[[usize; 3]]) -> Mask {
        let g = Grid::from_spacing(dims, [1.0; 3]).unwrap();
        let mut m = Mask::filled(g, false);
        for p in on {
            m.data_mut()[*p] = true;
        }
        m
    }

    #[test]
    fn diagonal_voxels_join_only_with_26_connectivity() {
        let m = mask([4, 4, 4], &[[0, 0, 0], [1, 1, 1], [3, 3, 3], [3, 3, 2]]);
        let c6 = connected_components(&m, Connectivity::Faces6);
        assert_eq!(c6.count(), 3);
        assert_eq!(c6.sizes, vec![1, 1, 2]);
        let c26 = connected_components(&m, Connectivity::Full26);
        assert_eq!(c26.count(), 2);
        assert_eq!(c26.sizes, vec![2, 2]);
        assert_eq!(c26.labels[[1, 1, 1]], 1);
        assert_eq!(c26.labels[[3, 3, 3]], 2);
        assert_eq!(c26.labels[[2, 2, 2]], 0);
    }

    #[test]
    fn offsets_are_complete_and_distinct() {
        let full = Connectivity::Full26.offsets();
        assert_eq!(full.len(), 26);
        let set: std::collections::BTreeSet<_> = full.iter().collect();
        assert_eq!(set.len(), 26);
        assert_eq!(Connectivity::Faces6.offsets().len(), 6);
    }

    #[test]
    fn dilation_and_erosion_are_round_in_mm() {
        let g = Grid::from_spacing([21, 21, 11], [0.5, 0.5, 1.0]).unwrap();
        let one = mask([21, 21, 11], &[[10, 10, 5]]);
        let one = Mask::new(g.clone(), one.data().clone()).unwrap();
        let d = dilate_mm(&one, 2.0).unwrap();
        // Voxels within 2 mm: along i up to 4 voxels, along k up to 2.
        assert!(d.data()[[14, 10, 5]] && !d.data()[[15, 10, 5]]);
        assert!(d.data()[[10, 10, 7]] && !d.data()[[10, 10, 8]]);
        let count = d.data().iter().filter(|&&b| b).count();
        let brute = (0..21usize)
            .flat_map(|i| (0..21usize).flat_map(move |j| (0..11usize).map(move |k| (i, j, k))))
            .filter(|&(i, j, k)| {
                let (x, y, z) = (
                    (i as f64 - 10.0) * 0.5,
                    (j as f64 - 10.0) * 0.5,
                    (k as f64 - 5.0) * 1.0,
                );
                x * x + y * y + z * z <= 4.0
            })
            .count();
        assert_eq!(count, brute);
        let e = erode_mm(&d, 1.0).unwrap();
        assert!(e.data()[[10, 10, 5]]);
        assert!(e.data().iter().filter(|&&b| b).count() < count);
        let e = dilate_mm(&one, -1.0).unwrap_err();
        assert_eq!(
            (e.kind(), e.field()),
            (crate::ErrorKind::Parameter, Some("radius_mm")),
            "{e}"
        );
        let s = surface_voxels(&d, Connectivity::Faces6);
        assert!(!s.data()[[10, 10, 5]] && s.data()[[14, 10, 5]]);
    }

    #[test]
    fn closing_fills_a_channel_and_boxed_components_match() {
        // A slab with a 2-voxel channel through it, closed with a 1.5 mm ball.
        let dims = [12, 10, 6];
        let inside: Vec<bool> = (0..720)
            .map(|n| {
                let (i, j) = (n % 12, (n / 12) % 10);
                (2..10).contains(&i) && !(4..6).contains(&j)
            })
            .collect();
        let closed = closing_in_box(&inside, dims, [1.0; 3], 1.5);
        let idx = |i: usize, j: usize, k: usize| i + 12 * (j + 10 * k);
        assert!(
            closed[idx(5, 4, 3)] && closed[idx(5, 5, 0)],
            "the channel is filled, up to the box's face"
        );
        assert!(
            !closed[idx(0, 4, 3)] && !closed[idx(11, 0, 3)],
            "nothing grows outside"
        );
        let g = Grid::from_spacing(dims, [1.0; 3]).unwrap();
        let m = Mask::new(g, Array3::from_shape_vec(dims.f(), inside.clone()).unwrap()).unwrap();
        let full = connected_components(&m, Connectivity::Faces6);
        let boxed = BoxedComponents::new(&inside, dims, Connectivity::Faces6).unwrap();
        assert_eq!(boxed.count(), full.count());
        let flat = fortran_values(&full.labels);
        for n in 0..720 {
            assert_eq!(boxed.at(n), flat[n]);
        }
    }

    #[test]
    fn flat_grid_round_trips() {
        let g = FlatGrid { dims: [3, 4, 5] };
        for n in 0..60 {
            assert_eq!(g.index(g.ijk(n)), n);
        }
        let mut count = 0;
        g.for_each_neighbor(0, Connectivity::Full26, |_| count += 1);
        assert_eq!(count, 7);
    }
}
