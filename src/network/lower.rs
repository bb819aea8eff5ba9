//! `.isf` `network` blocks (checked [`crate::model::NetworkModel`]) → typed [`Network`], the
//! same model an ISF network `.param` file gives.
//!
//! Receptor names and parameters map onto ISF's mechanisms:
//! `glutamate` → `glutamate_syn` (weights `[weight_ampa, weight_nmda]`; `tau_nmda_decay` →
//! `tau1`, `tau_nmda_rise` → `tau2`, `tau_ampa_decay` → `tau3`, `tau_ampa_rise` → `tau4`,
//! `depression`/`facilitation`/`tau_*` → both components' `decay*`/`facil*`/`taud*`/`tauf*`,
//! `mg` → `n = 0.25/mM · mg`), `gaba` → `gaba_syn` (`tau_rise` → `risetime`, `tau_decay` →
//! `decaytime`, …), `exp2syn` → `exp2syn` (`tau1`, `tau2`, `e`) — the table is
//! [`super::receptors`]. Any other receptor name is a
//! synapse mechanism declared in the language; its parameters (weights included) keep their
//! names.

use super::receptors::{by_name, population_excitatory};
use super::types::*;
use crate::model::{NetworkModel, PopulationModel, Value};
use std::collections::BTreeMap;
use std::path::PathBuf;

/// glutamate_syn's Mg-block constant per mM of Mg (spec 03 §3.6: n = 0.25 /mM at 1 mM).
const GLUTAMATE_N_PER_MM: f64 = 0.25;

fn num(v: &Value) -> Option<f64> {
    match v {
        Value::Num { value, .. } => Some(*value),
        _ => None,
    }
}

fn err(pop: &str, msg: impl std::fmt::Display) -> String {
    format!("population `{pop}`: {msg}")
}

/// Lower a checked `.isf` network to the typed model. Errors are messages for values the
/// checker accepted but the network cannot use (e.g. a non-constant expression).
pub fn from_model(m: &NetworkModel) -> Result<Network, String> {
    let mut out = Network {
        name: m.name.clone(),
        ..Network::default()
    };
    for p in &m.populations {
        out.populations.push(population(p)?);
    }
    Ok(out)
}

fn population(p: &PopulationModel) -> Result<Population, String> {
    let f = |k: &str| p.fields.get(k);
    let cells = f("cells")
        .and_then(num)
        .ok_or_else(|| err(&p.name, "`cells` must be a constant number"))? as u32;
    let synapses = match f("synapses") {
        Some(Value::Obj { kind, args }) if kind == "anatomy" => {
            let path = |k: &str| match args.get(k) {
                Some(Value::Str(s)) => Ok(PathBuf::from(s)),
                _ => Err(err(&p.name, format!("anatomy has no `{k}` path"))),
            };
            SynapseSource::Anatomy {
                syn: path("syn")?,
                con: path("con")?,
            }
        }
        Some(v) => SynapseSource::Declared(declared(
            p,
            num(v).ok_or_else(|| err(&p.name, "`synapses` must be a number or anatomy(…)"))? as u32,
        )?),
        None => SynapseSource::Declared(declared(p, cells)?),
    };
    let release = match f("release_probability") {
        None => Release::Always,
        Some(Value::Str(s)) if s == "dynamic" => Release::Dynamic,
        Some(v) => Release::Probability(
            num(v).ok_or_else(|| err(&p.name, "`release_probability` must be constant"))?,
        ),
    };
    let delay_ms = f("delay").and_then(num).unwrap_or(0.0);
    let mut receptors = Vec::new();
    for (name, params) in &p.receptors {
        receptors.push(receptor(&p.name, name, params, delay_ms)?);
    }
    let mut activity = Vec::new();
    if let Some(a) = f("activity") {
        activities(&p.name, a, &mut activity)?;
    }
    let (mut cell_type, mut column) = split_type(&p.name);
    if let Some(Value::Str(s)) = f("cell_type") {
        cell_type = s.clone();
    }
    if let Some(Value::Str(s)) = f("column") {
        column = s.clone();
    }
    let excitatory = match f("excitatory") {
        Some(Value::Bool(b)) => Some(*b),
        _ => population_excitatory(&cell_type, &receptors),
    };
    Ok(Population {
        name: p.name.clone(),
        cell_type,
        column,
        cells,
        synapses,
        release,
        receptors,
        activity,
        excitatory,
    })
}

/// `count` declared synapses with the population's `location` and `distance`.
fn declared(p: &PopulationModel, count: u32) -> Result<DeclaredSynapses, String> {
    let mut out = DeclaredSynapses::count(count);
    if let Some(v) = p.fields.get("location") {
        let Value::List(items) = v else {
            return Err(err(&p.name, "`location` must be a list of regions"));
        };
        for it in items {
            let Value::Str(r) = it else {
                return Err(err(&p.name, "`location` must be a list of regions"));
            };
            out.regions.push(r.clone());
        }
    }
    if let Some(v) = p.fields.get("distance") {
        let bounds = match v {
            Value::List(items) => items.iter().map(num).collect::<Option<Vec<f64>>>(),
            _ => None,
        };
        match bounds.as_deref() {
            Some(&[from, to]) => out.distance_um = Some((from, to)),
            _ => {
                return Err(err(
                    &p.name,
                    "`distance` must be a pair of constant lengths",
                ));
            }
        }
    }
    Ok(out)
}

fn receptor(
    pop: &str,
    name: &str,
    params: &BTreeMap<String, Value>,
    delay_ms: f64,
) -> Result<Receptor, String> {
    let get = |k: &str| -> Result<Option<f64>, String> {
        match params.get(k) {
            None => Ok(None),
            Some(v) => num(v)
                .map(Some)
                .ok_or_else(|| err(pop, format!("`{name}.{k}` must be constant"))),
        }
    };
    let Some((mech, map)) = by_name(name).map(|r| (r.mechanism, r.param_map)) else {
        // A synapse mechanism declared `: synapse` (checked): parameters by their own names,
        // weights included (they are parameters of the mechanism).
        let mut parameters = Vec::new();
        for k in params.keys() {
            if let Some(v) = get(k)? {
                parameters.push((k.clone(), v));
            }
        }
        return Ok(Receptor {
            mechanism: name.to_string(),
            delay_ms,
            threshold_mv: 0.0,
            weights_ns: vec![],
            lognormal_weights: false,
            parameters,
        });
    };
    let weights_ns = if name == "glutamate" {
        vec![
            get("weight_ampa")?.unwrap_or(0.0),
            get("weight_nmda")?.unwrap_or(0.0),
        ]
    } else {
        vec![get("weight")?.unwrap_or(0.0)]
    };
    let mut parameters = Vec::new();
    for (k, targets) in map {
        if let Some(v) = get(k)? {
            for t in *targets {
                parameters.push((t.to_string(), v));
            }
        }
    }
    if name == "glutamate"
        && let Some(mg) = get("mg")?
    {
        parameters.push(("n".into(), GLUTAMATE_N_PER_MM * mg));
    }
    Ok(Receptor {
        mechanism: mech.to_string(),
        delay_ms,
        threshold_mv: 0.0,
        weights_ns,
        lognormal_weights: false,
        parameters,
    })
}

/// `[((begin, end), value), …]` as numbers (ms for the interval), or `None` if malformed.
fn interval_pairs(v: Option<&Value>) -> Option<Vec<((f64, f64), f64)>> {
    let Some(Value::List(items)) = v else {
        return None;
    };
    items
        .iter()
        .map(|b| {
            let Value::List(pair) = b else { return None };
            let [Value::List(iv), x] = pair.as_slice() else {
                return None;
            };
            let [b0, b1] = iv.as_slice() else { return None };
            Some(((num(b0)?, num(b1)?), num(x)?))
        })
        .collect()
}

fn activities(pop: &str, v: &Value, out: &mut Vec<Activity>) -> Result<(), String> {
    let Value::Obj { kind, args } = v else {
        return Err(err(pop, "`activity` must be an activity generator"));
    };
    let t = |k: &str| args.get(k).and_then(num);
    match kind.as_str() {
        "sum" => {
            // Parts are numbered "0", "1", …; order numerically (the map sorts as text).
            let mut parts: Vec<(usize, &Value)> = args
                .iter()
                .map(|(k, v)| (k.parse().unwrap_or(usize::MAX), v))
                .collect();
            parts.sort_by_key(|p| p.0);
            for (_, part) in parts {
                activities(pop, part, out)?;
            }
        }
        "poisson" => out.push(Activity::Poisson {
            interval_ms: t("interval")
                .ok_or_else(|| err(pop, "poisson needs a constant interval"))?,
            noise: t("noise").unwrap_or(1.0),
            start_ms: t("start").unwrap_or(0.0),
            stop_ms: t("stop"),
            nspikes: t("count").map(|c| c as u32),
        }),
        "psth_count" => {
            let bad = || err(pop, "a psth_count bin is ((begin, end), number of cells)");
            let mut bins = Vec::new();
            for ((b0, b1), n) in interval_pairs(args.get("bins")).ok_or_else(bad)? {
                if n < 0.0 || n.fract() != 0.0 {
                    return Err(bad());
                }
                bins.push((b0, b1, n as u32));
            }
            out.push(Activity::PsthAbsolute {
                bins,
                offset_ms: t("offset").unwrap_or(0.0),
            });
        }
        "normal_spike" | "uniform_spike" | "lognormal_spike" => {
            let need =
                |k: &str| t(k).ok_or_else(|| err(pop, format!("{kind} needs a constant `{k}`")));
            let shape = match kind.as_str() {
                "normal_spike" => SingleShape::Normal {
                    mean_ms: need("mean")?,
                    sd_ms: need("sd")?,
                },
                "uniform_spike" => SingleShape::Uniform {
                    window_ms: need("window")?,
                },
                _ => SingleShape::LogNormal {
                    mu: need("mu")?,
                    sigma: need("sigma")?,
                },
            };
            // ISF's `normal` defaults its offset to 10 ms, the others to 0.
            let default_offset = if kind == "normal_spike" { 10.0 } else { 0.0 };
            let active = need("active")?;
            if !(0.0..=1.0).contains(&active) {
                return Err(err(
                    pop,
                    format!("{kind}: `active` {active} is outside [0, 1]"),
                ));
            }
            out.push(Activity::Single {
                active_fraction: active,
                shape,
                offset_ms: t("offset").unwrap_or(default_offset),
            });
        }
        "poisson_rates" => {
            let bad = || err(pop, "a poisson_rates segment is ((begin, end), rate)");
            let segments = interval_pairs(args.get("segments"))
                .ok_or_else(bad)?
                .into_iter()
                .map(|((b0, b1), r)| (b0, b1, r))
                .collect::<Vec<_>>();
            if let Some(&(b0, b1, r)) = segments.iter().find(|s| !(s.2 >= 0.0 && s.1 >= s.0)) {
                return Err(err(
                    pop,
                    format!("poisson_rates: rate {r} Hz over [{b0}, {b1}) ms is invalid"),
                ));
            }
            out.push(Activity::PiecewisePoisson { segments });
        }
        "modulated" => {
            let need =
                |k: &str| t(k).ok_or_else(|| err(pop, format!("modulated needs a constant `{k}`")));
            let phase = match args.get("phase") {
                None => PhaseRule::Zero,
                Some(Value::Str(p)) if p == "zero" => PhaseRule::Zero,
                Some(Value::Str(p)) if p == "uniform" => PhaseRule::Uniform,
                Some(Value::Str(p)) if p == "normal" => PhaseRule::Normal {
                    mean: need("phase_mean")?,
                    sd: need("phase_sd")?,
                },
                Some(_) => {
                    return Err(err(pop, "phase is \"zero\", \"uniform\" or \"normal\""));
                }
            };
            let m = need("modulation")?;
            if !(0.0..=1.0).contains(&m) {
                return Err(err(
                    pop,
                    format!("modulated: `modulation` {m} is outside [0, 1]"),
                ));
            }
            out.push(Activity::Modulated {
                rate_before_offset_hz: need("rate_before")?,
                mean_rate_hz: need("mean_rate")?,
                max_modulation: m,
                frequency_hz: need("frequency")?,
                bin_ms: need("bin")?,
                phase,
                offset_ms: t("offset").unwrap_or(0.0),
            });
        }
        "psth" => {
            let mut bins = Vec::new();
            let Some(Value::List(items)) = args.get("bins") else {
                return Err(err(pop, "psth needs a list of bins"));
            };
            for b in items {
                let bad = || err(pop, "a psth bin is ((begin, end), probability)");
                let Value::List(pair) = b else {
                    return Err(bad());
                };
                let [Value::List(iv), p] = pair.as_slice() else {
                    return Err(bad());
                };
                let [b0, b1] = iv.as_slice() else {
                    return Err(bad());
                };
                bins.push(PsthBin {
                    begin_ms: num(b0).ok_or_else(bad)?,
                    end_ms: num(b1).ok_or_else(bad)?,
                    probability: num(p).ok_or_else(bad)?,
                });
            }
            out.push(Activity::Psth {
                bins,
                offset_ms: t("offset").unwrap_or(0.0),
            });
        }
        "spike_times" => {
            let Some(Value::List(items)) = args.get("times") else {
                return Err(err(pop, "spike_times needs a list of times"));
            };
            let mut times_ms = items
                .iter()
                .map(|v| num(v).ok_or_else(|| err(pop, "spike times must be constant")))
                .collect::<Result<Vec<_>, _>>()?;
            times_ms.sort_by(f64::total_cmp);
            out.push(Activity::SpikeTimes { times_ms });
        }
        other => return Err(err(pop, format!("`{other}` is not an activity generator"))),
    }
    Ok(())
}
