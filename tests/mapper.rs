//! The input mapper (spec 08, issue 19) on ISF's L5PT cell 86_C2_center with synthetic density
//! fields made here: geometry sums, realization statistics, thread independence, the
//! `isf map` → `.syn`/`.con` → `isf run` round trip, and coded errors for bad inputs.

mod common;

use isf::mapper::amira::{ScalarField, write_am};
use isf::mapper::grid::{CellGrid, MapSection, length_area, map_sections};
use isf::mapper::tables::{Class, Connections, NrCells, PstConstants};
use isf::mapper::{BoutonFiles, MapInputs, MapOptions, map};
use isf::morph::Morphology;
use isf::run::exec::TrialRunner;
use std::f64::consts::PI;
use std::path::{Path, PathBuf};

fn inputs_dir() -> PathBuf {
    common::skip::conformance_dir().join("inputs")
}

fn hoc_path() -> Option<PathBuf> {
    let p = inputs_dir().join("86_C2_center.hoc");
    common::skip::require_data("conformance morphology", &[&p]).then_some(p)
}

/// A field on a 50 µm grid that covers the cell (x [-400, 282], y [117, 688], z [-505, 693]).
fn field(f: impl Fn([f64; 3]) -> f64) -> ScalarField {
    let (dims, origin, h) = ([16usize, 14, 27], [-460.0, 60.0, -560.0], 50.0);
    let mut data = Vec::with_capacity(dims[0] * dims[1] * dims[2]);
    for k in 0..dims[2] {
        for j in 0..dims[1] {
            for i in 0..dims[0] {
                let c = [
                    origin[0] + (i as f64 + 0.5) * h,
                    origin[1] + (j as f64 + 0.5) * h,
                    origin[2] + (k as f64 + 0.5) * h,
                ];
                data.push(f(c));
            }
        }
    }
    ScalarField::new(dims, origin, [h; 3], data)
}

/// Total length and (quirked) area of the soma and dendrites, summed segment by segment.
fn totals(sections: &[MapSection], quirk: bool) -> ([f64; 3], [f64; 3]) {
    let (mut l, mut a) = ([0.0; 3], [0.0; 3]);
    let k = if quirk { 1.0 } else { 0.5 };
    for s in sections {
        for w in s.points.windows(2) {
            let h =
                ((w[1].x - w[0].x).powi(2) + (w[1].y - w[0].y).powi(2) + (w[1].z - w[0].z).powi(2))
                    .sqrt();
            let (r1, r2) = (k * w[0].d, k * w[1].d);
            l[s.structure] += h;
            a[s.structure] += PI * (r1 + r2) * (h * h + (r2 - r1).powi(2)).sqrt();
        }
    }
    (l, a)
}

#[test]
fn voxel_sums_equal_total_length_and_area() {
    let Some(hoc) = hoc_path() else { return };
    let morph = Morphology::read(&hoc).unwrap();
    let sections = map_sections(&morph);
    assert_eq!(sections.len(), 167, "soma + 87 basal + 79 apical");
    // Two alignments: the 50 µm test grid, and an odd 37.5 µm grid with shifted origin.
    let odd = ScalarField::new(
        [19, 16, 33],
        [-401.3, 100.9, -511.7],
        [37.5; 3],
        vec![1.0; 19 * 16 * 33],
    );
    for f in [field(|_| 1.0), odd] {
        let bbox = isf::mapper::grid::bounding_box(&sections).unwrap();
        let grid = CellGrid::from_field(&f, &bbox).unwrap();
        for quirk in [true, false] {
            let g = length_area(&sections, &grid, quirk);
            let (l, a) = totals(&sections, quirk);
            for s in 0..3 {
                let (sl, sa): (f64, f64) = (g.length[s].iter().sum(), g.area[s].iter().sum());
                assert!(
                    (sl - l[s]).abs() <= 1e-9 * l[s],
                    "length {s}: {sl} vs {}",
                    l[s]
                );
                assert!(
                    (sa - a[s]).abs() <= 1e-9 * a[s],
                    "area {s}: {sa} vs {}",
                    a[s]
                );
                let used = g.length[s].iter().filter(|&&x| x > 0.0).count();
                assert!(
                    used > if s == 0 { 0 } else { 20 },
                    "structure {s} in {used} voxels"
                );
            }
            if quirk {
                eprintln!(
                    "86_C2_center: length {:.3} µm, quirked area {:.3} µm² over {} voxels of {:?}",
                    l.iter().sum::<f64>(),
                    a.iter().sum::<f64>(),
                    grid.n_voxels(),
                    grid.dims
                );
            }
        }
        // The quirk doubles the radii: at least twice the area (more where a segment tapers).
        let (g1, g0) = (
            length_area(&sections, &grid, true),
            length_area(&sections, &grid, false),
        );
        let (s1, s0): (f64, f64) = (g1.area[2].iter().sum(), g0.area[2].iter().sum());
        assert!(
            s1 >= 2.0 * s0 * (1.0 - 1e-12) && s1 < 2.01 * s0,
            "{s1} vs {s0}"
        );
    }
}

const EXC: PstConstants = PstConstants {
    soma_length: 0.5,
    apical_length: 0.3,
    basal_length: 0.4,
    soma_area: 0.01,
    apical_area: 0.02,
    basal_area: 0.015,
};
const INH: PstConstants = PstConstants {
    soma_length: 1.0,
    apical_length: 0.1,
    basal_length: 0.2,
    soma_area: 0.05,
    apical_area: 0.01,
    basal_area: 0.01,
};

fn constant(_: [f64; 3]) -> f64 {
    0.02
}
/// Zero below z = -300 µm (under most basal dendrites), rising linearly to 0.03 at the top.
fn gradient(c: [f64; 3]) -> f64 {
    (0.03 * (c[2] + 300.0) / 1000.0).max(0.0)
}
/// A blob around the apical tuft: Gaussian (σ 120 µm), cut off beyond 250 µm.
fn blob(c: [f64; 3]) -> f64 {
    let r2 = (c[0] + 60.0).powi(2) + (c[1] - 450.0).powi(2) + (c[2] - 600.0).powi(2);
    if r2 > 250.0 * 250.0 {
        0.0
    } else {
        0.2 * (-r2 / (2.0 * 120.0 * 120.0)).exp()
    }
}

type FieldFn = fn([f64; 3]) -> f64;
const POPS: [(&str, &str, u64, FieldFn); 3] = [
    ("C2", "L5tt", 40, constant),
    ("C2", "L4ss", 40, gradient),
    ("D2", "L1", 40, blob),
];

/// In-memory inputs: normalisation fields 2.0 (EXC) and 0.5 (INH), one bouton field per
/// population (so each count is exactly Poisson).
fn synthetic(morph: Morphology) -> MapInputs {
    let mut connections = Connections::default();
    connections.insert(Class::Exc, "L5tt", EXC);
    connections.insert(Class::Inh, "L5tt", INH);
    MapInputs {
        morphology: morph,
        cell_name: "86_C2_center".into(),
        post_type: "L5tt".into(),
        nr_cells: NrCells {
            file: "nrCells.csv".into(),
            areas: vec!["C2".into(), "D2".into()],
            rows: POPS
                .iter()
                .map(|(a, t, n, _)| {
                    (
                        t.to_string(),
                        if *a == "C2" { vec![*n, 0] } else { vec![0, *n] },
                        0,
                    )
                })
                .collect(),
        },
        connections,
        exc_pst: field(|_| 2.0),
        inh_pst: field(|_| 0.5),
        boutons: POPS
            .iter()
            .map(|(a, t, _, f)| {
                let mut fl = field(f);
                fl.crop_nonzero();
                BoutonFiles {
                    area: a.to_string(),
                    cell_type: t.to_string(),
                    fields: vec![fl],
                }
            })
            .collect(),
    }
}

#[test]
fn realizations_match_densities_and_are_poisson() {
    let Some(hoc) = hoc_path() else { return };
    let inputs = synthetic(Morphology::read(&hoc).unwrap());
    let r = 300;
    let t0 = std::time::Instant::now();
    let m = map(
        &inputs,
        MapOptions {
            samples: r,
            seed: 42,
            amira_quirk: true,
        },
    )
    .unwrap();
    eprintln!("{r} realizations in {:.2} s", t0.elapsed().as_secs_f64());
    let p = &m.prepared;
    assert_eq!(p.populations.len(), 3);
    // Expected counts computed here from the geometry, the voxels' points and the field
    // formulas at voxel centres — not from the mapper's density code.
    let consts = |t: &str, s: usize| {
        let c = if t == "L1" { INH } else { EXC };
        [
            (c.soma_length, c.soma_area),
            (c.basal_length, c.basal_area),
            (c.apical_length, c.apical_area),
        ][s]
    };
    for (pi, (_, t, cells, f)) in POPS.iter().enumerate() {
        let norm = if *t == "L1" { 0.5 } else { 2.0 };
        for s in 0..3 {
            let (kl, ka) = consts(t, s);
            let mut per_cell = 0.0;
            let mut whole = 0.0;
            for v in 0..p.grid.n_voxels() {
                let d = f(p.grid.center(p.grid.ijk(v))) / norm
                    * (kl * p.geometry.length[s][v] + ka * p.geometry.area[s][v]);
                whole += d;
                if !p.targets[s][v].is_empty() {
                    per_cell += d;
                }
            }
            // Density in voxels without a 3-D point is lost (ISF does the same); little here.
            assert!(per_cell >= 0.98 * whole, "{t} {s}: {per_cell} of {whole}");
            let expected = *cells as f64 * per_cell;
            let counts: Vec<f64> = m
                .stats
                .iter()
                .map(|st| st[pi].per_structure[s] as f64)
                .collect();
            let mean = counts.iter().sum::<f64>() / r as f64;
            let var = counts.iter().map(|c| (c - mean).powi(2)).sum::<f64>() / (r - 1) as f64;
            let se = (var / r as f64).sqrt();
            eprintln!(
                "{t} structure {s}: expected {expected:.3}, mean {mean:.3} ± {se:.3}, var/mean {:.3}",
                var / mean.max(1e-300)
            );
            if expected == 0.0 {
                assert_eq!(mean, 0.0, "{t} {s}: no density, no synapses");
                continue;
            }
            assert!(
                (mean - expected).abs() < 3.0 * se,
                "{t} {s}: mean {mean} vs {expected} (se {se})"
            );
            // Poisson: var/mean ≈ 1; the ratio's SD is ≈ sqrt(2/(r−1)), bound = 4 SD.
            if expected > 5.0 {
                let bound = 4.0 * (2.0 / (r - 1) as f64).sqrt();
                assert!(
                    (var / mean - 1.0).abs() < bound,
                    "{t} {s}: var/mean {}",
                    var / mean
                );
            }
        }
    }
    // Every synapse lies in a voxel (closed bounds) whose field value is positive.
    for (pi, (_, t, _, f)) in POPS.iter().enumerate() {
        for real in m.realizations.iter().take(20) {
            let pr = &real[pi];
            for k in 0..pr.section.len() {
                let pt = p.sections[pr.section[k] as usize].points[pr.point[k] as usize];
                let c = [pt.x, pt.y, pt.z];
                // The voxels whose closed bounds hold the point: ⌊t⌋ and a neighbour on a face.
                let near = |a: usize| {
                    let t = ((c[a] - p.grid.origin[a]) / p.grid.spacing[a]).floor() as i64;
                    (t - 1..=t + 1).filter(move |&i| i >= 0 && (i as usize) < p.grid.dims[a])
                };
                let ok = near(0).any(|i| {
                    near(1).any(|j| {
                        near(2).any(|k| {
                            let v = [i as usize, j as usize, k as usize];
                            let b = p.grid.voxel_bounds(v);
                            (0..3).all(|a| b[2 * a] <= c[a] && c[a] <= b[2 * a + 1])
                                && f(p.grid.center(v)) > 0.0
                        })
                    })
                });
                assert!(ok, "{t}: synapse at {c:?} outside every voxel with density");
            }
        }
    }
    // The gradient is zero below z = -300: some basal points lie there and get nothing.
    let low = p
        .sections
        .iter()
        .flat_map(|s| &s.points)
        .filter(|q| q.z < -350.0)
        .count();
    assert!(low > 100, "{low} points below the gradient's zero");
}

#[test]
fn same_realizations_for_any_thread_count() {
    let Some(hoc) = hoc_path() else { return };
    let inputs = synthetic(Morphology::read(&hoc).unwrap());
    let run = |threads: usize| {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .unwrap();
        pool.install(|| {
            map(
                &inputs,
                MapOptions {
                    samples: 6,
                    seed: 9,
                    amira_quirk: true,
                },
            )
            .unwrap()
        })
    };
    let (a, b) = (run(1), run(3));
    assert_eq!(a.realizations, b.realizations);
    assert_eq!(a.chosen, b.chosen);
    assert_eq!(a.syn_text("c", a.chosen), b.syn_text("c", b.chosen));
    // Fewer samples: the shared realizations are the same draws.
    let c = map(
        &inputs,
        MapOptions {
            samples: 2,
            seed: 9,
            amira_quirk: true,
        },
    )
    .unwrap();
    assert_eq!(c.realizations[..], a.realizations[..2]);
    let d = map(
        &inputs,
        MapOptions {
            samples: 2,
            seed: 10,
            amira_quirk: true,
        },
    )
    .unwrap();
    assert_ne!(d.realizations[0], a.realizations[0]);
}

/// Write the synthetic inputs as files: fields, sheets and the bouton tree.
fn write_inputs(dir: &Path) {
    std::fs::write(dir.join("exc.am"), write_am(&field(|_| 2.0))).unwrap();
    std::fs::write(dir.join("inh.am"), write_am(&field(|_| 0.5))).unwrap();
    std::fs::write(
        dir.join("nrCells.csv"),
        "CELL TYPE\tC2\tD2\nL5tt\t40\t0\nL4ss\t40\t0\nL1\t0\t40\n",
    )
    .unwrap();
    std::fs::write(
        dir.join("ConnectionsV8.csv"),
        "PRESYNAPTIC_CELLTYPE\tPOSTSYNAPTIC_CELLTYPE\tSOMA_LENGTH\tAPICAL_LENGTH\tBASAL_LENGTH\tSOMA_AREA\tAPICAL_AREA\tBASAL_AREA\n\
         EXCITATORY\tL5tt\t0.5\t0.3\t0.4\t0.01\t0.02\t0.015\nINHIBITORY\tL5tt\t1\t0.1\t0.2\t0.05\t0.01\t0.01\n",
    )
    .unwrap();
    for (a, t, _, f) in POPS {
        let d = dir.join("boutons").join(a).join(t);
        std::fs::create_dir_all(&d).unwrap();
        std::fs::write(d.join("axon1.am"), write_am(&field(f))).unwrap();
        // A second axon with half the density.
        std::fs::write(d.join("axon2.am"), write_am(&field(|c| 0.5 * f(c)))).unwrap();
    }
}

fn isf_map(dir: &Path, hoc: &Path, extra: &[&str]) -> std::process::Output {
    isf_map_as(dir, hoc, "L5tt", extra)
}

fn isf_map_as(dir: &Path, hoc: &Path, cell_type: &str, extra: &[&str]) -> std::process::Output {
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_isf"));
    cmd.arg("map").arg(hoc).args(["--cell-type", cell_type]);
    for (flag, f) in [
        ("--nr-cells", "nrCells.csv"),
        ("--connections", "ConnectionsV8.csv"),
        ("--exc-pst", "exc.am"),
        ("--inh-pst", "inh.am"),
        ("--boutons", "boutons"),
    ] {
        cmd.arg(flag).arg(dir.join(f));
    }
    cmd.args(extra).output().unwrap()
}

#[test]
fn isf_map_files_read_back_and_run_in_a_network() {
    let Some(hoc) = hoc_path() else { return };
    let param = inputs_dir().join("86_C2_center.param");
    if !common::skip::require_data("conformance cell parameters", &[&param]) {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    write_inputs(dir);
    let out = dir.join("mapped");
    let o = isf_map(
        dir,
        &hoc,
        &[
            "--samples",
            "8",
            "--seed",
            "3",
            "--jobs",
            "2",
            "--out",
            out.to_str().unwrap(),
        ],
    );
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert!(
        o.status.success(),
        "{}{}",
        stdout,
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(stdout.contains("per realization"), "{stdout}");
    let syn_path = out.join("86_C2_center_synapses.syn");
    let con_path = out.join("86_C2_center_synapses.con");
    let syn = isf::interop::formats::syn::read_syn_file(&syn_path).unwrap();
    let con = isf::interop::formats::con::read_con_file(&con_path).unwrap();
    isf::interop::formats::con::check_against_syn(&con, &syn).unwrap();
    assert_eq!(syn.cell.as_deref(), Some("86_C2_center"));
    assert_eq!(
        con.anatomical_id.as_deref(),
        Some("86_C2_center_synapses.syn")
    );
    let text = std::fs::read_to_string(&syn_path).unwrap();
    assert!(
        text.contains("# isf map: seed 3, representative realization"),
        "{text:.400}"
    );
    let names: Vec<&str> = syn.types.iter().map(|t| t.name.as_str()).collect();
    assert_eq!(names, ["L5tt_C2", "L4ss_C2", "L1_D2"]);
    // Connected cells per population: distinct IDs 0..n in the .con, as in the sheet.
    let sheet = std::fs::read_to_string(out.join("NumberOfConnectedCells.csv")).unwrap();
    let mut connected = Vec::new();
    for ct in &con.types {
        let n = ct.cell.iter().max().map_or(0, |m| m + 1);
        let mut seen = vec![false; n as usize];
        ct.cell.iter().for_each(|&c| seen[c as usize] = true);
        assert!(seen.iter().all(|&b| b), "{}: IDs not consecutive", ct.name);
        assert!(n <= 40);
        let (t, a) = ct.name.split_once('_').unwrap();
        assert!(
            sheet.contains(&format!("\n{a}\t{t}\t{n}\n")),
            "{} {n}\n{sheet}",
            ct.name
        );
        connected.push((ct.name.clone(), n));
    }
    let summary = std::fs::read_to_string(out.join("86_C2_center_summary.csv")).unwrap();
    assert!(summary.contains("# connectivity per cell type population summary"));
    assert!(summary.contains("\nD2\tL1\t"), "{summary}");
    // The same files again from the same seed with another thread count.
    let out2 = dir.join("mapped2");
    let o = isf_map(
        dir,
        &hoc,
        &[
            "--samples",
            "8",
            "--seed",
            "3",
            "--jobs",
            "1",
            "--out",
            out2.to_str().unwrap(),
        ],
    );
    assert!(o.status.success());
    for f in [
        "86_C2_center_synapses.syn",
        "86_C2_center_synapses.con",
        "NumberOfConnectedCells.csv",
        "86_C2_center_summary.csv",
    ] {
        assert_eq!(
            std::fs::read(out.join(f)).unwrap(),
            std::fs::read(out2.join(f)).unwrap(),
            "{f}"
        );
    }
    // A short network experiment on the mapped anatomy.
    let anatomy = format!(
        "anatomy(syn: \"{}\", con: \"{}\")",
        syn_path.display(),
        con_path.display()
    );
    let mut pops = String::new();
    for (name, _) in &connected {
        let receptor = if name.starts_with("L1") {
            "receptor gaba { weight: 1 nS\n tau_rise: 1 ms\n tau_decay: 20 ms\n e: -80 mV }"
        } else {
            "receptor glutamate { weight_ampa: 1.5 nS, weight_nmda: 1.5 nS }"
        };
        pops.push_str(&format!(
            "    population {name} {{\n        cells: 40\n        synapses: {anatomy}\n        release_probability: 0.6\n        {receptor}\n        activity: poisson(interval: 50 ms)\n    }}\n"
        ));
    }
    let script = format!(
        "neuron L5PT = isf_param(\"{}\")\n\nnetwork mapped {{\n{pops}}}\n\nexperiment short {{\n    neuron: L5PT\n    network: mapped\n    duration: 30 ms\n    dt: 0.025 ms\n    trials: 1\n    seed: 5\n    record {{\n        soma.v\n        synapse_activations\n    }}\n}}\n",
        param.display()
    );
    let isf = dir.join("mapped.isf");
    std::fs::write(&isf, script).unwrap();
    let o = std::process::Command::new(env!("CARGO_BIN_EXE_isf"))
        .args(["run", "--quiet", "--out"])
        .arg(dir.join("store"))
        .arg(&isf)
        .output()
        .unwrap();
    assert!(
        o.status.success(),
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    let c = isf::validate::check_path(&isf);
    assert!(!c.has_errors(), "{:?}", c.diagnostics);
    let exp = &c.model.experiments[0];
    let runner =
        isf::run::cellsim::CellRunner::new(&c.model, exp).unwrap_or_else(|d| panic!("{d:?}"));
    let item = &isf::run::work_items(exp)[0];
    let res = runner
        .run(item, &isf::run::point_values(&exp.sweep, 0))
        .unwrap();
    let act = &res
        .tables
        .iter()
        .find(|t| t.0 == "synapse_activations")
        .unwrap()
        .1;
    assert!(act.rows().unwrap() > 0, "mapped synapses are active");
}

fn err_of(o: &std::process::Output) -> String {
    assert_eq!(
        o.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&o.stdout)
    );
    String::from_utf8_lossy(&o.stderr).into_owned()
}

#[test]
fn bad_inputs_give_coded_located_errors() {
    let Some(hoc) = hoc_path() else { return };
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    write_inputs(dir);
    let out = dir.join("o");
    let args = ["--samples", "1", "--out", out.to_str().unwrap()];
    let exc = dir.join("exc.am");
    let good = std::fs::read_to_string(&exc).unwrap();
    // Malformed header: the bounding box has five numbers.
    std::fs::write(&exc, good.replace("BoundingBox -435 ", "BoundingBox ")).unwrap();
    let e = err_of(&isf_map(dir, &hoc, &args));
    assert!(e.contains("error[E0820]") && e.contains("exc.am:8"), "{e}");
    // Malformed lattice line.
    std::fs::write(
        &exc,
        good.replace("define Lattice 16 14 27", "define Lattice 16 14"),
    )
    .unwrap();
    let e = err_of(&isf_map(dir, &hoc, &args));
    assert!(e.contains("error[E0820]") && e.contains("exc.am:3"), "{e}");
    std::fs::write(&exc, &good).unwrap();
    // A bouton field on a shifted grid (20 µm = 0.4 voxel).
    let f = dir.join("boutons/C2/L5tt/axon2.am");
    let shifted = {
        let mut g = field(constant);
        g.origin[0] += 20.0;
        write_am(&g)
    };
    std::fs::write(&f, &shifted).unwrap();
    let e = err_of(&isf_map(dir, &hoc, &args));
    assert!(
        e.contains("error[E0824]") && e.contains("axon2.am:8") && e.contains("shifted"),
        "{e}"
    );
    // Another spacing.
    let coarse = ScalarField::new(
        [8, 7, 14],
        [-460.0, 60.0, -560.0],
        [100.0; 3],
        vec![1.0; 8 * 7 * 14],
    );
    std::fs::write(&f, write_am(&coarse)).unwrap();
    let e = err_of(&isf_map(dir, &hoc, &args));
    assert!(e.contains("error[E0824]") && e.contains("spacing"), "{e}");
    std::fs::write(&f, write_am(&field(constant))).unwrap();
    // A cell outside every field: the same cell moved 10 mm away.
    let text = std::fs::read_to_string(&hoc).unwrap();
    let moved = dir.join("far.hoc");
    let far: String = text
        .lines()
        .map(|l| match l.find("pt3dadd(") {
            Some(i) => {
                let inner = &l[i + 8..l.rfind(')').unwrap()];
                let v: Vec<f64> = inner
                    .split(',')
                    .map(|t| t.trim().parse().unwrap())
                    .collect();
                format!(
                    "{}pt3dadd({}, {}, {}, {})}}\n",
                    &l[..i],
                    v[0] + 10_000.0,
                    v[1],
                    v[2],
                    v[3]
                )
            }
            None => format!("{l}\n"),
        })
        .collect();
    std::fs::write(&moved, far).unwrap();
    let e = err_of(&isf_map(dir, &moved, &args));
    assert!(
        e.contains("error[E0825]")
            && e.contains("far.hoc")
            && e.contains("outside the excitatory PST field"),
        "{e}"
    );
    // Inside the PST fields but outside every bouton field.
    for (a, t, _, _) in POPS {
        for n in ["axon1.am", "axon2.am"] {
            let mut g = field(|_| 0.0);
            g.data[0] = 1.0; // one voxel in the far corner, away from the cell
            std::fs::write(dir.join("boutons").join(a).join(t).join(n), write_am(&g)).unwrap();
        }
    }
    let e = err_of(&isf_map(dir, &hoc, &args));
    assert!(
        e.contains("error[E0825]") && e.contains("no bouton-density field overlaps"),
        "{e}"
    );
    // Sheets and options.
    std::fs::write(dir.join("nrCells.csv"), "CELL TYPE\tC2\nL5tt\tmany\n").unwrap();
    let e = err_of(&isf_map(dir, &hoc, &args));
    assert!(
        e.contains("error[E0821]") && e.contains("nrCells.csv:2:6"),
        "{e}"
    );
    std::fs::write(dir.join("nrCells.csv"), "CELL TYPE\tC2\tD2\nL5tt\t4\t0\n").unwrap();
    let e = err_of(&isf_map_as(dir, &hoc, "L9", &args));
    assert!(e.contains("error[E0826]"), "{e}");
    let e = err_of(&isf_map(
        dir,
        &hoc,
        &["--samples", "0", "--out", out.to_str().unwrap()],
    ));
    assert!(e.contains("error[E0827]"), "{e}");
    std::fs::create_dir_all(dir.join("boutons/X9/L5tt")).unwrap();
    let e = err_of(&isf_map(dir, &hoc, &args));
    assert!(e.contains("error[E0823]") && e.contains("X9"), "{e}");
}

const TOY_HOC: &str = "{create soma}\n{access soma}\n{pt3dclear()}\n{pt3dadd(10, 10, 10, 8)}\n{pt3dadd(10, 10, 30, 8)}\n\n{create dend_1}\n{connect dend_1(0), soma(1)}\n{access dend_1}\n{pt3dclear()}\n{pt3dadd(10, 10, 30, 2)}\n{pt3dadd(60, 40, 120, 1)}\n{pt3dadd(90, 90, 150, 1)}\n";

/// A 4×4×4 field of 50 µm voxels from (-20, -20, -20) that holds the toy cell.
fn toy_field(v: f64) -> ScalarField {
    ScalarField::new(
        [4, 4, 4],
        [-20.0; 3],
        [50.0; 3],
        (0..64).map(|n| v * (1 + n % 3) as f64).collect(),
    )
}

fn toy_inputs(exc: ScalarField, bouton: ScalarField) -> MapInputs {
    let mut connections = Connections::default();
    connections.insert(Class::Exc, "L5tt", EXC);
    connections.insert(Class::Inh, "L5tt", INH);
    MapInputs {
        morphology: isf::morph::hoc::read_hoc_str(TOY_HOC, "toy.hoc").unwrap(),
        cell_name: "toy".into(),
        post_type: "L5tt".into(),
        nr_cells: NrCells {
            file: "n.csv".into(),
            areas: vec!["C2".into()],
            rows: vec![("L5tt".into(), vec![5], 2)],
        },
        connections,
        exc_pst: exc,
        inh_pst: toy_field(1.0),
        boutons: vec![BoutonFiles {
            area: "C2".into(),
            cell_type: "L5tt".into(),
            fields: vec![bouton],
        }],
    }
}

#[test]
fn toy_cell_maps_and_limits_hold() {
    let m = map(
        &toy_inputs(toy_field(1.0), toy_field(0.5)),
        MapOptions {
            samples: 20,
            seed: 1,
            amira_quirk: true,
        },
    )
    .unwrap();
    assert!(m.realizations.iter().any(|r| !r[0].section.is_empty()));
    // Densities so large that the expected synapses pass the limit: E0418 before drawing.
    let e = map(
        &toy_inputs(toy_field(1.0), toy_field(1e12)),
        MapOptions::default(),
    )
    .unwrap_err();
    assert_eq!(e.code.as_str(), "E0418", "{e}");
    let mut big = toy_inputs(toy_field(1.0), toy_field(0.5));
    big.nr_cells.rows[0].1[0] = 20_000_000;
    let e = map(&big, MapOptions::default()).unwrap_err();
    assert_eq!(e.code.as_str(), "E0418", "{e}");
    assert!(e.message.contains("presynaptic cells"), "{e}");
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig { cases: 300, failure_persistence: None, ..Default::default() })]

    /// Mutated `.am` text (digits, signs, tokens, lines) never panics: it reads and maps, or
    /// gives a coded error.
    #[test]
    fn mutated_fields_never_panic(
        edits in proptest::collection::vec((0usize..4000, proptest::sample::select(vec![
            "0", "-", "1e300", "nan", "\n", " ", ",", "@1\n", "9", ".", "define Lattice 1 1 1\n", "BoundingBox 0 0 0 0 0 0,\n", "e-7",
        ])), 1..4),
        which in 0usize..2,
    ) {
        let mut text = write_am(&toy_field(1.0));
        for (pos, ins) in &edits {
            let mut p = pos % (text.len() + 1);
            while !text.is_char_boundary(p) { p -= 1; }
            text.insert_str(p, ins);
        }
        match isf::mapper::amira::parse_am(&text, "fuzz.am") {
            Err(e) => proptest::prop_assert_eq!(e.code.as_str(), "E0820"),
            Ok(mut f) => {
                f.crop_nonzero();
                let (exc, b) = if which == 0 { (f, toy_field(0.5)) } else { (toy_field(1.0), f) };
                let r = isf::mapper::check_grid(&exc, &b)
                    .and_then(|_| map(&toy_inputs(exc, b), MapOptions { samples: 3, seed: 2, amira_quirk: true }));
                if let Err(e) = r {
                    proptest::prop_assert!(e.code.as_str().starts_with("E08") || e.code.as_str() == "E0418", "{}", e);
                }
            }
        }
    }

    /// Arbitrary text in the sheets never panics.
    #[test]
    fn arbitrary_sheets_never_panic(text in "(CELL TYPE|L5tt|EXCITATORY|\t|\n|[0-9.e-]{1,4}|x){0,40}") {
        if let Err(e) = isf::mapper::tables::parse_nr_cells(&text, "n.csv") {
            proptest::prop_assert_eq!(e.code.as_str(), "E0821");
        }
        if let Err(e) = isf::mapper::tables::parse_connections(&text, "c.csv") {
            proptest::prop_assert_eq!(e.code.as_str(), "E0822");
        }
    }
}
