//! One writer per store: an exclusive advisory lock on `<store>/.isf-lock`.
//!
//! Commands that write (`isf run`, `isf db merge` into its destination, `isf db verify --fix`)
//! take the lock before touching the store and hold it for the life of the process; readers
//! never lock. The lock is `flock(2)` on an open file, so the kernel (or, on a shared
//! filesystem with lock support, the file server) releases it when the holder exits or dies —
//! there is no stale lock to clean up and no liveness guess. The file's content (host, pid,
//! start time, command) only serves to name the holder when a second writer is refused.

use super::{Result, StoreError};
use crate::diagnostics::Code;
use std::fs::{self, File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

/// Name of the lock file in a store's root directory.
pub const LOCK_FILE: &str = ".isf-lock";

/// A held writer lock; released when dropped (or when the process ends).
#[derive(Debug)]
pub struct WriterLock {
    /// Kept open: closing the last descriptor releases the lock.
    file: File,
    path: PathBuf,
}

impl WriterLock {
    /// The store directory the lock guards.
    pub fn store(&self) -> &Path {
        self.path.parent().unwrap_or(Path::new("."))
    }
}

fn hostname() -> String {
    super::frame::hostname().unwrap_or_else(|| "unknown host".into())
}

impl Drop for WriterLock {
    /// Clear the holder record before the descriptor closes: a record left in the file then
    /// means a writer that is running or was killed, which `isf status` reports.
    fn drop(&mut self) {
        let _ = self.file.set_len(0);
    }
}

/// The writer named by a store's lock file, as `isf status` shows it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Holder {
    pub host: String,
    pub pid: u32,
    pub since: String,
    pub command: String,
    /// Whether the process runs: known only on its own host (`/proc`); `None` elsewhere.
    pub alive: Option<bool>,
}

/// The holder record of the store at `root`, if its lock file names one (a writer that runs,
/// or one that was killed before it could clear the record). Reads only; takes no lock.
pub fn holder_record(root: &Path) -> Option<Holder> {
    let text = fs::read_to_string(root.join(LOCK_FILE)).ok()?;
    let j: serde_json::Value = serde_json::from_str(text.trim()).ok()?;
    let s = |k: &str| j.get(k).and_then(|v| v.as_str()).unwrap_or("?").to_string();
    let pid = u32::try_from(j.get("pid")?.as_u64()?).ok()?;
    let host = s("host");
    let alive = (host == hostname() && Path::new("/proc/self").exists())
        .then(|| Path::new(&format!("/proc/{pid}")).exists());
    Some(Holder {
        host,
        pid,
        since: s("since"),
        command: s("command"),
        alive,
    })
}

/// Try the exclusive lock without waiting; `Ok(false)` when another holder has it.
#[cfg(unix)]
fn try_lock(f: &File) -> std::io::Result<bool> {
    use std::os::unix::io::AsRawFd;
    // SAFETY: flock on a descriptor we own; no memory is passed.
    let r = unsafe { libc::flock(f.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) };
    if r == 0 {
        return Ok(true);
    }
    let e = std::io::Error::last_os_error();
    if e.raw_os_error() == Some(libc::EWOULDBLOCK) {
        Ok(false)
    } else {
        Err(e)
    }
}

/// Without `flock` the lock file's content is still written, but nothing is enforced.
#[cfg(not(unix))]
fn try_lock(_f: &File) -> std::io::Result<bool> {
    Ok(true)
}

/// Describe the holder from the lock file's JSON content.
fn holder(path: &Path) -> String {
    // The holder writes its details just after locking: give it a moment.
    for _ in 0..20 {
        let mut text = String::new();
        if File::open(path)
            .and_then(|mut f| f.read_to_string(&mut text))
            .is_ok()
            && let Ok(j) = serde_json::from_str::<serde_json::Value>(&text)
        {
            let g = |k: &str| {
                j.get(k)
                    .map(|v| v.to_string().trim_matches('"').to_string())
            };
            return format!(
                "pid {} on host {} since {} ({})",
                g("pid").unwrap_or_else(|| "?".into()),
                g("host").unwrap_or_else(|| "?".into()),
                g("since").unwrap_or_else(|| "?".into()),
                g("command").unwrap_or_else(|| "?".into()),
            );
        }
        std::thread::sleep(std::time::Duration::from_millis(25));
    }
    "a process that has not identified itself".into()
}

/// Take the writer lock of the store directory `root` (created when missing), or fail at once
/// with E0611 naming the holder. `command` describes the writer for others' messages.
pub fn lock(root: &Path, command: &str) -> Result<WriterLock> {
    fs::create_dir_all(root).map_err(|e| StoreError::io(None, root, &e))?;
    let path = root.join(LOCK_FILE);
    let mut file = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(&path)
        .map_err(|e| StoreError::io(None, &path, &e))?;
    match try_lock(&file) {
        Ok(true) => {}
        Ok(false) => {
            return Err(StoreError::new(
                Code::E0611,
                format!(
                    "{} is locked by another writer: {}; wait for it to finish (readers such as `isf db ls` need no lock)",
                    root.display(),
                    holder(&path)
                ),
            ));
        }
        Err(e) => {
            return Err(StoreError::new(
                Code::E0611,
                format!(
                    "cannot lock {} for writing ({e}); the filesystem may not support locks",
                    path.display()
                ),
            ));
        }
    }
    let info = serde_json::json!({
        "host": hostname(),
        "pid": std::process::id(),
        "since": super::meta::now_rfc3339(),
        "command": command,
    });
    // Only informative: a failure to record the holder does not weaken the lock.
    let _ = file
        .set_len(0)
        .and_then(|_| file.seek(SeekFrom::Start(0)))
        .and_then(|_| file.write_all(format!("{info}\n").as_bytes()))
        .and_then(|_| file.flush());
    Ok(WriterLock { file, path })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn second_lock_is_refused_until_the_first_is_dropped() {
        let d = tempfile::tempdir().unwrap();
        let a = lock(d.path(), "test a").unwrap();
        let e = lock(d.path(), "test b").unwrap_err();
        assert_eq!(e.code, Code::E0611);
        assert!(
            e.message.contains(&format!("pid {}", std::process::id()))
                && e.message.contains("test a"),
            "{}",
            e.message
        );
        let h = holder_record(d.path()).unwrap();
        assert_eq!((h.pid, h.command.as_str()), (std::process::id(), "test a"));
        assert_eq!(h.alive, Some(true));
        drop(a);
        // Released cleanly: the record is gone.
        assert_eq!(holder_record(d.path()), None);
        assert!(lock(d.path(), "test c").is_ok());
    }
}
