//! What a sign-in returns: the token response's members as the provider
//! sent them, and what the sign-in adds (`expires_at`, `issuer`,
//! `id_token_claims`).

use std::fmt;

use serde_json::{Map, Value};

/// The tokens of a completed sign-in: every member of the provider's token
/// response (RFC 6749 section 5.1) as sent, plus `expires_at` (Unix
/// seconds, from `expires_in`), `issuer` (when known) and
/// `id_token_claims` (only when an ID token came and passed every check).
/// `Debug` shows the member names, never a token.
#[derive(Clone, PartialEq)]
pub struct Tokens {
    members: Map<String, Value>,
}

impl Tokens {
    /// The provider's members and what the sign-in adds to them.
    pub(crate) fn new(
        mut members: Map<String, Value>,
        expires_at: Option<u64>,
        issuer: Option<&str>,
        id_token_claims: Option<Map<String, Value>>,
    ) -> Tokens {
        for (name, value) in [
            ("expires_at", expires_at.map(Value::from)),
            ("issuer", issuer.map(Value::from)),
            ("id_token_claims", id_token_claims.map(Value::Object)),
        ] {
            match value {
                Some(value) => members.insert(name.into(), value),
                // Only ours: a provider's member of the same name is not
                // passed on as if the sign-in had vouched for it.
                None => members.remove(name),
            };
        }
        Tokens { members }
    }

    /// Tokens kept before, as their members (a cache entry's).
    pub(crate) fn from_members(members: Map<String, Value>) -> Tokens {
        Tokens { members }
    }

    /// Every member, as a JSON object.
    pub fn members(&self) -> &Map<String, Value> {
        &self.members
    }

    fn text(&self, name: &str) -> Option<&str> {
        self.members.get(name).and_then(Value::as_str)
    }

    /// `access_token`.
    pub fn access_token(&self) -> &str {
        self.text("access_token").unwrap_or_default()
    }

    /// `token_type` (`Bearer`, `DPoP`…).
    pub fn token_type(&self) -> &str {
        self.text("token_type").unwrap_or_default()
    }

    /// `refresh_token`, when the provider gave one.
    pub fn refresh_token(&self) -> Option<&str> {
        self.text("refresh_token")
    }

    /// `id_token`, when the provider gave one.
    pub fn id_token(&self) -> Option<&str> {
        self.text("id_token")
    }

    /// `scope`, when the provider said it.
    pub fn scope(&self) -> Option<&str> {
        self.text("scope")
    }

    /// When the access token expires, in Unix seconds, when `expires_in` said it.
    pub fn expires_at(&self) -> Option<u64> {
        self.members.get("expires_at").and_then(Value::as_u64)
    }

    /// The issuer, when the provider was found through metadata.
    pub fn issuer(&self) -> Option<&str> {
        self.text("issuer")
    }

    /// The ID token's verified claims, when one came and passed every check.
    pub fn id_token_claims(&self) -> Option<&Map<String, Value>> {
        self.members
            .get("id_token_claims")
            .and_then(Value::as_object)
    }

    /// Every member as one line of JSON (what `oauth-callback sign-in` prints).
    pub fn to_json_line(&self) -> String {
        Value::Object(self.members.clone()).to_string()
    }
}

impl fmt::Debug for Tokens {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Tokens")
            .field("members", &self.members.keys().collect::<Vec<_>>())
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn our_members_are_ours_and_debug_shows_no_token() {
        let mut sent = Map::new();
        sent.insert("access_token".into(), "at-secret".into());
        sent.insert("token_type".into(), "Bearer".into());
        sent.insert("id_token_claims".into(), "forged".into());
        sent.insert("x_vendor".into(), 1.into());
        let tokens = Tokens::new(sent, Some(10), Some("https://id.example"), None);
        assert_eq!(tokens.access_token(), "at-secret");
        assert_eq!(tokens.expires_at(), Some(10));
        assert_eq!(tokens.issuer(), Some("https://id.example"));
        assert!(tokens.id_token_claims().is_none());
        assert!(!tokens.members().contains_key("id_token_claims"));
        assert_eq!(tokens.members()["x_vendor"], 1);
        assert!(!format!("{tokens:?}").contains("at-secret"));
    }
}
