//! The radiofrequency generator as a clinician sets it (issue 12 item 6):
//! `--power-w` is the generator's setting; the report gives the energy
//! delivered, within the generator's current limit; the defaults are an
//! internally cooled electrode on an impedance-controlled generator, whose
//! zone is checked against published cooled-electrode zones.

use crate::bioheat::{liver_block, mwa};
use liverkit::bioheat::applicator::{ApplicatorKind, Pose};
use liverkit::bioheat::protocols::{rf_model_zones, Library};
use liverkit::bioheat::tissue::Parameters;
use liverkit::bioheat::{simulate, Request, Simulation, Tissues};
use liverkit::progress::NoProgress;

fn rf(power_w: f64, p: &Parameters) -> (Simulation, Pose) {
    let liver = liver_block(70);
    let pose = Pose::from_direction([35.0, 35.0, 52.0], [0.0, 0.0, 1.0]).unwrap();
    let req = Request {
        applicator: ApplicatorKind::Rfa,
        expected_radius_mm: 12.0,
        together: Vec::new(),
        ..mwa(power_w, 300.0, pose)
    };
    let tissues = Tissues {
        liver: &liver,
        tumor: None,
        vessels: Vec::new(),
    };
    (simulate(&tissues, &req, p, &NoProgress).unwrap(), pose)
}

/// Mean final temperature of the tissue voxels touching the electrode.
fn against_electrode_c(s: &Simulation) -> f64 {
    let d = s.sim.lattice.dims;
    let e = &s.sim.electrode;
    let (mut sum, mut n) = (0.0, 0usize);
    for z in 1..d[2] - 1 {
        for y in 1..d[1] - 1 {
            for x in 1..d[0] - 1 {
                let i = x + d[0] * (y + d[1] * z);
                if e[i] {
                    continue;
                }
                let touches = [1isize, -1, d[0] as isize, -(d[0] as isize)]
                    .iter()
                    .any(|&o| e[(i as isize + o) as usize]);
                if touches {
                    sum += s.fields.final_c[i] as f64;
                    n += 1;
                }
            }
        }
    }
    sum / n as f64
}

#[test]
fn the_report_gives_the_energy_delivered_within_the_current_limit() {
    // The generator that delivers its setting (within the current limit).
    let mut p = Parameters::default();
    p.rf.impedance_control = false;
    let (s, _) = rf(50.0, &p);
    let r = s.rf.clone().unwrap();
    let e = &s.fields.energy;
    println!("50 W: {r:?}\n{e:?}");
    // The generator's account (power × time between solutions) and the
    // solver's (power density summed over tissue each step) agree.
    assert!(
        (r.delivered_energy_j - e.deposited_j).abs() < 1e-3 * e.deposited_j,
        "{r:?} {e:?}"
    );
    // 50 W at 60-odd ohm is well inside 2 A: the setting is delivered.
    assert!(
        !r.current_limited && (r.delivered_mean_w - 50.0).abs() < 0.05,
        "{r:?}"
    );
    assert!((r.power_on_s - 300.0).abs() < 1e-6 && r.rolloffs == 0);

    // 200 W needs more than 2 A below 50 ohm: the current limit holds the
    // power at I²·Z, so less than the setting is delivered.
    let (s, _) = rf(200.0, &p);
    let r = s.rf.clone().unwrap();
    println!("200 W: {r:?}");
    let limited = 4.0 * r.impedance_min_ohm < 200.0;
    assert_eq!(r.current_limited, limited, "{r:?}");
    assert!(r.delivered_mean_w <= 200.0 + 1e-6, "{r:?}");
    if limited {
        assert!(r.delivered_mean_w < 200.0 && r.delivered_mean_w >= 4.0 * r.impedance_min_ohm - 1e-6);
    }
}

#[test]
fn a_cooled_electrode_keeps_the_tissue_against_it_cooler_and_its_heat_is_counted() {
    // Both at a set power, so that only the electrode differs.
    let mut bare = Parameters::default();
    bare.rf.cooled = false;
    bare.rf.impedance_control = false;
    let mut cooled = bare.clone();
    cooled.rf.cooled = true;
    let (b, _) = rf(30.0, &bare);
    let (c, _) = rf(30.0, &cooled);
    let (tb, tc) = (against_electrode_c(&b), against_electrode_c(&c));
    let e = &c.fields.energy;
    println!("against the electrode: bare {tb:.1} C, cooled {tc:.1} C\n{e:?}");
    assert!(tc < tb - 5.0, "{tc} vs {tb}");
    // No vessels: what the walls took is the coolant's, and the balance
    // still closes.
    assert!(e.vessels_j > 0.05 * e.deposited_j, "{e:?}");
    assert!(e.residual_j.abs() < 1e-3 * e.deposited_j, "{e:?}");
    // The electrode is no hole in the zone: its voxels carry the history of
    // the tissue around them.
    let electrode: Vec<usize> = (0..c.sim.electrode.len())
        .filter(|&i| c.sim.electrode[i])
        .collect();
    assert!(!electrode.is_empty());
    assert!(electrode.iter().all(|&i| c.fields.tmax_c[i] > 37.5));
}

#[test]
fn impedance_control_holds_the_hottest_tissue_below_boiling() {
    let mut p = Parameters::default();
    p.rf.impedance_control = true;
    let (s, _) = rf(200.0, &p);
    let r = s.rf.clone().unwrap();
    println!(
        "{r:?} max {:.1} C, dried {}",
        s.max_temperature_c, s.fields.dried_voxels
    );
    assert!(r.temperature_limited && r.delivered_mean_w < 200.0, "{r:?}");
    assert!(
        s.max_temperature_c <= p.rf.control_target_c + 5.0,
        "{}",
        s.max_temperature_c
    );
    assert_eq!(s.fields.dried_voxels, 0);
}

#[test]
fn the_cooled_electrode_70c_zone_is_within_30_pct_of_the_published_zones_ex_and_in_vivo() {
    // [Cvir2009]: a 2 cm internally cooled electrode for 12 min, ex vivo and
    // in vivo; the published axes come from the shipped library. The RF
    // model has no fitted constant: this is a check, not a fit.
    let lib = Library::builtin().unwrap();
    let device = lib.devices.iter().find(|d| d.id == "rfa-cooled-2cm").unwrap();
    let p = device.apply(&Parameters::default());
    let mut volumes = Vec::new();
    for s in lib.settings_of("rfa-cooled-2cm") {
        let in_vivo = s.in_vivo.unwrap_or(false);
        let z =
            rf_model_zones(&p, s.power_w.unwrap(), &[s.time_s.unwrap()], in_vivo, &NoProgress).unwrap()[0];
        let (short, long) = (s.zone_diameter_mm.unwrap()[0], s.zone_length_mm.unwrap()[0]);
        println!(
            "{}: published {short} x {long} mm; model 70 C {:.1} x {:.1} mm {:.2} mL, damage {:.1} x {:.1} mm",
            s.id, z.iso.diameter_mm, z.iso.length_mm, z.iso.volume_ml, z.damage.diameter_mm, z.damage.length_mm
        );
        assert!(
            (z.iso.diameter_mm / short - 1.0).abs() <= 0.30,
            "{}: {:?}",
            s.id,
            z.iso
        );
        assert!(
            (z.iso.length_mm / long - 1.0).abs() <= 0.30,
            "{}: {:?}",
            s.id,
            z.iso
        );
        volumes.push((in_vivo, z.iso.volume_ml));
    }
    // Perfusion shrinks the zone as much as published: in vivo / ex vivo
    // volume 0.52 in [Cvir2009]'s pair (5.76 / 11.08 mL) and 0.33 in
    // [Song2015]'s (7.79 / 23.86 cm³, 17 G); with perfusion stopped at
    // Ω ≥ 1 (the default before 2026-12-03) the model gave 0.77.
    let ex = volumes.iter().find(|v| !v.0).unwrap().1;
    let vivo = volumes.iter().find(|v| v.0).unwrap().1;
    let ratio = vivo / ex;
    println!("in vivo / ex vivo 70 C zone volume: {ratio:.3}");
    assert!(
        (0.33..=0.60).contains(&ratio),
        "in vivo {vivo} mL vs ex vivo {ex} mL: ratio {ratio:.3}, published 0.33-0.52"
    );
}
