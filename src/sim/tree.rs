//! The cable tree in NEURON's exact node layout.
//!
//! # Node layout
//!
//! NEURON gives every section `nseg + 1` nodes: one per segment centre (`pnode[0..nseg]`) and a
//! zero-area node at the section's 1-end (`pnode[nseg]`). A root section (no parent) additionally
//! owns a zero-area node at its 0-end (NEURON's `parentnode`). A child's first segment connects
//! to the parent node found by NEURON's `nrn_parent_info`:
//!
//! * attachment at `x = 1` → the parent's 1-end node;
//! * `0 < x < 1` → the segment node `⌊nseg·x⌋` (capped at `nseg − 1`; NEURON's `node_index`),
//!   so a position exactly on a segment boundary belongs to the segment on its 1-side;
//! * `x = 0` → the node the parent's own 0-end is attached to, found by walking up the tree
//!   (ultimately the root's 0-end node).
//!
//! # Ordering
//!
//! Root 0-end nodes are `0..n_roots`. A tree has two orders: the order its node arrays are
//! stored in (the [`NodeId`]s) and the order the Hines elimination and the axial pass walk
//! them ([`CableTree::elimination`], every node after its parent). Three numberings are
//! offered ([`NodeOrder`]):
//!
//! * [`NodeOrder::Sections`] (default): stored by section — the segment nodes depth-first
//!   from the roots (a section's segments contiguous, each subtree after its parent section),
//!   then all zero-area end nodes. A mechanism inserted in a region then covers a few long
//!   runs of consecutive nodes, so its values are read and its currents added as whole
//!   slices. Eliminated in the level order below.
//! * [`NodeOrder::Level`]: stored and eliminated by depth (number of nodes to the root), ties
//!   in NEURON order. The elimination walks through many independent branches at once instead
//!   of one long section after another; the Hines recurrences are latency-bound chains (a
//!   division per node), so interleaving independent chains lets the CPU overlap them — 3.3
//!   instead of 11 ns per node for the solve on a 1,142-segment cell.
//! * [`NodeOrder::Neuron`]: NEURON's own — sections breadth-first from the roots (children in
//!   section-index order; NEURON's sibling order may differ), each contributing its `nseg`
//!   segment nodes then its 1-end node; stored and eliminated in that order.
//!
//! All orders give the same matrix and the same elimination pairs; only the order in which a
//! parent's diagonal collects its children's contributions can differ, i.e. rounding (a few
//! ulp). `Sections` and `Level` give the same bits: their eliminations are the same sequence
//! of operations, only stored elsewhere. With `Sections` a node can be stored before its parent
//! (a child section's first segment hangs on its parent's 1-end node, which is stored with the
//! end nodes, last), so nothing may assume `parent[i] < i`: walk the elimination instead.
//!
//! # Units of the coupling coefficients
//!
//! With area in µm² and resistance in MΩ, `1/ri` is a conductance in µS and
//! `(1/ri)/area` is in µS/µm² = 1e-6 S / 1e-8 cm² = 1e2 S/cm². NEURON's classical coefficients
//!
//! ```text
//! a[i] = −1e2 · (1/ri[i]) / area[parent[i]]     (entry of row parent[i], column i)
//! b[i] = −1e2 · (1/ri[i]) / area[i]             (entry of row i, column parent[i])
//! ```
//!
//! are therefore in S/cm² = mA/(cm²·mV): multiplied by a voltage in mV they give a current
//! density in mA/cm², the unit of NEURON's right-hand side. Zero-area end nodes are given the
//! dimensionless area 1e2 exactly as NEURON does, so their rows are in µS and nA; a zero-area
//! node carries no capacitance or membrane current, so the scaling of its row does not change
//! the solution, and a point process placed there (`1e2/area = 1`) injects its current in nA.

use crate::morph::cell::CellGeometry;
use crate::sim::error::SimError;

/// Index of a node in the tree's arrays.
pub type NodeId = u32;

/// `parent` value of a root node.
pub const NO_PARENT: NodeId = NodeId::MAX;

/// The area NEURON assigns to zero-area end nodes (dimensionless stand-in, see module docs).
pub const END_NODE_AREA_UM2: f64 = 1e2;

/// What a node stands for inside its section.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NodeKind {
    /// The 0-end node of a root section.
    RootEnd,
    /// The centre of segment `i` (0-based).
    Segment(u32),
    /// The zero-area node at the section's 1-end.
    OneEnd,
}

/// Where one section's nodes live.
#[derive(Clone, Debug)]
pub struct SectionNodes {
    /// Section name (for diagnostics).
    pub name: String,
    /// Number of segments.
    pub nseg: u32,
    /// The node at this section's 0-end: its own root node for a root section, otherwise the
    /// parent node its first segment connects to.
    pub zero_end: NodeId,
    /// The zero-area node at the section's 1-end.
    pub one_end: NodeId,
    /// Offset of this section's segment nodes in the tree's segment table.
    seg_offset: usize,
}

/// How nodes are numbered (see the module docs).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum NodeOrder {
    /// NEURON's order: sections breadth-first, nodes of a section contiguous.
    Neuron,
    /// By depth from the root, then NEURON's order: stored as eliminated.
    Level,
    /// Segment nodes depth-first by section, then the end nodes; eliminated as `Level`.
    #[default]
    Sections,
}

/// A branched cable in NEURON's node layout, structure of arrays, stored and eliminated in
/// the orders of its [`NodeOrder`].
#[derive(Clone, Debug)]
pub struct CableTree {
    n_roots: usize,
    parent: Vec<NodeId>,
    a: Vec<f64>,
    b: Vec<f64>,
    area_um2: Vec<f64>,
    cm_uf_cm2: Vec<f64>,
    node_section: Vec<u32>,
    node_kind: Vec<NodeKind>,
    sections: Vec<SectionNodes>,
    /// Segment nodes of all sections, section after section (`SectionNodes::seg_offset`).
    seg_nodes: Vec<NodeId>,
    /// The Hines elimination and axial order of the non-root nodes.
    elim: Elimination,
    /// Position of each node in the elimination order (roots `0..n_roots`, then the
    /// eliminated nodes): the order in which diagnostics look for the first failing node.
    rank: Vec<u32>,
}

/// The order in which the non-root nodes of a tree are eliminated, with each node's parent
/// and coupling coefficients in that order (sequential loads in the solver's loops).
#[derive(Clone, Debug, Default)]
pub struct Elimination {
    /// Nodes `0..n_roots` are the roots.
    pub n_roots: usize,
    /// Non-root nodes, each after its parent.
    pub node: Vec<NodeId>,
    /// `parent[k]` is the parent of `node[k]`.
    pub parent: Vec<NodeId>,
    /// `a[k]`: coupling of `node[k]` into its parent's row.
    pub a: Vec<f64>,
    /// `b[k]`: coupling of the parent into `node[k]`'s row.
    pub b: Vec<f64>,
}

impl Elimination {
    /// The elimination of the nodes `order` (every non-root node once, each after its
    /// parent) of a tree given by per-node `parent`, `a`, `b`.
    ///
    /// Panics if `order` is not such an order.
    pub fn new(n_roots: usize, order: &[NodeId], parent: &[NodeId], a: &[f64], b: &[f64]) -> Self {
        let n = parent.len();
        assert!(a.len() == n && b.len() == n && n_roots <= n && order.len() == n - n_roots);
        let mut seen = vec![false; n];
        seen[..n_roots].fill(true);
        for &i in order {
            let (i, p) = (i as usize, parent[i as usize] as usize);
            assert!(
                i >= n_roots && !seen[i] && p < n && seen[p],
                "not an elimination order"
            );
            seen[i] = true;
        }
        Elimination {
            n_roots,
            node: order.to_vec(),
            parent: order.iter().map(|&i| parent[i as usize]).collect(),
            a: order.iter().map(|&i| a[i as usize]).collect(),
            b: order.iter().map(|&i| b[i as usize]).collect(),
        }
    }

    /// Elimination in index order, for trees numbered so that `parent[i] < i`.
    pub fn in_index_order(n_roots: usize, parent: &[NodeId], a: &[f64], b: &[f64]) -> Self {
        let order: Vec<NodeId> = (n_roots as NodeId..parent.len() as NodeId).collect();
        Elimination::new(n_roots, &order, parent, a, b)
    }

    /// Number of nodes eliminated (the non-root nodes).
    pub fn len(&self) -> usize {
        self.node.len()
    }

    /// Whether the tree is roots only.
    pub fn is_empty(&self) -> bool {
        self.node.is_empty()
    }
}

/// The [`NodeOrder::Sections`] numbering (`perm[new] = old`): roots, then the segment nodes
/// depth-first, a node's children visited in their order in `level` (so each parent still
/// collects its children's contributions in the level order), then the end nodes in level
/// order.
fn section_order(
    n_roots: usize,
    parent: &[NodeId],
    kind: &[NodeKind],
    level: &[usize],
) -> Vec<usize> {
    let n = parent.len();
    let mut children: Vec<Vec<usize>> = vec![Vec::new(); n];
    for &i in &level[n_roots..] {
        children[parent[i] as usize].push(i);
    }
    let mut segments = Vec::with_capacity(n);
    let mut stack: Vec<usize> = (0..n_roots).rev().collect();
    while let Some(i) = stack.pop() {
        if matches!(kind[i], NodeKind::Segment(_)) {
            segments.push(i);
        }
        stack.extend(children[i].iter().rev());
    }
    let ends = level[n_roots..]
        .iter()
        .filter(|&&i| !matches!(kind[i], NodeKind::Segment(_)));
    (0..n_roots).chain(segments).chain(ends.copied()).collect()
}

/// NEURON's `node_index`: the segment containing `x` (0 < x < 1), boundaries going to the
/// segment on the 1-side, `x = 1` to the last segment.
pub fn segment_index(nseg: u32, x: f64) -> u32 {
    let n = f64::from(nseg);
    // Truncation toward zero, as the C cast `i = n * x` does.
    let i = (n * x) as u32;
    if i >= nseg { nseg - 1 } else { i }
}

impl CableTree {
    /// Build the tree from the discretized geometry handed over by the morphology code.
    ///
    /// Fails (with [`SimError::InvalidGeometry`]) when a section has no segments, mismatched
    /// per-segment vectors, a non-positive or non-finite area or axial resistance, a parent
    /// index out of range, an attachment position outside `[0, 1]`, or is not reachable from a
    /// root (a cycle). Uses [`NodeOrder::Level`].
    pub fn from_geometry(geom: &CellGeometry) -> Result<CableTree, SimError> {
        CableTree::from_geometry_ordered(geom, NodeOrder::default())
    }

    /// [`CableTree::from_geometry`] with an explicit node numbering.
    pub fn from_geometry_ordered(
        geom: &CellGeometry,
        order_kind: NodeOrder,
    ) -> Result<CableTree, SimError> {
        let nsec = geom.sections.len();
        let bad = |section: usize, message: String| SimError::InvalidGeometry {
            section,
            name: geom.sections[section].name.clone(),
            message,
        };
        // Validate each section and collect children lists.
        let mut children: Vec<Vec<usize>> = vec![Vec::new(); nsec];
        let mut roots = Vec::new();
        for (s, sec) in geom.sections.iter().enumerate() {
            if sec.nseg == 0 {
                return Err(bad(s, "section has no segments".into()));
            }
            if sec.seg_area_um2.len() != sec.nseg || sec.seg_ri_mohm.len() != sec.nseg {
                return Err(bad(
                    s,
                    format!(
                        "nseg = {} but {} areas and {} axial resistances",
                        sec.nseg,
                        sec.seg_area_um2.len(),
                        sec.seg_ri_mohm.len()
                    ),
                ));
            }
            if let Some(k) = sec
                .seg_area_um2
                .iter()
                .position(|&x| !(x.is_finite() && x > 0.0))
            {
                return Err(bad(
                    s,
                    format!("segment {k} has area {}", sec.seg_area_um2[k]),
                ));
            }
            if let Some(k) = sec
                .seg_ri_mohm
                .iter()
                .position(|&x| !(x.is_finite() && x > 0.0))
            {
                return Err(bad(
                    s,
                    format!("segment {k} has axial resistance {} MΩ", sec.seg_ri_mohm[k]),
                ));
            }
            if !(sec.end_ri_mohm.is_finite() && sec.end_ri_mohm > 0.0) {
                return Err(bad(
                    s,
                    format!("1-end axial resistance is {} MΩ", sec.end_ri_mohm),
                ));
            }
            if !(sec.cm_uf_cm2.is_finite() && sec.cm_uf_cm2 >= 0.0) {
                return Err(bad(s, format!("cm is {} µF/cm²", sec.cm_uf_cm2)));
            }
            if u32::try_from(sec.nseg).is_err() {
                return Err(bad(s, "too many segments".into()));
            }
            match sec.parent {
                None => roots.push(s),
                Some(p) => {
                    if p >= nsec || p == s {
                        return Err(bad(s, format!("parent index {p} is invalid")));
                    }
                    if !(0.0..=1.0).contains(&sec.parent_x) {
                        return Err(bad(
                            s,
                            format!("attachment position {} is outside [0, 1]", sec.parent_x),
                        ));
                    }
                    children[p].push(s);
                }
            }
        }

        // Breadth-first section order, roots first.
        let mut order: Vec<usize> = roots.clone();
        let mut head = 0;
        while head < order.len() {
            let s = order[head];
            head += 1;
            order.extend_from_slice(&children[s]);
        }
        if order.len() != nsec {
            let mut seen = vec![false; nsec];
            for &s in &order {
                seen[s] = true;
            }
            let s = seen.iter().position(|&x| !x).unwrap_or(0);
            return Err(bad(s, "section is not connected to a root (cycle)".into()));
        }

        let n_nodes = roots.len() + geom.sections.iter().map(|s| s.nseg + 1).sum::<usize>();
        if n_nodes >= NO_PARENT as usize {
            return Err(bad(0, "too many nodes".into()));
        }

        // Pass 1: NEURON's layout. Per node: parent, resistance to the parent, area, cm,
        // section and role; per section: first segment node, 0-end and 1-end nodes.
        let mut parent = vec![NO_PARENT; n_nodes];
        let mut ri_mohm = vec![0.0; n_nodes];
        let mut area_um2 = vec![END_NODE_AREA_UM2; n_nodes];
        let mut cm_uf_cm2 = vec![0.0; n_nodes];
        let mut node_section = vec![0u32; n_nodes];
        let mut node_kind = vec![NodeKind::OneEnd; n_nodes];
        let mut first = vec![NO_PARENT; nsec];
        let mut zero_end = vec![NO_PARENT; nsec];
        for (r, &s) in roots.iter().enumerate() {
            zero_end[s] = r as NodeId;
            node_section[r] = s as u32;
            node_kind[r] = NodeKind::RootEnd;
        }
        let mut next = roots.len() as NodeId;
        for &s in &order {
            let sec = &geom.sections[s];
            let nseg = sec.nseg as u32;
            first[s] = next;
            next += nseg + 1;
            if let Some(p) = sec.parent {
                // nrn_parent_info: x = 0 inherits the parent's own 0-end node (walking up),
                // x = 1 is the parent's 1-end node, otherwise the segment containing x.
                let x = sec.parent_x;
                zero_end[s] = if x <= 0.0 {
                    zero_end[p]
                } else if x >= 1.0 {
                    first[p] + geom.sections[p].nseg as u32
                } else {
                    first[p] + segment_index(geom.sections[p].nseg as u32, x)
                };
            }
            for k in 0..nseg {
                let node = (first[s] + k) as usize;
                parent[node] = if k == 0 {
                    zero_end[s]
                } else {
                    node as NodeId - 1
                };
                ri_mohm[node] = sec.seg_ri_mohm[k as usize];
                area_um2[node] = sec.seg_area_um2[k as usize];
                cm_uf_cm2[node] = sec.cm_uf_cm2;
                node_section[node] = s as u32;
                node_kind[node] = NodeKind::Segment(k);
            }
            let end = (first[s] + nseg) as usize;
            parent[end] = end as NodeId - 1;
            ri_mohm[end] = sec.end_ri_mohm;
            node_section[end] = s as u32;
        }
        debug_assert_eq!(next as usize, n_nodes);

        // Pass 2: renumber. `perm[new] = old`; a stable sort by depth keeps NEURON's order
        // within a level and keeps roots (depth 0) first. `level[k]` is the k-th node (old
        // number) of the elimination.
        let mut level: Vec<usize> = (0..n_nodes).collect();
        if order_kind != NodeOrder::Neuron {
            let mut depth = vec![0u32; n_nodes];
            for i in roots.len()..n_nodes {
                depth[i] = depth[parent[i] as usize] + 1;
            }
            level.sort_by_key(|&i| depth[i]);
        }
        let perm = match order_kind {
            NodeOrder::Sections => section_order(roots.len(), &parent, &node_kind, &level),
            _ => level.clone(),
        };
        let mut new_of = vec![0 as NodeId; n_nodes];
        for (new, &old) in perm.iter().enumerate() {
            new_of[old] = new as NodeId;
        }
        let remap = |v: &[f64]| -> Vec<f64> { perm.iter().map(|&old| v[old]).collect() };
        let mut tree = CableTree {
            n_roots: roots.len(),
            parent: perm
                .iter()
                .map(|&old| match parent[old] {
                    NO_PARENT => NO_PARENT,
                    p => new_of[p as usize],
                })
                .collect(),
            a: vec![0.0; n_nodes],
            b: vec![0.0; n_nodes],
            area_um2: remap(&area_um2),
            cm_uf_cm2: remap(&cm_uf_cm2),
            node_section: perm.iter().map(|&old| node_section[old]).collect(),
            node_kind: perm.iter().map(|&old| node_kind[old]).collect(),
            sections: Vec::with_capacity(nsec),
            seg_nodes: Vec::with_capacity(n_nodes),
            elim: Elimination::default(),
            rank: Vec::new(),
        };
        for (s, sec) in geom.sections.iter().enumerate() {
            let nseg = sec.nseg as u32;
            tree.sections.push(SectionNodes {
                name: sec.name.clone(),
                nseg,
                zero_end: new_of[zero_end[s] as usize],
                one_end: new_of[(first[s] + nseg) as usize],
                seg_offset: tree.seg_nodes.len(),
            });
            tree.seg_nodes
                .extend((first[s]..first[s] + nseg).map(|old| new_of[old as usize]));
        }
        let ri_mohm = remap(&ri_mohm);
        for (i, &ri) in ri_mohm.iter().enumerate().skip(tree.n_roots) {
            let p = tree.parent[i] as usize;
            // Same expression shape as NEURON's connection_coef (rallbranch = 1).
            let rinv_us = 1.0 / ri;
            tree.a[i] = -1.0e2 * rinv_us / tree.area_um2[p];
            tree.b[i] = -1.0e2 * rinv_us / tree.area_um2[i];
        }
        let order: Vec<NodeId> = level[tree.n_roots..]
            .iter()
            .map(|&old| new_of[old])
            .collect();
        tree.elim = Elimination::new(tree.n_roots, &order, &tree.parent, &tree.a, &tree.b);
        tree.rank = vec![0; n_nodes];
        for (k, &old) in level.iter().enumerate() {
            tree.rank[new_of[old] as usize] = k as u32;
        }
        Ok(tree)
    }

    /// NEURON's `node_exact`: the node at position `x` of `section` (0-end node for `x ≤ 0`,
    /// 1-end node for `x ≥ 1`, else the segment containing `x`).
    ///
    /// Panics if `section` is out of range; use [`CableTree::location`] for checked input.
    pub fn node_at(&self, section: usize, x: f64) -> NodeId {
        let sn = &self.sections[section];
        if x <= 0.0 {
            sn.zero_end
        } else if x >= 1.0 {
            sn.one_end
        } else {
            self.seg_nodes[sn.seg_offset + segment_index(sn.nseg, x) as usize]
        }
    }

    /// Checked [`CableTree::node_at`]: errors on an unknown section or `x` outside `[0, 1]`.
    pub fn location(&self, section: usize, x: f64) -> Result<NodeId, SimError> {
        if section >= self.sections.len() {
            return Err(SimError::InvalidLocation {
                section,
                x,
                message: format!("the cell has {} sections", self.sections.len()),
            });
        }
        if !(0.0..=1.0).contains(&x) {
            return Err(SimError::InvalidLocation {
                section,
                x,
                message: "position must lie in [0, 1]".into(),
            });
        }
        Ok(self.node_at(section, x))
    }

    /// Node of segment `seg` of `section`.
    pub fn segment_node(&self, section: usize, seg: usize) -> NodeId {
        let sn = &self.sections[section];
        assert!(seg < sn.nseg as usize, "segment index out of range");
        self.seg_nodes[sn.seg_offset + seg]
    }

    /// All segment (non-zero-area) nodes, section by section in section-index order.
    pub fn segment_nodes(&self) -> impl Iterator<Item = NodeId> + '_ {
        self.seg_nodes.iter().copied()
    }

    /// Number of nodes, including zero-area end nodes.
    pub fn n_nodes(&self) -> usize {
        self.parent.len()
    }

    /// Number of roots; nodes `0..n_roots` are root 0-end nodes without parent.
    pub fn n_roots(&self) -> usize {
        self.n_roots
    }

    /// Number of segments (compartments with membrane).
    pub fn n_segments(&self) -> usize {
        self.sections.iter().map(|s| s.nseg as usize).sum()
    }

    /// Parent node of each node ([`NO_PARENT`] for roots).
    pub fn parent(&self) -> &[NodeId] {
        &self.parent
    }

    /// The order the Hines solve eliminates the non-root nodes in (and the axial pass walks
    /// them), with their parents and coefficients (see the module docs on ordering).
    pub fn elimination(&self) -> &Elimination {
        &self.elim
    }

    /// Position of `node` in the elimination order (roots first): where a search for the
    /// first failing node looks first.
    pub fn rank(&self, node: NodeId) -> u32 {
        self.rank[node as usize]
    }

    /// Coupling of each node into its parent's row, S/cm² (NEURON's `NODEA`).
    pub fn a(&self) -> &[f64] {
        &self.a
    }

    /// Coupling of the parent into each node's row, S/cm² (NEURON's `NODEB`).
    pub fn b(&self) -> &[f64] {
        &self.b
    }

    /// Membrane area per node in µm² (1e2 for zero-area end nodes, as in NEURON).
    pub fn area_um2(&self) -> &[f64] {
        &self.area_um2
    }

    /// Specific capacitance per node in µF/cm² (0 for end nodes).
    pub fn cm_uf_cm2(&self) -> &[f64] {
        &self.cm_uf_cm2
    }

    /// Override the specific capacitance of every segment of `section` (e.g. spine correction).
    pub fn set_section_cm(&mut self, section: usize, cm_uf_cm2: f64) {
        let sn = &self.sections[section];
        for &i in &self.seg_nodes[sn.seg_offset..sn.seg_offset + sn.nseg as usize] {
            self.cm_uf_cm2[i as usize] = cm_uf_cm2;
        }
    }

    /// Segment nodes of `section`, from its 0-end to its 1-end.
    pub fn section_segment_nodes(&self, section: usize) -> &[NodeId] {
        let sn = &self.sections[section];
        &self.seg_nodes[sn.seg_offset..sn.seg_offset + sn.nseg as usize]
    }

    /// Per-section node ends, in section-index order.
    pub fn sections(&self) -> &[SectionNodes] {
        &self.sections
    }

    /// Section index and role of a node.
    pub fn describe(&self, node: NodeId) -> (usize, NodeKind) {
        (
            self.node_section[node as usize] as usize,
            self.node_kind[node as usize],
        )
    }

    /// Position (section fraction) of a node within its section.
    pub fn node_x(&self, node: NodeId) -> f64 {
        let (s, kind) = self.describe(node);
        match kind {
            NodeKind::RootEnd => 0.0,
            NodeKind::OneEnd => 1.0,
            NodeKind::Segment(k) => (f64::from(k) + 0.5) / f64::from(self.sections[s].nseg),
        }
    }

    /// Human-readable location, e.g. `dend_1_0(0.1667)`.
    pub fn node_label(&self, node: NodeId) -> String {
        let (s, _) = self.describe(node);
        format!("{}({:.4})", self.sections[s].name, self.node_x(node))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::morph::cell::SectionGeometry;

    fn sec(name: &str, parent: Option<usize>, parent_x: f64, nseg: usize) -> SectionGeometry {
        SectionGeometry {
            name: name.into(),
            label: "Dendrite".into(),
            parent,
            parent_x,
            length_um: 10.0 * nseg as f64,
            ra_ohm_cm: 100.0,
            cm_uf_cm2: 1.0,
            n_pt3d: 2,
            nseg,
            seg_x: (0..nseg).map(|i| (i as f64 + 0.5) / nseg as f64).collect(),
            seg_diam_um: vec![1.0; nseg],
            seg_area_um2: vec![10.0; nseg],
            seg_ri_mohm: vec![2.0; nseg],
            end_ri_mohm: 1.0,
            seg_dist_um: vec![0.0; nseg],
        }
    }

    #[test]
    fn segment_index_follows_neuron() {
        assert_eq!(segment_index(1, 0.5), 0);
        assert_eq!(segment_index(2, 0.5), 1); // boundary goes to the 1-side segment
        assert_eq!(segment_index(3, 0.5), 1);
        assert_eq!(segment_index(35, 0.99975085), 34);
        assert_eq!(segment_index(5, 1.0), 4);
        assert_eq!(segment_index(5, 1e-12), 0);
    }

    #[test]
    fn layout_and_attachment() {
        let geom = CellGeometry {
            sections: vec![
                sec("soma", None, 0.0, 1),
                sec("d1", Some(0), 0.5, 3),
                sec("d2", Some(1), 1.0, 2),
                sec("d3", Some(1), 0.0, 1), // attaches where d1's 0-end sits: soma(0.5)
                sec("d4", Some(1), 0.5, 1),
            ],
        };
        for order in [NodeOrder::Neuron, NodeOrder::Level, NodeOrder::Sections] {
            check_layout(&CableTree::from_geometry_ordered(&geom, order).unwrap());
        }
        // Sections: each section's segments contiguous, every segment before every end node,
        // and the same elimination as the level order, node for node (hence the same bits).
        let (lv, sc) = (
            CableTree::from_geometry_ordered(&geom, NodeOrder::Level).unwrap(),
            CableTree::from_geometry_ordered(&geom, NodeOrder::Sections).unwrap(),
        );
        for s in 0..geom.sections.len() {
            let nodes = sc.section_segment_nodes(s);
            assert!(nodes.windows(2).all(|w| w[1] == w[0] + 1), "{s}: {nodes:?}");
        }
        let n_seg = sc.n_segments() as u32;
        for node in 0..sc.n_nodes() as u32 {
            let segment = matches!(sc.describe(node).1, NodeKind::Segment(_));
            assert_eq!(segment, (1..=n_seg).contains(&node), "node {node}");
        }
        let (el, es) = (lv.elimination(), sc.elimination());
        assert_eq!((el.a.clone(), el.b.clone()), (es.a.clone(), es.b.clone()));
        for k in 0..el.len() {
            let label = |t: &CableTree, n: u32| t.node_label(n);
            assert_eq!(label(&lv, el.node[k]), label(&sc, es.node[k]));
            assert_eq!(label(&lv, el.parent[k]), label(&sc, es.parent[k]));
            assert_eq!(lv.rank(el.node[k]), sc.rank(es.node[k]));
        }
        assert!(
            (0..sc.n_nodes()).any(|i| sc.parent()[i] != NO_PARENT && sc.parent()[i] as usize > i)
        );
    }

    fn check_layout(t: &CableTree) {
        assert_eq!(t.n_roots(), 1);
        assert_eq!(t.n_nodes(), 1 + 2 + 4 + 3 + 2 + 2);
        // Every node is eliminated once, after its parent.
        let e = t.elimination();
        assert_eq!(e.len(), t.n_nodes() - 1);
        for k in 0..e.len() {
            assert_eq!(e.parent[k], t.parent()[e.node[k] as usize]);
            assert!(t.rank(e.parent[k]) < t.rank(e.node[k]));
        }
        let soma_seg = t.segment_node(0, 0);
        assert_eq!(soma_seg, 1);
        assert_eq!(t.parent()[soma_seg as usize], 0);
        assert_eq!(t.node_at(0, 0.0), 0);
        // d1's first segment hangs on the soma centre node.
        assert_eq!(t.parent()[t.segment_node(1, 0) as usize], soma_seg);
        // d2 on d1's 1-end node.
        let d1_end = t.node_at(1, 1.0);
        assert_eq!(t.parent()[t.segment_node(2, 0) as usize], d1_end);
        // d3 at d1(0) → soma(0.5) node.
        assert_eq!(t.parent()[t.segment_node(3, 0) as usize], soma_seg);
        // d4 at d1(0.5) → middle segment of d1.
        assert_eq!(
            t.parent()[t.segment_node(4, 0) as usize],
            t.segment_node(1, 1)
        );
        // Coefficients: a uses the parent's area, b the node's own.
        let i = t.segment_node(1, 1) as usize;
        assert!((t.a()[i] - (-1e2 / 2.0 / 10.0)).abs() < 1e-15);
        let e = d1_end as usize;
        assert!((t.b()[e] - (-1e2 / 1.0 / 100.0)).abs() < 1e-15);
        assert_eq!(t.node_label(d1_end), "d1(1.0000)");
    }

    #[test]
    fn rejects_cycles_and_bad_values() {
        let mut g = CellGeometry {
            sections: vec![sec("a", Some(1), 1.0, 1), sec("b", Some(0), 1.0, 1)],
        };
        assert!(CableTree::from_geometry(&g).is_err());
        g.sections[0].parent = None;
        assert!(CableTree::from_geometry(&g).is_ok());
        g.sections[1].seg_area_um2[0] = 0.0;
        assert!(CableTree::from_geometry(&g).is_err());
    }
}
