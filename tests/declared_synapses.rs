//! Synapses declared in `.isf` without anatomy files (`synapses: N`, `location`, `distance`):
//! placed on the cell once per experiment, the same in every trial and for any thread count,
//! and recorded in `synapse_activations`. Runs `examples/c2_evoked.isf`'s network (imported
//! neuron and network) on the shipped example cell.

use isf::network::declared::{eligible, placement_seed};
use isf::network::{Placer, PreparedNetwork, SynapseSource};
use isf::run::exec::{TrialOutput, TrialRunner};
use isf::run::{point_values, work_items};
use isf::store::{Column, Store, Table};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

fn examples() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("examples")
}

/// A root script next to the examples that imports the L5PT neuron and the C2 network and
/// runs `trials` short trials (the example's own experiment has 4 × 50 trials).
fn c2_script(trials: u32, extra_population: &str) -> String {
    format!(
        r#"import "l5pt_hay.isf"
import "c2_evoked.isf"
{extra_population}
experiment one {{
    neuron: L5PT_86
    network: C2_evoked
    duration: 300 ms
    trials: {trials}
    seed: 42
    record {{
        soma.v
        synapse_activations
    }}
}}
"#
    )
}

/// A scratch copy of `l5pt_hay.isf`, `c2_evoked.isf` (its text passed through `edit`) and
/// the example cells.
fn scratch_examples(edit: impl Fn(String) -> String) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::copy(
        examples().join("l5pt_hay.isf"),
        dir.path().join("l5pt_hay.isf"),
    )
    .unwrap();
    let c2 = std::fs::read_to_string(examples().join("c2_evoked.isf")).unwrap();
    std::fs::write(dir.path().join("c2_evoked.isf"), edit(c2)).unwrap();
    std::fs::create_dir_all(dir.path().join("cells")).unwrap();
    for e in std::fs::read_dir(examples().join("cells"))
        .unwrap()
        .flatten()
    {
        if e.path().is_file() {
            std::fs::copy(e.path(), dir.path().join("cells").join(e.file_name())).unwrap();
        }
    }
    dir
}

fn check(text: &str) -> isf::sema::Checked {
    let c = isf::validate::check_text("declared_test.isf", text, &examples());
    assert!(!c.has_errors(), "{:?}", c.diagnostics);
    c
}

fn activations(out: &TrialOutput) -> &Table {
    &out.tables
        .iter()
        .find(|t| t.0 == "synapse_activations")
        .expect("synapse_activations recorded")
        .1
}

/// (type, synapse id) → (section, point, soma distance) of every row of an activation table.
type Where = BTreeMap<(String, i64), (i64, i64, u64)>;

fn where_of(t: &Table) -> Where {
    let Some(Column::Str(ty)) = t.column("synapse_type") else {
        panic!("synapse_type")
    };
    let Some(Column::I64(id)) = t.column("synapse_id") else {
        panic!("synapse_id")
    };
    let Some(Column::I64(sec)) = t.column("section") else {
        panic!("section")
    };
    let Some(Column::I64(pt)) = t.column("point") else {
        panic!("point")
    };
    let Some(Column::F64(d)) = t.column("soma_distance_um") else {
        panic!("soma_distance_um")
    };
    (0..ty.len())
        .map(|k| ((ty[k].clone(), id[k]), (sec[k], pt[k], d[k].to_bits())))
        .collect()
}

fn placed(c: &isf::sema::Checked) -> PreparedNetwork {
    let exp = &c.model.experiments[0];
    isf::run::cellsim::placed_network(&c.model, exp)
        .unwrap_or_else(|d| panic!("{d:?}"))
        .expect("the experiment has a network")
}

fn where_of_prepared(p: &PreparedNetwork) -> Where {
    (0..p.n_synapses())
        .map(|s| {
            (
                (
                    p.network.populations[p.syn_population[s] as usize]
                        .name
                        .clone(),
                    i64::from(p.syn_id[s]),
                ),
                (
                    i64::from(p.syn_section[s]),
                    i64::from(p.syn_point[s]),
                    p.syn_soma_distance_um[s].to_bits(),
                ),
            )
        })
        .collect()
}

#[test]
fn c2_network_declared_synapses_run_with_fixed_placement() {
    let c = check(&c2_script(2, ""));
    // The imported neuron, network and their mechanisms are in the model; the experiments of
    // the imported files are not.
    assert_eq!(c.model.neurons.len(), 1);
    assert_eq!(c.model.neurons[0].name, "L5PT_86");
    assert_eq!(c.model.networks.len(), 1);
    assert_eq!(c.model.networks[0].name, "C2_evoked");
    let names: Vec<&str> = c
        .model
        .experiments
        .iter()
        .map(|e| e.name.as_str())
        .collect();
    assert_eq!(names, ["one"]);

    let t0 = std::time::Instant::now();
    let prep = placed(&c);
    eprintln!(
        "placed {} synapses of {} populations (lowering the cell included) in {:.1} ms",
        prep.n_synapses(),
        prep.network.populations.len(),
        t0.elapsed().as_secs_f64() * 1e3
    );
    // Synapse count per population = N, all on dendrites, cells round-robin.
    let want = [
        ("L5tt_C2", 379),
        ("VPM_C2", 280),
        ("L4ss_C2", 1481),
        ("L45Peak_C2", 203),
    ];
    for (pi, (name, n)) in want.iter().enumerate() {
        let p = &prep.network.populations[pi];
        assert_eq!(&p.name, name);
        assert!(matches!(&p.synapses, SynapseSource::Declared(d) if d.count == *n));
        let r = prep.synapse_range[pi].clone();
        assert_eq!(r.len(), *n as usize, "{name}");
        for s in r {
            let label = &prep.section_labels[prep.syn_section[s] as usize];
            assert!(
                label == "Dendrite" || label == "ApicalDendrite",
                "{name} synapse on {label}"
            );
            assert_eq!(prep.syn_cell[s], prep.syn_id[s] % p.cells);
            assert!(prep.syn_soma_distance_um[s] >= 0.0);
        }
    }

    // Two trials through the run engine: activations recorded, every active synapse where the
    // placement put it, in both trials.
    let exp = &c.model.experiments[0];
    let runner =
        isf::run::cellsim::CellRunner::new(&c.model, exp).unwrap_or_else(|d| panic!("{d:?}"));
    let items = work_items(exp);
    let out: Vec<TrialOutput> = items
        .iter()
        .map(|it| {
            runner
                .run(it, &point_values(&exp.sweep, it.point))
                .expect("trial runs")
        })
        .collect();
    let placement = where_of_prepared(&prep);
    let mut seen_in_both = 0;
    let w: Vec<Where> = out.iter().map(|o| where_of(activations(o))).collect();
    for wt in &w {
        assert!(wt.len() > 100, "{} active synapses", wt.len());
        for (k, v) in wt {
            assert_eq!(placement.get(k), Some(v), "{k:?}");
        }
    }
    for k in w[0].keys() {
        if w[1].contains_key(k) {
            seen_in_both += 1;
        }
    }
    assert!(
        seen_in_both > 10,
        "{seen_in_both} synapses active in both trials"
    );
    assert_ne!(w[0], w[1], "trials draw different activity");
}

#[test]
fn placement_follows_location_and_distance_and_is_uniform_by_length() {
    let c = check(
        &c2_script(
            1,
            r#"network Restricted {
    population Apical_mid {
        cells: 50
        synapses: 400
        location: apical_dendrite
        distance: (200 um, 600 um)
        activity: poisson(interval: 100 ms)
    }
    population Everywhere {
        cells: 100
        synapses: 3000
        activity: poisson(interval: 100 ms)
    }
}"#,
        )
        .replace("network: C2_evoked", "network: Restricted"),
    );
    let prep = placed(&c);
    let r = prep.synapse_range[0].clone();
    assert_eq!(r.len(), 400);
    for s in r {
        assert_eq!(
            prep.section_labels[prep.syn_section[s] as usize],
            "ApicalDendrite"
        );
        let d = prep.syn_soma_distance_um[s];
        // The drawn position's distance; bounds up to the rounding of x·L + start.
        assert!((200.0 - 1e-9..=600.0 + 1e-9).contains(&d), "{d}");
    }
    // Uniform by path length: the share of apical synapses matches the apical share of the
    // dendritic length (binomial, within 5 standard deviations).
    let neuron = &c.model.neurons[0];
    let mut morph = isf::lower::cell::read_morphology(neuron).unwrap();
    morph.add_hay2013_axon();
    let placer = Placer::new(&morph, &[]);
    let labels: Vec<String> = morph
        .sections
        .iter()
        .map(|s| s.label.as_str().to_string())
        .collect();
    let all = eligible(&placer, &labels, &isf::network::DeclaredSynapses::count(1)).unwrap();
    let apical: f64 = all
        .pieces
        .iter()
        .filter(|p| labels[p.section as usize] == "ApicalDendrite")
        .map(|p| p.length_um)
        .sum();
    let p = apical / all.total_um;
    let r = prep.synapse_range[1].clone();
    let n = r.len() as f64;
    let k = r
        .filter(|&s| prep.section_labels[prep.syn_section[s] as usize] == "ApicalDendrite")
        .count() as f64;
    let sd = (n * p * (1.0 - p)).sqrt();
    assert!(
        (k - n * p).abs() < 5.0 * sd,
        "{k} apical of {n}, expected {:.0} ± {sd:.0}",
        n * p
    );
}

#[test]
fn placement_depends_on_seed_and_own_population_only() {
    let base = check(&c2_script(1, ""));
    let a = where_of_prepared(&placed(&base));
    // Another population added to a copy of the network: the C2 populations keep their
    // synapses (streams are keyed by population name).
    let dir = scratch_examples(|t| {
        t.replace(
            "network C2_evoked {",
            "network C2_evoked {\n    population Extra_C2 {\n        cells: 7\n        synapses: 70\n        activity: poisson(interval: 100 ms)\n    }",
        )
    });
    let c = isf::validate::check_text("declared_test.isf", &c2_script(1, ""), dir.path());
    assert!(!c.has_errors(), "{:?}", c.diagnostics);
    let b = where_of_prepared(&placed(&c));
    assert_eq!(b.len(), a.len() + 70);
    for (k, v) in &a {
        assert_eq!(b.get(k), Some(v), "{k:?}");
    }
    // Another experiment seed: another realization.
    let other = check(&c2_script(1, "").replace("seed: 42", "seed: 43"));
    let c43 = where_of_prepared(&placed(&other));
    assert_eq!(c43.len(), a.len());
    let same = a.iter().filter(|(k, v)| c43.get(*k) == Some(*v)).count();
    assert!(
        same < a.len() / 10,
        "{same} of {} synapses unchanged",
        a.len()
    );
    assert_ne!(placement_seed(42), placement_seed(43));
}

/// `isf run` with 1 and 2 threads stores the same activations (placement and activity), and
/// `isf plan` shows the synapses per population.
#[test]
fn isf_run_same_placement_for_any_thread_count() {
    let dir = scratch_examples(|t| t);
    let script = dir.path().join("one.isf");
    std::fs::write(&script, c2_script(3, "")).unwrap();
    let run = |jobs: &str| {
        let out = dir.path().join(format!("j{jobs}.isfdb"));
        let st = Command::new(env!("CARGO_BIN_EXE_isf"))
            .arg("run")
            .arg(&script)
            .arg("--out")
            .arg(&out)
            .args(["--quiet", "--jobs", jobs])
            .status()
            .unwrap();
        assert!(st.success(), "isf run --jobs {jobs}");
        let s = Store::open(&out).unwrap();
        (0..3)
            .map(|t| {
                let t = s
                    .get_table(&format!("one/synapse_activations/p000000_t{t:06}"))
                    .unwrap();
                format!("{:?}", t.columns)
            })
            .collect::<Vec<_>>()
    };
    let one = run("1");
    let two = run("2");
    let plan = Command::new(env!("CARGO_BIN_EXE_isf"))
        .arg("plan")
        .arg(&script)
        .output()
        .unwrap();
    assert_eq!(one, two);
    assert_ne!(one[0], one[1]);
    let text = String::from_utf8_lossy(&plan.stdout);
    assert!(plan.status.success());
    for line in [
        "L5tt_C2          cells    379  synapses    379",
        "L4ss_C2          cells   1481  synapses   1481",
    ] {
        assert!(text.contains(line), "missing `{line}` in\n{text}");
    }
}
