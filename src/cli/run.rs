//! `isf run FILE`: check a script, plan its experiments' work items and simulate them in
//! parallel into a results store, resumably.

use super::check::{Format, emit};
use super::{fail, no_experiment, selected_experiments};
use crate::diagnostics::{Code, Diagnostic, render};
use crate::model::sweep::{SweepTarget, SweepValue};
use crate::model::{ExperimentModel, Model};
use crate::run::cellsim::CellRunner;
use crate::run::exec::{ResultSink, execute};
use crate::run::fingerprint::Plan;
use crate::run::sink::StoreSink;
use crate::run::{Shard, WorkItem, point_values, work_items};
use crate::store::{Column, Metadata, Store, WriterLock};
use clap::Args;
use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

/// Arguments of `isf run`.
#[derive(Args, Debug)]
pub struct RunArgs {
    /// Script with at least one experiment.
    pub file: PathBuf,
    /// Experiment to run (default: every experiment of the script).
    #[arg(long, short)]
    pub experiment: Option<String>,
    /// Results store (default: the experiment's `store:` field).
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Worker threads (default: all cores).
    #[arg(long, short)]
    pub jobs: Option<usize>,
    /// Trials of one sweep point run side by side in SIMD lanes, at most this many per
    /// batch (1 runs every trial alone). Results are the same bit for bit.
    #[arg(long, default_value_t = 4, value_parser = clap::value_parser!(u8).range(1..=64))]
    pub lanes: u8,
    /// Continue an interrupted run: skip trials already in the store. Refused when the
    /// script's plan changed, except for added trials or sweep values.
    #[arg(long, conflicts_with = "overwrite")]
    pub resume: bool,
    /// Delete this experiment's earlier results in the store first.
    #[arg(long)]
    pub overwrite: bool,
    /// Run only shard K of N (1-based), e.g. `--shard 3/16` in a cluster job array.
    #[arg(long)]
    pub shard: Option<String>,
    /// Print the work items and where results would go, run nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// No progress bar.
    #[arg(long)]
    pub quiet: bool,
}

/// Run `isf run`.
pub fn run(args: RunArgs) -> i32 {
    let checked = crate::validate::check_path(&args.file);
    emit(&checked.diagnostics, &checked.sources, Format::Human);
    if checked.has_errors() {
        return 1;
    }
    let model = &checked.model;
    let shard = match args.shard.as_deref().map(Shard::parse).transpose() {
        Ok(s) => s,
        Err(e) => {
            eprintln!("error: --shard: {e}");
            return 2;
        }
    };
    let exps = selected_experiments(model, args.experiment.as_ref());
    if exps.is_empty() {
        let msg = no_experiment("run", args.experiment.as_ref(), &args.file);
        eprintln!("error: {msg}");
        return 1;
    }
    let cancel = Arc::new(AtomicBool::new(false));
    on_ctrl_c(&cancel);
    let script =
        crate::files::read_text(&args.file, crate::files::SCRIPT_LIMIT).unwrap_or_default();
    let jobs = args.jobs.unwrap_or_else(|| {
        std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1)
    });
    let cx = RunContext {
        args: &args,
        model,
        model_json: serde_json::to_value(model).unwrap_or_default(),
        sources: &checked.sources,
        shard,
        script,
        jobs,
        cancel,
        command: format!("isf run {}", args.file.display()),
    };
    // Held until the process ends: one writer per store (a store may serve several
    // experiments, and a second lock on it from this process would refuse itself).
    let mut locks: Vec<WriterLock> = Vec::new();
    let mut status = 0;
    for exp in exps {
        match run_experiment(&cx, exp, &mut locks) {
            Ok(true) => {}
            Ok(false) => status = 1,
            Err(code) => return code,
        }
    }
    status
}

/// What every experiment of one `isf run` shares.
struct RunContext<'a> {
    args: &'a RunArgs,
    model: &'a Model,
    model_json: serde_json::Value,
    sources: &'a crate::source::SourceMap,
    shard: Option<Shard>,
    /// The script's text, stored in each experiment's metadata.
    script: String,
    jobs: usize,
    cancel: Arc<AtomicBool>,
    /// The writer lock's holder description.
    command: String,
}

/// Ctrl-C asks the run to stop after the trials in flight; a second one kills the process.
fn on_ctrl_c(cancel: &Arc<AtomicBool>) {
    let c = cancel.clone();
    // A second Ctrl-C while stopping kills the process the usual way.
    let _ = ctrlc::set_handler(move || {
        if c.swap(true, Ordering::SeqCst) {
            std::process::exit(130);
        }
        eprintln!("\nstopping: finishing the trials in flight (Ctrl-C again to abort)");
    });
}

/// Run one experiment's work items (of the shard) into its store. `Ok(false)` when trials
/// failed (the next experiment still runs); `Err(code)` ends the command with that code.
fn run_experiment(
    cx: &RunContext,
    exp: &ExperimentModel,
    locks: &mut Vec<WriterLock>,
) -> Result<bool, i32> {
    let args = cx.args;
    let all = work_items(exp);
    let items: Vec<_> = all
        .iter()
        .filter(|i| cx.shard.is_none_or(|s| s.contains(i)))
        .copied()
        .collect();
    let out = match (&args.out, &exp.store) {
        (Some(o), _) => o.clone(),
        (None, Some(s)) => PathBuf::from(s),
        (None, None) => {
            eprintln!(
                "error: experiment `{}` has no `store:` field; give --out STORE",
                exp.name
            );
            return Err(1);
        }
    };
    eprintln!(
        "{}: {} sweep point{} x {} trial{} = {} work items{}, {} steps of {} ms, store {}",
        exp.name,
        exp.sweep_points,
        if exp.sweep_points == 1 { "" } else { "s" },
        exp.trials,
        if exp.trials == 1 { "" } else { "s" },
        all.len(),
        cx.shard
            .map(|s| format!(" ({} in shard {}/{})", items.len(), s.k, s.n))
            .unwrap_or_default(),
        exp.n_steps,
        exp.dt_ms,
        out.display()
    );
    if args.dry_run {
        print_items(exp, &items);
        return Ok(true);
    }
    // The cell is lowered and the run's size checked (compartments, recorded bytes) before
    // the store is created, so a refused run leaves nothing behind.
    let runner = CellRunner::new(cx.model, exp).map_err(|d| fail(&d))?;
    let store = open_store(&out, locks, &cx.command).map_err(|d| fail(&d))?;
    let Some(plan) = Plan::from_model_json(&cx.model_json, &exp.name) else {
        return Err(fail(&Diagnostic::new(
            Code::E0901,
            format!("experiment `{}` is missing from its own plan", exp.name),
        )));
    };
    if args.overwrite
        && store.contains(&exp.name)
        && let Err(e) = store.delete(&exp.name)
    {
        return Err(fail(&e.to_diagnostic()));
    }
    if !args.resume && store.contains(&exp.name) {
        eprintln!(
            "error: {} already holds results of `{}`; use --resume to continue, \
             --overwrite to start again, or another --out",
            out.display(),
            exp.name
        );
        return Err(1);
    }
    let meta = run_metadata(cx, exp);
    let sink = store_sink(&store, exp, meta, plan).map_err(|d| fail(&d))?;
    check_stored_items(&sink, exp, &items).map_err(|d| fail(&d))?;
    let axes = exp.sweep.clone();
    let progress = !args.quiet && std::io::stderr().is_terminal();
    let t0 = std::time::Instant::now();
    let result = execute(
        &items,
        &move |p| point_values(&axes, p),
        &runner,
        &sink,
        cx.jobs,
        args.lanes as usize,
        progress,
        &cx.cancel,
    );
    let (summary, failures) = result.map_err(|d| fail(&d))?;
    for (item, d) in &failures {
        eprintln!("trial p{:06}_t{:06} failed:", item.point, item.trial);
        eprint!("{}", render::plain(d, cx.sources));
    }
    eprintln!(
        "{}: ran {} trials ({} already stored, {} failed) in {:.2} s with {} threads",
        exp.name,
        summary.ran,
        summary.skipped,
        summary.failed,
        t0.elapsed().as_secs_f64(),
        cx.jobs
    );
    if summary.cancelled {
        eprintln!("interrupted: rerun with --resume to finish");
        return Err(130);
    }
    if summary.failed > 0 {
        return Ok(false);
    }
    finish(&sink, &store, exp, &out, all.len(), args.quiet).map_err(|d| fail(&d))?;
    Ok(true)
}

/// `--dry-run`: the first 20 work items with their sweep values and seeds.
fn print_items(exp: &ExperimentModel, items: &[WorkItem]) {
    for it in items.iter().take(20) {
        let p: Vec<String> = point_values(&exp.sweep, it.point)
            .iter()
            .map(|(k, v)| format!("{k}={}", serde_json::to_string(v).unwrap_or_default()))
            .collect();
        println!(
            "{:>6}  point {:>4}  trial {:>4}  seed {:016x}  {}",
            it.index,
            it.point,
            it.trial,
            it.seed,
            p.join(" ")
        );
    }
    if items.len() > 20 {
        println!("… {} more", items.len() - 20);
    }
}

/// The store `out`: opened if this process already holds its writer lock (an earlier
/// experiment of the script), else created or opened under a new lock kept in `locks`.
fn open_store(out: &Path, locks: &mut Vec<WriterLock>, command: &str) -> Result<Store, Diagnostic> {
    let held = std::fs::canonicalize(out).is_ok_and(|o| {
        locks
            .iter()
            .any(|l| std::fs::canonicalize(l.store()).ok() == Some(o.clone()))
    });
    if held {
        return Store::open(out).map_err(|e| e.to_diagnostic());
    }
    let (s, l) = Store::create_locked(out, command).map_err(|e| e.to_diagnostic())?;
    locks.push(l);
    Ok(s)
}

/// The metadata every trial key of the experiment carries.
fn run_metadata(cx: &RunContext, exp: &ExperimentModel) -> Metadata {
    let mut meta = Metadata {
        isf_version: Some(env!("CARGO_PKG_VERSION").to_string()),
        plan_hash: Some(cx.model.content_hash()),
        script: Some(cx.script.clone()),
        ..Metadata::default()
    };
    meta.extra.insert("trials".into(), exp.trials.to_string());
    meta.extra.insert("experiment".into(), exp.name.clone());
    if !exp.replay.is_empty() {
        // Trial t replays file t.
        let files: Vec<&str> = exp.replay.iter().map(|r| r.path.as_str()).collect();
        meta.extra.insert(
            "replay".into(),
            serde_json::to_string(&files).unwrap_or_default(),
        );
    }
    meta
}

/// The experiment's sink in `store`: sweep values and time step per point, recordings'
/// declared precision.
fn store_sink(
    store: &Store,
    exp: &ExperimentModel,
    meta: Metadata,
    plan: Plan,
) -> Result<StoreSink, Diagnostic> {
    let axes = exp.sweep.clone();
    let dt_axes = exp.sweep.clone();
    let base_dt = exp.dt_ms;
    let sink = StoreSink::new(
        store,
        &exp.name,
        meta,
        plan,
        Box::new(move |p| point_values(&axes, p)),
        // Each point's time step (ms): its `dt` axis value, else the experiment's.
        Box::new(move |p| {
            crate::run::point_settings(&dt_axes, p)
                .into_iter()
                .find_map(|(t, v)| match (t, v) {
                    (SweepTarget::Dt, SweepValue::Num(x)) => Some(*x),
                    _ => None,
                })
                .unwrap_or(base_dt)
        }),
    )?;
    Ok(sink.with_precision(
        exp.record
            .iter()
            .filter_map(|r| Some((r.name.clone(), r.precision?))),
    ))
}

/// Before anything runs: the stored results must be items of this plan (E0612); say what
/// is stored already.
fn check_stored_items(
    sink: &StoreSink,
    exp: &ExperimentModel,
    items: &[WorkItem],
) -> Result<(), Diagnostic> {
    let stored = sink.check_plan()?;
    if stored.damaged > 0 {
        eprintln!(
            "{}: {} stored trial(s) cannot be read; running them again \
             (`isf db verify` names them)",
            exp.name, stored.damaged
        );
    }
    if stored.extending {
        let done = sink.done()?;
        let to_run = items
            .iter()
            .filter(|i| !done.contains(&(i.point, i.trial)))
            .count();
        eprintln!(
            "{}: extending: {} stored items kept, {to_run} to run",
            exp.name, stored.kept
        );
    }
    Ok(())
}

/// After the trials: assemble the trace and event tables if the store holds every item of
/// the experiment (`n_items`), and print the summary.
fn finish(
    sink: &StoreSink,
    store: &Store,
    exp: &ExperimentModel,
    out: &Path,
    n_items: usize,
    quiet: bool,
) -> Result<(), Diagnostic> {
    // Tables are assembled only from a complete set: a shard's store gets them once the
    // other shards are run into it (`--resume`) or merged (`isf db merge`).
    if sink.complete()? {
        sink.assemble()?;
        if !quiet {
            print_summary(store, exp, out);
        }
    } else {
        let done = sink.done().map(|d| d.len()).unwrap_or(0);
        eprintln!(
            "{}: {done} of {n_items} items stored; trace and event tables are assembled \
             once all are (`isf db merge` the shards)",
            exp.name,
        );
    }
    Ok(())
}

/// The run summary: per sweep point its values and, per spike recording, spikes per trial
/// (mean ± sd) and the rate; then where the tables are and the commands to look further. It is
/// read back from the assembled tables, so it shows what the store holds.
fn print_summary(store: &Store, exp: &crate::model::ExperimentModel, out: &std::path::Path) {
    let Ok(es) = store.sub_existing(&exp.name) else {
        return;
    };
    let events = es.sub_existing("events").ok();
    let names = events
        .as_ref()
        .and_then(|e| e.keys().ok())
        .unwrap_or_default();
    // Spike counts per (recording, point), one entry per trial.
    let mut counts: Vec<(String, std::collections::BTreeMap<u64, Vec<f64>>)> = Vec::new();
    for name in &names {
        let Some(t) = events.as_ref().and_then(|e| e.get_table(name).ok()) else {
            continue;
        };
        let (Some(Column::Str(labels)), Some(Column::F64List(times))) =
            (t.column("sim_trial_index"), t.column("times_ms"))
        else {
            continue;
        };
        let mut per_point: std::collections::BTreeMap<u64, Vec<f64>> = Default::default();
        for (label, ts) in labels.iter().zip(times) {
            let Some(p) = label
                .strip_prefix('p')
                .and_then(|l| l.split('/').next())
                .and_then(|p| p.parse::<u64>().ok())
            else {
                continue;
            };
            per_point.entry(p).or_default().push(ts.len() as f64);
        }
        // The recording as the script names it (`spikes(soma)`), else the key.
        let shown = match t.attrs.get("recording") {
            Some(rmpv::Value::String(r)) => r.as_str().unwrap_or(name).to_string(),
            _ => name.clone(),
        };
        counts.push((shown, per_point));
    }
    let points = crate::model::sweep::sweep_points(&exp.sweep);
    println!("{}: summary ({} trial(s) per point)", exp.name, exp.trials);
    for p in 0..points.min(50) {
        let values = point_values(&exp.sweep, p);
        let duration_ms = values
            .iter()
            .zip(&exp.sweep)
            .find_map(|((_, v), a)| match (&a.target, v) {
                (SweepTarget::Duration, crate::model::Value::Num { value, .. }) => Some(*value),
                _ => None,
            })
            .unwrap_or(exp.duration_ms);
        let what: Vec<String> = values
            .iter()
            .map(|(path, v)| format!("{path} = {}", show_value(v)))
            .collect();
        let mut line = format!("  p{p:06}");
        if !what.is_empty() {
            line += &format!("  {}", what.join(", "));
        }
        for (name, per_point) in &counts {
            let Some(n) = per_point.get(&p) else { continue };
            let mean = n.iter().sum::<f64>() / n.len() as f64;
            let sd = if n.len() > 1 {
                (n.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (n.len() - 1) as f64).sqrt()
            } else {
                0.0
            };
            let rate = mean / (duration_ms / 1000.0);
            line += &format!("  {name}: {mean:.2} ± {sd:.2} per trial ({rate:.1} Hz)");
        }
        println!("{line}");
    }
    if points > 50 {
        println!("  … {} more sweep points", points - 50);
    }
    let tables = |k: &str| {
        es.sub_existing(k)
            .and_then(|s| s.keys())
            .map(|v| v.join(", "))
            .unwrap_or_default()
    };
    println!(
        "  tables in {}: {}/traces/{{{}}}, {}/events/{{{}}}",
        out.display(),
        exp.name,
        tables("traces"),
        exp.name,
        tables("events")
    );
    let first_events = names
        .first()
        .map_or("events/…".to_string(), |n| format!("events/{n}"));
    let first_trace = es
        .sub_existing("traces")
        .and_then(|s| s.keys())
        .ok()
        .and_then(|k| k.first().cloned())
        .map_or("traces/…".to_string(), |k| format!("traces/{k}"));
    println!("  next:");
    println!("    isf db ls {} -r", out.display());
    println!(
        "    isf analyze psth {} {}/{first_events} --bin 1",
        out.display(),
        exp.name
    );
    println!(
        "    isf plot traces {} {}/{first_trace} -o {}_traces",
        out.display(),
        exp.name,
        exp.name
    );
}

/// A sweep value as the summary prints it (`0.5 nA`, `[basal, apical]`).
fn show_value(v: &crate::model::Value) -> String {
    use crate::model::Value as V;
    match v {
        V::Num { value, unit } if unit.is_empty() || unit == "1" => format!("{value}"),
        V::Num { value, unit } => format!("{value} {unit}"),
        V::Str(s) => s.clone(),
        V::Bool(b) => b.to_string(),
        V::List(xs) => format!(
            "[{}]",
            xs.iter().map(show_value).collect::<Vec<_>>().join(", ")
        ),
        other => format!("{other:?}"),
    }
}
