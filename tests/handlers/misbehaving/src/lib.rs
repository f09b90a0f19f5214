//! A deliberately faulty handler for the sandbox tests. By path:
//! `/loop` never returns, `/sleep` blocks in a host call (a clock wait) for
//! ever, `/trap` traps, `/oom` allocates until memory runs
//! out, `/bad-header` answers an invalid header, `/log` writes to stderr
//! (allowed: it must work); the callback path with a
//! `code` completes the flow normally, so tests can show the host survived.

#![cfg_attr(target_arch = "wasm32", no_std)]
#![cfg(target_arch = "wasm32")]

extern crate alloc;

use alloc::string::String;
use alloc::vec::Vec;
use oauth_callback_guest_rt as _;

wit_bindgen::generate!({ path: "../../../wit", world: "callback-handler" });

use exports::oauth::callback::handler::{
    Completion, Guest, Header, Reply, Request, Response, Settings,
};

struct Misbehaving;

impl Guest for Misbehaving {
    fn handle(settings: Settings, request: Request) -> Reply {
        match request.path.as_str() {
            "/loop" => {
                let mut spins = 0u64;
                loop {
                    // SAFETY: a plain local; the volatile write keeps the loop alive.
                    unsafe { core::ptr::write_volatile(&mut spins, spins.wrapping_add(1)) };
                }
            }
            "/sleep" => loop {
                // Time spent inside a host call: epoch interruption alone
                // never stops it; the host's wall-clock deadline must.
                wasip2::clocks::monotonic_clock::subscribe_duration(60_000_000_000).block();
            },
            "/trap" => core::arch::wasm32::unreachable(),
            "/oom" => {
                let mut hoard: Vec<Vec<u8>> = Vec::new();
                loop {
                    hoard.push(alloc::vec![1u8; 1 << 20]);
                }
            }
            "/bad-header" => reply(200, "bad header\n", None),
            "/log" => {
                let stderr = wasip2::cli::stderr::get_stderr();
                let written = stderr.blocking_write_and_flush(b"a handler log line\n");
                reply(
                    if written.is_ok() { 200 } else { 500 },
                    "content-type",
                    None,
                )
            }
            path if path == settings.callback_path => {
                let query = request.query.unwrap_or_default();
                // A handler's own 503 or 410 (the flow is not over for it).
                if let Some(status) = query.strip_prefix("status=") {
                    return reply(status.parse().unwrap_or(500), "content-type", None);
                }
                match query.strip_prefix("code=") {
                    Some(code) => {
                        let params = alloc::format!("{{\"code\":\"{code}\"}}");
                        reply(
                            200,
                            "content-type",
                            Some((params, request.method, request.path)),
                        )
                    }
                    None => reply(400, "content-type", None),
                }
            }
            _ => reply(404, "content-type", None),
        }
    }
}

fn reply(status: u16, header: &str, completed: Option<(String, String, String)>) -> Reply {
    Reply {
        response: Response {
            status,
            headers: alloc::vec![Header {
                name: header.into(),
                value: b"text/plain".to_vec()
            }],
            body: b"misbehaving".to_vec(),
        },
        completed: completed.map(|(params, method, path)| Completion {
            params,
            method,
            path,
        }),
        refused: None,
    }
}

export!(Misbehaving);
