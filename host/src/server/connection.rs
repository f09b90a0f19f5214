//! One connection's life: its scheme told by its first byte, the TLS
//! handshake, then HTTP/1.1; and what becomes of it when the server stops.
//!
//! Once the flow is over (or the timeout passed, or a signal came), a
//! connection that has sent something, or is in its TLS handshake, is read
//! and answered (410, or 503) and then closed, within the exit budget; one
//! that has sent nothing (a browser's speculative preconnect, a finished
//! handshake with no request since, keep-alive between requests) is closed
//! at once, so that it holds neither the exit nor the timeout. A connection
//! made or handshaken just before the stop gets [`GRACE`] for its request
//! to arrive, as a request on its way is not idle; one whose bytes wait in
//! the socket, not yet read, is not idle either.

use std::convert::Infallible;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio::sync::{Notify, watch};

use super::app::App;
use super::connections::Ticket;
use super::limits::{IO_TIMEOUT, MAX_HEAD};
use super::responses::{Response, handler_fault};
use super::schemes::{Schemes, Serve, byte_waiting};

/// How long after its accept (or its TLS handshake) a connection that has
/// sent nothing is still waited for once the server stops.
pub(super) const GRACE: Duration = Duration::from_millis(50);

/// Serve one connection until it ends, or until the server stops and it is
/// idle (see the module's rules).
pub(super) async fn serve(
    stream: TcpStream,
    schemes: Arc<Schemes>,
    app: Arc<App>,
    ticket: Arc<Ticket>,
    mut stop: watch::Receiver<bool>,
) {
    let accepted = Instant::now();
    let socket = Socket::of(&stream);
    let choose = tokio::time::timeout(IO_TIMEOUT, schemes.choose(&stream));
    let serve = match unless_idle(choose, accepted, &mut stop, socket).await {
        Some(Ok(serve)) => serve,
        Some(Err(_)) => return tracing::debug!("nothing sent on a connection; closed it"),
        None => return tracing::debug!("closed a connection that sent nothing before the stop"),
    };
    let http = Http {
        app,
        ticket,
        stop,
        socket,
    };
    match serve {
        Serve::Plain => http.serve(stream, false, accepted).await,
        Serve::ToHttps => http.serve(stream, true, accepted).await,
        Serve::Close => {}
        // A handshake under way is finished even when the server stops.
        Serve::Tls(acceptor) => {
            let handshake = acceptor.accept(QuickAcks(stream));
            match tokio::time::timeout(IO_TIMEOUT, handshake).await {
                Ok(Ok(stream)) => http.serve(stream, false, Instant::now()).await,
                Ok(Err(e)) => tracing::debug!("TLS handshake failed: {e}"),
                Err(_) => tracing::debug!("TLS handshake timed out"),
            }
        }
    }
}

/// A connection's socket, to look at what waits in it unread. It is valid
/// while the connection's stream lives: both belong to the connection's
/// task, which looks only while it serves the stream.
#[derive(Clone, Copy)]
struct Socket {
    #[cfg(unix)]
    raw: std::os::fd::RawFd,
    #[cfg(windows)]
    raw: std::os::windows::io::RawSocket,
}

impl Socket {
    fn of(stream: &TcpStream) -> Self {
        #[cfg(unix)]
        let raw = std::os::fd::AsRawFd::as_raw_fd(stream);
        #[cfg(windows)]
        let raw = std::os::windows::io::AsRawSocket::as_raw_socket(stream);
        Socket { raw }
    }

    /// Whether bytes the client sent wait in the socket, not read yet.
    fn unread_bytes(self) -> bool {
        // SAFETY: the stream that owns the socket outlives every call (see
        // the type).
        #[cfg(unix)]
        let socket = unsafe { std::os::fd::BorrowedFd::borrow_raw(self.raw) };
        #[cfg(windows)]
        let socket = unsafe { std::os::windows::io::BorrowedSocket::borrow_raw(self.raw) };
        byte_waiting(socket2::SockRef::from(&socket)).is_some()
    }
}

/// Resolves once `stop` turns true (or its sender is gone).
pub(super) async fn stopped(stop: &mut watch::Receiver<bool>) {
    let _ = stop.wait_for(|stop| *stop).await;
}

/// `work`, unless the server stops first and nothing has arrived in
/// `socket` by `since + GRACE` (`None`).
async fn unless_idle<F: Future>(
    work: F,
    since: Instant,
    stop: &mut watch::Receiver<bool>,
    socket: Socket,
) -> Option<F::Output> {
    let mut work = std::pin::pin!(work);
    tokio::select! {
        biased;
        done = &mut work => return Some(done),
        () = stopped(stop) => {}
    }
    match tokio::time::timeout_at((since + GRACE).into(), &mut work).await {
        Ok(done) => Some(done),
        Err(_) if socket.unread_bytes() => Some(work.await),
        Err(_) => None,
    }
}

/// What HTTP on one established connection needs.
struct Http {
    app: Arc<App>,
    ticket: Arc<Ticket>,
    stop: watch::Receiver<bool>,
    /// The connection's socket, looked at, never read.
    socket: Socket,
}

impl Http {
    /// HTTP/1.1 on `stream`, established at `since` (`to_https`: plain HTTP
    /// on a TLS server, every request sent on to `https://`); while a
    /// request is read and answered, the connection cannot be evicted.
    async fn serve<S>(mut self, stream: S, to_https: bool, since: Instant)
    where
        S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    {
        let activity = Arc::new(Activity::default());
        let service = {
            let (app, ticket, activity) = (self.app.clone(), self.ticket, activity.clone());
            service_fn(move |request| {
                let (busy, activity) = (ticket.busy(), activity.clone());
                activity.request_started();
                let answer = answer_to_the_end(app.clone(), request, to_https);
                async move {
                    let response = answer.await.unwrap_or_else(|e| {
                        handler_fault(&format!("answering a request failed: {e}"))
                    });
                    activity.request_answered();
                    drop(busy);
                    Ok::<_, Infallible>(response)
                }
            })
        };
        let watched = Watched {
            inner: stream,
            activity: activity.clone(),
        };
        let connection = http1::Builder::new()
            .timer(TokioTimer::new())
            .header_read_timeout(IO_TIMEOUT)
            .max_buf_size(MAX_HEAD)
            .serve_connection(TokioIo::new(watched), service);
        let mut connection = std::pin::pin!(connection);
        let ended = tokio::select! {
            ended = connection.as_mut() => ended,
            () = stopped(&mut self.stop) => {
                let socket = self.socket;
                let unread = move || socket.unread_bytes();
                // Stopping. Never a byte: closed, unless one comes within the grace.
                if activity.read() == 0 && !unread() {
                    let deadline = (since + GRACE).into();
                    let first_byte = activity.until(|a| a.read() > 0 || unread());
                    tokio::select! {
                        biased;
                        ended = connection.as_mut() => return log(ended),
                        _ = tokio::time::timeout_at(deadline, first_byte) => {}
                    }
                    if activity.read() == 0 && !unread() {
                        return tracing::debug!("closed an idle connection at the stop");
                    }
                }
                // A request under way (read or still in the socket) reaches
                // the handler before keep-alive is turned off: hyper would
                // drop a head it has not parsed.
                tokio::select! {
                    ended = connection.as_mut() => return log(ended),
                    () = activity.until(|a| a.answering() || (a.all_answered() && !unread())) => {}
                }
                // Answers what is in progress, then closes; closes an idle
                // keep-alive connection at once.
                connection.as_mut().graceful_shutdown();
                connection.await
            }
        };
        log(ended);
    }
}

fn log(ended: hyper::Result<()>) {
    if let Err(e) = ended {
        tracing::debug!("connection ended: {e}");
    }
}

/// The app's answer to `request`, on a task started at once (`to_https`:
/// the redirect to `https://`): a request that has fully arrived is handled
/// to the end whatever happens to its connection. hyper drops the future it
/// got for a request, unpolled, when the connection fails right after the
/// request (a client that resets as soon as it has sent it); the flow still
/// completes, and its code, which is single-use, is not lost.
fn answer_to_the_end(
    app: Arc<App>,
    request: hyper::Request<hyper::body::Incoming>,
    to_https: bool,
) -> tokio::task::JoinHandle<Response> {
    tokio::spawn(async move {
        match to_https {
            true => app.to_https(&request),
            false => app.respond(request).await,
        }
    })
}

/// What a connection has sent and what of it was answered.
#[derive(Default)]
struct Activity {
    /// Bytes read from the client (after TLS).
    read: AtomicU64,
    /// `read` when the last request was answered.
    read_when_answered: AtomicU64,
    /// Requests handed to the app and not answered yet.
    in_progress: AtomicUsize,
    /// Signalled on every change.
    changed: Notify,
}

impl Activity {
    fn read(&self) -> u64 {
        self.read.load(Ordering::Acquire)
    }

    /// A request is with the app.
    fn answering(&self) -> bool {
        self.in_progress.load(Ordering::Acquire) > 0
    }

    /// Nothing was read since the last answer.
    fn all_answered(&self) -> bool {
        self.read() == self.read_when_answered.load(Ordering::Acquire)
    }

    fn received(&self, bytes: usize) {
        self.read.fetch_add(bytes as u64, Ordering::AcqRel);
        self.changed.notify_one();
    }

    fn request_started(&self) {
        self.in_progress.fetch_add(1, Ordering::AcqRel);
        self.changed.notify_one();
    }

    fn request_answered(&self) {
        self.read_when_answered
            .store(self.read(), Ordering::Release);
        self.in_progress.fetch_sub(1, Ordering::AcqRel);
        self.changed.notify_one();
    }

    /// Resolves once `condition` holds (looked at on every change).
    async fn until(&self, condition: impl Fn(&Activity) -> bool) {
        while !condition(self) {
            self.changed.notified().await;
        }
    }
}

/// A stream that counts what it reads into an [`Activity`].
struct Watched<S> {
    inner: S,
    activity: Arc<Activity>,
}

impl<S: AsyncRead + Unpin> AsyncRead for Watched<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let before = buf.filled().len();
        let polled = Pin::new(&mut self.inner).poll_read(cx, buf);
        let read = buf.filled().len() - before;
        if read > 0 {
            self.activity.received(read);
        }
        polled
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Watched<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }
}

/// A TCP stream in a TLS handshake that asks the kernel, after each write, to
/// acknowledge what arrives next at once (`TCP_QUICKACK`, Linux), instead of
/// up to 40 ms later: a client that keeps Nagle's algorithm on holds its
/// request back until its last handshake message is acknowledged, and one
/// that resets meanwhile (a script that exits at once) never sends it.
struct QuickAcks(TcpStream);

impl AsyncRead for QuickAcks {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.0).poll_read(cx, buf)
    }
}

impl AsyncWrite for QuickAcks {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        let written = Pin::new(&mut self.0).poll_write(cx, buf);
        #[cfg(any(target_os = "linux", target_os = "android"))]
        if let Poll::Ready(Ok(_)) = written {
            let _ = socket2::SockRef::from(&self.0).set_tcp_quickack(true);
        }
        written
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.0).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.0).poll_shutdown(cx)
    }
}
