//! `oauth-callback sign-out`: revoke the cached refresh token at the
//! provider (RFC 7009) and remove the entry; `--all` for every entry.

use clap::Args;

use crate::token_cache::{CacheKey, KeyringStore};
use crate::{Revocation, SignInError, TokenSource};

use super::serve::{self, Teardown};
use super::sign_in::SignInArgs;
use super::{Failure, exit, stdout};

/// Sign out: revoke at the provider, forget the cached tokens.
#[derive(Debug, Args)]
pub struct SignOutArgs {
    /// Sign out of every cached entry (with the client secret given, if
    /// any, for confidential clients).
    #[arg(long, exclusive = true)]
    all: bool,

    #[command(flatten)]
    sign_in: SignInArgs,
}

impl SignOutArgs {
    /// Sign out and say what became of each entry, one line each; `secret`
    /// is what $OAUTH_CALLBACK_CLIENT_SECRET held.
    pub fn run(self, secret: Option<String>) -> Result<u8, Failure> {
        // Every entry, in files or in the keyring.
        let store = KeyringStore::new(super::token::file_store()?);
        let outcomes = match (!self.all).then_some(&self.sign_in) {
            Some(args) => {
                let (sign_in, _) = args.settings(secret)?;
                let source = TokenSource::with_store(sign_in, store);
                let key = source.key();
                let outcome =
                    serve::on_own_runtime(async { Ok(source.sign_out().await) }, Teardown::Wait)?;
                vec![(key, outcome)]
            }
            None => serve::on_own_runtime(
                async { Ok(TokenSource::sign_out_all(store, secret.as_deref()).await?) },
                Teardown::Wait,
            )?,
        };
        let mut code = exit::COMPLETED.code;
        if outcomes.is_empty() {
            stdout::print_line("no cached tokens: nothing to sign out of")?;
        }
        for (key, outcome) in outcomes {
            match outcome {
                Ok(revocation) => stdout::print_line(&said(&key, revocation))?,
                Err(e) => {
                    let kept = match e {
                        SignInError::Unreachable(_) => "kept: sign out again once it answers",
                        _ => "removed",
                    };
                    eprintln!(
                        "oauth-callback: {}: {}; the cached tokens are {kept}",
                        key.provider_line(),
                        crate::error_line(&e)
                    );
                    code = Failure::SignIn(e).exit_code();
                }
            }
        }
        Ok(code)
    }
}

/// What became of `key`'s entry, in one line.
fn said(key: &CacheKey, revocation: Revocation) -> String {
    let provider = crate::error::escaped_line(key.provider_line(), 300);
    match revocation {
        Revocation::Revoked => format!("signed out of {provider}: revoked there, removed here"),
        Revocation::NoEndpoint => format!(
            "signed out of {provider}: removed here (the provider has no revocation endpoint: \
             its tokens stay valid there until they expire)"
        ),
        Revocation::NothingCached => format!("{provider}: no cached tokens"),
    }
}
