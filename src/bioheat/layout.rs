//! The lattice laid out for stepping: materials padded with the layer
//! around the region, each row split into runs of one kind (a uniform
//! tissue, mixed neighbours, or a fixed vessel voxel), the conductances
//! between materials, and the explicit stability bound. Rows are laid out
//! again when voxels change material (boiling dry).

use crate::bioheat::kernel::{neighbours, Layout, Seg, FIXED, IRREGULAR, W_EDGE, W_FACE};
use crate::bioheat::solver::Lattice;
use crate::bioheat::tissue::Walls;

/// The lattice prepared for stepping.
pub(crate) struct Plan {
    pub layout: Layout,
    /// Per row, the regular voxels next to the layer around the region
    /// (padded index) and their conductance per volume to it, W/(m³·K):
    /// heat they lose there is explicit, so the solver counts it.
    pub open: Vec<Vec<(u32, f64)>>,
    pub dt_bound_s: f64,
}

pub(crate) fn pair_table(l: &Lattice, walls: Walls) -> Vec<f64> {
    let h = l.spacing_mm * 1e-3;
    let n = l.materials.len();
    let mut g = vec![0.0; 16 * 16];
    for (a, ma) in l.materials.iter().enumerate() {
        if ma.wall_w_m2k.is_some() {
            continue;
        }
        let ka = ma.conductivity_w_mk;
        for (b, mb) in l.materials.iter().enumerate() {
            g[a * 16 + b] = match mb.wall_w_m2k {
                None => {
                    let kb = mb.conductivity_w_mk;
                    2.0 * ka * kb / ((ka + kb) * h * h)
                }
                Some(hw) => mb.wall_gain / ((h / (2.0 * ka) + 1.0 / hw) * h),
            };
        }
        // The layer of voxels around the region is held at body temperature
        // (conducting like the voxel inside it), or insulates.
        g[a * 16 + n] = match walls {
            Walls::BodyTemperature => ka / (h * h),
            Walls::Insulated => 0.0,
        };
    }
    g
}

/// The constant source (W/m³, lattice index) that walls held at their own
/// temperature `wall_c` put on the tissue voxels next to them:
/// Σ w_j G_ij (T_c − T_b). The kernel takes every wall as a sink at T_b;
/// adding this makes the flux G_ij (Θ_i − Θ_c). Empty when no wall has its
/// own temperature.
pub(crate) fn wall_offsets(l: &Lattice, material: &[u8], g: &[f64], blood_c: f64) -> Vec<(usize, f32)> {
    let own: Vec<Option<f64>> = l
        .materials
        .iter()
        .map(|m| m.wall_w_m2k.and(m.wall_c).map(|c| c - blood_c))
        .collect();
    if own.iter().all(Option::is_none) {
        return Vec::new();
    }
    let [nx, ny, nz] = l.dims;
    // The 18 neighbours of the stencil: 6 faces, 12 edges.
    let mut steps: Vec<([isize; 3], f64)> = Vec::with_capacity(18);
    for dz in -1isize..=1 {
        for dy in -1isize..=1 {
            for dx in -1isize..=1 {
                match dx.abs() + dy.abs() + dz.abs() {
                    1 => steps.push(([dx, dy, dz], W_FACE)),
                    2 => steps.push(([dx, dy, dz], W_EDGE)),
                    _ => {}
                }
            }
        }
    }
    let mut acc: std::collections::BTreeMap<usize, f64> = std::collections::BTreeMap::new();
    for (i, &m) in material.iter().enumerate() {
        let Some(theta_c) = own[m as usize] else { continue };
        let (x, y, z) = (
            (i % nx) as isize,
            ((i / nx) % ny) as isize,
            (i / (nx * ny)) as isize,
        );
        for &([dx, dy, dz], w) in &steps {
            let (qx, qy, qz) = (x + dx, y + dy, z + dz);
            if qx < 0 || qy < 0 || qz < 0 || qx >= nx as isize || qy >= ny as isize || qz >= nz as isize {
                continue;
            }
            let j = (qx + nx as isize * (qy + ny as isize * qz)) as usize;
            let mj = material[j] as usize;
            if l.materials[mj].wall_w_m2k.is_some() {
                continue;
            }
            *acc.entry(j).or_insert(0.0) += w * g[mj * 16 + m as usize] * theta_c;
        }
    }
    acc.into_iter().map(|(j, v)| (j, v as f32)).collect()
}

impl Plan {
    /// Lays out `material` (indexed like the lattice; the lattice's own or a
    /// later state of it) for stepping.
    pub(crate) fn new(l: &Lattice, material: &[u8], walls: Walls, g: &[f64]) -> Plan {
        let n = l.dims;
        let outside = l.materials.len() as u8;
        let p = [n[0] + 2, n[1] + 2, n[2] + 2];
        let mut mat = vec![outside; p[0] * p[1] * p[2]];
        for z in 0..n[2] {
            for y in 0..n[1] {
                let src = n[0] * (y + n[1] * z);
                let dst = 1 + p[0] * (y + 1 + p[1] * (z + 1));
                mat[dst..dst + n[0]].copy_from_slice(&material[src..src + n[0]]);
            }
        }
        let mut plan = Plan {
            layout: Layout {
                n,
                p,
                mat,
                rows: vec![Vec::new(); n[1] * n[2]],
            },
            open: vec![Vec::new(); n[1] * n[2]],
            dt_bound_s: f64::INFINITY,
        };
        let mut worst = 0.0f64;
        for r in 0..n[1] * n[2] {
            worst = worst.max(plan.lay_row(l, walls, g, r));
        }
        plan.dt_bound_s = if worst > 0.0 { 1.0 / worst } else { f64::INFINITY };
        plan
    }

    /// Sets voxel `i` (lattice order) to material `m` and lays out again the
    /// rows whose runs that changes; the bound only ever shrinks.
    pub(crate) fn change(&mut self, l: &Lattice, walls: Walls, g: &[f64], changed: &[(usize, u8)]) {
        let [nx, ny, nz] = self.layout.n;
        let [px, py, _] = self.layout.p;
        let mut dirty = vec![false; ny * nz];
        for &(i, m) in changed {
            let (x, y, z) = (i % nx, (i / nx) % ny, i / (nx * ny));
            self.layout.mat[1 + x + px * (y + 1 + py * (z + 1))] = m;
            for zz in z.saturating_sub(1)..(z + 2).min(nz) {
                for yy in y.saturating_sub(1)..(y + 2).min(ny) {
                    dirty[yy + ny * zz] = true;
                }
            }
        }
        let mut worst = 1.0 / self.dt_bound_s;
        for (r, d) in dirty.iter().enumerate() {
            if *d {
                worst = worst.max(self.lay_row(l, walls, g, r));
            }
        }
        self.dt_bound_s = if worst > 0.0 { 1.0 / worst } else { f64::INFINITY };
    }

    /// Lays out row r (y + ny·z) into runs of equal kind; returns the highest
    /// rate of the row's tissue voxels, 1/s.
    fn lay_row(&mut self, l: &Lattice, walls: Walls, g: &[f64], r: usize) -> f64 {
        let [nx, ny, _] = self.layout.n;
        let [px, py, _] = self.layout.p;
        let (y, z) = (r % ny, r / ny);
        let outside = l.materials.len() as u8;
        let (offs, wts) = neighbours(px, px * py);
        let mat = &self.layout.mat;
        let mut segs = Vec::new();
        let mut open = Vec::new();
        let mut worst = 0.0f64;
        let base = 1 + px * (y + 1 + py * (z + 1));
        let mut cur: Option<Seg> = None;
        for x in 0..nx {
            let i = base + x;
            let m = mat[i];
            let nb = offs.map(|o| mat[(i as isize + o) as usize]);
            let kind = if l.materials[m as usize].wall_w_m2k.is_some() {
                FIXED
            } else {
                let mi = m as usize;
                let rate: f64 = nb
                    .iter()
                    .zip(&wts)
                    .filter(|(&b, _)| b != outside && l.materials[b as usize].wall_w_m2k.is_none())
                    .map(|(&b, w)| w * g[mi * 16 + b as usize])
                    .sum();
                worst = worst.max(rate / l.materials[mi].heat_capacity_j_m3k);
                // Around a voxel of one material, the body-temperature
                // layer outside the region is just a neighbour at Θ = 0.
                let open_walls = walls == Walls::BodyTemperature;
                if nb.iter().all(|&b| b == m || (open_walls && b == outside)) {
                    if nb.contains(&outside) {
                        let to_out: f64 = nb
                            .iter()
                            .zip(&wts)
                            .filter(|(&b, _)| b == outside)
                            .map(|(_, w)| w * g[mi * 16 + outside as usize])
                            .sum();
                        open.push((i as u32, to_out));
                    }
                    m
                } else {
                    IRREGULAR
                }
            };
            match &mut cur {
                Some(s) if s.kind == kind => s.x1 = x as u32 + 1,
                _ => {
                    if let Some(s) = cur.take() {
                        segs.push(s);
                    }
                    cur = Some(Seg {
                        x0: x as u32,
                        x1: x as u32 + 1,
                        kind,
                    });
                }
            }
        }
        if let Some(s) = cur {
            segs.push(s);
        }
        self.layout.rows[r] = segs;
        self.open[r] = open;
        worst
    }
}
