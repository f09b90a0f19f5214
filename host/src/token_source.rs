//! Staying signed in: a valid access token every time it is asked for,
//! from the cache while it stays valid, else refreshed with the cached
//! refresh token (RFC 6749 section 6), else by an interactive sign-in; one
//! sign-in or refresh for callers that ask at once (the entry's lock), and
//! the sign-out (RFC 7009).
//!
//! ```no_run
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! use oauth_callback::{Config, SignIn, TokenSource};
//!
//! let source = TokenSource::new(SignIn::issuer("https://id.example", "my-cli"))?;
//! let token = source.token(Config::builder().build()?).await?;
//! println!("{} (from the {})", token.tokens.access_token(), token.source.as_str());
//! # Ok(()) }
//! ```

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use serde_json::Value;

use crate::config::Config;
use crate::sign_in::{Prepared, Revocation, SignIn, SignInError, Tokens};
use crate::token_cache::{CacheEntry, CacheKey, EntryLock, FileStore, Source, TokenStore};

/// How long a token must stay valid to be given from the cache [default:
/// 60 s].
pub const DEFAULT_MIN_VALID: Duration = Duration::from_secs(60);

/// How often a caller waiting for another's sign-in looks at the lock.
const LOCK_POLL: Duration = Duration::from_millis(50);

/// Valid tokens and where they came from.
#[derive(Debug, Clone, PartialEq)]
pub struct Token {
    /// The tokens.
    pub tokens: Tokens,
    /// Where they came from.
    pub source: Source,
}

impl Token {
    /// The tokens' members and `source`, as one line of JSON (what
    /// `oauth-callback token` prints).
    pub fn to_json_line(&self) -> String {
        let mut members = self.tokens.members().clone();
        members.insert("source".into(), self.source.as_str().into());
        Value::Object(members).to_string()
    }
}

/// A sign-in whose tokens are kept in a store and handed out while valid.
#[derive(Debug, Clone)]
pub struct TokenSource {
    sign_in: SignIn,
    store: Arc<dyn TokenStore>,
    min_valid: Duration,
    interactive: bool,
}

impl TokenSource {
    /// `sign_in`'s tokens, kept in the user's token folder
    /// ([`FileStore::of_user`]).
    ///
    /// # Errors
    /// [`SignInError::Cache`] when there is no home directory to keep them in.
    pub fn new(sign_in: SignIn) -> Result<TokenSource, SignInError> {
        Ok(TokenSource::with_store(sign_in, FileStore::of_user()?))
    }

    /// `sign_in`'s tokens, kept in `store`.
    pub fn with_store(sign_in: SignIn, store: impl TokenStore + 'static) -> TokenSource {
        TokenSource {
            sign_in,
            store: Arc::new(store),
            min_valid: DEFAULT_MIN_VALID,
            interactive: true,
        }
    }

    /// Give a cached token only while it stays valid this long [default:
    /// [`DEFAULT_MIN_VALID`]].
    pub fn min_valid(mut self, min_valid: Duration) -> Self {
        self.min_valid = min_valid;
        self
    }

    /// Whether an interactive sign-in may happen [default: true]; when not,
    /// a needed one is [`SignInError::InteractionRequired`] at once.
    pub fn interactive(mut self, interactive: bool) -> Self {
        self.interactive = interactive;
        self
    }

    /// The sign-in's entry in the store.
    pub fn key(&self) -> CacheKey {
        CacheKey::new(
            self.sign_in.provider().clone(),
            self.sign_in.client_id(),
            self.sign_in.requested_scopes().unwrap_or_default(),
            self.sign_in.resource_indicator(),
        )
    }

    /// A valid token: cached, refreshed, or from a sign-in on a receiver
    /// set up with `config` (as [`SignIn::run`]); what is new is stored
    /// before it is returned.
    ///
    /// # Errors
    /// [`SignInError`]: those of [`SignIn::run`], a store that cannot be
    /// used ([`SignInError::Cache`]), or a sign-in needed where none may
    /// happen ([`SignInError::InteractionRequired`]).
    pub async fn token(&self, config: Config) -> Result<Token, SignInError> {
        self.token_with(|prepared| prepared.run(config)).await
    }

    /// [`TokenSource::token`], blocking the calling thread on a runtime of
    /// its own. Not inside a tokio runtime.
    pub fn token_blocking(&self, config: Config) -> Result<Token, SignInError> {
        crate::sign_in::block_on(self.token(config))
    }

    /// [`TokenSource::token`] with the interactive sign-in done by
    /// `sign_in` (a face's own receiver and terminal).
    pub(crate) async fn token_with<E, F, Fut>(&self, sign_in: F) -> Result<Token, E>
    where
        E: From<SignInError>,
        F: FnOnce(Prepared) -> Fut,
        Fut: Future<Output = Result<Tokens, E>>,
    {
        let key = self.key();
        let _lock = self.lock(&key).await?;
        let cached = self.store.load(&key).map_err(|e| self.unusable(e))?;
        if let Some(entry) = &cached
            && entry.valid_for(self.min_valid.as_secs())
        {
            return Ok(Token {
                tokens: entry.tokens.clone(),
                source: Source::Cache,
            });
        }
        let refreshable = cached.filter(|entry| entry.tokens.refresh_token().is_some());
        if refreshable.is_none() && !self.interactive {
            return Err(SignInError::InteractionRequired.into());
        }
        let mut prepared = self.sign_in.clone().prepare().await?;
        if let Some(entry) = refreshable {
            match prepared.refresh(&entry.tokens).await {
                Ok(tokens) => return Ok(self.keep(key, tokens, Source::Refresh)),
                Err(SignInError::Provider(refused)) if refused.error == "invalid_grant" => {
                    tracing::info!(
                        "the provider no longer takes the cached refresh token: signing in again"
                    );
                }
                Err(SignInError::Provider(refused))
                    if refused.error == "invalid_client" && prepared.forget_registration() =>
                {
                    tracing::info!(
                        "the provider no longer knows the registered client: registering again"
                    );
                }
                Err(e) => return Err(e.into()),
            }
            if !self.interactive {
                return Err(SignInError::InteractionRequired.into());
            }
        }
        let tokens = sign_in(prepared).await?;
        Ok(self.keep(key, tokens, Source::SignIn))
    }

    /// Sign out: revoke the cached refresh token (or access token) at the
    /// provider when it has a revocation endpoint (RFC 7009), then remove
    /// the entry. A provider that cannot be reached keeps the entry (to
    /// sign out again later); one that refuses does not.
    ///
    /// # Errors
    /// The provider's refusal (the entry removed), an unreachable provider
    /// (the entry kept), a store that cannot be used.
    pub async fn sign_out(&self) -> Result<Revocation, SignInError> {
        let key = self.key();
        // Nothing cached: nothing to lock (nor a folder to make for it).
        if self
            .store
            .load(&key)
            .map_err(|e| self.unusable(e))?
            .is_none()
        {
            return Ok(Revocation::NothingCached);
        }
        let _lock = self.lock(&key).await?;
        let Some(entry) = self.store.load(&key).map_err(|e| self.unusable(e))? else {
            return Ok(Revocation::NothingCached);
        };
        let revoked = match self.sign_in.clone().prepare().await {
            Ok(prepared) => prepared.revoke(&entry.tokens).await,
            Err(e) => Err(e),
        };
        if matches!(revoked, Err(SignInError::Unreachable(_))) {
            return revoked;
        }
        self.store.remove(&key).map_err(|e| self.unusable(e))?;
        revoked
    }

    /// [`TokenSource::sign_out`], blocking the calling thread.
    pub fn sign_out_blocking(&self) -> Result<Revocation, SignInError> {
        crate::sign_in::block_on(self.sign_out())
    }

    /// Every entry of `store`, each signed out as [`TokenSource::sign_out`]
    /// does (with `client_secret` for confidential clients), in turn.
    pub async fn sign_out_all(
        store: impl TokenStore + Clone + 'static,
        client_secret: Option<&str>,
    ) -> Result<Vec<(CacheKey, Result<Revocation, SignInError>)>, SignInError> {
        let entries = store.list().map_err(|e| unusable(&store, e))?;
        let mut outcomes = Vec::new();
        for entry in entries {
            let mut sign_in = entry.key.sign_in();
            if let Some(secret) = client_secret {
                sign_in = sign_in.client_secret(secret);
            }
            let source = TokenSource::with_store(sign_in, store.clone());
            outcomes.push((entry.key, source.sign_out().await));
        }
        Ok(outcomes)
    }

    /// The cached entries (to list them: never print their tokens).
    ///
    /// # Errors
    /// [`SignInError::Cache`] for a store that cannot be read.
    pub fn entries(store: &dyn TokenStore) -> Result<Vec<CacheEntry>, SignInError> {
        store.list().map_err(|e| unusable(store, e))
    }

    /// Take `key`'s lock, waiting while another caller holds it.
    async fn lock(&self, key: &CacheKey) -> Result<EntryLock, SignInError> {
        let mut said = false;
        loop {
            if let Some(lock) = self.store.try_lock(key).map_err(|e| self.unusable(e))? {
                return Ok(lock);
            }
            if !said {
                tracing::info!("another caller is signing in with these settings: waiting for it");
                said = true;
            }
            tokio::time::sleep(LOCK_POLL).await;
        }
    }

    /// Store `tokens` from `source`, and hand them out. A store that
    /// cannot keep them is said in a warning: the tokens are still good.
    fn keep(&self, key: CacheKey, tokens: Tokens, source: Source) -> Token {
        let entry = CacheEntry::new(key, tokens, source);
        if let Err(e) = self.store.save(&entry) {
            tracing::warn!(
                "could not keep the tokens in {} ({e}): the next call signs in again",
                self.store.describe()
            );
        }
        Token {
            tokens: entry.tokens,
            source,
        }
    }

    fn unusable(&self, e: std::io::Error) -> SignInError {
        unusable(self.store.as_ref(), e)
    }
}

/// A store that cannot be used, as an error naming it.
fn unusable(store: &dyn TokenStore, e: std::io::Error) -> SignInError {
    SignInError::Cache(format!("{}: {e}", store.describe()))
}

#[cfg(test)]
mod tests {
    use serde_json::Map;

    use super::*;
    use crate::token_cache::MemoryStore;

    /// Tokens valid for `seconds` more, with a refresh token.
    fn tokens(access_token: &str, seconds: u64) -> Tokens {
        let mut members = Map::new();
        members.insert("access_token".into(), access_token.into());
        members.insert("refresh_token".into(), "rt".into());
        let expires_at = crate::token_cache::now() + seconds;
        Tokens::new(members, Some(expires_at), None, None)
    }

    /// A source whose provider is never reached in these tests.
    fn source(store: &MemoryStore) -> TokenSource {
        TokenSource::with_store(SignIn::issuer("https://id.invalid", "cli"), store.clone())
    }

    fn runtime() -> tokio::runtime::Runtime {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap()
    }

    #[test]
    fn a_valid_entry_is_given_without_the_network_and_min_valid_decides() {
        let store = MemoryStore::new();
        let source = source(&store);
        store
            .save(&CacheEntry::new(
                source.key(),
                tokens("at-1", 600),
                Source::SignIn,
            ))
            .unwrap();
        let never = |_: Prepared| async { unreachable!("no sign-in for a valid entry") };
        let token = runtime()
            .block_on(source.token_with::<SignInError, _, _>(never))
            .unwrap();
        assert_eq!(token.source, Source::Cache);
        assert_eq!(token.tokens.access_token(), "at-1");
        assert!(token.to_json_line().contains(r#""source":"cache""#));
        // Wanted for longer than it stays valid: the provider is needed,
        // and this one cannot be reached.
        let longer = source.min_valid(Duration::from_secs(3600));
        let refused = runtime().block_on(longer.token_with::<SignInError, _, _>(never));
        assert!(
            matches!(refused, Err(SignInError::Unreachable(_))),
            "{refused:?}"
        );
    }

    #[test]
    fn no_entry_and_no_interaction_is_refused_at_once() {
        let store = MemoryStore::new();
        let source = source(&store).interactive(false);
        let never = |_: Prepared| async { unreachable!("no sign-in may happen") };
        let refused = runtime().block_on(source.token_with::<SignInError, _, _>(never));
        assert!(
            matches!(refused, Err(SignInError::InteractionRequired)),
            "{refused:?}"
        );
    }

    #[test]
    fn a_caller_waits_for_the_entrys_lock_and_then_finds_the_new_entry() {
        let store = MemoryStore::new();
        let source = source(&store);
        let held = store.try_lock(&source.key()).unwrap().expect("free");
        let runtime = runtime();
        let waiting = runtime.spawn({
            let source = source.clone();
            async move {
                let never = |_: Prepared| async { unreachable!("the other caller signed in") };
                source.token_with::<SignInError, _, _>(never).await
            }
        });
        runtime.block_on(async { tokio::time::sleep(LOCK_POLL * 3).await });
        assert!(!waiting.is_finished(), "it waits while the lock is held");
        store
            .save(&CacheEntry::new(
                source.key(),
                tokens("at-2", 600),
                Source::SignIn,
            ))
            .unwrap();
        drop(held);
        let token = runtime.block_on(waiting).unwrap().unwrap();
        assert_eq!(
            (token.tokens.access_token(), token.source),
            ("at-2", Source::Cache)
        );
    }

    #[test]
    fn sign_out_with_nothing_cached_sends_nothing() {
        let store = MemoryStore::new();
        let outcome = runtime().block_on(source(&store).sign_out());
        assert_eq!(outcome.unwrap(), Revocation::NothingCached);
    }
}
