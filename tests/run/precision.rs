//! Declared precision (`soma.v precision: 1 uV`): checked and lowered with the recording,
//! kept on its line by `isf fmt`, and stored as multiples of the step within half a step of
//! the simulated values (trial keys and assembled tables), with the bound in the table's
//! attributes and checked on every read (E0625); a table's precision cannot change under
//! appended rows or be invalid (E0626). The default stays lossless, and plans without a
//! precision keep their JSON (and hash).

use crate::common::cli::output as isf;
use isf::diagnostics::Code;
use isf::store::table::precision_attr;
use isf::store::{Column, Metadata, Store, Table};
use std::path::Path;

fn script(swc: &Path, record: &str) -> String {
    format!(
        r#"import std.channels.hay2011.*
neuron A {{
    morphology: swc("{}")
    v_init: -70 mV
    soma {{
        Ra: 100 ohm*cm
        cm: 1 uF/cm2
        ena: 50 mV
        ek: -85 mV
        pas {{ g: 3e-5 S/cm2, e: -70 mV }}
        NaTa_t {{ gbar: 2 S/cm2 }}
        SKv3_1 {{ gbar: 1 S/cm2 }}
    }}
    dendrite {{ Ra: 100 ohm*cm, cm: 1 uF/cm2, pas {{ g: 3e-5 S/cm2, e: -70 mV }} }}
}}
experiment E {{
    neuron: A
    duration: 60 ms
    dt: 0.025 ms
    trials: 2
    stimulus step {{ at: soma(0.5), amp: 0.2 nA, delay: 10 ms, duration: 40 ms }}
    sweep {{ stimulus.step.amp in [0.1 nA, 0.3 nA] }}
    record {{
{record}
    }}
}}
"#,
        swc.display()
    )
}

fn tiny_swc() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/diagnostics/fixtures/tiny.swc")
}

#[test]
fn precision_is_checked_and_lowered() {
    let dir = tempfile::tempdir().unwrap();
    let text = script(
        &tiny_swc(),
        "        soma.v precision: 1 uV\n        soma.cai precision: 0.5 nM\n        soma(0.3).v\n        spikes(soma)",
    );
    let c = isf::validate::check_text("p.isf", &text, dir.path());
    assert!(!c.has_errors(), "{:?}", c.diagnostics);
    let rec = &c.model.experiments[0].record;
    let p: Vec<Option<f64>> = rec.iter().map(|r| r.precision).collect();
    // In the canonical units of the traces: mV and mM, normalised to the decimal step.
    assert_eq!(p, vec![Some(0.001), Some(5e-7), None, None]);
    let json = serde_json::to_value(&c.model.experiments[0]).unwrap();
    let recs = json["record"].as_array().unwrap();
    assert_eq!(recs[0]["precision"], serde_json::json!(0.001));
    // Absent, not null: a plan without a precision is the plan it was before.
    assert!(recs[2].get("precision").is_none(), "{}", recs[2]);
}

#[test]
fn fmt_keeps_a_precision_on_its_recording_line() {
    let text = "experiment E {\n    record {\n        soma.v precision: 1 uV // fine enough\n        spikes(soma)\n    }\n}\n";
    let fmt = |t: &str| {
        let p = isf::syntax::parser::parse_file(isf::source::FileId(0), t);
        assert!(p.diagnostics.is_empty(), "{t}");
        isf::syntax::pretty::format_file(&p.file, t)
    };
    let out = fmt(text);
    assert!(
        out.contains("        soma.v precision: 1 uV // fine enough\n"),
        "{out}"
    );
    // Written on the next line, it is moved onto its recording's line; idempotent.
    let split = text.replace("soma.v precision", "soma.v\n        precision");
    assert_eq!(fmt(&split), out);
    assert_eq!(fmt(&out), out);
}

fn traces(vm: Vec<f64>, width: usize, precision: Option<f64>) -> Table {
    let rows = vm.len() / width;
    let times: Vec<f64> = (0..width).map(|k| k as f64).collect();
    let t = Table::traces(
        (0..rows).map(|i| format!("p000000/t{i:06}")).collect(),
        &times,
        isf::store::table::f64_rows(width, vm).unwrap(),
    );
    match precision {
        Some(p) => t.with_attr(&precision_attr("vm"), rmpv::Value::F64(p)),
        None => t,
    }
}

fn vm_of(t: &Table) -> Vec<f64> {
    match t.column("vm") {
        Some(Column::F64Array(data)) => isf::store::table::into_row_major(data.clone()),
        _ => panic!("no vm"),
    }
}

#[test]
fn store_rounds_within_the_bound_and_checks_it_on_read() {
    let dir = tempfile::tempdir().unwrap();
    let s = Store::create(dir.path().join("db")).unwrap();
    // Smooth noisy values, like a simulated trace: every mantissa bit used.
    let vm: Vec<f64> = (0..4 * 3000)
        .map(|i| -65.0 + (i as f64 * 0.003).sin() * 30.0 + (i as f64 * 7.1).cos() * 1e-4)
        .collect();
    s.put_table("q", &traces(vm.clone(), 3000, Some(0.001)), Metadata::now())
        .unwrap();
    s.put_table("raw", &traces(vm.clone(), 3000, None), Metadata::now())
        .unwrap();
    let back = s.get_table("q").unwrap();
    assert_eq!(
        back.attrs.get("vm.precision").and_then(rmpv::Value::as_f64),
        Some(0.001)
    );
    for (x, y) in vm.iter().zip(vm_of(&back)) {
        assert!((x - y).abs() <= 0.0005 * (1.0 + 1e-9), "{x} -> {y}");
        // Stored as the short decimal: what `format!` prints has at most 3 decimals.
        let txt = format!("{y}");
        assert!(txt.split('.').nth(1).is_none_or(|f| f.len() <= 3), "{txt}");
    }
    // The default is lossless.
    assert_eq!(vm_of(&s.get_table("raw").unwrap()), vm);
    let size = |k: &str| -> u64 {
        std::fs::read_dir(s.path().join(k))
            .unwrap()
            .flatten()
            .map(|e| e.metadata().unwrap().len())
            .sum()
    };
    assert!(
        size("q") * 3 < size("raw"),
        "quantised {} B, lossless {} B",
        size("q"),
        size("raw")
    );

    // Rows appended to a quantised table are rounded to its step too.
    let more: Vec<f64> = vm[..3000].iter().map(|x| x + 0.123_456_7).collect();
    s.append_rows("q", &traces(more.clone(), 3000, None))
        .unwrap();
    let all = vm_of(&s.get_table("q").unwrap());
    for (x, y) in more.iter().zip(&all[4 * 3000..]) {
        assert!((x - y).abs() <= 0.0005 * (1.0 + 1e-9));
    }
    // ... but not under another precision, nor a precision on rows stored unrounded.
    let e = s
        .append_rows("q", &traces(more.clone(), 3000, Some(0.01)))
        .unwrap_err();
    assert_eq!(e.code, Code::E0626, "{e}");
    let e = s
        .append_rows("raw", &traces(more, 3000, Some(0.001)))
        .unwrap_err();
    assert_eq!(e.code, Code::E0626, "{e}");
    // An invalid precision is refused before anything is written.
    for bad in [0.0, -1.0, 1.0 / 3.0] {
        let e = s
            .put_table("bad", &traces(vm.clone(), 3000, Some(bad)), Metadata::now())
            .unwrap_err();
        assert_eq!(e.code, Code::E0626, "{e}");
        assert!(!s.contains("bad"));
    }
    assert!(s.verify().ok());

    // A stored chunk whose values are off the declared grid: the unrounded chunk of "raw"
    // (a valid file, checksum intact) under the manifest of "q" is a corrupt store.
    let chunk = |k: &str| -> std::path::PathBuf {
        let mut v: Vec<_> = std::fs::read_dir(s.path().join(k))
            .unwrap()
            .flatten()
            .map(|e| e.path())
            .filter(|p| {
                p.file_name()
                    .unwrap()
                    .to_string_lossy()
                    .starts_with("chunk-")
            })
            .collect();
        v.sort();
        v[0].clone()
    };
    std::fs::copy(chunk("raw"), chunk("q")).unwrap();
    let e = s.get_table("q").unwrap_err();
    assert_eq!(e.code, Code::E0625, "{e}");
    assert!(e.to_string().contains("precision 0.001"), "{e}");
    let report = s.verify();
    assert_eq!(
        report.problems.iter().map(|p| p.code).collect::<Vec<_>>(),
        vec![Code::E0625]
    );
}

/// `isf run` stores a recording with a precision rounded (trial keys and the assembled
/// table, each declaring it), the others lossless; every stored value is within half a step
/// of the lossless run's.
#[test]
fn run_stores_declared_precision() {
    let dir = tempfile::tempdir().unwrap();
    let run = |name: &str, record: &str| -> Store {
        let path = dir.path().join(format!("{name}.isf"));
        std::fs::write(&path, script(&tiny_swc(), record)).unwrap();
        let db = dir.path().join(format!("{name}.isfdb"));
        let o = isf(&[
            "run",
            path.to_str().unwrap(),
            "--out",
            db.to_str().unwrap(),
            "--quiet",
        ]);
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        Store::open(&db).unwrap()
    };
    let lossless = run("lossless", "        soma.v\n        soma(0.3).v");
    let quantised = run("q", "        soma.v precision: 10 uV\n        soma(0.3).v");
    let a = lossless.get_table("E/traces/soma.v").unwrap();
    let b = quantised.get_table("E/traces/soma.v").unwrap();
    assert_eq!(
        b.attrs.get("vm.precision").and_then(rmpv::Value::as_f64),
        Some(0.01)
    );
    assert!(!a.attrs.contains_key("vm.precision"));
    let (va, vb) = (vm_of(&a), vm_of(&b));
    assert_eq!(va.len(), vb.len());
    assert!(va != vb, "nothing was rounded");
    for (x, y) in va.iter().zip(&vb) {
        assert!((x - y).abs() <= 0.005 * (1.0 + 1e-9), "{x} -> {y}");
    }
    // The other recording is untouched.
    let c = |s: &Store| vm_of(&s.get_table("E/traces/soma_0.3_.v").unwrap());
    assert_eq!(c(&lossless), c(&quantised));
    // Trial keys carry the declaration too.
    let t = quantised.get_table("E/trials/p000001_t000001").unwrap();
    assert_eq!(
        t.attrs
            .get("soma.v.precision")
            .and_then(rmpv::Value::as_f64),
        Some(0.01)
    );
    assert!(quantised.verify().ok());
}
