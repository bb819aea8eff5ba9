//! The `isf` binary: a thin wrapper around [`isf::app::main`].

fn main() {
    // `isf plan … | head` must end quietly when the reader goes away, as other Unix tools do,
    // instead of panicking on a failed write: restore the default SIGPIPE action.
    #[cfg(unix)]
    // SAFETY: setting a signal disposition to its default before any threads exist.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
    std::process::exit(isf::app::main());
}
