//! Resource limits and bounded file reading (issue 12, items 1 and 4): every reproducer of a
//! huge count or a hostile path gives a coded error instead of a panic, an allocation abort,
//! a hang or an echo of a file's content. Each case runs the `isf` binary, so an abort would
//! fail the case instead of killing the test process; the run is bounded by a timeout.

use crate::common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

const SWC: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/examples/cells/l5pt_simple.swc"
);

/// A passive neuron on the example morphology, with the experiment's fields filled in.
fn script(morph: &str, disc: &str, exp: &str) -> String {
    let region = "{ Ra: 100 ohm*cm, cm: 1 uF/cm2, pas { g: 3e-5 S/cm2, e: -70 mV } }";
    format!(
        "import std.channels.hay2011.*\nneuron N {{\n    morphology: swc(\"{morph}\")\n    \
         discretization: {disc}\n    soma {region}\n    axon {region}\n    dendrite {region}\n    \
         apical_dendrite {region}\n}}\nexperiment e {{\n    neuron: N\n{exp}\n    \
         store: \"out.isfdb\"\n}}\n"
    )
}

fn exp(duration: &str, dt: &str, trials: &str, record: &str) -> String {
    format!(
        "    duration: {duration}\n    dt: {dt}\n    trials: {trials}\n    record {{ {record} }}"
    )
}

const DLAMBDA: &str = "isf_d_lambda(frequency: 100 Hz)";

/// A temporary folder holding the example morphology (as `cell.swc`) and `s.isf`.
fn setup(text: &str) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::copy(SWC, dir.path().join("cell.swc")).expect("copy swc");
    let s = dir.path().join("s.isf");
    std::fs::write(&s, text).expect("write script");
    (dir, s)
}

/// Run `isf ARGS` in `dir` with a 60 s bound; the output with stderr and stdout joined.
fn isf(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> (Option<i32>, String) {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_isf"));
    cmd.args(args)
        .current_dir(dir)
        .env_remove("ISF_ALLOW_LARGE")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for (k, v) in env {
        cmd.env(k, v);
    }
    let mut child = cmd.spawn().expect("spawn isf");
    let t0 = Instant::now();
    loop {
        if child.try_wait().expect("wait").is_some() {
            break;
        }
        if t0.elapsed() > Duration::from_secs(60) {
            let _ = child.kill();
            panic!("isf {args:?} did not finish in 60 s");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let Output {
        status,
        stdout,
        stderr,
    } = child.wait_with_output().expect("output");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&stderr),
        String::from_utf8_lossy(&stdout)
    );
    (status.code(), text)
}

/// `isf CMD s.isf` exits 1 with `code` and every `needle` in its output, without a panic.
fn refused(cmd: &str, text: &str, code: &str, needles: &[&str]) -> String {
    let (dir, s) = setup(text);
    let (status, out) = isf(dir.path(), &[cmd, s.to_str().unwrap()], &[]);
    assert_eq!(status, Some(1), "isf {cmd}: exit {status:?}\n{out}");
    assert!(out.contains(code), "isf {cmd}: no {code}\n{out}");
    assert!(!out.contains("panicked"), "isf {cmd} panicked\n{out}");
    for n in needles {
        assert!(out.contains(n), "isf {cmd}: no `{n}` in\n{out}");
    }
    out
}

#[test]
fn trials_of_u64_max_is_refused_not_a_panic() {
    let t = script(
        "cell.swc",
        DLAMBDA,
        &exp("10 ms", "0.025 ms", "18446744073709551615", "soma.v"),
    );
    refused(
        "check",
        &t,
        "E0418",
        &["1.8e19 work items", "--allow-large"],
    );
    refused("run", &t, "E0418", &["1.8e19 work items"]);
}

#[test]
fn a_trillion_trials_is_refused() {
    let t = script(
        "cell.swc",
        DLAMBDA,
        &exp("10 ms", "0.025 ms", "1e12", "soma.v"),
    );
    refused(
        "run",
        &t,
        "E0418",
        &["1.0e12 work items", "the limit is 1.0e8"],
    );
}

#[test]
fn tiny_dt_long_and_absurd_durations_are_refused_at_check() {
    for (dur, dt, figure) in [
        ("10 ms", "1e-9 ms", "1.0e10 steps"),
        ("1e12 ms", "0.025 ms", "4.0e13 steps"),
        ("1e300 ms", "0.025 ms", "4.0e301 steps"),
    ] {
        let t = script("cell.swc", DLAMBDA, &exp(dur, dt, "1", "soma.v"));
        refused("check", &t, "E0418", &[figure]);
        let out = refused("run", &t, "E0418", &[figure]);
        assert!(!out.contains("18446744073709551615"), "{out}");
    }
}

#[test]
fn a_swept_duration_is_bounded_per_point() {
    let e = format!(
        "{}\n    sweep {{ duration in [10 ms, 1e12 ms] }}",
        exp("10 ms", "0.025 ms", "1", "soma.v")
    );
    refused(
        "check",
        &script("cell.swc", DLAMBDA, &e),
        "E0418",
        &["4.0e13 steps"],
    );
}

#[test]
fn fixed_1e9_compartments_is_refused_before_allocation() {
    let t = script(
        "cell.swc",
        "fixed(1e9)",
        &exp("10 ms", "0.025 ms", "1", "soma.v"),
    );
    refused(
        "check",
        &t,
        "E0418",
        &["compartments", "the limit is 1.0e7"],
    );
    refused("run", &t, "E0418", &["compartments"]);
}

#[test]
fn one_mistyped_swc_coordinate_is_refused_with_the_section() {
    let (dir, s) = setup(&script(
        "cell.swc",
        DLAMBDA,
        &exp("10 ms", "0.025 ms", "1", "soma.v"),
    ));
    // Line 400 of the file is a sample of the apical tuft: its x becomes 1e9 µm.
    let text = std::fs::read_to_string(SWC).unwrap();
    let bad: Vec<String> = text
        .lines()
        .enumerate()
        .map(|(i, l)| {
            if i == 399 {
                let mut f: Vec<&str> = l.split_whitespace().collect();
                f[2] = "1e9";
                f.join(" ")
            } else {
                l.to_string()
            }
        })
        .collect();
    std::fs::write(dir.path().join("cell.swc"), bad.join("\n")).unwrap();
    let (status, out) = isf(dir.path(), &["run", s.to_str().unwrap()], &[]);
    assert_eq!(status, Some(1), "{out}");
    assert!(
        out.contains("E0418") && out.contains("2.0e7 compartments"),
        "{out}"
    );
    assert!(out.contains("longest section"), "{out}");
}

#[test]
fn a_sweep_of_2_pow_64_points_does_not_wrap_to_one() {
    let axes: Vec<String> = ["soma", "axon", "dendrite", "apical_dendrite"]
        .iter()
        .flat_map(|r| {
            let ra: Vec<String> = (0..256).map(|i| format!("{} ohm*cm", 100 + i)).collect();
            let cm: Vec<String> = (0..256)
                .map(|i| format!("{} uF/cm2", 1.0 + f64::from(i) * 0.001))
                .collect();
            [
                format!("N.{r}.Ra in [{}]", ra.join(", ")),
                format!("N.{r}.cm in [{}]", cm.join(", ")),
            ]
        })
        .collect();
    let e = format!(
        "{}\n    sweep {{\n        {}\n    }}",
        exp("10 ms", "0.025 ms", "1", "soma.v"),
        axes.join("\n        ")
    );
    let t = script("cell.swc", DLAMBDA, &e);
    refused("check", &t, "E0418", &["1.8e19 sweep points"]);
    let (dir, s) = setup(&t);
    let (_, out) = isf(dir.path(), &["run", "--dry-run", s.to_str().unwrap()], &[]);
    assert!(
        out.contains("E0418") && !out.contains("1 sweep point x"),
        "{out}"
    );
}

#[test]
fn recorded_bytes_are_refused_per_trial_and_per_run_before_the_store_exists() {
    let t = script(
        "cell.swc",
        DLAMBDA,
        &exp("1000000 ms", "0.025 ms", "1", "all_compartments"),
    );
    let (dir, s) = setup(&t);
    let (status, out) = isf(dir.path(), &["run", s.to_str().unwrap()], &[]);
    assert_eq!(status, Some(1), "{out}");
    assert!(
        out.contains("E0418") && out.contains("one trial would record 92.8 GB"),
        "{out}"
    );
    assert!(
        !dir.path().join("out.isfdb").exists(),
        "a refused run made a store"
    );
    let t = script(
        "cell.swc",
        DLAMBDA,
        &exp("100000 ms", "0.025 ms", "200", "all_compartments"),
    );
    refused("run", &t, "E0418", &["this run would record 1.9 TB"]);
}

#[test]
fn limits_are_raised_by_flag_or_environment() {
    let t = script(
        "cell.swc",
        DLAMBDA,
        &exp("10 ms", "0.025 ms", "1e12", "soma.v"),
    );
    let (dir, s) = setup(&t);
    let s = s.to_str().unwrap();
    let (status, out) = isf(dir.path(), &["check", "--allow-large", s], &[]);
    assert_eq!(status, Some(0), "{out}");
    let (status, out) = isf(dir.path(), &["check", s], &[("ISF_ALLOW_LARGE", "1")]);
    assert_eq!(status, Some(0), "{out}");
    // Raised, the counts must still be representable: 1e300 ms stays refused.
    let t = script(
        "cell.swc",
        DLAMBDA,
        &exp("1e300 ms", "0.025 ms", "1", "soma.v"),
    );
    let (dir, s) = setup(&t);
    let (status, out) = isf(
        dir.path(),
        &["check", "--allow-large", s.to_str().unwrap()],
        &[],
    );
    assert_eq!(status, Some(1), "{out}");
    assert!(out.contains("E0418"), "{out}");
}

#[test]
fn four_billion_declared_synapses_are_refused() {
    let net = "network Big {\n    population P {\n        cells: 10\n        synapses: 4000000000\n        \
               release_probability: 0.5\n        receptor glutamate { weight_ampa: 1 nS, weight_nmda: 1 nS }\n        \
               activity: poisson(interval: 100 ms)\n    }\n}\n";
    let e = format!(
        "    network: Big\n{}",
        exp("10 ms", "0.025 ms", "1", "soma.v")
    );
    let t = format!("{net}{}", script("cell.swc", DLAMBDA, &e));
    refused("run", &t, "E0418", &["4.0e9 declared synapses"]);
}

/// `isf run` of the conformance cell and network with `from` replaced by `to` (first match)
/// in a copy of `network.param`: the output, or `None` when the data is missing.
fn run_mutated_network(from: &str, to: &str) -> Option<(Option<i32>, String)> {
    let dir = common::conformance::conformance_dir().join("inputs");
    let files = [
        "86_C2_center.param",
        "86_C2_center.hoc",
        "network.param",
        "example_embedding_86_C2_center.syn",
        "example_embedding_86_C2_center.con",
    ];
    let paths: Vec<PathBuf> = files.iter().map(|f| dir.join(f)).collect();
    let refs: Vec<&Path> = paths.iter().map(PathBuf::as_path).collect();
    if !common::skip::require_data("conformance data", &refs) {
        return None;
    }
    let tmp = tempfile::tempdir().unwrap();
    for (f, p) in files.iter().zip(&paths) {
        std::fs::copy(p, tmp.path().join(f)).unwrap();
    }
    let net = tmp.path().join("network.param");
    let text = std::fs::read_to_string(&net).unwrap();
    assert!(text.contains(from), "network.param has no `{from}`");
    std::fs::write(&net, text.replacen(from, to, 1)).unwrap();
    let s = tmp.path().join("s.isf");
    std::fs::write(
        &s,
        "neuron L5PT = isf_param(\"86_C2_center.param\")\nnetwork C2 = \
         isf_network_param(\"network.param\")\nexperiment S4 {\n    neuron: L5PT\n    \
         network: C2\n    duration: 1 ms\n    record { soma.v }\n    store: \"o.isfdb\"\n}\n",
    )
    .unwrap();
    Some(isf(tmp.path(), &["run", s.to_str().unwrap()], &[]))
}

#[test]
fn a_huge_cell_count_in_a_network_param_file_is_refused() {
    let Some((status, out)) = run_mutated_network("\"cellNr\": 7,", "\"cellNr\": 4000000000,")
    else {
        return;
    };
    assert_eq!(status, Some(1), "{out}");
    assert!(
        out.contains("E0418") && out.contains("4.0e9 presynaptic cells"),
        "{out}"
    );
}

#[test]
fn a_tiny_poisson_interval_in_a_network_param_file_is_refused() {
    let Some((status, out)) = run_mutated_network("\"interval\": 142.9,", "\"interval\": 1e-9,")
    else {
        return;
    };
    assert_eq!(status, Some(1), "{out}");
    assert!(
        out.contains("E0418") && out.contains("7.0e9 spikes"),
        "{out}"
    );
}

// ---------------------------------------------------------------- item 4: file reading

fn import(target: &str) -> (Option<i32>, String, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let s = dir.path().join("s.isf");
    std::fs::write(&s, format!("import \"{target}\"\n")).unwrap();
    let (status, out) = isf(dir.path(), &["check", s.to_str().unwrap()], &[]);
    (status, out, dir)
}

#[test]
#[cfg(unix)]
fn import_of_a_device_or_proc_file_is_refused_without_reading_or_echo() {
    for target in ["/dev/zero", "/proc/self/environ"] {
        let (status, out, _d) = import(target);
        assert_eq!(status, Some(1), "{out}");
        assert!(
            out.contains("E0203") && out.contains("not an `.isf` script"),
            "{out}"
        );
        assert!(!out.contains("PATH="), "environment echoed:\n{out}");
    }
}

#[test]
#[cfg(unix)]
fn import_of_a_directory_fifo_or_binary_isf_is_a_coded_error() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("d.isf")).unwrap();
    let fifo = dir.path().join("f.isf");
    let c = std::ffi::CString::new(fifo.to_str().unwrap()).unwrap();
    // SAFETY: mkfifo with a valid NUL-terminated path.
    assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
    // Environment-like content: NUL-separated `KEY=value` pairs.
    std::fs::write(dir.path().join("env.isf"), b"SECRET=hunter2\0PATH=/bin\0").unwrap();
    for (target, says) in [
        ("d.isf", "a directory, not a regular file"),
        ("f.isf", "a FIFO, not a regular file"),
        ("env.isf", "not an isf script"),
    ] {
        let s = dir.path().join("s.isf");
        std::fs::write(&s, format!("import \"{target}\"\n")).unwrap();
        let (status, out) = isf(dir.path(), &["check", s.to_str().unwrap()], &[]);
        assert_eq!(status, Some(1), "{target}: {out}");
        assert!(
            out.contains("E0203") && out.contains(says),
            "{target}: {out}"
        );
        assert!(!out.contains("hunter2"), "file content echoed:\n{out}");
    }
}

#[test]
fn import_of_a_text_file_that_is_not_isf_does_not_quote_it() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("notes.txt"), "password = hunter2\n").unwrap();
    let s = dir.path().join("s.isf");
    std::fs::write(&s, "import \"notes.txt\"\n").unwrap();
    let (status, out) = isf(dir.path(), &["check", s.to_str().unwrap()], &[]);
    assert_eq!(status, Some(1), "{out}");
    assert!(out.contains("E0203"), "{out}");
    assert!(!out.contains("hunter2"), "file content echoed:\n{out}");
}

#[test]
#[cfg(unix)]
fn a_morphology_that_is_a_device_or_directory_is_a_coded_error() {
    for (target, says) in [("/dev/zero", "is a device"), ("/tmp", "is a directory")] {
        let t = script(target, DLAMBDA, &exp("10 ms", "0.025 ms", "1", "soma.v"));
        refused("check", &t, "E0211", &[says]);
    }
}
