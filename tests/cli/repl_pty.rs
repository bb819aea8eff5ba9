//! Drive `isf repl` through a pseudo-terminal, as a user would: rustyline is active (line
//! editing, the validator's multi-line continuation, highlighting), keys go in and the screen
//! comes out.

use rexpect::session::{PtySession, spawn_command};
use std::process::Command;

fn start() -> PtySession {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_isf"));
    cmd.args(["repl", "--no-history"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .env("TERM", "xterm")
        .env_remove("NO_COLOR");
    let mut p = spawn_command(cmd, Some(60_000)).expect("spawn isf repl in a pty");
    p.exp_string("type :help").expect("banner");
    p
}

#[test]
fn a_first_session_through_a_terminal() {
    let mut p = start();

    // Unit arithmetic, printed in the canonical unit of the dimension.
    p.send_line("1 nA * 100 Mohm").unwrap();
    p.exp_string("= 100 mV").unwrap();
    p.send_line("2 ms + 1 s").unwrap();
    p.exp_string("= 1002 ms").unwrap();

    // An error shows its code and the session goes on.
    p.send_line("let bad = 1 mV + 2 ms").unwrap();
    p.exp_string("E0303").unwrap();
    p.exp_string("cannot add values of different dimensions")
        .unwrap();
    p.send_line("let tau = 20 ms").unwrap();
    p.exp_string("tau = 20 ms").unwrap();
    p.send_line("tau * 3").unwrap();
    p.exp_string("= 60 ms").unwrap();

    // :type and :units.
    p.send_line(":type 1 nA * 100 Mohm").unwrap();
    p.exp_string("a quantity of voltage").unwrap();
    p.send_line(":units").unwrap();
    p.exp_string("Canonical unit of each quantity").unwrap();

    // A neuron typed across several lines: the open braces keep the input going.
    p.send_line("import std.channels.hay2011.{pas}").unwrap();
    p.exp_string("imported").unwrap();
    p.send_line("neuron Tiny {").unwrap();
    p.send_line("    morphology: swc(\"examples/cells/l5pt_simple.swc\")")
        .unwrap();
    p.send_line("    v_init: -70 mV").unwrap();
    p.send_line("    all {").unwrap();
    p.send_line("        Ra: 100 ohm*cm, cm: 1 uF/cm2").unwrap();
    p.send_line("        pas { g: 5e-5 S/cm2, e: -70 mV }")
        .unwrap();
    p.send_line("    }").unwrap();
    p.send_line("}").unwrap();
    p.exp_string("defined neuron Tiny").unwrap();

    // :run shows a plot and the threshold crossings.
    p.send_line(":run Tiny 2 nA").unwrap();
    p.exp_string("v at soma(0.5) [mV]").unwrap();
    p.exp_regex(r"spikes \(upward crossings of 0 mV\): 1 at \d+\.\d+ ms")
        .unwrap();

    p.send_line(":quit").unwrap();
    p.exp_eof().unwrap();
}

#[test]
fn keywords_are_coloured_as_typed() {
    let mut p = start();
    p.send_line("let x = 3 mV").unwrap();
    // The rustyline highlighter redraws the line with the keyword in magenta, the unit green.
    p.exp_string("\x1b[35mlet\x1b[0m").unwrap();
    p.exp_string("\x1b[32mmV\x1b[0m").unwrap();
    p.exp_string("x = 3 mV").unwrap();
    p.send_line(":quit").unwrap();
    p.exp_eof().unwrap();
}

/// Issue 12: a pasted block (bracketed, as terminals send it, or plain typeahead) is taken
/// whole; a byte that is not UTF-8 costs only its line; a 100k-character paste is accepted
/// in linear time.
#[test]
fn pastes_bad_bytes_and_long_lines() {
    let mut p = start();
    // Bracketed paste of three inputs (the third across two lines).
    p.send("\x1b[200~let a = 1 mV\nlet b = 2 mV\nlet c = [a,\n  b]\n\x1b[201~")
        .unwrap();
    p.send_line("").unwrap();
    p.exp_string("c = [").unwrap();
    p.send_line("a + b + c[1]").unwrap();
    p.exp_string("= 5 mV").unwrap();
    // Plain typeahead: two lines sent at once, both answered.
    p.send("let d = 4 mV\rd * 2\r").unwrap();
    p.flush().unwrap();
    p.exp_string("= 8 mV").unwrap();
    // A 100,000-character line as a bracketed paste.
    let items = vec!["1"; 33_000].join(", ");
    let t0 = std::time::Instant::now();
    p.send(&format!("\x1b[200~let big = [{items}]\x1b[201~\r"))
        .unwrap();
    p.flush().unwrap();
    p.send_line("big[32999] + 41").unwrap();
    p.exp_string("= 42").unwrap();
    let took = t0.elapsed().as_secs_f64();
    eprintln!("100k-character paste answered in {took:.2} s");
    assert!(took < 20.0, "{took} s");
}

/// Piped input with a line that is not UTF-8: reported with its line number (E0006), the
/// other lines still run, and the exit status is 1.
#[test]
fn piped_input_reports_invalid_utf8_and_fails() {
    use std::io::Write as _;
    let mut child = Command::new(env!("CARGO_BIN_EXE_isf"))
        .args(["repl", "--no-history"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(b"let a = 1\n\xff\nlet b = 2\nlet c = [a,\n b]\nc[1]\n")
        .unwrap();
    let out = child.wait_with_output().unwrap();
    let (stdout, stderr) = (
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
    );
    assert_eq!(out.status.code(), Some(1), "{stdout}\n{stderr}");
    assert!(
        stderr.contains("E0006") && stderr.contains("line 2"),
        "{stderr}"
    );
    assert!(stdout.contains("= 2"), "{stdout}");
}

/// A terminal session fed raw bytes (rexpect sends only UTF-8): the master side of a pty and
/// the REPL on its slave side, with the screen collected by a reader thread.
struct RawPty {
    master: std::fs::File,
    screen: std::sync::Arc<std::sync::Mutex<Vec<u8>>>,
    child: std::process::Child,
}

impl RawPty {
    fn start() -> RawPty {
        use std::os::fd::FromRawFd;
        let (mut m, mut s) = (0, 0);
        // SAFETY: openpty writes two new descriptors we then own.
        let rc = unsafe {
            libc::openpty(
                &mut m,
                &mut s,
                std::ptr::null_mut(),
                std::ptr::null(),
                std::ptr::null(),
            )
        };
        assert_eq!(rc, 0, "openpty");
        // SAFETY: both descriptors are fresh and owned here.
        let (master, slave) =
            unsafe { (std::fs::File::from_raw_fd(m), std::fs::File::from_raw_fd(s)) };
        let child = Command::new(env!("CARGO_BIN_EXE_isf"))
            .args(["repl", "--no-history"])
            .env("TERM", "xterm")
            .stdin(slave.try_clone().unwrap())
            .stdout(slave.try_clone().unwrap())
            .stderr(slave)
            .spawn()
            .unwrap();
        let screen = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let (mut r, sc) = (master.try_clone().unwrap(), screen.clone());
        std::thread::spawn(move || {
            use std::io::Read as _;
            let mut buf = [0u8; 4096];
            while let Ok(n) = r.read(&mut buf) {
                if n == 0 {
                    break;
                }
                sc.lock().unwrap().extend_from_slice(&buf[..n]);
            }
        });
        RawPty {
            master,
            screen,
            child,
        }
    }

    fn send(&mut self, bytes: &[u8]) {
        use std::io::Write as _;
        self.master.write_all(bytes).unwrap();
    }

    /// Wait until the screen shows `s` (then forget what was shown so far).
    fn expect(&mut self, s: &str) {
        let t0 = std::time::Instant::now();
        loop {
            {
                let mut sc = self.screen.lock().unwrap();
                if String::from_utf8_lossy(&sc).contains(s) {
                    sc.clear();
                    return;
                }
            }
            assert!(
                t0.elapsed().as_secs() < 30,
                "`{s}` not shown; screen: {}",
                String::from_utf8_lossy(&self.screen.lock().unwrap())
            );
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
    }
}

impl Drop for RawPty {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A byte that is not UTF-8 on the terminal: E0006, only that line is lost, the session
/// goes on (it used to end the session with exit status 0).
#[test]
fn invalid_utf8_on_the_terminal_costs_one_line() {
    let mut p = RawPty::start();
    p.expect("type :help");
    p.send(b"let a = 2 mV\r");
    p.expect("a = 2 mV");
    p.send(b"let e = 1\xff\r");
    p.expect("E0006");
    p.send(b"a * 3\r");
    p.expect("= 6 mV");
}
