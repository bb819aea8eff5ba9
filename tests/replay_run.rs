//! Replayed synaptic input through the run path of `isf run` (checked model → `CellRunner` →
//! trial): spike-time CSVs and ISF activation files on a network block without anatomy
//! (self-contained), located errors found when the runner is set up, and one file of a real
//! 2015 ISF run (`../shared/isf-legacy-run`) on ISF's own cell and network files, whose release
//! times must reach the synapse kernel unchanged.

mod common;

use common::conformance::{conformance_dir, s4_network};
use isf::interop::formats::activation::{HEADER, read_activation_file};
use isf::interop::replay::{activation_rows, replay};
use isf::run::cellsim::CellRunner;
use isf::run::exec::{TrialOutput, TrialRunner};
use isf::run::receptors::synapses_from_trial_input;
use isf::run::{point_values, work_items};
use isf::store::{Column, Table};
use std::path::{Path, PathBuf};

/// A fresh temporary directory and its path; the directory is removed when the guard drops.
fn scratch() -> (tempfile::TempDir, PathBuf) {
    let t = tempfile::tempdir().expect("temp dir");
    let p = t.path().to_path_buf();
    (t, p)
}

/// A small cell and a two-population network block (no anatomy), replaying `replay` (no
/// `replay` field when empty).
fn script(replay: &str) -> String {
    let swc = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/cells/l5pt_simple.swc");
    format!(
        r#"import std.channels.hay2011.*
neuron N {{
    morphology: swc("{}")
    soma {{ Ra: 100 ohm*cm, cm: 1 uF/cm2, pas {{ g: 3.26e-5 S/cm2, e: -90 mV }} }}
    dendrite {{ Ra: 100 ohm*cm, cm: 2 uF/cm2, pas {{ g: 6.31e-5 S/cm2, e: -90 mV }} }}
}}
network Net {{
    population VPM_C2 {{
        cells: 10
        synapses: 10
        release_probability: 0.1
        receptor glutamate {{ weight_ampa: 1.78 nS, weight_nmda: 1.78 nS }}
        activity: poisson(interval: 100 ms)
    }}
    population L45Peak_C2 {{
        cells: 5
        synapses: 5
        release_probability: 0.1
        receptor gaba {{ weight: 1 nS, e: -80 mV }}
        activity: poisson(interval: 100 ms)
    }}
}}
experiment E {{
    neuron: N
    network: Net
{replay_line}    duration: 50 ms
    record {{
        soma.v
        synapse_activations
        presynaptic_spikes
    }}
}}
"#,
        swc.display(),
        replay_line = if replay.is_empty() {
            String::new()
        } else {
            format!("    replay: {replay}\n")
        }
    )
}

fn checked(dir: &Path, text: &str) -> isf::sema::Checked {
    let c = isf::validate::check_text("replay.isf", text, dir);
    assert!(!c.has_errors(), "{:?}", c.diagnostics);
    c
}

fn table<'a>(out: &'a TrialOutput, name: &str) -> &'a Table {
    &out.tables
        .iter()
        .find(|t| t.0 == name)
        .unwrap_or_else(|| panic!("{name}"))
        .1
}

const CSV_HEADER: &str = "synapse_id,cell_type,section_id,x,spike_time_ms";

#[test]
fn spike_time_files_replay_one_trial_each() {
    let (_guard, dir) = scratch();
    // Two trials; synapse 7 lists its spikes out of order, synapse 2 is inhibitory.
    std::fs::write(
        dir.join("t0.csv"),
        format!("{CSV_HEADER}\n7,VPM_C2,4,0.5,12.5\n2,L45Peak_C2,7,0.9,20\n7,VPM_C2,4,0.5,3.25\n"),
    )
    .unwrap();
    std::fs::write(
        dir.join("t1.csv"),
        format!("{CSV_HEADER}\n0,VPM_C2,0,0.5,5\n"),
    )
    .unwrap();
    let c = checked(&dir, &script(r#"["t0.csv", "t1.csv"]"#));
    let exp = &c.model.experiments[0];
    assert_eq!(exp.trials, 2, "one trial per replay file");
    assert_eq!(
        exp.replay
            .iter()
            .map(|r| (r.format.as_str(), r.synapses, r.releases))
            .collect::<Vec<_>>(),
        vec![("spike_times", 2, 3), ("spike_times", 1, 1)]
    );
    let runner = CellRunner::new(&c.model, exp).unwrap_or_else(|d| panic!("{d:?}"));
    let items = work_items(exp);
    let run = |k: usize| runner.run(&items[k], &point_values(&exp.sweep, 0)).unwrap();
    let (a, b) = (run(0), run(1));
    let act = table(&a, "synapse_activations");
    // ISF's order: types sorted, then synapse ID; every recorded spike is a release (the
    // network's release probability 0.1 is not applied to replayed input).
    assert_eq!(
        act.column("synapse_type"),
        Some(&Column::Str(vec!["L45Peak_C2".into(), "VPM_C2".into()]))
    );
    assert_eq!(act.column("synapse_id"), Some(&Column::I64(vec![2, 7])));
    assert_eq!(act.column("section"), Some(&Column::I64(vec![7, 4])));
    assert_eq!(
        act.column("release_times_ms"),
        Some(&Column::F64List(vec![vec![20.0], vec![3.25, 12.5]]))
    );
    // One presynaptic pseudo-cell per replayed synapse.
    let pre = table(&a, "presynaptic_spikes");
    assert_eq!(pre.rows(), Ok(2));
    assert_eq!(table(&b, "synapse_activations").rows(), Ok(1));
    // The input acts: the EPSP at the soma, different per trial, and trials reproduce.
    let v = &a.traces[0].1;
    assert!(v.iter().all(|x| x.is_finite()));
    assert_ne!(a.traces[0].1, b.traces[0].1);
    assert_eq!(run(0), a);
}

#[test]
fn activation_files_replay_without_anatomy() {
    let (_guard, dir) = scratch();
    std::fs::write(
        dir.join("run.csv"),
        format!("{HEADER}\nVPM_C2\t3\t10.0\t4\t2\tDendrite\t1.5,7.25,\nL45Peak_C2\t0\t5.0\t7\t16\tDendrite\t9,\n"),
    )
    .unwrap();
    let c = checked(&dir, &script(r#""run.csv""#));
    let exp = &c.model.experiments[0];
    assert_eq!(
        (exp.trials, exp.replay[0].format.as_str()),
        (1, "isf_activations")
    );
    let runner = CellRunner::new(&c.model, exp).unwrap_or_else(|d| panic!("{d:?}"));
    let out = runner
        .run(&work_items(exp)[0], &point_values(&exp.sweep, 0))
        .unwrap();
    let act = table(&out, "synapse_activations");
    assert_eq!(act.column("synapse_id"), Some(&Column::I64(vec![0, 3])));
    assert_eq!(act.column("point"), Some(&Column::I64(vec![16, 2])));
    assert_eq!(
        act.column("release_times_ms"),
        Some(&Column::F64List(vec![vec![9.0], vec![1.5, 7.25]]))
    );
}

/// Errors that need the network or the cell are found when the runner is set up, before any
/// trial, located in the replay file.
#[test]
fn setup_errors_are_located() {
    let (_guard, dir) = scratch();
    let cases = [
        (
            "type.csv",
            format!("{CSV_HEADER}\n0,VPM_C2,4,0.5,1\n1,L5tt_C2,4,0.5,2\n"),
            "E0809",
            ":3:3:",
        ),
        (
            "section.csv",
            format!("{CSV_HEADER}\n0,VPM_C2,400,0.5,1\n"),
            "E0810",
            ":2:10:",
        ),
        (
            "moved.csv",
            format!("{CSV_HEADER}\n0,VPM_C2,4,0.5,1\n0,VPM_C2,5,0.5,2\n"),
            "E0805",
            ":3:1:",
        ),
        (
            "point.csv",
            format!("{HEADER}\nVPM_C2\t0\t1.0\t4\t99\tDendrite\t1,\n"),
            "E0810",
            ":2:",
        ),
    ];
    for (file, text, code, at) in cases {
        std::fs::write(dir.join(file), text).unwrap();
        let c = checked(&dir, &script(&format!("\"{file}\"")));
        let Err(d) = CellRunner::new(&c.model, &c.model.experiments[0]) else {
            panic!("{file}: accepted");
        };
        assert_eq!(d.code.as_str(), code, "{file}: {}", d.message);
        assert!(
            d.message.contains(&format!("{file}{at}")),
            "{file}: {}",
            d.message
        );
    }
}

/// One trial of a 2015 ISF run (`simulation_run0001_synapses.csv`) replayed by `isf run`'s path
/// on ISF's cell and network files: the recorded activations come back unchanged, and the
/// synapses handed to the kernel release exactly at the recorded times.
#[test]
fn legacy_isf_run_replays_through_the_runner() {
    let dir = conformance_dir();
    let legacy = dir.join("../isf-legacy-run");
    let file = legacy.join("simulation_run0001_synapses.csv");
    if !common::skip::require_data(
        "the ISF legacy run and conformance data",
        &[&file, &dir.join("inputs/network.param")],
    ) {
        return;
    }
    let inputs = dir.join("inputs");
    let text = format!(
        r#"neuron L5PT = isf_param("{0}/86_C2_center.param")
network C2 = isf_network_param("{0}/network.param")
experiment legacy {{
    neuron: L5PT
    network: C2
    replay: ["{1}/simulation_run0000_synapses.csv", "{1}/simulation_run0001_synapses.csv"]
    duration: 345 ms
    record {{
        soma.v
        spikes(soma, threshold: 0 mV)
        synapse_activations
    }}
}}
"#,
        inputs.display(),
        legacy.display()
    );
    let c = checked(&dir, &text);
    let exp = &c.model.experiments[0];
    assert_eq!(exp.trials, 2);
    assert_eq!(exp.replay[1].format, "isf_activations");

    // The library replay of the same file, and the synapses the kernel gets from it.
    let rows = read_activation_file(&file).expect("activation file");
    let prep = s4_network(&inputs);
    let (morph, nseg) = common::conformance::cell_morphology(&inputs);
    let placer = isf::network::Placer::new(&morph, &nseg);
    let lib = replay(&prep, &placer, &rows, "run0001").expect("library replay");
    let set = synapses_from_trial_input(&prep.network, &lib).expect("synapse set");
    assert_eq!(
        set.synapses.len(),
        rows.len(),
        "one receptor per synapse type"
    );
    for (k, (s, r)) in set.synapses.iter().zip(&rows).enumerate() {
        let mut want = r.times_ms.clone();
        want.sort_by(f64::total_cmp);
        assert_eq!(s.release_times_ms, want, "row {k}: release times");
        assert_eq!(s.section as u32, r.section, "row {k}: section");
        assert_eq!(s.delay_ms, 0.0);
    }

    let t0 = std::time::Instant::now();
    let runner = CellRunner::new(&c.model, exp).unwrap_or_else(|d| panic!("{d:?}"));
    let setup_s = t0.elapsed().as_secs_f64();
    let item = work_items(exp)[1];
    let t0 = std::time::Instant::now();
    let out = runner
        .run(&item, &point_values(&exp.sweep, 0))
        .unwrap_or_else(|d| panic!("{d:?}"));
    let run_s = t0.elapsed().as_secs_f64();
    // The run's input is the library replay: same rows in ISF's order, same times.
    let act = table(&out, "synapse_activations");
    let want = activation_rows(&prep, &lib);
    assert_eq!(act.rows(), Ok(want.len()));
    let (
        Some(Column::Str(ty)),
        Some(Column::I64(id)),
        Some(Column::I64(sec)),
        Some(Column::I64(pt)),
        Some(Column::F64(dist)),
        Some(Column::F64List(times)),
    ) = (
        act.column("synapse_type"),
        act.column("synapse_id"),
        act.column("section"),
        act.column("point"),
        act.column("soma_distance_um"),
        act.column("release_times_ms"),
    )
    else {
        panic!("activation columns");
    };
    for (k, w) in want.iter().enumerate() {
        assert_eq!(
            (&ty[k], id[k], sec[k], pt[k]),
            (
                &w.synapse_type,
                w.synapse_id,
                i64::from(w.section),
                i64::from(w.point)
            ),
            "row {k}"
        );
        assert_eq!(dist[k].to_bits(), w.soma_distance_um.to_bits(), "row {k}");
        assert_eq!(times[k], w.times_ms, "row {k}");
    }
    // … and the file's rows (ISF wrote them in the same order).
    for (k, r) in rows.iter().enumerate() {
        assert_eq!((&ty[k], id[k]), (&r.synapse_type, r.synapse_id), "row {k}");
        let mut t = r.times_ms.clone();
        t.sort_by(f64::total_cmp);
        assert_eq!(times[k], t, "row {k}");
    }
    let v = &out.traces[0].1;
    assert!(v.iter().all(|x| x.is_finite()));
    let spikes = out.events[0].1.len();
    eprintln!(
        "legacy run0001: {} synapses, {} releases, {spikes} somatic spikes; setup {setup_s:.2} s, trial {run_s:.2} s",
        lib.n_active(),
        lib.n_releases()
    );
}

/// `examples/replay.isf` checks and runs: every recorded synapse of a file is replayed.
#[test]
fn example_script_replays() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let c = isf::validate::check_path(&root.join("examples/replay.isf"));
    assert!(!c.has_errors(), "{:?}", c.diagnostics);
    let exp = &c.model.experiments[0];
    assert_eq!(exp.trials, 2);
    let runner = CellRunner::new(&c.model, exp).unwrap_or_else(|d| panic!("{d:?}"));
    for item in work_items(exp) {
        let out = runner
            .run(&item, &point_values(&exp.sweep, item.point))
            .unwrap_or_else(|d| panic!("{d:?}"));
        let rows = table(&out, "synapse_activations").rows();
        assert_eq!(rows, Ok(exp.replay[item.trial as usize].synapses as usize));
        assert!(out.traces[0].1.iter().all(|v| v.is_finite()));
    }
}

/// The plan hash covers the replay files by content: editing a file changes it, moving the
/// same files elsewhere does not.
#[test]
fn plan_hash_covers_replay_contents() {
    let hash = |dir: &Path| {
        let c = checked(dir, &script(r#"["t0.csv"]"#));
        c.model.content_hash()
    };
    let ((_ga, a), (_gb, b)) = (scratch(), scratch());
    let text = format!("{CSV_HEADER}\n0,VPM_C2,4,0.5,12.5\n");
    std::fs::write(a.join("t0.csv"), &text).unwrap();
    std::fs::write(b.join("t0.csv"), &text).unwrap();
    let h = hash(&a);
    assert_eq!(h, hash(&b), "same contents elsewhere");
    std::fs::write(
        b.join("t0.csv"),
        format!("{CSV_HEADER}\n0,VPM_C2,4,0.5,12.75\n"),
    )
    .unwrap();
    assert_ne!(h, hash(&b), "edited contents");
}

mod fuzz {
    use super::*;
    use isf::interop::replay::{ReplayFile, trial_input};
    use proptest::prelude::*;

    /// Fields that make near-valid lines of both formats.
    const FIELDS: &[&str] = &[
        "0",
        "1",
        "7",
        "-1",
        "4",
        "400",
        "99",
        "0.5",
        "1.5",
        "-3",
        "nan",
        "inf",
        "1e308",
        "12.5",
        "VPM_C2",
        "L45Peak_C2",
        "L5tt_C2",
        "",
        " ",
        "x",
        "Dendrite",
        "1.0,2.0,",
        "3,",
        "4294967296",
        "synapse_id",
        "spike_time_ms",
    ];

    fn setup() -> &'static (isf::network::PreparedNetwork, isf::network::Placer) {
        static SETUP: std::sync::OnceLock<(isf::network::PreparedNetwork, isf::network::Placer)> =
            std::sync::OnceLock::new();
        SETUP.get_or_init(|| {
            let (_guard, dir) = scratch();
            let c = checked(&dir, &script(""));
            let net = isf::network::lower::from_model(&c.model.networks[0]).expect("network");
            let swc = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/cells/l5pt_simple.swc");
            let morph = isf::morph::Morphology::read(&swc).expect("swc");
            let nseg = vec![3; morph.sections.len()];
            let placer = isf::network::Placer::new(&morph, &nseg);
            let labels = morph
                .sections
                .iter()
                .map(|s| s.label.as_str().to_string())
                .collect();
            (
                isf::network::PreparedNetwork::without_anatomy(&net, labels),
                placer,
            )
        })
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2000))]
        /// Reading and placing arbitrary replay files never panics: rows are accepted or a
        /// located error comes back.
        #[test]
        fn replay_files_never_panic(
            header in prop::sample::select(vec![
                format!("{CSV_HEADER}\n"), format!("{HEADER}\n"), String::new(),
                "spike_time_ms,synapse_id\n".to_string(),
            ]),
            lines in prop::collection::vec(
                (prop::collection::vec(prop::sample::select(FIELDS), 0..9), any::<bool>()),
                0..6,
            ),
        ) {
            let (prep, placer) = setup();
            let mut text = header;
            for (fields, tab) in lines {
                text.push_str(&fields.join(if tab { "\t" } else { "," }));
                text.push('\n');
            }
            if let Ok(f) = ReplayFile::parse(&text, "f.csv") {
                let _ = trial_input(prep, placer, &f);
            }
        }
    }
}
