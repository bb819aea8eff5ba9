//! ISF network `.param` → `.isf` `network` block (the network half of `isf convert`; the
//! `convert` command itself belongs to the CLI).
//!
//! Only what the language can state is converted: `spiketrain` with noise 1 and no
//! `nspikes`, `PSTH` point cells, numeric and `"dynamic"` release probabilities,
//! `glutamate_syn` with equal AMPA/NMDA depression and facilitation settings, `gaba_syn`, and
//! the stochastic `ProbAMPANMDA2`/`ProbUDFsyn2` (by their own names, imported from
//! `std.synapses`). Anything else is an error
//! naming the population, never a silent approximation.

use super::network_param::network_from_param;
use crate::diagnostics::Code;
use crate::files::FileError;
use crate::interop::formats::param::ParamNode;
use crate::network::receptors::by_mechanism;
use crate::network::types::*;
use std::fmt::Write as _;
use std::path::Path;

/// Convert a parsed network `.param` file into `.isf` source declaring `network NAME`.
/// `file` names the file in errors; anatomy paths are written relative to `base` (the
/// directory of the `.param` file, where the `.isf` file is expected to live).
pub fn network_param_to_isf(
    root: &ParamNode,
    file: &str,
    base: &Path,
    name: &str,
) -> Result<String, FileError> {
    let net = network_from_param(root, file, base, name)?;
    network_to_isf(&net, base).map_err(|m| FileError::new(Code::E0802, m, file, 0, 0))
}

fn ms(v: f64) -> String {
    format!("{v} ms")
}

/// Write a typed network as an `.isf` `network` block.
pub fn network_to_isf(net: &Network, base: &Path) -> Result<String, String> {
    let mut s = String::new();
    if !net.modify.is_empty() {
        return Err("network_modify_functions cannot be written in .isf yet".into());
    }
    // Receptors written by their own names come from the standard library.
    let mut imports: Vec<&str> = Vec::new();
    for p in &net.populations {
        for r in &p.receptors {
            if by_mechanism(&r.mechanism).is_some_and(|s| s.stochastic)
                && !imports.contains(&r.mechanism.as_str())
            {
                imports.push(&r.mechanism);
            }
        }
    }
    if !imports.is_empty() {
        let _ = writeln!(s, "import std.synapses.{{{}}}\n", imports.join(", "));
    }
    let _ = writeln!(s, "network {} {{", net.name);
    for (i, p) in net.populations.iter().enumerate() {
        if i > 0 {
            s.push('\n');
        }
        population(&mut s, p, base)?;
    }
    s.push_str("}\n");
    Ok(s)
}

fn population(s: &mut String, p: &Population, base: &Path) -> Result<(), String> {
    let e = |m: &str| format!("population `{}`: {m}", p.name);
    let _ = writeln!(s, "    population {} {{", p.name);
    let _ = writeln!(s, "        cells: {}", p.cells);
    match &p.synapses {
        SynapseSource::Anatomy { syn, con } => {
            let rel =
                |q: &Path| crate::interop::cell_param::relative_to(q, base).replace('\\', "/");
            let _ = writeln!(
                s,
                "        synapses: anatomy(syn: \"{}\", con: \"{}\")",
                rel(syn),
                rel(con)
            );
        }
        SynapseSource::Declared(d) => {
            let _ = writeln!(s, "        synapses: {}", d.count);
            if !d.regions.is_empty() {
                let _ = writeln!(s, "        location: [{}]", d.regions.join(", "));
            }
            if let Some((from, to)) = d.distance_um {
                let _ = writeln!(s, "        distance: ({from} um, {to} um)");
            }
        }
    }
    match p.release {
        Release::Probability(x) => {
            let _ = writeln!(s, "        release_probability: {x}");
        }
        Release::Always => {}
        Release::Dynamic => {
            let _ = writeln!(s, "        release_probability: \"dynamic\"");
        }
    }
    let delays: Vec<f64> = p.receptors.iter().map(|r| r.delay_ms).collect();
    if let Some(&d) = delays.first() {
        if delays.iter().any(|&x| x != d) {
            return Err(e("receptors with different delays"));
        }
        if d != 0.0 {
            let _ = writeln!(s, "        delay: {}", ms(d));
        }
    }
    for r in &p.receptors {
        receptor(s, r).map_err(|m| e(&m))?;
    }
    let mut parts = Vec::new();
    for a in &p.activity {
        parts.push(activity(a).map_err(|m| e(&m))?);
    }
    if !parts.is_empty() {
        let _ = writeln!(s, "        activity: {}", parts.join(" + "));
    }
    s.push_str("    }\n");
    Ok(())
}

fn receptor(s: &mut String, r: &Receptor) -> Result<(), String> {
    if r.lognormal_weights {
        return Err("log-normal weights have no .isf form yet".into());
    }
    if by_mechanism(&r.mechanism).is_some_and(|s| s.stochastic) {
        return own_names(s, r);
    }
    let Some((name, map)) = by_mechanism(&r.mechanism).and_then(|s| Some((s.name?, s.param_map)))
    else {
        return Err(format!("receptor `{}` has no .isf form yet", r.mechanism));
    };
    let mut fields = Vec::new();
    if name == "glutamate" {
        let w = |k: usize| r.weights_ns.get(k).copied().unwrap_or(0.0);
        fields.push(format!(
            "weight_ampa: {} nS, weight_nmda: {} nS",
            w(0),
            w(1)
        ));
    } else {
        if r.weights_ns.len() > 1 {
            return Err(format!("`{}` takes one weight", r.mechanism));
        }
        fields.push(format!(
            "weight: {} nS",
            r.weights_ns.first().copied().unwrap_or(0.0)
        ));
    }
    let get = |k: &str| r.parameters.iter().find(|p| p.0 == k).map(|p| p.1);
    let mut used = 0;
    for (isf, targets) in map {
        let vals: Vec<Option<f64>> = targets.iter().map(|t| get(t)).collect();
        used += vals.iter().filter(|v| v.is_some()).count();
        let Some(v) = vals[0] else {
            if vals.iter().any(Option::is_some) {
                return Err(format!(
                    "`{}` sets only some of {}",
                    r.mechanism,
                    targets.join(", ")
                ));
            }
            continue;
        };
        if vals.iter().any(|x| *x != Some(v)) {
            return Err(format!(
                "`{}`: {} differ",
                r.mechanism,
                targets.join(" and ")
            ));
        }
        let unit = if isf.starts_with("tau") {
            " ms"
        } else if *isf == "e" {
            " mV"
        } else {
            ""
        };
        fields.push(format!("{isf}: {v}{unit}"));
    }
    if name == "glutamate"
        && let Some(n) = get("n")
    {
        used += 1;
        fields.push(format!("mg: {} mM", n / 0.25));
    }
    if used != r.parameters.len() {
        let extra: Vec<&str> = r
            .parameters
            .iter()
            .filter(|(k, _)| k != "n" && !map.iter().any(|(_, ts)| ts.contains(&k.as_str())))
            .map(|(k, _)| k.as_str())
            .collect();
        return Err(format!(
            "`{}` parameters {} have no .isf form",
            r.mechanism,
            extra.join(", ")
        ));
    }
    let _ = writeln!(s, "        receptor {name} {{");
    for f in fields {
        let _ = writeln!(s, "            {f}");
    }
    s.push_str("        }\n");
    Ok(())
}

/// A receptor written with the mechanism's own name and parameter names (the stdlib's
/// ProbAMPANMDA2 and ProbUDFsyn2): weight slot 0 is `w`; values are canonical (`gmax` in nS
/// after the reader's µS conversion).
fn own_names(s: &mut String, r: &Receptor) -> Result<(), String> {
    if r.weights_ns.len() > 1 {
        return Err(format!("`{}` takes one weight", r.mechanism));
    }
    let mut fields = vec![format!(
        "w: {}",
        r.weights_ns.first().copied().unwrap_or(0.0)
    )];
    for (k, v) in &r.parameters {
        let unit = if k.starts_with("tau") || k == "Dep" || k == "Fac" {
            " ms"
        } else if k == "e" {
            " mV"
        } else if k == "mg" {
            " mM"
        } else if k == "gmax" {
            " nS"
        } else {
            ""
        };
        fields.push(format!("{k}: {v}{unit}"));
    }
    let _ = writeln!(s, "        receptor {} {{", r.mechanism);
    for f in fields {
        let _ = writeln!(s, "            {f}");
    }
    s.push_str("        }\n");
    Ok(())
}

fn activity(a: &Activity) -> Result<String, String> {
    Ok(match a {
        Activity::Poisson {
            interval_ms,
            noise,
            start_ms,
            stop_ms,
            nspikes,
        } => {
            let mut args = vec![format!("interval: {}", ms(*interval_ms))];
            if *start_ms != 0.0 {
                args.push(format!("start: {}", ms(*start_ms)));
            }
            if let Some(t) = stop_ms {
                args.push(format!("stop: {}", ms(*t)));
            }
            if *noise != 1.0 {
                args.push(format!("noise: {noise}"));
            }
            if let Some(n) = nspikes {
                args.push(format!("count: {n}"));
            }
            format!("poisson({})", args.join(", "))
        }
        Activity::PsthAbsolute { bins, offset_ms } => {
            let b: Vec<String> = bins
                .iter()
                .map(|(b0, b1, n)| format!("(({}, {}), {n})", ms(*b0), ms(*b1)))
                .collect();
            format!(
                "psth_count(bins: [{}], offset: {})",
                b.join(", "),
                ms(*offset_ms)
            )
        }
        Activity::Single {
            active_fraction,
            shape,
            offset_ms,
        } => {
            let o = ms(*offset_ms);
            match shape {
                SingleShape::Normal { mean_ms, sd_ms } => format!(
                    "normal_spike(active: {active_fraction}, mean: {}, sd: {}, offset: {o})",
                    ms(*mean_ms),
                    ms(*sd_ms)
                ),
                SingleShape::Uniform { window_ms } => format!(
                    "uniform_spike(active: {active_fraction}, window: {}, offset: {o})",
                    ms(*window_ms)
                ),
                SingleShape::LogNormal { mu, sigma } => format!(
                    "lognormal_spike(active: {active_fraction}, mu: {mu}, sigma: {sigma}, offset: \
                     {o})"
                ),
            }
        }
        Activity::PiecewisePoisson { segments } => {
            let s: Vec<String> = segments
                .iter()
                .map(|(b0, b1, r)| format!("(({}, {}), {r} Hz)", ms(*b0), ms(*b1)))
                .collect();
            format!("poisson_rates(segments: [{}])", s.join(", "))
        }
        Activity::Modulated {
            rate_before_offset_hz,
            mean_rate_hz,
            max_modulation,
            frequency_hz,
            bin_ms,
            phase,
            offset_ms,
        } => {
            let ph = match phase {
                PhaseRule::Zero => "phase: \"zero\"".to_string(),
                PhaseRule::Uniform => "phase: \"uniform\"".to_string(),
                PhaseRule::Normal { mean, sd } => {
                    format!("phase: \"normal\", phase_mean: {mean}, phase_sd: {sd}")
                }
            };
            format!(
                "modulated(rate_before: {rate_before_offset_hz} Hz, mean_rate: {mean_rate_hz} Hz, \
                 modulation: {max_modulation}, frequency: {frequency_hz} Hz, bin: {}, offset: {}, \
                 {ph})",
                ms(*bin_ms),
                ms(*offset_ms)
            )
        }
        Activity::Psth { bins, offset_ms } => {
            let b: Vec<String> = bins
                .iter()
                .map(|b| {
                    format!(
                        "(({}, {}), {})",
                        ms(b.begin_ms),
                        ms(b.end_ms),
                        b.probability
                    )
                })
                .collect();
            format!("psth(bins: [{}], offset: {})", b.join(", "), ms(*offset_ms))
        }
        Activity::SpikeTimes { times_ms } => {
            let t: Vec<String> = times_ms.iter().map(|&t| ms(t)).collect();
            format!("spike_times([{}])", t.join(", "))
        }
    })
}
