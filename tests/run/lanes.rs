//! `isf run` batches the trials of a sweep point into SIMD lanes (`--lanes`, default 4): the
//! stored results are the same bit for bit with lanes on or off and with 1 or 2 threads. The
//! experiment: the example's Hay-channel cell (`examples/l5pt_hay.isf`) with a network of
//! stochastic synapses (own events and draws per trial) and a current step swept over two
//! amplitudes, 9 trials per point (batches of 4, 4, 1 under the default; 8, 1 with
//! `--lanes 8`; 2, 2, 2, 2, 1 with `--lanes 3`), recording voltages, spikes, an ion
//! concentration, an ion current, a mechanism state and the synapse activations.

use std::path::Path;
use std::process::Command;

fn isf(args: &[&str], dir: &Path) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_isf"))
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap()
}

const SCRIPT: &str = r#"import "l5pt_hay.isf"
import std.synapses.{ProbAMPANMDA2, ProbUDFsyn2}

network Net {
    population Exc {
        cells: 40
        synapses: 120
        release_probability: "dynamic"
        receptor ProbAMPANMDA2 { w: 1.5, Use: 0.6, Dep: 800 ms, Fac: 0 ms, tau_r_AMPA: 0.1 ms, tau_d_AMPA: 2 ms, tau_r_NMDA: 2 ms, tau_d_NMDA: 26 ms }
        activity: poisson(interval: 20 ms)
    }
    population Inh {
        cells: 10
        release_probability: 0.8
        receptor ProbUDFsyn2 { w: 1.0, e: -80 mV, Use: 0.25, Dep: 700 ms, Fac: 20 ms, tau_r: 1 ms, tau_d: 20 ms }
        activity: poisson(interval: 60 ms)
    }
}

experiment lanes {
    neuron: L5PT_86
    network: Net
    duration: 60 ms
    trials: 9
    seed: 11
    stimulus step { at: soma(0.5), amp: 0.2 nA, delay: 10 ms, duration: 40 ms }
    sweep {
        stimulus.step.amp in [0.2 nA, 1.9 nA]
    }
    record {
        soma.v
        spikes(soma, threshold: 0 mV)
        soma.cai
        current(soma, name: "ica")
        state(soma, mechanism: "Ca_HVA", name: "m")
        synapse_activations
    }
}
"#;

/// Every stored key of the experiment's results with its content (tables by their columns
/// and attributes, other values as they decode); provenance metadata (times, hosts) left out.
fn stored(store: &Path) -> Vec<(String, String)> {
    let s = isf::store::Store::open(store).unwrap();
    let keys = s.keys_recursive().unwrap();
    let trials = keys.iter().filter(|k| k.contains("/trials/p")).count();
    assert_eq!(trials, 18, "{keys:?}");
    keys.into_iter()
        .filter(|k| k.starts_with("lanes/"))
        .map(|k| {
            let v = match s.get_table(&k) {
                Ok(t) => format!("{:?}", t.columns),
                Err(_) => format!("{:?}", s.get_value(&k).unwrap()),
            };
            (k, v)
        })
        .collect()
}

#[test]
fn stores_are_identical_with_lanes_on_or_off_and_any_thread_count() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples");
    std::fs::copy(root.join("l5pt_hay.isf"), d.join("l5pt_hay.isf")).unwrap();
    std::fs::create_dir(d.join("cells")).unwrap();
    std::fs::copy(
        root.join("cells/l5pt_simple.swc"),
        d.join("cells/l5pt_simple.swc"),
    )
    .unwrap();
    std::fs::write(d.join("lanes.isf"), SCRIPT).unwrap();
    let runs: [(&str, &[&str]); 5] = [
        ("solo.isfdb", &["--lanes", "1", "--jobs", "1"]),
        ("lanes.isfdb", &["--jobs", "1"]),
        ("lanes2.isfdb", &["--jobs", "2"]),
        ("lanes8.isfdb", &["--lanes", "8", "--jobs", "1"]),
        ("lanes3.isfdb", &["--lanes", "3", "--jobs", "2"]),
    ];
    for (store, extra) in runs {
        let mut args = vec!["run", "lanes.isf", "--quiet", "--out", store];
        args.extend(extra);
        let o = isf(&args, d);
        assert!(
            o.status.success(),
            "{store}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
    }
    let solo = stored(&d.join("solo.isfdb"));
    for (store, _) in &runs[1..] {
        assert!(
            stored(&d.join(store)) == solo,
            "{store} differs from the solo run"
        );
    }
    // The trials differ (own draws per lane), and the larger step spikes.
    assert_ne!(solo[0].1, solo[1].1);
    let s = isf::store::Store::open(d.join("solo.isfdb")).unwrap();
    let spikes = |p: usize| {
        let t = s
            .get_table(&format!("lanes/trials/p{p:06}_t000000"))
            .unwrap();
        format!("{:?}", t.columns)
    };
    assert_ne!(spikes(0), spikes(1));
    // `--lanes 0` is refused by the argument parser.
    let o = isf(&["run", "lanes.isf", "--lanes", "0", "--out", "x.isfdb"], d);
    assert!(!o.status.success());
}
