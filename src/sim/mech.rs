//! The mechanism interface of the solver and the two built-in mechanisms (`pas`, `IClamp`).
//!
//! A mechanism contributes, per step and per node it lives on, a current to the right-hand side
//! and a conductance `di/dv` to the diagonal of the backward-Euler system, then advances its own
//! states with the newly computed voltage. This is NEURON's split into `nrn_cur`/`nrn_jacob`
//! (BREAKPOINT) and `nrn_state` (SOLVE … METHOD cnexp), called at the same points of the step:
//!
//! 1. [`Mechanism::current`] at `t_n + dt/2` with the voltages `v_n`;
//! 2. the cable system is solved and `v_{n+1} = v_n + Δv`;
//! 3. [`Mechanism::advance`] with `v_{n+1}` and `t = t_{n+1}`.
//!
//! Units on the solver side (NEURON's): `rhs` in mA/cm² (net *inward* current density: density
//! mechanisms subtract their outward current `i`), `d` in S/cm² = mA/(cm²·mV) (density
//! mechanisms add `di/dv`). A point process with current `I` in nA at a node of area `A` µm²
//! contributes the density `I·1e2/A` mA/cm² (1 nA/µm² = 1e2 mA/cm²).
//!
//! Kernels must not allocate in `current`/`advance`: those run every step.

use crate::sim::error::SimError;
use crate::sim::tree::NodeId;

/// What a mechanism sees when it adds its currents (step from `t_n` to `t_n + dt`).
pub struct CurrentCtx<'a> {
    /// Evaluation time, `t_n + dt/2` ms (NEURON evaluates BREAKPOINT at the half step).
    pub t_ms: f64,
    /// Time step, ms.
    pub dt_ms: f64,
    /// Membrane voltages `v_n` of all nodes, mV.
    pub v_mv: &'a [f64],
    /// Node areas, µm² (1e2 for zero-area end nodes).
    pub area_um2: &'a [f64],
    /// Right-hand side, mA/cm²: subtract outward current density, add electrode current.
    pub rhs: &'a mut [f64],
    /// Diagonal, S/cm²: add the membrane conductance `di/dv`.
    pub d: &'a mut [f64],
}

/// What a mechanism sees when it initialises or advances its states.
pub struct StateCtx<'a> {
    /// Time after the update, ms (`t_{n+1}`; 0 at initialisation).
    pub t_ms: f64,
    /// Time step, ms.
    pub dt_ms: f64,
    /// Membrane voltages of all nodes, mV (`v_{n+1}` when advancing, `v_init` at init).
    pub v_mv: &'a [f64],
}

/// A membrane mechanism (density or point process) the solver drives.
///
/// This is the extension point for the compiled/interpreted mechanism kernels: one instance
/// holds the columns of all its instances (structure of arrays) and a node-index column.
pub trait Mechanism: Send {
    /// Name for diagnostics (e.g. `pas`).
    fn name(&self) -> &str;

    /// Largest node index used, to validate against the tree (`None` if it uses no node).
    fn max_node(&self) -> Option<NodeId>;

    /// Set states at `v_init` (NEURON's INITIAL block). Default: nothing.
    fn init(&mut self, _cx: &StateCtx<'_>) {}

    /// Add this mechanism's current to `rhs` and its conductance to `d`.
    fn current(&mut self, cx: &mut CurrentCtx<'_>);

    /// Advance states over one step with the new voltage. Default: nothing (stateless).
    fn advance(&mut self, _cx: &StateCtx<'_>) {}
}

/// NEURON's passive leak: `i = g·(v − e)` mA/cm², `di/dv = g`.
#[derive(Clone, Debug)]
pub struct Pas {
    node: Vec<NodeId>,
    g_s_cm2: Vec<f64>,
    e_mv: Vec<f64>,
}

impl Pas {
    /// One instance per listed node, with conductance density `g_s_cm2[k]` (S/cm²) and
    /// reversal `e_mv[k]` (mV). Errors if the columns differ in length or hold non-finite
    /// values.
    pub fn new(node: Vec<NodeId>, g_s_cm2: Vec<f64>, e_mv: Vec<f64>) -> Result<Pas, SimError> {
        if node.len() != g_s_cm2.len() || node.len() != e_mv.len() {
            return Err(SimError::InvalidSetting {
                message: "pas: node, g and e columns differ in length".into(),
            });
        }
        if g_s_cm2.iter().chain(&e_mv).any(|x| !x.is_finite()) {
            return Err(SimError::InvalidSetting {
                message: "pas: non-finite g or e".into(),
            });
        }
        Ok(Pas {
            node,
            g_s_cm2,
            e_mv,
        })
    }

    /// The same `g`, `e` on every listed node.
    pub fn uniform(node: Vec<NodeId>, g_s_cm2: f64, e_mv: f64) -> Result<Pas, SimError> {
        let n = node.len();
        Pas::new(node, vec![g_s_cm2; n], vec![e_mv; n])
    }
}

impl Mechanism for Pas {
    fn name(&self) -> &str {
        "pas"
    }

    fn max_node(&self) -> Option<NodeId> {
        self.node.iter().copied().max()
    }

    fn current(&mut self, cx: &mut CurrentCtx<'_>) {
        for ((&n, &g), &e) in self.node.iter().zip(&self.g_s_cm2).zip(&self.e_mv) {
            let n = n as usize;
            cx.rhs[n] -= g * (cx.v_mv[n] - e);
            cx.d[n] += g;
        }
    }
}

/// NEURON's current clamp: `amp` nA into the node while `delay ≤ t < delay + dur`, `t` being
/// the half-step evaluation time. Positive `amp` depolarises (electrode current).
#[derive(Clone, Debug)]
pub struct IClamp {
    /// Node the electrode is in.
    pub node: NodeId,
    /// Onset, ms.
    pub delay_ms: f64,
    /// Duration, ms.
    pub dur_ms: f64,
    /// Amplitude, nA.
    pub amp_na: f64,
}

impl IClamp {
    /// The electrode current at time `t_ms`, nA (NEURON's BREAKPOINT of IClamp).
    pub fn current_na(&self, t_ms: f64) -> f64 {
        if t_ms < self.delay_ms + self.dur_ms && t_ms >= self.delay_ms {
            self.amp_na
        } else {
            0.0
        }
    }
}

impl Mechanism for IClamp {
    fn name(&self) -> &str {
        "IClamp"
    }

    fn max_node(&self) -> Option<NodeId> {
        Some(self.node)
    }

    fn current(&mut self, cx: &mut CurrentCtx<'_>) {
        let n = self.node as usize;
        // nA → mA/cm² via NEURON's mfactor 1e2/area.
        cx.rhs[n] += self.current_na(cx.t_ms) * (1.0e2 / cx.area_um2[n]);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn iclamp_window_is_half_open() {
        let c = IClamp {
            node: 0,
            delay_ms: 1.0,
            dur_ms: 2.0,
            amp_na: 0.5,
        };
        assert_eq!(c.current_na(0.9999), 0.0);
        assert_eq!(c.current_na(1.0), 0.5);
        assert_eq!(c.current_na(2.9999), 0.5);
        assert_eq!(c.current_na(3.0), 0.0);
    }

    #[test]
    fn pas_rejects_mismatched_columns() {
        assert!(Pas::new(vec![0, 1], vec![1e-4], vec![-70.0]).is_err());
        assert!(Pas::uniform(vec![0, 1], 1e-4, -70.0).is_ok());
    }
}
