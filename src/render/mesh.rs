//! Surface meshes of masks for the report's 3D view.
//!
//! Naive surface nets [Gibson1998], through the `fast-surface-nets` crate,
//! on the mask's occupancy averaged over cubic blocks of voxels: a block is
//! one sample, valued 0.5 − (fraction of its voxels inside), so the surface
//! passes where half a block is inside. Averaging both smooths the voxel
//! staircase and bounds the mesh: the block side grows until the structure's
//! bounding box holds at most `max_samples` blocks. Vertices are placed in
//! the world (RAS+ mm) through the grid's affine, so an oblique or
//! LPS-stored mask gives the same surface as an RAS-stored one.

use fast_surface_nets::ndshape::{RuntimeShape, Shape};
use fast_surface_nets::{surface_nets, SurfaceNetsBuffer};
use rayon::prelude::*;

use crate::volume::Mask;

/// A triangle mesh in world coordinates.
#[derive(Debug, Clone, Default)]
pub struct Mesh {
    /// Vertex positions, RAS+ mm.
    pub positions_mm: Vec<[f32; 3]>,
    /// Three vertex indices per triangle.
    pub indices: Vec<u32>,
    /// The side of the averaging block, voxels (1: full resolution).
    pub block_voxels: usize,
}

impl Mesh {
    /// Number of triangles.
    pub fn triangles(&self) -> usize {
        self.indices.len() / 3
    }
}

/// The mask's voxels in memory order, as bytes, with the strides that turn
/// an offset into (i, j, k): axes by decreasing stride. A mask that is not
/// one contiguous block with positive strides is copied into one first.
fn memory_layout(mask: &Mask) -> (std::borrow::Cow<'_, [bool]>, [(usize, usize); 3]) {
    let data = mask.data();
    let positive = data.strides().iter().all(|&s| s > 0);
    let (slice, strides): (std::borrow::Cow<'_, [bool]>, Vec<isize>) =
        match data.as_slice_memory_order().filter(|_| positive) {
            Some(s) => (s.into(), data.strides().to_vec()),
            None => {
                let owned = data.as_standard_layout().into_owned();
                let strides = owned.strides().to_vec();
                (owned.into_raw_vec_and_offset().0.into(), strides)
            }
        };
    let mut order = [(0usize, 0usize); 3];
    for (a, o) in order.iter_mut().enumerate() {
        *o = (a, strides[a].max(1) as usize);
    }
    order.sort_by_key(|o| std::cmp::Reverse(o.1));
    (slice, order)
}

/// (i, j, k) of the voxel at `offset` in memory order.
#[inline]
fn decode(mut offset: usize, order: &[(usize, usize); 3]) -> [usize; 3] {
    let mut ijk = [0usize; 3];
    for &(axis, stride) in order {
        ijk[axis] = offset / stride;
        offset %= stride;
    }
    ijk
}

/// Calls `f` with the offset of every inside voxel of `chunk` (which starts
/// at `base`), skipping eight outside voxels at a time.
#[inline]
fn for_each_inside(chunk: &[bool], base: usize, mut f: impl FnMut(usize)) {
    let bytes: &[u8] = bytemuck::cast_slice(chunk);
    let mut words = bytes.chunks_exact(8);
    let mut at = base;
    for w in &mut words {
        if u64::from_ne_bytes(w.try_into().unwrap_or([0; 8])) != 0 {
            for (n, &b) in w.iter().enumerate() {
                if b != 0 {
                    f(at + n);
                }
            }
        }
        at += 8;
    }
    for (n, &b) in words.remainder().iter().enumerate() {
        if b != 0 {
            f(at + n);
        }
    }
}

const CHUNK: usize = 1 << 18;

/// The voxel bounding box of a mask's inside voxels: (low, high) inclusive,
/// or `None` for an empty mask.
pub fn bounding_box(mask: &Mask) -> Option<([usize; 3], [usize; 3])> {
    let (slice, order) = memory_layout(mask);
    box_in(&slice, &order)
}

fn box_in(slice: &[bool], order: &[(usize, usize); 3]) -> Option<([usize; 3], [usize; 3])> {
    slice
        .par_chunks(CHUNK)
        .enumerate()
        .filter_map(|(c, chunk)| {
            let mut b: Option<([usize; 3], [usize; 3])> = None;
            for_each_inside(chunk, c * CHUNK, |o| {
                let ijk = decode(o, order);
                let (lo, hi) = b.get_or_insert((ijk, ijk));
                for a in 0..3 {
                    lo[a] = lo[a].min(ijk[a]);
                    hi[a] = hi[a].max(ijk[a]);
                }
            });
            b
        })
        .reduce_with(|(l1, h1), (l2, h2)| {
            (
                [0, 1, 2].map(|a| l1[a].min(l2[a])),
                [0, 1, 2].map(|a| h1[a].max(h2[a])),
            )
        })
}

/// How many inside voxels each block holds, on a sample lattice of `n`
/// blocks (one block of padding on each side) laid out by `shape`.
fn block_counts(
    slice: &[bool],
    order: &[(usize, usize); 3],
    lo: [usize; 3],
    block: usize,
    shape: &RuntimeShape<u32, 3>,
    len: usize,
) -> Vec<u32> {
    slice
        .par_chunks(CHUNK)
        .enumerate()
        .fold(
            || vec![0u32; len],
            |mut counts, (c, chunk)| {
                for_each_inside(chunk, c * CHUNK, |o| {
                    let ijk = decode(o, order);
                    let s = [0, 1, 2].map(|a| ((ijk[a] - lo[a]) / block + 1) as u32);
                    counts[shape.linearize(s) as usize] += 1;
                });
                counts
            },
        )
        .reduce_with(|mut a, b| {
            for (x, y) in a.iter_mut().zip(b) {
                *x += y;
            }
            a
        })
        .unwrap_or_else(|| vec![0; len])
}

/// The surface of `mask`, averaged over blocks so that its bounding box holds
/// at most `max_samples` of them (at least one voxel per block). `None` for
/// an empty mask.
pub fn mask_mesh(mask: &Mask, max_samples: usize) -> Option<Mesh> {
    let (slice, order) = memory_layout(mask);
    let (lo, hi) = box_in(&slice, &order)?;
    let extent = [0, 1, 2].map(|a| hi[a] - lo[a] + 1);
    let voxels = extent.iter().product::<usize>() as f64;
    let mut block = (voxels / max_samples.max(1) as f64).cbrt().ceil().max(1.0) as usize;
    // One more block side when rounding left too many samples.
    let samples_for = |b: usize| extent.iter().map(|e| e.div_ceil(b) + 2).product::<usize>();
    while samples_for(block) > max_samples.max(27) && block < extent.iter().copied().max().unwrap_or(1) {
        block += 1;
    }
    // Samples with one block of outside padding on every side.
    let n = extent.map(|e| e.div_ceil(block) + 2);
    let shape = RuntimeShape::<u32, 3>::new(n.map(|v| v as u32));
    let inside = block_counts(&slice, &order, lo, block, &shape, n[0] * n[1] * n[2]);
    let per_block = (block * block * block) as f32;
    let sdf: Vec<f32> = inside.iter().map(|&c| 0.5 - c as f32 / per_block).collect();
    let mut buffer = SurfaceNetsBuffer::default();
    surface_nets(&sdf, &shape, [0; 3], n.map(|v| v as u32 - 1), &mut buffer);
    let grid = mask.grid();
    // Sample s covers voxels lo + (s − 1)·block … + block − 1: its centre is
    // at lo + (s − 1)·block + (block − 1)/2.
    let half = (block as f64 - 1.0) / 2.0;
    let positions_mm = buffer
        .positions
        .iter()
        .map(|p| {
            let ijk = [0, 1, 2].map(|a| lo[a] as f64 + (p[a] as f64 - 1.0) * block as f64 + half);
            grid.voxel_to_world(ijk).map(|v| v as f32)
        })
        .collect();
    Some(Mesh {
        positions_mm,
        indices: buffer.indices,
        block_voxels: block,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::grid::Grid;
    use crate::volume::Volume;
    use ndarray::Array3;

    fn ball(n: usize, spacing: f64, radius_mm: f64) -> Mask {
        let grid = Grid::from_spacing([n, n, n], [spacing; 3]).unwrap();
        let c = (n as f64 - 1.0) / 2.0;
        let data = Array3::from_shape_fn((n, n, n), |(i, j, k)| {
            let d2 = [i, j, k]
                .iter()
                .map(|&x| ((x as f64 - c) * spacing).powi(2))
                .sum::<f64>();
            d2 <= radius_mm * radius_mm
        });
        Volume::new(grid, data).unwrap()
    }

    /// The vertices of a ball's surface lie on the sphere (within a voxel),
    /// at full resolution and averaged.
    #[test]
    fn ball_vertices_lie_on_its_sphere() {
        let spacing = 1.0;
        let radius = 12.0;
        let m = ball(40, spacing, radius);
        let centre = m.grid().voxel_to_world([19.5; 3]);
        for samples in [1_000_000, 4_000] {
            let mesh = mask_mesh(&m, samples).unwrap();
            assert!(mesh.triangles() > 100);
            let block = mesh.block_voxels as f64;
            for p in &mesh.positions_mm {
                let r = (0..3)
                    .map(|a| (p[a] as f64 - centre[a]).powi(2))
                    .sum::<f64>()
                    .sqrt();
                assert!(
                    (r - radius).abs() <= block * spacing,
                    "r {r} with blocks of {block}"
                );
            }
            assert!(mesh
                .indices
                .iter()
                .all(|&i| (i as usize) < mesh.positions_mm.len()));
        }
        // Stored LPS (i towards the patient's left, j to the back): the
        // surface still lies around the ball's world (RAS+) centre, on the
        // patient's right, posterior and superior where it was put.
        let mut a = nalgebra::Matrix4::identity();
        a[(0, 0)] = -1.0;
        a[(1, 1)] = -1.0;
        a[(0, 3)] = 20.0;
        a[(1, 3)] = 20.0;
        a[(2, 3)] = -20.0;
        let grid = Grid::new([41, 41, 41], a).unwrap();
        let centre = [8.0, -5.0, 9.0];
        let data = Array3::from_shape_fn((41, 41, 41), |(i, j, k)| {
            let w = grid.voxel_to_world([i as f64, j as f64, k as f64]);
            (0..3).map(|x| (w[x] - centre[x]).powi(2)).sum::<f64>() <= 36.0
        });
        let mesh = mask_mesh(&Volume::new(grid, data).unwrap(), 1_000_000).unwrap();
        for p in &mesh.positions_mm {
            let r = (0..3)
                .map(|a| (p[a] as f64 - centre[a]).powi(2))
                .sum::<f64>()
                .sqrt();
            assert!((r - 6.0).abs() <= 1.0, "r {r}");
        }
        // The same mask stored in Fortran order (as the readers give it)
        // meshes to the same surface.
        let c = ball(30, 1.0, 9.0);
        let mut f_data = ndarray::Array3::from_elem(ndarray::ShapeBuilder::f((30, 30, 30)), false);
        f_data.assign(c.data());
        let f = Volume::new(c.grid().clone(), f_data).unwrap();
        for samples in [1_000_000, 2_000] {
            let (a, b) = (mask_mesh(&c, samples).unwrap(), mask_mesh(&f, samples).unwrap());
            assert_eq!(a.positions_mm, b.positions_mm);
            assert_eq!(a.indices, b.indices);
        }
        assert_eq!(bounding_box(&f), Some(([6; 3], [23; 3])));
        let empty = Volume::filled(Grid::from_spacing([8; 3], [1.0; 3]).unwrap(), false);
        assert!(mask_mesh(&empty, 1000).is_none());
    }
}
