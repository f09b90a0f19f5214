//! Routing: which answer each request gets, and whether it completes the flow.

use alloc::format;
use alloc::string::{String, ToString};

use crate::http::{
    Completion, CustomPage, HEALTH_PATH, Header, Reply, Request, Response, Settings,
};
use crate::pages::{Page, ProviderError};
use crate::params::{self, Captured, Outcome, Params};
use crate::policy::Sources;
use crate::security;

const HTML: &str = "text/html; charset=utf-8";
const JSON: &str = "application/json";
const TEXT: &str = "text/plain; charset=utf-8";

/// Answer one request: `/health`, the callback route, or 404. Every answer
/// carries the security headers.
pub fn handle(settings: &Settings, request: &Request) -> Reply {
    let mut reply = route(settings, request);
    security::harden(&mut reply.response);
    reply
}

fn route(settings: &Settings, request: &Request) -> Reply {
    let method = request.method.as_str();
    if request.path == settings.callback_path {
        if security::speculative(request) {
            // What browsers take as "do not use this prefetch" (the answer is
            // not stored either: every answer says `no-store`): the real
            // navigation then comes and completes the flow.
            return Response::new(503, TEXT, "Not available to prefetch").into();
        }
        match method {
            "GET" | "POST" => callback(settings, request),
            // The GET's answer, whose head the host sends (RFC 9110 §9.3.2);
            // it never completes the flow.
            "HEAD" => Reply {
                completed: None,
                ..callback(settings, request)
            },
            _ => method_not_allowed("GET, HEAD, POST").into(),
        }
    } else if request.path == HEALTH_PATH {
        match method {
            "GET" | "HEAD" => Response::new(200, TEXT, "OK").into(),
            _ => method_not_allowed("GET, HEAD").into(),
        }
    } else {
        Response::new(404, TEXT, "Not Found").into()
    }
}

/// The callback route: merge the parameters, check them, then answer with a
/// page or JSON. A refused callback says why ([`Reply::refused`]).
fn callback(settings: &Settings, request: &Request) -> Reply {
    let json = accepts_json(request) || params::query_wants_json(request.query.as_deref());
    if !security::fetch_allowed(request) {
        let why =
            "a request from another site (its Sec-Fetch headers say it is not the navigation)";
        return Reply::refused(refusal(403, json, "forbidden", None), why);
    }
    let Captured {
        params,
        from_fragment,
        code_in_form,
    } = match params::capture(request) {
        Ok(captured) => captured,
        Err(malformed) => {
            return Reply::refused(
                refusal(400, json, "bad_request", None),
                malformed.to_string(),
            );
        }
    };
    // The bridge posts from our own page; anything else posting fragments is
    // a cross-site forgery attempt.
    if from_fragment && !same_origin(request) {
        let why = "fragment parameters posted from another origin";
        return Reply::refused(refusal(403, json, "forbidden", None), why);
    }
    let outcome = Outcome::of(&params);
    if outcome == Outcome::Pending {
        return if json {
            Response::new(202, JSON, r#"{"ok":false,"pending":true}"#)
        } else {
            bridge(settings)
        }
        .into();
    }
    if let Err(why) = verified(settings, &params, code_in_form) {
        let response = refusal(400, json, "unverified", Some(Page::Rejected));
        return Reply::refused(response, with_provider_error(why, &params));
    }
    let params = serde_json::Value::Object(params);
    let response = if json {
        let body = serde_json::json!({"ok": true, "params": &params});
        Response::new(200, JSON, body.to_string())
    } else if outcome == Outcome::Error {
        let text = |key| params.get(key).and_then(serde_json::Value::as_str);
        let error = ProviderError {
            code: text("error").unwrap_or_default(),
            description: text("error_description"),
        };
        page(settings.error_page.as_ref(), Page::Error, || {
            Page::render_error(&error)
        })
    } else {
        page(settings.success_page.as_ref(), Page::Success, || {
            Page::Success.render()
        })
    };
    Reply {
        completed: Some(Completion {
            params: params.to_string(),
            method: request.method.clone(),
            path: request.path.clone(),
        }),
        ..response.into()
    }
}

/// The bridge page. Its script replaces the document with the success or
/// error page, which then lives under the bridge's policy: allow all three.
fn bridge(settings: &Settings) -> Response {
    let mut sources = Page::Bridge.sources();
    for (custom, fallback) in [
        (&settings.success_page, Page::Success),
        (&settings.error_page, Page::Error),
    ] {
        sources.merge(
            custom
                .as_ref()
                .map_or_else(|| fallback.sources(), |page| page.sources.clone()),
        );
    }
    with_policy(Response::new(200, HTML, Page::Bridge.render()), &sources)
}

/// Whether the completing parameters carry the expected `state` and `iss`,
/// and a `code` where the settings expect it.
fn verified(settings: &Settings, params: &Params, code_in_form: bool) -> Result<(), &'static str> {
    let check = |key: &str, expected: &Option<String>, required, missing, wrong| match expected {
        None => Ok(()),
        Some(expected) => match params.get(key).and_then(serde_json::Value::as_str) {
            None if required => Err(missing),
            None => Ok(()),
            Some(given) if security::secrets_match(given, expected) => Ok(()),
            Some(_) => Err(wrong),
        },
    };
    check(
        "state",
        &settings.expected_state,
        true,
        "no state",
        "a state other than the expected one",
    )?;
    check(
        "iss",
        &settings.expected_issuer,
        settings.issuer_required,
        "no iss",
        "an iss other than the expected issuer",
    )?;
    if settings.form_post_only && params.contains_key("code") && !code_in_form {
        return Err("a code outside a form post (response_mode=form_post was asked for)");
    }
    Ok(())
}

/// `why`, and the provider's `error` code when the callback reported one
/// (what the user needs to fix the request), as sent.
fn with_provider_error(why: &str, params: &Params) -> String {
    match params.get("error").and_then(serde_json::Value::as_str) {
        Some(error) => format!("{why} (the provider reported error={error})"),
        None => why.to_string(),
    }
}

/// Whether the request comes from a page of this server: no `Origin` (not a
/// cross-origin fetch), or one naming the `Host` the request was sent to.
fn same_origin(request: &Request) -> bool {
    let Some(origin) = request.header("origin") else {
        return true;
    };
    let Some(host) = request.header("host") else {
        return false;
    };
    let authority = origin
        .strip_prefix(b"https://")
        .or_else(|| origin.strip_prefix(b"http://"));
    authority.is_some_and(|authority| authority.eq_ignore_ascii_case(host))
}

/// A generic refusal that leaves the flow pending: JSON, a page, or text.
fn refusal(status: u16, json: bool, code: &str, page: Option<Page>) -> Response {
    match (json, page) {
        (true, _) => {
            let body = serde_json::json!({"ok": false, "error": code});
            Response::new(status, JSON, body.to_string())
        }
        (false, Some(page)) => builtin(status, page),
        (false, None) => Response::new(
            status,
            TEXT,
            if status == 403 {
                "Forbidden"
            } else {
                "Bad Request"
            },
        ),
    }
}

/// A custom page as given (its policy comes from its own blocks), else the
/// built-in `fallback`, rendered by `render`.
fn page(custom: Option<&CustomPage>, fallback: Page, render: impl FnOnce() -> String) -> Response {
    match custom {
        Some(custom) => with_policy(Response::new(200, HTML, &*custom.html), &custom.sources),
        None => with_policy(Response::new(200, HTML, render()), &fallback.sources()),
    }
}

/// A built-in page with the policy its blocks need, known at build time.
fn builtin(status: u16, page: Page) -> Response {
    with_policy(Response::new(status, HTML, page.render()), &page.sources())
}

/// `response` with the policy allowing `sources`.
fn with_policy(mut response: Response, sources: &Sources) -> Response {
    response
        .headers
        .push(Header::new("content-security-policy", &sources.policy()));
    response
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
            success_page: Some(CustomPage::new("<p>yay</p>".into())),
            error_page: Some(CustomPage::new("<p>nay</p>".into())),
            ..Settings::default()
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

    /// A GET of the callback with a code, carrying fetch metadata.
    fn fetched(site: &str, mode: &str, dest: &str) -> Request {
        let mut request = get("/callback", "code=c");
        request.headers = vec![
            Header::new("sec-fetch-site", site),
            Header::new("sec-fetch-mode", mode),
            Header::new("sec-fetch-dest", dest),
        ];
        request
    }

    #[test]
    fn only_navigations_and_same_origin_requests_complete_by_fetch_metadata() {
        let settings = Settings::default();
        for (site, mode, dest) in [
            ("cross-site", "no-cors", "image"),
            ("cross-site", "cors", "empty"),
            ("cross-site", "navigate", "iframe"),
            ("cross-site", "no-cors", "script"),
            ("same-site", "no-cors", "image"),
        ] {
            let reply = handle(&settings, &fetched(site, mode, dest));
            assert_eq!(reply.response.status, 403, "{site} {mode} {dest}");
            assert!(reply.completed.is_none(), "{site} {mode} {dest}");
        }
        for (site, mode, dest) in [
            ("cross-site", "navigate", "document"),
            ("none", "navigate", "document"),
            ("same-origin", "cors", "empty"),
        ] {
            let reply = handle(&settings, &fetched(site, mode, dest));
            assert_eq!(reply.response.status, 200, "{site} {mode} {dest}");
            assert!(reply.completed.is_some(), "{site} {mode} {dest}");
        }
        let mut partial = get("/callback", "code=c");
        partial.headers = vec![Header::new("sec-fetch-dest", "image")];
        assert_eq!(handle(&settings, &partial).response.status, 403);
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
        assert_eq!(reply.response.header("allow"), Some("GET, HEAD, POST"));
        assert!(reply.completed.is_none());
    }

    #[test]
    fn a_refused_callback_says_why_with_names_and_the_providers_error_only() {
        let settings = Settings {
            expected_issuer: Some("https://id.example".into()),
            ..with_state("s3cret")
        };
        let refused = |query: &str| handle(&settings, &get("/callback", query)).refused;
        assert_eq!(
            refused("error=invalid_scope&state=s3cret").as_deref(),
            Some("no iss (the provider reported error=invalid_scope)")
        );
        let wrong = refused("code=c&state=guess&iss=https://id.example").unwrap();
        assert_eq!(wrong, "a state other than the expected one");
        assert!(!wrong.contains("guess"));
        assert_eq!(
            refused("code=&state=s3cret").as_deref(),
            Some("an empty code, error or token")
        );
        assert_eq!(refused("code=c&state=s3cret&iss=https://id.example"), None);
    }

    #[test]
    fn head_answers_as_get_without_completing() {
        let settings = Settings::default();
        let mut head = get("/callback", "code=1&state=s");
        head.method = "HEAD".into();
        let answered = handle(&settings, &head);
        let got = handle(&settings, &get("/callback", "code=1&state=s"));
        assert_eq!(answered.response.status, got.response.status);
        assert_eq!(answered.response.headers, got.response.headers);
        assert!(answered.completed.is_none() && got.completed.is_some());
    }

    #[test]
    fn a_speculative_load_of_the_callback_never_completes() {
        let settings = Settings {
            callback_path: "/".into(),
            ..Settings::default()
        };
        let mut prefetch = get("/", "code=1");
        prefetch
            .headers
            .push(Header::new("sec-purpose", "prefetch;prerender"));
        let reply = handle(&settings, &prefetch);
        assert_eq!(reply.response.status, 503);
        assert_eq!(reply.response.header("cache-control"), Some("no-store"));
        assert!(reply.completed.is_none());
        // The root path is the callback route; /health stays where it is.
        assert!(handle(&settings, &get("/", "code=1")).completed.is_some());
        assert_eq!(handle(&settings, &get("/health", "")).response.status, 200);
    }

    fn with_state(state: &str) -> Settings {
        Settings {
            expected_state: Some(state.into()),
            expected_issuer: Some("https://issuer.example".into()),
            issuer_required: true,
            ..Settings::default()
        }
    }

    #[test]
    fn an_issuer_not_required_is_compared_when_present() {
        let settings = Settings {
            issuer_required: false,
            ..with_state("good")
        };
        let completes = |query: &str| {
            handle(&settings, &get("/callback", query))
                .completed
                .is_some()
        };
        assert!(completes("code=1&state=good"));
        assert!(completes(
            "code=1&state=good&iss=https%3A%2F%2Fissuer.example"
        ));
        assert!(!completes(
            "code=1&state=good&iss=https%3A%2F%2Fevil.example"
        ));
        assert!(!completes("code=1&iss=https%3A%2F%2Fissuer.example"));
    }

    #[test]
    fn form_post_only_refuses_a_code_anywhere_but_a_form_body() {
        let settings = Settings {
            form_post_only: true,
            ..Settings::default()
        };
        let post = |query: &str, content_type: &str, body: &str| Request {
            method: "POST".into(),
            headers: vec![Header::new("content-type", content_type)],
            body: body.as_bytes().to_vec(),
            ..get("/callback", query)
        };
        let form = handle(
            &settings,
            &post("", "application/x-www-form-urlencoded", "code=1&state=s"),
        );
        assert!(form.completed.is_some());
        let query = handle(&settings, &get("/callback", "code=1&state=s"));
        assert_eq!(query.response.status, 400);
        assert_eq!(
            query.refused.as_deref(),
            Some("a code outside a form post (response_mode=form_post was asked for)")
        );
        for (query, content_type, body) in [
            ("code=1", "application/x-www-form-urlencoded", "state=s"),
            ("", "application/json", r#"{"code":"1","state":"s"}"#),
        ] {
            let reply = handle(&settings, &post(query, content_type, body));
            assert!(reply.completed.is_none(), "{query} {body}");
        }
        // An error carries no code: it may come in the query.
        assert!(
            handle(&settings, &get("/callback", "error=access_denied"))
                .completed
                .is_some()
        );
    }

    #[test]
    fn expected_state_and_issuer_must_match_to_complete() {
        let settings = with_state("good");
        let ok = handle(
            &settings,
            &get(
                "/callback",
                "code=1&state=good&iss=https%3A%2F%2Fissuer.example",
            ),
        );
        assert!(ok.completed.is_some());
        for query in [
            "code=1&state=bad&iss=https%3A%2F%2Fissuer.example",
            "code=1&iss=https%3A%2F%2Fissuer.example",
            "code=1&state=good&iss=https%3A%2F%2Fevil.example",
            "code=1&state=good",
            "error=access_denied&state=bad&iss=https%3A%2F%2Fissuer.example",
        ] {
            let reply = handle(&settings, &get("/callback", query));
            assert_eq!(reply.response.status, 400, "{query}");
            assert!(reply.completed.is_none(), "{query}");
            assert!(body(&reply).contains(crate::pages::REJECTED_MESSAGE));
        }
        // The bridge still appears: the fragment has not been read yet.
        assert_eq!(
            handle(&settings, &get("/callback", "")).response.status,
            200
        );
    }

    fn fragment_post(origin: Option<&str>) -> Request {
        let mut headers = vec![
            Header::new("content-type", "application/json"),
            Header::new("host", "127.0.0.1:8080"),
        ];
        if let Some(origin) = origin {
            headers.push(Header::new("origin", origin));
        }
        Request {
            method: "POST".into(),
            path: "/callback".into(),
            headers,
            body: br#"{"fragment_params":{"access_token":"t"}}"#.to_vec(),
            ..Request::default()
        }
    }

    #[test]
    fn fragment_posts_only_from_our_own_origin() {
        let settings = Settings::default();
        for origin in [
            None,
            Some("https://127.0.0.1:8080"),
            Some("http://127.0.0.1:8080"),
        ] {
            assert!(
                handle(&settings, &fragment_post(origin))
                    .completed
                    .is_some(),
                "{origin:?}"
            );
        }
        for origin in ["null", "https://evil.example", "https://127.0.0.1:9999"] {
            let reply = handle(&settings, &fragment_post(Some(origin)));
            assert_eq!(reply.response.status, 403, "{origin}");
            assert!(reply.completed.is_none());
        }
    }

    #[test]
    fn every_answer_is_hardened_and_the_bridge_policy_covers_the_pages_it_shows() {
        let settings = Settings::default();
        let bridge = handle(&settings, &get("/callback", ""));
        let policy = bridge.response.header("content-security-policy").unwrap();
        assert!(policy.contains("script-src 'sha256-") && policy.contains("style-src 'sha256-"));
        assert!(!policy.contains("unsafe-inline"));
        let success = handle(&settings, &get("/callback", "code=1"));
        let success_policy = success.response.header("content-security-policy").unwrap();
        for directive in ["style-src ", "script-src "] {
            let sources = success_policy.split(directive).nth(1).unwrap();
            for source in sources.split(';').next().unwrap().split(' ') {
                assert!(
                    policy.contains(source),
                    "the bridge must allow the success page's {directive}{source}"
                );
            }
        }
        for reply in [bridge, success, handle(&settings, &get("/nope", ""))] {
            assert_eq!(
                reply.response.header("x-content-type-options"),
                Some("nosniff")
            );
            assert_eq!(
                reply.response.header("referrer-policy"),
                Some("no-referrer")
            );
        }
    }

    #[test]
    fn only_the_provider_error_is_shown_and_escaped() {
        let xss =
            "error=x%3Cb%3E&error_description=%3Cscript%3Ealert(1)%3C%2Fscript%3E&state=%3Ci%3Es";
        let reply = handle(&Settings::default(), &get("/callback", xss));
        let page = body(&reply);
        assert!(page.contains("<code>x&lt;b&gt;</code>: &lt;script&gt;alert(1)&lt;/script&gt;"));
        assert!(
            !page.contains("<script>alert")
                && !page.contains("<i>s")
                && !page.contains("&lt;i&gt;")
        );
        let success = handle(
            &Settings::default(),
            &get("/callback", "code=%3Cb%3E&state=%3Ci%3E"),
        );
        assert!(!body(&success).contains("&lt;b&gt;") && !body(&success).contains("<b>"));
    }
}
