//! The time-step kernels of the bioheat solver: the only `unsafe` code of the
//! thermal model (calling the AVX2 build of a kernel on a processor that has
//! AVX2).
//!
//! One step updates every tissue voxel from the previous step's temperature
//! excess Θ = T − T_b (see `solver` for the scheme), then moves any excess
//! above the boiling point into the voxel's latent store until its water is
//! gone ([`Coeffs::latent_k`]), and accumulates, for the energy balance, the
//! heat each voxel gave to perfusion and to its implicit sinks (vessel walls,
//! the layer around the region).

use rayon::prelude::*;

use crate::bioheat::damage::DamageSteps;

/// Values below this (K) are set to zero, which keeps far-field temperatures
/// out of the slow subnormal range of f32.
pub(crate) const TINY_K: f32 = 1e-12;

/// Face neighbour weight of the 19-point stencil.
pub(crate) const W_FACE: f64 = 1.0 / 3.0;
/// Edge neighbour weight of the 19-point stencil.
pub(crate) const W_EDGE: f64 = 1.0 / 6.0;

/// The 18 neighbour offsets of a padded index (faces first), and their weights.
pub(crate) fn neighbours(px: usize, pxy: usize) -> ([isize; 18], [f64; 18]) {
    let (x, y, z) = (1isize, px as isize, pxy as isize);
    let o = [
        -x,
        x,
        -y,
        y,
        -z,
        z,
        -x - y,
        -x + y,
        x - y,
        x + y,
        -x - z,
        -x + z,
        x - z,
        x + z,
        -y - z,
        -y + z,
        y - z,
        y + z,
    ];
    let mut w = [W_EDGE; 18];
    w[..6].fill(W_FACE);
    (o, w)
}

/// Lanes processed together in the kernels (two AVX or four SSE vectors).
const LANES: usize = 8;

pub(crate) const IRREGULAR: u8 = 254;
pub(crate) const FIXED: u8 = 255;

/// Per-step coefficients, f32, scaled by the time step.
pub(crate) struct Coeffs {
    /// Δt·w·G[a][b]/(ρc)_a between tissues (0 towards sinks), for faces
    /// (`[0..256]`) and edges (`[256..512]`).
    pub a: [f32; 512],
    /// The same towards sinks (0 between tissues).
    pub sink: [f32; 512],
    /// Whether neighbour material b (`[b]`) is the layer around the region
    /// (its sink heat is counted as boundary loss, else as vessel loss).
    pub outside: u8,
    /// Δt·perfusion/(ρc).
    pub b: [f32; 16],
    /// Δt/(ρc).
    pub c: [f32; 16],
    /// Latent heat of a material's water in kelvin of its own heat
    /// capacity, L·ρ_w·φ_w/(ρc) (0: it does not boil).
    pub latent_k: [f32; 16],
    /// ρc, J/(m³·K).
    pub heat_capacity: [f64; 16],
    /// The boiling point as Θ, K.
    pub boil_k: f32,
    /// Perfusion flows in a voxel while its gate value is below this: the
    /// maximum temperature so far in °C (`gate_on_tmax`) or the damage Ω.
    pub stop_gate: f32,
    pub gate_on_tmax: bool,
}

/// Heat a step moved out of tissue, Σ ρc·ΔΘ over voxels, J/m³.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub(crate) struct Losses {
    /// To perfusion.
    pub perfusion: f64,
    /// To vessel walls.
    pub vessels: f64,
    /// To the layer around the region from mixed voxels (implicit).
    pub outside: f64,
    /// Into latent stores (boiling); zero when nothing boiled.
    pub latent: f64,
    /// To the layer around the region from the regular voxels next to it
    /// (explicit: Σ g·Δt·Θ of the step's start).
    pub open: f64,
}

impl std::ops::AddAssign for Losses {
    fn add_assign(&mut self, o: Losses) {
        self.perfusion += o.perfusion;
        self.vessels += o.vessels;
        self.outside += o.outside;
        self.latent += o.latent;
        self.open += o.open;
    }
}

/// One run of equal-kind voxels along x.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Seg {
    pub x0: u32,
    pub x1: u32,
    pub kind: u8,
}

/// The padded material layout and its runs.
pub(crate) struct Layout {
    /// Lattice voxels per axis.
    pub n: [usize; 3],
    /// Padded voxels per axis (n + 2).
    pub p: [usize; 3],
    /// Padded materials (the padding holds the "outside" index).
    pub mat: Vec<u8>,
    /// The runs of each row (y + ny·z).
    pub rows: Vec<Vec<Seg>>,
}

/// Observables of the lattice and the per-voxel latent store, unpadded.
pub(crate) struct Observed {
    pub omega: Vec<f32>,
    pub cem: Vec<f32>,
    pub tmax: Vec<f32>,
    pub tiso: Vec<f32>,
    /// Latent heat taken up by boiling, kelvin of the voxel's wet ρc.
    pub latent: Vec<f32>,
}

/// e^x in f32 from arithmetic alone (so that loops around it vectorise):
/// x = n·ln 2 + r with |r| ≤ ln2/2, e^r by its Taylor polynomial to r⁶
/// (relative error < 2e-7), 2^n from the exponent bits. Arguments are
/// clamped to [−87, 88], where f32 is normal.
#[inline(always)]
pub(crate) fn exp_f32(x: f32) -> f32 {
    const LOG2E: f32 = std::f32::consts::LOG2_E;
    const LN2_HI: f32 = 0.693_145_75;
    const LN2_LO: f32 = 1.428_606_8e-6;
    const ROUND: f32 = 12_582_912.0; // 1.5 · 2^23: adding it rounds to an integer
    let x = x.clamp(-87.0, 88.0);
    let shifted = x * LOG2E + ROUND;
    let n = shifted - ROUND;
    let r = (x - n * LN2_HI) - n * LN2_LO;
    let p = 1.0
        + r * (1.0 + r * (0.5 + r * (1.0 / 6.0 + r * (1.0 / 24.0 + r * (1.0 / 120.0 + r * (1.0 / 720.0))))));
    // The low bits of `shifted` hold n (two's complement): integer
    // arithmetic on them builds 2^n without a float-to-int conversion.
    let n_bits = shifted.to_bits().wrapping_sub(ROUND.to_bits());
    let scale = f32::from_bits(n_bits.wrapping_add(127) << 23);
    p * scale
}

/// One time step from `src` into `dst` (both padded), updating the
/// observables and the latent store; returns the heat given to sinks.
///
/// Damage is added only when `damage` is given, then at the temperature of
/// `src`: the middle of the two steps it closes (the solver pairs steps).
#[allow(clippy::too_many_arguments)]
pub(crate) fn step_once(
    plan: &Layout,
    co: &Coeffs,
    mixed: &Mixed,
    open: &[Vec<(u32, f64)>],
    damage: Option<&DamageSteps>,
    src: &[f32],
    dst: &mut [f32],
    obs: &mut Observed,
    q: &[f32],
    blood_c: f32,
    isotherm_c: f32,
    t_old_s: f64,
    dt_s: f64,
) -> Losses {
    let [nx, ny, nz] = plan.n;
    let [px, py, _] = plan.p;
    let pxy = px * py;
    let nxy = nx * ny;
    let interior = &mut dst[pxy..pxy * (nz + 1)];
    let per_plane: Vec<Losses> = (
        interior.par_chunks_mut(pxy),
        obs.omega.par_chunks_mut(nxy),
        obs.cem.par_chunks_mut(nxy),
        obs.tmax.par_chunks_mut(nxy),
        obs.tiso.par_chunks_mut(nxy),
        obs.latent.par_chunks_mut(nxy),
        q.par_chunks(nxy),
    )
        .into_par_iter()
        .enumerate()
        .map(|(z, (plane, omega, cem, tmax, tiso, latent, qz))| {
            let mut lost = Losses::default();
            let gz = (z + 1) * pxy;
            for y in 0..ny {
                let r = y + ny * z;
                let mut coef_at = mixed.row_start[r];
                for &(i, g_out) in &open[r] {
                    lost.open += g_out * dt_s * src[i as usize] as f64;
                }
                let row = (y + 1) * px + 1;
                let u = y * nx;
                for sg in &plan.rows[r] {
                    let (x0, x1) = (sg.x0 as usize, sg.x1 as usize);
                    let len = x1 - x0;
                    let pi = row + x0;
                    let gi = gz + pi;
                    let qq = &qz[u + x0..u + x1];
                    // What stops perfusion: read as of the step's start (the
                    // observing pass below updates both after the update).
                    let gate = if co.gate_on_tmax {
                        &tmax[u + x0..u + x1]
                    } else {
                        &omega[u + x0..u + x1]
                    };
                    let lat = &mut latent[u + x0..u + x1];
                    let out = &mut plane[pi..pi + len];
                    match sg.kind {
                        FIXED => {}
                        IRREGULAR => {
                            let coef = &mixed.data[coef_at..coef_at + MIXED_PER_VOXEL * len];
                            coef_at += MIXED_PER_VOXEL * len;
                            lost += irregular(co, &plan.mat, src, gi, px, pxy, coef, qq, gate, lat, out);
                        }
                        m => {
                            let (perfused, boiled) =
                                regular(co, m as usize, src, gi, px, pxy, qq, gate, lat, out);
                            lost.perfusion += perfused;
                            lost.latent += boiled;
                        }
                    }
                }
                // Damage, maximum and arrival time over the whole row.
                observe(
                    damage,
                    blood_c,
                    isotherm_c,
                    t_old_s,
                    dt_s,
                    &src[gz + row..gz + row + nx],
                    &plane[row..row + nx],
                    &mut omega[u..u + nx],
                    &mut cem[u..u + nx],
                    &mut tmax[u..u + nx],
                    &mut tiso[u..u + nx],
                );
            }
            lost
        })
        .collect();
    let mut total = Losses::default();
    for l in per_plane {
        total += l;
    }
    total
}

/// Lanes of the observing pass: two AVX vectors, so that the long
/// dependency chains of the exponentials (the polynomials' Horner steps)
/// run side by side for twice as many voxels.
const OBSERVE_LANES: usize = 2 * LANES;

/// Maximum temperature and arrival time of the isotherm for one row, from
/// the temperatures before (`old`) and after (`new`) the step, and, when
/// `damage` is given, damage and CEM43 at the temperature `old`.
#[allow(clippy::too_many_arguments)]
#[inline(always)]
fn observe_body(
    damage: Option<&DamageSteps>,
    blood: f32,
    iso: f32,
    t_old_s: f64,
    dt_s: f64,
    old: &[f32],
    new: &[f32],
    omega: &mut [f32],
    cem: &mut [f32],
    tmax: &mut [f32],
    tiso: &mut [f32],
) {
    let (t_old_s, dt_s) = (t_old_s as f32, dt_s as f32);
    let times = (blood, iso, t_old_s, dt_s);
    match damage {
        Some(table) => observe_row::<true>(table, times, old, new, omega, cem, tmax, tiso),
        None => observe_row::<false>(&DamageSteps::default(), times, old, new, omega, cem, tmax, tiso),
    }
}

/// [`observe_body`] with (`DAMAGE`) or without the damage integrals;
/// `times` is (blood, isotherm, step start, step) in °C and s.
#[allow(clippy::too_many_arguments)]
#[inline(always)]
fn observe_row<const DAMAGE: bool>(
    table: &DamageSteps,
    (blood, iso, t_old_s, dt_s): (f32, f32, f32, f32),
    old: &[f32],
    new: &[f32],
    omega: &mut [f32],
    cem: &mut [f32],
    tmax: &mut [f32],
    tiso: &mut [f32],
) {
    const L: usize = OBSERVE_LANES;
    let n = new.len();
    let (old, omega, cem, tmax, tiso) = (
        &old[..n],
        &mut omega[..n],
        &mut cem[..n],
        &mut tmax[..n],
        &mut tiso[..n],
    );
    // A copy on the stack: its fields stay in registers through the loop.
    let table = *table;
    macro_rules! one {
        ($t0:expr, $t1:expr, $om:expr, $ce:expr, $tm:expr) => {{
            let t1 = blood + $t1;
            if DAMAGE {
                let (d_om, d_cem) = table.at(blood + $t0);
                $om += d_om;
                $ce += d_cem;
            }
            $tm = if t1 > $tm { t1 } else { $tm };
            // Reaching the isotherm for the first time is rare: flag it here
            // and time it outside the vectorised loop.
            t1 >= iso
        }};
    }
    let arrival = |t0: f32, t1: f32| {
        let (t0, t1) = (blood + t0, blood + t1);
        let f = if t1 > t0 {
            ((iso - t0) / (t1 - t0)).clamp(0.0, 1.0)
        } else {
            0.0
        };
        t_old_s + dt_s * f
    };
    let whole = n / L * L;
    for base in (0..whole).step_by(L) {
        let (a, b) = (lanes::<L>(old, base), lanes::<L>(new, base));
        let (mut om, mut ce, mut tm, ti) = (
            lanes::<L>(omega, base),
            lanes::<L>(cem, base),
            lanes::<L>(tmax, base),
            lanes::<L>(tiso, base),
        );
        let mut hits = 0u32;
        for l in 0..L {
            let hit = one!(a[l], b[l], om[l], ce[l], tm[l]) & (ti[l] < 0.0);
            hits |= (hit as u32) << l;
        }
        if DAMAGE {
            omega[base..base + L].copy_from_slice(&om);
            cem[base..base + L].copy_from_slice(&ce);
        }
        tmax[base..base + L].copy_from_slice(&tm);
        while hits != 0 {
            let l = hits.trailing_zeros() as usize;
            tiso[base + l] = arrival(a[l], b[l]);
            hits &= hits - 1;
        }
    }
    for k in whole..n {
        if one!(old[k], new[k], omega[k], cem[k], tmax[k]) & (tiso[k] < 0.0) {
            tiso[k] = arrival(old[k], new[k]);
        }
    }
}

/// Adds the damage of one step from `old` to `new` (both padded) at the
/// mean of the two temperatures: closes a step the solver left unpaired.
pub(crate) fn damage_of_step(
    plan: &Layout,
    table: &DamageSteps,
    blood_c: f32,
    old: &[f32],
    new: &[f32],
    obs: &mut Observed,
) {
    let [nx, ny, _] = plan.n;
    let [px, py, _] = plan.p;
    let (pxy, nxy) = (px * py, nx * ny);
    (obs.omega.par_chunks_mut(nxy), obs.cem.par_chunks_mut(nxy))
        .into_par_iter()
        .enumerate()
        .for_each(|(z, (omega, cem))| {
            for y in 0..ny {
                let i = (z + 1) * pxy + (y + 1) * px + 1;
                let u = y * nx;
                damage_mid(
                    table,
                    blood_c,
                    &old[i..i + nx],
                    &new[i..i + nx],
                    &mut omega[u..u + nx],
                    &mut cem[u..u + nx],
                );
            }
        });
}

#[inline(always)]
fn damage_mid_body(
    table: &DamageSteps,
    blood: f32,
    old: &[f32],
    new: &[f32],
    omega: &mut [f32],
    cem: &mut [f32],
) {
    let table = *table;
    for (((o, c), &t0), &t1) in omega.iter_mut().zip(cem.iter_mut()).zip(old).zip(new) {
        let (d_om, d_cem) = table.at(blood + 0.5 * (t0 + t1));
        *o += d_om;
        *c += d_cem;
    }
}

/// Set to run the baseline kernels even where AVX2 is available (tests
/// compare the two bit for bit).
static BASELINE_ONLY: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// Makes every later run use the baseline (SSE2) kernels even on a processor
/// with AVX2, or lifts that. For tests that check the two kernels give the
/// same numbers; results never depend on it.
#[doc(hidden)]
pub fn force_baseline_kernels(on: bool) {
    BASELINE_ONLY.store(on, std::sync::atomic::Ordering::SeqCst);
}

/// Whether the AVX2 kernels run on this processor (and are not switched off).
#[doc(hidden)]
pub fn avx2_kernels_in_use() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        !BASELINE_ONLY.load(std::sync::atomic::Ordering::Relaxed)
            && std::arch::is_x86_feature_detected!("avx2")
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        false
    }
}

/// Defines `$name` to run `$body` compiled for AVX2 when the processor has
/// it (twice the lanes of the SSE2 baseline), and as compiled otherwise. The
/// two produce the same numbers: neither contracts products into FMAs
/// (`tests/bioheat.rs` compares them bit for bit).
macro_rules! with_avx2 {
    ($(#[$m:meta])* fn $name:ident($($arg:ident: $ty:ty),* $(,)?) -> $ret:ty => $body:ident) => {
        $(#[$m])*
        #[inline(never)]
        fn $name($($arg: $ty),*) -> $ret {
            #[cfg(target_arch = "x86_64")]
            {
                #[target_feature(enable = "avx2")]
                #[allow(clippy::too_many_arguments)]
                unsafe fn avx2($($arg: $ty),*) -> $ret {
                    $body($($arg),*)
                }
                if avx2_kernels_in_use() {
                    // SAFETY: the processor supports AVX2, checked just above
                    // (`avx2_kernels_in_use` asks the processor).
                    return unsafe { avx2($($arg),*) };
                }
            }
            $body($($arg),*)
        }
    };
}

with_avx2! {
    #[allow(clippy::too_many_arguments)]
    fn regular(
        co: &Coeffs,
        m: usize,
        src: &[f32],
        gi: usize,
        px: usize,
        pxy: usize,
        q: &[f32],
        omega: &[f32],
        latent: &mut [f32],
        out: &mut [f32],
    ) -> (f64, f64) => regular_body
}

with_avx2! {
    #[allow(clippy::too_many_arguments)]
    fn observe(
        damage: Option<&DamageSteps>,
        blood: f32,
        iso: f32,
        t_old_s: f64,
        dt_s: f64,
        old: &[f32],
        new: &[f32],
        omega: &mut [f32],
        cem: &mut [f32],
        tmax: &mut [f32],
        tiso: &mut [f32],
    ) -> () => observe_body
}

with_avx2! {
    fn damage_mid(
        table: &DamageSteps,
        blood: f32,
        old: &[f32],
        new: &[f32],
        omega: &mut [f32],
        cem: &mut [f32],
    ) -> () => damage_mid_body
}

/// Uniform material m around every voxel of the run; returns the heat
/// given to perfusion and taken into latent stores, J/m³.
///
/// Every neighbour is read from one slice of the three planes around the
/// run, at fixed offsets, eight voxels at a time and straight into the
/// sums (no copies into arrays, one bounds check per block): the loop
/// keeps its values in registers.
#[allow(clippy::too_many_arguments)]
#[inline(always)]
fn regular_body(
    co: &Coeffs,
    m: usize,
    src: &[f32],
    gi: usize,
    px: usize,
    pxy: usize,
    q: &[f32],
    gate: &[f32],
    latent: &mut [f32],
    out: &mut [f32],
) -> (f64, f64) {
    let len = out.len();
    let af = co.a[m * 16 + m];
    let ae = co.a[256 + m * 16 + m];
    let centre = 6.0 * af + 12.0 * ae;
    let bm = co.b[m];
    let inv_alive = 1.0 / (1.0 + bm);
    let c = co.c[m];
    let boil = co.boil_k;
    let lat_max = co.latent_k[m];
    let stop = co.stop_gate;
    // The three planes' rows the run reads, as one slice: every neighbour
    // at a fixed offset from the run's start within it.
    let lo = gi - pxy - px - 1;
    let hi = gi + pxy + px + 1 + len;
    let blk = &src[lo..hi];
    let (x, y, z) = (1usize, px, pxy);
    let c0 = pxy + px + 1; // the run's start within blk
    let q = &q[..len];
    let gate = &gate[..len];
    let latent = &mut latent[..len];
    // Lanes of 8 with per-lane sums of the perfusion loss: a float sum
    // across lanes would keep the compiler from vectorising the loop.
    //
    // Boiling: heat above the boiling point goes into the latent store
    // while it has room (a voxel still holding water stays at the boiling
    // point); a dry voxel (no room) heats on. Branch-free, so it vectorises.
    macro_rules! update {
        ($t:expr, $faces:expr, $edges:expr, $gate:expr, $q:expr, $lat:expr, $acc:expr, $boil:expr) => {{
            let t = $t;
            let alive = $gate < stop;
            let v =
                (t + (af * $faces + ae * $edges - centre * t) + c * $q) * if alive { inv_alive } else { 1.0 };
            $acc += if alive { bm * v } else { 0.0 };
            let room = (lat_max - $lat).max(0.0);
            let take = (v - boil).max(0.0).min(room);
            $lat += take;
            $boil += take;
            let v = v - take;
            if v.abs() < TINY_K {
                0.0
            } else {
                v
            }
        }};
    }
    let mut perfused_lanes = [0.0f32; LANES];
    let mut boiled = [0.0f32; LANES];
    let whole = len / LANES * LANES;
    for base in (0..whole).step_by(LANES) {
        let k = c0 + base;
        // Every neighbour of the block's 8 voxels lies within w.
        let w: &[f32] = &blk[k - z - y - x..k + z + y + x + LANES];
        let o0 = z + y + x; // the block's start within w
        let at = |d: usize| &w[d..d + LANES];
        let qq = &q[base..base + LANES];
        let gt = &gate[base..base + LANES];
        let lat = &mut latent[base..base + LANES];
        let mut o = [0.0f32; LANES];
        for l in 0..LANES {
            let faces = ((at(o0 - x)[l] + at(o0 + x)[l]) + (at(o0 - y)[l] + at(o0 + y)[l]))
                + (at(o0 - z)[l] + at(o0 + z)[l]);
            let edges = (((at(o0 - x - y)[l] + at(o0 - x + y)[l]) + (at(o0 + x - y)[l] + at(o0 + x + y)[l]))
                + ((at(o0 - x - z)[l] + at(o0 - x + z)[l]) + (at(o0 + x - z)[l] + at(o0 + x + z)[l])))
                + ((at(o0 - y - z)[l] + at(o0 - y + z)[l]) + (at(o0 + y - z)[l] + at(o0 + y + z)[l]));
            o[l] = update!(
                at(o0)[l],
                faces,
                edges,
                gt[l],
                qq[l],
                lat[l],
                perfused_lanes[l],
                boiled[l]
            );
        }
        out[base..base + LANES].copy_from_slice(&o);
    }
    let mut perfused: f32 = perfused_lanes.iter().sum();
    let mut boil: f32 = boiled.iter().sum();
    let nb = |d: isize, k: usize| blk[(c0 as isize + d) as usize + k];
    let (xi, yi, zi) = (1isize, px as isize, pxy as isize);
    for k in whole..len {
        let faces = ((nb(-xi, k) + nb(xi, k)) + (nb(-yi, k) + nb(yi, k))) + (nb(-zi, k) + nb(zi, k));
        let edges = (((nb(-xi - yi, k) + nb(-xi + yi, k)) + (nb(xi - yi, k) + nb(xi + yi, k)))
            + ((nb(-xi - zi, k) + nb(-xi + zi, k)) + (nb(xi - zi, k) + nb(xi + zi, k))))
            + ((nb(-yi - zi, k) + nb(-yi + zi, k)) + (nb(yi - zi, k) + nb(yi + zi, k)));
        out[k] = update!(nb(0, k), faces, edges, gate[k], q[k], latent[k], perfused, boil);
    }
    (
        perfused as f64 * co.heat_capacity[m],
        boil as f64 * co.heat_capacity[m],
    )
}

/// `N` values of `s` from `base`; past its end, as many as there are and
/// zeros (the lanes past a run's end are computed and dropped).
#[inline(always)]
fn lanes<const N: usize>(s: &[f32], base: usize) -> [f32; N] {
    let mut out = [0.0f32; N];
    match s.get(base..base + N) {
        Some(v) => out.copy_from_slice(v),
        None => {
            let v = &s[base.min(s.len())..];
            out[..v.len()].copy_from_slice(v);
        }
    }
    out
}

/// The coefficients of the voxels with mixed materials around them, read by
/// the kernel instead of looking each neighbour's material pair up in
/// [`Coeffs`] at every step. Built again whenever the layout or the time
/// step changes ([`Mixed::new`]).
pub(crate) struct Mixed {
    /// Where each row's runs start in `data`.
    row_start: Vec<usize>,
    /// Run after run (rows in order, runs along x), for a run of `len`
    /// voxels: 18 rows of `len` conductance coefficients, one per neighbour
    /// in the order of [`neighbours`] (the [`Coeffs::a`] entry of the pair,
    /// so 0 towards sinks), then `len` sums of the coefficients towards
    /// vessel walls and `len` towards the layer around the region.
    data: Vec<f32>,
}

/// Values per voxel of a mixed run in [`Mixed::data`].
const MIXED_PER_VOXEL: usize = 20;

impl Mixed {
    /// The coefficients of every irregular run of `plan` at the step of `co`.
    pub(crate) fn new(plan: &Layout, co: &Coeffs) -> Mixed {
        let [px, py, _] = plan.p;
        let [_, ny, _] = plan.n;
        let (offs, _) = neighbours(px, px * py);
        let mat = &plan.mat;
        let mut row_start = Vec::with_capacity(plan.rows.len());
        let mut data = Vec::new();
        for (r, runs) in plan.rows.iter().enumerate() {
            row_start.push(data.len());
            let row = (r % ny + 1) * px + 1 + (r / ny + 1) * px * py;
            for sg in runs.iter().filter(|sg| sg.kind == IRREGULAR) {
                let (x0, len) = (sg.x0 as usize, (sg.x1 - sg.x0) as usize);
                let at = data.len();
                data.resize(at + MIXED_PER_VOXEL * len, 0.0);
                let run = &mut data[at..];
                for k in 0..len {
                    let i = row + x0 + k;
                    let m = mat[i] as usize;
                    let (mut to_vessels, mut to_outside) = (0.0f32, 0.0f32);
                    for (n, &o) in offs.iter().enumerate() {
                        let mj = mat[(i as isize + o) as usize];
                        let pair = (if n < 6 { 0 } else { 256 }) + m * 16 + (mj & 15) as usize;
                        run[n * len + k] = co.a[pair];
                        if mj == co.outside {
                            to_outside += co.sink[pair];
                        } else {
                            to_vessels += co.sink[pair];
                        }
                    }
                    run[18 * len + k] = to_vessels;
                    run[19 * len + k] = to_outside;
                }
            }
        }
        Mixed { row_start, data }
    }
}

with_avx2! {
    #[allow(clippy::too_many_arguments)]
    fn irregular(
        co: &Coeffs,
        mat: &[u8],
        src: &[f32],
        gi: usize,
        px: usize,
        pxy: usize,
        coef: &[f32],
        q: &[f32],
        gate: &[f32],
        latent: &mut [f32],
        out: &mut [f32],
    ) -> Losses => irregular_body
}

/// Mixed materials around the voxels of the run: the conductance of each
/// neighbour from [`Mixed`]. Each voxel sums its 18 neighbour terms in the
/// stencil's order, `LANES` voxels side by side.
#[allow(clippy::too_many_arguments)]
#[inline(always)]
fn irregular_body(
    co: &Coeffs,
    mat: &[u8],
    src: &[f32],
    gi: usize,
    px: usize,
    pxy: usize,
    coef: &[f32],
    q: &[f32],
    gate: &[f32],
    latent: &mut [f32],
    out: &mut [f32],
) -> Losses {
    let len = out.len();
    let (offs, _) = neighbours(px, pxy);
    let mut lost = Losses::default();
    for k0 in (0..len).step_by(LANES) {
        let t = lanes::<LANES>(src, gi + k0);
        let mut flux = [0.0f32; LANES];
        for (n, &o) in offs.iter().enumerate() {
            let a = lanes::<LANES>(coef, n * len + k0);
            let s = lanes::<LANES>(src, (gi as isize + o) as usize + k0);
            for l in 0..LANES {
                flux[l] += a[l] * (s[l] - t[l]);
            }
        }
        for l in 0..LANES.min(len - k0) {
            let k = k0 + l;
            let m = mat[gi + k] as usize;
            let (to_vessels, to_outside) = (coef[18 * len + k], coef[19 * len + k]);
            let perf = if gate[k] < co.stop_gate { co.b[m] } else { 0.0 };
            let v = (t[l] + flux[l] + co.c[m] * q[k]) / (1.0 + to_vessels + to_outside + perf);
            let rc = co.heat_capacity[m];
            lost.perfusion += (perf * v) as f64 * rc;
            lost.vessels += (to_vessels * v) as f64 * rc;
            lost.outside += (to_outside * v) as f64 * rc;
            let room = (co.latent_k[m] - latent[k]).max(0.0);
            let take = (v - co.boil_k).max(0.0).min(room);
            latent[k] += take;
            lost.latent += take as f64 * rc;
            let v = v - take;
            out[k] = if v.abs() < TINY_K { 0.0 } else { v };
        }
    }
    lost
}
