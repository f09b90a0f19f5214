//! Signing in from an async Rust program with the `oauth2` crate: PKCE, the
//! authorization URL, oauth-callback's async face for the redirect, the
//! `state` check and the code exchange.
//!
//! ```sh
//! cargo run --example oauth2_signin -- https://idp.example/authorize \
//!     https://idp.example/token my-client-id [PORT]
//! ```
//!
//! It prints `open <authorization URL>` on stdout and opens the browser there
//! (unless `OAUTH2_SIGNIN_NO_BROWSER` is set, as in the end-to-end tests),
//! then `signed in: <token type> token` once the code is exchanged. Without a
//! PORT a free one is picked: most providers accept any port on a loopback
//! redirect URI (RFC 8252 section 7.3).

use std::process::ExitCode;
use std::time::Duration;

use oauth_callback::{AsyncCallbackServer, Config, Tls};
use oauth2::basic::BasicClient;
use oauth2::{
    AuthUrl, AuthorizationCode, ClientId, CsrfToken, PkceCodeChallenge, RedirectUrl, Scope,
    TokenResponse, TokenUrl,
};

type BoxError = Box<dyn std::error::Error + Send + Sync>;

#[tokio::main]
async fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [authorize, token, client_id, rest @ ..] = args.as_slice() else {
        eprintln!("usage: oauth2_signin AUTHORIZATION_URL TOKEN_URL CLIENT_ID [PORT]");
        return ExitCode::from(2);
    };
    let port = match rest.first().map(|port| port.parse::<u16>()) {
        None => 0,
        Some(Ok(port)) => port,
        Some(Err(e)) => {
            eprintln!("oauth2_signin: bad PORT: {e}");
            return ExitCode::from(2);
        }
    };
    match sign_in(authorize, token, client_id, port).await {
        Ok(token_type) => {
            println!("signed in: {token_type} token");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("oauth2_signin: sign-in failed: {e}");
            ExitCode::FAILURE
        }
    }
}

/// One sign-in; returns the type of the access token received.
async fn sign_in(
    authorize: &str,
    token: &str,
    client_id: &str,
    port: u16,
) -> Result<String, BoxError> {
    let csrf = CsrfToken::new_random();
    let config = Config::builder()
        .port(port)
        .tls(Tls::Adhoc)
        .expect_state(csrf.secret())
        .build()?;
    let mut server = AsyncCallbackServer::start(config).await?;

    let client = BasicClient::new(ClientId::new(client_id.into()))
        .set_auth_uri(AuthUrl::new(authorize.into())?)
        .set_token_uri(TokenUrl::new(token.into())?)
        .set_redirect_uri(RedirectUrl::new(server.redirect_uri().into())?);
    let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
    let (url, csrf) = client
        .authorize_url(|| csrf)
        .add_scope(Scope::new("openid".into()))
        .set_pkce_challenge(challenge)
        .url();
    println!("open {url}");
    if std::env::var_os("OAUTH2_SIGNIN_NO_BROWSER").is_none()
        && webbrowser::open(url.as_str()).is_err()
    {
        eprintln!("open this page to sign in: {url}");
    }

    let result = server.wait_for(Duration::from_secs(180)).await;
    let result = result
        .or(server.shutdown().await)
        .ok_or("no callback within 3 minutes")?;
    // The server already refused other states; checking again is cheap.
    if result.state() != Some(csrf.secret().as_str()) {
        return Err("the state does not match: possible login CSRF".into());
    }
    if let Some(error) = result.error() {
        let description = result.param("error_description").unwrap_or(error);
        return Err(format!("the provider refused: {description}").into());
    }
    let code = result.code().ok_or("no code in the callback")?;

    // The token endpoint must not be followed through redirects (SSRF).
    let http = oauth2::reqwest::ClientBuilder::new()
        .redirect(oauth2::reqwest::redirect::Policy::none())
        .build()?;
    let tokens = client
        .exchange_code(AuthorizationCode::new(code.into()))
        .set_pkce_verifier(verifier)
        .request_async(&http)
        .await?;
    Ok(tokens.token_type().as_ref().to_string())
}
