//! The request, response and settings types the handler works on, mirroring
//! the WIT records of `oauth:callback/handler`.

use alloc::string::{String, ToString};
use alloc::vec::Vec;

use crate::policy::Sources;

/// The callback route when none is configured.
pub const DEFAULT_CALLBACK_PATH: &str = "/callback";
/// The route that answers `200 ok` while the flow is pending (readiness checks).
pub const HEALTH_PATH: &str = "/health";
/// Largest request body a handler is given; hosts answer larger ones with 413.
pub const MAX_BODY: usize = 64 << 10;

/// One HTTP header; names are lower-case.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Header {
    /// Lower-case header name.
    pub name: String,
    /// Raw header value.
    pub value: Vec<u8>,
}

impl Header {
    /// A header from a name and a textual value.
    pub fn new(name: &str, value: &str) -> Self {
        Header {
            name: name.into(),
            value: value.as_bytes().to_vec(),
        }
    }
}

/// One HTTP request as the host received it.
#[derive(Clone, Debug, Default)]
pub struct Request {
    /// Upper-case method.
    pub method: String,
    /// Percent-encoded path without the query.
    pub path: String,
    /// Raw query without the `?`, if any.
    pub query: Option<String>,
    /// Headers in the order received.
    pub headers: Vec<Header>,
    /// The whole body.
    pub body: Vec<u8>,
}

impl Request {
    /// The value of the first header called `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&[u8]> {
        self.headers
            .iter()
            .find(|h| h.name.eq_ignore_ascii_case(name))
            .map(|h| h.value.as_slice())
    }

    /// Whether the `Content-Type` media type is `media_type` (parameters ignored).
    pub fn has_content_type(&self, media_type: &str) -> bool {
        self.header("content-type").is_some_and(|value| {
            let essence = value.split(|&b| b == b';').next().unwrap_or_default();
            essence
                .trim_ascii()
                .eq_ignore_ascii_case(media_type.as_bytes())
        })
    }
}

/// The user's configuration, the same for every request of a run.
#[derive(Clone, Debug)]
pub struct Settings {
    /// The callback route, with a leading `/`.
    pub callback_path: String,
    /// Custom success page, if any.
    pub success_page: Option<CustomPage>,
    /// Custom error page, if any.
    pub error_page: Option<CustomPage>,
    /// The `state` a completing callback must carry, if checked.
    pub expected_state: Option<String>,
    /// The `iss` a completing callback is compared with, if checked (RFC 9207).
    pub expected_issuer: Option<String>,
    /// Whether a completing callback must carry `iss` ([`Self::expected_issuer`]).
    pub issuer_required: bool,
    /// Whether a `code` must come in a form post's body (RFC 9700 §4.3.1).
    pub form_post_only: bool,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            callback_path: DEFAULT_CALLBACK_PATH.into(),
            success_page: None,
            error_page: None,
            expected_state: None,
            expected_issuer: None,
            issuer_required: false,
            form_post_only: false,
        }
    }
}

/// A page the user supplied, and the hash sources its policy must allow.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CustomPage {
    /// The page's HTML.
    pub html: String,
    /// The hash sources of its inline blocks.
    pub sources: Sources,
}

impl CustomPage {
    /// A page and its sources, hashed once (hosts do it when a run starts,
    /// not per request).
    pub fn new(html: String) -> Self {
        let sources = Sources::of_html(&html);
        CustomPage { html, sources }
    }
}

/// The response for the host to send.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Response {
    /// Status code.
    pub status: u16,
    /// Headers to send.
    pub headers: Vec<Header>,
    /// The whole body.
    pub body: Vec<u8>,
}

impl Response {
    /// A response with one `Content-Type` header.
    pub fn new(status: u16, content_type: &str, body: impl Into<Vec<u8>>) -> Self {
        Response {
            status,
            headers: alloc::vec![Header::new("content-type", content_type)],
            body: body.into(),
        }
    }

    /// The value of the first header called `name`, if it is UTF-8.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|h| h.name == name)
            .and_then(|h| core::str::from_utf8(&h.value).ok())
    }
}

/// The outcome of a request that completes the flow.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Completion {
    /// The merged parameters as one JSON object.
    pub params: String,
    /// Method of the completing request.
    pub method: String,
    /// Path of the completing request.
    pub path: String,
}

impl Completion {
    /// The completed result as one line of JSON, in the shape the native CLI
    /// prints: `{"params":{...},"method":"GET","path":"/callback","received_at":N}`.
    pub fn json_line(&self, received_at: u64) -> String {
        let quoted = |text: &str| serde_json::Value::from(text).to_string();
        alloc::format!(
            r#"{{"params":{},"method":{},"path":{},"received_at":{received_at}}}"#,
            self.params,
            quoted(&self.method),
            quoted(&self.path),
        )
    }
}

/// The handler's answer to one request.
#[derive(Clone, Debug)]
pub struct Reply {
    /// What to send back.
    pub response: Response,
    /// Present when this request completes the flow.
    pub completed: Option<Completion>,
    /// Present when this request was a callback refused: why, naming what
    /// was wrong, never a value of the request but the provider's `error`.
    pub refused: Option<String>,
}

impl From<Response> for Reply {
    fn from(response: Response) -> Self {
        Reply {
            response,
            completed: None,
            refused: None,
        }
    }
}

impl Reply {
    /// `response`, for a callback refused because of `why`.
    pub fn refused(response: Response, why: impl Into<String>) -> Self {
        Reply {
            refused: Some(why.into()),
            ..response.into()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn completion_json_line_has_the_cli_shape() {
        let completion = Completion {
            params: r#"{"code":"c","state":"s"}"#.into(),
            method: "GET".into(),
            path: "/callback".into(),
        };
        assert_eq!(
            completion.json_line(1730000000),
            r#"{"params":{"code":"c","state":"s"},"method":"GET","path":"/callback","received_at":1730000000}"#
        );
    }
}
