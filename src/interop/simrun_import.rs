//! `isf db import-isf`: ISF simrun result folders (spec 05 §5.5–5.9, spec 06 §6.8) into a
//! results store, in the layout `isf run` writes (`docs/store-format.md` §9, §10), so that
//! `isf db`, the Python reader and analyses work on years of existing simulations.
//!
//! A simrun folder is a directory holding ISF result files: `simulation_run<N>_synapses.csv`,
//! `simulation_run<N>_presynaptic_cells.csv`, `<uid>_vm_all_traces.csv`,
//! `<uid>_<site>_vm_dend_traces.csv`, `[<uid>_]neuron_model.param`,
//! `[<uid>_]network_model.param` (uid `seed<S>_pid<P>`, or the older `<pid>`, `<seed>_<pid>`
//! of §5.9). Each folder found below the given paths (folders with `_running` in their name
//! are unfinished runs and skipped, as ISF's database initialiser does) becomes a sub-store
//! named by its path from the given path's parent, holding:
//!
//! * `trials/p000000_tNNNNNN` — one row per ISF trial `N` (soma and dendritic traces as
//!   `F64Array` columns, spike times at 0 mV (soma) and −30 mV (dendrites) as `F64List`);
//! * `synapse_activations/p…_t…`, `presynaptic_spikes/p…_t…` — the per-trial tables;
//! * `traces/NAME`, `events/NAME` — the assembled tables (times from the files);
//! * `params/neuron_model`, `params/network_model` — the parameter files (text and JSON);
//! * `import` — what was read: files with SHA-256, trials, problems; written last.
//!
//! Trial numbers follow ISF: from the synapse file names, the k-th trace column belonging to
//! the k-th smallest number. Every key records its source files in `meta.extra`.
//!
//! A malformed file is reported (file, line, code) and left out; everything else is
//! imported. Writes use the store's atomic key writes under its writer lock (taken by the
//! caller). Importing again compares every key with what the store holds: identical keys are
//! left alone (nothing new), missing ones are added (a file fixed since the last import), a
//! table that only gains columns is replaced (a trial key gaining the traces of a fixed file),
//! and a key whose stored data differs is a conflict (E0616) for which the whole folder is
//! refused before anything of it is written.

use crate::diagnostics::{Code, Diagnostic};
use crate::files::FileError;
use crate::interop::formats::{activation, param, presynaptic, traces};
use crate::run::sink::column_key;
use crate::store::table::{one_row, row_major};
use crate::store::{Column, Kind, MAX_NAME, Metadata, Store, Table};
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// Threshold of the somatic spike times (ISF's `spike_times` key, spec 07 §7.1).
pub const SOMA_THRESHOLD_MV: f64 = 0.0;
/// Threshold of the dendritic spike times (ISF's `dendritic_spike_times`).
pub const DENDRITE_THRESHOLD_MV: f64 = -30.0;
/// Name of the soma trace, as `isf run` names `record { soma.v }`.
pub const SOMA_TRACE: &str = "soma.v";
/// Key of the import record inside a folder's sub-store.
pub const RECORD_KEY: &str = "import";

/// What one imported folder gave.
#[derive(Debug, Default)]
pub struct FolderReport {
    /// The simrun folder.
    pub folder: PathBuf,
    /// Its sub-store key.
    pub key: String,
    /// ISF trial numbers found.
    pub trials: usize,
    /// Keys written by this import.
    pub written: usize,
    /// Keys already in the store with identical content.
    pub unchanged: usize,
    /// Table rows written.
    pub rows: u64,
    /// Files left out (malformed, unreadable, unsupported, inconsistent).
    pub skipped_files: usize,
    /// Files in the folder that are not ISF result files (not read).
    pub not_read: Vec<String>,
    /// True when nothing of the folder was written because of a conflict or store error.
    pub refused: bool,
    /// Problems, in the order found.
    pub problems: Vec<Diagnostic>,
}

/// What an import of several paths gave.
#[derive(Debug, Default)]
pub struct ImportReport {
    /// One report per simrun folder found.
    pub folders: Vec<FolderReport>,
    /// Problems with the given paths themselves (missing, no simrun folder in them).
    pub problems: Vec<Diagnostic>,
    /// Unfinished runs (`_running`) that were not imported.
    pub running: Vec<PathBuf>,
}

impl ImportReport {
    /// True when something was left out or refused.
    pub fn incomplete(&self) -> bool {
        !self.problems.is_empty()
            || self
                .folders
                .iter()
                .any(|f| f.refused || !f.problems.is_empty())
    }
}

/// Import every ISF simrun folder found in `paths` into `store` (whose writer lock the caller
/// holds).
pub fn import(store: &Store, paths: &[PathBuf]) -> ImportReport {
    let mut report = ImportReport::default();
    for p in paths {
        let root = match std::fs::canonicalize(p) {
            Ok(r) if r.is_dir() => r,
            Ok(_) => {
                report.problems.push(Diagnostic::new(
                    Code::E0617,
                    format!("{}: not a directory (give ISF simrun folders)", p.display()),
                ));
                continue;
            }
            Err(e) => {
                report.problems.push(Diagnostic::new(
                    Code::E0617,
                    format!("{}: {e}", p.display()),
                ));
                continue;
            }
        };
        let base = root.parent().map(Path::to_path_buf).unwrap_or_default();
        let mut found = Vec::new();
        find_folders(&root, &mut found, &mut report.running);
        if found.is_empty() {
            report.problems.push(Diagnostic::new(
                Code::E0617,
                format!(
                    "{}: no ISF simrun folder found (no simulation_run*_synapses.csv, \
                     *_vm_all_traces.csv, … in it or below it)",
                    p.display()
                ),
            ));
            continue;
        }
        for dir in found {
            let rel: Vec<String> = dir
                .strip_prefix(&base)
                .unwrap_or(&dir)
                .components()
                .map(|c| c.as_os_str().to_string_lossy().into_owned())
                .collect();
            report.folders.push(import_folder(store, &dir, &rel));
        }
    }
    report
}

/// The role of a file in a simrun folder.
#[derive(Clone, Debug, PartialEq)]
enum Role {
    Synapses(u64),
    Cells(u64),
    Soma(String),
    Dendrite(String),
    Npz,
    NeuronParam,
    NetworkParam,
}

fn trial_number(name: &str, suffix: &str) -> Option<u64> {
    let d = name.strip_prefix("simulation_run")?.strip_suffix(suffix)?;
    (!d.is_empty() && d.bytes().all(|b| b.is_ascii_digit()))
        .then(|| d.parse().ok())
        .flatten()
}

fn role(name: &str) -> Option<Role> {
    if let Some(n) = trial_number(name, "_synapses.csv") {
        return Some(Role::Synapses(n));
    }
    if let Some(n) = trial_number(name, "_presynaptic_cells.csv") {
        return Some(Role::Cells(n));
    }
    if let Some(uid) = name.strip_suffix("vm_all_traces.csv") {
        return Some(Role::Soma(uid.trim_end_matches('_').to_string()));
    }
    if let Some(rest) = name.strip_suffix("_vm_dend_traces.csv") {
        return Some(Role::Dendrite(rest.to_string()));
    }
    if name.ends_with("vm_all_traces.npz") {
        return Some(Role::Npz);
    }
    if name == "neuron_model.param" || name.ends_with("_neuron_model.param") {
        return Some(Role::NeuronParam);
    }
    if name == "network_model.param" || name.ends_with("_network_model.param") {
        return Some(Role::NetworkParam);
    }
    None
}

fn is_result(r: &Role) -> bool {
    !matches!(r, Role::NeuronParam | Role::NetworkParam)
}

/// Regular files of `dir`, sorted (symbolic links to regular files included).
fn files_of(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .map(|rd| {
            rd.flatten()
                .filter(|e| e.path().is_file())
                .filter_map(|e| e.file_name().into_string().ok())
                .collect()
        })
        .unwrap_or_default();
    v.sort();
    v
}

/// Simrun folders at or below `dir` (directories holding ISF result files), sorted; folders
/// named `…_running…` are collected in `running` and not entered. Symbolic links to
/// directories are not followed (no cycles, no escaping the given tree).
fn find_folders(dir: &Path, out: &mut Vec<PathBuf>, running: &mut Vec<PathBuf>) {
    let name = dir.file_name().map(|n| n.to_string_lossy().into_owned());
    if name.is_some_and(|n| n.contains("_running")) {
        running.push(dir.to_path_buf());
        return;
    }
    if files_of(dir)
        .iter()
        .any(|f| role(f).as_ref().is_some_and(is_result))
    {
        out.push(dir.to_path_buf());
    }
    let mut subs: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|rd| {
            rd.flatten()
                .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
                .map(|e| e.path())
                .collect()
        })
        .unwrap_or_default();
    subs.sort();
    for s in subs {
        find_folders(&s, out, running);
    }
}

/// Stamp, seed and pid from a folder name: `<YYYYmmdd-HHMM>_seed<S>_pid<P>` or the older
/// `<YYYYmmdd-HHMM>_<pid>`.
fn folder_ids(name: &str) -> (Option<String>, Option<u64>, Option<u64>) {
    let mut fields = name.split('_');
    let mut stamp = None;
    let (mut seed, mut pid) = (None, None);
    if let Some(f) = fields.next() {
        let b = f.as_bytes();
        if b.len() == 13
            && b[8] == b'-'
            && b.iter()
                .enumerate()
                .all(|(i, c)| i == 8 || c.is_ascii_digit())
        {
            stamp = Some(f.to_string());
        } else {
            return (None, None, None);
        }
    }
    for f in fields {
        if let Some(s) = f.strip_prefix("seed").and_then(|s| s.parse().ok()) {
            seed = Some(s);
        } else if let Some(p) = f.strip_prefix("pid").and_then(|s| s.parse().ok()) {
            pid = Some(p);
        } else if let Ok(p) = f.parse() {
            pid = Some(p);
        }
    }
    (stamp, seed, pid)
}

/// The recording-site label of a dendritic trace file name (without `_vm_dend_traces.csv`):
/// the uid prefix removed (`<uid>_` when the soma file gave it, else `seed<S>_pid<P>_` or
/// leading all-digit fields: `<pid>_`, `<seed>_<pid>_`).
fn site_label(stem: &str, uid: Option<&str>) -> String {
    if let Some(u) = uid.filter(|u| !u.is_empty())
        && let Some(rest) = stem.strip_prefix(u).and_then(|r| r.strip_prefix('_'))
        && !rest.is_empty()
    {
        return rest.to_string();
    }
    let fields: Vec<&str> = stem.split('_').collect();
    let digits = |f: &str, p: &str| {
        f.strip_prefix(p)
            .is_some_and(|d| !d.is_empty() && d.bytes().all(|b| b.is_ascii_digit()))
    };
    let skip = if fields.len() > 2 && digits(fields[0], "seed") && digits(fields[1], "pid") {
        2
    } else {
        fields
            .iter()
            .take(2)
            .take_while(|f| digits(f, ""))
            .count()
            .min(fields.len() - 1)
    };
    fields[skip..].join("_")
}

/// A store key component for `name`: [`column_key`], shortened to the component limit with a
/// hash suffix so that distinct long names stay distinct.
fn key_part(name: &str) -> String {
    let k = column_key(name);
    let k = if k.is_empty() { "_".to_string() } else { k };
    if k.len() <= MAX_NAME {
        return k;
    }
    let h = hex::encode(Sha256::digest(name.as_bytes()));
    format!("{}-{}", &k[..MAX_NAME - 17], &h[..16])
}

/// One key the import will write.
struct Planned {
    key: String,
    content: Content,
    meta: Metadata,
}

enum Content {
    Table(Table),
    Value(serde_json::Value),
}

/// A file read for the import.
struct Read {
    name: String,
    path: PathBuf,
    text: String,
    sha256: String,
}

/// Per-trial content gathered from the files.
#[derive(Default)]
struct Trial {
    traces: Vec<(String, Vec<f64>)>,
    events: Vec<(String, Vec<f64>)>,
    sources: BTreeMap<String, String>,
}

/// A trace file's columns assigned to trial numbers.
struct Traces {
    name: String,
    times: Vec<f64>,
    trials: Vec<(u64, Vec<f64>)>,
    threshold_mv: f64,
    source: Read,
}

struct FolderScan<'a> {
    dir: &'a Path,
    problems: Vec<Diagnostic>,
    skipped: usize,
    files: Vec<serde_json::Value>,
}

impl FolderScan<'_> {
    fn file_error(&mut self, e: &FileError) {
        self.problems.push(e.to_diagnostic_plain());
        self.skipped += 1;
    }

    fn problem(&mut self, code: Code, msg: String) {
        self.problems.push(Diagnostic::new(code, msg));
        self.skipped += 1;
    }

    /// Read one file of the folder (E0617 when it cannot be read as text).
    fn read(&mut self, name: &str) -> Option<Read> {
        let path = self.dir.join(name);
        match crate::files::read_data(&path) {
            Ok(text) => {
                let sha256 = hex::encode(Sha256::digest(text.as_bytes()));
                Some(Read {
                    name: name.to_string(),
                    path,
                    text,
                    sha256,
                })
            }
            Err(e) => {
                self.problem(Code::E0617, format!("{}: cannot read: {e}", path.display()));
                self.note(name, "", "unreadable");
                None
            }
        }
    }

    /// A file that did not parse: its error, and the file noted as malformed.
    fn malformed(&mut self, r: &Read, e: &FileError) {
        self.file_error(e);
        self.note(&r.name, &r.sha256, "malformed");
    }

    fn note(&mut self, name: &str, sha256: &str, status: &str) {
        self.files.push(serde_json::json!({
            "file": name, "sha256": sha256, "status": status
        }));
    }

    /// Trace file columns → trial numbers (ISF: k-th column ↔ k-th smallest trial number of
    /// the folder's synapse files, else of its presynaptic cell files, else the header's run
    /// numbers). The file is noted as imported, or as inconsistent when the counts differ.
    fn assign(
        &mut self,
        r: &Read,
        f: traces::TraceFile,
        numbers: &[u64],
        name: String,
        threshold_mv: f64,
    ) -> Option<Traces> {
        let runs: Vec<u64> = if numbers.is_empty() {
            f.runs.iter().map(|&n| u64::from(n)).collect()
        } else {
            numbers.to_vec()
        };
        if runs.len() != f.columns.len() {
            self.problem(
                Code::E0615,
                format!(
                    "{}: {} trace column(s), but the folder has {} trial file(s) \
                     (simulation_run…); ISF pairs the k-th column with the k-th trial, so these \
                     traces are not imported",
                    r.path.display(),
                    f.columns.len(),
                    runs.len()
                ),
            );
            self.note(&r.name, &r.sha256, "inconsistent");
            return None;
        }
        self.note(&r.name, &r.sha256, "imported");
        Some(Traces {
            name,
            times: f.times_ms,
            trials: runs.into_iter().zip(f.columns).collect(),
            threshold_mv,
            source: Read {
                name: r.name.clone(),
                path: r.path.clone(),
                text: String::new(),
                sha256: r.sha256.clone(),
            },
        })
    }
}

fn trial_key(n: u64) -> String {
    format!("p000000_t{n:06}")
}

fn trial_label(n: u64) -> String {
    format!("p000000/t{n:06}")
}

/// The sub-store key of a folder: its path components as key parts (`isf_import` for none).
fn folder_key(rel: &[String]) -> String {
    let key: Vec<String> = rel.iter().map(|c| key_part(c)).collect();
    if key.is_empty() {
        "isf_import".to_string()
    } else {
        key.join("/")
    }
}

/// The files of a simrun folder by role (names relative to the folder).
#[derive(Default)]
struct FolderFiles {
    synapses: BTreeMap<u64, String>,
    cells: BTreeMap<u64, String>,
    /// Soma trace files with their uid.
    soma: Vec<(String, String)>,
    /// Dendritic trace files with their name stem.
    dend: Vec<(String, String)>,
    neuron: Vec<String>,
    network: Vec<String>,
}

impl FolderFiles {
    /// Classify the folder's files; the same trial number twice (`run0003`, `run00003`) makes
    /// the folder ambiguous: the second file is left out. Files of no role go to `not_read`.
    fn classify(scan: &mut FolderScan, not_read: &mut Vec<String>) -> FolderFiles {
        let mut f = FolderFiles::default();
        for name in files_of(scan.dir) {
            match role(&name) {
                Some(Role::Synapses(n)) | Some(Role::Cells(n)) => {
                    let map = if matches!(role(&name), Some(Role::Synapses(_))) {
                        &mut f.synapses
                    } else {
                        &mut f.cells
                    };
                    if let Some(first) = map.get(&n) {
                        let msg = format!(
                            "{}: trial {n} also has {first}; this file is not imported",
                            scan.dir.join(&name).display()
                        );
                        scan.problem(Code::E0615, msg);
                        scan.note(&name, "", "duplicate trial number");
                    } else {
                        map.insert(n, name);
                    }
                }
                Some(Role::Soma(uid)) => f.soma.push((name, uid)),
                Some(Role::Dendrite(stem)) => f.dend.push((name, stem)),
                Some(Role::NeuronParam) => f.neuron.push(name),
                Some(Role::NetworkParam) => f.network.push(name),
                Some(Role::Npz) => {
                    scan.problem(
                        Code::E0617,
                        format!(
                            "{}: `.npz` voltage traces (legacy) are not read by the importer yet",
                            scan.dir.join(&name).display()
                        ),
                    );
                    scan.note(&name, "", "not supported");
                }
                None => not_read.push(name),
            }
        }
        f
    }

    /// The folder's trial numbers: those of its synapse files, else of its presynaptic cell
    /// files (ISF's order for pairing trace columns with trials).
    fn trial_numbers(&self) -> Vec<u64> {
        if self.synapses.is_empty() {
            self.cells.keys().copied().collect()
        } else {
            self.synapses.keys().copied().collect()
        }
    }
}

/// The keys planned for one folder, in the order they are written, and the per-trial
/// content gathered for the trial keys.
struct Plan {
    /// Metadata every key of the folder starts from.
    base: Metadata,
    keys: Vec<Planned>,
    trials: BTreeMap<u64, Trial>,
}

impl Plan {
    fn new(dir: &Path, seed: Option<u64>) -> Plan {
        let mut base = Metadata {
            seed,
            ..Metadata::default()
        };
        base.extra
            .insert("imported_from".into(), "ISF simrun folder".into());
        base.extra
            .insert("isf_folder".into(), dir.display().to_string());
        Plan {
            base,
            keys: Vec::new(),
            trials: BTreeMap::new(),
        }
    }

    /// The base metadata with `pairs` added to its `extra`.
    fn meta_with(&self, pairs: &[(&str, String)]) -> Metadata {
        let mut m = self.base.clone();
        for (k, v) in pairs {
            m.extra.insert((*k).to_string(), v.clone());
        }
        m
    }

    fn push(&mut self, key: String, content: Content, meta: Metadata) {
        self.keys.push(Planned { key, content, meta });
    }

    /// One per-trial table from each file of `files` (trial number → file name), parsed by
    /// `parse`, under `PREFIX/p000000_tNNNNNN`; the trial key names its file as `source_key`.
    /// A malformed file still gives its trial a trial key.
    fn trial_tables(
        &mut self,
        scan: &mut FolderScan,
        files: &BTreeMap<u64, String>,
        prefix: &str,
        source_key: &str,
        parse: impl Fn(&str, &str) -> Result<Table, FileError>,
    ) {
        for (&n, name) in files {
            let Some(r) = scan.read(name) else { continue };
            match parse(&r.text, &r.path.display().to_string()) {
                Ok(t) => {
                    let meta = self.meta_with(&[
                        ("source", r.path.display().to_string()),
                        ("source_sha256", r.sha256.clone()),
                        ("isf_trial", n.to_string()),
                    ]);
                    self.push(
                        format!("{prefix}/{}", trial_key(n)),
                        Content::Table(t),
                        meta,
                    );
                    let tr = self.trials.entry(n).or_default();
                    tr.sources
                        .insert(source_key.into(), r.path.display().to_string());
                    scan.note(&r.name, &r.sha256, "imported");
                }
                Err(e) => {
                    scan.malformed(&r, &e);
                    self.trials.entry(n).or_default();
                }
            }
        }
    }

    /// Each trace's columns and spike times into the trials they belong to.
    fn add_traces(&mut self, all_traces: &[Traces]) {
        for t in all_traces {
            let event = format!("spikes({})", t.name.trim_end_matches(".v"));
            for (n, v) in &t.trials {
                let tr = self.trials.entry(*n).or_default();
                tr.events.push((
                    event.clone(),
                    crate::kernel::spikes::spike_times_at(&t.times, v, t.threshold_mv),
                ));
                tr.traces.push((t.name.clone(), v.clone()));
                let src = if t.name == SOMA_TRACE {
                    "source_traces".to_string()
                } else {
                    format!("source_traces.{}", t.name)
                };
                tr.sources.insert(src, t.source.path.display().to_string());
            }
        }
    }

    /// Parameter files: text and JSON, one of each kind (several of a kind: none imported).
    fn params(&mut self, scan: &mut FolderScan, files: &FolderFiles) {
        for (kind, names) in [
            ("neuron_model", &files.neuron),
            ("network_model", &files.network),
        ] {
            if names.len() > 1 {
                scan.problem(
                    Code::E0615,
                    format!(
                        "{}: several {kind} parameter files ({}); none is imported",
                        scan.dir.display(),
                        names.join(", ")
                    ),
                );
                continue;
            }
            let Some(name) = names.first() else { continue };
            let Some(r) = scan.read(name) else { continue };
            match param::parse_param(&r.text, &r.path.display().to_string()) {
                Ok(node) => {
                    let meta = self.meta_with(&[
                        ("source", r.path.display().to_string()),
                        ("source_sha256", r.sha256.clone()),
                    ]);
                    self.push(
                        format!("params/{kind}"),
                        Content::Value(serde_json::json!({
                            "file": r.name, "sha256": r.sha256, "text": r.text,
                            "param": node.to_json(),
                        })),
                        meta,
                    );
                    scan.note(&r.name, &r.sha256, "imported");
                }
                Err(e) => scan.malformed(&r, &e),
            }
        }
    }

    /// The trial keys (after their per-trial tables, as `isf run` writes them): one row of
    /// point, trial, seed, ISF's trial index, the traces and the spike times.
    fn trial_keys(&mut self, all_traces: &[Traces], seed: Option<u64>, rel_dir: &str) {
        let seed_col = seed.map_or(String::new(), |s| format!("{s:016x}"));
        let trials = std::mem::take(&mut self.trials);
        for (&n, tr) in &trials {
            let isf_index = format!("{rel_dir}/{n:06}");
            let mut t = Table::new()
                .with("point", Column::I64(vec![0]))
                .with("trial", Column::I64(vec![n as i64]))
                .with("seed", Column::Str(vec![seed_col.clone()]))
                .with("isf_sim_trial_index", Column::Str(vec![isf_index.clone()]));
            for (name, v) in &tr.traces {
                t = t.with(name, Column::F64Array(one_row(v.clone())));
            }
            for (name, v) in &tr.events {
                t = t.with(name, Column::F64List(vec![v.clone()]));
            }
            let mut pairs: Vec<(&str, String)> = vec![
                ("isf_trial", n.to_string()),
                ("isf_sim_trial_index", isf_index),
            ];
            if let Some(t0) = all_traces.first() {
                pairs.push(("dt_ms", dt_of(&t0.times).to_string()));
            }
            let mut m = self.meta_with(&pairs);
            m.extra.extend(tr.sources.clone());
            self.push(format!("trials/{}", trial_key(n)), Content::Table(t), m);
        }
        self.trials = trials;
    }

    /// The assembled tables: `traces/NAME` (a row per trial) and `events/spikes(SITE)`.
    fn assembled(&mut self, all_traces: &[Traces]) {
        for t in all_traces {
            let labels: Vec<String> = t.trials.iter().map(|(n, _)| trial_label(*n)).collect();
            let data: Vec<f64> = t
                .trials
                .iter()
                .flat_map(|(_, v)| v.iter().copied())
                .collect();
            // The columns of one trace file, as long as its times; if not, the empty array
            // makes the write fail with the row counts (E0609), as before.
            let vm = ndarray::Array2::from_shape_vec((t.trials.len(), t.times.len()), data)
                .unwrap_or_default();
            let table = Table::traces(labels.clone(), &t.times, vm)
                .with_attr("recording", rmpv::Value::from(t.name.as_str()))
                .with_attr("dt_ms", rmpv::Value::F64(dt_of(&t.times)));
            let meta = self.meta_with(&[
                ("source", t.source.path.display().to_string()),
                ("source_sha256", t.source.sha256.clone()),
            ]);
            self.push(
                format!("traces/{}", key_part(&t.name)),
                Content::Table(table),
                meta.clone(),
            );
            let event = format!("spikes({})", t.name.trim_end_matches(".v"));
            let times: Vec<Vec<f64>> = t
                .trials
                .iter()
                .map(|(_, v)| crate::kernel::spikes::spike_times_at(&t.times, v, t.threshold_mv))
                .collect();
            let table = Table::new()
                .with("sim_trial_index", Column::Str(labels))
                .with("times_ms", Column::F64List(times))
                .with_attr("recording", rmpv::Value::from(event.as_str()))
                .with_attr("threshold_mv", rmpv::Value::F64(t.threshold_mv));
            self.push(
                format!("events/{}", key_part(&event)),
                Content::Table(table),
                meta,
            );
        }
    }
}

/// The presynaptic spike table of one trial: a row per presynaptic cell.
fn presynaptic_table(rows: Vec<presynaptic::CellRow>) -> Table {
    Table::new()
        .with(
            "cell_type",
            Column::Str(rows.iter().map(|r| r.cell_type.clone()).collect()),
        )
        .with(
            "cell_id",
            Column::I64(rows.iter().map(|r| r.cell_id).collect()),
        )
        .with(
            "spike_times_ms",
            Column::F64List(rows.into_iter().map(|r| r.times_ms).collect()),
        )
}

/// Voltage traces: the soma file, then the dendritic files on the same time grid. Returns
/// the traces assigned to trials and the soma file's uid.
fn read_traces(
    scan: &mut FolderScan,
    files: &FolderFiles,
    numbers: &[u64],
) -> (Vec<Traces>, Option<String>) {
    let mut all_traces: Vec<Traces> = Vec::new();
    let mut uid = None;
    if files.soma.len() > 1 {
        let names: Vec<&str> = files.soma.iter().map(|(n, _)| n.as_str()).collect();
        scan.problem(
            Code::E0615,
            format!(
                "{}: several soma trace files ({}); none is imported",
                scan.dir.display(),
                names.join(", ")
            ),
        );
        for n in names {
            scan.note(n, "", "ambiguous");
        }
    } else if let Some((name, u)) = files.soma.first() {
        uid = Some(u.clone());
        if let Some(r) = scan.read(name) {
            match traces::parse_traces(&r.text, &r.path.display().to_string()) {
                Ok(f) => all_traces.extend(scan.assign(
                    &r,
                    f,
                    numbers,
                    SOMA_TRACE.into(),
                    SOMA_THRESHOLD_MV,
                )),
                Err(e) => scan.malformed(&r, &e),
            }
        }
    }
    for (name, stem) in &files.dend {
        let Some(r) = scan.read(name) else { continue };
        let label = site_label(stem, uid.as_deref());
        match traces::parse_traces(&r.text, &r.path.display().to_string()) {
            Ok(f) => {
                if let Some(s) = all_traces.first()
                    && s.times != f.times_ms
                {
                    scan.problem(
                        Code::E0615,
                        format!(
                            "{}: {} samples from {} ms, the soma traces {} from {} ms; \
                             not imported",
                            r.path.display(),
                            f.times_ms.len(),
                            f.times_ms[0],
                            s.times.len(),
                            s.times[0]
                        ),
                    );
                    scan.note(&r.name, &r.sha256, "inconsistent");
                    continue;
                }
                let name = format!("{label}.v");
                all_traces.extend(scan.assign(&r, f, numbers, name, DENDRITE_THRESHOLD_MV));
            }
            Err(e) => scan.malformed(&r, &e),
        }
    }
    (all_traces, uid)
}

/// Read one simrun folder and plan its keys; then check them against the store and write.
fn import_folder(store: &Store, dir: &Path, rel: &[String]) -> FolderReport {
    let key = folder_key(rel);
    let rel_dir = rel.join("/");
    let mut rep = FolderReport {
        folder: dir.to_path_buf(),
        key: key.clone(),
        ..FolderReport::default()
    };
    let mut scan = FolderScan {
        dir,
        problems: Vec::new(),
        skipped: 0,
        files: Vec::new(),
    };
    let folder_name = dir
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let (stamp, seed, pid) = folder_ids(&folder_name);
    let files = FolderFiles::classify(&mut scan, &mut rep.not_read);
    let numbers = files.trial_numbers();

    let mut plan = Plan::new(dir, seed);
    plan.trial_tables(
        &mut scan,
        &files.synapses,
        "synapse_activations",
        "source_synapses",
        |text, file| {
            activation::parse_activation(text, file).map(crate::run::sink::activation_table)
        },
    );
    plan.trial_tables(
        &mut scan,
        &files.cells,
        "presynaptic_spikes",
        "source_presynaptic_cells",
        |text, file| presynaptic::parse_presynaptic(text, file).map(presynaptic_table),
    );
    let (all_traces, uid) = read_traces(&mut scan, &files, &numbers);
    plan.add_traces(&all_traces);
    plan.params(&mut scan, &files);
    plan.trial_keys(&all_traces, seed, &rel_dir);
    plan.assembled(&all_traces);

    rep.trials = plan.trials.len();
    rep.skipped_files = scan.skipped;
    let problems: Vec<String> = scan
        .problems
        .iter()
        .map(|d| format!("[{}] {}", d.code.as_str(), d.message))
        .collect();
    let record = serde_json::json!({
        "format": "ISF simrun folder",
        "folder": dir.display().to_string(),
        "isf_sim_trial_index_prefix": rel_dir,
        "stamp": stamp, "seed": seed, "pid": pid, "uid": uid,
        "trials": plan.trials.keys().collect::<Vec<_>>(),
        "files": scan.files,
        "not_read": rep.not_read,
        "problems": problems,
        "spike_threshold_mv": {"soma": SOMA_THRESHOLD_MV, "dendrites": DENDRITE_THRESHOLD_MV},
    });
    rep.problems = scan.problems;
    write_folder(store, &key, plan.keys, record, plan.base, &mut rep);
    rep
}

/// Time step of a sample grid (first interval; 0 for one sample).
fn dt_of(times: &[f64]) -> f64 {
    if times.len() > 1 {
        times[1] - times[0]
    } else {
        0.0
    }
}

/// Bit-exact equality of two tables (NaN equals NaN of the same bits).
fn same_table(a: &Table, b: &Table) -> bool {
    let bits = |v: &[f64], w: &[f64]| {
        v.len() == w.len() && v.iter().zip(w).all(|(x, y)| x.to_bits() == y.to_bits())
    };
    a.attrs == b.attrs
        && a.columns.len() == b.columns.len()
        && a.columns
            .iter()
            .zip(&b.columns)
            .all(|((na, ca), (nb, cb))| {
                na == nb
                    && match (ca, cb) {
                        (Column::F64(x), Column::F64(y)) => bits(x, y),
                        (Column::F64Array(x), Column::F64Array(y)) => {
                            x.dim() == y.dim() && bits(&row_major(x), &row_major(y))
                        }
                        (Column::F64List(x), Column::F64List(y)) => {
                            x.len() == y.len() && x.iter().zip(y).all(|(p, q)| bits(p, q))
                        }
                        (x, y) => x == y,
                    }
            })
}

/// What the store holds at `key` compared with `c`.
enum Stored {
    Absent,
    Same,
    /// The stored table's columns are all in the new one, with the same data: the new one
    /// only adds columns (a trial key gaining the traces of a file fixed since), so writing it
    /// changes nothing stored.
    Extended,
    Different(String),
}

/// True when every column and attribute of `old` is in `new` with the same data.
fn extends(old: &Table, new: &Table) -> bool {
    let picked = Table {
        columns: new
            .columns
            .iter()
            .filter(|(n, _)| old.column(n).is_some())
            .cloned()
            .collect(),
        attrs: new
            .attrs
            .iter()
            .filter(|(k, _)| old.attrs.contains_key(*k))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect(),
    };
    same_table(old, &picked)
}

fn compare(exp: Option<&Store>, key: &str, c: &Content) -> Result<Stored, Diagnostic> {
    let Some(exp) = exp else {
        return Ok(Stored::Absent);
    };
    let kind = match exp.kind(key) {
        Ok(k) => k,
        // Missing, or damaged (a damaged key may be overwritten: that repairs it).
        Err(e) if matches!(e.code, Code::E0604 | Code::E0601) => return Ok(Stored::Absent),
        Err(e) => return Err(e.to_diagnostic()),
    };
    match (kind, c) {
        (Kind::Table, Content::Table(t)) => match exp.get_table(key) {
            Ok(s) if same_table(&s, t) => Ok(Stored::Same),
            Ok(s) if extends(&s, t) => Ok(Stored::Extended),
            Ok(s) => {
                let names = |t: &Table| {
                    t.columns
                        .iter()
                        .map(|(n, _)| n.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                };
                let (a, b) = (s.rows().unwrap_or(0), t.rows().unwrap_or(0));
                Ok(Stored::Different(if names(&s) != names(t) {
                    format!(
                        "stored columns [{}], from the files [{}]",
                        names(&s),
                        names(t)
                    )
                } else if a != b {
                    format!("{a} row(s) stored, {b} from the files")
                } else {
                    "the stored values differ from the files".to_string()
                }))
            }
            Err(e) if e.code == Code::E0601 => Ok(Stored::Absent),
            Err(e) => Err(e.to_diagnostic()),
        },
        (Kind::Value, Content::Value(v)) => match exp.get::<serde_json::Value>(key) {
            Ok(s) if &s == v => Ok(Stored::Same),
            Ok(_) => Ok(Stored::Different("the stored value differs".into())),
            Err(e) if e.code == Code::E0601 => Ok(Stored::Absent),
            Err(e) => Err(e.to_diagnostic()),
        },
        (k, _) => Ok(Stored::Different(format!("the store holds a {}", k.name()))),
    }
}

/// Check the planned keys against the store, then write the new ones and the record.
fn write_folder(
    store: &Store,
    key: &str,
    planned: Vec<Planned>,
    record: serde_json::Value,
    base: Metadata,
    rep: &mut FolderReport,
) {
    let refuse = |rep: &mut FolderReport, d: Diagnostic| {
        rep.problems.push(d);
        rep.refused = true;
    };
    let exp = match store.kind(key) {
        Ok(Kind::Store) => match store.sub_existing(key) {
            Ok(s) => Some(s),
            Err(e) => return refuse(rep, e.to_diagnostic()),
        },
        Ok(k) => {
            return refuse(
                rep,
                Diagnostic::new(
                    Code::E0616,
                    format!(
                        "key '{key}' is a {}; {} is not imported",
                        k.name(),
                        rep.folder.display()
                    ),
                ),
            );
        }
        Err(e) if e.code == Code::E0604 => None,
        Err(e) => return refuse(rep, e.to_diagnostic()),
    };
    if let Some(e) = &exp
        && e.contains(crate::run::sink::PLAN_KEY)
    {
        return refuse(
            rep,
            Diagnostic::new(
                Code::E0618,
                format!(
                    "key '{key}' holds results of `isf run` (it has a plan); {} is not imported \
                     into it",
                    rep.folder.display()
                ),
            )
            .help("import into another store (--into), or rename the folder"),
        );
    }
    // Another folder imported under the same key (same name, another tree) would mix two
    // runs in one sub-store: refused unless it holds the same files (the folder was moved).
    if let Some(e) = &exp
        && let Ok(old) = e.get::<serde_json::Value>(RECORD_KEY)
        && old["folder"] != record["folder"]
        && old["files"] != record["files"]
    {
        return refuse(
            rep,
            Diagnostic::new(
                Code::E0616,
                format!(
                    "key '{key}' holds the import of another folder ({}); {} is not imported",
                    old["folder"].as_str().unwrap_or("?"),
                    rep.folder.display()
                ),
            )
            .help("import it into another store (--into)"),
        );
    }
    let mut todo = Vec::new();
    let mut conflicts = Vec::new();
    for p in planned {
        match compare(exp.as_ref(), &p.key, &p.content) {
            Ok(Stored::Absent | Stored::Extended) => todo.push(p),
            Ok(Stored::Same) => rep.unchanged += 1,
            Ok(Stored::Different(why)) => conflicts.push(format!("{key}/{}: {why}", p.key)),
            Err(d) => return refuse(rep, d),
        }
    }
    if !conflicts.is_empty() {
        let n = conflicts.len();
        let mut d = Diagnostic::new(
            Code::E0616,
            format!(
                "{}: {n} key(s) under '{key}' hold other content than the files now give; nothing \
                 of this folder was written",
                rep.folder.display()
            ),
        );
        for c in conflicts.iter().take(5) {
            d = d.note(c.clone());
        }
        if n > 5 {
            d = d.note(format!("… and {} more", n - 5));
        }
        rep.unchanged = 0;
        return refuse(
            rep,
            d.help(format!(
                "to replace the import, remove it first: isf db rm STORE {key} -r"
            )),
        );
    }
    let exp = match exp {
        Some(e) => e,
        None => match store.sub(key) {
            Ok(e) => e,
            Err(e) => return refuse(rep, e.to_diagnostic()),
        },
    };
    for p in todo {
        let r = match &p.content {
            Content::Table(t) => {
                rep.rows += t.rows().unwrap_or(0) as u64;
                exp.put_table(&p.key, t, p.meta)
            }
            Content::Value(v) => exp.put_with_meta(&p.key, v, p.meta),
        };
        if let Err(e) = r {
            return refuse(rep, e.to_diagnostic());
        }
        rep.written += 1;
    }
    // The record describes the latest import; it is rewritten only when it changed.
    let rec = Content::Value(record);
    match compare(Some(&exp), RECORD_KEY, &rec) {
        Ok(Stored::Same) => rep.unchanged += 1,
        _ => {
            let Content::Value(v) = rec else {
                return;
            };
            let mut m = base;
            m.extra
                .insert("source".into(), rep.folder.display().to_string());
            match exp.put_with_meta(RECORD_KEY, &v, m) {
                Ok(()) => rep.written += 1,
                Err(e) => refuse(rep, e.to_diagnostic()),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_roles_and_old_naming() {
        assert_eq!(
            role("simulation_run0003_synapses.csv"),
            Some(Role::Synapses(3))
        );
        assert_eq!(
            role("simulation_run0000012_presynaptic_cells.csv"),
            Some(Role::Cells(12))
        );
        assert_eq!(
            role("20240_vm_all_traces.csv"),
            Some(Role::Soma("20240".into()))
        );
        assert_eq!(role("vm_all_traces.csv"), Some(Role::Soma(String::new())));
        assert_eq!(role("20240_neuron_model.param"), Some(Role::NeuronParam));
        assert_eq!(role("network_model.param"), Some(Role::NetworkParam));
        assert_eq!(role("hostname_node17"), None);
        assert_eq!(role("simulation_runX_synapses.csv"), None);
        assert_eq!(
            folder_ids("20150815-1530_20240"),
            (Some("20150815-1530".into()), None, Some(20240))
        );
        assert_eq!(
            folder_ids("20250101-1553_seed123_pid456"),
            (Some("20250101-1553".into()), Some(123), Some(456))
        );
        assert_eq!(folder_ids("isf-legacy-run"), (None, None, None));
        let l = "apical_rec_sites_ID_001_sec_025_seg_001_x_0.500_somaDist_198.1";
        assert_eq!(site_label(&format!("20240_{l}"), Some("20240")), l);
        assert_eq!(site_label(&format!("20240_{l}"), None), l);
        assert_eq!(site_label(&format!("seed12_pid34_{l}"), None), l);
        assert_eq!(site_label(&format!("12_34_{l}"), None), l);
    }

    #[test]
    fn long_names_stay_distinct_and_valid() {
        let a = "x".repeat(200) + "a";
        let b = "x".repeat(200) + "b";
        assert_ne!(key_part(&a), key_part(&b));
        assert!(crate::store::validate_name(&key_part(&a)).is_ok());
        assert_eq!(key_part("spikes(soma)"), "spikes_soma_");
    }

    #[test]
    fn nan_equal_tables() {
        let t = Table::new().with("x", Column::F64(vec![f64::NAN, 1.0]));
        assert!(same_table(&t, &t.clone()));
        let u = Table::new().with("x", Column::F64(vec![f64::NAN, 2.0]));
        assert!(!same_table(&t, &u));
    }
}
