//! The store handle: creating and opening stores and sub-store directories, write options,
//! and locating a key's directory (every parent component a sub-store, created on demand).
//!
//! Invariants: a non-empty directory that is not a store is never written into (E0602); a
//! store's marker names its format version, and a sub-store opened on its own takes the
//! version of the store it belongs to (version 1 when none is found: nothing a version-1
//! reader cannot read).

use super::commit::clean_temps;
use super::entry::Entry;
use super::{
    ENTRY, Kind, MARKER, Metadata, Result, Store, StoreError, WriteOptions, WriterLock, frame,
    lock, meta, split_key,
};
use crate::diagnostics::Code;
use std::fs;
use std::path::{Path, PathBuf};

/// Format version of the store a sub-store directory opened on its own belongs to: the
/// marker's, found by going up through the parent sub-stores; version 1 (the conservative
/// choice: nothing a version-1 reader cannot read) when there is none.
pub(super) fn enclosing_format(dir: &Path) -> u16 {
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

/// A non-empty directory that is not a store: never written into.
pub(super) fn not_a_store(root: &Path) -> StoreError {
    StoreError::new(
        Code::E0602,
        format!(
            "{} exists, is not empty and is not an isf store",
            root.display()
        ),
    )
}

/// Whether `root` is a non-empty directory that is not a store (never written into).
///
/// Names starting with `.` are never keys: another process creating the same store at this
/// moment may have its temporary marker or the lock file there already. The marker is looked
/// for after the listing: a store never loses its marker, so a directory another process
/// turned into a store between a first look and the listing (its marker renamed into place,
/// its first keys written) is seen as the store it is, not as a foreign directory.
fn foreign_dir(root: &Path) -> Result<bool> {
    let is_store = || root.join(MARKER).is_file() || root.join(ENTRY).is_file();
    if is_store() || !root.is_dir() {
        return Ok(false);
    }
    let listed = fs::read_dir(root)
        .map_err(|e| StoreError::io(None, root, &e))?
        .flatten()
        .any(|e| !e.file_name().to_string_lossy().starts_with('.'));
    Ok(listed && !is_store())
}

impl Store {
    /// Create a store at `path` (creating directories), or open it if it already is one.
    /// Refuses a non-empty directory that is not a store.
    pub fn create(path: impl AsRef<Path>) -> Result<Store> {
        let root = path.as_ref().to_path_buf();
        if foreign_dir(&root)? {
            return Err(not_a_store(&root));
        }
        if root.join(MARKER).is_file() || root.join(ENTRY).is_file() {
            return Store::open(&root);
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
        if foreign_dir(root)? {
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

    /// The handle of the sub-store of this store at `dir`, whose full key is `prefix`: the
    /// same write options and format version.
    pub(super) fn child(&self, dir: PathBuf, prefix: String) -> Store {
        Store {
            root: dir,
            prefix,
            opts: self.opts,
            format: self.format,
        }
    }

    pub(super) fn full(&self, key: &str) -> String {
        if self.prefix.is_empty() {
            key.to_string()
        } else {
            format!("{}/{key}", self.prefix)
        }
    }

    /// Directory of `key`, checking that every parent component is a sub-store. With
    /// `create`, missing parent sub-stores are created.
    pub(super) fn locate(&self, key: &str, create: bool) -> Result<(PathBuf, String)> {
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

    pub(super) fn new_key_dir(&self, dir: &Path, key: &str) -> Result<()> {
        fs::create_dir_all(dir).map_err(|e| StoreError::io(Some(key), dir, &e))?;
        clean_temps(dir);
        Ok(())
    }

    pub(super) fn entry(&self, key: &str) -> Result<(PathBuf, String, Entry)> {
        let (dir, full) = self.locate(key, false)?;
        let e = Store::read_entry_at(&dir.join(ENTRY), &full)?;
        Ok((dir, full, e))
    }

    /// Existing entry of a key about to be written, refusing to overwrite stores and folders.
    pub(super) fn replaceable(&self, dir: &Path, full: &str, what: Kind) -> Result<Option<Entry>> {
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
}
