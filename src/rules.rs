//! One rule, one code: the value checks that `.isf` scripts and ISF `.param` files share.
//!
//! A probability of 1.3 is the same mistake whether it is a `release_probability` in a
//! script, a `psth` bin, or a `releaseProb` in a network parameter file, so it gets the same
//! code and wording everywhere. The checker ([`crate::sema`]) turns a [`Broken`] rule into a
//! located diagnostic; the file readers ([`crate::network::param`], [`crate::formats::param`])
//! into a [`crate::formats::FileError`] at the value's line and column. This module depends on
//! nothing but the code registry, so every phase may use it without breaking the one-way
//! layering (syntax → sema → lower → run).
//!
//! The codes:
//!
//! | rule | code |
//! |---|---|
//! | probability or fraction within [0, 1] ([`probability`], [`fraction`]) | E0314 |
//! | non-negative ([`non_negative`]) | E0314 |
//! | finite ([`finite`]) | E0314 |
//! | an interval does not end before it begins ([`interval`]) | E0314 |
//! | positive (not a duration: `Ra`, `cm`; [`positive`]) | E0314 |
//! | positive duration or time step ([`positive_duration`]) | E0405 |
//! | whole-number count with a lower bound ([`count`]) | E0407 |
//!
//! E0314 ("value out of range") is the general code; E0405 and E0407 keep the meaning they had
//! for the experiment's `duration` and `trials`, widened to every duration and count. Values
//! arrive in the unit the message shows (times in ms, rates in Hz): the caller converts.

use crate::diagnostics::Code;

/// A value that breaks a rule: the code, one sentence naming the value and the rule, and a
/// short label for the value's span.
#[derive(Clone, Debug, PartialEq)]
pub struct Broken {
    pub code: Code,
    /// e.g. "`release_probability` is 1.3; a probability must be within [0, 1]".
    pub message: String,
    /// e.g. "1.3 is outside [0, 1]".
    pub label: String,
}

fn broken(code: Code, what: &str, shown: &str, rule: &str, label: String) -> Broken {
    Broken {
        code,
        message: format!("{what} is {shown}; {rule}"),
        label,
    }
}

/// `x` with its unit for messages: `1.3`, `-2 ms`.
fn show(x: f64, unit: &str) -> String {
    if unit.is_empty() {
        format!("{x}")
    } else {
        format!("{x} {unit}")
    }
}

/// A finite number (E0314).
pub fn finite(what: &str, x: f64, unit: &str) -> Result<f64, Broken> {
    if x.is_finite() {
        Ok(x)
    } else {
        Err(broken(
            Code::E0314,
            what,
            &show(x, unit),
            "it must be a finite number",
            "not finite".into(),
        ))
    }
}

/// A probability within [0, 1] (E0314).
pub fn probability(what: &str, x: f64) -> Result<f64, Broken> {
    unit_interval(what, x, "a probability")
}

/// A fraction (of cells, of modulation, of noise) within [0, 1] (E0314).
pub fn fraction(what: &str, x: f64) -> Result<f64, Broken> {
    unit_interval(what, x, "a fraction")
}

fn unit_interval(what: &str, x: f64, kind: &str) -> Result<f64, Broken> {
    if (0.0..=1.0).contains(&x) {
        Ok(x)
    } else {
        Err(broken(
            Code::E0314,
            what,
            &show(x, ""),
            &format!("{kind} must be within [0, 1]"),
            format!("{x} is outside [0, 1]"),
        ))
    }
}

/// A finite value ≥ 0 (E0314): delays, rates, widths, weights.
pub fn non_negative(what: &str, x: f64, unit: &str) -> Result<f64, Broken> {
    finite(what, x, unit)?;
    if x >= 0.0 {
        Ok(x)
    } else {
        Err(broken(
            Code::E0314,
            what,
            &show(x, unit),
            "it must be ≥ 0",
            "negative".into(),
        ))
    }
}

/// A finite duration or time step > 0, in ms (E0405): mean intervals, bin widths, run lengths.
pub fn positive_duration(what: &str, ms: f64) -> Result<f64, Broken> {
    finite(what, ms, "ms")?;
    if ms > 0.0 {
        Ok(ms)
    } else {
        Err(broken(
            Code::E0405,
            what,
            &show(ms, "ms"),
            "a duration must be positive",
            "zero or negative".into(),
        ))
    }
}

/// A finite value > 0 that is not a duration (E0314): resistivity, capacitance.
pub fn positive(what: &str, x: f64, unit: &str) -> Result<f64, Broken> {
    finite(what, x, unit)?;
    if x > 0.0 {
        Ok(x)
    } else {
        Err(broken(
            Code::E0314,
            what,
            &show(x, unit),
            "it must be > 0",
            "zero or negative".into(),
        ))
    }
}

/// `[begin, end]` with `end ≥ begin` (E0314); both finite, in ms.
pub fn interval(what: &str, begin_ms: f64, end_ms: f64) -> Result<(f64, f64), Broken> {
    finite(what, begin_ms, "ms")?;
    finite(what, end_ms, "ms")?;
    if end_ms >= begin_ms {
        Ok((begin_ms, end_ms))
    } else {
        Err(broken(
            Code::E0314,
            what,
            &format!("({begin_ms} ms, {end_ms} ms)"),
            "an interval must not end before it begins",
            "ends before it begins".into(),
        ))
    }
}

/// A whole number ≥ `min` that fits in 32 bits (E0407): cells, synapses, spike counts.
pub fn count(what: &str, x: f64, min: u32) -> Result<u32, Broken> {
    if x.is_finite() && x.fract() == 0.0 && x >= f64::from(min) && x <= f64::from(u32::MAX) {
        Ok(x as u32)
    } else {
        Err(broken(
            Code::E0407,
            what,
            &show(x, ""),
            &format!("a count must be a whole number ≥ {min}"),
            format!("not a whole number ≥ {min}"),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_follow_the_table() {
        assert_eq!(probability("p", 1.3).unwrap_err().code, Code::E0314);
        assert_eq!(probability("p", -0.1).unwrap_err().code, Code::E0314);
        assert_eq!(fraction("f", f64::NAN).unwrap_err().code, Code::E0314);
        assert_eq!(non_negative("d", -1.0, "ms").unwrap_err().code, Code::E0314);
        assert_eq!(
            finite("x", f64::INFINITY, "").unwrap_err().code,
            Code::E0314
        );
        assert_eq!(interval("b", 2.0, 1.0).unwrap_err().code, Code::E0314);
        assert_eq!(positive_duration("i", 0.0).unwrap_err().code, Code::E0405);
        assert_eq!(
            positive_duration("i", f64::NAN).unwrap_err().code,
            Code::E0314
        );
        assert_eq!(count("n", 2.5, 0).unwrap_err().code, Code::E0407);
        assert_eq!(count("n", 0.0, 1).unwrap_err().code, Code::E0407);
        assert_eq!(count("n", 3.0, 1), Ok(3));
        assert_eq!(probability("p", 1.0), Ok(1.0));
        assert_eq!(
            probability("`releaseProb`", 1.3).unwrap_err().message,
            "`releaseProb` is 1.3; a probability must be within [0, 1]"
        );
    }
}
