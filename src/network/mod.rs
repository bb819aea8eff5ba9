//! Networks: typed presynaptic populations, synapse placement and per-trial input
//! (spec 04). Event delivery into the cell and the receptor kernels live in [`crate::sim`].
//!
//! Pipeline: an ISF network `.param` ([`param::isf_network_param`]) or an `.isf` `network`
//! block ([`lower::from_model`]) → [`types::Network`]; with the anatomy files and the cell's
//! morphology → [`prepared::PreparedNetwork`] (every synapse placed once, spec 04 §4.5);
//! synapses declared by count (`synapses: N`, no anatomy) are placed at random by path length
//! once per experiment ([`declared`]);
//! per trial seed → [`activity::TrialInput`] (presynaptic spikes, active synapses, release
//! times, weights). Recorded activations (ISF `simulation_run*_synapses.csv`) replay through
//! [`replay`]; [`replay::trial_input`] also takes spike-time CSVs and anatomy-free networks
//! (`experiment { replay: … }`).

pub mod activity;
pub mod declared;
pub mod lower;
pub mod param;
pub mod placement;
pub mod prepared;
pub mod replay;
pub mod rng;
pub mod to_isf;
pub mod types;

pub use activity::{ActiveSynapse, SpikeSource, TrialInput, generate_trial, generate_trials};
pub use param::isf_network_param;
pub use placement::{Placement, Placer};
pub use prepared::{Anatomy, PreparedNetwork};
pub use to_isf::network_param_to_isf;
pub use types::*;

use crate::diagnostics::Code;
use crate::formats::FileError;
use crate::formats::activation::ActivationRow;

/// The synapse activation rows of a trial in ISF's order (types sorted by name, then synapse
/// ID), for [`crate::formats::activation::write_activation`].
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
                    "`{}` synapse {} is on section {} in the anatomy but on section {} in this file",
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
