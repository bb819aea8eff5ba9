//! Verify, fix and quarantine: checking every entry and chunk of a store, removing the
//! leftovers of interrupted writes, and moving damaged keys out of the way.
//!
//! Invariants: nothing here follows a symbolic link (a link inside a store is reported as
//! E0613, and `fix` removes the link, never its target); `fix` touches only paths whose
//! directory resolves inside the store; a temporary file is removed only when its writing
//! process is gone, an unreferenced chunk only after a grace period (it may belong to an
//! append in progress); `quarantine` deletes nothing.

use super::commit::clean_temps;
use super::entry::{TableInfo, chunk_number};
use super::table_io::read_chunk_sized;
use super::{
    DELETING, ENTRY, Kind, MARKER, ORPHAN_GRACE_S, QUARANTINE, Result, Store, StoreError, frame,
    meta, split_key, validate_name,
};
use crate::diagnostics::Code;
use std::fs;
use std::path::{Path, PathBuf};

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

/// Check a table key's chunks against its manifest `info`: each listed chunk exists and
/// reads back intact, the rows add up; chunk files the manifest does not list are strays.
/// `listing` is the key directory's listing.
fn verify_table(
    path: &Path,
    full: &str,
    info: &TableInfo,
    listing: &[(String, fs::FileType)],
    r: &mut VerifyReport,
) {
    let mut rows = 0;
    let mut damaged = false;
    for c in &info.chunks {
        r.chunks += 1;
        if c.inline.is_none() && !listing.iter().any(|(n, _)| *n == c.file) {
            damaged = true;
            r.problems.push(StoreError::at(
                Code::E0601,
                full,
                format!(
                    "{}: chunk listed in the manifest is missing",
                    path.join(&c.file).display()
                ),
            ));
            continue;
        }
        match read_chunk_sized(path, full, c, info) {
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
            full,
            format!("manifest says {} rows, chunks hold {rows}", info.rows),
        ));
    }
    for (f, _) in listing {
        if chunk_number(f).is_some() && !info.chunks.iter().any(|c| c.file == *f) {
            r.strays.push(path.join(f));
        }
    }
}

/// The names and types of a directory's entries (empty when it cannot be read); types come
/// from the directory listing itself, so links are seen as links.
pub(super) fn list_dir(dir: &Path) -> Vec<(String, fs::FileType)> {
    fs::read_dir(dir)
        .map(|rd| {
            rd.flatten()
                .filter_map(|e| Some((e.file_name().into_string().ok()?, e.file_type().ok()?)))
                .collect()
        })
        .unwrap_or_default()
}

/// Every symbolic link below `dir` (not following any).
pub(super) fn links_below(dir: &Path, out: &mut Vec<PathBuf>) {
    for (n, t) in list_dir(dir) {
        if t.is_symlink() {
            out.push(dir.join(n));
        } else if t.is_dir() {
            links_below(&dir.join(n), out);
        }
    }
}

/// Record a symbolic link found by `verify` (E0613, naming where it points).
pub(super) fn found_link(r: &mut VerifyReport, key: Option<&str>, path: PathBuf) {
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
pub(super) fn inside(root: &Path, path: &Path) -> bool {
    let (Some(parent), Some(name)) = (path.parent(), path.file_name()) else {
        return false;
    };
    name != ".." && fs::canonicalize(parent).is_ok_and(|c| c.starts_with(root))
}

impl Store {
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
            self.verify_key(&name, path, r);
        }
    }

    /// Check the key `name` of this store, whose directory is `path`: its entry, links and
    /// leftovers inside it, then a sub-store's keys or a table's chunks.
    fn verify_key(&self, name: &str, path: PathBuf, r: &mut VerifyReport) {
        let full = self.full(name);
        // One listing of the key directory serves the link, entry, stray and chunk checks.
        let listing = list_dir(&path);
        match listing.iter().find(|(n, _)| n == ENTRY) {
            None => {
                r.strays.push(path);
                return;
            }
            Some((_, t)) if t.is_symlink() => {
                found_link(r, Some(&full), path.join(ENTRY));
                return;
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
                return;
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
                return;
            }
        }
        match (e.kind, e.table) {
            (Kind::Store, _) => self.child(path, full).verify_into(r),
            (Kind::Table, Some(info)) => verify_table(&path, &full, &info, &listing, r),
            _ => {}
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
}
