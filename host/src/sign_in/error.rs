//! Why a sign-in ended without tokens: one enum whose variants are what a
//! caller acts on differently (fix the arguments; the user or provider said
//! no; a check failed, possibly an attack; the provider could not be used;
//! time ran out). Messages never hold a token, a code, a `state` or a
//! `nonce`, and words from the provider are escaped.

use std::fmt;

/// The longest piece of a provider's words (`error_description`) kept.
const MAX_PROVIDER_WORDS: usize = 300;

/// Why a sign-in ended without tokens.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SignInError {
    /// A setting is missing, malformed or impossible; nothing was sent.
    #[error("{0}")]
    InvalidSetting(String),

    /// The callback server could not start (its settings, its port).
    #[error(transparent)]
    Receiver(#[from] crate::error::Error),

    /// The provider refused: an `error` in the authorization response
    /// (RFC 6749 section 4.1.2.1) or from the token endpoint (section 5.2).
    #[error("{0}")]
    Provider(ProviderError),

    /// A check the specifications ask for failed: what came back may be an
    /// attack, and none of it is used.
    #[error("{0}")]
    CheckFailed(CheckFailed),

    /// The provider could not be reached, or answered what cannot be used.
    #[error(transparent)]
    Unreachable(#[from] Unreachable),

    /// The token cache cannot be used (its folder, the keyring).
    #[error("the token cache cannot be used: {0}")]
    Cache(String),

    /// A sign-in is needed, but none may happen here (no browser opens,
    /// no terminal, no device flow asked for).
    #[error(
        "a sign-in is needed, but none can happen here: no browser opens and standard input is \
         not a terminal"
    )]
    InteractionRequired,

    /// No authorization response arrived before the receiver's timeout.
    #[error("no authorization response arrived within {} s", .0.as_secs_f64())]
    TimedOut(std::time::Duration),
}

/// An `error` the provider answered with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProviderError {
    /// Where it was said.
    pub stage: Stage,
    /// The `error` code (`access_denied`, `invalid_grant`…), escaped.
    pub error: String,
    /// The `error_description`, escaped and bounded, when given.
    pub description: Option<String>,
}

impl ProviderError {
    /// The error as the provider said it, made fit for a line.
    pub(crate) fn new(stage: Stage, error: &str, description: Option<&str>) -> ProviderError {
        ProviderError {
            stage,
            error: crate::error::escaped_line(error, MAX_PROVIDER_WORDS),
            description: description.map(|d| crate::error::escaped_line(d, MAX_PROVIDER_WORDS)),
        }
    }
}

impl fmt::Display for ProviderError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // RFC 8628 section 3.5's two ends of a device sign-in, in words.
        match (self.stage, self.error.as_str()) {
            (Stage::Device, "expired_token") => {
                return f.write_str(
                    "the device code expired before the sign-in was completed: start again",
                );
            }
            (Stage::Device, "access_denied") => {
                f.write_str("the sign-in was denied at the provider (access_denied)")?;
            }
            _ => write!(f, "the provider refused {}: {}", self.stage, self.error)?,
        }
        match &self.description {
            Some(description) => write!(f, " ({description})"),
            None => Ok(()),
        }
    }
}

/// Which request a provider's `error` answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    /// The authorization request (the browser's).
    Authorization,
    /// The pushed authorization request (RFC 9126).
    PushedAuthorization,
    /// The token request (the code exchange).
    Token,
    /// The refresh (RFC 6749 section 6).
    Refresh,
    /// The revocation (RFC 7009).
    Revocation,
    /// The device authorization request or its polling (RFC 8628).
    Device,
    /// The client registration (RFC 7591).
    Registration,
}

impl fmt::Display for Stage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Stage::Authorization => "the sign-in",
            Stage::PushedAuthorization => "the pushed authorization request",
            Stage::Token => "the code exchange",
            Stage::Refresh => "the refresh",
            Stage::Revocation => "the revocation",
            Stage::Device => "the device sign-in",
            Stage::Registration => "the client registration",
        })
    }
}

/// A failed check: what was expected and what came, never a secret.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CheckFailed {
    /// The metadata's `issuer` is not the issuer asked for, byte for byte
    /// (OpenID Connect Discovery 1.0 section 4.3, RFC 8414 section 3.3).
    #[error("the metadata at {metadata} names the issuer {found:?}, not {expected:?}")]
    Issuer {
        /// The metadata document's URL.
        metadata: String,
        /// The issuer asked for.
        expected: String,
        /// The `issuer` it holds (escaped).
        found: String,
    },
    /// The protected resource metadata's `resource` is not the resource
    /// asked for (RFC 9728 section 3.3).
    #[error("the resource metadata at {metadata} names the resource {found:?}, not {expected:?}")]
    Resource {
        /// The metadata document's URL.
        metadata: String,
        /// The resource asked for.
        expected: String,
        /// The `resource` it holds (escaped).
        found: String,
    },
    /// The provider lists code challenge methods without `S256` (RFC 7636,
    /// RFC 9700 section 2.1.1).
    #[error("the provider does not support PKCE with S256 (it lists: {0})")]
    NoS256(String),
    /// The ID token failed a check of OpenID Connect Core 1.0 section 3.1.3.7.
    #[error("the ID token was refused: {0}")]
    IdToken(String),
    /// A token response that is not one (RFC 6749 section 5.1).
    #[error("the token response was refused: {0}")]
    TokenResponse(String),
}

/// The provider could not be reached, or what it answered cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Unreachable {
    /// The HTTP client could not be made (no TLS configuration).
    #[error("cannot make the HTTP client: {0}")]
    Client(String),
    /// A request failed (connection, TLS, timeout).
    #[error("{url}: {reason}")]
    Request {
        /// The URL, without its query.
        url: String,
        /// What failed.
        reason: String,
    },
    /// The answer was larger than [`MAX_RESPONSE`](super::http::MAX_RESPONSE).
    #[error("{url}: its answer is larger than 1 MiB")]
    TooLarge {
        /// The URL, without its query.
        url: String,
    },
    /// The answer cannot be used (status, not JSON, a member missing).
    #[error("{url}: {reason}")]
    Nonsense {
        /// The URL, without its query.
        url: String,
        /// What is wrong with it.
        reason: String,
    },
    /// No metadata document answered at any of the well-known URLs.
    #[error("no metadata found for {of} (tried {})", .tried.join(", "))]
    NoMetadata {
        /// The issuer or resource.
        of: String,
        /// The URLs tried, in order.
        tried: Vec<String>,
    },
}
