//! Physical dimensions and units.
//!
//! A [`Dim`] is a vector of SI base-dimension exponents (m, kg, s, A, K, mol). Unit names are
//! resolved against a table of base units with optional SI prefixes (`mV`, `uF`, `Mohm`, `mM`),
//! trailing-digit powers (`cm2`) and explicit `^n`. Values are carried in SI during checking and
//! converted to isf's canonical units (see [`CANONICAL`]) when lowering.
//!
//! Temperatures are done right: `degC` is an *affine* (absolute) unit. Differences of two
//! absolute temperatures are plain temperature differences (kelvin); an absolute temperature in
//! a product, quotient or power is an error (E0312), because `10 degC` is 283.15 K, not 10 K.

use serde::Serialize;
use std::fmt;

/// Exponents of the SI base dimensions: metre, kilogram, second, ampere, kelvin, mole.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default, Serialize)]
pub struct Dim(pub [i8; 6]);

const BASE_SYMBOLS: [&str; 6] = ["m", "kg", "s", "A", "K", "mol"];

#[allow(clippy::should_implement_trait)]
impl Dim {
    /// Dimensionless.
    pub const ONE: Dim = Dim([0; 6]);
    pub const LENGTH: Dim = Dim([1, 0, 0, 0, 0, 0]);
    pub const MASS: Dim = Dim([0, 1, 0, 0, 0, 0]);
    pub const TIME: Dim = Dim([0, 0, 1, 0, 0, 0]);
    pub const CURRENT: Dim = Dim([0, 0, 0, 1, 0, 0]);
    pub const TEMPERATURE: Dim = Dim([0, 0, 0, 0, 1, 0]);
    pub const AMOUNT: Dim = Dim([0, 0, 0, 0, 0, 1]);
    /// V = kg m² s⁻³ A⁻¹
    pub const VOLTAGE: Dim = Dim([2, 1, -3, -1, 0, 0]);
    /// S = kg⁻¹ m⁻² s³ A²
    pub const CONDUCTANCE: Dim = Dim([-2, -1, 3, 2, 0, 0]);
    /// F = kg⁻¹ m⁻² s⁴ A²
    pub const CAPACITANCE: Dim = Dim([-2, -1, 4, 2, 0, 0]);
    /// Ω = kg m² s⁻³ A⁻²
    pub const RESISTANCE: Dim = Dim([2, 1, -3, -2, 0, 0]);
    /// mol/m³
    pub const CONCENTRATION: Dim = Dim([-3, 0, 0, 0, 0, 1]);
    /// 1/s
    pub const FREQUENCY: Dim = Dim([0, 0, -1, 0, 0, 0]);

    /// Product of dimensions.
    pub fn mul(self, o: Dim) -> Dim {
        let mut r = [0i8; 6];
        for (i, x) in r.iter_mut().enumerate() {
            *x = self.0[i].saturating_add(o.0[i]);
        }
        Dim(r)
    }

    /// Quotient of dimensions.
    pub fn div(self, o: Dim) -> Dim {
        self.mul(o.powi(-1))
    }

    /// Integer power.
    pub fn powi(self, n: i32) -> Dim {
        let mut r = [0i8; 6];
        for (i, x) in r.iter_mut().enumerate() {
            *x = (self.0[i] as i32 * n).clamp(-127, 127) as i8;
        }
        Dim(r)
    }

    /// True when dimensionless.
    pub fn is_one(self) -> bool {
        self == Dim::ONE
    }

    /// A readable name for the dimension if it is a familiar quantity.
    pub fn quantity_name(self) -> Option<&'static str> {
        CANONICAL.iter().find(|c| c.dim == self).map(|c| c.quantity)
    }

    /// Dimension as SI base units, e.g. `kg·m²·s⁻³·A⁻¹`.
    pub fn si_string(self) -> String {
        if self.is_one() {
            return "1 (dimensionless)".into();
        }
        let mut parts = Vec::new();
        for (i, &e) in self.0.iter().enumerate() {
            match e {
                0 => {}
                1 => parts.push(BASE_SYMBOLS[i].to_string()),
                _ => parts.push(format!("{}^{}", BASE_SYMBOLS[i], e)),
            }
        }
        parts.join("·")
    }

    /// Human description: `voltage (kg·m^2·s^-3·A^-1)`.
    pub fn describe(self) -> String {
        match self.quantity_name() {
            Some(q) => format!("{q} [{}]", self.si_string()),
            None => format!("[{}]", self.si_string()),
        }
    }
}

impl fmt::Display for Dim {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.describe())
    }
}

/// A canonical unit: what lowering converts quantities of a dimension into.
#[derive(Clone, Copy, Debug)]
pub struct Canonical {
    /// Name of the quantity (`voltage`).
    pub quantity: &'static str,
    pub dim: Dim,
    /// The canonical unit as written in isf.
    pub unit: &'static str,
    /// Size of one canonical unit in SI.
    pub si_scale: f64,
}

/// The canonical units of isf: after lowering, every quantity is an `f64` in these units. This
/// is the one place they are listed.
pub const CANONICAL: &[Canonical] = &[
    Canonical {
        quantity: "length",
        dim: Dim::LENGTH,
        unit: "um",
        si_scale: 1e-6,
    },
    Canonical {
        quantity: "area",
        dim: Dim([2, 0, 0, 0, 0, 0]),
        unit: "um2",
        si_scale: 1e-12,
    },
    Canonical {
        quantity: "time",
        dim: Dim::TIME,
        unit: "ms",
        si_scale: 1e-3,
    },
    Canonical {
        quantity: "frequency",
        dim: Dim::FREQUENCY,
        unit: "Hz",
        si_scale: 1.0,
    },
    Canonical {
        quantity: "voltage",
        dim: Dim::VOLTAGE,
        unit: "mV",
        si_scale: 1e-3,
    },
    Canonical {
        quantity: "current",
        dim: Dim::CURRENT,
        unit: "nA",
        si_scale: 1e-9,
    },
    Canonical {
        quantity: "conductance",
        dim: Dim::CONDUCTANCE,
        unit: "nS",
        si_scale: 1e-9,
    },
    Canonical {
        quantity: "resistance",
        dim: Dim::RESISTANCE,
        unit: "Mohm",
        si_scale: 1e6,
    },
    Canonical {
        quantity: "conductance density",
        dim: Dim([-4, -1, 3, 2, 0, 0]),
        unit: "S/cm2",
        si_scale: 1e4,
    },
    Canonical {
        quantity: "capacitance density",
        dim: Dim([-4, -1, 4, 2, 0, 0]),
        unit: "uF/cm2",
        si_scale: 1e-2,
    },
    Canonical {
        quantity: "current density",
        dim: Dim([-2, 0, 0, 1, 0, 0]),
        unit: "mA/cm2",
        si_scale: 10.0,
    },
    Canonical {
        quantity: "resistivity",
        dim: Dim([3, 1, -3, -2, 0, 0]),
        unit: "ohm*cm",
        si_scale: 1e-2,
    },
    Canonical {
        quantity: "capacitance",
        dim: Dim::CAPACITANCE,
        unit: "pF",
        si_scale: 1e-12,
    },
    Canonical {
        quantity: "concentration",
        dim: Dim::CONCENTRATION,
        unit: "mM",
        si_scale: 1.0,
    },
    Canonical {
        quantity: "concentration rate",
        dim: Dim([-3, 0, -1, 0, 0, 1]),
        unit: "mM/ms",
        si_scale: 1e3,
    },
    Canonical {
        quantity: "temperature",
        dim: Dim::TEMPERATURE,
        unit: "K",
        si_scale: 1.0,
    },
    Canonical {
        quantity: "charge per amount",
        dim: Dim([0, 0, 1, 1, 0, -1]),
        unit: "C/mol",
        si_scale: 1.0,
    },
    Canonical {
        quantity: "molar gas constant",
        dim: Dim([2, 1, -2, 0, -1, -1]),
        unit: "J/mol/K",
        si_scale: 1.0,
    },
    Canonical {
        quantity: "linear density",
        dim: Dim([-1, 0, 0, 0, 0, 0]),
        unit: "1/um",
        si_scale: 1e6,
    },
    Canonical {
        quantity: "dimensionless",
        dim: Dim::ONE,
        unit: "1",
        si_scale: 1.0,
    },
];

/// Canonical scale for a dimension: known quantities use [`CANONICAL`], others stay SI.
pub fn canonical_scale(dim: Dim) -> (f64, String) {
    match CANONICAL.iter().find(|c| c.dim == dim) {
        Some(c) => (c.si_scale, c.unit.to_string()),
        None => (1.0, format!("SI [{}]", dim.si_string())),
    }
}

/// A resolved unit: SI scale, dimension, and for degC the offset that makes it affine.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Unit {
    pub scale: f64,
    pub dim: Dim,
    /// `Some(offset_K)` for an absolute (affine) temperature unit: SI = value·scale + offset.
    pub affine_offset: Option<f64>,
}

/// Base unit names (without prefix): name, SI scale, dimension.
const BASE_UNITS: &[(&str, f64, Dim)] = &[
    ("m", 1.0, Dim::LENGTH),
    ("g", 1e-3, Dim::MASS),
    ("s", 1.0, Dim::TIME),
    ("A", 1.0, Dim::CURRENT),
    ("K", 1.0, Dim::TEMPERATURE),
    ("mol", 1.0, Dim::AMOUNT),
    ("M", 1e3, Dim::CONCENTRATION),
    ("L", 1e-3, Dim([3, 0, 0, 0, 0, 0])),
    ("l", 1e-3, Dim([3, 0, 0, 0, 0, 0])),
    ("Hz", 1.0, Dim::FREQUENCY),
    ("V", 1.0, Dim::VOLTAGE),
    ("S", 1.0, Dim::CONDUCTANCE),
    ("F", 1.0, Dim::CAPACITANCE),
    ("ohm", 1.0, Dim::RESISTANCE),
    ("Ω", 1.0, Dim::RESISTANCE),
    ("C", 1.0, Dim([0, 0, 1, 1, 0, 0])),
    ("J", 1.0, Dim([2, 1, -2, 0, 0, 0])),
    ("W", 1.0, Dim([2, 1, -3, 0, 0, 0])),
    ("N", 1.0, Dim([1, 1, -2, 0, 0, 0])),
];

/// Units that take no prefix.
const PLAIN_UNITS: &[(&str, f64, Dim)] = &[
    ("min", 60.0, Dim::TIME),
    ("h", 3600.0, Dim::TIME),
    ("um", 1e-6, Dim::LENGTH),
    ("percent", 1e-2, Dim::ONE),
];

const PREFIXES: &[(&str, f64)] = &[
    ("Y", 1e24),
    ("Z", 1e21),
    ("E", 1e18),
    ("P", 1e15),
    ("T", 1e12),
    ("G", 1e9),
    ("M", 1e6),
    ("k", 1e3),
    ("h", 1e2),
    ("da", 1e1),
    ("d", 1e-1),
    ("c", 1e-2),
    ("m", 1e-3),
    ("u", 1e-6),
    ("µ", 1e-6),
    ("μ", 1e-6),
    ("n", 1e-9),
    ("p", 1e-12),
    ("f", 1e-15),
    ("a", 1e-18),
];

/// Every spelled unit name the resolver knows without prefix combinations (for completion and
/// "did you mean").
pub fn common_unit_names() -> Vec<String> {
    let mut v: Vec<String> = vec![
        "mV", "V", "uV", "ms", "s", "us", "um", "nm", "mm", "cm", "m", "cm2", "um2", "nA", "pA",
        "uA", "mA", "nS", "uS", "mS", "S", "pS", "S/cm2", "mS/cm2", "uF/cm2", "pF", "ohm", "Mohm",
        "Gohm", "kohm", "ohm*cm", "mM", "uM", "nM", "M", "mol", "Hz", "kHz", "degC", "K", "C", "J",
        "mA/cm2", "min", "h", "percent",
    ]
    .into_iter()
    .map(String::from)
    .collect();
    v.sort();
    v
}

/// Suggest the isf spelling for a unit written out in words (`mVolt` → `mV`, `microsiemens`
/// → `uS`, `celsius` → `degC`).
pub fn spelled_out(name: &str) -> Option<String> {
    const WORDS: &[(&str, &str)] = &[
        ("volt", "V"),
        ("volts", "V"),
        ("ampere", "A"),
        ("amp", "A"),
        ("amps", "A"),
        ("second", "s"),
        ("seconds", "s"),
        ("sec", "s"),
        ("siemens", "S"),
        ("farad", "F"),
        ("ohms", "ohm"),
        ("meter", "m"),
        ("metre", "m"),
        ("meters", "m"),
        ("molar", "M"),
        ("hertz", "Hz"),
        ("hz", "Hz"),
        ("kelvin", "K"),
        ("celsius", "degC"),
        ("degc", "degC"),
        ("gram", "g"),
        ("liter", "L"),
        ("litre", "L"),
        ("mole", "mol"),
        ("coulomb", "C"),
    ];
    const WORD_PREFIXES: &[(&str, &str)] = &[
        ("micro", "u"),
        ("milli", "m"),
        ("nano", "n"),
        ("pico", "p"),
        ("kilo", "k"),
        ("mega", "M"),
        ("giga", "G"),
        ("centi", "c"),
    ];
    let lower = name.to_lowercase();
    let lookup = |w: &str| WORDS.iter().find(|(k, _)| *k == w).map(|(_, v)| *v);
    if let Some(v) = lookup(&lower) {
        return Some(v.to_string());
    }
    for (wp, p) in WORD_PREFIXES {
        if let Some(rest) = lower.strip_prefix(wp)
            && let Some(v) = lookup(rest)
        {
            return Some(format!("{p}{v}"));
        }
    }
    // A one-letter SI prefix followed by a word: mVolt, uSiemens.
    let mut chars = name.chars();
    let first = chars.next()?;
    let rest: String = chars.collect();
    if PREFIXES
        .iter()
        .any(|(p, _)| p.starts_with(first) && p.len() == first.len_utf8())
        && let Some(v) = lookup(&rest.to_lowercase())
    {
        return Some(format!("{first}{v}"));
    }
    None
}

/// Resolve one unit name such as `mV`, `cm2`, `Mohm`, `degC`.
pub fn resolve_name(name: &str) -> Option<Unit> {
    if name == "degC" || name == "°C" {
        return Some(Unit {
            scale: 1.0,
            dim: Dim::TEMPERATURE,
            affine_offset: Some(273.15),
        });
    }
    // Trailing digits are a power: cm2 = cm^2.
    let stem_end = name
        .char_indices()
        .rev()
        .take_while(|(_, c)| c.is_ascii_digit())
        .last()
        .map(|(i, _)| i)
        .unwrap_or(name.len());
    let (stem, digits) = name.split_at(stem_end);
    let power: i32 = if digits.is_empty() {
        1
    } else {
        digits.parse().ok()?
    };
    if stem.is_empty() || power == 0 || power > 9 {
        return None;
    }
    let (scale, dim) = resolve_stem(stem)?;
    Some(Unit {
        scale: scale.powi(power),
        dim: dim.powi(power),
        affine_offset: None,
    })
}

fn resolve_stem(stem: &str) -> Option<(f64, Dim)> {
    for &(n, s, d) in PLAIN_UNITS.iter().chain(BASE_UNITS) {
        if n == stem {
            return Some((s, d));
        }
    }
    for &(p, ps) in PREFIXES {
        if let Some(rest) = stem.strip_prefix(p) {
            for &(n, s, d) in BASE_UNITS {
                if n == rest {
                    return Some((ps * s, d));
                }
            }
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn u(n: &str) -> Unit {
        resolve_name(n).unwrap_or_else(|| panic!("{n}"))
    }

    #[test]
    fn names() {
        assert_eq!(u("mV").dim, Dim::VOLTAGE);
        assert!((u("mV").scale - 1e-3).abs() < 1e-18);
        assert_eq!(u("cm2").dim, Dim([2, 0, 0, 0, 0, 0]));
        assert!((u("cm2").scale - 1e-4).abs() < 1e-18);
        assert!((u("Mohm").scale - 1e6).abs() < 1e-6);
        assert!((u("mM").scale - 1.0).abs() < 1e-15);
        assert_eq!(u("mM").dim, Dim::CONCENTRATION);
        assert!((u("uM").scale - 1e-3).abs() < 1e-18);
        assert!((u("ms").scale - 1e-3).abs() < 1e-18);
        assert_eq!(u("degC").affine_offset, Some(273.15));
        assert!(resolve_name("mVV").is_none());
        assert!(resolve_name("cm0").is_none());
        assert!(resolve_name("xyz").is_none());
    }

    #[test]
    fn canonical_table_is_consistent() {
        // Each canonical unit, spelled in isf, resolves to the listed dimension and scale.
        for c in CANONICAL {
            if c.unit == "1" || c.unit.contains('/') || c.unit.contains('*') {
                continue;
            }
            let r = u(c.unit);
            assert_eq!(r.dim, c.dim, "{}", c.unit);
            assert!((r.scale / c.si_scale - 1.0).abs() < 1e-12, "{}", c.unit);
        }
    }
}
