//! The whole sign-in from Rust in one call: oauth-callback's `SignIn` finds
//! the provider, opens the browser, checks the answer, exchanges the code
//! and verifies the ID token.
//!
//! ```sh
//! cargo run --example sign_in -- https://id.example my-client-id [PORT]
//! ```
//!
//! It opens the browser (or, with `SIGN_IN_NO_BROWSER` set, as in the
//! end-to-end tests, prints `open <URL>` on stdout), then prints the tokens
//! as one line of JSON. Without a PORT a free one is picked (RFC 8252
//! section 7.3).

use std::process::ExitCode;

use oauth_callback::{Config, SignIn, SignInError};

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [issuer, client_id, rest @ ..] = args.as_slice() else {
        eprintln!("usage: sign_in ISSUER CLIENT_ID [PORT]");
        return ExitCode::from(2);
    };
    let mut receiver = Config::builder();
    if let Some(port) = rest.first() {
        match port.parse::<u16>() {
            Ok(port) => receiver = receiver.port(port),
            Err(e) => {
                eprintln!("sign_in: bad PORT: {e}");
                return ExitCode::from(2);
            }
        }
    }
    let mut sign_in = SignIn::issuer(issuer, client_id).scopes(["openid", "email"]);
    if std::env::var_os("SIGN_IN_NO_BROWSER").is_some() {
        sign_in = sign_in.open_with(|url| println!("open {url}"));
    }
    let tokens = receiver
        .build()
        .map_err(SignInError::from)
        .and_then(|config| sign_in.run_blocking(config));
    match tokens {
        Ok(tokens) => {
            println!("{}", tokens.to_json_line());
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("sign_in: {}", oauth_callback::error_line(&e));
            ExitCode::FAILURE
        }
    }
}
