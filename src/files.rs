//! Reading files a user names: scripts, imports and data files (morphologies, `.param`, `.syn`,
//! `.con`, landmark, replay and spike-time files).
//!
//! A path in a script may name anything: a device (`/dev/zero` never ends), a FIFO (blocks
//! forever), a directory, or a pseudo file whose reported size is 0 (`/proc/self/environ`). So
//! every such read goes through [`read_text`]: the path must be a regular file (symlinks are
//! followed, to a regular file only), and at most the size limit is read, whatever the file
//! system reports, so memory stays bounded. The caller turns a [`ReadError`] into its own code
//! (E0203 imports, E07xx morphology files, E08xx parameter and network files). The limits are in
//! `docs/reference.md` ("Resource limits").
//!
//! [`FileError`] is the located error (`file:line:column`, no span) of every data file that
//! is not in the source map: morphologies, ISF's files, the mapper's inputs.

use crate::diagnostics::{Code, Diagnostic};
use serde::Serialize;
use std::fmt;
use std::io::Read;
use std::path::Path;

/// Size limit of an `.isf` script or import: far above any hand-written script.
pub const SCRIPT_LIMIT: u64 = 16 << 20;
/// Size limit of a data file (morphology, parameter, network, replay, landmark files): the
/// largest real inputs (anatomy `.syn`/`.con` of a full column) are a few tens of MB.
pub const DATA_LIMIT: u64 = 256 << 20;

/// Why a file could not be read.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ReadError {
    /// Opening, inspecting or reading failed (missing, permissions): the system's message.
    Io(String),
    /// The path is a directory, device, FIFO or socket: what it is.
    NotRegular(&'static str),
    /// The file holds more than the limit (bytes).
    TooLarge(u64),
    /// The content is not UTF-8 text, or holds NUL bytes.
    NotText,
}

impl std::fmt::Display for ReadError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ReadError::Io(m) => write!(f, "{m}"),
            ReadError::NotRegular(kind) => write!(f, "this is {kind}, not a regular file"),
            ReadError::TooLarge(limit) => {
                write!(f, "the file is larger than {} MB", limit >> 20)
            }
            ReadError::NotText => write!(f, "not a text file (not UTF-8, or holds NUL bytes)"),
        }
    }
}

/// What a non-regular file is, for messages.
fn kind(ft: &std::fs::FileType) -> &'static str {
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt;
        if ft.is_fifo() {
            return "a FIFO";
        }
        if ft.is_char_device() || ft.is_block_device() {
            return "a device";
        }
        if ft.is_socket() {
            return "a socket";
        }
    }
    if ft.is_dir() {
        "a directory"
    } else {
        "not a file"
    }
}

/// The text of the regular file at `path`, read up to `limit` bytes. Refuses directories,
/// devices, FIFOs and sockets before opening them (opening a FIFO would block), files over the
/// limit, and content that is not UTF-8 or holds NUL bytes (no text format isf reads has
/// them, and refusing them keeps binary or pseudo files out of error messages).
pub fn read_text(path: &Path, limit: u64) -> Result<String, ReadError> {
    let meta = std::fs::metadata(path).map_err(|e| ReadError::Io(e.to_string()))?;
    if !meta.is_file() {
        return Err(ReadError::NotRegular(kind(&meta.file_type())));
    }
    if meta.len() > limit {
        return Err(ReadError::TooLarge(limit));
    }
    let f = std::fs::File::open(path).map_err(|e| ReadError::Io(e.to_string()))?;
    // The reported size may be wrong (pseudo files report 0, a file may grow): read at most
    // one byte past the limit to know it was exceeded.
    let mut bytes = Vec::with_capacity(meta.len() as usize);
    f.take(limit.saturating_add(1))
        .read_to_end(&mut bytes)
        .map_err(|e| ReadError::Io(e.to_string()))?;
    if bytes.len() as u64 > limit {
        return Err(ReadError::TooLarge(limit));
    }
    if bytes.contains(&0) {
        return Err(ReadError::NotText);
    }
    String::from_utf8(bytes).map_err(|_| ReadError::NotText)
}

/// [`read_text`] with the data-file limit, the error as one line for a file error message.
pub fn read_data(path: &Path) -> Result<String, String> {
    read_text(path, DATA_LIMIT).map_err(|e| e.to_string())
}

/// The message for a data file that `path` (written `s` in the script) does not name: missing,
/// or present but a directory, device or FIFO.
pub fn not_found(path: &Path, s: &str) -> String {
    match std::fs::metadata(path) {
        Ok(m) if !m.is_file() => format!("not a regular file: {s} is {}", kind(&m.file_type())),
        _ => format!("file not found: {s}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_what_is_not_a_bounded_text_file() {
        assert_eq!(
            read_text(Path::new("/"), 10),
            Err(ReadError::NotRegular("a directory"))
        );
        #[cfg(unix)]
        assert_eq!(
            read_text(Path::new("/dev/zero"), 10),
            Err(ReadError::NotRegular("a device"))
        );
        let dir = std::env::temp_dir().join(format!("isf-files-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let big = dir.join("big.txt");
        std::fs::write(&big, "x".repeat(11)).unwrap();
        assert_eq!(read_text(&big, 10), Err(ReadError::TooLarge(10)));
        assert_eq!(read_text(&big, 11).unwrap().len(), 11);
        let nul = dir.join("nul.txt");
        std::fs::write(&nul, b"a\0b").unwrap();
        assert_eq!(read_text(&nul, 10), Err(ReadError::NotText));
        let _ = std::fs::remove_dir_all(&dir);
    }
}

/// A located error in a legacy input file (morphology, `.param`, …).
///
/// `line` and `column` are 1-based; `0` means "the whole file" (e.g. an I/O error or a
/// problem that has no single location, such as a missing soma).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct FileError {
    /// Stable diagnostic code (E07xx morphology, E08xx parameter files).
    pub code: Code,
    /// One line, lower case, no trailing period.
    pub message: String,
    /// File name as given by the caller (may be a pseudo name such as `<string>`).
    pub file: String,
    /// 1-based line, 0 if not applicable.
    pub line: usize,
    /// 1-based column (in characters), 0 if not applicable.
    pub column: usize,
}

impl FileError {
    /// A new error at `line:column` of `file`.
    pub fn new(
        code: Code,
        message: impl Into<String>,
        file: &str,
        line: usize,
        column: usize,
    ) -> FileError {
        FileError {
            code,
            message: message.into(),
            file: file.to_string(),
            line,
            column,
        }
    }

    /// `file:line:col` (or `file:line`, or `file` when the position is unknown).
    pub fn location(&self) -> String {
        match (self.line, self.column) {
            (0, _) => self.file.clone(),
            (l, 0) => format!("{}:{}", self.file, l),
            (l, c) => format!("{}:{}:{}", self.file, l, c),
        }
    }

    /// Convert into a span-less [`Diagnostic`] whose message starts with the location, for
    /// rendering alongside diagnostics of source files that are in the source map.
    pub fn to_diagnostic_plain(&self) -> Diagnostic {
        Diagnostic::new(self.code, format!("{}: {}", self.location(), self.message))
    }
}

impl fmt::Display for FileError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "error[{}]: {}: {}",
            self.code.as_str(),
            self.location(),
            self.message
        )
    }
}

impl std::error::Error for FileError {}
