//! The Hines solver: Gaussian elimination on a tree matrix in parent-index form.
//!
//! The matrix has diagonal `d`, for every non-root node `i` the entry `b[i]` in row `i`,
//! column `parent[i]`, and `a[i]` in row `parent[i]`, column `i`. Eliminating the nodes from
//! the leaves towards the roots never creates fill-in, so the solve is O(n) with no allocation
//! (Hines 1984). The operation order is NEURON's `triang`/`bksub` so results agree with NEURON
//! to rounding.
//!
//! The nodes are eliminated in an [`Elimination`] order, which need not be the order the
//! node arrays are stored in: every node must come after its parent. The bits of the result
//! depend only on the order in which each parent collects its children's contributions, so
//! the arrays can be laid out for the mechanisms (a section's nodes contiguous) while the
//! elimination walks the cell level by level, many independent branches at once (the
//! recurrences are latency-bound chains with a division per node; interleaving independent
//! chains lets the CPU overlap them).
//!
//! [`solve_lanes`] solves `L` independent systems of one tree at once, stored lane-minor
//! (`d[i·L + l]` is node `i` of system `l`): every lane does exactly the operations, in the
//! order, of a solo solve on its own system, so each lane's result is bit-identical to it,
//! while the inner loop over lanes runs vector-wide.

use crate::sim::tree::{Elimination, NodeId};

/// Solve `M·x = rhs` in place for a tree numbered so that `parent[i] < i` (nodes
/// `0..n_roots` are roots; their `parent` entries are ignored): on return `rhs` holds `x` and
/// `d` is overwritten by the eliminated diagonal.
///
/// Builds the [`Elimination`] on each call (for one-off solves and tests; a time-step loop
/// keeps its tree's and calls [`solve_lanes`]).
///
/// Panics if the slices differ in length or the numbering is not of that kind.
pub fn solve(
    n_roots: usize,
    parent: &[NodeId],
    a: &[f64],
    b: &[f64],
    d: &mut [f64],
    rhs: &mut [f64],
) {
    let e = Elimination::in_index_order(n_roots, parent, a, b);
    solve_lanes(&e, d, rhs, 1);
}

/// Solve `lanes` systems that share the tree of `e` in place, lane-minor: `d[i·lanes + l]`
/// and `rhs[i·lanes + l]` belong to node `i` of system `l`. Each lane gets the bits a solo
/// solve gives it alone (same operations in the same order; no fused multiply-add). Lane
/// counts 1, 2, 4 and 8 run specialised loops.
///
/// Panics if the slices do not hold `lanes` values per node of the tree.
pub fn solve_lanes(e: &Elimination, d: &mut [f64], rhs: &mut [f64], lanes: usize) {
    let n = e.n_roots + e.len();
    assert!(lanes >= 1 && d.len() == n * lanes && rhs.len() == n * lanes);
    match lanes {
        1 => solve_l::<1>(e, d, rhs),
        2 => solve_l::<2>(e, d, rhs),
        4 => solve_l::<4>(e, d, rhs),
        8 => solve_l::<8>(e, d, rhs),
        l => solve_dyn(e, d, rhs, l),
    }
}

/// Copy `L` values starting at `k·L` (a lane block) out of `x`.
#[inline(always)]
fn block<const L: usize>(x: &[f64], k: usize) -> [f64; L] {
    x[k * L..k * L + L].try_into().expect("a lane block")
}

/// [`solve_lanes`] for a lane count known at compile time: the lane loops are fixed-length
/// array operations the compiler turns into vector instructions. A node's own values are
/// copied out before its parent's are updated, so the two never alias.
fn solve_l<const L: usize>(e: &Elimination, d: &mut [f64], rhs: &mut [f64]) {
    // NEURON's `triang`: from the leaves towards the roots.
    for k in (0..e.len()).rev() {
        let (i, p) = (e.node[k] as usize, e.parent[k] as usize);
        let (ai, bi) = (e.a[k], e.b[k]);
        let (di, ri) = (block::<L>(d, i), block::<L>(rhs, i));
        let f: [f64; L] = std::array::from_fn(|l| ai / di[l]);
        let dp = &mut d[p * L..p * L + L];
        for l in 0..L {
            dp[l] -= f[l] * bi;
        }
        let rp = &mut rhs[p * L..p * L + L];
        for l in 0..L {
            rp[l] -= f[l] * ri[l];
        }
    }
    // NEURON's `bksub`: the roots, then outwards.
    let nr = e.n_roots * L;
    for (r, &dd) in rhs[..nr].iter_mut().zip(&d[..nr]) {
        *r /= dd;
    }
    for k in 0..e.len() {
        let (i, p) = (e.node[k] as usize, e.parent[k] as usize);
        let bi = e.b[k];
        let (rp, di) = (block::<L>(rhs, p), block::<L>(d, i));
        let ri = &mut rhs[i * L..i * L + L];
        for l in 0..L {
            ri[l] -= bi * rp[l];
            ri[l] /= di[l];
        }
    }
}

/// [`solve_lanes`] for any lane count.
fn solve_dyn(e: &Elimination, d: &mut [f64], rhs: &mut [f64], lanes: usize) {
    for k in (0..e.len()).rev() {
        let (i, p) = (e.node[k] as usize, e.parent[k] as usize);
        for l in 0..lanes {
            let f = e.a[k] / d[i * lanes + l];
            d[p * lanes + l] -= f * e.b[k];
            rhs[p * lanes + l] -= f * rhs[i * lanes + l];
        }
    }
    for k in 0..e.n_roots * lanes {
        rhs[k] /= d[k];
    }
    for k in 0..e.len() {
        let (i, p) = (e.node[k] as usize, e.parent[k] as usize);
        for l in 0..lanes {
            rhs[i * lanes + l] -= e.b[k] * rhs[p * lanes + l];
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
            solve_lanes(
                &Elimination::in_index_order(2, &parent, &a, &b),
                &mut d,
                &mut r,
                lanes,
            );
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
