//! Values: keys holding one msgpack value (anything serde serialises), and the questions
//! asked of any key (does it exist, what kind, its metadata, is it intact).
//!
//! Values are stored by field name (msgpack maps, not arrays), so a struct reads back by
//! name in Python as well as in Rust.

use super::commit::remove_unreferenced_chunks;
use super::entry::Entry;
use super::table_io::read_chunk_sized;
use super::{Kind, Metadata, Result, Store, StoreError};
use crate::diagnostics::Code;
use rmpv::Value;
use serde::Serialize;
use serde::de::DeserializeOwned;

/// Serialise with field names (msgpack maps, not arrays) into a generic value.
pub(super) fn to_value<T: Serialize + ?Sized>(v: &T) -> std::result::Result<Value, String> {
    let bytes = rmp_serde::to_vec_named(v).map_err(|e| format!("cannot serialise: {e}"))?;
    rmpv::decode::read_value(&mut bytes.as_slice()).map_err(|e| format!("cannot serialise: {e}"))
}

pub(super) fn from_value<T: DeserializeOwned>(v: &Value) -> std::result::Result<T, String> {
    let mut bytes = Vec::new();
    rmpv::encode::write_value(&mut bytes, v).map_err(|e| e.to_string())?;
    rmp_serde::from_slice(&bytes).map_err(|e| format!("stored value does not fit the type: {e}"))
}

impl Store {
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
}
