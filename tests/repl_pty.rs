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
