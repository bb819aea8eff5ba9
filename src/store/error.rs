//! Store errors: a code from the `E06xx` range, the key concerned and a message.
//!
//! Store problems have no script span, so they render as one plain line
//! (`error[E0601]: key 'traces': …`) and convert into a [`Diagnostic`] for callers that collect
//! diagnostics.

use crate::diagnostics::{Code, Diagnostic};
use std::fmt;
use std::path::Path;

/// One store failure. Every public store operation returns this as its error.
#[derive(Clone, Debug, PartialEq)]
pub struct StoreError {
    /// A code in the `E06xx` range.
    pub code: Code,
    /// The `/`-separated key concerned, when there is one.
    pub key: Option<String>,
    /// What went wrong, lower case, no trailing period.
    pub message: String,
}

/// Result alias for store operations.
pub type Result<T> = std::result::Result<T, StoreError>;

impl StoreError {
    /// An error about the store as a whole (no key).
    pub fn new(code: Code, message: impl Into<String>) -> StoreError {
        StoreError {
            code,
            key: None,
            message: message.into(),
        }
    }

    /// An error about one key.
    pub fn at(code: Code, key: &str, message: impl Into<String>) -> StoreError {
        StoreError {
            code,
            key: Some(key.to_string()),
            message: message.into(),
        }
    }

    /// An I/O failure on `path` (E0607), naming the key when known.
    pub fn io(key: Option<&str>, path: &Path, err: &std::io::Error) -> StoreError {
        StoreError {
            code: Code::E0607,
            key: key.map(str::to_string),
            message: format!("{}: {err}", path.display()),
        }
    }

    /// As a [`Diagnostic`] (no labels; the key is part of the message).
    pub fn to_diagnostic(&self) -> Diagnostic {
        Diagnostic::new(self.code, self.headline())
    }

    fn headline(&self) -> String {
        match &self.key {
            Some(k) => format!("key '{k}': {}", self.message),
            None => self.message.clone(),
        }
    }
}

impl fmt::Display for StoreError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "error[{}]: {}", self.code.as_str(), self.headline())
    }
}

impl std::error::Error for StoreError {}

impl From<StoreError> for Diagnostic {
    fn from(e: StoreError) -> Diagnostic {
        e.to_diagnostic()
    }
}
