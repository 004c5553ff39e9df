//! Times liverkit's distance transform on a mask file, for the peer
//! comparison in `benches/peers/edt_vs_peers.py` (which runs it between the
//! Python peers, so that all tools meet the same machine load).
//!
//! ```text
//! cargo bench --bench edt_timer -- FILE LABEL THREADS [inside|outside|signed]
//! ```
//!
//! Prints one JSON line: the seconds of the transform alone (the file is
//! read before the clock starts), and the sum and maximum of the distances
//! for the agreement check.

use std::path::Path;
use std::time::Instant;

use liverkit::distance::{distance_to_background_mm, distance_to_foreground_mm, signed_distance_mm};
use liverkit::io::{read_label_map, ReadOptions};

fn main() {
    let args: Vec<String> = std::env::args().skip(1).filter(|a| a != "--bench").collect();
    if args.len() < 3 {
        eprintln!("usage: edt_timer FILE LABEL THREADS [inside|outside|signed]");
        std::process::exit(2);
    }
    let label: i64 = args[1].parse().expect("LABEL is an integer");
    let threads: usize = args[2].parse().expect("THREADS is an integer");
    let kind = args.get(3).map(String::as_str).unwrap_or("inside");
    let map = read_label_map(Path::new(&args[0]), &ReadOptions::default())
        .expect("readable label map")
        .value;
    let mask = map.mask_of(&[label]);
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .expect("thread pool");
    let start = Instant::now();
    let d = pool
        .install(|| match kind {
            "outside" => distance_to_foreground_mm(&mask),
            "signed" => signed_distance_mm(&mask),
            _ => distance_to_background_mm(&mask),
        })
        .expect("distance transform");
    let seconds = start.elapsed().as_secs_f64();
    let sum: f64 = d.data().iter().map(|&v| v as f64).sum();
    let max = d.data().iter().cloned().fold(f32::MIN, f32::max);
    println!("{{\"seconds\": {seconds}, \"sum\": {sum}, \"max\": {max}}}");
}
