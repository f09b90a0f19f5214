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
/// sign-in knows where it is (while the user is at the provider), then kept
/// for the sign-in's other ID tokens.
pub struct KeySet {
    client: Client,
    url: url::Url,
    keys: Keys,
}

/// A key set on its way, or here.
enum Keys {
    Fetching(tokio::task::JoinHandle<Result<CoreJsonWebKeySet, Unreachable>>),
    Fetched(CoreJsonWebKeySet),
}

impl KeySet {
    /// Start fetching `url`'s key set on the current runtime.
    pub fn prefetch(client: &Client, url: url::Url) -> KeySet {
        let first = tokio::spawn(fetch(client.clone(), url.clone()));
        KeySet {
            client: client.clone(),
            url,
            keys: Keys::Fetching(first),
        }
    }

    /// The key set, once fetched.
    async fn keys(&mut self) -> Result<CoreJsonWebKeySet, Unreachable> {
        if let Keys::Fetching(first) = &mut self.keys {
            let keys = first
                .await
                .map_err(|e| Unreachable::Client(format!("the key set's fetch failed ({e})")))??;
            self.keys = Keys::Fetched(keys);
        }
        match &self.keys {
            Keys::Fetched(keys) => Ok(keys.clone()),
            Keys::Fetching(_) => unreachable!("fetched above"),
        }
    }

    /// Verify `id_token` (which came with `access_token`); its verified
    /// claims, as the token carries them.
    pub async fn verify(
        &mut self,
        id_token: &str,
        access_token: &str,
        expected: &Expected<'_>,
    ) -> Result<Map<String, Value>, SignInError> {
        let token = CoreIdToken::from_str(id_token)
            .map_err(|e| refused(format!("it is not a signed JWT with ID token claims ({e})")))?;
        let keys = self.keys().await?;
        match check(&token, access_token, keys, expected) {
            Err(Refusal::UnknownKey) => {
                tracing::debug!("no key of the key set matches the ID token: fetching it again");
                let keys = fetch(self.client.clone(), self.url.clone()).await?;
                self.keys = Keys::Fetched(keys.clone());
                check(&token, access_token, keys, expected).map_err(Refusal::into_error)?;
            }
            checked => checked.map_err(Refusal::into_error)?,
        }
        claims_of(id_token)
    }
}

/// A refreshed ID token's claims against the first one's (OpenID Connect
/// Core 1.0 section 12.2): the same `iss`, `sub` and `aud`, and the same
/// `nonce` when it has one.
pub fn same_subject(
    first: &Map<String, Value>,
    new: &Map<String, Value>,
) -> Result<(), SignInError> {
    for claim in ["iss", "sub", "aud"] {
        if first.get(claim) != new.get(claim) {
            return Err(refused(format!(
                "the refreshed ID token's {claim} is not the first one's"
            )));
        }
    }
    if new
        .get("nonce")
        .is_some_and(|nonce| first.get("nonce") != Some(nonce))
    {
        return Err(refused(
            "the refreshed ID token's nonce is not the first one's".into(),
        ));
    }
    Ok(())
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
        e => other(crate::error::error_line(&e)),
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
            .map_err(|e| other(crate::error::error_line(&e)))?;
        let access_token = AccessToken::new(access_token.into());
        let computed = match expected.secret {
            Some(secret) if alg.uses_shared_secret() => {
                let key = CoreJsonWebKey::new_symmetric(secret.secret().as_bytes().to_vec());
                AccessTokenHash::from_token(&access_token, alg, &key)
            }
            _ => {
                let key = token
                    .signing_key(&verifier)
                    .map_err(|e| other(crate::error::error_line(&e)))?;
                AccessTokenHash::from_token(&access_token, alg, key)
            }
        }
        .map_err(|e| other(crate::error::error_line(&e)))?;
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
    use openidconnect::core::{CoreEdDsaPrivateSigningKey, CoreHmacKey, CoreIdTokenClaims};
    use openidconnect::{
        Audience, EmptyAdditionalClaims, JsonWebKeyId, PrivateSigningKey as _, StandardClaims,
        SubjectIdentifier,
    };

    use super::*;

    const ISSUER: &str = "https://id.example";
    const ACCESS_TOKEN: &str = "at-1";

    fn expected<'a>(algs: Option<&'a [String]>, secret: Option<&'a ClientSecret>) -> Expected<'a> {
        Expected {
            issuer: ISSUER,
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

    /// A provider's signing key (Ed25519), its key set, and what its ID
    /// tokens say unless a test changes it.
    struct Provider {
        key: CoreEdDsaPrivateSigningKey,
        nonce: Nonce,
    }

    impl Provider {
        fn new(kid: &str) -> Provider {
            let pem = rcgen::KeyPair::generate_for(&rcgen::PKCS_ED25519)
                .unwrap()
                .serialize_pem();
            let kid = Some(JsonWebKeyId::new(kid.into()));
            Provider {
                key: CoreEdDsaPrivateSigningKey::from_ed25519_pem(&pem, kid).unwrap(),
                nonce: Nonce::new("n-1".into()),
            }
        }

        fn keys(&self) -> CoreJsonWebKeySet {
            CoreJsonWebKeySet::new(vec![self.key.as_verification_key()])
        }

        fn claims(&self) -> CoreIdTokenClaims {
            let now = chrono::Utc::now();
            CoreIdTokenClaims::new(
                IssuerUrl::new(ISSUER.into()).unwrap(),
                vec![Audience::new("cli".into())],
                now + chrono::Duration::minutes(5),
                now,
                StandardClaims::new(SubjectIdentifier::new("alice".into())),
                EmptyAdditionalClaims {},
            )
            .set_nonce(Some(self.nonce.clone()))
        }

        fn sign(&self, claims: CoreIdTokenClaims) -> String {
            let access_token = AccessToken::new(ACCESS_TOKEN.into());
            CoreIdToken::new(
                claims,
                &self.key,
                CoreJwsSigningAlgorithm::EdDsa,
                Some(&access_token),
                None,
            )
            .unwrap()
            .to_string()
        }

        /// Check `token` as a public client that sent our nonce, the
        /// metadata listing EdDSA and HS256.
        fn check(&self, token: &str) -> Result<(), String> {
            let algs = ["EdDSA".to_string(), "HS256".to_string()];
            let expected = Expected {
                nonce: Some(&self.nonce),
                ..expected(Some(&algs), None)
            };
            let token = CoreIdToken::from_str(token).map_err(|e| e.to_string())?;
            check(&token, ACCESS_TOKEN, self.keys(), &expected).map_err(|e| match e {
                Refusal::UnknownKey => "unknown key".to_string(),
                Refusal::Other(why) => why,
            })
        }
    }

    fn encode(json: &Value) -> String {
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(json.to_string())
    }

    #[test]
    fn a_token_that_says_what_is_expected_passes() {
        let provider = Provider::new("k1");
        let token = provider.sign(provider.claims());
        assert_eq!(provider.check(&token), Ok(()));
        assert_eq!(claims_of(&token).unwrap()["sub"], "alice");
    }

    #[test]
    fn a_tampered_signature_none_and_hmac_with_the_public_key_are_refused() {
        let provider = Provider::new("k1");
        let token = provider.sign(provider.claims());
        let (signed, signature) = token.rsplit_once('.').unwrap();
        let mut flipped = signature.as_bytes().to_vec();
        flipped[3] = if flipped[3] == b'A' { b'B' } else { b'A' };
        let tampered = format!("{signed}.{}", String::from_utf8(flipped).unwrap());
        assert!(provider.check(&tampered).is_err());

        let payload = token.split('.').nth(1).unwrap();
        let none = format!("{}.{payload}.", encode(&serde_json::json!({"alg": "none"})));
        assert!(provider.check(&none).is_err());

        // HS256 keyed with the provider's public key, as in the classic
        // algorithm confusion attack: a public client has no HMAC key.
        let public = serde_json::to_value(provider.key.as_verification_key()).unwrap();
        let public_key = public["x"].as_str().unwrap().as_bytes().to_vec();
        let forged = CoreIdToken::new(
            provider.claims(),
            &CoreHmacKey::new(public_key),
            CoreJwsSigningAlgorithm::HmacSha256,
            None,
            None,
        )
        .unwrap()
        .to_string();
        let refused = provider.check(&forged).unwrap_err();
        assert!(refused.contains("HS256"), "{refused}");
        // A confidential client takes HS256, keyed with its secret only.
        let secret = ClientSecret::new("client-secret".into());
        let algs = ["EdDSA".to_string(), "HS256".to_string()];
        let confidential = Expected {
            nonce: Some(&provider.nonce),
            ..expected(Some(&algs), Some(&secret))
        };
        let forged = CoreIdToken::from_str(&forged).unwrap();
        assert!(check(&forged, ACCESS_TOKEN, provider.keys(), &confidential).is_err());
        let genuine = CoreIdToken::new(
            provider.claims(),
            &CoreHmacKey::new(b"client-secret".to_vec()),
            CoreJwsSigningAlgorithm::HmacSha256,
            Some(&AccessToken::new(ACCESS_TOKEN.into())),
            None,
        )
        .unwrap();
        assert!(check(&genuine, ACCESS_TOKEN, provider.keys(), &confidential).is_ok());
    }

    #[test]
    fn audience_issuer_nonce_and_at_hash_are_checked() {
        let provider = Provider::new("k1");
        let now = chrono::Utc::now();
        let claims = provider.claims();
        let cases = [
            claims
                .clone()
                .set_audiences(vec![Audience::new("other".into())]),
            claims.clone().set_audiences(vec![
                Audience::new("cli".into()),
                Audience::new("other".into()),
            ]),
            claims
                .clone()
                .set_issuer(IssuerUrl::new("https://evil.example".into()).unwrap()),
            claims.clone().set_nonce(Some(Nonce::new("n-2".into()))),
            claims.clone().set_nonce(None),
            claims
                .clone()
                .set_expiration(now - chrono::Duration::minutes(10)),
            claims
                .clone()
                .set_issue_time(now + chrono::Duration::minutes(10)),
        ];
        for (i, claims) in cases.into_iter().enumerate() {
            assert!(provider.check(&provider.sign(claims)).is_err(), "case {i}");
        }
        // Several audiences are taken when azp names this client.
        let azp = claims
            .clone()
            .set_audiences(vec![
                Audience::new("cli".into()),
                Audience::new("other".into()),
            ])
            .set_authorized_party(Some(ClientId::new("cli".into())));
        assert_eq!(provider.check(&provider.sign(azp)), Ok(()));
        // Within the leeway: a token that expired a minute ago.
        let late = claims
            .clone()
            .set_expiration(now - chrono::Duration::seconds(60));
        assert_eq!(provider.check(&provider.sign(late)), Ok(()));
        // An at_hash of another access token.
        let other = openidconnect::AccessTokenHash::new("AAAAAAAAAAAAAAAAAAAAAA".into());
        let at_hash = claims.set_access_token_hash(Some(other));
        let token = CoreIdToken::new(
            at_hash,
            &provider.key,
            CoreJwsSigningAlgorithm::EdDsa,
            None,
            None,
        )
        .unwrap()
        .to_string();
        let refused = provider.check(&token).unwrap_err();
        assert!(refused.contains("at_hash"), "{refused}");
    }

    #[test]
    fn a_key_id_not_in_the_key_set_is_told_apart() {
        let provider = Provider::new("k1");
        let rotated = Provider::new("k2");
        let token = rotated.sign(rotated.claims());
        assert_eq!(provider.check(&token), Err("unknown key".into()));
    }

    #[test]
    fn a_refreshed_id_token_names_the_same_user() {
        let claims = |json: serde_json::Value| json.as_object().unwrap().clone();
        let first = claims(serde_json::json!(
            {"iss": ISSUER, "sub": "alice", "aud": "cli", "nonce": "n-1", "iat": 1}
        ));
        let same =
            claims(serde_json::json!({"iss": ISSUER, "sub": "alice", "aud": "cli", "iat": 2}));
        assert!(same_subject(&first, &same).is_ok());
        for (claim, value) in [
            ("sub", "mallory"),
            ("iss", "https://other.example"),
            ("aud", "x"),
            ("nonce", "n-2"),
        ] {
            let mut other = same.clone();
            other.insert(claim.into(), value.into());
            let refused = same_subject(&first, &other).unwrap_err().to_string();
            assert!(refused.contains(claim), "{refused}");
        }
    }
}
