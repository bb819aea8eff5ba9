//! Sweep targets: what a sweep path (`stimulus.step.amp`, `L5PT.soma.NaTa_t.gbar`,
//! `C2.*.glutamate.tau_nmda_decay`) names, resolved at check time to a typed
//! [`SweepTarget`], and how a value of it is applied to the run's inputs.
//!
//! The [`Schema`] of an experiment lists every sweepable path of its stimuli, neuron and
//! network with the kind of value it takes. A sweep path is valid exactly when it is in the
//! schema (so `isf check` can suggest the nearest valid path), and every schema entry is
//! built from the very objects the apply functions change, so a path that checks clean
//! always changes the simulation: the invariant "whatever `isf check` accepts takes effect"
//! holds by construction, and `tests/run/sweep_schema.rs` walks every entry to prove it.
//!
//! Values are plain `f64` in the canonical unit of their dimension (ms, nA, nS, µm, …).

use crate::model::ex::Ex;
use crate::model::sweep::{PopField, RegionField, StimField, SweepTarget, SweepValue};
use crate::model::{Density, NeuronModel, StimulusKind, StimulusModel};
use crate::network::receptors;
use crate::network::{Activity, Network, Population, Release, SingleShape, SynapseSource};
use crate::units::Dim;
use serde::Serialize;

impl StimField {
    /// Fields of a stimulus kind, with their script names and dimensions.
    fn of(kind: &StimulusKind) -> &'static [(StimField, &'static str, Dim, Range)] {
        match kind {
            StimulusKind::Step { .. } => &[
                (StimField::Amp, "amp", Dim::CURRENT, Range::Any),
                (StimField::Delay, "delay", Dim::TIME, Range::NonNegative),
                (
                    StimField::Duration,
                    "duration",
                    Dim::TIME,
                    Range::NonNegative,
                ),
            ],
            StimulusKind::Epsp { .. } => &[
                (StimField::Onset, "onset", Dim::TIME, Range::NonNegative),
                (StimField::TauRise, "tau_rise", Dim::TIME, Range::Positive),
                (StimField::TauDecay, "tau_decay", Dim::TIME, Range::Positive),
                (StimField::Imax, "imax", Dim::CURRENT, Range::Any),
            ],
        }
    }
}

impl SweepValue {
    fn num(&self) -> Result<f64, String> {
        match self {
            SweepValue::Num(x) => Ok(*x),
            other => Err(format!("expected a number, found {other:?}")),
        }
    }
}

/// Allowed range of a numeric sweep value (the declaration's rule).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Range {
    Any,
    /// `> 0`.
    Positive,
    /// `>= 0`.
    NonNegative,
    /// A probability or fraction in `[0, 1]`.
    Unit,
}

impl Range {
    /// Check `x` (in `unit`, the canonical unit of `dim`) by the rule declarations use
    /// ([`crate::rules`]: one rule, one code).
    pub fn check(
        self,
        what: &str,
        x: f64,
        dim: Dim,
        unit: &str,
    ) -> Result<f64, crate::rules::Broken> {
        use crate::rules;
        match self {
            Range::Any => rules::finite(what, x, unit),
            Range::Positive if dim == Dim::TIME => rules::positive_duration(what, x),
            Range::Positive => rules::positive(what, x, unit),
            Range::NonNegative => rules::non_negative(what, x, unit),
            Range::Unit => rules::fraction(what, x),
        }
    }
}

/// The kind of value a sweep path takes.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ValueKind {
    /// A quantity of this dimension within a range.
    Quantity { dim: Dim, range: Range },
    /// A whole number at least `min`.
    Count { min: u64 },
    /// A region or a list of regions.
    Regions,
    /// A `(from, to)` length range with `0 <= from < to`.
    LengthPair,
}

/// One sweepable path of an experiment.
#[derive(Clone, Debug, Serialize)]
pub struct SchemaEntry {
    pub path: String,
    pub target: SweepTarget,
    pub kind: ValueKind,
}

/// Every sweepable path of one experiment.
#[derive(Clone, Debug, Default, Serialize)]
pub struct Schema {
    pub entries: Vec<SchemaEntry>,
}

/// Parameters (name, dimension) of a mechanism by name; `None` when unknown.
pub type MechParams<'a> = dyn Fn(&str) -> Option<Vec<(String, Dim)>> + 'a;

/// A generator's sweepable parameters: (name, dimension, range).
type GeneratorParams = &'static [(&'static str, Dim, Range)];

/// What the schema of an experiment is built from.
pub struct SchemaInput<'a> {
    pub stimuli: &'a [StimulusModel],
    pub neuron: Option<&'a NeuronModel>,
    /// The typed network with its declared name (the first path segment).
    pub network: Option<(&'a str, &'a Network)>,
    /// Parameters of a density mechanism or a declared synapse mechanism, by name.
    pub mech_params: &'a MechParams<'a>,
    /// Ions a mechanism uses (`na`, `k`, `ca`), by name.
    pub mech_ions: &'a dyn Fn(&str) -> Vec<String>,
    /// Replayed input brings its own synapses: placement fields are not sweepable.
    pub replay: bool,
}

/// Parameters of the activity generators, by generator (script names), with dimensions.
const ACTIVITY_PARAMS: &[(&str, GeneratorParams)] = &[
    (
        "poisson",
        &[
            ("interval", Dim::TIME, Range::Positive),
            ("noise", Dim::ONE, Range::Unit),
            ("start", Dim::TIME, Range::NonNegative),
            ("stop", Dim::TIME, Range::NonNegative),
        ],
    ),
    ("psth", &[("offset", Dim::TIME, Range::Any)]),
    ("psth_count", &[("offset", Dim::TIME, Range::Any)]),
    (
        "normal_spike",
        &[
            ("active", Dim::ONE, Range::Unit),
            ("mean", Dim::TIME, Range::Any),
            ("sd", Dim::TIME, Range::NonNegative),
            ("offset", Dim::TIME, Range::Any),
        ],
    ),
    (
        "uniform_spike",
        &[
            ("active", Dim::ONE, Range::Unit),
            ("window", Dim::TIME, Range::NonNegative),
            ("offset", Dim::TIME, Range::Any),
        ],
    ),
    (
        "lognormal_spike",
        &[
            ("active", Dim::ONE, Range::Unit),
            ("mu", Dim::ONE, Range::Any),
            ("sigma", Dim::ONE, Range::NonNegative),
            ("offset", Dim::TIME, Range::Any),
        ],
    ),
    (
        "modulated",
        &[
            ("rate_before", Dim::FREQUENCY, Range::NonNegative),
            ("mean_rate", Dim::FREQUENCY, Range::NonNegative),
            ("modulation", Dim::ONE, Range::Unit),
            ("frequency", Dim::FREQUENCY, Range::NonNegative),
            ("bin", Dim::TIME, Range::Positive),
            ("offset", Dim::TIME, Range::Any),
        ],
    ),
];

/// The script name of an activity generator (`None` for generators without sweepable
/// scalar parameters: explicit spike times, piecewise rates).
fn generator_name(a: &Activity) -> Option<&'static str> {
    Some(match a {
        Activity::Poisson { .. } => "poisson",
        Activity::Psth { .. } => "psth",
        Activity::PsthAbsolute { .. } => "psth_count",
        Activity::Single { shape, .. } => match shape {
            SingleShape::Normal { .. } => "normal_spike",
            SingleShape::Uniform { .. } => "uniform_spike",
            SingleShape::LogNormal { .. } => "lognormal_spike",
        },
        Activity::Modulated { .. } => "modulated",
        Activity::PiecewisePoisson { .. } | Activity::SpikeTimes { .. } => return None,
    })
}

/// The range rule of a receptor parameter: weights and time constants as in declarations.
fn receptor_range(param: &str, dim: Dim) -> Range {
    if param.starts_with("weight") || dim == Dim::CONCENTRATION {
        Range::NonNegative
    } else if dim == Dim::TIME {
        Range::Positive
    } else {
        Range::Any
    }
}

/// The short name (`glutamate`) of a typed receptor's mechanism (`glutamate_syn`).
fn short_receptor(mechanism: &str) -> Option<&'static str> {
    receptors::by_mechanism(mechanism).and_then(|r| r.name)
}

/// (path suffix after the population, field, kind) of every sweepable field of a population.
fn population_fields(p: &Population, input: &SchemaInput) -> Vec<(String, PopField, ValueKind)> {
    let mut out = Vec::new();
    let q = |dim, range| ValueKind::Quantity { dim, range };
    if matches!(p.synapses, SynapseSource::Declared(_)) && !input.replay {
        out.push(("cells".into(), PopField::Cells, ValueKind::Count { min: 1 }));
        out.push((
            "synapses".into(),
            PopField::Synapses,
            ValueKind::Count { min: 0 },
        ));
        out.push(("location".into(), PopField::Location, ValueKind::Regions));
        out.push(("distance".into(), PopField::Distance, ValueKind::LengthPair));
    }
    out.push((
        "release_probability".into(),
        PopField::ReleaseProbability,
        q(Dim::ONE, Range::Unit),
    ));
    if !p.receptors.is_empty() {
        out.push((
            "delay".into(),
            PopField::Delay,
            q(Dim::TIME, Range::NonNegative),
        ));
    }
    for r in &p.receptors {
        let params: Vec<(String, Dim)> = match short_receptor(&r.mechanism) {
            Some(short) => receptors::by_name(short)
                .map(|x| x.params.iter().map(|(n, d)| (n.to_string(), *d)).collect())
                .unwrap_or_default(),
            None => (input.mech_params)(&r.mechanism).unwrap_or_default(),
        };
        let name = short_receptor(&r.mechanism).unwrap_or(&r.mechanism);
        for (param, dim) in params {
            let path = format!("{name}.{param}");
            if out.iter().any(|e| e.0 == path) {
                continue;
            }
            out.push((
                path,
                PopField::Receptor {
                    receptor: name.to_string(),
                    parameter: param.clone(),
                },
                q(dim, receptor_range(&param, dim)),
            ));
        }
    }
    for a in &p.activity {
        let Some(g) = generator_name(a) else { continue };
        let params = ACTIVITY_PARAMS
            .iter()
            .find(|x| x.0 == g)
            .map(|x| x.1)
            .unwrap_or(&[]);
        for &(param, dim, range) in params {
            let path = format!("activity.{g}.{param}");
            if out.iter().any(|e| e.0 == path) {
                continue;
            }
            out.push((
                path,
                PopField::Activity {
                    generator: g.into(),
                    parameter: param.into(),
                },
                q(dim, range),
            ));
        }
        if let Activity::Modulated {
            phase: crate::network::PhaseRule::Normal { .. },
            ..
        } = a
        {
            for param in ["phase_mean", "phase_sd"] {
                out.push((
                    format!("activity.modulated.{param}"),
                    PopField::Activity {
                        generator: "modulated".into(),
                        parameter: param.into(),
                    },
                    q(
                        Dim::ONE,
                        if param == "phase_sd" {
                            Range::NonNegative
                        } else {
                            Range::Any
                        },
                    ),
                ));
            }
        }
    }
    out
}

impl Schema {
    /// Every sweepable path of an experiment with these stimuli, neuron and network.
    pub fn build(input: &SchemaInput) -> Schema {
        let mut entries = Vec::new();
        let mut push = |path: String, target: SweepTarget, kind: ValueKind| {
            entries.push(SchemaEntry { path, target, kind })
        };
        let q = |dim, range| ValueKind::Quantity { dim, range };
        push(
            "duration".into(),
            SweepTarget::Duration,
            q(Dim::TIME, Range::Positive),
        );
        push("dt".into(), SweepTarget::Dt, q(Dim::TIME, Range::Positive));
        for s in input.stimuli {
            for &(field, fname, dim, range) in StimField::of(&s.kind) {
                push(
                    format!("stimulus.{}.{fname}", s.name),
                    SweepTarget::Stimulus {
                        stimulus: s.name.clone(),
                        field,
                    },
                    q(dim, range),
                );
            }
        }
        if let Some(n) = input.neuron {
            push(
                format!("{}.temperature", n.name),
                SweepTarget::Temperature,
                q(Dim::TEMPERATURE, Range::Any),
            );
            push(
                format!("{}.v_init", n.name),
                SweepTarget::VInit,
                q(Dim::VOLTAGE, Range::Any),
            );
            for r in &n.regions {
                let region = |field| SweepTarget::Region {
                    region: r.region.clone(),
                    field,
                };
                push(
                    format!("{}.{}.Ra", n.name, r.region),
                    region(RegionField::Ra),
                    q(Dim([3, 1, -3, -2, 0, 0]), Range::Positive),
                );
                push(
                    format!("{}.{}.cm", n.name, r.region),
                    region(RegionField::Cm),
                    q(Dim([-4, -1, 4, 2, 0, 0]), Range::Positive),
                );
                // Reversal potentials the region fixes, and those of the ions its mechanisms
                // use (a reversal potential no mechanism reads would change nothing).
                let mut revs: Vec<String> = r.reversal_mv.keys().cloned().collect();
                for m in &r.mechanisms {
                    for ion in (input.mech_ions)(&m.mechanism) {
                        let e = format!("e{ion}");
                        if !revs.contains(&e) {
                            revs.push(e);
                        }
                    }
                }
                for e in revs {
                    push(
                        format!("{}.{}.{e}", n.name, r.region),
                        region(RegionField::Reversal(e.clone())),
                        q(Dim::VOLTAGE, Range::Any),
                    );
                }
                for m in &r.mechanisms {
                    for (param, dim) in (input.mech_params)(&m.mechanism).unwrap_or_default() {
                        push(
                            format!("{}.{}.{}.{param}", n.name, r.region, m.mechanism),
                            SweepTarget::Mechanism {
                                region: r.region.clone(),
                                mechanism: m.mechanism.clone(),
                                parameter: param,
                            },
                            q(dim, Range::Any),
                        );
                    }
                }
            }
        }
        if let Some((name, net)) = input.network {
            let mut any: Vec<(String, PopField, ValueKind)> = Vec::new();
            for p in &net.populations {
                for (suffix, field, kind) in population_fields(p, input) {
                    if !any.iter().any(|a| a.0 == suffix) {
                        any.push((suffix.clone(), field.clone(), kind));
                    }
                    push(
                        format!("{name}.{}.{suffix}", p.name),
                        SweepTarget::Population {
                            population: Some(p.name.clone()),
                            field,
                        },
                        kind,
                    );
                }
            }
            for (suffix, field, kind) in any {
                push(
                    format!("{name}.*.{suffix}"),
                    SweepTarget::Population {
                        population: None,
                        field,
                    },
                    kind,
                );
            }
        }
        Schema { entries }
    }

    /// The entry of a path as written (segments joined by `.`, `*` for a wildcard).
    pub fn find(&self, path: &str) -> Option<&SchemaEntry> {
        self.entries.iter().find(|e| e.path == path)
    }

    /// The valid path nearest to `path`, for "did you mean".
    pub fn suggest(&self, path: &str) -> Option<&str> {
        crate::diagnostics::suggest(path, self.entries.iter().map(|e| e.path.as_str()))
    }
}

/// Apply a neuron target (temperature, v_init, region fields, mechanism parameters).
pub fn apply_neuron(n: &mut NeuronModel, t: &SweepTarget, v: &SweepValue) -> Result<(), String> {
    let x = v.num()?;
    let region = |n: &mut NeuronModel, region: &str| -> Result<usize, String> {
        n.regions
            .iter()
            .position(|r| r.region == region)
            .ok_or_else(|| format!("the neuron has no `{region}` block"))
    };
    match t {
        SweepTarget::Temperature => n.temperature_degc = x,
        SweepTarget::VInit => n.v_init_mv = x,
        SweepTarget::Region { region: rn, field } => {
            let i = region(n, rn)?;
            let r = &mut n.regions[i];
            match field {
                RegionField::Ra => r.ra_ohm_cm = Some(x),
                RegionField::Cm => r.cm_uf_cm2 = Some(x),
                RegionField::Reversal(e) => {
                    r.reversal_mv.insert(e.clone(), x);
                }
            }
        }
        SweepTarget::Mechanism {
            region: rn,
            mechanism,
            parameter,
        } => {
            let i = region(n, rn)?;
            let m = n.regions[i]
                .mechanisms
                .iter_mut()
                .find(|m| m.mechanism == *mechanism)
                .ok_or_else(|| format!("`{mechanism}` is not inserted in `{rn}`"))?;
            let unit = m
                .parameters
                .get(parameter)
                .map(|d| d.unit.clone())
                .unwrap_or_default();
            m.parameters.insert(
                parameter.clone(),
                Density {
                    unit,
                    expr: Ex::Const(x),
                },
            );
        }
        other => return Err(format!("{other:?} is not a neuron field")),
    }
    Ok(())
}

/// Apply a stimulus target.
pub fn apply_stimulus(
    stimuli: &mut [StimulusModel],
    t: &SweepTarget,
    v: &SweepValue,
) -> Result<(), String> {
    let SweepTarget::Stimulus { stimulus, field } = t else {
        return Err(format!("{t:?} is not a stimulus field"));
    };
    let x = v.num()?;
    let s = stimuli
        .iter_mut()
        .find(|s| s.name == *stimulus)
        .ok_or_else(|| format!("no stimulus `{stimulus}`"))?;
    match (&mut s.kind, field) {
        (StimulusKind::Step { amp_na, .. }, StimField::Amp) => *amp_na = x,
        (StimulusKind::Step { delay_ms, .. }, StimField::Delay) => *delay_ms = x,
        (StimulusKind::Step { duration_ms, .. }, StimField::Duration) => *duration_ms = Some(x),
        (StimulusKind::Epsp { onset_ms, .. }, StimField::Onset) => *onset_ms = x,
        (StimulusKind::Epsp { tau_rise_ms, .. }, StimField::TauRise) => *tau_rise_ms = x,
        (StimulusKind::Epsp { tau_decay_ms, .. }, StimField::TauDecay) => *tau_decay_ms = x,
        (StimulusKind::Epsp { imax_na, .. }, StimField::Imax) => *imax_na = x,
        (_, f) => return Err(format!("stimulus `{stimulus}` has no field {f:?}")),
    }
    Ok(())
}

/// Set (or add) a mechanism parameter of a typed receptor.
fn set_param(params: &mut Vec<(String, f64)>, name: &str, x: f64) {
    match params.iter_mut().find(|p| p.0 == name) {
        Some(p) => p.1 = x,
        None => params.push((name.to_string(), x)),
    }
}

/// The declared synapses of a population (an error for anatomy populations).
fn declared(p: &mut Population) -> Result<&mut crate::network::DeclaredSynapses, String> {
    match &mut p.synapses {
        SynapseSource::Declared(d) => Ok(d),
        SynapseSource::Anatomy { .. } => Err(format!(
            "population `{}` takes its synapses from an anatomy",
            p.name
        )),
    }
}

/// Apply a population field to one population; `Ok(false)` when the population does not
/// have the field (skipped by `*`).
fn apply_population(p: &mut Population, f: &PopField, v: &SweepValue) -> Result<bool, String> {
    match f {
        PopField::Cells => p.cells = count(v)?,
        PopField::Synapses => declared(p)?.count = count(v)?,
        PopField::Location => match v {
            SweepValue::Regions(r) => declared(p)?.regions = r.clone(),
            other => return Err(format!("expected regions, found {other:?}")),
        },
        PopField::Distance => match v {
            SweepValue::Pair(a, b) => declared(p)?.distance_um = Some((*a, *b)),
            other => return Err(format!("expected a (from, to) pair, found {other:?}")),
        },
        PopField::ReleaseProbability => p.release = Release::Probability(v.num()?),
        PopField::Delay => {
            if p.receptors.is_empty() {
                return Ok(false);
            }
            let x = v.num()?;
            p.receptors.iter_mut().for_each(|r| r.delay_ms = x);
        }
        PopField::Receptor {
            receptor,
            parameter,
        } => {
            let x = v.num()?;
            let map = receptors::by_name(receptor);
            let mech = map.map(|r| r.mechanism).unwrap_or(receptor.as_str());
            let mut hit = false;
            for r in p.receptors.iter_mut().filter(|r| r.mechanism == mech) {
                hit = true;
                let Some((Some(short), params)) = map.map(|r| (r.name, r.param_map)) else {
                    // A declared synapse mechanism: parameters (weights too) by their names.
                    set_param(&mut r.parameters, parameter, x);
                    continue;
                };
                let slot = match (short, parameter.as_str()) {
                    ("glutamate", "weight_ampa") | (_, "weight") => Some(0),
                    ("glutamate", "weight_nmda") => Some(1),
                    _ => None,
                };
                if let Some(k) = slot {
                    if r.weights_ns.len() <= k {
                        r.weights_ns.resize(k + 1, 0.0);
                    }
                    r.weights_ns[k] = x;
                } else if short == "glutamate" && parameter == "mg" {
                    set_param(&mut r.parameters, "n", GLUTAMATE_N_PER_MM * x);
                } else {
                    let targets = params
                        .iter()
                        .find(|(k, _)| k == parameter)
                        .map(|(_, t)| *t)
                        .ok_or_else(|| format!("receptor `{receptor}` has no `{parameter}`"))?;
                    for t in targets {
                        set_param(&mut r.parameters, t, x);
                    }
                }
            }
            return Ok(hit);
        }
        PopField::Activity {
            generator,
            parameter,
        } => {
            let x = v.num()?;
            let mut hit = false;
            for a in p.activity.iter_mut() {
                if generator_name(a) != Some(generator.as_str()) {
                    continue;
                }
                hit |= set_activity(a, parameter, x);
            }
            return Ok(hit);
        }
    }
    Ok(true)
}

/// glutamate_syn's Mg-block constant per mM of Mg (as `network::lower` sets it).
const GLUTAMATE_N_PER_MM: f64 = 0.25;

fn count(v: &SweepValue) -> Result<u32, String> {
    let x = v.num()?;
    if x >= 0.0 && x.fract() == 0.0 && x <= u32::MAX as f64 {
        Ok(x as u32)
    } else {
        Err(format!("{x} is not a whole number"))
    }
}

/// Set one parameter of an activity generator; false when it has no such parameter.
fn set_activity(a: &mut Activity, parameter: &str, x: f64) -> bool {
    match (a, parameter) {
        (Activity::Poisson { interval_ms, .. }, "interval") => *interval_ms = x,
        (Activity::Poisson { noise, .. }, "noise") => *noise = x,
        (Activity::Poisson { start_ms, .. }, "start") => *start_ms = x,
        (Activity::Poisson { stop_ms, .. }, "stop") => *stop_ms = Some(x),
        (Activity::Psth { offset_ms, .. }, "offset")
        | (Activity::PsthAbsolute { offset_ms, .. }, "offset")
        | (Activity::Single { offset_ms, .. }, "offset")
        | (Activity::Modulated { offset_ms, .. }, "offset") => *offset_ms = x,
        (
            Activity::Single {
                active_fraction, ..
            },
            "active",
        ) => *active_fraction = x,
        (Activity::Single { shape, .. }, p) => match (shape, p) {
            (SingleShape::Normal { mean_ms, .. }, "mean") => *mean_ms = x,
            (SingleShape::Normal { sd_ms, .. }, "sd") => *sd_ms = x,
            (SingleShape::Uniform { window_ms }, "window") => *window_ms = x,
            (SingleShape::LogNormal { mu, .. }, "mu") => *mu = x,
            (SingleShape::LogNormal { sigma, .. }, "sigma") => *sigma = x,
            _ => return false,
        },
        (
            Activity::Modulated {
                rate_before_offset_hz,
                ..
            },
            "rate_before",
        ) => *rate_before_offset_hz = x,
        (Activity::Modulated { mean_rate_hz, .. }, "mean_rate") => *mean_rate_hz = x,
        (Activity::Modulated { max_modulation, .. }, "modulation") => *max_modulation = x,
        (Activity::Modulated { frequency_hz, .. }, "frequency") => *frequency_hz = x,
        (Activity::Modulated { bin_ms, .. }, "bin") => *bin_ms = x,
        (
            Activity::Modulated {
                phase: crate::network::PhaseRule::Normal { mean, .. },
                ..
            },
            "phase_mean",
        ) => *mean = x,
        (
            Activity::Modulated {
                phase: crate::network::PhaseRule::Normal { sd, .. },
                ..
            },
            "phase_sd",
        ) => *sd = x,
        _ => return false,
    }
    true
}

/// Apply a population target to the typed network. An error when no population takes it
/// (the schema rules that out for checked scripts).
pub fn apply_network(net: &mut Network, t: &SweepTarget, v: &SweepValue) -> Result<(), String> {
    let SweepTarget::Population { population, field } = t else {
        return Err(format!("{t:?} is not a network field"));
    };
    let mut hit = false;
    for p in net.populations.iter_mut() {
        if population.as_ref().is_some_and(|n| *n != p.name) {
            continue;
        }
        hit |= apply_population(p, field, v)?;
    }
    if hit {
        Ok(())
    } else {
        Err(format!(
            "no population of `{}` has {field:?}",
            population.as_deref().unwrap_or("*")
        ))
    }
}
