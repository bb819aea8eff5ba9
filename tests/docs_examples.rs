//! Every ```isf block in docs/ parses; blocks of docs/language.md check clean together.

use std::path::Path;

fn blocks(md: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur: Option<String> = None;
    for line in md.lines() {
        match (&mut cur, line.trim_start()) {
            (None, l) if l.starts_with("```isf") => cur = Some(String::new()),
            (Some(_), l) if l.starts_with("```") => out.push(cur.take().unwrap()),
            (Some(b), _) => {
                b.push_str(line);
                b.push('\n');
            }
            _ => {}
        }
    }
    out
}

#[test]
fn language_guide_examples_check() {
    let docs = Path::new(env!("CARGO_MANIFEST_DIR")).join("docs");
    let md = std::fs::read_to_string(docs.join("language.md")).unwrap();
    let bs = blocks(&md);
    assert!(bs.len() >= 4, "{}", bs.len());
    let all = bs.join("\n");
    let c = isf::validate::check_text("language.md.isf", &all, &docs);
    let text: String = c
        .diagnostics
        .iter()
        .map(|d| isf::diagnostics::render::plain(d, &c.sources))
        .collect();
    assert!(!c.has_errors(), "{text}");
    let names: Vec<&str> = c
        .model
        .experiments
        .iter()
        .map(|e| e.name.as_str())
        .collect();
    assert_eq!(names, ["steps", "steps_1uV"]);
    assert_eq!(c.model.experiments[0].sweep_points, 3);
    // The precision example declares 1 uV (0.001 mV) on the soma voltage only.
    let p: Vec<Option<f64>> = c.model.experiments[1]
        .record
        .iter()
        .map(|r| r.precision)
        .collect();
    assert_eq!(p, [Some(0.001), None]);
    // The tutorial's experiment runs (first trial of each sweep point) and the step makes the
    // cell fire more at larger amplitudes.
    use isf::run::exec::TrialRunner;
    let exp = &c.model.experiments[0];
    let runner = isf::run::cellsim::CellRunner::new(&c.model, exp).expect("runnable");
    let mut counts = Vec::new();
    for item in isf::run::work_items(exp).iter().filter(|i| i.trial == 0) {
        let out = runner
            .run(item, &isf::run::point_values(&exp.sweep, item.point))
            .expect("trial runs");
        counts.push(out.events[0].1.len());
    }
    assert!(counts.windows(2).all(|w| w[0] <= w[1]), "{counts:?}");
    assert!(counts[2] > 0, "{counts:?}");
}
