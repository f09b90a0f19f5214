//! The responses the host makes or vets: a handler's answer given the
//! security floor (headers, a policy, no CORS), the redirects that send the
//! browser on, and the host's own fixed answers (410, 413, 503...).

use bytes::Bytes;
use http::{HeaderName, HeaderValue, StatusCode};
use http_body_util::Full;
use oauth_callback_guest::policy::{BASE_POLICY, FRAMING_POLICY};
use oauth_callback_guest::security::HEADERS;

use crate::runtime::wit;

/// What the server sends.
pub(crate) type Response = hyper::Response<Full<Bytes>>;

/// Whether `response` is a page (what a navigation shows).
pub(super) fn is_html(response: &Response) -> bool {
    response
        .headers()
        .get(http::header::CONTENT_TYPE)
        .is_some_and(|value| value.as_bytes().starts_with(b"text/html"))
}

/// `303 See Other` to `target`, with the security headers (among them
/// `Referrer-Policy: no-referrer`: the callback's URL does not follow).
pub(super) fn see_other(target: &url::Url) -> Response {
    let mut response = plain(StatusCode::SEE_OTHER, "See Other");
    if let Ok(location) = HeaderValue::from_str(&sent_to(target)) {
        response
            .headers_mut()
            .insert(http::header::LOCATION, location);
    }
    response
}

/// `target` as the browser is sent there: with a fragment always, an empty
/// one (`<target>#`) when it has none of its own, because a redirect
/// without one inherits the request's (RFC 9110 section 10.2.2), and the
/// callback's `#fragment` may hold tokens.
fn sent_to(target: &url::Url) -> String {
    match target.fragment() {
        Some(_) => target.to_string(),
        None => format!("{target}#"),
    }
}

/// `response` with `Refresh: 0;url=<target>`: where the bridge page's script
/// sends the browser once the fragment is delivered (`assets/bridge.js`).
pub(super) fn with_refresh(mut response: Response, target: &url::Url) -> Response {
    if let Ok(refresh) = HeaderValue::from_str(&format!("0;url={}", sent_to(target))) {
        response
            .headers_mut()
            .insert(http::header::REFRESH, refresh);
    }
    response
}

/// The handler's response as a hyper response, with the security headers.
pub(super) fn build_response(response: wit::Response) -> Result<Response, &'static str> {
    let status = StatusCode::from_u16(response.status).map_err(|_| "invalid status code")?;
    let mut built = hyper::Response::new(Full::new(Bytes::from(response.body)));
    *built.status_mut() = status;
    let headers = built.headers_mut();
    for header in response.headers {
        let name =
            HeaderName::from_bytes(header.name.as_bytes()).map_err(|_| "invalid header name")?;
        let value = HeaderValue::from_bytes(&header.value).map_err(|_| "invalid header value")?;
        headers.append(name, value);
    }
    // A handler never opens the server to other origins.
    let cors: Vec<HeaderName> = headers
        .keys()
        .filter(|name| name.as_str().starts_with("access-control-"))
        .cloned()
        .collect();
    for name in cors {
        headers.remove(name);
    }
    for (name, value) in HEADERS {
        headers.insert(name, HeaderValue::from_static(value));
    }
    // Browsers enforce every policy they get: a handler's own policy is
    // joined by the floor's framing, base and form rules.
    match headers.entry(http::header::CONTENT_SECURITY_POLICY) {
        http::header::Entry::Vacant(entry) => {
            entry.insert(HeaderValue::from_static(BASE_POLICY));
        }
        http::header::Entry::Occupied(mut entry) => {
            entry.append(HeaderValue::from_static(FRAMING_POLICY));
        }
    }
    Ok(built)
}

/// The `Content-Length` a request announces, if any.
pub(super) fn declared_length(headers: &http::HeaderMap) -> Option<u64> {
    headers
        .get(http::header::CONTENT_LENGTH)?
        .to_str()
        .ok()?
        .parse()
        .ok()
}

/// 413: the rest of the body is never read.
pub(super) fn too_large() -> Response {
    closing(StatusCode::PAYLOAD_TOO_LARGE, "Payload Too Large")
}

/// A plain answer that closes the connection (its request was not read whole).
pub(super) fn closing(status: StatusCode, text: &'static str) -> Response {
    let mut response = plain(status, text);
    response
        .headers_mut()
        .insert(http::header::CONNECTION, HeaderValue::from_static("close"));
    response
}

/// 410: the flow is complete, nothing more is taken.
pub(super) fn gone() -> Response {
    plain(StatusCode::GONE, "Gone: this sign-in is already complete")
}

/// 503: the server is stopping (or every handler instance stayed busy), so
/// the request was not taken; the flow may still be pending elsewhere.
pub(super) fn unavailable() -> Response {
    closing(StatusCode::SERVICE_UNAVAILABLE, "Service Unavailable")
}

/// The one place a handler failure becomes a 500.
pub(super) fn handler_fault(why: &str) -> Response {
    tracing::error!("the handler failed: {why}");
    plain(StatusCode::INTERNAL_SERVER_ERROR, "Internal Server Error")
}

pub(super) fn plain(status: StatusCode, text: &'static str) -> Response {
    let response = wit::Response {
        status: status.as_u16(),
        headers: vec![wit::Header {
            name: "content-type".into(),
            value: b"text/plain; charset=utf-8".to_vec(),
        }],
        body: text.as_bytes().to_vec(),
    };
    build_response(response).expect("a static response is valid")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What `build_response` makes of a 200 with one handler header.
    fn handler_response(name: &str, value: &str) -> Response {
        build_response(wit::Response {
            status: 200,
            headers: vec![wit::Header {
                name: name.into(),
                value: value.as_bytes().to_vec(),
            }],
            body: Vec::new(),
        })
        .unwrap()
    }

    #[test]
    fn redirect_targets_never_inherit_the_callback_fragment() {
        let target = |url| url::Url::parse(url).unwrap();
        let location = |response: Response| response.headers()["location"].clone();
        assert_eq!(
            location(see_other(&target("https://app.example/done"))),
            "https://app.example/done#"
        );
        assert_eq!(
            location(see_other(&target("https://app.example/#/done"))),
            "https://app.example/#/done"
        );
        let refreshed = with_refresh(
            plain(StatusCode::OK, "OK"),
            &target("http://127.0.0.1:9/x?y=1"),
        );
        assert_eq!(
            refreshed.headers()["refresh"],
            "0;url=http://127.0.0.1:9/x?y=1#"
        );
    }

    #[test]
    fn a_handler_policy_is_joined_by_the_framing_rules() {
        let response = handler_response("content-security-policy", "default-src *");
        let policies: Vec<_> = response
            .headers()
            .get_all("content-security-policy")
            .iter()
            .collect();
        assert_eq!(policies, ["default-src *", FRAMING_POLICY]);
    }

    #[test]
    fn handler_responses_lose_cors_headers_and_gain_the_security_floor() {
        let response = handler_response("access-control-allow-origin", "*");
        let headers = response.headers();
        assert!(!headers.contains_key("access-control-allow-origin"));
        assert_eq!(headers["content-security-policy"], BASE_POLICY);
        assert_eq!(headers["x-frame-options"], "DENY");
    }
}
