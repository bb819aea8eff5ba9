//! In-place access for the native kernels: where a chunk of a mechanism's instances sits on one
//! run of consecutive nodes (mechanisms are sorted by node, and with lanes the `(node, lane)`
//! pairs of consecutive nodes are consecutive in the lane-minor arrays), a kernel reads `v` and
//! the ion values straight from the cell's node-order arrays and adds its currents straight
//! into `rhs`, `d` and the ions' totals, in the loop that computes them: no gather into
//! temporaries before, no scatter pass after.
//!
//! A chunk runs in place run by run when its runs are long (on average at least `MIN_RUN`
//! instances, see `mechanism.rs`), else it keeps the gather. How long runs are depends on the
//! node numbering: the default [`NodeOrder::Sections`] stores a section's segments
//! contiguously, each subtree after its parent section and the zero-area end nodes at the end,
//! so a mechanism inserted in a region covers a few long runs (on S1 every chunk of the nine
//! mechanisms with hundreds of instances runs in place; the three with 13 instances, on the
//! soma and the axon's first sections, gather: `cargo bench --bench active` prints the
//! counts); with [`NodeOrder::Level`] (sections interleaved by depth) runs
//! are a few nodes long and the gather path runs.
//!
//! [`NodeOrder::Sections`]: crate::sim::tree::NodeOrder::Sections
//! [`NodeOrder::Level`]: crate::sim::tree::NodeOrder::Level
//!
//! Every native kernel has such a variant, those split into loops by `exp` depth (the gate
//! states of the Hay channels) included: their loops read the inputs in place and carry values
//! between them through the scratch temporaries of the mechanism's chunk buffer, which the
//! call is given (`tmp`; the reserved temporaries in it are left alone).
//!
//! [`IoShape`] is what such a kernel is generated for: the meaning of a program's reserved
//! temporaries (gathered inputs; current and conductance outputs with their ion), set by
//! [`CompiledMech`](super::CompiledMech) on its programs and part of the native-kernel
//! fingerprint. [`Io`] is what it runs on: the cell's arrays for one chunk. Every element goes
//! through the very operations of the gather → kernel → scatter path in the same order, so the
//! results are bit-identical (tested on whole cells in `kernel/tests.rs`).

/// Reserved input temporaries an in-place kernel can read (`v`, `t` and up to six ion values).
pub(crate) const MAX_IN: usize = 8;

/// Distinct ions whose total current an in-place kernel can add to.
pub(crate) const MAX_TOT: usize = 4;

/// What the reserved temporaries of a program mean, for its in-place kernel.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub(crate) struct IoShape {
    /// Temporaries `0..n_inputs` are gathered inputs: 0 is `v`, 1 is `t`, the others node-order
    /// ion values ([`Io::ins`] by the same number).
    pub n_inputs: u32,
    /// Outputs are point-process currents (nA), scaled by the instance's `1e2/area`.
    pub point: bool,
    /// Per current, in the order they are added: the temporaries of `i` and `∂i/∂v`, and the
    /// slot of [`Io::tot`] its ion's total is in (`None`: a non-specific current).
    pub currents: Vec<(u32, u32, Option<u8>)>,
}

/// The cell's arrays one chunk of an in-place kernel works on. Node-order slices are whole
/// (the kernel takes `node..node + len`); empty where the program does not use them.
pub(crate) struct Io<'a> {
    /// The node of the chunk's first instance (instance `k` of the chunk is on `node + k`).
    pub node: usize,
    /// Time, ms.
    pub t_ms: f64,
    /// Node-order inputs by reserved temporary: `ins[0]` is `v`, `ins[1]` is unused (`t` is
    /// [`Io::t_ms`]), the others are ion values.
    pub ins: [&'a [f64]; MAX_IN],
    /// Right-hand side: `rhs −= i`.
    pub rhs: &'a mut [f64],
    /// Diagonal: `d += ∂i/∂v`.
    pub d: &'a mut [f64],
    /// Point processes: `1e2/area` per instance (by instance, not node).
    pub fac: &'a [f64],
    /// Ion totals by slot ([`IoShape::currents`]): `tot += i`.
    pub tot: [&'a mut [f64]; MAX_TOT],
}
