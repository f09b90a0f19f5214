//! `oauth_callback._native`: the oauth-callback library inside the Python
//! process that calls it. The Python package (`oauth_callback`) wraps it in
//! the original module's API; nothing here is meant to be imported directly.
//!
//! Each server runs on a tokio runtime of its own (two workers), started by
//! [`Server::start`] and gone when the server has stopped, so that no thread
//! stays after the last server. Every blocking call releases the GIL; log
//! records reach the server's `logging.Logger` through one thread per server
//! that takes the GIL for them ([`courier`]).

mod courier;
mod errors;
#[cfg(unix)]
mod fork;
mod options;
mod server;

use pyo3::prelude::*;

/// The module: the server class, the command line, and the fork hook.
#[pymodule]
mod _native {
    #[pymodule_export]
    use super::server::Server;

    use pyo3::prelude::*;

    /// Run the `oauth-callback` command line (`args`, the program name
    /// first) in this process, as the standalone binary would, and return
    /// its exit code. Blocks until it ends, without the GIL; the caller
    /// restores the default SIGINT action first, so that the command line's
    /// own signal handling decides (exit 130).
    #[pyfunction]
    fn run_cli(py: Python<'_>, args: Vec<std::ffi::OsString>) -> u8 {
        py.detach(|| oauth_callback::cli::run(args))
    }

    /// `oauth-callback trust FLAGS` in this process (the local CA, made once
    /// and trusted in the user's browsers), without the GIL; what it does
    /// is printed on stdout. Raises `ConfigError` with the reason when it
    /// cannot.
    #[pyfunction]
    fn trust(py: Python<'_>, flags: Vec<std::ffi::OsString>) -> PyResult<()> {
        py.detach(|| oauth_callback::cli::trust(flags))
            .map_err(|e| super::errors::config_error(e.report()))
    }

    /// Close, in a child made by `fork()`, its copies of every running
    /// server's listening sockets (registered with `os.register_at_fork`).
    #[pyfunction]
    fn after_fork_in_child() {
        #[cfg(unix)]
        super::fork::close_inherited_listeners();
    }
}
