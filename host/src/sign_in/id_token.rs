//! The ID token's checks (OpenID Connect Core 1.0 section 3.1.3.7), by
//! openidconnect: the signature against the provider's key set with an
//! algorithm its metadata allows (never `none`; HMAC only with a client
//! secret, whose bytes are then the key), `iss`, `aud` (and `azp` when it
//! holds several), `exp` and `iat` with [`CLOCK_LEEWAY`], the `nonce` and
//! the `at_hash`. A key id missing from the key set fetches it once more
//! (key rotation, section 10.1.1).

use std::str::FromStr;
use std::time::Duration;

use base64::Engine as _;
use openidconnect::core::{
    CoreIdToken, CoreIdTokenVerifier, CoreJsonWebKey, CoreJsonWebKeySet, CoreJwsSigningAlgorithm,
};
use openidconnect::{
    AccessToken, AccessTokenHash, ClaimsVerificationError, ClientId, ClientSecret, IssuerUrl,
    JsonWebKey as _, JwsSigningAlgorithm as _, Nonce, SignatureVerificationError,
};
use serde_json::{Map, Value};

use super::error::{CheckFailed, SignInError, Unreachable};
use super::http::{Client, without_query};

/// How far the clocks of this machine and the provider may disagree for
/// `exp` and `iat`.
pub const CLOCK_LEEWAY: Duration = Duration::from_secs(120);

/// The asymmetric algorithms accepted when the metadata allows them.
const ASYMMETRIC: [CoreJwsSigningAlgorithm; 10] = [
    CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha256,
    CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha384,
    CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha512,
    CoreJwsSigningAlgorithm::RsaSsaPssSha256,
    CoreJwsSigningAlgorithm::RsaSsaPssSha384,
    CoreJwsSigningAlgorithm::RsaSsaPssSha512,
    CoreJwsSigningAlgorithm::EcdsaP256Sha256,
    CoreJwsSigningAlgorithm::EcdsaP384Sha384,
    CoreJwsSigningAlgorithm::EcdsaP521Sha512,
    CoreJwsSigningAlgorithm::EdDsa,
];

/// What the ID token must say.
pub struct Expected<'a> {
    /// The issuer, as its metadata names it.
    pub issuer: &'a str,
    /// Our client id.
    pub client_id: &'a str,
    /// The client secret, when the client has one (the HMAC key).
    pub secret: Option<&'a ClientSecret>,
    /// The `nonce` sent, when one was.
    pub nonce: Option<&'a Nonce>,
    /// `id_token_signing_alg_values_supported`, when the metadata lists it
    /// (else RS256, the default of OpenID Connect Discovery section 3).
    pub metadata_algs: Option<&'a [String]>,
}

impl Expected<'_> {
    /// The algorithms accepted: the metadata's that we know, HMAC only
    /// with a client secret; `none` never.
    fn algorithms(&self) -> Vec<CoreJwsSigningAlgorithm> {
        let Some(listed) = self.metadata_algs else {
            return vec![CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha256];
        };
        listed
            .iter()
            .filter_map(|name| serde_json::from_value(Value::String(name.clone())).ok())
            .filter(|alg: &CoreJwsSigningAlgorithm| {
                ASYMMETRIC.contains(alg) || (alg.uses_shared_secret() && self.secret.is_some())
            })
            .collect()
    }
}

/// The provider's key set, fetched in the background from the moment the
/// sign-in knows where it is (while the user is at the provider).
pub struct KeySet {
    client: Client,
    url: url::Url,
    first: tokio::task::JoinHandle<Result<CoreJsonWebKeySet, Unreachable>>,
}

impl KeySet {
    /// Start fetching `url`'s key set on the current runtime.
    pub fn prefetch(client: &Client, url: url::Url) -> KeySet {
        let first = tokio::spawn(fetch(client.clone(), url.clone()));
        KeySet {
            client: client.clone(),
            url,
            first,
        }
    }

    /// Verify `id_token` (which came with `access_token`); its verified
    /// claims, as the token carries them.
    pub async fn verify(
        self,
        id_token: &str,
        access_token: &str,
        expected: &Expected<'_>,
    ) -> Result<Map<String, Value>, SignInError> {
        let token = CoreIdToken::from_str(id_token)
            .map_err(|e| refused(format!("it is not a signed JWT with ID token claims ({e})")))?;
        let keys = self
            .first
            .await
            .map_err(|e| Unreachable::Client(format!("the key set's fetch failed ({e})")))??;
        match check(&token, access_token, keys, expected) {
            Err(Refusal::UnknownKey) => {
                tracing::debug!("no key of the key set matches the ID token: fetching it again");
                let keys = fetch(self.client, self.url).await?;
                check(&token, access_token, keys, expected).map_err(Refusal::into_error)?;
            }
            checked => checked.map_err(Refusal::into_error)?,
        }
        claims_of(id_token)
    }
}

/// Why [`check`] refused, with the case a fresh key set may cure apart.
enum Refusal {
    UnknownKey,
    Other(String),
}

impl Refusal {
    fn into_error(self) -> SignInError {
        match self {
            Refusal::UnknownKey => refused(
                "no key of the provider's key set matches it (its kid and algorithm)".into(),
            ),
            Refusal::Other(why) => refused(why),
        }
    }
}

fn refused(why: String) -> SignInError {
    SignInError::CheckFailed(CheckFailed::IdToken(why))
}

/// Every check of section 3.1.3.7 with `keys`.
fn check(
    token: &CoreIdToken,
    access_token: &str,
    keys: CoreJsonWebKeySet,
    expected: &Expected<'_>,
) -> Result<(), Refusal> {
    let other = |why: String| Refusal::Other(why);
    let issuer = IssuerUrl::new(expected.issuer.into()).map_err(|e| other(e.to_string()))?;
    let client_id = ClientId::new(expected.client_id.into());
    let verifier = match expected.secret {
        Some(secret) => {
            CoreIdTokenVerifier::new_confidential_client(client_id, secret.clone(), issuer, keys)
        }
        None => CoreIdTokenVerifier::new_public_client(client_id, issuer, keys),
    };
    let leeway = chrono::Duration::from_std(CLOCK_LEEWAY).unwrap_or_default();
    let verifier = verifier
        .set_allowed_algs(expected.algorithms())
        // Other audiences are allowed when `azp` names us (checked below).
        .set_other_audience_verifier_fn(|_| true)
        .set_time_fn(move || chrono::Utc::now() - leeway)
        .set_issue_time_verifier_fn(move |issued| {
            if issued > chrono::Utc::now() + leeway {
                Err(format!("it was issued in the future ({issued})"))
            } else {
                Ok(())
            }
        });
    let verified = match expected.nonce {
        Some(nonce) => token.claims(&verifier, nonce),
        None => token.claims(&verifier, |_: Option<&Nonce>| Ok(())),
    };
    let claims = verified.map_err(|e| match e {
        ClaimsVerificationError::SignatureVerification(
            SignatureVerificationError::NoMatchingKey,
        ) => Refusal::UnknownKey,
        e => other(crate::error_line(&e)),
    })?;
    // The issuer byte for byte (openidconnect compares parsed URLs).
    if claims.issuer().as_str() != expected.issuer {
        return Err(other(format!("its iss is not {:?}", expected.issuer)));
    }
    let azp = claims.authorized_party().map(|azp| azp.as_str());
    if claims.audiences().len() > 1 && azp != Some(expected.client_id) {
        return Err(other(
            "it has several audiences and its azp is not this client".into(),
        ));
    }
    if azp.is_some_and(|azp| azp != expected.client_id) {
        return Err(other("its azp is not this client".into()));
    }
    if let Some(hash) = claims.access_token_hash() {
        let alg = token
            .signing_alg()
            .map_err(|e| other(crate::error_line(&e)))?;
        let access_token = AccessToken::new(access_token.into());
        let computed = match expected.secret {
            Some(secret) if alg.uses_shared_secret() => {
                let key = CoreJsonWebKey::new_symmetric(secret.secret().as_bytes().to_vec());
                AccessTokenHash::from_token(&access_token, alg, &key)
            }
            _ => {
                let key = token
                    .signing_key(&verifier)
                    .map_err(|e| other(crate::error_line(&e)))?;
                AccessTokenHash::from_token(&access_token, alg, key)
            }
        }
        .map_err(|e| other(crate::error_line(&e)))?;
        if computed != *hash {
            return Err(other("its at_hash does not match the access token".into()));
        }
    }
    Ok(())
}

/// The claims of a verified token, as it carries them (its payload).
fn claims_of(id_token: &str) -> Result<Map<String, Value>, SignInError> {
    let payload = id_token
        .split('.')
        .nth(1)
        .and_then(|part| {
            base64::engine::general_purpose::URL_SAFE_NO_PAD
                .decode(part)
                .ok()
        })
        .and_then(|bytes| serde_json::from_slice(&bytes).ok());
    match payload {
        Some(Value::Object(claims)) => Ok(claims),
        _ => Err(refused("its payload is not a JSON object".into())),
    }
}

/// Fetch and parse a key set (RFC 7517 section 5).
async fn fetch(client: Client, url: url::Url) -> Result<CoreJsonWebKeySet, Unreachable> {
    let answer = client.get(&url).await?;
    let nonsense = |reason: String| Unreachable::Nonsense {
        url: without_query(&url),
        reason,
    };
    if answer.status != 200 {
        return Err(nonsense(format!("it answered {}", answer.status)));
    }
    serde_json::from_slice(&answer.body).map_err(|e| nonsense(format!("it is not a key set ({e})")))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn expected<'a>(algs: Option<&'a [String]>, secret: Option<&'a ClientSecret>) -> Expected<'a> {
        Expected {
            issuer: "https://id.example",
            client_id: "cli",
            secret,
            nonce: None,
            metadata_algs: algs,
        }
    }

    #[test]
    fn algorithms_are_the_metadatas_never_none_hmac_only_with_a_secret() {
        assert_eq!(
            expected(None, None).algorithms(),
            [CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha256]
        );
        let listed: Vec<String> = ["none", "HS256", "ES256", "EdDSA", "PS256", "XX1"]
            .map(String::from)
            .to_vec();
        assert_eq!(
            expected(Some(&listed), None).algorithms(),
            [
                CoreJwsSigningAlgorithm::EcdsaP256Sha256,
                CoreJwsSigningAlgorithm::EdDsa,
                CoreJwsSigningAlgorithm::RsaSsaPssSha256
            ]
        );
        let secret = ClientSecret::new("s".into());
        assert!(
            expected(Some(&listed), Some(&secret))
                .algorithms()
                .contains(&CoreJwsSigningAlgorithm::HmacSha256)
        );
    }
}
