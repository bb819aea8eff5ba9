//! Fused native kernels for the standard library's mechanisms: Rust generated from their
//! compiled [`Program`]s (see [`generator`]) and committed as `generated.rs`, selected by the
//! program's fingerprint when a [`CompiledMech`](super::CompiledMech) is built.
//!
//! The bytecode runs a program instruction by instruction over a chunk, writing every
//! intermediate to an L1 temporary; a native kernel runs the same instructions element by
//! element in one loop, intermediates in locals (registers), with the loop compiled three times
//! (baseline, AVX2, AVX-512F) like the interpreter. A gate whose update's `exp` depends on
//! `exp`s of its rates gets two loops instead (rates, then the rest), so that neither is one
//! long dependency chain per element (see the generator's `Plan`); a value crossing from one
//! loop to the next goes through one of the program's own scratch temporaries, exactly. It replaces [`Program::run_chunk`] on the
//! very same chunk buffers (gathered inputs and outputs in the reserved temporaries, states
//! and parameters in the columns), so the gather before and the scatter after it are unchanged.
//! Where the program declares what its reserved temporaries mean (`IoShape`), every kernel
//! also comes in an in-place variant (`k{n}d`, see `kernel/direct.rs`): for a chunk on one run
//! of consecutive nodes it reads `v` and the ion values from the cell's arrays and adds its
//! currents to `rhs`, `d` and the ion totals in its last loop, with the scatter's operations in
//! the scatter's order (bit-identical; no gather, no scatter pass). A kernel split into loops
//! has the same loops in place, carrying values through the same scratch temporaries of the
//! chunk buffer it is given.
//!
//! Bit-identical to the bytecode: every element goes through the same operations in the same
//! order, with the same functions (`vexp::exp`/`ln`, libm for the rest); element-wise programs
//! do not care whether instructions or elements form the outer loop; the only fused
//! multiply-adds are those `vexp` writes out (Rust does not contract the rest), and a fused
//! multiply-add rounds once whatever the width, so the vector body and the scalar remainder
//! give the same bits (tested for every generated kernel). The SIMD variants enable `fma` with
//! AVX2 or AVX-512 and run only where the CPU has it.
//!
//! The fingerprint is the SHA-256 of the program's instructions with every constant erased
//! (operation names, operand slots, the number of reserved temporaries); the constants
//! (parameters folded in, `−dt` of the gate updates, reciprocals) are passed at run time in
//! the order the instructions use them. So one kernel serves every time step, temperature and
//! uniform parameter value, while any change of structure — a modified mechanism, a parameter
//! that becomes a column, a user mechanism — falls back to the bytecode. `ISF_KERNEL=bytecode`
//! in the environment disables the native kernels (for comparisons).

pub mod generator;
#[rustfmt::skip]
mod generated;

use super::dag::Op;
use super::direct::{Io, IoShape};
use super::program::{ChunkKernel, Ins, Program, Slot};
use sha2::{Digest, Sha256};
use std::sync::Arc;

/// Instruction sets a kernel is compiled for (chosen once per process).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Isa {
    Generic,
    Avx2,
    Avx512,
}

impl Isa {
    fn detect() -> Isa {
        #[cfg(target_arch = "x86_64")]
        {
            if std::is_x86_feature_detected!("avx512f") && std::is_x86_feature_detected!("fma") {
                return Isa::Avx512;
            }
            if std::is_x86_feature_detected!("avx2") && std::is_x86_feature_detected!("fma") {
                return Isa::Avx2;
            }
        }
        Isa::Generic
    }
}

/// A generated kernel: `run(isa, constants, cols, n_inst, tmp, start, len)` with the
/// arguments of [`Program::run_chunk`]. The kernel checks its `isa` was detected only through
/// [`Native::select`], which is the one place that creates an [`Isa`] for it.
pub(crate) type RunFn = fn(Isa, &[f64], &mut [f64], usize, &mut [f64], usize, usize);

/// The in-place variant of a kernel (see `kernel/direct.rs`): `run(isa, constants, cols,
/// n_inst, tmp, start, len, io)`, inputs read from and currents added to the cell's node-order
/// arrays in `io`; `tmp` holds the program's temporaries as for [`RunFn`], of which a kernel
/// split into loops uses the scratch ones (`n_reserved..`) to carry values between its loops.
pub(crate) type DirectFn =
    fn(Isa, &[f64], &mut [f64], usize, &mut [f64], usize, usize, &mut Io<'_>);

/// One entry of the generated table.
#[derive(Debug)]
pub(crate) struct Entry {
    /// First 128 bits of the program shape's SHA-256 ([`fingerprint`]).
    pub fingerprint: u128,
    /// Mechanism, program and configuration it was generated from.
    pub name: &'static str,
    /// Number of constants the kernel takes.
    pub n_consts: usize,
    pub run: RunFn,
    /// The in-place variant, generated where the program declares its `IoShape`.
    pub direct: Option<DirectFn>,
}

/// A native kernel attached to a program: the generated function and the program's constants.
#[derive(Clone, Debug)]
pub(crate) struct Native {
    entry: &'static Entry,
    isa: Isa,
    consts: Box<[f64]>,
}

impl Native {
    /// The kernel generated for `prog`'s shape, with `prog`'s constants.
    pub(crate) fn select(prog: &Program) -> Option<Native> {
        static DISABLED: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
        if *DISABLED.get_or_init(|| std::env::var("ISF_KERNEL").is_ok_and(|v| v == "bytecode")) {
            return None;
        }
        let (steps, consts) = lower(prog);
        let fp = fingerprint(prog.n_reserved(), prog.io(), &steps);
        let entry = generated::KERNELS.iter().find(|e| e.fingerprint == fp)?;
        // A fingerprint match implies the same constant count; checked anyway (the kernel
        // would panic on a wrong count).
        (entry.n_consts == consts.len()).then(|| Native {
            entry,
            isa: Isa::detect(),
            consts: consts.into_boxed_slice(),
        })
    }

    /// Run on a chunk (the arguments of [`Program::run_chunk`], already checked there).
    pub(crate) fn run(
        &self,
        cols: &mut [f64],
        n_inst: usize,
        tmp: &mut [f64],
        start: usize,
        len: usize,
    ) {
        (self.entry.run)(self.isa, &self.consts, cols, n_inst, tmp, start, len)
    }
}

impl ChunkKernel for Native {
    fn run_chunk(
        &self,
        cols: &mut [f64],
        n_inst: usize,
        tmp: &mut [f64],
        start: usize,
        len: usize,
    ) {
        self.run(cols, n_inst, tmp, start, len)
    }

    fn name(&self) -> &'static str {
        self.entry.name
    }

    fn has_direct(&self) -> bool {
        self.entry.direct.is_some()
    }

    fn run_direct(
        &self,
        cols: &mut [f64],
        n_inst: usize,
        tmp: &mut [f64],
        start: usize,
        len: usize,
        io: &mut Io<'_>,
    ) {
        let run = self.entry.direct.expect("checked by has_direct");
        run(self.isa, &self.consts, cols, n_inst, tmp, start, len, io)
    }
}

/// Select the generated native kernel whose fingerprint matches `prog`, if any (and unless
/// `ISF_KERNEL=bytecode`), and attach it; returns whether one was attached. A program that
/// differs in any instruction or operand (a modified or user mechanism) keeps the bytecode.
pub fn attach(prog: &mut Program) -> bool {
    let kernel = Native::select(prog).map(|n| Arc::new(n) as Arc<dyn ChunkKernel>);
    prog.set_native(kernel)
}

/// An operand with constants replaced by their index in the constant list.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) enum Opd {
    Col(u32),
    Tmp(u32),
    K(u32),
}

/// An instruction with constants erased (see [`lower`]).
#[derive(Clone, Debug)]
pub(crate) enum Step {
    /// `dst ← op(args)`; `op` has the `−dt` of `Cnexp`/`CnexpRate` zeroed, its value is
    /// constant `mdt`.
    Apply {
        op: Op,
        dst: Opd,
        args: Vec<Opd>,
        mdt: Option<u32>,
    },
    Store {
        dst: Opd,
        src: Opd,
    },
    /// `dst ← exp(b·ln a)` with constant `b`.
    PowC {
        dst: Opd,
        a: Opd,
        b: u32,
    },
}

/// The program's instructions with every constant moved into a list (in order of use).
pub(crate) fn lower(prog: &Program) -> (Vec<Step>, Vec<f64>) {
    let mut consts = Vec::new();
    let opd = |s: Slot, consts: &mut Vec<f64>| match s {
        Slot::Col(k) => Opd::Col(k),
        Slot::Tmp(k) => Opd::Tmp(k),
        Slot::Const(c) => {
            consts.push(c);
            Opd::K(consts.len() as u32 - 1)
        }
    };
    let mut steps = Vec::with_capacity(prog.code().len());
    for ins in prog.code() {
        steps.push(match *ins {
            Ins::Apply { op, dst, args } => {
                let (op, mdt) = match op {
                    Op::Cnexp(m) => (Op::Cnexp(0), Some(m)),
                    Op::CnexpRate(m) => (Op::CnexpRate(0), Some(m)),
                    _ => (op, None),
                };
                let mdt = mdt.map(|m| opd(Slot::Const(f64::from_bits(m)), &mut consts));
                let mdt = mdt.map(|o| match o {
                    Opd::K(j) => j,
                    _ => unreachable!("a constant"),
                });
                let args = args[..op.arity()]
                    .iter()
                    .map(|&a| opd(a, &mut consts))
                    .collect();
                Step::Apply {
                    op,
                    dst: opd(dst, &mut consts),
                    args,
                    mdt,
                }
            }
            Ins::Store { dst, src } => Step::Store {
                dst: opd(dst, &mut consts),
                src: opd(src, &mut consts),
            },
            Ins::PowC { dst, a, b } => {
                let a = opd(a, &mut consts);
                consts.push(b);
                Step::PowC {
                    dst: Opd::Tmp(dst),
                    a,
                    b: consts.len() as u32 - 1,
                }
            }
        });
    }
    (steps, consts)
}

/// 128 bits of the SHA-256 of the program's shape: the reserved temporaries, what they mean
/// (the in-place variant is generated for it), and every instruction with its constants erased
/// (their positions in the constant list remain).
pub(crate) fn fingerprint(n_reserved: u32, io: Option<&IoShape>, steps: &[Step]) -> u128 {
    let mut h = Sha256::new();
    h.update(format!("isf-native-1 reserved {n_reserved}\n").as_bytes());
    if let Some(io) = io {
        h.update(format!("io {io:?}\n").as_bytes());
    }
    for s in steps {
        h.update(format!("{s:?}\n").as_bytes());
    }
    let d = h.finalize();
    u128::from_be_bytes(d[..16].try_into().expect("32-byte digest"))
}

#[cfg(test)]
mod tests;
