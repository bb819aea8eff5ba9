//! Raised-cosine bases over a log-stretched domain (spec 07 §7.8, ISF's
//! `modular_reduced_model_inference`): `f_i(τ) = ½·cos(a·ln(τ + c) − φ_i) + ½` for
//! `τ = 0 … width−1`, zero where `|a·ln(τ + c) − φ_i| ≥ π`, optionally reversed in τ.
//!
//! The log stretch makes the bumps narrow near τ = 0 and wide further out; a temporal basis is
//! reversed so that its narrow bumps sit on the most recent input bins (the last element of a
//! temporal filter weights the bin just before the output bin, see `glm`).

use serde::{Deserialize, Serialize};

/// A raised-cosine basis: its parameters and the domain width.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RaisedCosine {
    /// Log-stretch factor `a`.
    pub a: f64,
    /// Offset `c` inside the logarithm (> 0 so that `ln(τ + c)` is finite at τ = 0).
    pub c: f64,
    /// Phases `φ_i`, one per basis function.
    pub phis: Vec<f64>,
    /// Domain `τ = 0 … width−1` (bins).
    pub width: usize,
    /// Reverse every function in τ.
    pub reversed: bool,
}

impl RaisedCosine {
    /// The tutorial's temporal basis: a = 2, c = 1, φ = 1, 1.5, …, 10.5 (20 functions),
    /// width 80 (ms bins), reversed.
    pub fn temporal_default() -> RaisedCosine {
        RaisedCosine {
            a: 2.0,
            c: 1.0,
            phis: (0..20).map(|i| 1.0 + 0.5 * i as f64).collect(),
            width: 80,
            reversed: true,
        }
    }

    /// The tutorial's spatial basis: a = 3, c = 5, φ = 3, 4.5, …, 10.5 (6 functions), width 30
    /// (30 soma-distance bins of 50 µm), not reversed.
    pub fn spatial_default() -> RaisedCosine {
        RaisedCosine {
            a: 3.0,
            c: 5.0,
            phis: (0..6).map(|i| 3.0 + 1.5 * i as f64).collect(),
            width: 30,
            reversed: false,
        }
    }

    /// Number of basis functions.
    pub fn len(&self) -> usize {
        self.phis.len()
    }

    /// True when the basis has no functions.
    pub fn is_empty(&self) -> bool {
        self.phis.is_empty()
    }

    /// Why the parameters cannot make a basis, if they cannot: a width of 0, no functions,
    /// `c ≤ 0` (the logarithm is undefined at τ = 0), non-finite values, or a function that
    /// is zero over the whole domain (its coefficient could not be fitted).
    pub fn problem(&self) -> Option<String> {
        if self.width == 0 {
            return Some("the basis width must be at least 1 bin".into());
        }
        if self.phis.is_empty() {
            return Some("the basis has no functions".into());
        }
        if !(self.c > 0.0 && self.c.is_finite() && self.a.is_finite() && self.a != 0.0) {
            return Some(format!(
                "a = {} and c = {} must be finite, a ≠ 0 and c > 0",
                self.a, self.c
            ));
        }
        let m = self.matrix();
        for (i, phi) in self.phis.iter().enumerate() {
            if !phi.is_finite() {
                return Some(format!("phase {i} is not finite"));
            }
            if m[i].iter().all(|&v| v == 0.0) {
                return Some(format!(
                    "function {i} (φ = {phi}) is zero over the whole width {}",
                    self.width
                ));
            }
        }
        None
    }

    /// The value of function `i` at τ (before any reversal).
    fn value(&self, i: usize, tau: usize) -> f64 {
        let u = self.a * (tau as f64 + self.c).ln() - self.phis[i];
        if u.abs() >= std::f64::consts::PI {
            0.0
        } else {
            0.5 * u.cos() + 0.5
        }
    }

    /// The basis as rows: `m[i][τ]`, reversal applied.
    pub fn matrix(&self) -> Vec<Vec<f64>> {
        (0..self.phis.len())
            .map(|i| {
                let mut row: Vec<f64> = (0..self.width).map(|t| self.value(i, t)).collect();
                if self.reversed {
                    row.reverse();
                }
                row
            })
            .collect()
    }

    /// The filter `w(τ) = Σ_i x_i f_i(τ)` for coefficients `x` (one per function).
    pub fn filter(&self, x: &[f64]) -> Vec<f64> {
        assert_eq!(x.len(), self.phis.len(), "one coefficient per function");
        let m = self.matrix();
        (0..self.width)
            .map(|t| x.iter().zip(&m).map(|(xi, row)| xi * row[t]).sum())
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_follow_the_formula() {
        let b = RaisedCosine {
            a: 2.0,
            c: 1.0,
            phis: vec![1.0, 3.0],
            width: 10,
            reversed: false,
        };
        let m = b.matrix();
        // τ = 0: a·ln(1) − 1 = −1 → ½cos(−1) + ½.
        assert!((m[0][0] - (0.5 * (-1.0f64).cos() + 0.5)).abs() < 1e-15);
        // φ = 3 peaks at τ = e^1.5 − 1 ≈ 3.48; on the grid |2·ln 5 − 3| = 0.219 beats
        // |2·ln 4 − 3| = 0.227, so τ = 4.
        let argmax = |r: &Vec<f64>| (0..r.len()).max_by(|&i, &j| r[i].total_cmp(&r[j])).unwrap();
        assert_eq!(argmax(&m[1]), 4);
        // Support: |2·ln(τ+1) − 1| < π ⇔ τ < e^((π+1)/2) − 1 ≈ 6.93.
        assert!(m[0][6] > 0.0 && m[0][7] == 0.0);
        for r in &m {
            assert!(r.iter().all(|&v| (0.0..=1.0).contains(&v)));
        }
    }

    #[test]
    fn reversal_mirrors_the_domain() {
        let mut b = RaisedCosine::temporal_default();
        let fwd = b.matrix();
        b.reversed = false;
        let plain = b.matrix();
        for (f, p) in fwd.iter().zip(&plain) {
            let mut p = p.clone();
            p.reverse();
            assert_eq!(f, &p);
        }
    }

    #[test]
    fn defaults_are_usable_and_filters_are_linear() {
        let t = RaisedCosine::temporal_default();
        let s = RaisedCosine::spatial_default();
        assert_eq!((t.len(), t.width, s.len(), s.width), (20, 80, 6, 30));
        assert_eq!(t.problem(), None);
        assert_eq!(s.problem(), None);
        let x: Vec<f64> = (0..6).map(|i| i as f64 - 2.5).collect();
        let f = s.filter(&x);
        let m = s.matrix();
        for z in 0..30 {
            let want: f64 = (0..6).map(|i| x[i] * m[i][z]).sum();
            assert_eq!(f[z], want);
        }
    }

    #[test]
    fn unusable_parameters_are_named() {
        let mut b = RaisedCosine::spatial_default();
        b.c = 0.0;
        assert!(b.problem().unwrap().contains("c > 0"));
        let mut b = RaisedCosine::spatial_default();
        b.phis.push(40.0);
        assert!(b.problem().unwrap().contains("zero over the whole width"));
        let mut b = RaisedCosine::spatial_default();
        b.width = 0;
        assert!(b.problem().is_some());
    }
}
