//! `oauth-callback sign-in`: the whole sign-in on the receiver, with the
//! receiver's flags, and the tokens printed as one line of JSON.

use std::path::{Path, PathBuf};

use clap::{ArgGroup, Args};

use std::io::IsTerminal;

use crate::sign_in::Prepared;
use crate::{AsyncCallbackServer, Config, SignIn, SignInError, Tokens};

use super::serve::{self, ReceiverArgs, Teardown};
use super::signals::Signals;
use super::{Failure, exit, stdout, terminal};

/// The variable a client secret may come from (never an argument: other
/// local users can read those).
pub const SECRET_VARIABLE: &str = "OAUTH_CALLBACK_CLIENT_SECRET";

/// The largest client secret file read.
const MAX_SECRET_FILE: u64 = 64 * 1024;

/// Sign in at an OAuth 2.0 / OpenID provider.
#[derive(Debug, Args)]
#[command(group(ArgGroup::new("provider").multiple(true)
    .args(["issuer", "resource", "authorization_endpoint"])))]
pub struct SignInArgs {
    /// The provider's issuer: its metadata is discovered (RFC 8414, OpenID
    /// Connect Discovery) and must name exactly this issuer.
    #[arg(long, value_name = "URL")]
    issuer: Option<String>,

    /// The protected resource (an API, an MCP server) to sign in for: its
    /// metadata (RFC 9728) names the authorization server, and the resource
    /// is named in the requests (RFC 8707). With --issuer, only named.
    #[arg(long, value_name = "URL")]
    resource: Option<String>,

    /// A provider without metadata (GitHub, many brokers): its
    /// authorization endpoint (with --token-endpoint). No ID token is expected.
    #[arg(long, value_name = "URL", requires = "token_endpoint",
          conflicts_with_all = ["issuer", "resource"])]
    authorization_endpoint: Option<String>,

    /// A provider without metadata: its token endpoint.
    #[arg(long, value_name = "URL", requires = "authorization_endpoint")]
    token_endpoint: Option<String>,

    /// The client id registered at the provider; an https:// URL is a
    /// client ID metadata document, passed as it is. Without it, a client
    /// registers itself (RFC 7591) when the provider allows it.
    #[arg(long, value_name = "ID")]
    client_id: Option<String>,

    /// The name a self-registered client gives itself (without --client-id).
    #[arg(
        long,
        value_name = "NAME",
        default_value = "oauth-callback",
        conflicts_with = "client_id"
    )]
    client_name: String,

    /// A file holding the client secret of a confidential client (else
    /// $OAUTH_CALLBACK_CLIENT_SECRET; never an argument).
    #[arg(long, value_name = "FILE")]
    client_secret_file: Option<PathBuf>,

    /// The scopes to ask for, space-separated (repeatable) [default: openid
    /// for an OpenID provider, else none].
    #[arg(long = "scope", value_name = "SCOPES")]
    scopes: Vec<String>,

    /// An extra authorization parameter (repeatable): prompt=login,
    /// login_hint=…, acr_values=…, audience=…
    #[arg(long = "param", value_name = "NAME=VALUE", value_parser = parse_param)]
    params: Vec<(String, String)>,

    /// Ask for response_mode=form_post: the provider posts the response,
    /// and a code arriving in an address is refused (RFC 9700 4.3.1).
    #[arg(long)]
    form_post: bool,

    /// Push the authorization request to the provider first (RFC 9126);
    /// done anyway when its metadata requires it.
    #[arg(long)]
    par: bool,

    /// Do not open a browser: print the address to open instead.
    #[arg(long)]
    no_browser: bool,

    /// Sign in on another device (RFC 8628): a code to enter at the
    /// provider's page is printed, and nothing listens here (over SSH,
    /// without a port forward).
    #[arg(long, conflicts_with_all = ["form_post", "par", "no_browser"])]
    device: bool,

    #[command(flatten)]
    pub receiver: ReceiverArgs,
}

impl SignInArgs {
    /// Sign in and print the tokens; `secret` is what
    /// $OAUTH_CALLBACK_CLIENT_SECRET held.
    pub fn run(self, quiet: bool, secret: Option<String>) -> Result<u8, Failure> {
        let (sign_in, config) = self.settings(secret)?;
        // What is left once the line is out (a receiver whose browser has
        // its answer) ends with the process.
        serve::on_own_runtime(
            async {
                let timeout = config.timeout();
                let mut signals = Signals::catch().map_err(crate::Error::from)?;
                let prepared = tokio::select! {
                    prepared = sign_in.prepare() => prepared?,
                    stop = signals.next() => {
                        return Err(Failure::GaveUp(serve::gave_up(Some(stop), timeout)));
                    }
                };
                let tokens = self
                    .interactive(prepared, config, &mut signals, quiet)
                    .await?;
                stdout::print_line(&tokens.to_json_line()).map_err(Failure::Undelivered)?;
                Ok(exit::COMPLETED.code)
            },
            Teardown::Background,
        )
    }

    /// The sign-in and the receiver's settings the flags describe, every
    /// one checked before anything is sent or listens.
    pub fn settings(&self, secret: Option<String>) -> Result<(SignIn, Config), Failure> {
        let sign_in = self.sign_in(secret)?;
        let config = self.receiver.builder()?.build()?;
        sign_in.check().map_err(Failure::from)?;
        Ok((sign_in, config))
    }

    /// Whether an interactive sign-in can happen here: a browser opens, or
    /// standard input is a terminal (whose user sees the address to open).
    pub fn can_interact(&self) -> bool {
        self.device
            || std::io::stdin().is_terminal()
            || (!self.no_browser
                && crate::browser::can_open(self.receiver.browser_command.as_deref()))
    }

    /// The interactive sign-in of `prepared` on a receiver set up with
    /// `config`: the ready line, the browser, the wait (with the waiting
    /// line, paste-back and `signals`), the code exchange. A wait that
    /// ended without a response is [`Failure::GaveUp`], already said. The
    /// receiver is left to end with the process: its browser had its page
    /// before the exchange began.
    pub async fn interactive(
        &self,
        mut prepared: Prepared,
        config: Config,
        signals: &mut Signals,
        quiet: bool,
    ) -> Result<Tokens, Failure> {
        let timeout = config.timeout();
        if prepared.is_device() {
            return tokio::select! {
                tokens = prepared.device() => Ok(tokens?),
                stop = signals.next() => {
                    terminal::say(format_args!("{stop}; the device sign-in was abandoned"));
                    Err(Failure::GaveUp(stop.exit_code()))
                }
            };
        }
        let mut server = AsyncCallbackServer::start(prepared.receiver(config)).await?;
        let uri = server.redirect_uri().to_string();
        let url = prepared.authorization_url(&uri).await?;
        if !quiet {
            terminal::say(format_args!("listening on {uri}"));
        }
        prepared.show(&url).await;
        let result = match self.receiver.wait(&mut server, signals, quiet).await {
            Ok(result) => result,
            Err(stop) => return Err(Failure::GaveUp(serve::gave_up(stop, timeout))),
        };
        match prepared.finish(result, &uri).await {
            Ok(tokens) => {
                // The process's end closes the connections: no teardown to sit out.
                std::mem::forget(server);
                Ok(tokens)
            }
            Err(e) => {
                server.shutdown().await;
                Err(e.into())
            }
        }
    }

    /// The sign-in the flags describe.
    fn sign_in(&self, secret: Option<String>) -> Result<SignIn, Failure> {
        let client_id = self.client_id.as_deref().unwrap_or_default();
        let mut sign_in = match (&self.issuer, &self.resource, &self.authorization_endpoint) {
            (Some(issuer), resource, _) => {
                let sign_in = SignIn::issuer(issuer, client_id);
                match resource {
                    Some(resource) => sign_in.with_resource(resource),
                    None => sign_in,
                }
            }
            (None, Some(resource), _) => SignIn::resource(resource, client_id),
            (None, None, Some(authorization)) => SignIn::endpoints(
                authorization,
                self.token_endpoint.as_deref().unwrap_or_default(),
                client_id,
            ),
            // Checked here, not by clap: `token --list` and `sign-out --all`
            // take the same flags, and need none of them.
            (None, None, None) => {
                return Err(Failure::Usage(
                    "which provider? give --issuer, --resource, or --authorization-endpoint with \
                     --token-endpoint"
                        .into(),
                ));
            }
        };
        if self.client_id.is_none() {
            sign_in = sign_in.register(&self.client_name);
        }
        match (secret, &self.client_secret_file) {
            (Some(_), Some(_)) => {
                return Err(Failure::Usage(format!(
                    "both ${SECRET_VARIABLE} and --client-secret-file give a client secret: \
                     keep one"
                )));
            }
            (Some(secret), None) => sign_in = sign_in.client_secret(secret),
            (None, Some(file)) => sign_in = sign_in.client_secret(read_secret(file)?),
            (None, None) => {}
        }
        if !self.scopes.is_empty() {
            sign_in = sign_in.scopes(self.scopes.iter().flat_map(|s| s.split_whitespace()));
        }
        for (name, value) in &self.params {
            sign_in = sign_in.param(name, value);
        }
        sign_in = sign_in
            .form_post(self.form_post)
            .par(self.par)
            .device(self.device)
            .open_browser(!self.no_browser);
        if let Some(command) = &self.receiver.browser_command {
            sign_in = sign_in.browser_command(command);
        }
        Ok(sign_in)
    }
}

/// The client secret in `file`: its first line, without the line end.
fn read_secret(file: &Path) -> Result<String, Failure> {
    let usage =
        |why: String| Failure::Usage(format!("--client-secret-file {}: {why}", file.display()));
    let text =
        crate::files::read_bounded(file, MAX_SECRET_FILE).map_err(|e| usage(e.to_string()))?;
    let text = String::from_utf8(text).map_err(|_| usage("it is not UTF-8 text".into()))?;
    let secret = text.lines().next().unwrap_or_default().to_string();
    if secret.is_empty() {
        return Err(usage("its first line is empty".into()));
    }
    Ok(secret)
}

/// Take the client secret's variable out of this process's environment
/// (no program it starts, the browser included, inherits it), and return
/// what it held.
pub fn take_secret_variable() -> Option<String> {
    let secret = std::env::var(SECRET_VARIABLE).ok();
    // SAFETY: called from `Cli::run` before any thread is started.
    unsafe { std::env::remove_var(SECRET_VARIABLE) };
    secret.filter(|secret| !secret.is_empty())
}

/// `--param NAME=VALUE`.
fn parse_param(text: &str) -> Result<(String, String), String> {
    match text.split_once('=') {
        Some((name, value)) if !name.is_empty() => Ok((name.into(), value.into())),
        _ => Err(format!("{text:?} is not NAME=VALUE")),
    }
}

impl From<SignInError> for Failure {
    fn from(error: SignInError) -> Failure {
        match error {
            SignInError::Receiver(e) => Failure::Library(e),
            SignInError::InvalidSetting(why) => Failure::Usage(why),
            other => Failure::SignIn(other),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_param_is_name_equals_value() {
        assert_eq!(
            parse_param("login_hint=a=b"),
            Ok(("login_hint".into(), "a=b".into()))
        );
        assert!(parse_param("prompt").is_err());
        assert!(parse_param("=x").is_err());
    }
}
