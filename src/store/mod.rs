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
//! Readers need no locks. A key exists once its `key.isfd` exists; every write of a key is
//! one commit (new chunks under fresh names, the entry under a temporary name, one
//! concurrent fsync, then the rename that publishes it), and a published entry never refers
//! to anything that is not durable — see `commit.rs`, where that code and its invariant live.
//! Writers take the store's lock ([`Store::create_locked`], [`lock`]): one writing process
//! per store; several processes write separate shard stores and [`Store::merge`] them.
//!
//! This file holds the public surface: the [`Store`] handle, [`Kind`], the reserved names
//! and key-name rules. The work is done in one file per responsibility:
//!
//! * `open.rs` — creating and opening stores, locating a key's directory;
//! * `entry.rs` — entry documents (kind, metadata, value or manifest), reading payload files;
//! * `commit.rs` — the commit path (fresh chunks, temporary entry, one fsync, rename);
//! * `codec.rs` — [`WriteOptions`] and the compressor each payload file gets;
//! * `values.rs` — values, and the questions asked of any key;
//! * `table_io.rs` — tables written as chunks, appended, read and checked;
//! * `listing.rs` — keys, recursively, with kind, size, rows and metadata;
//! * `substore.rs` — sub-stores and managed folders;
//! * `remove.rs` — deleting keys (`isf db rm`);
//! * `verify.rs` — verify, fix and quarantine;
//! * `merge.rs` — merging shard stores (copied or moved);
//! * public modules: `table.rs` (in-memory tables and the chunk encoding), `frame.rs` (file
//!   framing and atomic writes), `blosc.rs`, `meta.rs`, `error.rs`, `lock.rs` (one writer
//!   per store), `export.rs` (CSV, `.npy`, Parquet).

pub mod blosc;
mod codec;
mod commit;
mod entry;
pub mod error;
pub mod export;
pub mod frame;
mod listing;
pub mod lock;
mod merge;
pub mod meta;
mod open;
mod remove;
mod substore;
pub mod table;
mod table_io;
mod values;
mod verify;

pub use blosc::{Codec, Shuffle};
pub use codec::WriteOptions;
pub use entry::{ChunkRef, TableInfo};
pub use error::{Result, StoreError};
pub use listing::KeyInfo;
pub use lock::WriterLock;
pub use merge::MergeReport;
pub use meta::Metadata;
pub use table::{Column, ColumnSpec, DType, Table};
pub use verify::{Quarantined, VerifyReport};

use crate::diagnostics::Code;
use serde::{Deserialize, Serialize};
use std::path::PathBuf;

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
