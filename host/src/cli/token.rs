//! `oauth-callback token`: a valid access token every time, from the cache,
//! a refresh, or a sign-in (as `sign-in` does), printed as JSON, the token
//! alone, or a Kubernetes `ExecCredential`; and `--list`, the cached
//! entries without their tokens.

use clap::{Args, ValueEnum};
use serde_json::{Value, json};

use crate::token_cache::{CacheEntry, FileStore, KeyringStore, MemoryStore, TokenStore};
use crate::{Token, TokenSource};

use super::serve::{self, Teardown};
use super::sign_in::SignInArgs;
use super::signals::Signals;
use super::{Failure, exit, stdout};

/// Print a valid access token: cached, refreshed, or signed in for.
#[derive(Debug, Args)]
pub struct TokenArgs {
    /// Give a cached token only while it stays valid this many seconds;
    /// else refresh it, or sign in.
    #[arg(long, value_name = "SECONDS", default_value_t = 60)]
    min_valid: u64,

    /// What to print: the JSON line (sign-in's, with "source"), the access
    /// token alone, the ID token alone, or a Kubernetes ExecCredential (for
    /// a kubeconfig `exec` entry).
    #[arg(long, value_enum, default_value_t = Output::Json)]
    output: Output,

    /// Where tokens are kept: files only you can read, or the operating
    /// system's keyring (Secret Service, Keychain, Credential Manager; the
    /// files when it does not answer).
    #[arg(long, value_enum, default_value_t = Cache::File)]
    cache: Cache,

    /// Keep nothing: sign in (or use nothing cached) and forget the tokens.
    #[arg(long, conflicts_with = "cache")]
    no_cache: bool,

    /// List the cached entries (provider, client, scopes, expiry, source),
    /// never a token.
    #[arg(long, exclusive = true)]
    list: bool,

    #[command(flatten)]
    sign_in: SignInArgs,
}

/// What `token` prints.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Output {
    /// `sign-in`'s line of JSON, with "source": "cache", "refresh" or "sign-in".
    Json,
    /// The access token and a newline, for `$(…)`.
    AccessToken,
    /// The ID token and a newline.
    IdToken,
    /// A `client.authentication.k8s.io/v1` ExecCredential.
    ExecCredential,
}

/// Where `token` keeps tokens.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Cache {
    /// Files only you can read, in your data folder.
    File,
    /// The operating system's keyring.
    Keyring,
}

/// The `apiVersion` of the ExecCredential printed.
const EXEC_CREDENTIAL_API: &str = "client.authentication.k8s.io/v1";

impl TokenArgs {
    /// Print a token (or the list); `secret` is what
    /// $OAUTH_CALLBACK_CLIENT_SECRET held.
    pub fn run(self, quiet: bool, secret: Option<String>) -> Result<u8, Failure> {
        let files = file_store()?;
        let Some(args) = (!self.list).then_some(&self.sign_in) else {
            return list(&KeyringStore::new(files));
        };
        let (sign_in, config) = args.settings(secret)?;
        let source = match (self.no_cache, self.cache) {
            (true, _) => TokenSource::with_store(sign_in, MemoryStore::new()),
            (false, Cache::File) => TokenSource::with_store(sign_in, files),
            (false, Cache::Keyring) => TokenSource::with_store(sign_in, KeyringStore::new(files)),
        };
        let source = source
            .min_valid(std::time::Duration::from_secs(self.min_valid))
            .interactive(args.can_interact());
        serve::on_own_runtime(
            async {
                let token = source
                    .token_with(|prepared| async {
                        let mut signals = Signals::catch().map_err(crate::Error::from)?;
                        args.interactive(prepared, config, &mut signals, quiet)
                            .await
                    })
                    .await?;
                stdout::print_line(&self.output.render(&token)?).map_err(Failure::Undelivered)?;
                Ok(exit::COMPLETED.code)
            },
            Teardown::Background,
        )
    }
}

impl Output {
    /// What is printed for `token`.
    fn render(self, token: &Token) -> Result<String, Failure> {
        let tokens = &token.tokens;
        let no_id_token = || {
            Failure::Usage("the provider gave no ID token (is the openid scope asked for?)".into())
        };
        Ok(match self {
            Output::Json => token.to_json_line(),
            Output::AccessToken => tokens.access_token().into(),
            Output::IdToken => tokens.id_token().ok_or_else(no_id_token)?.into(),
            Output::ExecCredential => {
                // As kubelogin: the ID token for Kubernetes' OIDC
                // authenticator when there is one, else the access token.
                let (value, expires) = match tokens.id_token() {
                    Some(id_token) => (
                        id_token,
                        tokens
                            .id_token_claims()
                            .and_then(|claims| claims.get("exp"))
                            .and_then(Value::as_u64),
                    ),
                    None => (tokens.access_token(), tokens.expires_at()),
                };
                let mut status = json!({ "token": value });
                if let Some(at) = expires.and_then(rfc3339) {
                    status["expirationTimestamp"] = at.into();
                }
                json!({
                    "kind": "ExecCredential",
                    "apiVersion": EXEC_CREDENTIAL_API,
                    "spec": { "interactive": false },
                    "status": status,
                })
                .to_string()
            }
        })
    }
}

/// The user's token folder.
pub fn file_store() -> Result<FileStore, Failure> {
    FileStore::of_user().map_err(|e| Failure::Usage(format!("{}: use --no-cache", e)))
}

/// `--list`: one line per cached entry, never a token.
fn list(store: &dyn TokenStore) -> Result<u8, Failure> {
    let entries = TokenSource::entries(store)?;
    if entries.is_empty() {
        stdout::print_line(&format!("no cached tokens in {}", store.describe()))?;
    }
    for entry in &entries {
        stdout::print_line(&describe(entry))?;
    }
    Ok(exit::COMPLETED.code)
}

/// An entry in one line: provider, client, scopes, expiry, how obtained.
fn describe(entry: &CacheEntry) -> String {
    let key = &entry.key;
    let scopes = match key.scopes.is_empty() {
        true => "(the provider's default)".to_string(),
        false => key.scopes.join(" "),
    };
    let resource = key
        .resource
        .as_deref()
        .map(|r| format!("  resource {r}"))
        .unwrap_or_default();
    let expires = match entry.expires_at() {
        Some(at) => rfc3339(at).unwrap_or_else(|| at.to_string()),
        None => "never".into(),
    };
    let refresh = match entry.tokens.refresh_token() {
        Some(_) => ", refreshable",
        None => "",
    };
    let client = match key.client_id.as_str() {
        "" => "(registered)".to_string(),
        id => crate::error::escaped_line(id, 300),
    };
    format!(
        "{}  client {client}  scopes {scopes}{resource}  expires {expires}{refresh}  from {}",
        crate::error::escaped_line(key.provider_line(), 300),
        entry.source.as_str()
    )
}

/// Unix seconds as an RFC 3339 UTC time (`2026-12-07T06:00:00Z`).
fn rfc3339(seconds: u64) -> Option<String> {
    let at = time::OffsetDateTime::from_unix_timestamp(i64::try_from(seconds).ok()?).ok()?;
    at.format(&time::format_description::well_known::Rfc3339)
        .ok()
}
