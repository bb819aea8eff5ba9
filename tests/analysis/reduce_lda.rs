//! `isf reduce fit|predict --model lda` end to end on a synthetic store whose trials come from
//! a known generative model (Poisson input counts in 1 ms bins, spikes drawn from a logistic
//! function of recent excitation minus inhibition): the fit finds the sign of each input, its
//! coefficients agree with scikit-learn's `LinearDiscriminantAnalysis(solver='eigen')` fitted
//! in Python on the exported design matrices and splits, its lookup table with ISF's pandas
//! code, and every bad input is a coded error that writes nothing.

use crate::common;
use common::cli::run as isf;

use isf::rng::Rng;
use isf::store::{Column, Metadata, Store, Table};
use std::path::{Path, PathBuf};
use std::process::Command;

const EXC: &str = "E/analysis/synapse_activation_binned/t1/EI/EXC";
const INH: &str = "E/analysis/synapse_activation_binned/t1/EI/INH";
const SPIKES: &str = "E/events/spikes_soma";
const N_T: usize = 300;

fn ok(args: &[&str]) -> String {
    let (c, out, err) = isf(args);
    assert_eq!(c, 0, "isf {args:?}:\n{out}\n{err}");
    out
}

fn fails(args: &[&str], code: &str) -> String {
    let (c, out, err) = isf(args);
    assert_eq!(c, 1, "isf {args:?} should fail:\n{out}\n{err}");
    assert!(err.contains(code), "expected {code}:\n{err}");
    err
}

fn poisson(rng: &mut Rng, lambda: f64) -> f64 {
    // Knuth's method (λ is small here).
    let l = (-lambda).exp();
    let (mut k, mut p) = (0.0, 1.0);
    loop {
        p *= rng.uniform();
        if p <= l {
            return k;
        }
        k += 1.0;
    }
}

/// A store of `n` trials: EXC rate 0.6/bin rising to 1.6/bin from 240 ms, INH 0.4/bin; from
/// 50 ms on, each bin spikes with probability 0.25·σ(E₁₀ − 1.5·I₁₀ − 12) (E₁₀, I₁₀: counts of
/// the previous 10 bins), so the cell is silent before 50 ms and about half the trials spike
/// in [255, 265) ms.
/// `zero_key`: also an all-zero key (a singular design).
fn make_store(dir: &Path, n: usize, seed: u64, zero_key: bool) -> PathBuf {
    let path = dir.join(format!("syn{seed}_{n}.isfdb"));
    let _ = std::fs::remove_dir_all(&path);
    let st = Store::create(&path).unwrap();
    let mut rng = Rng::new(seed);
    let (mut exc, mut inh, mut spikes, mut labels) = (vec![], vec![], vec![], vec![]);
    for tr in 0..n {
        labels.push(format!("p000000/t{tr:06}"));
        let e: Vec<f64> = (0..N_T)
            .map(|t| poisson(&mut rng, if t >= 240 { 1.6 } else { 0.6 }))
            .collect();
        let i: Vec<f64> = (0..N_T).map(|_| poisson(&mut rng, 0.4)).collect();
        let mut s = vec![];
        for t in 50..N_T {
            let e10: f64 = e[t - 10..t].iter().sum();
            let i10: f64 = i[t - 10..t].iter().sum();
            let p = 0.25 / (1.0 + (-(e10 - 1.5 * i10 - 12.0)).exp());
            if rng.uniform() < p {
                s.push(t as f64 + 0.5);
            }
        }
        exc.extend(e);
        inh.extend(i);
        spikes.push(s);
    }
    let table = |data: Vec<f64>| {
        Table::new()
            .with("sim_trial_index", Column::Str(labels.clone()))
            .with(
                "counts",
                Column::F64Array(isf::store::table::f64_rows(N_T, data).unwrap()),
            )
            .with_attr("bin_ms", rmpv::Value::F64(1.0))
    };
    st.put_table(EXC, &table(exc), Metadata::now()).unwrap();
    st.put_table(INH, &table(inh), Metadata::now()).unwrap();
    if zero_key {
        st.put_table(
            "E/analysis/synapse_activation_binned/t1/EI/ZERO",
            &table(vec![0.0; n * N_T]),
            Metadata::now(),
        )
        .unwrap();
    }
    st.put_table(
        SPIKES,
        &Table::new()
            .with("sim_trial_index", Column::Str(labels.clone()))
            .with("times_ms", Column::F64List(spikes)),
        Metadata::now(),
    )
    .unwrap();
    path
}

fn tmp(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("isf-reduce-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn keys() -> String {
    format!("{EXC},{INH}")
}

fn model(st: &Path, key: &str) -> serde_json::Value {
    Store::open(st).unwrap().get(key).unwrap()
}

#[test]
fn fit_predict_and_plot() {
    let dir = tmp("e2e");
    let st = make_store(&dir, 1000, 11, false);
    let s = st.to_str().unwrap();
    let k = keys();
    let fit = |out: &str, seed: &str| {
        ok(&[
            "reduce",
            "fit",
            s,
            "--model",
            "lda",
            "--keys",
            &k,
            "--sa-width",
            "30",
            "--holdout",
            "0.25",
            "--seed",
            seed,
            "--out",
            out,
        ])
    };
    let out = fit("E/reduced/lda", "3");
    assert!(
        out.contains("score") && out.contains("held-back trials (250)"),
        "{out}"
    );
    let m = model(&st, "E/reduced/lda");
    let cls = m["classifiers"].as_array().unwrap();
    assert_eq!(cls.len(), 5);
    assert_eq!(m["sa_window_ms"], serde_json::json!([235.0, 265.0]));
    for c in cls {
        let ks = c["kernels"].as_array().unwrap();
        let (e, i): (Vec<f64>, Vec<f64>) = (
            serde_json::from_value(ks[0].clone()).unwrap(),
            serde_json::from_value(ks[1].clone()).unwrap(),
        );
        assert_eq!(e.len(), 30);
        // The normalised vector has ISF's norm.
        let norm = e.iter().chain(&i).map(|x| x * x).sum::<f64>().sqrt();
        assert!((norm - 7.260991424242837).abs() < 1e-12, "{norm}");
        // The last 10 bins (the generative window) excite and inhibit.
        let e_last: f64 = e[20..].iter().sum();
        let i_last: f64 = i[20..].iter().sum();
        assert!(e_last > 0.0 && i_last < 0.0, "{e_last} {i_last}");
        assert!(c["test"]["auc"].as_f64().unwrap() > 0.7, "{c}");
    }
    let score = m["score"].as_f64().unwrap();
    assert!(score > 1.25 && score <= 2.0, "{score}");
    assert!(m["holdout_auc"].as_f64().unwrap() > 0.75);
    assert_eq!(m["sources"][0]["fingerprint"].as_str().unwrap().len(), 64);
    // Same seed, same fit; another seed, other splits.
    fit("E/reduced/lda_again", "3");
    fit("E/reduced/lda_other", "4");
    let again = model(&st, "E/reduced/lda_again");
    let other = model(&st, "E/reduced/lda_other");
    assert_eq!(m["classifiers"], again["classifiers"]);
    assert_ne!(m["classifiers"], other["classifiers"]);

    // Static prediction on the held-back trials.
    let out = ok(&[
        "reduce",
        "predict",
        s,
        "--model-key",
        "E/reduced/lda",
        "--holdout-only",
        "--out",
        "E/reduced/pred",
    ]);
    assert!(out.contains("ROC-AUC of the WNI"), "{out}");
    let t = Store::open(&st)
        .unwrap()
        .get_table("E/reduced/pred")
        .unwrap();
    let (Some(Column::F64(wni)), Some(Column::F64(p)), Some(Column::Str(l))) = (
        t.column("wni"),
        t.column("p_spike"),
        t.column("sim_trial_index"),
    ) else {
        panic!("prediction table")
    };
    assert_eq!(l.len(), 250);
    assert!(p.iter().all(|v| (0.0..=1.0).contains(v)));
    // p = LUT[round(WNI)] (clipped).
    let lut = &cls[0]["lut"];
    let lo = lut["index_min"].as_i64().unwrap();
    let vals: Vec<f64> = serde_json::from_value(lut["values"].clone()).unwrap();
    for (w, pv) in wni.iter().zip(p) {
        let i = (w.round_ties_even() as i64).clamp(lo, lo + vals.len() as i64 - 1);
        assert_eq!(vals[(i - lo) as usize], *pv);
    }

    // Rolling prediction on all trials: the WNI at t = 265 ms is the static one.
    let all = ok(&[
        "reduce",
        "predict",
        s,
        "--model-key",
        "E/reduced/lda",
        "--out",
        "E/reduced/stat_all",
    ]);
    assert!(all.contains("static prediction of 1000 trials"), "{all}");
    let out = ok(&[
        "reduce",
        "predict",
        s,
        "--model-key",
        "E/reduced/lda",
        "--mode",
        "rolling",
        "--out",
        "E/reduced/psth",
    ]);
    assert!(out.contains("correlation of the predicted PSTH"), "{out}");
    let store = Store::open(&st).unwrap();
    let ps = store.get_table("E/reduced/psth").unwrap();
    let stat = store.get_table("E/reduced/stat_all").unwrap();
    let (Some(Column::F64(raw)), Some(Column::F64(sim))) =
        (ps.column("raw_psth"), ps.column("sim_window"))
    else {
        panic!("psth table")
    };
    let Some(Column::F64(p_all)) = stat.column("p_spike") else {
        panic!()
    };
    assert_eq!(raw.len(), N_T);
    let mean_static = p_all.iter().sum::<f64>() / p_all.len() as f64;
    assert!(
        (raw[265] - mean_static).abs() < 1e-12,
        "{} {mean_static}",
        raw[265]
    );
    // The prediction follows the simulated spiking over time.
    let r = isf::reduce::correlation(&raw[30..], &sim[30..]);
    assert!(r > 0.9, "{r}");

    // Pictures.
    let png = dir.join("k.png");
    ok(&[
        "plot",
        "kernels",
        s,
        "E/reduced/lda",
        "-o",
        png.to_str().unwrap(),
    ]);
    assert!(std::fs::metadata(&png).unwrap().len() > 1000);
    let png = dir.join("l.png");
    ok(&[
        "plot",
        "lut",
        s,
        "E/reduced/lda",
        "--model-number",
        "1",
        "-o",
        png.to_str().unwrap(),
    ]);
    assert!(std::fs::metadata(&png).unwrap().len() > 1000);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn bad_inputs_are_coded_and_write_nothing() {
    let dir = tmp("bad");
    let st = make_store(&dir, 120, 5, true);
    let s = st.to_str().unwrap();
    let k = keys();
    let out = "E/reduced/bad";
    let written = || Store::open(&st).unwrap().contains(out);
    // Output window past the recorded 300 ms.
    let e = fails(
        &[
            "reduce",
            "fit",
            s,
            "--keys",
            &k,
            "--output-min",
            "295",
            "--output-max",
            "310",
            "--out",
            out,
        ],
        "E0911",
    );
    assert!(
        e.contains("--output-min/--output-max") && e.contains("300"),
        "{e}"
    );
    // Synaptic window before 0.
    fails(
        &[
            "reduce",
            "fit",
            s,
            "--keys",
            &k,
            "--output-min",
            "20",
            "--output-max",
            "30",
            "--out",
            out,
        ],
        "E0911",
    );
    // A key that is not there.
    let e = fails(
        &[
            "reduce",
            "fit",
            s,
            "--keys",
            "E/analysis/synapse_activation_binned/t1/EI/NOPE",
            "--out",
            out,
        ],
        "E0910",
    );
    assert!(
        e.contains("NOPE") && e.contains("isf analyze synapses"),
        "{e}"
    );
    // No spike before 50 ms: class 1 empty.
    let e = fails(
        &[
            "reduce",
            "fit",
            s,
            "--keys",
            &k,
            "--output-min",
            "40",
            "--output-max",
            "50",
            "--sa-min",
            "0",
            "--sa-width",
            "30",
            "--out",
            out,
        ],
        "E0912",
    );
    assert!(e.contains("no fitted trial spikes"), "{e}");
    // An all-zero key: the within-class covariance is singular.
    let e = fails(
        &[
            "reduce",
            "fit",
            s,
            "--keys",
            &format!("{k},E/analysis/synapse_activation_binned/t1/EI/ZERO"),
            "--out",
            out,
        ],
        "E0913",
    );
    assert!(e.contains("ZERO@185ms"), "{e}");
    // The GLM on a store without spike-time analysis and with temporal binning only: its
    // input error, nothing written.
    fails(
        &[
            "reduce", "fit", s, "--keys", &k, "--model", "glm", "--out", out,
        ],
        "E0916",
    );
    // LDA-only options are refused for the GLM, not ignored.
    fails(
        &[
            "reduce",
            "fit",
            s,
            "--keys",
            &k,
            "--model",
            "glm",
            "--sa-width",
            "20",
            "--out",
            out,
        ],
        "E0914",
    );
    // Options.
    fails(
        &[
            "reduce",
            "fit",
            s,
            "--keys",
            &k,
            "--test-size",
            "1.5",
            "--out",
            out,
        ],
        "E0914",
    );
    fails(
        &[
            "reduce",
            "fit",
            s,
            "--keys",
            &k,
            "--lut-step",
            "0",
            "--out",
            out,
        ],
        "E0914",
    );
    // Prediction with a model that is not there.
    fails(
        &["reduce", "predict", s, "--model-key", "E/reduced/none"],
        "E0915",
    );
    assert!(!written());
    // A store without binned activations.
    let empty = dir.join("empty.isfdb");
    let es = Store::create(&empty).unwrap();
    es.put("E/plan", &serde_json::json!({"duration_ms": 300.0}))
        .unwrap();
    drop(es);
    fails(
        &[
            "reduce",
            "fit",
            empty.to_str().unwrap(),
            "--keys",
            &k,
            "--out",
            out,
        ],
        "E0910",
    );
    assert!(!Store::open(&empty).unwrap().contains(out));
    let _ = std::fs::remove_dir_all(&dir);
}

/// The Python interpreter with scikit-learn and pandas (the venv `.ci/run` creates).
fn python() -> Option<PathBuf> {
    let py = PathBuf::from(
        std::env::var("ISF_PYTHON").unwrap_or_else(|_| "/tmp/isf-venv/bin/python".into()),
    );
    let okay = Command::new(&py)
        .args(["-c", "import sklearn, pandas, numpy"])
        .output()
        .is_ok_and(|o| o.status.success());
    okay.then_some(py)
}

const SKLEARN_CHECK: &str = r#"
import json, sys
import numpy as np, pandas as pd
from sklearn.discriminant_analysis import LinearDiscriminantAnalysis
from sklearn.metrics import roc_auc_score
d = sys.argv[1]
X = np.load(d + "/X.npy"); y = np.load(d + "/y.npy").astype(int)
m = json.load(open(d + "/model.json"))
worst_cos, worst_auc, worst_int, lut_ok = 1.0, 0.0, 0.0, True
acc1, acc0 = [], []
for k, c in enumerate(m["classifiers"]):
    tr = np.load(d + f"/train_{k}.npy").astype(int); te = np.load(d + f"/test_{k}.npy").astype(int)
    lda = LinearDiscriminantAnalysis(n_components=1, solver="eigen").fit(X[tr], y[tr])
    a = lda.coef_.ravel(); b = np.array(c["coef"])
    worst_cos = min(worst_cos, float(a @ b / np.linalg.norm(a) / np.linalg.norm(b)))
    auc = roc_auc_score(y[te], X[te] @ a)
    worst_auc = max(worst_auc, abs(auc - c["test"]["auc"]))
    worst_int = max(worst_int, abs(lda.intercept_[0] - c["intercept"]) / max(1.0, abs(lda.intercept_[0])))
    acc1.append(lda.score(X[te][y[te] == 1], y[te][y[te] == 1])); acc0.append(lda.score(X[te][y[te] == 0], y[te][y[te] == 0]))
    # ISF's lookup table (get_kernel.py) from the normalised coefficients.
    w = a * (7.260991424242837 / np.sqrt(sum(a ** 2)))
    v = X @ w
    pdf = pd.DataFrame(dict(lda_values=v, spike=y.astype(bool)))
    g = (pdf.lda_values / m["lut_step"]).round().astype(int) * m["lut_step"]
    ls = pdf.groupby(g).apply(lambda x: len(x[x.spike]) / float(len(x)))
    diff = max(ls.index) - min(ls.index)
    index = np.arange(int(min(ls.index) - 0.3 * diff), int(max(ls.index) + 0.3 * diff), 1)
    s = pd.Series([np.nan] * len(index), index=index); s.iloc[0] = 0; s[ls.index] = ls
    s = s.interpolate(method="linear")
    ours = np.array(c["lut"]["values"])
    lut_ok &= c["lut"]["index_min"] == index[0] and len(ours) == len(s) and np.max(np.abs(ours - s.values)) < 1e-9
score = np.median(acc1) + np.median(acc0)
print(json.dumps(dict(cos=worst_cos, auc=worst_auc, intercept=worst_int, lut=bool(lut_ok), score=score)))
"#;

#[test]
fn lda_agrees_with_scikit_learn() {
    let Some(py) = python() else {
        common::skip::skip(
            "Python with scikit-learn, pandas and numpy (/tmp/isf-venv or ISF_PYTHON)",
            "create it: python3 -m venv /tmp/isf-venv && /tmp/isf-venv/bin/pip install numpy scikit-learn pandas",
        );
        return;
    };
    let dir = tmp("sk");
    for (n, balance) in [(500usize, true), (400, false)] {
        let st = make_store(&dir, n, 21 + n as u64, false);
        let exp = dir.join(format!("export{n}"));
        let mut args = vec![
            "reduce".to_string(),
            "fit".into(),
            st.display().to_string(),
            "--keys".into(),
            keys(),
            "--seed".into(),
            "9".into(),
            "--export".into(),
            exp.display().to_string(),
            "--out".into(),
            "E/reduced/lda".into(),
        ];
        if !balance {
            args.push("--no-balance".into());
        }
        let a: Vec<&str> = args.iter().map(String::as_str).collect();
        ok(&a);
        let script = dir.join("check.py");
        std::fs::write(&script, SKLEARN_CHECK).unwrap();
        let o = Command::new(&py)
            .arg(&script)
            .arg(&exp)
            .output()
            .expect("python runs");
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        let r: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
        eprintln!("scikit-learn comparison ({n} trials, balance {balance}): {r}");
        assert!(r["cos"].as_f64().unwrap() >= 0.999999, "{r}");
        assert!(r["auc"].as_f64().unwrap() <= 1e-9, "{r}");
        assert!(r["intercept"].as_f64().unwrap() < 1e-6, "{r}");
        assert_eq!(r["lut"], serde_json::json!(true), "{r}");
        let m = model(&st, "E/reduced/lda");
        // ISF's default windows: output [255, 265), synaptic 80 ms ending there.
        assert_eq!(m["sa_window_ms"], serde_json::json!([185.0, 265.0]));
        assert!(
            (m["score"].as_f64().unwrap() - r["score"].as_f64().unwrap()).abs() < 1e-12,
            "{r}"
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
}
