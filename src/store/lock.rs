//! One writer per store: an advisory lock on `<store>/.isf-lock` plus a holder record in it.
//!
//! Commands that write (`isf run`, `isf db merge` into its destination, `isf db verify --fix`,
//! `isf db rm`) take the lock before touching the store and hold it for the life of the
//! process; readers never lock.
//!
//! Two mechanisms, because a store on a cluster's shared filesystem is written from several
//! machines:
//!
//! * `flock(2)` on the lock file. The kernel, or the file server of a shared filesystem whose
//!   locks span machines (NFS, GPFS, Lustre mounted with `flock`), releases it when the
//!   holder exits or dies: no stale lock, no guess.
//! * The holder record: one JSON line with host, pid, start time, command and a heartbeat
//!   counter that a background thread advances every [`Timing::heartbeat`]. It is cleared on
//!   release. It names the holder in a refusal, and it catches what `flock` cannot: on a
//!   filesystem whose locks are local to each machine (Lustre's `localflock`, NFS mounted
//!   with `local_lock`), or one without locks, a writer on another host is invisible to
//!   `flock`. So a record from another host is trusted only while its heartbeat moves: the
//!   newcomer watches it for [`Timing::stale`]; a moving heartbeat refuses (E0621), a still
//!   one is a writer that died and is taken over. A record from this host is judged by
//!   `flock` alone (or, without locks, by whether its pid runs). No pid of another machine is
//!   ever looked up in this machine's process table.

use super::{Result, StoreError};
use crate::diagnostics::Code;
use std::fs::{self, File, OpenOptions};
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// Name of the lock file in a store's root directory.
pub const LOCK_FILE: &str = ".isf-lock";

/// How often the holder's heartbeat moves, and how long a newcomer watches a record from
/// another host before taking it for a dead writer's.
#[derive(Clone, Copy, Debug)]
pub struct Timing {
    pub heartbeat: Duration,
    pub stale: Duration,
}

impl Timing {
    /// A beat every 10 s; a record still for 30 s (three missed beats) is a dead writer's.
    pub const DEFAULT: Timing = Timing {
        heartbeat: Duration::from_secs(10),
        stale: Duration::from_secs(30),
    };
}

/// A held writer lock; released when dropped (or when the process ends).
#[derive(Debug)]
pub struct WriterLock {
    /// Kept open: closing the last descriptor releases the lock.
    file: File,
    path: PathBuf,
    /// Dropping it stops the heartbeat thread at once.
    stop: Option<mpsc::Sender<()>>,
    beat: Option<std::thread::JoinHandle<()>>,
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
    /// Stop the heartbeat and clear the holder record before the descriptor closes: a record
    /// left in the file then means a writer that is running or was killed, which `isf status`
    /// reports.
    fn drop(&mut self) {
        drop(self.stop.take());
        if let Some(h) = self.beat.take() {
            let _ = h.join();
        }
        let _ = self.file.set_len(0);
    }
}

/// The record's bytes (empty when there is none or it cannot be read).
fn record_bytes(path: &Path) -> Vec<u8> {
    // Opened anew each time: on NFS, opening revalidates what another client wrote.
    fs::read(path).unwrap_or_default()
}

/// `(host, pid)` of a record, `None` when it is empty or not a record.
fn record_owner(bytes: &[u8]) -> Option<(String, u32)> {
    let j: serde_json::Value = serde_json::from_slice(bytes).ok()?;
    let host = j.get("host")?.as_str()?.to_string();
    let pid = u32::try_from(j.get("pid")?.as_u64()?).ok()?;
    Some((host, pid))
}

/// Write the record in place (the file stays the locked one).
fn write_record(file: &File, text: &str) -> std::io::Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileExt;
        file.write_all_at(text.as_bytes(), 0)?;
    }
    #[cfg(not(unix))]
    {
        use std::io::{Seek, SeekFrom, Write};
        let mut f = file;
        f.seek(SeekFrom::Start(0))?;
        f.write_all(text.as_bytes())?;
    }
    file.set_len(text.len() as u64)
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
            && serde_json::from_str::<serde_json::Value>(&text).is_ok()
        {
            return describe(text.as_bytes());
        }
        std::thread::sleep(Duration::from_millis(25));
    }
    describe(b"")
}

/// Take the writer lock of the store directory `root` (created when missing), or fail with
/// E0611 naming the holder (E0621 when the holder is on a machine whose lock this one cannot
/// see). `command` describes the writer for others' messages. Returns at once, except when a
/// record of another host must be watched ([`Timing::stale`]).
pub fn lock(root: &Path, command: &str) -> Result<WriterLock> {
    lock_with(root, command, Timing::DEFAULT)
}

/// [`lock`] with explicit timing (tests use short ones).
pub fn lock_with(root: &Path, command: &str, timing: Timing) -> Result<WriterLock> {
    fs::create_dir_all(root).map_err(|e| StoreError::io(None, root, &e))?;
    let path = root.join(LOCK_FILE);
    let file = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(&path)
        .map_err(|e| StoreError::io(None, &path, &e))?;
    let locked = |holder: String| {
        StoreError::new(
            Code::E0611,
            format!(
                "{} is locked by another writer: {holder}; wait for it to finish (readers such as `isf db ls` need no lock)",
                root.display(),
            ),
        )
    };
    // `true`: the OS granted an advisory lock; `false`: the filesystem has none.
    let os_lock = match try_lock(&file) {
        Ok(true) => true,
        Ok(false) => return Err(locked(holder(&path))),
        Err(e) if unsupported(&e) => false,
        Err(e) => {
            return Err(StoreError::new(
                Code::E0611,
                format!("cannot lock {} for writing ({e})", path.display()),
            ));
        }
    };
    let me = hostname();
    let found = record_bytes(&path);
    if let Some((host, pid)) = record_owner(&found) {
        if host != me {
            watch(&path, &found, timing).map_err(|seen| {
                StoreError::new(
                    Code::E0621,
                    format!(
                        "{} is being written by {}, whose lock this machine cannot see (its heartbeat moved {seen} time(s) in {} s, although this machine was {}); the filesystem's locks are local to each machine",
                        root.display(),
                        describe(&record_bytes(&path)),
                        timing.stale.as_secs_f64(),
                        if os_lock { "granted the advisory lock" } else { "given no advisory locks" }
                    ),
                )
            })?;
        } else if !os_lock && pid != std::process::id() && pid_runs(pid) {
            return Err(locked(describe(&found)));
        }
    }
    let since = super::meta::now_rfc3339();
    // The record is informative where `flock` works: a failure to write it does not weaken
    // the lock.
    let _ = write_record(&file, &record_text(&since, command, 0));
    if !os_lock {
        // Without OS locks two newcomers may both have found the file empty: the last
        // record written wins, the other writer backs off.
        std::thread::sleep(Duration::from_millis(200));
        let now = record_bytes(&path);
        if record_owner(&now) != Some((me, std::process::id())) {
            return Err(locked(describe(&now)));
        }
    }
    let (stop, rx) = mpsc::channel::<()>();
    let beat = file.try_clone().ok().map(|f| {
        let command = command.to_string();
        std::thread::spawn(move || {
            let mut n = 0u64;
            // Woken by the heartbeat period, ended when the lock drops its sender.
            while let Err(mpsc::RecvTimeoutError::Timeout) = rx.recv_timeout(timing.heartbeat) {
                n += 1;
                let _ = write_record(&f, &record_text(&since, &command, n));
            }
        })
    });
    Ok(WriterLock {
        file,
        path,
        stop: Some(stop),
        beat,
    })
}

/// The holder record: one JSON line.
fn record_text(since: &str, command: &str, beat: u64) -> String {
    serde_json::json!({
        "host": hostname(),
        "pid": std::process::id(),
        "since": since,
        "command": command,
        "beat": beat,
    })
    .to_string()
        + "\n"
}

/// Errors of `flock` that mean the filesystem offers no advisory locks.
fn unsupported(e: &std::io::Error) -> bool {
    #[cfg(unix)]
    {
        matches!(
            e.raw_os_error(),
            Some(libc::ENOLCK) | Some(libc::EOPNOTSUPP) | Some(libc::ENOSYS) | Some(libc::EINVAL)
        )
    }
    #[cfg(not(unix))]
    {
        let _ = e;
        true
    }
}

/// Whether process `pid` of this host runs (unknown without `/proc`: taken as running).
fn pid_runs(pid: u32) -> bool {
    !Path::new("/proc/self").exists() || Path::new(&format!("/proc/{pid}")).exists()
}

/// Watch a record of another host for `timing.stale`: `Ok` when it stayed the same (its
/// writer is gone) or was cleared, `Err(n)` when it changed `n` times (a live writer).
fn watch(path: &Path, first: &[u8], timing: Timing) -> std::result::Result<(), u32> {
    let end = Instant::now() + timing.stale;
    let step = (timing.heartbeat / 4).max(Duration::from_millis(10));
    let mut last = first.to_vec();
    let mut changes = 0;
    while Instant::now() < end {
        std::thread::sleep(step.min(end.saturating_duration_since(Instant::now())));
        let now = record_bytes(path);
        if now.is_empty() {
            // Released cleanly meanwhile.
            return Ok(());
        }
        if now != last {
            changes += 1;
            last = now;
        }
    }
    if changes == 0 { Ok(()) } else { Err(changes) }
}

/// A record's holder for messages.
fn describe(bytes: &[u8]) -> String {
    match serde_json::from_slice::<serde_json::Value>(bytes) {
        Ok(j) => {
            let g = |k: &str| {
                j.get(k)
                    .map(|v| v.to_string().trim_matches('"').to_string())
                    .unwrap_or_else(|| "?".into())
            };
            format!(
                "pid {} on host {} since {} ({})",
                g("pid"),
                g("host"),
                g("since"),
                g("command")
            )
        }
        Err(_) => "a process that has not identified itself".into(),
    }
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

    const FAST: Timing = Timing {
        heartbeat: Duration::from_millis(40),
        stale: Duration::from_millis(300),
    };

    fn foreign(beat: u64) -> String {
        format!(
            "{{\"host\":\"node-elsewhere\",\"pid\":4242,\"since\":\"2026-01-01T00:00:00Z\",\"command\":\"isf run x.isf\",\"beat\":{beat}}}\n"
        )
    }

    /// A writer on another machine whose `flock` this machine cannot see (a node-local lock
    /// filesystem): its moving heartbeat refuses the newcomer, although `flock` said yes.
    #[test]
    fn a_live_writer_on_another_host_is_seen_through_its_heartbeat() {
        let d = tempfile::tempdir().unwrap();
        let path = d.path().join(LOCK_FILE);
        fs::write(&path, foreign(0)).unwrap();
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let s2 = stop.clone();
        let p2 = path.clone();
        let t = std::thread::spawn(move || {
            // In place, as a holder's heartbeat writes (never an empty file in between).
            let f = OpenOptions::new().write(true).open(&p2).unwrap();
            let mut n = 1;
            while !s2.load(std::sync::atomic::Ordering::Relaxed) {
                std::thread::sleep(FAST.heartbeat);
                write_record(&f, &foreign(n)).unwrap();
                n += 1;
            }
        });
        let e = lock_with(d.path(), "newcomer", FAST).unwrap_err();
        stop.store(true, std::sync::atomic::Ordering::Relaxed);
        t.join().unwrap();
        assert_eq!(e.code, Code::E0621);
        assert!(
            e.message.contains("pid 4242 on host node-elsewhere")
                && e.message.contains("cannot see"),
            "{}",
            e.message
        );
    }

    /// A record of another host whose heartbeat stands still is a writer that died: taken
    /// over after the watch, and the new record is this process's.
    #[test]
    fn a_dead_writers_record_from_another_host_is_taken_over() {
        let d = tempfile::tempdir().unwrap();
        fs::write(d.path().join(LOCK_FILE), foreign(7)).unwrap();
        let t0 = Instant::now();
        let l = lock_with(d.path(), "newcomer", FAST).unwrap();
        assert!(t0.elapsed() >= FAST.stale);
        let h = holder_record(d.path()).unwrap();
        assert_eq!(
            (h.pid, h.command.as_str()),
            (std::process::id(), "newcomer")
        );
        // The heartbeat moves while the lock is held.
        let first = record_bytes(&d.path().join(LOCK_FILE));
        std::thread::sleep(FAST.heartbeat * 3);
        assert_ne!(record_bytes(&d.path().join(LOCK_FILE)), first);
        drop(l);
        assert!(record_bytes(&d.path().join(LOCK_FILE)).is_empty());
    }

    /// A record of this host left by a killed writer costs no wait: `flock` already says the
    /// writer is gone.
    #[test]
    fn a_killed_writers_record_from_this_host_is_taken_at_once() {
        let d = tempfile::tempdir().unwrap();
        let rec = foreign(3).replace("node-elsewhere", &hostname());
        fs::write(d.path().join(LOCK_FILE), rec).unwrap();
        let t0 = Instant::now();
        let _l = lock_with(d.path(), "newcomer", Timing::DEFAULT).unwrap();
        assert!(t0.elapsed() < Duration::from_secs(2));
    }
}
