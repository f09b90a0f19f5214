//! Revoking a token at the provider (RFC 7009): what a sign-out does before
//! it forgets the tokens.

use super::client_auth::ClientAuth;
use super::error::{SignInError, Stage};
use super::exchange::answered;
use super::http::Client;

/// What became of the tokens at the provider.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Revocation {
    /// The provider revoked the refresh token (or the access token, when
    /// there was no refresh token): it answered 200 (RFC 7009 section 2.2).
    Revoked,
    /// The provider has no `revocation_endpoint`: the tokens stay valid
    /// there until they expire.
    NoEndpoint,
    /// There was nothing to revoke (no cached tokens).
    NothingCached,
}

/// Revoke `token` (of type `hint`: `refresh_token` or `access_token`) at
/// `endpoint`, authenticated as the client is at the token endpoint (RFC
/// 7009 section 2.1). 200 is success, also for a token the provider no
/// longer knows (section 2.2); an `error` answer is the provider's refusal.
pub async fn revoke(
    client: &Client,
    endpoint: &url::Url,
    auth: &ClientAuth,
    client_id: &str,
    token: &str,
    hint: &str,
) -> Result<(), SignInError> {
    let form = vec![("token", token), ("token_type_hint", hint)];
    let (form, basic) = auth.apply(client_id, form);
    let answer = client.post_form(endpoint, &form, basic).await?;
    if answer.status == 200 {
        // Section 2.2: a success's body (often empty) is not used.
        return Ok(());
    }
    answered(&answer, endpoint, Stage::Revocation, &[]).map(drop)
}
