//! Tables in the store: writing a table as chunks (small ones inline in the entry, format
//! version 2), appending rows as one new chunk, and reading them back.
//!
//! Invariants: every chunk read is checked completely (checksum, decoding, row count against
//! the manifest, declared precisions: a value off its declared grid is E0625); rows appended
//! must match the table's schema and declared precisions (E0609, E0626); the write itself
//! goes through the commit path (`commit.rs`).

use super::codec::chunk_content;
use super::commit::{Written, clean_temps, next_chunk, remove_unreferenced_chunks};
use super::entry::{ChunkRef, Entry, TableInfo, chunk_name, decode_frame, read_file};
use super::frame::{self, FileKind};
use super::table::{self, Column, ColumnSpec, DType, Table};
use super::{ENTRY, Kind, Metadata, Result, Store, StoreError, meta};
use crate::diagnostics::Code;
use std::borrow::Cow;
use std::path::Path;

pub(super) fn describe_schema(cols: &[ColumnSpec]) -> String {
    cols.iter()
        .map(|c| match c.dtype {
            DType::F64Array(w) => format!("{}: f64_array[{w}]", c.name),
            ref d => format!("{}: {}", c.name, d.name()),
        })
        .collect::<Vec<_>>()
        .join(", ")
}

pub(super) fn read_chunk(dir: &Path, key: &str, c: &ChunkRef, info: &TableInfo) -> Result<Table> {
    Ok(read_chunk_full(dir, key, c, info)?.0)
}

/// Check one chunk completely (checksum, decoding, rows, declared precisions); its length
/// in bytes.
pub(super) fn read_chunk_sized(
    dir: &Path,
    key: &str,
    c: &ChunkRef,
    info: &TableInfo,
) -> Result<u64> {
    Ok(read_chunk_full(dir, key, c, info)?.1)
}

/// The declared precisions of a stored table's columns (`<column>.precision` attributes); a
/// manifest whose precision attribute is not a positive decimal step of a float column is
/// E0625 like a value off its grid.
pub(super) fn stored_quanta(info: &TableInfo, key: &str) -> Result<Vec<Option<table::Quantum>>> {
    table::quanta(&info.columns, &mut info.attrs.iter())
        .map_err(|m| StoreError::at(Code::E0625, key, m))
}

/// E0625 when a quantised column of `t` holds a value off its declared precision's grid:
/// the writer rounds every value to a multiple of the step, so such a value means the data
/// is not what was written (or was written without keeping the bound).
pub(super) fn check_quanta(
    t: &Table,
    quanta: &[Option<table::Quantum>],
    key: &str,
    path: &Path,
) -> Result<()> {
    for ((name, col), q) in t.columns.iter().zip(quanta) {
        let values = match (q, col) {
            (Some(_), Column::F64(v)) => Cow::Borrowed(v.as_slice()),
            // A chunk read back is in row-major layout: borrowed, not copied.
            (Some(_), Column::F64Array(a)) => table::row_major(a),
            _ => continue,
        };
        let Some(q) = q else { continue };
        if let Some((i, x)) = q.off_grid(&values) {
            return Err(StoreError::at(
                Code::E0625,
                key,
                format!(
                    "{}: column '{name}' value {x} (entry {i}) is not a multiple of its declared precision {}; the stored data breaks its bound of ±{}",
                    path.display(),
                    q.step,
                    q.step / 2.0
                ),
            ));
        }
    }
    Ok(())
}

pub(super) fn read_chunk_full(
    dir: &Path,
    key: &str,
    c: &ChunkRef,
    info: &TableInfo,
) -> Result<(Table, u64)> {
    let schema = &info.columns;
    // An inline chunk was checksummed with its entry; it is decoded and counted the same way.
    let (path, owned, len);
    let doc = match &c.inline {
        Some(doc) => {
            path = dir.join(ENTRY);
            len = 0;
            doc
        }
        None => {
            path = dir.join(&c.file);
            let bytes = read_file(&path).map_err(|e| StoreError::io(Some(key), &path, &e))?;
            len = bytes.len() as u64;
            owned = decode_frame(&bytes, FileKind::Chunk, key, &path)?;
            &owned
        }
    };
    let t = table::chunk_table(doc, schema)
        .map_err(|m| StoreError::at(Code::E0601, key, format!("{}: {m}", path.display())))?;
    check_quanta(&t, &stored_quanta(info, key)?, key, &path)?;
    if t.rows() != Ok(c.rows as usize) {
        return Err(StoreError::at(
            Code::E0601,
            key,
            format!("{}: row count differs from the manifest", path.display()),
        ));
    }
    Ok((t, len))
}

impl Store {
    /// Store a table (replacing a value or table at `key`), split into chunks of about
    /// [`WriteOptions::chunk_bytes`](super::WriteOptions::chunk_bytes). A table with zero rows declares the schema for later
    /// [`Store::append_rows`].
    pub fn put_table(&self, key: &str, t: &Table, meta: Metadata) -> Result<()> {
        let (dir, full) = self.locate(key, true)?;
        let rows = t
            .rows()
            .map_err(|m| StoreError::at(Code::E0609, &full, m))?;
        let quanta = table::quanta(&t.schema(), &mut t.attrs.iter())
            .map_err(|m| StoreError::at(Code::E0626, &full, m))?;
        self.replaceable(&dir, &full, Kind::Table)?;
        self.new_key_dir(&dir, &full)?;
        let mut chunks = Vec::new();
        // A small table goes into the entry itself (one file per key, read in one go).
        let raw = t.raw_bytes();
        if rows > 0
            && self.format >= 2
            && raw <= self.opts.inline_bytes
            && raw <= self.opts.chunk_bytes
        {
            chunks.push(ChunkRef {
                file: String::new(),
                rows: rows as u64,
                inline: Some(table::chunk_doc_quantised(
                    t,
                    rows,
                    self.opts.decimal,
                    &quanta,
                )),
            });
        }
        let mut next = next_chunk(&dir);
        let per_row = (raw / rows.max(1)).max(1);
        let step = (self.opts.chunk_bytes / per_row).max(1);
        let mut a = if chunks.is_empty() { 0 } else { rows };
        let mut written = Written::default();
        while a < rows {
            let b = (a + step).min(rows);
            let (c, f) = self
                .write_chunk(&dir, &full, t, a..b, next, &quanta)
                .inspect_err(|_| written.discard())?;
            chunks.push(c);
            written.add(dir.join(chunk_name(next)), f);
            next += 1;
            a = b;
        }
        let info = TableInfo {
            columns: t.schema(),
            attrs: t.attrs.clone().into_iter().collect(),
            rows: rows as u64,
            chunks,
        };
        let keep: Vec<String> = info
            .chunks
            .iter()
            .filter(|c| c.inline.is_none())
            .map(|c| c.file.clone())
            .collect();
        let entry = Entry {
            kind: Kind::Table,
            meta: meta.stamped(),
            value: None,
            table: Some(info),
        };
        self.write_entry_after(&dir, &full, &entry, &written.files)
            .inspect_err(|_| written.discard())?;
        remove_unreferenced_chunks(&dir, &keep, 0);
        Ok(())
    }

    /// The bytes of the chunk file that [`Store::put_table`] writes for all rows of `t` as
    /// one chunk (quantised, encoded, compressed and framed; nothing is written). For
    /// benchmarks of the encoder (`benches/precision.rs`).
    pub fn encode_chunk(&self, t: &Table) -> Result<Vec<u8>> {
        let rows = t.rows().map_err(|m| StoreError::new(Code::E0609, m))?;
        let quanta = table::quanta(&t.schema(), &mut t.attrs.iter())
            .map_err(|m| StoreError::new(Code::E0626, m))?;
        self.chunk_bytes("", t, 0..rows, &quanta)
    }

    /// The encoded chunk file of rows `range` of `t`.
    pub(super) fn chunk_bytes(
        &self,
        key: &str,
        t: &Table,
        range: std::ops::Range<usize>,
        quanta: &[Option<table::Quantum>],
    ) -> Result<Vec<u8>> {
        let doc = table::chunk_doc_rows(t, range, self.opts.decimal, quanta);
        let content = chunk_content(&doc, &t.schema(), quanta);
        self.encode_payload(
            key,
            FileKind::Chunk,
            content,
            frame::V1,
            &doc,
            doc.encoded_len(),
        )
    }

    /// Append rows to the table at `key` as one new chunk (creating the table with fresh
    /// metadata if `key` does not exist). The columns must match the table's schema. Returns
    /// the table's new row count. Readers see the new rows all at once or not at all.
    pub fn append_rows(&self, key: &str, t: &Table) -> Result<u64> {
        let (dir, full) = self.locate(key, true)?;
        let rows = t
            .rows()
            .map_err(|m| StoreError::at(Code::E0609, &full, m))?;
        let mut entry = match Store::read_entry_at(&dir.join(ENTRY), &full) {
            Ok(e) => e,
            Err(e) if e.code == Code::E0604 => {
                self.put_table(key, t, Metadata::now())?;
                return Ok(rows as u64);
            }
            Err(e) => return Err(e),
        };
        let Some(info) = entry.table.as_mut() else {
            return Err(StoreError::at(
                Code::E0605,
                &full,
                format!("is a {}, not a table", entry.kind.name()),
            ));
        };
        if info.columns != t.schema() {
            return Err(StoreError::at(
                Code::E0609,
                &full,
                format!(
                    "appended columns [{}] differ from the table's [{}]",
                    describe_schema(&t.schema()),
                    describe_schema(&info.columns)
                ),
            ));
        }
        // New rows are rounded to the table's declared precisions; declaring another one (or
        // one the stored rows were not written with) would put chunks of two grids under one
        // bound, so it is refused.
        for (k, v) in &t.attrs {
            if k.ends_with(".precision") && info.attrs.get(k) != Some(v) {
                return Err(StoreError::at(
                    Code::E0626,
                    &full,
                    format!(
                        "appended rows declare {k} = {v}, the stored table {}",
                        match info.attrs.get(k) {
                            Some(x) => format!("{x}"),
                            None => "none (its rows are stored unrounded)".into(),
                        }
                    ),
                ));
            }
        }
        let quanta = stored_quanta(info, &full)?;
        clean_temps(&dir);
        let mut written = Written::default();
        if rows > 0 {
            let n = next_chunk(&dir);
            let (chunk, f) = self.write_chunk(&dir, &full, t, 0..rows, n, &quanta)?;
            written.add(dir.join(chunk_name(n)), f);
            info.chunks.push(chunk);
            info.rows += rows as u64;
        }
        // A new attribute goes last, a known one keeps its place.
        info.attrs.extend(t.attrs.clone());
        let total = info.rows;
        entry.meta.modified = Some(meta::now_rfc3339());
        self.write_entry_after(&dir, &full, &entry, &written.files)
            .inspect_err(|_| written.discard())?;
        Ok(total)
    }

    /// The manifest of the table at `key` (schema, attributes, chunks), without row data.
    pub fn table_info(&self, key: &str) -> Result<TableInfo> {
        let (_, full, e) = self.entry(key)?;
        e.table.ok_or_else(|| {
            StoreError::at(
                Code::E0605,
                &full,
                format!("is a {}, not a table", e.kind.name()),
            )
        })
    }

    /// Load a whole table.
    pub fn get_table(&self, key: &str) -> Result<Table> {
        // A writer replacing the table may remove chunks listed in the manifest we read;
        // read the manifest once more before reporting a missing chunk.
        match self.get_table_once(key) {
            Err(e) if e.code == Code::E0607 => self.get_table_once(key),
            r => r,
        }
    }

    pub(super) fn get_table_once(&self, key: &str) -> Result<Table> {
        let (dir, full, e) = self.entry(key)?;
        let Some(info) = e.table else {
            return Err(StoreError::at(
                Code::E0605,
                &full,
                format!("is a {}, not a table", e.kind.name()),
            ));
        };
        let mut t = Table::new();
        for c in &info.columns {
            let col = match c.dtype {
                DType::F64 => Column::F64(vec![]),
                DType::I64 => Column::I64(vec![]),
                DType::Str => Column::Str(vec![]),
                DType::F64List => Column::F64List(vec![]),
                // No capacity from the manifest: a damaged one must not cause a huge allocation.
                DType::F64Array(w) => Column::F64Array(ndarray::Array2::zeros((0, w))),
            };
            t.columns.push((c.name.clone(), col));
        }
        for c in &info.chunks {
            t.extend(read_chunk(&dir, &full, c, &info)?);
        }
        t.attrs = info.attrs.into_iter().collect();
        Ok(t)
    }
}
