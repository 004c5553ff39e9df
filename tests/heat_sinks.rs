//! Heat sinks with physics (issue 12 item 5): the wall coefficient follows
//! each vessel's measured diameter and flow, the effect grows smoothly with
//! the diameter, microwave and RF differ, and a perfused tube next to a
//! microwave antenna deforms the zone as [HeatSink2015] measured
//! (`../shared/data/ablation-zones/heat_sink_mwa_plos2015.md`).

use crate::bioheat::{cylinder, half_volumes, liver_block, mwa};
use liverkit::bioheat::applicator::{ApplicatorKind, Pose};
use liverkit::bioheat::tissue::Parameters;
use liverkit::bioheat::zone::{reach_mm, LatticeField};
use liverkit::bioheat::{simulate, Request, Simulation, Tissues, VesselMask};
use liverkit::progress::NoProgress;
use liverkit::Mask;

fn run(liver: &Mask, vessel: Option<&Mask>, name: &str, req: &Request, p: &Parameters) -> Simulation {
    let tissues = Tissues {
        liver,
        tumor: None,
        vessels: vessel
            .map(|m| VesselMask {
                label: 1,
                name: Some(name.to_string()),
                mask: m,
            })
            .into_iter()
            .collect(),
    };
    simulate(&tissues, req, p, &NoProgress).unwrap()
}

/// The share of the vessel-free 70 °C zone lost on the vessel's side (x > c).
fn side_loss(s: &Simulation, none: &Simulation, c: f64) -> f64 {
    let (a0, _) = half_volumes(none, c);
    let (a, _) = half_volumes(s, c);
    1.0 - a / a0
}

#[test]
fn the_sink_grows_smoothly_with_the_vessel_diameter() {
    // Microwave, 100 W for 10 min in perfused liver; a portal vein branch
    // parallel to the antenna, its wall 8 mm from the axis.
    let liver = liver_block(100);
    let c = 50.0;
    let pose = Pose::from_direction([c, c, 65.0], [0.0, 0.0, 1.0]).unwrap();
    let req = Request {
        expected_radius_mm: 20.0,
        together: Vec::new(),
        ..mwa(100.0, 600.0, pose)
    };
    let p = Parameters::default();
    let none = run(&liver, None, "portal_vein", &req, &p);
    let mut losses = Vec::new();
    for d in [2.0, 3.0, 4.0, 5.0, 8.0] {
        let v = cylinder(&liver, c + 8.0 + 0.5 * d, c, 0.5 * d);
        let s = run(&liver, Some(&v), "portal_vein", &req, &p);
        let u = &s.sim.vessel_use[0];
        let loss = side_loss(&s, &none, c);
        println!(
            "{d} mm: loss {:.1} %, measured up to {:.2} mm, wall {:.0} W/(m2 K)",
            100.0 * loss,
            u.diameter_max_mm,
            u.heat_transfer_mean_w_m2k.unwrap()
        );
        // Every vessel voxel is a sink; none is dropped for its size.
        assert!(u.below_sink_diameter_ml == 0.0 && u.sink_ml > 0.0, "{u:?}");
        losses.push(loss);
    }
    // Monotone in the diameter...
    for w in losses.windows(2) {
        assert!(w[1] > w[0], "{losses:?}");
    }
    // ...with no cliff: no step between neighbouring diameters takes more
    // than half of the change from 2 to 8 mm.
    let span = losses[4] - losses[0];
    assert!(span > 0.0);
    for w in losses.windows(2) {
        assert!(w[1] - w[0] <= 0.5 * span + 1e-9, "{losses:?}");
    }
    // A 3 mm vessel drawn as 2×2 voxels (centred between voxels) and as
    // 3×3 (centred on one), both with their near wall 7.5 mm from the axis,
    // cost nearly the same: the old model's cliff (nothing for 2×2, a fifth
    // of the zone for 3×3) is gone.
    let two = cylinder(&liver, c + 8.5, c + 0.5, 1.5);
    let three = cylinder(&liver, c + 9.0, c, 1.5);
    let l2 = side_loss(&run(&liver, Some(&two), "portal_vein", &req, &p), &none, c);
    let l3 = side_loss(&run(&liver, Some(&three), "portal_vein", &req, &p), &none, c);
    println!("3 mm as 2x2: {:.1} %, as 3x3: {:.1} %", 100.0 * l2, 100.0 * l3);
    assert!(l2 > 0.0 && (l3 - l2).abs() < 0.05, "{l2} vs {l3}");
}

#[test]
fn microwave_loses_less_to_a_vessel_than_rf_and_coagulates_up_to_its_wall() {
    // Two ablations with the same vessel-free 70 °C diameter (within
    // 1.4 mm): microwave as used, high power for a short time (150 W,
    // 2.5 min), and radiofrequency as a clinician sets it (the default
    // internally cooled 3 cm electrode on the impedance-controlled
    // generator, 200 W for 5 min). A 5 mm portal vein branch has its wall
    // 5 mm from the axis. The cooled electrode's zone is a sleeve around a
    // cooler axis, so both zones are sized by their measured diameter and
    // the loss is the share of the zone's volume lost on the vessel's side.
    let liver = liver_block(100);
    let c = 50.0;
    let pose = Pose::from_direction([c, c, 65.0], [0.0, 0.0, 1.0]).unwrap();
    let p = Parameters::default();
    assert!(p.rf.cooled && p.rf.impedance_control);
    let mw = Request {
        expected_radius_mm: 20.0,
        together: Vec::new(),
        ..mwa(150.0, 150.0, pose)
    };
    let rf = Request {
        applicator: ApplicatorKind::Rfa,
        power_w: 200.0,
        time_s: 300.0,
        ..mw.clone()
    };
    let vessel = cylinder(&liver, c + 7.5, c, 2.5);
    let mut out = Vec::new();
    for (kind, req) in [("microwave", &mw), ("rf", &rf)] {
        let none = run(&liver, None, "portal_vein", req, &p);
        let with = run(&liver, Some(&vessel), "portal_vein", req, &p);
        let d0 = none.zone_iso.diameter_mm;
        let loss = side_loss(&with, &none, c);
        let field = LatticeField {
            grid: &with.sim.grid,
            values: &with.fields.damage_omega,
            outside: 0.0,
        };
        let dead = reach_mm(
            &field,
            1.0,
            pose.behind(none.zone_iso.widest_at_mm),
            [1.0, 0.0, 0.0],
            0.25,
        );
        println!(
            "{kind}: vessel-free 70 C diameter {d0:.2} mm, with the vessel {:.2} mm; side loss {:.1} %, \
             coagulation reaches {dead:.2} mm from the axis (wall at 5)",
            with.zone_iso.diameter_mm,
            100.0 * loss
        );
        out.push((d0, loss, dead));
    }
    let ((d_mw, l_mw, dead_mw), (d_rf, l_rf, _)) = (out[0], out[1]);
    assert!((d_mw - d_rf).abs() < 1.4, "{d_mw} vs {d_rf}");
    // Microwave loses a markedly smaller share of its zone to the vessel
    // (by 10 points or more)...
    assert!(l_rf - l_mw > 0.10, "microwave {l_mw:.3} vs rf {l_rf:.3}");
    // ...and its coagulation reaches the vessel wall (the tissue voxel
    // against it, centred 0.5 mm inside, dies).
    assert!(dead_mw >= 4.5, "{dead_mw}");
}

/// The damage-zone (Ω ≥ 1) reach from the point `at_mm` behind the tip.
fn damage_reach(s: &Simulation, pose: &Pose, at_mm: f64, dir: [f64; 3]) -> f64 {
    let field = LatticeField {
        grid: &s.sim.grid,
        values: &s.fields.damage_omega,
        outside: 0.0,
    };
    reach_mm(&field, 1.0, pose.behind(at_mm), dir, 0.25)
}

/// Lattice voxels with Ω ≥ 1 in the cross-section `at_mm` behind the tip.
fn damage_area_mm2(s: &Simulation, pose: &Pose, at_mm: f64) -> f64 {
    let g = &s.sim.grid;
    let d = g.dims();
    let z = g.world_to_voxel(pose.behind(at_mm))[2].round() as usize;
    let mut n = 0usize;
    for y in 0..d[1] {
        for x in 0..d[0] {
            if s.fields.damage_omega[x + d[0] * (y + d[1] * z)] >= 1.0 {
                n += 1;
            }
        }
    }
    let h = g.spacing_mm()[0];
    n as f64 * h * h
}

#[test]
fn a_perfused_tube_deforms_the_microwave_zone_as_published() {
    // [HeatSink2015] (heat_sink_mwa_plos2015.md): ex vivo porcine liver, a 5 mm
    // glass tube parallel to a microwave antenna, perfused at 700 mL/min
    // (0.594 m/s mean). The coagulation radius towards the tube was 37.2 %
    // of the unperfused radius with the tube 10 mm from the antenna and
    // 80.1 % at 15 mm; the cross-section area 50.5 % and 89.7 %. The
    // paper's generator setting is not in the data here, so the check runs
    // the shipped device at two settings of [He2010] whose coagulation
    // zones (30 and 37 mm across) bracket a typical one, and allows 16
    // points either way on the radius. Ex vivo: no perfusion; the zone is the coagulation
    // (damage) zone, as gross pathology measures.
    let liver = liver_block(110);
    let c = 55.0;
    let pose = Pose::from_direction([c, c, 70.0], [0.0, 0.0, 1.0]).unwrap();
    let mut p = Parameters::default();
    p.liver.perfusion_1_s = 0.0;
    p.vessels.insert(
        "glass_tube".into(),
        liverkit::bioheat::tissue::VesselWall {
            velocity_m_s: Some(0.594),
            ..p.vessel
        },
    );
    for (power_w, time_s) in [(30.0, 600.0), (50.0, 600.0)] {
        let req = Request {
            expected_radius_mm: 24.0,
            together: Vec::new(),
            ..mwa(power_w, time_s, pose)
        };
        let none = run(&liver, None, "glass_tube", &req, &p);
        let at = none.zone_damage.widest_at_mm;
        let r0 = damage_reach(&none, &pose, at, [1.0, 0.0, 0.0]);
        let a0 = damage_area_mm2(&none, &pose, at);
        let mut radius_pct = Vec::new();
        let mut area_pct = Vec::new();
        for (distance, published_radius, published_area) in [(10.0, 37.2, 50.5), (15.0, 80.1, 89.7)] {
            let tube = cylinder(&liver, c + distance, c, 2.5);
            let s = run(&liver, Some(&tube), "glass_tube", &req, &p);
            let r = 100.0 * damage_reach(&s, &pose, at, [1.0, 0.0, 0.0]) / r0;
            let a = 100.0 * damage_area_mm2(&s, &pose, at) / a0;
            println!(
                "{power_w} W {time_s} s (unperfused radius {r0:.1} mm), tube at {distance} mm: \
                 radius {r:.1} % (published {published_radius}), area {a:.1} % (published {published_area}), \
                 wall {:.0} W/(m2 K)",
                s.sim.vessel_use[0].heat_transfer_mean_w_m2k.unwrap()
            );
            assert!(
                (r - published_radius).abs() <= 16.0,
                "radius {r:.1} % at {distance} mm"
            );
            radius_pct.push(r);
            area_pct.push(a);
        }
        assert!(radius_pct[1] > radius_pct[0] + 15.0, "{radius_pct:?}");
        // The area shrinks less than published (docs/formulas/bioheat.md,
        // "Heat sinks"): only its order is checked.
        assert!(area_pct[0] < area_pct[1] && area_pct[1] <= 100.0, "{area_pct:?}");
    }
}

#[test]
fn perfusion_kept_in_tissue_counted_dead_shrinks_the_zone_and_without_perfusion_changes_nothing() {
    // Perfusion stops where the tissue has reached `damage.perfusion_stop_c`
    // (60 °C by default, [Schutt2008]), or, when `damage.perfusion_stop_omega`
    // is below 1e12, where Ω reaches that instead. Blood that keeps flowing
    // in hotter or more damaged tissue carries more heat away, so a later
    // stop can only shrink the zones; in unperfused liver there is nothing
    // to stop, and the run is the same bit for bit.
    let liver = liver_block(50);
    let pose = Pose::from_direction([25.0, 25.0, 35.0], [0.0, 0.0, 1.0]).unwrap();
    let req = Request {
        expected_radius_mm: 12.0,
        ..mwa(40.0, 240.0, pose)
    };
    let with_stop = |perfusion_1_s: f64, stop_omega: f64, stop_c: f64| {
        let mut p = Parameters::default();
        p.liver.perfusion_1_s = perfusion_1_s;
        p.damage.perfusion_stop_omega = stop_omega;
        p.damage.perfusion_stop_c = stop_c;
        run(&liver, None, "none", &req, &p)
    };
    let never = 1e12;
    // By damage: Ω ≥ 1 (CLINICAL.md §6) against Ω ≥ 1e6; the temperature
    // rule is replaced, so its value does not matter.
    let (clinical, late) = (with_stop(6e-3, 1.0, 60.0), with_stop(6e-3, 1e6, 60.0));
    println!(
        "stop at 1: {:?} {:?}\nstop at 1e6: {:?} {:?}",
        clinical.zone_iso, clinical.zone_damage, late.zone_iso, late.zone_damage
    );
    assert!(late.zone_iso.volume_ml < clinical.zone_iso.volume_ml);
    assert!(late.zone_damage.volume_ml < clinical.zone_damage.volume_ml);
    assert!(late.fields.energy.perfusion_j > clinical.fields.energy.perfusion_j);
    let replaced = with_stop(6e-3, 1.0, never);
    assert!(replaced.fields.tmax_c == clinical.fields.tmax_c);
    // By temperature: 60 °C (the default) against 80 °C.
    let (at60, at80) = (with_stop(6e-3, never, 60.0), with_stop(6e-3, never, 80.0));
    println!(
        "stop at 60 C: {:?}\nstop at 80 C: {:?}",
        at60.zone_iso, at80.zone_iso
    );
    assert!(at80.zone_iso.volume_ml < at60.zone_iso.volume_ml);
    assert!(at80.fields.energy.perfusion_j > at60.fields.energy.perfusion_j);
    // Blood that flows until 60 °C draws more heat than blood that stops
    // at Ω ≥ 1, which [Chang2004]'s integral reaches near 50-55 °C.
    assert!(at60.zone_iso.volume_ml < clinical.zone_iso.volume_ml);
    let (a, b, c) = (
        with_stop(0.0, 1.0, never),
        with_stop(0.0, 1e6, never),
        with_stop(0.0, never, 60.0),
    );
    assert!(a.fields.tmax_c == b.fields.tmax_c && a.fields.damage_omega == b.fields.damage_omega);
    assert!(a.fields.tmax_c == c.fields.tmax_c && a.fields.damage_omega == c.fields.damage_omega);
}
