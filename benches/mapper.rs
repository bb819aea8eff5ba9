//! Input-mapper timing (issue 19): ISF's L5PT morphology 86_C2_center and every population of
//! the shared network (`network.param`: 278 cell type × column populations), each with
//! synthetic bouton fields (5 Gaussian axon clouds, σ 150 µm, cut at 3σ, on a 50 µm grid),
//! total cells 4 × the network's connected cells, densities scaled so that a realization has
//! ~25,000 synapses (the example embedding has 24,780); nrOfSamples = 50. Prints the
//! preparation time and the time per realization.

use isf::mapper::amira::ScalarField;
use isf::mapper::tables::{Class, Connections, NrCells, PstConstants, class_of};
use isf::mapper::{BoutonFiles, MapInputs, MapOptions, map, prepare};
use isf::rng::Rng;
use std::path::PathBuf;
use std::time::Instant;

const DIMS: [usize; 3] = [16, 14, 27];
const ORIGIN: [f64; 3] = [-460.0, 60.0, -560.0];

fn field(f: impl Fn([f64; 3]) -> f64) -> ScalarField {
    let mut data = Vec::with_capacity(DIMS[0] * DIMS[1] * DIMS[2]);
    for k in 0..DIMS[2] {
        for j in 0..DIMS[1] {
            for i in 0..DIMS[0] {
                let c = [
                    ORIGIN[0] + (i as f64 + 0.5) * 50.0,
                    ORIGIN[1] + (j as f64 + 0.5) * 50.0,
                    ORIGIN[2] + (k as f64 + 0.5) * 50.0,
                ];
                data.push(f(c));
            }
        }
    }
    let mut s = ScalarField::new(DIMS, ORIGIN, [50.0; 3], data);
    s.crop_nonzero();
    s
}

fn inputs(morph: &isf::morph::Morphology, pops: &[(String, String, u64)], amp: f64) -> MapInputs {
    let mut areas: Vec<String> = pops.iter().map(|p| p.0.clone()).collect();
    areas.sort();
    areas.dedup();
    let mut types: Vec<String> = pops.iter().map(|p| p.1.clone()).collect();
    types.sort();
    types.dedup();
    let rows = types
        .iter()
        .map(|t| {
            let counts = areas
                .iter()
                .map(|a| {
                    pops.iter()
                        .find(|p| &p.0 == a && &p.1 == t)
                        .map_or(0, |p| p.2)
                })
                .collect();
            (t.clone(), counts, 0)
        })
        .collect();
    let c = PstConstants {
        soma_length: 0.5,
        apical_length: 0.3,
        basal_length: 0.4,
        soma_area: 0.01,
        apical_area: 0.02,
        basal_area: 0.015,
    };
    let mut connections = Connections::default();
    connections.insert(Class::Exc, "L5tt", c);
    connections.insert(Class::Inh, "L5tt", c);
    let mut rng = Rng::new(2024);
    let boutons = pops
        .iter()
        .map(|(a, t, _)| {
            let fields = (0..5)
                .map(|_| {
                    let centre = [
                        -400.0 + 680.0 * rng.uniform(),
                        120.0 + 560.0 * rng.uniform(),
                        -500.0 + 1200.0 * rng.uniform(),
                    ];
                    field(|p| {
                        let r2: f64 = (0..3).map(|k| (p[k] - centre[k]).powi(2)).sum();
                        if r2 > 9.0 * 150.0 * 150.0 {
                            0.0
                        } else {
                            amp * (-r2 / (2.0 * 150.0 * 150.0)).exp()
                        }
                    })
                })
                .collect();
            BoutonFiles {
                area: a.clone(),
                cell_type: t.clone(),
                fields,
            }
        })
        .collect();
    MapInputs {
        morphology: morph.clone(),
        cell_name: "86_C2_center".into(),
        post_type: "L5tt".into(),
        nr_cells: NrCells {
            file: "<bench>".into(),
            areas,
            rows,
        },
        connections,
        exc_pst: field(|_| 1.0),
        inh_pst: field(|_| 1.0),
        boutons,
    }
}

fn main() {
    let dir = std::env::var_os("ISF_CONFORMANCE")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/conformance"));
    let inputs_dir = dir.join("inputs");
    if !inputs_dir.join("network.param").exists() {
        eprintln!("SKIPPED: conformance data not found at {}", dir.display());
        return;
    }
    let morph = isf::morph::Morphology::read(&inputs_dir.join("86_C2_center.hoc")).unwrap();
    let net =
        isf::interop::network_param::isf_network_param(&inputs_dir.join("network.param")).unwrap();
    let pops: Vec<(String, String, u64)> = net
        .populations
        .iter()
        .filter(|p| class_of(&p.cell_type).is_some())
        .map(|p| {
            (
                p.column.clone(),
                p.cell_type.clone(),
                4 * u64::from(p.cells),
            )
        })
        .collect();
    let cells: u64 = pops.iter().map(|p| p.2).sum();
    // Calibrate the amplitude: densities are linear in the bouton values.
    let probe = prepare(&inputs(&morph, &pops, 1.0), true).unwrap();
    let expected = probe.expected_synapses();
    let amp = 25_000.0 / expected;
    let inp = inputs(&morph, &pops, amp);
    let t0 = Instant::now();
    let prep = prepare(&inp, true).unwrap();
    let t_prep = t0.elapsed().as_secs_f64();
    let samples = 50;
    let t1 = Instant::now();
    let m = map(
        &inp,
        MapOptions {
            samples,
            seed: 1,
            amira_quirk: true,
        },
    )
    .unwrap();
    let t_map = t1.elapsed().as_secs_f64();
    let syn: Vec<usize> = m
        .realizations
        .iter()
        .map(|r| r.iter().map(|p| p.section.len()).sum())
        .collect();
    let mean = syn.iter().sum::<usize>() as f64 / samples as f64;
    println!(
        "populations {}, presynaptic cells {cells}, bouton fields {}, cell grid {:?}",
        prep.populations.len(),
        5 * pops.len(),
        prep.grid.dims
    );
    println!("prepare (geometry, targets, densities): {:.3} s", t_prep);
    println!(
        "map: {samples} realizations in {t_map:.3} s = {:.1} ms per realization ({} threads; includes one prepare), mean {mean:.0} synapses",
        1e3 * (t_map - t_prep) / samples as f64,
        rayon::current_num_threads()
    );
    let t2 = Instant::now();
    let text =
        m.syn_text("86_C2_center", m.chosen) + &m.con_text("x.syn", m.chosen) + &m.summary_text();
    println!(
        "outputs of the representative realization: {:.1} ms ({} bytes)",
        t2.elapsed().as_secs_f64() * 1e3,
        text.len()
    );
}
