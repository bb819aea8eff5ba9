//! Entry files: the document of `key.isfd` (kind, metadata, the value or a table's
//! manifest), the manifest's chunk list, and reading and decoding payload files.
//!
//! The documents are serde structs serialised by field name (msgpack maps, format §3, §4.1):
//! the field order is the key order in the file. Reading checks what serde cannot: a table
//! entry has a manifest, a value entry a value, and a manifest names only this key's chunk
//! files (never a path elsewhere).

use super::frame::{self, FileKind, FrameError};
use super::table;
use super::{ColumnSpec, Kind, Metadata, Result, Store, StoreError};
use crate::diagnostics::Code;
use indexmap::IndexMap;
use rmpv::Value;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use std::fs;
use std::path::Path;

/// The file name of chunk `n` of a table (`chunk-000007.isfd`): a manifest names its chunks
/// so, and nothing else in a key's folder is named so.
pub(super) fn chunk_name(n: u64) -> String {
    format!("chunk-{n:06}.isfd")
}

/// The number of a chunk file's name, or `None` for any other name.
pub(super) fn chunk_number(name: &str) -> Option<u64> {
    name.strip_prefix("chunk-")?
        .strip_suffix(".isfd")?
        .parse()
        .ok()
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
    pub(super) fn checked(mut self) -> std::result::Result<TableInfo, String> {
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
pub(super) struct Entry {
    pub(super) kind: Kind,
    #[serde(default)]
    pub(super) meta: Metadata,
    /// The value of kind `value` (a stored nil is `Some(Nil)`).
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "present"
    )]
    pub(super) value: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(super) table: Option<TableInfo>,
}

/// A field that is there, whatever its value (nil included).
pub(super) fn present<'de, D: serde::Deserializer<'de>>(
    d: D,
) -> std::result::Result<Option<Value>, D::Error> {
    Value::deserialize(d).map(Some)
}

/// The whole content of a file. A small file (most entries) is read whole with one `read`
/// (plus the one that sees its end), without asking for its size first: one system call
/// fewer per file than `fs::read`, which counts at 100,000 keys. Larger files continue with
/// `read_to_end`.
pub(super) fn read_file(path: &Path) -> std::io::Result<Vec<u8>> {
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

/// The document of a payload file, checked and decoded.
pub(super) fn decode_frame<T: DeserializeOwned>(
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

impl Store {
    pub(super) fn read_entry_at(path: &Path, key: &str) -> Result<Entry> {
        Ok(Store::read_entry_sized(path, key)?.0)
    }

    /// The entry at `path` and the file's length in bytes.
    pub(super) fn read_entry_sized(path: &Path, key: &str) -> Result<(Entry, u64)> {
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
}
