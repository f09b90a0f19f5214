//! An example handler for `oauth-callback --handler`: Acme-branded pages, and a
//! stricter completion rule than the default handler's (a `code` completes the
//! flow only together with a `state`; there is no fragment bridge).
//!
//! Build: `cargo build -p branded-handler --target wasm32-wasip2 --profile guest`
//! Run:   `oauth-callback --handler target/wasm32-wasip2/guest/branded_handler.wasm`

#![no_std]

extern crate alloc;
#[cfg(not(target_arch = "wasm32"))]
extern crate std;

use alloc::string::{String, ToString};
use alloc::vec::Vec;
use serde_json::{Map, Value};

#[cfg(target_arch = "wasm32")]
mod component {
    use oauth_callback_guest_rt as _;

    wit_bindgen::generate!({ path: "../../wit", world: "callback-handler" });

    use exports::oauth::callback::handler::{
        Completion, Guest, Header, Reply, Request, Response, Settings,
    };

    struct Branded;

    impl Guest for Branded {
        fn handle(settings: Settings, request: Request) -> Reply {
            let custom =
                [settings.success_page, settings.error_page].map(|page| page.map(|p| p.html));
            let answer = super::answer(
                &settings.callback_path,
                &request.method,
                &request.path,
                request.query.as_deref(),
                custom,
            );
            Reply {
                response: Response {
                    status: answer.status,
                    headers: [Header {
                        name: "content-type".into(),
                        value: answer.content_type.as_bytes().to_vec(),
                    }]
                    .into(),
                    body: answer.body.into_bytes(),
                },
                completed: answer.params.map(|params| Completion {
                    params,
                    method: request.method,
                    path: request.path,
                }),
                refused: None,
            }
        }
    }

    export!(Branded);
}

/// What the handler answers to one request.
#[derive(Debug)]
pub struct Answer {
    /// HTTP status.
    pub status: u16,
    /// `Content-Type` of the body.
    pub content_type: &'static str,
    /// The body.
    pub body: String,
    /// The params JSON object when this request completes the flow.
    pub params: Option<String>,
}

/// Route one request; `custom` holds the user's success and error pages.
pub fn answer(
    callback_path: &str,
    method: &str,
    path: &str,
    query: Option<&str>,
    custom: [Option<String>; 2],
) -> Answer {
    let [success, error] = custom;
    match (path, method) {
        ("/health", "GET") => text(200, "OK"),
        (p, "GET") if p == callback_path => {
            let params: Map<String, Value> = form_urlencoded::parse(query.unwrap_or("").as_bytes())
                .map(|(k, v)| (k.into_owned(), Value::String(v.into_owned())))
                .collect();
            let completes = params.contains_key("error")
                || (params.contains_key("code") && params.contains_key("state"));
            if !completes {
                return page(
                    400,
                    "Missing state",
                    "This sign-in link is incomplete. Start again from Acme.",
                    None,
                );
            }
            let json = Value::Object(params.clone()).to_string();
            if params.contains_key("error") {
                page(
                    200,
                    "Acme sign-in failed",
                    "Acme could not sign you in.",
                    error,
                )
                .completing(json)
            } else {
                page(
                    200,
                    "Welcome to Acme",
                    "You are signed in to Acme. You may close this tab.",
                    success,
                )
                .completing(json)
            }
        }
        (p, _) if p == callback_path => text(405, "Method Not Allowed"),
        _ => text(404, "Not Found"),
    }
}

impl Answer {
    fn completing(mut self, params: String) -> Self {
        self.params = Some(params);
        self
    }
}

fn text(status: u16, body: &str) -> Answer {
    Answer {
        status,
        content_type: "text/plain; charset=utf-8",
        body: body.to_string(),
        params: None,
    }
}

fn page(status: u16, title: &str, message: &str, custom: Option<String>) -> Answer {
    let body = custom.unwrap_or_else(|| {
        let parts: Vec<&str> = [
            "<!doctype html><html lang=\"en\"><meta charset=\"utf-8\"><title>",
            title,
            "</title><body style=\"font-family:sans-serif;text-align:center\"><h1>Acme</h1><h2>",
            title,
            "</h2><p>",
            message,
            "</p></body></html>",
        ]
        .into();
        parts.concat()
    });
    Answer {
        status,
        content_type: "text/html; charset=utf-8",
        body,
        params: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn get(query: &str) -> Answer {
        answer("/callback", "GET", "/callback", Some(query), [None, None])
    }

    #[test]
    fn a_code_needs_a_state() {
        let lone = get("code=1");
        assert_eq!((lone.status, lone.params), (400, None));
        let both = get("code=1&state=s");
        assert!(both.body.contains("Welcome to Acme"));
        assert_eq!(both.params.as_deref(), Some(r#"{"code":"1","state":"s"}"#));
    }

    #[test]
    fn errors_complete_and_custom_pages_win() {
        let failed = answer(
            "/cb",
            "GET",
            "/cb",
            Some("error=x"),
            [None, Some("<p>mine</p>".into())],
        );
        assert_eq!(failed.body, "<p>mine</p>");
        assert!(failed.params.is_some());
        assert_eq!(get("").status, 400);
        assert_eq!(answer("/cb", "GET", "/x", None, [None, None]).status, 404);
    }
}
