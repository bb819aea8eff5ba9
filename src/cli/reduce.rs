//! `isf reduce fit|predict`: reduced models of a cell's spiking fitted from binned synaptic
//! input in results stores (spec 07 §7.6–7.8; see [`crate::reduce`]).
//!
//! `fit` reads the binned-activation keys and the spike times of one or more stores, fits the
//! model and writes it as one key (windows, kernels, lookup tables, scores, the sources'
//! fingerprints) into the first store. `predict` applies a stored model to a store's binned
//! activations, statically (one spike probability per trial) or rolling (a time-resolved
//! PSTH), and writes the prediction as a table. Nothing is written when an input is bad.
//!
//! Exit codes: 0 success; 1 a bad input (E0910 data, E0911 windows, E0912 classes, E0913
//! singular fit, E0914 options, E0915 stored model, E06xx store); 2 usage errors.

use crate::diagnostics::{Code, Diagnostic};
use crate::reduce::glm;
use crate::reduce::lda::{self, LdaConfig, LdaModel};
use crate::reduce::{DataSpec, Dataset, bad_model, bad_option, correlation, roc_auc};
use crate::store::export::NpyArray;
use crate::store::{Column, Metadata, Store, Table};
use clap::{Args, Subcommand, ValueEnum};
use std::path::{Path, PathBuf};
use std::time::Instant;

/// Arguments of `isf reduce`.
#[derive(Args, Debug)]
#[command(after_help = "Examples:\n  \
isf analyze synapses results/s4.isfdb S4 --group-by EI --bin 1\n  \
isf reduce fit results/s4.isfdb --model lda \\\n      \
--keys \
    S4/analysis/synapse_activation_binned/t1/EI/EXC,\
    S4/analysis/synapse_activation_binned/t1/EI/INH \\\n      \
--output-min 255 --output-max 265 --sa-width 80 --holdout 0.2 --seed 1 --out S4/reduced/lda\n  \
isf reduce predict results/s4.isfdb --model-key S4/reduced/lda --mode rolling --out \
    S4/reduced/lda_psth")]
pub struct ReduceArgs {
    #[command(subcommand)]
    pub command: ReduceCommand,
}

/// Which reduced model.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum ModelArg {
    /// ISF's LDA kernel and lookup table (spec 07 §7.6–7.7).
    Lda,
    /// The raised-cosine GLM (spec 07 §7.8).
    Glm,
}

/// How to predict.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum ModeArg {
    /// One spike probability (for the output window) per trial.
    Static,
    /// A time-resolved PSTH with the refractory correction.
    Rolling,
}

/// The data options shared by fit and predict.
#[derive(Args, Debug, Clone)]
pub struct DataArgs {
    /// Binned-activation tables (comma-separated; `isf analyze synapses` output), the same
    /// keys in every store.
    #[arg(long, value_delimiter = ',')]
    pub keys: Vec<String>,
    /// Spike-time table (default: the experiment's first events table, else its first
    /// `EXP/analysis/spike_times/NAME`).
    #[arg(long)]
    pub spikes: Option<String>,
    /// More stores whose trials are added (same keys; repeatable).
    #[arg(long)]
    pub data: Vec<PathBuf>,
}

/// The `isf reduce` subcommands.
#[derive(Subcommand, Debug)]
pub enum ReduceCommand {
    /// Fit a reduced model and store it as one key.
    Fit {
        /// Store to read trials from and to write the model into.
        store: PathBuf,
        #[command(flatten)]
        data: DataArgs,
        /// The model.
        #[arg(long, value_enum, default_value_t = ModelArg::Lda)]
        model: ModelArg,
        /// Start of the output window, ms.
        #[arg(long, default_value_t = 255.0)]
        output_min: f64,
        /// End of the output window (exclusive), ms.
        #[arg(long, default_value_t = 265.0)]
        output_max: f64,
        /// Start of the synaptic window, ms (give any two of --sa-min, --sa-max, --sa-width;
        /// default: width 80 ms ending at --output-max).
        #[arg(long)]
        sa_min: Option<f64>,
        /// End of the synaptic window (exclusive), ms.
        #[arg(long)]
        sa_max: Option<f64>,
        /// Width of the synaptic window, ms.
        #[arg(long)]
        sa_width: Option<f64>,
        /// Leave out trials with a spike this long before the output window, ms.
        #[arg(long, default_value_t = 0.0)]
        refractory: f64,
        /// Do not subsample the larger class to the smaller one's size.
        #[arg(long)]
        no_balance: bool,
        /// Fraction of each split's trials used for testing.
        #[arg(long, default_value_t = 0.4)]
        test_size: f64,
        /// Number of train/test splits (fitted classifiers; default 5 for lda, 3 for glm).
        #[arg(long)]
        splits: Option<usize>,
        /// Lookup-table grouping step (a whole number of WNI units; default 5 for lda, 3 for
        /// glm).
        #[arg(long)]
        lut_step: Option<i64>,
        /// Redraws of a split the discriminant cannot fit, over all splits.
        #[arg(long, default_value_t = 2)]
        max_tries: usize,
        /// Fraction of trials held back from the whole fit and scored separately.
        #[arg(long, default_value_t = 0.0)]
        holdout: f64,
        /// Seed of the class subsampling and splits.
        #[arg(long, default_value_t = 0)]
        seed: u64,
        /// Also write the design matrix, classes, splits and fitted coefficients as .npy
        /// files and model.json into this directory (to check the fit elsewhere).
        #[arg(long)]
        export: Option<PathBuf>,
        /// Key of the model (default EXP/reduced_models/lda).
        #[arg(long)]
        out: Option<String>,
    },
    /// Predict spiking with a stored model.
    Predict {
        /// Store with the trials to predict; the prediction is written here.
        store: PathBuf,
        /// Key of the model.
        #[arg(long)]
        model_key: String,
        /// Store holding the model (default: STORE).
        #[arg(long)]
        model_store: Option<PathBuf>,
        /// Which of the model's classifiers (one per split).
        #[arg(long, default_value_t = 0)]
        model_number: usize,
        /// Static (per trial) or rolling (PSTH over time).
        #[arg(long, value_enum, default_value_t = ModeArg::Static)]
        mode: ModeArg,
        /// Binned-activation keys (default: the model's), spikes for the comparison, more
        /// stores.
        #[command(flatten)]
        data: DataArgs,
        /// Only the trials the fit held back (`fit --holdout`).
        #[arg(long)]
        holdout_only: bool,
        /// Result key (default MODEL_KEY_static or MODEL_KEY_rolling).
        #[arg(long)]
        out: Option<String>,
    },
}

/// What a command wrote and found.
#[derive(Clone, Debug, Default)]
pub struct Report {
    pub keys: Vec<String>,
    pub lines: Vec<String>,
}

/// Run `isf reduce`; returns the exit code.
pub fn run(args: ReduceArgs) -> i32 {
    match run_inner(args) {
        Ok(r) => {
            for k in &r.keys {
                eprintln!("wrote {k}");
            }
            for l in &r.lines {
                println!("{l}");
            }
            0
        }
        Err(d) => super::fail(&d),
    }
}

fn check_store(path: &Path) -> Result<(), Diagnostic> {
    if !path.join(crate::store::MARKER).is_file() {
        return Err(Diagnostic::new(
            Code::E0910,
            format!("{} is not a results store", path.display()),
        )
        .help("give the directory `isf run` wrote (its `store:` or --out)"));
    }
    Ok(())
}

fn open_ro(path: &Path) -> Result<Store, Diagnostic> {
    check_store(path)?;
    Store::open(path).map_err(|e| e.to_diagnostic())
}

/// The dataset of `main` plus `--data` stores.
fn load(
    main: &Store,
    main_path: &Path,
    d: &DataArgs,
    keys: Vec<String>,
    required: bool,
) -> Result<Dataset, Diagnostic> {
    let extra: Vec<Store> = d
        .data
        .iter()
        .map(|p| open_ro(p))
        .collect::<Result<_, _>>()?;
    let mut stores = vec![(main, main_path.display().to_string())];
    for (s, p) in extra.iter().zip(&d.data) {
        stores.push((s, p.display().to_string()));
    }
    Dataset::load(
        &stores,
        &DataSpec {
            keys,
            spikes: d.spikes.clone(),
            spikes_required: required,
        },
    )
}

/// Run one command.
pub fn run_inner(args: ReduceArgs) -> Result<Report, Diagnostic> {
    match args.command {
        ReduceCommand::Fit {
            store,
            data,
            model,
            output_min,
            output_max,
            sa_min,
            sa_max,
            sa_width,
            refractory,
            no_balance,
            test_size,
            splits,
            lut_step,
            max_tries,
            holdout,
            seed,
            export,
            out,
        } => {
            if model == ModelArg::Glm {
                // Options of the LDA kernel only: refused rather than silently ignored.
                let unused = [
                    ("--sa-min", sa_min.is_some()),
                    ("--sa-max", sa_max.is_some()),
                    ("--sa-width", sa_width.is_some()),
                    ("--no-balance", no_balance),
                    ("--max-tries", max_tries != 2),
                    ("--holdout", holdout != 0.0),
                    ("--export", export.is_some()),
                ];
                if let Some((name, _)) = unused.iter().find(|(_, given)| *given) {
                    return Err(bad_option(
                        name,
                        "the raised-cosine GLM does not use this option (its input window is \
                         the temporal basis' width before --output-max)",
                    )
                    .help("leave it out, or use --model lda"));
                }
                return fit_glm(GlmFitArgs {
                    store,
                    data,
                    output: (output_min, output_max),
                    refractory,
                    test_size,
                    splits,
                    lut_step,
                    seed,
                    out,
                });
            }
            let splits = splits.unwrap_or(5);
            let lut_step = lut_step.unwrap_or(5);
            check_store(&store)?;
            let (s, _lock) =
                Store::open_locked(&store, "isf reduce fit").map_err(|e| e.to_diagnostic())?;
            let ds = load(&s, &store, &data, data.keys.clone(), true)?;
            let cfg = LdaConfig {
                output_window_ms: (output_min, output_max),
                sa_min_ms: sa_min,
                sa_max_ms: sa_max,
                sa_width_ms: sa_width,
                refractory_ms: refractory,
                balance: !no_balance,
                test_size,
                splits,
                lut_step,
                max_tries,
                holdout,
                seed,
            };
            let t0 = Instant::now();
            let (m, fd) = lda::fit(&ds, &cfg)?;
            let fit_s = t0.elapsed().as_secs_f64();
            let experiment = ds.keys[0].split('/').next().unwrap_or("").to_string();
            let key = out.unwrap_or_else(|| format!("{experiment}/reduced_models/lda"));
            valid_key(&key)?;
            if let Some(dir) = &export {
                export_fit(dir, &m, &fd)?;
            }
            let mut meta = Metadata::now();
            meta.plan_hash = ds.sources[0].plan_hash.clone();
            meta.seed = Some(seed);
            meta.extra
                .insert("analysis".into(), "reduced_model_lda".into());
            meta.extra.insert("source".into(), ds.keys.join(","));
            meta.extra.insert("spikes".into(), m.spikes_key.clone());
            for (i, src) in ds.sources.iter().enumerate() {
                meta.extra.insert(
                    format!("source_{i}"),
                    format!("{} sha256:{}", src.path, src.fingerprint),
                );
            }
            s.put_with_meta(&key, &m, meta)
                .map_err(|e| e.to_diagnostic())?;
            let mut r = Report {
                keys: vec![key],
                lines: fit_summary(&m),
            };
            r.lines.push(format!("fit in {fit_s:.3} s"));
            if let Some(dir) = export {
                r.lines
                    .push(format!("exported the fit to {}", dir.display()));
            }
            Ok(r)
        }
        ReduceCommand::Predict {
            store,
            model_key,
            model_store,
            model_number,
            mode,
            data,
            holdout_only,
            out,
        } => {
            check_store(&store)?;
            let (s, _lock) =
                Store::open_locked(&store, "isf reduce predict").map_err(|e| e.to_diagnostic())?;
            let ms_owned = match &model_store {
                Some(p) => Some(open_ro(p)?),
                None => None,
            };
            let ms = ms_owned.as_ref().unwrap_or(&s);
            if model_kind(ms, &model_key)?.as_deref() == Some("glm") {
                return predict_glm(&s, ms, &model_key, mode, &data, out);
            }
            let m = read_model(ms, &model_key)?;
            let keys = if data.keys.is_empty() {
                m.keys.clone()
            } else {
                if data.keys.len() != m.keys.len() {
                    return Err(bad_model(format!(
                        "the model has {} kernels ({}), --keys names {}",
                        m.keys.len(),
                        m.names.join(", "),
                        data.keys.len()
                    )));
                }
                data.keys.clone()
            };
            let mut data = data;
            if data.spikes.is_none() && model_store.is_none() {
                data.spikes = Some(m.spikes_key.clone());
            }
            let mut ds = load(&s, &store, &data, keys, false)?;
            if holdout_only {
                if m.holdout_labels.is_empty() {
                    return Err(bad_option(
                        "--holdout-only",
                        "the model held no trials back",
                    ));
                }
                let keep: Vec<bool> = ds
                    .labels
                    .iter()
                    .map(|l| m.holdout_labels.contains(l))
                    .collect();
                if !keep.iter().any(|&k| k) {
                    return Err(bad_model(
                        "none of the model's held-back trials is in this store",
                    ));
                }
                ds = ds.select(&keep);
            }
            let has_spikes = ds.spikes_key.is_some();
            let mode_name = match mode {
                ModeArg::Static => "static",
                ModeArg::Rolling => "rolling",
            };
            let key = out.unwrap_or_else(|| format!("{model_key}_{mode_name}"));
            valid_key(&key)?;
            let mut meta = Metadata::now();
            meta.extra
                .insert("analysis".into(), format!("reduced_model_lda_{mode_name}"));
            meta.extra.insert("model".into(), model_key.clone());
            meta.extra
                .insert("model_number".into(), model_number.to_string());
            meta.extra.insert("source".into(), ds.keys.join(","));
            let mut lines = Vec::new();
            let n = ds.n_rows();
            let t0 = Instant::now();
            let table = match mode {
                ModeArg::Static => {
                    let p = lda::predict_static(&m, model_number, &ds)?;
                    let dt = t0.elapsed().as_secs_f64();
                    lines.push(format!(
                        "static prediction of {n} trials in {:.3} ms ({:.2} µs per trial)",
                        dt * 1e3,
                        dt * 1e6 / n as f64
                    ));
                    let mut t = Table::new()
                        .with("sim_trial_index", Column::Str(ds.labels.clone()))
                        .with("wni", Column::F64(p.wni.clone()))
                        .with("p_spike", Column::F64(p.p_spike.clone()));
                    let mean_p = p.p_spike.iter().sum::<f64>() / n as f64;
                    lines.push(format!(
                        "mean predicted P(spike in [{}, {}) ms): {mean_p:.4}",
                        m.output_window_ms.0, m.output_window_ms.1
                    ));
                    if has_spikes {
                        let y = ds.spike_in(m.output_window_ms.0, m.output_window_ms.1);
                        let obs = y.iter().filter(|&&b| b).count() as f64 / n as f64;
                        lines.push(format!("observed fraction of trials spiking: {obs:.4}"));
                        if let Some(a) = roc_auc(&y, &p.wni) {
                            lines.push(format!(
                                "ROC-AUC of the WNI against the observed spikes: {a:.4}"
                            ));
                        }
                        t = t.with("spike", Column::I64(y.iter().map(|&b| b as i64).collect()));
                    }
                    if p.clipped > 0 {
                        lines.push(format!(
                            "warning: {} trial(s) had a WNI outside the lookup table and were \
                             clipped to its range",
                            p.clipped
                        ));
                    }
                    t
                }
                ModeArg::Rolling => {
                    let p = lda::predict_rolling(&m, model_number, &ds)?;
                    let dt = t0.elapsed().as_secs_f64();
                    lines.push(format!(
                        "rolling prediction of {n} trials × {} bins in {:.3} ms ({:.2} µs per \
                         trial)",
                        ds.n_t(),
                        dt * 1e3,
                        dt * 1e6 / n as f64
                    ));
                    let n_t = ds.n_t();
                    let t_ms: Vec<f64> = (0..n_t).map(|t| t as f64 * ds.bin_ms).collect();
                    let mut t = Table::new()
                        .with("t_ms", Column::F64(t_ms.clone()))
                        .with("raw_psth", Column::F64(p.raw_psth.clone()))
                        .with("able_to_spike", Column::F64(p.able.clone()))
                        .with("psth", Column::F64(p.psth.clone()));
                    if has_spikes {
                        // What the lookup table predicts: a spike in the output window's
                        // width ending at t.
                        let w = m.output_window_ms.1 - m.output_window_ms.0;
                        let sim: Vec<f64> = t_ms
                            .iter()
                            .map(|&te| {
                                ds.spike_in(te - w, te).iter().filter(|&&b| b).count() as f64
                                    / n as f64
                            })
                            .collect();
                        let sm = ds.spike_matrix();
                        let sim_bin: Vec<f64> =
                            (0..n_t).map(|k| sm.column(k).sum() / n as f64).collect();
                        // Compare where the whole synaptic window lies inside the data.
                        let l = m.sa_bins().1 - m.sa_bins().0;
                        if n_t > l + 1 {
                            let r = correlation(&p.psth[l..], &sim[l..]);
                            lines.push(format!(
                                "correlation of the predicted PSTH with the simulated P(spike in \
                                 the {w} ms before t), t ≥ {} ms: {r:.4}",
                                l as f64 * ds.bin_ms
                            ));
                        }
                        t = t
                            .with("sim_window", Column::F64(sim))
                            .with("sim_psth", Column::F64(sim_bin));
                    }
                    if p.clipped > 0 {
                        lines.push(format!(
                            "warning: {} (trial, bin) WNI values outside the lookup table were \
                             clipped to its range",
                            p.clipped
                        ));
                    }
                    t.with_attr(
                        "window_ms",
                        rmpv::Value::F64(m.output_window_ms.1 - m.output_window_ms.0),
                    )
                }
            };
            s.put_table(&key, &table, meta)
                .map_err(|e| e.to_diagnostic())?;
            Ok(Report {
                keys: vec![key],
                lines,
            })
        }
    }
}

/// Refuse a result key the store would refuse, before any work is done.
fn valid_key(key: &str) -> Result<(), Diagnostic> {
    for part in key.split('/') {
        crate::store::validate_name(part)
            .map_err(|m| bad_option("--out", format!("key '{key}': {m}")))?;
    }
    Ok(())
}

/// The `model` field of a stored reduced model (`None` when the key has none).
fn model_kind(s: &Store, key: &str) -> Result<Option<String>, Diagnostic> {
    if !s.contains(key) {
        return Err(
            bad_model(format!("no model key '{key}' in {}", s.path().display()))
                .help("fit one with `isf reduce fit`"),
        );
    }
    /// Just the kind field of any stored model.
    #[derive(serde::Deserialize)]
    struct Kind {
        model: Option<String>,
    }
    let k: Kind = s.get(key).map_err(|e| {
        bad_model(format!(
            "key '{key}' is not a reduced model: {}",
            e.to_diagnostic().message
        ))
    })?;
    Ok(k.model)
}

/// A stored GLM: the fitted model with the keys it was fitted on.
#[derive(serde::Serialize, serde::Deserialize)]
struct StoredGlm {
    /// Always `"glm"` (what `predict` dispatches on).
    model: String,
    /// Binned-activation keys, one per group, in the model's group order.
    keys: Vec<String>,
    /// The spike-time table of the fit.
    spikes_key: String,
    /// Per source store: path and SHA-256 of the data read.
    sources: Vec<String>,
    /// The fitted model.
    glm: glm::GlmModel,
}

/// The options of `isf reduce fit --model glm`.
struct GlmFitArgs {
    store: PathBuf,
    data: DataArgs,
    output: (f64, f64),
    refractory: f64,
    test_size: f64,
    splits: Option<usize>,
    lut_step: Option<i64>,
    seed: u64,
    out: Option<String>,
}

/// The spike-time key of a GLM fit: `--spikes`, else the experiment's first
/// `EXP/analysis/spike_times/NAME` (what `isf analyze spikes` writes).
fn glm_spikes_key(s: &Store, data: &DataArgs) -> Result<String, Diagnostic> {
    if let Some(k) = &data.spikes {
        return Ok(k.clone());
    }
    let experiment = data.keys[0].split('/').next().unwrap_or("");
    let dir = format!("{experiment}/analysis/spike_times");
    s.keys_recursive()
        .ok()
        .and_then(|ks| ks.into_iter().find(|k| k.starts_with(&format!("{dir}/"))))
        .ok_or_else(|| {
            Diagnostic::new(
                Code::E0916,
                format!("no spike-time table under '{dir}' and no --spikes given"),
            )
            .help("detect spikes first: `isf analyze spikes STORE EXP/traces/soma.v`")
        })
}

/// `isf reduce fit --model glm`: spatiotemporally binned keys (`--distance-bin`) and spike
/// times → the raised-cosine GLM (spec 07 §7.8), stored as one key.
fn fit_glm(a: GlmFitArgs) -> Result<Report, Diagnostic> {
    if a.data.keys.is_empty() {
        return Err(bad_option("--keys", "name the binned-activation keys"));
    }
    if !a.data.data.is_empty() {
        return Err(bad_option(
            "--data",
            "the GLM fits one store (give its trials in STORE)",
        ));
    }
    check_store(&a.store)?;
    let (s, _lock) =
        Store::open_locked(&a.store, "isf reduce fit").map_err(|e| e.to_diagnostic())?;
    let spikes_key = glm_spikes_key(&s, &a.data)?;
    let keys: Vec<&str> = a.data.keys.iter().map(String::as_str).collect();
    let inputs = glm::inputs_from_store(&s, &keys, &spikes_key)?;
    let mut cfg = glm::GlmConfig {
        output_window_ms: [a.output.0, a.output.1],
        refractory_ms: a.refractory,
        test_size: a.test_size,
        ..glm::GlmConfig::default()
    };
    if let Some(n) = a.splits {
        cfg.n_splits = n;
    }
    if let Some(st) = a.lut_step {
        cfg.lut_step = st as f64;
    }
    let t0 = Instant::now();
    let m = glm::fit(&inputs, &cfg, a.seed)?;
    let fit_s = t0.elapsed().as_secs_f64();
    let experiment = keys[0].split('/').next().unwrap_or("").to_string();
    let key = a
        .out
        .unwrap_or_else(|| format!("{experiment}/reduced_models/glm"));
    valid_key(&key)?;
    let fingerprint = crate::reduce::Dataset::load(
        &[(&s, String::new())],
        &DataSpec {
            keys: a.data.keys.clone(),
            spikes: Some(spikes_key.clone()),
            spikes_required: true,
        },
    )
    .map(|d| d.sources[0].fingerprint.clone())
    .unwrap_or_default();
    let mut meta = Metadata::now();
    meta.seed = Some(a.seed);
    meta.extra
        .insert("analysis".into(), "reduced_model_glm".into());
    meta.extra.insert("source".into(), a.data.keys.join(","));
    meta.extra.insert("spikes".into(), spikes_key.clone());
    let sources = vec![format!("{} sha256:{fingerprint}", a.store.display())];
    meta.extra.insert("source_0".into(), sources[0].clone());
    let lines = vec![
        format!(
            "GLM on {} trials, groups {}: held-back AUC {:.4} (through the LUT {:.4}), split {} of \
             {}",
            inputs.n_trials(),
            inputs.groups.join(", "),
            m.test_auc,
            m.test_auc_lut,
            m.chosen_split + 1,
            m.splits.len()
        ),
        format!("fit in {fit_s:.3} s"),
    ];
    let stored = StoredGlm {
        model: "glm".into(),
        keys: a.data.keys.clone(),
        spikes_key,
        sources,
        glm: m,
    };
    s.put_with_meta(&key, &stored, meta)
        .map_err(|e| e.to_diagnostic())?;
    Ok(Report {
        keys: vec![key],
        lines,
    })
}

/// `isf reduce predict` with a stored GLM: static (P(spike in the output window) per trial)
/// or rolling (the Bernoulli simulator's PSTH per bin, seeded with the fit's seed).
fn predict_glm(
    s: &Store,
    ms: &Store,
    model_key: &str,
    mode: ModeArg,
    data: &DataArgs,
    out: Option<String>,
) -> Result<Report, Diagnostic> {
    let g: StoredGlm = ms.get(model_key).map_err(|e| {
        bad_model(format!(
            "key '{model_key}' is not a readable GLM: {}",
            e.to_diagnostic().message
        ))
    })?;
    let keys = if data.keys.is_empty() {
        g.keys.clone()
    } else {
        data.keys.clone()
    };
    let spikes = data.spikes.clone().unwrap_or_else(|| g.spikes_key.clone());
    let kr: Vec<&str> = keys.iter().map(String::as_str).collect();
    let inputs = glm::inputs_from_store(s, &kr, &spikes)?;
    let mode_name = match mode {
        ModeArg::Static => "static",
        ModeArg::Rolling => "rolling",
    };
    let key = out.unwrap_or_else(|| format!("{model_key}_{mode_name}"));
    valid_key(&key)?;
    let n = inputs.n_trials();
    let mut lines = Vec::new();
    let t0 = Instant::now();
    let table = match mode {
        ModeArg::Static => {
            let wni = g.glm.wni(&inputs)?;
            let p: Vec<f64> = wni.iter().map(|&w| g.glm.lut_window.lookup(w)).collect();
            let dt = t0.elapsed().as_secs_f64();
            lines.push(format!(
                "static prediction of {n} trials in {:.3} ms",
                dt * 1e3
            ));
            let [lo, hi] = g.glm.config.output_window_ms;
            let sm = inputs.spike_matrix();
            let b = |t: f64| (t / inputs.bin_ms).round() as usize;
            let y: Vec<bool> = (0..n)
                .map(|k| (b(lo)..b(hi).min(inputs.n_bins())).any(|t| sm[[k, t]] == 1))
                .collect();
            if let Some(a) = roc_auc(&y, &wni) {
                lines.push(format!(
                    "ROC-AUC of the WNI against the observed spikes: {a:.4}"
                ));
            }
            Table::new()
                .with("sim_trial_index", Column::Str(inputs.labels.clone()))
                .with("wni", Column::F64(wni))
                .with("p_spike", Column::F64(p))
                .with("spike", Column::I64(y.iter().map(|&v| v as i64).collect()))
        }
        ModeArg::Rolling => {
            let sim = g.glm.simulate(&inputs, g.glm.seed)?;
            let dt = t0.elapsed().as_secs_f64();
            lines.push(format!(
                "simulated {n} reduced trials × {} bins in {:.3} ms",
                inputs.n_bins(),
                dt * 1e3
            ));
            let n_t = inputs.n_bins();
            let sm = inputs.spike_matrix();
            let psth: Vec<f64> = (0..n_t)
                .map(|t| sim.column(t).iter().map(|&v| v as f64).sum::<f64>() / n as f64)
                .collect();
            let sim_psth: Vec<f64> = (0..n_t)
                .map(|t| sm.column(t).iter().map(|&v| v as f64).sum::<f64>() / n as f64)
                .collect();
            lines.push(format!(
                "spikes per trial: reduced {:.3}, simulated cell {:.3}",
                psth.iter().sum::<f64>(),
                sim_psth.iter().sum::<f64>()
            ));
            Table::new()
                .with(
                    "t_ms",
                    Column::F64((0..n_t).map(|t| t as f64 * inputs.bin_ms).collect()),
                )
                .with("psth", Column::F64(psth))
                .with("sim_psth", Column::F64(sim_psth))
        }
    };
    let mut meta = Metadata::now();
    meta.extra
        .insert("analysis".into(), format!("reduced_model_glm_{mode_name}"));
    meta.extra.insert("model".into(), model_key.to_string());
    meta.extra.insert("source".into(), keys.join(","));
    s.put_table(&key, &table, meta)
        .map_err(|e| e.to_diagnostic())?;
    Ok(Report {
        keys: vec![key],
        lines,
    })
}

/// Read and check a stored model.
pub fn read_model(s: &Store, key: &str) -> Result<LdaModel, Diagnostic> {
    match model_kind(s, key)?.as_deref() {
        Some("lda") => {}
        Some(other) => {
            return Err(bad_model(format!(
                "key '{key}' holds a `{other}` model, not an `lda` model"
            )));
        }
        None => return Err(bad_model(format!("key '{key}' is not a reduced model"))),
    }
    let m: LdaModel = s.get(key).map_err(|e| {
        bad_model(format!(
            "key '{key}' is not a readable LDA model: {}",
            e.to_diagnostic().message
        ))
    })?;
    m.check()?;
    Ok(m)
}

/// A stored reduced model of either kind (what `isf plot kernels|lut` draws).
pub enum StoredModel {
    Lda(Box<LdaModel>),
    Glm(Box<glm::GlmModel>),
}

/// The model at `key`, LDA or GLM (E0915 when the key holds neither).
pub fn read_any_model(s: &Store, key: &str) -> Result<StoredModel, Diagnostic> {
    match model_kind(s, key)?.as_deref() {
        Some("glm") => read_glm(s, key).map(|g| StoredModel::Glm(Box::new(g))),
        _ => read_model(s, key).map(|m| StoredModel::Lda(Box::new(m))),
    }
}

/// The GLM stored at `key` by `isf reduce fit --model glm`.
pub fn read_glm(s: &Store, key: &str) -> Result<glm::GlmModel, Diagnostic> {
    let g: StoredGlm = s.get(key).map_err(|e| {
        bad_model(format!(
            "key '{key}' is not a readable GLM: {}",
            e.to_diagnostic().message
        ))
    })?;
    Ok(g.glm)
}

/// Lines describing a fitted model.
pub fn fit_summary(m: &LdaModel) -> Vec<String> {
    let refractory = if m.refractory_ms > 0.0 {
        format!(
            "{} left out for a spike in [{}, {}) ms",
            m.spike_before,
            m.output_window_ms.0 - m.refractory_ms,
            m.output_window_ms.0
        )
    } else {
        "no refractory window".to_string()
    };
    let mut l = vec![format!(
        "{} trials: {} held back, {refractory}, {} fitted ({} spiking in [{}, {}) ms)",
        m.trials,
        m.holdout_labels.len(),
        m.fit_labels.len(),
        m.fit_spiking,
        m.output_window_ms.0,
        m.output_window_ms.1
    )];
    l.push(format!(
        "synaptic window [{}, {}) ms, keys {}",
        m.sa_window_ms.0,
        m.sa_window_ms.1,
        m.names.join(", ")
    ));
    for (i, c) in m.classifiers.iter().enumerate() {
        l.push(format!(
            "split {i}: test AUC {:.4}, accuracy spiking {:.3}, silent {:.3} ({} train, {} test); \
             LUT [{}, {}]",
            c.test.auc,
            c.test.accuracy_1,
            c.test.accuracy_0,
            c.train_rows.len(),
            c.test_rows.len(),
            c.lut.index_min,
            c.lut.index_max()
        ));
    }
    l.push(format!(
        "score {:.4} (median accuracy on spiking + on silent test trials, 0…2), median test AUC \
         {:.4}",
        m.score, m.median_test_auc
    ));
    if let (Some(s), Some(a)) = (m.holdout_score, m.holdout_auc) {
        l.push(format!(
            "held-back trials ({}): score {s:.4}, median AUC {a:.4}",
            m.holdout_labels.len()
        ));
    }
    l
}

/// `--export DIR`: X.npy, y.npy, train_K.npy, test_K.npy, model.json.
fn export_fit(dir: &Path, m: &LdaModel, fd: &lda::FitData) -> Result<(), Diagnostic> {
    let err = |p: &Path, e: std::io::Error| {
        Diagnostic::new(
            Code::E0914,
            format!("--export: cannot write {}: {e}", p.display()),
        )
    };
    std::fs::create_dir_all(dir).map_err(|e| err(dir, e))?;
    let write = |name: &str, a: NpyArray| {
        let p = dir.join(name);
        crate::store::frame::write_atomic(&p, &a.to_npy()).map_err(|e| err(&p, e))
    };
    let (r, c) = fd.x.dim();
    let xs: Vec<f64> = fd.x.iter().copied().collect();
    write("X.npy", NpyArray::f64(vec![r, c], &xs))?;
    let ys: Vec<f64> = fd.y.iter().map(|&b| b as u8 as f64).collect();
    write("y.npy", NpyArray::f64(vec![r], &ys))?;
    for (k, cl) in m.classifiers.iter().enumerate() {
        let tr: Vec<f64> = cl.train_rows.iter().map(|&v| v as f64).collect();
        let te: Vec<f64> = cl.test_rows.iter().map(|&v| v as f64).collect();
        write(
            &format!("train_{k}.npy"),
            NpyArray::f64(vec![tr.len()], &tr),
        )?;
        write(&format!("test_{k}.npy"), NpyArray::f64(vec![te.len()], &te))?;
    }
    let json = serde_json::to_vec_pretty(m)
        .map_err(|e| Diagnostic::new(Code::E0901, format!("cannot serialise the model: {e}")))?;
    let p = dir.join("model.json");
    crate::store::frame::write_atomic(&p, &json).map_err(|e| err(&p, e))
}
