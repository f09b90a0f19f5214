//! oauth-callback receives the one redirect that ends a native app's OAuth
//! sign-in, on `https://127.0.0.1:<port>/<path>`, and hands its parameters to
//! the caller.
//!
//! The request handling itself (parameter merging, pages, the `#fragment`
//! bridge) lives in a sandboxed WebAssembly component; this crate is the host:
//! TLS, HTTP, limits, the timeout and the one-shot rule.
//!
//! Two levels, as in the original Python module, each with a blocking face
//! (below) and an async one for tokio programs ([`AsyncCallbackServer`]):
//!
//! ```no_run
//! use std::time::Duration;
//! use oauth_callback::{CallbackServer, Config, Tls, run_callback_server};
//!
//! # fn main() -> Result<(), oauth_callback::Error> {
//! // High level: start, wait for one callback (or the timeout), shut down.
//! let config = Config::builder().port(8080).path("/callback").tls(Tls::Adhoc).build()?;
//! match run_callback_server(config)? {
//!     Some(result) => println!("code = {:?}", result.code()),
//!     None => eprintln!("timed out"),
//! }
//!
//! // Low level: learn the redirect URI first (port 0 picks a free port).
//! let mut server = CallbackServer::start(Config::builder().port(0).build()?)?;
//! println!("open the browser; redirect_uri = {}", server.redirect_uri());
//! let result = server.wait_for(Duration::from_secs(60));
//! // A callback that completed as the wait ended is handed over here.
//! let late = server.shutdown();
//! # let _ = result.or(late);
//! # Ok(())
//! # }
//! ```
//!
//! Around the receiver, what every face of a sign-in needs:
//!
//! - The local CA: [`trust`] makes, once, a CA that can vouch only for
//!   loopback servers and trusts its root in the user's stores (NSS
//!   databases, the login keychain, Windows' Root store; the system's on
//!   request); [`untrust`] takes it out again, [`trust_status`] reports, and
//!   [`export_root`] writes the public root for a browser elsewhere. Each
//!   returns a [`TrustReport`] (one [`StoreOutcome`] per store) and prints
//!   nothing; servers started afterwards serve its leaves, and the browser
//!   shows no warning.
//! - The browser: [`open_browser`] opens the user's browser at a URL it may
//!   be sent to (`https://`, or `http://` on this machine), and a
//!   [`SignInPage`] is the provider's URL with the redirect URI and the
//!   expected state put in once the server listens.
//!
//! ```no_run
//! let report = oauth_callback::trust(false)?;
//! print!("{report}"); // e.g. "Chrome/Chromium (/home/alice/.pki/nssdb): trusted"
//! # Ok::<(), oauth_callback::TrustError>(())
//! ```
//!
//! The whole sign-in (feature `sign-in`, on by default): [`SignIn`] finds
//! the provider (RFC 8414, OpenID Connect Discovery, RFC 9728), makes the
//! PKCE pair, `state` and `nonce`, opens the browser once the receiver
//! listens, checks the authorization response (`state`, RFC 9207's `iss`),
//! exchanges the code and verifies the ID token, and returns the
//! [`Tokens`], or a [`SignInError`] saying which kind of failure it was.
//!
//! ```no_run
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! use oauth_callback::{Config, SignIn};
//! let tokens = SignIn::issuer("https://id.example", "my-cli")
//!     .run_blocking(Config::builder().build()?)?;
//! println!("{}", tokens.to_json_line());
//! # Ok(())
//! # }
//! ```
//!
//! Staying signed in: a [`TokenSource`] hands out a valid token each time
//! (`token().await`): from a store while it stays valid, else refreshed
//! with the stored refresh token, else by a sign-in; one sign-in for the
//! callers that ask at once (a lock per entry), and `sign_out()` (RFC
//! 7009). The stores ([`token_cache`]) are behind one small trait: the
//! user's private folder, the operating system's keyring, or memory.

#![deny(missing_docs)]

mod authority;
mod blocking;
mod browser;
#[cfg(feature = "cli")]
pub mod cli;
mod config;
mod error;
mod files;
mod lifecycle;
mod local_ca;
mod nonblocking;
mod platform;
mod result;
// Reachable for the handler benchmark (`benches/handler.rs`) only, and hidden:
// wasmtime's types are not part of the API, so that a wasmtime upgrade is
// never a breaking change of ours.
#[doc(hidden)]
pub mod runtime;
mod server;
#[cfg(feature = "sign-in")]
mod sign_in;
mod tls;
#[cfg(feature = "sign-in")]
pub mod token_cache;
#[cfg(feature = "sign-in")]
mod token_source;
mod urls;

pub use crate::blocking::{CallbackServer, RunningServer, run_callback_server};
pub use crate::browser::{
    REDIRECT_URI_PLACEHOLDER, STATE_PLACEHOLDER, SignInPage, SignInPageError,
    check_browser_command, open_browser,
};
pub use crate::config::{
    Config, ConfigBuilder, DEFAULT_HOST, DEFAULT_PATH, DEFAULT_PORT, DEFAULT_TIMEOUT, MAX_TIMEOUT,
    Tls, timeout_from_secs,
};
pub use crate::error::{Cause, Error, HandlerError, PemError, Result, Setting, error_line};
pub use crate::local_ca::{
    CA_VALIDITY, CaState, LOOPBACK_NAMES, LocalCa, RENEW_WITHIN, StoreOutcome, StoreState,
    TrustError, TrustReport, export_root, trust, trust_status, untrust,
};
pub use crate::nonblocking::{AsyncCallbackServer, AsyncRunningServer};
pub use crate::result::CallbackResult;
pub use crate::runtime::EMBEDDED_HANDLER;
pub use crate::server::{MAX_PASTED_URL, Mismatch, PasteBack, Pasted};
#[cfg(feature = "sign-in")]
pub use crate::sign_in::{
    CLOCK_LEEWAY, CheckFailed, Provider, ProviderError, Revocation, SignIn, SignInError, Stage,
    Tokens, Unreachable,
};
pub use crate::tls::LoopbackCertificate;
#[cfg(feature = "sign-in")]
pub use crate::token_source::{DEFAULT_MIN_VALID, Token, TokenSource};
