//! Routing: which answer each request gets, and whether it completes the flow.

use alloc::string::{String, ToString};

use crate::http::{Completion, Header, Reply, Request, Response, Settings};
use crate::pages::Page;
use crate::params::{self, Outcome};

const HTML: &str = "text/html; charset=utf-8";
const JSON: &str = "application/json";
const TEXT: &str = "text/plain; charset=utf-8";

/// Answer one request: `/health`, the callback route, or 404.
pub fn handle(settings: &Settings, request: &Request) -> Reply {
    let method = request.method.as_str();
    if request.path == settings.callback_path {
        match method {
            "GET" | "POST" => callback(settings, request),
            _ => method_not_allowed("GET, POST").into(),
        }
    } else if request.path == "/health" {
        match method {
            "GET" | "HEAD" => Response::new(200, TEXT, "OK").into(),
            _ => method_not_allowed("GET, HEAD").into(),
        }
    } else {
        Response::new(404, TEXT, "Not Found").into()
    }
}

/// The callback route: merge the parameters, then answer with a page or JSON.
fn callback(settings: &Settings, request: &Request) -> Reply {
    let wants_json = accepts_json(request) || params::query_wants_json(request.query.as_deref());
    let captured = match params::capture(request) {
        Ok(captured) => captured,
        Err(_) if wants_json => {
            return Response::new(400, JSON, r#"{"ok":false,"error":"bad_request"}"#).into();
        }
        Err(_) => return Response::new(400, TEXT, "Bad Request").into(),
    };
    let outcome = Outcome::of(&captured.params);
    if outcome == Outcome::Pending {
        return if wants_json {
            Response::new(202, JSON, r#"{"ok":false,"pending":true}"#)
        } else {
            Response::new(200, HTML, Page::Bridge.render())
        }
        .into();
    }
    let params = serde_json::Value::Object(captured.params);
    let response = if wants_json {
        let body = serde_json::json!({"ok": true, "params": &params});
        Response::new(200, JSON, body.to_string())
    } else if outcome == Outcome::Error {
        page(settings.error_page.as_deref(), Page::Error)
    } else {
        page(settings.success_page.as_deref(), Page::Success)
    };
    Reply {
        response,
        completed: Some(Completion {
            params: params.to_string(),
            method: request.method.clone(),
            path: request.path.clone(),
        }),
    }
}

/// A custom page as given, else the built-in one.
fn page(custom: Option<&str>, fallback: Page) -> Response {
    let body = custom.map_or_else(|| fallback.render(), String::from);
    Response::new(200, HTML, body)
}

fn method_not_allowed(allow: &str) -> Response {
    let mut response = Response::new(405, TEXT, "Method Not Allowed");
    response.headers.push(Header::new("allow", allow));
    response
}

/// Whether the `Accept` header asks for JSON.
fn accepts_json(request: &Request) -> bool {
    request.header("accept").is_some_and(|accept| {
        accept
            .windows(JSON.len())
            .any(|w| w.eq_ignore_ascii_case(JSON.as_bytes()))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pages::{ERROR_MESSAGE, SUCCESS_MESSAGE};
    use alloc::string::ToString;
    use alloc::vec;
    use serde_json::{Value, json};

    fn get(path: &str, query: &str) -> Request {
        Request {
            method: "GET".into(),
            path: path.into(),
            query: (!query.is_empty()).then(|| query.to_string()),
            ..Request::default()
        }
    }

    fn body(reply: &Reply) -> &str {
        core::str::from_utf8(&reply.response.body).unwrap()
    }

    fn completed_params(reply: &Reply) -> Value {
        serde_json::from_str(&reply.completed.as_ref().unwrap().params).unwrap()
    }

    #[test]
    fn code_completes_with_the_success_page() {
        let reply = handle(
            &Settings::default(),
            &get("/callback", "code=abc&state=xyz"),
        );
        assert_eq!(reply.response.status, 200);
        assert_eq!(reply.response.header("content-type"), Some(HTML));
        assert!(body(&reply).contains(SUCCESS_MESSAGE));
        assert_eq!(
            completed_params(&reply),
            json!({"code": "abc", "state": "xyz"})
        );
        let completion = reply.completed.unwrap();
        assert_eq!(
            (completion.method.as_str(), completion.path.as_str()),
            ("GET", "/callback")
        );
    }

    #[test]
    fn error_completes_with_the_error_page() {
        let reply = handle(
            &Settings::default(),
            &get("/callback", "error=access_denied"),
        );
        assert!(body(&reply).contains(ERROR_MESSAGE));
        assert_eq!(completed_params(&reply), json!({"error": "access_denied"}));
    }

    #[test]
    fn custom_pages_are_served_as_given() {
        let settings = Settings {
            callback_path: "/cb".into(),
            success_page: Some("<p>yay</p>".into()),
            error_page: Some("<p>nay</p>".into()),
        };
        assert_eq!(
            body(&handle(&settings, &get("/cb", "code=1"))),
            "<p>yay</p>"
        );
        assert_eq!(
            body(&handle(&settings, &get("/cb", "error=x"))),
            "<p>nay</p>"
        );
    }

    #[test]
    fn json_mode_by_query_or_accept_header() {
        let reply = handle(
            &Settings::default(),
            &get("/callback", "code=1&format=json"),
        );
        assert_eq!(reply.response.header("content-type"), Some(JSON));
        let answer: Value = serde_json::from_str(body(&reply)).unwrap();
        assert_eq!(answer, json!({"ok": true, "params": {"code": "1"}}));

        let mut request = get("/callback", "state=only");
        request.headers = vec![Header::new("Accept", "text/html, Application/JSON;q=0.9")];
        let reply = handle(&Settings::default(), &request);
        assert_eq!(reply.response.status, 202);
        assert_eq!(body(&reply), r#"{"ok":false,"pending":true}"#);
        assert!(reply.completed.is_none());
    }

    #[test]
    fn nothing_conclusive_serves_the_bridge_and_stays_pending() {
        let reply = handle(&Settings::default(), &get("/callback", "state=s"));
        assert_eq!(reply.response.status, 200);
        assert!(body(&reply).contains("fragment_params"));
        assert!(reply.completed.is_none());
    }

    #[test]
    fn fragment_post_completes() {
        let request = Request {
            method: "POST".into(),
            path: "/callback".into(),
            headers: vec![Header::new("content-type", "application/json")],
            body: br#"{"fragment_params":{"access_token":"t","state":"s"}}"#.to_vec(),
            ..Request::default()
        };
        let reply = handle(&Settings::default(), &request);
        assert!(body(&reply).contains(SUCCESS_MESSAGE));
        assert_eq!(
            completed_params(&reply),
            json!({"access_token": "t", "state": "s"})
        );
        assert_eq!(reply.completed.unwrap().method, "POST");
    }

    #[test]
    fn malformed_input_is_a_generic_400_that_does_not_complete() {
        let reply = handle(&Settings::default(), &get("/callback", "code=%FF"));
        assert_eq!(reply.response.status, 400);
        assert!(reply.completed.is_none());
        let reply = handle(
            &Settings::default(),
            &get("/callback", "code=%FF&format=json"),
        );
        assert_eq!(reply.response.status, 400);
        assert_eq!(reply.response.header("content-type"), Some(JSON));
    }

    #[test]
    fn health_stray_paths_and_other_methods() {
        let settings = Settings::default();
        let health = handle(&settings, &get("/health", ""));
        assert_eq!((health.response.status, body(&health)), (200, "OK"));
        assert_eq!(
            handle(&settings, &get("/favicon.ico", "code=1"))
                .response
                .status,
            404
        );
        assert!(handle(&settings, &get("/", "code=1")).completed.is_none());
        let mut put = get("/callback", "code=1");
        put.method = "PUT".into();
        let reply = handle(&settings, &put);
        assert_eq!(reply.response.status, 405);
        assert_eq!(reply.response.header("allow"), Some("GET, POST"));
        assert!(reply.completed.is_none());
    }
}
