// Each bench uses some of these phantoms.
#![allow(dead_code)]

//! Phantoms shared by the benches.

use liverkit::{Grid, LabelArray, LabelMap, LabelNames};
use ndarray::{Array3, ShapeBuilder};

/// A CT-sized abdominal label map: 512 x 512 x 300 voxels of 0.78 x 0.78 x
/// 2.0 mm (78.6 MB of uint8), with a liver-sized ellipsoid (label 5, about
/// 1.6 L) holding two tumours (200, 201), a vessel along z (64) and a
/// vertebral column (210). The same layout as benches/peers/phantom.py, in
/// simplified form.
pub fn abdominal_phantom() -> LabelMap {
    let dims = [512usize, 512, 300];
    let spacing = [0.78, 0.78, 2.0];
    let grid = Grid::from_spacing(dims, spacing).expect("valid grid");
    let w = |i: usize, axis: usize| (i as f64 - dims[axis] as f64 / 2.0) * spacing[axis];
    let data = Array3::from_shape_fn((dims[0], dims[1], dims[2]).f(), |(i, j, k)| {
        let (x, y, z) = (w(i, 0), w(j, 1), w(k, 2));
        let d2 = |cx: f64, cy: f64, cz: f64| (x - cx).powi(2) + (y - cy).powi(2) + (z - cz).powi(2);
        if d2(70.0, 10.0, 20.0) < 18.0f64.powi(2) {
            200
        } else if d2(40.0, -20.0, -10.0) < 11.0f64.powi(2) {
            201
        } else if ((x - 60.0) / 88.0).powi(2) + (y / 65.0).powi(2) + (z / 75.0).powi(2) < 1.0 {
            5
        } else if (x - 25.0).powi(2) + (y + 25.0).powi(2) < 144.0 {
            64
        } else if x.powi(2) + (y + 60.0).powi(2) < 400.0 {
            210
        } else {
            0u8
        }
    });
    LabelMap::new(grid, LabelArray::U8(data), LabelNames::new()).expect("shape matches grid")
}

/// 256 x 256 x 64 voxels of uniformly random labels 0..8: no two neighbours
/// alike, the worst case for run-length counting.
pub fn noise_labels() -> LabelMap {
    let dims = [256usize, 256, 64];
    let grid = Grid::from_spacing(dims, [1.0, 1.0, 1.0]).expect("valid grid");
    let mut state = 0x9e37_79b9_7f4a_7c15u64;
    let data = Array3::from_shape_simple_fn((dims[0], dims[1], dims[2]).f(), || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        (state % 8) as u8
    });
    LabelMap::new(grid, LabelArray::U8(data), LabelNames::new()).expect("shape matches grid")
}
