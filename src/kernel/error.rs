//! Errors of kernel compilation and of active-cell runs, with their diagnostics (E05xx).

use crate::diagnostics::{Code, Diagnostic};
use crate::sim::SimError;
use std::fmt;

/// Something that stops an active cell from being built or from running on.
#[derive(Clone, Debug, PartialEq)]
pub enum KernelError {
    /// A mechanism cannot be compiled to a kernel or its placement is unusable (E0504).
    Compile {
        /// Mechanism name.
        mechanism: String,
        /// What is wrong.
        message: String,
    },
    /// A cell-level setting is unusable (E0504), e.g. an unknown ion or mismatched columns.
    Setup {
        /// What is wrong.
        message: String,
    },
    /// A mechanism state became NaN or infinite during a run (E0503).
    NonFiniteState {
        /// Mechanism name.
        mechanism: String,
        /// State name.
        state: String,
        /// `section(x)` of the compartment.
        location: String,
        /// Time at the end of the failing step, ms.
        t_ms: f64,
        /// The offending value.
        value: f64,
    },
    /// A voltage became non-finite or ran away, no mechanism state being non-finite
    /// (E0501/E0502, from the cable solver).
    Voltage(SimError),
}

impl KernelError {
    /// The stable diagnostic code.
    pub fn code(&self) -> Code {
        match self {
            KernelError::Compile { .. } | KernelError::Setup { .. } => Code::E0504,
            KernelError::NonFiniteState { .. } => Code::E0503,
            KernelError::Voltage(e) => e.code(),
        }
    }

    /// Convert to a renderer-independent diagnostic (no source span).
    pub fn to_diagnostic(&self) -> Diagnostic {
        match self {
            KernelError::Voltage(e) => e.to_diagnostic(),
            KernelError::NonFiniteState { .. } => Diagnostic::new(self.code(), self.to_string())
                .help(
                    "reduce dt, check the mechanism's rate functions for divisions by zero, or \
                     check its parameters on this compartment",
                ),
            _ => Diagnostic::new(self.code(), self.to_string()),
        }
    }
}

impl fmt::Display for KernelError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            KernelError::Compile { mechanism, message } => {
                write!(f, "mechanism `{mechanism}` cannot be compiled: {message}")
            }
            KernelError::Setup { message } => write!(f, "active cell setup: {message}"),
            KernelError::NonFiniteState {
                mechanism,
                state,
                location,
                t_ms,
                value,
            } => write!(
                f,
                "state `{state}` of mechanism `{mechanism}` became {value} at {location} at \
                 t = {t_ms} ms"
            ),
            KernelError::Voltage(e) => e.fmt(f),
        }
    }
}

impl std::error::Error for KernelError {}

impl From<SimError> for KernelError {
    fn from(e: SimError) -> KernelError {
        KernelError::Voltage(e)
    }
}
