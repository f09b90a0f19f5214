//! Where tokens are kept between runs: one entry per provider, client,
//! scopes and resource ([`CacheKey`]), in a store behind [`TokenStore`]: a
//! folder of files only the user can read ([`FileStore`], the default), the
//! operating system's secret store ([`KeyringStore`], the files its
//! fallback), or this process's memory ([`MemoryStore`]: nothing kept). Each entry has a lock, so that
//! callers started at once do one sign-in or refresh between them.
//!
//! What an entry holds: the token response's members, `expires_at`, the
//! verified ID token's claims, and how they were obtained; never a client
//! secret, a PKCE verifier or an authorization code.

mod file;
mod keyring;
mod memory;

use std::time::{SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::sign_in::{Provider, SignIn, Tokens};

pub use file::FileStore;
pub use keyring::{KEYRING_TIMEOUT, KeyringStore};
pub use memory::MemoryStore;

/// What an entry is for: the provider as given, the client id, the scopes
/// asked for (sorted, each once; empty for the provider's default) and
/// the resource (RFC 8707).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CacheKey {
    /// The issuer, the protected resource, or the endpoints.
    pub provider: Provider,
    /// The client id.
    pub client_id: String,
    /// The scopes asked for, sorted.
    pub scopes: Vec<String>,
    /// The resource named in the requests, when one is.
    pub resource: Option<String>,
}

impl CacheKey {
    /// The key for these settings (the scopes sorted, each once).
    pub fn new(
        provider: Provider,
        client_id: &str,
        scopes: &[String],
        resource: Option<&str>,
    ) -> CacheKey {
        let mut scopes = scopes.to_vec();
        scopes.sort();
        scopes.dedup();
        CacheKey {
            provider,
            client_id: client_id.into(),
            scopes,
            resource: resource.map(Into::into),
        }
    }

    /// A name for the entry made of the key alone (SHA-256 of its JSON,
    /// 128 bits in hex): a file name on every system, saying nothing of
    /// the provider to who lists the folder.
    pub fn id(&self) -> String {
        crate::files::name_for(&serde_json::to_vec(self).unwrap_or_default())
    }

    /// The sign-in this key is for (a public client, or the client
    /// registered at the provider when the key names none; add a secret for
    /// a confidential one).
    pub fn sign_in(&self) -> SignIn {
        let sign_in = match &self.provider {
            Provider::Issuer(issuer) => SignIn::issuer(issuer, &self.client_id),
            Provider::Resource(resource) => SignIn::resource(resource, &self.client_id),
            Provider::Endpoints {
                authorization,
                token,
            } => SignIn::endpoints(authorization, token, &self.client_id),
        };
        let sign_in = match &self.resource {
            Some(resource) => sign_in.with_resource(resource),
            None => sign_in,
        };
        let sign_in = match self.client_id.is_empty() {
            true => sign_in.register("oauth-callback"),
            false => sign_in,
        };
        match self.scopes.is_empty() {
            true => sign_in,
            false => sign_in.scopes(self.scopes.clone()),
        }
    }

    /// The provider as one line: the issuer, the resource, or the token
    /// endpoint.
    pub fn provider_line(&self) -> &str {
        match &self.provider {
            Provider::Issuer(url) | Provider::Resource(url) => url,
            Provider::Endpoints { token, .. } => token,
        }
    }
}

/// Where a token came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Source {
    /// The cache, still valid.
    Cache,
    /// A refresh with the cached refresh token (RFC 6749 section 6).
    Refresh,
    /// An interactive sign-in.
    SignIn,
}

impl Source {
    /// Its name in the JSON output: `cache`, `refresh`, `sign-in`.
    pub fn as_str(self) -> &'static str {
        match self {
            Source::Cache => "cache",
            Source::Refresh => "refresh",
            Source::SignIn => "sign-in",
        }
    }
}

/// The version of the entries' format; an entry of another is not read.
const FORMAT: u32 = 1;

/// One cached entry: its key, the tokens, how they were obtained and when
/// they were stored (Unix seconds).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CacheEntry {
    format: u32,
    /// What the entry is for.
    pub key: CacheKey,
    /// The tokens (their members as [`Tokens::members`]).
    #[serde(with = "members")]
    pub tokens: Tokens,
    /// How they were obtained: [`Source::SignIn`] or [`Source::Refresh`].
    pub source: Source,
    /// When they were stored, in Unix seconds.
    pub stored_at: u64,
}

impl CacheEntry {
    /// An entry for `tokens` obtained by `source`, stored now.
    pub fn new(key: CacheKey, tokens: Tokens, source: Source) -> CacheEntry {
        CacheEntry {
            format: FORMAT,
            key,
            tokens,
            source,
            stored_at: now(),
        }
    }

    /// The entry in `bytes` when it is one of ours for `key` (any key when
    /// none is given), else why not.
    pub(crate) fn parse(bytes: &[u8], key: Option<&CacheKey>) -> Result<CacheEntry, String> {
        let entry: CacheEntry = serde_json::from_slice(bytes)
            .map_err(|e| format!("it is not a token cache entry ({e})"))?;
        if entry.format != FORMAT {
            return Err(format!("its format is {}, not {FORMAT}", entry.format));
        }
        if key.is_some_and(|key| *key != entry.key) {
            return Err("it is the entry of other settings".into());
        }
        if entry.tokens.access_token().is_empty() {
            return Err("it holds no access token".into());
        }
        Ok(entry)
    }

    /// The entry as the JSON a store keeps.
    pub(crate) fn to_json(&self) -> Vec<u8> {
        serde_json::to_vec_pretty(self).unwrap_or_default()
    }

    /// When the tokens stop being usable, in Unix seconds: the earliest of
    /// the access token's `expires_at` and the ID token's `exp`; none when
    /// neither says (a token that does not expire).
    pub fn expires_at(&self) -> Option<u64> {
        let id_token_exp = self
            .tokens
            .id_token_claims()
            .and_then(|claims| claims.get("exp"))
            .and_then(Value::as_u64);
        match (self.tokens.expires_at(), id_token_exp) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// Whether the tokens stay valid for at least `min_valid` seconds.
    pub fn valid_for(&self, min_valid: u64) -> bool {
        self.expires_at()
            .is_none_or(|at| at >= now().saturating_add(min_valid))
    }
}

/// [`Tokens`] kept as their members.
mod members {
    use serde::{Deserialize, Deserializer, Serialize, Serializer};
    use serde_json::{Map, Value};

    use crate::sign_in::Tokens;

    pub fn serialize<S: Serializer>(tokens: &Tokens, s: S) -> Result<S::Ok, S::Error> {
        tokens.members().serialize(s)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Tokens, D::Error> {
        Map::<String, Value>::deserialize(d).map(Tokens::from_members)
    }
}

/// The current time in Unix seconds.
pub(crate) fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// A held entry lock: released when dropped, or by the operating system
/// when its process ends.
pub struct EntryLock {
    /// What holds the lock (a locked file, a memory store's claim): kept,
    /// never read, until dropped.
    _guard: Box<dyn Send>,
}

impl EntryLock {
    /// A lock that holds `guard` (released when it is dropped).
    pub fn new(guard: impl Send + 'static) -> EntryLock {
        EntryLock {
            _guard: Box::new(guard),
        }
    }
}

impl std::fmt::Debug for EntryLock {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("EntryLock")
    }
}

/// Where entries are kept. `load` never fails on a bad entry: a corrupt,
/// truncated or foreign one is reported once (a warning naming it) and
/// taken as absent; errors are for a store that cannot be used at all.
pub trait TokenStore: Send + Sync + std::fmt::Debug {
    /// The entry for `key`, when there is one to trust.
    fn load(&self, key: &CacheKey) -> std::io::Result<Option<CacheEntry>>;
    /// Keep `entry` under its key, replacing what was there.
    fn save(&self, entry: &CacheEntry) -> std::io::Result<()>;
    /// Remove the entry for `key`; whether there was one.
    fn remove(&self, key: &CacheKey) -> std::io::Result<bool>;
    /// Every entry to trust.
    fn list(&self) -> std::io::Result<Vec<CacheEntry>>;
    /// Take the entry's lock without waiting: `None` while another holder
    /// (a thread, or another process) has it.
    fn try_lock(&self, key: &CacheKey) -> std::io::Result<Option<EntryLock>>;
    /// Where it keeps entries, for messages.
    fn describe(&self) -> String;
}

#[cfg(test)]
mod tests {
    use serde_json::Map;

    use super::*;

    fn key(scopes: &[&str]) -> CacheKey {
        let scopes: Vec<String> = scopes.iter().map(|s| s.to_string()).collect();
        CacheKey::new(
            Provider::Issuer("https://id.example".into()),
            "cli",
            &scopes,
            None,
        )
    }

    fn tokens(expires_at: Option<u64>, exp: Option<u64>) -> Tokens {
        let mut members = Map::new();
        members.insert("access_token".into(), "at".into());
        let claims = exp.map(|exp| {
            let mut claims = Map::new();
            claims.insert("exp".into(), exp.into());
            claims
        });
        Tokens::new(members, expires_at, None, claims)
    }

    #[test]
    fn keys_sort_their_scopes_and_name_files_without_the_provider() {
        assert_eq!(
            key(&["openid", "email", "openid"]),
            key(&["email", "openid"])
        );
        assert_eq!(
            key(&["email", "openid"]).id(),
            key(&["openid", "email"]).id()
        );
        assert_ne!(key(&["email"]).id(), key(&["openid"]).id());
        let id = key(&[]).id();
        assert_eq!(id.len(), 32);
        assert!(id.chars().all(|c| c.is_ascii_hexdigit()));
    }

    #[test]
    fn an_entry_is_valid_until_its_earliest_expiry_less_min_valid() {
        let soon = now() + 30;
        let later = now() + 3600;
        let entry = |t| CacheEntry::new(key(&[]), t, Source::SignIn);
        assert!(entry(tokens(None, None)).valid_for(60));
        assert!(entry(tokens(Some(later), None)).valid_for(60));
        assert!(!entry(tokens(Some(soon), None)).valid_for(60));
        assert!(entry(tokens(Some(soon), None)).valid_for(10));
        assert!(!entry(tokens(Some(later), Some(soon))).valid_for(60));
        assert_eq!(
            entry(tokens(Some(later), Some(soon))).expires_at(),
            Some(soon)
        );
    }

    #[test]
    fn only_our_entries_for_the_key_are_read() {
        let entry = CacheEntry::new(key(&["a"]), tokens(None, None), Source::Refresh);
        let json = entry.to_json();
        assert_eq!(CacheEntry::parse(&json, Some(&key(&["a"]))), Ok(entry));
        assert!(CacheEntry::parse(&json, Some(&key(&["b"]))).is_err());
        assert!(CacheEntry::parse(&json[..json.len() / 2], None).is_err());
        let other = String::from_utf8(json)
            .unwrap()
            .replace("\"format\": 1", "\"format\": 9");
        assert!(CacheEntry::parse(other.as_bytes(), None).is_err());
    }
}
