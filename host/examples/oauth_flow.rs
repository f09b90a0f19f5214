//! The whole native-app sign-in around oauth-callback, as the original
//! module's orchestration example: a random `state`, a PKCE challenge, the
//! authorization URL, the browser, the wait, the `state` check, and the code
//! handed on to your token exchange.
//!
//! ```sh
//! cargo run --example oauth_flow -- https://idp.example/authorize my-client-id
//! ```

use std::process::ExitCode;
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use oauth_callback::{CallbackServer, Config, Tls};
use sha2::{Digest, Sha256};

fn main() -> ExitCode {
    let mut args = std::env::args().skip(1);
    let (Some(authorize), Some(client_id)) = (args.next(), args.next()) else {
        eprintln!("usage: oauth_flow AUTHORIZATION_ENDPOINT CLIENT_ID");
        return ExitCode::from(2);
    };
    match sign_in(&authorize, &client_id) {
        Ok(code) => {
            println!("authorization code: {code} (exchange it with the PKCE verifier)");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("sign-in failed: {e}");
            ExitCode::FAILURE
        }
    }
}

/// Run one sign-in and return the authorization code.
fn sign_in(authorize: &str, client_id: &str) -> Result<String, Box<dyn std::error::Error>> {
    let state = random_token()?;
    let verifier = random_token()?;
    let challenge = URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()));

    // Port 0: the system picks a free port; register the loopback redirect
    // URI with any port at your provider (RFC 8252 section 7.3).
    let config = Config::builder()
        .port(0)
        .tls(Tls::Adhoc)
        .expect_state(&state)
        .build()?;
    let mut server = CallbackServer::start(config)?;
    let url = format!(
        "{authorize}?response_type=code&client_id={}&redirect_uri={}&scope=openid\
         &state={state}&code_challenge={challenge}&code_challenge_method=S256",
        encode(client_id),
        encode(server.redirect_uri()),
    );
    if webbrowser::open(&url).is_err() {
        eprintln!("Open this page to sign in:\n{url}");
    }

    let result = server
        .wait_for(Duration::from_secs(180))
        .ok_or("no callback within 3 minutes")?;
    server.shutdown();
    // --expect-state already refused other states; checking again is cheap.
    if result.state() != Some(state.as_str()) {
        return Err("the state does not match: possible login CSRF".into());
    }
    if let Some(error) = result.error() {
        let description = result.param("error_description").unwrap_or(error);
        return Err(format!("the provider refused: {description}").into());
    }
    // Hand `code` and `verifier` to your token exchange here.
    let _ = verifier;
    Ok(result.code().ok_or("no code in the callback")?.to_string())
}

/// 32 random bytes, base64url: for `state` and the PKCE verifier.
fn random_token() -> Result<String, getrandom::Error> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes)?;
    Ok(URL_SAFE_NO_PAD.encode(bytes))
}

/// Encode a query value (`application/x-www-form-urlencoded`).
fn encode(text: &str) -> String {
    url::form_urlencoded::byte_serialize(text.as_bytes()).collect()
}
