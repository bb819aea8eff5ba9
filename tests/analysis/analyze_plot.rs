//! `isf analyze` and `isf plot` end to end on a small run of the quickstart cell (two
//! current steps × two trials, 80 ms, every compartment recorded): results are checked
//! against direct computations here (ISF's crossing rule, NumPy histogram rules), pictures by
//! their pixels (expected colours at known points), the animation page in headless Chromium
//! (loads without errors, the slider recolours the cell), and bad inputs by their codes.

use crate::common;

use isf::store::{Column, Store};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

/// Run `isf ARGS`; returns (exit code, stdout, stderr).
fn run(args: &[&str]) -> (i32, String, String) {
    // One writer per store: the tests of this file share one, so their commands take turns.
    static TURN: std::sync::Mutex<()> = std::sync::Mutex::new(());
    let _turn = TURN.lock().unwrap_or_else(|e| e.into_inner());
    common::cli::run(args)
}

fn ok(args: &[&str]) -> String {
    let (c, out, err) = run(args);
    assert_eq!(c, 0, "isf {args:?} failed:\n{out}\n{err}");
    out
}

struct Fixture {
    dir: PathBuf,
    script: PathBuf,
    store: PathBuf,
}

/// The run shared by every test of this file (made once).
fn fixture() -> &'static Fixture {
    static F: OnceLock<Fixture> = OnceLock::new();
    F.get_or_init(|| {
        let (dir, script, store) = common::quickstart_run(
            "isf-analyze",
            r#"experiment small {
    neuron: L5PT
    duration: 80 ms
    dt: 0.025 ms
    trials: 2
    seed: 7
    stimulus step { at: soma(0.5), amp: 0.8 nA, delay: 10 ms, duration: 60 ms }
    sweep { stimulus.step.amp in [0.5 nA, 1.5 nA] }
    record {
        soma.v
        spikes(soma, threshold: 0 mV)
        all_compartments
    }
}
"#,
        );
        Fixture { dir, script, store }
    })
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

fn events(st: &Store, key: &str) -> (Vec<String>, Vec<Vec<f64>>) {
    let t = st.get_table(key).unwrap();
    let Some(Column::Str(l)) = t.column("sim_trial_index") else {
        panic!("labels")
    };
    let times = t
        .columns
        .iter()
        .find_map(|(_, c)| match c {
            Column::F64List(v) => Some(v.clone()),
            _ => None,
        })
        .unwrap();
    (l.clone(), times)
}

/// ISF's rule written out again: spike at t[i] when v[i−1] < θ ≤ v[i].
fn crossings(t: &[f64], v: &[f64], th: f64) -> Vec<f64> {
    (1..v.len())
        .filter(|&i| v[i - 1] < th && th <= v[i])
        .map(|i| t[i])
        .collect()
}

#[test]
fn spikes_agree_with_the_run_and_with_a_direct_computation() {
    let f = fixture();
    let out = ok(&["analyze", "spikes", s(&f.store), "small/traces/soma.v"]);
    assert!(out.contains("threshold 0 mV"), "{out}");
    let st = Store::open(&f.store).unwrap();
    // At 0 mV the analysis finds exactly the spikes the run's own detector recorded.
    let (l1, a) = events(&st, "small/analysis/spike_times/soma.v");
    let (l2, b) = events(&st, "small/events/spikes_soma_");
    assert_eq!(l1, l2);
    assert_eq!(a, b);
    assert!(
        a.iter().map(Vec::len).sum::<usize>() > 0,
        "the 1.5 nA step fires"
    );
    assert!(
        a[0].is_empty() || a[0].len() < a[3].len(),
        "more current, more spikes"
    );
    // Dendritic spikes at ISF's −30 mV on every compartment (the default for non-soma
    // traces), against the rule applied here to the same samples.
    let out = ok(&[
        "analyze",
        "spikes",
        s(&f.store),
        "small/traces/all_compartments.v",
    ]);
    assert!(out.contains("threshold -30 mV"), "{out}");
    let tr = isf::analysis::read_traces(&st, "small/traces/all_compartments.v").unwrap();
    let res = st
        .get_table("small/analysis/spike_times/all_compartments.v")
        .unwrap();
    let Some(Column::F64List(found)) = res.column("spike_times") else {
        panic!()
    };
    let Some(Column::I64(comp)) = res.column("compartment") else {
        panic!()
    };
    assert_eq!(found.len(), tr.rows.len());
    assert_eq!(Some(comp), tr.compartment.as_ref());
    let mut n = 0;
    for (i, row) in tr.rows.iter().enumerate() {
        let want = crossings(&tr.times[i], row, -30.0);
        assert_eq!(found[i], want, "row {i}");
        n += want.len();
    }
    assert!(n > 100, "{n} dendritic crossings");
    // A window: only crossings from 30 ms on (ISF's window rule).
    ok(&[
        "analyze",
        "spikes",
        s(&f.store),
        "small/traces/soma.v",
        "--t-begin",
        "30",
        "--out",
        "small/late",
    ]);
    let (_, late) = events(&st, "small/late");
    for (w, all) in late.iter().zip(&b) {
        let want: Vec<f64> = all.iter().copied().filter(|&t| t >= 30.0).collect();
        assert_eq!(w, &want);
    }
    let m = st.metadata("small/late").unwrap();
    assert_eq!(m.extra["source"], "small/traces/soma.v");
    assert_eq!(m.extra["t_begin_ms"], "30");
}

#[test]
fn psth_and_isi_by_hand() {
    let f = fixture();
    let st0 = Store::open(&f.store).unwrap();
    let (labels, times) = events(&st0, "small/events/spikes_soma_");
    let out = ok(&[
        "analyze",
        "psth",
        s(&f.store),
        "small/events/spikes_soma_",
        "--bin",
        "5",
        "--t-begin",
        "0",
        "--t-end",
        "80",
        "--no-align",
    ]);
    assert!(out.contains("p000001: 2 trials"), "{out}");
    let st = Store::open(&f.store).unwrap();
    let t = st.get_table("small/analysis/psth/spikes_soma_").unwrap();
    let (Some(Column::Str(pt)), Some(Column::F64(a)), Some(Column::I64(c)), Some(Column::F64(per))) = (
        t.column("point"),
        t.column("bin_start_ms"),
        t.column("count"),
        t.column("spikes_per_trial"),
    ) else {
        panic!("psth columns")
    };
    assert_eq!(pt.len(), 2 * 16, "16 bins of 5 ms per point");
    for k in 0..pt.len() {
        let p = &pt[k];
        let lo = (k % 16) as f64 * 5.0;
        assert_eq!(a[k], lo);
        // Spikes of the point's trials with lo ≤ t < lo + 5 (the last bin closed at 80).
        let want: usize = labels
            .iter()
            .zip(&times)
            .filter(|(l, _)| l.starts_with(p.as_str()))
            .map(|(_, ts)| {
                ts.iter()
                    .filter(|&&x| x >= lo && (x < lo + 5.0 || (k % 16 == 15 && x <= 80.0)))
                    .count()
            })
            .sum();
        assert_eq!(c[k] as usize, want, "bin {k}");
        assert_eq!(per[k], want as f64 / 2.0);
    }
    ok(&[
        "analyze",
        "isi",
        s(&f.store),
        "small/events/spikes_soma_",
        "--burst-isi",
        "8",
    ]);
    let t = st.get_table("small/analysis/isi/spikes_soma_").unwrap();
    let (Some(Column::F64List(isi)), Some(Column::F64(mean)), Some(Column::I64(nb))) = (
        t.column("isi_ms"),
        t.column("mean_isi_ms"),
        t.column("n_bursts"),
    ) else {
        panic!("isi columns")
    };
    for (i, ts) in times.iter().enumerate() {
        let want: Vec<f64> = ts.windows(2).map(|w| w[1] - w[0]).collect();
        assert_eq!(isi[i], want);
        if want.is_empty() {
            assert!(mean[i].is_nan());
        } else {
            let m = want.iter().sum::<f64>() / want.len() as f64;
            assert!((mean[i] - m).abs() < 1e-12);
        }
        // Bursts: maximal runs of intervals ≤ 8 ms.
        let mut runs = 0;
        let mut inside = false;
        for x in &want {
            if *x <= 8.0 && !inside {
                runs += 1;
            }
            inside = *x <= 8.0;
        }
        assert_eq!(nb[i], runs);
    }
}

/// Decode a PNG into (width, height, RGB bytes).
fn read_png(p: &Path) -> (u32, u32, Vec<u8>) {
    let dec = png::Decoder::new(std::io::BufReader::new(std::fs::File::open(p).unwrap()));
    let mut r = dec.read_info().unwrap();
    let mut buf = vec![0; r.output_buffer_size()];
    let info = r.next_frame(&mut buf).unwrap();
    let ch = info.color_type.samples();
    let rgb: Vec<u8> = buf[..info.buffer_size()]
        .chunks(ch)
        .flat_map(|p| [p[0], p[1], p[2]])
        .collect();
    (info.width, info.height, rgb)
}

fn count_colour(rgb: &[u8], c: (u8, u8, u8)) -> usize {
    rgb.chunks(3)
        .filter(|p| p[0] == c.0 && p[1] == c.1 && p[2] == c.2)
        .count()
}

#[test]
fn line_pictures_have_their_colours() {
    let f = fixture();
    let d = f.dir.join("pics");
    std::fs::create_dir_all(&d).unwrap();
    let o = |n: &str| d.join(n).display().to_string();
    ok(&[
        "plot",
        "traces",
        s(&f.store),
        "small/traces/soma.v",
        "-o",
        &o("traces"),
    ]);
    ok(&[
        "plot",
        "raster",
        s(&f.store),
        "small/events/spikes_soma_",
        "-o",
        &o("raster"),
    ]);
    ok(&[
        "plot",
        "psth",
        s(&f.store),
        "small/events/spikes_soma_",
        "-o",
        &o("psth.png"),
    ]);
    ok(&["plot", "sweep", s(&f.store), "small", "-o", &o("fi")]);
    for name in ["traces", "raster", "psth", "fi"] {
        let (w, h, rgb) = read_png(&d.join(format!("{name}.png")));
        assert_eq!((w, h), isf::plot::SIZE);
        let white = count_colour(&rgb, (255, 255, 255));
        assert!(white > rgb.len() / 3 / 2, "{name}: mostly white background");
        assert!(white < rgb.len() / 3, "{name}: not blank");
        // Series are drawn in the palette: the first colour is always there.
        let c0 = isf::plot::PALETTE[0];
        assert!(count_colour(&rgb, c0) > 50, "{name}: first series colour");
        if name != "psth" {
            let svg = std::fs::read_to_string(d.join(format!("{name}.svg"))).unwrap();
            assert!(
                svg.starts_with("<svg") && svg.contains("</svg>"),
                "{name}.svg"
            );
        }
    }
    assert!(!d.join("psth.svg").exists(), "-o x.png writes only the PNG");
    // The f–I picture: two sweep points and two traces of the traces picture use the second
    // palette colour only where there is a second series.
    let (_, _, rgb) = read_png(&d.join("traces.png"));
    assert!(
        count_colour(&rgb, isf::plot::PALETTE[3]) > 50,
        "4 trace rows, 4 colours"
    );
    let svg = std::fs::read_to_string(d.join("fi.svg")).unwrap();
    assert!(
        svg.contains("stimulus.step.amp (nA)"),
        "x axis names the sweep axis"
    );
}

/// The cell of the fixture as `isf plot morph` projects it, and the per-compartment values
/// of the first trial at the sample nearest `t`.
fn cell_and_values(f: &Fixture, t: f64) -> (isf::plot::morph::Geometry, Vec<f64>) {
    let c = isf::validate::check_path(&f.script);
    let n = &c.model.neurons[0];
    let low = isf::lower::cell::build_cell(n, &c.model.mechanisms).unwrap();
    let m = isf::lower::cell::read_morphology(n).unwrap();
    let nseg: Vec<usize> = low.geometry.sections.iter().map(|s| s.nseg).collect();
    let g = isf::plot::morph::project(&m, &nseg, isf::plot::morph::View::Xz);
    let st = Store::open(&f.store).unwrap();
    let tr = isf::analysis::read_traces(&st, "small/traces/all_compartments.v").unwrap();
    let k = (t / 0.025).round() as usize;
    let mut v = vec![f64::NAN; g.n_compartments];
    for (i, l) in tr.labels.iter().enumerate() {
        if l == "p000000/t000000" {
            v[tr.compartment.as_ref().unwrap()[i] as usize] = tr.rows[i][k];
        }
    }
    assert!(
        v.iter().all(|x| x.is_finite()),
        "every compartment recorded"
    );
    (g, v)
}

#[test]
fn morphology_picture_is_coloured_by_voltage() {
    let f = fixture();
    let out = f.dir.join("cell");
    ok(&[
        "plot",
        "morph",
        s(&f.script),
        s(&f.store),
        "--time",
        "40",
        "-o",
        s(&out),
    ]);
    let (w, h, rgb) = read_png(&out.with_extension("png"));
    let (g, v) = cell_and_values(f, 40.0);
    let lo = v.iter().copied().fold(f64::INFINITY, f64::min);
    let hi = v.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let lay = isf::plot::morph::Layout::fit(&g, (w, h));
    // The soma disc's centre has the colour of the soma compartment's voltage.
    let (c, _, comp) = g.soma.unwrap();
    let (x, y) = lay.px(c);
    let at = |x: f64, y: f64| {
        let i = (y.round() as usize * w as usize + x.round() as usize) * 3;
        (rgb[i], rgb[i + 1], rgb[i + 2])
    };
    assert_eq!(
        at(x, y),
        isf::plot::morph::value_colour(Some(v[comp]), (lo, hi)),
        "soma colour"
    );
    // Most pieces: the pixel at the middle of a thick piece has its compartment's colour
    // (a later piece may cross it, so not every one).
    let thick: Vec<_> = g
        .pieces
        .iter()
        .filter(|p| lay.width(p.diam_um) >= 3.0)
        .collect();
    assert!(thick.len() > 20);
    let hits = thick
        .iter()
        .filter(|p| {
            let (a, b) = (lay.px(p.a), lay.px(p.b));
            at((a.0 + b.0) / 2.0, (a.1 + b.1) / 2.0)
                == isf::plot::morph::value_colour(Some(v[p.comp]), (lo, hi))
        })
        .count();
    assert!(
        hits * 10 >= thick.len() * 6,
        "{hits} of {} pieces",
        thick.len()
    );
}

/// Chromium, or a loud skip (a failure under CI).
fn chromium() -> Option<PathBuf> {
    for name in ["chromium", "chromium-browser", "google-chrome"] {
        if let Ok(o) = Command::new("sh")
            .args(["-c", &format!("command -v {name}")])
            .output()
            && o.status.success()
        {
            return Some(PathBuf::from(String::from_utf8_lossy(&o.stdout).trim()));
        }
    }
    common::skip::skip(
        "headless Chromium not found",
        "install it (Debian: apt-get install -y chromium); .ci/run does",
    );
    None
}

fn headless(chrome: &Path, args: &[&str], url: &str) -> std::process::Output {
    // A fresh profile per run, removed afterwards (Chrome fills it).
    let guard = tempfile::tempdir().expect("temp dir");
    let profile = guard.path();
    Command::new(chrome)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--hide-scrollbars",
            "--no-first-run",
            &format!("--user-data-dir={}", profile.display()),
        ])
        .args(args)
        .arg(url)
        .output()
        .expect("chromium runs")
}

#[test]
fn animation_page_works_in_a_real_browser() {
    let f = fixture();
    let html = f.dir.join("anim.html");
    let frames = f.dir.join("frames");
    ok(&[
        "plot",
        "animate",
        s(&f.script),
        s(&f.store),
        "--t-begin",
        "5",
        "--t-end",
        "45",
        "--frames",
        "9",
        "--png-frames",
        s(&frames),
        "-o",
        s(&html),
    ]);
    // Numbered PNG frames, different from each other.
    let f0 = read_png(&frames.join("frame_0000.png")).2;
    let f8 = read_png(&frames.join("frame_0008.png")).2;
    assert!(!frames.join("frame_0009.png").exists());
    assert_ne!(f0, f8);
    let page = std::fs::read_to_string(&html).unwrap();
    assert!(
        !page.contains("http://") || !page.contains("src="),
        "self-contained"
    );
    let Some(chrome) = chromium() else {
        return;
    };
    let started = std::time::Instant::now();
    let url = |h: &str| format!("file://{}#{h}", html.display());
    // Frame 8 is 45 ms (firing); frame 0 is 5 ms (rest). The slider is moved by the page's
    // `#slide=K` hook, which fires the slider's own input event.
    let (_, v8) = cell_and_values(f, 45.0);
    let (g, v0) = cell_and_values(f, 5.0);
    let mut all = Vec::new();
    for k in 0..9 {
        all.extend(cell_and_values(f, 5.0 + 5.0 * k as f64).1);
    }
    let lo = all.iter().copied().fold(f64::INFINITY, f64::min);
    let hi = all.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let (_, _, soma) = g.soma.unwrap();
    for (k, v) in [(0, &v0), (8, &v8)] {
        let o = headless(&chrome, &["--dump-dom"], &url(&format!("slide={k}")));
        let dom = String::from_utf8_lossy(&o.stdout);
        assert!(
            dom.contains(&format!("data-status=\"ready\" data-frame=\"{k}\"")),
            "page did not load cleanly at slide={k}: {}",
            &dom[..dom.len().min(600)]
        );
        // The soma disc's fill is the colour of the soma voltage in that frame (the page
        // rounds values to 1 µV, so allow one colour level).
        let tag = dom
            .split("<circle")
            .find(|c| c.contains(&format!("data-c=\"{soma}\"")) && c.contains("data-fill"))
            .expect("soma disc");
        let fill = tag
            .split("fill=\"rgb(")
            .nth(1)
            .expect("filled")
            .split(')')
            .next()
            .unwrap();
        let got: Vec<i32> = fill.split(',').map(|x| x.trim().parse().unwrap()).collect();
        let want = isf::plot::morph::value_colour(Some(v[soma]), (lo, hi));
        for (a, b) in got.iter().zip([want.0, want.1, want.2]) {
            assert!(
                (a - b as i32).abs() <= 1,
                "slide={k}: fill {got:?}, want {want:?}"
            );
        }
    }
    // Screenshots at both slider positions differ where the cell is drawn.
    let shot = |k: usize| {
        let p = f.dir.join(format!("shot{k}.png"));
        let o = headless(
            &chrome,
            &[
                "--window-size=940,820",
                &format!("--screenshot={}", p.display()),
            ],
            &url(&format!("slide={k}")),
        );
        assert!(p.exists(), "{}", String::from_utf8_lossy(&o.stderr));
        read_png(&p)
    };
    let (w0, h0, a) = shot(0);
    let (_, _, b) = shot(8);
    let differ = a.chunks(3).zip(b.chunks(3)).filter(|(x, y)| x != y).count();
    assert!(
        differ > 500,
        "{differ} of {} pixels differ between the slider's ends",
        w0 * h0
    );
    eprintln!(
        "browser test: 4 headless Chromium runs in {:.1} s",
        started.elapsed().as_secs_f64()
    );
}

#[test]
fn bad_inputs_have_codes() {
    let f = fixture();
    let st = s(&f.store);
    let code = |args: &[&str], want: &str| {
        let (c, out, err) = run(args);
        assert_eq!(c, 1, "{args:?}: {out}{err}");
        assert!(err.contains(want), "{args:?}: expected {want}, got {err}");
    };
    code(&["analyze", "spikes", st, "small/traces/nope"], "E0604");
    code(&["analyze", "spikes", st, "small/trials"], "E0902");
    code(&["analyze", "psth", st, "small/traces/soma.v"], "E0902");
    code(
        &[
            "analyze",
            "psth",
            st,
            "small/events/spikes_soma_",
            "--bin",
            "0",
        ],
        "E0903",
    );
    code(
        &[
            "analyze",
            "spikes",
            st,
            "small/traces/soma.v",
            "--t-begin",
            "50",
            "--t-end",
            "10",
        ],
        "E0903",
    );
    code(&["analyze", "synapses", st, "small"], "E0902");
    code(
        &["analyze", "synapses", st, "small", "--group-by", "colour"],
        "E0903",
    );
    code(&["analyze", "spikes", s(&f.dir), "x/y"], "E0902");
    code(
        &[
            "plot",
            "traces",
            st,
            "small/traces/soma.v",
            "-o",
            "/nonexistent-dir/x.png",
        ],
        "E0905",
    );
    code(
        &[
            "plot",
            "morph",
            s(&f.script),
            st,
            "--time",
            "10",
            "--variable",
            "small/traces/soma.v",
            "-o",
            "/tmp/x",
        ],
        "E0902",
    );
    code(
        &[
            "plot", "sweep", st, "small", "--axis", "duration", "-o", "/tmp/x",
        ],
        "E0903",
    );
}

/// A store holding `EXP/synapse_activations` tables from another cell: E0906 when the
/// recording has more compartments than the cell.
#[test]
fn recording_of_another_cell_is_refused() {
    let f = fixture();
    let other = f.dir.join("other.isfdb");
    let st = Store::create(&other).unwrap();
    let t = isf::store::Table::traces(
        vec!["p000000/t000000".into()],
        &[0.0, 1.0],
        isf::store::table::one_row(vec![-70.0, -70.0]),
    )
    .with("compartment", Column::I64(vec![99_999]));
    st.put_table("small/traces/all_compartments.v", &t, Default::default())
        .unwrap();
    let (c, _, err) = run(&[
        "plot",
        "morph",
        s(&f.script),
        s(&other),
        "--time",
        "0",
        "-o",
        "/tmp/x",
    ]);
    assert_eq!(c, 1);
    assert!(err.contains("E0906"), "{err}");
}

/// A synapse type that is neither in ISF's cell-type list nor declared: E0904, and the
/// command-line declaration resolves it.
#[test]
fn synapse_type_of_unknown_sign() {
    let f = fixture();
    let p = f.dir.join("unknown.isfdb");
    let st = Store::create(&p).unwrap();
    let t = isf::store::Table::new()
        .with(
            "synapse_type",
            Column::Str(vec!["Foo_C2".into(), "L5tt_C2".into()]),
        )
        .with("soma_distance_um", Column::F64(vec![10.0, 600.0]))
        .with(
            "label",
            Column::Str(vec!["Dendrite".into(), "ApicalDendrite".into()]),
        )
        .with(
            "release_times_ms",
            Column::F64List(vec![vec![1.5], vec![0.0, 2.0, 2.0]]),
        );
    st.put_table(
        "E/synapse_activations/p000000_t000000",
        &t,
        Default::default(),
    )
    .unwrap();
    let (c, _, err) = run(&["analyze", "synapses", s(&p), "E", "--max-time", "4"]);
    assert_eq!(c, 1);
    assert!(err.contains("E0904") && err.contains("Foo_C2"), "{err}");
    ok(&[
        "analyze",
        "synapses",
        s(&p),
        "E",
        "--max-time",
        "4",
        "--inhibitory",
        "Foo",
        "--group-by",
        "EI,proximal",
    ]);
    let st = Store::open(&p).unwrap();
    let k = "E/analysis/synapse_activation_binned/t1/EI__proximal";
    let inh = st.get_table(&format!("{k}/INH__prox")).unwrap();
    let exc = st.get_table(&format!("{k}/EXC__dist")).unwrap();
    let counts = |t: &isf::store::Table| match t.column("counts") {
        Some(Column::F64Array(data)) => isf::store::table::into_row_major(data.clone()),
        _ => panic!(),
    };
    assert_eq!(counts(&inh), [0.0, 1.0, 0.0, 0.0]);
    assert_eq!(counts(&exc), [1.0, 0.0, 2.0, 0.0]);
    let m = st.metadata(&format!("{k}/INH__prox")).unwrap();
    assert_eq!(m.extra["source"], "E/synapse_activations");
    assert_eq!(m.extra["group_by"], "EI,proximal");
}
