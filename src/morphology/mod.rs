//! Morphology on voxel masks: connected components and neighbourhoods.
//!
//! Masks are walked in Fortran order (linear index `n = i + ni·(j + nj·k)`,
//! see `docs/conventions.md`), so results are deterministic: components are
//! numbered in the order of their first voxel.

use std::collections::VecDeque;

use ndarray::{Array3, ShapeBuilder};

use crate::volume::Mask;

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

/// A mask's values as a Fortran-order vector (copied only when the array is
/// in another memory order).
pub(crate) fn fortran_values<T: Copy>(a: &Array3<T>) -> std::borrow::Cow<'_, [T]> {
    let t = a.t();
    match t.to_slice() {
        Some(s) => std::borrow::Cow::Borrowed(s),
        None => std::borrow::Cow::Owned(t.iter().copied().collect()),
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
    let grid = FlatGrid { dims };
    let inside = fortran_values(mask.data());
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
    let labels = Array3::from_shape_vec(dims.f(), labels).unwrap_or_else(|_| Array3::zeros(dims.f()));
    Components { labels, sizes }
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
