//! `isf plot kernels|lut` for the raised-cosine GLM and the REPL's `:reduce` (issue 15
//! leftovers), on a synthetic store in the layout of `isf analyze synapses --distance-bin` and
//! `isf analyze spikes`: EXC and INH counts in two soma-distance bins, spikes drawn from a
//! logistic function of recent proximal excitation minus inhibition. The GLM is fitted through
//! `:reduce fit` in a REPL session; the figures hold exactly the stored filters and lookup
//! tables; the PNGs are not blank; options that do not apply are E0903, and nothing is written.

use isf::rng::Rng;
use isf::store::{Column, Metadata, Store, Table};
use std::path::{Path, PathBuf};
use std::process::Command;

const BASE: &str = "E/analysis/synapse_activation_binned/t1_z50/EI";
const SPIKES: &str = "E/analysis/spike_times/soma.v";
const MODEL: &str = "E/reduced_models/glm";
const N_T: usize = 300;
const NZ: usize = 2;

fn poisson(rng: &mut Rng, lambda: f64) -> f64 {
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

/// `n` trials: EXC 0.3/bin per distance bin (0.8 from 240 ms), INH 0.2/bin; from 50 ms each
/// bin spikes with probability 0.3·σ(E₁₀ − 1.5·I₁₀ − 6) over the proximal bin's previous 10
/// bins.
fn make_store(dir: &Path, n: usize) -> PathBuf {
    let path = dir.join("glm.isfdb");
    let st = Store::create(&path).unwrap();
    let mut rng = Rng::new(11);
    let (mut exc, mut inh, mut spikes, mut labels, mut rows) =
        (vec![], vec![], vec![], vec![], vec![]);
    for tr in 0..n {
        let label = format!("p000000/t{tr:06}");
        labels.push(label.clone());
        let mut e = vec![vec![0.0; N_T]; NZ];
        let mut i = vec![vec![0.0; N_T]; NZ];
        for z in 0..NZ {
            for t in 0..N_T {
                e[z][t] = poisson(&mut rng, if t >= 240 { 0.8 } else { 0.3 });
                i[z][t] = poisson(&mut rng, 0.2);
            }
            rows.push((label.clone(), z));
        }
        let mut s = vec![];
        for t in 50..N_T {
            let e10: f64 = e[0][t - 10..t].iter().sum();
            let i10: f64 = i[0][t - 10..t].iter().sum();
            if rng.uniform() < 0.3 / (1.0 + (-(e10 - 1.5 * i10 - 6.0)).exp()) {
                s.push(t as f64 + 0.5);
            }
        }
        exc.extend(e.into_iter().flatten());
        inh.extend(i.into_iter().flatten());
        spikes.push(s);
    }
    let table = |data: Vec<f64>| {
        Table::new()
            .with(
                "sim_trial_index",
                Column::Str(rows.iter().map(|r| r.0.clone()).collect()),
            )
            .with(
                "distance_from_um",
                Column::F64(rows.iter().map(|r| 50.0 * r.1 as f64).collect()),
            )
            .with(
                "distance_to_um",
                Column::F64(rows.iter().map(|r| 50.0 * (r.1 + 1) as f64).collect()),
            )
            .with(
                "counts",
                Column::F64Array(isf::store::table::f64_rows(N_T, data).unwrap()),
            )
            .with_attr("bin_ms", rmpv::Value::F64(1.0))
    };
    st.put_table(&format!("{BASE}/EXC"), &table(exc), Metadata::now())
        .unwrap();
    st.put_table(&format!("{BASE}/INH"), &table(inh), Metadata::now())
        .unwrap();
    st.put_table(
        SPIKES,
        &Table::new()
            .with("sim_trial_index", Column::Str(labels))
            .with("spike_times", Column::F64List(spikes)),
        Metadata::now(),
    )
    .unwrap();
    path
}

fn isf(args: &[&str]) -> (i32, String, String) {
    let o = Command::new(env!("CARGO_BIN_EXE_isf"))
        .args(args)
        .output()
        .expect("isf runs");
    (
        o.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

/// Width, height and the number of distinct colours (up to 4) of a PNG.
fn png_info(p: &Path) -> (u32, u32, usize) {
    let dec = png::Decoder::new(std::io::BufReader::new(std::fs::File::open(p).unwrap()));
    let mut r = dec.read_info().unwrap();
    let mut buf = vec![0; r.output_buffer_size()];
    let info = r.next_frame(&mut buf).unwrap();
    let ch = info.color_type.samples();
    let mut colours = std::collections::HashSet::new();
    for px in buf[..info.buffer_size()].chunks(ch) {
        colours.insert((px[0], px[1], px[2]));
        if colours.len() > 3 {
            break;
        }
    }
    (info.width, info.height, colours.len())
}

#[test]
fn glm_kernels_and_lut_plots_and_repl_reduce() {
    let dir = tempfile::tempdir().unwrap();
    let path = make_store(dir.path(), 300);
    let p = path.to_str().unwrap();

    // Fit through the REPL.
    let mut session = isf::repl::Session::new(dir.path(), false);
    let keys = format!("{BASE}/EXC,{BASE}/INH");
    let r = session.handle(&format!(
        ":reduce fit {p} --model glm --keys {keys} --splits 2 --seed 3"
    ));
    assert!(!r.error, "{}", r.out);
    assert!(r.out.contains(&format!("wrote {MODEL}")), "{}", r.out);
    let st = Store::open(&path).unwrap();
    let g = isf::cli::reduce::read_glm(&st, MODEL).unwrap();
    assert_eq!(g.filters.len(), 2);
    // Predict through the REPL, too.
    let r = session.handle(&format!(":reduce predict {p} --model-key {MODEL}"));
    assert!(!r.error, "{}", r.out);
    assert!(r.out.contains("wrote "), "{}", r.out);

    // The figures hold the stored filters and tables.
    use isf::cli::plot::{glm_kernels_figure, glm_lut_figure};
    let f = glm_kernels_figure(&g, MODEL, None, false).unwrap();
    assert_eq!(f.series.len(), 2);
    for (s, filt) in f.series.iter().zip(&g.filters) {
        assert_eq!(s.name, filt.group);
        let w = filt.temporal.len();
        assert_eq!(s.points.len(), w);
        // The last weight is the bin just before the output bin: x = −1 ms (1 ms bins).
        assert_eq!(s.points[w - 1], (-1.0, filt.temporal[w - 1]));
        assert_eq!(s.points[0].0, -(w as f64));
        assert!(s.points.iter().zip(&filt.temporal).all(|(p, &v)| p.1 == v));
    }
    let f = glm_kernels_figure(&g, MODEL, None, true).unwrap();
    for (s, filt) in f.series.iter().zip(&g.filters) {
        let want: Vec<(f64, f64)> = filt
            .spatial
            .iter()
            .enumerate()
            .map(|(z, &w)| (z as f64, w))
            .collect();
        assert_eq!(s.points, want);
    }
    let f = glm_lut_figure(&g, MODEL, None).unwrap();
    let names: Vec<&str> = f.series.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "P(spike in window)",
            "window bins",
            "P(spike in bin)",
            "bin bins"
        ]
    );
    let l = &g.lut_window;
    assert_eq!(f.series[0].points.len(), l.values.len());
    assert_eq!(
        f.series[0].points[0],
        (l.first as f64, l.values[0]),
        "the table starts at its first net input"
    );
    let (lo, hi, n, s) = l.bins[0];
    assert_eq!(
        f.series[1].points[0],
        (0.5 * (lo + hi), s as f64 / n as f64)
    );
    assert_eq!(f.series[2].points.len(), g.lut_bin.values.len());

    // Through the CLI: non-blank PNGs.
    for (what, extra) in [
        ("kernels", None),
        ("kernels", Some("--spatial")),
        ("lut", None),
    ] {
        let out = dir.path().join(format!(
            "{what}{}.png",
            if extra.is_some() { "_z" } else { "" }
        ));
        let mut args = vec!["plot", what, p, MODEL, "-o", out.to_str().unwrap()];
        args.extend(extra);
        let (c, o, e) = isf(&args);
        assert_eq!(c, 0, "{args:?}\n{o}{e}");
        let (w, h, colours) = png_info(&out);
        assert!(
            w > 100 && h > 100 && colours > 2,
            "{out:?}: {w}×{h}, {colours} colours"
        );
    }

    // Options that do not apply: E0903, no file.
    let out = dir.path().join("nope.png");
    let (c, _, e) = isf(&[
        "plot",
        "kernels",
        p,
        MODEL,
        "--model-number",
        "0",
        "-o",
        out.to_str().unwrap(),
    ]);
    assert_eq!(c, 1, "{e}");
    assert!(
        e.contains("E0903") && e.contains("one set of filters"),
        "{e}"
    );
    assert!(!out.exists());
}
