//! Spatial discretization: the number of compartments (nseg) of every section.
//!
//! The default is ISF's rule (spec 02 §2.4): a d-lambda rule at `f` = 100 Hz that samples a
//! single diameter (the middle 3-D point's) instead of NEURON's length-weighted λ, applied
//! per section with the section's own Ra and cm, and keeping the preset nseg of subtrees
//! whose soma-child root is labelled `AIS`, `Myelin` or `Node` (the generated axon). Users
//! may instead choose a fixed nseg, a maximum compartment length, or NEURON's standard
//! d-lambda rule (`geom_nseg`); these user rules apply to every section, generated axon
//! included.

use super::{Label, Morphology, PassiveSource, Section, arcs};
use serde::{Deserialize, Serialize};

/// How to choose nseg.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "rule", rename_all = "snake_case")]
pub enum Discretization {
    /// ISF's rule (spec 02 §2.4): `nseg = 2·⌊(L/(0.1·λ_f) + 0.5)/2⌋ + 1` with
    /// `λ_f = 1e5·sqrt(d/(4π·f·Ra·cm))` µm, d = middle 3-D point diameter; then, if
    /// `max_seg_length_um` is set and `L/nseg` exceeds it, `nseg = ⌈L/max⌉` (may be even).
    Isf {
        /// Frequency for λ, Hz (ISF default 100).
        #[serde(default = "default_f")]
        f_hz: f64,
        /// Optional upper bound on the compartment length, µm.
        #[serde(default)]
        max_seg_length_um: Option<f64>,
    },
    /// The same nseg for every section.
    Fixed {
        /// Number of compartments per section (≥ 1).
        nseg: usize,
    },
    /// The smallest odd nseg whose compartments are at most `max_um` long.
    MaxSegLength {
        /// Maximum compartment length, µm.
        max_um: f64,
    },
    /// NEURON's `geom_nseg` d-lambda rule with the length-weighted λ over all 3-D points:
    /// `nseg = 2·⌊(L/(d_lambda·λ_f) + 0.9)/2⌋ + 1`.
    NeuronDLambda {
        /// Fraction of λ per compartment (NEURON default 0.1).
        #[serde(default = "default_d_lambda")]
        d_lambda: f64,
        /// Frequency, Hz (NEURON default 100).
        #[serde(default = "default_f")]
        f_hz: f64,
    },
}

fn default_f() -> f64 {
    100.0
}

fn default_d_lambda() -> f64 {
    0.1
}

impl Default for Discretization {
    /// ISF's rule at 100 Hz without a length cap.
    fn default() -> Discretization {
        Discretization::Isf {
            f_hz: 100.0,
            max_seg_length_um: None,
        }
    }
}

impl Discretization {
    /// Check the rule's parameters; returns a message for invalid ones.
    pub fn validate(&self) -> Result<(), String> {
        let pos = |v: f64, what: &str| {
            if v > 0.0 && v.is_finite() {
                Ok(())
            } else {
                Err(format!("{what} must be a positive number, got {v}"))
            }
        };
        match self {
            Discretization::Isf {
                f_hz,
                max_seg_length_um,
            } => {
                pos(*f_hz, "f")?;
                if let Some(m) = max_seg_length_um {
                    pos(*m, "max_seg_length")?;
                }
                Ok(())
            }
            Discretization::Fixed { nseg } => {
                if *nseg >= 1 {
                    Ok(())
                } else {
                    Err("nseg must be at least 1".to_string())
                }
            }
            Discretization::MaxSegLength { max_um } => pos(*max_um, "max segment length"),
            Discretization::NeuronDLambda { d_lambda, f_hz } => {
                pos(*d_lambda, "d_lambda")?;
                pos(*f_hz, "f")
            }
        }
    }
}

/// λ at frequency `f_hz` for diameter `d_um`, Ra (Ω·cm), cm (µF/cm²), in µm.
pub fn lambda_f_um(d_um: f64, f_hz: f64, ra: f64, cm: f64) -> f64 {
    1e5 * (d_um / (4.0 * std::f64::consts::PI * f_hz * ra * cm)).sqrt()
}

/// ISF's nseg for one section (before any `max_seg_length` cap).
pub fn isf_nseg(length_um: f64, middle_diam_um: f64, f_hz: f64, ra: f64, cm: f64) -> usize {
    let lam = lambda_f_um(middle_diam_um, f_hz, ra, cm);
    odd_from(((length_um / (0.1 * lam) + 0.5) / 2.0).floor())
}

/// `2·k + 1` for a non-negative float k; non-finite or negative k gives 1.
fn odd_from(k: f64) -> usize {
    if k.is_finite() && k >= 0.0 {
        // Cap absurd values (e.g. a 1e-300 µm diameter) instead of overflowing.
        2 * (k.min(1e7) as usize) + 1
    } else {
        1
    }
}

/// NEURON's length-weighted `lambda_f` (fixnseg.hoc), µm.
fn neuron_lambda_f(sec: &Section, f_hz: f64, ra: f64, cm: f64) -> f64 {
    let arc = arcs(&sec.points);
    let l = arc.last().copied().unwrap_or(0.0);
    let mut lam = 0.0;
    for i in 1..sec.points.len() {
        let d1 = f64::from(sec.points[i - 1].d as f32);
        let d2 = f64::from(sec.points[i].d as f32);
        lam += (arc[i] - arc[i - 1]) / (d1 + d2).sqrt();
    }
    lam *= 2f64.sqrt() * 1e-5 * (4.0 * std::f64::consts::PI * f_hz * ra * cm).sqrt();
    l / lam
}

/// nseg of every section of `morph` under `rule`, with per-section Ra and cm from `passive`.
/// Always ≥ 1 per section.
pub fn discretize(
    morph: &Morphology,
    rule: &Discretization,
    passive: &impl PassiveSource,
) -> Vec<usize> {
    let roots = morph.subtree_roots();
    morph
        .sections
        .iter()
        .enumerate()
        .map(|(i, sec)| {
            let p = passive.passive(i, sec);
            let l = sec.length_um();
            let n = match rule {
                Discretization::Isf {
                    f_hz,
                    max_seg_length_um,
                } => {
                    let root_label = morph.sections.get(roots[i]).map(|s| s.label);
                    let keep = matches!(
                        root_label,
                        Some(Label::AIS) | Some(Label::Myelin) | Some(Label::Node)
                    );
                    match (keep, sec.preset_nseg) {
                        (true, Some(n)) => n,
                        (true, None) => 1, // NEURON's default for a section without preset
                        (false, _) => {
                            let mut n =
                                isf_nseg(l, sec.middle_diam_um(), *f_hz, p.ra_ohm_cm, p.cm_uf_cm2);
                            if let Some(m) = max_seg_length_um
                                && l / n as f64 > *m
                            {
                                n = (l / m).ceil().min(1e7) as usize;
                            }
                            n
                        }
                    }
                }
                Discretization::Fixed { nseg } => *nseg,
                Discretization::MaxSegLength { max_um } => {
                    let k = (l / max_um).ceil();
                    // smallest odd n with n ≥ L/max: odd so that x = 0.5 is a node
                    let k = if k.is_finite() {
                        k.clamp(1.0, 2e7) as usize
                    } else {
                        1
                    };
                    if k % 2 == 0 { k + 1 } else { k }
                }
                Discretization::NeuronDLambda { d_lambda, f_hz } => {
                    let lam = neuron_lambda_f(sec, *f_hz, p.ra_ohm_cm, p.cm_uf_cm2);
                    odd_from(((l / (d_lambda * lam) + 0.9) / 2.0).floor())
                }
            };
            n.max(1)
        })
        .collect()
}

/// The total number of compartments of `nseg` (saturating), checked against the compartment
/// limit ([`crate::rules::compartments`], E0418) before anything is allocated per compartment.
pub fn total_compartments(nseg: &[usize]) -> Result<u64, crate::rules::Broken> {
    crate::rules::compartments(nseg.iter().fold(0u64, |a, &n| a.saturating_add(n as u64)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn section_38_example() {
        // spec 02 §2.4: L = 693 µm, d = 1.02 µm, Ra 100, cm 2 → nseg 35
        assert_eq!(isf_nseg(693.0, 1.02, 100.0, 100.0, 2.0), 35);
    }

    #[test]
    fn serde_roundtrip() {
        let r = Discretization::NeuronDLambda {
            d_lambda: 0.1,
            f_hz: 100.0,
        };
        let j = serde_json::to_string(&r).expect("serialize");
        assert!(j.contains("neuron_d_lambda"));
        let back: Discretization = serde_json::from_str(&j).expect("deserialize");
        assert_eq!(back, r);
        let isf: Discretization = serde_json::from_str(r#"{"rule":"isf"}"#).expect("defaults");
        assert_eq!(isf, Discretization::default());
    }
}
