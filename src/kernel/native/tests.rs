use super::generator::{compile_config, stdlib_mechanisms, stdlib_programs};
use super::*;
use crate::kernel::program::CHUNK;

/// xorshift64*: reproducible inputs without a dependency.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> f64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        (self.0.wrapping_mul(0x2545_f491_4f6c_dd1d) >> 11) as f64 / (1u64 << 53) as f64
    }
    fn range(&mut self, lo: f64, hi: f64) -> f64 {
        lo + (hi - lo) * self.next()
    }
}

fn same(a: &[f64], b: &[f64]) -> Option<usize> {
    a.iter()
        .zip(b)
        .position(|(x, y)| x.to_bits() != y.to_bits() && !(x.is_nan() && y.is_nan()))
}

/// Run `prog`'s bytecode and its native kernel (on instruction set `isa`) over the same random
/// columns and gathered inputs, chunk after chunk including short tails, and require identical
/// bits in every column and reserved temporary.
/// How many columns `prog`'s steps touch (one past the highest column index).
fn n_cols(prog: &Program) -> usize {
    lower(prog)
        .0
        .iter()
        .flat_map(|s| match s {
            Step::Apply { dst, args, .. } => args.iter().chain([dst]).copied().collect(),
            Step::Store { dst, src } => vec![*dst, *src],
            Step::PowC { dst, a, .. } => vec![*dst, *a],
        })
        .filter_map(|o| match o {
            Opd::Col(k) => Some(k as usize + 1),
            _ => None,
        })
        .max()
        .unwrap_or(0)
}

fn check_bits(name: &str, prog: &Program, isa: Isa, seed: u64) {
    let nat = Native::select(prog).unwrap_or_else(|| panic!("{name}: no native kernel"));
    let nat = Native { isa, ..nat };
    let n_cols = n_cols(prog);
    let n = 2 * CHUNK + 61;
    let mut rng = Rng(seed | 1);
    let mut cols: Vec<f64> = (0..n_cols * n).map(|_| rng.range(0.0, 1.5)).collect();
    let mut tmp = vec![0.0; prog.n_tmp().max(1) * CHUNK];
    // Chunks as the mechanisms run them (full, then a tail), then odd lengths and offsets.
    let runs = [
        (0, CHUNK),
        (CHUNK, CHUNK),
        (2 * CHUNK, 61),
        (5, 1),
        (17, 3),
        (40, 9),
        (301, 200),
    ];
    for (r, &(start, len)) in runs.iter().enumerate() {
        // Gathered inputs: v, t, then ion values.
        for k in 0..prog.n_reserved() as usize {
            for e in 0..CHUNK {
                tmp[k * CHUNK + e] = match k {
                    0 => rng.range(-100.0, 60.0),
                    1 => rng.range(0.0, 500.0),
                    _ => rng.range(1e-4, 2.0),
                };
            }
        }
        let (mut c1, mut t1) = (cols.clone(), tmp.clone());
        let (mut c2, mut t2) = (cols.clone(), tmp.clone());
        prog.run_chunk_bytecode(&mut c1, n, &mut t1, start, len);
        nat.run(&mut c2, n, &mut t2, start, len);
        if let Some(i) = same(&c1, &c2) {
            panic!(
                "{name} ({isa:?}, run {r}): column {} instance {} differs: {} vs {}",
                i / n,
                i % n,
                c1[i],
                c2[i]
            );
        }
        let res = prog.n_reserved() as usize * CHUNK;
        if let Some(i) = same(&t1[..res], &t2[..res]) {
            panic!(
                "{name} ({isa:?}, run {r}): temporary {} element {} differs: {} vs {}",
                i / CHUNK,
                i % CHUNK,
                t1[i],
                t2[i]
            );
        }
        assert!(
            c1.iter().chain(&t1[..res]).any(|x| x.is_finite()),
            "{name}: inputs too wild to test anything"
        );
        cols = c1;
    }
}

fn isas() -> Vec<Isa> {
    let mut v = vec![Isa::Generic];
    #[cfg(target_arch = "x86_64")]
    {
        if std::is_x86_feature_detected!("avx2") && std::is_x86_feature_detected!("fma") {
            v.push(Isa::Avx2);
        }
        if std::is_x86_feature_detected!("avx512f") && std::is_x86_feature_detected!("fma") {
            v.push(Isa::Avx512);
        }
    }
    v
}

#[test]
fn every_stdlib_program_has_a_bit_identical_native_kernel() {
    let progs = stdlib_programs().expect("stdlib");
    assert!(progs.len() > 30, "{} programs", progs.len());
    for (seed, (name, prog)) in progs.iter().enumerate() {
        for isa in isas() {
            check_bits(name, prog, isa, 0x9e37_79b9 + seed as u64);
        }
    }
}

#[test]
fn kernels_serve_every_step_and_temperature_but_not_a_changed_mechanism() {
    let mechs = stdlib_mechanisms().expect("stdlib");
    let nat = mechs.iter().find(|m| m.name == "NaTa_t").expect("NaTa_t");
    // Another time step and temperature: the same shape, other constants.
    let params: Vec<Vec<f64>> = nat
        .parameters
        .iter()
        .map(|p| vec![p.default.unwrap_or(1.0) * 1.5; 3])
        .collect();
    let env = crate::kernel::mechanism::CompileEnv {
        dt_ms: 0.01,
        celsius_degc: 22.5,
    };
    let cm = CompiledMech::new(
        nat,
        vec![0, 1, 2],
        &params,
        &["na".to_string()],
        &[1.0; 3],
        env,
    )
    .expect("compile");
    assert!(cm.native_kernels().iter().all(Option::is_some));
    for ((what, prog), isa) in cm.hot_programs().into_iter().zip(isas()) {
        check_bits(what, prog, isa, 7);
    }
    use crate::model::ex::Ex;
    // A modified mechanism (one more term in the current) keeps the bytecode for the currents.
    let mut changed = nat.clone();
    let c = &mut changed.currents[0].expr;
    *c = Ex::Bin(
        crate::model::ex::BinOp::Add,
        Box::new(c.clone()),
        Box::new(Ex::Call("exp".into(), vec![Ex::var("v", 1.0)])),
    );
    let cm = compile_config(&changed, &[]).expect("compile");
    assert_eq!(cm.native_kernels()[0], None, "changed currents run native");
    assert!(
        cm.native_kernels()[1].is_some(),
        "unchanged states lost native"
    );
}

use crate::kernel::CompiledMech;

/// Every in-place variant (`k{n}d`, see `kernel/direct.rs`) against the gathered path on the
/// same instances: inputs gathered from random node-order arrays into the reserved
/// temporaries, the program's bytecode, then the scatter's operations (`rhs −= i·fac`,
/// `d += ∂i/∂v·fac`, the ion's `tot += i·fac`, `fac` for point processes only) — every column
/// and every node array bit for bit, on every instruction set, at node offsets other than the
/// instance offsets. Kernels split into loops (the Hay gates' states) carry values through the
/// scratch temporaries of the `tmp` they are given, which starts out as NaN garbage here (a
/// value read before it is written would show).
#[test]
fn every_in_place_variant_is_bit_identical_to_gather_program_scatter() {
    use crate::kernel::direct::{Io, MAX_IN, MAX_TOT};
    let progs = stdlib_programs().expect("stdlib");
    let mut with_direct = Vec::new();
    let n = 2 * CHUNK + 61;
    let n_nodes = 1100;
    // (first instance, length, first node): full chunks, a tail, single instances, short runs.
    let runs = [
        (0, CHUNK, 7),
        (CHUNK, CHUNK, 300),
        (2 * CHUNK, 61, 1000),
        (5, 1, 0),
        (17, 3, 1097),
        (40, 9, 511),
        (301, 200, 560),
    ];
    for (seed, (name, prog)) in progs.iter().enumerate() {
        let nat = Native::select(prog).unwrap_or_else(|| panic!("{name}: no native kernel"));
        let Some(direct) = nat.entry.direct else {
            continue;
        };
        with_direct.push(name.clone());
        let io_shape = prog.io().expect("an in-place variant implies an IoShape");
        let n_cols = n_cols(prog);
        for isa in isas() {
            let mut rng = Rng(0x5eed_0000 + seed as u64);
            let mut cols: Vec<f64> = (0..n_cols * n).map(|_| rng.range(0.0, 1.5)).collect();
            for (r, &(start, len, node)) in runs.iter().enumerate() {
                let t_ms = rng.range(0.0, 500.0);
                let ins: Vec<Vec<f64>> = (0..MAX_IN)
                    .map(|k| {
                        (0..n_nodes)
                            .map(|_| match k {
                                0 => rng.range(-100.0, 60.0),
                                _ => rng.range(1e-4, 2.0),
                            })
                            .collect()
                    })
                    .collect();
                let fac: Vec<f64> = (0..n).map(|_| rng.range(0.01, 3.0)).collect();
                let rhs: Vec<f64> = (0..n_nodes).map(|_| rng.range(-1.0, 1.0)).collect();
                let d: Vec<f64> = (0..n_nodes).map(|_| rng.range(0.0, 2.0)).collect();
                let tots: Vec<Vec<f64>> = (0..MAX_TOT)
                    .map(|_| (0..n_nodes).map(|_| rng.range(-1.0, 1.0)).collect())
                    .collect();

                // Gather → bytecode → scatter.
                let (mut c1, mut rhs1, mut d1, mut tots1) =
                    (cols.clone(), rhs.clone(), d.clone(), tots.clone());
                let mut t1 = vec![f64::NAN; prog.n_tmp().max(1) * CHUNK];
                for k in 0..io_shape.n_inputs as usize {
                    for e in 0..len {
                        t1[k * CHUNK + e] = if k == 1 { t_ms } else { ins[k][node + e] };
                    }
                }
                prog.run_chunk_bytecode(&mut c1, n, &mut t1, start, len);
                for &(i, g, slot) in &io_shape.currents {
                    for e in 0..len {
                        let (x, gx) = (t1[i as usize * CHUNK + e], t1[g as usize * CHUNK + e]);
                        let (x, gx) = if io_shape.point {
                            (x * fac[start + e], gx * fac[start + e])
                        } else {
                            (x, gx)
                        };
                        rhs1[node + e] -= x;
                        d1[node + e] += gx;
                        if let Some(j) = slot {
                            tots1[j as usize][node + e] += x;
                        }
                    }
                }

                // In place.
                let (mut c2, mut rhs2, mut d2, mut tots2) =
                    (cols.clone(), rhs.clone(), d.clone(), tots.clone());
                let mut t2 = vec![f64::NAN; prog.n_tmp().max(1) * CHUNK];
                let mut tot_it = tots2.iter_mut();
                let mut io = Io {
                    node,
                    t_ms,
                    ins: std::array::from_fn(|k| ins[k].as_slice()),
                    rhs: &mut rhs2,
                    d: &mut d2,
                    fac: &fac,
                    tot: std::array::from_fn(|_| tot_it.next().expect("MAX_TOT").as_mut_slice()),
                };
                direct(isa, &nat.consts, &mut c2, n, &mut t2, start, len, &mut io);

                let at = |what: &str, i: usize, a: f64, b: f64| {
                    panic!(
                        "{name} ({isa:?}, run {r}): {what} {i} differs: {a} (gathered) vs {b} (in place)"
                    )
                };
                if let Some(i) = same(&c1, &c2) {
                    at("column element", i, c1[i], c2[i]);
                }
                if let Some(i) = same(&rhs1, &rhs2) {
                    at("rhs at node", i, rhs1[i], rhs2[i]);
                }
                if let Some(i) = same(&d1, &d2) {
                    at("d at node", i, d1[i], d2[i]);
                }
                for (j, (a, b)) in tots1.iter().zip(&tots2).enumerate() {
                    if let Some(i) = same(a, b) {
                        at(&format!("ion total {j} at node"), i, a[i], b[i]);
                    }
                }
                assert!(
                    c1.iter().chain(&rhs1).any(|x| x.is_finite()),
                    "{name}: inputs too wild to test anything"
                );
                cols = c1;
            }
        }
    }
    // The kernels split into loops by `exp` depth (see `generator::Plan`) have their in-place
    // variants too: the gate states of the Hay channels and of NaTg, and currents throughout.
    for split in [
        "NaTa_t states, defaults",
        "Ca_HVA states, defaults",
        "Ca_LVAst states, defaults",
        "Ih states, defaults",
        "SKv3_1 states, defaults",
        "Im states, defaults",
        "K_Pst states, defaults",
        "K_Tst states, defaults",
        "NaTg states, all varying",
        "pas currents, defaults",
        "NaTa_t currents, varying gbar",
    ] {
        assert!(
            with_direct.iter().any(|n| n == split),
            "{split} has no in-place variant"
        );
    }
}
