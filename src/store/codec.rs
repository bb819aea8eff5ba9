//! Codec choice: which compressor, level and shuffle a payload file gets, by what it holds
//! and how large it is. Measured on the 20 S4 soma traces (`benches/precision.rs`,
//! `benches/store.rs`); readers need none of it, since every blosc header names its codec.
//!
//! Invariant: the settings of small documents, values and integer chunks are the ones the
//! committed golden stores pin byte for byte (`tests/store/golden.rs`); changing them changes
//! the bytes isf writes.

use super::blosc::{Codec, Shuffle};
use super::table::{self, ColumnSpec, DType};

/// How payload files are compressed.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct WriteOptions {
    /// Compressor inside the blosc frame of large value entries and of large chunks of
    /// decimal-encoded or integer columns (chunks of raw doubles, quantised chunks and
    /// manifests use the settings measured best for them, see `payload_codec`).
    pub codec: Codec,
    /// Compression level 0–9 (for zstd, c-blosc uses zstd level `2·clevel − 1`, 22 at 9).
    pub clevel: u8,
    /// Shuffle filter.
    pub shuffle: Shuffle,
    /// Store float columns whose values are all short decimals (as parsed from text with a
    /// fixed number of decimals) as scaled integer deltas; lossless, checked bit for bit.
    pub decimal: bool,
    /// Target raw size of one table chunk in bytes (`put_table` splits by rows; a chunk holds
    /// at least one row).
    pub chunk_bytes: usize,
    /// A table written by `put_table` whose rows encode to at most this many bytes is held
    /// inline in its entry file (format version 2) instead of a chunk file of its own: one
    /// file per key instead of two, for the many one-row trial tables of a large run. 0
    /// never inlines. Stores of format version 1 never get inline chunks.
    pub inline_bytes: usize,
}

impl Default for WriteOptions {
    /// zstd (c-blosc level 5), bit shuffle, decimal encoding on, 4 MiB chunks: the smallest
    /// of the fast settings on the S4 soma traces (`benches/store.rs`); tables up to 32 KiB
    /// inline.
    fn default() -> WriteOptions {
        WriteOptions {
            codec: Codec::Zstd,
            clevel: 5,
            shuffle: Shuffle::Bit,
            decimal: true,
            chunk_bytes: 4 << 20,
            inline_bytes: 32 << 10,
        }
    }
}

/// Payload documents up to this many bytes are compressed with lz4 whatever
/// [`WriteOptions::codec`] says: c-blosc 1 builds a fresh zstd context for every buffer it
/// decompresses (about 50 µs, against 1–2 µs for lz4 on a 4 KiB entry), which dominated
/// listing and verifying stores of 100,000 small keys. Larger documents amortise it.
pub(super) const SMALL_DOC: usize = 64 << 10;

/// What a payload document holds, which decides how a large one is compressed
/// ([`payload_codec`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Content {
    /// An entry holding a value, a sub-store or a folder: mostly text.
    Value,
    /// An entry holding a table's manifest: schema and attributes (often a column's labels,
    /// such as a trace's sample times, as msgpack floats).
    Manifest,
    /// A chunk mostly of raw doubles (full-precision simulator output).
    Floats,
    /// A chunk mostly of integers: decimal-encoded floats, `i64` columns, offsets.
    Integers,
    /// A chunk holding a column stored to a declared precision (integer multiples of the
    /// step, as differences along each row).
    Quantised,
}

/// Codec, level, shuffle and item size for a payload document of `len` bytes holding
/// `content`, set by the measurements on the 20 S4 soma traces in `benches/precision.rs`
/// (`ISF_PRECISION_CODECS=1` prints the whole table):
///
/// * up to [`SMALL_DOC`]: lz4 (see there);
/// * raw doubles: lz4 level 9, byte shuffle. The low mantissa bits are noise that no
///   entropy coder removes: 1.38× against zstd level 5's 1.40×, at ten times the speed;
/// * quantised columns: zstd level 1 (c-blosc `clevel` 1), bit shuffle: 12.6× smaller than
///   raw at 1 µV against 13.3× at level 5, about three times faster to encode;
/// * manifests: zstd level 1 (the same size as level 5 on a trace's 12,001 sample times,
///   ten times faster);
/// * values and integer chunks: [`WriteOptions`] (zstd level 5, bit shuffle for chunks).
///   These are the encodings the committed golden stores pin byte for byte
///   (`tests/store/golden.rs`), so their settings stay as they were.
///
/// Readers need none of this: the blosc header names the codec of every frame.
pub(super) fn payload_codec(
    opts: &WriteOptions,
    content: Content,
    len: usize,
) -> (Codec, u8, Shuffle, usize) {
    // An entry is mostly text (metadata, the script); shuffling 8-byte lanes of text only
    // hurts. Chunks are mostly 8-byte numbers. Small documents keep the settings the golden
    // stores pin (lz4, the configured shuffle for chunks).
    if len <= SMALL_DOC {
        return match content {
            Content::Value | Content::Manifest => (Codec::Lz4, opts.clevel, Shuffle::Byte, 1),
            _ => (Codec::Lz4, opts.clevel, opts.shuffle, 8),
        };
    }
    let (shuffle, typesize) = match content {
        Content::Value | Content::Manifest => (Shuffle::Byte, 1),
        Content::Floats => (Shuffle::Byte, 8),
        Content::Integers => (opts.shuffle, 8),
        Content::Quantised => (Shuffle::Bit, 8),
    };
    let (codec, clevel) = match content {
        Content::Floats => (Codec::Lz4, 9),
        Content::Quantised | Content::Manifest => (Codec::Zstd, 1),
        Content::Value | Content::Integers => (opts.codec, opts.clevel),
    };
    (codec, clevel, shuffle, typesize)
}

/// What the numbers of a chunk document mostly are: quantised as soon as one column holds
/// a declared precision's multiples; raw doubles when they are at least half of the bytes.
pub(super) fn chunk_content(
    doc: &table::ChunkDoc,
    schema: &[ColumnSpec],
    quanta: &[Option<table::Quantum>],
) -> Content {
    use table::ColumnData;
    let (mut floats, mut other) = (0usize, 0usize);
    for (i, (c, spec)) in doc.columns.iter().zip(schema).enumerate() {
        let ColumnData::Bin(b) = &c.data else {
            continue;
        };
        if c.enc.is_some() && c.enc.as_deref() != Some("f64") {
            if quanta.get(i).is_some_and(Option::is_some) {
                return Content::Quantised;
            }
            other += b.len();
        } else if matches!(spec.dtype, DType::I64) {
            other += b.len();
        } else {
            floats += b.len();
        }
        other += c.offsets.as_ref().map_or(0, |o| o.len());
    }
    if floats > 0 && floats >= other {
        Content::Floats
    } else {
        Content::Integers
    }
}
