//! Columnar bytecode: every instruction applies one operation to a chunk of instances.
//!
//! Operands are [`Slot`]s: a persistent column (parameters, states; one value per instance),
//! a temporary register (one chunk long, reused across chunks), or a constant. The program
//! runs chunk by chunk ([`CHUNK`] instances), so the live temporaries of a mechanism stay in
//! L1 cache while the dispatch cost is paid once per instruction and chunk. The inner loops
//! are straight-line element-wise loops over equal-length slices, which LLVM vectorises; the
//! whole executor is compiled three times (baseline, AVX2, AVX-512F) and the variant is picked
//! at run time (AVX-512 measured ≈ 5–10 % faster than AVX2 on the Zen 4 dev machine: half the
//! instructions for the same work). The only fused multiply-adds are the ones `vexp` writes out
//! (LLVM does not contract without fast-math flags), which round once in every variant (the
//! SIMD ones enable `fma` and run only where the CPU has it), so all give bit-identical results.
//!
//! Compilation ([`Program::compile`]) walks a [`Dag`] from its roots in id order (a valid
//! evaluation order), gives every computed node a temporary and frees it after its last use
//! (linear-scan reuse). A root is computed straight into its destination where that is safe
//! (the destination column is not read afterwards; a gate update `x ← x + …` runs in place);
//! other roots are copied into their destinations at the end, so a program may overwrite the
//! very state columns it reads.

use super::dag::{Dag, Id, Node, Op};
use super::direct::{Io, IoShape};
use super::vexp;
use std::sync::Arc;

/// Instances per chunk.
pub const CHUNK: usize = 256;

/// Where an operand lives.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Slot {
    /// Persistent column `k` (indexed by instance).
    Col(u32),
    /// Temporary register `k` (indexed by position within the chunk).
    Tmp(u32),
    /// A constant.
    Const(f64),
}

#[derive(Clone, Copy, Debug)]
pub(crate) enum Ins {
    /// `dst ← op(args)`. The destination is a temporary, or the output column itself when
    /// no later instruction reads that column; it may then be the first operand (an in-place
    /// update such as a gate's `x ← x + …`, see [`in_place`]) but never another one.
    Apply {
        op: Op,
        dst: Slot,
        args: [Slot; 3],
    },
    Store {
        dst: Slot,
        src: Slot,
    },
    /// `a^b` for a constant, non-integer `b`: `exp(b·ln a)` with the vectorised `exp` and
    /// `ln` (libm's `pow` is a scalar call; the results differ by a few ulp).
    PowC {
        dst: u32,
        a: Slot,
        b: f64,
    },
}

/// A compiled program (see the module docs).
#[derive(Clone, Debug, Default)]
pub struct Program {
    code: Vec<Ins>,
    n_tmp: u32,
    /// Temporaries `0..n_reserved` belong to the caller (gathered inputs, outputs); the others
    /// are scratch.
    n_reserved: u32,
    /// The fused native kernel of this exact program, where one was generated for it (see
    /// [`super::native`], which attaches it); it then runs instead of the bytecode, with
    /// bit-identical results.
    native: Option<Arc<dyn ChunkKernel>>,
    /// What the reserved temporaries mean, where the caller declared it (see
    /// `kernel/direct.rs`): a native kernel then also comes in an in-place variant.
    io: Option<IoShape>,
    /// Whether the attached kernel has an in-place variant (asked every step: kept here
    /// rather than asked of the kernel through its trait object).
    direct: bool,
}

/// A fused replacement for one program's bytecode, run on a chunk with the arguments of
/// [`Program::run_chunk`]. `kernel::native` implements and attaches it; the program only calls
/// it, so the interpreter does not depend on the generated kernels (no import circle).
pub(crate) trait ChunkKernel: std::fmt::Debug + Send + Sync {
    /// Run on a chunk (arguments already checked by [`Program::run_chunk`]).
    fn run_chunk(&self, cols: &mut [f64], n_inst: usize, tmp: &mut [f64], start: usize, len: usize);
    /// The kernel's name (mechanism, program, configuration it was generated from).
    fn name(&self) -> &'static str;
    /// Whether the kernel has an in-place variant ([`ChunkKernel::run_direct`]).
    fn has_direct(&self) -> bool;
    /// Run the in-place variant on instances `start..start + len` (see `kernel/direct.rs`;
    /// arguments checked by [`Program::run_direct`]; `tmp` as for [`ChunkKernel::run_chunk`],
    /// its scratch temporaries carry values between the loops of a split kernel).
    fn run_direct(
        &self,
        cols: &mut [f64],
        n_inst: usize,
        tmp: &mut [f64],
        start: usize,
        len: usize,
        io: &mut Io<'_>,
    );
}

impl Program {
    /// Compile `outputs` (root node → destination slot, a column or a reserved temporary).
    /// `input_slot[k]` is where DAG input `k` lives; temporaries `0..n_reserved` are reserved
    /// by the caller (gathered inputs and outputs) and never allocated here.
    pub fn compile(
        dag: &Dag,
        input_slot: &[Slot],
        outputs: &[(Id, Slot)],
        n_reserved: u32,
    ) -> Program {
        Program::compile_with(dag, input_slot, &[], outputs, n_reserved)
    }

    /// [`Program::compile`] with some nodes already computed: `fixed` maps a node to the
    /// column holding its values (e.g. a subexpression of parameters only, computed once).
    pub fn compile_with(
        dag: &Dag,
        input_slot: &[Slot],
        fixed: &[(Id, Slot)],
        outputs: &[(Id, Slot)],
        n_reserved: u32,
    ) -> Program {
        let nodes = dag.nodes();
        let n = nodes.len();
        let mut fixed_slot: Vec<Option<Slot>> = vec![None; n];
        for &(id, s) in fixed {
            fixed_slot[id as usize] = Some(s);
        }
        // Reachability and last use (instruction position = node id).
        let mut live = vec![false; n];
        let mut stack: Vec<Id> = outputs.iter().map(|o| o.0).collect();
        while let Some(id) = stack.pop() {
            if std::mem::replace(&mut live[id as usize], true) {
                continue;
            }
            if let Node::Apply(op, a) = nodes[id as usize]
                && fixed_slot[id as usize].is_none()
            {
                stack.extend_from_slice(&a[..op.arity()]);
            }
        }
        let mut last_use = vec![0usize; n];
        for id in 0..n {
            if !live[id] {
                continue;
            }
            if let Node::Apply(op, a) = nodes[id]
                && fixed_slot[id].is_none()
            {
                for &x in &a[..op.arity()] {
                    last_use[x as usize] = last_use[x as usize].max(id);
                }
            }
        }
        // A root computed by an instruction is written straight into its destination (no copy
        // at the end) when that is safe: a reserved temporary always; a column if no later
        // instruction reads the column's old value, and the root's own instruction reads it at
        // most as the first operand of an in-place operation.
        let mut direct: Vec<Option<Slot>> = vec![None; n];
        for &(r, dst) in outputs {
            let Node::Apply(op, a) = nodes[r as usize] else {
                continue;
            };
            if fixed_slot[r as usize].is_some() {
                continue;
            }
            let pow_c = op == Op::Pow && dag.as_const(a[1]).is_some();
            if direct[r as usize].is_some() || pow_c {
                continue;
            }
            let ok = match dst {
                Slot::Tmp(_) => true,
                Slot::Col(_) => {
                    let readers: Vec<usize> = (0..n)
                        .filter(|&x| live[x])
                        .filter(|&x| matches!(nodes[x], Node::Input(k) if input_slot[k as usize] == dst))
                        .collect();
                    readers.iter().all(|&x| {
                        let lu = last_use[x];
                        let own = a[..op.arity()].iter().position(|&y| y as usize == x);
                        lu < r as usize
                            || (lu == r as usize
                                && own == Some(0)
                                && !a[1..op.arity()].contains(&(x as Id))
                                && in_place(op))
                    }) && !outputs
                        .iter()
                        .any(|&(r2, _)| readers.contains(&(r2 as usize)))
                }
                Slot::Const(_) => false,
            };
            if ok {
                direct[r as usize] = Some(dst);
            }
        }
        for &(r, _) in outputs {
            last_use[r as usize] = usize::MAX;
        }
        let mut slot_of: Vec<Option<Slot>> = vec![None; n];
        let mut free: Vec<u32> = Vec::new();
        let mut n_tmp = n_reserved;
        let mut code = Vec::new();
        for id in 0..n {
            if !live[id] {
                continue;
            }
            if let Some(s) = fixed_slot[id] {
                slot_of[id] = Some(s);
                continue;
            }
            match nodes[id] {
                Node::Const(b) => slot_of[id] = Some(Slot::Const(f64::from_bits(b))),
                Node::Input(k) => slot_of[id] = Some(input_slot[k as usize]),
                Node::Apply(op, a) => {
                    let dst = match direct[id] {
                        Some(d) => d,
                        None => Slot::Tmp(free.pop().unwrap_or_else(|| {
                            n_tmp += 1;
                            n_tmp - 1
                        })),
                    };
                    let mut args = [Slot::Const(0.0); 3];
                    for (s, &x) in args.iter_mut().zip(&a[..op.arity()]) {
                        *s = slot_of[x as usize].expect("operand evaluated before use");
                    }
                    // Division by a constant becomes multiplication by its reciprocal: a
                    // vector division costs several multiplications, and the result differs
                    // from the quotient by at most one rounding (the lowered expressions divide
                    // by unit factors such as 0.001 mV everywhere).
                    let (op, args) = match (op, args[1]) {
                        (Op::Div, Slot::Const(c)) if c != 0.0 && (1.0 / c).is_finite() => {
                            (Op::Mul, [args[0], Slot::Const(1.0 / c), args[2]])
                        }
                        _ => (op, args),
                    };
                    match (op, args[1], dst) {
                        (Op::Pow, Slot::Const(b), Slot::Tmp(dst)) if b.is_finite() => {
                            code.push(Ins::PowC { dst, a: args[0], b })
                        }
                        _ => code.push(Ins::Apply { op, dst, args }),
                    }
                    slot_of[id] = Some(dst);
                    // Free operands whose last use is this node (after allocating dst, so
                    // dst never aliases an operand).
                    for (j, &x) in a[..op.arity()].iter().enumerate() {
                        if a[..j].contains(&x) {
                            continue;
                        }
                        if last_use[x as usize] == id
                            && let Some(Slot::Tmp(t)) = slot_of[x as usize]
                            && t >= n_reserved
                        {
                            free.push(t);
                        }
                    }
                }
            }
        }
        for &(r, dst) in outputs {
            let src = slot_of[r as usize].expect("root evaluated");
            if src != dst {
                code.push(Ins::Store { dst, src });
            }
        }
        Program {
            code,
            n_tmp,
            n_reserved,
            native: None,
            direct: false,
            io: None,
        }
    }

    /// The instructions (for the native-kernel generator and fingerprint).
    pub(crate) fn code(&self) -> &[Ins] {
        &self.code
    }

    /// Number of temporaries reserved by the caller (gathered inputs and outputs).
    pub(crate) fn n_reserved(&self) -> u32 {
        self.n_reserved
    }

    /// Attach a fused kernel for this exact program (from [`super::native::attach`]), or none;
    /// returns whether one is attached.
    pub(crate) fn set_native(&mut self, kernel: Option<Arc<dyn ChunkKernel>>) -> bool {
        self.native = kernel;
        self.direct = self.native.as_ref().is_some_and(|n| n.has_direct());
        self.native.is_some()
    }

    /// Declare what the reserved temporaries mean (before a native kernel is attached: the
    /// shape is part of its fingerprint).
    pub(crate) fn set_io(&mut self, io: Option<IoShape>) {
        self.io = io;
    }

    /// What the reserved temporaries mean, if declared.
    pub(crate) fn io(&self) -> Option<&IoShape> {
        self.io.as_ref()
    }

    /// Whether an in-place native kernel is attached ([`Program::run_direct`] may be called).
    pub(crate) fn has_direct(&self) -> bool {
        self.direct
    }

    /// Run the attached in-place native kernel on instances `start..start + len` (`len ≤
    /// CHUNK`) of the chunk whose instances sit on nodes `io.node..io.node + len` (see
    /// `kernel/direct.rs`). `tmp` holds the temporaries as for [`Program::run_chunk`]: a
    /// kernel split into loops carries values between them through its scratch ones (the
    /// reserved ones are neither read nor written). Only after [`Program::has_direct`] said yes.
    pub(crate) fn run_direct(
        &self,
        cols: &mut [f64],
        n_inst: usize,
        tmp: &mut [f64],
        start: usize,
        len: usize,
        io: &mut Io<'_>,
    ) {
        assert!(len <= CHUNK && start + len <= n_inst);
        assert!(tmp.len() >= self.n_tmp as usize * CHUNK);
        if len == 0 {
            return;
        }
        let nat = self
            .native
            .as_ref()
            .expect("an in-place kernel is attached");
        nat.run_direct(cols, n_inst, tmp, start, len, io);
    }

    /// Drop the native kernel (the bytecode runs).
    pub fn detach_native(&mut self) {
        self.native = None;
        self.direct = false;
    }

    /// Name of the attached native kernel, if any.
    pub fn native_name(&self) -> Option<&'static str> {
        self.native.as_ref().map(|n| n.name())
    }

    /// Number of temporaries the program needs (reserved ones included).
    pub fn n_tmp(&self) -> usize {
        self.n_tmp as usize
    }

    /// Number of instructions.
    pub fn len(&self) -> usize {
        self.code.len()
    }

    /// Whether the program is empty.
    pub fn is_empty(&self) -> bool {
        self.code.is_empty()
    }

    /// One line per instruction (for inspecting what a mechanism compiles to).
    pub fn listing(&self) -> String {
        let mut s = String::new();
        for ins in &self.code {
            s.push_str(&format!("{ins:?}\n"));
        }
        s
    }

    /// Run on instances `start..start + len` (`len ≤ CHUNK`). `cols` holds the persistent
    /// columns, each `n_inst` long; `tmp` the temporaries, each [`CHUNK`] long.
    pub fn run_chunk(
        &self,
        cols: &mut [f64],
        n_inst: usize,
        tmp: &mut [f64],
        start: usize,
        len: usize,
    ) {
        assert!(len <= CHUNK && start + len <= n_inst);
        assert!(tmp.len() >= self.n_tmp as usize * CHUNK);
        if len == 0 {
            return;
        }
        if let Some(nat) = &self.native {
            nat.run_chunk(cols, n_inst, tmp, start, len);
            return;
        }
        self.run_bytecode(cols, n_inst, tmp, start, len);
    }

    /// [`Program::run_chunk`] with the bytecode interpreter even where a native kernel is
    /// attached (the reference the native kernels are tested against).
    pub fn run_chunk_bytecode(
        &self,
        cols: &mut [f64],
        n_inst: usize,
        tmp: &mut [f64],
        start: usize,
        len: usize,
    ) {
        assert!(len <= CHUNK && start + len <= n_inst);
        assert!(tmp.len() >= self.n_tmp as usize * CHUNK);
        if len == 0 {
            return;
        }
        self.run_bytecode(cols, n_inst, tmp, start, len);
    }

    fn run_bytecode(
        &self,
        cols: &mut [f64],
        n_inst: usize,
        tmp: &mut [f64],
        start: usize,
        len: usize,
    ) {
        #[cfg(target_arch = "x86_64")]
        {
            if std::is_x86_feature_detected!("avx512f") && std::is_x86_feature_detected!("fma") {
                // SAFETY: the CPU supports AVX-512F and FMA (checked above).
                unsafe { run_avx512(&self.code, cols, n_inst, tmp, start, len) };
                return;
            }
            if std::is_x86_feature_detected!("avx2") && std::is_x86_feature_detected!("fma") {
                // SAFETY: the CPU supports AVX2 and FMA (checked above).
                unsafe { run_avx2(&self.code, cols, n_inst, tmp, start, len) };
                return;
            }
        }
        run_generic(&self.code, cols, n_inst, tmp, start, len);
    }
}

/// Operations the executor can run in place (destination = first operand).
fn in_place(op: Op) -> bool {
    matches!(
        op,
        Op::Add | Op::Sub | Op::Mul | Op::Cnexp(_) | Op::CnexpRate(_)
    )
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn run_avx2(
    code: &[Ins],
    cols: &mut [f64],
    n_inst: usize,
    tmp: &mut [f64],
    start: usize,
    len: usize,
) {
    run_generic(code, cols, n_inst, tmp, start, len)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,fma")]
unsafe fn run_avx512(
    code: &[Ins],
    cols: &mut [f64],
    n_inst: usize,
    tmp: &mut [f64],
    start: usize,
    len: usize,
) {
    run_generic(code, cols, n_inst, tmp, start, len)
}

/// An operand resolved for one chunk: a slice of `len` values or a constant.
#[derive(Clone, Copy)]
enum Src<'a> {
    S(&'a [f64]),
    C(f64),
}

// The loops below iterate with `zip` over equal-length slices (no indexing, so no bounds
// checks in the loop body) and capture constants by value: LLVM vectorises every operand
// combination this way (indexed access with a generic getter left some combinations scalar
// in the AVX-512 build).

#[inline(always)]
fn map1(d: &mut [f64], a: &[f64], f: impl Fn(f64) -> f64) {
    let a = &a[..d.len()];
    for (o, &x) in d.iter_mut().zip(a) {
        *o = f(x);
    }
}

#[inline(always)]
fn bin(d: &mut [f64], a: Src<'_>, b: Src<'_>, f: impl Fn(f64, f64) -> f64) {
    let n = d.len();
    match (a, b) {
        (Src::S(x), Src::S(y)) => {
            for ((o, &x), &y) in d.iter_mut().zip(&x[..n]).zip(&y[..n]) {
                *o = f(x, y);
            }
        }
        (Src::S(x), Src::C(y)) => {
            for (o, &x) in d.iter_mut().zip(&x[..n]) {
                *o = f(x, y);
            }
        }
        (Src::C(x), Src::S(y)) => {
            for (o, &y) in d.iter_mut().zip(&y[..n]) {
                *o = f(x, y);
            }
        }
        (Src::C(x), Src::C(y)) => d.fill(f(x, y)),
    }
}

#[inline(always)]
fn bin_ip(d: &mut [f64], b: Src<'_>, f: impl Fn(f64, f64) -> f64) {
    let n = d.len();
    match b {
        Src::S(y) => {
            for (o, &y) in d.iter_mut().zip(&y[..n]) {
                *o = f(*o, y);
            }
        }
        Src::C(y) => {
            for o in d.iter_mut() {
                *o = f(*o, y);
            }
        }
    }
}

#[inline(always)]
fn un(d: &mut [f64], a: Src<'_>, f: impl Fn(f64) -> f64) {
    match a {
        Src::S(x) => map1(d, x, f),
        Src::C(x) => d.fill(f(x)),
    }
}

#[inline(always)]
fn tern(d: &mut [f64], a: Src<'_>, b: Src<'_>, c: Src<'_>, f: impl Fn(f64, f64, f64) -> f64) {
    let n = d.len();
    use Src::{C, S};
    match (a, b, c) {
        (S(a), S(b), S(c)) => {
            for (((o, &a), &b), &c) in d.iter_mut().zip(&a[..n]).zip(&b[..n]).zip(&c[..n]) {
                *o = f(a, b, c);
            }
        }
        (S(a), S(b), C(c)) => {
            for ((o, &a), &b) in d.iter_mut().zip(&a[..n]).zip(&b[..n]) {
                *o = f(a, b, c);
            }
        }
        (S(a), C(b), S(c)) => {
            for ((o, &a), &c) in d.iter_mut().zip(&a[..n]).zip(&c[..n]) {
                *o = f(a, b, c);
            }
        }
        (C(a), S(b), S(c)) => {
            for ((o, &b), &c) in d.iter_mut().zip(&b[..n]).zip(&c[..n]) {
                *o = f(a, b, c);
            }
        }
        (S(a), C(b), C(c)) => {
            for (o, &a) in d.iter_mut().zip(&a[..n]) {
                *o = f(a, b, c);
            }
        }
        (C(a), S(b), C(c)) => {
            for (o, &b) in d.iter_mut().zip(&b[..n]) {
                *o = f(a, b, c);
            }
        }
        (C(a), C(b), S(c)) => {
            for (o, &c) in d.iter_mut().zip(&c[..n]) {
                *o = f(a, b, c);
            }
        }
        (C(a), C(b), C(c)) => d.fill(f(a, b, c)),
    }
}

#[inline(always)]
fn tern_ip(d: &mut [f64], b: Src<'_>, c: Src<'_>, f: impl Fn(f64, f64, f64) -> f64) {
    let n = d.len();
    use Src::{C, S};
    match (b, c) {
        (S(b), S(c)) => {
            for ((o, &b), &c) in d.iter_mut().zip(&b[..n]).zip(&c[..n]) {
                *o = f(*o, b, c);
            }
        }
        (S(b), C(c)) => {
            for (o, &b) in d.iter_mut().zip(&b[..n]) {
                *o = f(*o, b, c);
            }
        }
        (C(b), S(c)) => {
            for (o, &c) in d.iter_mut().zip(&c[..n]) {
                *o = f(*o, b, c);
            }
        }
        (C(b), C(c)) => {
            for o in d.iter_mut() {
                *o = f(*o, b, c);
            }
        }
    }
}

#[inline(always)]
fn run_generic(
    code: &[Ins],
    cols: &mut [f64],
    n_inst: usize,
    tmp: &mut [f64],
    start: usize,
    len: usize,
) {
    let cols_ptr = cols.as_mut_ptr();
    let tmp_ptr = tmp.as_mut_ptr();
    let n_cols = cols.len() / n_inst.max(1);
    let n_tmps = tmp.len() / CHUNK;
    // SAFETY (for `src`/`dst_slice`): every index is range-checked against the buffers'
    // lengths; the compiler never gives an instruction a destination equal to one of its
    // operands other than the first of an in-place operation (see `Program::compile`), which
    // is then read through the mutable slice only, so the one mutable slice never overlaps a
    // shared one.
    let src = |s: Slot| -> Src<'_> {
        match s {
            Slot::Const(c) => Src::C(c),
            Slot::Col(k) => {
                let k = k as usize;
                assert!(k < n_cols);
                Src::S(unsafe { std::slice::from_raw_parts(cols_ptr.add(k * n_inst + start), len) })
            }
            Slot::Tmp(k) => {
                let k = k as usize;
                assert!(k < n_tmps);
                Src::S(unsafe { std::slice::from_raw_parts(tmp_ptr.add(k * CHUNK), len) })
            }
        }
    };
    let dst_slice = |s: Slot| -> &mut [f64] {
        match s {
            Slot::Col(k) => {
                let k = k as usize;
                assert!(k < n_cols);
                unsafe { std::slice::from_raw_parts_mut(cols_ptr.add(k * n_inst + start), len) }
            }
            Slot::Tmp(k) => {
                let k = k as usize;
                assert!(k < n_tmps);
                unsafe { std::slice::from_raw_parts_mut(tmp_ptr.add(k * CHUNK), len) }
            }
            Slot::Const(_) => unreachable!("constant destination"),
        }
    };
    let t = |b: bool| b as u8 as f64;
    for ins in code {
        match *ins {
            Ins::PowC { dst, a, b } => un(dst_slice(Slot::Tmp(dst)), src(a), |x| {
                vexp::exp(b * vexp::ln(x))
            }),
            Ins::Store { dst, src: s } => {
                let d = dst_slice(dst);
                match src(s) {
                    Src::S(x) => d.copy_from_slice(x),
                    Src::C(c) => d.fill(c),
                }
            }
            Ins::Apply { op, dst, args } if args[0] == dst => {
                // In place: the first operand is read from the destination itself.
                let d = dst_slice(dst);
                let (b, c) = (src(args[1]), src(args[2]));
                match op {
                    Op::Add => bin_ip(d, b, |x, y| x + y),
                    Op::Sub => bin_ip(d, b, |x, y| x - y),
                    Op::Mul => bin_ip(d, b, |x, y| x * y),
                    Op::Cnexp(mdt) => {
                        let mdt = f64::from_bits(mdt);
                        tern_ip(d, b, c, |x, inf, tau| {
                            x + (1.0 - vexp::exp(mdt / tau)) * (inf - x)
                        })
                    }
                    Op::CnexpRate(mdt) => {
                        let mdt = f64::from_bits(mdt);
                        tern_ip(d, b, c, |x, inf, r| {
                            x + (1.0 - vexp::exp(mdt * r)) * (inf - x)
                        })
                    }
                    _ => unreachable!("{op:?} is not compiled in place"),
                }
            }
            Ins::Apply { op, dst, args } => {
                let d = dst_slice(dst);
                let (a, b) = (src(args[0]), src(args[1]));
                match op {
                    Op::Neg => un(d, a, |x| -x),
                    Op::Not => un(d, a, |x| t(x == 0.0)),
                    Op::Exp => un(d, a, vexp::exp),
                    Op::Log => un(d, a, f64::ln),
                    Op::Log10 => un(d, a, f64::log10),
                    Op::Sqrt => un(d, a, f64::sqrt),
                    Op::Abs => un(d, a, f64::abs),
                    Op::Sin => un(d, a, f64::sin),
                    Op::Cos => un(d, a, f64::cos),
                    Op::Tanh => un(d, a, f64::tanh),
                    Op::Floor => un(d, a, f64::floor),
                    Op::Ceil => un(d, a, f64::ceil),
                    Op::Add => bin(d, a, b, |x, y| x + y),
                    Op::Sub => bin(d, a, b, |x, y| x - y),
                    Op::Mul => bin(d, a, b, |x, y| x * y),
                    Op::Div => bin(d, a, b, |x, y| x / y),
                    Op::Pow => bin(d, a, b, f64::powf),
                    Op::Lt => bin(d, a, b, |x, y| t(x < y)),
                    Op::Le => bin(d, a, b, |x, y| t(x <= y)),
                    Op::Gt => bin(d, a, b, |x, y| t(x > y)),
                    Op::Ge => bin(d, a, b, |x, y| t(x >= y)),
                    Op::Eq => bin(d, a, b, |x, y| t(x == y)),
                    Op::Ne => bin(d, a, b, |x, y| t(x != y)),
                    Op::And => bin(d, a, b, |x, y| t(x != 0.0 && y != 0.0)),
                    Op::Or => bin(d, a, b, |x, y| t(x != 0.0 || y != 0.0)),
                    Op::Min => bin(d, a, b, |x, y| Op::Min.eval(x, y, 0.0)),
                    Op::Max => bin(d, a, b, |x, y| Op::Max.eval(x, y, 0.0)),
                    Op::Select => tern(
                        d,
                        a,
                        b,
                        src(args[2]),
                        |c, x, y| {
                            if c != 0.0 { x } else { y }
                        },
                    ),
                    Op::Cnexp(mdt) => {
                        let mdt = f64::from_bits(mdt);
                        tern(d, a, b, src(args[2]), |x, inf, tau| {
                            x + (1.0 - vexp::exp(mdt / tau)) * (inf - x)
                        })
                    }
                    Op::CnexpRate(mdt) => {
                        let mdt = f64::from_bits(mdt);
                        tern(d, a, b, src(args[2]), |x, inf, r| {
                            x + (1.0 - vexp::exp(mdt * r)) * (inf - x)
                        })
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn program_matches_scalar_dag() {
        // f = exp(-(v + 38)/6) · g + (v < -50 ? 1 : v), over 300 instances (3 chunks).
        let mut d = Dag::default();
        let v = d.input(0);
        let g = d.input(1);
        let c38 = d.constant(38.0);
        let s = d.apply(Op::Add, &[v, c38]);
        let ns = d.apply(Op::Neg, &[s]);
        let c6 = d.constant(6.0);
        let q = d.apply(Op::Div, &[ns, c6]);
        let e = d.apply(Op::Exp, &[q]);
        let m = d.apply(Op::Mul, &[e, g]);
        let cm50 = d.constant(-50.0);
        let lt = d.apply(Op::Lt, &[v, cm50]);
        let one = d.constant(1.0);
        let se = d.apply(Op::Select, &[lt, one, v]);
        let f = d.apply(Op::Add, &[m, se]);
        let n = 300;
        // columns: 0 = v, 1 = g, 2 = output
        let p = Program::compile(&d, &[Slot::Col(0), Slot::Col(1)], &[(f, Slot::Col(2))], 0);
        let mut cols = vec![0.0; 3 * n];
        for i in 0..n {
            cols[i] = -100.0 + i as f64 * 0.5;
            cols[n + i] = 1.0 + i as f64 * 1e-3;
        }
        let mut tmp = vec![0.0; p.n_tmp() * CHUNK];
        let mut s0 = 0;
        while s0 < n {
            let len = CHUNK.min(n - s0);
            p.run_chunk(&mut cols, n, &mut tmp, s0, len);
            s0 += len;
        }
        // The baseline (non-AVX) variant and every SIMD variant the CPU has give bit-identical
        // results.
        type Run = unsafe fn(&[Ins], &mut [f64], usize, &mut [f64], usize, usize);
        let mut variants: Vec<(&str, Run)> = Vec::new();
        #[cfg(target_arch = "x86_64")]
        {
            if std::is_x86_feature_detected!("avx2") && std::is_x86_feature_detected!("fma") {
                variants.push(("avx2", run_avx2));
            }
            if std::is_x86_feature_detected!("avx512f") && std::is_x86_feature_detected!("fma") {
                variants.push(("avx512", run_avx512));
            }
        }
        let generic: Run = |c, co, n, t, s, l| run_generic(c, co, n, t, s, l);
        variants.push(("baseline", generic));
        for (name, run) in variants {
            let mut cols2 = cols.clone();
            cols2[2 * n..].fill(0.0);
            let mut s0 = 0;
            while s0 < n {
                let len = CHUNK.min(n - s0);
                // SAFETY: only variants the CPU supports are listed.
                unsafe { run(&p.code, &mut cols2, n, &mut tmp, s0, len) };
                s0 += len;
            }
            assert_eq!(cols, cols2, "{name} and the chosen variant differ");
        }
        for i in 0..n {
            let want = d.eval(f, &[cols[i], cols[n + i]]);
            let got = cols[2 * n + i];
            // Division by a constant runs as multiplication by the reciprocal (one extra
            // rounding), hence a few ulp rather than exact equality.
            assert!(
                (got - want).abs() <= 4e-15 * want.abs(),
                "{i}: {got} {want}"
            );
        }
    }

    #[test]
    fn variants_agree_on_fused_and_in_place_updates() {
        // Two gate updates in place (rate and τ forms) with a constant power in the rates.
        let mut d = Dag::default();
        let (x, y, v) = (d.input(0), d.input(1), d.input(2));
        let c5 = d.constant(-0.2);
        let a = d.apply(Op::Mul, &[v, c5]);
        let e = d.apply(Op::Exp, &[a]);
        let one = d.constant(1.0);
        let s = d.apply(Op::Add, &[e, one]);
        let inf = d.apply(Op::Div, &[one, s]);
        let sq = d.apply(Op::Mul, &[v, v]);
        let s1 = d.apply(Op::Add, &[sq, one]);
        let p3 = d.constant(0.3);
        let r = d.apply(Op::Pow, &[s1, p3]);
        let mdt = (-0.025f64).to_bits();
        let gx = d.apply(Op::CnexpRate(mdt), &[x, inf, r]);
        let gy = d.apply(Op::Cnexp(mdt), &[y, inf, r]);
        let n = 300;
        let p = Program::compile(
            &d,
            &[Slot::Col(0), Slot::Col(1), Slot::Col(2)],
            &[(gx, Slot::Col(0)), (gy, Slot::Col(1))],
            0,
        );
        assert!(
            !p.code.iter().any(|i| matches!(i, Ins::Store { .. })),
            "gate updates run in place"
        );
        let mut cols = vec![0.0; 3 * n];
        for i in 0..n {
            cols[i] = (i as f64 * 0.37).sin().abs();
            cols[n + i] = (i as f64 * 0.11).cos().abs();
            cols[2 * n + i] = -100.0 + i as f64 * 0.5;
        }
        let want: Vec<f64> = (0..n)
            .flat_map(|i| {
                let inp = [cols[i], cols[n + i], cols[2 * n + i]];
                [d.eval(gx, &inp), d.eval(gy, &inp)]
            })
            .collect();
        type Run = unsafe fn(&[Ins], &mut [f64], usize, &mut [f64], usize, usize);
        let generic: Run = |c, co, n, t, s, l| run_generic(c, co, n, t, s, l);
        let mut variants: Vec<(&str, Run)> = vec![("baseline", generic)];
        #[cfg(target_arch = "x86_64")]
        {
            if std::is_x86_feature_detected!("avx2") && std::is_x86_feature_detected!("fma") {
                variants.push(("avx2", run_avx2));
            }
            if std::is_x86_feature_detected!("avx512f") && std::is_x86_feature_detected!("fma") {
                variants.push(("avx512", run_avx512));
            }
        }
        let mut results = Vec::new();
        for (name, run) in variants {
            let mut c = cols.clone();
            let mut tmp = vec![0.0; p.n_tmp().max(1) * CHUNK];
            let mut s0 = 0;
            while s0 < n {
                let len = CHUNK.min(n - s0);
                // SAFETY: only variants the CPU supports are listed.
                unsafe { run(&p.code, &mut c, n, &mut tmp, s0, len) };
                s0 += len;
            }
            for i in 0..n {
                for (k, w) in [c[i], c[n + i]].into_iter().zip(&want[2 * i..2 * i + 2]) {
                    assert!((k - w).abs() <= 1e-14, "{name} {i}: {k} {w}");
                }
            }
            results.push((name, c));
        }
        for (name, c) in &results[1..] {
            assert_eq!(c, &results[0].1, "{name} differs from the baseline");
        }
    }
}
