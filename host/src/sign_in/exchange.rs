//! The code exchange (RFC 6749 section 4.1.3, RFC 7636 section 4.5, RFC
//! 8707 section 2.2): the token request and its answer, kept as sent.

use serde_json::{Map, Value};

use super::client_auth::ClientAuth;
use super::error::{CheckFailed, ProviderError, SignInError, Stage, Unreachable};
use super::http::{Client, without_query};

/// What the token request carries besides the client's credentials.
pub struct Grant<'a> {
    /// The authorization code.
    pub code: &'a str,
    /// The PKCE verifier.
    pub verifier: &'a str,
    /// The redirect URI the authorization request named.
    pub redirect_uri: &'a str,
    /// `resource` (RFC 8707), when set.
    pub resource: Option<&'a str>,
}

/// Exchange the code for tokens: the token response's members as sent
/// (RFC 6749 section 5.1), once they hold an `access_token` and a
/// `token_type`. An `error` answer (section 5.2) is the provider's refusal.
/// Nothing of a refused answer is kept or reported but its `error` and
/// `error_description`.
pub async fn exchange(
    client: &Client,
    endpoint: &url::Url,
    auth: &ClientAuth,
    client_id: &str,
    grant: &Grant<'_>,
) -> Result<Map<String, Value>, SignInError> {
    let mut form = vec![
        ("grant_type", "authorization_code"),
        ("code", grant.code),
        ("redirect_uri", grant.redirect_uri),
        ("code_verifier", grant.verifier),
    ];
    if let Some(resource) = grant.resource {
        form.push(("resource", resource));
    }
    let (form, basic) = auth.apply(client_id, form);
    let answer = client.post_form(endpoint, &form, basic).await?;
    let nonsense = |reason: String| Unreachable::Nonsense {
        url: without_query(endpoint),
        reason,
    };
    let members = answer
        .json_object()
        .map_err(|reason| nonsense(format!("{reason}; status {}", answer.status)))?;
    let text = |key: &str| members.get(key).and_then(Value::as_str);
    if answer.status != 200 {
        return Err(match text("error") {
            Some(error) => SignInError::Provider(ProviderError::new(
                Stage::Token,
                error,
                text("error_description"),
            )),
            None => nonsense(format!(
                "it answered {} without an error code",
                answer.status
            ))
            .into(),
        });
    }
    for required in ["access_token", "token_type"] {
        if text(required).is_none_or(str::is_empty) {
            return Err(SignInError::CheckFailed(CheckFailed::TokenResponse(
                format!("it has no {required}"),
            )));
        }
    }
    Ok(members)
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
