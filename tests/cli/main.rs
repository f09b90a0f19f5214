//! Black-box tests: the real `oauth-callback` binary over real sockets.

mod config;
mod flow;
mod routes;
mod support;
