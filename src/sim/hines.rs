//! The Hines solver: Gaussian elimination on a tree matrix in parent-index form.
//!
//! The matrix has diagonal `d`, for every non-root node `i` the entry `b[i]` in row `i`,
//! column `parent[i]`, and `a[i]` in row `parent[i]`, column `i`. With the nodes ordered so that
//! `parent[i] < i`, eliminating from the highest index down never creates fill-in, so the solve
//! is O(n) with no allocation (Hines 1984). The operation order is NEURON's `triang`/`bksub`
//! so results agree with NEURON to rounding.

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
}
