//! The cable solver: NEURON's fixed-step backward-Euler scheme on a branched tree.
//!
//! * [`tree`]: [`CableTree`], NEURON's node layout built from the morphology hand-over
//!   [`CellGeometry`](crate::morph::cell::CellGeometry), Hines-ordered, structure of arrays;
//! * [`hines`]: the O(n) tree solve;
//! * [`mech`]: the [`Mechanism`] interface (current + conductance per node, then state update)
//!   and the built-ins [`Pas`] and [`IClamp`];
//! * [`engine`]: [`Simulation`], the fixed-step loop and [`Recording`].
//!
//! Typical use:
//!
//! ```
//! use isf::morph::cell::{CellGeometry, SectionGeometry};
//! use isf::sim::{CableTree, Pas, SimConfig, Simulation};
//!
//! let soma = SectionGeometry {
//!     name: "soma".into(), nseg: 1, cm_uf_cm2: 1.0, seg_x: vec![0.5],
//!     seg_area_um2: vec![1000.0], seg_ri_mohm: vec![0.1], end_ri_mohm: 0.1,
//!     ..Default::default()
//! };
//! let tree = CableTree::from_geometry(&CellGeometry { sections: vec![soma] }).unwrap();
//! let mut sim = Simulation::new(tree, SimConfig { v_init_mv: -70.0, ..Default::default() }).unwrap();
//! let nodes: Vec<_> = sim.tree().segment_nodes().collect();
//! sim.add_mechanism(Box::new(Pas::uniform(nodes, 1e-4, -70.0).unwrap())).unwrap();
//! sim.add_iclamp(0, 0.5, 1.0, 5.0, 0.1).unwrap();
//! let probe = sim.tree().node_at(0, 0.5);
//! let rec = sim.run(400, &[probe]).unwrap();
//! assert_eq!(rec.n_samples(), 401);
//! assert!(rec.v_mv(400, 0) > -70.0);
//! ```

pub mod engine;
pub mod error;
pub mod hines;
pub mod mech;
pub mod synth;
pub mod tree;

pub use engine::{Recording, SimConfig, Simulation, steps_for};
pub use error::SimError;
pub use mech::{CurrentCtx, IClamp, Mechanism, Pas, StateCtx};
pub use tree::{CableTree, NodeId, NodeKind, NodeOrder};
