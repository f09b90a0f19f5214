//! The token requests (RFC 6749 section 3.2): the code exchange (section
//! 4.1.3, RFC 7636 section 4.5), the device code's (RFC 8628 section 3.4)
//! and the refresh (section 6), each with
//! `resource` when set (RFC 8707 section 2.2); their answer, kept as sent.

use serde_json::{Map, Value};

use super::client_auth::ClientAuth;
use super::error::{CheckFailed, ProviderError, SignInError, Stage, Unreachable};
use super::http::{Answer, Client, without_query};

/// What a token request asks for, besides the client's credentials.
pub enum Grant<'a> {
    /// The authorization code, with the PKCE verifier and the redirect URI
    /// the authorization request named.
    Code {
        /// The authorization code.
        code: &'a str,
        /// The PKCE verifier.
        verifier: &'a str,
        /// The redirect URI the authorization request named.
        redirect_uri: &'a str,
        /// `resource` (RFC 8707), when set.
        resource: Option<&'a str>,
    },
    /// A device code (RFC 8628 section 3.4), polled for.
    DeviceCode {
        /// The device code.
        device_code: &'a str,
        /// `resource` (RFC 8707), when set.
        resource: Option<&'a str>,
    },
    /// A refresh token, for the same scope as before (section 6).
    Refresh {
        /// The refresh token.
        refresh_token: &'a str,
        /// `resource` (RFC 8707), when set.
        resource: Option<&'a str>,
    },
}

impl Grant<'_> {
    /// The form's pairs, without the client's credentials.
    fn form(&self) -> Vec<(&str, &str)> {
        let (mut form, resource) = match self {
            Grant::Code {
                code,
                verifier,
                redirect_uri,
                resource,
            } => (
                vec![
                    ("grant_type", "authorization_code"),
                    ("code", *code),
                    ("redirect_uri", *redirect_uri),
                    ("code_verifier", *verifier),
                ],
                resource,
            ),
            Grant::DeviceCode {
                device_code,
                resource,
            } => (
                vec![
                    ("grant_type", "urn:ietf:params:oauth:grant-type:device_code"),
                    ("device_code", *device_code),
                ],
                resource,
            ),
            Grant::Refresh {
                refresh_token,
                resource,
            } => (
                vec![
                    ("grant_type", "refresh_token"),
                    ("refresh_token", *refresh_token),
                ],
                resource,
            ),
        };
        if let Some(resource) = resource {
            form.push(("resource", resource));
        }
        form
    }

    /// Which request a refusal answers.
    fn stage(&self) -> Stage {
        match self {
            Grant::Code { .. } => Stage::Token,
            Grant::DeviceCode { .. } => Stage::Device,
            Grant::Refresh { .. } => Stage::Refresh,
        }
    }
}

/// Send the token request for `grant`: the token response's members as
/// sent (RFC 6749 section 5.1), once they hold an `access_token` and a
/// `token_type`. An `error` answer (section 5.2) is the provider's refusal.
/// Nothing of a refused answer is kept or reported but its `error` and
/// `error_description`.
pub async fn request(
    client: &Client,
    endpoint: &url::Url,
    auth: &ClientAuth,
    client_id: &str,
    grant: &Grant<'_>,
) -> Result<Map<String, Value>, SignInError> {
    let (form, basic) = auth.apply(client_id, grant.form());
    let answer = client.post_form(endpoint, &form, basic).await?;
    let members = answered(&answer, endpoint, grant.stage(), &[200])?;
    let text = |key: &str| members.get(key).and_then(Value::as_str);
    for required in ["access_token", "token_type"] {
        if text(required).is_none_or(str::is_empty) {
            return Err(SignInError::CheckFailed(CheckFailed::TokenResponse(
                format!("it has no {required}"),
            )));
        }
    }
    Ok(members)
}

/// A provider's answer to a request at `endpoint`: its JSON members when
/// its status is one of `accepted`; else its `error` as the provider's
/// refusal at `stage` (RFC 6749 section 5.2, RFC 7009 section 2.2.1, RFC
/// 8628 section 3.5, RFC 7591 section 3.2.2, RFC 9126 section 2.3), or an
/// answer that cannot be used. Nothing of a refused answer is kept but its
/// `error` and `error_description`.
pub fn answered(
    answer: &Answer,
    endpoint: &url::Url,
    stage: Stage,
    accepted: &[u16],
) -> Result<Map<String, Value>, SignInError> {
    let members = answer
        .json_object()
        .map_err(|reason| nonsense(endpoint, format!("{reason}; status {}", answer.status)))?;
    if accepted.contains(&answer.status) {
        return Ok(members);
    }
    let text = |key: &str| members.get(key).and_then(Value::as_str);
    Err(match text("error") {
        Some(error) => {
            SignInError::Provider(ProviderError::new(stage, error, text("error_description")))
        }
        None => nonsense(
            endpoint,
            format!("it answered {} without an error code", answer.status),
        )
        .into(),
    })
}

/// An answer from `endpoint` that cannot be used, and why.
pub fn nonsense(endpoint: &url::Url, reason: String) -> Unreachable {
    Unreachable::Nonsense {
        url: without_query(endpoint),
        reason,
    }
}

/// `expires_in` (seconds, a number or a string of digits as some providers
/// send it) as a Unix time from `now`.
pub fn expires_at(members: &Map<String, Value>, now: u64) -> Option<u64> {
    let seconds = match members.get("expires_in")? {
        Value::Number(n) => n.as_u64()?,
        Value::String(s) => s.trim().parse().ok()?,
        _ => return None,
    };
    now.checked_add(seconds)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expires_at_counts_from_now_and_takes_strings_of_digits() {
        let members = |value: Value| {
            let mut map = Map::new();
            map.insert("expires_in".into(), value);
            map
        };
        assert_eq!(expires_at(&members(3600.into()), 1000), Some(4600));
        assert_eq!(expires_at(&members("60".into()), 1000), Some(1060));
        assert_eq!(expires_at(&members("soon".into()), 1000), None);
        assert_eq!(expires_at(&members((-5).into()), 1000), None);
        assert_eq!(expires_at(&Map::new(), 1000), None);
    }
}
