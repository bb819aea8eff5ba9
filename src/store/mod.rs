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
//! Readers need no locks. A key exists once its `key.isfd` exists, and a key's entry (the
//! manifest of a table) is the only file ever replaced: it is written to a temporary name
//! (leading `.`) in its final directory and renamed over the old one. Chunk files are
//! written once under fresh names (a name is never reused) and are read only through a
//! manifest that lists them. A write of a key is one commit:
//!
//! 1. write every new chunk file (under its final name) and the new entry (under a
//!    temporary name);
//! 2. make them all durable at once — one concurrent fsync of all the files, which a
//!    journaling filesystem serves with one commit, not one per file;
//! 3. rename the entry into place and fsync the directory: the publication, atomic.
//!
//! **Invariant: a published entry never refers to anything that is not durable, and a
//! result once reported written survives a crash.** Readers running beside a writer see
//! each key either as before or as after a write; a crash before step 3 leaves the key as
//! it was plus files no manifest lists (temporary entries, unlisted chunks), which readers
//! never open and [`Store::fix`] (or the next write to that directory) removes; a failed
//! write removes its own chunks at once. Writers take the store's lock
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
use indexmap::IndexMap;
use rmpv::Value;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use std::fs;
use std::path::{Path, PathBuf};

/// Name of the marker file at the root of a store.
pub const MARKER: &str = "isf-store.json";
/// Name of a key's entry file.
pub const ENTRY: &str = "key.isfd";
/// Name of a managed folder's directory inside its key directory.
pub const FILES: &str = "files";
const DELETING: &str = ".deleting-";
/// Directory under a store's root where `verify --fix` moves keys it cannot read.
pub const QUARANTINE: &str = ".quarantine";
/// Longest allowed key component (as in ISF).
pub const MAX_NAME: usize = 120;
/// Orphan chunks younger than this (seconds) may belong to an append in progress.
const ORPHAN_GRACE_S: u64 = 60;

/// What a key holds (stored as its name, [`Kind::name`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
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
}

/// How payload files are compressed.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct WriteOptions {
    /// Compressor inside the blosc frame of large value entries and of large chunks of
    /// decimal-encoded or integer columns (chunks of raw doubles, quantised chunks and
    /// manifests use the settings measured best for them, see `payload_codec`).
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
    /// A table written by `put_table` whose rows encode to at most this many bytes is held
    /// inline in its entry file (format version 2) instead of a chunk file of its own: one
    /// file per key instead of two, for the many one-row trial tables of a large run. 0
    /// never inlines. Stores of format version 1 never get inline chunks.
    pub inline_bytes: usize,
}

impl Default for WriteOptions {
    /// zstd (c-blosc level 5), bit shuffle, decimal encoding on, 4 MiB chunks: the smallest
    /// of the fast settings on the S4 soma traces (`benches/store.rs`); tables up to 32 KiB
    /// inline.
    fn default() -> WriteOptions {
        WriteOptions {
            codec: Codec::Zstd,
            clevel: 5,
            shuffle: Shuffle::Bit,
            decimal: true,
            chunk_bytes: 4 << 20,
            inline_bytes: 32 << 10,
        }
    }
}

/// Payload documents up to this many bytes are compressed with lz4 whatever
/// [`WriteOptions::codec`] says: c-blosc 1 builds a fresh zstd context for every buffer it
/// decompresses (about 50 µs, against 1–2 µs for lz4 on a 4 KiB entry), which dominated
/// listing and verifying stores of 100,000 small keys. Larger documents amortise it.
const SMALL_DOC: usize = 64 << 10;

/// What a payload document holds, which decides how a large one is compressed
/// ([`payload_codec`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Content {
    /// An entry holding a value, a sub-store or a folder: mostly text.
    Value,
    /// An entry holding a table's manifest: schema and attributes (often a column's labels,
    /// such as a trace's sample times, as msgpack floats).
    Manifest,
    /// A chunk mostly of raw doubles (full-precision simulator output).
    Floats,
    /// A chunk mostly of integers: decimal-encoded floats, `i64` columns, offsets.
    Integers,
    /// A chunk holding a column stored to a declared precision (integer multiples of the
    /// step, as differences along each row).
    Quantised,
}

/// Codec, level, shuffle and item size for a payload document of `len` bytes holding
/// `content`, set by the measurements on the 20 S4 soma traces in `benches/precision.rs`
/// (`ISF_PRECISION_CODECS=1` prints the whole table):
///
/// * up to [`SMALL_DOC`]: lz4 (see there);
/// * raw doubles: lz4 level 9, byte shuffle. The low mantissa bits are noise that no
///   entropy coder removes: 1.38× against zstd level 5's 1.40×, at ten times the speed;
/// * quantised columns: zstd level 1 (c-blosc `clevel` 1), bit shuffle: 12.6× smaller than
///   raw at 1 µV against 13.3× at level 5, about three times faster to encode;
/// * manifests: zstd level 1 (the same size as level 5 on a trace's 12,001 sample times,
///   ten times faster);
/// * values and integer chunks: [`WriteOptions`] (zstd level 5, bit shuffle for chunks).
///   These are the encodings the committed golden stores pin byte for byte
///   (`tests/store/golden.rs`), so their settings stay as they were.
///
/// Readers need none of this: the blosc header names the codec of every frame.
fn payload_codec(opts: &WriteOptions, content: Content, len: usize) -> (Codec, u8, Shuffle, usize) {
    // An entry is mostly text (metadata, the script); shuffling 8-byte lanes of text only
    // hurts. Chunks are mostly 8-byte numbers. Small documents keep the settings the golden
    // stores pin (lz4, the configured shuffle for chunks).
    if len <= SMALL_DOC {
        return match content {
            Content::Value | Content::Manifest => (Codec::Lz4, opts.clevel, Shuffle::Byte, 1),
            _ => (Codec::Lz4, opts.clevel, opts.shuffle, 8),
        };
    }
    let (shuffle, typesize) = match content {
        Content::Value | Content::Manifest => (Shuffle::Byte, 1),
        Content::Floats => (Shuffle::Byte, 8),
        Content::Integers => (opts.shuffle, 8),
        Content::Quantised => (Shuffle::Bit, 8),
    };
    let (codec, clevel) = match content {
        Content::Floats => (Codec::Lz4, 9),
        Content::Quantised | Content::Manifest => (Codec::Zstd, 1),
        Content::Value | Content::Integers => (opts.codec, opts.clevel),
    };
    (codec, clevel, shuffle, typesize)
}

/// What the numbers of a chunk document mostly are: quantised as soon as one column holds
/// a declared precision's multiples; raw doubles when they are at least half of the bytes.
fn chunk_content(
    doc: &table::ChunkDoc,
    schema: &[ColumnSpec],
    quanta: &[Option<table::Quantum>],
) -> Content {
    use table::ColumnData;
    let (mut floats, mut other) = (0usize, 0usize);
    for (i, (c, spec)) in doc.columns.iter().zip(schema).enumerate() {
        let ColumnData::Bin(b) = &c.data else {
            continue;
        };
        if c.enc.is_some() && c.enc.as_deref() != Some("f64") {
            if quanta.get(i).is_some_and(Option::is_some) {
                return Content::Quantised;
            }
            other += b.len();
        } else if matches!(spec.dtype, DType::I64) {
            other += b.len();
        } else {
            floats += b.len();
        }
        other += c.offsets.as_ref().map_or(0, |o| o.len());
    }
    if floats > 0 && floats >= other {
        Content::Floats
    } else {
        Content::Integers
    }
}

// The documents of entry files are serialised by field name (msgpack maps, format §3, §4.1):
// the field order below is the key order in the file, and a field that is `None` (or an
// empty file name) is left out. Unknown keys are ignored when reading.

/// One table chunk as listed in the manifest: `{"file": name, "rows": n}`, or `{"inline":
/// chunk document, "rows": n}` (format version 2).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ChunkRef {
    /// File name inside the key directory; empty for an inline chunk.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub file: String,
    /// The chunk document itself when it is held inline in the entry (format version 2).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub inline: Option<table::ChunkDoc>,
    /// Rows in the chunk.
    pub rows: u64,
}

/// A table's manifest: schema, attributes and chunk list (no row data).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TableInfo {
    pub columns: Vec<ColumnSpec>,
    /// Attributes in the order they were first written.
    #[serde(default)]
    pub attrs: IndexMap<String, Value>,
    pub rows: u64,
    pub chunks: Vec<ChunkRef>,
}

impl TableInfo {
    /// Check what serde cannot: every chunk is inline or names a chunk file of this key (never
    /// a path elsewhere).
    fn checked(mut self) -> std::result::Result<TableInfo, String> {
        for c in &mut self.chunks {
            if c.inline.is_some() {
                c.file.clear();
            } else if chunk_number(&c.file).is_none() {
                return Err(format!("bad chunk file name {:?}", c.file));
            }
        }
        Ok(self)
    }
}

/// An entry file's document (format §3).
#[derive(Clone, Debug, Serialize, Deserialize)]
struct Entry {
    kind: Kind,
    #[serde(default)]
    meta: Metadata,
    /// The value of kind `value` (a stored nil is `Some(Nil)`).
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "present"
    )]
    value: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    table: Option<TableInfo>,
}

/// A field that is there, whatever its value (nil included).
fn present<'de, D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Option<Value>, D::Error> {
    Value::deserialize(d).map(Some)
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
    /// Symbolic links inside the store (each also an E0613 problem). Store tools never follow
    /// them: a link could make `fix` delete, or `merge` copy, files outside the store.
    /// [`Store::fix`] removes the link itself, never its target.
    pub links: Vec<PathBuf>,
}

impl VerifyReport {
    /// True when no key is damaged.
    pub fn ok(&self) -> bool {
        self.problems.is_empty()
    }
}

/// Outcome of [`Store::quarantine`]: damaged keys moved out of the way.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Quarantined {
    /// `(key, new location)` of every key moved.
    pub moved: Vec<(String, PathBuf)>,
}

/// Outcome of [`Store::merge`].
#[derive(Clone, Debug, Default, PartialEq)]
pub struct MergeReport {
    /// Keys copied from the other store.
    pub copied: Vec<String>,
    /// Keys present in both with identical content (left alone).
    pub identical: Vec<String>,
}

/// One key [`Store::merge`] copies: its full name, source and destination directories.
#[derive(Clone, Debug)]
struct MergeItem {
    full: String,
    src: PathBuf,
    dst: PathBuf,
}

/// A handle on a store (or a nested sub-store) directory.
#[derive(Clone, Debug)]
pub struct Store {
    root: PathBuf,
    /// Key of this store inside the top-level store ("" at the top), for messages.
    prefix: String,
    opts: WriteOptions,
    /// Format version of the store (its marker): what may be written into it. A version-1
    /// store gets no inline chunks, so the isf that created it can still read all of it.
    format: u16,
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

/// Bytes of the files below `path` (links not followed; the listing's entry types spare a
/// stat per directory).
fn dir_size(path: &Path) -> u64 {
    let Ok(rd) = fs::read_dir(path) else {
        return fs::symlink_metadata(path).map_or(0, |m| m.len());
    };
    rd.flatten()
        .map(|e| match e.file_type() {
            Ok(t) if t.is_dir() => dir_size(&e.path()),
            _ => e.metadata().map_or(0, |m| m.len()),
        })
        .sum()
}

/// Format version of the store a sub-store directory opened on its own belongs to: the
/// marker's, found by going up through the parent sub-stores; version 1 (the conservative
/// choice: nothing a version-1 reader cannot read) when there is none.
fn enclosing_format(dir: &Path) -> u16 {
    let mut d = dir.parent();
    while let Some(p) = d {
        if let Ok(text) = fs::read_to_string(p.join(MARKER)) {
            let v = serde_json::from_str::<serde_json::Value>(&text)
                .ok()
                .and_then(|j| j["version"].as_u64());
            return match v {
                Some(v) if (1..=u64::from(frame::VERSION)).contains(&v) => v as u16,
                _ => frame::V1,
            };
        }
        if !p.join(ENTRY).is_file() {
            break;
        }
        d = p.parent();
    }
    frame::V1
}

/// Bytes of a key's own files: its entry, the chunk files its manifest lists (one `stat`
/// each, no directory walk), a folder's files, a sub-store's whole directory. Leftovers of
/// interrupted writes in the directory are not counted. A sub-store that is listed with its
/// keys (`recursive`) is measured by that listing instead (0 here).
fn key_size(dir: &Path, e: &Entry, entry_len: u64, recursive: bool) -> u64 {
    match e.kind {
        Kind::Value => entry_len,
        Kind::Table => {
            let chunks = e.table.as_ref().map_or(&[][..], |t| &t.chunks[..]);
            entry_len
                + chunks
                    .iter()
                    .filter(|c| c.inline.is_none())
                    .map(|c| fs::symlink_metadata(dir.join(&c.file)).map_or(0, |m| m.len()))
                    .sum::<u64>()
        }
        Kind::Folder => entry_len + dir_size(&dir.join(FILES)),
        Kind::Store if recursive => 0,
        Kind::Store => dir_size(dir),
    }
}

/// The whole content of a file. A small file (most entries) is read whole with one `read`
/// (plus the one that sees its end), without asking for its size first: one system call
/// fewer per file than `fs::read`, which counts at 100,000 keys. Larger files continue with
/// `read_to_end`.
fn read_file(path: &Path) -> std::io::Result<Vec<u8>> {
    use std::io::Read;
    let mut f = fs::File::open(path)?;
    let mut buf = vec![0u8; 16 << 10];
    let mut n = 0;
    loop {
        match f.read(&mut buf[n..]) {
            Ok(0) => {
                buf.truncate(n);
                return Ok(buf);
            }
            Ok(k) => {
                n += k;
                if n == buf.len() {
                    break;
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    f.read_to_end(&mut buf)?;
    Ok(buf)
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
            let format = u16::try_from(v).unwrap_or(0);
            if !(frame::V1..=frame::VERSION).contains(&format) {
                return Err(StoreError::new(
                    Code::E0608,
                    format!(
                        "store format version {v}; this isf reads versions 1 to {}",
                        frame::VERSION
                    ),
                ));
            }
            Ok(Store {
                root,
                prefix: String::new(),
                opts: WriteOptions::default(),
                format,
            })
        } else {
            let ok =
                Store::read_entry_at(&root.join(ENTRY), "").is_ok_and(|e| e.kind == Kind::Store);
            if !ok {
                return Err(StoreError::new(
                    Code::E0602,
                    format!("{} is not an isf store", root.display()),
                ));
            }
            let format = enclosing_format(&root);
            Ok(Store {
                root,
                prefix: String::new(),
                opts: WriteOptions::default(),
                format,
            })
        }
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
        Ok(Store::read_entry_sized(path, key)?.0)
    }

    /// The entry at `path` and the file's length in bytes.
    fn read_entry_sized(path: &Path, key: &str) -> Result<(Entry, u64)> {
        let bytes = match read_file(path) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(StoreError::at(Code::E0604, key, "no such key"));
            }
            Err(e) => return Err(StoreError::io(Some(key), path, &e)),
        };
        let mut entry: Entry = decode_frame(&bytes, FileKind::Entry, key, path)?;
        let corrupt =
            |m: &str| StoreError::at(Code::E0601, key, format!("{}: {m}", path.display()));
        entry.table = match (entry.kind, entry.table) {
            (Kind::Table, Some(t)) => Some(t.checked().map_err(|e| corrupt(&e))?),
            (Kind::Table, None) => return Err(corrupt("table entry without manifest")),
            _ => None,
        };
        if entry.kind == Kind::Value && entry.value.is_none() {
            return Err(corrupt("value entry without value"));
        }
        Ok((entry, bytes.len() as u64))
    }

    fn write_entry(&self, dir: &Path, key: &str, entry: &Entry) -> Result<()> {
        self.write_entry_after(dir, key, entry, &[])
    }

    /// Publish `entry` once the `chunks` it lists (written, open, not yet durable) are
    /// durable: the commit of a table write (see the module doc for the invariant).
    fn write_entry_after(
        &self,
        dir: &Path,
        key: &str,
        entry: &Entry,
        chunks: &[fs::File],
    ) -> Result<()> {
        // Only an entry holding inline chunks needs version 2; everything else stays
        // readable by a version-1 reader.
        let inline = entry
            .table
            .as_ref()
            .is_some_and(|t| t.chunks.iter().any(|c| c.inline.is_some()));
        let version = if inline { 2 } else { frame::V1 };
        let path = dir.join(ENTRY);
        let content = match entry.kind {
            Kind::Table => Content::Manifest,
            _ => Content::Value,
        };
        let bytes = self.encode_payload(key, FileKind::Entry, content, version, entry, 0)?;
        frame::write_atomic_after(&path, &bytes, chunks)
            .map_err(|e| StoreError::io(Some(key), &path, &e))
    }

    /// A payload file's bytes: the msgpack document of `doc`, compressed and framed.
    /// `size_hint`: the document's expected length, so that a large one is serialised into
    /// one buffer instead of a growing one copied at every doubling.
    fn encode_payload<T: Serialize>(
        &self,
        key: &str,
        kind: FileKind,
        content: Content,
        version: u16,
        doc: &T,
        size_hint: usize,
    ) -> Result<Vec<u8>> {
        let mut raw = Vec::with_capacity(size_hint);
        rmp_serde::encode::write_named(&mut raw, doc)
            .map_err(|e| StoreError::at(Code::E0605, key, format!("cannot encode: {e}")))?;
        let (codec, clevel, shuffle, typesize) = payload_codec(&self.opts, content, raw.len());
        frame::encode(kind, version, &raw, codec, clevel, shuffle, typesize).ok_or_else(|| {
            StoreError::at(
                Code::E0610,
                key,
                format!(
                    "{} bytes encoded; one file holds at most {} (store large data as a table)",
                    raw.len(),
                    blosc::MAX_BUFFER
                ),
            )
        })
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

    /// Check one key completely, as [`Store::verify`] does: the entry and every chunk
    /// (checksums, decoding, row counts). `Ok` when it is intact.
    pub fn check_key(&self, key: &str) -> Result<()> {
        let (dir, full, e) = self.entry(key)?;
        if let Some(info) = e.table {
            for c in &info.chunks {
                read_chunk_sized(&dir, &full, c, &info)?;
            }
        }
        Ok(())
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
        // A symbolic link is never a key (`verify` reports it): following it would let store
        // tools read, copy or delete outside the store.
        let mut keys: Vec<String> = rd
            .flatten()
            .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
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

    /// Keys of this store with kind, size, rows and metadata, labelled by their path from
    /// here; with `recursive` every key below too (each sub-store followed by its keys). One
    /// walk measures each file once: a sub-store's size is the sum of what is in it, where
    /// [`Store::list`] walks a sub-store again for its size. A damaged key is an error in its
    /// place so the rest still lists.
    pub fn list_tree(
        &self,
        recursive: bool,
    ) -> Result<Vec<(String, std::result::Result<KeyInfo, StoreError>)>> {
        let mut out = Vec::new();
        self.list_into("", recursive, &mut out)?;
        Ok(out)
    }

    /// [`Store::list_tree`] into `out`; returns the bytes under this store's directory.
    fn list_into(
        &self,
        prefix: &str,
        recursive: bool,
        out: &mut Vec<(String, std::result::Result<KeyInfo, StoreError>)>,
    ) -> Result<u64> {
        // One listing of this directory; a key is a directory whose entry file opens (no
        // separate existence check: at 100,000 keys every system call per key counts).
        let listing = fs::read_dir(&self.root).map_err(|e| StoreError::io(None, &self.root, &e))?;
        let mut total = 0;
        let mut candidates = Vec::new();
        for e in listing.flatten() {
            let (Ok(n), Ok(t)) = (e.file_name().into_string(), e.file_type()) else {
                total += e.metadata().map_or(0, |m| m.len());
                continue;
            };
            if t.is_dir() && validate_name(&n).is_ok() {
                candidates.push(n);
            } else if t.is_dir() {
                total += dir_size(&e.path());
            } else {
                total += e.metadata().map_or(0, |m| m.len());
            }
        }
        candidates.sort();
        for k in candidates {
            let label = format!("{prefix}{k}");
            let dir = self.root.join(&k);
            let (e, entry_len) = match Store::read_entry_sized(&dir.join(ENTRY), &self.full(&k)) {
                Ok(e) => e,
                Err(e) if e.code == Code::E0604 => {
                    // Not a key (an incomplete write): its bytes count for the store only.
                    total += dir_size(&dir);
                    continue;
                }
                Err(e) => {
                    total += dir_size(&dir);
                    out.push((label, Err(e)));
                    continue;
                }
            };
            let slot = out.len();
            let kind = e.kind;
            let own = key_size(&dir, &e, entry_len, recursive);
            out.push((
                label.clone(),
                Ok(KeyInfo {
                    key: k.clone(),
                    kind,
                    bytes: 0,
                    rows: e.table.as_ref().map(|t| t.rows),
                    meta: e.meta,
                }),
            ));
            let bytes = if kind == Kind::Store && recursive {
                Store {
                    root: dir,
                    prefix: self.full(&k),
                    opts: self.opts,
                    format: self.format,
                }
                .list_into(&format!("{label}/"), true, out)?
            } else {
                own
            };
            if let Ok(info) = &mut out[slot].1 {
                info.bytes = bytes;
            }
            total += bytes;
        }
        Ok(total)
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
            format: self.format,
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
            format: self.format,
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
        let quanta = table::quanta(&t.schema(), &mut t.attrs.iter())
            .map_err(|m| StoreError::at(Code::E0626, &full, m))?;
        self.replaceable(&dir, &full, Kind::Table)?;
        self.new_key_dir(&dir, &full)?;
        let mut chunks = Vec::new();
        // A small table goes into the entry itself (one file per key, read in one go).
        let raw = t.raw_bytes();
        if rows > 0
            && self.format >= 2
            && raw <= self.opts.inline_bytes
            && raw <= self.opts.chunk_bytes
        {
            chunks.push(ChunkRef {
                file: String::new(),
                rows: rows as u64,
                inline: Some(table::chunk_doc_quantised(
                    t,
                    rows,
                    self.opts.decimal,
                    &quanta,
                )),
            });
        }
        let mut next = next_chunk(&dir);
        let per_row = (raw / rows.max(1)).max(1);
        let step = (self.opts.chunk_bytes / per_row).max(1);
        let mut a = if chunks.is_empty() { 0 } else { rows };
        let mut written = Written::default();
        while a < rows {
            let b = (a + step).min(rows);
            let (c, f) = self
                .write_chunk(&dir, &full, t, a..b, next, &quanta)
                .inspect_err(|_| written.discard())?;
            chunks.push(c);
            written.add(dir.join(chunk_name(next)), f);
            next += 1;
            a = b;
        }
        let info = TableInfo {
            columns: t.schema(),
            attrs: t.attrs.clone().into_iter().collect(),
            rows: rows as u64,
            chunks,
        };
        let keep: Vec<String> = info
            .chunks
            .iter()
            .filter(|c| c.inline.is_none())
            .map(|c| c.file.clone())
            .collect();
        let entry = Entry {
            kind: Kind::Table,
            meta: meta.stamped(),
            value: None,
            table: Some(info),
        };
        self.write_entry_after(&dir, &full, &entry, &written.files)
            .inspect_err(|_| written.discard())?;
        remove_unreferenced_chunks(&dir, &keep, 0);
        Ok(())
    }

    /// The bytes of the chunk file that [`Store::put_table`] writes for all rows of `t` as
    /// one chunk (quantised, encoded, compressed and framed; nothing is written). For
    /// benchmarks of the encoder (`benches/precision.rs`).
    pub fn encode_chunk(&self, t: &Table) -> Result<Vec<u8>> {
        let rows = t.rows().map_err(|m| StoreError::new(Code::E0609, m))?;
        let quanta = table::quanta(&t.schema(), &mut t.attrs.iter())
            .map_err(|m| StoreError::new(Code::E0626, m))?;
        self.chunk_bytes("", t, 0..rows, &quanta)
    }

    /// The encoded chunk file of rows `range` of `t`.
    fn chunk_bytes(
        &self,
        key: &str,
        t: &Table,
        range: std::ops::Range<usize>,
        quanta: &[Option<table::Quantum>],
    ) -> Result<Vec<u8>> {
        let doc = table::chunk_doc_rows(t, range, self.opts.decimal, quanta);
        let content = chunk_content(&doc, &t.schema(), quanta);
        self.encode_payload(
            key,
            FileKind::Chunk,
            content,
            frame::V1,
            &doc,
            doc.encoded_len(),
        )
    }

    /// Encode rows `range` of `t` and write them as chunk file number `n`, under its final
    /// name and not yet durable: no manifest lists it yet, so no reader looks at it, and the
    /// manifest that will list it is only published once it is durable
    /// ([`Store::write_entry_after`]). Returns the chunk's reference and the open file.
    fn write_chunk(
        &self,
        dir: &Path,
        key: &str,
        t: &Table,
        range: std::ops::Range<usize>,
        n: u64,
        quanta: &[Option<table::Quantum>],
    ) -> Result<(ChunkRef, fs::File)> {
        use std::io::Write;
        let file = chunk_name(n);
        let rows = range.len() as u64;
        let bytes = self.chunk_bytes(key, t, range, quanta)?;
        let path = dir.join(&file);
        // `create_new`: a chunk name is never reused (`next_chunk` counts orphans too), so an
        // existing file here is another writer's, not ours to overwrite.
        let mut f = fs::File::options()
            .write(true)
            .create_new(true)
            .open(&path)
            .map_err(|e| StoreError::io(Some(key), &path, &e))?;
        if let Err(e) = f.write_all(&bytes) {
            drop(f);
            let _ = fs::remove_file(&path);
            return Err(StoreError::io(Some(key), &path, &e));
        }
        Ok((
            ChunkRef {
                file,
                rows,
                inline: None,
            },
            f,
        ))
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
        // New rows are rounded to the table's declared precisions; declaring another one (or
        // one the stored rows were not written with) would put chunks of two grids under one
        // bound, so it is refused.
        for (k, v) in &t.attrs {
            if k.ends_with(".precision") && info.attrs.get(k) != Some(v) {
                return Err(StoreError::at(
                    Code::E0626,
                    &full,
                    format!(
                        "appended rows declare {k} = {v}, the stored table {}",
                        match info.attrs.get(k) {
                            Some(x) => format!("{x}"),
                            None => "none (its rows are stored unrounded)".into(),
                        }
                    ),
                ));
            }
        }
        let quanta = stored_quanta(info, &full)?;
        clean_temps(&dir);
        let mut written = Written::default();
        if rows > 0 {
            let n = next_chunk(&dir);
            let (chunk, f) = self.write_chunk(&dir, &full, t, 0..rows, n, &quanta)?;
            written.add(dir.join(chunk_name(n)), f);
            info.chunks.push(chunk);
            info.rows += rows as u64;
        }
        // A new attribute goes last, a known one keeps its place.
        info.attrs.extend(t.attrs.clone());
        let total = info.rows;
        entry.meta.modified = Some(meta::now_rfc3339());
        self.write_entry_after(&dir, &full, &entry, &written.files)
            .inspect_err(|_| written.discard())?;
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
            t.extend(read_chunk(&dir, &full, c, &info)?);
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
        // The directory entry's own type (no extra system call on Linux) tells links apart:
        // nothing below follows one.
        let mut names: Vec<(String, Option<fs::FileType>)> = rd
            .flatten()
            .filter_map(|e| Some((e.file_name().into_string().ok()?, e.file_type().ok())))
            .collect();
        names.sort_by(|a, b| a.0.cmp(&b.0));
        for (name, ftype) in names {
            let path = self.root.join(&name);
            if ftype.is_some_and(|t| t.is_symlink()) {
                let key = validate_name(&name).is_ok().then(|| self.full(&name));
                found_link(r, key.as_deref(), path);
                continue;
            }
            if name.starts_with(frame::TMP_PREFIX) || name.starts_with(DELETING) {
                r.strays.push(path);
                continue;
            }
            let is_dir = ftype.is_some_and(|t| t.is_dir());
            if name == MARKER || name == ENTRY || !is_dir || validate_name(&name).is_err() {
                continue;
            }
            let full = self.full(&name);
            // One listing of the key directory serves the link, entry, stray and chunk checks.
            let listing = list_dir(&path);
            match listing.iter().find(|(n, _)| n == ENTRY) {
                None => {
                    r.strays.push(path);
                    continue;
                }
                Some((_, t)) if t.is_symlink() => {
                    found_link(r, Some(&full), path.join(ENTRY));
                    continue;
                }
                Some(_) => {}
            }
            r.entries += 1;
            let e = match Store::read_entry_sized(&path.join(ENTRY), &full) {
                Ok((e, len)) => {
                    r.bytes += len;
                    e
                }
                Err(e) => {
                    r.problems.push(e);
                    continue;
                }
            };
            for (n, _) in &listing {
                if n.starts_with(frame::TMP_PREFIX) {
                    r.strays.push(path.join(n));
                }
            }
            // A sub-store's children are checked by its own scan; any other key's directory
            // is checked whole (a folder's files too), and a key holding a link is not read.
            if e.kind != Kind::Store {
                let before = r.links.len();
                for (n, t) in &listing {
                    if t.is_symlink() {
                        found_link(r, Some(&full), path.join(n));
                    } else if t.is_dir() && !n.starts_with(frame::TMP_PREFIX) {
                        let mut below = Vec::new();
                        links_below(&path.join(n), &mut below);
                        for l in below {
                            found_link(r, Some(&full), l);
                        }
                    }
                }
                if r.links.len() > before {
                    continue;
                }
            }
            match e.kind {
                Kind::Store => Store {
                    root: path,
                    prefix: full,
                    opts: self.opts,
                    format: self.format,
                }
                .verify_into(r),
                Kind::Table => {
                    let info = e.table.expect("table entry has a manifest");
                    let mut rows = 0;
                    let mut damaged = false;
                    for c in &info.chunks {
                        r.chunks += 1;
                        if c.inline.is_none() && !listing.iter().any(|(n, _)| *n == c.file) {
                            damaged = true;
                            r.problems.push(StoreError::at(
                                Code::E0601,
                                &full,
                                format!(
                                    "{}: chunk listed in the manifest is missing",
                                    path.join(&c.file).display()
                                ),
                            ));
                            continue;
                        }
                        match read_chunk_sized(&path, &full, c, &info) {
                            Ok(len) => {
                                r.bytes += len;
                                rows += c.rows;
                            }
                            Err(e) => {
                                damaged = true;
                                r.problems.push(e);
                            }
                        }
                    }
                    if rows != info.rows && !damaged {
                        r.problems.push(StoreError::at(
                            Code::E0601,
                            &full,
                            format!("manifest says {} rows, chunks hold {rows}", info.rows),
                        ));
                    }
                    for (f, _) in &listing {
                        if chunk_number(f).is_some() && !info.chunks.iter().any(|c| c.file == *f) {
                            r.strays.push(path.join(f));
                        }
                    }
                }
                Kind::Value | Kind::Folder => {}
            }
        }
    }

    /// Remove leftovers of interrupted writes that no live writer can still need (temporary
    /// files whose process is gone, directories being deleted, key directories without an
    /// entry that hold nothing else, unreferenced chunks older than a minute) and symbolic
    /// links inside the store (the link, never what it points to). Returns the removed paths.
    pub fn fix(&self) -> Vec<PathBuf> {
        self.fix_from(&self.verify())
    }

    /// [`Store::fix`] from a report of [`Store::verify`] already made. Nothing outside the
    /// store's directory is touched: every path's directory is resolved and checked to lie
    /// inside the store, and no symbolic link is followed.
    pub fn fix_from(&self, report: &VerifyReport) -> Vec<PathBuf> {
        let Ok(root) = fs::canonicalize(&self.root) else {
            return Vec::new();
        };
        let mut removed = Vec::new();
        for p in &report.links {
            // `remove_file` on a link unlinks the link itself.
            if inside(&root, p)
                && fs::symlink_metadata(p).is_ok_and(|m| m.file_type().is_symlink())
                && fs::remove_file(p).is_ok()
            {
                removed.push(p.clone());
            }
        }
        for p in &report.strays {
            let Ok(m) = fs::symlink_metadata(p) else {
                continue;
            };
            if m.file_type().is_symlink() || !inside(&root, p) {
                continue;
            }
            let name = p.file_name().and_then(|n| n.to_str()).unwrap_or("");
            let remove = if name.starts_with(DELETING) {
                true
            } else if name.starts_with(frame::TMP_PREFIX) {
                frame::temp_is_stale(p)
            } else if chunk_number(name).is_some() {
                frame::older_than(p, ORPHAN_GRACE_S)
            } else {
                // An incomplete key directory: remove stale temps inside, then it if empty.
                clean_temps(p);
                fs::read_dir(p).is_ok_and(|mut d| d.next().is_none())
            };
            if !remove {
                continue;
            }
            // `remove_dir_all` does not follow links below the directory either.
            let ok = if m.is_dir() {
                fs::remove_dir_all(p).is_ok()
            } else {
                fs::remove_file(p).is_ok()
            };
            if ok {
                removed.push(p.clone());
            }
        }
        removed
    }

    /// Move every key that [`Store::verify`] found corrupt or truncated (E0601) out of the
    /// store into `<store>/.quarantine/<UTC time>/<key path>`: the key no longer exists (a
    /// resumed run computes it again), yet nothing is deleted, so a user can still inspect or
    /// salvage the files. Keys of a newer format version (E0608) and links are left alone.
    pub fn quarantine(&self, report: &VerifyReport) -> Result<Quarantined> {
        let mut out = Quarantined::default();
        let root =
            fs::canonicalize(&self.root).map_err(|e| StoreError::io(None, &self.root, &e))?;
        let stamp = meta::now_rfc3339().replace(':', "");
        let mut base = self.root.join(QUARANTINE).join(&stamp);
        let mut n = 1;
        while base.exists() {
            base = self.root.join(QUARANTINE).join(format!("{stamp}-{n}"));
            n += 1;
        }
        let mut seen = std::collections::HashSet::new();
        for p in &report.problems {
            let Some(key) = p.key.as_deref() else {
                continue;
            };
            if p.code != Code::E0601 || !seen.insert(key.to_string()) {
                continue;
            }
            let rel = match self.prefix.as_str() {
                "" => key,
                pre => match key.strip_prefix(pre).and_then(|k| k.strip_prefix('/')) {
                    Some(k) => k,
                    None => continue,
                },
            };
            let Ok(parts) = split_key(rel) else {
                continue;
            };
            let dir = parts.iter().fold(self.root.clone(), |d, p| d.join(p));
            let is_real_dir = fs::symlink_metadata(&dir).is_ok_and(|m| m.is_dir());
            if !is_real_dir || !inside(&root, &dir) {
                continue;
            }
            let to = parts.iter().fold(base.clone(), |d, p| d.join(p));
            if let Some(parent) = to.parent() {
                fs::create_dir_all(parent).map_err(|e| StoreError::io(Some(key), parent, &e))?;
            }
            fs::rename(&dir, &to).map_err(|e| StoreError::io(Some(key), &to, &e))?;
            let _ = frame::sync_dir(dir.parent().unwrap_or(&self.root));
            out.moved.push((key.to_string(), to));
        }
        if !out.moved.is_empty() {
            let _ = frame::sync_dir(&base);
        }
        Ok(out)
    }

    /// Remove `key` for `isf db rm`: a sub-store (or a key whose directory holds other keys)
    /// only with `recursive`. Damaged keys can be removed; that is what this is for.
    /// Returns the kind removed (`None` when the entry is unreadable).
    pub fn remove(&self, key: &str, recursive: bool) -> Result<Option<Kind>> {
        let (dir, full) = self.locate(key, false)?;
        let m = fs::symlink_metadata(&dir);
        if m.as_ref().is_ok_and(|m| m.file_type().is_symlink()) {
            return Err(StoreError::at(
                Code::E0613,
                &full,
                format!(
                    "{} is a symbolic link, not a key; `isf db verify --fix` removes the link",
                    dir.display()
                ),
            ));
        }
        let kind = match Store::read_entry_at(&dir.join(ENTRY), &full) {
            Ok(e) => Some(e.kind),
            Err(e) if matches!(e.code, Code::E0601 | Code::E0608) => None,
            Err(e) => return Err(e),
        };
        let has_children = list_dir(&dir).iter().any(|(n, t)| {
            t.is_dir() && validate_name(n).is_ok() && dir.join(n).join(ENTRY).exists()
        });
        if !recursive && (kind == Some(Kind::Store) || (kind.is_none() && has_children)) {
            return Err(StoreError::at(
                Code::E0605,
                &full,
                "is a sub-store; use -r to remove it with every key below it",
            ));
        }
        self.delete(key)?;
        Ok(kind)
    }

    /// Merge the keys of `other` (e.g. a shard written by another process) into this store.
    /// Keys only in `other` are copied; sub-stores present in both are merged recursively;
    /// keys with identical content are skipped; any other key present in both is a conflict
    /// (E0606) and then nothing is copied. `other` is verified first and must be intact
    /// (a symbolic link in it is E0613: never followed, never copied).
    ///
    /// Every new key is first copied to a temporary name, then all copies are made durable at
    /// once (one `syncfs` on Linux, instead of an fsync per file), then renamed into place,
    /// and each parent directory is synced once. A failure before the renames leaves the
    /// store as it was (plus temporary files that `verify --fix` removes).
    pub fn merge(&self, other: &Store) -> Result<MergeReport> {
        let (plan, identical) = self.merge_prepare(other)?;
        if !plan.is_empty() {
            self.raise_format(other.format)?;
        }
        self.merge_copy(plan, identical)
    }

    /// Before keys of a store of format `v` are brought in: a store whose marker says an
    /// older version gets `v` in its marker, so the marker keeps telling older readers what
    /// the store may contain (they then refuse it as a whole, E0608, instead of key by key).
    fn raise_format(&self, v: u16) -> Result<()> {
        let marker = self.root.join(MARKER);
        if v <= self.format || !marker.is_file() {
            return Ok(());
        }
        let text = fs::read_to_string(&marker).map_err(|e| StoreError::io(None, &marker, &e))?;
        let mut json: serde_json::Value = serde_json::from_str(&text)
            .map_err(|e| StoreError::new(Code::E0602, format!("{}: {e}", marker.display())))?;
        json["version"] = serde_json::Value::from(v);
        let text = serde_json::to_string_pretty(&json).unwrap_or_default() + "\n";
        frame::write_atomic(&marker, text.as_bytes()).map_err(|e| StoreError::io(None, &marker, &e))
    }

    /// [`Store::merge`] that moves the new keys out of `other` instead of copying them (one
    /// rename per key, no data written; `isf db merge --move`): for shards that are not
    /// needed afterwards. Keys present in both stay in `other`. When the stores are on
    /// different filesystems the keys are copied as by `merge`. A failure part-way leaves
    /// every key whole in one of the two stores; merging again continues.
    pub fn merge_moving(&self, other: &Store) -> Result<MergeReport> {
        let (plan, identical) = self.merge_prepare(other)?;
        if !plan.is_empty() {
            self.raise_format(other.format)?;
        }
        let root =
            fs::canonicalize(&self.root).map_err(|e| StoreError::io(None, &self.root, &e))?;
        let mut copied = Vec::new();
        let mut parents = std::collections::BTreeSet::new();
        let mut rest = Vec::new();
        let mut items = plan.into_iter();
        for item in items.by_ref() {
            let parent = item.dst.parent().unwrap_or(&self.root).to_path_buf();
            if !parents.contains(&parent) && !inside(&root, &item.dst) {
                return Err(outside_error(&item.full, &parent));
            }
            if item.dst.join(ENTRY).exists() {
                return Err(StoreError::at(
                    Code::E0606,
                    &item.full,
                    "appeared while merging (another writer?)",
                ));
            }
            if fs::symlink_metadata(&item.dst).is_ok_and(|m| m.is_dir()) {
                // A leftover incomplete directory of the same name would block the rename.
                let _ = fs::remove_dir_all(&item.dst);
            }
            match fs::rename(&item.src, &item.dst) {
                Ok(()) => {
                    parents.insert(parent);
                    parents.insert(item.src.parent().unwrap_or(&other.root).to_path_buf());
                    copied.push(item.full);
                }
                Err(e) if e.kind() == std::io::ErrorKind::CrossesDevices => {
                    rest.push(item);
                    break;
                }
                Err(e) => return Err(StoreError::io(Some(&item.full), &item.dst, &e)),
            }
        }
        rest.extend(items);
        if !copied.is_empty() {
            sync_all(&self.root, std::iter::empty())
                .map_err(|(p, e)| StoreError::io(None, &p, &e))?;
            for p in &parents {
                let _ = frame::sync_dir(p);
            }
        }
        let mut report = self.merge_copy(rest, identical)?;
        copied.append(&mut report.copied);
        report.copied = copied;
        Ok(report)
    }

    /// Verify `other` and plan a merge: the keys to bring over and the keys identical in
    /// both; E0606 (nothing merged) on any conflict.
    fn merge_prepare(&self, other: &Store) -> Result<(Vec<MergeItem>, Vec<String>)> {
        let report = other.verify();
        if let Some(p) = report.problems.into_iter().next() {
            return Err(p);
        }
        let mut plan = Vec::new();
        let mut conflicts = Vec::new();
        let mut identical = Vec::new();
        self.merge_plan(other, &mut plan, &mut conflicts, &mut identical)?;
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
        Ok((plan, identical))
    }

    /// Copy the planned keys (staged, synced once, renamed into place).
    fn merge_copy(&self, plan: Vec<MergeItem>, identical: Vec<String>) -> Result<MergeReport> {
        if plan.is_empty() {
            return Ok(MergeReport {
                copied: Vec::new(),
                identical,
            });
        }
        let root =
            fs::canonicalize(&self.root).map_err(|e| StoreError::io(None, &self.root, &e))?;
        let mut staged: Vec<(MergeItem, PathBuf)> = Vec::new();
        let unstage = |staged: &[(MergeItem, PathBuf)]| {
            for (_, tmp) in staged {
                let _ = fs::remove_dir_all(tmp);
            }
        };
        let mut checked: std::collections::HashMap<PathBuf, bool> = Default::default();
        let mut buf = Vec::new();
        for item in plan {
            let parent = item.dst.parent().unwrap_or(&self.root).to_path_buf();
            let ok = *checked
                .entry(parent.clone())
                .or_insert_with(|| inside(&root, &item.dst));
            if !ok {
                unstage(&staged);
                return Err(outside_error(&item.full, &parent));
            }
            let tmp = frame::temp_path(&parent, "merge");
            if let Err(e) = copy_tree(&item.src, &tmp, &mut buf) {
                let _ = fs::remove_dir_all(&tmp);
                unstage(&staged);
                let mut err = StoreError::io(Some(&item.full), &e.path, &e.err);
                if e.link {
                    err.code = Code::E0613;
                    err.message = format!(
                        "{} is a symbolic link; store tools never follow links; nothing was merged",
                        e.path.display()
                    );
                }
                return Err(err);
            }
            staged.push((item, tmp));
        }
        if !staged.is_empty() {
            let synced = sync_all(&self.root, staged.iter().map(|(_, t)| t.as_path()));
            if let Err((path, e)) = synced {
                unstage(&staged);
                return Err(StoreError::io(None, &path, &e));
            }
        }
        let mut copied = Vec::new();
        let mut parents = std::collections::BTreeSet::new();
        for i in 0..staged.len() {
            let (item, tmp) = &staged[i];
            // Usually nothing is there: one `lstat` then, not two more system calls per key.
            if fs::symlink_metadata(&item.dst).is_ok() {
                if item.dst.join(ENTRY).exists() {
                    unstage(&staged[i..]);
                    return Err(StoreError::at(
                        Code::E0606,
                        &item.full,
                        "appeared while merging (another writer?)",
                    ));
                }
                // A leftover incomplete directory of the same name would block the rename.
                let _ = fs::remove_dir_all(&item.dst);
            }
            if let Err(e) = fs::rename(tmp, &item.dst) {
                unstage(&staged[i..]);
                return Err(StoreError::io(Some(&item.full), &item.dst, &e));
            }
            parents.insert(item.dst.parent().unwrap_or(&self.root).to_path_buf());
            copied.push(item.full.clone());
        }
        for p in parents {
            let _ = frame::sync_dir(&p);
        }
        Ok(MergeReport { copied, identical })
    }

    /// What merging `other` into this (sub-)store would copy. Works on sub-store handles, so
    /// each key costs one entry read on each side, not a walk from the top.
    fn merge_plan(
        &self,
        other: &Store,
        plan: &mut Vec<MergeItem>,
        conflicts: &mut Vec<String>,
        identical: &mut Vec<String>,
    ) -> Result<()> {
        for k in other.keys()? {
            let src = other.root.join(&k);
            let dst = self.root.join(&k);
            let full = self.full(&k);
            let ours = match Store::read_entry_at(&dst.join(ENTRY), &full) {
                Ok(e) => Some(e),
                Err(e) if e.code == Code::E0604 => None,
                Err(e) => return Err(e),
            };
            match ours {
                None => plan.push(MergeItem { full, src, dst }),
                Some(e) => {
                    let theirs = Store::read_entry_at(&src.join(ENTRY), &other.full(&k))?.kind;
                    if e.kind == Kind::Store && theirs == Kind::Store {
                        let ours = Store {
                            root: dst,
                            prefix: full,
                            opts: self.opts,
                            format: self.format,
                        };
                        let theirs = Store {
                            root: src,
                            prefix: other.full(&k),
                            opts: other.opts,
                            format: other.format,
                        };
                        ours.merge_plan(&theirs, plan, conflicts, identical)?;
                    } else if same_content(&dst, &src) {
                        identical.push(full);
                    } else {
                        conflicts.push(full);
                    }
                }
            }
        }
        Ok(())
    }
}

/// Chunk files written for one table write and not yet listed by a published manifest.
#[derive(Default)]
struct Written {
    paths: Vec<PathBuf>,
    files: Vec<fs::File>,
}

impl Written {
    fn add(&mut self, path: PathBuf, f: fs::File) {
        self.paths.push(path);
        self.files.push(f);
    }

    /// The write failed before its manifest was published: its chunks are referenced by
    /// nothing, so they go (what is left after a crash instead, `verify --fix` removes).
    fn discard(&self) {
        for p in &self.paths {
            let _ = fs::remove_file(p);
        }
    }
}

/// A merge destination directory that resolves outside the destination store.
fn outside_error(key: &str, parent: &Path) -> StoreError {
    StoreError::at(
        Code::E0613,
        key,
        format!(
            "{} leads outside the destination store (a symbolic link?); nothing was merged there",
            parent.display()
        ),
    )
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

/// The document of a payload file, checked and decoded.
fn decode_frame<T: DeserializeOwned>(
    bytes: &[u8],
    kind: FileKind,
    key: &str,
    path: &Path,
) -> Result<T> {
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
    rmp_serde::from_slice(&raw).map_err(|e| {
        StoreError::at(
            Code::E0601,
            key,
            format!("{}: msgpack does not decode: {e}", path.display()),
        )
    })
}

fn read_chunk(dir: &Path, key: &str, c: &ChunkRef, info: &TableInfo) -> Result<Table> {
    Ok(read_chunk_full(dir, key, c, info)?.0)
}

/// Check one chunk completely (checksum, decoding, rows, declared precisions); its length
/// in bytes.
fn read_chunk_sized(dir: &Path, key: &str, c: &ChunkRef, info: &TableInfo) -> Result<u64> {
    Ok(read_chunk_full(dir, key, c, info)?.1)
}

/// The declared precisions of a stored table's columns (`<column>.precision` attributes); a
/// manifest whose precision attribute is not a positive decimal step of a float column is
/// E0625 like a value off its grid.
fn stored_quanta(info: &TableInfo, key: &str) -> Result<Vec<Option<table::Quantum>>> {
    table::quanta(&info.columns, &mut info.attrs.iter())
        .map_err(|m| StoreError::at(Code::E0625, key, m))
}

/// E0625 when a quantised column of `t` holds a value off its declared precision's grid:
/// the writer rounds every value to a multiple of the step, so such a value means the data
/// is not what was written (or was written without keeping the bound).
fn check_quanta(
    t: &Table,
    quanta: &[Option<table::Quantum>],
    key: &str,
    path: &Path,
) -> Result<()> {
    for ((name, col), q) in t.columns.iter().zip(quanta) {
        let (Some(q), Column::F64(v) | Column::F64Array { data: v, .. }) = (q, col) else {
            continue;
        };
        if let Some((i, x)) = q.off_grid(v) {
            return Err(StoreError::at(
                Code::E0625,
                key,
                format!(
                    "{}: column '{name}' value {x} (entry {i}) is not a multiple of its declared precision {}; the stored data breaks its bound of ±{}",
                    path.display(),
                    q.step,
                    q.step / 2.0
                ),
            ));
        }
    }
    Ok(())
}

fn read_chunk_full(dir: &Path, key: &str, c: &ChunkRef, info: &TableInfo) -> Result<(Table, u64)> {
    let schema = &info.columns;
    // An inline chunk was checksummed with its entry; it is decoded and counted the same way.
    let (path, owned, len);
    let doc = match &c.inline {
        Some(doc) => {
            path = dir.join(ENTRY);
            len = 0;
            doc
        }
        None => {
            path = dir.join(&c.file);
            let bytes = read_file(&path).map_err(|e| StoreError::io(Some(key), &path, &e))?;
            len = bytes.len() as u64;
            owned = decode_frame(&bytes, FileKind::Chunk, key, &path)?;
            &owned
        }
    };
    let t = table::chunk_table(doc, schema)
        .map_err(|m| StoreError::at(Code::E0601, key, format!("{}: {m}", path.display())))?;
    check_quanta(&t, &stored_quanta(info, key)?, key, &path)?;
    if t.rows() != Ok(c.rows as usize) {
        return Err(StoreError::at(
            Code::E0601,
            key,
            format!("{}: row count differs from the manifest", path.display()),
        ));
    }
    Ok((t, len))
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
            let is_dir = fs::symlink_metadata(&p).is_ok_and(|m| m.is_dir());
            let _ = if is_dir {
                fs::remove_dir_all(&p)
            } else {
                fs::remove_file(&p)
            };
        }
    }
}

/// Size of the buffer files are copied through by `merge`.
const COPY_BUF: usize = 256 << 10;

/// A failed copy: the path that failed (the source when reading, the destination when
/// writing) and whether it failed because the source is a symbolic link.
struct CopyError {
    path: PathBuf,
    err: std::io::Error,
    link: bool,
}

fn copy_err(path: &Path) -> impl Fn(std::io::Error) -> CopyError + '_ {
    move |err| CopyError {
        path: path.to_path_buf(),
        err,
        link: false,
    }
}

/// Copy a key directory, skipping temporary and to-be-deleted entries. Never follows a
/// symbolic link (it is an error), so nothing outside the source store is copied. Not
/// fsynced: the caller makes the copies durable at once ([`sync_all`]).
fn copy_tree(src: &Path, dst: &Path, buf: &mut Vec<u8>) -> std::result::Result<(), CopyError> {
    fs::create_dir(dst).map_err(copy_err(dst))?;
    for e in fs::read_dir(src).map_err(copy_err(src))? {
        let e = e.map_err(copy_err(src))?;
        let name = e.file_name();
        let n = name.to_string_lossy();
        if n.starts_with(frame::TMP_PREFIX) || n.starts_with(DELETING) {
            continue;
        }
        let from = e.path();
        let to = dst.join(&name);
        let t = e.file_type().map_err(copy_err(&from))?;
        if t.is_symlink() {
            return Err(CopyError {
                path: from,
                err: std::io::Error::other("symbolic link"),
                link: true,
            });
        } else if t.is_dir() {
            copy_tree(&from, &to, buf)?;
        } else {
            copy_file(&from, &to, buf)?;
        }
    }
    Ok(())
}

/// Copy one file through `buf` (one buffer for a whole merge: a fresh large buffer per file
/// costs more than the copy); an error names the side that failed.
fn copy_file(from: &Path, to: &Path, buf: &mut Vec<u8>) -> std::result::Result<(), CopyError> {
    use std::io::{Read, Write};
    let mut r = fs::File::open(from).map_err(copy_err(from))?;
    let mut w = fs::File::create(to).map_err(copy_err(to))?;
    if buf.len() < COPY_BUF {
        buf.resize(COPY_BUF, 0);
    }
    loop {
        let n = match r.read(buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(copy_err(from)(e)),
        };
        w.write_all(&buf[..n]).map_err(copy_err(to))?;
    }
    Ok(())
}

/// Make everything written below `trees` (inside the store at `root`) durable. On Linux one
/// `syncfs(2)` of the store's filesystem replaces an fsync per file and directory (at 100,000
/// keys, the difference between seconds and minutes); elsewhere each file and directory is
/// fsynced.
fn sync_all<'a>(
    root: &Path,
    trees: impl Iterator<Item = &'a Path>,
) -> std::result::Result<(), (PathBuf, std::io::Error)> {
    #[cfg(target_os = "linux")]
    {
        let _ = trees;
        let f = fs::File::open(root).map_err(|e| (root.to_path_buf(), e))?;
        use std::os::fd::AsRawFd;
        // SAFETY: `f` is an open file descriptor for the duration of the call.
        if unsafe { libc::syncfs(f.as_raw_fd()) } != 0 {
            return Err((root.to_path_buf(), std::io::Error::last_os_error()));
        }
        Ok(())
    }
    #[cfg(not(target_os = "linux"))]
    {
        let _ = root;
        fn walk(p: &Path) -> std::result::Result<(), (PathBuf, std::io::Error)> {
            let err = |e| (p.to_path_buf(), e);
            for e in fs::read_dir(p).map_err(err)?.flatten() {
                if e.file_type().is_ok_and(|t| t.is_dir()) {
                    walk(&e.path())?;
                } else {
                    let f = fs::File::open(e.path()).map_err(|x| (e.path(), x))?;
                    f.sync_all().map_err(|x| (e.path(), x))?;
                }
            }
            frame::sync_dir(p).map_err(err)
        }
        for t in trees {
            walk(t)?;
        }
        Ok(())
    }
}

/// The names and types of a directory's entries (empty when it cannot be read); types come
/// from the directory listing itself, so links are seen as links.
fn list_dir(dir: &Path) -> Vec<(String, fs::FileType)> {
    fs::read_dir(dir)
        .map(|rd| {
            rd.flatten()
                .filter_map(|e| Some((e.file_name().into_string().ok()?, e.file_type().ok()?)))
                .collect()
        })
        .unwrap_or_default()
}

/// Every symbolic link below `dir` (not following any).
fn links_below(dir: &Path, out: &mut Vec<PathBuf>) {
    for (n, t) in list_dir(dir) {
        if t.is_symlink() {
            out.push(dir.join(n));
        } else if t.is_dir() {
            links_below(&dir.join(n), out);
        }
    }
}

/// Record a symbolic link found by `verify` (E0613, naming where it points).
fn found_link(r: &mut VerifyReport, key: Option<&str>, path: PathBuf) {
    let target = fs::read_link(&path)
        .map(|t| t.display().to_string())
        .unwrap_or_else(|_| "?".into());
    let message = format!(
        "{} is a symbolic link (to {target}); store tools never follow links; `isf db verify --fix` removes the link, not its target",
        path.display()
    );
    r.problems.push(match key {
        Some(k) => StoreError::at(Code::E0613, k, message),
        None => StoreError::new(Code::E0613, message),
    });
    r.links.push(path);
}

/// True when `path` (which need not exist, and may itself be a link) lies in a directory
/// inside `root` (canonical): its parent resolves below `root`, and it is no `..`.
fn inside(root: &Path, path: &Path) -> bool {
    let (Some(parent), Some(name)) = (path.parent(), path.file_name()) else {
        return false;
    };
    name != ".." && fs::canonicalize(parent).is_ok_and(|c| c.starts_with(root))
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
