//! Black-box tests: the real `oauth-callback` binary over real sockets.

mod config;
mod elsewhere;
mod flow;
mod handlers;
mod library;
mod paste;
mod pressure;
mod routes;
mod schemes;
mod security;
mod support;
#[cfg(unix)]
mod terminal;
mod usability;
mod wasi_hosts;
