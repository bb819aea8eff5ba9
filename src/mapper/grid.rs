//! The cell grid and the dendritic length and membrane area per voxel (spec 08 §8.3).
//!
//! The cell grid is the block of voxels of the excitatory PST field that touch the cell's
//! bounding box. Every pair of consecutive 3-D points of a section adds its length and
//! truncated-cone area to the voxels it passes through. ISF clips each segment that leaves
//! its voxel against *every* voxel of the grid with Liang–Barsky ([`clip_liang_barsky`]); the
//! entry/exit parameters of a voxel are the crossings `u = (plane − p₁)/d` of the segment with
//! voxel planes, so here we compute the crossings once, sort them, and give each piece between
//! two crossings to the voxel containing its midpoint (by the same `⌊(p − origin)/spacing⌋`
//! rule as single points). That is the Liang–Barsky result for every piece inside a voxel, in
//! time proportional to the voxels crossed instead of the grid size, and the pieces partition
//! the segment, so the per-voxel sums add up to the morphology's length and area exactly (up
//! to rounding). One deliberate difference: a piece lying exactly *on* a voxel face is counted
//! once (in the voxel above the face), where ISF's closed-box clip counts it in both adjacent
//! voxels.

use super::STRUCTURES;
use crate::mapper::amira::ScalarField;
use crate::morph::{Morphology, Point3};

/// A section as the mapper sees it (axons skipped; indices are the mapper's numbering).
#[derive(Clone, Debug)]
pub struct MapSection {
    /// Index of the section in the [`Morphology`].
    pub morph_index: usize,
    /// Structure index into [`STRUCTURES`].
    pub structure: usize,
    /// 3-D points as read.
    pub points: Vec<Point3>,
    /// ISF's `relPts` of the points.
    pub rel_pts: Vec<f64>,
    /// Path distance (spec 01 def. 3) of the section's 0-end, µm; 0 for the soma.
    pub start_um: f64,
    /// Section length (ISF's double-precision sum), µm.
    pub length_um: f64,
}

/// The sections of the soma, basal and apical dendrites of a morphology, in file order; the
/// position in this list is the section index written to `.syn` files (ISF's input mapper
/// gives axon sections no index).
pub fn map_sections(morph: &Morphology) -> Vec<MapSection> {
    let placer = crate::network::placement::Placer::new(morph, &[]);
    morph
        .sections
        .iter()
        .enumerate()
        .filter_map(|(i, s)| {
            let structure = STRUCTURES.iter().position(|&l| l == s.label)?;
            Some(MapSection {
                morph_index: i,
                structure,
                points: s.points.clone(),
                rel_pts: placer.rel_pts(i as u32).to_vec(),
                start_um: if structure == 0 {
                    0.0
                } else {
                    placer.start_distance_um(i as u32)
                },
                length_um: placer.section_length_um(i as u32),
            })
        })
        .collect()
}

/// Bounding box `[x0, x1, y0, y1, z0, z1]` of all points of `sections`.
pub fn bounding_box(sections: &[MapSection]) -> Option<[f64; 6]> {
    let mut b = [
        f64::INFINITY,
        f64::NEG_INFINITY,
        f64::INFINITY,
        f64::NEG_INFINITY,
        f64::INFINITY,
        f64::NEG_INFINITY,
    ];
    let mut any = false;
    for p in sections.iter().flat_map(|s| &s.points) {
        any = true;
        for (a, c) in [p.x, p.y, p.z].into_iter().enumerate() {
            b[2 * a] = b[2 * a].min(c);
            b[2 * a + 1] = b[2 * a + 1].max(c);
        }
    }
    any.then_some(b)
}

/// ISF's closed-interval box overlap test (per axis `[a0, a1] ∩ [b0, b1] ≠ ∅`).
pub fn boxes_intersect(a: &[f64; 6], b: &[f64; 6]) -> bool {
    (0..3).all(|k| a[2 * k] <= b[2 * k + 1] && b[2 * k] <= a[2 * k + 1])
}

/// The voxels of a field that the cell touches.
#[derive(Clone, Debug, PartialEq)]
pub struct CellGrid {
    /// Lower corner of voxel (0, 0, 0), µm.
    pub origin: [f64; 3],
    /// Voxel edge lengths, µm.
    pub spacing: [f64; 3],
    /// Voxels per axis.
    pub dims: [usize; 3],
}

impl CellGrid {
    /// The sub-grid of `field` whose voxels intersect `bbox` (closed test per axis), `None`
    /// if no voxel does.
    pub fn from_field(field: &ScalarField, bbox: &[f64; 6]) -> Option<CellGrid> {
        let mut origin = [0.0; 3];
        let mut dims = [0; 3];
        for a in 0..3 {
            let (o, s) = (field.origin[a], field.spacing[a]);
            let hit: Vec<usize> = (0..field.dims[a])
                .filter(|&i| {
                    o + i as f64 * s <= bbox[2 * a + 1] && o + (i + 1) as f64 * s >= bbox[2 * a]
                })
                .collect();
            let (&lo, &hi) = (hit.first()?, hit.last()?);
            origin[a] = o + lo as f64 * s;
            dims[a] = hi - lo + 1;
        }
        Some(CellGrid {
            origin,
            spacing: field.spacing,
            dims,
        })
    }

    /// Number of voxels.
    pub fn n_voxels(&self) -> usize {
        self.dims[0] * self.dims[1] * self.dims[2]
    }

    /// Flat index of voxel `ijk`.
    #[inline]
    pub fn index(&self, ijk: [usize; 3]) -> usize {
        ijk[0] + self.dims[0] * (ijk[1] + self.dims[1] * ijk[2])
    }

    /// Voxel `(i, j, k)` of a flat index.
    pub fn ijk(&self, n: usize) -> [usize; 3] {
        [
            n % self.dims[0],
            (n / self.dims[0]) % self.dims[1],
            n / (self.dims[0] * self.dims[1]),
        ]
    }

    /// Outer bounds of the grid.
    pub fn bounds(&self) -> [f64; 6] {
        crate::mapper::amira::bounds(self.origin, self.dims, self.spacing)
    }

    /// The voxel containing `p`: `⌊(p − origin)/spacing⌋`, clamped into the grid (a point on
    /// the grid's upper bound belongs to the last voxel).
    #[inline]
    pub fn voxel_of(&self, p: [f64; 3]) -> [usize; 3] {
        let mut v = [0; 3];
        for a in 0..3 {
            let t = ((p[a] - self.origin[a]) / self.spacing[a]).floor();
            v[a] = if t <= 0.0 {
                0
            } else {
                (t as usize).min(self.dims[a] - 1)
            };
        }
        v
    }

    /// Bounds `[x0, x1, y0, y1, z0, z1]` of voxel `ijk` (ISF's `get_voxel_bounds`).
    pub fn voxel_bounds(&self, ijk: [usize; 3]) -> [f64; 6] {
        let mut b = [0.0; 6];
        for a in 0..3 {
            b[2 * a] = self.origin[a] + ijk[a] as f64 * self.spacing[a];
            b[2 * a + 1] = self.origin[a] + (ijk[a] + 1) as f64 * self.spacing[a];
        }
        b
    }

    /// Centre of voxel `ijk`.
    pub fn center(&self, ijk: [usize; 3]) -> [f64; 3] {
        let mut c = [0.0; 3];
        for a in 0..3 {
            c[a] = self.origin[a] + (ijk[a] as f64 + 0.5) * self.spacing[a];
        }
        c
    }
}

/// Liang–Barsky clipping of the segment `p1 → p2` against a closed box: the parameter range
/// `[u1, u2] ⊆ [0, 1]` inside the box, `None` if the segment misses it. Exactly ISF's
/// `_clip_u` sequence (a parallel segment on a face is inside).
pub fn clip_liang_barsky(p1: [f64; 3], p2: [f64; 3], b: &[f64; 6]) -> Option<(f64, f64)> {
    let (mut u1, mut u2) = (0.0f64, 1.0f64);
    for a in 0..3 {
        let d = p2[a] - p1[a];
        for (p, q) in [(-d, p1[a] - b[2 * a]), (d, b[2 * a + 1] - p1[a])] {
            if p < 0.0 {
                let t = q / p;
                if t > u2 {
                    return None;
                } else if t > u1 {
                    u1 = t;
                }
            } else if p > 0.0 {
                let t = q / p;
                if t < u1 {
                    return None;
                } else if t < u2 {
                    u2 = t;
                }
            } else if q < 0.0 {
                return None;
            }
        }
    }
    (u2 >= u1).then_some((u1, u2))
}

/// Lateral area of a truncated cone of height `h` and radii `r1`, `r2`.
#[inline]
pub fn frustum_area(h: f64, r1: f64, r2: f64) -> f64 {
    std::f64::consts::PI * (r1 + r2) * (h * h + (r2 - r1) * (r2 - r1)).sqrt()
}

/// Add the segment `p1 → p2` (radii `r1`, `r2`) to the per-voxel `length` and `area` of
/// `grid`; `us` is scratch space.
#[allow(clippy::too_many_arguments)] // two outputs and a scratch buffer, called per segment
pub fn add_segment(
    grid: &CellGrid,
    p1: [f64; 3],
    p2: [f64; 3],
    r1: f64,
    r2: f64,
    length: &mut [f64],
    area: &mut [f64],
    us: &mut Vec<f64>,
) {
    let d = [p2[0] - p1[0], p2[1] - p1[1], p2[2] - p1[2]];
    let l = (d[0] * d[0] + d[1] * d[1] + d[2] * d[2]).sqrt();
    let v1 = grid.voxel_of(p1);
    if v1 == grid.voxel_of(p2) {
        let n = grid.index(v1);
        length[n] += l;
        area[n] += frustum_area(l, r1, r2);
        return;
    }
    us.clear();
    us.push(0.0);
    us.push(1.0);
    for a in 0..3 {
        if d[a] == 0.0 {
            continue;
        }
        let (lo, hi) = (p1[a].min(p2[a]), p1[a].max(p2[a]));
        let (o, s) = (grid.origin[a], grid.spacing[a]);
        let first = ((lo - o) / s).floor() as i64;
        let last = ((hi - o) / s).ceil() as i64;
        for m in first..=last {
            let x = o + m as f64 * s;
            if x > lo && x < hi {
                us.push((x - p1[a]) / d[a]);
            }
        }
    }
    us.sort_by(f64::total_cmp);
    for w in us.windows(2) {
        let (ua, ub) = (w[0], w[1]);
        if ub <= ua {
            continue;
        }
        let um = 0.5 * (ua + ub);
        let mid = [p1[0] + um * d[0], p1[1] + um * d[1], p1[2] + um * d[2]];
        let n = grid.index(grid.voxel_of(mid));
        let h = (ub - ua) * l;
        // Radii linear in u (ISF interpolates by distance from p1, the same number).
        let (ra, rb) = (r1 + ua * (r2 - r1), r1 + ub * (r2 - r1));
        length[n] += h;
        area[n] += frustum_area(h, ra, rb);
    }
}

/// Length (µm) and membrane area (µm²) per structure and voxel of the cell grid.
#[derive(Clone, Debug, PartialEq)]
pub struct Geometry {
    /// Per structure ([`STRUCTURES`] order), per voxel.
    pub length: [Vec<f64>; 3],
    /// Per structure, per voxel; with the Amira quirk the point diameters are used as radii.
    pub area: [Vec<f64>; 3],
}

/// Length and area of every section of `sections` per voxel of `grid`. With `amira_quirk`
/// the diameter of each point is used as its radius, as ISF does (`likeAmira=1`) to match its
/// normalisation fields.
pub fn length_area(sections: &[MapSection], grid: &CellGrid, amira_quirk: bool) -> Geometry {
    let nv = grid.n_voxels();
    let mut g = Geometry {
        length: std::array::from_fn(|_| vec![0.0; nv]),
        area: std::array::from_fn(|_| vec![0.0; nv]),
    };
    let scale = if amira_quirk { 1.0 } else { 0.5 };
    let mut us = Vec::new();
    for s in sections {
        for w in s.points.windows(2) {
            add_segment(
                grid,
                [w[0].x, w[0].y, w[0].z],
                [w[1].x, w[1].y, w[1].z],
                w[0].d * scale,
                w[1].d * scale,
                &mut g.length[s.structure],
                &mut g.area[s.structure],
                &mut us,
            );
        }
    }
    g
}

/// For every structure and voxel, the 3-D points `(section, point)` inside the voxel's closed
/// bounds, in section then point order (a point on a face belongs to every adjacent voxel).
pub fn points_in_voxels(sections: &[MapSection], grid: &CellGrid) -> [Vec<Vec<(u32, u32)>>; 3] {
    let nv = grid.n_voxels();
    let mut out: [Vec<Vec<(u32, u32)>>; 3] = std::array::from_fn(|_| vec![Vec::new(); nv]);
    for (si, s) in sections.iter().enumerate() {
        for (pi, p) in s.points.iter().enumerate() {
            let c = [p.x, p.y, p.z];
            let mut cand: [Vec<usize>; 3] = Default::default();
            for a in 0..3 {
                let t = ((c[a] - grid.origin[a]) / grid.spacing[a]).floor() as i64;
                for i in t - 1..=t + 1 {
                    if i < 0 || i >= grid.dims[a] as i64 {
                        continue;
                    }
                    let lo = grid.origin[a] + i as f64 * grid.spacing[a];
                    let hi = grid.origin[a] + (i + 1) as f64 * grid.spacing[a];
                    if lo <= c[a] && c[a] <= hi {
                        cand[a].push(i as usize);
                    }
                }
            }
            for &k in &cand[2] {
                for &j in &cand[1] {
                    for &i in &cand[0] {
                        out[s.structure][grid.index([i, j, k])].push((si as u32, pi as u32));
                    }
                }
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn grid() -> CellGrid {
        CellGrid {
            origin: [0.0, 0.0, 0.0],
            spacing: [50.0, 50.0, 50.0],
            dims: [4, 4, 4],
        }
    }

    fn run(p1: [f64; 3], p2: [f64; 3], r1: f64, r2: f64) -> (Vec<f64>, Vec<f64>) {
        let g = grid();
        let (mut l, mut a) = (vec![0.0; 64], vec![0.0; 64]);
        add_segment(&g, p1, p2, r1, r2, &mut l, &mut a, &mut Vec::new());
        (l, a)
    }

    /// Walk = Liang–Barsky against every voxel, for segments in general position.
    #[test]
    fn walk_equals_clip_against_every_voxel() {
        let g = grid();
        let mut rng = crate::rng::Rng::new(11);
        for _ in 0..500 {
            let p = |r: &mut crate::rng::Rng| {
                [
                    r.uniform() * 200.0,
                    r.uniform() * 200.0,
                    r.uniform() * 200.0,
                ]
            };
            let (p1, p2) = (p(&mut rng), p(&mut rng));
            let (r1, r2) = (rng.uniform() * 3.0, rng.uniform() * 3.0);
            let (l, a) = run(p1, p2, r1, r2);
            let d: Vec<f64> = (0..3).map(|k| p2[k] - p1[k]).collect();
            let len = d.iter().map(|x| x * x).sum::<f64>().sqrt();
            for n in 0..64 {
                let (mut el, mut ea) = (0.0, 0.0);
                if let Some((u1, u2)) = clip_liang_barsky(p1, p2, &g.voxel_bounds(g.ijk(n))) {
                    el = (u2 - u1) * len;
                    ea = frustum_area(el, r1 + u1 * (r2 - r1), r1 + u2 * (r2 - r1));
                }
                assert!((l[n] - el).abs() < 1e-9 * len, "{n}: {} vs {el}", l[n]);
                assert!(
                    (a[n] - ea).abs() < 1e-9 * (1.0 + ea),
                    "{n}: {} vs {ea}",
                    a[n]
                );
            }
        }
    }

    /// A straight cylinder along the space diagonal through voxel corners: equal thirds in
    /// the three diagonal voxels it crosses, nothing elsewhere.
    #[test]
    fn cylinder_through_corners() {
        let g = grid();
        let (l, a) = run([10.0, 10.0, 10.0], [140.0, 140.0, 140.0], 1.0, 1.0);
        let total = 130.0 * 3f64.sqrt();
        let want = [(0, 40.0), (1, 50.0), (2, 40.0)];
        for (i, c) in want {
            let n = g.index([i, i, i]);
            let e = c * 3f64.sqrt();
            assert!((l[n] - e).abs() < 1e-9, "{i}: {} vs {e}", l[n]);
            assert!((a[n] - 2.0 * std::f64::consts::PI * e).abs() < 1e-9);
        }
        assert!((l.iter().sum::<f64>() - total).abs() < 1e-9);
        assert_eq!(
            l.iter().filter(|&&x| x > 0.0).count(),
            3,
            "corner-only contacts get nothing"
        );
    }

    /// A cylinder crossing faces (x only, tapered): lengths per voxel and frustum areas with
    /// linearly interpolated radii.
    #[test]
    fn tapered_cylinder_across_faces() {
        let g = grid();
        let (l, a) = run([25.0, 20.0, 30.0], [175.0, 20.0, 30.0], 2.0, 0.5);
        let r = |x: f64| 2.0 + (x - 25.0) / 150.0 * (0.5 - 2.0);
        let pieces = [
            (0, 25.0, 50.0),
            (1, 50.0, 100.0),
            (2, 100.0, 150.0),
            (3, 150.0, 175.0),
        ];
        for (i, x0, x1) in pieces {
            let n = g.index([i, 0, 0]);
            assert!((l[n] - (x1 - x0)).abs() < 1e-12);
            let e = frustum_area(x1 - x0, r(x0), r(x1));
            assert!((a[n] - e).abs() < 1e-9 * e, "{} vs {e}", a[n]);
        }
        let whole = frustum_area(150.0, 2.0, 0.5);
        assert!((a.iter().sum::<f64>() - whole).abs() < 1e-9 * whole);
    }

    /// A segment lying on the face x = 50 between voxels i = 0 and i = 1: counted once, in
    /// the voxel above the face; ISF's closed clip would count it in both.
    #[test]
    fn segment_on_a_face() {
        let g = grid();
        let (p1, p2) = ([50.0, 10.0, 10.0], [50.0, 90.0, 10.0]);
        let (l, a) = run(p1, p2, 1.0, 1.0);
        assert!((l[g.index([1, 0, 0])] - 40.0).abs() < 1e-12);
        assert!((l[g.index([1, 1, 0])] - 40.0).abs() < 1e-12);
        assert_eq!(l[g.index([0, 0, 0])], 0.0);
        assert_eq!(l[g.index([0, 1, 0])], 0.0);
        assert!((a.iter().sum::<f64>() - frustum_area(80.0, 1.0, 1.0)).abs() < 1e-9);
        // The literal Liang–Barsky clip accepts both sides of the face (ISF's double count).
        assert!(clip_liang_barsky(p1, p2, &g.voxel_bounds([0, 0, 0])).is_some());
        assert!(clip_liang_barsky(p1, p2, &g.voxel_bounds([1, 0, 0])).is_some());
        assert!(clip_liang_barsky(p1, p2, &g.voxel_bounds([2, 0, 0])).is_none());
    }

    #[test]
    fn grid_from_field_and_points_on_faces() {
        let f = ScalarField::new([10, 10, 10], [-100.0; 3], [50.0; 3], vec![1.0; 1000]);
        let g = CellGrid::from_field(&f, &[0.0, 10.0, 20.0, 120.0, -100.0, -60.0]).unwrap();
        // x: voxels [-50,0] and [0,50] both touch x = 0 (closed test).
        assert_eq!(g.dims, [2, 3, 1]);
        assert_eq!(g.origin, [-50.0, 0.0, -100.0]);
        assert!(CellGrid::from_field(&f, &[500.0, 600.0, 0.0, 1.0, 0.0, 1.0]).is_none());
        let s = MapSection {
            morph_index: 0,
            structure: 1,
            points: vec![
                Point3 {
                    x: 0.0,
                    y: 50.0,
                    z: -80.0,
                    d: 1.0,
                },
                Point3 {
                    x: 10.0,
                    y: 10.0,
                    z: -80.0,
                    d: 1.0,
                },
            ],
            rel_pts: vec![0.0, 1.0],
            start_um: 0.0,
            length_um: 0.0,
        };
        let pts = points_in_voxels(&[s], &g);
        // (0, 50) lies on an x face and a y face: four voxels.
        let with0: Vec<usize> = (0..g.n_voxels())
            .filter(|&n| pts[1][n].contains(&(0, 0)))
            .collect();
        assert_eq!(with0.len(), 4);
        assert_eq!(pts[1][g.index([1, 0, 0])], vec![(0, 0), (0, 1)]);
        assert!(pts[0].iter().all(Vec::is_empty));
    }
}
