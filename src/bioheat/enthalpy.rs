//! The solver's energy bookkeeping: each voxel's latent store of water
//! (boiling at a fixed temperature until the store is full, then drying
//! into its dried material at the same enthalpy), and the energy sums the
//! balance printed by `simulate` is made of.

use crate::bioheat::kernel::Layout;
use crate::bioheat::solver::Lattice;

/// The fraction of its water each voxel still holds.
pub(super) fn water_left(l: &Lattice, material: &[u8], latent: &[f32], cap: &[f32; 16], out: &mut [f32]) {
    for i in 0..out.len() {
        let m = material[i] as usize;
        out[i] = if cap[m] > 0.0 {
            (1.0 - latent[i] / cap[m]).max(0.0)
        } else if (m as u8) != l.material[i] {
            0.0 // dried
        } else {
            1.0
        };
    }
}

/// Turns the voxels whose latent store is full into their dried material
/// at the same enthalpy: the heat above the boiling point keeps its energy
/// in the new heat capacity, and the sensible heat of the water that left
/// (up to the boiling point) goes with the vapour. Returns the voxels that dried
/// and that vapour heat, J/m³.
pub(super) fn dry_out(
    l: &Lattice,
    material: &mut [u8],
    theta: &mut [f32],
    layout: &Layout,
    latent: &[f32],
    cap: &[f32; 16],
    boil_k: f32,
) -> (Vec<(usize, u8)>, f64) {
    let [nx, ny, _] = layout.n;
    let [px, py, _] = layout.p;
    let mut changed = Vec::new();
    let mut vapour = 0.0f64;
    for (i, m) in material.iter_mut().enumerate() {
        let mi = *m as usize;
        if cap[mi] <= 0.0 || latent[i] < cap[mi] {
            continue;
        }
        let Some(boil) = l.materials[mi].boiling else {
            continue;
        };
        let wet = l.materials[mi].heat_capacity_j_m3k;
        let dry = l.materials[boil.dried as usize].heat_capacity_j_m3k;
        let (x, y, z) = (i % nx, (i / nx) % ny, i / (nx * ny));
        let pi = 1 + x + px * (y + 1 + py * (z + 1));
        let t = theta[pi] as f64;
        let b = boil_k as f64;
        theta[pi] = (b + (t - b) * wet / dry) as f32;
        vapour += (wet - dry) * b;
        *m = boil.dried;
        changed.push((i, boil.dried));
    }
    (changed, vapour)
}

/// Power deposited in tissue (not in vessel walls), W.
pub(super) fn tissue_power(q: &[f32], l: &Lattice, material: &[u8], voxel_m3: f64) -> f64 {
    q.chunks(4096)
        .zip(material.chunks(4096))
        .map(|(qc, mc)| {
            qc.iter()
                .zip(mc)
                .filter(|(_, &m)| l.materials[m as usize].wall_w_m2k.is_none())
                .map(|(&v, _)| v as f64)
                .sum::<f64>()
        })
        .sum::<f64>()
        * voxel_m3
}

/// Sensible heat held by the lattice above the blood temperature, J.
pub(super) fn stored_energy(theta: &[f32], layout: &Layout, l: &Lattice, voxel_m3: f64) -> f64 {
    let nm = l.materials.len();
    theta
        .chunks(4096)
        .zip(layout.mat.chunks(4096))
        .map(|(tc, mc)| {
            tc.iter()
                .zip(mc)
                .filter(|(_, &m)| (m as usize) < nm)
                .map(|(&t, &m)| t as f64 * l.materials[m as usize].heat_capacity_j_m3k)
                .sum::<f64>()
        })
        .sum::<f64>()
        * voxel_m3
}
