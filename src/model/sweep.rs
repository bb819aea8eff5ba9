//! Sweep targets and values as the model carries them: what one sweep axis changes
//! ([`SweepTarget`]) and its values ([`SweepValue`]), resolved by the checker
//! ([`crate::sema::sweep`] builds the schema and applies values) and counted here into sweep
//! points, so the checker's work-item limit and the runner's expansion count alike.

use super::SweepAxisModel;
use serde::Serialize;

/// What one sweep axis changes.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(tag = "target", rename_all = "snake_case")]
pub enum SweepTarget {
    /// The experiment's `duration` (ms).
    Duration,
    /// The experiment's time step `dt` (ms).
    Dt,
    /// The neuron's `temperature` (°C).
    Temperature,
    /// The neuron's `v_init` (mV).
    VInit,
    /// A field of a stimulus.
    Stimulus { stimulus: String, field: StimField },
    /// `Ra`, `cm` or a reversal potential of a region block of the neuron.
    Region { region: String, field: RegionField },
    /// A parameter of a mechanism inserted in a region block (set uniformly in the region).
    Mechanism {
        region: String,
        mechanism: String,
        parameter: String,
    },
    /// A field of one population of the experiment's network (`None`: every population that
    /// has the field, `*` in the path).
    Population {
        population: Option<String>,
        field: PopField,
    },
}

/// A numeric field of a stimulus.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum StimField {
    Amp,
    Delay,
    Duration,
    Onset,
    TauRise,
    TauDecay,
    Imax,
}

/// A passive field of a region block.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RegionField {
    /// Axial resistivity (Ω·cm).
    Ra,
    /// Specific membrane capacitance (µF/cm²).
    Cm,
    /// A fixed reversal potential (`ena`, `ek`, …; mV).
    Reversal(String),
}

/// A sweepable field of a presynaptic population.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(tag = "field", rename_all = "snake_case")]
pub enum PopField {
    /// Number of presynaptic cells (declared synapses: placement redone).
    Cells,
    /// Number of synapses (declared synapses: placement redone).
    Synapses,
    /// Regions synapses are placed on (placement redone).
    Location,
    /// Path-length range of placement from the soma, µm (placement redone).
    Distance,
    /// Release probability per presynaptic spike and synapse.
    ReleaseProbability,
    /// Delay of every receptor of the population (ms).
    Delay,
    /// A receptor parameter or weight: `receptor` as written (`glutamate`, `gaba`, `exp2syn`
    /// or a declared synapse mechanism), `parameter` in that receptor's names.
    Receptor { receptor: String, parameter: String },
    /// A parameter of every activity generator of one kind in the population.
    Activity {
        generator: String,
        parameter: String,
    },
}

impl PopField {
    /// True when a value changes where synapses are placed (the placement is redone for the
    /// sweep point); other fields keep the placement.
    pub fn moves_synapses(&self) -> bool {
        matches!(
            self,
            PopField::Cells | PopField::Synapses | PopField::Location | PopField::Distance
        )
    }
}

/// One value of a sweep axis, in the target's canonical unit.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(untagged)]
pub enum SweepValue {
    Num(f64),
    /// A `(from, to)` length range, µm.
    Pair(f64, f64),
    /// A list of region names.
    Regions(Vec<String>),
}

/// Number of sweep points: the product over axis groups of each group's length (1 without a
/// sweep). Zipped axes share a group and count once. Saturates at `u64::MAX` instead of
/// wrapping, so an absurd grid is refused by the work-item limit ([`crate::rules::work_items`])
/// rather than silently becoming a few points.
pub fn sweep_points(axes: &[SweepAxisModel]) -> u64 {
    groups(axes)
        .iter()
        .map(|g| axes[g[0]].values.len() as u64)
        .fold(1u64, u64::saturating_mul)
        .max(1)
}

/// Axis indices per group, groups in order of first appearance.
pub fn groups(axes: &[SweepAxisModel]) -> Vec<Vec<usize>> {
    let mut out: Vec<(u32, Vec<usize>)> = Vec::new();
    for (i, a) in axes.iter().enumerate() {
        match out.iter_mut().find(|(g, _)| *g == a.group) {
            Some((_, v)) => v.push(i),
            None => out.push((a.group, vec![i])),
        }
    }
    out.into_iter().map(|(_, v)| v).collect()
}
