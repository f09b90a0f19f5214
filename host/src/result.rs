//! The completed callback as callers receive it and the CLI prints it.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// The first request that completed the flow: the original module's result
/// object, `{"params":{...},"method":"GET","path":"/callback","received_at":1730000000}`
/// (its serde form, and [`to_json_line`](Self::to_json_line)).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CallbackResult {
    params: Map<String, Value>,
    method: String,
    path: String,
    received_at: u64,
}

impl CallbackResult {
    /// The result of a completion that arrived at `received_at` (seconds
    /// since the Unix epoch).
    pub(crate) fn new(
        params: Map<String, Value>,
        method: String,
        path: String,
        received_at: u64,
    ) -> Self {
        CallbackResult {
            params,
            method,
            path,
            received_at,
        }
    }

    /// The merged parameters (query, form, JSON body, fragment), as a JSON
    /// object: query and form values are strings, JSON values keep their types.
    pub fn params(&self) -> &Map<String, Value> {
        &self.params
    }

    /// The HTTP method of the request that completed the flow (`GET`, `POST`).
    pub fn method(&self) -> &str {
        &self.method
    }

    /// The path of the request that completed the flow (`/callback`).
    pub fn path(&self) -> &str {
        &self.path
    }

    /// When it arrived, in seconds since the Unix epoch.
    pub fn received_at(&self) -> u64 {
        self.received_at
    }

    /// A parameter, when it is a string.
    pub fn param(&self, key: &str) -> Option<&str> {
        self.params.get(key).and_then(Value::as_str)
    }

    /// The authorization `code`, if the provider sent one.
    pub fn code(&self) -> Option<&str> {
        self.param("code")
    }

    /// The `state` echoed by the provider; compare it with the one you sent.
    pub fn state(&self) -> Option<&str> {
        self.param("state")
    }

    /// The provider's `error` code (e.g. `access_denied`), if the flow failed.
    pub fn error(&self) -> Option<&str> {
        self.param("error")
    }

    /// The result as one line of JSON, as the CLI prints it: one object,
    /// its keys unique, whatever bytes a handler sent (they were parsed
    /// once, into `params`, and are serialised once, here).
    pub fn to_json_line(&self) -> String {
        serde_json::to_string(self).expect("a map of JSON values serialises")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serialises_to_the_original_shape() {
        let result = CallbackResult {
            params: serde_json::from_str(r#"{"code":"c","state":"s"}"#).unwrap(),
            method: "GET".into(),
            path: "/callback".into(),
            received_at: 1730000000,
        };
        let line = result.to_json_line();
        assert_eq!(
            line,
            r#"{"params":{"code":"c","state":"s"},"method":"GET","path":"/callback","received_at":1730000000}"#
        );
        // The line wasi:http hosts get from the handler crate has the same shape.
        let completion = oauth_callback_guest::http::Completion {
            params: r#"{"code":"c","state":"s"}"#.into(),
            method: "GET".into(),
            path: "/callback".into(),
        };
        assert_eq!(completion.json_line(1730000000), line);
        assert_eq!(
            (result.code(), result.state(), result.error()),
            (Some("c"), Some("s"), None)
        );
    }
}
