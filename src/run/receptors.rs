//! The hand-over from the network to the kernel: a typed network's receptor entries resolved
//! to synapse mechanisms ([`NetworkReceptors`]), and one trial's active synapses turned into
//! the kernel's [`SynapseSet`].
//!
//! This glue lives in the runner, not in the kernel or the network, because it is where the
//! two meet: the kernel knows synapse mechanisms and nothing of populations, the network knows
//! populations and nothing of compiled mechanisms (see the layers in `ARCHITECTURE.md`).

use crate::kernel::KernelError;
use crate::kernel::synapse::{Receptor, Synapse, SynapseSet, find_synapse};
use crate::model::MechModel;
use crate::rng::receptor_seed;

/// Receptor of a network's receptor entry: the synapse mechanism of that name (declared in
/// `declared` or in `std.synapses`; ISF's `*_old` variants map to the plain names) with its
/// defaults overridden by the entry's parameters. ISF network files give parameters in the mod
/// files' units, which are the canonical units of the stdlib synapses (ms, mV, nS).
pub fn receptor_from_network(
    r: &crate::network::Receptor,
    declared: &[MechModel],
) -> Result<Receptor, KernelError> {
    let mech = find_synapse(&r.mechanism, declared)?;
    // `tau_ampa` is listed by glutamate_syn's mod file but unused by its equations (spec 03).
    let overrides: Vec<(&str, f64)> = r
        .parameters
        .iter()
        .filter(|(n, _)| !(mech.name() == "glutamate_syn" && n == "tau_ampa"))
        .map(|(n, v)| (n.as_str(), *v))
        .collect();
    if r.weights_ns.len() > mech.n_weights() {
        return Err(KernelError::Setup {
            message: format!(
                "receptor `{}` takes {} weights, the network gives {}",
                r.mechanism,
                mech.n_weights(),
                r.weights_ns.len()
            ),
        });
    }
    Receptor::new(mech, &overrides).map_err(|message| KernelError::Setup { message })
}

/// A network's receptors resolved once: per population, (receptor, weight slots, delay).
#[derive(Clone, Debug)]
pub struct NetworkReceptors {
    per_population: Vec<Vec<(Receptor, usize, f64)>>,
    /// Per population: the stream id of its receptors' draws (keyed by the population's
    /// name, like its activity and release streams).
    draw_stream: Vec<u64>,
}

impl NetworkReceptors {
    /// Resolve every population's receptors (see [`receptor_from_network`]).
    pub fn new(
        network: &crate::network::Network,
        declared: &[MechModel],
    ) -> Result<NetworkReceptors, KernelError> {
        let mut per_population = Vec::with_capacity(network.populations.len());
        let mut draw_stream = Vec::with_capacity(network.populations.len());
        for pop in &network.populations {
            draw_stream.push(crate::rng::population_stream(
                &pop.name,
                crate::rng::RECEPTOR_DRAWS,
            ));
            let rs = pop
                .receptors
                .iter()
                .map(|r| {
                    Ok((
                        receptor_from_network(r, declared)?,
                        r.weights_ns.len(),
                        r.delay_ms,
                    ))
                })
                .collect::<Result<Vec<_>, KernelError>>()?;
            // ISF fails on `"dynamic"` with receptors that have no generator (spec 04 §4.5):
            // every spike would be delivered with certainty.
            if pop.release == crate::network::Release::Dynamic
                && !rs.iter().any(|(r, _, _)| r.mech.n_draws() > 0)
            {
                return Err(KernelError::Setup {
                    message: format!(
                        "population `{}`: release \"dynamic\" needs a receptor that draws its own release (ProbAMPANMDA2, ProbUDFsyn2 or a synapse using exprand()/unirand())",
                        pop.name
                    ),
                });
            }
            per_population.push(rs);
        }
        Ok(NetworkReceptors {
            per_population,
            draw_stream,
        })
    }

    /// The synapses of one trial: one [`Synapse`] per receptor of every active synapse of
    /// `trial`, at the synapse's section and compartment-clamped `x`, with the trial's weights
    /// (the receptors' slots in order; a scalar `glutamate_syn` weight leaves NMDA at 0, as in
    /// ISF), release times and the receptor's delay. Merging is on.
    pub fn synapses(&self, trial: &crate::network::TrialInput) -> Result<SynapseSet, KernelError> {
        let mut set = SynapseSet {
            synapses: Vec::with_capacity(trial.n_active()),
            coalesce: true,
        };
        for a in trial.iter() {
            let rs = self
                .per_population
                .get(a.population as usize)
                .ok_or_else(|| KernelError::Setup {
                    message: format!("trial input names population {}", a.population),
                })?;
            let mut w = a.weights_ns;
            let stream = self.draw_stream[a.population as usize];
            for (ri, (receptor, n_w, delay_ms)) in rs.iter().enumerate() {
                if w.len() < *n_w {
                    return Err(KernelError::Setup {
                        message: format!(
                            "population {}: receptor weights do not match the trial's weights",
                            a.population
                        ),
                    });
                }
                set.synapses.push(Synapse {
                    section: a.section as usize,
                    x: a.x,
                    receptor: receptor.clone(),
                    weights_ns: w[..*n_w].to_vec(),
                    release_times_ms: a.release_times_ms.to_vec(),
                    delay_ms: *delay_ms,
                    seed: receptor_seed(trial.trial_seed, stream, a.synapse_id, ri),
                });
                w = &w[*n_w..];
            }
        }
        Ok(set)
    }
}

/// [`NetworkReceptors::synapses`] for a network whose receptors are standard-library synapses.
pub fn synapses_from_trial_input(
    network: &crate::network::Network,
    trial: &crate::network::TrialInput,
) -> Result<SynapseSet, KernelError> {
    NetworkReceptors::new(network, &[])?.synapses(trial)
}
