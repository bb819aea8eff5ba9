//! The Hines solve agrees with dense Gaussian elimination on random trees.

// The dense reference is written in textbook index form on purpose: it must be obviously right.
#![allow(clippy::needless_range_loop)]

use isf::sim::hines;
use proptest::prelude::*;

/// Dense Gaussian elimination with partial pivoting (the independent reference).
fn dense_solve(mut m: Vec<Vec<f64>>, mut rhs: Vec<f64>) -> Vec<f64> {
    let n = rhs.len();
    for col in 0..n {
        let piv = (col..n)
            .max_by(|&i, &j| m[i][col].abs().total_cmp(&m[j][col].abs()))
            .unwrap();
        m.swap(col, piv);
        rhs.swap(col, piv);
        for row in col + 1..n {
            let f = m[row][col] / m[col][col];
            if f != 0.0 {
                for k in col..n {
                    m[row][k] -= f * m[col][k];
                }
                rhs[row] -= f * rhs[col];
            }
        }
    }
    let mut x = vec![0.0; n];
    for row in (0..n).rev() {
        let s: f64 = (row + 1..n).map(|k| m[row][k] * x[k]).sum();
        x[row] = (rhs[row] - s) / m[row][row];
    }
    x
}

/// One random node: where its parent lies (fraction of the preceding nodes), a, b, extra
/// diagonal weight, right-hand side.
fn node() -> impl Strategy<Value = (f64, f64, f64, f64, f64)> {
    (
        0.0..1.0f64,
        -10.0..-0.01f64,
        -10.0..-0.01f64,
        0.001..10.0f64,
        -100.0..100.0f64,
    )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]
    #[test]
    fn hines_equals_dense_elimination(
        nodes in prop::collection::vec(node(), 1..120),
        n_roots_raw in 1usize..4,
    ) {
        let n = nodes.len();
        let n_roots = n_roots_raw.min(n);
        let mut parent = vec![u32::MAX; n];
        let mut a = vec![0.0; n];
        let mut b = vec![0.0; n];
        let mut rhs = vec![0.0; n];
        for (i, &(pf, ai, bi, _, r)) in nodes.iter().enumerate() {
            rhs[i] = r;
            if i >= n_roots {
                parent[i] = ((pf * i as f64) as usize).min(i - 1) as u32;
                a[i] = ai;
                b[i] = bi;
            }
        }
        // Diagonal: like the cable matrix, at least the sum of the off-diagonal magnitudes of
        // the row, plus a positive membrane/capacitance part.
        let mut d: Vec<f64> = nodes.iter().map(|n| n.3).collect();
        for i in n_roots..n {
            d[i] += b[i].abs();
            d[parent[i] as usize] += a[i].abs();
        }
        let mut m = vec![vec![0.0; n]; n];
        for i in 0..n {
            m[i][i] = d[i];
            if i >= n_roots {
                let p = parent[i] as usize;
                m[i][p] = b[i];
                m[p][i] = a[i];
            }
        }
        let x_ref = dense_solve(m, rhs.clone());
        let mut x = rhs;
        hines::solve(n_roots, &parent, &a, &b, &mut d, &mut x);
        let scale = x_ref.iter().fold(0.0f64, |s, v| s.max(v.abs())).max(1e-300);
        for (xi, ri) in x.iter().zip(&x_ref) {
            prop_assert!((xi - ri).abs() <= 1e-9 * scale, "{} vs {}", xi, ri);
        }
    }
}
