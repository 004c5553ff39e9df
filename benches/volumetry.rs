//! Criterion benches for label volumetry: the counting kernel on a label map
//! in memory (one thread and all threads), and whole-file volumetry and
//! loading from .nii and .nii.gz.
//!
//! Throughput is in bytes of label data, so the report reads as GB/s. The
//! comparison with nibabel and SimpleITK lives in benches/peers/.

mod common;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use liverkit::case::volumes::volumes_of_label_file;
use liverkit::io::nifti::write_label_map;
use liverkit::io::{read_label_map, ReadOptions};
use liverkit::volumetry::label_volumes;

fn counting(c: &mut Criterion) {
    let map = common::abdominal_phantom();
    let bytes = map.grid().voxel_count();
    let mut g = c.benchmark_group("count");
    g.sample_size(20);
    g.throughput(Throughput::Bytes(bytes));
    let all = rayon::current_num_threads();
    for threads in [1, all] {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .expect("pool");
        g.bench_with_input(
            BenchmarkId::new("label_volumes_uint8", format!("{threads}_threads")),
            &map,
            |b, m| b.iter(|| pool.install(|| label_volumes(m).expect("counts"))),
        );
    }
    // Worst case for the run-length kernel: every voxel a new run.
    let noise = common::noise_labels();
    g.throughput(Throughput::Bytes(noise.grid().voxel_count()));
    g.bench_with_input(
        BenchmarkId::new("label_volumes_uint8_noise", "1_threads"),
        &noise,
        |b, m| {
            let pool = rayon::ThreadPoolBuilder::new()
                .num_threads(1)
                .build()
                .expect("pool");
            b.iter(|| pool.install(|| label_volumes(m).expect("counts")))
        },
    );
    g.finish();
}

fn files(c: &mut Criterion) {
    let map = common::abdominal_phantom();
    let bytes = map.grid().voxel_count();
    let dir = tempfile::tempdir().expect("temp dir");
    let mut g = c.benchmark_group("file");
    g.sample_size(10);
    g.throughput(Throughput::Bytes(bytes));
    for ext in ["nii", "nii.gz"] {
        let path = dir.path().join(format!("phantom.{ext}"));
        write_label_map(&path, &map, None).expect("write phantom");
        g.bench_with_input(BenchmarkId::new("volumes_streamed", ext), &path, |b, p| {
            b.iter(|| volumes_of_label_file(p, &ReadOptions::default()).expect("volumes"))
        });
        g.bench_with_input(BenchmarkId::new("load_whole", ext), &path, |b, p| {
            b.iter(|| read_label_map(p, &ReadOptions::default()).expect("load"))
        });
    }
    g.finish();
}

criterion_group!(benches, counting, files);
criterion_main!(benches);
