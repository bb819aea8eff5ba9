//! The `isf` binary: exit codes, output formats and help.

use crate::common::cli::run_at_root as isf;

#[test]
fn check_exit_codes() {
    let (code, _, err) = isf(&["check", "stdlib/channels/hay2011.isf"]);
    assert_eq!(code, 0, "{err}");
    let (code, _, err) = isf(&["check", "tests/diagnostics/E0301_wrong_dimension.isf"]);
    assert_eq!(code, 1);
    assert!(err.contains("E0301"), "{err}");
    let (code, _, _) = isf(&["check"]);
    assert_eq!(code, 2, "usage error");
    let (code, _, _) = isf(&["check", "--bogus", "x.isf"]);
    assert_eq!(code, 2, "usage error");
    let (code, _, err) = isf(&["check", "no/such/file.isf"]);
    assert_eq!(code, 1);
    assert!(err.contains("E0203"), "{err}");
}

#[test]
fn warnings_do_not_fail_unless_denied() {
    let (code, _, err) = isf(&["check", "tests/diagnostics/W0101_unused_let.isf"]);
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("W0101"));
    let (code, _, _) = isf(&[
        "check",
        "--deny-warnings",
        "tests/diagnostics/W0101_unused_let.isf",
    ]);
    assert_eq!(code, 1);
}

#[test]
fn json_diagnostics() {
    let (code, out, _) = isf(&[
        "check",
        "--format",
        "json",
        "tests/diagnostics/E0302_unknown_unit.isf",
    ]);
    assert_eq!(code, 1);
    let v: serde_json::Value = serde_json::from_str(&out).expect("valid json");
    let d = &v[0]["diagnostics"][0];
    assert_eq!(d["code"], "E0302");
    assert_eq!(d["labels"][0]["line"], 2);
    assert!(d["help"].as_str().unwrap_or("").contains("mV"));
}

#[test]
fn plan_is_stable_and_hashed() {
    let (code, a, err) = isf(&["plan", "tests/diagnostics/W0104_shadows_import.isf"]);
    assert_eq!(code, 0, "{err}");
    let (_, b, _) = isf(&["plan", "tests/diagnostics/W0104_shadows_import.isf"]);
    assert_eq!(a, b, "plan output is deterministic");
    assert!(a.starts_with("plan (model v2) hash "), "{a}");
    let (code, j, _) = isf(&[
        "plan",
        "--json",
        "tests/diagnostics/W0104_shadows_import.isf",
    ]);
    assert_eq!(code, 0);
    let v: serde_json::Value = serde_json::from_str(&j).unwrap();
    assert_eq!(v["hash"].as_str().unwrap().len(), 64);
    let (code, _, err) = isf(&["plan", "tests/diagnostics/E0301_wrong_dimension.isf"]);
    assert_eq!(code, 1);
    assert!(err.contains("E0301"));
}

#[test]
fn help_has_examples() {
    let (code, out, _) = isf(&["--help"]);
    assert_eq!(code, 0);
    assert!(
        out.contains("Examples:") && out.contains("isf check"),
        "{out}"
    );
}

#[test]
fn plan_hash_follows_content_not_location() {
    let hash_in = |dir: &std::path::Path, swc: &str| {
        std::fs::create_dir_all(dir).unwrap();
        std::fs::write(dir.join("cell.swc"), swc).unwrap();
        std::fs::write(
            dir.join("m.isf"),
            "neuron A {\n    morphology: swc(\"cell.swc\")\n}\n",
        )
        .unwrap();
        let (code, out, err) = isf(&["plan", dir.join("m.isf").to_str().unwrap()]);
        assert_eq!(code, 0, "{err}");
        out.lines().next().unwrap_or_default().to_string()
    };
    let tmp = tempfile::tempdir().unwrap();
    let swc = "1 1 0 0 0 10 -1\n2 3 0 10 0 2 1\n3 3 0 100 0 1 2\n";
    let a = hash_in(&tmp.path().join("one"), swc);
    let b = hash_in(&tmp.path().join("two/deeper"), swc);
    assert_eq!(a, b, "same script and data in two places");
    let c = hash_in(
        &tmp.path().join("three"),
        "1 1 0 0 0 10 -1\n2 3 0 10 0 2 1\n3 3 0 120 0 1 2\n",
    );
    assert_ne!(a, c, "a changed morphology changes the plan hash");
}

/// `isf run` ends with a summary per sweep point: the sweep value, spikes per trial (mean ±
/// sd) and the rate, read back from the stored spike table, then commands that work on it.
#[test]
fn run_prints_a_summary_of_what_the_store_holds() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("qs.isfdb");
    let out_s = out.to_str().unwrap();
    let (code, stdout, err) = isf(&["run", "examples/quickstart.isf", "--out", out_s]);
    assert_eq!(code, 0, "{err}");
    // The counts the summary must show, straight from the store.
    let store = isf::store::Store::open(&out).unwrap();
    let t = store.get_table("quickstart/events/spikes_soma_").unwrap();
    let (Some(isf::store::Column::Str(labels)), Some(isf::store::Column::F64List(times))) =
        (t.column("sim_trial_index"), t.column("times_ms"))
    else {
        panic!("spike table columns")
    };
    let mut per_point = std::collections::BTreeMap::<String, Vec<f64>>::new();
    for (l, ts) in labels.iter().zip(times) {
        let p = l.split('/').next().unwrap().to_string();
        per_point.entry(p).or_default().push(ts.len() as f64);
    }
    assert_eq!(per_point.len(), 3, "{stdout}");
    for (p, amp) in per_point.keys().zip(["0.4 nA", "0.8 nA", "1.2 nA"]) {
        let n = &per_point[p];
        let mean = n.iter().sum::<f64>() / n.len() as f64;
        let line = stdout
            .lines()
            .find(|l| l.trim_start().starts_with(p.as_str()))
            .unwrap_or_else(|| panic!("no summary line for {p}:\n{stdout}"));
        assert!(
            line.contains(&format!("stimulus.step.amp = {amp}")),
            "{line}"
        );
        // quickstart runs 300 ms.
        let want = format!("spikes(soma): {mean:.2} ± ");
        assert!(line.contains(&want), "{line} lacks {want}");
        assert!(line.contains(&format!("({:.1} Hz)", mean / 0.3)), "{line}");
    }
    assert!(
        per_point.values().any(|n| n.iter().any(|&x| x > 0.0)),
        "the quickstart sweep spikes"
    );
    // The suggested next commands run as printed.
    let next: Vec<&str> = stdout
        .lines()
        .map(str::trim)
        .filter(|l| l.starts_with("isf analyze") || l.starts_with("isf db ls"))
        .collect();
    assert_eq!(next.len(), 2, "{stdout}");
    for cmd in next {
        let args: Vec<&str> = cmd.split_whitespace().skip(1).collect();
        let (code, _, err) = isf(&args);
        assert_eq!(code, 0, "`{cmd}`: {err}");
    }
}
