//! The bioheat solver against closed-form solutions (CLINICAL.md §6), and the
//! ablation simulation's physics: convergence, heat sinks, symmetry,
//! monotonicity.

use liverkit::bioheat::applicator::{microwave_power_density, ApplicatorKind, Pose};
use liverkit::bioheat::protocols::needle_grid;
use liverkit::bioheat::rf::RfSource;
use liverkit::bioheat::solver::{
    arrhenius_rate_1_s, run, stability_bound_s, FixedSource, Lattice, Material, RunSettings,
};
use liverkit::bioheat::solver::{HeatSource, SourceState};
use liverkit::bioheat::tissue::{Parameters, Walls};
use liverkit::bioheat::zone::{reach_mm, zone_shape, LatticeField};
use liverkit::bioheat::{simulate, Request, Simulation, Tissues, VesselMask};
use liverkit::progress::NoProgress;
use liverkit::{Grid, Mask, Volume};
use ndarray::{Array3, ShapeBuilder};

/// Homogeneous liver on an n³ lattice, perfusion as given.
fn liver_lattice(n: usize, spacing_mm: f64, perfusion_1_s: f64) -> (Lattice, Parameters) {
    let p = Parameters::default();
    let l = &p.liver;
    let b = &p.blood;
    let lattice = Lattice {
        dims: [n, n, n],
        spacing_mm,
        materials: vec![Material {
            name: "liver".into(),
            heat_capacity_j_m3k: l.density_kg_m3 * l.specific_heat_j_kgk,
            conductivity_w_mk: l.conductivity_w_mk,
            perfusion_w_m3k: perfusion_1_s * b.density_kg_m3 * b.specific_heat_j_kgk,
            wall_w_m2k: None,
            wall_c: None,
            wall_gain: 1.0,
            boiling: None,
        }],
        material: vec![0; n * n * n],
    };
    (lattice, p)
}

pub(crate) fn settings(p: &Parameters, heating_s: f64, walls: Walls) -> RunSettings {
    RunSettings {
        heating_s,
        cooldown_s: 0.0,
        stability_safety_frac: 0.9,
        dt_s: None,
        blood_c: p.blood.temperature_c,
        initial_c: p.blood.temperature_c,
        boiling_c: p.water.boiling_c,
        isotherm_c: p.damage.isotherm_c,
        walls,
        damage: p.damage,
        snapshots_s: Vec::new(),
    }
}

/// Point source at the centre voxel: P / h³ there.
fn point_source(n: usize, spacing_mm: f64, power_w: f64) -> FixedSource {
    let h = spacing_mm * 1e-3;
    let mut q = vec![0.0f32; n * n * n];
    let c = n / 2;
    q[c + n * (c + n * c)] = (power_w / (h * h * h)) as f32;
    FixedSource(q)
}

/// Sample points at integer offsets from the centre: along the axes, face
/// diagonals and the body diagonal, at distances r ≥ r_min voxels.
fn offsets(r_min: f64, r_max: f64) -> Vec<[i64; 3]> {
    let mut out = Vec::new();
    for d in [
        [1, 0, 0],
        [0, 1, 0],
        [0, 0, -1],
        [1, 1, 0],
        [1, 0, 1],
        [1, 1, 1],
        [2, 1, 0],
    ] {
        for s in 1..40i64 {
            let o = [d[0] * s, d[1] * s, d[2] * s];
            let r = ((o[0] * o[0] + o[1] * o[1] + o[2] * o[2]) as f64).sqrt();
            if r >= r_min && r <= r_max {
                out.push(o);
            }
        }
    }
    out
}

#[test]
fn steady_point_source_in_perfused_tissue_matches_the_closed_form_within_2_pct() {
    let (n, h, omega, power) = (61, 1.0, 6.0e-3, 0.1);
    let (lattice, p) = liver_lattice(n, h, omega);
    let k = p.liver.conductivity_w_mk;
    let rho_c = p.liver.density_kg_m3 * p.liver.specific_heat_j_kgk;
    let beta = omega * p.blood.density_kg_m3 * p.blood.specific_heat_j_kgk / rho_c;
    let alpha = k / rho_c;
    let l_m = (alpha / beta).sqrt();
    // Ten time constants of perfusion: the transient is below e^-10. The
    // closed form keeps perfusion everywhere, so damage must not stop it.
    let mut s = settings(&p, 10.0 / beta, Walls::BodyTemperature);
    s.damage.perfusion_stop_omega = f64::INFINITY;
    s.damage.perfusion_stop_c = f64::INFINITY;
    let f = run(&lattice, &s, &mut point_source(n, h, power), &NoProgress).unwrap();
    let c = (n / 2) as i64;
    let mut worst = 0.0f64;
    for o in offsets(3.0, 12.0) {
        let r_m = ((o[0] * o[0] + o[1] * o[1] + o[2] * o[2]) as f64).sqrt() * h * 1e-3;
        let exact = power / (4.0 * std::f64::consts::PI * k * r_m) * (-r_m / l_m).exp();
        let i = ((c + o[0]) + n as i64 * ((c + o[1]) + n as i64 * (c + o[2]))) as usize;
        let got = f.final_c[i] as f64 - p.blood.temperature_c;
        let rel = (got - exact).abs() / exact;
        worst = worst.max(rel);
        assert!(
            rel < 0.02,
            "offset {o:?}: {got:.5} K vs {exact:.5} K ({:.2} %)",
            100.0 * rel
        );
    }
    println!(
        "steady point source: worst relative error {:.3} % for r >= 3 voxels",
        100.0 * worst
    );
}

/// erfc by its continued-fraction-free rational approximation is too coarse
/// for a 2 % check; integrate exp(-s²) instead (Simpson, 2000 panels).
fn erfc(x: f64) -> f64 {
    let upper = x + 8.0;
    let n = 4000;
    let hstep = (upper - x) / n as f64;
    let mut sum = (-x * x).exp() + (-upper * upper).exp();
    for i in 1..n {
        let s = x + i as f64 * hstep;
        sum += if i % 2 == 1 { 4.0 } else { 2.0 } * (-s * s).exp();
    }
    sum * hstep / 3.0 * 2.0 / std::f64::consts::PI.sqrt()
}

#[test]
fn transient_point_source_without_perfusion_matches_erfc_within_2_pct() {
    let (n, h, power, t) = (61, 1.0, 0.1, 300.0);
    let (lattice, p) = liver_lattice(n, h, 0.0);
    let k = p.liver.conductivity_w_mk;
    let alpha = k / (p.liver.density_kg_m3 * p.liver.specific_heat_j_kgk);
    let s = settings(&p, t, Walls::BodyTemperature);
    let f = run(&lattice, &s, &mut point_source(n, h, power), &NoProgress).unwrap();
    let c = (n / 2) as i64;
    let mut worst = 0.0f64;
    for o in offsets(3.0, 12.0) {
        let r_m = ((o[0] * o[0] + o[1] * o[1] + o[2] * o[2]) as f64).sqrt() * h * 1e-3;
        let exact = power / (4.0 * std::f64::consts::PI * k * r_m) * erfc(r_m / (2.0 * (alpha * t).sqrt()));
        let i = ((c + o[0]) + n as i64 * ((c + o[1]) + n as i64 * (c + o[2]))) as usize;
        let got = f.final_c[i] as f64 - p.blood.temperature_c;
        let rel = (got - exact).abs() / exact;
        worst = worst.max(rel);
        assert!(
            rel < 0.02,
            "offset {o:?}: {got:.5} K vs {exact:.5} K ({:.2} %)",
            100.0 * rel
        );
    }
    println!(
        "transient point source: worst relative error {:.3} % for r >= 3 voxels",
        100.0 * worst
    );
}

#[test]
fn energy_is_conserved_within_0_1_pct_with_insulated_walls_and_no_perfusion() {
    let (n, h) = (40, 1.0);
    let (lattice, p) = liver_lattice(n, h, 0.0);
    // A smooth blob of 1 W, well below boiling.
    let mut q = vec![0.0f32; n * n * n];
    let hm = h * 1e-3;
    let mut total = 0.0;
    for z in 0..n {
        for y in 0..n {
            for x in 0..n {
                let r2 = [x, y, z].iter().map(|&v| (v as f64 - 14.0).powi(2)).sum::<f64>();
                let v = (-r2 / 18.0).exp();
                q[x + n * (y + n * z)] = v as f32;
                total += v;
            }
        }
    }
    let scale = 1.0 / (total * hm * hm * hm);
    q.iter_mut().for_each(|v| *v = (*v as f64 * scale) as f32);
    let s = settings(&p, 30.0, Walls::Insulated);
    let f = run(&lattice, &s, &mut FixedSource(q), &NoProgress).unwrap();
    let e = f.energy;
    assert!(e.latent_j == 0.0, "nothing boils here: {e:?}");
    let rel = (e.stored_j - e.deposited_j).abs() / e.deposited_j;
    assert!(
        rel < 1e-3,
        "stored {} J vs deposited {} J",
        e.stored_j,
        e.deposited_j
    );
    assert!((e.deposited_j - 30.0).abs() < 1e-3 * 30.0, "{e:?}");
    println!(
        "energy balance: stored/deposited − 1 = {:.2e}",
        e.stored_j / e.deposited_j - 1.0
    );
}

/// Uniform heating of an insulated block without perfusion raises every
/// voxel linearly, T(t) = T₀ + q·t/(ρc), so each reaches the isotherm at
/// t* = (T_iso − T₀)·ρc/q exactly; a row of 11 voxels runs through both the
/// whole lanes and the partial last ones of the kernels. The arrival time
/// is 0 where tissue starts at or above the isotherm, and −1 where it never
/// gets there.
#[test]
fn isotherm_arrival_times_match_a_linear_ramp() {
    let n = 11;
    let (lattice, p) = liver_lattice(n, 1.0, 0.0);
    let rho_c = lattice.materials[0].heat_capacity_j_m3k;
    let t_star_s = 100.0;
    let q = ((p.damage.isotherm_c - p.blood.temperature_c) * rho_c / t_star_s) as f32;
    let arrivals = |heating_s: f64, isotherm_c: f64| {
        let s = RunSettings {
            isotherm_c,
            ..settings(&p, heating_s, Walls::Insulated)
        };
        let f = run(&lattice, &s, &mut FixedSource(vec![q; n * n * n]), &NoProgress).unwrap();
        f.time_to_isotherm_s
    };
    for t in arrivals(150.0, p.damage.isotherm_c) {
        assert!(
            (t as f64 - t_star_s).abs() < 0.05,
            "arrival {t} s, expected {t_star_s} s"
        );
    }
    assert!(arrivals(60.0, p.damage.isotherm_c).iter().all(|&t| t == -1.0));
    assert!(arrivals(60.0, p.blood.temperature_c).iter().all(|&t| t == 0.0));
}

#[test]
fn damage_at_constant_temperature_matches_the_arrhenius_integral_within_0_1_pct_paired_or_not() {
    for temp_c in [43.0, 50.0, 60.0, 70.0] {
        let (mut lattice, p) = liver_lattice(4, 1.0, 0.0);
        lattice.materials[0].perfusion_w_m3k = 0.0;
        let mut s = settings(&p, 30.0, Walls::Insulated);
        s.initial_c = temp_c;
        let f = run(&lattice, &s, &mut FixedSource(vec![0.0; 64]), &NoProgress).unwrap();
        let exact = p.damage.arrhenius_a_1_s
            * (-p.damage.arrhenius_ea_j_mol / (8.314_462_618 * (temp_c + 273.15))).exp()
            * 30.0;
        assert!((arrhenius_rate_1_s(&p.damage, temp_c) * 30.0 / exact - 1.0).abs() < 1e-12);
        for &o in &f.damage_omega {
            let rel = (o as f64 - exact).abs() / exact;
            assert!(rel < 1e-3, "{temp_c} °C: Ω {o} vs {exact}");
        }
        for &t in &f.final_c {
            assert!((t as f64 - temp_c).abs() < 1e-4, "temperature drifted: {t}");
        }
    }
    // Damage is integrated over pairs of steps; an odd number of steps, and
    // snapshots after an odd step, close the last step on its own. Each must
    // still give rate × elapsed time (at 55 °C, CEM43 by its closed form too).
    let temp_c = 55.0;
    for (steps, snapshot_s) in [(19usize, 30.0 * 7.0 / 19.0), (20, 30.0 * 8.0 / 20.0)] {
        let (mut lattice, p) = liver_lattice(4, 1.0, 0.0);
        lattice.materials[0].perfusion_w_m3k = 0.0;
        let mut s = settings(&p, 30.0, Walls::Insulated);
        s.initial_c = temp_c;
        s.dt_s = Some(30.0 / steps as f64);
        s.snapshots_s = vec![snapshot_s];
        let f = run(&lattice, &s, &mut FixedSource(vec![0.0; 64]), &NoProgress).unwrap();
        assert_eq!(f.steps, steps);
        let rate = p.damage.arrhenius_a_1_s
            * (-p.damage.arrhenius_ea_j_mol / (8.314_462_618 * (temp_c + 273.15))).exp();
        let cem_rate_min_s = 0.5f64.powf(43.0 - temp_c) / 60.0;
        for &o in &f.damage_omega {
            assert!(
                (o as f64 / (rate * 30.0) - 1.0).abs() < 1e-3,
                "{steps} steps: Ω {o}"
            );
        }
        for &c in &f.cem43_min {
            assert!(
                (c as f64 / (cem_rate_min_s * 30.0) - 1.0).abs() < 1e-3,
                "{steps} steps: CEM43 {c}"
            );
        }
        let snap = &f.snapshots[0];
        for &o in &snap.damage_omega {
            let exact = rate * snap.time_s;
            assert!(
                (o as f64 / exact - 1.0).abs() < 1e-3,
                "{steps} steps, snapshot at {} s: Ω {o} vs {exact}",
                snap.time_s
            );
        }
    }
    // CLINICAL.md §6: 70 °C reaches Ω = 1 in 0.23 s, 60 °C in 3.5 s, 50 °C in about a minute.
    let d = Parameters::default().damage;
    assert!((1.0 / arrhenius_rate_1_s(&d, 70.0) - 0.23).abs() < 0.01);
    assert!((1.0 / arrhenius_rate_1_s(&d, 60.0) - 3.5).abs() < 0.1);
    assert!((1.0 / arrhenius_rate_1_s(&d, 50.0) - 60.0).abs() < 6.0);
}

#[test]
fn a_time_step_above_the_stability_bound_is_refused_and_at_the_bound_stays_bounded() {
    let (n, h) = (21, 1.0);
    let (lattice, p) = liver_lattice(n, h, 6e-3);
    let bound = stability_bound_s(&lattice, Walls::BodyTemperature).unwrap();
    // Sinks (perfusion, the outer faces) are implicit: the bound is set by
    // conduction alone, ρc h² / (k Σw) with Σw = 6/3 + 12/6 = 4.
    let l = &p.liver;
    let rho_c = l.density_kg_m3 * l.specific_heat_j_kgk;
    let exact = rho_c * 1e-6 / (4.0 * l.conductivity_w_mk);
    assert!((bound / exact - 1.0).abs() < 1e-9, "{bound} vs {exact}");
    let mut s = settings(&p, 60.0, Walls::BodyTemperature);
    s.dt_s = Some(bound * 1.01);
    let e = run(&lattice, &s, &mut point_source(n, h, 0.5), &NoProgress).unwrap_err();
    assert_eq!(e.field(), Some("dt_s"));
    s.dt_s = Some(bound);
    let f = run(&lattice, &s, &mut point_source(n, h, 0.5), &NoProgress).unwrap();
    let (min, max) = f
        .final_c
        .iter()
        .fold((f32::MAX, f32::MIN), |(a, b), &t| (a.min(t), b.max(t)));
    // No boiling in this lattice: no voxel can be hotter than the source
    // voxel keeping all its heat (0.5 W for 60 s in one voxel), nor colder
    // than the start.
    let adiabatic = 37.0 + 0.5 * 60.0 / (1e-9 * rho_c);
    assert!(
        min >= 37.0 - 1e-6 && (max as f64) < adiabatic && max > 37.0,
        "monotone scheme left [37, {adiabatic:.0}]: {min}..{max}"
    );
}

// ---------------------------------------------------------------------------
// Ablation simulations on phantoms.

/// A block of liver on a 1 mm grid, `n` voxels a side, world = index mm.
pub(crate) fn liver_block(n: usize) -> Mask {
    let grid = Grid::from_spacing([n, n, n], [1.0, 1.0, 1.0]).unwrap();
    Volume::new(grid, Array3::from_elem([n, n, n].f(), true)).unwrap()
}

/// A cylinder along z through (cx, cy), radius r mm, on `like`'s grid.
pub(crate) fn cylinder(like: &Mask, cx: f64, cy: f64, r: f64) -> Mask {
    let d = like.grid().dims();
    let a = Array3::from_shape_fn(d.f(), |(x, y, _)| {
        (x as f64 - cx).powi(2) + (y as f64 - cy).powi(2) <= r * r
    });
    Volume::new(like.grid().clone(), a).unwrap()
}

pub(crate) fn mwa(power_w: f64, time_s: f64, pose: Pose) -> Request {
    Request {
        applicator: ApplicatorKind::Mwa,
        power_w,
        time_s,
        pose,
        allow_outside: false,
        max_bytes: 4 << 30,
        margin_mm: 10.0,
        expected_radius_mm: 15.0,
        together: Vec::new(),
    }
}

fn run_sim(liver: &Mask, vessels: &[(i64, &Mask)], request: &Request, params: &Parameters) -> Simulation {
    let tissues = Tissues {
        liver,
        tumor: None,
        vessels: vessels
            .iter()
            .map(|(l, m)| VesselMask {
                label: *l,
                name: None,
                mask: m,
            })
            .collect(),
    };
    simulate(&tissues, request, params, &NoProgress).unwrap()
}

/// Zone volume (lattice voxels ≥ 70 °C) on each side of the plane x = x0, mL.
pub(crate) fn half_volumes(sim: &Simulation, x0: f64) -> (f64, f64) {
    let g = &sim.sim.grid;
    let d = g.dims();
    let (mut plus, mut minus) = (0usize, 0usize);
    for z in 0..d[2] {
        for y in 0..d[1] {
            for x in 0..d[0] {
                if sim.fields.tmax_c[x + d[0] * (y + d[1] * z)] >= 70.0 {
                    let w = g.voxel_to_world([x as f64, y as f64, z as f64]);
                    if w[0] > x0 + 1e-6 {
                        plus += 1;
                    } else if w[0] < x0 - 1e-6 {
                        minus += 1;
                    }
                }
            }
        }
    }
    let v = g.voxel_volume_mm3() / 1000.0;
    (plus as f64 * v, minus as f64 * v)
}

/// A homogeneous perfused-liver lattice around an antenna along +z (tip at
/// the origin), `half` mm across, at the given spacing; MWA 100 W for 3 min
/// (16.5 W in tissue).
fn small_mwa_zone(spacing_mm: f64) -> liverkit::bioheat::zone::ZoneShape {
    let p = Parameters::default();
    let grid = needle_grid(spacing_mm, 20.0, 15.0, 40.0).unwrap();
    let dims = grid.dims();
    let (lattice, _) = liver_lattice(1, spacing_mm, p.liver.perfusion_1_s);
    let lattice = Lattice {
        dims,
        material: vec![0; dims[0] * dims[1] * dims[2]],
        ..lattice
    };
    let pose = Pose::from_direction([0.0; 3], [0.0, 0.0, 1.0]).unwrap();
    let q = microwave_power_density(&grid, &pose, 100.0, &p.microwave).unwrap();
    let f = run(
        &lattice,
        &settings(&p, 180.0, Walls::BodyTemperature),
        &mut FixedSource(q),
        &NoProgress,
    )
    .unwrap();
    let field = LatticeField {
        grid: &grid,
        values: &f.tmax_c,
        outside: 37.0,
    };
    zone_shape(&field, 70.0, &pose)
}

#[test]
fn halving_the_spacing_changes_the_70c_zone_diameter_by_less_than_1_mm() {
    let coarse = small_mwa_zone(1.0);
    let fine = small_mwa_zone(0.5);
    println!("1 mm: {coarse:?}\n0.5 mm: {fine:?}");
    assert!(coarse.diameter_mm > 10.0, "{coarse:?}");
    assert!(
        (coarse.diameter_mm - fine.diameter_mm).abs() < 1.0,
        "{coarse:?} vs {fine:?}"
    );
    assert!(
        (coarse.length_mm - fine.length_mm).abs() < 1.0,
        "{coarse:?} vs {fine:?}"
    );
}

/// A sleeve-shaped field around a needle along +z (tip at the origin): peak
/// 87 °C on the cylinder r = 5 mm over the 30 mm behind the tip, falling as
/// 1 − ((r − 5)/4)² across it and linearly to nothing over 4 mm past each
/// end, 37 °C on the axis: the shape a cooled electrode leaves.
fn sleeve(p: [f64; 3]) -> f32 {
    let r = (p[0] * p[0] + p[1] * p[1]).sqrt();
    let s = -p[2];
    let across = (1.0 - ((r - 5.0) / 4.0).powi(2)).max(0.0);
    let along = if s < 0.0 {
        (1.0 + s / 4.0).max(0.0)
    } else if s > 30.0 {
        (1.0 - (s - 30.0) / 4.0).max(0.0)
    } else {
        1.0
    };
    (37.0 + 50.0 * across * along) as f32
}

#[test]
fn a_zone_with_a_cool_core_on_the_axis_is_measured_by_its_outer_boundary() {
    // At 70 °C: |r − 5| ≤ 4·√0.34 across (diameter 2·(5 + 2.332)), and the
    // ends reach 4·0.34 mm past 0 and 30 mm on the r = 5 mm cylinder.
    let grid = needle_grid(0.25, 12.0, 8.0, 40.0).unwrap();
    let [nx, ny, nz] = grid.dims();
    let mut values = vec![0.0f32; nx * ny * nz];
    for z in 0..nz {
        for y in 0..ny {
            for x in 0..nx {
                values[x + nx * (y + ny * z)] = sleeve(grid.voxel_to_world([x as f64, y as f64, z as f64]));
            }
        }
    }
    let field = LatticeField {
        grid: &grid,
        values: &values,
        outside: 37.0,
    };
    let pose = Pose::from_direction([0.0; 3], [0.0, 0.0, 1.0]).unwrap();
    let shape = zone_shape(&field, 70.0, &pose);
    let reach = 4.0 * 0.34f64.sqrt();
    let end = 4.0 * 0.34;
    println!("{shape:?}");
    assert!((shape.diameter_mm - 2.0 * (5.0 + reach)).abs() < 0.1, "{shape:?}");
    assert!((shape.length_mm - (30.0 + 2.0 * end)).abs() < 0.1, "{shape:?}");
    assert!((shape.beyond_tip_mm - end).abs() < 0.1, "{shape:?}");
}

#[test]
fn the_zone_is_symmetric_in_homogeneous_tissue_whatever_the_needle_direction() {
    let n = 80;
    let liver = liver_block(n);
    let p = Parameters::default();
    let straight = Pose::from_direction([40.0, 40.0, 55.0], [0.0, 0.0, 1.0]).unwrap();
    let s = run_sim(&liver, &[], &mwa(60.0, 240.0, straight), &p);
    let field = LatticeField {
        grid: &s.sim.grid,
        values: &s.fields.tmax_c,
        outside: 37.0,
    };
    let c = straight.behind(s.zone_iso.widest_at_mm);
    let r: Vec<f64> = [
        [1.0, 0.0, 0.0],
        [-1.0, 0.0, 0.0],
        [0.0, 1.0, 0.0],
        [0.0, -1.0, 0.0],
    ]
    .iter()
    .map(|&u| reach_mm(&field, 70.0, c, u, 0.25))
    .collect();
    println!("radii {r:?}");
    for v in &r {
        assert!((v - r[0]).abs() < 0.05, "{r:?}");
    }
    // An oblique needle gives the same zone to within a millimetre.
    let d = 1.0 / 3f64.sqrt();
    let oblique = Pose::from_direction([40.3, 39.6, 50.2], [d, -d, d]).unwrap();
    let o = run_sim(&liver, &[], &mwa(60.0, 240.0, oblique), &p);
    println!("straight {:?}\noblique {:?}", s.zone_iso, o.zone_iso);
    assert!((o.zone_iso.diameter_mm - s.zone_iso.diameter_mm).abs() < 1.0);
    assert!((o.zone_iso.length_mm - s.zone_iso.length_mm).abs() < 1.0);
    assert!((o.zone_iso.volume_ml - s.zone_iso.volume_ml).abs() < 0.05 * s.zone_iso.volume_ml);
}

#[test]
fn more_power_or_more_time_never_gives_a_smaller_zone() {
    let liver = liver_block(80);
    let p = Parameters::default();
    let pose = Pose::from_direction([40.0, 40.0, 55.0], [0.0, 0.0, 1.0]).unwrap();
    let mut last = (0.0, 0.0, 0.0);
    for power in [30.0, 45.0, 60.0, 80.0] {
        let z = run_sim(&liver, &[], &mwa(power, 180.0, pose), &p).zone_iso;
        assert!(
            z.volume_ml >= last.0 && z.diameter_mm >= last.1 && z.length_mm >= last.2,
            "{power} W: {z:?}"
        );
        last = (z.volume_ml, z.diameter_mm, z.length_mm);
    }
    let mut last = (0.0, 0.0, 0.0);
    for time in [60.0, 120.0, 240.0, 360.0] {
        let z = run_sim(&liver, &[], &mwa(45.0, time, pose), &p).zone_iso;
        assert!(
            z.volume_ml >= last.0 && z.diameter_mm >= last.1 && z.length_mm >= last.2,
            "{time} s: {z:?}"
        );
        last = (z.volume_ml, z.diameter_mm, z.length_mm);
    }
}

/// The first heating of `rf` over `n` voxels of wet tissue at 37 °C (one
/// solution of the potential), W/m³.
fn heat_at_body_temperature(rf: &mut RfSource, n: usize) -> Vec<f32> {
    let mut q = vec![0.0f32; n];
    let (temps, water) = (vec![37.0; n], vec![1.0; n]);
    let state = SourceState {
        temperature_c: &temps,
        water_left_frac: &water,
        time_s: 0.0,
        step_s: 1.0,
    };
    rf.power_w_m3(&state, &mut q).unwrap();
    q
}

#[test]
fn rf_impedance_of_a_sphere_matches_the_closed_form() {
    // A spherical electrode of radius a in a cube grounded at half-width L:
    // R lies between the concentric-sphere values (1/a − 1/R_out)/(4πσ) for
    // R_out = L (inscribed) and L√3 (circumscribed).
    let (n, h, a, sigma) = (81usize, 1.0, 6.0, 0.34);
    let c = (n / 2) as f64;
    let mut electrode = vec![false; n * n * n];
    for z in 0..n {
        for y in 0..n {
            for x in 0..n {
                let r2 = (x as f64 - c).powi(2) + (y as f64 - c).powi(2) + (z as f64 - c).powi(2);
                electrode[x + n * (y + n * z)] = r2 <= a * a;
            }
        }
    }
    // The voxel sphere's volume-equivalent radius.
    let count = electrode.iter().filter(|&&e| e).count() as f64;
    let a_eq = (3.0 * count / (4.0 * std::f64::consts::PI)).cbrt();
    let mut rf = RfSource::new([n; 3], h, vec![sigma; n * n * n], electrode, 0.015, 10.0, 10.0).unwrap();
    let q = heat_at_body_temperature(&mut rf, n * n * n);
    let r = rf.impedance_ohm[0];
    let l = (c + 1.0) * h; // the grounded layer
    let closed = |outer: f64| (1.0 / a_eq - 1.0 / outer) / (4.0 * std::f64::consts::PI * sigma * 1e-3);
    let (lo, hi) = (closed(l), closed(l * 3f64.sqrt()));
    println!("R = {r:.2} ohm, closed form between {lo:.2} and {hi:.2} ohm (a = {a_eq:.3} mm)");
    assert!(r > 0.97 * lo && r < 1.03 * hi, "{r} not in [{lo}, {hi}]");
    // Power control: the heating sums to the set power.
    let total: f64 = q.iter().map(|&v| v as f64).sum::<f64>() * (h * 1e-3).powi(3);
    assert!((total - 10.0).abs() < 1e-3 * 10.0, "{total} W");
}

#[test]
fn radiofrequency_ablation_delivers_its_power_and_makes_a_zone_of_clinical_size() {
    let liver = liver_block(80);
    let pose = Pose::from_direction([40.0, 40.0, 58.0], [0.0, 0.0, 1.0]).unwrap();
    let req = Request {
        applicator: ApplicatorKind::Rfa,
        expected_radius_mm: 20.0,
        together: Vec::new(),
        ..mwa(50.0, 480.0, pose)
    };
    // A bare electrode on a generator that delivers its setting.
    let mut base = Parameters::default();
    base.rf.cooled = false;
    base.rf.impedance_control = false;
    let mut every = base.clone();
    every.rf.max_update_interval_s = every.rf.update_interval_s;
    let fixed = run_sim(&liver, &[], &req, &every);
    let s = run_sim(&liver, &[], &req, &base);
    let (rf, rf_fixed) = (s.rf.clone().unwrap(), fixed.rf.clone().unwrap());
    println!(
        "adaptive {:?}
{rf:?}
{:?}",
        s.zone_iso, s.fields.energy
    );
    println!(
        "every 10 s {:?}
{rf_fixed:?}",
        fixed.zone_iso
    );
    assert!((s.deposited_w - 50.0).abs() < 1e-3 * 50.0, "{}", s.deposited_w);
    // Every 10 s of heating, counted in whole time steps (7 of 1.66 s): 41
    // solutions in 480 s.
    assert!(rf_fixed.solutions >= 40, "{rf_fixed:?}");
    // The impedance would fall as the tissue warms (its conductivity
    // rises); it rises where tissue at the electrode boils dry. This
    // electrode is not cooled: at 50 W the tissue against it dries within
    // the first 10 s, so the impedance only rises.
    assert!(
        rf.impedance_min_ohm < rf.impedance_start_ohm || s.fields.dried_voxels > 0,
        "{rf:?}"
    );
    assert!(
        rf.impedance_end_ohm <= rf.impedance_min_ohm * 1.001 || s.fields.dried_voxels > 0,
        "{rf:?}"
    );
    // Solving less often once the impedance has settled changes the zone by
    // under 0.5 mm.
    assert!(rf.solutions < rf_fixed.solutions, "{rf:?}");
    assert!((s.zone_iso.diameter_mm - fixed.zone_iso.diameter_mm).abs() < 0.5);
    assert!((s.zone_iso.length_mm - fixed.zone_iso.length_mm).abs() < 0.5);
    // CLINICAL.md §6: single-needle RFA zones are 3–5 cm; this shorter,
    // weaker run stays just under.
    assert!(
        s.zone_iso.diameter_mm > 20.0 && s.zone_iso.diameter_mm < 55.0,
        "{:?}",
        s.zone_iso
    );
}

#[test]
fn results_are_identical_for_any_thread_count() {
    let liver = liver_block(60);
    let vessel = cylinder(&liver, 38.0, 30.0, 2.5);
    let p = Parameters::default();
    // The bare electrode at a set power besides the default (cooled,
    // impedance-controlled) one.
    let mut bare = p.clone();
    bare.rf.cooled = false;
    bare.rf.impedance_control = false;
    let pose = Pose::from_direction([30.0, 30.0, 40.0], [0.0, 0.0, 1.0]).unwrap();
    let rfa = |time_s: f64| Request {
        applicator: ApplicatorKind::Rfa,
        expected_radius_mm: 10.0,
        together: Vec::new(),
        ..mwa(20.0, time_s, pose)
    };
    for (req, p) in [
        (mwa(100.0, 120.0, pose), &p),
        (rfa(60.0), &bare),
        (rfa(150.0), &p),
    ] {
        let in_pool = |threads: usize| {
            rayon::ThreadPoolBuilder::new()
                .num_threads(threads)
                .build()
                .unwrap()
                .install(|| run_sim(&liver, &[(7, &vessel)], &req, p))
        };
        let (one, three) = (in_pool(1), in_pool(3));
        assert!(one.fields.tmax_c == three.fields.tmax_c, "{:?}", req.applicator);
        assert!(one.fields.damage_omega == three.fields.damage_omega);
        assert!(one.fields.cem43_min == three.fields.cem43_min);
        assert!(one.fields.time_to_isotherm_s == three.fields.time_to_isotherm_s);
        assert_eq!(one.fields.energy, three.fields.energy);
        assert_eq!(one.rf, three.rf);
        assert!(one.zone_iso.volume_ml > 0.2, "{:?}", one.zone_iso);
    }
}

/// The AVX2 kernels and the baseline ones give the same numbers, bit for
/// bit (neither contracts products into FMAs). On a processor without AVX2
/// both runs take the baseline and the comparison is trivial; the machines
/// this project builds on have AVX2, and the test prints which case ran.
#[test]
fn avx2_and_baseline_kernels_agree_bit_for_bit() {
    let liver = liver_block(40);
    let vessel = cylinder(&liver, 26.0, 20.0, 2.5);
    let p = Parameters::default();
    let pose = Pose::from_direction([20.0, 20.0, 26.0], [0.0, 0.0, 1.0]).unwrap();
    let req = mwa(75.0, 60.0, pose);
    liverkit::bioheat::solver::force_baseline_kernels(false);
    let wide = liverkit::bioheat::solver::avx2_kernels_in_use();
    let fast = run_sim(&liver, &[(7, &vessel)], &req, &p);
    liverkit::bioheat::solver::force_baseline_kernels(true);
    assert!(!liverkit::bioheat::solver::avx2_kernels_in_use());
    let base = run_sim(&liver, &[(7, &vessel)], &req, &p);
    liverkit::bioheat::solver::force_baseline_kernels(false);
    eprintln!("AVX2 kernels available: {wide}");
    let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
    assert!(bits(&fast.fields.tmax_c) == bits(&base.fields.tmax_c));
    assert!(bits(&fast.fields.damage_omega) == bits(&base.fields.damage_omega));
    assert!(bits(&fast.fields.cem43_min) == bits(&base.fields.cem43_min));
    assert!(bits(&fast.fields.time_to_isotherm_s) == bits(&base.fields.time_to_isotherm_s));
    assert_eq!(fast.fields.energy, base.fields.energy);
    assert!(fast.zone_iso.volume_ml > 0.1, "{:?}", fast.zone_iso);
}

/// Solves the potential around a thin straight electrode (radius
/// `radius_mm`, from `from` to `to` in voxel units on a 1 mm lattice of
/// liver conductivity), with or without the near-field gain, and returns
/// the radius at which the potential measured around the electrode's middle
/// reaches the electrode's: the far field is fitted with the line
/// electrode's law V = c − A·ln r at lattice nodes 2–7 mm from the axis,
/// and solved for V = 1.
fn apparent_electrode_radius_mm(
    dims: [usize; 3],
    from: [f64; 3],
    to: [f64; 3],
    radius_mm: f64,
    with_gain: bool,
    probes: &[([usize; 3], f64)],
) -> f64 {
    let n = dims[0] * dims[1] * dims[2];
    let axis: Vec<f64> = (0..3).map(|a| to[a] - from[a]).collect();
    let length = axis.iter().map(|v| v * v).sum::<f64>().sqrt();
    let u: Vec<f64> = axis.iter().map(|v| v / length).collect();
    // Position along the axis and distance from the segment.
    let axis = |q: [usize; 3]| {
        let d: Vec<f64> = (0..3).map(|a| q[a] as f64 - from[a]).collect();
        let along = (0..3).map(|a| d[a] * u[a]).sum::<f64>();
        let s = along.clamp(0.0, length);
        (
            along,
            (0..3).map(|a| (d[a] - s * u[a]).powi(2)).sum::<f64>().sqrt(),
        )
    };
    let at = |q: [usize; 3]| q[0] + dims[0] * (q[1] + dims[1] * q[2]);
    let mut electrode = vec![false; n];
    for z in 0..dims[2] {
        for y in 0..dims[1] {
            for x in 0..dims[0] {
                electrode[at([x, y, z])] = axis([x, y, z]).1 <= radius_mm.max(0.5 * 3f64.sqrt());
            }
        }
    }
    let near = liverkit::bioheat::electrode::near_field(&electrode, dims, 1.0, radius_mm, length, axis)
        .expect("a thin electrode has a near field");
    let gain = if with_gain { near.gain } else { 1.0 };
    let mut rf = RfSource::new(dims, 1.0, vec![0.34; n], electrode, 0.0, 10.0, 10.0).unwrap();
    if with_gain {
        rf = rf.with_near_field(near);
    }
    heat_at_body_temperature(&mut rf, n);
    // Least squares of V against ln r.
    let pts: Vec<(f64, f64)> = probes
        .iter()
        .map(|&(p, r)| (r.ln(), rf.unit_potential()[at(p)]))
        .collect();
    let m = pts.len() as f64;
    let (sx, sy) = pts.iter().fold((0.0, 0.0), |(a, b), (x, y)| (a + x, b + y));
    let sxx: f64 = pts.iter().map(|(x, _)| x * x).sum();
    let sxy: f64 = pts.iter().map(|(x, y)| x * y).sum();
    let slope = (m * sxy - sx * sy) / (m * sxx - sx * sx);
    let c = (sy - slope * sx) / m;
    let r = ((1.0 - c) / slope).exp();
    println!("gain {gain:.2}: V = {c:.4} + {slope:.4} ln r, V = 1 at r = {r:.3} mm");
    r
}

#[test]
fn a_thin_rf_electrode_conducts_with_its_true_radius() {
    // The continuum potential of a line electrode falls as ln r, and
    // reaches the electrode's potential at its surface. A line of lattice
    // voxels held at one potential acts as a wire of about 0.21 h [Peaceman1978];
    // with the near-field gain the far field must extrapolate to the true
    // radius, along the axis and obliquely.
    for radius in [0.5, 0.75] {
        // Along z through a 41 x 41 x 81 lattice, 60 mm long.
        let c = 20usize;
        let probes: Vec<([usize; 3], f64)> = (2..=7)
            .flat_map(|k| [([c + k, c, 40], k as f64), ([c, c - k, 40], k as f64)])
            .collect();
        let aligned = |g| {
            apparent_electrode_radius_mm(
                [41, 41, 81],
                [20.0, 20.0, 10.0],
                [20.0, 20.0, 70.0],
                radius,
                g,
                &probes,
            )
        };
        let (with, without) = (aligned(true), aligned(false));
        assert!(
            (with / radius - 1.0).abs() < 0.05,
            "aligned, {radius} mm: apparent {with} mm"
        );
        assert!(
            without < 0.3,
            "without the gain the wire looks thin: {without} mm"
        );
        // Diagonal in the x-y plane, 45 mm long; probes across it in z
        // and along (1, -1, 0).
        let (cx, cz) = (32usize, 20usize);
        let probes: Vec<([usize; 3], f64)> = (2..=7)
            .map(|k| ([cx, cx, cz + k], k as f64))
            .chain((2..=5).map(|k| ([cx + k, cx - k, cz], k as f64 * 2f64.sqrt())))
            .collect();
        let d = 45.0 / 2f64.sqrt() / 2.0;
        let oblique = apparent_electrode_radius_mm(
            [65, 65, 41],
            [32.0 - d, 32.0 - d, 20.0],
            [32.0 + d, 32.0 + d, 20.0],
            radius,
            true,
            &probes,
        );
        assert!(
            (oblique / radius - 1.0).abs() < 0.12,
            "oblique, {radius} mm: apparent {oblique} mm"
        );
    }
}
