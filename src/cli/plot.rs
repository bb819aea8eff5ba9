//! `isf plot traces|raster|psth|sweep|kernels|lut|morph|animate`: pictures of run results (spec 09)
//! as SVG and PNG, and an animation of the morphology as one HTML page (see [`crate::plot`]).
//!
//! Exit codes: 0 success; 1 a bad input (missing or misshapen key: E0902, bad parameter:
//! E0903, picture not writable: E0905, morphology and recording disagree: E0906, script or
//! store errors); 2 usage errors.

use crate::analysis::{self, Events, mean_sd, point_of, read_events, read_traces};
use crate::diagnostics::{Code, Diagnostic, render};
use crate::plot::morph::{self, Frame, Geometry, Marker, MorphFigure, View};
use crate::plot::{Outputs, Series, Style, XyFigure, save_xy};
use crate::store::{Column, Kind, Store};
use clap::{Args, Subcommand, ValueEnum};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// Arguments of `isf plot`.
#[derive(Args, Debug)]
#[command(after_help = "Examples:\n  \
isf plot traces results/q.isfdb quickstart/traces/soma.v -o traces\n  \
isf plot raster results/q.isfdb quickstart/events/spikes_soma_ -o raster.svg\n  \
isf plot psth results/q.isfdb quickstart/analysis/psth/spikes_soma_ -o psth.png\n  \
isf plot sweep results/q.isfdb quickstart -o fi\n  \
isf plot morph examples/quickstart.isf results/q.isfdb --time 120 -o cell\n  \
isf plot animate examples/quickstart.isf results/q.isfdb --t-begin 100 --t-end 130 -o cell.html\n  \
isf plot kernels results/s4.isfdb S4/reduced_models/lda -o kernels\n  \
isf plot lut results/s4.isfdb S4/reduced_models/lda --model-number 0 -o lut\n\n\
-o x writes x.svg and x.png; -o x.svg or -o x.png writes only that file.")]
pub struct PlotArgs {
    #[command(subcommand)]
    pub command: PlotCommand,
}

/// Projection plane of morphology pictures.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum ViewArg {
    Xy,
    Xz,
    Yz,
}

/// Options shared by `morph` and `animate`.
#[derive(Args, Debug, Clone)]
pub struct MorphOpts {
    /// The script that was run (for the neuron's morphology).
    pub script: PathBuf,
    /// Store directory.
    pub store: PathBuf,
    /// Experiment (default: the script's only, or first, experiment).
    #[arg(long)]
    pub experiment: Option<String>,
    /// Per-compartment recording to colour by (default EXP/traces/all_compartments.v).
    #[arg(long)]
    pub variable: Option<String>,
    /// Trial row to show (`p000000/t000000`; default the first).
    #[arg(long)]
    pub trial: Option<String>,
    /// Projection plane.
    #[arg(long, value_enum, default_value_t = ViewArg::Xz)]
    pub view: ViewArg,
    /// Colour range `LO,HI` (default: the range of the shown values).
    #[arg(
        long,
        value_delimiter = ',',
        allow_negative_numbers = true,
        num_args = 2
    )]
    pub range: Option<Vec<f64>>,
    /// Mark synapses releasing in [t, t + window) (ms), from the trial's synapse activations.
    #[arg(long, default_value_t = 2.0)]
    pub synapse_window: f64,
    /// Mark every active synapse of the trial, whatever its release times.
    #[arg(long)]
    pub all_synapses: bool,
}

/// The `isf plot` subcommands.
#[derive(Subcommand, Debug)]
pub enum PlotCommand {
    /// Voltage (or any) traces of a trace table.
    Traces {
        store: PathBuf,
        /// Trace table, e.g. EXP/traces/soma.v.
        key: String,
        /// Rows to draw (first N; default 10).
        #[arg(long, default_value_t = 10)]
        rows: usize,
        /// Only these rows (sim_trial_index, repeatable).
        #[arg(long)]
        trial: Vec<String>,
        #[arg(short, long)]
        out: PathBuf,
    },
    /// Raster plot: one row per trial, one tick per spike.
    Raster {
        store: PathBuf,
        /// Spike-time table (EXP/events/NAME or `isf analyze spikes` output).
        key: String,
        #[arg(short, long)]
        out: PathBuf,
    },
    /// PSTH per sweep point: an `isf analyze psth` table, or a spike table (binned here).
    Psth {
        store: PathBuf,
        key: String,
        /// Bin width in ms when KEY holds spike times.
        #[arg(long, default_value_t = 5.0)]
        bin: f64,
        #[arg(short, long)]
        out: PathBuf,
    },
    /// Spikes per trial (mean ± SD) against a sweep value (an f–I curve for a current sweep).
    Sweep {
        store: PathBuf,
        /// Experiment.
        experiment: String,
        /// Spike-time table (default: the experiment's first events table).
        #[arg(long)]
        spikes: Option<String>,
        /// Sweep axis on the x axis (default: the first); other axes become separate curves.
        #[arg(long)]
        axis: Option<String>,
        #[arg(short, long)]
        out: PathBuf,
    },
    /// The kernels of a reduced model (`isf reduce fit`): for an LDA model one curve per key
    /// and classifier over the synaptic window; for a GLM one temporal filter per group
    /// (`--spatial`: the spatial filters over the soma-distance bins).
    Kernels {
        store: PathBuf,
        /// Model key.
        key: String,
        /// Only this classifier (default: all; LDA models only).
        #[arg(long)]
        model_number: Option<usize>,
        /// A GLM's spatial filters instead of its temporal ones.
        #[arg(long)]
        spatial: bool,
        #[arg(short, long)]
        out: PathBuf,
    },
    /// The lookup table of a reduced model: P(spike) against the weighted net input, with the
    /// groups it was interpolated from (a GLM: its output-window and per-bin tables, with
    /// their merged bins).
    Lut {
        store: PathBuf,
        /// Model key.
        key: String,
        /// Only this classifier (default: all).
        #[arg(long)]
        model_number: Option<usize>,
        #[arg(short, long)]
        out: PathBuf,
    },
    /// The morphology coloured by a per-compartment recording at one time.
    Morph {
        #[command(flatten)]
        opts: MorphOpts,
        /// Time in ms (the nearest recorded sample is shown).
        #[arg(long)]
        time: f64,
        #[arg(short, long)]
        out: PathBuf,
    },
    /// An animation over a time window: one self-contained HTML page with a time slider
    /// (and, with --png-frames, numbered PNG frames).
    Animate {
        #[command(flatten)]
        opts: MorphOpts,
        /// Start of the window, ms.
        #[arg(long)]
        t_begin: f64,
        /// End of the window, ms.
        #[arg(long)]
        t_end: f64,
        /// Number of frames.
        #[arg(long, default_value_t = 50)]
        frames: usize,
        /// Also write frame_0000.png, … into this directory.
        #[arg(long)]
        png_frames: Option<PathBuf>,
        /// The HTML file.
        #[arg(short, long)]
        out: PathBuf,
    },
}

/// Run `isf plot`; returns the exit code.
pub fn run(args: PlotArgs) -> i32 {
    match run_inner(args) {
        Ok(files) => {
            for f in files {
                eprintln!("wrote {}", f.display());
            }
            0
        }
        Err(d) => super::fail(&d),
    }
}

fn open(path: &Path) -> Result<Store, Diagnostic> {
    if !path.join(crate::store::MARKER).is_file() {
        return Err(Diagnostic::new(
            Code::E0902,
            format!("{} is not a results store", path.display()),
        ));
    }
    Store::open(path).map_err(|e| e.to_diagnostic())
}

fn bad(m: impl Into<String>) -> Diagnostic {
    Diagnostic::new(Code::E0902, m)
}

/// Run one plot command; returns the files written (also used by the REPL's `:plot`).
pub fn run_inner(args: PlotArgs) -> Result<Vec<PathBuf>, Diagnostic> {
    match args.command {
        PlotCommand::Traces {
            store,
            key,
            rows,
            trial,
            out,
        } => {
            let s = open(&store)?;
            let tr = read_traces(&s, &key)?;
            let mut series = Vec::new();
            for (i, l) in tr.labels.iter().enumerate() {
                if !trial.is_empty() && !trial.contains(l) {
                    continue;
                }
                if series.len() >= rows.max(1) {
                    break;
                }
                let name = match &tr.compartment {
                    Some(c) => format!("{l} [{}]", c[i]),
                    None => l.clone(),
                };
                series.push(Series {
                    name,
                    points: tr.times[i]
                        .iter()
                        .copied()
                        .zip(tr.rows[i].iter().copied())
                        .collect(),
                    err: vec![],
                    style: Style::Line,
                });
            }
            if series.is_empty() {
                return Err(bad(format!("key '{key}' has no rows to draw")));
            }
            let fig = XyFigure {
                title: key.clone(),
                x_label: "t (ms)".into(),
                y_label: "v (mV)".into(),
                series,
                x_range: None,
                y_range: None,
                legend: true,
            };
            save_xy(&fig, &Outputs::from_path(&out))
        }
        PlotCommand::Raster { store, key, out } => {
            let s = open(&store)?;
            let ev = read_events(&s, &key)?;
            let mut by: BTreeMap<&str, Vec<(f64, f64)>> = BTreeMap::new();
            for (row, (l, t)) in ev.labels.iter().zip(&ev.times).enumerate() {
                let e = by.entry(point_of(l)).or_default();
                e.extend(t.iter().map(|&x| (x, row as f64)));
            }
            let series = by
                .into_iter()
                .map(|(p, pts)| Series {
                    name: p.to_string(),
                    points: pts,
                    err: vec![],
                    style: Style::Ticks,
                })
                .collect();
            let fig = XyFigure {
                title: format!("{key}: {} rows", ev.labels.len()),
                x_label: "t (ms)".into(),
                y_label: "row (trial)".into(),
                series,
                x_range: None,
                y_range: Some((-0.5, ev.labels.len().max(1) as f64 - 0.5)),
                legend: true,
            };
            save_xy(&fig, &Outputs::from_path(&out))
        }
        PlotCommand::Psth {
            store,
            key,
            bin,
            out,
        } => {
            let s = open(&store)?;
            let fig = psth_figure(&s, &key, bin)?;
            save_xy(&fig, &Outputs::from_path(&out))
        }
        PlotCommand::Kernels {
            store,
            key,
            model_number,
            spatial,
            out,
        } => {
            use crate::cli::reduce::{StoredModel, read_any_model};
            let s = open(&store)?;
            let fig = match read_any_model(&s, &key)? {
                StoredModel::Lda(_) if spatial => {
                    return Err(analysis::bad_param(
                        "--spatial",
                        format!("'{key}' is an LDA model, whose kernels are temporal only"),
                    ));
                }
                StoredModel::Lda(m) => kernels_figure(&m, &key, model_number)?,
                StoredModel::Glm(g) => glm_kernels_figure(&g, &key, model_number, spatial)?,
            };
            save_xy(&fig, &Outputs::from_path(&out))
        }
        PlotCommand::Lut {
            store,
            key,
            model_number,
            out,
        } => {
            use crate::cli::reduce::{StoredModel, read_any_model};
            let s = open(&store)?;
            let fig = match read_any_model(&s, &key)? {
                StoredModel::Lda(m) => lut_figure(&m, &key, model_number)?,
                StoredModel::Glm(g) => glm_lut_figure(&g, &key, model_number)?,
            };
            save_xy(&fig, &Outputs::from_path(&out))
        }
        PlotCommand::Sweep {
            store,
            experiment,
            spikes,
            axis,
            out,
        } => {
            let s = open(&store)?;
            let fig = sweep_figure(&s, &experiment, spikes.as_deref(), axis.as_deref())?;
            save_xy(&fig, &Outputs::from_path(&out))
        }
        PlotCommand::Morph { opts, time, out } => {
            let scene = Scene::load(&opts)?;
            let fig = scene.figure(time, &opts)?;
            let out = Outputs::from_path(&out);
            let mut files = Vec::new();
            if let Some(p) = &out.svg {
                crate::plot::write_svg(p, (900, 700), |r| morph::draw_morph(r, &fig))?;
                files.push(p.clone());
            }
            if let Some(p) = &out.png {
                crate::plot::write_png(p, (900, 700), |r| morph::draw_morph(r, &fig))?;
                files.push(p.clone());
            }
            Ok(files)
        }
        PlotCommand::Animate {
            opts,
            t_begin,
            t_end,
            frames,
            png_frames,
            out,
        } => {
            if !(t_begin.is_finite() && t_end.is_finite() && t_end > t_begin) {
                return Err(analysis::bad_param(
                    "--t-end",
                    format!("the window [{t_begin}, {t_end}] ms is empty"),
                ));
            }
            if frames == 0 || frames > 10_000 {
                return Err(analysis::bad_param(
                    "--frames",
                    format!("{frames} frames (1 to 10000)"),
                ));
            }
            let scene = Scene::load(&opts)?;
            let mut fr = Vec::with_capacity(frames);
            for k in 0..frames {
                let t = if frames == 1 {
                    t_begin
                } else {
                    t_begin + (t_end - t_begin) * k as f64 / (frames - 1) as f64
                };
                let (t_shown, values) = scene.values_at(t);
                fr.push(Frame {
                    t_ms: t_shown,
                    values,
                    markers: scene.markers(t_shown, &opts),
                });
            }
            let range = scene.range(&opts, fr.iter().flat_map(|f| f.values.iter().copied()));
            let mut files = Vec::new();
            if let Some(dir) = &png_frames {
                std::fs::create_dir_all(dir).map_err(|e| {
                    Diagnostic::new(Code::E0905, format!("cannot create {}: {e}", dir.display()))
                })?;
                for (k, f) in fr.iter().enumerate() {
                    let fig = MorphFigure {
                        title: format!("{} at t = {} ms", scene.title, f.t_ms),
                        geometry: scene.geometry.clone(),
                        values: Some(f.values.clone()),
                        range,
                        value_label: scene.value_label.clone(),
                        groups: scene.groups.clone(),
                        markers: f.markers.clone(),
                    };
                    let p = dir.join(format!("frame_{k:04}.png"));
                    crate::plot::write_png(&p, (900, 700), |r| morph::draw_morph(r, &fig))?;
                    files.push(p);
                }
            }
            let html = morph::animation_html(
                &scene.title,
                &scene.geometry,
                &fr,
                range,
                &scene.value_label,
                &scene.groups,
            );
            crate::files::write_atomic(&out, html.as_bytes()).map_err(|e| {
                Diagnostic::new(Code::E0905, format!("cannot write {}: {e}", out.display()))
            })?;
            files.push(out);
            Ok(files)
        }
    }
}

/// A PSTH figure from an `isf analyze psth` table (columns `point`, `bin_start_ms`,
/// `bin_end_ms`, `spikes_per_trial`) or from spike times binned here.
pub fn psth_figure(s: &Store, key: &str, bin: f64) -> Result<XyFigure, Diagnostic> {
    let t = match s.kind(key).map_err(|e| e.to_diagnostic())? {
        Kind::Table => s.get_table(key).map_err(|e| e.to_diagnostic())?,
        k => return Err(bad(format!("key '{key}' is a {}, not a table", k.name()))),
    };
    let mut by: BTreeMap<String, Vec<(f64, f64)>> = BTreeMap::new();
    if let (
        Some(Column::Str(p)),
        Some(Column::F64(a)),
        Some(Column::F64(b)),
        Some(Column::F64(v)),
    ) = (
        t.column("point"),
        t.column("bin_start_ms"),
        t.column("bin_end_ms"),
        t.column("spikes_per_trial"),
    ) {
        for i in 0..p.len() {
            let e = by.entry(p[i].clone()).or_default();
            e.push((a[i], v[i]));
            // Close each point's last bin.
            if i + 1 == p.len() || p[i + 1] != p[i] {
                e.push((b[i], v[i]));
            }
        }
    } else {
        let ev: Events = read_events(s, key)?;
        if !(bin > 0.0 && bin.is_finite()) {
            return Err(analysis::bad_param(
                "--bin",
                format!("{bin} ms is not a positive bin"),
            ));
        }
        let all: Vec<f64> = ev.times.iter().flatten().copied().collect();
        let edges = analysis::hist::psth_edges(&all, bin, None, None, true)
            .ok_or_else(|| bad(format!("key '{key}' holds no spikes")))?;
        let mut rows: BTreeMap<&str, Vec<&[f64]>> = BTreeMap::new();
        for (l, t) in ev.labels.iter().zip(&ev.times) {
            rows.entry(point_of(l)).or_default().push(t);
        }
        for (p, trials) in rows {
            let (_, per) = analysis::hist::psth(&trials, &edges);
            let mut pts: Vec<(f64, f64)> = per
                .iter()
                .enumerate()
                .map(|(k, &v)| (edges[k], v))
                .collect();
            if let Some(&last) = per.last() {
                pts.push((edges[edges.len() - 1], last));
            }
            by.insert(p.to_string(), pts);
        }
    }
    Ok(XyFigure {
        title: format!("PSTH {key}"),
        x_label: "t (ms)".into(),
        y_label: "spikes per trial per bin".into(),
        series: by
            .into_iter()
            .map(|(name, points)| Series {
                name,
                points,
                err: vec![],
                style: Style::Steps,
            })
            .collect(),
        x_range: None,
        y_range: None,
        legend: true,
    })
}

/// The classifiers to draw: one, or all.
fn chosen(
    m: &crate::reduce::lda::LdaModel,
    number: Option<usize>,
) -> Result<Vec<usize>, Diagnostic> {
    match number {
        Some(k) if k >= m.classifiers.len() => Err(analysis::bad_param(
            "--model-number",
            format!(
                "the model holds {} classifiers (0…{})",
                m.classifiers.len(),
                m.classifiers.len() - 1
            ),
        )),
        Some(k) => Ok(vec![k]),
        None => Ok((0..m.classifiers.len()).collect()),
    }
}

/// Kernels of an LDA model against the time of their input bin; colour per key, one curve
/// per classifier.
pub fn kernels_figure(
    m: &crate::reduce::lda::LdaModel,
    key: &str,
    number: Option<usize>,
) -> Result<XyFigure, Diagnostic> {
    let mut series = Vec::new();
    for (ki, name) in m.names.iter().enumerate() {
        for &c in &chosen(m, number)? {
            let k = &m.classifiers[c].kernels[ki];
            series.push(Series {
                name: if m.classifiers.len() > 1 {
                    format!("{name} #{c}")
                } else {
                    name.clone()
                },
                points: k
                    .iter()
                    .enumerate()
                    .map(|(j, &v)| (m.sa_window_ms.0 + j as f64 * m.bin_ms, v))
                    .collect(),
                err: vec![],
                style: Style::Line,
            });
        }
    }
    Ok(XyFigure {
        title: format!(
            "kernels of {key} (output [{}, {}) ms)",
            m.output_window_ms.0, m.output_window_ms.1
        ),
        x_label: "input bin start (ms)".into(),
        y_label: "weight".into(),
        series,
        x_range: None,
        y_range: None,
        legend: true,
    })
}

/// Lookup tables of an LDA model, with each classifier's groups as markers.
pub fn lut_figure(
    m: &crate::reduce::lda::LdaModel,
    key: &str,
    number: Option<usize>,
) -> Result<XyFigure, Diagnostic> {
    let mut series = Vec::new();
    for &c in &chosen(m, number)? {
        let l = &m.classifiers[c].lut;
        series.push(Series {
            name: format!("LUT #{c}"),
            points: l
                .values
                .iter()
                .enumerate()
                .map(|(i, &v)| ((l.index_min + i as i64) as f64, v))
                .collect(),
            err: vec![],
            style: Style::Line,
        });
        series.push(Series {
            name: format!("groups #{c}"),
            points: l
                .groups
                .iter()
                .map(|g| (g.key as f64, g.spikes as f64 / g.trials as f64))
                .collect(),
            err: vec![],
            style: Style::Markers,
        });
    }
    Ok(XyFigure {
        title: format!(
            "P(spike in [{}, {}) ms) of {key}",
            m.output_window_ms.0, m.output_window_ms.1
        ),
        x_label: "weighted net input".into(),
        y_label: "P(spike)".into(),
        series,
        x_range: None,
        y_range: Some((-0.02, 1.02)),
        legend: true,
    })
}

/// A GLM keeps the filters of one split (the one with the best training AUC): a
/// `--model-number` has nothing to choose.
fn glm_one_model(
    g: &crate::reduce::glm::GlmModel,
    number: Option<usize>,
) -> Result<(), Diagnostic> {
    match number {
        Some(_) => Err(analysis::bad_param(
            "--model-number",
            format!(
                "a GLM keeps one set of filters (those of split {} of {}); leave the option out",
                g.chosen_split,
                g.splits.len()
            ),
        )),
        None => Ok(()),
    }
}

/// The filters of a GLM, one curve per group: temporal (`w_t`, against the start of the input
/// bin relative to the output bin: τ = W−1 is the bin just before it, at −bin) or spatial
/// (`w_z`, against the soma-distance bin).
pub fn glm_kernels_figure(
    g: &crate::reduce::glm::GlmModel,
    key: &str,
    number: Option<usize>,
    spatial: bool,
) -> Result<XyFigure, Diagnostic> {
    glm_one_model(g, number)?;
    let series = g
        .filters
        .iter()
        .map(|f| {
            let points = if spatial {
                f.spatial
                    .iter()
                    .enumerate()
                    .map(|(z, &w)| (z as f64, w))
                    .collect()
            } else {
                let w = f.temporal.len() as f64;
                f.temporal
                    .iter()
                    .enumerate()
                    .map(|(tau, &v)| ((tau as f64 - w) * g.bin_ms, v))
                    .collect()
            };
            Series {
                name: f.group.clone(),
                points,
                err: vec![],
                style: Style::Line,
            }
        })
        .collect();
    let [o0, o1] = g.config.output_window_ms;
    Ok(XyFigure {
        title: format!(
            "{} filters of {key} (GLM, output [{o0}, {o1}) ms)",
            if spatial { "spatial" } else { "temporal" }
        ),
        x_label: if spatial {
            "soma-distance bin".into()
        } else {
            "input bin start relative to the output bin (ms)".into()
        },
        y_label: "weight".into(),
        series,
        x_range: None,
        y_range: None,
        legend: true,
    })
}

/// The two lookup tables of a GLM against the net input: P(spike in the output window) and
/// P(spike in a bin), each with its merged bins (midpoint, spikes / samples) as markers.
pub fn glm_lut_figure(
    g: &crate::reduce::glm::GlmModel,
    key: &str,
    number: Option<usize>,
) -> Result<XyFigure, Diagnostic> {
    glm_one_model(g, number)?;
    let mut series = Vec::new();
    for (name, l) in [("window", &g.lut_window), ("bin", &g.lut_bin)] {
        series.push(Series {
            name: format!("P(spike in {name})"),
            points: l
                .values
                .iter()
                .enumerate()
                .map(|(i, &v)| ((l.first + i as i64) as f64, v))
                .collect(),
            err: vec![],
            style: Style::Line,
        });
        series.push(Series {
            name: format!("{name} bins"),
            points: l
                .bins
                .iter()
                .map(|&(lo, hi, n, s)| (0.5 * (lo + hi), s as f64 / n as f64))
                .collect(),
            err: vec![],
            style: Style::Markers,
        });
    }
    let [o0, o1] = g.config.output_window_ms;
    Ok(XyFigure {
        title: format!("P(spike) of {key} (GLM, output [{o0}, {o1}) ms)"),
        x_label: "net input".into(),
        y_label: "P(spike)".into(),
        series,
        x_range: None,
        y_range: Some((-0.02, 1.02)),
        legend: true,
    })
}

/// A sweep value as a number and unit (`{"value": 0.4, "unit": "nA"}`, or a bare number).
fn sweep_number(v: &serde_json::Value) -> Option<(f64, String)> {
    if let Some(x) = v.as_f64() {
        return Some((x, String::new()));
    }
    let x = v.get("value")?.as_f64()?;
    let u = v
        .get("unit")
        .and_then(|u| u.as_str())
        .unwrap_or("")
        .to_string();
    Some((x, u))
}

/// Spikes per trial (mean ± SD) against a sweep axis, from the trial keys' metadata.
pub fn sweep_figure(
    s: &Store,
    experiment: &str,
    spikes: Option<&str>,
    axis: Option<&str>,
) -> Result<XyFigure, Diagnostic> {
    let key = match spikes {
        Some(k) => k.to_string(),
        None => {
            let ev = s
                .sub_existing(&format!("{experiment}/events"))
                .map_err(|_| {
                    bad(format!("experiment '{experiment}' has no events tables"))
                        .help("record `spikes(soma, threshold: 0 mV)`, or give --spikes KEY")
                })?;
            let first = ev
                .keys()
                .map_err(|e| e.to_diagnostic())?
                .into_iter()
                .next()
                .ok_or_else(|| bad(format!("'{experiment}/events' is empty")))?;
            format!("{experiment}/events/{first}")
        }
    };
    let ev = read_events(s, &key)?;
    let trials = s
        .sub_existing(&format!("{experiment}/trials"))
        .map_err(|e| e.to_diagnostic())?;
    // Sweep values of each point, from the metadata of its trial keys.
    let mut values: BTreeMap<String, BTreeMap<String, serde_json::Value>> = BTreeMap::new();
    let mut counts: BTreeMap<String, Vec<f64>> = BTreeMap::new();
    for (l, t) in ev.labels.iter().zip(&ev.times) {
        let p = point_of(l).to_string();
        counts.entry(p.clone()).or_default().push(t.len() as f64);
        if let std::collections::btree_map::Entry::Vacant(e) = values.entry(p) {
            let tk = l.replacen('/', "_", 1);
            let m = trials.metadata(&tk).map_err(|e| e.to_diagnostic())?;
            e.insert(m.sweep_point.unwrap_or_default());
        }
    }
    let axes: Vec<String> = values
        .values()
        .next()
        .map(|m| m.keys().cloned().collect())
        .unwrap_or_default();
    let x_axis = match axis {
        Some(a) => {
            if !axes.iter().any(|x| x == a) {
                return Err(analysis::bad_param(
                    "--axis",
                    format!("`{a}` is not a sweep axis of '{experiment}'"),
                )
                .help(format!(
                    "sweep axes: {}",
                    if axes.is_empty() {
                        "none".into()
                    } else {
                        axes.join(", ")
                    }
                )));
            }
            a.to_string()
        }
        None => axes.first().cloned().ok_or_else(|| {
            bad(format!(
                "experiment '{experiment}' has no sweep: nothing to plot against"
            ))
        })?,
    };
    let mut unit = String::new();
    let mut series: BTreeMap<String, Vec<(f64, f64, f64)>> = BTreeMap::new();
    for (p, vals) in &values {
        let Some((x, u)) = vals.get(&x_axis).and_then(sweep_number) else {
            return Err(bad(format!("sweep point {p}: `{x_axis}` is not a number")));
        };
        unit = u;
        let others: Vec<String> = vals
            .iter()
            .filter(|(k, _)| **k != x_axis)
            .map(|(k, v)| match sweep_number(v) {
                Some((x, u)) => format!("{k} = {x} {u}"),
                None => format!("{k} = {v}"),
            })
            .collect();
        let (m, sd) = mean_sd(&counts[p]);
        series
            .entry(others.join(", "))
            .or_default()
            .push((x, m, sd));
    }
    let series = series
        .into_iter()
        .map(|(name, mut v)| {
            v.sort_by(|a, b| a.0.total_cmp(&b.0));
            Series {
                name,
                points: v.iter().map(|&(x, m, _)| (x, m)).collect(),
                err: v.iter().map(|&(_, _, s)| s).collect(),
                style: Style::Markers,
            }
        })
        .collect();
    Ok(XyFigure {
        title: format!("{experiment}: spikes per trial ({key})"),
        x_label: if unit.is_empty() {
            x_axis.clone()
        } else {
            format!("{x_axis} ({unit})")
        },
        y_label: "spikes per trial (mean ± SD)".into(),
        series,
        x_range: None,
        y_range: None,
        legend: true,
    })
}

/// What `morph` and `animate` draw from: the projected cell, one trial's per-compartment
/// values and its synapse activations.
struct Scene {
    title: String,
    geometry: Geometry,
    times: Vec<f64>,
    /// Rows of the chosen trial, one per compartment (`[compartment][sample]`).
    values: Vec<Vec<f64>>,
    value_label: String,
    groups: Vec<String>,
    /// Per synapse: group, position, release times.
    synapses: Vec<(usize, (f64, f64), Vec<f64>)>,
}

impl Scene {
    fn load(o: &MorphOpts) -> Result<Scene, Diagnostic> {
        let checked = crate::validate::check_path(&o.script);
        if checked.has_errors() {
            let text = render::human_all(&checked.diagnostics, &checked.sources, false);
            let first = checked
                .diagnostics
                .iter()
                .find(|d| d.is_error())
                .cloned()
                .unwrap_or_else(|| Diagnostic::new(Code::E0901, "script has errors"));
            eprint!("{text}");
            return Err(first);
        }
        let model = &checked.model;
        let exp = match &o.experiment {
            Some(n) => model
                .experiments
                .iter()
                .find(|e| &e.name == n)
                .ok_or_else(|| {
                    analysis::bad_param(
                        "--experiment",
                        format!("no experiment `{n}` in {}", o.script.display()),
                    )
                })?,
            None => model
                .experiments
                .first()
                .ok_or_else(|| bad(format!("{} declares no experiment", o.script.display())))?,
        };
        let neuron = model
            .neurons
            .iter()
            .find(|n| n.name == exp.neuron)
            .ok_or_else(|| bad(format!("neuron `{}` not found", exp.neuron)))?;
        let lowered = crate::lower::cell::build_cell(neuron, &model.mechanisms)
            .map_err(|e| Diagnostic::new(e[0].code, e[0].message.clone()))?;
        let mut m = crate::lower::cell::read_morphology(neuron)
            .map_err(|e| Diagnostic::new(e.code, e.message.clone()))?;
        if neuron.axon.is_some() {
            m.add_hay2013_axon();
        }
        let nseg: Vec<usize> = lowered.geometry.sections.iter().map(|s| s.nseg).collect();
        let view = match o.view {
            ViewArg::Xy => View::Xy,
            ViewArg::Xz => View::Xz,
            ViewArg::Yz => View::Yz,
        };
        let geometry = morph::project(&m, &nseg, view);
        let s = open(&o.store)?;
        let var = o
            .variable
            .clone()
            .unwrap_or_else(|| format!("{}/traces/all_compartments.v", exp.name));
        let tr = read_traces(&s, &var).map_err(|d| {
            d.help("record `all_compartments` in the experiment (one trace per compartment)")
        })?;
        let Some(comp) = &tr.compartment else {
            return Err(bad(format!(
                "key '{var}' has no `compartment` column: not a per-compartment recording"
            ))
            .help("record `all_compartments` in the experiment"));
        };
        let label = match &o.trial {
            Some(t) => t.clone(),
            None => tr
                .labels
                .first()
                .cloned()
                .ok_or_else(|| bad(format!("key '{var}' is empty")))?,
        };
        let mut values = vec![Vec::new(); geometry.n_compartments];
        let mut times = Vec::new();
        let mut seen = 0;
        for (i, l) in tr.labels.iter().enumerate() {
            if *l != label {
                continue;
            }
            let c = comp[i];
            if c < 0 || c as usize >= values.len() {
                return Err(Diagnostic::new(
                    Code::E0906,
                    format!(
                        "key '{var}' has compartment {c}, the cell of {} has {}",
                        o.script.display(),
                        geometry.n_compartments
                    ),
                ));
            }
            values[c as usize] = tr.rows[i].clone();
            times = tr.times[i].to_vec();
            seen += 1;
        }
        if seen == 0 {
            let some: Vec<&str> = tr.labels.iter().map(String::as_str).take(3).collect();
            return Err(analysis::bad_param(
                "--trial",
                format!("no row `{label}` in '{var}' (rows: {} …)", some.join(", ")),
            ));
        }
        if seen != geometry.n_compartments {
            return Err(Diagnostic::new(
                Code::E0906,
                format!(
                    "key '{var}' holds {seen} compartments of {label}, the cell of {} has {}",
                    o.script.display(),
                    geometry.n_compartments
                ),
            ));
        }
        // Synapses of the same trial.
        let (mut groups, mut synapses) = (Vec::<String>::new(), Vec::new());
        let skey = format!(
            "{}/synapse_activations/{}",
            exp.name,
            label.replacen('/', "_", 1)
        );
        if let Ok(t) = s.get_table(&skey)
            && let (
                Some(Column::Str(ty)),
                Some(Column::I64(sec)),
                Some(Column::I64(pt)),
                Some(Column::F64List(rt)),
            ) = (
                t.column("synapse_type"),
                t.column("section"),
                t.column("point"),
                t.column("release_times_ms"),
            )
        {
            for i in 0..ty.len() {
                let Some(pts) = usize::try_from(sec[i])
                    .ok()
                    .and_then(|s| geometry.points.get(s))
                else {
                    continue;
                };
                let Some(&at) = pts.get((pt[i].max(0) as usize).min(pts.len().saturating_sub(1)))
                else {
                    continue;
                };
                let g = match groups.iter().position(|x| *x == ty[i]) {
                    Some(g) => g,
                    None => {
                        groups.push(ty[i].clone());
                        groups.len() - 1
                    }
                };
                synapses.push((g, at, rt[i].clone()));
            }
        }
        let name = var.rsplit('/').next().unwrap_or(&var).to_string();
        Ok(Scene {
            title: format!("{} {label} {name}", exp.name),
            geometry,
            times,
            values,
            value_label: if name.ends_with(".v") {
                "v (mV)".into()
            } else {
                name
            },
            groups,
            synapses,
        })
    }

    /// The recorded sample nearest `t`: its time and the value of every compartment.
    fn values_at(&self, t: f64) -> (f64, Vec<f64>) {
        let k = nearest(&self.times, t);
        // Sample times are k·dt in floating point (108.60000000000001): shown to 1 ns.
        let shown = self.times.get(k).copied().unwrap_or(t);
        (
            (shown * 1e6).round() / 1e6,
            self.values
                .iter()
                .map(|r| r.get(k).copied().unwrap_or(f64::NAN))
                .collect(),
        )
    }

    fn markers(&self, t: f64, o: &MorphOpts) -> Vec<Marker> {
        self.synapses
            .iter()
            .filter(|(_, _, rt)| {
                o.all_synapses || rt.iter().any(|&x| t <= x && x < t + o.synapse_window)
            })
            .map(|&(g, at, _)| Marker { group: g, at })
            .collect()
    }

    fn range(&self, o: &MorphOpts, vals: impl Iterator<Item = f64>) -> (f64, f64) {
        if let Some(r) = &o.range
            && r.len() == 2
        {
            return (r[0], r[1]);
        }
        let (lo, hi) = vals
            .filter(|x| x.is_finite())
            .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), x| {
                (a.min(x), b.max(x))
            });
        if lo.is_finite() { (lo, hi) } else { (0.0, 1.0) }
    }

    fn figure(&self, time: f64, o: &MorphOpts) -> Result<MorphFigure, Diagnostic> {
        if !time.is_finite() {
            return Err(analysis::bad_param("--time", "not a finite number"));
        }
        let (t, values) = self.values_at(time);
        let range = self.range(o, values.iter().copied());
        Ok(MorphFigure {
            title: format!("{} at t = {t} ms", self.title),
            geometry: self.geometry.clone(),
            values: Some(values),
            range,
            value_label: self.value_label.clone(),
            groups: self.groups.clone(),
            markers: self.markers(t, o),
        })
    }
}

/// Index of the sample nearest `t` (times ascending).
fn nearest(times: &[f64], t: f64) -> usize {
    let k = times.partition_point(|&x| x < t);
    if k == 0 {
        0
    } else if k >= times.len() {
        times.len().saturating_sub(1)
    } else if (times[k] - t).abs() < (t - times[k - 1]).abs() {
        k
    } else {
        k - 1
    }
}
