//! The HTTP(S) server: accept loop, TLS handshakes, hyper, request limits,
//! the one-shot slot and graceful shutdown. It never parses parameters: every
//! request goes to the handler as it came.

use std::convert::Infallible;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use http::{HeaderName, HeaderValue, StatusCode};
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::{GracefulShutdown, Watcher};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Semaphore, oneshot, watch};
use tokio_rustls::TlsAcceptor;

use crate::authority::Authority;
use crate::result::CallbackResult;
use crate::runtime::{Runtime, wit};

/// Largest request body read; more gets 413.
pub const MAX_BODY: usize = 64 << 10;
/// Largest request head (request line and headers) buffered.
pub const MAX_HEAD: usize = 16 << 10;
/// Time allowed for a TLS handshake and for each request head.
pub const IO_TIMEOUT: Duration = Duration::from_secs(10);
/// Connections served at once; more are closed on accept.
pub const MAX_CONNECTIONS: usize = 256;
/// How long in-flight connections may take to finish after the flow completes.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(2);

/// Headers every response carries, whatever the handler says.
const SECURITY_HEADERS: [(&str, &str); 4] = [
    ("x-content-type-options", "nosniff"),
    ("referrer-policy", "no-referrer"),
    ("cache-control", "no-store"),
    ("x-frame-options", "DENY"),
];
/// The policy for responses whose handler set none.
const FLOOR_POLICY: &str =
    "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'";
/// Added beside a policy the handler set.
const FRAMING_POLICY: &str = "frame-ancestors 'none'; base-uri 'none'; form-action 'none'";

type Response = hyper::Response<Full<Bytes>>;

/// Everything a connection needs to answer requests.
pub(crate) struct App {
    runtime: Runtime,
    settings: wit::Settings,
    authority: Authority,
    slot: OneShot,
}

impl App {
    /// An app whose first completed result goes to `result`; `stop` is set when it arrives.
    pub(crate) fn new(
        runtime: Runtime,
        settings: wit::Settings,
        authority: Authority,
        result: oneshot::Sender<CallbackResult>,
        stop: Arc<watch::Sender<bool>>,
    ) -> Self {
        App {
            runtime,
            settings,
            authority,
            slot: OneShot {
                result: Mutex::new(Some(result)),
                stop,
            },
        }
    }

    async fn respond(&self, request: hyper::Request<Incoming>) -> Response {
        let (parts, body) = request.into_parts();
        let host = parts.headers.get(http::header::HOST);
        if !host.is_some_and(|host| self.authority.allows(host.as_bytes())) {
            return plain(StatusCode::MISDIRECTED_REQUEST, "Misdirected Request");
        }
        if parts.uri.path() == self.settings.callback_path && self.slot.is_filled() {
            return plain(StatusCode::GONE, "Gone: this sign-in is already complete");
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
        // The call is synchronous (and wasmtime-wasi's blocking host calls
        // start their own runtime): let this worker's other tasks move.
        let handled = tokio::task::block_in_place(|| self.runtime.handle(&self.settings, &request));
        let reply = match handled {
            Ok(reply) => reply,
            Err(e) => return handler_fault(&format!("{e:#}")),
        };
        let response = match build_response(reply.response) {
            Ok(response) => response,
            Err(why) => return handler_fault(why),
        };
        if let Some(completion) = reply.completed {
            match completed_result(completion) {
                Some(result) => {
                    let (method, path) = (result.method.clone(), result.path.clone());
                    if !self.slot.fill(result) {
                        return plain(StatusCode::GONE, "Gone: this sign-in is already complete");
                    }
                    tracing::info!(%method, %path, "callback received");
                }
                None => return handler_fault("completion params are not a JSON object"),
            }
        }
        response
    }
}

/// Holds the first completed result until it is handed over, then signals stop.
struct OneShot {
    result: Mutex<Option<oneshot::Sender<CallbackResult>>>,
    stop: Arc<watch::Sender<bool>>,
}

impl OneShot {
    /// Hand over `result` if it is the first and someone still waits.
    fn fill(&self, result: CallbackResult) -> bool {
        let sender = self.result.lock().unwrap_or_else(|p| p.into_inner()).take();
        // None: a result came before. An error: nobody waits any more (the
        // timeout passed or the server is stopping), so nothing is taken.
        let taken = sender.is_some_and(|sender| sender.send(result).is_ok());
        if taken {
            self.stop.send_replace(true);
        }
        taken
    }

    fn is_filled(&self) -> bool {
        self.result
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .is_none()
    }
}

/// Serve every listener until `stop` turns true, then let in-flight
/// connections finish. The connection limit is shared by all listeners.
pub(crate) async fn serve(
    listeners: Vec<TcpListener>,
    tls: Option<TlsAcceptor>,
    app: Arc<App>,
    stop: watch::Receiver<bool>,
) {
    let permits = Arc::new(Semaphore::new(MAX_CONNECTIONS));
    let loops: Vec<_> = listeners
        .into_iter()
        .map(|listener| {
            let (tls, app, permits) = (tls.clone(), app.clone(), permits.clone());
            tokio::spawn(accept_loop(listener, tls, app, permits, stop.clone()))
        })
        .collect();
    for accept in loops {
        let _ = accept.await;
    }
}

/// Accept connections on one listener until `stop` turns true.
async fn accept_loop(
    listener: TcpListener,
    tls: Option<TlsAcceptor>,
    app: Arc<App>,
    permits: Arc<Semaphore>,
    mut stop: watch::Receiver<bool>,
) {
    let graceful = GracefulShutdown::new();
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
        let Ok(permit) = permits.clone().try_acquire_owned() else {
            tracing::warn!("connection limit ({MAX_CONNECTIONS}) reached; refusing a connection");
            continue;
        };
        // Answers are small and written at once: do not wait for more data.
        let _ = stream.set_nodelay(true);
        let (tls, app, watcher) = (tls.clone(), app.clone(), graceful.watcher());
        tokio::spawn(async move {
            handle_connection(stream, tls, app, watcher).await;
            drop(permit);
        });
    }
    drop(listener);
    if tokio::time::timeout(DRAIN_TIMEOUT, graceful.shutdown())
        .await
        .is_err()
    {
        tracing::debug!("connections still open after {DRAIN_TIMEOUT:?}; closing them");
    }
}

/// Resolves once `stop` turns true (or its sender is gone).
async fn stopped(stop: &mut watch::Receiver<bool>) {
    let _ = stop.wait_for(|stop| *stop).await;
}

/// One connection: the TLS handshake (with a deadline), then HTTP/1.1.
async fn handle_connection(
    stream: TcpStream,
    tls: Option<TlsAcceptor>,
    app: Arc<App>,
    watcher: Watcher,
) {
    match tls {
        None => serve_http(stream, app, watcher).await,
        Some(acceptor) => match tokio::time::timeout(IO_TIMEOUT, acceptor.accept(stream)).await {
            Ok(Ok(stream)) => serve_http(stream, app, watcher).await,
            Ok(Err(e)) => tracing::debug!("TLS handshake failed: {e}"),
            Err(_) => tracing::debug!("TLS handshake timed out"),
        },
    }
}

async fn serve_http<S>(stream: S, app: Arc<App>, watcher: Watcher)
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let service = service_fn(move |request| {
        let app = app.clone();
        async move { Ok::<_, Infallible>(app.respond(request).await) }
    });
    let connection = http1::Builder::new()
        .timer(TokioTimer::new())
        .header_read_timeout(IO_TIMEOUT)
        .max_buf_size(MAX_HEAD)
        .serve_connection(TokioIo::new(stream), service);
    if let Err(e) = watcher.watch(connection).await {
        tracing::debug!("connection ended: {e}");
    }
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
    for (name, value) in SECURITY_HEADERS {
        headers.insert(name, HeaderValue::from_static(value));
    }
    // Browsers enforce every policy they get: a handler's own policy is
    // joined by the floor's framing, base and form rules.
    match headers.entry(http::header::CONTENT_SECURITY_POLICY) {
        http::header::Entry::Vacant(entry) => {
            entry.insert(HeaderValue::from_static(FLOOR_POLICY));
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
        let slot = OneShot {
            result: Mutex::new(Some(tx)),
            stop: stop.clone(),
        };
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
        assert!(slot.fill(result("first")));
        assert!(!slot.fill(result("second")));
        assert!(slot.is_filled() && *stop.borrow());
        assert_eq!(rx.try_recv().unwrap().code(), Some("first"));
    }

    #[test]
    fn a_result_nobody_waits_for_is_not_taken() {
        let (slot, rx, stop) = one_shot();
        drop(rx);
        assert!(!slot.fill(result("late")));
        assert!(!*stop.borrow());
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
        assert_eq!(headers["content-security-policy"], FLOOR_POLICY);
        assert_eq!(headers["x-frame-options"], "DENY");
    }
}
