//! Boxes of voxels: regions of interest cut out of a grid, so that work near
//! a tumour costs the size of its neighbourhood, not of the scan.

use nalgebra::Vector4;
use rayon::prelude::*;

use crate::error::Result;
use crate::grid::Grid;

/// An axis-aligned box of voxels `[start, start + dims)` inside a grid.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VoxelBox {
    /// First voxel `[i, j, k]`.
    pub start: [usize; 3],
    /// Size along each axis.
    pub dims: [usize; 3],
}

impl VoxelBox {
    /// The whole grid.
    pub fn all(dims: [usize; 3]) -> VoxelBox {
        VoxelBox { start: [0; 3], dims }
    }

    /// The bounding box of the `true` voxels of a Fortran-order mask, or
    /// `None` when there is none.
    pub fn of_mask(mask: &[bool], dims: [usize; 3]) -> Option<VoxelBox> {
        // Rows in parallel: the first and last `true` of each row.
        let (lo, hi) = mask
            .par_chunks(dims[0].max(1))
            .enumerate()
            .filter_map(|(r, row)| {
                // Most rows of a small structure are empty: a byte search first.
                if !crate::volume::bool_bytes(row).contains(&1) {
                    return None;
                }
                let first = row.iter().position(|&b| b)?;
                let last = row.iter().rposition(|&b| b)?;
                let (j, k) = (r % dims[1], r / dims[1]);
                Some(([first, j, k], [last, j, k]))
            })
            .reduce_with(|(l1, h1), (l2, h2)| {
                (
                    [0, 1, 2].map(|a| l1[a].min(l2[a])),
                    [0, 1, 2].map(|a| h1[a].max(h2[a])),
                )
            })?;
        Some(VoxelBox {
            start: lo,
            dims: [hi[0] - lo[0] + 1, hi[1] - lo[1] + 1, hi[2] - lo[2] + 1],
        })
    }

    /// The box grown by `n` voxels on every side, kept inside `grid_dims`.
    pub fn grown(&self, n: usize, grid_dims: [usize; 3]) -> VoxelBox {
        self.grown_by([n; 3], grid_dims)
    }

    /// The box grown by `n[a]` voxels along axis `a` on both sides.
    pub fn grown_by(&self, n: [usize; 3], grid_dims: [usize; 3]) -> VoxelBox {
        let mut start = [0; 3];
        let mut dims = [0; 3];
        for a in 0..3 {
            start[a] = self.start[a].saturating_sub(n[a]);
            let end = (self.start[a] + self.dims[a] + n[a]).min(grid_dims[a]);
            dims[a] = end - start[a];
        }
        VoxelBox { start, dims }
    }

    /// The box grown by at least `mm` millimetres along every axis.
    pub fn grown_mm(&self, mm: f64, spacing: [f64; 3], grid_dims: [usize; 3]) -> VoxelBox {
        let n = [0, 1, 2].map(|a| (mm / spacing[a]).ceil().max(0.0) as usize);
        self.grown_by(n, grid_dims)
    }

    /// Number of voxels.
    pub fn len(&self) -> usize {
        self.dims.iter().product()
    }

    /// Whether the box holds no voxel.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Whether the box touches the face of the grid on each side
    /// (`[i_min, i_max, j_min, j_max, k_min, k_max]`).
    pub fn touches(&self, grid_dims: [usize; 3]) -> [bool; 6] {
        let mut t = [false; 6];
        for a in 0..3 {
            t[2 * a] = self.start[a] == 0;
            t[2 * a + 1] = self.start[a] + self.dims[a] == grid_dims[a];
        }
        t
    }

    /// Linear index in the box of box voxel `[i, j, k]`.
    #[inline]
    pub fn index(&self, p: [usize; 3]) -> usize {
        p[0] + self.dims[0] * (p[1] + self.dims[1] * p[2])
    }

    /// Copies the box out of a Fortran-order array over `grid_dims`.
    pub fn extract<T: Copy>(&self, data: &[T], grid_dims: [usize; 3]) -> Vec<T> {
        let mut out = Vec::with_capacity(self.len());
        for k in 0..self.dims[2] {
            for j in 0..self.dims[1] {
                let base =
                    self.start[0] + grid_dims[0] * ((self.start[1] + j) + grid_dims[1] * (self.start[2] + k));
                out.extend_from_slice(&data[base..base + self.dims[0]]);
            }
        }
        out
    }

    /// Copies box values back into a Fortran-order array over `grid_dims`.
    pub fn insert<T: Copy>(&self, values: &[T], data: &mut [T], grid_dims: [usize; 3]) {
        let mut src = 0;
        for k in 0..self.dims[2] {
            for j in 0..self.dims[1] {
                let base =
                    self.start[0] + grid_dims[0] * ((self.start[1] + j) + grid_dims[1] * (self.start[2] + k));
                data[base..base + self.dims[0]].copy_from_slice(&values[src..src + self.dims[0]]);
                src += self.dims[0];
            }
        }
    }

    /// The grid of the box: same spacing and orientation, origin at its first voxel.
    ///
    /// # Errors
    /// `Parameter` for an empty box.
    pub fn grid(&self, grid: &Grid) -> Result<Grid> {
        let mut a = *grid.affine();
        let o = grid.affine()
            * Vector4::new(
                self.start[0] as f64,
                self.start[1] as f64,
                self.start[2] as f64,
                1.0,
            );
        for r in 0..3 {
            a[(r, 3)] = o[r];
        }
        Grid::new(self.dims, a)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn extract_insert_round_trip() {
        let dims = [5, 4, 3];
        let data: Vec<u32> = (0..60).collect();
        let b = VoxelBox {
            start: [1, 1, 1],
            dims: [3, 2, 2],
        };
        let sub = b.extract(&data, dims);
        assert_eq!(sub.len(), 12);
        assert_eq!(sub[0], 1 + 5 + 20);
        let mut back = vec![0u32; 60];
        b.insert(&sub, &mut back, dims);
        assert_eq!(back[26], 26);
        assert_eq!(back.iter().filter(|&&v| v != 0).count(), 12);
    }

    #[test]
    fn bounding_box_and_growth() {
        let dims = [6, 5, 4];
        let mut m = vec![false; 120];
        m[2 + 6 * (1 + 5 * 2)] = true;
        m[4 + 6 * (3 + 5 * 2)] = true;
        let b = VoxelBox::of_mask(&m, dims).unwrap();
        assert_eq!(
            b,
            VoxelBox {
                start: [2, 1, 2],
                dims: [3, 3, 1]
            }
        );
        let g = b.grown(2, dims);
        assert_eq!(
            g,
            VoxelBox {
                start: [0, 0, 0],
                dims: [6, 5, 4]
            }
        );
        assert_eq!(g.touches(dims), [true; 6]);
        assert!(VoxelBox::of_mask(&[false; 120], dims).is_none());
        let gm = b.grown_mm(2.5, [1.0, 1.0, 2.0], dims);
        assert_eq!(gm.start, [0, 0, 0]);
        assert_eq!(gm.dims[2], 4);
    }
}
