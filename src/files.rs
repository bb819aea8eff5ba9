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
//! Writing: every file isf writes whole (store files, exports, pictures, `isf fmt`, the input
//! mapper's outputs, job scripts) goes through [`write_atomic`], so a reader or a crash never
//! sees half a file. Its temporary names (`.tmp-<pid>@<host tag>-<n>-<name>`) say which process
//! on which machine wrote them, which is how the store tells abandoned temporaries from live
//! ones (`store::frame::temp_is_stale`).
//!
//! [`FileError`] is the located error (`file:line:column`, no span) of every data file that
//! is not in the source map: morphologies, ISF's files, the mapper's inputs.

use crate::diagnostics::{Code, Diagnostic};
use serde::Serialize;
use std::fmt;
use std::fs::{self, File};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

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

/// Parsed data files, by path, parsed type and content (see [`parse_cached`]).
type ParsedEntry = (
    PathBuf,
    std::any::TypeId,
    String,
    Box<dyn std::any::Any + Send + Sync>,
);

/// Entries [`parse_cached`] keeps (the least recently stored goes first).
const PARSED_KEEP: usize = 16;

/// `parse` of the data file at `path`, parsed once per process per content: one command reads
/// the same files several times (the checker, the runner's sites and lowering and the plan's
/// content hashes all read the cell's morphology and the network file), and a 1 MB morphology
/// takes tens of milliseconds to parse. The file is read (as [`read_data`]) on every call and
/// its text compared with the cached one, so an edited file is parsed anew. Only successes are
/// kept. `None` when the file cannot be read: the caller then reads it itself and reports the
/// error as it always does.
pub fn parse_cached<T, E>(
    path: &Path,
    parse: impl FnOnce(&str) -> Result<T, E>,
) -> Option<Result<T, E>>
where
    T: Clone + Send + Sync + 'static,
{
    use std::sync::Mutex;
    static PARSED: Mutex<Vec<ParsedEntry>> = Mutex::new(Vec::new());
    let text = read_data(path).ok()?;
    let ty = std::any::TypeId::of::<T>();
    if let Ok(cache) = PARSED.lock() {
        let hit = cache
            .iter()
            .find(|(p, t, s, _)| *t == ty && p == path && *s == text)
            .and_then(|(_, _, _, v)| v.downcast_ref::<T>());
        if let Some(v) = hit {
            return Some(Ok(v.clone()));
        }
    }
    let parsed = parse(&text);
    if let (Ok(v), Ok(mut cache)) = (&parsed, PARSED.lock()) {
        cache.retain(|(p, t, _, _)| !(*t == ty && p == path));
        if cache.len() >= PARSED_KEEP {
            cache.remove(0);
        }
        cache.push((path.to_path_buf(), ty, text, Box::new(v.clone())));
    }
    Some(parsed)
}

/// The message for a data file that `path` (written `s` in the script) does not name: missing,
/// or present but a directory, device or FIFO.
pub fn not_found(path: &Path, s: &str) -> String {
    match std::fs::metadata(path) {
        Ok(m) if !m.is_file() => format!("not a regular file: {s} is {}", kind(&m.file_type())),
        _ => format!("file not found: {s}"),
    }
}

/// Prefix of temporary files and directories; store readers skip names starting with `.`.
pub const TMP_PREFIX: &str = ".tmp-";

static COUNTER: AtomicU64 = AtomicU64::new(0);

/// This machine's host name (`/proc/sys/kernel/hostname`, else `$HOSTNAME`), `None` when
/// neither says.
pub fn hostname() -> Option<String> {
    fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .map(|h| h.trim().to_string())
        .filter(|h| !h.is_empty())
        .or_else(|| std::env::var("HOSTNAME").ok().filter(|h| !h.is_empty()))
}

/// A short tag of this host for temporary names: 8 hex digits of the FNV-1a hash of the host
/// name (host names may hold `-` and `.`, which the name's fields are split on).
pub fn host_tag() -> &'static str {
    static TAG: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    TAG.get_or_init(|| tag_of(hostname().as_deref().unwrap_or("")))
}

/// The FNV-1a tag of a host name (see [`host_tag`]).
pub fn tag_of(host: &str) -> String {
    let mut h: u32 = 0x811c_9dc5;
    for b in host.bytes() {
        h = (h ^ u32::from(b)).wrapping_mul(0x0100_0193);
    }
    format!("{h:08x}")
}

/// A fresh temporary name in `dir` for this process: `.tmp-<pid>@<host tag>-<n>-<hint>`.
/// The host tag lets a process on another machine of a shared filesystem tell that the pid
/// is not one of its own.
pub fn temp_path(dir: &Path, hint: &str) -> PathBuf {
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    dir.join(format!(
        "{TMP_PREFIX}{}@{}-{n}-{hint}",
        std::process::id(),
        host_tag()
    ))
}

/// Write `bytes` to `path` atomically: a temporary file in the same directory, fsync, rename
/// over `path`, fsync of the directory. Readers see either the old file or the complete new
/// one. A file replaced keeps its permissions (`isf fmt` must not make a script
/// unexecutable). On error the temporary file is removed and `path` is untouched.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    write_atomic_after(path, bytes, &[])
}

/// [`write_atomic`] for a file that publishes others: `written` (already written, still
/// open, e.g. the chunk files a store manifest lists) are made durable together with the
/// new file's bytes before the rename, so that once `path` is visible under its name after a
/// crash, everything it refers to is there too. All the files are fsynced at once (one
/// thread per group of files): a journaling filesystem commits concurrent fsyncs together,
/// so a manifest and its chunks cost about one commit and one directory sync instead of a
/// commit and a directory sync per file.
pub fn write_atomic_after(path: &Path, bytes: &[u8], written: &[File]) -> std::io::Result<()> {
    let dir = path
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("file");
    let tmp = temp_path(dir, name);
    let result = (|| {
        let mut f = File::create(&tmp)?;
        f.write_all(bytes)?;
        if let Ok(old) = fs::metadata(path) {
            f.set_permissions(old.permissions())?;
        }
        sync_together(&f, written)?;
        drop(f);
        fs::rename(&tmp, path)?;
        sync_dir(dir)
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result
}

/// fsync `first` and every file of `rest` concurrently (at most four threads besides the
/// caller's); the first error wins. Where a thread cannot be started, its files are synced
/// on the caller's thread.
fn sync_together(first: &File, rest: &[File]) -> std::io::Result<()> {
    if rest.is_empty() {
        return first.sync_all();
    }
    let per = rest.len().div_ceil(4);
    std::thread::scope(|s| {
        let mut results = Vec::new();
        let mut handles = Vec::new();
        for group in rest.chunks(per) {
            let job = move || group.iter().try_for_each(File::sync_all);
            match std::thread::Builder::new().spawn_scoped(s, job) {
                Ok(h) => handles.push(h),
                Err(_) => results.push(job()),
            }
        }
        results.push(first.sync_all());
        for h in handles {
            results.push(
                h.join()
                    .unwrap_or_else(|_| Err(std::io::Error::other("fsync thread panicked"))),
            );
        }
        results.into_iter().collect::<std::io::Result<()>>()
    })
}

/// fsync a directory so a rename inside it is durable (a no-op where directories cannot be
/// opened, as on Windows).
pub fn sync_dir(dir: &Path) -> std::io::Result<()> {
    match File::open(dir) {
        Ok(d) => d.sync_all().or(Ok(())),
        Err(_) => Ok(()),
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
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path();
        let big = dir.join("big.txt");
        std::fs::write(&big, "x".repeat(11)).unwrap();
        assert_eq!(read_text(&big, 10), Err(ReadError::TooLarge(10)));
        assert_eq!(read_text(&big, 11).unwrap().len(), 11);
        let nul = dir.join("nul.txt");
        std::fs::write(&nul, b"a\0b").unwrap();
        assert_eq!(read_text(&nul, 10), Err(ReadError::NotText));
    }

    #[cfg(unix)]
    #[test]
    fn atomic_writes_replace_whole_files_and_keep_permissions() {
        use std::os::unix::fs::PermissionsExt;
        let tmp = tempfile::tempdir().unwrap();
        let p = tmp.path().join("run.sh");
        write_atomic(&p, b"one").unwrap();
        fs::set_permissions(&p, fs::Permissions::from_mode(0o750)).unwrap();
        write_atomic(&p, b"two").unwrap();
        assert_eq!(fs::read(&p).unwrap(), b"two");
        assert_eq!(
            fs::metadata(&p).unwrap().permissions().mode() & 0o777,
            0o750
        );
        // No temporary file is left behind, also when the write fails (a missing directory).
        assert_eq!(fs::read_dir(tmp.path()).unwrap().count(), 1);
        assert!(write_atomic(&tmp.path().join("no/such/dir"), b"x").is_err());
        assert_eq!(fs::read_dir(tmp.path()).unwrap().count(), 1);
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
