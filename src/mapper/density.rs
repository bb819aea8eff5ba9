//! PST density of the cell (spec 08 §8.3 step 3) and the synapse density of one presynaptic
//! axon (§8.4), kept sparse: only voxels where the density is positive *and* the structure has
//! a 3-D point can ever receive a synapse (§8.5 step 3), so only those are stored.

use super::grid::{CellGrid, Geometry, boxes_intersect};
use crate::mapper::amira::ScalarField;
use crate::mapper::tables::PstConstants;

/// `cellPST[structure][voxel] = LENGTH·length + AREA·area` for one presynaptic class.
pub fn cell_pst(g: &Geometry, c: &PstConstants) -> [Vec<f64>; 3] {
    let k = [
        (c.soma_length, c.soma_area),
        (c.basal_length, c.basal_area),
        (c.apical_length, c.apical_area),
    ];
    std::array::from_fn(|s| {
        g.length[s]
            .iter()
            .zip(&g.area[s])
            .map(|(l, a)| k[s].0 * l + k[s].1 * a)
            .collect()
    })
}

/// The expected synapses of one axon on the cell: `(structure, voxel, density)` for every
/// voxel where the density is positive and the structure has a 3-D point, structure-major,
/// voxels in flat-index order, with their running sum (for drawing all counts at once).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct SparseDensity {
    /// The entries.
    pub entries: Vec<(u8, u32, f64)>,
    /// `cumulative[i]` = Σ density of entries `0..=i`.
    pub cumulative: Vec<f64>,
}

impl SparseDensity {
    /// A density from its entries (densities > 0).
    pub fn new(entries: Vec<(u8, u32, f64)>) -> SparseDensity {
        let mut acc = 0.0;
        let cumulative = entries
            .iter()
            .map(|e| {
                acc += e.2;
                acc
            })
            .collect();
        SparseDensity {
            entries,
            cumulative,
        }
    }

    /// Σ density over all entries.
    pub fn total(&self) -> f64 {
        self.cumulative.last().copied().unwrap_or(0.0)
    }

    /// Σ density over the entries of `structure` (the expected synapse count there).
    pub fn expected(&self, structure: usize) -> f64 {
        self.entries
            .iter()
            .filter(|e| e.0 as usize == structure)
            .map(|e| e.2)
            .sum()
    }
}

/// The normalisation PST value at every cell-grid voxel centre (`None` outside the field).
pub fn norm_at_centres(norm: &ScalarField, grid: &CellGrid) -> Vec<Option<f64>> {
    (0..grid.n_voxels())
        .map(|n| norm.value_at(grid.center(grid.ijk(n))))
        .collect()
}

/// Synapse density of one bouton field (§8.4): `b·cellPST/n` at each voxel centre where the
/// bouton value `b` and the normalisation value `n > 0` are defined. `None` ("empty") when the
/// field's bounding box misses the cell grid; such axons never form synapses.
pub fn synapse_density(
    bouton: &ScalarField,
    norm: &[Option<f64>],
    pst: &[Vec<f64>; 3],
    has_points: &[Vec<bool>; 3],
    grid: &CellGrid,
) -> Option<SparseDensity> {
    if bouton.is_empty() || !boxes_intersect(&bouton.bounds(), &grid.bounds()) {
        return None;
    }
    let b: Vec<Option<f64>> = (0..grid.n_voxels())
        .map(|n| match norm[n] {
            Some(v) if v > 0.0 => bouton.value_at(grid.center(grid.ijk(n))).map(|b| b / v),
            _ => None,
        })
        .collect();
    let mut entries = Vec::new();
    for s in 0..3 {
        for (n, f) in b.iter().enumerate() {
            if let Some(f) = f
                && has_points[s][n]
            {
                let d = f * pst[s][n];
                if d > 0.0 {
                    entries.push((s as u8, n as u32, d));
                }
            }
        }
    }
    Some(SparseDensity::new(entries))
}
