//! Parameter capture: the query string, a form body, a JSON body and the
//! bridge's `fragment_params`, merged in that order (later keys win), except
//! that the fragment may not contradict the rest: a provider may answer with
//! `state` (or `iss`) in the query and the tokens after `#`, and the bridge
//! posts both, but one key with two values is refused, as a repeated
//! parameter is (RFC 6749 section 3.1).

use alloc::collections::BTreeSet;
use alloc::string::{String, ToString};
use alloc::vec::Vec;
use percent_encoding::percent_decode;
use serde_json::{Map, Value};

use crate::http::Request;
use crate::json::{self, Refused};

/// Merged callback parameters: a JSON object.
pub type Params = Map<String, Value>;

/// Keys whose presence means the provider answered and the flow is over.
const COMPLETING_KEYS: [&str; 5] = ["error", "code", "access_token", "id_token", "refresh_token"];

/// Keys that, besides [`COMPLETING_KEYS`], must be strings when present (in
/// a JSON body they could be anything): what the caller checks.
const CHECKED_KEYS: [&str; 4] = ["state", "error_description", "token_type", "iss"];

/// The JSON body key under which the bridge page posts the fragment.
pub const FRAGMENT_KEY: &str = "fragment_params";

/// The body the bridge page (`assets/bridge.js`) posts for `fragment`, the
/// part of the address after `#`: every pair, repeats included (so that a
/// repeated key is refused, not silently merged), decoded as the browser's
/// `URLSearchParams` does (`+` is a space, invalid UTF-8 replaced), as
/// `{"fragment_params":{"key":"value",...}}`. Paste-back builds its post
/// with it, so a pasted address and the browser send the same bytes.
pub fn bridge_post_body(fragment: &str) -> String {
    let decode = |raw: &[u8]| {
        let spaced: Vec<u8> = raw
            .iter()
            .map(|&b| if b == b'+' { b' ' } else { b })
            .collect();
        let text: String = percent_decode(&spaced).decode_utf8_lossy().into();
        Value::String(text).to_string()
    };
    let pairs: Vec<String> = fragment
        .as_bytes()
        .split(|&b| b == b'&')
        .filter(|pair| !pair.is_empty())
        .map(|pair| {
            let mut halves = pair.splitn(2, |&b| b == b'=');
            let key = decode(halves.next().unwrap_or_default());
            let value = decode(halves.next().unwrap_or_default());
            alloc::format!("{key}:{value}")
        })
        .collect();
    alloc::format!(r#"{{"{FRAGMENT_KEY}":{{{}}}}}"#, pairs.join(","))
}

/// The control parameter that asks for a JSON answer (`?format=json`).
const FORMAT_KEY: &str = "format";

/// Why a request's parameters could not be read. The reason is for tests and
/// logs; the client only ever sees a generic message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Malformed {
    /// A key or value is not UTF-8 after percent-decoding.
    NotUtf8,
    /// The same key appears twice in one source (RFC 6749 section 3.1).
    Repeated,
    /// The body claims to be JSON but does not parse.
    BadJson,
    /// The JSON body, or its `fragment_params`, is not an object.
    NotAnObject,
    /// A key of [`COMPLETING_KEYS`] or [`CHECKED_KEYS`] has a non-string
    /// JSON value.
    NotAString,
    /// The fragment gives a key of the query (or body) another value.
    Contradicted,
    /// A key of [`COMPLETING_KEYS`] is there with nothing in it (`code=`):
    /// no provider sends that (RFC 6749 §4.1.2 requires a code, §5.2 an
    /// error code), and it must not end the flow.
    Empty,
}

impl core::fmt::Display for Malformed {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(match self {
            Malformed::NotUtf8 => "a parameter that is not UTF-8",
            Malformed::Repeated => "a repeated parameter",
            Malformed::BadJson => "a JSON body that does not parse",
            Malformed::NotAnObject => "a JSON body that is not an object",
            Malformed::NotAString => "a code, token, error, state or iss that is not a string",
            Malformed::Contradicted => {
                "a fragment that gives a parameter of the query another value"
            }
            Malformed::Empty => "an empty code, error or token",
        })
    }
}

/// What a request says, once its parameters are merged.
#[derive(Debug, Clone, PartialEq)]
pub struct Captured {
    /// The merged parameters, without the `format=json` control parameter
    /// (see [`query_wants_json`]).
    pub params: Params,
    /// Whether the body carried the bridge's `fragment_params`.
    pub from_fragment: bool,
    /// Whether `code` came in a form post's body
    /// (`application/x-www-form-urlencoded`), where `response_mode=form_post`
    /// puts it.
    pub code_in_form: bool,
}

/// How the merged parameters end the flow, if they do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// The provider reported an `error`.
    Error,
    /// A code or tokens arrived.
    Success,
    /// Nothing conclusive yet (e.g. the tokens are still in the fragment).
    Pending,
}

impl Outcome {
    /// Classify merged parameters; an `error` wins over credentials.
    pub fn of(params: &Params) -> Outcome {
        if params.contains_key("error") {
            Outcome::Error
        } else if COMPLETING_KEYS.iter().any(|k| params.contains_key(*k)) {
            Outcome::Success
        } else {
            Outcome::Pending
        }
    }
}

/// Read and merge every parameter source of `request`.
pub fn capture(request: &Request) -> Result<Captured, Malformed> {
    let mut params = Params::new();
    let mut from_fragment = false;
    let mut code_in_form = false;
    if let Some(query) = &request.query {
        for (key, value) in decode_urlencoded(query.as_bytes())? {
            if key != FORMAT_KEY || value != "json" {
                params.insert(key, Value::String(value));
            }
        }
    }
    if request.has_content_type("application/x-www-form-urlencoded") {
        for (key, value) in decode_urlencoded(&request.body)? {
            code_in_form |= key == "code";
            params.insert(key, Value::String(value));
        }
    } else if request.has_content_type("application/json") {
        let mut body = match json::parse(&request.body) {
            Ok(Value::Object(body)) => body,
            Ok(_) => return Err(Malformed::NotAnObject),
            Err(Refused::RepeatedKey) => return Err(Malformed::Repeated),
            Err(Refused::Syntax) => return Err(Malformed::BadJson),
        };
        let fragment = body.remove(FRAGMENT_KEY);
        check_string_keys(&body)?;
        params.extend(body);
        match fragment {
            None => {}
            Some(Value::Object(fragment)) => {
                check_string_keys(&fragment)?;
                from_fragment = true;
                for (key, value) in fragment {
                    match params.get(&key) {
                        Some(earlier) if *earlier != value => return Err(Malformed::Contradicted),
                        _ => params.insert(key, value),
                    };
                }
            }
            Some(_) => return Err(Malformed::NotAnObject),
        }
    }
    if COMPLETING_KEYS
        .iter()
        .any(|key| params.get(*key).and_then(Value::as_str) == Some(""))
    {
        return Err(Malformed::Empty);
    }
    Ok(Captured {
        params,
        from_fragment,
        code_in_form,
    })
}

/// Refuse a JSON object whose completion or check keys are not strings
/// (`{"code":{"x":1}}`, `{"error":null}`); other keys keep their JSON types.
fn check_string_keys(object: &Params) -> Result<(), Malformed> {
    let mistyped = COMPLETING_KEYS
        .iter()
        .chain(&CHECKED_KEYS)
        .any(|key| object.get(*key).is_some_and(|value| !value.is_string()));
    if mistyped {
        Err(Malformed::NotAString)
    } else {
        Ok(())
    }
}

/// Whether the raw query asks for JSON, without decoding the rest of it.
pub fn query_wants_json(query: Option<&str>) -> bool {
    query.is_some_and(|q| q.split('&').any(|pair| pair == "format=json"))
}

/// Decode `application/x-www-form-urlencoded` bytes strictly: invalid UTF-8
/// and repeated keys are errors rather than silently replaced or dropped.
fn decode_urlencoded(input: &[u8]) -> Result<Vec<(String, String)>, Malformed> {
    let mut pairs: Vec<(String, String)> = Vec::new();
    let mut seen = BTreeSet::new();
    for pair in input.split(|&b| b == b'&').filter(|p| !p.is_empty()) {
        let mut halves = pair.splitn(2, |&b| b == b'=');
        let key = decode_component(halves.next().unwrap_or_default())?;
        let value = decode_component(halves.next().unwrap_or_default())?;
        if !seen.insert(key.clone()) {
            return Err(Malformed::Repeated);
        }
        pairs.push((key, value));
    }
    Ok(pairs)
}

/// Decode one key or value: `+` is a space, then percent-decoding, then UTF-8.
fn decode_component(raw: &[u8]) -> Result<String, Malformed> {
    let spaced: Vec<u8> = raw
        .iter()
        .map(|&b| if b == b'+' { b' ' } else { b })
        .collect();
    let bytes: Vec<u8> = percent_decode(&spaced).collect();
    String::from_utf8(bytes).map_err(|_| Malformed::NotUtf8)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http::Header;
    use alloc::string::ToString;
    use serde_json::json;

    fn request(query: Option<&str>, content_type: Option<&str>, body: &str) -> Request {
        Request {
            method: "POST".into(),
            path: "/callback".into(),
            query: query.map(ToString::to_string),
            headers: content_type
                .map(|ct| alloc::vec![Header::new("Content-Type", ct)])
                .unwrap_or_default(),
            body: body.as_bytes().to_vec(),
        }
    }

    fn params_of(req: &Request) -> Value {
        Value::Object(capture(req).unwrap().params)
    }

    #[test]
    fn query_values_are_percent_decoded_strings() {
        let req = request(Some("code=a%2Fb+c&state=%C3%A9&empty="), None, "");
        assert_eq!(
            params_of(&req),
            json!({"code": "a/b c", "state": "é", "empty": ""})
        );
    }

    #[test]
    fn later_sources_win_query_then_form() {
        let req = request(
            Some("code=query&state=s"),
            Some("application/x-www-form-urlencoded; charset=UTF-8"),
            "code=form",
        );
        assert_eq!(params_of(&req), json!({"code": "form", "state": "s"}));
    }

    #[test]
    fn json_keeps_types_and_fragment_params_come_last() {
        let req = request(
            Some("a=query"),
            Some("application/json"),
            r#"{"a":"json","n":3,"ok":true,"fragment_params":{"a":"json","access_token":"t"}}"#,
        );
        assert_eq!(
            params_of(&req),
            json!({"a": "json", "n": 3, "ok": true, "access_token": "t"})
        );
    }

    #[test]
    fn the_fragment_joins_the_query_and_may_not_contradict_it() {
        let body = |fragment: &str| alloc::format!(r#"{{"fragment_params":{fragment}}}"#);
        let post =
            |query, fragment: &str| request(Some(query), Some("application/json"), &body(fragment));
        assert_eq!(
            params_of(&post(
                "state=S",
                r#"{"access_token":"T","token_type":"Bearer"}"#
            )),
            json!({"state": "S", "access_token": "T", "token_type": "Bearer"})
        );
        assert_eq!(
            params_of(&post("state=S", r#"{"state":"S","access_token":"T"}"#)),
            json!({"state": "S", "access_token": "T"}),
            "an equal value is one parameter"
        );
        assert_eq!(
            capture(&post("state=S", r#"{"state":"X","access_token":"T"}"#)),
            Err(Malformed::Contradicted)
        );
    }

    #[test]
    fn the_bridge_body_keeps_every_pair_as_the_browser_decodes_it() {
        assert_eq!(
            bridge_post_body("access_token=a%2Bb+c&state=%E2%9C%93&&x&state=2"),
            r#"{"fragment_params":{"access_token":"a+b c","state":"✓","x":"","state":"2"}}"#
        );
        assert_eq!(bridge_post_body(""), r#"{"fragment_params":{}}"#);
        assert_eq!(
            bridge_post_body("q=%22%5C%FF"),
            "{\"fragment_params\":{\"q\":\"\\\"\\\\\u{fffd}\"}}",
            "quotes and backslashes escaped, invalid UTF-8 replaced"
        );
        let body = bridge_post_body("access_token=t&token_type=Bearer");
        let captured = capture(&request(Some("state=s"), Some("application/json"), &body)).unwrap();
        assert_eq!(
            Value::Object(captured.params),
            json!({"state": "s", "access_token": "t", "token_type": "Bearer"})
        );
    }

    #[test]
    fn the_bridge_script_posts_what_the_builder_builds() {
        // assets/bridge.js writes the same body by hand: the same key, each
        // pair as two JSON strings, joined by commas.
        let script = crate::pages::BRIDGE_SCRIPT;
        assert!(script.contains(&alloc::format!(
            r#"'{{"{FRAGMENT_KEY}":{{' + pairs.join(",") + "}}}}""#
        )));
        assert!(script.contains(r#"JSON.stringify(key) + ":" + JSON.stringify(value)"#));
        assert!(script.contains("new URLSearchParams(fragment).forEach"));
    }

    #[test]
    fn format_json_is_a_control_parameter_not_a_param() {
        let captured = capture(&request(Some("code=x&format=json"), None, "")).unwrap();
        assert_eq!(Value::Object(captured.params), json!({"code": "x"}));
        let other = capture(&request(Some("format=xml"), None, "")).unwrap();
        assert_eq!(Value::Object(other.params), json!({"format": "xml"}));
    }

    #[test]
    fn malformed_inputs_are_rejected() {
        let cases = [
            (request(Some("code=%FF"), None, ""), Malformed::NotUtf8),
            (request(Some("%C3=x"), None, ""), Malformed::NotUtf8),
            (
                request(Some("code=1&code=2"), None, ""),
                Malformed::Repeated,
            ),
            (
                request(None, Some("application/x-www-form-urlencoded"), "a=%80"),
                Malformed::NotUtf8,
            ),
            (
                request(None, Some("application/json"), "{"),
                Malformed::BadJson,
            ),
            (
                request(None, Some("application/json"), ""),
                Malformed::BadJson,
            ),
            (
                request(None, Some("application/json"), "[1]"),
                Malformed::NotAnObject,
            ),
            (
                request(None, Some("application/json"), r#"{"fragment_params":"x"}"#),
                Malformed::NotAnObject,
            ),
            (
                request(None, Some("application/json"), r#"{"code":"a","code":"b"}"#),
                Malformed::Repeated,
            ),
            (
                request(
                    None,
                    Some("application/json"),
                    r#"{"fragment_params":{"access_token":"a","access_token":"b"}}"#,
                ),
                Malformed::Repeated,
            ),
            (
                request(
                    None,
                    Some("application/json"),
                    r#"{"code":{"x":[1,2]},"state":7}"#,
                ),
                Malformed::NotAString,
            ),
            (
                request(None, Some("application/json"), r#"{"error":null}"#),
                Malformed::NotAString,
            ),
            (request(Some("code=&state=s"), None, ""), Malformed::Empty),
            (request(Some("error="), None, ""), Malformed::Empty),
            (
                request(
                    None,
                    Some("application/json"),
                    r#"{"fragment_params":{"access_token":""}}"#,
                ),
                Malformed::Empty,
            ),
            (
                request(
                    None,
                    Some("application/json"),
                    r#"{"fragment_params":{"id_token":1}}"#,
                ),
                Malformed::NotAString,
            ),
        ];
        for (req, expected) in cases {
            assert_eq!(capture(&req), Err(expected), "{:?}", req.query);
        }
    }

    #[test]
    fn bodies_of_other_types_are_ignored() {
        let req = request(Some("state=s"), Some("text/plain"), "code=x");
        assert_eq!(params_of(&req), json!({"state": "s"}));
    }

    #[test]
    fn outcome_needs_error_or_credentials() {
        let of = |v: Value| Outcome::of(v.as_object().unwrap());
        assert_eq!(
            of(json!({"error": "access_denied", "code": "x"})),
            Outcome::Error
        );
        for key in ["code", "access_token", "id_token", "refresh_token"] {
            assert_eq!(of(json!({ key: "x" })), Outcome::Success, "{key}");
        }
        assert_eq!(of(json!({"state": "s", "token": "x"})), Outcome::Pending);
    }

    #[test]
    fn raw_query_json_check() {
        assert!(query_wants_json(Some("a=1&format=json")));
        assert!(!query_wants_json(Some("format=jsonx")));
        assert!(!query_wants_json(None));
    }
}
