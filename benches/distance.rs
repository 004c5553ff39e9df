//! Criterion benches for the distance transform and the margin assessment
//! on the abdominal phantom (512 x 512 x 300 voxels of 0.78 x 0.78 x 2 mm):
//! the liver's depth (distance to the background, computed in its bounding
//! box), the distance of every voxel to the liver, each on one thread and on
//! all threads; and the margins of the phantom's two tumours against
//! spherical ablation zones. The comparison with scipy, edt and SimpleITK
//! is in benches/peers/edt_vs_peers.py.

mod common;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use liverkit::distance::{distance_to_background_mm, distance_to_foreground_mm};
use liverkit::margin::{assess_margins, MarginOptions};
use liverkit::Mask;
use ndarray::Zip;

fn edt(c: &mut Criterion) {
    let map = common::abdominal_phantom();
    let liver = map.mask_of(&[5]);
    let voxels = map.grid().voxel_count();
    let mut g = c.benchmark_group("edt");
    g.sample_size(10);
    g.throughput(Throughput::Elements(voxels));
    let all = rayon::current_num_threads();
    for threads in [1, all] {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .expect("pool");
        g.bench_with_input(
            BenchmarkId::new("liver_depth", format!("{threads}_threads")),
            &liver,
            |b, m| b.iter(|| pool.install(|| distance_to_background_mm(m).expect("edt"))),
        );
        g.bench_with_input(
            BenchmarkId::new("distance_to_liver", format!("{threads}_threads")),
            &liver,
            |b, m| b.iter(|| pool.install(|| distance_to_foreground_mm(m).expect("edt"))),
        );
    }
    g.finish();
}

fn margins(c: &mut Criterion) {
    let map = common::abdominal_phantom();
    let tumours = map.mask_of(&[200, 201]);
    // Ablation zones: the tumours grown by 10 mm, shifted by 2 mm.
    let grown = liverkit::morphology::dilate_mm(&tumours, 10.0).expect("dilation");
    let mut zone = Mask::filled(grown.grid().clone(), false);
    let d = grown.grid().dims();
    Zip::indexed(zone.data_mut()).for_each(|(i, j, k), z| {
        *z = i + 3 < d[0] && grown.data()[[i + 3, j, k]];
    });
    let liver = map.mask_of(&[5, 200, 201]);
    let mut g = c.benchmark_group("margin");
    g.sample_size(10);
    g.bench_function("two_tumours_with_capsule", |b| {
        b.iter(|| assess_margins(&tumours, &zone, Some(&liver), &MarginOptions::default()).expect("margins"))
    });
    g.finish();
}

criterion_group!(benches, edt, margins);
criterion_main!(benches);
