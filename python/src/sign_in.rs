//! `SignInCall`: one whole sign-in (`oauth_callback.sign_in`), token
//! (`get_token`) or sign-out (`sign_out`) run on a runtime and a thread of
//! its own, its log records sent to the caller's
//! logger, the GIL released while it runs, Ctrl-C (or asyncio's
//! cancellation, through `cancel()`) ending it at once with nothing left
//! listening.

use std::sync::Mutex;
use std::sync::mpsc;
use std::time::Instant;

use oauth_callback::token_cache::{FileStore, KeyringStore, MemoryStore};
use oauth_callback::{Config, Revocation, SignIn, SignInError, TokenSource};
use pyo3::exceptions::PyRuntimeError;
use pyo3::prelude::*;
use tokio::sync::oneshot;

use crate::courier::{self, Courier, Queue};
use crate::errors::{os_error, sign_in_error};
use crate::exit::detach;
use crate::lock;
use crate::options::Options;
use crate::waiting;

/// The sign-in's own keyword arguments, as the package hands them over.
#[derive(FromPyObject)]
#[pyo3(from_item_all)]
pub struct SignInOptions {
    issuer: Option<String>,
    resource: Option<String>,
    authorization_endpoint: Option<String>,
    token_endpoint: Option<String>,
    client_id: Option<String>,
    client_name: String,
    client_secret: Option<String>,
    scopes: Option<Vec<String>>,
    params: Vec<(String, String)>,
    form_post: bool,
    par: bool,
    device: bool,
    open_browser: Opener,
    browser_command: Option<String>,
}

/// `open_browser=`: whether to open the browser, or what to call with the
/// authorization request's URL instead.
#[derive(FromPyObject)]
enum Opener {
    Switch(bool),
    Call(Py<PyAny>),
}

impl SignInOptions {
    /// The library's sign-in, checked (nothing is sent yet).
    fn sign_in(self) -> PyResult<SignIn> {
        let invalid = |why: &str| sign_in_error(&SignInError::InvalidSetting(why.into()));
        let client_id = self.client_id.clone().unwrap_or_default();
        let mut sign_in = match (
            self.issuer,
            self.resource,
            self.authorization_endpoint,
            self.token_endpoint,
        ) {
            (Some(issuer), resource, None, None) => {
                let sign_in = SignIn::issuer(issuer, &client_id);
                match resource {
                    Some(resource) => sign_in.with_resource(resource),
                    None => sign_in,
                }
            }
            (None, Some(resource), None, None) => SignIn::resource(resource, &client_id),
            (None, None, Some(authorization), Some(token)) => {
                SignIn::endpoints(authorization, token, &client_id)
            }
            (None, None, None, None) => {
                return Err(invalid(
                    "give issuer=, resource=, or authorization_endpoint= and token_endpoint=",
                ));
            }
            (_, _, Some(_), None) | (_, _, None, Some(_)) => {
                return Err(invalid(
                    "authorization_endpoint= and token_endpoint= go together",
                ));
            }
            _ => {
                return Err(invalid(
                    "authorization_endpoint= and token_endpoint= are for a provider without \
                     metadata: not with issuer= or resource=",
                ));
            }
        };
        if self.client_id.is_none() {
            sign_in = sign_in.register(self.client_name);
        }
        if let Some(secret) = self.client_secret {
            sign_in = sign_in.client_secret(secret);
        }
        if let Some(scopes) = self.scopes {
            sign_in = sign_in.scopes(scopes);
        }
        for (name, value) in self.params {
            sign_in = sign_in.param(name, value);
        }
        sign_in = sign_in
            .form_post(self.form_post)
            .par(self.par)
            .device(self.device);
        sign_in = match self.open_browser {
            Opener::Switch(open) => sign_in.open_browser(open),
            Opener::Call(open) => sign_in.open_with(move |url| {
                Python::attach(|py| {
                    if let Err(e) = open.call1(py, (url,)) {
                        e.write_unraisable(py, None);
                    }
                });
            }),
        };
        if let Some(command) = self.browser_command {
            sign_in = sign_in.browser_command(command);
        }
        sign_in.check().map_err(|e| sign_in_error(&e))?;
        Ok(sign_in)
    }
}

/// `get_token`'s own keyword arguments.
#[derive(FromPyObject)]
#[pyo3(from_item_all)]
pub struct TokenOptions {
    /// `min_valid=`, in seconds.
    min_valid: f64,
    /// `cache=`: `"file"`, `"keyring"`, or `None` to keep nothing.
    cache: Option<String>,
}

impl TokenOptions {
    /// The token source of `sign_in` these options describe; a sign-out's
    /// (`everywhere`) reads the keyring's entries and the files' alike.
    fn source(self, sign_in: SignIn, everywhere: bool) -> PyResult<TokenSource> {
        let invalid = |why: String| sign_in_error(&SignInError::InvalidSetting(why));
        let min_valid = std::time::Duration::try_from_secs_f64(self.min_valid).map_err(|_| {
            invalid(format!(
                "min_valid must be seconds, at least 0, not {}",
                self.min_valid
            ))
        })?;
        let files = || FileStore::of_user().map_err(|e| sign_in_error(&e));
        let source = match self.cache.as_deref() {
            None => TokenSource::with_store(sign_in, MemoryStore::new()),
            Some("file") if !everywhere => TokenSource::with_store(sign_in, files()?),
            Some("file" | "keyring") => {
                TokenSource::with_store(sign_in, KeyringStore::new(files()?))
            }
            Some(other) => {
                return Err(invalid(format!(
                    "cache must be \"file\", \"keyring\" or None, not {other:?}"
                )));
            }
        };
        Ok(source.min_valid(min_valid))
    }
}

/// What a call does.
enum Job {
    /// `sign_in`: a sign-in on the receiver.
    SignIn(SignIn, Config),
    /// `get_token`: a valid token, signed in for on the receiver if need be.
    Token(TokenSource, Config),
    /// `sign_out`: revoke and forget.
    SignOut(TokenSource),
}

impl Job {
    /// Run it: the JSON line of its answer.
    async fn run(self) -> Result<String, SignInError> {
        match self {
            Job::SignIn(sign_in, config) => Ok(sign_in.run(config).await?.to_json_line()),
            Job::Token(source, config) => Ok(source.token(config).await?.to_json_line()),
            Job::SignOut(source) => {
                let revocation = match source.sign_out().await? {
                    Revocation::Revoked => "revoked",
                    Revocation::NoEndpoint => "no-revocation-endpoint",
                    Revocation::NothingCached => "nothing-cached",
                };
                Ok(serde_json::Value::from(revocation).to_string())
            }
        }
    }
}

/// One sign-in, token or sign-out, made by the package, run once.
#[pyclass(frozen, module = "oauth_callback._native")]
pub struct SignInCall {
    job: Mutex<Option<(Job, Py<PyAny>)>>,
    cancel: Mutex<Option<oneshot::Sender<()>>>,
}

#[pymethods]
impl SignInCall {
    /// A sign-in with `options` (its own arguments) on a receiver with
    /// `receiver` (the server's); with `token`, `get_token`'s (its own
    /// arguments too); without a receiver, a sign-out. Raises
    /// `SignInConfigError` or `ConfigError` for a bad setting, before
    /// anything is sent.
    #[new]
    #[pyo3(signature = (options, receiver, logger, token=None))]
    fn new(
        options: SignInOptions,
        receiver: Option<Options>,
        logger: Py<PyAny>,
        token: Option<TokenOptions>,
    ) -> PyResult<SignInCall> {
        let sign_in = options.sign_in()?;
        let job = match (receiver, token) {
            (Some(receiver), None) => Job::SignIn(sign_in, receiver.prepare()?.config),
            (Some(receiver), Some(token)) => {
                Job::Token(token.source(sign_in, false)?, receiver.prepare()?.config)
            }
            (None, Some(token)) => Job::SignOut(token.source(sign_in, true)?),
            (None, None) => {
                return Err(PyRuntimeError::new_err(
                    "a sign-out needs its cache's options",
                ));
            }
        };
        Ok(SignInCall {
            job: Mutex::new(Some((job, logger))),
            cancel: Mutex::new(None),
        })
    }

    /// Run the sign-in: the token response's dict (see `sign_in`), or the
    /// `SignInError` that ended it; `KeyboardInterrupt` on Ctrl-C.
    fn run(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        let (job, logger) = lock(&self.job)
            .take()
            .ok_or_else(|| PyRuntimeError::new_err("this sign-in has run already"))?;
        let level: i32 = logger.call_method0(py, "getEffectiveLevel")?.extract(py)?;
        let (queue, dispatch) = Queue::new(courier::level_filter(level));
        let runtime = crate::server::runtime(&dispatch)
            .map_err(|e| os_error(&e, format!("cannot start the sign-in's threads: {e}")))?;
        let courier = Courier::start(queue, logger)
            .map_err(|e| os_error(&e, format!("cannot start the log thread: {e}")))?;
        let (cancel, cancelled) = oneshot::channel();
        *lock(&self.cancel) = Some(cancel);
        let (done, answer) = mpsc::sync_channel(1);
        let worker = std::thread::Builder::new()
            .name("oauth-callback sign-in".into())
            .spawn(move || {
                let outcome = tracing::dispatcher::with_default(&dispatch, || {
                    runtime.block_on(async {
                        tokio::select! {
                            outcome = job.run() => Some(outcome),
                            _ = cancelled => None,
                        }
                    })
                });
                // The answer first: the receiver's teardown is not the caller's wait.
                let _ = done.send(outcome);
                runtime.shutdown_timeout(std::time::Duration::from_millis(100));
            })?;
        let waited = waiting::until(py, None, move |until| {
            answer
                .recv_timeout(until.saturating_duration_since(Instant::now()))
                .ok()
        });
        // Interrupted: stop it now, and wait until nothing is left listening.
        self.cancel();
        detach(py, || {
            if waited.is_err() {
                let _ = worker.join();
            }
            courier.close(true);
        });
        match waited? {
            Some(Some(Ok(json))) => {
                let loads = py.import("json")?.getattr("loads")?;
                Ok(loads.call1((json,))?.unbind())
            }
            Some(Some(Err(e))) => Err(sign_in_error(&e)),
            _ => Err(PyRuntimeError::new_err("the sign-in was cancelled")),
        }
    }

    /// End a running sign-in (asyncio's cancellation): its `run` returns.
    fn cancel(&self) {
        if let Some(cancel) = lock(&self.cancel).take() {
            let _ = cancel.send(());
        }
    }
}
