//! ISF network `.param` files (spec 04 §4.2, 10 §10.2) → typed [`Network`].
//!
//! Stricter than ISF: unknown keys, misspelt receptor parameters (ISF silently creates a
//! global simulator variable), probabilities outside [0, 1], negative intervals, rates or
//! cell counts are located errors. Value ranges are checked by [`crate::rules`], so a value
//! gets the same code here as in a `.isf` script (E0314, E0407). File paths are
//! resolved relative to the parameter file.

use crate::diagnostics::Code;
use crate::files::FileError;
use crate::interop::formats::param::{ParamNode, ParamValue, parse_param, read_param_file};
use crate::network::receptors::{RECEPTORS, by_mechanism, population_excitatory};
use crate::network::types::*;
use crate::rules;
use std::path::{Path, PathBuf};

/// The mechanisms that draw their own release (`releaseProb: "dynamic"` needs one), for
/// messages.
fn stochastic_names() -> String {
    RECEPTORS
        .iter()
        .filter(|r| r.stochastic)
        .map(|r| r.mechanism)
        .collect::<Vec<_>>()
        .join(", ")
}

/// Read an ISF network parameter file into a typed [`Network`] named after the file stem.
pub fn isf_network_param(path: &Path) -> Result<Network, FileError> {
    let base = path.parent().unwrap_or(Path::new(""));
    let name = path
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    let file = path.display().to_string();
    // The checker and the runner both read the network: parsed once per content.
    crate::files::parse_cached(path, |text| {
        network_from_param(&parse_param(text, &file)?, &file, base, &name)
    })
    .unwrap_or_else(|| network_from_param(&read_param_file(path)?, &file, base, &name))
}

struct Ctx<'a> {
    file: &'a str,
    base: &'a Path,
}

impl Ctx<'_> {
    fn err(&self, n: &ParamNode, code: Code, msg: String) -> FileError {
        FileError::new(code, msg, self.file, n.line, n.column)
    }

    fn dict<'n>(
        &self,
        n: &'n ParamNode,
        what: &str,
    ) -> Result<&'n [(String, ParamNode)], FileError> {
        n.entries()
            .ok_or_else(|| self.err(n, Code::E0802, format!("{what} must be a dict")))
    }

    /// A [`rules`] check at this value's position: the same code as in a script.
    fn rule<T>(&self, n: &ParamNode, r: Result<T, rules::Broken>) -> Result<T, FileError> {
        r.map_err(|b| self.err(n, b.code, b.message))
    }

    fn num(&self, n: &ParamNode, what: &str) -> Result<f64, FileError> {
        match n.as_f64() {
            Some(v) => self.rule(n, rules::finite(&format!("`{what}`"), v, "")),
            None => Err(self.err(n, Code::E0802, format!("`{what}` must be a finite number"))),
        }
    }

    fn nonneg(&self, n: &ParamNode, what: &str, unit: &str) -> Result<f64, FileError> {
        let v = self.num(n, what)?;
        self.rule(n, rules::non_negative(&format!("`{what}`"), v, unit))
    }

    fn duration(&self, n: &ParamNode, what: &str) -> Result<f64, FileError> {
        let v = self.num(n, what)?;
        self.rule(n, rules::positive_duration(&format!("`{what}`"), v))
    }

    fn prob(&self, n: &ParamNode, what: &str) -> Result<f64, FileError> {
        let v = self.num(n, what)?;
        self.rule(n, rules::probability(&format!("`{what}`"), v))
    }

    fn frac(&self, n: &ParamNode, what: &str) -> Result<f64, FileError> {
        let v = self.num(n, what)?;
        self.rule(n, rules::fraction(&format!("`{what}`"), v))
    }

    fn count(&self, n: &ParamNode, what: &str, min: u32) -> Result<u32, FileError> {
        let v = self.num(n, what)?;
        self.rule(n, rules::count(&format!("`{what}`"), v, min))
    }

    fn list<'n>(&self, n: &'n ParamNode, what: &str) -> Result<&'n [ParamNode], FileError> {
        match &n.value {
            ParamValue::List(v) => Ok(v),
            _ => Err(self.err(n, Code::E0802, format!("`{what}` must be a list"))),
        }
    }

    fn nums(&self, n: &ParamNode, what: &str) -> Result<Vec<f64>, FileError> {
        self.list(n, what)?
            .iter()
            .map(|x| self.num(x, what))
            .collect()
    }

    fn path(&self, n: &ParamNode, what: &str) -> Result<PathBuf, FileError> {
        let s = n
            .as_str()
            .ok_or_else(|| self.err(n, Code::E0802, format!("`{what}` must be a path string")))?;
        let p = Path::new(s);
        Ok(if p.is_absolute() {
            p.to_path_buf()
        } else {
            self.base.join(p)
        })
    }

    /// Fail on keys outside `allowed`.
    fn keys(
        &self,
        entries: &[(String, ParamNode)],
        allowed: &[&str],
        what: &str,
    ) -> Result<(), FileError> {
        for (k, v) in entries {
            if !allowed.contains(&k.as_str()) {
                let mut msg = format!("unknown key `{k}` in {what}");
                if let Some(hint) = crate::diagnostics::did_you_mean(k, allowed.iter().copied()) {
                    msg.push_str(&format!(" ({hint})"));
                } else {
                    msg.push_str(&format!(" (expected one of {})", allowed.join(", ")));
                }
                return Err(self.err(v, Code::E0803, msg));
            }
        }
        Ok(())
    }

    fn req<'n>(&self, n: &'n ParamNode, key: &str, what: &str) -> Result<&'n ParamNode, FileError> {
        n.get(key)
            .ok_or_else(|| self.err(n, Code::E0804, format!("{what} has no `{key}`")))
    }
}

/// Build a typed [`Network`] from a parsed network parameter file. `file` names the file in
/// errors; relative paths are resolved against `base`.
pub fn network_from_param(
    root: &ParamNode,
    file: &str,
    base: &Path,
    name: &str,
) -> Result<Network, FileError> {
    let cx = Ctx { file, base };
    let top = cx.dict(root, "the network parameter file")?;
    cx.keys(
        top,
        &["info", "NMODL_mechanisms", "network"],
        "the network parameter file",
    )?;
    let net = cx.req(root, "network", "the network parameter file")?;
    let mut out = Network {
        name: name.to_string(),
        ..Network::default()
    };
    for (k, v) in cx.dict(net, "`network`")? {
        if k == "network_modify_functions" {
            out.modify = modify_functions(&cx, v)?;
            continue;
        }
        out.populations.push(population(&cx, k, v)?);
    }
    Ok(out)
}

const ONGOING_KEYS: &[&str] = &["interval", "noise", "start", "nspikes"];
const POINTCELL_KEYS: &[&str] = &[
    "distribution",
    "intervals",
    "probabilities",
    "offset",
    "number_active_synapses",
    "activeFrac",
    "spikeT",
    "spikeWidth",
    "window",
    "mu",
    "sigma",
    "bins",
    "rates",
    "rate_before_t_offset",
    "mean_rate",
    "max_modulation",
    "modulation_frequency",
    "bin_size",
    "phase_distribution",
    "mean_phase",
    "std_phase",
];

fn population(cx: &Ctx, name: &str, n: &ParamNode) -> Result<Population, FileError> {
    let entries = cx.dict(n, &format!("population `{name}`"))?;
    let what = format!("population `{name}`");
    let celltype = cx.req(n, "celltype", &what)?;
    // With a string `celltype`, the activity keys sit at the population level.
    let mut allowed: Vec<&str> = vec!["cellNr", "celltype", "synapses"];
    match celltype.as_str() {
        Some("spiketrain") => allowed.extend(ONGOING_KEYS),
        Some("pointcell") => allowed.extend(POINTCELL_KEYS),
        _ => {}
    }
    cx.keys(entries, &allowed, &what)?;
    let cells = cx.count(cx.req(n, "cellNr", &what)?, "cellNr", 0)?;
    let mut activity = Vec::new();
    match &celltype.value {
        ParamValue::String(s) if s == "spiketrain" => activity.push(spiketrain(cx, n, false)?),
        ParamValue::String(s) if s == "pointcell" => activity.push(pointcell(cx, n, false)?),
        ParamValue::Dict(sub) => {
            for (k, v) in sub {
                match k.as_str() {
                    "spiketrain" => activity.push(spiketrain(cx, v, true)?),
                    "pointcell" => activity.push(pointcell(cx, v, true)?),
                    _ => {
                        return Err(cx.err(
                            v,
                            Code::E0803,
                            format!(
                                "unknown cell type `{k}` (expected `spiketrain` or `pointcell`)"
                            ),
                        ));
                    }
                }
            }
        }
        _ => {
            return Err(cx.err(
                celltype,
                Code::E0802,
                "`celltype` must be \"spiketrain\", \"pointcell\" or a dict of them".into(),
            ));
        }
    }
    let syn = cx.req(n, "synapses", &what)?;
    let se = cx.dict(syn, "`synapses`")?;
    cx.keys(
        se,
        &[
            "distributionFile",
            "connectionFile",
            "releaseProb",
            "receptors",
        ],
        "`synapses`",
    )?;
    let synapses = SynapseSource::Anatomy {
        syn: cx.path(
            cx.req(syn, "distributionFile", "`synapses`")?,
            "distributionFile",
        )?,
        con: cx.path(
            cx.req(syn, "connectionFile", "`synapses`")?,
            "connectionFile",
        )?,
    };
    let release = match syn.get("releaseProb") {
        None => Release::Always,
        Some(r) if r.as_str() == Some("dynamic") => Release::Dynamic,
        Some(r) => Release::Probability(cx.prob(r, "releaseProb")?),
    };
    let rec = cx.req(syn, "receptors", "`synapses`")?;
    let mut receptors = Vec::new();
    for (mech, r) in cx.dict(rec, "`receptors`")? {
        receptors.push(receptor(cx, mech, r)?);
    }
    if release == Release::Dynamic
        && !receptors
            .iter()
            .any(|r| by_mechanism(&r.mechanism).is_some_and(|s| s.stochastic))
        && let Some(at) = syn.get("releaseProb")
    {
        // ISF fails here too (spec 04 §4.5): the receptor has no generator to draw from.
        return Err(cx.err(
            at,
            Code::E0214,
            format!(
                "`{name}`: releaseProb \"dynamic\" needs a receptor that draws its own release \
                 ({}); receptors here: {}",
                stochastic_names(),
                receptors
                    .iter()
                    .map(|r| r.mechanism.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        ));
    }
    let (cell_type, column) = split_type(name);
    let excitatory = population_excitatory(&cell_type, &receptors);
    Ok(Population {
        name: name.to_string(),
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

fn receptor(cx: &Ctx, mech: &str, n: &ParamNode) -> Result<Receptor, FileError> {
    let Some((spec, known)) = by_mechanism(mech).and_then(|r| r.file_params.map(|k| (r, k))) else {
        return Err(cx.err(
            n,
            Code::E0803,
            format!(
                "unknown receptor mechanism `{mech}` (known: {})",
                RECEPTORS
                    .iter()
                    .filter(|r| r.file_params.is_some())
                    .map(|r| r.mechanism)
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        ));
    };
    let what = format!("receptor `{mech}`");
    cx.keys(
        cx.dict(n, &what)?,
        &[
            "threshold",
            "delay",
            "weight",
            "weightDistribution",
            "parameter",
        ],
        &what,
    )?;
    // ISF requires `delay` (the simulator default of 1 ms would apply otherwise).
    let delay_ms = cx.nonneg(cx.req(n, "delay", &what)?, "delay", "ms")?;
    let threshold_mv = match n.get("threshold") {
        Some(t) => cx.num(t, "threshold")?,
        None => 0.0,
    };
    let w = cx.req(n, "weight", &what)?;
    let weights_ns = match &w.value {
        ParamValue::List(_) => cx.nums(w, "weight")?,
        _ => vec![cx.num(w, "weight")?],
    };
    for (k, &x) in weights_ns.iter().enumerate() {
        cx.rule(w, rules::non_negative(&format!("weight {k}"), x, "nS"))?;
    }
    let lognormal_weights = match n.get("weightDistribution") {
        None => false,
        Some(d) if d.as_str() == Some("lognormal") => true,
        Some(d) => {
            return Err(cx.err(
                d,
                Code::E0802,
                "`weightDistribution` must be \"lognormal\"".into(),
            ));
        }
    };
    let mut parameters = Vec::new();
    if let Some(p) = n.get("parameter") {
        for (k, v) in cx.dict(p, "`parameter`")? {
            if !known.contains(&k.as_str()) {
                return Err(cx.err(
                    v,
                    Code::E0803,
                    format!(
                        "`{mech}` has no parameter `{k}` (ISF would silently create a global \
                         `{k}_{mech}`); parameters: {}",
                        known.join(", ")
                    ),
                ));
            }
            let x = cx.num(v, k)?;
            // The mod files' units → the canonical units of the stdlib synapses.
            let f = spec
                .mod_file_units
                .iter()
                .find(|u| u.0 == k)
                .map_or(1.0, |u| u.1);
            parameters.push((k.clone(), x * f));
        }
    }
    Ok(Receptor {
        mechanism: mech.to_string(),
        delay_ms,
        threshold_mv,
        weights_ns,
        lognormal_weights,
        parameters,
    })
}

fn spiketrain(cx: &Ctx, n: &ParamNode, own_dict: bool) -> Result<Activity, FileError> {
    if own_dict {
        cx.keys(cx.dict(n, "`spiketrain`")?, ONGOING_KEYS, "`spiketrain`")?;
    }
    let interval_ms = cx.duration(cx.req(n, "interval", "`spiketrain`")?, "interval")?;
    let noise = match n.get("noise") {
        Some(v) => cx.frac(v, "noise")?,
        None => 1.0,
    };
    let start_ms = match n.get("start") {
        Some(v) => cx.nonneg(v, "start", "ms")?,
        None => 0.0,
    };
    let nspikes = n
        .get("nspikes")
        .map(|v| cx.count(v, "nspikes", 0))
        .transpose()?;
    Ok(Activity::Poisson {
        interval_ms,
        noise,
        start_ms,
        stop_ms: None,
        nspikes,
    })
}

fn bins(cx: &Ctx, n: &ParamNode) -> Result<Vec<(f64, f64)>, FileError> {
    let mut out = Vec::new();
    for b in cx.list(n, "intervals")? {
        let v = cx.nums(b, "intervals")?;
        if v.len() != 2 {
            return Err(cx.err(b, Code::E0802, "an interval is a pair (begin, end)".into()));
        }
        cx.rule(b, rules::interval("`intervals` entry", v[0], v[1]))?;
        out.push((v[0], v[1]));
    }
    Ok(out)
}

fn pointcell(cx: &Ctx, n: &ParamNode, own_dict: bool) -> Result<Activity, FileError> {
    if own_dict {
        cx.keys(cx.dict(n, "`pointcell`")?, POINTCELL_KEYS, "`pointcell`")?;
    }
    let dist = match n.get("distribution") {
        Some(d) => d
            .as_str()
            .ok_or_else(|| cx.err(d, Code::E0802, "`distribution` must be a string".into()))?,
        // ISF defaults to `normal` with a warning; a silent default hides typos, so require it.
        None => return Err(cx.err(n, Code::E0804, "`pointcell` has no `distribution`".into())),
    };
    let offset = |default: f64| -> Result<f64, FileError> {
        match n.get("offset") {
            Some(v) => cx.num(v, "offset"),
            None => Ok(default),
        }
    };
    let frac = || cx.frac(cx.req(n, "activeFrac", "`pointcell`")?, "activeFrac");
    Ok(match dist {
        "PSTH" => {
            let b = bins(cx, cx.req(n, "intervals", "`PSTH`")?)?;
            let pn = cx.req(n, "probabilities", "`PSTH`")?;
            let ps = cx.list(pn, "probabilities")?;
            if ps.len() != b.len() {
                return Err(cx.err(
                    pn,
                    Code::E0802,
                    format!("{} probabilities for {} intervals", ps.len(), b.len()),
                ));
            }
            let mut out = Vec::with_capacity(b.len());
            for ((b0, b1), p) in b.iter().zip(ps) {
                out.push(PsthBin {
                    begin_ms: *b0,
                    end_ms: *b1,
                    probability: cx.prob(p, "probabilities")?,
                });
            }
            Activity::Psth {
                bins: out,
                offset_ms: offset(0.0)?,
            }
        }
        "PSTH_absolute_number" => {
            let b = bins(cx, cx.req(n, "intervals", "`PSTH_absolute_number`")?)?;
            let nn = cx.req(n, "number_active_synapses", "`PSTH_absolute_number`")?;
            let ns = cx.list(nn, "number_active_synapses")?;
            if ns.len() != b.len() {
                return Err(cx.err(
                    nn,
                    Code::E0802,
                    format!("{} numbers for {} intervals", ns.len(), b.len()),
                ));
            }
            let mut out = Vec::new();
            for ((b0, b1), k) in b.iter().zip(ns) {
                out.push((*b0, *b1, cx.count(k, "number_active_synapses", 0)?));
            }
            Activity::PsthAbsolute {
                bins: out,
                offset_ms: offset(0.0)?,
            }
        }
        "normal" => Activity::Single {
            active_fraction: frac()?,
            shape: SingleShape::Normal {
                mean_ms: cx.num(cx.req(n, "spikeT", "`normal`")?, "spikeT")?,
                sd_ms: cx.nonneg(cx.req(n, "spikeWidth", "`normal`")?, "spikeWidth", "ms")?,
            },
            offset_ms: offset(10.0)?,
        },
        "uniform" => Activity::Single {
            active_fraction: frac()?,
            shape: SingleShape::Uniform {
                window_ms: cx.nonneg(cx.req(n, "window", "`uniform`")?, "window", "ms")?,
            },
            offset_ms: offset(0.0)?,
        },
        "lognormal" => Activity::Single {
            active_fraction: frac()?,
            shape: SingleShape::LogNormal {
                mu: cx.num(cx.req(n, "mu", "`lognormal`")?, "mu")?,
                sigma: cx.nonneg(cx.req(n, "sigma", "`lognormal`")?, "sigma", "")?,
            },
            offset_ms: offset(0.0)?,
        },
        "PSTH_poissontrain_v2" => {
            let edges = cx.nums(cx.req(n, "bins", "`PSTH_poissontrain_v2`")?, "bins")?;
            let rn = cx.req(n, "rates", "`PSTH_poissontrain_v2`")?;
            let rates = cx.nums(rn, "rates")?;
            if edges.len() != rates.len() + 1 {
                return Err(cx.err(
                    rn,
                    Code::E0802,
                    format!(
                        "{} rates need {} bin edges, found {}",
                        rates.len(),
                        rates.len() + 1,
                        edges.len()
                    ),
                ));
            }
            let mut segments = Vec::new();
            for (i, &r) in rates.iter().enumerate() {
                cx.rule(rn, rules::non_negative(&format!("rate {i}"), r, "Hz"))?;
                cx.rule(
                    rn,
                    rules::interval(&format!("bin {i}"), edges[i], edges[i + 1]),
                )?;
                segments.push((edges[i], edges[i + 1], r));
            }
            Activity::PiecewisePoisson { segments }
        }
        "PSTH_poissontrain" => {
            let b = bins(cx, cx.req(n, "intervals", "`PSTH_poissontrain`")?)?;
            let rn = cx.req(n, "rates", "`PSTH_poissontrain`")?;
            let rates = cx.nums(rn, "rates")?;
            if rates.len() != b.len() {
                return Err(cx.err(
                    rn,
                    Code::E0802,
                    format!("{} rates for {} intervals", rates.len(), b.len()),
                ));
            }
            let mut segments = Vec::new();
            for (i, ((b0, b1), r)) in b.iter().zip(rates).enumerate() {
                cx.rule(rn, rules::non_negative(&format!("rate {i}"), r, "Hz"))?;
                segments.push((*b0, *b1, r));
            }
            Activity::PiecewisePoisson { segments }
        }
        "poissontrain_modulated" => {
            let w = "`poissontrain_modulated`";
            let phase = match n.get("phase_distribution").and_then(|p| p.as_str()) {
                Some("uniform") => PhaseRule::Uniform,
                Some("normal") => PhaseRule::Normal {
                    mean: cx.num(cx.req(n, "mean_phase", w)?, "mean_phase")?,
                    sd: cx.nonneg(cx.req(n, "std_phase", w)?, "std_phase", "")?,
                },
                _ => PhaseRule::Zero,
            };
            Activity::Modulated {
                rate_before_offset_hz: cx.nonneg(
                    cx.req(n, "rate_before_t_offset", w)?,
                    "rate_before_t_offset",
                    "Hz",
                )?,
                mean_rate_hz: cx.nonneg(cx.req(n, "mean_rate", w)?, "mean_rate", "Hz")?,
                max_modulation: cx.frac(cx.req(n, "max_modulation", w)?, "max_modulation")?,
                frequency_hz: cx.nonneg(
                    cx.req(n, "modulation_frequency", w)?,
                    "modulation_frequency",
                    "Hz",
                )?,
                bin_ms: cx.duration(cx.req(n, "bin_size", w)?, "bin_size")?,
                phase,
                offset_ms: cx.nonneg(cx.req(n, "offset", w)?, "offset", "ms")?,
            }
        }
        other => {
            return Err(cx.err(
                n.get("distribution").unwrap_or(n),
                Code::E0803,
                format!("unknown pointcell distribution `{other}`"),
            ));
        }
    })
}

fn modify_functions(cx: &Ctx, n: &ParamNode) -> Result<Vec<NetworkModify>, FileError> {
    let mut out = Vec::new();
    for (k, v) in cx.dict(n, "`network_modify_functions`")? {
        let spike_sources = match k.as_str() {
            "silence_synapses_by_somadist" => None,
            "silence_synapses_by_somadist_and_spike_source" => Some(
                cx.list(cx.req(v, "spike_sources", k)?, "spike_sources")?
                    .iter()
                    .map(|s| {
                        s.as_str().map(str::to_string).ok_or_else(|| {
                            cx.err(s, Code::E0802, "spike sources are strings".into())
                        })
                    })
                    .collect::<Result<Vec<_>, _>>()?,
            ),
            _ => {
                return Err(cx.err(
                    v,
                    Code::E0803,
                    format!("unknown network modify function `{k}`"),
                ));
            }
        };
        let mut ranges = Vec::new();
        for (ty, r) in cx.dict(cx.req(v, "soma_dist_ranges", k)?, "`soma_dist_ranges`")? {
            let mm = cx.nums(r, "soma_dist_ranges")?;
            if mm.len() != 2 {
                return Err(cx.err(r, Code::E0802, "a range is [min, max]".into()));
            }
            ranges.push((ty.clone(), mm[0], mm[1]));
        }
        out.push(NetworkModify::SilenceBySomaDistance {
            ranges,
            spike_sources,
        });
    }
    Ok(out)
}
