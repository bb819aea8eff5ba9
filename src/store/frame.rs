//! Payload files: the byte framing every `*.isfd` file of a store shares, and the liveness of
//! temporary files (written by [`crate::files::write_atomic`]).
//!
//! Layout (all integers little-endian; `docs/store-format.md` is the normative description):
//!
//! ```text
//! offset  size  field
//! 0       8     magic  b"ISFSTORE"
//! 8       2     format version (u16): 1, or 2 for an entry holding inline chunks
//! 10      1     file kind: 1 = key entry, 2 = table chunk
//! 11      1     reserved, 0
//! 12      4     reserved, 0
//! 16      8     body length B (u64)
//! 24      8     decoded (msgpack) length (u64)
//! 32      B     body: one c-blosc frame holding the msgpack document
//! 32+B    4     CRC-32 (IEEE, as zlib's crc32) of bytes [0, 32+B)
//! ```
//!
//! The checksum is verified before anything is decompressed or decoded, so a flipped bit or a
//! truncated file is reported as corrupt instead of reaching c-blosc or msgpack.

use super::blosc::{self, Codec, Shuffle};
// The store writes through the crate's one atomic writer; its temporary names are the ones
// `temp_is_stale` below judges.
pub use crate::files::{
    TMP_PREFIX, host_tag, hostname, sync_dir, temp_path, write_atomic, write_atomic_after,
};
use std::fs;
use std::path::Path;

/// First eight bytes of every payload file.
pub const MAGIC: &[u8; 8] = b"ISFSTORE";
/// The newest format version this code reads and writes. Version 2 adds table chunks held
/// inline in the entry file; every other file is written as version 1, byte for byte what a
/// version-1 writer writes, so older readers still read all they can.
pub const VERSION: u16 = 2;
/// The first format version (no inline chunks).
pub const V1: u16 = 1;
/// Header length in bytes.
pub const HEADER: usize = 32;

/// What a payload file holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FileKind {
    /// A key's entry (`key.isfd`): kind, metadata, and the value or the table manifest.
    Entry = 1,
    /// One chunk of table rows.
    Chunk = 2,
}

/// Why a payload file could not be decoded.
#[derive(Debug, PartialEq)]
pub enum FrameError {
    /// Damaged: wrong magic, wrong length, checksum mismatch, bad blosc frame.
    Corrupt(String),
    /// Intact but written by a newer format version.
    Version(u16),
}

/// Encode `msgpack` as a complete payload file of format `version`, shuffling items of
/// `typesize` bytes (8 for table chunks: numeric columns are raw f64/i64 arrays inside the
/// document, so grouping the byte or bit lanes of 8-byte items is what makes them compress;
/// 1, no shuffle, for text-like entries).
pub fn encode(
    kind: FileKind,
    version: u16,
    msgpack: &[u8],
    codec: Codec,
    clevel: u8,
    shuffle: Shuffle,
    typesize: usize,
) -> Option<Vec<u8>> {
    // The frame is compressed straight behind the header: no second buffer, no copy. A
    // fresh zeroed allocation of this size comes from the system as untouched pages, so only
    // the bytes c-blosc writes cost anything.
    let mut out = vec![0u8; HEADER + blosc::max_compressed(msgpack.len()) + 4];
    let n = blosc::compress_into(
        msgpack,
        &mut out[HEADER..],
        codec,
        clevel,
        shuffle,
        typesize,
    )?;
    out.truncate(HEADER + n);
    out[..8].copy_from_slice(MAGIC);
    out[8..10].copy_from_slice(&version.to_le_bytes());
    out[10] = kind as u8;
    out[16..24].copy_from_slice(&(n as u64).to_le_bytes());
    out[24..32].copy_from_slice(&(msgpack.len() as u64).to_le_bytes());
    let crc = crc32fast::hash(&out);
    out.extend_from_slice(&crc.to_le_bytes());
    Some(out)
}

/// Check the framing and checksum of a payload file and return its msgpack document.
pub fn decode(bytes: &[u8], expect: FileKind) -> Result<Vec<u8>, FrameError> {
    let corrupt = |m: String| Err(FrameError::Corrupt(m));
    if bytes.len() < HEADER + 4 {
        return corrupt(format!(
            "file is {} bytes, shorter than a header",
            bytes.len()
        ));
    }
    if &bytes[..8] != MAGIC {
        return corrupt("bad magic bytes (not an isf store file)".into());
    }
    let u64_at = |o: usize| u64::from_le_bytes(bytes[o..o + 8].try_into().expect("8 bytes"));
    let body_len = u64_at(16);
    let expected = (HEADER as u64 + 4).checked_add(body_len);
    if expected != Some(bytes.len() as u64) {
        return corrupt(format!(
            "truncated or extended: header announces {} bytes, file has {}",
            body_len.saturating_add(HEADER as u64 + 4),
            bytes.len()
        ));
    }
    let end = bytes.len() - 4;
    let stored = u32::from_le_bytes(bytes[end..].try_into().expect("4 bytes"));
    let actual = crc32fast::hash(&bytes[..end]);
    if stored != actual {
        return corrupt(format!(
            "checksum mismatch (stored {stored:08x}, computed {actual:08x})"
        ));
    }
    let version = u16::from_le_bytes([bytes[8], bytes[9]]);
    if !(V1..=VERSION).contains(&version) {
        return Err(FrameError::Version(version));
    }
    if bytes[10] != expect as u8 {
        return corrupt(format!(
            "file kind {} where {} was expected",
            bytes[10], expect as u8
        ));
    }
    let raw = blosc::decompress(&bytes[HEADER..end]).map_err(FrameError::Corrupt)?;
    if raw.len() as u64 != u64_at(24) {
        return corrupt("decoded length differs from the header".into());
    }
    Ok(raw)
}

/// The writer of a temporary file, from its name.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TempOwner {
    pub pid: u32,
    /// The writer's host tag ([`host_tag`]); `None` in names written by isf before host tags.
    pub host: Option<String>,
}

/// The writer embedded in a temporary name, if it is one.
pub fn temp_owner(name: &str) -> Option<TempOwner> {
    let first = name.strip_prefix(TMP_PREFIX)?.split('-').next()?;
    let (pid, host) = match first.split_once('@') {
        Some((p, h)) => (p, Some(h.to_string())),
        None => (first, None),
    };
    Some(TempOwner {
        pid: pid.parse().ok()?,
        host,
    })
}

/// Age after which a temporary file whose writer cannot be checked is taken as abandoned.
pub const TEMP_GRACE_S: u64 = 3600;

/// True when a temporary file may be removed: its writer is gone. A pid is only judged on its
/// own host (through `/proc`); a file from another machine of a shared filesystem (or from an
/// older isf that wrote no host tag, or where `/proc` is missing) is taken as abandoned once
/// it is older than [`TEMP_GRACE_S`]. The store's writer lock keeps a live writer from
/// meeting a cleaner in the first place; this is the second line of defence.
pub fn temp_is_stale(path: &Path) -> bool {
    let Some(name) = path.file_name().and_then(|n| n.to_str()) else {
        return false;
    };
    let Some(owner) = temp_owner(name) else {
        return false;
    };
    let here = owner.host.as_deref() == Some(host_tag());
    if here && owner.pid == std::process::id() {
        return false;
    }
    if here && Path::new("/proc/self").exists() {
        return !Path::new(&format!("/proc/{}", owner.pid)).exists();
    }
    older_than(path, TEMP_GRACE_S)
}

/// True when `path` was last modified more than `secs` seconds ago.
pub fn older_than(path: &Path, secs: u64) -> bool {
    fs::symlink_metadata(path)
        .and_then(|m| m.modified())
        .ok()
        .and_then(|t| t.elapsed().ok())
        .is_some_and(|age| age.as_secs() > secs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frame_roundtrip_and_damage() {
        let doc = rmp_serde::to_vec(&vec![1.5f64; 1000]).unwrap();
        let f = encode(FileKind::Entry, V1, &doc, Codec::Lz4, 5, Shuffle::Byte, 8).unwrap();
        assert_eq!(decode(&f, FileKind::Entry).unwrap(), doc);
        assert!(matches!(
            decode(&f, FileKind::Chunk),
            Err(FrameError::Corrupt(_))
        ));
        for cut in [0, 10, HEADER, f.len() - 1] {
            assert!(matches!(
                decode(&f[..cut], FileKind::Entry),
                Err(FrameError::Corrupt(_))
            ));
        }
        for i in [0, 9, 20, HEADER + 3, f.len() - 2] {
            let mut g = f.clone();
            g[i] ^= 0x40;
            assert!(
                decode(&g, FileKind::Entry).is_err(),
                "flip at {i} undetected"
            );
        }
        let f2 = encode(
            FileKind::Entry,
            VERSION,
            &doc,
            Codec::Zstd,
            5,
            Shuffle::Bit,
            1,
        )
        .unwrap();
        assert_eq!(decode(&f2, FileKind::Entry).unwrap(), doc);
        let mut v3 = f.clone();
        v3[8] = 3;
        let end = v3.len() - 4;
        let crc = crc32fast::hash(&v3[..end]);
        v3[end..].copy_from_slice(&crc.to_le_bytes());
        assert_eq!(decode(&v3, FileKind::Entry), Err(FrameError::Version(3)));
    }

    #[test]
    fn temp_names_carry_the_pid_and_host() {
        let p = temp_path(Path::new("/x"), "key.isfd");
        let name = p.file_name().unwrap().to_str().unwrap();
        assert_eq!(
            temp_owner(name),
            Some(TempOwner {
                pid: std::process::id(),
                host: Some(host_tag().to_string())
            })
        );
        assert_eq!(temp_owner("chunk-000001.isfd"), None);
        // Names of an isf before host tags still parse (host unknown).
        assert_eq!(
            temp_owner(".tmp-17-3-key.isfd"),
            Some(TempOwner {
                pid: 17,
                host: None
            })
        );
        assert_ne!(
            crate::files::tag_of("node-1"),
            crate::files::tag_of("node-2")
        );
    }

    /// A dead pid is only trusted on its own host: the same (dead) pid from another host, or
    /// without a host tag, waits for the age limit.
    #[test]
    fn liveness_is_judged_on_the_writers_host_only() {
        let d = tempfile::tempdir().unwrap();
        // A pid that is not running: a child that has exited and been reaped.
        let mut c = std::process::Command::new("true").spawn().unwrap();
        let dead = c.id();
        c.wait().unwrap();
        let mk = |name: String| {
            let p = d.path().join(name);
            fs::write(&p, b"x").unwrap();
            p
        };
        let other = if host_tag() == "00000000" {
            "00000001"
        } else {
            "00000000"
        };
        let here = mk(format!("{TMP_PREFIX}{dead}@{}-0-a", host_tag()));
        let there = mk(format!("{TMP_PREFIX}{dead}@{other}-0-b"));
        let untagged = mk(format!("{TMP_PREFIX}{dead}-0-c"));
        let mine = mk(format!(
            "{TMP_PREFIX}{}@{}-0-d",
            std::process::id(),
            host_tag()
        ));
        if Path::new("/proc/self").exists() {
            assert!(temp_is_stale(&here), "dead pid on this host");
        }
        assert!(
            !temp_is_stale(&there),
            "another host's pid is not ours to judge"
        );
        assert!(!temp_is_stale(&untagged));
        assert!(!temp_is_stale(&mine));
        // Old enough, the other host's file counts as abandoned.
        let old = std::time::SystemTime::now() - std::time::Duration::from_secs(TEMP_GRACE_S + 60);
        for p in [&there, &untagged] {
            fs::File::options()
                .write(true)
                .open(p)
                .unwrap()
                .set_modified(old)
                .unwrap();
            assert!(temp_is_stale(p));
        }
    }
}
