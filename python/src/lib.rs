//! `oauth_callback._native`: the oauth-callback library inside the Python
//! process that calls it. The Python package (`oauth_callback`) wraps it in
//! the original module's API; nothing here is meant to be imported directly.
//!
//! Each server runs on a tokio runtime of its own (one worker), started by
//! [`Server::start`] and gone when the server has stopped, so that no thread
//! stays after the last server. Every blocking call releases the GIL; log
//! records reach the server's `logging.Logger` through one thread per server
//! that takes the GIL for them ([`courier`]).

mod courier;
mod errors;
mod exit;
#[cfg(unix)]
mod fork;
mod options;
mod server;
mod sign_in;
mod trust;
mod waiting;

use std::sync::{Mutex, MutexGuard};

use pyo3::prelude::*;

/// A lock that a panic elsewhere does not poison for good.
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// The module: the server class, the local CA's trust, the command line,
/// the fork and exit hooks, and the library's defaults (the Python
/// signatures' own).
#[pymodule]
mod _native {
    #[pymodule_export]
    use super::exit::at_exit;
    #[pymodule_export]
    use super::server::Server;
    #[pymodule_export]
    use super::sign_in::SignInCall;
    #[pymodule_export]
    use super::trust::{export_root, trust, trust_status, untrust};

    use pyo3::prelude::*;

    /// Run the `oauth-callback` command line (`args`, the program name
    /// first) in this process, as the standalone binary would, and return
    /// its exit code. Blocks until it ends, without the GIL; the caller
    /// restores the default SIGINT action first, so that the command line's
    /// own signal handling decides (exit 130).
    #[pyfunction]
    fn run_cli(py: Python<'_>, args: Vec<std::ffi::OsString>) -> u8 {
        super::exit::detach(py, || oauth_callback::cli::run(args))
    }

    /// The library's defaults, for the package's signatures; and tokio's
    /// signal driver state, which the first runtime of a process makes and
    /// keeps (two descriptors): made here, at import, because made by a
    /// server's runtime in a process out of descriptors it is a panic, not
    /// the `OSError` that a runtime that cannot start then raises.
    #[pymodule_init]
    fn init(module: &Bound<'_, PyModule>) -> PyResult<()> {
        drop(
            tokio::runtime::Builder::new_current_thread()
                .enable_io()
                .build(),
        );
        module.add("DEFAULT_HOST", oauth_callback::DEFAULT_HOST)?;
        module.add("DEFAULT_PORT", oauth_callback::DEFAULT_PORT)?;
        module.add("DEFAULT_PATH", oauth_callback::DEFAULT_PATH)?;
        module.add(
            "DEFAULT_TIMEOUT",
            oauth_callback::DEFAULT_TIMEOUT.as_secs_f64(),
        )?;
        Ok(())
    }

    /// Close, in a child made by `fork()`, its copies of every running
    /// server's listening sockets (registered with `os.register_at_fork`).
    #[pyfunction]
    fn after_fork_in_child() {
        #[cfg(unix)]
        super::fork::close_inherited_listeners();
    }
}
