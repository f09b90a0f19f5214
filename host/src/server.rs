//! The HTTP(S) server: accept loop, TLS handshakes, hyper, request limits,
//! the one-shot slot and the stop (see [`connection`] for what becomes of
//! each connection then). It never parses parameters: every
//! request goes to the handler as it came.

use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use http::{HeaderName, HeaderValue, StatusCode};
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{SetOnce, oneshot, watch};
use tokio::task::JoinSet;

use oauth_callback_guest::http::MAX_BODY;
use oauth_callback_guest::security::{BASE_POLICY, FRAMING_POLICY, HEADERS};

use crate::authority::Authority;
use crate::result::CallbackResult;
use crate::runtime::{Fault, Runtime, wit};

mod connection;
mod connections;
mod paste;
mod schemes;

pub use paste::{MAX_PASTED_URL, Mismatch, PasteBack, Pasted};

use connections::Connections;
pub(crate) use schemes::Schemes;

/// Largest request head (request line and headers) buffered.
pub const MAX_HEAD: usize = 16 << 10;
/// Time allowed for a TLS handshake and for each request head.
pub const IO_TIMEOUT: Duration = Duration::from_secs(10);
/// How long in-flight connections may take to finish after the flow completes.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(2);

type Response = hyper::Response<Full<Bytes>>;

/// Everything a connection needs to answer requests.
pub(crate) struct App {
    /// Set once the handler is loaded; connections are accepted and TLS
    /// handshakes done meanwhile, and early requests wait for it.
    runtime: SetOnce<Runtime>,
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
            runtime: SetOnce::new(),
            settings,
            authority,
            slot: OneShot::new(result, stop),
            after,
        }
    }

    /// Hand the loaded handler to the requests waiting for it.
    pub(crate) fn loaded(&self, runtime: Runtime) {
        let _ = self.runtime.set(runtime);
    }

    async fn respond(&self, request: hyper::Request<Incoming>) -> Response {
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
        self.answer(request, navigation).await.0
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
    async fn answer(&self, request: wit::Request, navigation: bool) -> (Response, bool) {
        let runtime = self.runtime.wait().await;
        let reply = match runtime.handle(&self.settings, &request).await {
            Ok(reply) => reply,
            Err(Fault::Busy) => return (unavailable(), false),
            Err(e) => return (handler_fault(&e.to_string()), false),
        };
        let response = match build_response(reply.response) {
            Ok(response) => response,
            Err(why) => return (handler_fault(why), false),
        };
        let Some(completion) = reply.completed else {
            return (response, false);
        };
        let Some(result) = completed_result(completion) else {
            return (
                handler_fault("completion params are not a JSON object"),
                false,
            );
        };
        let (method, path) = (result.method.clone(), result.path.clone());
        let target = match result.error() {
            Some(_) => &self.after.error,
            None => &self.after.success,
        };
        match self.slot.fill(result) {
            Filled::Taken => tracing::info!(%method, %path, "callback received"),
            Filled::AlreadyComplete => return (gone(), false),
            Filled::Stopping => return (unavailable(), false),
        }
        // A page (not JSON) goes on to the target: a page load by a 303, the
        // bridge page's fetch by a `Refresh` its script follows.
        match target.as_ref().filter(|_| is_html(&response)) {
            Some(target) if navigation => (see_other(target), true),
            Some(target) => (with_refresh(response, target), true),
            None => (response, true),
        }
    }
}

/// Holds the first completed result until it is handed over, then signals stop.
struct OneShot {
    state: Mutex<SlotState>,
    stop: Arc<watch::Sender<bool>>,
}

enum SlotState {
    /// No result yet; the waiter listens on the other end.
    Open(oneshot::Sender<CallbackResult>),
    /// A result was handed over.
    Complete,
    /// The waiter left before any result came.
    Stopped,
}

/// What became of a completed result offered to the [`OneShot`].
#[derive(Debug, PartialEq, Eq)]
enum Filled {
    /// It is the result of the flow: the waiter has it.
    Taken,
    /// Another result came first.
    AlreadyComplete,
    /// Nobody waits any more (the timeout passed, a signal arrived or the
    /// server is stopping): nothing was taken.
    Stopping,
}

impl OneShot {
    /// Hand over `result` if it is the first and someone still waits.
    fn fill(&self, result: CallbackResult) -> Filled {
        let mut state = self.lock();
        let (next, filled) = match std::mem::replace(&mut *state, SlotState::Stopped) {
            SlotState::Open(sender) => match sender.send(result) {
                Ok(()) => (SlotState::Complete, Filled::Taken),
                Err(_) => (SlotState::Stopped, Filled::Stopping),
            },
            SlotState::Complete => (SlotState::Complete, Filled::AlreadyComplete),
            SlotState::Stopped => (SlotState::Stopped, Filled::Stopping),
        };
        *state = next;
        if filled == Filled::Taken {
            self.stop.send_replace(true);
        }
        filled
    }

    fn new(result: oneshot::Sender<CallbackResult>, stop: Arc<watch::Sender<bool>>) -> Self {
        OneShot {
            state: Mutex::new(SlotState::Open(result)),
            stop,
        }
    }

    /// Whether the flow is complete (later callbacks get 410).
    fn is_filled(&self) -> bool {
        matches!(*self.lock(), SlotState::Complete)
    }

    /// Whether nobody waits for a result any more (the timeout passed, a
    /// signal arrived or the server is stopping).
    fn is_stopped(&self) -> bool {
        match &*self.lock() {
            SlotState::Open(sender) => sender.is_closed(),
            SlotState::Complete => false,
            SlotState::Stopped => true,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, SlotState> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// Serve every listener until `stop` turns true, then let in-flight
/// connections finish (see [`connection`] for which). The connection limit
/// is shared by all listeners.
pub(crate) async fn serve(
    listeners: Vec<TcpListener>,
    schemes: Schemes,
    app: Arc<App>,
    stop: watch::Receiver<bool>,
) {
    let connections = Arc::new(Connections::default());
    let schemes = Arc::new(schemes);
    let loops: Vec<_> = listeners
        .into_iter()
        .map(|listener| {
            let (schemes, app, connections) = (schemes.clone(), app.clone(), connections.clone());
            tokio::spawn(accept_loop(
                listener,
                schemes,
                app,
                connections,
                stop.clone(),
            ))
        })
        .collect();
    for accept in loops {
        let _ = accept.await;
    }
}

/// Accept connections on one listener until `stop` turns true; then answer
/// those still waiting in its backlog (made before the stop: they get an
/// HTTP answer, not a reset) and give every connection the exit budget to
/// finish. What is left after it is closed.
async fn accept_loop(
    listener: TcpListener,
    schemes: Arc<Schemes>,
    app: Arc<App>,
    connections: Arc<Connections>,
    mut stop: watch::Receiver<bool>,
) {
    let mut open = Open {
        tasks: JoinSet::new(),
        schemes,
        app,
        connections,
        stop: stop.clone(),
    };
    loop {
        let stream = tokio::select! {
            _ = stopped(&mut stop) => break,
            accepted = listener.accept() => match accepted {
                Ok((stream, _peer)) => stream,
                Err(e) => {
                    // Out of descriptors and the like: back off instead of spinning.
                    tracing::warn!("accept failed: {e}");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
        };
        open.add(stream);
    }
    for stream in backlog(listener) {
        open.add(stream);
    }
    let tasks = &mut open.tasks;
    let finished = async { while tasks.join_next().await.is_some() {} };
    if tokio::time::timeout(DRAIN_TIMEOUT, finished).await.is_err() {
        tracing::debug!("connections still open after {DRAIN_TIMEOUT:?}; closing them");
    }
}

/// The connections a listener accepted, each on a task of its own.
struct Open {
    /// Dropping the set closes what is left.
    tasks: JoinSet<()>,
    schemes: Arc<Schemes>,
    app: Arc<App>,
    connections: Arc<Connections>,
    stop: watch::Receiver<bool>,
}

impl Open {
    /// Serve `stream`, if the connection limit lets it in.
    fn add(&mut self, stream: TcpStream) {
        while self.tasks.try_join_next().is_some() {}
        let Some(ticket) = self.connections.admit() else {
            tracing::warn!(
                "connection limit ({}) reached with every connection busy; refusing one",
                connections::MAX_CONNECTIONS
            );
            return;
        };
        // Answers are small and written at once: do not wait for more data.
        let _ = stream.set_nodelay(true);
        let ticket = Arc::new(ticket);
        let abort = self.tasks.spawn(connection::serve(
            stream,
            self.schemes.clone(),
            self.app.clone(),
            ticket.clone(),
            self.stop.clone(),
        ));
        ticket.set_abort(abort);
    }
}

/// The connections waiting in `listener`'s backlog, taken without waiting;
/// the listener is closed afterwards.
fn backlog(listener: TcpListener) -> Vec<TcpStream> {
    let listener = match listener.into_std() {
        Ok(listener) => listener,
        Err(e) => {
            tracing::debug!("cannot take the backlog: {e}");
            return Vec::new();
        }
    };
    std::iter::from_fn(|| listener.accept().ok())
        .filter_map(|(stream, _peer)| {
            stream.set_nonblocking(true).ok()?;
            TcpStream::from_std(stream).ok()
        })
        .collect()
}

/// Resolves once `stop` turns true (or its sender is gone).
async fn stopped(stop: &mut watch::Receiver<bool>) {
    let _ = stop.wait_for(|stop| *stop).await;
}

/// Whether `response` is a page (what a navigation shows).
fn is_html(response: &Response) -> bool {
    response
        .headers()
        .get(http::header::CONTENT_TYPE)
        .is_some_and(|value| value.as_bytes().starts_with(b"text/html"))
}

/// `303 See Other` to `target`, with the security headers (among them
/// `Referrer-Policy: no-referrer`: the callback's URL does not follow).
fn see_other(target: &url::Url) -> Response {
    let mut response = plain(StatusCode::SEE_OTHER, "See Other");
    if let Ok(location) = HeaderValue::from_str(&sent_to(target)) {
        response
            .headers_mut()
            .insert(http::header::LOCATION, location);
    }
    response
}

/// `target` as the browser is sent there: with a fragment always, an empty
/// one (`<target>#`) when it has none of its own, because a redirect
/// without one inherits the request's (RFC 9110 section 10.2.2), and the
/// callback's `#fragment` may hold tokens.
fn sent_to(target: &url::Url) -> String {
    match target.fragment() {
        Some(_) => target.to_string(),
        None => format!("{target}#"),
    }
}

/// `response` with `Refresh: 0;url=<target>`: where the bridge page's script
/// sends the browser once the fragment is delivered (`assets/bridge.js`).
fn with_refresh(mut response: Response, target: &url::Url) -> Response {
    if let Ok(refresh) = HeaderValue::from_str(&format!("0;url={}", sent_to(target))) {
        response
            .headers_mut()
            .insert(http::header::REFRESH, refresh);
    }
    response
}

/// The handler's response as a hyper response, with the security headers.
fn build_response(response: wit::Response) -> Result<Response, &'static str> {
    let status = StatusCode::from_u16(response.status).map_err(|_| "invalid status code")?;
    let mut built = hyper::Response::new(Full::new(Bytes::from(response.body)));
    *built.status_mut() = status;
    let headers = built.headers_mut();
    for header in response.headers {
        let name =
            HeaderName::from_bytes(header.name.as_bytes()).map_err(|_| "invalid header name")?;
        let value = HeaderValue::from_bytes(&header.value).map_err(|_| "invalid header value")?;
        headers.append(name, value);
    }
    // A handler never opens the server to other origins.
    let cors: Vec<HeaderName> = headers
        .keys()
        .filter(|name| name.as_str().starts_with("access-control-"))
        .cloned()
        .collect();
    for name in cors {
        headers.remove(name);
    }
    for (name, value) in HEADERS {
        headers.insert(name, HeaderValue::from_static(value));
    }
    // Browsers enforce every policy they get: a handler's own policy is
    // joined by the floor's framing, base and form rules.
    match headers.entry(http::header::CONTENT_SECURITY_POLICY) {
        http::header::Entry::Vacant(entry) => {
            entry.insert(HeaderValue::from_static(BASE_POLICY));
        }
        http::header::Entry::Occupied(mut entry) => {
            entry.append(HeaderValue::from_static(FRAMING_POLICY));
        }
    }
    Ok(built)
}

/// The `Content-Length` a request announces, if any.
fn declared_length(headers: &http::HeaderMap) -> Option<u64> {
    headers
        .get(http::header::CONTENT_LENGTH)?
        .to_str()
        .ok()?
        .parse()
        .ok()
}

/// 413: the rest of the body is never read.
fn too_large() -> Response {
    closing(StatusCode::PAYLOAD_TOO_LARGE, "Payload Too Large")
}

/// A plain answer that closes the connection (its request was not read whole).
fn closing(status: StatusCode, text: &'static str) -> Response {
    let mut response = plain(status, text);
    response
        .headers_mut()
        .insert(http::header::CONNECTION, HeaderValue::from_static("close"));
    response
}

/// 410: the flow is complete, nothing more is taken.
fn gone() -> Response {
    plain(StatusCode::GONE, "Gone: this sign-in is already complete")
}

/// 503: the server is stopping (or every handler instance stayed busy), so
/// the request was not taken; the flow may still be pending elsewhere.
fn unavailable() -> Response {
    closing(StatusCode::SERVICE_UNAVAILABLE, "Service Unavailable")
}

/// The one place a handler failure becomes a 500.
fn handler_fault(why: &str) -> Response {
    tracing::error!("the handler failed: {why}");
    plain(StatusCode::INTERNAL_SERVER_ERROR, "Internal Server Error")
}

fn plain(status: StatusCode, text: &'static str) -> Response {
    let response = wit::Response {
        status: status.as_u16(),
        headers: vec![wit::Header {
            name: "content-type".into(),
            value: b"text/plain; charset=utf-8".to_vec(),
        }],
        body: text.as_bytes().to_vec(),
    };
    build_response(response).expect("a static response is valid")
}

fn completed_result(completion: wit::Completion) -> Option<CallbackResult> {
    let params = match serde_json::from_str(&completion.params) {
        Ok(serde_json::Value::Object(params)) => params,
        _ => return None,
    };
    let received_at = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    Some(CallbackResult {
        params,
        method: completion.method,
        path: completion.path,
        received_at,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn result(code: &str) -> CallbackResult {
        CallbackResult {
            params: serde_json::from_str(&format!(r#"{{"code":"{code}"}}"#)).unwrap(),
            method: "GET".into(),
            path: "/callback".into(),
            received_at: 0,
        }
    }

    /// A slot, the receiving end of its result, and its stop signal.
    fn one_shot() -> (
        OneShot,
        oneshot::Receiver<CallbackResult>,
        Arc<watch::Sender<bool>>,
    ) {
        let (tx, rx) = oneshot::channel();
        let stop = Arc::new(watch::channel(false).0);
        let slot = OneShot::new(tx, stop.clone());
        (slot, rx, stop)
    }

    /// What `build_response` makes of a 200 with one handler header.
    fn handler_response(name: &str, value: &str) -> Response {
        build_response(wit::Response {
            status: 200,
            headers: vec![wit::Header {
                name: name.into(),
                value: value.as_bytes().to_vec(),
            }],
            body: Vec::new(),
        })
        .unwrap()
    }

    #[test]
    fn the_one_shot_slot_keeps_the_first_result_and_signals_stop() {
        let (slot, mut rx, stop) = one_shot();
        assert!(!slot.is_filled());
        assert_eq!(slot.fill(result("first")), Filled::Taken);
        assert_eq!(slot.fill(result("second")), Filled::AlreadyComplete);
        assert!(slot.is_filled() && *stop.borrow());
        assert_eq!(rx.try_recv().unwrap().code(), Some("first"));
    }

    #[test]
    fn a_result_nobody_waits_for_is_not_taken() {
        let (slot, rx, stop) = one_shot();
        drop(rx);
        assert_eq!(slot.fill(result("late")), Filled::Stopping);
        assert_eq!(slot.fill(result("later")), Filled::Stopping, "never 410");
        assert!(!slot.is_filled() && !*stop.borrow());
    }

    #[test]
    fn redirect_targets_never_inherit_the_callback_fragment() {
        let target = |url| url::Url::parse(url).unwrap();
        let location = |response: Response| response.headers()["location"].clone();
        assert_eq!(
            location(see_other(&target("https://app.example/done"))),
            "https://app.example/done#"
        );
        assert_eq!(
            location(see_other(&target("https://app.example/#/done"))),
            "https://app.example/#/done"
        );
        let refreshed = with_refresh(
            plain(StatusCode::OK, "OK"),
            &target("http://127.0.0.1:9/x?y=1"),
        );
        assert_eq!(
            refreshed.headers()["refresh"],
            "0;url=http://127.0.0.1:9/x?y=1#"
        );
    }

    #[test]
    fn a_handler_policy_is_joined_by_the_framing_rules() {
        let response = handler_response("content-security-policy", "default-src *");
        let policies: Vec<_> = response
            .headers()
            .get_all("content-security-policy")
            .iter()
            .collect();
        assert_eq!(policies, ["default-src *", FRAMING_POLICY]);
    }

    #[test]
    fn handler_responses_lose_cors_headers_and_gain_the_security_floor() {
        let response = handler_response("access-control-allow-origin", "*");
        let headers = response.headers();
        assert!(!headers.contains_key("access-control-allow-origin"));
        assert_eq!(headers["content-security-policy"], BASE_POLICY);
        assert_eq!(headers["x-frame-options"], "DENY");
    }
}
