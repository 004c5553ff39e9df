//! A static 3-D k-d tree for nearest-surface-point queries.
//!
//! Written here rather than taken from a crate because surface points share
//! coordinates by the thousand (a flat cap of faces all at one height), which
//! makes bucket-based trees that split by value refuse or panic; this one
//! splits by rank (the median of the indices), so equal coordinates only
//! land on both sides. Each node keeps the tight box of its points, and a
//! node is searched only when that box lies within the best distance so far
//! (the bounds-overlap-ball test of [Friedman1977], with tight boxes):
//! queries some millimetres off a surface are pruned far better than by the
//! splitting planes alone.

/// Points in leaf buckets of at most [`LEAF`], and the tight bounding box of
/// every node. Node `id` covers the range `[lo, hi)` of `order`; it splits
/// at `mid = lo + (hi − lo) / 2` on the widest axis of its box, its
/// children are `2·id` and `2·id + 1` (the root is 1).
pub(crate) struct KdTree {
    points: Vec<[f64; 3]>,
    order: Vec<u32>,
    /// Per node: lower and upper corners of its points' box.
    boxes: Vec<[[f64; 3]; 2]>,
}

/// Points per leaf: scanned one after the other, cheaper than more levels.
const LEAF: usize = 8;

impl KdTree {
    /// Builds the tree over `points` (any number, duplicates allowed).
    pub fn new(points: Vec<[f64; 3]>) -> KdTree {
        let mut order: Vec<u32> = (0..points.len() as u32).collect();
        // A balanced tree over n points has fewer than 4n / LEAF + 2 nodes.
        let mut boxes = vec![[[0.0; 3]; 2]; 4 * points.len() / LEAF + 2];
        build(&points, &mut order, 1, &mut boxes);
        KdTree { points, order, boxes }
    }

    /// Whether the tree holds no point.
    pub fn is_empty(&self) -> bool {
        self.points.is_empty()
    }

    /// The nearest point to `q`: its index in the input and the squared
    /// distance (the lowest index among equally near points). `None` for an
    /// empty tree.
    pub fn nearest(&self, q: [f64; 3]) -> Option<(usize, f64)> {
        self.nearest_from(q, None)
    }

    /// As [`KdTree::nearest`], starting from the point `hint` (an index in
    /// the input), for example the answer of a neighbouring query: its
    /// distance bounds the search from the start. The answer is the same as
    /// without a hint: every node whose box could hold a point as near as the
    /// best so far is still searched.
    pub fn nearest_from(&self, q: [f64; 3], hint: Option<usize>) -> Option<(usize, f64)> {
        if self.points.is_empty() {
            return None;
        }
        let mut best = match hint.filter(|&h| h < self.points.len()) {
            Some(h) => (h, dist2(self.points[h], q)),
            None => (usize::MAX, f64::INFINITY),
        };
        self.search(q, 1, 0, self.order.len(), &mut best);
        Some(best)
    }

    /// Searches node `id` (range `[lo, hi)`), nearer child first; a child is
    /// skipped when its box lies farther than the best point so far
    /// (`>`, not `≥`: an equally near point of lower index must be seen).
    fn search(&self, q: [f64; 3], id: usize, lo: usize, hi: usize, best: &mut (usize, f64)) {
        if hi - lo <= LEAF {
            for &i in &self.order[lo..hi] {
                let i = i as usize;
                let d2 = dist2(self.points[i], q);
                if d2 < best.1 || (d2 == best.1 && i < best.0) {
                    *best = (i, d2);
                }
            }
            return;
        }
        let mid = lo + (hi - lo) / 2;
        let (a, b) = (
            box_dist2(&self.boxes[2 * id], q),
            box_dist2(&self.boxes[2 * id + 1], q),
        );
        let ((n1, l1, h1, d1), (n2, l2, h2, d2)) = if a <= b {
            ((2 * id, lo, mid, a), (2 * id + 1, mid, hi, b))
        } else {
            ((2 * id + 1, mid, hi, b), (2 * id, lo, mid, a))
        };
        if d1 <= best.1 {
            self.search(q, n1, l1, h1, best);
        }
        if d2 <= best.1 {
            self.search(q, n2, l2, h2, best);
        }
    }
}

fn dist2(p: [f64; 3], q: [f64; 3]) -> f64 {
    (p[0] - q[0]).powi(2) + (p[1] - q[1]).powi(2) + (p[2] - q[2]).powi(2)
}

/// Squared distance from `q` to the box (0 inside).
fn box_dist2(b: &[[f64; 3]; 2], q: [f64; 3]) -> f64 {
    let mut d2 = 0.0;
    for a in 0..3 {
        let d = (b[0][a] - q[a]).max(q[a] - b[1][a]).max(0.0);
        d2 += d * d;
    }
    d2
}

fn build(points: &[[f64; 3]], order: &mut [u32], id: usize, boxes: &mut [[[f64; 3]; 2]]) {
    if order.is_empty() {
        return;
    }
    let mut b = [[f64::INFINITY; 3], [f64::NEG_INFINITY; 3]];
    for &i in order.iter() {
        let p = points[i as usize];
        for a in 0..3 {
            b[0][a] = b[0][a].min(p[a]);
            b[1][a] = b[1][a].max(p[a]);
        }
    }
    boxes[id] = b;
    if order.len() <= LEAF {
        return;
    }
    let axis = (0..3)
        .max_by(|&x, &y| (b[1][x] - b[0][x]).total_cmp(&(b[1][y] - b[0][y])))
        .unwrap_or(0);
    let mid = order.len() / 2;
    order.select_nth_unstable_by(mid, |&a, &b| {
        points[a as usize][axis]
            .total_cmp(&points[b as usize][axis])
            .then(a.cmp(&b))
    });
    let (left, right) = order.split_at_mut(mid);
    build(points, left, 2 * id, boxes);
    build(points, right, 2 * id + 1, boxes);
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
        // Every small size (leaves, uneven splits), ties on equal points.
        for n in 0..40 {
            let few: Vec<[f64; 3]> = pts[..n].iter().map(|p| [p[0], p[1], 0.0]).collect();
            let t = KdTree::new(few.clone());
            for _ in 0..20 {
                let q = [rnd(), rnd(), 0.25];
                let want = few
                    .iter()
                    .enumerate()
                    .map(|(i, p)| {
                        (
                            (p[0] - q[0]).powi(2) + (p[1] - q[1]).powi(2) + (p[2] - q[2]).powi(2),
                            i,
                        )
                    })
                    .min_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
                assert_eq!(t.nearest(q), want.map(|(d2, i)| (i, d2)), "{n} points");
            }
        }
        // From any hint, the same answer.
        for h in [0, 17, 2999, 3499] {
            let q = [rnd() + 0.13, rnd() - 0.21, rnd() + 0.07];
            assert_eq!(tree.nearest_from(q, Some(h)), tree.nearest(q));
        }
        assert!(KdTree::new(Vec::new()).nearest([0.0; 3]).is_none());
    }
}
