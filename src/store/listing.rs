//! Listing keys: the keys of a store, recursively, and their kind, size, rows and metadata.
//!
//! A key is a directory whose entry file opens; a symbolic link is never a key (following it
//! would let store tools read outside the store). Sizes count a key's own files only: its
//! entry, the chunks its manifest lists, a folder's files; leftovers of interrupted writes
//! count for the store, not the key. At 100,000 keys every system call per key counts, so one
//! directory listing serves each level.

use super::entry::Entry;
use super::{ENTRY, FILES, Kind, Metadata, Result, Store, StoreError, validate_name};
use crate::diagnostics::Code;
use std::fs;
use std::path::Path;

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

/// Bytes of the files below `path` (links not followed; the listing's entry types spare a
/// stat per directory).
pub(super) fn dir_size(path: &Path) -> u64 {
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

/// Bytes of a key's own files: its entry, the chunk files its manifest lists (one `stat`
/// each, no directory walk), a folder's files, a sub-store's whole directory. Leftovers of
/// interrupted writes in the directory are not counted. A sub-store that is listed with its
/// keys (`recursive`) is measured by that listing instead (0 here).
pub(super) fn key_size(dir: &Path, e: &Entry, entry_len: u64, recursive: bool) -> u64 {
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

impl Store {
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
    pub(super) fn list_into(
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
                self.child(dir, self.full(&k))
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
}
