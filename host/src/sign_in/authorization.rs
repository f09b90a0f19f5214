//! The authorization request (RFC 6749 section 4.1.1): its secrets (PKCE,
//! `state`, `nonce`), its parameters, the names the sign-in owns, and the
//! URL the browser opens, directly or through a pushed authorization
//! request (RFC 9126).

use openidconnect::{CsrfToken, Nonce, PkceCodeChallenge, PkceCodeVerifier};

use super::client_auth::ClientAuth;
use super::error::{SignInError, Stage};
use super::exchange::{answered, nonsense};
use super::http::Client;

/// Random bytes in each of `state`, `nonce` and the PKCE verifier: 256 bits.
const SECRET_BYTES: u32 = 32;

/// Parameter names the sign-in sets itself; `--param` may not give them.
/// Each with what to use instead, when there is something.
const OWNED: [(&str, Option<&str>); 11] = [
    ("client_id", Some("the client id")),
    ("redirect_uri", Some("the receiver's settings")),
    ("response_type", None),
    ("state", None),
    ("nonce", None),
    ("code_challenge", None),
    ("code_challenge_method", None),
    ("request_uri", None),
    ("scope", Some("the scopes")),
    ("response_mode", Some("form post")),
    ("resource", Some("the resource")),
];

/// Check extra authorization parameters: named, and not one the sign-in
/// owns (any `code_challenge*` included).
pub fn check_params(params: &[(String, String)]) -> Result<(), SignInError> {
    for (name, _) in params {
        if name.is_empty() {
            return Err(SignInError::InvalidSetting(
                "an authorization parameter has no name (NAME=VALUE)".into(),
            ));
        }
        let owned = OWNED.iter().find(|(owned, _)| owned == name).or_else(|| {
            name.starts_with("code_challenge")
                .then_some(&("code_challenge", None))
        });
        if let Some((_, instead)) = owned {
            let hint = instead.map_or_else(String::new, |what| format!("; set {what} instead"));
            return Err(SignInError::InvalidSetting(format!(
                "the authorization parameter {name} is set by the sign-in itself{hint}"
            )));
        }
    }
    Ok(())
}

/// The secrets of one authorization request. Never logged, never in
/// `Debug` output (the types redact themselves).
pub struct Secrets {
    /// `state` (RFC 6749 section 10.12), compared by the receiver.
    pub state: CsrfToken,
    /// `nonce` (OpenID Connect Core section 3.1.2.1), when `openid` is asked for.
    pub nonce: Option<Nonce>,
    /// The PKCE verifier (RFC 7636 section 4.1), sent with the code.
    pub verifier: PkceCodeVerifier,
    challenge: PkceCodeChallenge,
}

impl Secrets {
    /// Fresh secrets: 256 random bits each, S256 for PKCE.
    pub fn new(openid: bool) -> Secrets {
        let (challenge, verifier) = PkceCodeChallenge::new_random_sha256_len(SECRET_BYTES);
        Secrets {
            state: CsrfToken::new_random_len(SECRET_BYTES),
            nonce: openid.then(|| Nonce::new_random_len(SECRET_BYTES)),
            verifier,
            challenge,
        }
    }
}

/// What goes into one authorization request besides its secrets.
pub struct Request<'a> {
    /// `client_id`.
    pub client_id: &'a str,
    /// `redirect_uri`: the receiver's.
    pub redirect_uri: &'a str,
    /// `scope`, space-separated; none when empty.
    pub scope: &'a str,
    /// `response_mode=form_post` when set.
    pub form_post: bool,
    /// `resource` (RFC 8707), when set.
    pub resource: Option<&'a str>,
    /// The caller's extra parameters, checked by [`check_params`].
    pub extra: &'a [(String, String)],
}

impl Request<'_> {
    /// The authorization request's parameters, in a stable order.
    pub fn parameters<'s>(&'s self, secrets: &'s Secrets) -> Vec<(&'s str, &'s str)> {
        let mut pairs = vec![
            ("response_type", "code"),
            ("client_id", self.client_id),
            ("redirect_uri", self.redirect_uri),
        ];
        if !self.scope.is_empty() {
            pairs.push(("scope", self.scope));
        }
        pairs.push(("state", secrets.state.secret()));
        if let Some(nonce) = &secrets.nonce {
            pairs.push(("nonce", nonce.secret()));
        }
        pairs.push(("code_challenge", secrets.challenge.as_str()));
        pairs.push(("code_challenge_method", secrets.challenge.method().as_str()));
        if self.form_post {
            pairs.push(("response_mode", "form_post"));
        }
        if let Some(resource) = self.resource {
            pairs.push(("resource", resource));
        }
        pairs.extend(self.extra.iter().map(|(k, v)| (k.as_str(), v.as_str())));
        pairs
    }
}

/// `endpoint` with `pairs` added to its query (an endpoint may carry a
/// query of its own, RFC 6749 section 3.1).
pub fn url_with(endpoint: &url::Url, pairs: &[(&str, &str)]) -> url::Url {
    let mut url = endpoint.clone();
    url.query_pairs_mut().extend_pairs(pairs);
    url
}

/// Push the request's parameters to the PAR endpoint (RFC 9126 section
/// 2.1) and return the browser's URL: the authorization endpoint with
/// `client_id` and the `request_uri` it answered (section 4).
pub async fn push(
    client: &Client,
    endpoint: &url::Url,
    authorization: &url::Url,
    auth: &ClientAuth,
    client_id: &str,
    pairs: Vec<(&str, &str)>,
) -> Result<url::Url, SignInError> {
    let (form, basic) = auth.apply(client_id, pairs);
    let answer = client.post_form(endpoint, &form, basic).await?;
    let object = answered(&answer, endpoint, Stage::PushedAuthorization, &[201, 200])?;
    let request_uri = object
        .get("request_uri")
        .and_then(serde_json::Value::as_str)
        .ok_or_else(|| nonsense(endpoint, "no request_uri".into()))?;
    Ok(url_with(
        authorization,
        &[("client_id", client_id), ("request_uri", request_uri)],
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn the_names_the_sign_in_owns_are_refused_as_extra_parameters() {
        assert!(check_params(&params(&[("prompt", "login"), ("login_hint", "a@b")])).is_ok());
        for name in [
            "client_id",
            "redirect_uri",
            "response_type",
            "state",
            "nonce",
            "code_challenge",
            "code_challenge_method",
            "code_challenge_x",
            "request_uri",
            "",
        ] {
            let refused = check_params(&params(&[(name, "v")]));
            assert!(
                matches!(refused, Err(SignInError::InvalidSetting(_))),
                "{name}"
            );
        }
        let scope = check_params(&params(&[("scope", "openid")])).unwrap_err();
        assert!(
            scope.to_string().ends_with("set the scopes instead"),
            "{scope}"
        );
    }

    /// A provider endpoint on 127.0.0.1 that answers one request with
    /// `status` and `body`, and hands over the request it received.
    async fn one_answer(status: &str, body: &str) -> (url::Url, tokio::task::JoinHandle<String>) {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url =
            url::Url::parse(&format!("http://{}/par", listener.local_addr().unwrap())).unwrap();
        let answer = format!(
            "HTTP/1.1 {status}\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\
             connection: close\r\n\r\n{body}",
            body.len()
        );
        let received = tokio::spawn(async move {
            let (mut socket, _) = listener.accept().await.unwrap();
            let mut request = Vec::new();
            let mut buffer = [0; 4096];
            // The head, then the form (its length is small and known here).
            while !String::from_utf8_lossy(&request).contains("code_challenge_method") {
                let n = socket.read(&mut buffer).await.unwrap();
                request.extend_from_slice(&buffer[..n]);
            }
            socket.write_all(answer.as_bytes()).await.unwrap();
            String::from_utf8(request).unwrap()
        });
        (url, received)
    }

    #[tokio::test]
    async fn a_pushed_request_leaves_the_browser_only_client_id_and_request_uri() {
        let (endpoint, received) = one_answer(
            "201 Created",
            r#"{"request_uri":"urn:par:1","expires_in":60}"#,
        )
        .await;
        let secrets = Secrets::new(true);
        let request = Request {
            client_id: "cli",
            redirect_uri: "https://127.0.0.1:1/callback",
            scope: "openid",
            form_post: false,
            resource: None,
            extra: &[],
        };
        let authorization = url::Url::parse("https://id.example/auth").unwrap();
        let client = Client::new().unwrap();
        let pairs = request.parameters(&secrets);
        let url = push(
            &client,
            &endpoint,
            &authorization,
            &ClientAuth::None,
            "cli",
            pairs,
        )
        .await
        .unwrap();
        assert_eq!(
            url.as_str(),
            "https://id.example/auth?client_id=cli&request_uri=urn%3Apar%3A1"
        );
        let pushed = received.await.unwrap();
        assert!(pushed.starts_with("POST /par HTTP/1.1"), "{pushed}");
        assert!(pushed.contains(&format!("state={}", secrets.state.secret())));
        assert!(pushed.contains("code_challenge_method=S256") && pushed.contains("client_id=cli"));
    }

    #[tokio::test]
    async fn a_refused_push_is_the_providers_error() {
        let (endpoint, _) = one_answer(
            "400 Bad Request",
            r#"{"error":"invalid_request","error_description":"no"}"#,
        )
        .await;
        let secrets = Secrets::new(false);
        let request = Request {
            client_id: "cli",
            redirect_uri: "https://127.0.0.1:1/callback",
            scope: "",
            form_post: false,
            resource: None,
            extra: &[],
        };
        let authorization = url::Url::parse("https://id.example/auth").unwrap();
        let refused = push(
            &Client::new().unwrap(),
            &endpoint,
            &authorization,
            &ClientAuth::None,
            "cli",
            request.parameters(&secrets),
        )
        .await
        .unwrap_err();
        assert_eq!(
            refused.to_string(),
            "the provider refused the pushed authorization request: invalid_request (no)"
        );
    }

    #[test]
    fn secrets_are_256_bits_and_the_challenge_is_s256() {
        let secrets = Secrets::new(true);
        // 32 bytes, base64url without padding: 43 characters.
        assert_eq!(secrets.state.secret().len(), 43);
        assert_eq!(secrets.nonce.as_ref().unwrap().secret().len(), 43);
        assert_eq!(secrets.verifier.secret().len(), 43);
        assert_ne!(secrets.state.secret(), Secrets::new(true).state.secret());
        assert!(Secrets::new(false).nonce.is_none());
        let request = Request {
            client_id: "cli",
            redirect_uri: "https://127.0.0.1:1/callback",
            scope: "openid email",
            form_post: true,
            resource: Some("https://api.example/"),
            extra: &params(&[("prompt", "login")]),
        };
        let pairs = request.parameters(&secrets);
        let get = |key: &str| pairs.iter().find(|(k, _)| *k == key).map(|(_, v)| *v);
        assert_eq!(get("code_challenge_method"), Some("S256"));
        assert_eq!(get("response_mode"), Some("form_post"));
        assert_eq!(get("resource"), Some("https://api.example/"));
        assert_eq!(get("prompt"), Some("login"));
        let endpoint = url::Url::parse("https://id.example/auth?tenant=a").unwrap();
        let url = url_with(&endpoint, &pairs);
        assert!(
            url.as_str()
                .starts_with("https://id.example/auth?tenant=a&response_type=code&")
        );
    }
}
