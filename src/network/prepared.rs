//! A network joined with its anatomy and the cell: every connected synapse placed, with its
//! presynaptic cell, in flat arrays ready for per-trial generation ([`super::activity`]).

use super::placement::Placer;
use super::types::{Network, NetworkModify, Population, SynapseSource};
use crate::diagnostics::Code;
use crate::files::FileError;
use crate::interop::formats::con::{ConFile, check_against_syn, read_con_file};
use crate::interop::formats::syn::{SynFile, read_syn_file};
use std::collections::HashMap;
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Parsed and cross-checked anatomy files (`.syn` + `.con`).
#[derive(Clone, Debug)]
pub struct Anatomy {
    /// Synapse locations.
    pub syn: SynFile,
    /// Presynaptic cell of each synapse.
    pub con: ConFile,
}

impl Anatomy {
    /// Read both files and check that they match.
    pub fn read(syn: &Path, con: &Path) -> Result<Anatomy, FileError> {
        let syn = read_syn_file(syn)?;
        let con = read_con_file(con)?;
        check_against_syn(&con, &syn)?;
        Ok(Anatomy { syn, con })
    }
}

/// Read every anatomy pair a network references (each distinct pair once).
pub fn read_anatomies(
    network: &Network,
) -> Result<HashMap<(PathBuf, PathBuf), Arc<Anatomy>>, FileError> {
    let mut out = HashMap::new();
    for p in &network.populations {
        if let SynapseSource::Anatomy { syn, con } = &p.synapses {
            let key = (syn.clone(), con.clone());
            if let std::collections::hash_map::Entry::Vacant(e) = out.entry(key) {
                e.insert(Arc::new(Anatomy::read(syn, con)?));
            }
        }
    }
    Ok(out)
}

/// Which spike-source labels a synapse keeps (bit i = [`super::types::SpikeSource`] i).
pub(crate) type SourceMask = u8;

/// A network ready for trial generation.
#[derive(Clone, Debug)]
pub struct PreparedNetwork {
    /// The typed network.
    pub network: Network,
    /// Global index of the first presynaptic cell of each population (len = populations + 1).
    pub cell_base: Vec<u32>,
    /// Synapse index range of each population (synapses ordered by population, then ID).
    pub synapse_range: Vec<Range<usize>>,
    /// Population index of each synapse.
    pub syn_population: Vec<u32>,
    /// Synapse ID (index within its type in the `.syn` file).
    pub syn_id: Vec<u32>,
    /// Presynaptic cell, local index within the population.
    pub syn_cell: Vec<u32>,
    /// Section index.
    pub syn_section: Vec<u32>,
    /// Nearest 3-D point (`ptID`).
    pub syn_point: Vec<u32>,
    /// Receptor position (clamped to the first/last compartment centre).
    pub syn_x: Vec<f64>,
    /// Compartment index within the section.
    pub syn_segment: Vec<u32>,
    /// Soma distance (spec 01 §1.6 definition 3 at the `.syn` x), µm.
    pub syn_soma_distance_um: Vec<f64>,
    /// Spike sources whose releases are kept (all bits set unless a modify function
    /// silences the synapse; 0 = silenced).
    pub(crate) syn_keep: Vec<SourceMask>,
    /// Section label of every section (`ApicalDendrite`, …) for output files.
    pub section_labels: Vec<String>,
}

impl PreparedNetwork {
    /// Read the anatomy files of `network` and place its synapses on the cell; synapses
    /// declared by count are placed from `placement_seed`
    /// ([`super::declared::placement_seed`] of the experiment seed).
    pub fn build(
        network: &Network,
        placer: &Placer,
        labels: Vec<String>,
        placement_seed: u64,
    ) -> Result<PreparedNetwork, FileError> {
        let files = read_anatomies(network)?;
        Self::with_anatomies(network, &files, placer, labels, placement_seed)
    }

    /// The network with no synapse placed (no anatomy read): every population has an empty
    /// synapse range. Replayed input ([`crate::interop::replay`]) brings its own synapse locations.
    pub fn without_anatomy(network: &Network, section_labels: Vec<String>) -> PreparedNetwork {
        let mut cell_base = vec![0u32];
        for p in &network.populations {
            let last = *cell_base.last().unwrap_or(&0);
            cell_base.push(last.saturating_add(p.cells));
        }
        PreparedNetwork {
            network: network.clone(),
            cell_base,
            synapse_range: vec![0..0; network.populations.len()],
            syn_population: Vec::new(),
            syn_id: Vec::new(),
            syn_cell: Vec::new(),
            syn_section: Vec::new(),
            syn_point: Vec::new(),
            syn_x: Vec::new(),
            syn_segment: Vec::new(),
            syn_soma_distance_um: Vec::new(),
            syn_keep: Vec::new(),
            section_labels,
        }
    }

    /// As [`PreparedNetwork::build`], with already read anatomy files (keyed by the
    /// populations' `(syn, con)` paths).
    pub fn with_anatomies(
        network: &Network,
        files: &HashMap<(PathBuf, PathBuf), Arc<Anatomy>>,
        placer: &Placer,
        section_labels: Vec<String>,
        placement_seed: u64,
    ) -> Result<PreparedNetwork, FileError> {
        let mut out = PreparedNetwork {
            network: network.clone(),
            cell_base: vec![0],
            synapse_range: Vec::new(),
            syn_population: Vec::new(),
            syn_id: Vec::new(),
            syn_cell: Vec::new(),
            syn_section: Vec::new(),
            syn_point: Vec::new(),
            syn_x: Vec::new(),
            syn_segment: Vec::new(),
            syn_soma_distance_um: Vec::new(),
            syn_keep: Vec::new(),
            section_labels,
        };
        for (pi, pop) in network.populations.iter().enumerate() {
            let base = *out.cell_base.last().unwrap_or(&0);
            let next = base.checked_add(pop.cells).ok_or_else(|| {
                FileError::new(
                    Code::E0407,
                    "more than 2³² presynaptic cells: a count must fit in 32 bits",
                    &network.name,
                    0,
                    0,
                )
            })?;
            out.cell_base.push(next);
            let start = out.syn_id.len();
            out.add_population(pi, pop, files, placer, placement_seed)?;
            out.synapse_range.push(start..out.syn_id.len());
        }
        out.apply_modify();
        Ok(out)
    }

    fn add_population(
        &mut self,
        pi: usize,
        pop: &Population,
        files: &HashMap<(PathBuf, PathBuf), Arc<Anatomy>>,
        placer: &Placer,
        placement_seed: u64,
    ) -> Result<(), FileError> {
        let (syn_path, con_path) = match &pop.synapses {
            SynapseSource::Anatomy { syn, con } => (syn, con),
            SynapseSource::Declared(d) => {
                let placed = super::declared::place(
                    placer,
                    &self.section_labels,
                    &pop.name,
                    pop.cells,
                    d,
                    placement_seed,
                )
                .map_err(|e| {
                    let code = match e.kind {
                        super::declared::NoPlaceKind::MissingRegion(_) => Code::E0413,
                        super::declared::NoPlaceKind::Empty => Code::E0415,
                    };
                    FileError::new(
                        code,
                        format!("population `{}`: {} ({})", pop.name, e.message, e.note),
                        &self.network.name,
                        0,
                        0,
                    )
                })?;
                for (id, (pl, cell)) in placed.into_iter().enumerate() {
                    self.push_synapse(pi, id as u32, cell, &pl);
                }
                return Ok(());
            }
        };
        let Some(an) = files.get(&(syn_path.clone(), con_path.clone())) else {
            return Err(FileError::new(
                Code::E0801,
                format!("anatomy files of `{}` were not read", pop.name),
                &syn_path.display().to_string(),
                0,
                0,
            ));
        };
        let Some(st) = an.syn.get(&pop.name) else {
            return Err(FileError::new(
                Code::E0809,
                format!(
                    "synapse type `{}` of the network has no synapse in this file",
                    pop.name
                ),
                &an.syn.file,
                0,
                0,
            ));
        };
        // check_against_syn guarantees the .con type exists with a permutation of IDs.
        let Some(ct) = an.con.get(&pop.name) else {
            return Err(FileError::new(
                Code::E0806,
                format!("synapse type `{}` has no connection", pop.name),
                &an.con.file,
                0,
                0,
            ));
        };
        let mut cell_of = vec![0u32; st.len()];
        for k in 0..ct.len() {
            let c = ct.cell[k];
            if c >= pop.cells {
                return Err(FileError::new(
                    Code::E0807,
                    format!(
                        "presynaptic cell {c} of `{}`, but the network gives it {} cells (cellNr)",
                        pop.name, pop.cells
                    ),
                    &an.con.file,
                    ct.line[k] as usize,
                    0,
                ));
            }
            cell_of[ct.synapse[k] as usize] = c;
        }
        #[allow(clippy::needless_range_loop)] // id indexes five parallel arrays
        for id in 0..st.len() {
            let Some(pl) = placer.place(st.section[id], st.x[id]) else {
                return Err(FileError::new(
                    Code::E0810,
                    format!(
                        "section {} does not exist on the cell ({} sections)",
                        st.section[id],
                        placer.n_sections()
                    ),
                    &an.syn.file,
                    st.line[id] as usize,
                    0,
                ));
            };
            self.push_synapse(pi, id as u32, cell_of[id], &pl);
        }
        Ok(())
    }

    fn push_synapse(&mut self, pi: usize, id: u32, cell: u32, pl: &super::Placement) {
        self.syn_population.push(pi as u32);
        self.syn_id.push(id);
        self.syn_cell.push(cell);
        self.syn_section.push(pl.section);
        self.syn_point.push(pl.point);
        self.syn_x.push(pl.x);
        self.syn_segment.push(pl.segment);
        self.syn_soma_distance_um.push(pl.soma_distance_um);
        self.syn_keep.push(SourceMask::MAX);
    }

    fn apply_modify(&mut self) {
        use super::types::SpikeSource;
        for m in &self.network.modify {
            let NetworkModify::SilenceBySomaDistance {
                ranges,
                spike_sources,
            } = m;
            let keep: SourceMask = match spike_sources {
                None => 0,
                Some(labels) => SpikeSource::ALL
                    .iter()
                    .filter(|s| labels.iter().any(|l| l == s.as_str()))
                    .fold(0, |m, s| m | (1 << *s as u8)),
            };
            for (ty, lo, hi) in ranges {
                let Some(pi) = self.network.populations.iter().position(|p| &p.name == ty) else {
                    continue;
                };
                for s in self.synapse_range[pi].clone() {
                    let d = self.syn_soma_distance_um[s];
                    if *lo <= d && d < *hi {
                        self.syn_keep[s] &= keep;
                    }
                }
            }
        }
    }

    /// Number of placed synapses.
    pub fn n_synapses(&self) -> usize {
        self.syn_id.len()
    }

    /// Number of presynaptic cells over all populations.
    pub fn n_cells(&self) -> usize {
        self.cell_base.last().copied().unwrap_or(0) as usize
    }
}
