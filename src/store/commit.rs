//! The commit path: every write of a key is one commit, and this is the only code that makes
//! files of a store durable and visible.
//!
//! A key's entry (the manifest of a table) is the only file ever replaced: it is written to
//! a temporary name (leading `.`) in its final directory and renamed over the old one. Chunk
//! files are written once under fresh names (a name is never reused, [`next_chunk`]) and are
//! read only through a manifest that lists them. A write of a key is one commit:
//!
//! 1. write every new chunk file (under its final name, [`Store::write_chunk`]) and the new
//!    entry (under a temporary name);
//! 2. make them all durable at once — one concurrent fsync of all the files, which a
//!    journaling filesystem serves with one commit, not one per file;
//! 3. rename the entry into place and fsync the directory: the publication, atomic
//!    ([`Store::write_entry_after`], through `frame::write_atomic_after`).
//!
//! **Invariant: a published entry never refers to anything that is not durable, and a
//! result once reported written survives a crash.** Readers running beside a writer see
//! each key either as before or as after a write; a crash before step 3 leaves the key as
//! it was plus files no manifest lists (temporary entries, unlisted chunks), which readers
//! never open and [`Store::fix`] (or the next write to that directory) removes; a failed
//! write removes its own chunks at once ([`Written::discard`]).

use super::codec::{Content, payload_codec};
use super::entry::{ChunkRef, Entry, chunk_name, chunk_number};
use super::frame::{self, FileKind};
use super::table::{self, Table};
use super::{ENTRY, Kind, Result, Store, StoreError, blosc};
use crate::diagnostics::Code;
use serde::Serialize;
use std::fs;
use std::path::{Path, PathBuf};

/// Chunk files written for one table write and not yet listed by a published manifest.
#[derive(Default)]
pub(super) struct Written {
    pub(super) paths: Vec<PathBuf>,
    pub(super) files: Vec<fs::File>,
}

impl Written {
    pub(super) fn add(&mut self, path: PathBuf, f: fs::File) {
        self.paths.push(path);
        self.files.push(f);
    }

    /// The write failed before its manifest was published: its chunks are referenced by
    /// nothing, so they go (what is left after a crash instead, `verify --fix` removes).
    pub(super) fn discard(&self) {
        for p in &self.paths {
            let _ = fs::remove_file(p);
        }
    }
}

pub(super) fn chunk_files(dir: &Path) -> Vec<String> {
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
pub(super) fn next_chunk(dir: &Path) -> u64 {
    chunk_files(dir)
        .iter()
        .filter_map(|n| chunk_number(n))
        .max()
        .map_or(0, |n| n + 1)
}

pub(super) fn remove_unreferenced_chunks(dir: &Path, keep: &[String], min_age_s: u64) {
    for f in chunk_files(dir) {
        let p = dir.join(&f);
        if !keep.contains(&f) && (min_age_s == 0 || frame::older_than(&p, min_age_s)) {
            let _ = fs::remove_file(p);
        }
    }
}

pub(super) fn temps_in(dir: &Path) -> Vec<PathBuf> {
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
pub(super) fn clean_temps(dir: &Path) {
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

impl Store {
    pub(super) fn write_entry(&self, dir: &Path, key: &str, entry: &Entry) -> Result<()> {
        self.write_entry_after(dir, key, entry, &[])
    }

    /// Publish `entry` once the `chunks` it lists (written, open, not yet durable) are
    /// durable: the commit of a table write (see the module doc for the invariant).
    pub(super) fn write_entry_after(
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
    pub(super) fn encode_payload<T: Serialize>(
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

    /// Encode rows `range` of `t` and write them as chunk file number `n`, under its final
    /// name and not yet durable: no manifest lists it yet, so no reader looks at it, and the
    /// manifest that will list it is only published once it is durable
    /// ([`Store::write_entry_after`]). Returns the chunk's reference and the open file.
    pub(super) fn write_chunk(
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
}
