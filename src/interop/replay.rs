//! Replaying recorded synaptic input (ISF's `run_existing_synapse_activations`, spec 05 §5.1;
//! spec 04 §4.5 `reconnect_saved_synapses`): a file per trial → [`TrialInput`].
//!
//! Two file formats are accepted, told apart by their first line:
//! * ISF synapse activation files (`simulation_run*_synapses.csv`,
//!   [`crate::interop::formats::activation`]): one row per active synapse with its type, ID,
//!   section, 3-D point and release times. With the network's anatomy the rows are matched to
//!   its synapses ([`replay()`]: IDs and soma distances as recorded); without one, each row
//!   becomes a synapse at `relPts[point]` as ISF does (soma distance at that point, ID as
//!   recorded, or consecutive within the type for legacy rows without ID).
//! * Spike-time CSVs (`synapse_id, cell_type, section_id, x, spike_time_ms`,
//!   [`crate::interop::formats::spike_times`]): one row per spike; each synapse is placed from its
//!   `.syn`-style `(section, x)` by ISF's rule (nearest 3-D point, clamped to the compartment
//!   centres). No anatomy is needed.
//!
//! Recorded times are release times: every one is delivered (no release probability is
//! applied), with the network's receptors, mean weights and delays of the row's cell type.
//! Presynaptic spikes are one pseudo-cell per replayed synapse (ISF: cell index = synapse row),
//! spiking at its release times. Errors are [`FileError`]s located in the replay file.

use crate::diagnostics::Code;
use crate::files::FileError;
use crate::interop::formats::activation::{ActivationRow, data_lines, parse_activation};
use crate::interop::formats::spike_times::{
    SpikeTimeRow, looks_like_spike_times, parse_spike_times,
};
use crate::network::activity::TrialInput;
use crate::network::placement::{Placement, Placer};
use crate::network::prepared::PreparedNetwork;
use crate::network::types::Network;
use crate::network::types::SpikeSource;
use std::collections::BTreeMap;
use std::path::Path;

/// The synapse activation rows of a trial in ISF's order (types sorted by name, then synapse
/// ID), for [`crate::interop::formats::activation::write_activation`].
pub fn activation_rows(net: &PreparedNetwork, trial: &TrialInput) -> Vec<ActivationRow> {
    let mut order: Vec<usize> = (0..trial.n_active()).collect();
    let names: Vec<&str> = net
        .network
        .populations
        .iter()
        .map(|p| p.name.as_str())
        .collect();
    order.sort_by(|&a, &b| {
        names[trial.population[a] as usize]
            .cmp(names[trial.population[b] as usize])
            .then(trial.synapse_id[a].cmp(&trial.synapse_id[b]))
    });
    order
        .into_iter()
        .map(|k| {
            let s = trial.get(k);
            ActivationRow {
                synapse_type: names[s.population as usize].to_string(),
                synapse_id: i64::from(s.synapse_id),
                soma_distance_um: s.soma_distance_um,
                section: s.section,
                point: s.point,
                label: net
                    .section_labels
                    .get(s.section as usize)
                    .cloned()
                    .unwrap_or_default(),
                times_ms: s.release_times_ms.to_vec(),
            }
        })
        .collect()
}

/// Replay recorded activations (spec 04 §4.5, `reconnect_saved_synapses`): every row becomes
/// an active synapse of its type at the recorded (section, point) — receptor at
/// `relPts[point]` clamped to the compartment centres — with the recorded times delivered as
/// releases (forced release) and the network's weights. Rows with a synapse ID keep it and
/// must name a synapse of that ID on the same section in the anatomy; legacy rows without ID
/// (−1) are matched by (section, point). The soma distance is the prepared synapse's (the
/// `.syn` x, as the recording simulation wrote it). No presynaptic spikes
/// are produced (ISF replays one pseudo-cell per synapse). `file` names the activation file
/// in errors (rows are numbered from 1 in the `line` field).
pub fn replay(
    net: &PreparedNetwork,
    placer: &Placer,
    rows: &[ActivationRow],
    file: &str,
) -> Result<TrialInput, FileError> {
    let mut out = TrialInput {
        release_offsets: vec![0],
        weight_offsets: vec![0],
        spike_offsets: vec![0; net.n_cells() + 1],
        ..TrialInput::default()
    };
    let mut weights = Vec::new();
    for (i, r) in rows.iter().enumerate() {
        let err = |code, msg: String| FileError::new(code, msg, file, i + 1, 0);
        let Some(pi) = net
            .network
            .populations
            .iter()
            .position(|p| p.name == r.synapse_type)
        else {
            return Err(err(
                Code::E0809,
                format!("synapse type `{}` is not in the network", r.synapse_type),
            ));
        };
        let range = net.synapse_range[pi].clone();
        let found = if r.synapse_id >= 0 {
            let s = range.start + r.synapse_id as usize;
            (s < range.end).then_some(s)
        } else {
            range
                .clone()
                .find(|&s| net.syn_section[s] == r.section && net.syn_point[s] == r.point)
        };
        let Some(s) = found else {
            return Err(err(
                Code::E0806,
                format!(
                    "`{}` synapse {} at section {} point {} does not exist in the anatomy",
                    r.synapse_type, r.synapse_id, r.section, r.point
                ),
            ));
        };
        if net.syn_section[s] != r.section {
            return Err(err(
                Code::E0806,
                format!(
                    "`{}` synapse {} is on section {} in the anatomy but on section {} in this \
                     file",
                    r.synapse_type, r.synapse_id, net.syn_section[s], r.section
                ),
            ));
        }
        let Some(pl) = placer.place_at_point(r.section, r.point) else {
            return Err(err(
                Code::E0810,
                format!("section {} has no 3-D point {}", r.section, r.point),
            ));
        };
        weights.clear();
        for rc in &net.network.populations[pi].receptors {
            weights.extend_from_slice(&rc.weights_ns);
        }
        let mut times = r.times_ms.clone();
        times.sort_by(f64::total_cmp);
        out.release_times_ms.extend_from_slice(&times);
        out.push_synapse(net, s, &weights);
        let k = out.n_active() - 1;
        out.point[k] = pl.point;
        out.x[k] = pl.x;
        out.segment[k] = pl.segment;
    }
    Ok(out)
}

/// The rows of one replay file.
#[derive(Clone, Debug, PartialEq)]
pub enum ReplayRows {
    /// An ISF synapse activation file, with the 1-based line of every row.
    Activations {
        rows: Vec<ActivationRow>,
        lines: Vec<usize>,
    },
    /// A spike-time CSV (one row per spike).
    SpikeTimes(Vec<SpikeTimeRow>),
}

/// One parsed replay file.
#[derive(Clone, Debug, PartialEq)]
pub struct ReplayFile {
    /// The file name used in error locations.
    pub file: String,
    /// Its rows.
    pub rows: ReplayRows,
}

impl ReplayFile {
    /// Read and parse a replay file (format detected from the first line).
    pub fn read(path: &Path) -> Result<ReplayFile, FileError> {
        let name = path.display().to_string();
        let text = crate::files::read_data(path).map_err(|e| {
            FileError::new(Code::E0801, format!("cannot read file: {e}"), &name, 0, 0)
        })?;
        ReplayFile::parse(&text, &name)
    }

    /// Parse a replay file's text; `file` is used in error locations only.
    pub fn parse(text: &str, file: &str) -> Result<ReplayFile, FileError> {
        let rows = if looks_like_spike_times(text) {
            ReplayRows::SpikeTimes(parse_spike_times(text, file)?)
        } else {
            ReplayRows::Activations {
                rows: parse_activation(text, file)?,
                lines: data_lines(text),
            }
        };
        Ok(ReplayFile {
            file: file.to_string(),
            rows,
        })
    }

    /// `"isf_activations"` or `"spike_times"`.
    pub fn format(&self) -> &'static str {
        match self.rows {
            ReplayRows::Activations { .. } => "isf_activations",
            ReplayRows::SpikeTimes(_) => "spike_times",
        }
    }

    /// Number of synapses with at least one release and number of release events.
    pub fn counts(&self) -> (usize, usize) {
        match &self.rows {
            ReplayRows::Activations { rows, .. } => (
                rows.iter().filter(|r| !r.times_ms.is_empty()).count(),
                rows.iter().map(|r| r.times_ms.len()).sum(),
            ),
            ReplayRows::SpikeTimes(rows) => {
                let mut ids: Vec<u32> = rows.iter().map(|r| r.synapse_id).collect();
                ids.sort_unstable();
                ids.dedup();
                (ids.len(), rows.len())
            }
        }
    }
}

/// The input of one replayed trial on a prepared network (placed with `placer`, the cell's
/// [`Placer`]). Activation files use the anatomy when `net` has one (placed synapses), else
/// ISF's anatomy-free rule; spike-time files never need it.
pub fn trial_input(
    net: &PreparedNetwork,
    placer: &Placer,
    f: &ReplayFile,
) -> Result<TrialInput, FileError> {
    let mut t = match &f.rows {
        ReplayRows::Activations { rows, lines } if net.n_synapses() > 0 => {
            replay(net, placer, rows, &f.file).map_err(|mut e| {
                // `replay` numbers rows; report the file line.
                if let Some(&l) = e.line.checked_sub(1).and_then(|i| lines.get(i)) {
                    e.line = l;
                }
                e
            })?
        }
        ReplayRows::Activations { rows, lines } => {
            replay_at_points(&net.network, placer, rows, lines, &f.file)?
        }
        ReplayRows::SpikeTimes(rows) => replay_spike_times(&net.network, placer, rows, &f.file)?,
    };
    pseudo_cells(&mut t);
    Ok(t)
}

/// Index of the population named `name`.
fn population(network: &Network, name: &str) -> Option<usize> {
    network.populations.iter().position(|p| p.name == name)
}

/// The weights of all receptors of a population, concatenated (nS).
fn weights(network: &Network, pi: usize) -> Vec<f64> {
    network.populations[pi]
        .receptors
        .iter()
        .flat_map(|r| r.weights_ns.iter().copied())
        .collect()
}

fn unknown_type(name: &str, network: &Network, file: &str, line: usize, col: usize) -> FileError {
    FileError::new(
        Code::E0809,
        format!(
            "cell type `{name}` is not a population of network `{}`",
            network.name
        ),
        file,
        line,
        col,
    )
}

fn no_section(section: u32, placer: &Placer, file: &str, line: usize, col: usize) -> FileError {
    FileError::new(
        Code::E0810,
        format!(
            "section {section} does not exist on the cell ({} sections)",
            placer.n_sections()
        ),
        file,
        line,
        col,
    )
}

/// Append one synapse that is not in any anatomy (`synapse` index `u32::MAX`).
fn push_unanchored(
    out: &mut TrialInput,
    pi: usize,
    id: u32,
    pl: &Placement,
    w: &[f64],
    times: &[f64],
) {
    out.synapse.push(u32::MAX);
    out.population.push(pi as u32);
    out.synapse_id.push(id);
    out.section.push(pl.section);
    out.point.push(pl.point);
    out.x.push(pl.x);
    out.segment.push(pl.segment);
    out.soma_distance_um.push(pl.soma_distance_um);
    out.weights_ns.extend_from_slice(w);
    out.weight_offsets.push(out.weights_ns.len() as u32);
    let mut times = times.to_vec();
    times.sort_by(f64::total_cmp);
    out.release_times_ms.extend_from_slice(&times);
    out.release_offsets.push(out.release_times_ms.len() as u32);
}

fn empty_input() -> TrialInput {
    TrialInput {
        release_offsets: vec![0],
        weight_offsets: vec![0],
        spike_offsets: vec![0],
        ..TrialInput::default()
    }
}

/// ISF's `reconnect_saved_synapses` without an anatomy: every row is a synapse at
/// `(section, relPts[point])`, clamped to the compartment centres, with the soma distance at
/// `relPts[point]`. Rows keep their synapse ID; legacy rows without one (−1) are numbered
/// consecutively within their type. `lines` gives the file line of each row.
pub fn replay_at_points(
    network: &Network,
    placer: &Placer,
    rows: &[ActivationRow],
    lines: &[usize],
    file: &str,
) -> Result<TrialInput, FileError> {
    let mut out = empty_input();
    let mut next_id: BTreeMap<usize, u32> = BTreeMap::new();
    for (i, r) in rows.iter().enumerate() {
        let line = lines.get(i).copied().unwrap_or(i + 1);
        let pi = population(network, &r.synapse_type)
            .ok_or_else(|| unknown_type(&r.synapse_type, network, file, line, 1))?;
        if !placer.has_section(r.section) {
            return Err(no_section(r.section, placer, file, line, 0));
        }
        let pl = placer.place_at_point(r.section, r.point).ok_or_else(|| {
            FileError::new(
                Code::E0810,
                format!("section {} has no 3-D point {}", r.section, r.point),
                file,
                line,
                0,
            )
        })?;
        let n = next_id.entry(pi).or_insert(0);
        let id = match u32::try_from(r.synapse_id) {
            Ok(id) => id,
            Err(_) if r.synapse_id < 0 => *n,
            Err(_) => {
                return Err(FileError::new(
                    Code::E0805,
                    format!("synapse ID {} is too large", r.synapse_id),
                    file,
                    line,
                    0,
                ));
            }
        };
        *n = id.saturating_add(1);
        push_unanchored(&mut out, pi, id, &pl, &weights(network, pi), &r.times_ms);
    }
    Ok(out)
}

/// Spike-time rows → one active synapse per `synapse_id` (ascending), placed from its
/// `(section, x)` by ISF's rule, releasing at its spike times (sorted).
pub fn replay_spike_times(
    network: &Network,
    placer: &Placer,
    rows: &[SpikeTimeRow],
    file: &str,
) -> Result<TrialInput, FileError> {
    // synapse id → (first row, times)
    let mut by_id: BTreeMap<u32, (usize, Vec<f64>)> = BTreeMap::new();
    for (i, r) in rows.iter().enumerate() {
        let e = by_id.entry(r.synapse_id).or_insert((i, Vec::new()));
        let first = &rows[e.0];
        if first.cell_type != r.cell_type || first.section != r.section || first.x != r.x {
            return Err(FileError::new(
                Code::E0805,
                format!(
                    "synapse {} is `{}` on section {} at x {} here but `{}` on section {} at x {} \
                     in line {}",
                    r.synapse_id,
                    r.cell_type,
                    r.section,
                    r.x,
                    first.cell_type,
                    first.section,
                    first.x,
                    first.line
                ),
                file,
                r.line,
                r.columns[0],
            ));
        }
        e.1.push(r.time_ms);
    }
    let mut out = empty_input();
    for (id, (i, times)) in by_id {
        let r = &rows[i];
        let pi = population(network, &r.cell_type)
            .ok_or_else(|| unknown_type(&r.cell_type, network, file, r.line, r.columns[1]))?;
        let pl = placer
            .place(r.section, r.x)
            .ok_or_else(|| no_section(r.section, placer, file, r.line, r.columns[2]))?;
        push_unanchored(&mut out, pi, id, &pl, &weights(network, pi), &times);
    }
    Ok(out)
}

/// Presynaptic spikes of a replayed trial: one pseudo-cell per active synapse, spiking at its
/// release times.
fn pseudo_cells(t: &mut TrialInput) {
    t.spike_offsets = t.release_offsets.clone();
    t.spike_times_ms = t.release_times_ms.clone();
    t.spike_source = vec![SpikeSource::Explicit; t.spike_times_ms.len()];
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::interop::formats::spike_times::COLUMNS;

    #[test]
    fn detects_the_format() {
        let csv = format!("{}\n0,VPM_C2,1,0.5,3.0\n", COLUMNS.join(","));
        let f = ReplayFile::parse(&csv, "a.csv").unwrap();
        assert_eq!(f.format(), "spike_times");
        assert_eq!(f.counts(), (1, 1));
        let act = format!(
            "{}\nL1_C2\t2\t13.5\t72\t5\tApicalDendrite\t1.0,2.0,\n",
            crate::interop::formats::activation::HEADER
        );
        let f = ReplayFile::parse(&act, "b.csv").unwrap();
        assert_eq!(f.format(), "isf_activations");
        assert_eq!(f.counts(), (1, 2));
        match &f.rows {
            ReplayRows::Activations { lines, .. } => assert_eq!(lines, &vec![2]),
            ReplayRows::SpikeTimes(_) => unreachable!(),
        }
    }
}
