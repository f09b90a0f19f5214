//! The completed callback as callers receive it and the CLI prints it.

use oauth_callback_guest::http::Completion;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// The first request that completed the flow: the original module's result
/// object, `{"params":{...},"method":"GET","path":"/callback","received_at":1730000000}`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CallbackResult {
    /// The merged parameters (query, form, JSON body, fragment).
    pub params: Map<String, Value>,
    /// HTTP method of the completing request.
    pub method: String,
    /// Path of the completing request.
    pub path: String,
    /// When it arrived, in seconds since the Unix epoch.
    pub received_at: u64,
}

impl CallbackResult {
    /// The merged parameters.
    pub fn params(&self) -> &Map<String, Value> {
        &self.params
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

    /// The result as one line of JSON, as the CLI prints it: the shape is
    /// defined once, by the handler crate that writes it under wasi:http hosts.
    pub fn to_json_line(&self) -> String {
        Completion {
            params: Value::Object(self.params.clone()).to_string(),
            method: self.method.clone(),
            path: self.path.clone(),
        }
        .json_line(self.received_at)
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
        // Serde users get the same shape as the line.
        assert_eq!(serde_json::to_string(&result).unwrap(), line);
        assert_eq!(
            (result.code(), result.state(), result.error()),
            (Some("c"), Some("s"), None)
        );
    }
}
