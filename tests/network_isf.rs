//! The network .param → .isf conversion and the .isf lowering give the same typed network.

mod common;

use isf::interop::formats::param::read_param_file;
use isf::interop::network_param::isf_network_param;
use isf::interop::to_isf::network_param_to_isf;
use isf::network::Network;
use isf::network::lower::from_model;
use std::path::PathBuf;

fn normalized(mut n: Network) -> Network {
    n.name.clear();
    for p in &mut n.populations {
        for r in &mut p.receptors {
            r.parameters.sort_by(|a, b| a.0.cmp(&b.0));
        }
    }
    n
}

/// The conformance inputs folder and its `network.param`, or `None` (and a loud SKIPPED).
fn network_param() -> Option<(PathBuf, PathBuf)> {
    let dir = common::conformance::conformance_dir().join("inputs");
    let path = dir.join("network.param");
    if !common::skip::require_data("conformance data", &[&path]) {
        return None;
    }
    Some((dir, path))
}

#[test]
fn conformance_network_round_trips_through_isf() {
    let Some((dir, path)) = network_param() else {
        return;
    };
    let direct = isf_network_param(&path).unwrap();
    let root = read_param_file(&path).unwrap();
    let text = network_param_to_isf(&root, "network.param", &dir, "S4").unwrap();
    assert!(text.contains("population L5tt_C2 {"));
    let checked = isf::validate::check_text("S4.isf", &text, &dir);
    assert!(
        checked.diagnostics.is_empty(),
        "{:?}",
        checked.diagnostics.iter().take(3).collect::<Vec<_>>()
    );
    let lowered = from_model(&checked.model.networks[0]).unwrap();
    assert_eq!(lowered.populations.len(), 278);
    assert_eq!(normalized(lowered), normalized(direct));
}

/// Every activity generator of spec 04 has an `.isf` form: a network using all of them is
/// written as `.isf`, checked, and lowers back to the same typed network.
#[test]
fn every_activity_generator_round_trips_through_isf() {
    use isf::network::{Activity, PhaseRule, SingleShape};
    let Some((dir, path)) = network_param() else {
        return;
    };
    let mut net = isf_network_param(&path).unwrap();
    net.name = "Gens".into();
    net.populations.truncate(3);
    let kinds = vec![
        Activity::Poisson {
            interval_ms: 100.0,
            noise: 0.5,
            start_ms: 5.0,
            stop_ms: Some(250.0),
            nspikes: None,
        },
        Activity::Poisson {
            interval_ms: 20.0,
            noise: 1.0,
            start_ms: 0.0,
            stop_ms: None,
            nspikes: Some(3),
        },
        Activity::PsthAbsolute {
            bins: vec![(0.0, 5.0, 2), (5.0, 10.0, 1)],
            offset_ms: 245.0,
        },
        Activity::Single {
            active_fraction: 0.3,
            shape: SingleShape::Normal {
                mean_ms: 12.0,
                sd_ms: 2.5,
            },
            offset_ms: 10.0,
        },
        Activity::Single {
            active_fraction: 0.5,
            shape: SingleShape::Uniform { window_ms: 20.0 },
            offset_ms: 0.0,
        },
        Activity::Single {
            active_fraction: 1.0,
            shape: SingleShape::LogNormal {
                mu: 2.0,
                sigma: 0.4,
            },
            offset_ms: 245.0,
        },
        Activity::PiecewisePoisson {
            segments: vec![(0.0, 100.0, 2.5), (100.0, 300.0, 10.0)],
        },
        Activity::Modulated {
            rate_before_offset_hz: 1.0,
            mean_rate_hz: 5.0,
            max_modulation: 0.8,
            frequency_hz: 8.0,
            bin_ms: 1.0,
            phase: PhaseRule::Normal { mean: 0.5, sd: 0.1 },
            offset_ms: 100.0,
        },
        Activity::Modulated {
            rate_before_offset_hz: 0.0,
            mean_rate_hz: 3.0,
            max_modulation: 1.0,
            frequency_hz: 4.0,
            bin_ms: 2.0,
            phase: PhaseRule::Uniform,
            offset_ms: 0.0,
        },
        Activity::SpikeTimes {
            times_ms: vec![1.5, 30.0],
        },
    ];
    net.populations[0].activity = kinds[..4].to_vec();
    net.populations[1].activity = kinds[4..7].to_vec();
    net.populations[2].activity = kinds[7..].to_vec();
    let text = isf::interop::to_isf::network_to_isf(&net, &dir).unwrap();
    for f in [
        "psth_count(",
        "normal_spike(",
        "uniform_spike(",
        "lognormal_spike(",
        "poisson_rates(",
        "modulated(",
        "noise: 0.5",
        "count: 3",
    ] {
        assert!(text.contains(f), "{f} missing from\n{text}");
    }
    let checked = isf::validate::check_text("gens.isf", &text, &dir);
    assert!(
        checked.diagnostics.is_empty(),
        "{:?}\n{text}",
        checked.diagnostics.iter().take(3).collect::<Vec<_>>()
    );
    let lowered = from_model(&checked.model.networks[0]).unwrap();
    assert_eq!(normalized(lowered), normalized(net));
}
