//! Errors of the cable solver and their diagnostics.

use crate::diagnostics::{Code, Diagnostic};
use std::fmt;

/// Something that stops a simulation from being built or from running on.
#[derive(Clone, Debug, PartialEq)]
pub enum SimError {
    /// The geometry handed over by the morphology code cannot form a cable tree.
    InvalidGeometry {
        /// Section index.
        section: usize,
        /// Section name.
        name: String,
        /// What is wrong.
        message: String,
    },
    /// A location `(section, x)` that does not exist on the cell.
    InvalidLocation {
        /// Section index as given.
        section: usize,
        /// Position as given.
        x: f64,
        /// What is wrong.
        message: String,
    },
    /// A simulation setting or mechanism parameter that cannot be used (e.g. `dt ≤ 0`).
    InvalidSetting {
        /// What is wrong.
        message: String,
    },
    /// A voltage became NaN or infinite (E0501).
    NonFinite {
        /// Node index in the tree.
        node: u32,
        /// `section(x)` of the node.
        location: String,
        /// Time at the end of the failing step, ms.
        t_ms: f64,
        /// The offending value.
        v_mv: f64,
    },
    /// A voltage left the plausible range `±v_limit_mv` (E0502).
    Runaway {
        /// Node index in the tree.
        node: u32,
        /// `section(x)` of the node.
        location: String,
        /// Time at the end of the failing step, ms.
        t_ms: f64,
        /// The offending voltage, mV.
        v_mv: f64,
        /// The configured limit, mV.
        v_limit_mv: f64,
    },
}

impl SimError {
    /// The stable diagnostic code.
    pub fn code(&self) -> Code {
        match self {
            SimError::NonFinite { .. } => Code::E0501,
            SimError::Runaway { .. } => Code::E0502,
            // Geometry, locations and settings are checked by earlier phases; reaching the
            // solver with bad ones is an internal error.
            SimError::InvalidGeometry { .. }
            | SimError::InvalidLocation { .. }
            | SimError::InvalidSetting { .. } => Code::E0901,
        }
    }

    /// Convert to a renderer-independent diagnostic (no source span: run-time errors).
    pub fn to_diagnostic(&self) -> Diagnostic {
        let d = Diagnostic::new(self.code(), self.to_string());
        match self {
            SimError::NonFinite { .. } | SimError::Runaway { .. } => d.help(
                "reduce dt, check for negative or huge conductances, or check the stimulus \
                 amplitudes",
            ),
            _ => d,
        }
    }
}

impl fmt::Display for SimError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SimError::InvalidGeometry {
                section,
                name,
                message,
            } => write!(
                f,
                "invalid geometry of section {section} `{name}`: {message}"
            ),
            SimError::InvalidLocation {
                section,
                x,
                message,
            } => write!(
                f,
                "invalid location section {section} at x = {x}: {message}"
            ),
            SimError::InvalidSetting { message } => {
                write!(f, "invalid simulation setting: {message}")
            }
            SimError::NonFinite {
                node,
                location,
                t_ms,
                v_mv,
            } => write!(
                f,
                "membrane voltage became {v_mv} at {location} (node {node}) at t = {t_ms} ms"
            ),
            SimError::Runaway {
                node,
                location,
                t_ms,
                v_mv,
                v_limit_mv,
            } => write!(
                f,
                "membrane voltage ran away to {v_mv:.4e} mV (limit ±{v_limit_mv} mV) at \
                 {location} (node {node}) at t = {t_ms} ms"
            ),
        }
    }
}

impl std::error::Error for SimError {}
