//! The network .param → .isf conversion and the .isf lowering give the same typed network.

use isf::formats::param::read_param_file;
use isf::network::lower::from_model;
use isf::network::{Network, isf_network_param, network_param_to_isf};
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

#[test]
fn conformance_network_round_trips_through_isf() {
    let dir = std::env::var_os("ISF_CONFORMANCE")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/work/shared/conformance"))
        .join("inputs");
    let path = dir.join("network.param");
    if !path.exists() {
        eprintln!("SKIPPED: conformance data not found at {}", dir.display());
        return;
    }
    let direct = isf_network_param(&path).unwrap();
    let root = read_param_file(&path).unwrap();
    let text = network_param_to_isf(&root, "network.param", &dir, "S4").unwrap();
    assert!(text.contains("population L5tt_C2 {"));
    let checked = isf::sema::check_text("S4.isf", &text, &dir);
    assert!(
        checked.diagnostics.is_empty(),
        "{:?}",
        checked.diagnostics.iter().take(3).collect::<Vec<_>>()
    );
    let lowered = from_model(&checked.model.networks[0]).unwrap();
    assert_eq!(lowered.populations.len(), 278);
    assert_eq!(normalized(lowered), normalized(direct));
}
