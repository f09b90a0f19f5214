//! Black-box tests: the real `oauth-callback` binary over real sockets.

#[cfg(unix)]
mod arguments;
mod config;
#[cfg(unix)]
mod connections;
mod elsewhere;
mod flow;
mod handlers;
mod library;
#[cfg(unix)]
mod output;
mod paste;
mod pressure;
mod routes;
mod schemes;
mod security;
mod support;
#[cfg(unix)]
mod terminal;
mod trust;
mod usability;
mod wasi_hosts;
