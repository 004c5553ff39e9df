//! The exact squared Euclidean distance transform on anisotropic grids.
//!
//! For a set of feature voxels `F` the transform gives, at every voxel `p`,
//!
//! ```text
//! D²(p) = min over q ∈ F of Σₐ (sₐ · (pₐ − qₐ))²          (mm²)
//! ```
//!
//! computed separably, one axis at a time, as in Felzenszwalb & Huttenlocher,
//! "Distance transforms of sampled functions", Theory of Computing 8 (2012)
//! 415–428, doi:10.4086/toc.2012.v008a019 [Felzenszwalb2012]. After the pass
//! along axis `a` every voxel holds the squared distance to the nearest
//! feature among the voxels that differ from it only in the axes processed so
//! far; the pass along the next axis `b` is the lower envelope of parabolas
//! `f(q) + s_b²·(p − q)²` over the lane.
//!
//! Departures from the paper, each exact:
//!
//! 1. The first pass (along `i`) on a binary input needs no parabolas: two
//!    linear scans give the distance to the nearest feature on the row, as in
//!    Rosenfeld & Pfaltz's sequential method (and seung-lab `edt`).
//! 2. The parabola weight is the squared spacing of the axis (anisotropy); the
//!    intersection abscissa is `s = ((f(q) + w·q²) − (f(v) + w·v²)) / (2w·(q − v))`.
//!    Envelopes are computed in `f64` and stored as `f32` (relative rounding
//!    6·10⁻⁸: 3·10⁻⁵ mm at 500 mm).
//! 3. Lanes are cut at zeros: a voxel with `f = 0` beats every voxel beyond
//!    it (`0 + w·(p − b)² < f(q) + w·(p − q)²` for `q` past `b`), so each run
//!    between zeros is an independent envelope and an all-zero lane costs a
//!    scan. Voxels with no feature yet (`f = ∞`) never enter an envelope.
//! 4. Lanes along the strided axes are gathered 32 at a time into a
//!    contiguous buffer, reading and writing 32 neighbouring voxels of each
//!    row at once (whole cache lines), and solved there. A slab without any
//!    feature is skipped by the second pass. Work is split over independent slabs and
//!    planes with rayon; every lane is computed the same way whatever the
//!    number of threads, so the output does not depend on it.

use ndarray::{ArrayViewMut2, ArrayViewMut3, Axis, ShapeBuilder};
use rayon::prelude::*;

/// Lanes gathered together along the strided axes.
const BLOCK: usize = 32;

/// Squared distance (mm²) of every voxel to the nearest voxel with
/// `feature[n] == true`, written to `out` (`f32::INFINITY` without any
/// feature). Both slices are in Fortran order over `dims`.
pub(crate) fn squared_edt(feature: &[bool], dims: [usize; 3], spacing: [f64; 3], out: &mut [f32]) {
    let [ni, nj, nk] = dims;
    debug_assert_eq!(feature.len(), ni * nj * nk);
    debug_assert_eq!(out.len(), feature.len());
    if out.is_empty() {
        return;
    }
    // Pass 1, along i: distance to the nearest feature on the row.
    let s0 = spacing[0];
    let slab_has_feature: Vec<bool> = out
        .par_chunks_mut(ni * nj)
        .zip(feature.par_chunks(ni * nj))
        .map(|(slab, feat)| {
            for (row, frow) in slab.chunks_exact_mut(ni).zip(feat.chunks_exact(ni)) {
                row_pass(frow, s0, row);
            }
            feat.contains(&true)
        })
        .collect();
    let Ok(mut view) = ArrayViewMut3::from_shape((ni, nj, nk).f(), out) else {
        return;
    };
    // Pass 2, along j: each k-slab is an (i, j) plane, lanes along j.
    if nj > 1 {
        let w = spacing[1] * spacing[1];
        // A slab without features stays infinite.
        view.axis_iter_mut(Axis(2))
            .into_par_iter()
            .zip(slab_has_feature.par_iter())
            .filter(|(_, has)| **has)
            .for_each(|(slab, _)| lanes_pass(slab, w));
    }
    // Pass 3, along k: each j-plane is an (i, k) plane, lanes along k.
    if nk > 1 {
        let w = spacing[2] * spacing[2];
        view.axis_iter_mut(Axis(1))
            .into_par_iter()
            .for_each(|plane| lanes_pass(plane, w));
    }
}

/// Squared distance along one row to the nearest feature of that row.
fn row_pass(feature: &[bool], s: f64, out: &mut [f32]) {
    const NONE: usize = usize::MAX;
    // Forward: voxels since the last feature.
    let mut last = NONE;
    for (i, (&f, o)) in feature.iter().zip(out.iter_mut()).enumerate() {
        if f {
            last = i;
        }
        *o = if last == NONE {
            f32::INFINITY
        } else {
            ((i - last) as f64 * s).powi(2) as f32
        };
    }
    // Backward: voxels to the next feature.
    let mut next = NONE;
    for i in (0..feature.len()).rev() {
        if feature[i] {
            next = i;
        }
        if next != NONE {
            let d = ((next - i) as f64 * s).powi(2) as f32;
            if d < out[i] {
                out[i] = d;
            }
        }
    }
}

/// Runs the parabola pass on every lane of `plane`, whose axis 0 is
/// contiguous (`i`) and axis 1 is the lane axis. Lanes are gathered
/// [`BLOCK`] at a time, row by row (contiguous reads), solved in a
/// contiguous buffer, and written back row by row.
fn lanes_pass(mut plane: ArrayViewMut2<'_, f32>, w: f64) {
    let (ni, n) = plane.dim();
    let mut lanes = vec![0f64; BLOCK * n];
    let mut result = vec![0f64; BLOCK * n];
    let mut v = vec![0usize; n];
    let mut z = vec![0f64; n + 1];
    let mut i0 = 0;
    while i0 < ni {
        let b = BLOCK.min(ni - i0);
        for t in 0..n {
            let row = plane.index_axis(Axis(1), t);
            match row.as_slice() {
                Some(src) => {
                    for (l, x) in src[i0..i0 + b].iter().enumerate() {
                        lanes[l * n + t] = *x as f64;
                    }
                }
                None => {
                    for l in 0..b {
                        lanes[l * n + t] = row[i0 + l] as f64;
                    }
                }
            }
        }
        let mut changed = false;
        for l in 0..b {
            let (lane, out) = (&lanes[l * n..(l + 1) * n], &mut result[l * n..(l + 1) * n]);
            if envelope_lane(lane, w, out, &mut v, &mut z) {
                changed = true;
            } else {
                out.copy_from_slice(lane);
            }
        }
        if changed {
            for t in 0..n {
                let mut row = plane.index_axis_mut(Axis(1), t);
                match row.as_slice_mut() {
                    Some(dst) => {
                        for (l, x) in dst[i0..i0 + b].iter_mut().enumerate() {
                            *x = result[l * n + t] as f32;
                        }
                    }
                    None => {
                        for l in 0..b {
                            row[i0 + l] = result[l * n + t] as f32;
                        }
                    }
                }
            }
        }
        i0 += b;
    }
}

/// Lower envelope of one lane, cut into independent runs at zeros.
/// Returns false when the lane needs no change (all zero or all infinite).
fn envelope_lane(f: &[f64], w: f64, out: &mut [f64], v: &mut [usize], z: &mut [f64]) -> bool {
    let n = f.len();
    if f.iter().all(|&x| x == 0.0) || f.iter().all(|&x| x == f64::INFINITY) {
        // All zeros, or no feature anywhere: nothing moves.
        return false;
    }
    let mut start = 0;
    while start < n {
        if f[start] == 0.0 {
            out[start] = 0.0;
            start += 1;
            continue;
        }
        // A run of non-zero values [start, end), with the zeros around it.
        let mut end = start;
        while end < n && f[end] != 0.0 {
            end += 1;
        }
        let lo = start.saturating_sub(1);
        let hi = if end < n { end + 1 } else { end };
        envelope(&f[lo..hi], w, &mut out[lo..hi], v, z);
        if end < n {
            out[end] = 0.0;
        }
        start = end;
    }
    true
}

/// Felzenszwalb–Huttenlocher lower envelope of the parabolas
/// `f(q) + w·(p − q)²` over one lane segment; `∞` entries are skipped.
fn envelope(f: &[f64], w: f64, out: &mut [f64], v: &mut [usize], z: &mut [f64]) {
    let n = f.len();
    let Some(first) = f.iter().position(|x| x.is_finite()) else {
        out.fill(f64::INFINITY);
        return;
    };
    // v[0..=k]: abscissae of the parabolas in the envelope; parabola v[j]
    // is lowest on (z[j], z[j + 1]].
    let mut k = 0;
    v[0] = first;
    z[0] = f64::NEG_INFINITY;
    z[1] = f64::INFINITY;
    for q in first + 1..n {
        let fq = f[q];
        if !fq.is_finite() {
            continue;
        }
        let qf = q as f64;
        // Intersection with the rightmost parabola of the envelope; drop
        // parabolas the new one hides (z[0] = −∞ stops the loop).
        let mut s;
        loop {
            let p = v[k];
            let pf = p as f64;
            s = ((fq + w * qf * qf) - (f[p] + w * pf * pf)) / (2.0 * w * (qf - pf));
            if s <= z[k] {
                k -= 1;
            } else {
                break;
            }
        }
        k += 1;
        v[k] = q;
        z[k] = s;
        z[k + 1] = f64::INFINITY;
    }
    let mut j = 0;
    for (p, o) in out.iter_mut().enumerate() {
        let pf = p as f64;
        while z[j + 1] < pf {
            j += 1;
        }
        let d = pf - v[j] as f64;
        *o = w * d * d + f[v[j]];
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn row_pass_distances() {
        let f = [false, true, false, false, false, true, false];
        let mut out = [0f32; 7];
        row_pass(&f, 2.0, &mut out);
        assert_eq!(out, [4.0, 0.0, 4.0, 16.0, 4.0, 0.0, 4.0]);
        let mut none = [0f32; 3];
        row_pass(&[false; 3], 1.0, &mut none);
        assert!(none.iter().all(|v| v.is_infinite()));
    }

    fn brute(f: &[f64], w: f64, p: usize) -> f64 {
        f.iter()
            .enumerate()
            .map(|(q, fq)| fq + w * (p as f64 - q as f64).powi(2))
            .fold(f64::INFINITY, f64::min)
    }

    #[test]
    fn envelope_matches_brute_force() {
        let f = [
            f64::INFINITY,
            9.0,
            1.0,
            f64::INFINITY,
            16.0,
            0.5,
            f64::INFINITY,
            f64::INFINITY,
        ];
        let w = 0.64;
        let n = f.len();
        let (mut out, mut v, mut z) = (vec![0.0; n], vec![0; n], vec![0.0; n + 1]);
        envelope(&f, w, &mut out, &mut v, &mut z);
        for (p, got) in out.iter().enumerate() {
            let want = brute(&f, w, p);
            assert!((got - want).abs() < 1e-12, "{p}: {got} vs {want}");
        }
    }

    #[test]
    fn zero_runs_are_independent() {
        let f = [3.0, 0.0, 5.0, 7.0, 0.0, f64::INFINITY, 2.0];
        let w = 1.0;
        let n = f.len();
        let (mut out, mut v, mut z) = (vec![0.0; n], vec![0; n], vec![0.0; n + 1]);
        assert!(envelope_lane(&f, w, &mut out, &mut v, &mut z));
        for (p, got) in out.iter().enumerate() {
            assert_eq!(*got, brute(&f, w, p), "{p}");
        }
        let zeros = [0.0; 4];
        assert!(!envelope_lane(&zeros, w, &mut out[..4], &mut v, &mut z));
        let inf = [f64::INFINITY; 4];
        assert!(!envelope_lane(&inf, w, &mut out[..4], &mut v, &mut z));
    }
}
