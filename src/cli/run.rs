//! `isf run FILE`: check a script, plan its experiments' work items and simulate them in
//! parallel into a results store, resumably.

use super::check::{Format, emit};
use crate::diagnostics::Code;
use crate::diagnostics::{Diagnostic, render};
use crate::model::sweep::{SweepTarget, SweepValue};
use crate::run::cellsim::CellRunner;
use crate::run::exec::{ResultSink, execute};
use crate::run::fingerprint::Plan;
use crate::run::sink::StoreSink;
use crate::run::{Shard, point_values, work_items};
use crate::store::{Column, Metadata, Store, WriterLock};
use clap::Args;
use std::io::IsTerminal;
use std::path::PathBuf;
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

fn fail(d: Diagnostic) -> i32 {
    eprint!("{}", render::plain(&d, &crate::source::SourceMap::new()));
    1
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
    let exps: Vec<_> = model
        .experiments
        .iter()
        .filter(|e| args.experiment.as_ref().is_none_or(|n| *n == e.name))
        .collect();
    if exps.is_empty() {
        eprintln!(
            "error: no experiment{} to run in {}",
            args.experiment
                .as_ref()
                .map(|n| format!(" named `{n}`"))
                .unwrap_or_default(),
            args.file.display()
        );
        return 1;
    }
    let cancel = Arc::new(AtomicBool::new(false));
    {
        let c = cancel.clone();
        // A second Ctrl-C while stopping kills the process the usual way.
        let _ = ctrlc::set_handler(move || {
            if c.swap(true, Ordering::SeqCst) {
                std::process::exit(130);
            }
            eprintln!("\nstopping: finishing the trials in flight (Ctrl-C again to abort)");
        });
    }
    let script =
        crate::files::read_text(&args.file, crate::files::SCRIPT_LIMIT).unwrap_or_default();
    let jobs = args.jobs.unwrap_or_else(|| {
        std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1)
    });
    let model_json = serde_json::to_value(model).unwrap_or_default();
    // Held until the process ends: one writer per store (a store may serve several
    // experiments, and a second lock on it from this process would refuse itself).
    let mut locks: Vec<WriterLock> = Vec::new();
    let command = format!("isf run {}", args.file.display());
    let mut status = 0;
    for exp in exps {
        let all = work_items(exp);
        let items: Vec<_> = all
            .iter()
            .filter(|i| shard.is_none_or(|s| s.contains(i)))
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
                return 1;
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
            shard
                .map(|s| format!(" ({} in shard {}/{})", items.len(), s.k, s.n))
                .unwrap_or_default(),
            exp.n_steps,
            exp.dt_ms,
            out.display()
        );
        if args.dry_run {
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
            continue;
        }
        // The cell is lowered and the run's size checked (compartments, recorded bytes) before
        // the store is created, so a refused run leaves nothing behind.
        let runner = match CellRunner::new(model, exp) {
            Ok(r) => r,
            Err(d) => return fail(d),
        };
        let held = std::fs::canonicalize(&out).is_ok_and(|o| {
            locks
                .iter()
                .any(|l| std::fs::canonicalize(l.store()).ok() == Some(o.clone()))
        });
        let store = if held {
            match Store::open(&out) {
                Ok(s) => s,
                Err(e) => return fail(e.to_diagnostic()),
            }
        } else {
            match Store::create_locked(&out, &command) {
                Ok((s, l)) => {
                    locks.push(l);
                    s
                }
                Err(e) => return fail(e.to_diagnostic()),
            }
        };
        let Some(plan) = Plan::from_model_json(&model_json, &exp.name) else {
            return fail(Diagnostic::new(
                Code::E0901,
                format!("experiment `{}` is missing from its own plan", exp.name),
            ));
        };
        if args.overwrite
            && store.contains(&exp.name)
            && let Err(e) = store.delete(&exp.name)
        {
            return fail(e.to_diagnostic());
        }
        if !args.resume && store.contains(&exp.name) {
            eprintln!(
                "error: {} already holds results of `{}`; use --resume to continue, --overwrite to start again, or another --out",
                out.display(),
                exp.name
            );
            return 1;
        }
        let mut meta = Metadata {
            isf_version: Some(env!("CARGO_PKG_VERSION").to_string()),
            plan_hash: Some(model.content_hash()),
            script: Some(script.clone()),
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
        let axes = exp.sweep.clone();
        let dt_axes = exp.sweep.clone();
        let base_dt = exp.dt_ms;
        let sink = match StoreSink::new(
            &store,
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
        ) {
            Ok(s) => s.with_precision(
                exp.record
                    .iter()
                    .filter_map(|r| Some((r.name.clone(), r.precision?))),
            ),
            Err(d) => return fail(d),
        };
        // Before anything runs: the stored results must be items of this plan.
        let stored = match sink.check_plan() {
            Ok(s) => s,
            Err(d) => return fail(d),
        };
        if stored.damaged > 0 {
            eprintln!(
                "{}: {} stored trial(s) cannot be read; running them again (`isf db verify` names them)",
                exp.name, stored.damaged
            );
        }
        if stored.extending {
            let done = match sink.done() {
                Ok(d) => d,
                Err(d) => return fail(d),
            };
            let to_run = items
                .iter()
                .filter(|i| !done.contains(&(i.point, i.trial)))
                .count();
            eprintln!(
                "{}: extending: {} stored items kept, {to_run} to run",
                exp.name, stored.kept
            );
        }
        let axes = exp.sweep.clone();
        let progress = !args.quiet && std::io::stderr().is_terminal();
        let t0 = std::time::Instant::now();
        let result = execute(
            &items,
            &move |p| point_values(&axes, p),
            &runner,
            &sink,
            jobs,
            progress,
            &cancel,
        );
        let (summary, failures) = match result {
            Ok(r) => r,
            Err(d) => return fail(d),
        };
        for (item, d) in &failures {
            eprintln!("trial p{:06}_t{:06} failed:", item.point, item.trial);
            eprint!("{}", render::plain(d, &checked.sources));
        }
        eprintln!(
            "{}: ran {} trials ({} already stored, {} failed) in {:.2} s with {jobs} threads",
            exp.name,
            summary.ran,
            summary.skipped,
            summary.failed,
            t0.elapsed().as_secs_f64()
        );
        if summary.cancelled {
            eprintln!("interrupted: rerun with --resume to finish");
            return 130;
        }
        if summary.failed > 0 {
            status = 1;
            continue;
        }
        // Tables are assembled only from a complete set: a shard's store gets them once the
        // other shards are run into it (`--resume`) or merged (`isf db merge`).
        match sink.complete() {
            Ok(true) => {
                if let Err(d) = sink.assemble() {
                    return fail(d);
                }
                if !args.quiet {
                    print_summary(&store, exp, &out);
                }
            }
            Ok(false) => {
                let done = sink.done().map(|d| d.len()).unwrap_or(0);
                eprintln!(
                    "{}: {done} of {} items stored; trace and event tables are assembled once all are (`isf db merge` the shards)",
                    exp.name,
                    all.len()
                );
            }
            Err(d) => return fail(d),
        }
    }
    status
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
