//! Black-box tests: the real `oauth-callback` binary over real sockets.

mod config;
mod flow;
mod handlers;
mod routes;
mod security;
mod support;
mod wasi_hosts;
