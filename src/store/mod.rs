//! The results store: a directory acting as a persistent, nested dictionary of simulation
//! results (spec 06), written as blosc-compressed msgpack with checksums.
//!
//! Layout (normative description with byte offsets in `docs/store-format.md`):
//!
//! ```text
//! <store>/isf-store.json          marker {"format": "isf-store", "version": 1}
//! <store>/<key>/key.isfd           entry: kind, metadata, and the value or a table manifest
//! <store>/<key>/chunk-000000.isfd  table chunks (rows), immutable once written
//! <store>/<key>/files/            managed folder contents
//! <store>/<sub>/key.isfd           kind "store"; its child keys are directories beside it
//! ```
//!
//! Readers need no locks: every file is written to a temporary name (leading `.`) in its
//! final directory, fsynced and renamed. A key exists once its `key.isfd` exists; a table grows
//! by writing a new chunk and then atomically replacing the manifest that lists the chunks. So
//! readers running beside a writer see each key either as before or as after a write, and a
//! crash leaves at most stray temporary files, which readers ignore and [`Store::fix`] (or the
//! next write to that directory) removes. Writers take the store's lock
//! ([`Store::create_locked`], [`lock`]): one writing process per store; several processes write
//! separate shard stores and [`Store::merge`] them.

pub mod blosc;
pub mod error;
pub mod export;
pub mod frame;
pub mod lock;
pub mod meta;
pub mod table;

pub use blosc::{Codec, Shuffle};
pub use error::{Result, StoreError};
pub use lock::WriterLock;
pub use meta::Metadata;
pub use table::{Column, ColumnSpec, DType, Table};

use crate::diagnostics::Code;
use frame::{FileKind, FrameError};
use rmpv::Value;
use serde::Serialize;
use serde::de::DeserializeOwned;
use std::fs;
use std::path::{Path, PathBuf};

/// Name of the marker file at the root of a store.
pub const MARKER: &str = "isf-store.json";
/// Name of a key's entry file.
pub const ENTRY: &str = "key.isfd";
/// Name of a managed folder's directory inside its key directory.
pub const FILES: &str = "files";
const DELETING: &str = ".deleting-";
/// Longest allowed key component (as in ISF).
pub const MAX_NAME: usize = 120;
/// Orphan chunks younger than this (seconds) may belong to an append in progress.
const ORPHAN_GRACE_S: u64 = 60;

/// What a key holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// A msgpack value (scalar, string, list, record).
    Value,
    /// A chunked columnar table.
    Table,
    /// A nested store.
    Store,
    /// A managed folder of user files.
    Folder,
}

impl Kind {
    /// The name used in the format.
    pub fn name(self) -> &'static str {
        match self {
            Kind::Value => "value",
            Kind::Table => "table",
            Kind::Store => "store",
            Kind::Folder => "folder",
        }
    }

    fn parse(s: &str) -> Option<Kind> {
        Some(match s {
            "value" => Kind::Value,
            "table" => Kind::Table,
            "store" => Kind::Store,
            "folder" => Kind::Folder,
            _ => return None,
        })
    }
}

/// How payload files are compressed.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct WriteOptions {
    /// Compressor inside the blosc frame.
    pub codec: Codec,
    /// Compression level 0–9 (for zstd, c-blosc uses zstd level `2·clevel − 1`, 22 at 9).
    pub clevel: u8,
    /// Shuffle filter.
    pub shuffle: Shuffle,
    /// Store float columns whose values are all short decimals (as parsed from text with a
    /// fixed number of decimals) as scaled integer deltas; lossless, checked bit for bit.
    pub decimal: bool,
    /// Target raw size of one table chunk in bytes (`put_table` splits by rows; a chunk holds
    /// at least one row).
    pub chunk_bytes: usize,
}

impl Default for WriteOptions {
    /// zstd (c-blosc level 5), bit shuffle, decimal encoding on, 4 MiB chunks: the smallest
    /// of the fast settings on the S4 soma traces (`benches/store.rs`).
    fn default() -> WriteOptions {
        WriteOptions {
            codec: Codec::Zstd,
            clevel: 5,
            shuffle: Shuffle::Bit,
            decimal: true,
            chunk_bytes: 4 << 20,
        }
    }
}

/// One table chunk as listed in the manifest.
#[derive(Clone, Debug, PartialEq)]
pub struct ChunkRef {
    /// File name inside the key directory.
    pub file: String,
    /// Rows in the chunk.
    pub rows: u64,
}

/// A table's manifest: schema, attributes and chunk list (no row data).
#[derive(Clone, Debug, PartialEq)]
pub struct TableInfo {
    pub columns: Vec<ColumnSpec>,
    pub attrs: Vec<(String, Value)>,
    pub rows: u64,
    pub chunks: Vec<ChunkRef>,
}

/// A decoded entry file.
#[derive(Clone, Debug)]
struct Entry {
    kind: Kind,
    meta: Metadata,
    value: Option<Value>,
    table: Option<TableInfo>,
}

/// One key as listed by [`Store::list`].
#[derive(Clone, Debug)]
pub struct KeyInfo {
    /// `/`-separated key relative to the listed store.
    pub key: String,
    pub kind: Kind,
    /// Bytes on disk (all files of the key, recursively).
    pub bytes: u64,
    /// Rows (tables only).
    pub rows: Option<u64>,
    pub meta: Metadata,
}

/// Outcome of [`Store::verify`].
#[derive(Clone, Debug, Default)]
pub struct VerifyReport {
    /// Entry files checked.
    pub entries: usize,
    /// Table chunks checked.
    pub chunks: usize,
    /// Bytes read and checksummed.
    pub bytes: u64,
    /// Corrupt, truncated or unreadable keys (each names its key).
    pub problems: Vec<StoreError>,
    /// Leftovers of interrupted writes: temporary files, incomplete key directories,
    /// unreferenced chunks, directories being deleted. Harmless; removed by [`Store::fix`].
    pub strays: Vec<PathBuf>,
}

impl VerifyReport {
    /// True when no key is damaged.
    pub fn ok(&self) -> bool {
        self.problems.is_empty()
    }
}

/// Outcome of [`Store::merge`].
#[derive(Clone, Debug, Default, PartialEq)]
pub struct MergeReport {
    /// Keys copied from the other store.
    pub copied: Vec<String>,
    /// Keys present in both with identical content (left alone).
    pub identical: Vec<String>,
}

/// A handle on a store (or a nested sub-store) directory.
#[derive(Clone, Debug)]
pub struct Store {
    root: PathBuf,
    /// Key of this store inside the top-level store ("" at the top), for messages.
    prefix: String,
    opts: WriteOptions,
}

/// Check one key component: `A–Z a–z 0–9 - _ .`, 1–120 characters, not starting with `.`
/// (reserved for temporary files), not a reserved file name.
pub fn validate_name(name: &str) -> std::result::Result<(), String> {
    if name.is_empty() {
        return Err("empty key component".into());
    }
    if name.len() > MAX_NAME {
        return Err(format!("component longer than {MAX_NAME} characters"));
    }
    if let Some(c) = name
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.')))
    {
        return Err(format!(
            "character {c:?} not allowed (use A-Z a-z 0-9 - _ .)"
        ));
    }
    if name.starts_with('.') {
        return Err("components may not start with '.'".into());
    }
    if name == ENTRY || name == MARKER {
        return Err(format!("'{name}' is a reserved name"));
    }
    Ok(())
}

fn split_key(key: &str) -> Result<Vec<&str>> {
    let parts: Vec<&str> = key.split('/').collect();
    for p in &parts {
        validate_name(p).map_err(|m| StoreError::at(Code::E0603, key, m))?;
    }
    Ok(parts)
}

fn dir_size(path: &Path) -> u64 {
    let Ok(meta) = fs::symlink_metadata(path) else {
        return 0;
    };
    if !meta.is_dir() {
        return meta.len();
    }
    fs::read_dir(path)
        .map(|rd| rd.flatten().map(|e| dir_size(&e.path())).sum())
        .unwrap_or(0)
}

fn chunk_name(n: u64) -> String {
    format!("chunk-{n:06}.isfd")
}

fn chunk_number(name: &str) -> Option<u64> {
    name.strip_prefix("chunk-")?
        .strip_suffix(".isfd")?
        .parse()
        .ok()
}

fn s(v: &str) -> Value {
    Value::from(v)
}

impl Store {
    /// Create a store at `path` (creating directories), or open it if it already is one.
    /// Refuses a non-empty directory that is not a store.
    pub fn create(path: impl AsRef<Path>) -> Result<Store> {
        let root = path.as_ref().to_path_buf();
        if root.join(MARKER).is_file() || root.join(ENTRY).is_file() {
            return Store::open(&root);
        }
        // Names starting with `.` are never keys: another process creating the same store
        // at this moment may have its temporary marker or the lock file there already.
        if root.is_dir()
            && fs::read_dir(&root)
                .map_err(|e| StoreError::io(None, &root, &e))?
                .flatten()
                .any(|e| !e.file_name().to_string_lossy().starts_with('.'))
        {
            return Err(not_a_store(&root));
        }
        fs::create_dir_all(&root).map_err(|e| StoreError::io(None, &root, &e))?;
        let marker = serde_json::json!({"format": "isf-store", "version": frame::VERSION,
            "created": meta::now_rfc3339()});
        let text = serde_json::to_string_pretty(&marker).unwrap_or_default() + "\n";
        frame::write_atomic(&root.join(MARKER), text.as_bytes())
            .map_err(|e| StoreError::io(None, &root, &e))?;
        Store::open(root)
    }

    /// Create or open the store at `path` for writing, holding its writer lock (see
    /// [`lock`]): fails at once with E0611 when another process writes it. Safe when several
    /// processes create the same new store at once: one gets the store, the others E0611.
    pub fn create_locked(path: impl AsRef<Path>, command: &str) -> Result<(Store, WriterLock)> {
        let root = path.as_ref();
        // Refuse a foreign directory before putting a lock file into it.
        if !(root.join(MARKER).is_file() || root.join(ENTRY).is_file())
            && root.is_dir()
            && fs::read_dir(root)
                .map_err(|e| StoreError::io(None, root, &e))?
                .flatten()
                .any(|e| !e.file_name().to_string_lossy().starts_with('.'))
        {
            return Err(not_a_store(root));
        }
        let held = lock::lock(root, command)?;
        Ok((Store::create(root)?, held))
    }

    /// Open an existing store for writing, holding its writer lock (E0611 when another
    /// process writes it).
    pub fn open_locked(path: impl AsRef<Path>, command: &str) -> Result<(Store, WriterLock)> {
        let store = Store::open(&path)?;
        let held = lock::lock(path.as_ref(), command)?;
        Ok((store, held))
    }

    /// Open an existing store (a directory with `isf-store.json`, or a sub-store directory).
    pub fn open(path: impl AsRef<Path>) -> Result<Store> {
        let root = path.as_ref().to_path_buf();
        let marker = root.join(MARKER);
        if marker.is_file() {
            let text =
                fs::read_to_string(&marker).map_err(|e| StoreError::io(None, &marker, &e))?;
            let json: serde_json::Value = serde_json::from_str(&text)
                .map_err(|e| StoreError::new(Code::E0602, format!("{}: {e}", marker.display())))?;
            if json["format"] != "isf-store" {
                return Err(StoreError::new(
                    Code::E0602,
                    format!("{} is not an isf store marker", marker.display()),
                ));
            }
            let v = json["version"].as_u64().unwrap_or(0);
            if v != u64::from(frame::VERSION) {
                return Err(StoreError::new(
                    Code::E0608,
                    format!(
                        "store format version {v}; this isf reads version {}",
                        frame::VERSION
                    ),
                ));
            }
        } else {
            let ok =
                Store::read_entry_at(&root.join(ENTRY), "").is_ok_and(|e| e.kind == Kind::Store);
            if !ok {
                return Err(StoreError::new(
                    Code::E0602,
                    format!("{} is not an isf store", root.display()),
                ));
            }
        }
        Ok(Store {
            root,
            prefix: String::new(),
            opts: WriteOptions::default(),
        })
    }

    /// The same store with other write options.
    pub fn with_options(mut self, opts: WriteOptions) -> Store {
        self.opts = opts;
        self
    }

    /// The store's directory.
    pub fn path(&self) -> &Path {
        &self.root
    }

    fn full(&self, key: &str) -> String {
        if self.prefix.is_empty() {
            key.to_string()
        } else {
            format!("{}/{key}", self.prefix)
        }
    }

    // ---- entries -------------------------------------------------------------------------

    fn read_entry_at(path: &Path, key: &str) -> Result<Entry> {
        let bytes = match fs::read(path) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(StoreError::at(Code::E0604, key, "no such key"));
            }
            Err(e) => return Err(StoreError::io(Some(key), path, &e)),
        };
        let doc = decode_frame(&bytes, FileKind::Entry, key, path)?;
        let corrupt =
            |m: &str| StoreError::at(Code::E0601, key, format!("{}: {m}", path.display()));
        let kind = table::get(&doc, "kind")
            .and_then(Value::as_str)
            .and_then(Kind::parse)
            .ok_or_else(|| corrupt("entry has no valid kind"))?;
        let meta = match table::get(&doc, "meta") {
            Some(m) => from_value::<Metadata>(m).map_err(|e| corrupt(&e))?,
            None => Metadata::default(),
        };
        let table = match (kind, table::get(&doc, "table")) {
            (Kind::Table, Some(t)) => Some(manifest_from_value(t).map_err(|e| corrupt(&e))?),
            (Kind::Table, None) => return Err(corrupt("table entry without manifest")),
            _ => None,
        };
        let value = table::get(&doc, "value").cloned();
        if kind == Kind::Value && value.is_none() {
            return Err(corrupt("value entry without value"));
        }
        Ok(Entry {
            kind,
            meta,
            value,
            table,
        })
    }

    fn write_entry(&self, dir: &Path, key: &str, entry: &Entry) -> Result<()> {
        let mut m = vec![
            (s("kind"), s(entry.kind.name())),
            (
                s("meta"),
                to_value(&entry.meta).map_err(|e| StoreError::at(Code::E0605, key, e))?,
            ),
        ];
        if let Some(v) = &entry.value {
            m.push((s("value"), v.clone()));
        }
        if let Some(t) = &entry.table {
            m.push((s("table"), manifest_to_value(t)));
        }
        self.write_payload(&dir.join(ENTRY), key, FileKind::Entry, &Value::Map(m))
    }

    fn write_payload(&self, path: &Path, key: &str, kind: FileKind, doc: &Value) -> Result<()> {
        let mut raw = Vec::new();
        rmpv::encode::write_value(&mut raw, doc)
            .map_err(|e| StoreError::at(Code::E0605, key, format!("cannot encode: {e}")))?;
        let bytes = frame::encode(
            kind,
            &raw,
            self.opts.codec,
            self.opts.clevel,
            self.opts.shuffle,
        )
        .ok_or_else(|| {
            StoreError::at(
                Code::E0610,
                key,
                format!(
                    "{} bytes encoded; one file holds at most {} (store large data as a table)",
                    raw.len(),
                    blosc::MAX_BUFFER
                ),
            )
        })?;
        frame::write_atomic(path, &bytes).map_err(|e| StoreError::io(Some(key), path, &e))
    }

    /// Directory of `key`, checking that every parent component is a sub-store. With
    /// `create`, missing parent sub-stores are created.
    fn locate(&self, key: &str, create: bool) -> Result<(PathBuf, String)> {
        let parts = split_key(key)?;
        let mut dir = self.root.clone();
        for (i, p) in parts[..parts.len() - 1].iter().enumerate() {
            dir.push(p);
            let sub = parts[..=i].join("/");
            match Store::read_entry_at(&dir.join(ENTRY), &self.full(&sub)) {
                Ok(e) if e.kind == Kind::Store => {}
                Ok(e) => {
                    return Err(StoreError::at(
                        Code::E0605,
                        &self.full(&sub),
                        format!("is a {}, not a sub-store", e.kind.name()),
                    ));
                }
                Err(e) if e.code == Code::E0604 && create => {
                    self.new_key_dir(&dir, &sub)?;
                    let entry = Entry {
                        kind: Kind::Store,
                        meta: Metadata::now(),
                        value: None,
                        table: None,
                    };
                    self.write_entry(&dir, &self.full(&sub), &entry)?;
                }
                Err(e) => return Err(e),
            }
        }
        dir.push(parts[parts.len() - 1]);
        Ok((dir, self.full(key)))
    }

    fn new_key_dir(&self, dir: &Path, key: &str) -> Result<()> {
        fs::create_dir_all(dir).map_err(|e| StoreError::io(Some(key), dir, &e))?;
        clean_temps(dir);
        Ok(())
    }

    fn entry(&self, key: &str) -> Result<(PathBuf, String, Entry)> {
        let (dir, full) = self.locate(key, false)?;
        let e = Store::read_entry_at(&dir.join(ENTRY), &full)?;
        Ok((dir, full, e))
    }

    /// Existing entry of a key about to be written, refusing to overwrite stores and folders.
    fn replaceable(&self, dir: &Path, full: &str, what: Kind) -> Result<Option<Entry>> {
        match Store::read_entry_at(&dir.join(ENTRY), full) {
            Ok(e) if matches!(e.kind, Kind::Store | Kind::Folder) && e.kind != what => {
                Err(StoreError::at(
                    Code::E0605,
                    full,
                    format!(
                        "is a {}; delete it before storing a {} there",
                        e.kind.name(),
                        what.name()
                    ),
                ))
            }
            Ok(e) => Ok(Some(e)),
            Err(e) if e.code == Code::E0604 => Ok(None),
            // A damaged entry may be overwritten: that is how a user repairs a key.
            Err(e) if e.code == Code::E0601 => Ok(None),
            Err(e) => Err(e),
        }
    }

    // ---- values --------------------------------------------------------------------------

    /// Store a value (anything serde can serialise: numbers, strings, vectors, structs) with
    /// fresh metadata. Overwrites a value or table at `key`.
    pub fn put<T: Serialize + ?Sized>(&self, key: &str, value: &T) -> Result<()> {
        self.put_with_meta(key, value, Metadata::now())
    }

    /// Store a value with the given metadata (`created`, `isf_version` filled if empty).
    pub fn put_with_meta<T: Serialize + ?Sized>(
        &self,
        key: &str,
        value: &T,
        meta: Metadata,
    ) -> Result<()> {
        let (dir, full) = self.locate(key, true)?;
        let v = to_value(value).map_err(|e| StoreError::at(Code::E0605, &full, e))?;
        self.replaceable(&dir, &full, Kind::Value)?;
        self.new_key_dir(&dir, &full)?;
        let entry = Entry {
            kind: Kind::Value,
            meta: meta.stamped(),
            value: Some(v),
            table: None,
        };
        self.write_entry(&dir, &full, &entry)?;
        remove_unreferenced_chunks(&dir, &[], 0);
        Ok(())
    }

    /// Load a value into any deserialisable type.
    pub fn get<T: DeserializeOwned>(&self, key: &str) -> Result<T> {
        let v = self.get_value(key)?;
        from_value(&v).map_err(|e| StoreError::at(Code::E0605, &self.full(key), e))
    }

    /// Load a value as a generic msgpack value.
    pub fn get_value(&self, key: &str) -> Result<Value> {
        let (_, full, e) = self.entry(key)?;
        match (e.kind, e.value) {
            (Kind::Value, Some(v)) => Ok(v),
            (k, _) => Err(StoreError::at(
                Code::E0605,
                &full,
                format!("is a {}, not a value", k.name()),
            )),
        }
    }

    /// True when `key` exists (is complete).
    pub fn contains(&self, key: &str) -> bool {
        self.entry(key).is_ok()
    }

    /// What `key` holds.
    pub fn kind(&self, key: &str) -> Result<Kind> {
        Ok(self.entry(key)?.2.kind)
    }

    /// Provenance of `key`.
    pub fn metadata(&self, key: &str) -> Result<Metadata> {
        Ok(self.entry(key)?.2.meta)
    }

    // ---- keys ----------------------------------------------------------------------------

    /// Complete keys directly in this store, sorted (sub-stores are listed, not entered).
    pub fn keys(&self) -> Result<Vec<String>> {
        let rd = fs::read_dir(&self.root).map_err(|e| StoreError::io(None, &self.root, &e))?;
        let mut keys: Vec<String> = rd
            .flatten()
            .filter_map(|e| e.file_name().into_string().ok())
            .filter(|n| validate_name(n).is_ok() && self.root.join(n).join(ENTRY).is_file())
            .collect();
        keys.sort();
        Ok(keys)
    }

    /// Every key that is not a sub-store, at any depth, as `/`-separated paths.
    pub fn keys_recursive(&self) -> Result<Vec<String>> {
        let mut out = Vec::new();
        for k in self.keys()? {
            if self.kind(&k).ok() == Some(Kind::Store) {
                for sub in self.sub_existing(&k)?.keys_recursive()? {
                    out.push(format!("{k}/{sub}"));
                }
            } else {
                out.push(k);
            }
        }
        Ok(out)
    }

    /// Keys of this store with kind, size, rows and metadata. A damaged key is listed as an
    /// error in its place so the rest still lists.
    pub fn list(&self) -> Result<Vec<std::result::Result<KeyInfo, StoreError>>> {
        Ok(self
            .keys()?
            .into_iter()
            .map(|k| {
                let (dir, _, e) = self.entry(&k)?;
                Ok(KeyInfo {
                    bytes: dir_size(&dir),
                    rows: e.table.as_ref().map(|t| t.rows),
                    kind: e.kind,
                    meta: e.meta,
                    key: k,
                })
            })
            .collect())
    }

    /// The sub-store at `key`, created (with parents) when missing.
    pub fn sub(&self, key: &str) -> Result<Store> {
        let (dir, full) = self.locate(key, true)?;
        match self.replaceable(&dir, &full, Kind::Store)? {
            Some(e) if e.kind == Kind::Store => {}
            Some(e) => {
                return Err(StoreError::at(
                    Code::E0605,
                    &full,
                    format!("is a {}, not a sub-store", e.kind.name()),
                ));
            }
            None => {
                self.new_key_dir(&dir, &full)?;
                let entry = Entry {
                    kind: Kind::Store,
                    meta: Metadata::now(),
                    value: None,
                    table: None,
                };
                self.write_entry(&dir, &full, &entry)?;
            }
        }
        Ok(Store {
            root: dir,
            prefix: full,
            opts: self.opts,
        })
    }

    /// The existing sub-store at `key` (never creates).
    pub fn sub_existing(&self, key: &str) -> Result<Store> {
        let (dir, full, e) = self.entry(key)?;
        if e.kind != Kind::Store {
            return Err(StoreError::at(
                Code::E0605,
                &full,
                format!("is a {}, not a sub-store", e.kind.name()),
            ));
        }
        Ok(Store {
            root: dir,
            prefix: full,
            opts: self.opts,
        })
    }

    /// A managed folder: a plain directory for arbitrary user files, created when missing.
    /// Returns its path.
    pub fn managed_folder(&self, key: &str) -> Result<PathBuf> {
        let (dir, full) = self.locate(key, true)?;
        let files = dir.join(FILES);
        match self.replaceable(&dir, &full, Kind::Folder)? {
            Some(e) if e.kind == Kind::Folder => {}
            Some(e) => {
                return Err(StoreError::at(
                    Code::E0605,
                    &full,
                    format!("is a {}; delete it first", e.kind.name()),
                ));
            }
            None => {
                self.new_key_dir(&dir, &full)?;
                fs::create_dir_all(&files).map_err(|e| StoreError::io(Some(&full), &files, &e))?;
                let entry = Entry {
                    kind: Kind::Folder,
                    meta: Metadata::now(),
                    value: None,
                    table: None,
                };
                self.write_entry(&dir, &full, &entry)?;
            }
        }
        fs::create_dir_all(&files).map_err(|e| StoreError::io(Some(&full), &files, &e))?;
        Ok(files)
    }

    /// The directory of the existing managed folder at `key` (never creates anything).
    pub fn folder_path(&self, key: &str) -> Result<PathBuf> {
        let (dir, full, e) = self.entry(key)?;
        if e.kind != Kind::Folder {
            return Err(StoreError::at(
                Code::E0605,
                &full,
                format!("is a {}, not a managed folder", e.kind.name()),
            ));
        }
        Ok(dir.join(FILES))
    }

    /// Delete a key (any kind, recursively). The key disappears atomically (its directory is
    /// renamed away first), then its files are removed.
    pub fn delete(&self, key: &str) -> Result<()> {
        let (dir, full) = self.locate(key, false)?;
        if !dir.join(ENTRY).is_file() {
            return Err(StoreError::at(Code::E0604, &full, "no such key"));
        }
        let parent = dir.parent().unwrap_or(&self.root);
        let leaf = dir.file_name().and_then(|n| n.to_str()).unwrap_or("key");
        let n = frame::temp_path(parent, leaf);
        let gone = parent.join(format!(
            "{DELETING}{}",
            n.file_name()
                .and_then(|x| x.to_str())
                .unwrap_or(leaf)
                .trim_start_matches(frame::TMP_PREFIX)
        ));
        fs::rename(&dir, &gone).map_err(|e| StoreError::io(Some(&full), &dir, &e))?;
        let _ = frame::sync_dir(parent);
        fs::remove_dir_all(&gone).map_err(|e| StoreError::io(Some(&full), &gone, &e))
    }

    // ---- tables --------------------------------------------------------------------------

    /// Store a table (replacing a value or table at `key`), split into chunks of about
    /// [`WriteOptions::chunk_bytes`]. A table with zero rows declares the schema for later
    /// [`Store::append_rows`].
    pub fn put_table(&self, key: &str, t: &Table, meta: Metadata) -> Result<()> {
        let (dir, full) = self.locate(key, true)?;
        let rows = t
            .rows()
            .map_err(|m| StoreError::at(Code::E0609, &full, m))?;
        self.replaceable(&dir, &full, Kind::Table)?;
        self.new_key_dir(&dir, &full)?;
        let mut next = next_chunk(&dir);
        let per_row = (t.raw_bytes() / rows.max(1)).max(1);
        let step = (self.opts.chunk_bytes / per_row).max(1);
        let mut chunks = Vec::new();
        let mut a = 0;
        while a < rows {
            let b = (a + step).min(rows);
            chunks.push(self.write_chunk(&dir, &full, &t.slice(a, b), b - a, next)?);
            next += 1;
            a = b;
        }
        let info = TableInfo {
            columns: t.schema(),
            attrs: t
                .attrs
                .iter()
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect(),
            rows: rows as u64,
            chunks,
        };
        let keep: Vec<String> = info.chunks.iter().map(|c| c.file.clone()).collect();
        let entry = Entry {
            kind: Kind::Table,
            meta: meta.stamped(),
            value: None,
            table: Some(info),
        };
        self.write_entry(&dir, &full, &entry)?;
        remove_unreferenced_chunks(&dir, &keep, 0);
        Ok(())
    }

    fn write_chunk(
        &self,
        dir: &Path,
        key: &str,
        t: &Table,
        rows: usize,
        n: u64,
    ) -> Result<ChunkRef> {
        let file = chunk_name(n);
        let doc = table::chunk_to_value(t, rows, self.opts.decimal);
        self.write_payload(&dir.join(&file), key, FileKind::Chunk, &doc)?;
        Ok(ChunkRef {
            file,
            rows: rows as u64,
        })
    }

    /// Append rows to the table at `key` as one new chunk (creating the table with fresh
    /// metadata if `key` does not exist). The columns must match the table's schema. Returns
    /// the table's new row count. Readers see the new rows all at once or not at all.
    pub fn append_rows(&self, key: &str, t: &Table) -> Result<u64> {
        let (dir, full) = self.locate(key, true)?;
        let rows = t
            .rows()
            .map_err(|m| StoreError::at(Code::E0609, &full, m))?;
        let mut entry = match Store::read_entry_at(&dir.join(ENTRY), &full) {
            Ok(e) => e,
            Err(e) if e.code == Code::E0604 => {
                self.put_table(key, t, Metadata::now())?;
                return Ok(rows as u64);
            }
            Err(e) => return Err(e),
        };
        let Some(info) = entry.table.as_mut() else {
            return Err(StoreError::at(
                Code::E0605,
                &full,
                format!("is a {}, not a table", entry.kind.name()),
            ));
        };
        if info.columns != t.schema() {
            return Err(StoreError::at(
                Code::E0609,
                &full,
                format!(
                    "appended columns [{}] differ from the table's [{}]",
                    describe_schema(&t.schema()),
                    describe_schema(&info.columns)
                ),
            ));
        }
        clean_temps(&dir);
        if rows > 0 {
            let chunk = self.write_chunk(&dir, &full, t, rows, next_chunk(&dir))?;
            info.chunks.push(chunk);
            info.rows += rows as u64;
        }
        for (k, v) in &t.attrs {
            match info.attrs.iter_mut().find(|(n, _)| n == k) {
                Some(slot) => slot.1 = v.clone(),
                None => info.attrs.push((k.clone(), v.clone())),
            }
        }
        let total = info.rows;
        entry.meta.modified = Some(meta::now_rfc3339());
        self.write_entry(&dir, &full, &entry)?;
        Ok(total)
    }

    /// The manifest of the table at `key` (schema, attributes, chunks), without row data.
    pub fn table_info(&self, key: &str) -> Result<TableInfo> {
        let (_, full, e) = self.entry(key)?;
        e.table.ok_or_else(|| {
            StoreError::at(
                Code::E0605,
                &full,
                format!("is a {}, not a table", e.kind.name()),
            )
        })
    }

    /// Load a whole table.
    pub fn get_table(&self, key: &str) -> Result<Table> {
        // A writer replacing the table may remove chunks listed in the manifest we read;
        // read the manifest once more before reporting a missing chunk.
        match self.get_table_once(key) {
            Err(e) if e.code == Code::E0607 => self.get_table_once(key),
            r => r,
        }
    }

    fn get_table_once(&self, key: &str) -> Result<Table> {
        let (dir, full, e) = self.entry(key)?;
        let Some(info) = e.table else {
            return Err(StoreError::at(
                Code::E0605,
                &full,
                format!("is a {}, not a table", e.kind.name()),
            ));
        };
        let mut t = Table::new();
        for c in &info.columns {
            let col = match c.dtype {
                DType::F64 => Column::F64(vec![]),
                DType::I64 => Column::I64(vec![]),
                DType::Str => Column::Str(vec![]),
                DType::F64List => Column::F64List(vec![]),
                // No capacity from the manifest: a damaged one must not cause a huge allocation.
                DType::F64Array(w) => Column::F64Array {
                    width: w,
                    data: Vec::new(),
                },
            };
            t.columns.push((c.name.clone(), col));
        }
        for c in &info.chunks {
            t.extend(read_chunk(&dir, &full, c, &info.columns)?);
        }
        t.attrs = info.attrs.into_iter().collect();
        Ok(t)
    }

    // ---- verify, fix, merge --------------------------------------------------------------

    /// Check every entry and chunk of the store (recursively): checksums, decoding, row
    /// counts. Damage is reported per key; leftovers of interrupted writes are listed.
    pub fn verify(&self) -> VerifyReport {
        let mut r = VerifyReport::default();
        self.verify_into(&mut r);
        r
    }

    fn verify_into(&self, r: &mut VerifyReport) {
        let Ok(rd) = fs::read_dir(&self.root) else {
            r.problems.push(StoreError::new(
                Code::E0607,
                format!("{} cannot be read", self.root.display()),
            ));
            return;
        };
        let mut names: Vec<String> = rd
            .flatten()
            .filter_map(|e| e.file_name().into_string().ok())
            .collect();
        names.sort();
        for name in names {
            let path = self.root.join(&name);
            if name.starts_with(frame::TMP_PREFIX) || name.starts_with(DELETING) {
                r.strays.push(path);
                continue;
            }
            if name == MARKER || name == ENTRY || !path.is_dir() || validate_name(&name).is_err() {
                continue;
            }
            if !path.join(ENTRY).is_file() {
                r.strays.push(path);
                continue;
            }
            let full = self.full(&name);
            r.entries += 1;
            r.bytes += fs::metadata(path.join(ENTRY)).map(|m| m.len()).unwrap_or(0);
            let e = match Store::read_entry_at(&path.join(ENTRY), &full) {
                Ok(e) => e,
                Err(e) => {
                    r.problems.push(e);
                    continue;
                }
            };
            for stray in temps_in(&path) {
                r.strays.push(stray);
            }
            match e.kind {
                Kind::Store => Store {
                    root: path,
                    prefix: full,
                    opts: self.opts,
                }
                .verify_into(r),
                Kind::Table => {
                    let info = e.table.expect("table entry has a manifest");
                    let mut rows = 0;
                    for c in &info.chunks {
                        r.chunks += 1;
                        r.bytes += fs::metadata(path.join(&c.file))
                            .map(|m| m.len())
                            .unwrap_or(0);
                        match read_chunk(&path, &full, c, &info.columns) {
                            Ok(_) => rows += c.rows,
                            Err(e) => r.problems.push(e),
                        }
                    }
                    if rows != info.rows
                        && r.problems.iter().all(|p| p.key.as_deref() != Some(&full))
                    {
                        r.problems.push(StoreError::at(
                            Code::E0601,
                            &full,
                            format!("manifest says {} rows, chunks hold {rows}", info.rows),
                        ));
                    }
                    let listed: Vec<&str> = info.chunks.iter().map(|c| c.file.as_str()).collect();
                    for f in chunk_files(&path) {
                        if !listed.contains(&f.as_str()) {
                            r.strays.push(path.join(f));
                        }
                    }
                }
                Kind::Value | Kind::Folder => {}
            }
        }
    }

    /// Remove leftovers of interrupted writes that no live writer can still need: temporary
    /// files whose process is gone, directories being deleted, key directories without an
    /// entry that hold nothing else, and unreferenced chunks older than a minute. Returns the
    /// removed paths.
    pub fn fix(&self) -> Vec<PathBuf> {
        let mut removed = Vec::new();
        for p in self.verify().strays {
            let name = p.file_name().and_then(|n| n.to_str()).unwrap_or("");
            let remove = if name.starts_with(DELETING) {
                true
            } else if name.starts_with(frame::TMP_PREFIX) {
                frame::temp_is_stale(&p)
            } else if chunk_number(name).is_some() {
                frame::older_than(&p, ORPHAN_GRACE_S)
            } else {
                // An incomplete key directory: remove stale temps inside, then it if empty.
                clean_temps(&p);
                fs::read_dir(&p).is_ok_and(|mut d| d.next().is_none())
            };
            if !remove {
                continue;
            }
            let ok = if p.is_dir() {
                fs::remove_dir_all(&p).is_ok()
            } else {
                fs::remove_file(&p).is_ok()
            };
            if ok {
                removed.push(p);
            }
        }
        removed
    }

    /// Merge the keys of `other` (e.g. a shard written by another process) into this store.
    /// Keys only in `other` are copied; sub-stores present in both are merged recursively;
    /// keys with identical content are skipped; any other key present in both is a conflict
    /// (E0606) and then nothing is copied. `other` is verified first and must be intact.
    pub fn merge(&self, other: &Store) -> Result<MergeReport> {
        let report = other.verify();
        if let Some(p) = report.problems.into_iter().next() {
            return Err(p);
        }
        let mut plan = Vec::new();
        let mut conflicts = Vec::new();
        let mut identical = Vec::new();
        self.merge_plan(other, "", &mut plan, &mut conflicts, &mut identical)?;
        if !conflicts.is_empty() {
            return Err(StoreError::new(
                Code::E0606,
                format!(
                    "{} key(s) differ between the stores: {}; nothing was merged",
                    conflicts.len(),
                    conflicts.join(", ")
                ),
            ));
        }
        let mut copied = Vec::new();
        for (key, src) in plan {
            let (dst, full) = self.locate(&key, true)?;
            let parent = dst.parent().unwrap_or(&self.root).to_path_buf();
            let tmp = frame::temp_path(&parent, "merge");
            copy_dir(&src, &tmp).map_err(|e| StoreError::io(Some(&full), &src, &e))?;
            if dst.join(ENTRY).exists() {
                let _ = fs::remove_dir_all(&tmp);
                return Err(StoreError::at(
                    Code::E0606,
                    &full,
                    "appeared while merging (another writer?)",
                ));
            }
            // A leftover incomplete directory of the same name would block the rename.
            let _ = fs::remove_dir_all(&dst);
            fs::rename(&tmp, &dst).map_err(|e| StoreError::io(Some(&full), &dst, &e))?;
            let _ = frame::sync_dir(&parent);
            copied.push(full);
        }
        Ok(MergeReport { copied, identical })
    }

    fn merge_plan(
        &self,
        other: &Store,
        prefix: &str,
        plan: &mut Vec<(String, PathBuf)>,
        conflicts: &mut Vec<String>,
        identical: &mut Vec<String>,
    ) -> Result<()> {
        for k in other.keys()? {
            let rel = if prefix.is_empty() {
                k.clone()
            } else {
                format!("{prefix}/{k}")
            };
            let src = other.root.join(&k);
            let ours = match self.entry(&rel) {
                Ok((dir, _, e)) => Some((dir, e)),
                Err(e) if e.code == Code::E0604 => None,
                Err(e) => return Err(e),
            };
            match ours {
                None => plan.push((rel, src)),
                Some((dir, e)) => {
                    let theirs = other.kind(&k)?;
                    if e.kind == Kind::Store && theirs == Kind::Store {
                        self.merge_plan(
                            &other.sub_existing(&k)?,
                            &rel,
                            plan,
                            conflicts,
                            identical,
                        )?;
                    } else if same_content(&dir, &src) {
                        identical.push(self.full(&rel));
                    } else {
                        conflicts.push(self.full(&rel));
                    }
                }
            }
        }
        Ok(())
    }
}

/// A non-empty directory that is not a store: never written into.
fn not_a_store(root: &Path) -> StoreError {
    StoreError::new(
        Code::E0602,
        format!(
            "{} exists, is not empty and is not an isf store",
            root.display()
        ),
    )
}

fn describe_schema(cols: &[ColumnSpec]) -> String {
    cols.iter()
        .map(|c| match c.dtype {
            DType::F64Array(w) => format!("{}: f64_array[{w}]", c.name),
            ref d => format!("{}: {}", c.name, d.name()),
        })
        .collect::<Vec<_>>()
        .join(", ")
}

fn decode_frame(bytes: &[u8], kind: FileKind, key: &str, path: &Path) -> Result<Value> {
    let raw = frame::decode(bytes, kind).map_err(|e| match e {
        FrameError::Corrupt(m) => {
            StoreError::at(Code::E0601, key, format!("{}: {m}", path.display()))
        }
        FrameError::Version(v) => StoreError::at(
            Code::E0608,
            key,
            format!(
                "{}: format version {v}; this isf reads version {}",
                path.display(),
                frame::VERSION
            ),
        ),
    })?;
    rmpv::decode::read_value(&mut raw.as_slice()).map_err(|e| {
        StoreError::at(
            Code::E0601,
            key,
            format!("{}: msgpack does not decode: {e}", path.display()),
        )
    })
}

fn read_chunk(dir: &Path, key: &str, c: &ChunkRef, schema: &[ColumnSpec]) -> Result<Table> {
    let path = dir.join(&c.file);
    let bytes = fs::read(&path).map_err(|e| StoreError::io(Some(key), &path, &e))?;
    let doc = decode_frame(&bytes, FileKind::Chunk, key, &path)?;
    let t = table::chunk_from_value(&doc, schema)
        .map_err(|m| StoreError::at(Code::E0601, key, format!("{}: {m}", path.display())))?;
    if t.rows() != Ok(c.rows as usize) {
        return Err(StoreError::at(
            Code::E0601,
            key,
            format!("{}: row count differs from the manifest", path.display()),
        ));
    }
    Ok(t)
}

fn manifest_to_value(t: &TableInfo) -> Value {
    Value::Map(vec![
        (s("columns"), table::schema_to_value(&t.columns)),
        (
            s("attrs"),
            Value::Map(t.attrs.iter().map(|(k, v)| (s(k), v.clone())).collect()),
        ),
        (s("rows"), Value::from(t.rows)),
        (
            s("chunks"),
            Value::Array(
                t.chunks
                    .iter()
                    .map(|c| {
                        Value::Map(vec![
                            (s("file"), s(&c.file)),
                            (s("rows"), Value::from(c.rows)),
                        ])
                    })
                    .collect(),
            ),
        ),
    ])
}

fn manifest_from_value(v: &Value) -> std::result::Result<TableInfo, String> {
    let columns = table::schema_from_value(table::get(v, "columns").ok_or("no columns")?)?;
    let attrs = match table::get(v, "attrs") {
        Some(Value::Map(m)) => m
            .iter()
            .map(|(k, v)| Ok((k.as_str().ok_or("attribute name")?.to_string(), v.clone())))
            .collect::<std::result::Result<_, String>>()?,
        _ => Vec::new(),
    };
    let rows = table::get(v, "rows")
        .and_then(Value::as_u64)
        .ok_or("no row count")?;
    let chunks = table::get(v, "chunks")
        .and_then(Value::as_array)
        .ok_or("no chunk list")?
        .iter()
        .map(|c| {
            let file = table::get(c, "file")
                .and_then(Value::as_str)
                .ok_or("chunk file")?;
            if chunk_number(file).is_none() {
                return Err(format!("bad chunk file name {file:?}"));
            }
            Ok(ChunkRef {
                file: file.to_string(),
                rows: table::get(c, "rows")
                    .and_then(Value::as_u64)
                    .ok_or("chunk rows")?,
            })
        })
        .collect::<std::result::Result<_, String>>()?;
    Ok(TableInfo {
        columns,
        attrs,
        rows,
        chunks,
    })
}

/// Serialise with field names (msgpack maps, not arrays) into a generic value.
fn to_value<T: Serialize + ?Sized>(v: &T) -> std::result::Result<Value, String> {
    let bytes = rmp_serde::to_vec_named(v).map_err(|e| format!("cannot serialise: {e}"))?;
    rmpv::decode::read_value(&mut bytes.as_slice()).map_err(|e| format!("cannot serialise: {e}"))
}

fn from_value<T: DeserializeOwned>(v: &Value) -> std::result::Result<T, String> {
    let mut bytes = Vec::new();
    rmpv::encode::write_value(&mut bytes, v).map_err(|e| e.to_string())?;
    rmp_serde::from_slice(&bytes).map_err(|e| format!("stored value does not fit the type: {e}"))
}

fn chunk_files(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = fs::read_dir(dir)
        .map(|rd| {
            rd.flatten()
                .filter_map(|e| e.file_name().into_string().ok())
                .filter(|n| chunk_number(n).is_some())
                .collect()
        })
        .unwrap_or_default();
    v.sort();
    v
}

/// One past the highest chunk number in `dir`, counting orphans too, so a new chunk never
/// reuses a name a reader may still be reading.
fn next_chunk(dir: &Path) -> u64 {
    chunk_files(dir)
        .iter()
        .filter_map(|n| chunk_number(n))
        .max()
        .map_or(0, |n| n + 1)
}

fn remove_unreferenced_chunks(dir: &Path, keep: &[String], min_age_s: u64) {
    for f in chunk_files(dir) {
        let p = dir.join(&f);
        if !keep.contains(&f) && (min_age_s == 0 || frame::older_than(&p, min_age_s)) {
            let _ = fs::remove_file(p);
        }
    }
}

fn temps_in(dir: &Path) -> Vec<PathBuf> {
    fs::read_dir(dir)
        .map(|rd| {
            rd.flatten()
                .filter(|e| {
                    e.file_name()
                        .to_str()
                        .is_some_and(|n| n.starts_with(frame::TMP_PREFIX))
                })
                .map(|e| e.path())
                .collect()
        })
        .unwrap_or_default()
}

/// Remove temporary files in `dir` whose writing process is gone.
fn clean_temps(dir: &Path) {
    for p in temps_in(dir) {
        if frame::temp_is_stale(&p) {
            let _ = if p.is_dir() {
                fs::remove_dir_all(&p)
            } else {
                fs::remove_file(&p)
            };
        }
    }
}

/// Copy a key directory, skipping temporary and to-be-deleted entries, fsyncing files.
fn copy_dir(src: &Path, dst: &Path) -> std::io::Result<()> {
    fs::create_dir_all(dst)?;
    for e in fs::read_dir(src)? {
        let e = e?;
        let name = e.file_name();
        let n = name.to_string_lossy();
        if n.starts_with(frame::TMP_PREFIX) || n.starts_with(DELETING) {
            continue;
        }
        let to = dst.join(&name);
        if e.file_type()?.is_dir() {
            copy_dir(&e.path(), &to)?;
        } else {
            fs::copy(e.path(), &to)?;
            fs::File::open(&to)?.sync_all()?;
        }
    }
    frame::sync_dir(dst)
}

/// True when two key directories hold the same files with the same bytes.
fn same_content(a: &Path, b: &Path) -> bool {
    let list = |d: &Path| -> Vec<(String, bool)> {
        let mut v: Vec<(String, bool)> = fs::read_dir(d)
            .map(|rd| {
                rd.flatten()
                    .filter_map(|e| {
                        let n = e.file_name().into_string().ok()?;
                        (!n.starts_with('.')).then(|| (n, e.path().is_dir()))
                    })
                    .collect()
            })
            .unwrap_or_default();
        v.sort();
        v
    };
    let (la, lb) = (list(a), list(b));
    la == lb
        && la.iter().all(|(n, dir)| {
            if *dir {
                same_content(&a.join(n), &b.join(n))
            } else {
                // Entry files carry creation times: compare them without metadata.
                match (fs::read(a.join(n)), fs::read(b.join(n))) {
                    (Ok(x), Ok(y)) => x == y || (n == ENTRY && same_entry_payload(&x, &y)),
                    _ => false,
                }
            }
        })
}

fn same_entry_payload(a: &[u8], b: &[u8]) -> bool {
    let strip = |bytes: &[u8]| -> Option<Value> {
        let raw = frame::decode(bytes, FileKind::Entry).ok()?;
        let v = rmpv::decode::read_value(&mut raw.as_slice()).ok()?;
        let Value::Map(m) = v else { return None };
        // Creation and modification times and the host differ between shards that wrote
        // the same thing; the rest of the provenance (seed, plan hash, script) must agree.
        let volatile = ["created", "modified", "host"];
        Some(Value::Map(
            m.into_iter()
                .map(|(k, v)| match (k.as_str(), v) {
                    (Some("meta"), Value::Map(meta)) => {
                        let kept = meta
                            .into_iter()
                            .filter(|(f, _)| !f.as_str().is_some_and(|f| volatile.contains(&f)))
                            .collect();
                        (k, Value::Map(kept))
                    }
                    (_, v) => (k, v),
                })
                .collect(),
        ))
    };
    matches!((strip(a), strip(b)), (Some(x), Some(y)) if x == y)
}
