//! The store's whole use of c-blosc: compress one buffer, decompress one buffer. c-blosc
//! (version 1.21, the version-1 frame format the store's files hold) is compiled from the
//! sources bundled in `blosc-src`, with lz4 and zstd; nothing is needed on the system.
//!
//! Why a wrapper of our own (checked December 2026): the safe bindings on the Rust package
//! registry either link a system `libblosc` (`blosc` over `blosc-sys`: not bundled), or build
//! the bundled c-blosc 1.21.6 with CMake and generate its bindings with bindgen on every build
//! (`blosc-rs` 0.4 over `blosc-rs-sys` 0.2: every machine that builds isf would need `cmake`
//! and libclang, which the project's build does not), or wrap c-blosc2 (`blosc2-rs`: another
//! library, whose chunks carry a newer header version than the format's c-blosc 1 frames).
//! `blosc-src` builds the same c-blosc with a C compiler alone. What is left is three calls,
//! each in one `unsafe` block below with the reason it is sound.
//!
//! Only the context (`_ctx`) entry points are used: they keep no global state, so concurrent
//! writers and readers in one process need no lock. Decompression validates the blosc header
//! against the buffer length first (`blosc_cbuffer_validate`), so a damaged buffer yields an
//! error instead of undefined behaviour; callers check the file checksum before this anyway.

use std::ffi::CStr;
use std::os::raw::{c_int, c_void};

/// Largest input c-blosc accepts in one buffer (`BLOSC_MAX_BUFFERSIZE`).
pub const MAX_BUFFER: usize = blosc_src::BLOSC_MAX_BUFFERSIZE as usize;
const OVERHEAD: usize = blosc_src::BLOSC_MAX_OVERHEAD as usize;

/// The compressors compiled in (`blosclz` always; `lz4`, `zstd` through crate features).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Codec {
    BloscLz,
    Lz4,
    Zstd,
}

impl Codec {
    /// The name c-blosc knows the compressor by.
    pub fn name(self) -> &'static str {
        self.c_name().to_str().unwrap_or_default()
    }

    fn c_name(self) -> &'static CStr {
        match self {
            Codec::BloscLz => c"blosclz",
            Codec::Lz4 => c"lz4",
            Codec::Zstd => c"zstd",
        }
    }

    /// Parse a compressor name as printed by [`Codec::name`].
    pub fn parse(s: &str) -> Option<Codec> {
        match s {
            "blosclz" => Some(Codec::BloscLz),
            "lz4" => Some(Codec::Lz4),
            "zstd" => Some(Codec::Zstd),
            _ => None,
        }
    }
}

/// The shuffle filter applied before compression.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Shuffle {
    /// Group byte `k` of every item together (`BLOSC_SHUFFLE`).
    Byte,
    /// Group bit `k` of every item together (`BLOSC_BITSHUFFLE`); slower, often smaller for
    /// floats whose low mantissa bits are noise.
    Bit,
}

/// Compress `src` with the given shuffle for items of `typesize` bytes, single-threaded.
///
/// Returns `None` when `src` exceeds [`MAX_BUFFER`] or c-blosc reports an internal error.
pub fn compress(
    src: &[u8],
    codec: Codec,
    clevel: u8,
    shuffle: Shuffle,
    typesize: usize,
) -> Option<Vec<u8>> {
    let mut dest = vec![0u8; max_compressed(src.len())];
    let n = compress_into(src, &mut dest, codec, clevel, shuffle, typesize)?;
    dest.truncate(n);
    Some(dest)
}

/// Room c-blosc needs to always succeed on `len` bytes of input.
pub fn max_compressed(len: usize) -> usize {
    len + OVERHEAD
}

/// [`compress`] into `dest`, which must hold at least [`max_compressed`]`(src.len())` bytes
/// (so that the caller can put a header in front without copying the compressed frame);
/// returns the frame's length.
pub fn compress_into(
    src: &[u8],
    dest: &mut [u8],
    codec: Codec,
    clevel: u8,
    shuffle: Shuffle,
    typesize: usize,
) -> Option<usize> {
    if src.len() > MAX_BUFFER || dest.len() < max_compressed(src.len()) {
        return None;
    }
    // c-blosc's choices (e.g. storing a block uncompressed) depend on the room it is given, so
    // it always gets exactly `max_compressed` bytes: the output never depends on how large the
    // caller's buffer is (the golden stores pin these bytes).
    let dest = &mut dest[..max_compressed(src.len())];
    // SAFETY: `src` and `dest` are valid, non-overlapping buffers of the lengths passed, and
    // `dest` has the `nbytes + BLOSC_MAX_OVERHEAD` bytes c-blosc needs to always succeed.
    let n = unsafe {
        blosc_src::blosc_compress_ctx(
            c_int::from(clevel.min(9)),
            match shuffle {
                Shuffle::Byte => blosc_src::BLOSC_SHUFFLE as c_int,
                Shuffle::Bit => blosc_src::BLOSC_BITSHUFFLE as c_int,
            },
            typesize,
            src.len(),
            src.as_ptr() as *const c_void,
            dest.as_mut_ptr() as *mut c_void,
            dest.len(),
            codec.c_name().as_ptr(),
            0,
            1,
        )
    };
    (n > 0).then_some(n as usize)
}

/// Decompress a blosc buffer; `Err` says what is wrong with it.
pub fn decompress(src: &[u8]) -> Result<Vec<u8>, String> {
    let mut nbytes: usize = 0;
    // SAFETY: `src` is a valid buffer of `src.len()` bytes; validate only reads within it.
    let ok = unsafe {
        blosc_src::blosc_cbuffer_validate(src.as_ptr() as *const c_void, src.len(), &mut nbytes)
    };
    if ok != 0 {
        return Err("invalid blosc header".into());
    }
    if nbytes > MAX_BUFFER {
        return Err(format!("blosc header claims {nbytes} bytes"));
    }
    let mut dest = vec![0u8; nbytes];
    if nbytes == 0 {
        return Ok(dest);
    }
    // SAFETY: the header was validated against `src.len()`, and `dest` holds exactly the
    // `nbytes` the header announces; c-blosc never writes past `destsize`.
    let n = unsafe {
        blosc_src::blosc_decompress_ctx(
            src.as_ptr() as *const c_void,
            dest.as_mut_ptr() as *mut c_void,
            dest.len(),
            1,
        )
    };
    if n < 0 || n as usize != nbytes {
        return Err(format!("blosc decompression failed (code {n})"));
    }
    Ok(dest)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roundtrip_every_codec() {
        let data: Vec<u8> = (0..100_000u32)
            .flat_map(|i| (f64::from(i) * 0.025).to_le_bytes())
            .collect();
        for (codec, sh) in [
            (Codec::BloscLz, Shuffle::Byte),
            (Codec::Lz4, Shuffle::Bit),
            (Codec::Zstd, Shuffle::Byte),
        ] {
            let c = compress(&data, codec, 5, sh, 8).unwrap();
            assert!(c.len() < data.len() / 2, "{codec:?} did not compress");
            assert_eq!(decompress(&c).unwrap(), data);
        }
        assert_eq!(
            decompress(&compress(&[], Codec::Lz4, 5, Shuffle::Byte, 8).unwrap()).unwrap(),
            b""
        );
    }

    #[test]
    fn garbage_is_an_error_not_a_crash() {
        assert!(decompress(b"").is_err());
        assert!(decompress(&[2, 1, 0x11, 8, 255, 255, 255, 127, 0, 0, 0, 0]).is_err());
        let mut c = compress(&[7u8; 4096], Codec::Zstd, 5, Shuffle::Bit, 8).unwrap();
        c.truncate(c.len() - 1);
        assert!(decompress(&c).is_err());
    }
}
