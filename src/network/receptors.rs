//! The one table of receptor mechanisms: the `.isf` receptor names (`glutamate`, `gaba`,
//! `exp2syn`), the ISF mechanisms they stand for (`glutamate_syn`, `gaba_syn`, `exp2syn`), the
//! mechanisms an ISF network `.param` may name (also `ProbAMPANMDA2`, `ProbUDFsyn2`), their
//! parameters on both sides, and whether a receptor excites or inhibits.
//!
//! Both ways into a typed [`super::Network`] read it: the `.isf` path
//! ([`super::lower::from_model`], the checker, the sweep schema) and the `.param` path
//! ([`crate::interop::network_param`], [`crate::interop::to_isf`]). Keeping one table keeps the
//! two paths from disagreeing; they used to classify a mechanism named `GABA_syn`
//! differently (one lower-cased the name, the other did not).
//!
//! The table lives in the network layer because a receptor is part of a typed network; it sits
//! below the checker, which reads the `.isf` names and parameter dimensions from here.

use crate::units::Dim;

/// `(isf parameter, [ISF mechanism parameters])`: where an `.isf` receptor parameter goes.
pub type ParamMap = &'static [(&'static str, &'static [&'static str])];

/// Whether a receptor excites or inhibits its cell.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReceptorKind {
    /// Excitatory (glutamatergic and every mechanism not named GABA-ergic).
    Excitatory,
    /// Inhibitory (GABA-ergic).
    Inhibitory,
}

/// One receptor mechanism.
#[derive(Debug)]
pub struct ReceptorSpec {
    /// The `.isf` receptor block name (`receptor glutamate { … }`), if the language has one.
    pub name: Option<&'static str>,
    /// The ISF mechanism (`glutamate_syn`), as network `.param` files and the stdlib name it.
    pub mechanism: &'static str,
    /// Excitatory or inhibitory.
    pub kind: ReceptorKind,
    /// The parameters of the `.isf` receptor block with their dimensions (empty without a
    /// name).
    pub params: &'static [(&'static str, Dim)],
    /// Where the `.isf` parameters go among the mechanism's own (weights and `mg` are mapped
    /// by the lowering itself).
    pub param_map: ParamMap,
    /// The parameters an ISF network `.param` may give, `None` if `.param` files cannot name
    /// the mechanism.
    pub file_params: Option<&'static [&'static str]>,
    /// Draws its own release (`releaseProb: "dynamic"` needs one).
    pub stochastic: bool,
    /// Parameters whose mod-file unit is not the canonical one: (parameter, factor to the
    /// canonical unit). ProbAMPANMDA2/ProbUDFsyn2 take `gmax` in µS; isf's conductances are in
    /// nS. Every other receptor parameter is in ms, mV, mM, nS or 1 in both.
    pub mod_file_units: &'static [(&'static str, f64)],
}

/// Every receptor mechanism (spec 03 §3.6, spec 04).
pub const RECEPTORS: &[ReceptorSpec] = &[
    ReceptorSpec {
        name: Some("glutamate"),
        mechanism: "glutamate_syn",
        kind: ReceptorKind::Excitatory,
        params: &[
            ("weight_ampa", Dim::CONDUCTANCE),
            ("weight_nmda", Dim::CONDUCTANCE),
            ("tau_ampa_rise", Dim::TIME),
            ("tau_ampa_decay", Dim::TIME),
            ("tau_nmda_rise", Dim::TIME),
            ("tau_nmda_decay", Dim::TIME),
            ("e", Dim::VOLTAGE),
            ("mg", Dim::CONCENTRATION),
            ("facilitation", Dim::ONE),
            ("tau_facilitation", Dim::TIME),
            ("depression", Dim::ONE),
            ("tau_depression", Dim::TIME),
        ],
        param_map: &[
            ("tau_nmda_decay", &["tau1"]),
            ("tau_nmda_rise", &["tau2"]),
            ("tau_ampa_decay", &["tau3"]),
            ("tau_ampa_rise", &["tau4"]),
            ("e", &["e"]),
            ("depression", &["decayampa", "decaynmda"]),
            ("tau_depression", &["taudampa", "taudnmda"]),
            ("facilitation", &["facilampa", "facilnmda"]),
            ("tau_facilitation", &["taufampa", "taufnmda"]),
        ],
        file_params: Some(&[
            "tau1",
            "tau2",
            "tau3",
            "tau4",
            "e",
            "n",
            "gama",
            "decayampa",
            "decaynmda",
            "taudampa",
            "taudnmda",
            "facilampa",
            "facilnmda",
            "taufampa",
            "taufnmda",
            "tau_ampa",
        ]),
        stochastic: false,
        mod_file_units: &[],
    },
    ReceptorSpec {
        name: Some("gaba"),
        mechanism: "gaba_syn",
        kind: ReceptorKind::Inhibitory,
        params: &[
            ("weight", Dim::CONDUCTANCE),
            ("tau_rise", Dim::TIME),
            ("tau_decay", Dim::TIME),
            ("e", Dim::VOLTAGE),
            ("facilitation", Dim::ONE),
            ("tau_facilitation", Dim::TIME),
            ("depression", Dim::ONE),
            ("tau_depression", Dim::TIME),
        ],
        param_map: &[
            ("tau_rise", &["risetime"]),
            ("tau_decay", &["decaytime"]),
            ("e", &["e"]),
            ("depression", &["decaygaba"]),
            ("tau_depression", &["taudgaba"]),
            ("facilitation", &["facilgaba"]),
            ("tau_facilitation", &["taufgaba"]),
        ],
        file_params: Some(&[
            "e",
            "risetime",
            "decaytime",
            "decaygaba",
            "taudgaba",
            "facilgaba",
            "taufgaba",
        ]),
        stochastic: false,
        mod_file_units: &[],
    },
    ReceptorSpec {
        name: Some("exp2syn"),
        mechanism: "exp2syn",
        kind: ReceptorKind::Excitatory,
        params: &[
            ("weight", Dim::CONDUCTANCE),
            ("tau_rise", Dim::TIME),
            ("tau_decay", Dim::TIME),
            ("e", Dim::VOLTAGE),
        ],
        param_map: &[
            ("tau_rise", &["tau1"]),
            ("tau_decay", &["tau2"]),
            ("e", &["e"]),
        ],
        file_params: None,
        stochastic: false,
        mod_file_units: &[],
    },
    ReceptorSpec {
        name: None,
        mechanism: "ProbAMPANMDA2",
        kind: ReceptorKind::Excitatory,
        params: &[],
        param_map: &[],
        file_params: Some(&[
            "tau_r_AMPA",
            "tau_d_AMPA",
            "tau_r_NMDA",
            "tau_d_NMDA",
            "Use",
            "Dep",
            "Fac",
            "e",
            "mg",
            "gmax",
            "u0",
        ]),
        stochastic: true,
        mod_file_units: &[("gmax", 1e3)],
    },
    ReceptorSpec {
        name: None,
        mechanism: "ProbUDFsyn2",
        kind: ReceptorKind::Excitatory,
        params: &[],
        param_map: &[],
        file_params: Some(&["tau_r", "tau_d", "Use", "Dep", "Fac", "e", "gmax", "u0"]),
        stochastic: true,
        mod_file_units: &[("gmax", 1e3)],
    },
];

/// The receptor of an `.isf` receptor block name (`glutamate`).
pub fn by_name(name: &str) -> Option<&'static ReceptorSpec> {
    RECEPTORS.iter().find(|r| r.name == Some(name))
}

/// The receptor of an ISF mechanism name (`glutamate_syn`), spelled exactly.
pub fn by_mechanism(mechanism: &str) -> Option<&'static ReceptorSpec> {
    RECEPTORS.iter().find(|r| r.mechanism == mechanism)
}

/// The `.isf` receptor block names, in table order.
pub fn names() -> impl Iterator<Item = &'static str> {
    RECEPTORS.iter().filter_map(|r| r.name)
}

/// Whether a receptor mechanism excites or inhibits: the table's kind when the mechanism is in
/// it (compared without case), else GABA-ergic by name (`gaba` anywhere in the name, any case)
/// for synapse mechanisms declared in the language. This is the one rule of both the `.isf`
/// and the `.param` path.
pub fn kind(mechanism: &str) -> ReceptorKind {
    if let Some(r) = RECEPTORS
        .iter()
        .find(|r| r.mechanism.eq_ignore_ascii_case(mechanism))
    {
        return r.kind;
    }
    if mechanism.to_ascii_lowercase().contains("gaba") {
        ReceptorKind::Inhibitory
    } else {
        ReceptorKind::Excitatory
    }
}

/// `true` when [`kind`] is excitatory.
pub fn is_excitatory(mechanism: &str) -> bool {
    kind(mechanism) == ReceptorKind::Excitatory
}

/// Whether a population without an explicit `excitatory:` excites: its cell type's answer
/// ([`super::types::cell_type_excitatory`]), else its first receptor's [`kind`], else unknown.
/// Both the `.isf` lowering and the `.param` reader decide through this one function.
pub fn population_excitatory(cell_type: &str, receptors: &[super::Receptor]) -> Option<bool> {
    super::types::cell_type_excitatory(cell_type)
        .or_else(|| receptors.first().map(|r| is_excitatory(&r.mechanism)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kind_ignores_case_and_follows_the_name_for_unknown_mechanisms() {
        for m in ["gaba_syn", "GABA_syn", "Gaba_Syn", "myGABAa", "gabaB"] {
            assert_eq!(kind(m), ReceptorKind::Inhibitory, "{m}");
        }
        for m in [
            "glutamate_syn",
            "ProbAMPANMDA2",
            "ProbUDFsyn2",
            "exp2syn",
            "ampa_only",
        ] {
            assert_eq!(kind(m), ReceptorKind::Excitatory, "{m}");
        }
    }

    #[test]
    fn the_table_agrees_with_the_name_rule() {
        // A table entry whose kind contradicted its name would make the table and the rule for
        // declared mechanisms two different answers for similar names.
        for r in RECEPTORS {
            let by_name = r.mechanism.to_ascii_lowercase().contains("gaba");
            assert_eq!(
                r.kind == ReceptorKind::Inhibitory,
                by_name,
                "{}",
                r.mechanism
            );
        }
    }

    #[test]
    fn names_and_mechanisms_are_unique() {
        for (i, a) in RECEPTORS.iter().enumerate() {
            for b in &RECEPTORS[i + 1..] {
                assert_ne!(a.mechanism, b.mechanism);
                assert!(a.name.is_none() || a.name != b.name);
            }
            assert_eq!(a.name.is_some(), !a.params.is_empty(), "{}", a.mechanism);
        }
    }
}
