//! `:run`: simulate a neuron of the lowered model under a current step.
//!
//! The seam is [`simulate`]: one function from the lowered [`Model`] and a [`RunRequest`] to a
//! [`RunResult`]. Today it simulates what the solver in [`crate::sim`] provides: the cable
//! (morphology, discretization, Ra, cm), the passive leak `pas` with the region's parameters and
//! the current step (`IClamp`). Every other mechanism of the neuron is listed in
//! [`RunResult::not_simulated`], so the user is told. When the active-mechanism engine lands,
//! only [`simulate`] has to change; request building, spike detection and the plot stay.

use crate::diagnostics::Diagnostic;
use crate::model::{self, Model, NeuronModel, Value};
use crate::morph::discretize::{self, Discretization};
use crate::morph::geometry;
use crate::morph::{Label, LabelPassive, Morphology, Passive};
use crate::sema::check::REGIONS;
use crate::sim::{CableTree, Pas, SimConfig, Simulation, steps_for};
use std::collections::BTreeMap;

/// Mechanisms [`simulate`] integrates (the rest of a neuron's mechanisms are reported).
pub const SIMULATED_MECHANISMS: &[&str] = &["pas"];

/// A rectangular current step (NEURON's IClamp).
#[derive(Clone, Debug, PartialEq)]
pub struct Step {
    /// Region as written in isf (`soma`, `apical_dendrite`, …).
    pub region: String,
    /// Position along the region's first section, 0..1.
    pub x: f64,
    pub delay_ms: f64,
    pub duration_ms: f64,
    pub amp_na: f64,
}

/// What to run.
#[derive(Clone, Debug, PartialEq)]
pub struct RunRequest {
    pub neuron: String,
    pub step: Step,
    pub t_stop_ms: f64,
    pub dt_ms: f64,
    /// Spike threshold for upward crossings, mV.
    pub threshold_mv: f64,
    /// Things of the declaration that the run leaves out (sweeps, trials, …), for the user.
    pub notes: Vec<String>,
}

/// The outcome of a run: the voltage at the stimulus site and its threshold crossings.
#[derive(Clone, Debug)]
pub struct RunResult {
    pub probe: String,
    pub dt_ms: f64,
    /// Voltage at `probe`, one sample per step including t = 0, mV.
    pub v_mv: Vec<f64>,
    /// Times of upward crossings of the threshold, ms (linearly interpolated).
    pub spikes_ms: Vec<f64>,
    pub n_compartments: usize,
    /// Mechanisms of the neuron that were not simulated.
    pub not_simulated: Vec<String>,
}

/// Why a run could not be made.
#[derive(Debug)]
pub enum RunError {
    /// A morphology or solver error with its stable code.
    Diag(Diagnostic),
    /// Something the present engine does not do, or a name that is not runnable.
    Unsupported(String),
}

/// Default step for `:run NEURON`: 20 ms baseline, 100 ms step, 30 ms after.
const DEFAULT_STEP: (f64, f64, f64) = (20.0, 100.0, 150.0);

/// Build the request for `:run NAME`: an experiment brings its neuron, stimulus, duration and
/// dt; a neuron gets a step of `amp_na` (default 1 nA) into `soma(0.5)`. `amp_na` overrides
/// the experiment's amplitude too.
pub fn request_for(model: &Model, name: &str, amp_na: Option<f64>) -> Result<RunRequest, String> {
    if let Some(e) = model.experiments.iter().find(|e| e.name == name) {
        let mut notes = Vec::new();
        let Some((sname, st)) = e.stimuli.iter().next() else {
            return Err(format!(
                "experiment `{name}` has no stimulus; `:run {}` runs its neuron with a step",
                e.neuron
            ));
        };
        let num = |k: &str| match st.get(k) {
            Some(Value::Num { value, .. }) => Some(*value),
            _ => None,
        };
        let (Some(delay), Some(dur), Some(amp)) = (num("delay"), num("duration"), num("amp"))
        else {
            return Err(format!(
                "stimulus `{sname}` of `{name}` is not a current step (delay, duration, amp)"
            ));
        };
        let (region, x) = match st.get("at") {
            Some(Value::Obj { kind, args }) if kind == "site" => {
                let region = match args.get("region") {
                    Some(Value::Str(r)) => r.clone(),
                    _ => "soma".into(),
                };
                let x = match args.get("x") {
                    Some(Value::Num { value, .. }) => *value,
                    _ => 0.5,
                };
                (region, x)
            }
            _ => ("soma".into(), 0.5),
        };
        if e.stimuli.len() > 1 {
            notes.push(format!(
                "only the first stimulus (`{sname}`) is applied; {} more ignored",
                e.stimuli.len() - 1
            ));
        }
        if !e.sweep.is_empty() {
            notes.push(format!(
                "the sweep ({} points) is not run: one run with the declared values",
                e.sweep_points
            ));
        }
        if e.network.is_some() {
            notes.push("the network's synaptic input is not simulated".into());
        }
        if e.trials > 1 {
            notes.push(format!("one trial of {}", e.trials));
        }
        return Ok(RunRequest {
            neuron: e.neuron.clone(),
            step: Step {
                region,
                x,
                delay_ms: delay,
                duration_ms: dur,
                amp_na: amp_na.unwrap_or(amp),
            },
            t_stop_ms: e.duration_ms,
            dt_ms: e.dt_ms,
            threshold_mv: 0.0,
            notes,
        });
    }
    if model.neurons.iter().any(|n| n.name == name) {
        let (delay, dur, stop) = DEFAULT_STEP;
        return Ok(RunRequest {
            neuron: name.to_string(),
            step: Step {
                region: "soma".into(),
                x: 0.5,
                delay_ms: delay,
                duration_ms: dur,
                amp_na: amp_na.unwrap_or(1.0),
            },
            t_stop_ms: stop,
            dt_ms: 0.025,
            threshold_mv: 0.0,
            notes: vec![],
        });
    }
    let mut known: Vec<&str> = model.neurons.iter().map(|n| n.name.as_str()).collect();
    known.extend(model.experiments.iter().map(|e| e.name.as_str()));
    Err(
        match crate::diagnostics::suggest(name, known.iter().copied()) {
            Some(s) => format!("no neuron or experiment `{name}`; did you mean `{s}`?"),
            None if known.is_empty() => {
                format!("no neuron or experiment `{name}`: declare a neuron first (see :help)")
            }
            None => format!(
                "no neuron or experiment `{name}`; runnable: {}",
                known.join(", ")
            ),
        },
    )
}

/// ISF label for a region name as written in isf (`soma` → `Soma`; `all` → `*`).
fn region_label(region: &str) -> Option<&'static str> {
    REGIONS.iter().find(|(r, _)| *r == region).map(|(_, l)| *l)
}

/// The label a region block applies to (`soma` → Soma); `None` for `all`.
fn block_label(r: &model::RegionModel) -> Option<Label> {
    region_label(&r.region).and_then(Label::parse)
}

/// The region block that applies to sections of `label`: its own, else `all`.
fn region_of(n: &NeuronModel, label: Label) -> Option<&model::RegionModel> {
    n.regions
        .iter()
        .find(|r| block_label(r) == Some(label))
        .or_else(|| n.regions.iter().find(|r| r.region == "all"))
}

/// Run the request on the model. See the module docs for what is simulated.
pub fn simulate(model: &Model, req: &RunRequest) -> Result<RunResult, RunError> {
    let unsupported = |m: String| Err(RunError::Unsupported(m));
    let Some(neuron) = model.neurons.iter().find(|n| n.name == req.neuron) else {
        return unsupported(format!("no neuron `{}`", req.neuron));
    };
    if neuron.source.format != "swc" && neuron.source.format != "hoc" {
        return unsupported(format!(
            "`:run` reads hoc and swc morphologies; `{}` comes from a {} file",
            neuron.name, neuron.source.format
        ));
    }
    let mut morph = Morphology::read(std::path::Path::new(&neuron.source.path))
        .map_err(|e| RunError::Diag(e.to_diagnostic_plain()))?;
    if neuron.axon.is_some() {
        morph.add_hay2013_axon();
    }

    // Ra and cm per label, from the region blocks (`all` is the fallback).
    let fallback = |r: Option<&model::RegionModel>| {
        let d = Passive::default();
        Passive {
            ra_ohm_cm: r.and_then(|r| r.ra_ohm_cm).unwrap_or(d.ra_ohm_cm),
            cm_uf_cm2: r.and_then(|r| r.cm_uf_cm2).unwrap_or(d.cm_uf_cm2),
        }
    };
    let all = neuron.regions.iter().find(|r| r.region == "all");
    let passive = LabelPassive {
        by_label: neuron
            .regions
            .iter()
            .filter_map(|r| block_label(r).map(|l| (l, r)))
            .map(|(l, r)| {
                let p = fallback(Some(r));
                let a = fallback(all);
                (
                    l,
                    Passive {
                        ra_ohm_cm: r.ra_ohm_cm.map_or(a.ra_ohm_cm, |_| p.ra_ohm_cm),
                        cm_uf_cm2: r.cm_uf_cm2.map_or(a.cm_uf_cm2, |_| p.cm_uf_cm2),
                    },
                )
            })
            .collect(),
        default: fallback(all),
    };
    let rule = match &neuron.discretization {
        model::Discretization::IsfDLambda {
            frequency_hz,
            max_length_um,
        } => Discretization::Isf {
            f_hz: *frequency_hz,
            max_seg_length_um: *max_length_um,
        },
        model::Discretization::DLambda {
            d_lambda,
            frequency_hz,
        } => Discretization::NeuronDLambda {
            d_lambda: *d_lambda,
            f_hz: *frequency_hz,
        },
        model::Discretization::MaxLength { max_length_um } => Discretization::MaxSegLength {
            max_um: *max_length_um,
        },
        model::Discretization::Fixed { nseg } => Discretization::Fixed {
            nseg: *nseg as usize,
        },
    };
    let nseg = discretize::discretize(&morph, &rule, &passive);
    let geom = geometry::geometry(&morph, &nseg, &passive);
    let tree = CableTree::from_geometry(&geom).map_err(|e| RunError::Diag(e.to_diagnostic()))?;
    let cfg = SimConfig {
        dt_ms: req.dt_ms,
        v_init_mv: neuron.v_init_mv,
        ..Default::default()
    };
    let mut sim = Simulation::new(tree, cfg).map_err(|e| RunError::Diag(e.to_diagnostic()))?;

    // pas: one instance per segment, parameters evaluated at the segment's position.
    let pas_defaults: BTreeMap<&str, f64> = model
        .mechanisms
        .iter()
        .find(|m| m.name == "pas")
        .map(|m| {
            m.parameters
                .iter()
                .filter_map(|p| p.default.map(|d| (p.name.as_str(), d)))
                .collect()
        })
        .unwrap_or_default();
    let mut not_simulated: Vec<String> = Vec::new();
    let (mut nodes, mut gs, mut es) = (Vec::new(), Vec::new(), Vec::new());
    // relative_distance divides by the region's largest distance.
    let mut max_dist: BTreeMap<String, f64> = BTreeMap::new();
    for s in &geom.sections {
        let m = max_dist.entry(s.label.clone()).or_insert(0.0);
        for &d in &s.seg_dist_um {
            *m = m.max(d);
        }
    }
    for (si, s) in geom.sections.iter().enumerate() {
        let Some(label) = Label::parse(&s.label) else {
            continue;
        };
        let Some(region) = region_of(neuron, label) else {
            continue;
        };
        for mi in &region.mechanisms {
            if !SIMULATED_MECHANISMS.contains(&mi.mechanism.as_str())
                && !not_simulated.contains(&mi.mechanism)
            {
                not_simulated.push(mi.mechanism.clone());
            }
        }
        let Some(pas) = region.mechanisms.iter().find(|m| m.mechanism == "pas") else {
            continue;
        };
        let seg_nodes = sim.tree().section_segment_nodes(si).to_vec();
        for (k, node) in seg_nodes.into_iter().enumerate() {
            let dist = s.seg_dist_um.get(k).copied().unwrap_or(0.0);
            let rmax = max_dist.get(&s.label).copied().unwrap_or(0.0);
            let vars = |v: &str| match v {
                "distance" | "soma_distance" => dist,
                "relative_distance" if rmax > 0.0 => dist / rmax,
                "relative_distance" => 0.0,
                "diameter" => s.seg_diam_um.get(k).copied().unwrap_or(f64::NAN),
                "x" => s.seg_x.get(k).copied().unwrap_or(0.5),
                _ => f64::NAN,
            };
            let param = |name: &str| -> Result<f64, RunError> {
                let v = match pas.parameters.get(name) {
                    Some(d) => d.expr.eval(&vars),
                    None => pas_defaults.get(name).copied().unwrap_or(f64::NAN),
                };
                if v.is_finite() {
                    Ok(v)
                } else {
                    Err(RunError::Unsupported(format!(
                        "pas `{name}` in section `{}` has no finite value here (position \
                         variables other than distance, relative_distance, diameter and x are \
                         not available to :run yet)",
                        s.name
                    )))
                }
            };
            gs.push(param("g")?);
            es.push(param("e")?);
            nodes.push(node);
        }
    }
    if !nodes.is_empty() {
        let pas = Pas::new(nodes, gs, es).map_err(|e| RunError::Diag(e.to_diagnostic()))?;
        sim.add_mechanism(Box::new(pas))
            .map_err(|e| RunError::Diag(e.to_diagnostic()))?;
    }

    let Some(label) = region_label(&req.step.region).and_then(Label::parse) else {
        return unsupported(format!(
            "a step into `{}` is not supported by :run (use a region such as soma)",
            req.step.region
        ));
    };
    let Some(section) = morph.sections.iter().position(|s| s.label == label) else {
        return unsupported(format!(
            "`{}` has no {} section for the stimulus",
            neuron.name, req.step.region
        ));
    };
    sim.add_iclamp(
        section,
        req.step.x,
        req.step.delay_ms,
        req.step.duration_ms,
        req.step.amp_na,
    )
    .map_err(|e| RunError::Diag(e.to_diagnostic()))?;
    let probe = sim
        .tree()
        .location(section, req.step.x)
        .map_err(|e| RunError::Diag(e.to_diagnostic()))?;
    let rec = sim
        .run(steps_for(req.t_stop_ms, req.dt_ms), &[probe])
        .map_err(|e| RunError::Diag(e.to_diagnostic()))?;
    let v_mv = rec.trace(0);
    let spikes_ms = crossings(&v_mv, req.dt_ms, req.threshold_mv);
    Ok(RunResult {
        probe: format!("{}({})", req.step.region, req.step.x),
        dt_ms: req.dt_ms,
        v_mv,
        spikes_ms,
        n_compartments: geom.n_segments(),
        not_simulated,
    })
}

/// Upward crossings of `threshold`, with the time linearly interpolated between samples.
pub fn crossings(v: &[f64], dt_ms: f64, threshold: f64) -> Vec<f64> {
    v.windows(2)
        .enumerate()
        .filter(|(_, w)| w[0] < threshold && w[1] >= threshold)
        .map(|(k, w)| (k as f64 + (threshold - w[0]) / (w[1] - w[0])) * dt_ms)
        .collect()
}

/// A compact block plot of a trace: `rows` lines of `cols` columns with eighth-block
/// resolution, the value axis labelled at top and bottom and the time axis below.
pub fn plot(v: &[f64], dt_ms: f64, cols: usize, rows: usize) -> String {
    const BLOCKS: [char; 9] = [' ', '▁', '▂', '▃', '▄', '▅', '▆', '▇', '█'];
    if v.is_empty() || cols == 0 || rows == 0 {
        return String::new();
    }
    // Each column shows the largest sample of its time bin, so brief peaks stay visible.
    let col_vals: Vec<f64> = (0..cols)
        .map(|c| {
            let a = c * v.len() / cols;
            let b = ((c + 1) * v.len() / cols).max(a + 1).min(v.len());
            v[a..b].iter().copied().fold(f64::NEG_INFINITY, f64::max)
        })
        .collect();
    let lo = v.iter().copied().fold(f64::INFINITY, f64::min);
    let hi = v.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let (lo, hi) = if hi - lo < 1e-9 {
        (lo - 1.0, hi + 1.0)
    } else {
        (lo, hi)
    };
    let levels = (rows * 8) as f64;
    let heights: Vec<usize> = col_vals
        .iter()
        .map(|&x| (((x - lo) / (hi - lo)) * (levels - 1.0)).round() as usize + 1)
        .collect();
    let top = format!("{:.1}", hi);
    let bottom = format!("{:.1}", lo);
    let w = top.len().max(bottom.len());
    let mut out = String::new();
    for r in (0..rows).rev() {
        let label = if r == rows - 1 {
            format!("{top:>w$} ┤")
        } else if r == 0 {
            format!("{bottom:>w$} ┤")
        } else {
            format!("{:>w$} │", "")
        };
        out.push_str(&label);
        for &h in &heights {
            let fill = h.saturating_sub(r * 8).min(8);
            out.push(BLOCKS[fill]);
        }
        out.push('\n');
    }
    let t_end = (v.len() - 1) as f64 * dt_ms;
    out.push_str(&format!("{:>w$} └{}\n", "", "─".repeat(cols)));
    let left = "0 ms";
    let right = format!("{} ms", crate::repl::format::num(t_end));
    let gap = (cols + 1).saturating_sub(left.len() + right.len());
    out.push_str(&format!("{:>w$}  {left}{}{right}\n", "", " ".repeat(gap)));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crossings_are_interpolated() {
        let v = [-10.0, 10.0, 20.0, -5.0, 5.0];
        assert_eq!(crossings(&v, 0.1, 0.0), vec![0.05, 0.35000000000000003]);
        assert!(crossings(&[-70.0, -60.0], 0.1, 0.0).is_empty());
    }

    #[test]
    fn plot_has_rows_axis_and_labels() {
        let v: Vec<f64> = (0..100)
            .map(|k| if k > 50 { 10.0 } else { -70.0 })
            .collect();
        let p = plot(&v, 1.0, 20, 3);
        let lines: Vec<&str> = p.lines().collect();
        assert_eq!(lines.len(), 5, "{p}");
        assert!(lines[0].trim_start().starts_with("10.0 ┤"), "{p}");
        assert!(lines[2].starts_with("-70.0 ┤"), "{p}");
        assert!(lines[0].ends_with('█'), "{p}");
        assert!(lines[4].contains("99 ms"), "{p}");
    }
}
