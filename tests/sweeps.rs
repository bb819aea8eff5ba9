//! Sweep declarations: grid axes multiply, `sweep zip` axes vary together, and the run plan
//! derives the same work items and seeds every time.

use isf::run::{Shard, point_values, work_items};
use std::path::Path;

const HEAD: &str = "neuron A {\n    morphology: swc(\"fixtures/tiny.swc\")\n}\n";

fn check(body: &str) -> isf::sema::Checked {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/diagnostics");
    isf::validate::check_text("sweep.isf", &format!("{HEAD}{body}"), &dir)
}

#[test]
fn grid_and_zip() {
    let c = check(
        "experiment E {\n    neuron: A\n    duration: 10 ms\n    trials: 3\n    seed: 7\n    stimulus s { at: soma(0.5), amp: 0.1 nA, delay: 1 ms, duration: 5 ms }\n    sweep { stimulus.s.amp in [0.1 nA, 0.2 nA] }\n    sweep zip {\n        stimulus.s.delay in [1 ms, 2 ms, 3 ms]\n        stimulus.s.duration in [5 ms, 4 ms, 3 ms]\n    }\n}\n",
    );
    assert!(!c.has_errors(), "{:?}", c.diagnostics);
    let e = &c.model.experiments[0];
    assert_eq!(e.sweep_points, 6);
    let items = work_items(e);
    assert_eq!(items.len(), 18);
    // point 4 = amp index 1, zip index 1: delay 2 ms with duration 4 ms
    let p = point_values(&e.sweep, 4);
    let show: Vec<String> = p
        .iter()
        .map(|(k, v)| format!("{k}={}", serde_json::to_string(v).unwrap()))
        .collect();
    assert_eq!(
        show,
        [
            r#"stimulus.s.amp={"value":0.2,"unit":"nA"}"#,
            r#"stimulus.s.delay={"value":2.0,"unit":"ms"}"#,
            r#"stimulus.s.duration={"value":4.0,"unit":"ms"}"#
        ]
    );
    // Same script, same seeds; shards partition the items.
    assert_eq!(work_items(e), items);
    let shard = Shard::parse("2/4").unwrap();
    assert_eq!(items.iter().filter(|i| shard.contains(i)).count(), 5);
}

#[test]
fn zipped_axes_must_match_in_length() {
    let c = check(
        "experiment E {\n    neuron: A\n    duration: 10 ms\n    stimulus s { at: soma(0.5), amp: 0.1 nA }\n    sweep zip {\n        stimulus.s.amp in [0.1 nA, 0.2 nA]\n        stimulus.s.delay in [1 ms]\n    }\n}\n",
    );
    assert!(
        c.diagnostics.iter().any(|d| d.code.as_str() == "E0309"),
        "{:?}",
        c.diagnostics
    );
}
