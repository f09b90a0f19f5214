//! Black-box tests: the real `oauth-callback` binary over real sockets (the
//! library in process is tests/library's).

/// Values that look like flags, expected values from the environment, `{state}`.
#[cfg(unix)]
mod arguments;
/// TLS from PEM files, bad settings, busy ports, legacy flags.
mod config;
/// Resets, idle preconnects and half-open connections around the real one.
#[cfg(unix)]
mod connections;
/// A server in a container: the registered redirect URI apart from where it listens.
mod elsewhere;
/// The one-shot flow: what completes it, what the user sees, what is printed.
mod flow;
/// `--handler`: swapping the component, refusing ones that do not fit.
mod handlers;
/// Where the result goes (stdout), and the ways it can fail to get there.
#[cfg(unix)]
mod output;
/// Paste-back from a pipe and from a terminal.
mod paste;
/// Floods, stalled connections and slow handlers never keep the callback out.
mod pressure;
/// Redirect URIs people register, and what browsers send around the navigation.
mod registered;
/// Routes that never complete the flow: health, strays, wrong methods.
mod routes;
/// Both schemes on one port, and `--one-scheme`.
mod schemes;
/// The hardening rules (RFC 8252, RFC 9700), each over real connections.
mod security;
/// Shared helpers: start the binary, read its ready line, talk to it.
mod support;
/// The binary on a pseudo-terminal: the waiting line, no echo, job control.
#[cfg(unix)]
mod terminal;
/// `trust --system` in a private mount namespace.
#[cfg(target_os = "linux")]
mod trust;
/// Ready signals, both loopbacks, `--open`, quiet mode, completions, man page.
mod usability;
/// The same component under `wasmtime serve` and `jco serve`.
mod wasi_hosts;
