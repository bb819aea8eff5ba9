//! `isf submit FILE --slurm` and `isf status STORE`: a sweep as a SLURM job array over its
//! shards plus a dependent merge job, resumable by submitting again; and the progress of a
//! store, per shard while a submission runs.
//!
//! A submission lives beside its result store in `RESULTS.slurm/` (layout in
//! [`crate::run::slurm`]). Submitting again queues only the shards that are not complete
//! (each task resumes its shard store), after checking that the stored trials belong to the
//! script's plan (E0612) and that the earlier jobs are no longer queued (E0516).
//!
//! Exit codes: 0 submitted (or nothing left to do), 1 a problem with the script, the options,
//! the stores or the scheduler, 2 usage.

use super::check::{Format, emit};
use super::{fail, no_experiment, selected_experiments};
use crate::diagnostics::{Code, Diagnostic};
use crate::model::{ExperimentModel, Model};
use crate::run::fingerprint::Plan;
use crate::run::sink::{check_stored, stored_of_plan, stored_plan};
use crate::run::slurm::{self, MANIFEST, Submission};
use crate::store::lock::{self, holder_record};
use crate::store::{Store, StoreError};
use clap::Args;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
use std::process::Command;

/// Arguments of `isf submit`.
#[derive(Args, Debug)]
pub struct SubmitArgs {
    /// Script with at least one experiment.
    pub file: PathBuf,
    /// Submit to SLURM (`sbatch`), the one scheduler supported.
    #[arg(long)]
    pub slurm: bool,
    /// Experiment to run (default: every experiment of the script).
    #[arg(long, short)]
    pub experiment: Option<String>,
    /// Result store (default: the experiments' `store:` field); the shards, scripts and logs
    /// go to `STORE.slurm/` beside it.
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Array tasks = shards (default: 16, at most one per work item).
    #[arg(long)]
    pub array_size: Option<u64>,
    /// CPUs per array task; the task runs that many threads.
    #[arg(long, default_value_t = 1)]
    pub cpus_per_task: u32,
    /// Time limit per job, in SLURM's form (`30`, `1:00:00`, `2-12:00:00`).
    #[arg(long)]
    pub time: Option<String>,
    /// SLURM partition(s).
    #[arg(long)]
    pub partition: Option<String>,
    /// The isf binary the jobs run, when the nodes see it elsewhere (default: this one).
    #[arg(long)]
    pub isf: Option<PathBuf>,
    /// Print the job scripts and what would be queued; submit and write nothing.
    #[arg(long)]
    pub dry_run: bool,
}

/// Arguments of `isf status`.
#[derive(Args, Debug)]
pub struct StatusArgs {
    /// A result store, or its submission directory `STORE.slurm`.
    pub store: PathBuf,
}

/// An experiment of a submission: enough to count each shard's items without the script.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ExpInfo {
    pub name: String,
    /// Hash of the experiment's plan ([`Plan::hash`]).
    pub plan_hash: String,
    pub points: u64,
    pub trials: u64,
}

/// One `isf submit` that queued jobs.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct JobRecord {
    pub at: String,
    /// The array job id, `None` when every shard was complete already.
    pub array_job: Option<String>,
    /// The array tasks (shard numbers) queued, as SLURM's `--array` list.
    pub tasks: String,
    pub merge_job: String,
}

/// `RESULTS.slurm/submission.json`.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Manifest {
    pub submission: Submission,
    pub experiments: Vec<ExpInfo>,
    pub jobs: Vec<JobRecord>,
}

fn option_error(msg: impl Into<String>) -> Diagnostic {
    Diagnostic::new(Code::E0513, msg)
}

/// Items of shard `k` of `n` among `points × trials` items (item `i` belongs to shard
/// `i mod n + 1`, as `isf run --shard` assigns them).
fn shard_items(points: u64, trials: u64, k: u64, n: u64) -> impl Iterator<Item = (u64, u64)> {
    let total = points.saturating_mul(trials);
    (k - 1..total)
        .step_by(n as usize)
        .map(move |i| (i / trials, i % trials))
}

/// `(stored, expected)` items of shard `k` for one experiment.
fn shard_count(
    shard: Option<&Store>,
    e: &ExpInfo,
    plan: &Plan,
    k: u64,
    n: u64,
) -> Result<(u64, u64), Diagnostic> {
    let expected = shard_items(e.points, e.trials, k, n).count() as u64;
    let Some(exp) = shard.and_then(|s| s.sub_existing(&e.name).ok()) else {
        return Ok((0, expected));
    };
    let done = stored_of_plan(&exp, plan)?;
    let stored = shard_items(e.points, e.trials, k, n)
        .filter(|i| done.contains(i))
        .count() as u64;
    Ok((stored, expected))
}

fn absolute(p: &Path) -> PathBuf {
    std::path::absolute(p).unwrap_or_else(|_| p.to_path_buf())
}

fn read_manifest(work: &Path) -> Result<Option<Manifest>, Diagnostic> {
    let path = work.join(MANIFEST);
    match std::fs::read_to_string(&path) {
        Ok(text) => serde_json::from_str(&text).map(Some).map_err(|e| {
            Diagnostic::new(
                Code::E0515,
                format!(
                    "{} is not a submission record isf can read: {e}",
                    path.display()
                ),
            )
            .help("remove the directory to start the submission afresh")
        }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(StoreError::io(None, &path, &e).to_diagnostic()),
    }
}

fn write_manifest(m: &Manifest) -> Result<(), Diagnostic> {
    let path = m.submission.work.join(MANIFEST);
    let text = serde_json::to_string_pretty(m).unwrap_or_default() + "\n";
    crate::files::write_atomic(&path, text.as_bytes())
        .map_err(|e| StoreError::io(None, &path, &e).to_diagnostic())
}

/// Jobs of `ids` that SLURM still lists (queued or running), as `squeue` prints them. A
/// machine without `squeue`, or jobs SLURM has forgotten, count as none.
fn active_jobs(ids: &[&str]) -> Vec<String> {
    if ids.is_empty() {
        return Vec::new();
    }
    let Ok(out) = Command::new("squeue")
        .args(["-h", "-o", "%i %T %r", "-j", &ids.join(",")])
        .output()
    else {
        return Vec::new();
    };
    if !out.status.success() {
        return Vec::new();
    }
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| l.trim().to_string())
        .filter(|l| !l.is_empty())
        .collect()
}

/// `sbatch --parsable [extra] SCRIPT` → the job id.
fn sbatch(script: &Path, extra: &[String]) -> Result<String, Diagnostic> {
    let out = Command::new("sbatch")
        .arg("--parsable")
        .args(extra)
        .arg(script)
        .output()
        .map_err(|e| {
            Diagnostic::new(Code::E0514, format!("cannot run sbatch: {e}")).help(
                "run isf submit on a machine of the cluster (a login node), where SLURM's \
                   commands are on PATH; --dry-run prints the scripts",
            )
        })?;
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    match slurm::parse_job_id(&stdout) {
        Some(id) if out.status.success() => Ok(id),
        _ => Err(Diagnostic::new(
            Code::E0514,
            format!(
                "sbatch refused {}: {}",
                script.display(),
                format!("{stdout}{stderr}").trim()
            ),
        )),
    }
}

/// Run `isf submit`.
pub fn run(args: SubmitArgs) -> i32 {
    match submit(&args) {
        Ok(code) => code,
        Err(d) => fail(&d),
    }
}

fn submit(args: &SubmitArgs) -> Result<i32, Diagnostic> {
    if !args.slurm {
        return Err(option_error(
            "choose a scheduler: --slurm (the one isf supports)",
        ));
    }
    let checked = crate::validate::check_path(&args.file);
    emit(&checked.diagnostics, &checked.sources, Format::Human);
    if checked.has_errors() {
        return Ok(1);
    }
    let model = &checked.model;
    let exps = selected_experiments(model, args.experiment.as_ref());
    if exps.is_empty() {
        let msg = no_experiment("submit", args.experiment.as_ref(), &args.file);
        return Err(option_error(msg));
    }
    let results = absolute(&results_path(args, &exps)?);
    let mut work_name = results.file_name().unwrap_or_default().to_os_string();
    work_name.push(".slurm");
    let work = results.with_file_name(work_name);
    slurm::check_directive_path(&work).map_err(option_error)?;
    let (infos, plans) = experiment_plans(model, &exps)?;
    let n = array_size(args, &infos)?;
    let sub = submission(args, results.clone(), work.clone(), n)?;

    // One `isf submit` of this sweep at a time: held from reading the record to writing it.
    // (A dry run writes nothing, so it takes no lock.)
    let _lock = if args.dry_run {
        None
    } else {
        Some(lock::lock(&work, "isf submit").map_err(|e| e.to_diagnostic())?)
    };
    let earlier = read_manifest(&work)?;
    if let Some(m) = &earlier {
        check_earlier(m, &sub)?;
    }
    let (todo, lines) = shard_progress(&sub, &infos, &plans)?;
    let merged_done = merged_complete(&results, &infos, &plans)?;

    let array = sub.array_script(&todo);
    let merge = sub.merge_script();
    eprintln!(
        "{}: {} in {n} shard{} ({} to run), results {}",
        args.file.display(),
        infos
            .iter()
            .map(|e| format!(
                "`{}` {} sweep point{} x {} trial{}",
                e.name,
                e.points,
                if e.points == 1 { "" } else { "s" },
                e.trials,
                if e.trials == 1 { "" } else { "s" }
            ))
            .collect::<Vec<_>>()
            .join(", "),
        if n == 1 { "" } else { "s" },
        todo.len(),
        results.display()
    );
    if earlier.is_some() {
        for l in &lines {
            eprintln!("{l}");
        }
    }
    if args.dry_run {
        if !todo.is_empty() {
            println!("# ---- {}", work.join("array.sbatch").display());
            print!("{array}");
        }
        println!(
            "# ---- {} (sbatch --dependency=afterok:<array job id>)",
            work.join("merge.sbatch").display()
        );
        print!("{merge}");
        return Ok(0);
    }
    // A complete result store needs nothing, even if shards were removed after the merge.
    if merged_done {
        println!(
            "nothing to submit: {} holds every item of the sweep",
            results.display()
        );
        return Ok(0);
    }
    let manifest = earlier.unwrap_or(Manifest {
        submission: sub.clone(),
        experiments: infos.clone(),
        jobs: Vec::new(),
    });
    queue(&sub, manifest, infos, &todo, &array, &merge)?;
    Ok(0)
}

/// The result store: `--out`, else the one `store:` the experiments name.
fn results_path(args: &SubmitArgs, exps: &[&ExperimentModel]) -> Result<PathBuf, Diagnostic> {
    // One result store: shards hold every submitted experiment, as `isf run --out` does.
    if let Some(o) = &args.out {
        return Ok(o.clone());
    }
    let stores: std::collections::BTreeSet<_> = exps.iter().map(|e| e.store.clone()).collect();
    match (stores.len(), stores.into_iter().next().flatten()) {
        (1, Some(s)) => Ok(PathBuf::from(s)),
        _ => Err(option_error(
            "the experiments name no single `store:`; give --out STORE (or --experiment NAME)",
        )),
    }
}

/// Each experiment's plan, and what a submission records of it.
fn experiment_plans(
    model: &Model,
    exps: &[&ExperimentModel],
) -> Result<(Vec<ExpInfo>, Vec<Plan>), Diagnostic> {
    let model_json = serde_json::to_value(model).unwrap_or_default();
    let mut infos = Vec::new();
    let mut plans = Vec::new();
    for e in exps {
        let plan = Plan::from_model_json(&model_json, &e.name).ok_or_else(|| {
            Diagnostic::new(
                Code::E0901,
                format!("experiment `{}` is missing from its own plan", e.name),
            )
        })?;
        infos.push(ExpInfo {
            name: e.name.clone(),
            plan_hash: plan.hash(),
            points: e.sweep_points,
            trials: e.trials,
        });
        plans.push(plan);
    }
    Ok((infos, plans))
}

/// The number of shards: `--array-size` (at least one item per task, at most SLURM's
/// default array limit), else 16 or fewer when there are fewer items.
fn array_size(args: &SubmitArgs, infos: &[ExpInfo]) -> Result<u64, Diagnostic> {
    let most = infos
        .iter()
        .map(|e| e.points.saturating_mul(e.trials))
        .max()
        .unwrap_or(0);
    match args.array_size {
        Some(0) => Err(option_error("--array-size must be at least 1")),
        Some(n) if n > most => Err(option_error(format!(
            "--array-size {n} is more than the {most} work items; \
             every array task needs at least one"
        ))),
        Some(n) if n > 1000 => Err(option_error(format!(
            "--array-size {n}: SLURM's default MaxArraySize allows task ids up to 1000; \
             run bigger shards"
        ))),
        Some(n) => Ok(n),
        None => Ok(most.clamp(1, 16)),
    }
}

/// The submission of `n` shards from the options (each checked: E0513, E0514).
fn submission(
    args: &SubmitArgs,
    results: PathBuf,
    work: PathBuf,
    n: u64,
) -> Result<Submission, Diagnostic> {
    if args.cpus_per_task == 0 {
        return Err(option_error("--cpus-per-task must be at least 1"));
    }
    if let Some(t) = &args.time {
        slurm::check_time(t).map_err(|m| option_error(format!("--time: {m}")))?;
    }
    if let Some(p) = &args.partition {
        slurm::check_partition(p).map_err(|m| option_error(format!("--partition: {m}")))?;
    }
    let isf = match &args.isf {
        Some(p) => absolute(p),
        None => std::env::current_exe().map_err(|e| {
            Diagnostic::new(Code::E0514, format!("cannot locate the isf binary: {e}"))
                .help("give --isf PATH")
        })?,
    };
    let stem = args
        .file
        .file_stem()
        .and_then(|s| s.to_str())
        .unwrap_or("sweep");
    let job_name: String = format!("isf-{stem}")
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "-_.".contains(c) {
                c
            } else {
                '_'
            }
        })
        .collect();
    Ok(Submission {
        isf,
        script: absolute(&args.file),
        experiment: args.experiment.clone(),
        results,
        work,
        cwd: absolute(Path::new(".")),
        shards: n,
        cpus_per_task: args.cpus_per_task,
        time: args.time.clone(),
        partition: args.partition.clone(),
        job_name,
        allow_large: crate::rules::limits_raised(),
    })
}

/// An earlier submission into this directory must be of the same sweep (E0515) and
/// finished (E0516).
fn check_earlier(m: &Manifest, sub: &Submission) -> Result<(), Diagnostic> {
    let same = m.submission.shards == sub.shards
        && m.submission.script == sub.script
        && m.submission.experiment == sub.experiment;
    let of_experiment = |e: &Option<String>| {
        e.as_ref()
            .map(|e| format!(" (experiment `{e}`)"))
            .unwrap_or_default()
    };
    if !same {
        return Err(Diagnostic::new(
            Code::E0515,
            format!(
                "{} holds a submission of {} in {} shards{}; this one is {} in {} shards{}",
                sub.work.display(),
                m.submission.script.display(),
                m.submission.shards,
                of_experiment(&m.submission.experiment),
                sub.script.display(),
                sub.shards,
                of_experiment(&sub.experiment),
            ),
        )
        .help(format!(
            "submit it again as it was (--array-size {}), choose another --out, \
             or remove {} to start afresh",
            m.submission.shards,
            sub.work.display()
        )));
    }
    if let Some(last) = m.jobs.last() {
        let mut ids: Vec<&str> = vec![last.merge_job.as_str()];
        ids.extend(last.array_job.as_deref());
        let active = active_jobs(&ids);
        if !active.is_empty() {
            return Err(Diagnostic::new(
                Code::E0516,
                format!(
                    "the earlier submission of this sweep is still queued or running: {}",
                    active.join("; ")
                ),
            )
            .help(format!(
                "wait for it (`isf status {}`), or `scancel {}` and submit again",
                sub.results.display(),
                ids.join(" ")
            )));
        }
    }
    Ok(())
}

/// What is done: shard stores must hold items of this plan only (E0612); returns the
/// shards not complete (to queue) and a line of progress per shard.
fn shard_progress(
    sub: &Submission,
    infos: &[ExpInfo],
    plans: &[Plan],
) -> Result<(Vec<u64>, Vec<String>), Diagnostic> {
    let n = sub.shards;
    let mut todo = Vec::new();
    let mut lines = Vec::new();
    for k in 1..=n {
        let path = sub.shard_path(k);
        let shard = if path.exists() {
            Some(Store::open(&path).map_err(|e| e.to_diagnostic())?)
        } else {
            None
        };
        let (mut stored, mut expected) = (0, 0);
        for (e, plan) in infos.iter().zip(plans) {
            if let Some(exp) = shard.as_ref().and_then(|s| s.sub_existing(&e.name).ok()) {
                let old = stored_plan(&exp)?;
                check_stored(&exp, plan, old.as_ref())?;
            }
            let (s, x) = shard_count(shard.as_ref(), e, plan, k, n)?;
            stored += s;
            expected += x;
        }
        if stored < expected {
            todo.push(k);
        }
        lines.push(format!(
            "  shard {k}/{n}: {stored} of {expected} items stored{}",
            if stored < expected { "" } else { " (complete)" }
        ));
    }
    Ok((todo, lines))
}

/// True when the result store holds every item of every experiment's plan.
fn merged_complete(results: &Path, infos: &[ExpInfo], plans: &[Plan]) -> Result<bool, Diagnostic> {
    let Ok(r) = Store::open(results) else {
        return Ok(false);
    };
    let mut done = true;
    for (e, plan) in infos.iter().zip(plans) {
        let have = r
            .sub_existing(&e.name)
            .ok()
            .map(|x| stored_of_plan(&x, plan))
            .transpose()?
            .map_or(0, |s| s.len() as u64);
        done &= have == e.points * e.trials;
    }
    Ok(done)
}

/// Write the job scripts, queue the array of the shards in `todo` (if any) and the merge
/// job after it, record the jobs in the manifest and say what was queued.
fn queue(
    sub: &Submission,
    mut manifest: Manifest,
    infos: Vec<ExpInfo>,
    todo: &[u64],
    array: &str,
    merge: &str,
) -> Result<(), Diagnostic> {
    let work = &sub.work;
    std::fs::create_dir_all(sub.shard_dir())
        .and_then(|_| std::fs::create_dir_all(sub.log_dir()))
        .map_err(|e| StoreError::io(None, work, &e).to_diagnostic())?;
    let write = |name: &str, text: &str| {
        let p = work.join(name);
        crate::files::write_atomic(&p, text.as_bytes())
            .map(|_| p.clone())
            .map_err(|e| StoreError::io(None, &p, &e).to_diagnostic())
    };
    let merge_path = write("merge.sbatch", merge)?;
    manifest.submission = sub.clone();
    manifest.experiments = infos;
    let array_job = if todo.is_empty() {
        None
    } else {
        let array_path = write("array.sbatch", array)?;
        Some(sbatch(&array_path, &[])?)
    };
    let dep: Vec<String> = array_job
        .iter()
        .map(|id| format!("--dependency=afterok:{id}"))
        .collect();
    let merge_job = match sbatch(&merge_path, &dep) {
        Ok(id) => id,
        Err(d) => {
            // Do not leave an array behind whose merge never comes.
            if let Some(id) = &array_job {
                let _ = Command::new("scancel").arg(id).status();
            }
            return Err(d);
        }
    };
    manifest.jobs.push(JobRecord {
        at: crate::store::meta::now_rfc3339(),
        array_job: array_job.clone(),
        tasks: slurm::array_spec(todo),
        merge_job: merge_job.clone(),
    });
    write_manifest(&manifest)?;
    let n = sub.shards;
    match &array_job {
        Some(id) => println!(
            "submitted array job {id} (shard{} {} of {n}) and merge job {merge_job} \
             (after all succeed)",
            if todo.len() == 1 { "" } else { "s" },
            slurm::array_spec(todo)
        ),
        None => println!("every shard is complete: submitted merge job {merge_job}"),
    }
    println!("results: {}", sub.results.display());
    println!(
        "shards:  {}\nlogs:    {}",
        sub.shard_dir().display(),
        sub.log_dir().display()
    );
    println!(
        "progress: isf status {}   (after a failure, submit again: complete shards are kept)",
        sub.results.display()
    );
    Ok(())
}

/// Run `isf status`.
pub fn status(args: StatusArgs) -> i32 {
    match show_status(&args.store) {
        Ok(code) => code,
        Err(d) => fail(&d),
    }
}

/// The submission directory for `path` (a result store or the directory itself), if any.
fn find_work(path: &Path) -> Option<PathBuf> {
    if path.join(MANIFEST).is_file() {
        return Some(path.to_path_buf());
    }
    let mut name = path.file_name()?.to_os_string();
    name.push(".slurm");
    let w = path.with_file_name(name);
    w.join(MANIFEST).is_file().then_some(w)
}

fn writer(root: &Path) -> String {
    match holder_record(root) {
        None => String::new(),
        Some(h) => format!(
            "  writer: pid {} on {} since {}{}",
            h.pid,
            h.host,
            h.since,
            match h.alive {
                Some(true) => "",
                Some(false) => " (gone: killed before it finished)",
                None => " (on another host)",
            }
        ),
    }
}

/// Each experiment of a store: stored items of its plan, and whether the tables are in.
fn store_progress(store: &Store) -> Result<Vec<String>, Diagnostic> {
    let mut out = Vec::new();
    for k in store.keys().map_err(|e| e.to_diagnostic())? {
        let Ok(exp) = store.sub_existing(&k) else {
            continue;
        };
        let Some(plan) = stored_plan(&exp)? else {
            continue;
        };
        let have = stored_of_plan(&exp, &plan)?.len() as u64;
        let all = plan.points() * plan.trials();
        let tables = exp.contains("traces") || exp.contains("events");
        out.push(format!(
            "{k}: {have} of {all} items{}",
            if tables {
                ", tables assembled"
            } else if have == all {
                ", tables not assembled yet"
            } else {
                ""
            }
        ));
    }
    Ok(out)
}

fn show_status(path: &Path) -> Result<i32, Diagnostic> {
    let Some(work) = find_work(path) else {
        // A plain store (a local run, or a merged store without its submission directory).
        let store = Store::open(path).map_err(|e| e.to_diagnostic())?;
        println!("{}", path.display());
        for l in store_progress(&store)? {
            println!("  {l}");
        }
        let w = writer(path);
        if !w.is_empty() {
            println!("{w}");
        }
        return Ok(0);
    };
    let Some(m) = read_manifest(&work)? else {
        return Ok(1);
    };
    let sub = &m.submission;
    let n = sub.shards;
    println!(
        "{} ({} shards of {}; submission {})",
        sub.results.display(),
        n,
        sub.script.display(),
        work.display()
    );
    println!("{:<12} {:>8} {:>8}  STATE", "SHARD", "STORED", "ITEMS");
    let (mut total_stored, mut total) = (0, 0);
    for k in 1..=n {
        let path = sub.shard_path(k);
        let shard = Store::open(&path).ok();
        let (mut stored, mut expected) = (0, 0);
        let mut other_plan = false;
        for e in &m.experiments {
            let plan = shard
                .as_ref()
                .and_then(|s| s.sub_existing(&e.name).ok())
                .map(|x| stored_plan(&x))
                .transpose()?
                .flatten();
            match plan {
                Some(p) => {
                    // Counted under the shard's own plan; a different one is flagged (the
                    // next task extends it, or refuses it when it is another sweep: E0612).
                    other_plan |= p.hash() != e.plan_hash;
                    let (s, x) = shard_count(shard.as_ref(), e, &p, k, n)?;
                    stored += s;
                    expected += x;
                }
                None => expected += shard_items(e.points, e.trials, k, n).count() as u64,
            }
        }
        total_stored += stored;
        total += expected;
        let state = if shard.is_none() {
            "not started".to_string()
        } else if stored == expected {
            "complete".to_string()
        } else {
            "partial".to_string()
        } + if other_plan {
            " (stored under an earlier plan of the script)"
        } else {
            ""
        };
        println!(
            "{:<12} {stored:>8} {expected:>8}  {state}{}",
            format!("{k}/{n}"),
            if shard.is_some() {
                writer(&path)
            } else {
                String::new()
            }
        );
    }
    println!("{:<12} {total_stored:>8} {total:>8}", "all shards");
    match Store::open(&sub.results) {
        Ok(r) => {
            for l in store_progress(&r)? {
                println!("merged  {l}");
            }
        }
        Err(_) => println!("merged  (not yet: the merge job runs once every shard succeeded)"),
    }
    if let Some(last) = m.jobs.last() {
        let mut ids: Vec<&str> = last.array_job.iter().map(String::as_str).collect();
        ids.push(&last.merge_job);
        println!(
            "jobs: {}merge {} (submitted {})",
            last.array_job
                .as_ref()
                .map(|a| format!("array {a} (shards {}), ", last.tasks))
                .unwrap_or_default(),
            last.merge_job,
            last.at
        );
        for j in active_jobs(&ids) {
            println!("  {j}");
        }
    }
    Ok(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shard_items_match_run_shards() {
        use crate::run::{Shard, WorkItem};
        let (points, trials, n) = (6, 4, 4);
        for k in 1..=n {
            let mine: Vec<_> = shard_items(points, trials, k, n).collect();
            let want: Vec<_> = (0..points * trials)
                .map(|i| WorkItem {
                    index: i,
                    point: i / trials,
                    trial: i % trials,
                    seed: 0,
                })
                .filter(|w| Shard { k, n }.contains(w))
                .map(|w| (w.point, w.trial))
                .collect();
            assert_eq!(mine, want, "shard {k}");
        }
        assert_eq!(shard_items(1, 2, 3, 3).count(), 0);
    }
}
