//! oauth-callback receives the one redirect that ends a native app's OAuth
//! sign-in, on `https://127.0.0.1:<port>/<path>`, and hands its parameters to
//! the caller.
//!
//! The request handling itself (parameter merging, pages, the `#fragment`
//! bridge) lives in a sandboxed WebAssembly component; this crate is the host:
//! TLS, HTTP, limits, the timeout and the one-shot rule.
//!
//! Two levels, as in the original Python module:
//!
//! ```no_run
//! use std::time::Duration;
//! use oauth_callback::{CallbackServer, Config, Tls, run_callback_server};
//!
//! # fn main() -> Result<(), oauth_callback::Error> {
//! // High level: start, wait for one callback (or the timeout), shut down.
//! let config = Config::builder().port(8080).path("/callback").tls(Tls::Adhoc).build()?;
//! match run_callback_server(config)? {
//!     Some(result) => println!("code = {:?}", result.code()),
//!     None => eprintln!("timed out"),
//! }
//!
//! // Low level: learn the redirect URI first (port 0 picks a free port).
//! let mut server = CallbackServer::start(Config::builder().port(0).build()?)?;
//! println!("open the browser; redirect_uri = {}", server.redirect_uri());
//! let result = server.wait(Duration::from_secs(180));
//! // A callback that completed as the wait ended is handed over here.
//! let late = server.shutdown();
//! # let _ = result.or(late);
//! # Ok(())
//! # }
//! ```

#![deny(missing_docs)]

mod authority;
mod config;
mod error;
mod files;
mod result;
pub mod runtime;
mod server;
mod signals;
mod tls;

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use oauth_callback_guest::http::CustomPage;
use tokio::sync::{oneshot, watch};
use tokio_rustls::TlsAcceptor;

pub use crate::config::{
    Config, ConfigBuilder, DEFAULT_HOST, DEFAULT_PATH, DEFAULT_PORT, DEFAULT_TIMEOUT, Tls,
};
pub use crate::error::{Error, Result};
pub use crate::result::CallbackResult;
use crate::runtime::{Runtime, wit};
use crate::signals::Signals;
pub use crate::tls::{LOOPBACK_NAMES, LoopbackCertificate};

/// Start a server, wait for the first completed callback or the timeout, then
/// shut down. `Ok(None)` means the timeout passed.
pub fn run_callback_server(config: Config) -> Result<Option<CallbackResult>> {
    let timeout = config.timeout();
    let mut server = CallbackServer::start(config)?;
    let result = server.wait(timeout);
    let late = server.shutdown();
    Ok(result.or(late))
}

/// Starts callback servers; see [`RunningServer`] for what to do with one.
#[derive(Debug)]
pub struct CallbackServer;

impl CallbackServer {
    /// Load the handler, set up TLS, read the pages and start listening. All
    /// configuration errors surface here; after one, nothing is left
    /// listening.
    pub fn start(config: Config) -> Result<RunningServer> {
        // The runtime first (its threads start fastest on an idle process),
        // then listen: the first client connects while the rest is set up,
        // and its connection waits in the backlog.
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("oauth-callback")
            .enable_all()
            .build()?;
        let listeners = runtime.block_on(bind(&config.ips, config.port))?;
        let bound: Vec<SocketAddr> = listeners
            .iter()
            .map(tokio::net::TcpListener::local_addr)
            .collect::<std::io::Result<_>>()?;
        // Loading the handler takes the longest: set up TLS and accept
        // meanwhile; early requests wait for the handler.
        std::thread::scope(|scope| {
            let loading = scope.spawn(|| match &config.handler {
                Some(path) => Runtime::from_file(path),
                None => Runtime::embedded(),
            });
            let tls = tls::server_config(config.tls())?;
            let settings = wit::Settings {
                callback_path: config.path().to_string(),
                success_page: config.success_html.as_deref().and_then(read_page),
                error_page: config.error_html.as_deref().and_then(read_page),
                expected_state: config.expected_state.clone(),
                expected_issuer: config.expected_issuer.clone(),
            };
            let local_addr = bound[0];
            let scheme = if tls.is_some() { "https" } else { "http" };
            let redirect_uri =
                config::redirect_uri(scheme, &config.host, local_addr.port(), config.path());
            let (result_tx, result_rx) = oneshot::channel();
            let stop = Arc::new(watch::channel(false).0);
            let authority = authority::Authority::new(&bound, config.allow_remote, tls.is_some());
            let app = Arc::new(server::App::new(
                settings,
                authority,
                result_tx,
                stop.clone(),
            ));
            let task = runtime.spawn(server::serve(
                listeners,
                tls.map(TlsAcceptor::from),
                app.clone(),
                stop.subscribe(),
            ));
            // Dropped on a handler error below: stops listening at once.
            let server = RunningServer {
                runtime: Some(runtime),
                task: Some(task),
                stop,
                result: result_rx,
                local_addr,
                redirect_uri,
                signals: None,
            };
            app.loaded(loading.join().expect("loading the handler panicked")?);
            if bound.iter().any(|addr| !addr.ip().is_loopback()) {
                tracing::warn!("listening on {local_addr}: other machines can reach the callback");
            }
            tracing::debug!("listening on {}", server.redirect_uri);
            Ok(server)
        })
    }
}

/// How a [`RunningServer::wait_or_interrupt`] ended.
#[derive(Debug)]
pub enum Waited {
    /// The flow completed.
    Completed(CallbackResult),
    /// The timeout passed first.
    TimedOut,
    /// Ctrl-C (SIGINT) arrived first.
    Interrupted,
    /// SIGTERM arrived first (Unix).
    Terminated,
}

/// A listening callback server. Dropping it shuts it down.
///
/// The API blocks; from async code, call it inside `spawn_blocking`.
#[derive(Debug)]
pub struct RunningServer {
    runtime: Option<tokio::runtime::Runtime>,
    task: Option<tokio::task::JoinHandle<()>>,
    stop: Arc<watch::Sender<bool>>,
    result: oneshot::Receiver<CallbackResult>,
    local_addr: SocketAddr,
    redirect_uri: String,
    signals: Option<Signals>,
}

impl RunningServer {
    /// The address actually bound (useful with port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// The full callback URI to register with the provider, e.g.
    /// `https://127.0.0.1:8080/callback`.
    pub fn redirect_uri(&self) -> &str {
        &self.redirect_uri
    }

    /// Block until the first completed callback, or `None` after `timeout`.
    /// The result is handed out once; after a timeout the server keeps
    /// listening, so `wait` may be called again.
    pub fn wait(&mut self, timeout: Duration) -> Option<CallbackResult> {
        match self.wait_for(timeout, std::future::pending()) {
            Waited::Completed(result) => Some(result),
            _ => None,
        }
    }

    /// Like [`wait`](Self::wait), but Ctrl-C (SIGINT) and SIGTERM also end
    /// the wait, and the timeout or a signal ends the flow: callbacks after
    /// it get 503, and one that completed at the same moment is returned,
    /// never lost. Meant for command-line programs: it takes over both
    /// signals for the process (see [`catch_signals`](Self::catch_signals)).
    pub fn wait_or_interrupt(&mut self, timeout: Duration) -> Waited {
        if let Err(e) = self.catch_signals() {
            tracing::warn!("cannot catch Ctrl-C and SIGTERM: {e}");
        }
        let mut signals = self.signals.take();
        let signal = async {
            match &mut signals {
                Some(signals) => signals.next().await,
                None => std::future::pending().await,
            }
        };
        let waited = match self.wait_for(timeout, signal) {
            Waited::Completed(result) => Waited::Completed(result),
            ended => self.close().map_or(ended, Waited::Completed),
        };
        self.signals = signals;
        waited
    }

    /// Take over Ctrl-C (SIGINT) and SIGTERM for the process now rather than
    /// at [`wait_or_interrupt`](Self::wait_or_interrupt): from here on they
    /// no longer end the process, and one that arrives before the wait (say,
    /// right after the program said where it listens) ends the wait at once.
    pub fn catch_signals(&mut self) -> Result<()> {
        if let (None, Some(runtime)) = (&self.signals, &self.runtime) {
            let _entered = runtime.enter();
            self.signals = Some(Signals::catch()?);
        }
        Ok(())
    }

    /// Wait for the result, the timeout or `signal`, whichever comes first.
    fn wait_for(&mut self, timeout: Duration, signal: impl Future<Output = Waited>) -> Waited {
        let result = &mut self.result;
        let Some(runtime) = self.runtime.as_ref().filter(|_| !result.is_terminated()) else {
            return Waited::TimedOut;
        };
        runtime.block_on(async {
            tokio::select! {
                biased;
                received = result => match received {
                    Ok(result) => Waited::Completed(result),
                    Err(_) => Waited::TimedOut,
                },
                () = tokio::time::sleep(timeout) => Waited::TimedOut,
                ended = signal => ended,
            }
        })
    }

    /// End the flow: completions from now on are refused (503). Returns a
    /// result that was handed over but not yet waited for.
    fn close(&mut self) -> Option<CallbackResult> {
        self.result.close();
        self.result.try_recv().ok()
    }

    /// Stop listening, let in-flight answers finish (briefly), and release
    /// the port. Returns a result that completed after the last wait (the
    /// browser was told it succeeded), so that it is not lost.
    pub fn shutdown(mut self) -> Option<CallbackResult> {
        let late = self.close();
        self.stop_now();
        late
    }

    fn stop_now(&mut self) {
        self.result.close();
        self.stop.send_replace(true);
        if let (Some(runtime), Some(task)) = (self.runtime.take(), self.task.take()) {
            let _ = runtime.block_on(task);
            runtime.shutdown_timeout(Duration::from_millis(100));
        }
    }
}

impl Drop for RunningServer {
    fn drop(&mut self) {
        self.stop_now();
    }
}

/// A custom page, its policy's hash sources computed once here rather than
/// on every request; a missing, unreadable, oversized or non-UTF-8 file is
/// logged and the built-in page is used instead (the original module's rule).
fn read_page(path: &Path) -> Option<wit::Page> {
    files::read_bounded(path, files::MAX_PAGE)
        .and_then(|bytes| {
            String::from_utf8(bytes)
                .map_err(|_| std::io::Error::new(std::io::ErrorKind::InvalidData, "not UTF-8"))
        })
        .inspect_err(|e| {
            tracing::error!(
                "cannot use {}: {e}; using the built-in page",
                path.display()
            )
        })
        .ok()
        .map(|html| {
            let page = CustomPage::new(html);
            wit::Page {
                html: page.html,
                style_sources: page.sources.styles.into_iter().collect(),
                script_sources: page.sources.scripts.into_iter().collect(),
            }
        })
}

/// Listen on every address on one port. With port 0 the first address picks
/// the port and the others follow it, trying again if it is taken there.
async fn bind(ips: &[std::net::IpAddr], port: u16) -> Result<Vec<tokio::net::TcpListener>> {
    const ATTEMPTS: usize = 5;
    let mut attempt = 0;
    'again: loop {
        attempt += 1;
        let mut listeners: Vec<tokio::net::TcpListener> = Vec::with_capacity(ips.len());
        for &ip in ips {
            let chosen = listeners
                .first()
                .map_or(Ok(port), |l| l.local_addr().map(|a| a.port()))?;
            let addr = SocketAddr::new(ip, chosen);
            match tokio::net::TcpListener::bind(addr).await {
                Ok(listener) => listeners.push(listener),
                // No IPv6 on this machine: `localhost` still works over IPv4.
                Err(e)
                    if !listeners.is_empty()
                        && e.kind() == std::io::ErrorKind::AddrNotAvailable =>
                {
                    tracing::warn!("cannot listen on {addr} ({e}); continuing without it");
                }
                Err(e) if port == 0 && !listeners.is_empty() && attempt < ATTEMPTS => {
                    tracing::debug!("port {chosen} is taken on {ip} ({e}); choosing another");
                    continue 'again;
                }
                Err(e) => return Err(bind_error(addr, e)),
            }
        }
        return Ok(listeners);
    }
}

fn bind_error(addr: SocketAddr, source: std::io::Error) -> Error {
    if source.kind() == std::io::ErrorKind::AddrInUse {
        Error::PortInUse(addr)
    } else {
        Error::Bind { addr, source }
    }
}
