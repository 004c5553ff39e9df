//! Times liverkit's DICOM SEG writer, for the peer comparison in
//! `benches/peers/seg_vs_highdicom.py` (which runs it beside highdicom on
//! the same series, in interleaved rounds).
//!
//! ```text
//! cargo bench --bench seg_timer -- SERIES_DIR OUT.dcm THREADS
//! ```
//!
//! Reads the CT series (not timed), draws an ellipsoid "liver" on its grid
//! (the same formula the peer script uses), and prints one JSON line: the
//! seconds to write the SEG referring to the series (frames, references,
//! bit packing and the file), and the mask's voxel count.

use std::path::PathBuf;
use std::time::Instant;

use liverkit::io::dicom::{read_series, write_seg};
use liverkit::io::structure::{Segment, Structure};
use liverkit::io::ReadOptions;
use liverkit::volume::Mask;
use ndarray::{Array3, ShapeBuilder};

fn main() {
    let args: Vec<String> = std::env::args().skip(1).filter(|a| a != "--bench").collect();
    if args.len() < 3 {
        eprintln!("usage: seg_timer SERIES_DIR OUT.dcm THREADS");
        std::process::exit(2);
    }
    let threads: usize = args[2].parse().expect("THREADS is an integer");
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .expect("thread pool");
    let series =
        read_series(&[PathBuf::from(&args[0])], None, &ReadOptions::default()).expect("readable series");
    let grid = series.volume.grid().clone();
    let [ni, nj, nk] = grid.dims();
    let c = [ni as f64 / 2.0, nj as f64 / 2.0, nk as f64 / 2.0];
    let r = [0.35 * ni as f64, 0.25 * nj as f64, 0.37 * nk as f64];
    // Fortran order, as liverkit's readers give masks.
    let inside = Array3::from_shape_fn((ni, nj, nk).f(), |(i, j, k)| {
        ((i as f64 - c[0]) / r[0]).powi(2)
            + ((j as f64 - c[1]) / r[1]).powi(2)
            + ((k as f64 - c[2]) / r[2]).powi(2)
            < 1.0
    });
    let voxels = inside.iter().filter(|&&v| v).count();
    let mask = Mask::new(grid, inside).expect("mask on the grid");
    let source = series.source();
    drop(series);
    let out = PathBuf::from(&args[1]);
    let start = Instant::now();
    pool.install(|| {
        write_seg(
            &out,
            &[Segment {
                mask: &mask,
                structure: Structure::Liver,
            }],
            Some(&source),
            "liverkit SEG timer",
        )
    })
    .expect("SEG written");
    let seconds = start.elapsed().as_secs_f64();
    println!("{{\"seconds\": {seconds}, \"voxels\": {voxels}}}");
}
