//! Realizations (spec 08 §8.5), their statistics and the representative realization (§8.6).
//!
//! Every draw comes from a counter-derived stream: population `p` of realization `r` uses
//! `Rng::new(stream_seed(stream_seed(seed, r), hash(p's name)))`, so a realization does not
//! depend on the thread that computes it, on the other populations, or on how many
//! realizations are drawn. Within a population the cells are processed in order: field index
//! (uniform), then the voxel counts (independent Poisson, drawn as total + multinomial split)
//! and their target points.

use super::density::SparseDensity;
use crate::rng::Rng;
use crate::rng::stream_seed;
use rayon::prelude::*;

/// One presynaptic population: cell type × area.
#[derive(Clone, Debug)]
pub struct Population {
    /// Anatomical area (column), e.g. `C2`.
    pub area: String,
    /// Presynaptic cell type, e.g. `L5tt`.
    pub cell_type: String,
    /// Number of presynaptic cells (from the cell-numbers sheet).
    pub cells: u64,
    /// Synapse density of each bouton file of this (area, type); `None` = empty (the axon
    /// misses the cell).
    pub densities: Vec<Option<SparseDensity>>,
}

impl Population {
    /// The synapse type, `<type>_<area>`.
    pub fn name(&self) -> String {
        format!("{}_{}", self.cell_type, self.area)
    }
}

/// The synapses of one population in one realization, in creation order (= synapse ID).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct PopRealization {
    /// Mapper section index of each synapse.
    pub section: Vec<u32>,
    /// 3-D point index of each synapse.
    pub point: Vec<u32>,
    /// Presynaptic cell ID (numbered over connected cells only).
    pub cell: Vec<u32>,
    /// Number of connected cells.
    pub connected: u32,
}

/// FNV-1a of a population name: its stream id.
fn name_hash(name: &str) -> u64 {
    let mut h = 0xcbf2_9ce4_8422_2325u64;
    for b in name.bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h
}

/// The seed of population `name` in realization `r`.
pub fn population_seed(seed: u64, r: u64, name: &str) -> u64 {
    stream_seed(stream_seed(seed, r), name_hash(name))
}

/// `ln Γ(x)` for x ≥ 1 (numpy's `random_loggam` series), used by the PTRS Poisson sampler.
fn ln_gamma(x: f64) -> f64 {
    const A: [f64; 10] = [
        8.333333333333333e-02,
        -2.777777777777778e-03,
        7.936507936507937e-04,
        -5.952380952380952e-04,
        8.417508417508418e-04,
        -1.917526917526918e-03,
        6.41025641025641e-03,
        -2.955065359477124e-02,
        1.796443723688307e-01,
        -1.39243221690590e+00,
    ];
    if x == 1.0 || x == 2.0 {
        return 0.0;
    }
    let (mut x0, n) = if x < 7.0 {
        (x + (7 - x as i64) as f64, 7 - x as i64)
    } else {
        (x, 0)
    };
    let x2 = 1.0 / (x0 * x0);
    let mut gl0 = A[9];
    for k in (0..9).rev() {
        gl0 = gl0 * x2 + A[k];
    }
    let mut gl = gl0 / x0 + 0.5 * (2.0 * std::f64::consts::PI).ln() + (x0 - 0.5) * x0.ln() - x0;
    for _ in 0..n {
        x0 -= 1.0;
        gl -= x0.ln();
    }
    gl
}

/// A Poisson draw with mean `lam ≥ 0`: inversion by sequential search below 10 (one uniform
/// per draw), Hörmann's transformed rejection (PTRS) above. Fixed formulas, so a seed gives
/// the same counts on every platform and version.
pub fn poisson(rng: &mut Rng, lam: f64) -> u64 {
    if lam <= 0.0 {
        return 0;
    }
    if lam < 10.0 {
        let u = rng.uniform();
        let mut p = (-lam).exp();
        let mut f = p;
        let mut k = 0u64;
        // The cap only guards against rounding leaving `f` just below u near 1.
        while u > f && k < 1000 {
            k += 1;
            p *= lam / k as f64;
            f += p;
        }
        return k;
    }
    let slam = lam.sqrt();
    let loglam = lam.ln();
    let b = 0.931 + 2.53 * slam;
    let a = -0.059 + 0.02483 * b;
    let invalpha = 1.1239 + 1.1328 / (b - 3.4);
    let vr = 0.9277 - 3.6224 / (b - 2.0);
    loop {
        let u = rng.uniform() - 0.5;
        let v = rng.uniform();
        let us = 0.5 - u.abs();
        let k = ((2.0 * a / us + b) * u + lam + 0.43).floor();
        if us >= 0.07 && v <= vr {
            return k as u64;
        }
        if k < 0.0 || (us < 0.013 && v > us) {
            continue;
        }
        if v.ln() + invalpha.ln() - (a / (us * us) + b).ln()
            <= -lam + k * loglam - ln_gamma(k + 1.0)
        {
            return k as u64;
        }
    }
}

/// Draw one population of one realization (§8.5 steps 2–4).
pub fn realize_population(
    pop: &Population,
    targets: &[Vec<Vec<(u32, u32)>>; 3],
    seed: u64,
) -> PopRealization {
    let mut out = PopRealization::default();
    if pop.densities.is_empty() {
        return out;
    }
    let mut rng = Rng::new(seed);
    let mut chosen: Vec<usize> = Vec::new();
    let mut perm: Vec<usize> = Vec::new();
    let mut picks: Vec<usize> = Vec::new();
    for _ in 0..pop.cells {
        let f = rng.below(pop.densities.len() as u64) as usize;
        let Some(d) = &pop.densities[f] else {
            continue;
        };
        // Independent Poisson counts per voxel, drawn as their Poisson total and a
        // multinomial split by density (the same joint distribution): O(1) for the many
        // cells that form no synapse instead of one draw per voxel.
        let total = d.total();
        let n = poisson(&mut rng, total) as usize;
        if n == 0 {
            continue;
        }
        picks.clear();
        for _ in 0..n {
            let u = rng.uniform() * total;
            let i = d.cumulative.partition_point(|&c| c <= u);
            picks.push(i.min(d.entries.len() - 1));
        }
        // Synapses in voxel order, as ISF creates them.
        picks.sort_unstable();
        let start = out.section.len();
        let mut a = 0;
        while a < picks.len() {
            let e = picks[a];
            let mut b = a;
            while b < picks.len() && picks[b] == e {
                b += 1;
            }
            let k = b - a;
            a = b;
            let (s, v, _) = d.entries[e];
            let cand = &targets[s as usize][v as usize];
            let m = cand.len();
            // The first min(k, m) entries of a uniform random permutation of the candidates
            // (a uniformly random ordered subset), then picks with replacement beyond m.
            chosen.clear();
            let distinct = k.min(m);
            if distinct * 4 < m {
                while chosen.len() < distinct {
                    let c = rng.below(m as u64) as usize;
                    if !chosen.contains(&c) {
                        chosen.push(c);
                    }
                }
            } else {
                perm.clear();
                perm.extend(0..m);
                for i in 0..distinct {
                    let j = i + rng.below((m - i) as u64) as usize;
                    perm.swap(i, j);
                    chosen.push(perm[i]);
                }
            }
            for _ in m..k {
                chosen.push(rng.below(m as u64) as usize);
            }
            for &c in &chosen {
                out.section.push(cand[c].0);
                out.point.push(cand[c].1);
            }
        }
        out.cell.resize(out.section.len(), out.connected);
        if out.section.len() > start {
            out.connected += 1;
        }
    }
    out
}

/// Draw realizations `0..n` of every population in parallel; `result[r][p]`. Identical for any
/// thread count (see the module docs).
pub fn realize_all(
    pops: &[Population],
    targets: &[Vec<Vec<(u32, u32)>>; 3],
    seed: u64,
    n: usize,
) -> Vec<Vec<PopRealization>> {
    let names: Vec<String> = pops.iter().map(Population::name).collect();
    let flat: Vec<PopRealization> = (0..n * pops.len())
        .into_par_iter()
        .map(|i| {
            let (r, p) = (i / pops.len().max(1), i % pops.len().max(1));
            realize_population(
                &pops[p],
                targets,
                population_seed(seed, r as u64, &names[p]),
            )
        })
        .collect();
    let mut out: Vec<Vec<PopRealization>> = Vec::with_capacity(n);
    let mut it = flat.into_iter();
    for _ in 0..n {
        out.push(it.by_ref().take(pops.len()).collect());
    }
    out
}

/// Statistics of a set of synapses (one population or one cell type in one realization).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Stats {
    /// Synapses in total and per structure (soma, basal, apical).
    pub synapses: u64,
    /// Per structure.
    pub per_structure: [u64; 3],
    /// Connected presynaptic cells in total and per structure.
    pub connected: u64,
    /// Per structure: cells with at least one synapse there.
    pub connected_structure: [u64; 3],
    /// Presynaptic cells.
    pub total_cells: u64,
    /// Σ distance and Σ distance² (µm, µm²), in total and per structure.
    pub dist: (f64, f64),
    /// Per structure.
    pub dist_structure: [(f64, f64); 3],
}

impl Stats {
    /// Add another set (e.g. another area of the same cell type).
    pub fn add(&mut self, o: &Stats) {
        self.synapses += o.synapses;
        self.connected += o.connected;
        self.total_cells += o.total_cells;
        self.dist.0 += o.dist.0;
        self.dist.1 += o.dist.1;
        for s in 0..3 {
            self.per_structure[s] += o.per_structure[s];
            self.connected_structure[s] += o.connected_structure[s];
            self.dist_structure[s].0 += o.dist_structure[s].0;
            self.dist_structure[s].1 += o.dist_structure[s].1;
        }
    }

    /// Convergence = connected / total cells (0 without cells).
    pub fn convergence(&self, connected: u64) -> f64 {
        if self.total_cells == 0 {
            0.0
        } else {
            connected as f64 / self.total_cells as f64
        }
    }
}

/// Mean and population SD from (n, Σx, Σx²); NaN for n = 0 (numpy's mean of nothing).
pub fn mean_sd(n: u64, s: (f64, f64)) -> (f64, f64) {
    if n == 0 {
        return (f64::NAN, f64::NAN);
    }
    let m = s.0 / n as f64;
    (m, (s.1 / n as f64 - m * m).max(0.0).sqrt())
}

/// Statistics of one population in one realization; `distance(section, point)` gives the
/// path distance to the soma and `structure(section)` the structure index.
pub fn population_stats(
    pr: &PopRealization,
    total_cells: u64,
    distance: &dyn Fn(u32, u32) -> f64,
    structure: &dyn Fn(u32) -> usize,
) -> Stats {
    let mut st = Stats {
        synapses: pr.section.len() as u64,
        connected: pr.connected as u64,
        total_cells,
        ..Stats::default()
    };
    let mut last_cell = [u32::MAX; 3];
    for k in 0..pr.section.len() {
        let s = structure(pr.section[k]);
        let d = distance(pr.section[k], pr.point[k]);
        st.per_structure[s] += 1;
        st.dist.0 += d;
        st.dist.1 += d * d;
        st.dist_structure[s].0 += d;
        st.dist_structure[s].1 += d * d;
        // Synapses of a cell are contiguous, so a new cell ID per structure is a new cell.
        if last_cell[s] != pr.cell[k] {
            last_cell[s] = pr.cell[k];
            st.connected_structure[s] += 1;
        }
    }
    st
}

/// The representative realization (§8.6): with `features[r]` the per-cell-type synapse totals
/// of realization `r`, the sample with all |z| ≤ 2 minimising Σz² (z-scores with population
/// SD, 0 where the SD is 0), else the one minimising Σz²; the first on ties.
pub fn representative(features: &[Vec<f64>]) -> usize {
    let n = features.len();
    if n == 0 {
        return 0;
    }
    let m = features[0].len();
    let mut mean = vec![0.0; m];
    let mut sd = vec![0.0; m];
    for j in 0..m {
        mean[j] = features.iter().map(|f| f[j]).sum::<f64>() / n as f64;
        sd[j] = (features
            .iter()
            .map(|f| (f[j] - mean[j]).powi(2))
            .sum::<f64>()
            / n as f64)
            .sqrt();
    }
    let score = |f: &Vec<f64>| -> (bool, f64) {
        let mut ok = true;
        let mut s = 0.0;
        for j in 0..m {
            let z = if sd[j] > 0.0 {
                (f[j] - mean[j]) / sd[j]
            } else {
                0.0
            };
            ok &= z.abs() <= 2.0;
            s += z * z;
        }
        (ok, s)
    };
    let scores: Vec<(bool, f64)> = features.iter().map(score).collect();
    let pick = |only_ok: bool| {
        (0..n)
            .filter(|&i| !only_ok || scores[i].0)
            .fold(None::<usize>, |best, i| match best {
                Some(b) if scores[b].1 <= scores[i].1 => Some(b),
                _ => Some(i),
            })
    };
    pick(true).or(pick(false)).unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn poisson_moments() {
        for lam in [0.05, 0.7, 3.0, 9.5, 10.0, 42.0, 1000.0] {
            let mut r = Rng::new(5);
            let n = 100_000;
            let xs: Vec<f64> = (0..n).map(|_| poisson(&mut r, lam) as f64).collect();
            let m = xs.iter().sum::<f64>() / n as f64;
            let v = xs.iter().map(|x| (x - m).powi(2)).sum::<f64>() / (n - 1) as f64;
            let se = (lam / n as f64).sqrt();
            assert!((m - lam).abs() < 4.0 * se, "λ {lam}: mean {m}");
            // Var/mean: Var(s²) ≈ (λ + 2λ²)/n for Poisson, so SD(s²/λ) ≈ sqrt((1/λ + 2)/n).
            let sd_ratio = ((1.0 / lam + 2.0) / n as f64).sqrt();
            assert!((v / lam - 1.0).abs() < 5.0 * sd_ratio, "λ {lam}: var {v}");
        }
        let mut r = Rng::new(1);
        let p0 = (0..100_000).filter(|_| poisson(&mut r, 0.5) == 0).count() as f64 / 1e5;
        assert!((p0 - (-0.5f64).exp()).abs() < 0.006, "{p0}");
        assert!((ln_gamma(11.0) - 3628800f64.ln()).abs() < 1e-10);
        assert!((ln_gamma(4.0) - 6f64.ln()).abs() < 1e-10);
    }

    #[test]
    fn representative_rule() {
        // Feature 0 spreads (SD > 0), feature 1 is constant (z = 0).
        let f = vec![
            vec![10.0, 5.0],
            vec![12.0, 5.0],
            vec![11.0, 5.0],
            vec![30.0, 5.0],
        ];
        assert_eq!(representative(&f), 1, "closest to the mean 15.75");
        assert_eq!(
            representative(&[vec![1.0], vec![1.0]]),
            0,
            "ties: the first"
        );
    }

    #[test]
    fn connected_ids_and_picks() {
        let targets: [Vec<Vec<(u32, u32)>>; 3] = [
            vec![vec![]],
            vec![vec![(0, 0), (0, 1), (1, 3)]],
            vec![vec![]],
        ];
        let d = SparseDensity::new(vec![(1, 0, 2.5)]);
        let pop = Population {
            area: "C2".into(),
            cell_type: "L5tt".into(),
            cells: 200,
            densities: vec![Some(d), None],
        };
        let pr = realize_population(&pop, &targets, 9);
        assert_eq!(pr, realize_population(&pop, &targets, 9), "seeded");
        assert_ne!(pr, realize_population(&pop, &targets, 10));
        // IDs 0..connected, non-decreasing, each used.
        assert!(pr.cell.windows(2).all(|w| w[1] == w[0] || w[1] == w[0] + 1));
        assert_eq!(pr.cell.last().map(|c| c + 1), Some(pr.connected));
        // About half the cells pick the empty field; the others connect with P(k>0)=1−e^-2.5.
        let p = 0.5 * (1.0 - (-2.5f64).exp());
        let sd = (200.0 * p * (1.0 - p)).sqrt();
        assert!(
            (pr.connected as f64 - 200.0 * p).abs() < 4.0 * sd,
            "{}",
            pr.connected
        );
        for k in 0..pr.section.len() {
            assert!(targets[1][0].contains(&(pr.section[k], pr.point[k])));
        }
    }

    /// The total + multinomial draw gives each voxel its own Poisson mean.
    #[test]
    fn per_voxel_means() {
        let targets: [Vec<Vec<(u32, u32)>>; 3] = [
            vec![vec![(0, 0)], vec![]],
            vec![vec![], vec![(1, 0), (1, 1)]],
            vec![vec![], vec![]],
        ];
        let d = SparseDensity::new(vec![(0, 0, 0.3), (1, 1, 1.2)]);
        let cells = 20_000;
        let pop = Population {
            area: "C2".into(),
            cell_type: "L1".into(),
            cells,
            densities: vec![Some(d)],
        };
        let pr = realize_population(&pop, &targets, 4);
        let soma = pr.section.iter().filter(|&&s| s == 0).count() as f64;
        let dend = pr.section.iter().filter(|&&s| s == 1).count() as f64;
        for (got, lam) in [(soma, 0.3), (dend, 1.2)] {
            let want = cells as f64 * lam;
            assert!((got - want).abs() < 4.0 * want.sqrt(), "{got} vs {want}");
        }
        // Per cell, soma synapses (voxel 0) come before dendrite ones (voxel 1).
        for w in pr.section.windows(2).zip(pr.cell.windows(2)) {
            if w.1[0] == w.1[1] {
                assert!(w.0[0] <= w.0[1]);
            }
        }
    }
}
