//! The device authorization grant (RFC 8628): signing in on another device
//! (a phone, the laptop an SSH session comes from) with a user code, while
//! this program polls the token endpoint. No browser opens here and
//! nothing listens.

use std::time::{Duration, Instant};

use serde_json::{Map, Value};

use super::client_auth::ClientAuth;
use super::error::{ProviderError, SignInError, Stage};
use super::exchange::{self, Grant, answered, nonsense};
use super::http::Client;

/// The polling interval when the provider names none (section 3.2).
const DEFAULT_INTERVAL: Duration = Duration::from_secs(5);
/// What `slow_down` adds to the interval (section 3.5).
const SLOW_DOWN: Duration = Duration::from_secs(5);
/// The longest a device code is waited for, whatever the provider says.
const MAX_EXPIRES_IN: u64 = 3600;

/// The provider's device authorization response (section 3.2): what the
/// user is shown, and what the polling sends.
pub struct DeviceAuthorization {
    device_code: String,
    /// The code the user enters (escaped for the terminal).
    pub user_code: String,
    /// Where the user enters it.
    pub verification_uri: String,
    /// The same with the code in it, when the provider gives one.
    pub verification_uri_complete: Option<String>,
    expires_in: Duration,
    interval: Duration,
}

impl DeviceAuthorization {
    /// The lines the user reads on the terminal (never a log record: the
    /// user code lets whoever reads it sign in as the user, section 5.4).
    pub fn instructions(&self) -> String {
        let mut text = format!(
            "to sign in, open {} and enter the code {}",
            self.verification_uri, self.user_code
        );
        if let Some(complete) = &self.verification_uri_complete {
            text.push_str(&format!("\nor open {complete}"));
        }
        text.push_str(&format!(
            "\n(the code is valid for {} minutes)",
            self.expires_in.as_secs().div_ceil(60)
        ));
        text
    }
}

/// Ask for a device code (section 3.1): `scope` and `resource` as the
/// authorization request would name them.
pub async fn start(
    client: &Client,
    endpoint: &url::Url,
    auth: &ClientAuth,
    client_id: &str,
    scope: &str,
    resource: Option<&str>,
) -> Result<DeviceAuthorization, SignInError> {
    let mut form = Vec::new();
    if !scope.is_empty() {
        form.push(("scope", scope));
    }
    if let Some(resource) = resource {
        form.push(("resource", resource));
    }
    let (form, basic) = auth.apply(client_id, form);
    let answer = client.post_form(endpoint, &form, basic).await?;
    let members = answered(&answer, endpoint, Stage::Device, &[200])?;
    parse(&members).map_err(|why| nonsense(endpoint, why).into())
}

/// The device authorization response's members, checked.
fn parse(members: &Map<String, Value>) -> Result<DeviceAuthorization, String> {
    let text = |name: &str| -> Result<String, String> {
        match members.get(name).and_then(Value::as_str) {
            Some(value) if !value.is_empty() => Ok(value.into()),
            _ => Err(format!("its answer has no {name}")),
        }
    };
    let page = |name: &str, value: String| -> Result<String, String> {
        crate::urls::browser_url(&value)
            .map(String::from)
            .map_err(|why| format!("its {name} {why}"))
    };
    let seconds = |name: &str| members.get(name).and_then(Value::as_u64);
    let complete = match members
        .get("verification_uri_complete")
        .and_then(Value::as_str)
    {
        Some(uri) => Some(page("verification_uri_complete", uri.into())?),
        None => None,
    };
    Ok(DeviceAuthorization {
        device_code: text("device_code")?,
        user_code: crate::error::escaped_line(&text("user_code")?, 64),
        verification_uri: page("verification_uri", text("verification_uri")?)?,
        verification_uri_complete: complete,
        expires_in: Duration::from_secs(
            seconds("expires_in")
                .ok_or("its answer has no expires_in")?
                .min(MAX_EXPIRES_IN),
        ),
        interval: seconds("interval").map_or(DEFAULT_INTERVAL, |s| Duration::from_secs(s.max(1))),
    })
}

/// Poll the token endpoint (section 3.4) until the user has signed in:
/// `authorization_pending` waits another interval, `slow_down` adds five
/// seconds to it (section 3.5); the tokens, or the provider's refusal
/// (`access_denied`, `expired_token`), or `expired_token` of our own once
/// the code's lifetime has passed.
pub async fn poll(
    client: &Client,
    endpoint: &url::Url,
    auth: &ClientAuth,
    client_id: &str,
    authorization: &DeviceAuthorization,
    resource: Option<&str>,
) -> Result<Map<String, Value>, SignInError> {
    let deadline = Instant::now() + authorization.expires_in;
    let mut interval = authorization.interval;
    let grant = Grant::DeviceCode {
        device_code: &authorization.device_code,
        resource,
    };
    loop {
        tokio::time::sleep(interval).await;
        if Instant::now() >= deadline {
            return Err(SignInError::Provider(ProviderError::new(
                Stage::Device,
                "expired_token",
                None,
            )));
        }
        match exchange::request(client, endpoint, auth, client_id, &grant).await {
            Err(SignInError::Provider(refused)) if refused.error == "authorization_pending" => {}
            Err(SignInError::Provider(refused)) if refused.error == "slow_down" => {
                interval += SLOW_DOWN;
                tracing::debug!("the provider asked to poll more slowly: every {interval:?}");
            }
            done => return done,
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn members(value: Value) -> Map<String, Value> {
        value.as_object().unwrap().clone()
    }

    #[test]
    fn a_device_authorization_is_checked_and_bounded() {
        let parsed = parse(&members(json!({
            "device_code": "dc", "user_code": "WDJB-MJHT\u{1b}[31m",
            "verification_uri": "https://id.example/device", "expires_in": 100000
        })))
        .unwrap();
        assert_eq!(parsed.interval, DEFAULT_INTERVAL);
        assert_eq!(parsed.expires_in, Duration::from_secs(MAX_EXPIRES_IN));
        assert_eq!(parsed.user_code, "WDJB-MJHT\\u{1b}[31m");
        let lines = parsed.instructions();
        assert!(lines.starts_with("to sign in, open https://id.example/device and enter the code"));
        assert!(!lines.contains('\u{1b}'));
        for broken in [
            json!({"user_code": "u", "verification_uri": "https://id.example/d", "expires_in": 5}),
            json!({"device_code": "d", "verification_uri": "https://id.example/d", "expires_in": 5}),
            json!({"device_code": "d", "user_code": "u", "verification_uri": "javascript:alert(1)", "expires_in": 5}),
            json!({"device_code": "d", "user_code": "u", "verification_uri": "https://id.example/d"}),
        ] {
            assert!(parse(&members(broken)).is_err());
        }
        let complete = parse(&members(json!({
            "device_code": "d", "user_code": "u", "verification_uri": "https://id.example/d",
            "verification_uri_complete": "https://id.example/d?user_code=u", "expires_in": 60, "interval": 0
        })))
        .unwrap();
        assert_eq!(complete.interval, Duration::from_secs(1));
        assert!(
            complete
                .instructions()
                .contains("\nor open https://id.example/d?user_code=u")
        );
    }
}
