//! `:run`: simulate a neuron of the lowered model under a current step.
//!
//! The seam is [`simulate`]: one function from the lowered [`Model`] and a [`RunRequest`] to a
//! [`RunResult`]. It runs the same engine as `isf run` (the neuron lowered to compartments,
//! every mechanism compiled to kernels, NEURON's fixed-step scheme) with one current step.

use crate::diagnostics::Diagnostic;
use crate::model::Model;

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
    /// Spike times, ms: the one detection rule ([`crate::kernel::spikes`]), on the time grid.
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
        let Some(st) = e.stimuli.first() else {
            return Err(format!(
                "experiment `{name}` has no stimulus; `:run {}` runs its neuron with a step",
                e.neuron
            ));
        };
        let sname = &st.name;
        let crate::model::StimulusKind::Step {
            delay_ms: delay,
            duration_ms: dur,
            amp_na: amp,
        } = st.kind
        else {
            return Err(format!(
                "stimulus `{sname}` of `{name}` is not a current step (delay, duration, amp)"
            ));
        };
        let dur = dur.unwrap_or(e.duration_ms - delay);
        let (region, x) = match &st.at {
            crate::model::SiteSpec::Region { region, x } => (region.clone(), *x),
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
        match crate::diagnostics::did_you_mean(name, known.iter().copied()) {
            Some(h) => format!("no neuron or experiment `{name}`; {h}"),
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

/// Run the request on the model with the full engine: every mechanism of the neuron (the
/// compiled kernels of [`crate::kernel`]), its cable and the current step.
pub fn simulate(model: &Model, req: &RunRequest) -> Result<RunResult, RunError> {
    use crate::model::ExperimentModel;
    use crate::run::cellsim::CellRunner;
    use crate::run::exec::TrialRunner;
    if !model.neurons.iter().any(|n| n.name == req.neuron) {
        return Err(RunError::Unsupported(format!("no neuron `{}`", req.neuron)));
    }
    use crate::model::{Recording, RecordingModel, SiteSpec, StimulusKind, StimulusModel};
    let site = SiteSpec::Region {
        region: req.step.region.clone(),
        x: req.step.x,
    };
    let stimulus = StimulusModel {
        name: "step".into(),
        at: site.clone(),
        kind: StimulusKind::Step {
            delay_ms: req.step.delay_ms,
            duration_ms: Some(req.step.duration_ms),
            amp_na: req.step.amp_na,
        },
    };
    let n_steps = (req.t_stop_ms / req.dt_ms).round() as u64;
    let exp = ExperimentModel {
        name: "repl".into(),
        neuron: req.neuron.clone(),
        network: None,
        duration_ms: req.t_stop_ms,
        dt_ms: req.dt_ms,
        n_steps,
        trials: 1,
        seed: 0,
        stimuli: vec![stimulus],
        sweep: vec![],
        sweep_points: 1,
        record: vec![RecordingModel {
            name: format!("{}.v", site.name()),
            what: Recording::Voltage { at: site },
            precision: None,
        }],
        store: None,
        replay: vec![],
    };
    let runner = CellRunner::new(model, &exp).map_err(RunError::Diag)?;
    let item = crate::run::work_items(&exp)[0];
    let out = runner.run(&item, &[]).map_err(RunError::Diag)?;
    let v_mv = out
        .traces
        .into_iter()
        .next()
        .map(|t| t.1)
        .unwrap_or_default();
    let spikes_ms = crate::run::cellsim::spike_times(&v_mv, req.dt_ms, req.threshold_mv);
    Ok(RunResult {
        probe: format!("{}({})", req.step.region, req.step.x),
        dt_ms: req.dt_ms,
        v_mv,
        spikes_ms,
        n_compartments: runner.n_compartments(),
        not_simulated: Vec::new(),
    })
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
