//! `isf morph`: print sections or segments of a morphology.

use clap::Args;

/// Arguments of `isf morph`.
#[derive(Args, Debug)]
pub struct MorphArgs {
    /// Morphology file (.hoc or .swc).
    pub file: std::path::PathBuf,
}

/// Run `isf morph`.
pub fn run(_args: MorphArgs) -> i32 {
    eprintln!("isf morph: not implemented yet");
    1
}
