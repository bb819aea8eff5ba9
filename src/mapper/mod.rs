//! The input mapper (spec 08): synapse realizations on one morphology from anatomical density
//! fields — ISF's `singlecell_input_mapper`.
//!
//! Pipeline: [`load_inputs`] (morphology, cell-numbers and connections sheets, normalisation
//! PST fields and the bouton-density folder tree, all with located errors) → [`prepare`] (cell
//! grid, length/area per voxel with the Amira quirk ([`grid`]), cell PST and one sparse synapse
//! density per bouton file ([`density`])) → [`map`] (`samples` realizations in parallel from
//! explicit seeds, statistics and the representative realization ([`realize`])) →
//! [`output`] (`.syn`, `.con`, `NumberOfConnectedCells.csv`, summary table). `isf map` is the
//! command (`src/cli/map.rs`).

pub mod amira;
pub mod density;
pub mod grid;
pub mod output;
pub mod realize;
pub mod tables;

use crate::diagnostics::Code;
use crate::files::FileError;
use crate::mapper::amira::{ScalarField, read_am_file};
use crate::mapper::tables::{Class, Connections, NrCells, class_of};
use crate::morph::{Label, Morphology};
use density::SparseDensity;
use grid::{CellGrid, Geometry, MapSection};
use rayon::prelude::*;
use realize::{PopRealization, Population, Stats};
use std::path::Path;

/// Most cell-grid voxels the mapper accepts (memory: per voxel and structure a point list).
pub const MAX_GRID_VOXELS: usize = 1 << 22;

/// The structures the mapper distinguishes, in index order (ISF's `Soma`, `Dendrite`,
/// `ApicalDendrite`).
pub const STRUCTURES: [Label; 3] = [Label::Soma, Label::Dendrite, Label::ApicalDendrite];

/// The bouton-density fields of one (area, presynaptic type): one per reconstructed axon.
#[derive(Clone, Debug)]
pub struct BoutonFiles {
    /// Anatomical area (folder name), e.g. `C2`.
    pub area: String,
    /// Presynaptic cell type (folder name), e.g. `L5tt`.
    pub cell_type: String,
    /// The fields, cropped to their non-zero box, in file-name order.
    pub fields: Vec<ScalarField>,
}

/// Everything the mapper reads.
#[derive(Clone, Debug)]
pub struct MapInputs {
    /// The postsynaptic morphology, placed in the fields' reference frame.
    pub morphology: Morphology,
    /// Cell id written to the `.syn` header (the hoc file's base name).
    pub cell_name: String,
    /// Postsynaptic cell type (row key of the connections sheet), e.g. `L5tt`.
    pub post_type: String,
    /// Presynaptic cells per (area, type).
    pub nr_cells: NrCells,
    /// PST constants per (class, postsynaptic type).
    pub connections: Connections,
    /// Excitatory normalisation PST density (its grid is the reference grid).
    pub exc_pst: ScalarField,
    /// Inhibitory normalisation PST density.
    pub inh_pst: ScalarField,
    /// Bouton densities per (area, type).
    pub boutons: Vec<BoutonFiles>,
}

/// How to map.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct MapOptions {
    /// Number of realizations drawn (ISF's `nrOfSamples`, default 50).
    pub samples: usize,
    /// Master seed; realization `r` of population `p` uses
    /// [`realize::population_seed`]`(seed, r, p)`.
    pub seed: u64,
    /// Use point diameters as radii for the membrane area (ISF's `likeAmira=1`; required with
    /// ISF's normalisation fields, which were computed that way).
    pub amira_quirk: bool,
}

impl Default for MapOptions {
    fn default() -> Self {
        MapOptions {
            samples: 50,
            seed: 1,
            amira_quirk: true,
        }
    }
}

/// Read all inputs from files. `bouton_dir` holds `<area>/<type>/<file>`.
pub fn load_inputs(
    hoc: &Path,
    post_type: &str,
    nr_cells: &Path,
    connections: &Path,
    exc_pst: &Path,
    inh_pst: &Path,
    bouton_dir: &Path,
) -> Result<MapInputs, FileError> {
    let morphology = Morphology::read(hoc)?;
    let nr_cells = crate::mapper::tables::read_nr_cells(nr_cells)?;
    let connections = crate::mapper::tables::read_connections(connections)?;
    let mut exc = read_am_file(exc_pst)?;
    let mut inh = read_am_file(inh_pst)?;
    check_grid(&exc, &inh)?;
    exc.crop_nonzero();
    inh.crop_nonzero();
    let boutons = load_boutons(bouton_dir, &nr_cells, &exc)?;
    Ok(MapInputs {
        cell_name: hoc
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default(),
        morphology,
        post_type: post_type.to_string(),
        nr_cells,
        connections,
        exc_pst: exc,
        inh_pst: inh,
        boutons,
    })
}

/// Check that `f` lies on the grid of `reference`: equal spacing (relative 1e-9) and origins
/// a whole number of voxels apart (to 1e-6 voxel). ISF assumes this silently (spec 08 §8.2).
pub fn check_grid(reference: &ScalarField, f: &ScalarField) -> Result<(), FileError> {
    for a in 0..3 {
        let (s0, s1) = (reference.spacing[a], f.spacing[a]);
        let off = (f.origin[a] - reference.origin[a]) / s0;
        let axis = ["x", "y", "z"][a];
        if (s1 - s0).abs() > 1e-9 * s0.abs() {
            return Err(FileError::new(
                Code::E0824,
                format!(
                    "voxel spacing along {axis} is {s1} µm here but {s0} µm in {} (all fields must \
                     share one grid)",
                    reference.file
                ),
                &f.file,
                f.bbox_line,
                0,
            ));
        }
        if (off - off.round()).abs() > 1e-6 {
            return Err(FileError::new(
                Code::E0824,
                format!(
                    "voxels are shifted by {:.4} of a voxel along {axis} against {} (all fields \
                     must share one grid)",
                    off - off.round(),
                    reference.file
                ),
                &f.file,
                f.bbox_line,
                0,
            ));
        }
    }
    Ok(())
}

/// Read the bouton-density tree `<dir>/<area>/<type>/<file>` (hidden entries skipped, files
/// in name order), cropping every field and checking it against the reference grid. Every
/// area folder must be an area of the cell-numbers sheet and every type folder one of ISF's
/// cell types (E0823), so that a misspelt folder cannot silently drop a population.
pub fn load_boutons(
    dir: &Path,
    nr_cells: &NrCells,
    reference: &ScalarField,
) -> Result<Vec<BoutonFiles>, FileError> {
    let name = dir.display().to_string();
    let err =
        |m: String, at: &Path| FileError::new(Code::E0823, m, &at.display().to_string(), 0, 0);
    let list = |d: &Path| -> Result<Vec<(String, std::path::PathBuf)>, FileError> {
        let rd = std::fs::read_dir(d).map_err(|e| err(format!("cannot read folder: {e}"), d))?;
        let mut v: Vec<(String, std::path::PathBuf)> = rd
            .filter_map(Result::ok)
            .map(|e| (e.file_name().to_string_lossy().into_owned(), e.path()))
            .filter(|(n, _)| !n.starts_with('.'))
            .collect();
        v.sort();
        Ok(v)
    };
    let mut jobs = Vec::new();
    for (area, ap) in list(dir)? {
        if !ap.is_dir() {
            return Err(err(format!("expected only area folders in {name}"), &ap));
        }
        if !nr_cells.areas.contains(&area) {
            return Err(err(
                format!("area folder `{area}` is not an area of {}", nr_cells.file),
                &ap,
            ));
        }
        for (t, tp) in list(&ap)? {
            if !tp.is_dir() {
                return Err(err("expected only cell-type folders here".into(), &tp));
            }
            if class_of(&t).is_none() {
                return Err(err(
                    format!("`{t}` is not a presynaptic cell type of ISF"),
                    &tp,
                ));
            }
            let files: Vec<std::path::PathBuf> = list(&tp)?.into_iter().map(|(_, p)| p).collect();
            jobs.push((area.clone(), t, files));
        }
    }
    jobs.into_par_iter()
        .map(|(area, cell_type, files)| {
            let fields = files
                .iter()
                .map(|p| {
                    let mut f = read_am_file(p)?;
                    check_grid(reference, &f)?;
                    f.crop_nonzero();
                    Ok(f)
                })
                .collect::<Result<Vec<_>, FileError>>()?;
            Ok(BoutonFiles {
                area,
                cell_type,
                fields,
            })
        })
        .collect()
}

/// The per-cell quantities every realization uses.
#[derive(Clone, Debug)]
pub struct Prepared {
    /// Mapper sections (index = `.syn` section index).
    pub sections: Vec<MapSection>,
    /// The cell grid.
    pub grid: CellGrid,
    /// Length and area per structure and voxel.
    pub geometry: Geometry,
    /// 3-D points per structure and voxel (synapse targets).
    pub targets: [Vec<Vec<(u32, u32)>>; 3],
    /// Populations with cells and bouton files, areas in sheet order, then types in row order.
    pub populations: Vec<Population>,
    /// Populations with cells but no bouton file (skipped, as in ISF).
    pub without_boutons: Vec<String>,
}

/// Cell grid, geometry, cell PST and the synapse density of every bouton file.
pub fn prepare(inputs: &MapInputs, amira_quirk: bool) -> Result<Prepared, FileError> {
    let conn = &inputs.connections;
    let post = inputs.post_type.as_str();
    if class_of(post).is_none() {
        return Err(FileError::new(
            Code::E0826,
            format!(
                "postsynaptic cell type `{post}` is not one of ISF's cell types ({}; {})",
                crate::mapper::tables::EXCITATORY.join(", "),
                crate::mapper::tables::INHIBITORY.join(", ")
            ),
            &conn.file,
            0,
            0,
        ));
    }
    let constants = |c: Class, word: &str| {
        conn.get(c, post).ok_or_else(|| {
            FileError::new(
                Code::E0826,
                format!("no {word} row for postsynaptic cell type `{post}`"),
                &conn.file,
                0,
                0,
            )
        })
    };
    let exc_c = constants(Class::Exc, "EXCITATORY")?;
    let inh_c = constants(Class::Inh, "INHIBITORY")?;
    let sections = grid::map_sections(&inputs.morphology);
    let bbox = grid::bounding_box(&sections).ok_or_else(|| {
        FileError::new(
            Code::E0825,
            "the morphology has no soma or dendrite points to map onto",
            &inputs.morphology.file,
            0,
            0,
        )
    })?;
    let exc = &inputs.exc_pst;
    let fmt_box = |b: &[f64; 6]| {
        format!(
            "x [{:.1}, {:.1}], y [{:.1}, {:.1}], z [{:.1}, {:.1}] µm",
            b[0], b[1], b[2], b[3], b[4], b[5]
        )
    };
    let grid = CellGrid::from_field(exc, &bbox).ok_or_else(|| {
        FileError::new(
            Code::E0825,
            format!(
                "the morphology ({}) lies outside the excitatory PST field ({}); is it placed in \
                 the fields' reference frame?",
                fmt_box(&bbox),
                if exc.is_empty() {
                    "all zero".to_string()
                } else {
                    fmt_box(&exc.bounds())
                }
            ),
            &inputs.morphology.file,
            0,
            0,
        )
    })?;
    let gb = grid.bounds();
    if (0..3).any(|a| bbox[2 * a] < gb[2 * a] || bbox[2 * a + 1] > gb[2 * a + 1]) {
        return Err(FileError::new(
            Code::E0825,
            format!(
                "the morphology ({}) extends beyond the excitatory PST field ({}) of {}",
                fmt_box(&bbox),
                fmt_box(&exc.bounds()),
                exc.file
            ),
            &inputs.morphology.file,
            0,
            0,
        ));
    }
    if grid.n_voxels() > MAX_GRID_VOXELS {
        return Err(FileError::new(
            Code::E0827,
            format!(
                "the morphology covers {} voxels of {}; the mapper handles at most \
                 {MAX_GRID_VOXELS} (is the grid much finer than ISF's 50 µm?)",
                grid.n_voxels(),
                exc.file
            ),
            &exc.file,
            exc.bbox_line,
            0,
        ));
    }
    let total_cells: u64 = inputs
        .nr_cells
        .rows
        .iter()
        .flat_map(|r| &r.1)
        .fold(0u64, |a, &b| a.saturating_add(b));
    crate::rules::network_size("presynaptic cells", total_cells)
        .map_err(|b| FileError::new(b.code, b.message, &inputs.nr_cells.file, 0, 0))?;
    let geometry = grid::length_area(&sections, &grid, amira_quirk);
    let targets = grid::points_in_voxels(&sections, &grid);
    let has_points: [Vec<bool>; 3] =
        std::array::from_fn(|s| targets[s].iter().map(|v| !v.is_empty()).collect());
    let pst_exc = density::cell_pst(&geometry, &exc_c);
    let pst_inh = density::cell_pst(&geometry, &inh_c);
    let norm_exc = density::norm_at_centres(&inputs.exc_pst, &grid);
    let norm_inh = density::norm_at_centres(&inputs.inh_pst, &grid);
    let nr = &inputs.nr_cells;
    let mut populations = Vec::new();
    let mut without_boutons = Vec::new();
    for (a, area) in nr.areas.iter().enumerate() {
        for (t, counts, _) in &nr.rows {
            let cells = counts[a];
            if cells == 0 {
                continue;
            }
            let Some(b) = inputs
                .boutons
                .iter()
                .find(|b| &b.area == area && &b.cell_type == t)
                .filter(|b| !b.fields.is_empty())
            else {
                without_boutons.push(format!("{t}_{area}"));
                continue;
            };
            let (pst, norm) = match class_of(t) {
                Some(Class::Inh) => (&pst_inh, &norm_inh),
                _ => (&pst_exc, &norm_exc),
            };
            let densities: Vec<Option<SparseDensity>> = b
                .fields
                .par_iter()
                .map(|f| density::synapse_density(f, norm, pst, &has_points, &grid))
                .collect();
            populations.push(Population {
                area: area.clone(),
                cell_type: t.clone(),
                cells,
                densities,
            });
        }
    }
    if !populations.is_empty()
        && populations
            .iter()
            .all(|p| p.densities.iter().flatten().all(|d| d.entries.is_empty()))
    {
        return Err(FileError::new(
            Code::E0825,
            format!(
                "no bouton-density field overlaps the morphology ({}) where it has points: no \
                 presynaptic axon can form a synapse",
                fmt_box(&bbox)
            ),
            &inputs.morphology.file,
            0,
            0,
        ));
    }
    Ok(Prepared {
        sections,
        grid,
        geometry,
        targets,
        populations,
        without_boutons,
    })
}

/// The result of mapping: every realization, its statistics and the representative one.
#[derive(Clone, Debug)]
pub struct Mapping {
    /// Cell grid, geometry and populations.
    pub prepared: Prepared,
    /// The options used (the seed is written to every output).
    pub options: MapOptions,
    /// `realizations[r][p]`: population `p` of realization `r`.
    pub realizations: Vec<Vec<PopRealization>>,
    /// `stats[r][p]`.
    pub stats: Vec<Vec<Stats>>,
    /// Index of the representative realization.
    pub chosen: usize,
}

impl Prepared {
    /// Path distance to the soma of a synapse at `(section, point)` (spec 01 def. 3 at the
    /// stored `x = relPts[point]`; 0 on the soma).
    pub fn distance_um(&self, section: u32, point: u32) -> f64 {
        let s = &self.sections[section as usize];
        if s.structure == 0 {
            0.0
        } else {
            s.rel_pts[point as usize] * s.length_um + s.start_um
        }
    }

    /// Expected synapses of one realization: Σ over populations of cells × the mean total
    /// density of its bouton files.
    pub fn expected_synapses(&self) -> f64 {
        self.populations
            .iter()
            .map(|p| {
                let per_file: f64 = p
                    .densities
                    .iter()
                    .map(|d| d.as_ref().map_or(0.0, SparseDensity::total))
                    .sum::<f64>()
                    / p.densities.len().max(1) as f64;
                p.cells as f64 * per_file
            })
            .sum()
    }

    /// Cell types of the populations, sorted (the feature order of §8.6).
    pub fn cell_types(&self) -> Vec<String> {
        let mut t: Vec<String> = self
            .populations
            .iter()
            .map(|p| p.cell_type.clone())
            .collect();
        t.sort();
        t.dedup();
        t
    }
}

/// Draw `options.samples` realizations and choose the representative one.
pub fn map(inputs: &MapInputs, options: MapOptions) -> Result<Mapping, FileError> {
    if options.samples == 0 {
        return Err(FileError::new(
            Code::E0827,
            "the number of realizations (--samples) must be at least 1",
            "<options>",
            0,
            0,
        ));
    }
    let prepared = prepare(inputs, options.amira_quirk)?;
    // Memory and time grow with the synapses drawn: check the expected number first (E0418,
    // raised by --allow-large like a network's size).
    let expected = prepared.expected_synapses() * options.samples as f64;
    let n = if expected.is_finite() && expected < u64::MAX as f64 {
        expected.ceil() as u64
    } else {
        u64::MAX
    };
    crate::rules::network_size("synapses over all realizations (expected)", n)
        .map_err(|b| FileError::new(b.code, b.message, &inputs.nr_cells.file, 0, 0))?;
    let realizations = realize::realize_all(
        &prepared.populations,
        &prepared.targets,
        options.seed,
        options.samples,
    );
    let structure = |s: u32| prepared.sections[s as usize].structure;
    let distance = |s: u32, p: u32| prepared.distance_um(s, p);
    let stats: Vec<Vec<Stats>> = realizations
        .par_iter()
        .map(|r| {
            r.iter()
                .zip(&prepared.populations)
                .map(|(pr, pop)| realize::population_stats(pr, pop.cells, &distance, &structure))
                .collect()
        })
        .collect();
    let types = prepared.cell_types();
    let features: Vec<Vec<f64>> = stats
        .iter()
        .map(|r| {
            types
                .iter()
                .map(|t| {
                    r.iter()
                        .zip(&prepared.populations)
                        .filter(|(_, p)| &p.cell_type == t)
                        .map(|(s, _)| s.synapses as f64)
                        .sum()
                })
                .collect()
        })
        .collect();
    let chosen = realize::representative(&features);
    Ok(Mapping {
        prepared,
        options,
        realizations,
        stats,
        chosen,
    })
}
