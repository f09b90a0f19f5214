//! A handler that reads an environment variable: with `std` it imports
//! `wasi:cli/environment`, so the host must refuse to load it.

#![cfg(target_arch = "wasm32")]

wit_bindgen::generate!({ path: "../../../wit", world: "callback-handler" });

use exports::oauth::callback::handler::{Guest, Reply, Request, Response, Settings};

struct UsesStd;

impl Guest for UsesStd {
    fn handle(_: Settings, _: Request) -> Reply {
        let body = std::env::var("SECRET").unwrap_or_default().into_bytes();
        Reply {
            response: Response {
                status: 200,
                headers: Vec::new(),
                body,
            },
            completed: None,
            refused: None,
        }
    }
}

export!(UsesStd);
