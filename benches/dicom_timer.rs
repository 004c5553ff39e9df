//! Times liverkit's DICOM series reader on a directory, for the peer
//! comparison in `benches/peers/dicom_vs_peers.py` (which runs it between
//! pydicom and SimpleITK so that all tools meet the same machine load).
//!
//! ```text
//! cargo bench --bench dicom_timer -- DIR THREADS
//! ```
//!
//! Prints one JSON line: the seconds to read the series into a volume of
//! rescaled intensities (grouping, sorting, checks and decoding included),
//! the dims, and the sum of the intensities for the agreement check.

use std::path::PathBuf;
use std::time::Instant;

use liverkit::io::dicom::read_series;
use liverkit::io::ReadOptions;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).filter(|a| a != "--bench").collect();
    if args.len() < 2 {
        eprintln!("usage: dicom_timer DIR THREADS");
        std::process::exit(2);
    }
    let threads: usize = args[1].parse().expect("THREADS is an integer");
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .expect("thread pool");
    let dir = PathBuf::from(&args[0]);
    let start = Instant::now();
    let s = pool
        .install(|| read_series(&[dir], None, &ReadOptions::default()))
        .expect("readable series");
    let seconds = start.elapsed().as_secs_f64();
    let sum: f64 = s.volume.data().iter().map(|&v| v as f64).sum();
    println!(
        "{{\"seconds\": {seconds}, \"dims\": {:?}, \"sum\": {sum}}}",
        s.volume.grid().dims()
    );
}
