//! Criterion bench for the bioheat solver: a 10-minute, 100 W microwave
//! ablation on a 100 × 100 × 100 lattice of perfused liver at 1 mm (the
//! case of the issue: under 2 s on 2 cores), on one thread and on all, and
//! in the same run the machine's memory-copy throughput, which bounds a
//! solver that streams its fields through memory every step.
//!
//! Before the criterion groups it prints, from interleaved timings, the
//! voxel updates per second and their fraction of the memory-copy bound:
//! each update streams at least 40 bytes (temperature read and written,
//! heating read, damage, CEM43 and maximum temperature read and written,
//! arrival time read), so the bound is copy bytes/s ÷ 40.
//!
//! ```text
//! cargo bench --bench bioheat
//! ```

use std::time::Instant;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use liverkit::bioheat::applicator::{microwave_power_density, Pose};
use liverkit::bioheat::solver::{run, FixedSource, Lattice, Material, RunSettings};
use liverkit::bioheat::tissue::{Parameters, Walls};
use liverkit::progress::NoProgress;
use liverkit::Grid;

const N: usize = 100;
const COPY_BYTES: usize = 256 << 20;
/// Bytes one voxel update streams at least (see the module comment).
const BYTES_PER_UPDATE: f64 = 40.0;

struct Case {
    lattice: Lattice,
    settings: RunSettings,
    q: Vec<f32>,
}

fn case() -> Case {
    let p = Parameters::default();
    let (l, b) = (&p.liver, &p.blood);
    let lattice = Lattice {
        dims: [N; 3],
        spacing_mm: 1.0,
        materials: vec![Material {
            name: "liver".into(),
            heat_capacity_j_m3k: l.density_kg_m3 * l.specific_heat_j_kgk,
            conductivity_w_mk: l.conductivity_w_mk,
            perfusion_w_m3k: l.perfusion_1_s * b.density_kg_m3 * b.specific_heat_j_kgk,
            wall_w_m2k: None,
            wall_c: None,
            wall_gain: 1.0,
            boiling: None,
        }],
        material: vec![0; N * N * N],
    };
    let grid = Grid::from_spacing([N; 3], [1.0; 3]).expect("grid");
    // The antenna along +z, its tip 35 mm from the bottom face, so the zone
    // (about 36 × 42 mm, mostly behind the tip) sits in the middle.
    let pose = Pose::from_direction([50.0, 50.0, 65.0], [0.0, 0.0, 1.0]).expect("pose");
    let q = microwave_power_density(&grid, &pose, 100.0, &p.microwave).expect("power density");
    let settings = RunSettings {
        heating_s: 600.0,
        cooldown_s: 0.0,
        stability_safety_frac: p.solver.stability_safety_frac,
        dt_s: None,
        blood_c: b.temperature_c,
        initial_c: b.temperature_c,
        boiling_c: p.water.boiling_c,
        isotherm_c: p.damage.isotherm_c,
        walls: Walls::BodyTemperature,
        damage: p.damage,
        snapshots_s: Vec::new(),
    };
    Case { lattice, settings, q }
}

fn simulate(c: &Case) -> usize {
    let mut source = FixedSource(c.q.clone());
    run(&c.lattice, &c.settings, &mut source, &NoProgress)
        .expect("run")
        .steps
}

/// Copies `src` into `dst` in parallel chunks; returns the bytes moved
/// (read and written).
fn copy(src: &[u8], dst: &mut [u8]) -> f64 {
    use rayon::prelude::*;
    dst.par_chunks_mut(1 << 20)
        .zip(src.par_chunks(1 << 20))
        .for_each(|(d, s)| d.copy_from_slice(s));
    2.0 * src.len() as f64
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

/// Interleaved timings: the fraction of the memory-copy bound.
fn roofline(c: &Case, src: &[u8], dst: &mut [u8]) {
    let (mut copy_rate, mut update_rate) = (Vec::new(), Vec::new());
    for _ in 0..5 {
        let t = Instant::now();
        let bytes = copy(src, dst);
        copy_rate.push(bytes / t.elapsed().as_secs_f64());
        let t = Instant::now();
        let steps = simulate(c);
        update_rate.push((N * N * N * steps) as f64 / t.elapsed().as_secs_f64());
    }
    let (copy_bps, updates) = (median(copy_rate), median(update_rate));
    let bound = copy_bps / BYTES_PER_UPDATE;
    println!(
        "bioheat roofline ({} threads): memory copy {:.1} GB/s -> bound {:.0} M voxel updates/s; \
         solver {:.0} M voxel updates/s = {:.0} % of the bound",
        rayon::current_num_threads(),
        copy_bps / 1e9,
        bound / 1e6,
        updates / 1e6,
        100.0 * updates / bound
    );
}

fn bioheat(c: &mut Criterion) {
    let case = case();
    let src = vec![1u8; COPY_BYTES];
    let mut dst = vec![0u8; COPY_BYTES];
    roofline(&case, &src, &mut dst);
    let steps = simulate(&case);
    let mut g = c.benchmark_group("bioheat");
    g.sample_size(10);
    g.throughput(Throughput::Bytes(2 * COPY_BYTES as u64));
    g.bench_function("memory_copy_256MiB", |b| b.iter(|| copy(&src, &mut dst)));
    g.throughput(Throughput::Elements((N * N * N * steps) as u64));
    let all = rayon::current_num_threads();
    for threads in [1, all] {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .expect("pool");
        g.bench_with_input(
            BenchmarkId::new("mwa_100w_600s_100cubed", format!("{threads}_threads")),
            &case,
            |b, c| b.iter(|| pool.install(|| simulate(c))),
        );
    }
    g.finish();
}

criterion_group!(benches, bioheat);
criterion_main!(benches);
