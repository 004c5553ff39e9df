//! A static 3-D k-d tree for nearest-surface-point queries.
//!
//! Written here rather than taken from a crate because surface points share
//! coordinates by the thousand (a flat cap of faces all at one height), which
//! makes bucket-based trees refuse or panic; a median-split tree over indices
//! has no such limit.

/// Points and their order; node `m` of a range `[lo, hi)` is its middle
/// element, split on axis `depth % 3`.
pub(crate) struct KdTree {
    points: Vec<[f64; 3]>,
    order: Vec<u32>,
}

impl KdTree {
    /// Builds the tree over `points` (any number, duplicates allowed).
    pub fn new(points: Vec<[f64; 3]>) -> KdTree {
        let mut order: Vec<u32> = (0..points.len() as u32).collect();
        build(&points, &mut order, 0);
        KdTree { points, order }
    }

    /// Whether the tree holds no point.
    pub fn is_empty(&self) -> bool {
        self.points.is_empty()
    }

    /// The nearest point to `q`: its index in the input and the squared
    /// distance. `None` for an empty tree.
    pub fn nearest(&self, q: [f64; 3]) -> Option<(usize, f64)> {
        if self.points.is_empty() {
            return None;
        }
        let mut best = (usize::MAX, f64::INFINITY);
        let mut offsets = [0.0; 3];
        self.search(q, 0, self.order.len(), 0, &mut best, &mut offsets, 0.0);
        Some(best)
    }

    /// Searches the node range `[lo, hi)`, whose cell lies at squared
    /// distance at least `cell_d2` from `q`: the sum of the squared
    /// `offsets`, the distance from `q` to the cell along each axis (the
    /// incremental box distance of [Arya1993], which prunes far better
    /// than the splitting plane alone when the points lie on a surface and
    /// the queries some millimetres off it).
    #[allow(clippy::too_many_arguments)]
    fn search(
        &self,
        q: [f64; 3],
        lo: usize,
        hi: usize,
        depth: usize,
        best: &mut (usize, f64),
        offsets: &mut [f64; 3],
        cell_d2: f64,
    ) {
        if lo >= hi {
            return;
        }
        let mid = lo + (hi - lo) / 2;
        let idx = self.order[mid] as usize;
        let p = self.points[idx];
        let d2 = (p[0] - q[0]).powi(2) + (p[1] - q[1]).powi(2) + (p[2] - q[2]).powi(2);
        if d2 < best.1 || (d2 == best.1 && idx < best.0) {
            *best = (idx, d2);
        }
        let axis = depth % 3;
        let delta = q[axis] - p[axis];
        let (near, far) = if delta < 0.0 {
            ((lo, mid), (mid + 1, hi))
        } else {
            ((mid + 1, hi), (lo, mid))
        };
        self.search(q, near.0, near.1, depth + 1, best, offsets, cell_d2);
        // Every point of the far side lies on the splitting plane or beyond
        // it, so `|delta|` bounds its distance along `axis` from below.
        let old = offsets[axis];
        let far_d2 = cell_d2 - old * old + delta * delta;
        if far_d2 <= best.1 {
            offsets[axis] = delta;
            self.search(q, far.0, far.1, depth + 1, best, offsets, far_d2);
            offsets[axis] = old;
        }
    }
}

fn build(points: &[[f64; 3]], order: &mut [u32], depth: usize) {
    if order.len() <= 1 {
        return;
    }
    let axis = depth % 3;
    let mid = order.len() / 2;
    order.select_nth_unstable_by(mid, |&a, &b| {
        points[a as usize][axis]
            .total_cmp(&points[b as usize][axis])
            .then(a.cmp(&b))
    });
    let (left, right) = order.split_at_mut(mid);
    build(points, left, depth + 1);
    build(points, &mut right[1..], depth + 1);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_matches_brute_force_with_duplicates() {
        let mut state = 99u64;
        let mut rnd = || {
            state = state
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            ((state >> 33) % 20) as f64 * 0.5
        };
        // Many points share coordinates (values on a 0.5 mm lattice).
        let mut pts: Vec<[f64; 3]> = (0..3000).map(|_| [rnd(), rnd(), 3.0]).collect();
        for _ in 0..500 {
            pts.push([rnd(), rnd(), rnd()]);
        }
        let tree = KdTree::new(pts.clone());
        for _ in 0..300 {
            let q = [rnd() + 0.13, rnd() - 0.21, rnd() + 0.07];
            let (i, d2) = tree.nearest(q).unwrap();
            let want = pts
                .iter()
                .map(|p| (p[0] - q[0]).powi(2) + (p[1] - q[1]).powi(2) + (p[2] - q[2]).powi(2))
                .fold(f64::INFINITY, f64::min);
            assert_eq!(d2, want);
            let p = pts[i];
            assert_eq!(
                (p[0] - q[0]).powi(2) + (p[1] - q[1]).powi(2) + (p[2] - q[2]).powi(2),
                d2
            );
        }
        assert!(KdTree::new(Vec::new()).nearest([0.0; 3]).is_none());
    }
}
