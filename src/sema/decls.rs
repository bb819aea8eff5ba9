//! The schema of every declaration kind: which fields and blocks a `neuron`, region,
//! `network` population, receptor, `experiment`, stimulus, ion block and gate accepts, with
//! each field's type, unit, rule, default and documentation.
//!
//! One table serves every consumer, so they cannot disagree:
//! - the checker ([`crate::sema::check`]) takes the accepted field and block names from here
//!   for unknown-field (E0401) and unknown-block (E0403) errors and their "did you mean";
//! - the REPL completes field and block names inside a declaration and shows a field's
//!   documentation as a hint after it is typed ([`hover`]);
//! - the declaration tables of `docs/reference.md` are generated from it
//!   ([`reference_markdown`]; `tests/docs/reference.rs` fails when they are not current);
//! - each field's rule carries a value that breaks it and the code the checker gives that
//!   value, and a test checks every one (`Field.bad`), so the documented rule is the
//!   checked one.
//!
//! A field's [`Kind`] and [`Rule`] also drive the checker's value check
//! (`sema::check::values::schema_value`): the dimension, the type, and the rule with its one
//! code, in the rule's words ([`crate::rules::Wording`]) or the field's own
//! ([`Field::wording`], same code). Fields of kind [`Kind::Custom`] (sites, activity,
//! placement, morphology, the declarations an experiment names) keep their own code in the
//! checker.

use crate::diagnostics::{Code, Diagnostic};
use crate::rules::Wording;
use crate::source::Span;
use crate::units::Dim;

/// The value rule of a field, with the code a value breaking it gets ([`crate::rules`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Rule {
    /// No rule beyond the type.
    None,
    /// > 0 (E0314).
    Positive,
    /// ≥ 0 (E0314).
    NonNegative,
    /// Within [0, 1] (E0314).
    Probability,
    /// A whole number ≥ the bound that fits in 32 bits, a count (E0407).
    Whole(u32),
    /// A whole number ≥ 0 exact in an `f64`: seeds, indices (E0407).
    Integer,
    /// A whole number ≥ the bound with no upper bound of its own: the run's limits bound it
    /// (E0418), e.g. `trials` (E0407).
    AtLeast(u32),
}

/// What a field's value must be, as the checker tests it before the [`Rule`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// Checked by the field's own code in the checker (sites, activity, placement, …).
    Custom,
    /// A quantity of this dimension (E0301 otherwise); a rule's message shows its value in
    /// the dimension's canonical unit (ms for times).
    Quantity(Dim),
    /// A dimensionless constant whole number (E0306 otherwise); the rule says which.
    Number,
    /// A string (E0306 otherwise).
    Str,
    /// A constant `true` or `false` (E0306 otherwise).
    Bool,
    /// One of these strings (E0306 otherwise).
    OneOf(&'static [&'static str]),
    /// An absolute temperature: `34 degC`, or kelvin (E0301/E0306 otherwise).
    Temperature,
    /// A discretization rule: `isf_d_lambda(…)`, `d_lambda(…)`, `max_length(…)`, `fixed(…)`
    /// (E0412 otherwise).
    Discretization,
    /// A call of one of the [`Calls`] builtins (E0306 otherwise).
    Call(Calls),
    /// A list of calls of the [`Calls`] builtins (E0306 for the value or an element).
    CallList(Calls),
}

/// The builtins a [`Kind::Call`] or [`Kind::CallList`] field accepts, and how its E0306
/// words what it wants.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Calls {
    /// The builtins accepted (`isf_axon`).
    pub names: &'static [&'static str],
    /// What the value must be: "{what} must be {noun}" ("`isf_axon()`").
    pub noun: &'static str,
    /// How to write the value, the E0306's help.
    pub help: Option<&'static str>,
    /// For a list, what one element must be ("not {item}") and how to write one.
    pub item: (&'static str, &'static str),
}

impl Rule {
    /// The rule as the reference shows it (empty for [`Rule::None`]).
    pub fn text(self) -> String {
        match self {
            Rule::None => String::new(),
            Rule::Positive => "> 0 (E0314)".into(),
            Rule::NonNegative => "≥ 0 (E0314)".into(),
            Rule::Probability => "in [0, 1] (E0314)".into(),
            Rule::Whole(min) => format!("whole number ≥ {min} (E0407)"),
            Rule::Integer => "whole number ≥ 0 (E0407)".into(),
            Rule::AtLeast(min) => format!("whole number ≥ {min} (E0407)"),
        }
    }
}

/// One field of a declaration or block.
#[derive(Clone, Copy, Debug)]
pub struct Field {
    pub name: &'static str,
    /// What the value is, as the reference shows it ("time", "a declared neuron").
    pub ty: &'static str,
    /// What the checker tests the value against (the documented `ty` in checkable form).
    pub kind: Kind,
    pub rule: Rule,
    /// The default, or "required", or "none".
    pub default: &'static str,
    pub doc: &'static str,
    /// A value that breaks the field's type or rule, and the code the checker gives it
    /// (tested for every field that has one).
    pub bad: Option<(&'static str, Code)>,
    /// How messages name the value ("axial resistivity Ra"); `None` for "`NAME`".
    pub what: Option<&'static str>,
    /// The rule in this field's own words, under the rule's code (`{name}`, `{what}`,
    /// `{value}`, `{min}` as in [`Wording`]); `None` for the rule's template. Kept where a
    /// field's message predates the shared templates and users (and snapshots) know it.
    pub wording: Option<Wording>,
    /// The value must be a constant (E0315): a region's `Ra`, `cm` and reversal potentials,
    /// which may not vary over the cell as mechanism parameters do.
    pub constant: bool,
}

/// A block a declaration contains under a fixed head (`population`, `stimulus`, `sweep`).
#[derive(Clone, Copy, Debug)]
pub struct Block {
    pub name: &'static str,
    pub doc: &'static str,
}

/// The schema of one declaration kind or block.
#[derive(Clone, Copy, Debug)]
pub struct DeclSchema {
    /// The keyword or block head (`neuron`, `population`, `stimulus`); `region` for the
    /// region blocks of a neuron.
    pub kind: &'static str,
    /// How messages name it ("a neuron", "a population").
    pub place: &'static str,
    pub fields: &'static [Field],
    /// Blocks with a fixed head; regions and mechanism blocks are named by other tables.
    pub blocks: &'static [Block],
}

const fn field(
    name: &'static str,
    ty: &'static str,
    rule: Rule,
    default: &'static str,
    doc: &'static str,
) -> Field {
    Field {
        name,
        ty,
        kind: Kind::Custom,
        rule,
        default,
        doc,
        bad: None,
        what: None,
        wording: None,
        constant: false,
    }
}

impl Field {
    /// The field, checked by the schema as a value of `kind`.
    const fn of(self, kind: Kind) -> Field {
        Field { kind, ..self }
    }

    /// The field, with a value that breaks its type or rule and the code that value gets.
    const fn bad(self, value: &'static str, code: Code) -> Field {
        Field {
            bad: Some((value, code)),
            ..self
        }
    }

    /// The field, named `what` in messages.
    const fn named(self, what: &'static str) -> Field {
        Field {
            what: Some(what),
            ..self
        }
    }

    /// The field, with its rule broken in these words (`message`, `label`).
    const fn worded(self, message: &'static str, label: &'static str) -> Field {
        Field {
            wording: Some(Wording { message, label }),
            ..self
        }
    }

    /// The field, whose value must be a constant.
    const fn constant(self) -> Field {
        Field {
            constant: true,
            ..self
        }
    }

    /// How messages name the value: [`Field::what`], or the name in backticks.
    pub fn what(&self) -> String {
        match self.what {
            Some(w) => w.to_string(),
            None => format!("`{}`", self.name),
        }
    }
}

/// `neuron NAME { … }`.
pub const NEURON: DeclSchema = DeclSchema {
    kind: "neuron",
    place: "a neuron",
    fields: &[
        field(
            "morphology",
            "`hoc(\"file.hoc\")` or `swc(\"file.swc\")`",
            Rule::None,
            "required",
            "the cell's morphology file",
        ),
        field(
            "temperature",
            "absolute temperature (`34 degC`, or kelvin)",
            Rule::None,
            "34 degC",
            "the temperature the channels' rates are scaled to",
        )
        .of(Kind::Temperature)
        .named("temperature")
        .bad("34 mV", Code::E0301),
        field(
            "v_init",
            "voltage",
            Rule::None,
            "-75 mV",
            "the initial membrane potential",
        )
        .of(Kind::Quantity(Dim::VOLTAGE))
        .named("v_init")
        .bad("3 ms", Code::E0301),
        field(
            "discretization",
            "`isf_d_lambda(frequency:, max_length:)`, `d_lambda(0.1, frequency:)`, \
                 `max_length(30 um)`, `fixed(3)`",
            Rule::None,
            "`isf_d_lambda(frequency: 100 Hz)`",
            "how sections are cut into compartments",
        )
        .of(Kind::Discretization)
        .bad("fixed(2.5)", Code::E0407),
        field(
            "axon",
            "`isf_axon()`: ISF's generated AIS + myelin",
            Rule::None,
            "none",
            "a generated axon",
        )
        .of(Kind::Call(Calls {
            names: &["isf_axon"],
            noun: "`isf_axon()`",
            help: None,
            item: ("", ""),
        }))
        .named("axon")
        .bad("3", Code::E0306),
        field(
            "modify",
            "list of cell modifications: `scale_apical_morph_86()`, `scale_apical(scale:)`",
            Rule::None,
            "none",
            "applied after discretization and biophysics (they change diameters, never nseg \
             or parameter values)",
        )
        .of(Kind::CallList(Calls {
            names: &["scale_apical_morph_86", "scale_apical"],
            noun: "a list of cell modifications",
            help: Some("write `modify: [scale_apical_morph_86()]`"),
            item: (
                "a cell modification",
                "use scale_apical_morph_86() or scale_apical(scale: 2)",
            ),
        }))
        .named("modify")
        .bad("[3]", Code::E0306),
    ],
    blocks: &[],
};

/// A region block of a neuron (`soma { … }`): cable parameters and reversal potentials;
/// mechanism blocks come from the mechanisms in scope.
pub const REGION: DeclSchema = DeclSchema {
    kind: "region",
    place: "a region",
    fields: &[
        field(
            "Ra",
            "resistivity (`ohm*cm`)",
            Rule::Positive,
            "35.4 ohm*cm",
            "axial resistivity",
        )
        .of(Kind::Quantity(RESISTIVITY))
        .named("axial resistivity Ra")
        .worded("{what} must be positive", "zero or negative")
        .constant()
        .bad("-1 ohm*cm", Code::E0314),
        field(
            "cm",
            "capacitance density (`uF/cm2`)",
            Rule::Positive,
            "1 uF/cm2",
            "specific membrane capacitance",
        )
        .of(Kind::Quantity(CAPACITANCE_DENSITY))
        .named("specific capacitance cm")
        .worded("{what} must be positive", "zero or negative")
        .constant()
        .bad("0 uF/cm2", Code::E0314),
        reversal("ena", "sodium reversal potential"),
        reversal("ek", "potassium reversal potential"),
        reversal("eca", "calcium reversal potential (fixed; else Nernst)"),
    ],
    blocks: &[],
};

/// The axial resistivity's dimension (Ω·cm: m³·kg·s⁻³·A⁻²).
const RESISTIVITY: Dim = Dim([3, 1, -3, -2, 0, 0]);
/// The specific capacitance's dimension (µF/cm²: m⁻⁴·kg⁻¹·s⁴·A²).
const CAPACITANCE_DENSITY: Dim = Dim([-4, -1, 4, 2, 0, 0]);

/// A region's reversal potential field: a constant voltage.
const fn reversal(name: &'static str, doc: &'static str) -> Field {
    field(name, "voltage", Rule::None, "none", doc)
        .of(Kind::Quantity(Dim::VOLTAGE))
        .named("a reversal potential")
        .constant()
        .bad("1 nA", Code::E0301)
}

/// `network NAME { … }`.
pub const NETWORK: DeclSchema = DeclSchema {
    kind: "network",
    place: "a network",
    fields: &[],
    blocks: &[Block {
        name: "population",
        doc: "`population NAME { … }`: presynaptic cells of one type, their synapses, activity",
    }],
};

/// `population NAME { … }` in a network.
pub const POPULATION: DeclSchema = DeclSchema {
    kind: "population",
    place: "a population",
    fields: &[
        field(
            "cells",
            "count",
            Rule::Whole(1),
            "required",
            "number of presynaptic cells",
        )
        .of(Kind::Number)
        .bad("2.5", Code::E0407),
        field(
            "synapses",
            "count, or `anatomy(syn: \"…\", con: \"…\")`",
            Rule::Whole(0),
            "one per cell",
            "declared synapses (placed on the experiment's neuron) or ISF's `.syn`/`.con` pair",
        )
        .of(Kind::Number)
        .bad("-1", Code::E0407),
        field(
            "release_probability",
            "probability, or `\"dynamic\"`",
            Rule::Probability,
            "every spike releases",
            "release per spike and synapse; `\"dynamic\"` leaves release to receptors that \
                 draw",
        )
        .of(Kind::Quantity(Dim::ONE))
        .bad("1.3", Code::E0314),
        field(
            "activity",
            "`poisson(…)`, `psth(…)`, `spike_times([…])`, … or a sum of them",
            Rule::None,
            "required",
            "the presynaptic spikes of each cell",
        ),
        field(
            "delay",
            "time",
            Rule::NonNegative,
            "0 ms",
            "delay of every receptor",
        )
        .of(Kind::Quantity(Dim::TIME))
        .bad("-1 ms", Code::E0314),
        field(
            "cell_type",
            "string",
            Rule::None,
            "from the name",
            "ISF cell type",
        )
        .of(Kind::Str),
        field(
            "column",
            "string",
            Rule::None,
            "from the name",
            "ISF column",
        )
        .of(Kind::Str),
        field(
            "excitatory",
            "`true` or `false`",
            Rule::None,
            "from the cell type or receptor",
            "the EI group of the population",
        )
        .of(Kind::Bool)
        .bad("3", Code::E0306),
        field(
            "location",
            "region or list of regions",
            Rule::None,
            "`[dendrite, apical_dendrite]`",
            "where declared synapses are placed",
        )
        .bad("\"x\"", Code::E0306),
        field(
            "distance",
            "`(from, to)` path lengths",
            Rule::None,
            "anywhere",
            "declared synapses only where the path length from the soma lies in [from, to]",
        )
        .bad("(200 um, 100 um)", Code::E0314),
    ],
    blocks: &[Block {
        name: "receptor",
        doc: "`receptor NAME { PARAM: … }`: a synapse mechanism and its parameters",
    }],
};

/// `experiment NAME { … }`.
pub const EXPERIMENT: DeclSchema = DeclSchema {
    kind: "experiment",
    place: "an experiment",
    fields: &[
        field(
            "neuron",
            "a declared neuron",
            Rule::None,
            "required",
            "the cell simulated",
        ),
        field(
            "network",
            "a declared network",
            Rule::None,
            "none",
            "its synaptic input",
        ),
        field(
            "duration",
            "time, a whole number of `dt`",
            Rule::Positive,
            "required",
            "length of each trial",
        )
        .of(Kind::Quantity(Dim::TIME))
        .worded("{name} must be positive", "zero or negative")
        .bad("-10 ms", Code::E0314),
        field("dt", "time", Rule::Positive, "0.025 ms", "time step")
            .of(Kind::Quantity(Dim::TIME))
            .bad("0 ms", Code::E0314),
        field(
            "trials",
            "count",
            Rule::AtLeast(1),
            "1",
            "trials per sweep point",
        )
        .of(Kind::Number)
        .worded("{name} must be a positive integer", "this is {value}")
        .bad("2.5", Code::E0407),
        field(
            "seed",
            "integer",
            Rule::Integer,
            "0",
            "seed of every random stream",
        )
        .of(Kind::Number)
        .bad("1.5", Code::E0407),
        field(
            "store",
            "path string",
            Rule::None,
            "none",
            "the results store",
        )
        .of(Kind::Str)
        .bad("3", Code::E0306),
        field(
            "replay",
            "path string or list of path strings (one trial per file)",
            Rule::None,
            "none",
            "recorded synaptic input replayed instead of generated activity",
        ),
    ],
    blocks: &[
        Block {
            name: "stimulus",
            doc: "`stimulus NAME { … }`: a current step or epsp at a site",
        },
        Block {
            name: "sweep",
            doc: "`sweep { PATH in VALUES … }` (a grid) or `sweep zip { … }` (together)",
        },
        Block {
            name: "record",
            doc: "`record { … }`: traces, spikes, currents, states, synapse activations",
        },
    ],
};

/// `stimulus NAME { … }` in an experiment.
pub const STIMULUS: DeclSchema = DeclSchema {
    kind: "stimulus",
    place: "a stimulus",
    fields: &[
        field(
            "at",
            "a site (`soma(0.5)`, `section(38, 0.5)`, …)",
            Rule::None,
            "required",
            "where it is applied",
        ),
        field(
            "kind",
            "`\"step\"` or `\"epsp\"`",
            Rule::None,
            "`\"step\"`",
            "a current step or std.stimuli's epsp point process",
        )
        .of(Kind::OneOf(&["step", "epsp"])),
        field("amp", "current", Rule::None, "none", "step amplitude")
            .of(Kind::Quantity(Dim::CURRENT))
            .bad("1 mV", Code::E0301),
        field("delay", "time", Rule::None, "none", "step onset").of(Kind::Quantity(Dim::TIME)),
        field("duration", "time", Rule::None, "none", "step length").of(Kind::Quantity(Dim::TIME)),
        field("onset", "time", Rule::None, "none", "epsp onset").of(Kind::Quantity(Dim::TIME)),
        field(
            "tau_rise",
            "time",
            Rule::None,
            "none",
            "epsp rise time constant (`tau0`)",
        )
        .of(Kind::Quantity(Dim::TIME)),
        field(
            "tau_decay",
            "time",
            Rule::None,
            "none",
            "epsp decay time constant (`tau1`)",
        )
        .of(Kind::Quantity(Dim::TIME)),
        field("imax", "current", Rule::None, "none", "epsp peak current")
            .of(Kind::Quantity(Dim::CURRENT)),
    ],
    blocks: &[],
};

/// An `ion NAME { … }` block of a mechanism.
pub const ION: DeclSchema = DeclSchema {
    kind: "ion",
    place: "an ion block",
    fields: &[
        field(
            "reads",
            "list of variables",
            Rule::None,
            "none",
            "ion variables the mechanism reads",
        ),
        field(
            "writes",
            "list of variables",
            Rule::None,
            "none",
            "ion variables the mechanism writes",
        ),
    ],
    blocks: &[],
};

/// A `gate NAME { … }` block of a mechanism.
pub const GATE: DeclSchema = DeclSchema {
    kind: "gate",
    place: "a gate",
    fields: &[
        field("alpha", "rate (1/ms)", Rule::None, "none", "opening rate"),
        field("beta", "rate (1/ms)", Rule::None, "none", "closing rate"),
        field("inf", "dimensionless", Rule::None, "none", "steady state"),
        field("tau", "time", Rule::None, "none", "time constant"),
    ],
    blocks: &[],
};

/// The blocks of a mechanism body.
pub const MECHANISM: DeclSchema = DeclSchema {
    kind: "mechanism",
    place: "a mechanism",
    fields: &[],
    blocks: &[
        Block {
            name: "ion",
            doc: "`ion NAME { reads: …, writes: … }`",
        },
        Block {
            name: "gate",
            doc: "`gate NAME { alpha, beta }` or `{ inf, tau }`",
        },
    ],
};

/// Every schema, in the reference's order.
pub const ALL: &[&DeclSchema] = &[
    &NEURON,
    &REGION,
    &NETWORK,
    &POPULATION,
    &EXPERIMENT,
    &STIMULUS,
    &MECHANISM,
    &ION,
    &GATE,
];

/// The schema of a declaration kind or block head.
pub fn schema(kind: &str) -> Option<&'static DeclSchema> {
    ALL.iter().copied().find(|s| s.kind == kind)
}

impl DeclSchema {
    /// The field of this name.
    pub fn field(&self, name: &str) -> Option<&'static Field> {
        self.fields.iter().find(|f| f.name == name)
    }

    /// True when `name` is one of its fields.
    pub fn has_field(&self, name: &str) -> bool {
        self.field(name).is_some()
    }

    /// The names of its fields, in order.
    pub fn field_names(&self) -> impl Iterator<Item = &'static str> + Clone {
        self.fields.iter().map(|f| f.name)
    }

    /// The heads of its blocks, in order.
    pub fn block_names(&self) -> impl Iterator<Item = &'static str> + Clone {
        self.blocks.iter().map(|b| b.name)
    }

    /// E0401 for a field it does not have: "did you mean" the nearest field, or the list.
    pub fn unknown_field(&self, name: &str, span: Span) -> Diagnostic {
        Diagnostic::new(
            Code::E0401,
            format!("unknown field `{name}` for {}", self.place),
        )
        .label(span, "not accepted here")
        .suggest_or_list(name, self.field_names(), |all| {
            format!("{} accepts: {all}", self.place)
        })
    }
}

/// The documentation of `name` as a field or block of the `kind` block, for the REPL's hint:
/// `time > 0 (E0314), default required — length of each trial`.
pub fn hover(kind: &str, name: &str) -> Option<String> {
    let s = schema(kind)?;
    if let Some(f) = s.field(name) {
        let rule = f.rule.text();
        let rule = if rule.is_empty() {
            String::new()
        } else {
            format!(", {rule}")
        };
        return Some(format!(
            "{}{rule}; default {} — {}",
            strip_ticks(f.ty),
            strip_ticks(f.default),
            f.doc
        ));
    }
    s.blocks
        .iter()
        .find(|b| b.name == name)
        .map(|b| strip_ticks(b.doc))
}

fn strip_ticks(s: &str) -> String {
    s.replace('`', "")
}

/// The Markdown table of one schema's fields, as `docs/reference.md` shows it.
pub fn reference_markdown(s: &DeclSchema) -> String {
    let mut out =
        String::from("| field | type | rule | default | meaning |\n|---|---|---|---|---|\n");
    for f in s.fields {
        out += &format!(
            "| `{}` | {} | {} | {} | {} |\n",
            f.name,
            f.ty.replace('|', "\\|"),
            f.rule.text(),
            f.default,
            f.doc.replace('|', "\\|")
        );
    }
    if !s.blocks.is_empty() {
        out += "\nBlocks: ";
        out += &s
            .blocks
            .iter()
            .map(|b| format!("`{}` — {}", b.name, b.doc))
            .collect::<Vec<_>>()
            .join("; ");
        out += ".\n";
    }
    out
}

/// Replace every generated section of `text` (between `<!-- schema: KIND -->` and
/// `<!-- end schema -->`) by the current table of that schema; `Err` names an unknown kind.
pub fn regenerate_reference(text: &str) -> Result<String, String> {
    const END: &str = "<!-- end schema -->";
    let mut out = String::new();
    let mut rest = text;
    while let Some(i) = rest.find("<!-- schema: ") {
        let head_end = rest[i..].find("-->").ok_or("unclosed schema marker")? + i + 3;
        let kind = rest[i + 13..head_end - 3].trim();
        let s = schema(kind).ok_or_else(|| format!("no schema `{kind}`"))?;
        let end = rest[head_end..]
            .find(END)
            .ok_or_else(|| format!("schema `{kind}` has no `{END}`"))?
            + head_end;
        out += &rest[..head_end];
        out += "\n";
        out += &reference_markdown(s);
        out += END;
        rest = &rest[end + END.len()..];
    }
    out += rest;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique_and_rules_have_a_failing_example() {
        for s in ALL {
            let mut names: Vec<&str> = s.field_names().chain(s.block_names()).collect();
            let n = names.len();
            names.sort();
            names.dedup();
            assert_eq!(names.len(), n, "{}: a name twice", s.kind);
            for f in s.fields {
                if f.rule != Rule::None {
                    assert!(
                        f.bad.is_some(),
                        "{}.{}: a rule without a bad value",
                        s.kind,
                        f.name
                    );
                }
            }
        }
    }

    #[test]
    fn unknown_field_suggests_the_nearest() {
        let d = EXPERIMENT.unknown_field("duraton", Span::new(crate::source::FileId(0), 0, 1));
        assert_eq!(d.code, Code::E0401);
        assert_eq!(d.hints, vec!["did you mean `duration`?".to_string()]);
        let d = EXPERIMENT.unknown_field("zzz", Span::new(crate::source::FileId(0), 0, 1));
        assert!(d.hints.is_empty());
        assert!(d.notes[0].contains("neuron, network, duration"));
    }

    #[test]
    fn hover_texts() {
        let h = hover("experiment", "duration").unwrap();
        assert!(
            h.contains("> 0 (E0314)") && h.contains("length of each trial"),
            "{h}"
        );
        assert!(
            hover("experiment", "stimulus")
                .unwrap()
                .contains("current step")
        );
        assert!(hover("experiment", "nope").is_none());
    }

    #[test]
    fn regeneration_replaces_only_between_markers() {
        let text = "a\n<!-- schema: gate -->\nold\n<!-- end schema -->\nb\n";
        let new = regenerate_reference(text).unwrap();
        assert!(new.starts_with("a\n<!-- schema: gate -->\n| field |"));
        assert!(new.contains("| `tau` | time |"));
        assert!(new.ends_with("<!-- end schema -->\nb\n"));
        assert_eq!(regenerate_reference(&new).unwrap(), new);
        assert!(regenerate_reference("<!-- schema: nope -->\n<!-- end schema -->").is_err());
    }
}
