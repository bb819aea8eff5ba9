//! One rule, one code: the value checks that `.isf` scripts and ISF `.param` files share.
//!
//! A probability of 1.3 is the same mistake whether it is a `release_probability` in a
//! script, a `psth` bin, or a `releaseProb` in a network parameter file, so it gets the same
//! code and wording everywhere. The checker ([`crate::sema`]) turns a [`Broken`] rule into a
//! located diagnostic; the file readers ([`crate::interop::network_param`],
//! [`crate::interop::formats::param`]) into a [`crate::files::FileError`] at the value's line
//! and column. This module depends on nothing but the code registry, so every phase may use
//! it without breaking the one-way layering (syntax → sema → lower → run).
//!
//! The codes:
//!
//! | rule | code |
//! |---|---|
//! | probability or fraction within [0, 1] ([`probability`], [`fraction`]) | E0314 |
//! | non-negative ([`non_negative`]) | E0314 |
//! | finite ([`finite`]) | E0314 |
//! | an interval does not end before it begins ([`interval`]) | E0314 |
//! | positive (`Ra`, `cm`; [`positive`]) | E0314 |
//! | positive duration or time step ([`positive_duration`]) | E0314 |
//! | whole-number count with a lower bound ([`count`]) | E0407 |
//! | whole number ≥ 0 ([`whole`]) | E0407 |
//! | whole number ≥ a bound, limited by the run ([`whole_at_least`]) | E0407 |
//! | a run within the resource [`Limits`]: steps, work items ([`steps`], [`work_items`]) | E0418 |
//! | … compartments, recorded bytes ([`compartments`], [`recorded_bytes`]) | E0418 |
//!
//! E0314 ("value out of range") is the general code, positivity included (E0405, once the code
//! of positive durations, is retired); E0407 is the one code of the integer rule, widened from
//! `trials` to every count, index and seed. A value of the wrong type (a string where a number
//! belongs) is E0306, not a rule of this module. Values arrive in the unit the message shows
//! (times in ms, rates in Hz): the caller converts.

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
    /// The template `message` and `label` were written from: the rule's own ([`POSITIVE`],
    /// [`WHOLE`], …) or [`FINITE`] when a value was not even finite. A caller with its own
    /// words for a rule recognises the rule by it ([`Broken::reworded`]).
    pub wording: Wording,
    /// The value as the message shows it (`-10 ms`, `2.5`), for rewording.
    pub value: String,
}

/// The message template of a rule: `message` and `label` with the placeholders `{what}`
/// (how the value is named: "`duration`", "`interval` of `poisson`"), `{value}` (the value
/// with its unit), `{min}` (a whole-number rule's bound) and `{name}` (a field's bare name,
/// for a field's own wording, see `sema::decls::Field::wording`).
///
/// Each value rule below has one template, so the rule's wording is written once; a field
/// may word its rule its own way (`duration must be positive`) under the same code.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Wording {
    pub message: &'static str,
    pub label: &'static str,
}

/// What fills a [`Wording`]'s placeholders.
#[derive(Clone, Copy, Debug, Default)]
pub struct Fill<'a> {
    pub name: &'a str,
    pub what: &'a str,
    pub value: &'a str,
    pub min: u32,
}

impl Wording {
    /// The message and the label with the placeholders filled.
    pub fn render(self, fill: Fill) -> (String, String) {
        let min = fill.min.to_string();
        let one = |t: &str| {
            t.replace("{name}", fill.name)
                .replace("{what}", fill.what)
                .replace("{value}", fill.value)
                .replace("{min}", &min)
        };
        (one(self.message), one(self.label))
    }
}

/// [`finite`]'s template, also the precondition of every rule on a real number.
pub const FINITE: Wording = Wording {
    message: "{what} is {value}; it must be a finite number",
    label: "not finite",
};
/// [`probability`]'s template.
pub const PROBABILITY: Wording = Wording {
    message: "{what} is {value}; a probability must be within [0, 1]",
    label: "{value} is outside [0, 1]",
};
/// [`fraction`]'s template.
pub const FRACTION: Wording = Wording {
    message: "{what} is {value}; a fraction must be within [0, 1]",
    label: "{value} is outside [0, 1]",
};
/// [`non_negative`]'s template.
pub const NON_NEGATIVE: Wording = Wording {
    message: "{what} is {value}; it must be ≥ 0",
    label: "negative",
};
/// [`positive_duration`]'s template.
pub const POSITIVE_DURATION: Wording = Wording {
    message: "{what} is {value}; a duration must be positive",
    label: "zero or negative",
};
/// [`positive`]'s template.
pub const POSITIVE: Wording = Wording {
    message: "{what} is {value}; it must be > 0",
    label: "zero or negative",
};
/// [`interval`]'s template.
pub const INTERVAL: Wording = Wording {
    message: "{what} is {value}; an interval must not end before it begins",
    label: "ends before it begins",
};
/// [`count`]'s template.
pub const COUNT: Wording = Wording {
    message: "{what} is {value}; a count must be a whole number ≥ {min}",
    label: "not a whole number ≥ {min}",
};
/// The template of [`whole`] and [`whole_at_least`].
pub const WHOLE: Wording = Wording {
    message: "{what} is {value}; it must be a whole number ≥ {min}",
    label: "not a whole number ≥ {min}",
};

fn broken(code: Code, wording: Wording, what: &str, value: String, min: u32) -> Broken {
    let (message, label) = wording.render(Fill {
        name: "",
        what,
        value: &value,
        min,
    });
    Broken {
        code,
        message,
        label,
        wording,
        value,
    }
}

impl Broken {
    /// The same broken rule (same code) in the words of `own`, a field's wording of `rule`:
    /// applied only when `rule` itself was broken, so a value that is not finite keeps the
    /// [`FINITE`] message.
    pub fn reworded(mut self, rule: Wording, own: Wording, fill: Fill) -> Broken {
        if self.wording == rule {
            let fill = Fill {
                value: &self.value,
                ..fill
            };
            (self.message, self.label) = own.render(fill);
        }
        self
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
        Err(broken(Code::E0314, FINITE, what, show(x, unit), 0))
    }
}

/// A probability within [0, 1] (E0314).
pub fn probability(what: &str, x: f64) -> Result<f64, Broken> {
    unit_interval(what, x, PROBABILITY)
}

/// A fraction (of cells, of modulation, of noise) within [0, 1] (E0314).
pub fn fraction(what: &str, x: f64) -> Result<f64, Broken> {
    unit_interval(what, x, FRACTION)
}

fn unit_interval(what: &str, x: f64, wording: Wording) -> Result<f64, Broken> {
    if (0.0..=1.0).contains(&x) {
        Ok(x)
    } else {
        Err(broken(Code::E0314, wording, what, show(x, ""), 0))
    }
}

/// A finite value ≥ 0 (E0314): delays, rates, widths, weights.
pub fn non_negative(what: &str, x: f64, unit: &str) -> Result<f64, Broken> {
    finite(what, x, unit)?;
    if x >= 0.0 {
        Ok(x)
    } else {
        Err(broken(Code::E0314, NON_NEGATIVE, what, show(x, unit), 0))
    }
}

/// A finite duration or time step > 0, in ms (E0314): mean intervals, bin widths, run lengths.
pub fn positive_duration(what: &str, ms: f64) -> Result<f64, Broken> {
    finite(what, ms, "ms")?;
    if ms > 0.0 {
        Ok(ms)
    } else {
        Err(broken(
            Code::E0314,
            POSITIVE_DURATION,
            what,
            show(ms, "ms"),
            0,
        ))
    }
}

/// A finite value > 0 that is not a duration (E0314): resistivity, capacitance.
pub fn positive(what: &str, x: f64, unit: &str) -> Result<f64, Broken> {
    finite(what, x, unit)?;
    if x > 0.0 {
        Ok(x)
    } else {
        Err(broken(Code::E0314, POSITIVE, what, show(x, unit), 0))
    }
}

/// `[begin, end]` with `end ≥ begin` (E0314); both finite, in ms.
pub fn interval(what: &str, begin_ms: f64, end_ms: f64) -> Result<(f64, f64), Broken> {
    finite(what, begin_ms, "ms")?;
    finite(what, end_ms, "ms")?;
    if end_ms >= begin_ms {
        Ok((begin_ms, end_ms))
    } else {
        let value = format!("({begin_ms} ms, {end_ms} ms)");
        Err(broken(Code::E0314, INTERVAL, what, value, 0))
    }
}

/// A whole number ≥ `min` that fits in 32 bits (E0407): cells, synapses, spike counts.
pub fn count(what: &str, x: f64, min: u32) -> Result<u32, Broken> {
    if x.is_finite() && x.fract() == 0.0 && x >= f64::from(min) && x <= f64::from(u32::MAX) {
        Ok(x as u32)
    } else {
        Err(broken(Code::E0407, COUNT, what, show(x, ""), min))
    }
}

/// A whole number ≥ 0 exact in an `f64` (E0407, the integer rule of [`count`]): indices,
/// seeds, `fixed(n)`.
pub fn whole(what: &str, x: f64) -> Result<f64, Broken> {
    if x.is_finite() && x.fract() == 0.0 && x >= 0.0 && x < 2f64.powi(53) {
        Ok(x)
    } else {
        Err(broken(Code::E0407, WHOLE, what, show(x, ""), 0))
    }
}

/// A finite whole number ≥ `min` with no upper bound of its own (E0407): numbers that the
/// resource [`Limits`] bound instead (`trials`, E0418 in [`work_items`]).
pub fn whole_at_least(what: &str, x: f64, min: u32) -> Result<f64, Broken> {
    if x.is_finite() && x.fract() == 0.0 && x >= f64::from(min) {
        Ok(x)
    } else {
        Err(broken(Code::E0407, WHOLE, what, show(x, ""), min))
    }
}

// ---------------------------------------------------------------- resource limits

/// Sane ceilings on the size of a run, checked before anything is allocated (E0418). A real
/// experiment stays far below them; a mistyped exponent (`trials: 1e12`, `dt: 1e-9 ms`, a
/// coordinate of 1e9 µm in a morphology) does not, and would otherwise abort on allocation or
/// run for years. `--allow-large` (or `ISF_ALLOW_LARGE=1`) lifts them to [`Limits::RAISED`],
/// which only keeps the counts representable.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Time steps of one trial (duration / dt, per sweep point).
    pub steps: u64,
    /// Work items of one experiment (sweep points × trials).
    pub work_items: u64,
    /// Compartments of the lowered cell.
    pub compartments: u64,
    /// Bytes recorded by one trial (samples × traces × 8).
    pub bytes_per_trial: u64,
    /// Bytes recorded by one experiment (all its trials).
    pub bytes_per_run: u64,
    /// Presynaptic cells of a network, and declared synapses of a network (each).
    pub network: u64,
    /// Presynaptic spikes (or rate bins) one trial's generated activity is expected to have.
    pub spikes: u64,
}

impl Limits {
    /// The limits every run is checked against unless the user raises them.
    pub const DEFAULT: Limits = Limits {
        steps: 1_000_000_000,
        work_items: 100_000_000,
        compartments: 10_000_000,
        bytes_per_trial: 10_000_000_000,
        bytes_per_run: 1_000_000_000_000,
        network: 10_000_000,
        spikes: 100_000_000,
    };
    /// With `--allow-large`: counts must still be exact in an `f64` (2^53) and compartments
    /// addressable by the solver's 32-bit indices.
    pub const RAISED: Limits = Limits {
        steps: 1 << 53,
        work_items: 1 << 53,
        compartments: u32::MAX as u64,
        bytes_per_trial: u64::MAX,
        bytes_per_run: u64::MAX,
        network: u32::MAX as u64,
        spikes: 1 << 53,
    };
}

static ALLOW_LARGE: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// Raise the limits for the rest of the process (`--allow-large`).
pub fn allow_large() {
    ALLOW_LARGE.store(true, std::sync::atomic::Ordering::Relaxed);
}

/// True when the limits are raised (`--allow-large` or `ISF_ALLOW_LARGE`), e.g. for jobs that
/// must run the same way on other machines.
pub fn limits_raised() -> bool {
    std::env::var("ISF_ALLOW_LARGE").is_ok_and(|v| v == "1" || v.eq_ignore_ascii_case("true"))
        || ALLOW_LARGE.load(std::sync::atomic::Ordering::Relaxed)
}

/// The limits in force: [`Limits::RAISED`] after [`allow_large`] or with the environment
/// variable `ISF_ALLOW_LARGE` set to `1` or `true`, else [`Limits::DEFAULT`].
pub fn limits() -> Limits {
    if limits_raised() {
        Limits::RAISED
    } else {
        Limits::DEFAULT
    }
}

/// The template of every E0418: what is over its limit (`{what}`, a whole clause) and how
/// to raise the limit; the label (`{value}`) says what is too large.
pub const LIMIT: Wording = Wording {
    message: "{what}; if you mean it, run with `--allow-large` (or ISF_ALLOW_LARGE=1)",
    label: "{value}",
};

/// A count for messages: exact below a million, else `2.4e13`.
pub fn show_count(x: f64) -> String {
    if x.is_finite() && x.abs() < 1e6 {
        format!("{x}")
    } else {
        format!("{x:.1e}")
    }
}

/// A number for messages, to 7 significant digits: `0.025`, `1e-9`, `1e300`.
pub fn show_num(x: f64) -> String {
    let r: f64 = format!("{x:.6e}").parse().unwrap_or(x);
    if r == 0.0 || !r.is_finite() || (1e-3..1e6).contains(&r.abs()) {
        format!("{r}")
    } else {
        format!("{r:e}")
    }
}

/// A byte count for messages, in decimal units: `1.9 TB`, `512 MB`.
pub fn show_bytes(b: f64) -> String {
    const UNITS: &[&str] = &["bytes", "kB", "MB", "GB", "TB", "PB", "EB"];
    let mut x = b;
    let mut i = 0;
    while x >= 1000.0 && i + 1 < UNITS.len() {
        x /= 1000.0;
        i += 1;
    }
    if !b.is_finite() || x >= 1000.0 {
        return format!("{} bytes", show_count(b));
    }
    if i == 0 || x >= 100.0 || format!("{x:.1}").ends_with(".0") {
        format!("{x:.0} {}", UNITS[i])
    } else {
        format!("{x:.1} {}", UNITS[i])
    }
}

fn over(what: String, label: String) -> Broken {
    broken(Code::E0418, LIMIT, &what, label, 0)
}

/// The number of time steps of a trial, `duration / dt` (not rounded), when it is finite and
/// within [`Limits::steps`] (E0418).
pub fn steps(duration_ms: f64, dt_ms: f64) -> Result<f64, Broken> {
    let k = duration_ms / dt_ms;
    let limit = limits().steps;
    if k.is_finite() && k <= limit as f64 {
        Ok(k)
    } else {
        Err(over(
            format!(
                "{} ms in steps of {} ms is {} steps per trial; the limit is {}",
                show_num(duration_ms),
                show_num(dt_ms),
                show_count(k),
                show_count(limit as f64)
            ),
            format!("{} steps", show_count(k)),
        ))
    }
}

/// Sweep points × trials, when the product is within [`Limits::work_items`] (E0418). `points`
/// may be saturated ([`crate::model::sweep::sweep_points`]).
pub fn work_items(points: u64, trials: u64) -> Result<u64, Broken> {
    let limit = limits().work_items;
    match points.checked_mul(trials) {
        Some(n) if n <= limit => Ok(n),
        n => Err(over(
            format!(
                "{} sweep point{} × {} trial{} is {} work items; the limit is {}",
                show_count(points as f64),
                if points == 1 { "" } else { "s" },
                show_count(trials as f64),
                if trials == 1 { "" } else { "s" },
                n.map_or_else(|| "more than 1.8e19".to_string(), |n| show_count(n as f64)),
                show_count(limit as f64)
            ),
            "too many work items".into(),
        )),
    }
}

/// A cell's number of compartments, when within [`Limits::compartments`] (E0418). `n` may be
/// saturated.
pub fn compartments(n: u64) -> Result<u64, Broken> {
    let limit = limits().compartments;
    if n <= limit {
        Ok(n)
    } else {
        Err(over(
            format!(
                "the cell would have {} compartments; the limit is {}",
                show_count(n as f64),
                show_count(limit as f64)
            ),
            "too many compartments".into(),
        ))
    }
}

/// A network's presynaptic cells or declared synapses (`what`, e.g. "presynaptic cells"),
/// summed over its populations, when within [`Limits::network`] (E0418).
pub fn network_size(what: &str, n: u64) -> Result<u64, Broken> {
    let limit = limits().network;
    if n <= limit {
        Ok(n)
    } else {
        Err(over(
            format!(
                "the network would have {} {what}; the limit is {}",
                show_count(n as f64),
                show_count(limit as f64)
            ),
            format!("too many {what}"),
        ))
    }
}

/// The presynaptic spikes (or rate bins) a population's activity generates in one trial, an
/// upper estimate, when within [`Limits::spikes`] (E0418). `what` names the population.
pub fn spikes(what: &str, n: f64) -> Result<f64, Broken> {
    let limit = limits().spikes;
    if n.is_finite() && n <= limit as f64 {
        Ok(n)
    } else {
        Err(over(
            format!(
                "{what} would generate about {} spikes or rate bins per trial; the limit is {}",
                show_count(n),
                show_count(limit as f64)
            ),
            "too many spikes".into(),
        ))
    }
}

/// Recorded bytes of one trial and of the whole run (both may be saturated), when within
/// [`Limits::bytes_per_trial`] and [`Limits::bytes_per_run`] (E0418).
pub fn recorded_bytes(per_trial: u64, per_run: u64) -> Result<(), Broken> {
    let l = limits();
    for (bytes, limit, what, per) in [
        (per_trial, l.bytes_per_trial, "one trial", "trial"),
        (per_run, l.bytes_per_run, "this run", "run"),
    ] {
        if bytes > limit {
            return Err(over(
                format!(
                    "{what} would record {}; the limit is {} per {per}",
                    show_bytes(bytes as f64),
                    show_bytes(limit as f64)
                ),
                "too much recorded".into(),
            ));
        }
    }
    Ok(())
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
        assert_eq!(positive_duration("i", 0.0).unwrap_err().code, Code::E0314);
        assert_eq!(whole("s", 1.5).unwrap_err().code, Code::E0407);
        assert_eq!(whole("s", -1.0).unwrap_err().code, Code::E0407);
        assert_eq!(whole("s", 7.0), Ok(7.0));
        assert_eq!(whole_at_least("t", 0.0, 1).unwrap_err().code, Code::E0407);
        assert_eq!(whole_at_least("t", 1e12, 1), Ok(1e12));
        assert_eq!(whole_at_least("t", 1.8e19, 1), Ok(1.8e19));
        assert_eq!(whole("s", 1.8e19).unwrap_err().code, Code::E0407);
        assert_eq!(
            positive_duration("i", f64::NAN).unwrap_err().code,
            Code::E0314
        );
        assert_eq!(count("n", 2.5, 0).unwrap_err().code, Code::E0407);
        assert_eq!(count("n", 0.0, 1).unwrap_err().code, Code::E0407);
        assert_eq!(count("n", 3.0, 1), Ok(3));
        assert_eq!(probability("p", 1.0), Ok(1.0));
        assert_eq!(steps(1e300, 0.025).unwrap_err().code, Code::E0418);
        assert_eq!(steps(10.0, 1e-9).unwrap_err().code, Code::E0418);
        assert_eq!(steps(10.0, 0.025), Ok(400.0));
        assert_eq!(work_items(u64::MAX, 2).unwrap_err().code, Code::E0418);
        assert_eq!(
            work_items(1, 1_000_000_000_000).unwrap_err().code,
            Code::E0418
        );
        assert_eq!(work_items(3, 4), Ok(12));
        assert_eq!(compartments(20_000_000).unwrap_err().code, Code::E0418);
        assert!(
            recorded_bytes(10, 2_000_000_000_000)
                .unwrap_err()
                .message
                .contains("would record 2 TB")
        );
        assert_eq!(show_bytes(1.9e12), "1.9 TB");
        assert_eq!(show_count(2.4e13), "2.4e13");
        assert_eq!(show_num(1.0000000000000003e-9), "1e-9");
        assert_eq!(show_num(1e300), "1e300");
        assert_eq!(show_num(0.025), "0.025");
        assert_eq!(
            probability("`releaseProb`", 1.3).unwrap_err().message,
            "`releaseProb` is 1.3; a probability must be within [0, 1]"
        );
    }

    #[test]
    fn templates_fill_their_placeholders() {
        let b = count("`cells`", 2.5, 1).unwrap_err();
        assert_eq!(
            b.message,
            "`cells` is 2.5; a count must be a whole number ≥ 1"
        );
        assert_eq!(b.label, "not a whole number ≥ 1");
        assert_eq!(b.wording, COUNT);
        let b = positive_duration("`dt`", -1.0).unwrap_err();
        assert_eq!(
            (b.message.as_str(), b.label.as_str(), b.value.as_str()),
            (
                "`dt` is -1 ms; a duration must be positive",
                "zero or negative",
                "-1 ms"
            )
        );
        let b = work_items(1, 1_000_000_000_000).unwrap_err();
        assert!(
            b.message
                .ends_with("; if you mean it, run with `--allow-large` (or ISF_ALLOW_LARGE=1)")
        );
        assert_eq!(b.label, "too many work items");
    }

    #[test]
    fn a_field_rewords_its_rule_but_not_the_finite_precondition() {
        let own = Wording {
            message: "{name} must be a positive integer",
            label: "this is {value}",
        };
        let fill = Fill {
            name: "trials",
            ..Fill::default()
        };
        let b = whole_at_least("`trials`", 2.5, 1).unwrap_err();
        let b = b.reworded(WHOLE, own, fill);
        assert_eq!(b.code, Code::E0407);
        assert_eq!(
            (b.message.as_str(), b.label.as_str()),
            ("trials must be a positive integer", "this is 2.5")
        );
        // Another rule's template is not replaced.
        let b = non_negative("`x`", -1.0, "")
            .unwrap_err()
            .reworded(WHOLE, own, fill);
        assert_eq!(b.message, "`x` is -1; it must be ≥ 0");
        // Nor is the precondition: an infinite value is reported as not finite.
        let own = Wording {
            message: "{what} must be positive",
            label: "zero or negative",
        };
        let b = positive("Ra", f64::INFINITY, "ohm*cm").unwrap_err();
        let b = b.reworded(POSITIVE, own, Fill { what: "Ra", ..fill });
        assert_eq!(b.message, "Ra is inf ohm*cm; it must be a finite number");
        let b = positive("Ra", 0.0, "ohm*cm").unwrap_err();
        let b = b.reworded(
            POSITIVE,
            own,
            Fill {
                what: "axial resistivity Ra",
                ..fill
            },
        );
        assert_eq!(
            (b.message.as_str(), b.label.as_str()),
            ("axial resistivity Ra must be positive", "zero or negative")
        );
    }
}
