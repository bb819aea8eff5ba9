//! The raised-cosine GLM (spec 07 §7.8) on a synthetic dataset with a known separable filter:
//! the fit recovers the filter (cosine similarity of the spatiotemporal kernels), its held-back
//! AUC comes close to the known model's, a fit is identical on 1 and 2 threads, and the
//! simulator is reproducible. Also: reading the inputs from a store in the layout of `isf
//! analyze synapses --distance-bin` / `isf analyze spikes`, and its coded errors.

use isf::reduce::cosine::RaisedCosine;
use isf::reduce::glm::{self, GlmConfig, GlmInputs, roc_auc};
use isf::rng::Rng;
use isf::store::{Column, Metadata, Store};
use ndarray::Array3;

const TRIALS: usize = 600;
const NZ: usize = 8;
const NB: usize = 150;
/// Output window [130, 140) ms.
const OUT: (usize, usize) = (130, 140);

fn temporal() -> RaisedCosine {
    RaisedCosine {
        a: 2.0,
        c: 1.0,
        phis: vec![1.0, 2.5, 4.0, 5.5, 7.0],
        width: 40,
        reversed: true,
    }
}

fn spatial() -> RaisedCosine {
    RaisedCosine {
        a: 3.0,
        c: 5.0,
        phis: vec![4.5, 6.0, 7.5],
        width: NZ,
        reversed: false,
    }
}

/// The known model: EXC excites with a fast, proximal kernel, INH inhibits more slowly and
/// more distally; filters are in the span of the bases.
fn truth() -> Vec<(Vec<f64>, Vec<f64>)> {
    let (t, s) = (temporal(), spatial());
    vec![
        (
            t.filter(&[1.0, 0.8, 0.3, 0.0, 0.0]),
            s.filter(&[1.0, 0.4, 0.1]),
        ),
        (
            t.filter(&[0.0, -0.3, -0.6, -0.4, -0.1]),
            s.filter(&[0.2, 1.0, 0.5]),
        ),
    ]
}

fn true_wni(a: &[Array3<f64>], k: usize, out: usize) -> f64 {
    let mut s = 0.0;
    for ((wt, wz), x) in truth().iter().zip(a) {
        for z in 0..NZ {
            for (tau, w) in wt.iter().enumerate() {
                s += wz[z] * w * x[[k, z, out - wt.len() + tau]];
            }
        }
    }
    s
}

/// Bernoulli-count activations; a spike in the output window with probability
/// σ(2.5·(WNI − mean)/sd) of the known net input.
fn synthetic() -> (GlmInputs, Vec<f64>) {
    let mut rng = Rng::new(20261203);
    let mut acts = Vec::new();
    for p in [0.08, 0.05] {
        let mut a = Array3::zeros((TRIALS, NZ, NB));
        for v in a.iter_mut() {
            *v = (0..3).filter(|_| rng.uniform() < p).count() as f64;
        }
        acts.push(a);
    }
    let w: Vec<f64> = (0..TRIALS).map(|k| true_wni(&acts, k, OUT.1)).collect();
    let (mean, sd) = isf::analysis::mean_sd(&w);
    let spikes = w
        .iter()
        .map(|&x| {
            let p = 1.0 / (1.0 + (-2.5 * (x - mean) / sd).exp());
            if rng.uniform() < p {
                vec![OUT.0 as f64 + 10.0 * rng.uniform()]
            } else {
                vec![]
            }
        })
        .collect();
    (
        GlmInputs {
            groups: vec!["EXC".into(), "INH".into()],
            activations: acts,
            spikes,
            bin_ms: 1.0,
            labels: (0..TRIALS).map(|k| format!("p000000/t{k:06}")).collect(),
        },
        w,
    )
}

fn config() -> GlmConfig {
    GlmConfig {
        temporal: temporal(),
        spatial: spatial(),
        output_window_ms: [OUT.0 as f64, OUT.1 as f64],
        n_splits: 2,
        n_starts: 2,
        max_eval: 1500,
        isi_bins: 20,
        ..GlmConfig::default()
    }
}

/// Cosine similarity of the concatenated outer products w_z ⊗ w_t of all groups.
fn kernel_similarity(a: &[(Vec<f64>, Vec<f64>)], b: &[(Vec<f64>, Vec<f64>)]) -> f64 {
    let flat = |k: &[(Vec<f64>, Vec<f64>)]| -> Vec<f64> {
        k.iter()
            .flat_map(|(t, z)| z.iter().flat_map(move |zv| t.iter().map(move |tv| zv * tv)))
            .collect()
    };
    let (x, y) = (flat(a), flat(b));
    let dot: f64 = x.iter().zip(&y).map(|(p, q)| p * q).sum();
    let n = |v: &[f64]| v.iter().map(|p| p * p).sum::<f64>().sqrt();
    dot / (n(&x) * n(&y))
}

fn pool(n: usize) -> rayon::ThreadPool {
    rayon::ThreadPoolBuilder::new()
        .num_threads(n)
        .build()
        .unwrap()
}

#[test]
fn fit_recovers_a_known_filter_reproducibly() {
    let (inp, w_true) = synthetic();
    let cfg = config();
    let t0 = std::time::Instant::now();
    let m1 = pool(1).install(|| glm::fit(&inp, &cfg, 42)).expect("fit");
    let t1 = t0.elapsed();
    let m2 = pool(2).install(|| glm::fit(&inp, &cfg, 42)).expect("fit");
    assert_eq!(m1, m2, "1 and 2 threads give the same fit");

    let fitted: Vec<(Vec<f64>, Vec<f64>)> = m1
        .filters
        .iter()
        .map(|f| (f.temporal.clone(), f.spatial.clone()))
        .collect();
    let sim = kernel_similarity(&fitted, &truth());
    // AUC of the known model on the same held-back trials.
    let test: Vec<usize> = m1
        .test_trials
        .iter()
        .map(|l| inp.labels.iter().position(|x| x == l).unwrap())
        .collect();
    let lab: Vec<bool> = test.iter().map(|&k| !inp.spikes[k].is_empty()).collect();
    let known_auc = roc_auc(&test.iter().map(|&k| w_true[k]).collect::<Vec<_>>(), &lab);
    let fitted_wni = m1.wni(&inp).unwrap();
    let fitted_auc = roc_auc(
        &test.iter().map(|&k| fitted_wni[k]).collect::<Vec<_>>(),
        &lab,
    );
    eprintln!(
        "synthetic GLM: kernel cosine similarity {sim:.4}; held-back AUC fitted {fitted_auc:.4} \
         (model's own figure {:.4}, via LUT {:.4}) vs known {known_auc:.4}; {} held-back \
         trials; fit {:.2} s on 1 thread; splits {:?}",
        m1.test_auc,
        m1.test_auc_lut,
        test.len(),
        t1.as_secs_f64(),
        m1.splits
            .iter()
            .map(|s| (s.train_auc, s.test_auc, s.start_evals.clone()))
            .collect::<Vec<_>>()
    );
    assert!((fitted_auc - m1.test_auc).abs() < 1e-12, "stored test AUC");
    assert!(sim > 0.95, "kernel similarity {sim}");
    assert!(
        fitted_auc > known_auc - 0.03,
        "fitted {fitted_auc} vs known {known_auc}"
    );
    assert!(known_auc > 0.75, "the synthetic task is informative");
    // The LUT rises with the net input overall.
    let lo = m1.lut_window.values[0];
    let hi = *m1.lut_window.values.last().unwrap();
    assert!(hi > lo + 0.5, "LUT from {lo} to {hi}");
    // A different seed gives another (valid) fit.
    let m3 = glm::fit(&inp, &cfg, 43).unwrap();
    assert_ne!(m3.splits[0].params, m1.splits[0].params);

    // The simulator: reproducible for 1 and 2 threads; spikes only from rolling_from on; its
    // spike count close to the recorded one (the per-bin LUT is calibrated on the data).
    let s1 = pool(1).install(|| m1.simulate(&inp, 7)).unwrap();
    let s2 = pool(2).install(|| m1.simulate(&inp, 7)).unwrap();
    assert_eq!(s1, s2);
    assert!(s1.slice(ndarray::s![.., ..40]).iter().all(|&v| v == 0));
    let simulated: usize = s1.iter().map(|&v| v as usize).sum();
    let recorded: usize = inp.spikes.iter().map(Vec::len).sum();
    eprintln!("simulator: {simulated} spikes vs {recorded} recorded");
    assert!(
        (simulated as f64 - recorded as f64).abs() < 0.25 * recorded as f64,
        "{simulated} simulated vs {recorded} recorded spikes"
    );
}

fn put_binned(st: &Store, key: &str, labels: &[&str], nz: usize, width: usize, fill: f64) {
    let mut lab = Vec::new();
    let (mut from, mut to, mut data) = (Vec::new(), Vec::new(), Vec::new());
    for l in labels {
        for z in 0..nz {
            lab.push(l.to_string());
            from.push(50.0 * z as f64);
            to.push(50.0 * (z + 1) as f64);
            data.extend((0..width).map(|b| fill + (z * width + b) as f64));
        }
    }
    let t = isf::store::Table::new()
        .with("sim_trial_index", Column::Str(lab))
        .with("distance_from_um", Column::F64(from))
        .with("distance_to_um", Column::F64(to))
        .with(
            "counts",
            Column::F64Array(isf::store::table::f64_rows(width, data).unwrap()),
        )
        .with_attr("bin_ms", rmpv::Value::F64(1.0));
    st.put_table(key, &t, Metadata::default()).unwrap();
}

#[test]
fn inputs_come_from_the_store_layout_of_isf_analyze() {
    let dir = tempfile::tempdir().unwrap();
    let st = Store::create(dir.path().join("s.isfdb")).unwrap();
    let base = "E/analysis/synapse_activation_binned/t1_z50/EI";
    let labels = ["p000000/t000000", "p000000/t000001"];
    put_binned(&st, &format!("{base}/EXC"), &labels, 3, 5, 0.0);
    put_binned(&st, &format!("{base}/INH"), &labels, 2, 5, 100.0);
    let spikes = isf::store::Table::new()
        .with(
            "sim_trial_index",
            Column::Str(vec![labels[1].into(), labels[0].into()]),
        )
        .with(
            "spike_times",
            Column::F64List(vec![vec![2.5], vec![1.0, 4.0]]),
        );
    st.put_table(
        "E/analysis/spike_times/soma.v",
        &spikes,
        Metadata::default(),
    )
    .unwrap();
    let (exc, inh) = (format!("{base}/EXC"), format!("{base}/INH"));
    let inp = glm::inputs_from_store(&st, &[&exc, &inh], "E/analysis/spike_times/soma.v")
        .expect("inputs");
    assert_eq!(inp.groups, ["EXC", "INH"]);
    assert_eq!(inp.labels, labels);
    assert_eq!(inp.spikes, vec![vec![1.0, 4.0], vec![2.5]]);
    assert_eq!(inp.activations[0].shape(), [2, 3, 5]);
    assert_eq!(inp.activations[1].shape(), [2, 2, 5]);
    assert_eq!(inp.activations[0][[1, 2, 4]], (2 * 5 + 4) as f64);
    assert_eq!(inp.activations[1][[0, 1, 0]], 105.0);
    assert_eq!(inp.spike_matrix().row(0).to_vec(), [0, 1, 0, 0, 1]);

    // A store without binned activations, a temporal-only binning, a missing spike table.
    let code = |r: Result<GlmInputs, isf::diagnostics::Diagnostic>| {
        let e = r.expect_err("an error");
        assert!(!e.hints.is_empty() || e.message.contains("store"), "{e:?}");
        e.code.as_str()
    };
    assert_eq!(
        code(glm::inputs_from_store(
            &st,
            &["E/analysis/synapse_activation_binned/t1/EI/EXC"],
            "E/analysis/spike_times/soma.v"
        )),
        "E0916"
    );
    let temporal = isf::store::Table::new()
        .with("sim_trial_index", Column::Str(vec![labels[0].into()]))
        .with(
            "counts",
            Column::F64Array(isf::store::table::one_row(vec![1.0, 2.0])),
        );
    st.put_table("E/t1/EXC", &temporal, Metadata::default())
        .unwrap();
    assert_eq!(
        code(glm::inputs_from_store(
            &st,
            &["E/t1/EXC"],
            "E/analysis/spike_times/soma.v"
        )),
        "E0916"
    );
    assert_eq!(
        code(glm::inputs_from_store(&st, &[&exc], "E/nope")),
        "E0916"
    );
}
