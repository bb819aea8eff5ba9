//! `isf db ls|show|get|export|merge|verify|rm|import-isf`: inspect, export, merge, check and
//! repair results stores, and import ISF simrun results into one.
//!
//! Exit codes: 0 success; 1 a store problem (missing key, damaged file, merge conflict,
//! failed verification, store locked by another writer), printed as
//! `error[E06xx]: key '…': …` on stderr.
//!
//! `merge` (into its destination), `verify --fix`, `rm` and `import-isf` write, so they take the
//! store's writer lock; the other subcommands only read and never lock. Repairing a damaged
//! store is described in `docs/store-repair.md`.

use crate::diagnostics::{Code, Diagnostic};
use crate::run::fingerprint::{Plan, diff, diff_summary};
use crate::run::sink::{PLAN_KEY, assemble, plan_items, stored_plan, verify_runs};
use crate::store::export::{
    Frame, Layout, concat, frame, frame_to_csv, frame_to_npy, frame_to_parquet, select,
    table_to_csv, table_to_npy, value_to_csv, value_to_npy, value_to_table,
};
use crate::store::{Kind, Metadata, Store, StoreError};
use clap::{Args, Subcommand, ValueEnum};
use rmpv::Value;
use std::collections::BTreeSet;
use std::path::PathBuf;

/// Arguments of `isf db`.
#[derive(Args, Debug)]
#[command(
    after_help = "Examples:\n  isf db ls results/\n  isf db show results/ voltage_traces\n  isf db \
                  export results/ voltage_traces -o vt.npy\n  isf db export results/ \
                  sweep/traces/soma.v --layout tidy -o soma.parquet\n  isf db export results/ \
                          sweep/events/spikes_soma_ --layout tidy -o spikes.csv\n  isf db merge \
                              results/ shard0/ shard1/\n  isf db verify results/ --fix\n  isf db \
                                  rm results/ sweep/trials/p000003_t000012\n  isf db import-isf \
                                      old_sims/results --into results/"
)]
pub struct DbArgs {
    #[command(subcommand)]
    pub command: DbCommand,
}

/// The `isf db` subcommands.
#[derive(Subcommand, Debug)]
pub enum DbCommand {
    /// List keys with kind, size, rows and provenance.
    Ls {
        /// Store directory.
        store: PathBuf,
        /// A sub-store to list instead of the top level.
        key: Option<String>,
        /// List every key below, not only the top level.
        #[arg(short, long)]
        recursive: bool,
    },
    /// Print a key's metadata and a summary of its value.
    Show {
        /// Store directory.
        store: PathBuf,
        /// Key (`/`-separated).
        key: String,
    },
    /// Print a value as JSON, a table as CSV, a folder's path.
    Get {
        /// Store directory.
        store: PathBuf,
        /// Key (`/`-separated).
        key: String,
    },
    /// Write a table, a sub-store of tables (e.g. `EXP/trials`) or a numeric value to a CSV,
    /// NumPy `.npy` or Parquet file, in the stored (wide), long or tidy layout. Rows of run
    /// results carry their trial columns: sweep values (`stimulus.step.amp_nA`), trial, seed.
    Export {
        /// Store directory.
        store: PathBuf,
        /// Key (`/`-separated): a table, a value, or a sub-store whose tables are exported as
        /// one (one per trial: `EXP/trials`, `EXP/synapse_activations`).
        key: String,
        /// Output file.
        #[arg(short, long)]
        output: PathBuf,
        /// Output format (default: from the output file's extension: .csv, .npy, .parquet).
        #[arg(long, value_enum)]
        format: Option<ExportFormat>,
        /// `wide`: as stored, one row per trial, one column per sample; `long`: a time column
        /// and one column per trial, labelled by sweep values and trial; `tidy`: one row per
        /// trial and sample, or per event (spike times, synapse releases).
        #[arg(long, value_enum, default_value = "wide")]
        layout: ExportLayout,
        /// Export only this column (with the trial columns); for a wide `.npy`, the column's
        /// plain array (default: the table's only array column).
        #[arg(long)]
        column: Option<String>,
    },
    /// Merge shard stores into DEST (created when missing); conflicting keys or experiments
    /// of different plans abort. Experiments complete after the merge get their trace and
    /// event tables assembled.
    Merge {
        /// Destination store.
        dest: PathBuf,
        /// Shard stores to merge in.
        #[arg(required = true)]
        shards: Vec<PathBuf>,
        /// Move the new keys out of the shards instead of copying them (a rename per key:
        /// fast; for shards not needed afterwards). Copies across filesystems.
        #[arg(long = "move")]
        move_keys: bool,
    },
    /// Check every file's checksum and structure, and that run results belong to their
    /// experiment's stored plan; exit 1 when a key is damaged or inconsistent.
    Verify {
        /// Store directory.
        store: PathBuf,
        /// Also remove leftovers of interrupted writes and symbolic links (the links, never
        /// their targets), and move keys that cannot be read to `STORE/.quarantine/TIME/`.
        #[arg(long)]
        fix: bool,
    },
    /// Import ISF simrun result folders (traces, spike times, synapse activations,
    /// presynaptic cells, parameter files) into a store, in the layout of `isf run`.
    /// Malformed files are reported and left out; exit 1 when anything was left out.
    #[command(name = "import-isf")]
    ImportIsf {
        /// ISF simrun folders, or folders holding them at any depth.
        #[arg(required = true)]
        folders: Vec<PathBuf>,
        /// Store to import into (created when missing).
        #[arg(long)]
        into: PathBuf,
    },
    /// Remove keys (damaged ones too); a sub-store only with `-r`. Prints what it removed.
    Rm {
        /// Store directory.
        store: PathBuf,
        /// Keys (`/`-separated) to remove.
        #[arg(required = true)]
        keys: Vec<String>,
        /// Remove sub-stores with every key below them.
        #[arg(short, long)]
        recursive: bool,
    },
}

/// Export file formats.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum ExportFormat {
    Csv,
    Npy,
    Parquet,
}

/// Export layouts (see [`crate::store::export`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum ExportLayout {
    Wide,
    Long,
    Tidy,
}

impl ExportLayout {
    fn layout(self) -> Layout {
        match self {
            ExportLayout::Wide => Layout::Wide,
            ExportLayout::Long => Layout::Long,
            ExportLayout::Tidy => Layout::Tidy,
        }
    }
}

fn fail(e: &StoreError) -> i32 {
    eprintln!("{e}");
    1
}

/// Run `isf db`.
pub fn run(args: DbArgs) -> i32 {
    let r = match args.command {
        DbCommand::Ls {
            store,
            key,
            recursive,
        } => ls(&store, key.as_deref(), recursive),
        DbCommand::Show { store, key } => show(&store, &key),
        DbCommand::Get { store, key } => get(&store, &key),
        DbCommand::Export {
            store,
            key,
            output,
            format,
            layout,
            column,
        } => export(&store, &key, &output, format, layout, column.as_deref()),
        DbCommand::Merge {
            dest,
            shards,
            move_keys,
        } => merge(&dest, &shards, move_keys),
        DbCommand::Verify { store, fix } => return verify(&store, fix),
        DbCommand::ImportIsf { folders, into } => import_isf(&folders, &into),
        DbCommand::Rm {
            store,
            keys,
            recursive,
        } => rm(&store, &keys, recursive),
    };
    match r {
        Ok(code) => code,
        Err(e) => fail(&e),
    }
}

/// Human-readable byte count.
fn size(b: u64) -> String {
    match b {
        b if b < 1 << 10 => format!("{b} B"),
        b if b < 1 << 20 => format!("{:.1} KiB", b as f64 / 1024.0),
        b if b < 1 << 30 => format!("{:.1} MiB", b as f64 / 1048576.0),
        b => format!("{:.2} GiB", b as f64 / 1073741824.0),
    }
}

fn ls(path: &PathBuf, key: Option<&str>, recursive: bool) -> Result<i32, StoreError> {
    let mut store = Store::open(path)?;
    if let Some(k) = key {
        store = store.sub_existing(k)?;
    }
    let mut rows = Vec::new();
    let mut errors = 0;
    for (k, item) in store.list_tree(recursive)? {
        match item {
            Ok(info) => rows.push((k, info)),
            Err(e) => {
                errors += 1;
                eprintln!("{e}");
            }
        }
    }
    // One buffered writer: a line-buffered write per key costs a system call each.
    use std::io::Write;
    let mut w = std::io::BufWriter::new(std::io::stdout().lock());
    let _ = writeln!(
        w,
        "{:<40} {:<6} {:>10} {:>7}  {:<20} {:>10}  PLAN",
        "KEY", "KIND", "SIZE", "ROWS", "CREATED", "SEED"
    );
    for (k, info) in rows {
        let m = &info.meta;
        let _ = writeln!(
            w,
            "{:<40} {:<6} {:>10} {:>7}  {:<20} {:>10}  {}",
            k,
            info.kind.name(),
            size(info.bytes),
            info.rows.map_or("-".into(), |r| r.to_string()),
            m.created.as_deref().unwrap_or("-"),
            m.seed.map_or("-".into(), |s| s.to_string()),
            m.plan_hash
                .as_deref()
                .map_or("-", |h| &h[..h.len().min(12)]),
        );
    }
    let _ = w.flush();
    Ok(i32::from(errors > 0))
}

/// A msgpack value as JSON (binary as its length, non-finite floats as strings).
pub fn to_json(v: &Value) -> serde_json::Value {
    use serde_json::Value as J;
    match v {
        Value::Nil => J::Null,
        Value::Boolean(b) => J::Bool(*b),
        Value::Integer(i) => i
            .as_i64()
            .map(J::from)
            .or_else(|| i.as_u64().map(J::from))
            .unwrap_or(J::Null),
        Value::F32(x) => float_json(f64::from(*x)),
        Value::F64(x) => float_json(*x),
        Value::String(s) => J::String(s.as_str().unwrap_or("<invalid utf-8>").to_string()),
        Value::Binary(b) => J::String(format!("<{} bytes>", b.len())),
        Value::Array(a) => J::Array(a.iter().map(to_json).collect()),
        Value::Map(m) => J::Object(
            m.iter()
                .map(|(k, v)| {
                    let key = match k {
                        Value::String(s) => s.as_str().unwrap_or("?").to_string(),
                        other => other.to_string(),
                    };
                    (key, to_json(v))
                })
                .collect(),
        ),
        Value::Ext(t, b) => J::String(format!("<ext {t}: {} bytes>", b.len())),
    }
}

fn float_json(x: f64) -> serde_json::Value {
    serde_json::Number::from_f64(x)
        .map(serde_json::Value::Number)
        .unwrap_or_else(|| serde_json::Value::String(x.to_string()))
}

fn meta_json(m: &Metadata) -> String {
    serde_json::to_string_pretty(m).unwrap_or_default()
}

fn show(path: &PathBuf, key: &str) -> Result<i32, StoreError> {
    let store = Store::open(path)?;
    let kind = store.kind(key)?;
    println!("key:  {key}\nkind: {}", kind.name());
    let meta = store.metadata(key)?;
    // The script can be long; show its first lines here (`isf db get` has it all).
    let mut shown = meta.clone();
    if let Some(s) = &shown.script {
        let lines = s.lines().count();
        if lines > 5 {
            let head: Vec<&str> = s.lines().take(5).collect();
            shown.script = Some(format!("{}\n… ({lines} lines)", head.join("\n")));
        }
    }
    println!("metadata: {}", meta_json(&shown));
    match kind {
        Kind::Value => {
            let v = to_json(&store.get_value(key)?);
            let text = serde_json::to_string_pretty(&v).unwrap_or_default();
            if text.len() > 4000 {
                println!("value ({} bytes as JSON): {} …", text.len(), &text[..4000]);
            } else {
                println!("value: {text}");
            }
        }
        Kind::Table => {
            let info = store.table_info(key)?;
            println!("rows: {}\nchunks: {}", info.rows, info.chunks.len());
            println!("columns:");
            for c in &info.columns {
                match c.dtype {
                    crate::store::DType::F64Array(w) => {
                        println!("  {}: f64_array[{w}]", c.name)
                    }
                    ref d => println!("  {}: {}", c.name, d.name()),
                }
            }
            for (k, v) in &info.attrs {
                let text = to_json(v).to_string();
                if text.len() > 120 {
                    let n = v
                        .as_array()
                        .map_or(String::new(), |a| format!("{} items, ", a.len()));
                    println!("attr {k}: ({n}{} bytes as JSON)", text.len());
                } else {
                    println!("attr {k}: {text}");
                }
            }
        }
        Kind::Store => {
            let sub = store.sub_existing(key)?;
            println!("keys: {}", sub.keys()?.join(", "));
        }
        Kind::Folder => {
            let p = store.folder_path(key)?;
            println!("path: {}", p.display());
        }
    }
    Ok(0)
}

fn get(path: &PathBuf, key: &str) -> Result<i32, StoreError> {
    let store = Store::open(path)?;
    match store.kind(key)? {
        Kind::Value => {
            let v = to_json(&store.get_value(key)?);
            println!("{}", serde_json::to_string_pretty(&v).unwrap_or_default());
        }
        Kind::Table => {
            let t = store.get_table(key)?;
            let csv = table_to_csv(&t)
                .map_err(|m| StoreError::at(crate::diagnostics::Code::E0601, key, m))?;
            print!("{csv}");
        }
        Kind::Store => println!("{}", store.sub_existing(key)?.keys()?.join("\n")),
        Kind::Folder => println!("{}", store.folder_path(key)?.display()),
    }
    Ok(0)
}

fn export(
    path: &PathBuf,
    key: &str,
    out: &std::path::Path,
    format: Option<ExportFormat>,
    layout: ExportLayout,
    column: Option<&str>,
) -> Result<i32, StoreError> {
    use crate::diagnostics::Code;
    use crate::run::tables::complete;
    let format = match format {
        Some(f) => f,
        None => match out.extension().and_then(|e| e.to_str()) {
            Some("npy") => ExportFormat::Npy,
            Some("csv") => ExportFormat::Csv,
            Some("parquet" | "pq") => ExportFormat::Parquet,
            _ => {
                eprintln!(
                    "error: cannot tell the format from {}; use --format csv|npy|parquet",
                    out.display()
                );
                return Ok(2);
            }
        },
    };
    let store = Store::open(path)?;
    let wrong_type = |m: String| StoreError::at(Code::E0605, key, m);
    let cannot = |m: String| StoreError::at(Code::E0622, key, m);
    let layout = layout.layout();
    // The tables to export, each completed with its trial columns (sweep values, trial,
    // seed) where it was stored without them.
    let tables = match store.kind(key)? {
        Kind::Table => {
            let t = store.get_table(key)?;
            vec![complete(&store, key, t, &store.metadata(key)?)]
        }
        Kind::Value => {
            let v = store.get_value(key)?;
            let bytes = match (format, layout) {
                (ExportFormat::Csv, Layout::Wide) => {
                    Some(value_to_csv(&v).map_err(wrong_type)?.into_bytes())
                }
                (ExportFormat::Npy, Layout::Wide) => {
                    Some(value_to_npy(&v).map_err(wrong_type)?.to_npy())
                }
                _ => None,
            };
            if let Some(b) = bytes {
                return write_export(key, out, &b, None);
            }
            vec![value_to_table(&v).map_err(wrong_type)?]
        }
        Kind::Store => {
            let sub = store.sub_existing(key)?;
            let mut v = Vec::new();
            for k in sub.keys()? {
                if sub.kind(&k)? == Kind::Table {
                    let full = format!("{key}/{k}");
                    v.push(complete(
                        &store,
                        &full,
                        sub.get_table(&k)?,
                        &sub.metadata(&k)?,
                    ));
                }
            }
            if v.is_empty() {
                return Err(wrong_type(
                    "is a sub-store without tables; nothing to export".into(),
                ));
            }
            v
        }
        k => return Err(wrong_type(format!("is a {}; nothing to export", k.name()))),
    };
    let tables = tables
        .iter()
        .map(|t| select(t, column))
        .collect::<Result<Vec<_>, _>>()
        .map_err(cannot)?;
    let bytes = if format == ExportFormat::Npy && layout == Layout::Wide {
        let t = crate::store::export::concat_tables(tables).map_err(cannot)?;
        table_to_npy(&t, column).map_err(wrong_type)?.to_npy()
    } else {
        let frames = tables
            .iter()
            .map(|t| frame(t, layout))
            .collect::<Result<Vec<Frame>, _>>()
            .map_err(cannot)?;
        let f = concat(frames, layout).map_err(cannot)?;
        let b = match format {
            ExportFormat::Csv => frame_to_csv(&f),
            ExportFormat::Parquet => frame_to_parquet(&f),
            ExportFormat::Npy => frame_to_npy(&f).map(|a| a.to_npy()),
        }
        .map_err(cannot)?;
        return write_export(key, out, &b, Some((f.rows(), f.columns.len())));
    };
    write_export(key, out, &bytes, None)
}

/// Write an export to a temporary file beside the target and rename it over it: a failed
/// export leaves no partial file and an earlier export in place.
fn write_export(
    key: &str,
    out: &std::path::Path,
    bytes: &[u8],
    shape: Option<(usize, usize)>,
) -> Result<i32, StoreError> {
    crate::files::write_atomic(out, bytes).map_err(|e| StoreError::io(Some(key), out, &e))?;
    let shape = shape.map_or(String::new(), |(r, c)| format!(", {r} rows × {c} columns"));
    eprintln!(
        "wrote {} ({}{shape})",
        out.display(),
        size(bytes.len() as u64)
    );
    Ok(0)
}

/// A diagnostic of the run stage as a store error (its notes folded into the message).
fn as_store_error(d: Diagnostic) -> StoreError {
    let mut m = d.message;
    for n in d.notes {
        m += &format!("; {n}");
    }
    StoreError::new(d.code, m)
}

/// Experiments of `store`: top-level sub-stores holding a stored plan.
fn experiments(store: &Store) -> Result<Vec<(String, Store, Plan)>, StoreError> {
    let mut out = Vec::new();
    for k in store.keys()? {
        if store.kind(&k)? != Kind::Store {
            continue;
        }
        let exp = store.sub_existing(&k)?;
        if let Some(plan) = stored_plan(&exp).map_err(as_store_error)? {
            out.push((k, exp, plan));
        }
    }
    Ok(out)
}

/// Refuse a shard holding an experiment whose plan differs from the destination's.
fn same_plans(target: &Store, shard: &Store, name: &std::path::Path) -> Result<(), StoreError> {
    for (exp, _, theirs) in experiments(shard)? {
        let Ok(ours) = target.sub_existing(&exp) else {
            continue;
        };
        if let Some(ours) = stored_plan(&ours).map_err(as_store_error)?
            && ours.json != theirs.json
        {
            return Err(StoreError::at(
                Code::E0606,
                &format!("{exp}/{PLAN_KEY}"),
                format!(
                    "{} holds `{exp}` from a different plan than the destination:\n{}\nnothing was \
                     merged",
                    name.display(),
                    diff_summary(&diff(&ours.json, &theirs.json), 10)
                ),
            ));
        }
    }
    Ok(())
}

/// One problem of an import as printed: `error[CODE]: message`, then its notes and help.
fn print_problem(d: &Diagnostic) {
    eprintln!("error[{}]: {}", d.code.as_str(), d.message);
    for n in &d.notes {
        eprintln!("  note: {n}");
    }
    for h in &d.hints {
        eprintln!("  help: {h}");
    }
}

fn import_isf(folders: &[PathBuf], into: &PathBuf) -> Result<i32, StoreError> {
    let start = std::time::Instant::now();
    let (store, _lock) = Store::create_locked(into, "isf db import-isf")?;
    let report = crate::interop::simrun_import::import(&store, folders);
    for d in &report.problems {
        print_problem(d);
    }
    for r in &report.running {
        eprintln!(
            "note: {}: unfinished run (`_running`), not imported",
            r.display()
        );
    }
    let (mut trials, mut written, mut unchanged, mut rows, mut skipped) = (0, 0, 0, 0, 0);
    let mut refused = 0;
    for f in &report.folders {
        for d in &f.problems {
            print_problem(d);
        }
        let state = if f.refused {
            refused += 1;
            "refused".to_string()
        } else {
            format!(
                "{} trial(s), {} key(s) written, {} unchanged, {} row(s)",
                f.trials, f.written, f.unchanged, f.rows
            )
        };
        let extra = match (f.skipped_files, f.not_read.len()) {
            (0, 0) => String::new(),
            (s, 0) => format!("; {s} file(s) left out"),
            (0, n) => format!("; {n} other file(s) not read"),
            (s, n) => format!("; {s} file(s) left out, {n} other file(s) not read"),
        };
        println!("{} -> {}: {state}{extra}", f.folder.display(), f.key);
        trials += f.trials;
        written += f.written;
        unchanged += f.unchanged;
        rows += f.rows;
        skipped += f.skipped_files;
    }
    let mut line = format!(
        "imported {} folder(s) into {}: {trials} trial(s), {written} key(s) written, {unchanged} \
         unchanged, {rows} row(s) in {:.2} s",
        report.folders.len() - refused,
        into.display(),
        start.elapsed().as_secs_f64()
    );
    if report.incomplete() {
        let mut parts = Vec::new();
        if skipped > 0 {
            parts.push(format!("{skipped} file(s) skipped"));
        }
        if refused > 0 {
            parts.push(format!("{refused} folder(s) refused"));
        }
        if !report.problems.is_empty() {
            parts.push(format!("{} path(s) not imported", report.problems.len()));
        }
        line += &format!(
            "; INCOMPLETE: {} (errors above); the rest is stored",
            parts.join(", ")
        );
    }
    println!("{line}");
    Ok(i32::from(report.incomplete()))
}

fn merge(dest: &PathBuf, shards: &[PathBuf], move_keys: bool) -> Result<i32, StoreError> {
    let (target, _lock) = Store::create_locked(dest, "isf db merge")?;
    let mut touched = BTreeSet::new();
    for shard in shards {
        let src = Store::open(shard)?;
        same_plans(&target, &src, shard)?;
        let r = if move_keys {
            // Moving out of a shard writes it: hold its lock too.
            let _shard_lock = crate::store::lock::lock(shard, "isf db merge --move")?;
            target.merge_moving(&src)?
        } else {
            target.merge(&src)?
        };
        for k in &r.copied {
            touched.insert(k.split('/').next().unwrap_or_default().to_string());
        }
        println!(
            "{}: {} key(s) {}, {} identical",
            shard.display(),
            r.copied.len(),
            if move_keys { "moved" } else { "copied" },
            r.identical.len()
        );
    }
    // Shards store trial keys only; the merged store gets the tables once it is complete.
    for (name, exp, plan) in experiments(&target)? {
        let assembled = exp.contains("traces") || exp.contains("events");
        if !touched.contains(&name) && assembled {
            continue;
        }
        let items = plan_items(&plan);
        let trials = exp.sub_existing("trials").ok();
        let have = items
            .iter()
            .filter(|(p, t)| {
                trials
                    .as_ref()
                    .is_some_and(|s| s.contains(&format!("p{p:06}_t{t:06}")))
            })
            .count();
        if have < items.len() {
            println!(
                "{name}: {have} of {} items stored; tables are assembled once all shards are \
                 merged",
                items.len()
            );
            continue;
        }
        // The tables' provenance (script, plan hash) is that of the first item.
        let mut meta = match (&trials, items.first()) {
            (Some(s), Some((p, t))) => s.metadata(&format!("p{p:06}_t{t:06}"))?,
            _ => Metadata::default(),
        };
        meta.created = None;
        meta.host = None;
        let n = assemble(&exp, &plan, &items, meta).map_err(as_store_error)?;
        println!("{name}: trace and event tables assembled from {n} items");
    }
    Ok(0)
}

fn rm(path: &PathBuf, keys: &[String], recursive: bool) -> Result<i32, StoreError> {
    let store = Store::open(path)?;
    // Refuse the store itself before taking the lock: `rm STORE ""` or `/` is never a key.
    for k in keys {
        if k.trim_matches('/').is_empty() || k == "." {
            return Err(StoreError::new(
                crate::diagnostics::Code::E0603,
                format!(
                    "'{k}' names the store itself; remove the directory {} to delete the whole \
                     store",
                    path.display()
                ),
            ));
        }
    }
    let _lock = crate::store::lock::lock(path, "isf db rm")?;
    for k in keys {
        let kind = store.remove(k.trim_end_matches('/'), recursive)?;
        match kind {
            Some(kind) => println!("removed {k} ({})", kind.name()),
            None => println!("removed {k} (damaged)"),
        }
    }
    Ok(0)
}

fn verify(path: &PathBuf, fix: bool) -> i32 {
    let store = match Store::open(path) {
        Ok(s) => s,
        Err(e) => return fail(&e),
    };
    // Held to the end: removing leftovers must not race a writer that still needs them.
    let _lock = if fix {
        match crate::store::lock::lock(path, "isf db verify --fix") {
            Ok(l) => Some(l),
            Err(e) => return fail(&e),
        }
    } else {
        None
    };
    if fix {
        let before = store.verify();
        for p in store.fix_from(&before) {
            println!("removed {}", p.display());
        }
        match store.quarantine(&before) {
            Ok(q) => {
                for (key, to) in q.moved {
                    println!("quarantined {key} (unreadable) to {}", to.display());
                }
            }
            Err(e) => eprintln!("{e}"),
        }
    }
    let r = store.verify();
    for p in &r.problems {
        eprintln!("{p}");
    }
    for s in &r.strays {
        println!(
            "stray (harmless, `--fix` removes it when safe): {}",
            s.display()
        );
    }
    let runs = verify_runs(&store);
    for d in &runs {
        eprintln!("error[{}]: {}", d.code.as_str(), d.message);
    }
    let mut verdict = Vec::new();
    if !r.ok() {
        verdict.push(format!("{} damaged key(s)", r.problems.len()));
    }
    if !runs.is_empty() {
        verdict.push(format!(
            "{} run result(s) inconsistent with their plan",
            runs.len()
        ));
    }
    println!(
        "checked {} entries and {} chunks ({}): {}",
        r.entries,
        r.chunks,
        size(r.bytes),
        if verdict.is_empty() {
            "ok".to_string()
        } else {
            verdict.join(", ")
        }
    );
    i32::from(!verdict.is_empty())
}
