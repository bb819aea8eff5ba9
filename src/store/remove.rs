//! Deleting keys (`isf db rm`). A key disappears atomically: its directory is renamed to a
//! `.deleting-` name first (readers no longer see it), then its files are removed; what a
//! crash leaves behind, `verify --fix` removes.
//!
//! Invariant: a symbolic link is never followed (E0613); a sub-store goes only on request.

use super::verify::list_dir;
use super::{DELETING, ENTRY, Kind, Result, Store, StoreError, frame, validate_name};
use crate::diagnostics::Code;
use std::fs;

impl Store {
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
}
