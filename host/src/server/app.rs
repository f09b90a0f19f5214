//! What a request gets, whatever connection or paste it came by: the `Host`
//! check (421), 410 once the flow is complete, the body limit (413), the
//! handler's answer with the security floor, the one-shot slot, and where
//! the browser is sent once the flow completes (303, or `Refresh` for the
//! bridge page's fetch). The handler is behind [`Handler`], so these rules
//! are tested without a process or a component. Paste-back
//! ([`paste`](super::paste)) is built on them.

use std::pin::Pin;
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use http::{HeaderValue, StatusCode};
use http_body_util::{BodyExt, Limited};
use oauth_callback_guest::http::MAX_BODY;
use tokio::sync::{SetOnce, oneshot, watch};

use super::limits::IO_TIMEOUT;
use super::responses::{
    Response, build_response, closing, declared_length, gone, handler_fault, is_html, plain,
    see_other, too_large, unavailable, with_refresh,
};
use super::slot::{Filled, OneShot};
use crate::authority::Authority;
use crate::result::CallbackResult;
use crate::runtime::{Fault, Runtime, wit};

/// The longest refusal reason of a handler said on the log, in characters.
const MAX_REFUSAL: usize = 200;

/// What became of one request the handler answered.
pub(super) struct Answer {
    /// What to send back.
    pub(super) response: Response,
    /// Whether it completed the flow (its result taken).
    pub(super) completed: bool,
    /// Why the handler refused it as a callback, escaped: said on the log
    /// for a browser's request (a pasted address is explained on its own).
    pub(super) refused: Option<String>,
}

impl From<Response> for Answer {
    fn from(response: Response) -> Self {
        Answer {
            response,
            completed: false,
            refused: None,
        }
    }
}
/// A [`Handler`]'s reply, on its way.
pub(crate) type Replying<'a> = Pin<Box<dyn Future<Output = Result<wit::Reply, Fault>> + Send + 'a>>;

/// What answers a request: the sandboxed component ([`Runtime`]) in a
/// running server; the handler crate's native code in unit tests.
pub(crate) trait Handler: Send + Sync {
    /// The reply to `request` under `settings`.
    fn reply<'a>(&'a self, settings: &'a wit::Settings, request: &'a wit::Request) -> Replying<'a>;
}

impl Handler for Runtime {
    fn reply<'a>(&'a self, settings: &'a wit::Settings, request: &'a wit::Request) -> Replying<'a> {
        Box::pin(self.handle(settings, request))
    }
}

/// Everything a connection needs to answer requests.
pub(crate) struct App {
    /// Set once the handler is loaded; connections are accepted and TLS
    /// handshakes done meanwhile, and early requests wait for it.
    handler: SetOnce<Box<dyn Handler>>,
    settings: wit::Settings,
    authority: Authority,
    slot: OneShot,
    after: AfterCompletion,
}

impl std::fmt::Debug for App {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("App")
            .field("callback_path", &self.settings.callback_path)
            .finish_non_exhaustive()
    }
}

/// Where the browser is sent once the flow completes, instead of the page.
#[derive(Debug, Default)]
pub(crate) struct AfterCompletion {
    /// When it completed with credentials.
    pub(crate) success: Option<url::Url>,
    /// When the provider reported an `error`.
    pub(crate) error: Option<url::Url>,
}

impl App {
    /// An app whose first completed result goes to `result`; `stop` is set
    /// when it arrives. Requests wait until [`App::loaded`] gives it its handler.
    pub(crate) fn new(
        settings: wit::Settings,
        authority: Authority,
        after: AfterCompletion,
        result: oneshot::Sender<CallbackResult>,
        stop: Arc<watch::Sender<bool>>,
    ) -> Self {
        App {
            handler: SetOnce::new(),
            settings,
            authority,
            slot: OneShot::new(result, stop),
            after,
        }
    }

    /// Whether the flow is complete (callbacks get 410).
    pub(super) fn is_complete(&self) -> bool {
        self.slot.is_filled()
    }

    /// Whether nobody waits for a result any more (completions get 503).
    pub(super) fn is_stopping(&self) -> bool {
        self.slot.is_stopped()
    }

    /// Hand the loaded handler to the requests waiting for it.
    pub(crate) fn loaded(&self, handler: impl Handler + 'static) {
        let _ = self.handler.set(Box::new(handler));
    }

    /// The answer to `request`, whatever body type carries it.
    pub(super) async fn respond<B>(&self, request: hyper::Request<B>) -> Response
    where
        B: hyper::body::Body<Data = bytes::Bytes>,
        B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
    {
        let (parts, body) = request.into_parts();
        // A page load (not the bridge's fetch): it may be sent on after completion.
        // (Without Fetch Metadata, as from Safari before 16.4, a JSON body
        // tells the bridge's fetch: a page load cannot send one.)
        let navigation = parts
            .headers
            .get("sec-fetch-mode")
            .is_none_or(|mode| mode == "navigate")
            && !parts
                .headers
                .get(http::header::CONTENT_TYPE)
                .is_some_and(|kind| kind.as_bytes().starts_with(b"application/json"));
        if let Some(refused) = self.misdirected(&parts.headers, &parts.uri) {
            return refused;
        }
        if parts.uri.path() == self.settings.callback_path && self.slot.is_filled() {
            return gone();
        }
        if declared_length(&parts.headers).is_some_and(|length| length > MAX_BODY as u64) {
            return too_large();
        }
        let body =
            match tokio::time::timeout(IO_TIMEOUT, Limited::new(body, MAX_BODY).collect()).await {
                Ok(Ok(collected)) => collected.to_bytes(),
                Ok(Err(e)) if e.is::<http_body_util::LengthLimitError>() => return too_large(),
                Ok(Err(_)) => return plain(StatusCode::BAD_REQUEST, "Bad Request"),
                Err(_) => return closing(StatusCode::REQUEST_TIMEOUT, "Request Timeout"),
            };
        let request = wit::Request {
            method: parts.method.as_str().into(),
            path: parts.uri.path().into(),
            query: parts.uri.query().map(Into::into),
            headers: parts
                .headers
                .iter()
                .map(|(name, value)| wit::Header {
                    name: name.as_str().into(),
                    value: value.as_bytes().to_vec(),
                })
                .collect(),
            body: body.into(),
        };
        let answer = self.answer(request, navigation).await;
        if let Some(why) = answer.refused {
            tracing::warn!("refused a callback: {why}; still waiting");
        }
        answer.response
    }

    /// The refusal of a request not addressed to this server: one `Host`
    /// and an absolute-form target's authority (RFC 9112 section 3.2.2)
    /// must name it.
    fn misdirected(&self, headers: &http::HeaderMap, uri: &http::Uri) -> Option<Response> {
        let mut hosts = headers.get_all(http::header::HOST).iter();
        let (host, second_host) = (hosts.next(), hosts.next());
        if second_host.is_some() {
            // RFC 9112 section 3.2: more than one Host is a bad request.
            return Some(plain(StatusCode::BAD_REQUEST, "Bad Request"));
        }
        let ours = |authority: &[u8]| self.authority.allows(authority);
        let target = uri.authority();
        if !host.is_some_and(|host| ours(host.as_bytes()))
            || target.is_some_and(|target| !ours(target.as_str().as_bytes()))
        {
            return Some(plain(
                StatusCode::MISDIRECTED_REQUEST,
                "Misdirected Request",
            ));
        }
        None
    }

    /// The handler's answer to `request`, and whether it completed the flow
    /// (its result taken). A `navigation` (a page load) that completes it is
    /// sent on to the configured redirect instead.
    pub(super) async fn answer(&self, request: wit::Request, navigation: bool) -> Answer {
        let handler = self.handler.wait().await;
        let reply = match handler.reply(&self.settings, &request).await {
            Ok(reply) => reply,
            Err(Fault::Busy) => return unavailable().into(),
            Err(e) => return handler_fault(&e.to_string()).into(),
        };
        // A handler's words, whatever they hold: one line, escaped, bounded.
        let refused = reply
            .refused
            .map(|why| crate::error::escaped_line(&why, MAX_REFUSAL));
        let response = match build_response(reply.response) {
            Ok(response) => response,
            Err(why) => return handler_fault(why).into(),
        };
        let Some(completion) = reply.completed else {
            return Answer {
                refused,
                ..response.into()
            };
        };
        let Some(result) = completed_result(completion) else {
            return handler_fault("completion params are not a JSON object").into();
        };
        let (method, path) = (result.method().to_string(), result.path().to_string());
        let target = match result.error() {
            Some(_) => &self.after.error,
            None => &self.after.success,
        };
        match self.slot.fill(result) {
            Filled::Taken => tracing::info!(%method, %path, "callback received"),
            Filled::AlreadyComplete => return gone().into(),
            Filled::Stopping => return unavailable().into(),
        }
        // A page (not JSON) goes on to the target: a page load by a 303, the
        // bridge page's fetch by a `Refresh` its script follows.
        let response = match target.as_ref().filter(|_| is_html(&response)) {
            Some(target) if navigation => see_other(target),
            Some(target) => with_refresh(response, target),
            None => response,
        };
        Answer {
            completed: true,
            ..response.into()
        }
    }

    /// The answer to a plain-HTTP request on a TLS server: `308` to the same
    /// URL over `https://`, for a `Host` naming this server (else `421`).
    pub(super) fn to_https<B>(&self, request: &hyper::Request<B>) -> Response {
        if let Some(refused) = self.misdirected(request.headers(), request.uri()) {
            return refused;
        }
        let host = request.headers().get(http::header::HOST);
        let path = request.uri().path_and_query().map_or("/", |p| p.as_str());
        let mut response = closing(StatusCode::PERMANENT_REDIRECT, "Permanent Redirect");
        let location = host
            .and_then(|host| host.to_str().ok())
            .and_then(|host| HeaderValue::from_str(&format!("https://{host}{path}")).ok());
        if let Some(location) = location {
            response
                .headers_mut()
                .insert(http::header::LOCATION, location);
        }
        response
    }
}

fn completed_result(completion: wit::Completion) -> Option<CallbackResult> {
    let params = match serde_json::from_str(&completion.params) {
        Ok(serde_json::Value::Object(params)) => params,
        _ => return None,
    };
    let received_at = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    Some(CallbackResult::new(
        params,
        completion.method,
        completion.path,
        received_at,
    ))
}

#[cfg(test)]
pub(super) mod tests {
    use bytes::Bytes;
    use http_body_util::Full;
    use oauth_callback_guest::http as guest;

    use super::*;

    /// The handler crate's own code, called natively: the rules under test
    /// are the host's, the answers the default handler's.
    pub(in crate::server) struct Native;

    impl Handler for Native {
        fn reply<'a>(
            &'a self,
            settings: &'a wit::Settings,
            request: &'a wit::Request,
        ) -> Replying<'a> {
            let settings = guest::Settings {
                callback_path: settings.callback_path.clone(),
                expected_state: settings.expected_state.clone(),
                expected_issuer: settings.expected_issuer.clone(),
                issuer_required: settings.issuer_required,
                form_post_only: settings.form_post_only,
                ..guest::Settings::default()
            };
            let request = guest::Request {
                method: request.method.clone(),
                path: request.path.clone(),
                query: request.query.clone(),
                headers: request
                    .headers
                    .iter()
                    .map(|h| guest::Header {
                        name: h.name.clone(),
                        value: h.value.clone(),
                    })
                    .collect(),
                body: request.body.clone(),
            };
            let reply = oauth_callback_guest::handle(&settings, &request);
            let response = wit::Response {
                status: reply.response.status,
                headers: (reply.response.headers.into_iter())
                    .map(|h| wit::Header {
                        name: h.name,
                        value: h.value,
                    })
                    .collect(),
                body: reply.response.body,
            };
            let completed = reply.completed.map(|c| wit::Completion {
                params: c.params,
                method: c.method,
                path: c.path,
            });
            Box::pin(std::future::ready(Ok(wit::Reply {
                response,
                completed,
                refused: reply.refused,
            })))
        }
    }

    pub(in crate::server) const HOST: &str = "127.0.0.1:8080";

    /// An app for `http://127.0.0.1:8080/callback` on the native handler,
    /// the receiving end of its result, and its stop signal.
    pub(in crate::server) fn app(
        after: AfterCompletion,
        expected_state: Option<&str>,
    ) -> (
        App,
        oneshot::Receiver<CallbackResult>,
        Arc<watch::Sender<bool>>,
    ) {
        let settings = wit::Settings {
            callback_path: "/callback".into(),
            success_page: None,
            error_page: None,
            expected_state: expected_state.map(Into::into),
            expected_issuer: None,
            issuer_required: false,
            form_post_only: false,
        };
        let authority = Authority::new(&[HOST.parse().unwrap()], false, false);
        let (result, waiter) = oneshot::channel();
        let stop = Arc::new(watch::channel(false).0);
        let app = App::new(settings, authority, after, result, stop.clone());
        app.loaded(Native);
        (app, waiter, stop)
    }

    fn get(target: &str) -> hyper::Request<Full<Bytes>> {
        hyper::Request::get(target)
            .header("host", HOST)
            .body(Full::default())
            .unwrap()
    }

    /// The bridge page's fetch of `fragment`, to `target`.
    fn bridge_post(target: &str, fragment: &str) -> hyper::Request<Full<Bytes>> {
        let body = oauth_callback_guest::params::bridge_post_body(fragment);
        hyper::Request::post(target)
            .header("host", HOST)
            .header("content-type", "application/json")
            .header("sec-fetch-mode", "cors")
            .header("sec-fetch-site", "same-origin")
            .body(Full::new(Bytes::from(body)))
            .unwrap()
    }

    #[tokio::test]
    async fn requests_for_another_host_are_421_and_two_hosts_400() {
        let (app, _waiter, _stop) = app(AfterCompletion::default(), None);
        let foreign = hyper::Request::get("/callback?code=x")
            .header("host", "evil.example")
            .body(Full::<Bytes>::default())
            .unwrap();
        assert_eq!(app.respond(foreign).await.status(), 421);
        let absolute = hyper::Request::get("http://evil.example/callback?code=x")
            .header("host", HOST)
            .body(Full::<Bytes>::default())
            .unwrap();
        assert_eq!(app.respond(absolute).await.status(), 421);
        let two = hyper::Request::get("/callback?code=x")
            .header("host", HOST)
            .header("host", HOST)
            .body(Full::<Bytes>::default())
            .unwrap();
        assert_eq!(app.respond(two).await.status(), 400);
    }

    #[tokio::test]
    async fn the_first_completion_is_taken_and_later_callbacks_get_410() {
        let (app, mut waiter, stop) = app(AfterCompletion::default(), None);
        assert_eq!(app.respond(get("/health")).await.status(), 200);
        assert_eq!(app.respond(get("/callback?code=first")).await.status(), 200);
        assert!(*stop.borrow(), "the server is told to stop");
        assert_eq!(waiter.try_recv().unwrap().code(), Some("first"));
        assert_eq!(
            app.respond(get("/callback?code=second")).await.status(),
            410
        );
        assert_eq!(
            app.respond(get("/health")).await.status(),
            200,
            "only the route"
        );
    }

    #[tokio::test]
    async fn once_nobody_waits_a_completion_is_503_and_not_taken() {
        let (app, waiter, stop) = app(AfterCompletion::default(), None);
        drop(waiter);
        assert_eq!(app.respond(get("/callback?code=late")).await.status(), 503);
        assert!(!*stop.borrow());
    }

    #[tokio::test]
    async fn a_declared_body_over_the_limit_is_413_without_reading_it() {
        let (app, _waiter, _stop) = app(AfterCompletion::default(), None);
        let large = hyper::Request::post("/callback")
            .header("host", HOST)
            .header("content-length", (MAX_BODY + 1).to_string())
            .body(Full::<Bytes>::default())
            .unwrap();
        let response = app.respond(large).await;
        assert_eq!(response.status(), 413);
        assert_eq!(response.headers()["connection"], "close");
    }

    #[tokio::test]
    async fn a_page_load_is_sent_on_and_the_bridge_fetch_gets_refresh() {
        let target = url::Url::parse("https://app.example/done").unwrap();
        let after = || AfterCompletion {
            success: Some(target.clone()),
            error: None,
        };
        let (app_a, _waiter, _stop) = app(after(), None);
        let page_load = app_a.respond(get("/callback?code=x")).await;
        assert_eq!(page_load.status(), 303);
        assert_eq!(page_load.headers()["location"], "https://app.example/done#");
        let (app_b, _waiter, _stop) = app(after(), None);
        let fetch = app_b
            .respond(bridge_post("/callback", "access_token=t"))
            .await;
        assert_eq!(fetch.status(), 200);
        assert_eq!(
            fetch.headers()["refresh"],
            "0;url=https://app.example/done#"
        );
    }

    #[tokio::test]
    async fn the_bridge_post_keeps_the_query_and_may_not_contradict_it() {
        let (app, mut waiter, _stop) = app(AfterCompletion::default(), Some("S"));
        let contradicting = bridge_post("/callback?state=S", "state=X&access_token=t");
        assert_eq!(app.respond(contradicting).await.status(), 400);
        let matching = bridge_post("/callback?state=S", "access_token=t&token_type=Bearer");
        assert_eq!(app.respond(matching).await.status(), 200);
        let result = waiter.try_recv().unwrap();
        assert_eq!(
            (result.state(), result.param("access_token")),
            (Some("S"), Some("t"))
        );
    }

    #[test]
    fn plain_http_on_a_tls_server_is_sent_to_https() {
        let (app, _waiter, _stop) = app(AfterCompletion::default(), None);
        let response = app.to_https(&get("/callback?code=x"));
        assert_eq!(response.status(), 308);
        assert_eq!(
            response.headers()["location"],
            "https://127.0.0.1:8080/callback?code=x"
        );
    }
}
