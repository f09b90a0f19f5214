//! The default oauth-callback handler: routing, parameter merging, pages and
//! the fragment bridge.
//!
//! Everything here is plain `no_std` + `alloc` Rust that runs natively under
//! `cargo test`; [`component`] is the thin wit-bindgen layer that exports it as
//! the `oauth:callback/handler` interface when built for `wasm32-wasip2`.

#![no_std]

extern crate alloc;
// Native builds (unit tests, fuzzing) take the allocator and panic handler
// from std; the component brings its own (see `component`).
#[cfg(not(target_arch = "wasm32"))]
extern crate std;

#[cfg(any(test, fuzzing))]
pub mod fuzzing;
pub mod http;
mod json;
pub mod pages;
pub mod params;
pub mod policy;
pub mod route;
pub mod security;

#[cfg(target_arch = "wasm32")]
mod component;
#[cfg(target_arch = "wasm32")]
mod wasi_http;

pub use route::handle;
