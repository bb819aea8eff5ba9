//! Printing checked values: quantities in the canonical unit of their dimension.
//!
//! `1 nA * 100 Mohm` is a voltage, so it prints in isf's canonical voltage unit: `100 mV`.
//! The canonical units are the ones lowering uses ([`CANONICAL`]), so what the REPL shows is
//! what `isf plan` and the engine see. A dimension without a name prints in SI with its base
//! dimensions, e.g. `1e-6 [m^2·kg·s^-2·A^-1]`.

use crate::sema::value::Val;
use crate::units::{CANONICAL, Dim};

/// A number with at most 12 significant digits, without trailing zeros (so that float noise
/// such as `100.00000000000001` prints as `100`).
pub fn num(x: f64) -> String {
    if x == 0.0 {
        return "0".into();
    }
    if !x.is_finite() {
        return x.to_string();
    }
    let a = x.abs();
    if (1e-4..1e9).contains(&a) {
        let digits = (11 - a.log10().floor() as i32).max(0) as usize;
        let s = format!("{x:.digits$}");
        let s = if s.contains('.') {
            s.trim_end_matches('0').trim_end_matches('.').to_string()
        } else {
            s
        };
        if s == "-0" { "0".into() } else { s }
    } else {
        let s = format!("{x:.11e}");
        let (m, e) = s.split_once('e').unwrap_or((&s, "0"));
        let m = if m.contains('.') {
            m.trim_end_matches('0').trim_end_matches('.')
        } else {
            m
        };
        format!("{m}e{e}")
    }
}

/// A constant quantity given in SI: value and unit in the canonical unit of its dimension.
pub fn quantity(si: f64, dim: Dim, absolute: bool) -> String {
    if absolute && dim == Dim::TEMPERATURE {
        return format!("{} degC", num(si - 273.15));
    }
    if dim.is_one() {
        return num(si);
    }
    match CANONICAL.iter().find(|c| c.dim == dim) {
        Some(c) => format!("{} {}", num(si / c.si_scale), c.unit),
        None => format!("{} [{}]", num(si), dim.si_string()),
    }
}

/// The canonical unit of a dimension, or its SI base dimensions.
pub fn unit_of(dim: Dim) -> String {
    match CANONICAL.iter().find(|c| c.dim == dim) {
        Some(c) => c.unit.to_string(),
        None => format!("[{}] (SI)", dim.si_string()),
    }
}

/// A value as the REPL prints it.
pub fn value(v: &Val) -> String {
    match v {
        Val::Q { dim, abs, ex } => match ex.as_const() {
            Some(si) => quantity(si, *dim, *abs),
            None => {
                let mut vars = Vec::new();
                ex.vars(&mut vars);
                format!(
                    "<a function of {} in {}>",
                    vars.join(", "),
                    unit_of(*dim).trim_end_matches(" (SI)")
                )
            }
        },
        Val::Bool(ex) => match ex.as_const() {
            Some(c) => (c != 0.0).to_string(),
            None => "<a condition that depends on position or state>".into(),
        },
        Val::Str(s) => format!("{s:?}"),
        Val::List(items) => format!(
            "[{}]",
            items.iter().map(value).collect::<Vec<_>>().join(", ")
        ),
        Val::Tuple(items) => format!(
            "({})",
            items.iter().map(value).collect::<Vec<_>>().join(", ")
        ),
        Val::Record(fields) => format!(
            "{{ {} }}",
            fields
                .iter()
                .map(|(k, v)| format!("{k}: {}", value(v)))
                .collect::<Vec<_>>()
                .join(", ")
        ),
        Val::Obj(o) => format!(
            "{}({})",
            o.kind,
            o.args
                .iter()
                .map(|(k, v)| format!("{k}: {}", value(v)))
                .collect::<Vec<_>>()
                .join(", ")
        ),
        Val::Decl(kind, name) => format!("<{} {name}>", kind.as_str()),
        Val::Region(r) => format!("<region {r}>"),
        Val::Module(_) => "<module>".into(),
        Val::Err => "<error>".into(),
    }
}

/// What `:type` prints: the type and, for quantities, dimension and canonical unit.
pub fn type_of(v: &Val) -> String {
    match v {
        Val::Q { dim, abs, .. } if !dim.is_one() || *abs => {
            format!(
                "{} — dimension {}, shown in {}",
                v.type_name(),
                dim.si_string(),
                if *abs { "degC".into() } else { unit_of(*dim) }
            )
        }
        _ => v.type_name(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_drop_float_noise() {
        assert_eq!(num(100.00000000000001), "100");
        assert_eq!(num(0.1 + 0.2), "0.3");
        assert_eq!(num(-70.0), "-70");
        assert_eq!(num(3.26e-5), "3.26e-5");
        assert_eq!(num(2.5e12), "2.5e12");
        assert_eq!(num(0.025), "0.025");
    }

    #[test]
    fn quantities_use_canonical_units() {
        assert_eq!(quantity(0.1, Dim::VOLTAGE, false), "100 mV");
        assert_eq!(quantity(307.15, Dim::TEMPERATURE, true), "34 degC");
        assert_eq!(quantity(2.0, Dim::ONE, false), "2");
        let odd = Dim::VOLTAGE.mul(Dim::TIME);
        assert_eq!(quantity(1e-6, odd, false), "1e-6 [m^2·kg·s^-2·A^-1]");
    }
}
