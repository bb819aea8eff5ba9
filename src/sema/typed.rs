//! Checked experiment fields → the typed plan parts of [`crate::model`]: sites, stimuli and
//! recordings as enums with canonical-unit `f64`s, and recording names.
//!
//! The checker has already validated kinds and dimensions, so a failure here means a value
//! shape the checker let through without the run stage knowing it; it is reported as a
//! located error at check time rather than discovered mid-run.

use crate::diagnostics::{Code, Diagnostic};
use crate::model::{
    IonField, Recording, RecordingModel, SiteSpec, StimulusKind, StimulusModel, Value,
};
use crate::sema::value::Val;
use crate::syntax::ast::{Entry, Expr, Field};
use crate::units::{self, Dim};
use std::collections::BTreeMap;

fn num(v: Option<&Value>) -> Option<f64> {
    match v {
        Some(Value::Num { value, .. }) => Some(*value),
        _ => None,
    }
}

fn text(v: Option<&Value>) -> Option<&str> {
    match v {
        Some(Value::Str(s)) => Some(s),
        _ => None,
    }
}

/// A site value (`soma(0.5)`, `section(38, 0.5)`, `sites("f")`, `apical_distance(620 um)`,
/// or a bare region meaning its middle).
pub fn site(v: &Value) -> Result<SiteSpec, String> {
    match v {
        Value::Str(region) => Ok(SiteSpec::Region {
            region: region.clone(),
            x: 0.5,
        }),
        Value::Obj { kind, args } => match kind.as_str() {
            "site" => Ok(SiteSpec::Region {
                region: text(args.get("region")).unwrap_or("").to_string(),
                x: num(args.get("x")).unwrap_or(0.5),
            }),
            "section" => {
                let i = num(args.get("index")).ok_or("section(…) needs a constant index")?;
                if !(i >= 0.0 && i.fract() == 0.0 && i < 1e15) {
                    return Err(format!("section index {i} is not a whole number ≥ 0"));
                }
                Ok(SiteSpec::Section {
                    index: i as u64,
                    x: num(args.get("x")).unwrap_or(0.5),
                })
            }
            "sites" => Ok(SiteSpec::Landmarks {
                path: text(args.get("path"))
                    .ok_or("sites(…) needs a file path")?
                    .to_string(),
            }),
            "apical_distance" => Ok(SiteSpec::ApicalDistance {
                distance_um: num(args.get("distance"))
                    .ok_or("apical_distance(…) needs a constant distance")?,
            }),
            other => Err(format!("`{other}` is not a site")),
        },
        _ => Err("this is not a site".into()),
    }
}

/// A stimulus block's checked fields as a typed stimulus.
pub fn stimulus(name: &str, f: &BTreeMap<String, Value>) -> Result<StimulusModel, String> {
    let at = site(f.get("at").ok_or("the stimulus has no site (`at`)")?)?;
    let get = |k: &str, default: f64| match f.get(k) {
        None => Ok(default),
        Some(v) => num(Some(v)).ok_or(format!("`{k}` must be a constant")),
    };
    let kind = match text(f.get("kind")).unwrap_or("step") {
        "epsp" => StimulusKind::Epsp {
            onset_ms: get("onset", 0.0)?,
            tau_rise_ms: get("tau_rise", 0.2)?,
            tau_decay_ms: get("tau_decay", 3.0)?,
            imax_na: get("imax", 0.0)?,
        },
        "step" => {
            if !f.contains_key("amp") {
                return Err(format!("stimulus `{name}` has no `amp`"));
            }
            StimulusKind::Step {
                delay_ms: get("delay", 0.0)?,
                duration_ms: match f.get("duration") {
                    None => None,
                    Some(_) => Some(get("duration", 0.0)?),
                },
                amp_na: get("amp", 0.0)?,
            }
        }
        other => return Err(format!("unknown stimulus kind `{other}`")),
    };
    Ok(StimulusModel {
        name: name.to_string(),
        at,
        kind,
    })
}

/// A checked `record` entry as a typed recording with its output name: the site as written
/// (its function and arguments) and the variable, e.g. `soma.v`,
/// `apical_distance(620 um).cai`, `spikes(soma)`, `soma.NaTa_t.m`.
pub fn recording(v: &Value) -> Result<RecordingModel, String> {
    let Value::Obj { kind, args } = v else {
        return Err("this cannot be recorded".into());
    };
    let at = |k: &str| {
        args.get(k)
            .ok_or_else(|| format!("`{kind}` needs a site"))
            .and_then(site)
    };
    let (name, what) = match kind.as_str() {
        "probe" => {
            let at = at("site")?;
            let var = text(args.get("variable")).unwrap_or("v");
            let name = format!("{}.{var}", at.name());
            if var == "v" {
                (name, Recording::Voltage { at })
            } else {
                let (ion, field) = IonField::parse(var).ok_or(format!(
                    "`{var}` cannot be recorded (v, e/i/…i of na, k, ca)"
                ))?;
                (name, Recording::Ion { at, ion, field })
            }
        }
        "spikes" => {
            let at = at("at")?;
            (
                format!("spikes({})", at.name()),
                Recording::Spikes {
                    at,
                    threshold_mv: num(args.get("threshold")).unwrap_or(0.0),
                },
            )
        }
        "current" => {
            let at = at("at")?;
            let var = text(args.get("name")).unwrap_or("");
            let Some((ion, IonField::Current)) = IonField::parse(var) else {
                return Err(format!(
                    "current `{var}`: the ion currents ina, ik and ica can be recorded"
                ));
            };
            (
                format!("{}.{var}", at.name()),
                Recording::Ion {
                    at,
                    ion,
                    field: IonField::Current,
                },
            )
        }
        "state" => {
            let at = at("at")?;
            let mechanism = text(args.get("mechanism")).unwrap_or("").to_string();
            let state = text(args.get("name")).unwrap_or("").to_string();
            (
                format!("{}.{mechanism}.{state}", at.name()),
                Recording::State {
                    at,
                    mechanism,
                    state,
                },
            )
        }
        "synapse_activations" => ("synapse_activations".into(), Recording::SynapseActivations),
        "presynaptic_spikes" => ("presynaptic_spikes".into(), Recording::PresynapticSpikes),
        "all_compartments" => ("all_compartments.v".into(), Recording::AllCompartments),
        other => return Err(format!("`{other}` cannot be recorded")),
    };
    let precision = num(args.get("precision"));
    Ok(RecordingModel {
        name,
        what,
        precision,
    })
}

/// The entries of a `record { … }` block as (recording, its `precision:` field) pairs. A
/// `precision: STEP` field belongs to the recording just before it, and `isf fmt` keeps the
/// two on one line: `soma.v precision: 1 uV`. A `precision:` anywhere else is E0420; any
/// other entry that is not an expression is E0401.
pub fn record_entries(entries: &[Entry]) -> (Vec<(&Expr, Option<&Field>)>, Vec<Diagnostic>) {
    let mut out: Vec<(&Expr, Option<&Field>)> = Vec::new();
    let mut diags = Vec::new();
    let mut open = false; // the last entry was a recording without a precision yet
    for en in entries {
        match en {
            Entry::Expr(e) => {
                out.push((e, None));
                open = true;
            }
            Entry::Field(f) if f.name.name == PRECISION => {
                match out.last_mut() {
                    Some(last) if open => last.1 = Some(f),
                    _ => diags.push(
                        Diagnostic::new(
                            Code::E0420,
                            "`precision:` belongs right after the recording it applies to",
                        )
                        .label(
                            f.name.span.to(f.value.span),
                            "no recording just before this",
                        )
                        .help("write it on the recording's line: `soma.v precision: 1 uV`"),
                    ),
                }
                open = false;
            }
            other => {
                open = false;
                diags.push(
                    Diagnostic::new(Code::E0401, "a record block lists what to record").label(
                        other.span(),
                        "write e.g. `soma.v` or `spikes(soma, threshold: 0 mV)`",
                    ),
                );
            }
        }
    }
    (out, diags)
}

/// The field name of a recording's declared precision.
pub const PRECISION: &str = "precision";

/// The dimension of what a lowered recording stores per sample, or why it stores no trace
/// (events and tables are exact and take no precision).
fn recorded_dim(rec: &Value) -> Result<Dim, String> {
    let Value::Obj { kind, args } = rec else {
        return Err("this records nothing".into());
    };
    let var = match kind.as_str() {
        "probe" => text(args.get("variable")).unwrap_or("v"),
        "current" => text(args.get("name")).unwrap_or(""),
        "all_compartments" => "v",
        // Gates are dimensionless; a state with a unit (an ODE state such as a pool's cai)
        // is not known here, so only dimensionless steps are accepted (E0320 otherwise).
        "state" => return Ok(Dim::ONE),
        "spikes" => {
            return Err("spike times are stored exactly on the time grid".into());
        }
        other => return Err(format!("`{other}` stores events, not traces")),
    };
    Ok(match var {
        "v" | "eca" | "ena" | "ek" => Dim::VOLTAGE,
        "cai" | "nai" | "ki" | "cao" | "nao" | "ko" => Dim::CONCENTRATION,
        // Ion currents are current densities (mA/cm2).
        _ => Dim::CURRENT.div(Dim::LENGTH.powi(2)),
    })
}

/// Check a recording's declared precision (`prec`, the checked value of its `precision:`
/// field) against what it records, and put it into the lowered recording as
/// `args["precision"]` in the canonical unit of the recorded variable (the unit its trace is
/// stored in), normalised to the decimal step the store uses. E0320 when the dimension is
/// not the recorded variable's; E0420 when the recording stores no trace or the step is not
/// a positive decimal number.
pub fn attach_precision(rec: &mut Value, prec: &Val, field: &Field) -> Result<(), Diagnostic> {
    let span = field.value.span;
    let want = recorded_dim(rec).map_err(|why| {
        Diagnostic::new(Code::E0420, "this recording cannot have a precision")
            .label(field.name.span.to(field.value.span), why)
            .help("precision applies to traces: `soma.v precision: 1 uV`")
    })?;
    let (dim, ex) = match prec {
        Val::Q {
            dim,
            abs: false,
            ex,
        } => (*dim, ex),
        _ => {
            return Err(Diagnostic::new(
                Code::E0320,
                "a precision is a quantity in the recorded variable's unit",
            )
            .label(span, "not a quantity")
            .help("e.g. `precision: 1 uV` for a voltage"));
        }
    };
    if dim != want {
        let (_, unit) = units::canonical_scale(want);
        return Err(Diagnostic::new(
            Code::E0320,
            format!(
                "the precision is a {}, the recording stores a {}",
                dim.describe(),
                want.describe()
            ),
        )
        .label(span, format!("expected a step in {unit} or a prefix of it")));
    }
    let (scale, unit) = units::canonical_scale(want);
    let step = ex.clone().canonical(scale).as_const();
    let Some(q) = step.and_then(crate::store::table::Quantum::of) else {
        return Err(
            Diagnostic::new(Code::E0420, "a precision must be a positive decimal step")
                .label(span, "not a positive constant with at most 12 decimals")
                .help("e.g. `precision: 1 uV`, `precision: 0.5 uV`"),
        );
    };
    let normalised = q.m as f64 / 10f64.powi(q.d as i32);
    if let Value::Obj { args, .. } = rec {
        args.insert(
            PRECISION.into(),
            Value::Num {
                value: normalised,
                unit,
            },
        );
    }
    Ok(())
}
