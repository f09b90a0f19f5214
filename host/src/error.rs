//! The library's errors: typed, with the underlying cause as `source()` where
//! there is one. Messages name no command-line flag (the CLI adds those).

use std::fmt;
use std::io;
use std::net::SocketAddr;
use std::path::PathBuf;

/// A cause from a library we build on (rustls, rcgen, wasmtime), kept as a
/// trait object so that their types are not part of our API.
pub type Cause = Box<dyn std::error::Error + Send + Sync + 'static>;

/// Everything that can stop a callback server from starting or running.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A setting is malformed or out of range.
    #[error("invalid {setting}: {reason}")]
    InvalidSetting {
        /// Which setting.
        setting: Setting,
        /// What is wrong with it.
        reason: String,
    },

    /// The host is not a loopback address and remote access was not allowed.
    #[error("{host} is not a loopback address: other machines could reach the callback")]
    NotLoopback {
        /// Where it was given: [`Setting::Host`] or [`Setting::RedirectUri`].
        setting: Setting,
        /// The host as given.
        host: String,
    },

    /// The redirect URI's scheme is not the one served.
    #[error("the redirect URI {registered} does not match the server, which speaks {served}")]
    SchemeMismatch {
        /// The redirect URI.
        registered: String,
        /// `http` or `https`.
        served: &'static str,
    },

    /// The address is taken by another program.
    #[error("port {} on {} is already in use", .0.port(), .0.ip())]
    PortInUse(SocketAddr),

    /// None of several ports could be bound; each attempt's error, in order.
    #[error("none of the ports could be used: {}", list_attempts(.0))]
    NoPortAvailable(Vec<Error>),

    /// Listening failed for another reason (permissions, unknown address...).
    #[error("cannot listen on {addr}")]
    Bind {
        /// The address that could not be bound.
        addr: SocketAddr,
        /// What the operating system said.
        #[source]
        source: io::Error,
    },

    /// A certificate or key file could not be read, written or used.
    #[error("{}", path.display())]
    Pem {
        /// The offending file.
        path: PathBuf,
        /// What is wrong with it.
        #[source]
        source: PemError,
    },

    /// TLS could not be set up from otherwise usable material.
    #[error("TLS set-up failed")]
    Tls(#[source] Cause),

    /// The handler component could not be loaded or does not fit the contract.
    #[error("handler {origin}")]
    Handler {
        /// Where the component came from (a path, or "embedded").
        origin: String,
        /// What is wrong with it.
        #[source]
        source: HandlerError,
    },

    /// The blocking API was called inside a tokio runtime, where it cannot
    /// block; use [`AsyncCallbackServer`](crate::AsyncCallbackServer).
    #[error(
        "the blocking CallbackServer cannot run inside a tokio runtime; use AsyncCallbackServer there"
    )]
    InsideAsyncRuntime,

    /// The ready file ([`ConfigBuilder::ready_file`](crate::ConfigBuilder::ready_file))
    /// could not be written; the server was stopped.
    #[error("cannot write the ready file {}", path.display())]
    ReadyFile {
        /// The file.
        path: PathBuf,
        /// What the operating system said.
        #[source]
        source: io::Error,
    },

    /// An unexpected I/O failure while running.
    #[error("I/O error")]
    Io(#[from] io::Error),
}

/// `error` and each of its causes in turn, joined by `: ` on one line: how
/// every face reports a failure.
pub fn error_line(error: &dyn std::error::Error) -> String {
    std::iter::successors(Some(error), |e| e.source())
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(": ")
}

/// Words from outside (a handler's, a provider's) made fit for one log or
/// error line: at most `max` characters, control characters and quotes
/// escaped as Rust writes them (`\n`, `\u{1b}`), so that nothing they hold
/// can forge a line or drive the terminal.
pub(crate) fn escaped_line(words: &str, max: usize) -> String {
    words
        .chars()
        .take(max)
        .flat_map(char::escape_debug)
        .collect()
}

fn list_attempts(attempts: &[Error]) -> String {
    let attempt = |e: &Error| match e {
        Error::PortInUse(addr) => format!("{} (in use)", addr.port()),
        Error::Bind { addr, source } => format!("{} ({source})", addr.port()),
        other => other.to_string(),
    };
    attempts.iter().map(attempt).collect::<Vec<_>>().join(", ")
}

/// The settings an [`Error::InvalidSetting`] can name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Setting {
    /// [`ConfigBuilder::host`](crate::ConfigBuilder::host).
    Host,
    /// [`ConfigBuilder::path`](crate::ConfigBuilder::path).
    Path,
    /// [`ConfigBuilder::ports`](crate::ConfigBuilder::ports).
    Port,
    /// [`ConfigBuilder::timeout`](crate::ConfigBuilder::timeout).
    Timeout,
    /// [`ConfigBuilder::redirect_uri`](crate::ConfigBuilder::redirect_uri).
    RedirectUri,
    /// [`ConfigBuilder::success_redirect`](crate::ConfigBuilder::success_redirect).
    SuccessRedirect,
    /// [`ConfigBuilder::error_redirect`](crate::ConfigBuilder::error_redirect).
    ErrorRedirect,
    /// [`ConfigBuilder::expect_state`](crate::ConfigBuilder::expect_state).
    ExpectedState,
    /// [`ConfigBuilder::expect_issuer`](crate::ConfigBuilder::expect_issuer).
    ExpectedIssuer,
    /// [`ConfigBuilder::ready_file`](crate::ConfigBuilder::ready_file).
    ReadyFile,
}

impl fmt::Display for Setting {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Setting::Host => "host",
            Setting::Path => "callback path",
            Setting::Port => "port",
            Setting::Timeout => "timeout",
            Setting::RedirectUri => "redirect URI",
            Setting::SuccessRedirect => "success redirect",
            Setting::ErrorRedirect => "error redirect",
            Setting::ExpectedState => "expected state",
            Setting::ExpectedIssuer => "expected issuer",
            Setting::ReadyFile => "ready file",
        })
    }
}

/// What is wrong with a certificate or key file.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PemError {
    /// It could not be read (missing, not a regular file, too large...).
    #[error("cannot read the file")]
    Read(#[source] io::Error),
    /// It could not be written.
    #[error("cannot write the file")]
    Write(#[source] io::Error),
    /// It is not valid PEM.
    #[error("not valid PEM")]
    Syntax(#[source] Cause),
    /// It holds no certificate.
    #[error("no CERTIFICATE block found; expected a PEM certificate chain")]
    NoCertificate,
    /// It holds no private key.
    #[error("no private key found; expected a PEM PRIVATE KEY block")]
    NoKey,
    /// The key does not belong to the certificate.
    #[error("the private key does not match the certificate in {}", certificate.display())]
    KeyMismatch {
        /// The certificate file it was paired with.
        certificate: PathBuf,
    },
}

/// Why a handler component cannot be used.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum HandlerError {
    /// The file could not be read.
    #[error("cannot read the file")]
    Read(#[source] io::Error),
    /// It breaks the contract: not a component, a missing export, an import
    /// outside the sandbox...
    #[error("{0}")]
    Contract(String),
    /// wasmtime could not compile, load or link it.
    #[error("cannot load it")]
    Load(#[source] Cause),
}

/// Shorthand for results of this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;
