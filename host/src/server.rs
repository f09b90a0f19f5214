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

/// Headers every response carries.
const SECURITY_HEADERS: [(&str, &str); 4] = [
    ("x-content-type-options", "nosniff"),
    ("referrer-policy", "no-referrer"),
    ("cache-control", "no-store"),
    ("x-frame-options", "DENY"),
];

type Response = hyper::Response<Full<Bytes>>;

/// Everything a connection needs to answer requests.
pub(crate) struct App {
    runtime: Runtime,
    settings: wit::Settings,
    slot: OneShot,
}

impl App {
    /// An app whose first completed result goes to `result`; `stop` is set when it arrives.
    pub(crate) fn new(
        runtime: Runtime,
        settings: wit::Settings,
        result: oneshot::Sender<CallbackResult>,
        stop: Arc<watch::Sender<bool>>,
    ) -> Self {
        App {
            runtime,
            settings,
            slot: OneShot {
                result: Mutex::new(Some(result)),
                stop,
            },
        }
    }

    async fn respond(&self, request: hyper::Request<Incoming>) -> Response {
        let (parts, body) = request.into_parts();
        let body = match Limited::new(body, MAX_BODY).collect().await {
            Ok(collected) => collected.to_bytes(),
            Err(e) if e.is::<http_body_util::LengthLimitError>() => {
                return plain(StatusCode::PAYLOAD_TOO_LARGE, "Payload Too Large");
            }
            Err(_) => return plain(StatusCode::BAD_REQUEST, "Bad Request"),
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
        let reply = match self.runtime.handle(&self.settings, &request) {
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
                    tracing::info!(method = %result.method, path = %result.path, "callback received");
                    self.slot.fill(result);
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
    fn fill(&self, result: CallbackResult) {
        let sender = self.result.lock().unwrap_or_else(|p| p.into_inner()).take();
        if let Some(sender) = sender {
            let _ = sender.send(result);
            self.stop.send_replace(true);
        }
    }
}

/// Accept connections until `stop` turns true, then let in-flight ones finish.
pub(crate) async fn serve(
    listener: TcpListener,
    tls: Option<TlsAcceptor>,
    app: Arc<App>,
    mut stop: watch::Receiver<bool>,
) {
    let graceful = GracefulShutdown::new();
    let permits = Arc::new(Semaphore::new(MAX_CONNECTIONS));
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
    for (name, value) in SECURITY_HEADERS {
        headers.insert(name, HeaderValue::from_static(value));
    }
    Ok(built)
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
