//! The `isf` binary: a thin wrapper around [`isf::cli::main`].

fn main() {
    std::process::exit(isf::cli::main());
}
