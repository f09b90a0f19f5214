//! The whole sign-in of a native app (RFC 8252), on the receiver: find the
//! provider, make the PKCE pair, `state` and `nonce`, open the browser at
//! the authorization request once the receiver listens, check the
//! authorization response, exchange the code and verify the ID token.
//!
//! ```no_run
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! use oauth_callback::{Config, SignIn};
//!
//! let tokens = SignIn::issuer("https://id.example", "my-cli")
//!     .scopes(["openid", "email"])
//!     .run(Config::builder().build()?)
//!     .await?;
//! println!("signed in as {:?}", tokens.id_token_claims().and_then(|c| c.get("sub")));
//! # Ok(()) }
//! ```

mod authorization;
mod client_auth;
mod device;
mod discovery;
mod error;
mod exchange;
mod http;
mod id_token;
mod registration;
mod revocation;
mod tokens;

use openidconnect::{ClientSecret, Nonce};
use serde_json::{Map, Value};

use crate::config::Config;
use crate::nonblocking::AsyncCallbackServer;
use crate::result::CallbackResult;
use authorization::{Request, Secrets};
use client_auth::ClientAuth;
use discovery::Server;
use id_token::KeySet;

pub use discovery::Provider;
pub use error::{CheckFailed, ProviderError, SignInError, Stage, Unreachable};
pub use id_token::CLOCK_LEEWAY;
pub use revocation::Revocation;
pub use tokens::Tokens;

/// A sign-in to run: where the provider is, the client, what to ask for.
/// Built with [`SignIn::issuer`], [`SignIn::resource`] or
/// [`SignIn::endpoints`]; run with [`SignIn::run`] (or
/// [`SignIn::run_blocking`]) on the receiver's [`Config`].
#[derive(Debug, Clone)]
pub struct SignIn {
    provider: Provider,
    resource: Option<String>,
    client_id: String,
    client_secret: Option<ClientSecret>,
    scopes: Option<Vec<String>>,
    params: Vec<(String, String)>,
    form_post: bool,
    par: bool,
    device: bool,
    client_name: Option<String>,
    open_browser: bool,
    browser_command: Option<String>,
    open_with: Option<OpenWith>,
}

/// A caller's own way to send the user to the authorization request.
#[derive(Clone)]
struct OpenWith(std::sync::Arc<dyn Fn(&str) + Send + Sync>);

impl std::fmt::Debug for OpenWith {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("OpenWith(..)")
    }
}

impl SignIn {
    fn new(provider: Provider, client_id: impl Into<String>) -> SignIn {
        SignIn {
            provider,
            resource: None,
            client_id: client_id.into(),
            client_secret: None,
            scopes: None,
            params: Vec::new(),
            form_post: false,
            par: false,
            device: false,
            client_name: None,
            open_browser: true,
            browser_command: None,
            open_with: None,
        }
    }

    /// Sign in at `issuer`, whose metadata is discovered (RFC 8414, OpenID
    /// Connect Discovery 1.0); its `issuer` must equal this, byte for byte.
    pub fn issuer(issuer: impl Into<String>, client_id: impl Into<String>) -> SignIn {
        SignIn::new(Provider::Issuer(issuer.into()), client_id)
    }

    /// Sign in for the protected resource `resource`: its metadata (RFC
    /// 9728) names the authorization server, and `resource` is sent in the
    /// requests (RFC 8707).
    pub fn resource(resource: impl Into<String>, client_id: impl Into<String>) -> SignIn {
        let resource = resource.into();
        SignIn {
            resource: Some(resource.clone()),
            ..SignIn::new(Provider::Resource(resource), client_id)
        }
    }

    /// Sign in at a plain OAuth 2.0 provider without metadata (no ID token
    /// is expected).
    pub fn endpoints(
        authorization: impl Into<String>,
        token: impl Into<String>,
        client_id: impl Into<String>,
    ) -> SignIn {
        let provider = Provider::Endpoints {
            authorization: authorization.into(),
            token: token.into(),
        };
        SignIn::new(provider, client_id)
    }

    /// Name `resource` in the requests (RFC 8707) without discovering it.
    pub fn with_resource(mut self, resource: impl Into<String>) -> Self {
        self.resource = Some(resource.into());
        self
    }

    /// The client secret of a confidential client (in process only: never
    /// an argument of a program).
    pub fn client_secret(mut self, secret: impl Into<String>) -> Self {
        self.client_secret = Some(ClientSecret::new(secret.into()));
        self
    }

    /// The scopes to ask for [default: `openid` when the provider is an
    /// OpenID provider, else none].
    pub fn scopes<I, S>(mut self, scopes: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.scopes = Some(scopes.into_iter().map(Into::into).collect());
        self
    }

    /// An extra authorization request parameter (`prompt`, `login_hint`,
    /// `acr_values`…); those the sign-in sets itself are refused by `run`.
    pub fn param(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.params.push((name.into(), value.into()));
        self
    }

    /// Ask for `response_mode=form_post`; a code then arriving anywhere but
    /// a form post is refused (RFC 9700 section 4.3.1).
    pub fn form_post(mut self, form_post: bool) -> Self {
        self.form_post = form_post;
        self
    }

    /// Push the authorization request first (RFC 9126), even when the
    /// provider does not require it; refused when it has no PAR endpoint.
    pub fn par(mut self, par: bool) -> Self {
        self.par = par;
        self
    }

    /// With an empty client id: register a public client named
    /// `client_name` at the provider's `registration_endpoint` (RFC 7591)
    /// for the redirect URI of this run, keep it per authorization server,
    /// and use it again; register anew once when the provider no longer
    /// knows it (`invalid_client`).
    pub fn register(mut self, client_name: impl Into<String>) -> Self {
        self.client_name = Some(client_name.into());
        self
    }

    /// Sign in with the device authorization grant (RFC 8628) instead of a
    /// browser here: the user code and where to enter it are written on
    /// stderr, and the token endpoint is polled; nothing listens. Refused
    /// when the provider has no device authorization endpoint.
    pub fn device(mut self, device: bool) -> Self {
        self.device = device;
        self
    }

    /// Open the user's browser at the authorization request once the
    /// receiver listens [default: true]; else (or when none opens) its URL
    /// is written on stderr for the user to open: on the terminal, never
    /// in a log record, as it carries the request's `state`.
    pub fn open_browser(mut self, open: bool) -> Self {
        self.open_browser = open;
        self
    }

    /// Instead of opening the browser, call `open` with the URL of the
    /// authorization request once the receiver listens: to show it in an
    /// interface of your own, or to drive a browser yourself. It is called
    /// on a blocking thread of the sign-in's runtime, and may block (wait
    /// for the browser it drives): the receiver serves meanwhile.
    pub fn open_with(mut self, open: impl Fn(&str) + Send + Sync + 'static) -> Self {
        self.open_with = Some(OpenWith(std::sync::Arc::new(open)));
        self
    }

    /// The command that opens the browser (see [`crate::open_browser`]).
    pub fn browser_command(mut self, command: impl Into<String>) -> Self {
        self.browser_command = Some(command.into());
        self
    }

    /// Sign in: discover, listen with `config` (on a free port when it
    /// names none, RFC 8252 section 7.3), open the browser, wait for the
    /// authorization response (until `config`'s timeout), exchange the code
    /// and verify the ID token.
    ///
    /// # Errors
    /// [`SignInError`]: a bad setting before anything is sent, the
    /// receiver, the provider's refusal, a failed check, an unreachable
    /// provider, or the timeout.
    pub async fn run(self, config: Config) -> Result<Tokens, SignInError> {
        self.prepare().await?.run(config).await
    }

    /// [`SignIn::run`], blocking the calling thread on a runtime of its
    /// own. Not inside a tokio runtime ([`crate::Error::InsideAsyncRuntime`]).
    pub fn run_blocking(self, config: Config) -> Result<Tokens, SignInError> {
        block_on(self.run(config))
    }

    /// Check the settings, find the provider and start fetching its key
    /// set: everything before the receiver listens.
    pub(crate) async fn prepare(self) -> Result<Prepared, SignInError> {
        self.check()?;
        let client = http::Client::new()?;
        let server = match &self.provider {
            Provider::Issuer(issuer) => discovery::discover(&client, issuer).await?,
            Provider::Resource(resource) => {
                let issuer = discovery::authorization_server_of(&client, resource).await?;
                discovery::discover(&client, &issuer).await?
            }
            Provider::Endpoints {
                authorization,
                token,
            } => Server {
                issuer: None,
                openid: false,
                metadata: discovery::Metadata {
                    authorization_endpoint: Some(authorization.clone()),
                    token_endpoint: Some(token.clone()),
                    ..Default::default()
                },
            },
        };
        Prepared::new(self, server, client)
    }

    /// Check the settings that need no network (`run` makes these checks
    /// first too): a face calls it to refuse bad settings before it starts
    /// anything else.
    ///
    /// # Errors
    /// [`SignInError::InvalidSetting`], saying what is wrong.
    pub fn check(&self) -> Result<(), SignInError> {
        let invalid = |why: &str| Err(SignInError::InvalidSetting(why.into()));
        if self.client_id.trim().is_empty() && self.client_name.is_none() {
            return invalid("the client id is empty (or register one)");
        }
        if self.client_id.is_empty() && self.client_secret.is_some() {
            return invalid("a client secret was given without its client id");
        }
        if self
            .client_secret
            .as_ref()
            .is_some_and(|s| s.secret().is_empty())
        {
            return invalid("the client secret is empty");
        }
        authorization::check_params(&self.params)?;
        if self.device && (self.form_post || self.par) {
            return invalid(
                "the device flow has no authorization response: not with form_post or par",
            );
        }
        match &self.provider {
            Provider::Issuer(issuer) => {
                discovery::parse_identifier("issuer", issuer)?;
            }
            Provider::Resource(resource) => {
                discovery::parse_identifier("resource", resource)?;
            }
            Provider::Endpoints {
                authorization,
                token,
            } => {
                crate::urls::browser_url(authorization).map_err(|why| {
                    SignInError::InvalidSetting(format!("authorization endpoint: {why}"))
                })?;
                http::check_endpoint(token)
                    .map_err(|why| SignInError::InvalidSetting(format!("token endpoint: {why}")))?;
                if self.par {
                    return invalid(
                        "pushed authorization requests need the provider's metadata (its \
                         pushed_authorization_request_endpoint): give the issuer",
                    );
                }
                if self.device {
                    return invalid(
                        "the device flow needs the provider's metadata (its \
                         device_authorization_endpoint): give the issuer",
                    );
                }
                if self.client_id.is_empty() {
                    return invalid(
                        "registering a client needs the provider's metadata (its \
                         registration_endpoint): give the issuer, or a client id",
                    );
                }
            }
        }
        if let Some(resource) = &self.resource {
            discovery::parse_identifier("resource", resource)?;
        }
        Ok(())
    }

    /// Where the provider is, as given.
    pub fn provider(&self) -> &Provider {
        &self.provider
    }

    /// The client id.
    pub fn client_id(&self) -> &str {
        &self.client_id
    }

    /// The scopes asked for, when given (else the provider's default).
    pub fn requested_scopes(&self) -> Option<&[String]> {
        self.scopes.as_deref()
    }

    /// The resource named in the requests (RFC 8707), when one is.
    pub fn resource_indicator(&self) -> Option<&str> {
        self.resource.as_deref()
    }
}

/// A client that registers itself (RFC 7591) at one authorization server.
struct Registering {
    store: registration::Registrations,
    endpoint: url::Url,
    /// The authorization server: its issuer, or its token endpoint.
    server: String,
    client_name: String,
    kept: Option<registration::Registration>,
}

/// Run `job` on a runtime of its own, blocking the calling thread; refused
/// inside a tokio runtime ([`crate::Error::InsideAsyncRuntime`]).
pub(crate) fn block_on<T>(
    job: impl std::future::Future<Output = Result<T, SignInError>>,
) -> Result<T, SignInError> {
    if tokio::runtime::Handle::try_current().is_ok() {
        return Err(crate::error::Error::InsideAsyncRuntime.into());
    }
    let runtime = crate::lifecycle::job_runtime().map_err(crate::error::Error::from)?;
    runtime.block_on(job)
}

/// A sign-in whose provider is known, its secrets made, its key set on the
/// way: what the receiver and the browser are set up from.
pub(crate) struct Prepared {
    sign_in: SignIn,
    /// The client id: the one given, or the registered one (empty until
    /// registered).
    client_id: String,
    registering: Option<Registering>,
    server: Server,
    client: http::Client,
    auth: ClientAuth,
    authorization: url::Url,
    token: url::Url,
    par: Option<url::Url>,
    scope: String,
    secrets: Secrets,
    keys: Option<KeySet>,
}

impl Prepared {
    fn new(sign_in: SignIn, server: Server, client: http::Client) -> Result<Prepared, SignInError> {
        let metadata = &server.metadata;
        if let Some(methods) = &metadata.code_challenge_methods_supported
            && !methods.iter().any(|m| m == "S256")
        {
            let listed = crate::error::escaped_line(&methods.join(", "), 200);
            return Err(SignInError::CheckFailed(CheckFailed::NoS256(listed)));
        }
        let authorization = crate::urls::browser_url(
            metadata
                .authorization_endpoint
                .as_deref()
                .unwrap_or_default(),
        )
        .map_err(|why| Unreachable::Nonsense {
            url: server.issuer.clone().unwrap_or_default(),
            reason: format!("its authorization_endpoint {why}"),
        })?;
        let token = server.endpoint("token_endpoint", metadata.token_endpoint.as_deref())?;
        let par = match &metadata.pushed_authorization_request_endpoint {
            Some(_) if sign_in.par || metadata.require_pushed_authorization_requests => {
                Some(server.endpoint(
                    "pushed_authorization_request_endpoint",
                    metadata.pushed_authorization_request_endpoint.as_deref(),
                )?)
            }
            None if sign_in.par => {
                return Err(SignInError::InvalidSetting(
                    "pushed authorization requests were asked for, but the provider has no \
                     pushed_authorization_request_endpoint"
                        .into(),
                ));
            }
            _ => None,
        };
        let keys = match (&server.issuer, &metadata.jwks_uri) {
            (Some(_), Some(_)) => Some(KeySet::prefetch(
                &client,
                server.endpoint("jwks_uri", metadata.jwks_uri.as_deref())?,
            )),
            _ => None,
        };
        let auth = ClientAuth::choose(
            sign_in.client_secret.clone(),
            metadata.token_endpoint_auth_methods_supported.as_deref(),
        )?;
        let scopes = match &sign_in.scopes {
            Some(scopes) => scopes.clone(),
            None if server.openid => vec!["openid".into()],
            None => Vec::new(),
        };
        let scope = scopes.join(" ");
        let secrets = Secrets::new(scopes.iter().any(|s| s == "openid"));
        let registering = match (&sign_in.client_name, sign_in.client_id.is_empty()) {
            (Some(client_name), true) => {
                let Some(registration) = &metadata.registration_endpoint else {
                    return Err(SignInError::InvalidSetting(
                        "no client id was given, and the provider has no registration_endpoint \
                         to register one"
                            .into(),
                    ));
                };
                let store = registration::Registrations::of_user().ok_or_else(|| {
                    SignInError::Cache("no home directory to keep a client registration in".into())
                })?;
                let server_id = server.issuer.clone().unwrap_or_else(|| token.to_string());
                Some(Registering {
                    kept: store.load(&server_id),
                    store,
                    endpoint: server.endpoint("registration_endpoint", Some(registration))?,
                    server: server_id,
                    client_name: client_name.clone(),
                })
            }
            _ => None,
        };
        if sign_in.client_id.starts_with("https://")
            && server.issuer.is_some()
            && !metadata.client_id_metadata_document_supported
        {
            tracing::warn!(
                "the client id is a URL (a client ID metadata document), but the provider's \
                 metadata does not say it takes them (client_id_metadata_document_supported)"
            );
        }
        let client_id = match &registering {
            Some(Registering {
                kept: Some(kept), ..
            }) => kept.client_id.clone(),
            _ => sign_in.client_id.clone(),
        };
        Ok(Prepared {
            client_id,
            registering,
            sign_in,
            server,
            client,
            auth,
            authorization,
            token,
            par,
            scope,
            secrets,
            keys,
        })
    }

    /// The interactive sign-in on a receiver set up with `config`: listen,
    /// send the user to the authorization request, wait for the response
    /// (until `config`'s timeout) and finish.
    pub(crate) async fn run(mut self, config: Config) -> Result<Tokens, SignInError> {
        if self.sign_in.device {
            return self.device().await;
        }
        let mut server = AsyncCallbackServer::start(self.receiver(config)).await?;
        let redirect_uri = server.redirect_uri().to_string();
        let url = self.authorization_url(&redirect_uri).await?;
        self.show(&url).await;
        let timeout = server
            .deadline()
            .saturating_duration_since(std::time::Instant::now());
        let result = match server.wait().await {
            Some(result) => result,
            None => server
                .shutdown()
                .await
                .ok_or(SignInError::TimedOut(timeout))?,
        };
        self.finish(result, &redirect_uri).await
    }

    /// `config` set up to receive this sign-in's authorization response:
    /// its `state` required, its `iss` compared (required when the
    /// provider advertises it, RFC 9207), a code only in a form post when
    /// one was asked for, and a free port when `config` chose none.
    pub(crate) fn receiver(&self, mut config: Config) -> Config {
        config.expected_state = Some(self.secrets.state.secret().clone());
        config.expected_issuer = self.server.issuer.clone();
        config.issuer_required = self
            .server
            .metadata
            .authorization_response_iss_parameter_supported;
        config.form_post_only = self.sign_in.form_post;
        if !config.ports_chosen && config.redirect_uri.is_none() {
            // A registered client's redirect URI names its port.
            let registered = self
                .registering
                .as_ref()
                .and_then(|r| r.kept.as_ref()?.port());
            config.ports = vec![registered.unwrap_or(0)];
        }
        config
    }

    /// The URL the browser opens, for the receiver at `redirect_uri`:
    /// the authorization request, or its `request_uri` once pushed.
    pub(crate) async fn authorization_url(
        &mut self,
        redirect_uri: &str,
    ) -> Result<String, SignInError> {
        self.ensure_client(Some(redirect_uri)).await?;
        let request = Request {
            client_id: &self.client_id,
            redirect_uri,
            scope: &self.scope,
            form_post: self.sign_in.form_post,
            resource: self.sign_in.resource.as_deref(),
            extra: &self.sign_in.params,
        };
        let pairs = request.parameters(&self.secrets);
        let url = match &self.par {
            Some(endpoint) => {
                authorization::push(
                    &self.client,
                    endpoint,
                    &self.authorization,
                    &self.auth,
                    &self.client_id,
                    pairs,
                )
                .await?
            }
            None => authorization::url_with(&self.authorization, &pairs),
        };
        Ok(url.into())
    }

    /// Send the user to `url`: the caller's way ([`SignIn::open_with`]),
    /// else the browser, else the address on the terminal (stderr). Never a
    /// log record: the address carries the request's `state` and `nonce`.
    /// Opening (the caller's way, or a browser command, which may take a
    /// second to fail) runs on a blocking thread, waited for while the
    /// receiver goes on serving on this one.
    pub(crate) async fn show(&self, url: &str) {
        let open_with = self
            .sign_in
            .open_with
            .as_ref()
            .map(|OpenWith(open)| open.clone());
        let caller_opens = open_with.is_some();
        if !caller_opens && !self.sign_in.open_browser {
            return eprintln!("open this page to sign in: {url}");
        }
        let (owned, command) = (url.to_string(), self.sign_in.browser_command.clone());
        let opening = tokio::task::spawn_blocking(move || match open_with {
            Some(open) => {
                open(&owned);
                Ok(())
            }
            None => crate::browser::try_open(&owned, command.as_deref()),
        });
        let opened = match opening.await {
            Ok(opened) => opened,
            Err(e) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
            Err(_) => return,
        };
        match opened {
            _ if caller_opens => {}
            Ok(()) => tracing::info!("opened the browser"),
            Err(why) => {
                tracing::warn!("could not open a browser ({why})");
                eprintln!("open this page to sign in: {url}");
            }
        }
    }

    /// Turn the authorization response the receiver accepted (its `state`
    /// and `iss` checked) into tokens: the provider's `error`, or the code
    /// exchanged and the ID token verified.
    pub(crate) async fn finish(
        &mut self,
        result: CallbackResult,
        redirect_uri: &str,
    ) -> Result<Tokens, SignInError> {
        if let Some(error) = result.error() {
            return Err(SignInError::Provider(ProviderError::new(
                Stage::Authorization,
                error,
                result.param("error_description"),
            )));
        }
        let Some(code) = result.code() else {
            return Err(Unreachable::Nonsense {
                url: redirect_uri.into(),
                reason: "the authorization response carries no code".into(),
            }
            .into());
        };
        let grant = exchange::Grant::Code {
            code,
            verifier: self.secrets.verifier.secret(),
            redirect_uri,
            resource: self.sign_in.resource.as_deref(),
        };
        let members = self.request(&grant).await?;
        let nonce = self.secrets.nonce.clone();
        let claims = self.verified(&members, nonce.as_ref()).await?;
        Ok(self.tokens(members, claims))
    }

    /// A registered client that fits a sign-in at `redirect_uri` (none: a
    /// device sign-in): the kept one, else one registered now (RFC 7591)
    /// and kept. Nothing when a client id was given.
    async fn ensure_client(&mut self, redirect_uri: Option<&str>) -> Result<(), SignInError> {
        let Some(registering) = &mut self.registering else {
            return Ok(());
        };
        if registering
            .kept
            .as_ref()
            .is_some_and(|kept| kept.fits(redirect_uri))
        {
            return Ok(());
        }
        let registration = registration::register(
            &self.client,
            &registering.endpoint,
            &registering.server,
            &registering.client_name,
            redirect_uri,
        )
        .await?;
        registering.store.save(&registration);
        self.client_id = registration.client_id.clone();
        registering.kept = Some(registration);
        Ok(())
    }

    /// Forget the registered client (the provider answered
    /// `invalid_client`): the next sign-in registers anew. Whether there
    /// was one to forget.
    pub(crate) fn forget_registration(&mut self) -> bool {
        let Some(registering) = &mut self.registering else {
            return false;
        };
        if registering.kept.take().is_none() {
            return false;
        }
        registering.store.forget(&registering.server);
        self.client_id.clear();
        true
    }

    /// Whether this sign-in is a device sign-in ([`SignIn::device`]).
    pub(crate) fn is_device(&self) -> bool {
        self.sign_in.device
    }

    /// The device sign-in (RFC 8628): a device code, the user told on
    /// stderr where to enter the user code, the token endpoint polled until
    /// they have; the ID token checked as after a code exchange (without a
    /// nonce: none was sent).
    ///
    /// # Errors
    /// [`SignInError::InvalidSetting`] when the provider has no device
    /// authorization endpoint; the provider's refusal (`access_denied`,
    /// `expired_token`), a failed check, an unreachable provider.
    pub(crate) async fn device(&mut self) -> Result<Tokens, SignInError> {
        let Some(endpoint) = &self.server.metadata.device_authorization_endpoint else {
            return Err(SignInError::InvalidSetting(
                "the device flow was asked for, but the provider has no \
                 device_authorization_endpoint"
                    .into(),
            ));
        };
        let endpoint = self
            .server
            .endpoint("device_authorization_endpoint", Some(endpoint))?;
        self.ensure_client(None).await?;
        let client_id = &self.client_id;
        let resource = self.sign_in.resource.as_deref();
        let authorization = device::start(
            &self.client,
            &endpoint,
            &self.auth,
            client_id,
            &self.scope,
            resource,
        )
        .await?;
        eprintln!("{}", authorization.instructions());
        let members = device::poll(
            &self.client,
            &self.token,
            &self.auth,
            client_id,
            &authorization,
            resource,
        )
        .await?;
        let claims = self.verified(&members, None).await?;
        Ok(self.tokens(members, claims))
    }

    /// Refresh `previous` with its refresh token (RFC 6749 section 6): the
    /// new tokens, keeping the refresh token when none came back, and the
    /// ID token and its claims when no new one came; a new ID token passes
    /// every check and names the same user (OpenID Connect Core 1.0
    /// section 12.2).
    ///
    /// # Errors
    /// [`SignInError::InvalidSetting`] when `previous` has no refresh token;
    /// the provider's refusal (`invalid_grant` for a refresh token it no
    /// longer takes), a failed check, an unreachable provider.
    pub(crate) async fn refresh(&mut self, previous: &Tokens) -> Result<Tokens, SignInError> {
        let Some(refresh_token) = previous.refresh_token() else {
            return Err(SignInError::InvalidSetting(
                "the cached tokens have no refresh token".into(),
            ));
        };
        let grant = exchange::Grant::Refresh {
            refresh_token,
            resource: self.sign_in.resource.as_deref(),
        };
        let mut members = self.request(&grant).await?;
        let claims = match self.verified(&members, None).await? {
            Some(claims) => {
                if let Some(first) = previous.id_token_claims() {
                    id_token::same_subject(first, &claims)?;
                }
                Some(claims)
            }
            None => {
                if let Some(id_token) = previous.id_token() {
                    members.insert("id_token".into(), id_token.into());
                }
                previous.id_token_claims().cloned()
            }
        };
        for kept in ["refresh_token", "scope"] {
            if !members.contains_key(kept)
                && let Some(value) = previous.members().get(kept)
            {
                members.insert(kept.into(), value.clone());
            }
        }
        Ok(self.tokens(members, claims))
    }

    /// Revoke `tokens` at the provider (RFC 7009): the refresh token, else
    /// the access token.
    ///
    /// # Errors
    /// The provider's refusal, or an unreachable provider.
    pub(crate) async fn revoke(&self, tokens: &Tokens) -> Result<Revocation, SignInError> {
        let Some(endpoint) = &self.server.metadata.revocation_endpoint else {
            return Ok(Revocation::NoEndpoint);
        };
        let endpoint = self
            .server
            .endpoint("revocation_endpoint", Some(endpoint))?;
        let (token, hint) = match tokens.refresh_token() {
            Some(refresh_token) => (refresh_token, "refresh_token"),
            None => (tokens.access_token(), "access_token"),
        };
        revocation::revoke(
            &self.client,
            &endpoint,
            &self.auth,
            &self.client_id,
            token,
            hint,
        )
        .await?;
        Ok(Revocation::Revoked)
    }

    /// Send a token request for `grant`.
    async fn request(
        &self,
        grant: &exchange::Grant<'_>,
    ) -> Result<Map<String, Value>, SignInError> {
        exchange::request(
            &self.client,
            &self.token,
            &self.auth,
            &self.client_id,
            grant,
        )
        .await
    }

    /// The claims of the ID token among `members` once it passed every
    /// check (with `nonce` when one was sent); none when no ID token came
    /// or the provider is a plain OAuth one.
    async fn verified(
        &mut self,
        members: &Map<String, Value>,
        nonce: Option<&Nonce>,
    ) -> Result<Option<Map<String, Value>>, SignInError> {
        let id_token = members.get("id_token").and_then(Value::as_str);
        let (Some(id_token), Some(issuer)) = (id_token, &self.server.issuer) else {
            // None came, or a plain OAuth provider: nothing to check it against.
            return Ok(None);
        };
        let Some(keys) = &mut self.keys else {
            return Err(SignInError::CheckFailed(CheckFailed::IdToken(
                "the provider's metadata has no jwks_uri to check it against".into(),
            )));
        };
        let access_token = members
            .get("access_token")
            .and_then(Value::as_str)
            .unwrap_or_default();
        let expected = id_token::Expected {
            issuer,
            client_id: &self.client_id,
            secret: self.auth.secret(),
            nonce,
            metadata_algs: self
                .server
                .metadata
                .id_token_signing_alg_values_supported
                .as_deref(),
        };
        keys.verify(id_token, access_token, &expected)
            .await
            .map(Some)
    }

    /// `members` as [`Tokens`], with `expires_at` counted from now.
    fn tokens(&self, members: Map<String, Value>, claims: Option<Map<String, Value>>) -> Tokens {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        let expires_at = exchange::expires_at(&members, now);
        Tokens::new(members, expires_at, self.server.issuer.as_deref(), claims)
    }
}
