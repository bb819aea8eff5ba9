//! The Hines solver: Gaussian elimination on a tree matrix in parent-index form.
//!
//! The matrix has diagonal `d`, for every non-root node `i` the entry `b[i]` in row `i`,
//! column `parent[i]`, and `a[i]` in row `parent[i]`, column `i`. With the nodes ordered so that
//! `parent[i] < i`, eliminating from the highest index down never creates fill-in, so the solve
//! is O(n) with no allocation (Hines 1984). The operation order is NEURON's `triang`/`bksub`
//! so results agree with NEURON to rounding.
//!
//! [`solve_lanes`] solves `L` independent systems of one tree at once, stored lane-minor
//! (`d[i·L + l]` is node `i` of system `l`): every lane does exactly the operations, in the
//! order, of [`solve`] on its own system, so each lane's result is bit-identical to a solo
//! solve, while the inner loop over lanes runs vector-wide.

use crate::sim::tree::NodeId;

/// Solve `M·x = rhs` in place: on return `rhs` holds `x` and `d` is overwritten by the
/// eliminated diagonal. Nodes `0..n_roots` are roots (their `parent` entries are ignored);
/// every other node must satisfy `parent[i] < i`.
///
/// Panics if the slices differ in length or a parent index is out of range.
pub fn solve(
    n_roots: usize,
    parent: &[NodeId],
    a: &[f64],
    b: &[f64],
    d: &mut [f64],
    rhs: &mut [f64],
) {
    let n = parent.len();
    assert!(a.len() == n && b.len() == n && d.len() == n && rhs.len() == n);
    assert!(n_roots <= n);
    triangularize(n_roots, parent, a, b, d, rhs);
    back_substitute(n_roots, parent, b, d, rhs);
}

/// Eliminate the `a` entries from the leaves towards the roots (NEURON's `triang`).
#[inline]
pub fn triangularize(
    n_roots: usize,
    parent: &[NodeId],
    a: &[f64],
    b: &[f64],
    d: &mut [f64],
    rhs: &mut [f64],
) {
    for i in (n_roots..parent.len()).rev() {
        let p = parent[i] as usize;
        debug_assert!(p < i);
        let f = a[i] / d[i];
        d[p] -= f * b[i];
        rhs[p] -= f * rhs[i];
    }
}

/// Solve the roots, then substitute outwards (NEURON's `bksub`).
#[inline]
pub fn back_substitute(n_roots: usize, parent: &[NodeId], b: &[f64], d: &[f64], rhs: &mut [f64]) {
    for i in 0..n_roots {
        rhs[i] /= d[i];
    }
    for i in n_roots..parent.len() {
        let p = parent[i] as usize;
        rhs[i] -= b[i] * rhs[p];
        rhs[i] /= d[i];
    }
}

/// Solve `lanes` systems that share the tree (`parent`, `a`, `b`) in place, lane-minor:
/// `d[i·lanes + l]` and `rhs[i·lanes + l]` belong to node `i` of system `l`. Each lane gets
/// the bits [`solve`] gives it alone (same operations in the same order; no fused
/// multiply-add). Lane counts 2, 4 and 8 run specialised loops.
///
/// Panics if the slices differ in length or a parent index is out of range.
pub fn solve_lanes(
    n_roots: usize,
    parent: &[NodeId],
    a: &[f64],
    b: &[f64],
    d: &mut [f64],
    rhs: &mut [f64],
    lanes: usize,
) {
    let n = parent.len();
    assert!(lanes >= 1 && a.len() == n && b.len() == n);
    assert!(d.len() == n * lanes && rhs.len() == n * lanes && n_roots <= n);
    match lanes {
        1 => solve(n_roots, parent, a, b, d, rhs),
        2 => solve_l::<2>(n_roots, parent, a, b, d, rhs),
        4 => solve_l::<4>(n_roots, parent, a, b, d, rhs),
        8 => solve_l::<8>(n_roots, parent, a, b, d, rhs),
        l => solve_dyn(n_roots, parent, a, b, d, rhs, l),
    }
}

/// [`solve_lanes`] for a lane count known at compile time: the lane loops are fixed-length
/// array operations the compiler turns into vector instructions.
fn solve_l<const L: usize>(
    n_roots: usize,
    parent: &[NodeId],
    a: &[f64],
    b: &[f64],
    d: &mut [f64],
    rhs: &mut [f64],
) {
    let n = parent.len();
    for i in (n_roots..n).rev() {
        // `p < i` is checked by the slicing: `dl` holds nodes `0..i` only.
        let p = parent[i] as usize;
        let (ai, bi) = (a[i], b[i]);
        let (dl, dh) = d.split_at_mut(i * L);
        let (rl, rh) = rhs.split_at_mut(i * L);
        let (dp, di) = (&mut dl[p * L..p * L + L], &dh[..L]);
        let (rp, ri) = (&mut rl[p * L..p * L + L], &rh[..L]);
        for l in 0..L {
            let f = ai / di[l];
            dp[l] -= f * bi;
            rp[l] -= f * ri[l];
        }
    }
    for (r, &dd) in rhs[..n_roots * L].iter_mut().zip(&d[..n_roots * L]) {
        *r /= dd;
    }
    for i in n_roots..n {
        let p = parent[i] as usize;
        let bi = b[i];
        let (rl, rh) = rhs.split_at_mut(i * L);
        let (rp, ri) = (&rl[p * L..p * L + L], &mut rh[..L]);
        let di = &d[i * L..i * L + L];
        for l in 0..L {
            ri[l] -= bi * rp[l];
            ri[l] /= di[l];
        }
    }
}

/// [`solve_lanes`] for any lane count.
fn solve_dyn(
    n_roots: usize,
    parent: &[NodeId],
    a: &[f64],
    b: &[f64],
    d: &mut [f64],
    rhs: &mut [f64],
    lanes: usize,
) {
    let n = parent.len();
    for i in (n_roots..n).rev() {
        let p = parent[i] as usize;
        assert!(p < i);
        for l in 0..lanes {
            let f = a[i] / d[i * lanes + l];
            d[p * lanes + l] -= f * b[i];
            rhs[p * lanes + l] -= f * rhs[i * lanes + l];
        }
    }
    for k in 0..n_roots * lanes {
        rhs[k] /= d[k];
    }
    for i in n_roots..n {
        let p = parent[i] as usize;
        for l in 0..lanes {
            rhs[i * lanes + l] -= b[i] * rhs[p * lanes + l];
            rhs[i * lanes + l] /= d[i * lanes + l];
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn two_node_system() {
        // [2 1; 1 3] x = [3; 4] → x = [1; 1]
        let parent = [u32::MAX, 0];
        let a = [0.0, 1.0];
        let b = [0.0, 1.0];
        let mut d = [2.0, 3.0];
        let mut rhs = [3.0, 4.0];
        solve(1, &parent, &a, &b, &mut d, &mut rhs);
        assert!((rhs[0] - 1.0).abs() < 1e-15 && (rhs[1] - 1.0).abs() < 1e-15);
    }

    /// Every lane of a lane solve has the bits of the solo solve of its own system, for the
    /// specialised and the general lane counts.
    #[test]
    fn lanes_are_bit_identical_to_solo_solves() {
        // A branched tree of 40 nodes, two roots; parent[i] < i.
        let n = 40;
        let parent: Vec<NodeId> = (0..n)
            .map(|i| match i {
                0 | 1 => u32::MAX,
                _ if i % 5 == 0 => 0,
                _ => (i * 5 / 7) as u32,
            })
            .collect();
        let a: Vec<f64> = (0..n).map(|i| -0.3 - 0.01 * i as f64).collect();
        let b: Vec<f64> = (0..n).map(|i| -0.2 - 0.013 * i as f64).collect();
        for lanes in [1, 2, 3, 4, 8] {
            let sys = |l: usize| -> (Vec<f64>, Vec<f64>) {
                let d = (0..n).map(|i| 3.0 + (i * (l + 1)) as f64 / 7.0).collect();
                let r = (0..n).map(|i| ((i + 3 * l) as f64).sin()).collect();
                (d, r)
            };
            let (mut d, mut r) = (vec![0.0; n * lanes], vec![0.0; n * lanes]);
            for l in 0..lanes {
                let (dl, rl) = sys(l);
                for i in 0..n {
                    d[i * lanes + l] = dl[i];
                    r[i * lanes + l] = rl[i];
                }
            }
            solve_lanes(2, &parent, &a, &b, &mut d, &mut r, lanes);
            for l in 0..lanes {
                let (mut dl, mut rl) = sys(l);
                solve(2, &parent, &a, &b, &mut dl, &mut rl);
                for i in 0..n {
                    assert_eq!(r[i * lanes + l].to_bits(), rl[i].to_bits(), "lanes {lanes}");
                    assert_eq!(d[i * lanes + l].to_bits(), dl[i].to_bits(), "lanes {lanes}");
                }
            }
        }
    }
}
