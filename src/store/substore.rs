//! Sub-stores and managed folders: keys that are directories of their own. A sub-store's
//! child keys are directories beside its entry; a managed folder holds arbitrary user files
//! under `files/`.
//!
//! Invariant: neither kind is ever overwritten by a write of another kind (E0605); they are
//! only removed whole ([`Store::delete`]).

use super::entry::Entry;
use super::{FILES, Kind, Metadata, Result, Store, StoreError};
use crate::diagnostics::Code;
use std::fs;
use std::path::PathBuf;

impl Store {
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
        Ok(self.child(dir, full))
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
        Ok(self.child(dir, full))
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
}
