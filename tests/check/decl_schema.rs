//! The declaration schemas (`isf::sema::decls`) against the checker: every field a schema
//! lists is accepted where the schema says (no E0401), and every field's documented bad value
//! gets the documented code. So completion, hover texts, "did you mean" and the generated
//! reference describe what `isf check` does.

use isf::sema::decls::{self, DeclSchema};
use std::path::Path;

/// A script with `field: value` in a block of `schema`'s kind; the other fields a minimal
/// valid declaration needs are filled in (unless `field` is one of them).
fn script(schema: &DeclSchema, field: &str, value: &str) -> String {
    let with = |base: &[(&str, &str)]| -> String {
        let mut fields: Vec<(String, String)> = base
            .iter()
            .filter(|(n, _)| *n != field)
            .map(|(n, v)| (n.to_string(), v.to_string()))
            .collect();
        fields.push((field.to_string(), value.to_string()));
        fields
            .iter()
            .map(|(n, v)| format!("    {n}: {v}\n"))
            .collect()
    };
    let neuron = "neuron A {\n    morphology: swc(\"fixtures/tiny.swc\")\n}\n";
    match schema.kind {
        "neuron" => format!(
            "neuron A {{\n{}}}\n",
            with(&[("morphology", "swc(\"fixtures/tiny.swc\")")])
        ),
        "region" => format!(
            "neuron A {{\n    morphology: swc(\"fixtures/tiny.swc\")\n    soma {{\n{}}}\n}}\n",
            with(&[])
        ),
        "population" => format!(
            "network N {{\n  population P {{\n{}}}\n}}\n",
            with(&[("cells", "2"), ("activity", "poisson(interval: 10 ms)")])
        ),
        "experiment" => format!(
            "{neuron}experiment E {{\n{}}}\n",
            with(&[("neuron", "A"), ("duration", "10 ms")])
        ),
        "stimulus" => format!(
            "{neuron}experiment E {{\n    neuron: A\n    duration: 10 ms\n    stimulus s {{\n{}}}\n}}\n",
            with(&[("at", "soma(0.5)")])
        ),
        other => panic!("no script template for `{other}`"),
    }
}

fn codes(text: &str) -> Vec<String> {
    let base = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/diagnostics");
    isf::validate::check_text("case.isf", text, &base)
        .diagnostics
        .iter()
        .map(|d| d.code.as_str().to_string())
        .collect()
}

const CHECKED: &[&DeclSchema] = &[
    &decls::NEURON,
    &decls::REGION,
    &decls::POPULATION,
    &decls::EXPERIMENT,
    &decls::STIMULUS,
];

#[test]
fn every_listed_field_is_accepted() {
    for s in CHECKED {
        for f in s.fields {
            let value = f.bad.map_or("1", |b| b.0);
            let text = script(s, f.name, value);
            let got = codes(&text);
            assert!(
                !got.iter().any(|c| c == "E0401"),
                "{}.{} is listed but the checker calls it unknown:\n{text}\n{got:?}",
                s.kind,
                f.name
            );
        }
    }
}

#[test]
fn every_documented_bad_value_gets_its_code() {
    let mut tested = 0;
    for s in CHECKED {
        for f in s.fields {
            let Some((value, code)) = f.bad else { continue };
            let text = script(s, f.name, value);
            let got = codes(&text);
            assert!(
                got.iter().any(|c| c == code.as_str()),
                "{}.{}: {value} should be {}, got {got:?}\n{text}",
                s.kind,
                f.name,
                code.as_str()
            );
            tested += 1;
        }
    }
    assert!(tested >= 15, "only {tested} bad values");
}

#[test]
fn an_unlisted_field_is_unknown_with_a_suggestion() {
    for s in CHECKED {
        let name = format!("{}x", s.fields[0].name);
        let text = script(s, &name, "1");
        let checked = isf::validate::check_text(
            "case.isf",
            &text,
            &Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/diagnostics"),
        );
        let d = checked
            .diagnostics
            .iter()
            .find(|d| d.code.as_str() == "E0401")
            .unwrap_or_else(|| panic!("{}: `{name}` not reported", s.kind));
        assert_eq!(
            d.hints,
            vec![format!("did you mean `{}`?", s.fields[0].name)]
        );
    }
}

#[test]
fn neuron_and_region_values_are_checked_by_the_schema() {
    // Only the morphology keeps its own check (its path and the stand-in source of an
    // error); every other neuron and region field is checked from its schema, with a bad
    // value the test above runs.
    for s in [&decls::NEURON, &decls::REGION] {
        for f in s.fields {
            if f.name == "morphology" {
                continue;
            }
            assert!(
                f.kind != decls::Kind::Custom,
                "{}.{} is checked by hand, not by its schema",
                s.kind,
                f.name
            );
            assert!(f.bad.is_some(), "{}.{} has no bad value", s.kind, f.name);
        }
    }
}

#[test]
fn a_field_with_its_own_wording_reports_in_those_words() {
    let mut tested = 0;
    for s in CHECKED {
        for f in s.fields {
            let (Some(own), Some((value, code))) = (f.wording, f.bad) else {
                continue;
            };
            let text = script(s, f.name, value);
            let checked = isf::validate::check_text(
                "case.isf",
                &text,
                &Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/diagnostics"),
            );
            let d = checked
                .diagnostics
                .iter()
                .find(|d| d.code == code)
                .unwrap_or_else(|| panic!("{}.{}: {value} not reported", s.kind, f.name));
            // The bad values are written as the message shows them (`2.5`, `-10 ms`).
            let what = f.what();
            let fill = isf::rules::Fill {
                name: f.name,
                what: &what,
                value,
                min: 1,
            };
            assert_eq!(d.message, own.render(fill).0, "{}.{}", s.kind, f.name);
            tested += 1;
        }
    }
    // duration, trials, Ra, cm.
    assert!(tested >= 4, "only {tested} worded fields");
}
