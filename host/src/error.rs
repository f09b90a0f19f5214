//! The one error type of the library, with messages a user can act on.

use std::io;
use std::net::SocketAddr;
use std::path::PathBuf;

/// Everything that can stop a callback server from starting or running.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The configuration is inconsistent or out of range.
    #[error("invalid configuration: {0}")]
    Config(String),

    /// The address is taken by another program.
    #[error(
        "port {port} on {ip} is already in use; free it or choose another port with --port (0 picks a free one)",
        ip = .0.ip(), port = .0.port()
    )]
    PortInUse(SocketAddr),

    /// Listening failed for another reason (permissions, unknown address...).
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// The address that could not be bound.
        addr: SocketAddr,
        /// What the operating system said.
        source: io::Error,
    },

    /// A certificate or key file could not be read or is not usable.
    #[error("{path}: {reason}")]
    Pem {
        /// The offending file.
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
    },

    /// TLS could not be set up from otherwise readable material.
    #[error("TLS setup failed: {0}")]
    Tls(String),

    /// The handler component could not be loaded or does not fit the contract.
    #[error("handler {origin}: {reason}")]
    Handler {
        /// Where the component came from (a path, or "embedded").
        origin: String,
        /// What is wrong with it.
        reason: String,
    },

    /// A file could not be written (`--ready-file`, `export-handler`).
    #[error("cannot write {}: {source}", path.display())]
    Write {
        /// The file.
        path: PathBuf,
        /// What the operating system said.
        source: io::Error,
    },

    /// The blocking API was called inside a tokio runtime, where it cannot
    /// block; use [`AsyncCallbackServer`](crate::AsyncCallbackServer).
    #[error(
        "the blocking CallbackServer cannot run inside a tokio runtime; use AsyncCallbackServer there"
    )]
    InsideAsyncRuntime,

    /// An unexpected I/O failure while running.
    #[error("I/O error: {0}")]
    Io(#[from] io::Error),
}

/// Shorthand for results of this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;
