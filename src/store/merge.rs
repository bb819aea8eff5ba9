//! Merging stores (`isf db merge`): the keys of another store (a shard) copied or moved in.
//!
//! Invariants: the other store is verified first and must be intact; a conflict (a key in
//! both with different content) merges nothing; new keys are staged under temporary names,
//! made durable at once (one `syncfs` on Linux), then renamed into place, so a failure before
//! the renames leaves the store as it was; symbolic links are never followed or copied
//! (E0613); a store receiving keys of a newer format version raises its marker first.

use super::frame::{self, FileKind};
use super::verify::inside;
use super::{DELETING, ENTRY, Kind, MARKER, Result, Store, StoreError};
use crate::diagnostics::Code;
use rmpv::Value;
use std::fs;
use std::path::{Path, PathBuf};

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
pub(super) struct MergeItem {
    full: String,
    src: PathBuf,
    dst: PathBuf,
}

/// A merge destination directory that resolves outside the destination store.
pub(super) fn outside_error(key: &str, parent: &Path) -> StoreError {
    StoreError::at(
        Code::E0613,
        key,
        format!(
            "{} leads outside the destination store (a symbolic link?); nothing was merged there",
            parent.display()
        ),
    )
}

/// Size of the buffer files are copied through by `merge`.
pub(super) const COPY_BUF: usize = 256 << 10;

/// A failed copy: the path that failed (the source when reading, the destination when
/// writing) and whether it failed because the source is a symbolic link.
pub(super) struct CopyError {
    path: PathBuf,
    err: std::io::Error,
    link: bool,
}

pub(super) fn copy_err(path: &Path) -> impl Fn(std::io::Error) -> CopyError + '_ {
    move |err| CopyError {
        path: path.to_path_buf(),
        err,
        link: false,
    }
}

/// Copy a key directory, skipping temporary and to-be-deleted entries. Never follows a
/// symbolic link (it is an error), so nothing outside the source store is copied. Not
/// fsynced: the caller makes the copies durable at once ([`sync_all`]).
pub(super) fn copy_tree(
    src: &Path,
    dst: &Path,
    buf: &mut Vec<u8>,
) -> std::result::Result<(), CopyError> {
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
pub(super) fn copy_file(
    from: &Path,
    to: &Path,
    buf: &mut Vec<u8>,
) -> std::result::Result<(), CopyError> {
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
pub(super) fn sync_all<'a>(
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

/// True when two key directories hold the same files with the same bytes.
pub(super) fn same_content(a: &Path, b: &Path) -> bool {
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

pub(super) fn same_entry_payload(a: &[u8], b: &[u8]) -> bool {
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

impl Store {
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
    pub(super) fn raise_format(&self, v: u16) -> Result<()> {
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
    pub(super) fn merge_prepare(&self, other: &Store) -> Result<(Vec<MergeItem>, Vec<String>)> {
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
    pub(super) fn merge_copy(
        &self,
        plan: Vec<MergeItem>,
        identical: Vec<String>,
    ) -> Result<MergeReport> {
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
    pub(super) fn merge_plan(
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
                        let ours = self.child(dst, full);
                        let theirs = other.child(src, other.full(&k));
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
