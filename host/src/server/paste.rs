//! Paste-back: the address a browser on another machine ended at (the page
//! that failed to load, `#fragment` included), pasted where the program
//! runs, completes the flow as that browser would have: the same requests,
//! through the same handler, under the same one-shot rule.

use std::fmt;
use std::sync::Arc;

use oauth_callback_guest::http::MAX_BODY;

use oauth_callback_guest::params::bridge_post_body;

use super::app::App;
use super::limits::MAX_HEAD;
use crate::runtime::wit;

/// Longest address taken: a request head's worth of query and a body's
/// worth of fragment, what a browser could have sent.
pub const MAX_PASTED_URL: usize = MAX_HEAD + MAX_BODY;

/// What became of a pasted address; its [`Display`](fmt::Display) is one
/// sentence for the user, never quoting the address's parameters.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Pasted {
    /// It completed the flow: the wait returns its result.
    Completed,
    /// It is not an address of this server's callback route.
    NotTheCallback(Mismatch),
    /// It holds no sign-in result (no code, token or error): the provider's
    /// own page, say, rather than the one it sent the browser to.
    Incomplete,
    /// The handler refused it, as it would have refused the browser.
    Refused {
        /// The HTTP status the browser would have got (e.g. 400).
        status: u16,
        /// The handler's reason code, when it gives one (the default
        /// handler's `unverified`: the `state` or `iss` is not the expected one).
        reason: Option<String>,
    },
    /// Another callback completed the flow first.
    AlreadyComplete,
    /// The flow has ended (timeout, signal, shutdown): nothing was taken.
    Stopping,
}

/// How a pasted address differs from the redirect URI.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Mismatch {
    /// It does not parse as an absolute URL.
    NotAUrl,
    /// It is longer than [`MAX_PASTED_URL`].
    TooLong,
    /// Another scheme (`http` for `https`, or the reverse).
    Scheme,
    /// Another host or port, or a user name in it.
    Authority,
    /// Another path.
    Path,
}

impl fmt::Display for Pasted {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Pasted::Completed => f.write_str("the pasted address completed the sign-in"),
            Pasted::NotTheCallback(mismatch) => write!(f, "{mismatch}"),
            Pasted::Incomplete => f.write_str(
                "the pasted address holds no sign-in result (no code, token or error): \
                 paste the address the browser ended at after signing in",
            ),
            Pasted::Refused {
                reason: Some(reason),
                ..
            } if reason == "unverified" => f.write_str(
                "the pasted address was refused: its state or issuer is not this sign-in's \
                 (an older attempt?)",
            ),
            Pasted::Refused { status, .. } => {
                write!(f, "the pasted address was refused (HTTP {status})")
            }
            Pasted::AlreadyComplete => f.write_str("the sign-in is already complete"),
            Pasted::Stopping => f.write_str("the sign-in has ended; nothing was taken"),
        }
    }
}

impl fmt::Display for Mismatch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Mismatch::NotAUrl => {
                "that is not an address: paste the whole address the browser \
                                  ended at, starting with http"
            }
            Mismatch::TooLong => "that address is too long to be a callback",
            Mismatch::Scheme => "that address has another scheme than the redirect URI",
            Mismatch::Authority => "that address names another host or port than the redirect URI",
            Mismatch::Path => "that address has another path than the redirect URI",
        })
    }
}

/// A pasted address found to be this server's callback.
struct Callback {
    /// `host[:port]`, what the browser sent as `Host`.
    authority: String,
    /// `scheme://host[:port]`, the bridge page's origin.
    origin: String,
    path: String,
    query: Option<String>,
    fragment: Option<String>,
}

/// Completes a running server's flow from pasted addresses, from any
/// thread or task; cheap to clone. Get one from
/// [`RunningServer::paste_back`](crate::RunningServer::paste_back) or
/// [`AsyncRunningServer::paste_back`](crate::AsyncRunningServer::paste_back).
#[derive(Clone, Debug)]
pub struct PasteBack {
    app: Arc<App>,
    /// The redirect URI, whose scheme, host, port and path a pasted
    /// address must have.
    redirect_uri: Arc<url::Url>,
    /// The server's runtime, where the handler runs.
    runtime: tokio::runtime::Handle,
}

impl PasteBack {
    /// For `app`, registered as `redirect_uri`, served on `runtime`.
    pub(crate) fn new(
        app: Arc<App>,
        redirect_uri: Arc<url::Url>,
        runtime: tokio::runtime::Handle,
    ) -> Self {
        PasteBack {
            app,
            redirect_uri,
            runtime,
        }
    }

    /// Complete the flow from `pasted`, the address the browser ended at
    /// (scheme, host, port and path those of the redirect URI; the query
    /// and any `#fragment` as the provider gave them), as the browser would
    /// have: its request, then, when that leaves the flow pending, the
    /// bridge page's post of the fragment, through the same handler, with
    /// the same checks and one-shot rule. Blocks the calling thread.
    ///
    /// # Panics
    ///
    /// Inside async code (a tokio runtime), where blocking could wait for
    /// itself: use [`complete_from_url_async`](Self::complete_from_url_async) there.
    pub fn complete_from_url(&self, pasted: &str) -> Pasted {
        assert!(
            tokio::runtime::Handle::try_current().is_err(),
            "PasteBack::complete_from_url blocks: in async code use complete_from_url_async"
        );
        let (sender, answer) = std::sync::mpsc::sync_channel(1);
        let paste = self.paste(pasted);
        self.runtime.spawn(async move {
            let _ = sender.send(paste.await);
        });
        // The runtime is gone when the server has shut down.
        answer.recv().unwrap_or(Pasted::Stopping)
    }

    /// [`complete_from_url`](Self::complete_from_url) for async code, on any runtime.
    pub async fn complete_from_url_async(&self, pasted: &str) -> Pasted {
        self.runtime
            .spawn(self.paste(pasted))
            .await
            .unwrap_or(Pasted::Stopping)
    }

    /// The paste, to run on the server's runtime.
    fn paste(&self, pasted: &str) -> impl Future<Output = Pasted> + Send + 'static {
        let (app, redirect_uri) = (self.app.clone(), self.redirect_uri.clone());
        let pasted = pasted.to_string();
        async move { complete(&app, &pasted, &redirect_uri).await }
    }
}

/// Complete the flow from `pasted`, an address of `redirect_uri`: the
/// request the browser made, then, when that leaves the flow pending and
/// the address has a fragment, the bridge page's post of it.
async fn complete(app: &App, pasted: &str, redirect_uri: &url::Url) -> Pasted {
    let callback = match callback(pasted.trim(), redirect_uri) {
        Ok(callback) => callback,
        Err(mismatch) => return Pasted::NotTheCallback(mismatch),
    };
    if app.is_complete() {
        return Pasted::AlreadyComplete;
    }
    let mut headers = vec![
        header("host", &callback.authority),
        header("accept", "application/json"),
    ];
    let visit = wit::Request {
        method: "GET".into(),
        path: callback.path.clone(),
        query: callback.query.clone(),
        headers: headers.clone(),
        body: Vec::new(),
    };
    let pasted = outcome(app, visit).await;
    let Some(fragment) = callback.fragment.filter(|_| pasted == Pasted::Incomplete) else {
        return pasted;
    };
    headers.extend([
        header("origin", &callback.origin),
        header("sec-fetch-site", "same-origin"),
        header("content-type", "application/json"),
    ]);
    // To the address, query included, as the bridge page posts it.
    let post = wit::Request {
        method: "POST".into(),
        path: callback.path,
        query: callback.query,
        headers,
        body: bridge_post_body(&fragment).into_bytes(),
    };
    outcome(app, post).await
}

/// Answer `request` and say what became of it.
async fn outcome(app: &App, request: wit::Request) -> Pasted {
    let answer = app.answer(request, false).await;
    let (response, completed) = (answer.response, answer.completed);
    let status = response.status();
    // The slot, not the status, says whether the flow is over: a busy
    // or a custom handler may answer 503 or 410 too.
    match status.as_u16() {
        _ if completed => Pasted::Completed,
        _ if app.is_complete() => Pasted::AlreadyComplete,
        _ if app.is_stopping() => Pasted::Stopping,
        _ if status.is_success() => Pasted::Incomplete,
        status => Pasted::Refused {
            status,
            reason: reason(response.into_body()).await,
        },
    }
}

/// `pasted` as an address of `redirect_uri`: the same scheme, host, port
/// and path, and no more than a browser could have sent.
fn callback(pasted: &str, redirect_uri: &url::Url) -> Result<Callback, Mismatch> {
    if pasted.len() > MAX_PASTED_URL {
        return Err(Mismatch::TooLong);
    }
    let url = url::Url::parse(pasted).map_err(|_| Mismatch::NotAUrl)?;
    if url.query().is_some_and(|query| query.len() > MAX_HEAD) {
        return Err(Mismatch::TooLong);
    }
    if url.scheme() != redirect_uri.scheme() {
        return Err(Mismatch::Scheme);
    }
    if !url.username().is_empty()
        || url.password().is_some()
        || url.host() != redirect_uri.host()
        || url.port_or_known_default() != redirect_uri.port_or_known_default()
    {
        return Err(Mismatch::Authority);
    }
    if url.path() != redirect_uri.path() {
        return Err(Mismatch::Path);
    }
    Ok(Callback {
        authority: url[url::Position::BeforeHost..url::Position::AfterPort].to_string(),
        origin: url.origin().ascii_serialization(),
        path: url.path().to_string(),
        query: url.query().map(Into::into),
        fragment: url.fragment().filter(|f| !f.is_empty()).map(Into::into),
    })
}

/// The `error` code of a JSON refusal (`{"ok":false,"error":"unverified"}`).
async fn reason(body: http_body_util::Full<bytes::Bytes>) -> Option<String> {
    use http_body_util::BodyExt;
    let bytes = body.collect().await.ok()?.to_bytes();
    let value: serde_json::Value = serde_json::from_slice(&bytes).ok()?;
    Some(value.get("error")?.as_str()?.to_string())
}

fn header(name: &str, value: &str) -> wit::Header {
    wit::Header {
        name: name.into(),
        value: value.as_bytes().to_vec(),
    }
}

#[cfg(test)]
mod tests {
    use super::super::app::AfterCompletion;
    use super::super::app::tests::app;
    use super::*;

    #[tokio::test]
    async fn a_pasted_address_goes_through_the_same_rules() {
        let (app, mut waiter, _stop) = app(AfterCompletion::default(), Some("S"));
        let redirect_uri = url::Url::parse("http://127.0.0.1:8080/callback").unwrap();
        let paste = |text: &'static str| complete(&app, text, &redirect_uri);
        assert_eq!(
            paste("http://127.0.0.1:8080/other?code=x").await,
            Pasted::NotTheCallback(Mismatch::Path)
        );
        assert_eq!(
            paste("http://127.0.0.1:8080/callback?state=S").await,
            Pasted::Incomplete
        );
        assert!(matches!(
            paste("http://127.0.0.1:8080/callback?code=x&state=other").await,
            Pasted::Refused { status: 400, .. }
        ));
        assert_eq!(
            paste("http://127.0.0.1:8080/callback?state=S#access_token=t").await,
            Pasted::Completed
        );
        assert_eq!(waiter.try_recv().unwrap().param("access_token"), Some("t"));
        assert_eq!(
            paste("http://127.0.0.1:8080/callback?code=x&state=S").await,
            Pasted::AlreadyComplete
        );
    }
}
