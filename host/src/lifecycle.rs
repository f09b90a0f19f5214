//! One flow from start to stop, shared by the blocking and the async faces:
//! check the configuration, load the handler beside the TLS set-up, listen,
//! serve until the first completed result, and hand it over exactly once.

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;

use oauth_callback_guest::http::CustomPage;
use tokio::sync::{oneshot, watch};
use tokio::task::JoinHandle;
use tokio_rustls::TlsAcceptor;

use crate::config::{self, Config, Tls};
use crate::error::{Error, Result, Setting};
use crate::result::CallbackResult;
use crate::runtime::{Runtime, wit};
use crate::{authority, files, server, tls};

/// A listening server on some tokio runtime, and the receiving end of its
/// result. Dropping it tells the server to stop.
#[derive(Debug)]
pub(crate) struct Flow {
    task: Option<JoinHandle<()>>,
    stop: Arc<watch::Sender<bool>>,
    result: oneshot::Receiver<CallbackResult>,
    /// The first bound address.
    pub(crate) local_addr: SocketAddr,
    /// The listening sockets, for a child process to close after `fork()`.
    #[cfg(unix)]
    pub(crate) listener_fds: Vec<std::os::fd::RawFd>,
    /// The URI to register with the provider, as printed.
    pub(crate) redirect_uri: String,
    /// The same, parsed once (pasted addresses are held to it).
    redirect_url: Arc<url::Url>,
    /// When the configured timeout, counted from the start, passes.
    deadline: tokio::time::Instant,
    /// Answers requests and pasted addresses.
    app: Arc<server::App>,
    /// The runtime the server runs on.
    runtime: tokio::runtime::Handle,
}

/// The runtime a server gets when its caller has none and it serves in the
/// background between the caller's calls (the blocking face): two workers,
/// named after us.
pub(crate) fn own_runtime() -> std::io::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .thread_name("oauth-callback")
        .enable_all()
        .build()
}

/// The runtime of a job that runs to its end inside `block_on` (a command,
/// the blocking sign-in): the calling thread alone listens, answers and
/// calls the handler (which loads on a blocking thread), so nothing waits
/// for another thread to wake up, and two cores serve more requests per
/// second than with two workers (docs/benchmarks.md). What may block while
/// the receiver serves (opening the browser, a caller's way of opening it,
/// a pasted address being handed over) runs on a blocking thread; the
/// job's other waits (the keyring's) come once the browser has its page.
pub(crate) fn job_runtime() -> std::io::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
}

impl Flow {
    /// Check what the configuration names before listening, as `wasmtime
    /// serve` does (certificate files, a handler component given as a
    /// file, the ready file's place: a missing file is said even when the
    /// port is busy), then
    /// listen (the first client connects while the rest is set up, its
    /// connection waiting in the backlog) and accept. Once listening, the
    /// embedded handler loads on a blocking thread and a certificate made
    /// for the run is made (a first client's handshake takes longer than
    /// both); early requests wait for them. Once listening, the ready file
    /// is written. After an error nothing is left listening.
    pub(crate) async fn launch(config: Config) -> Result<Flow> {
        let deadline = tokio::time::Instant::now() + config.timeout();
        // A handler given as a file loads (and is checked) before listening.
        let from_file = (config.handler.clone())
            .map(|path| tokio::task::spawn_blocking(move || Runtime::from_file(&path)));
        // Certificate files are read and checked before listening; a
        // certificate made for the run (which nothing given can fail) is
        // made once listening, while the first client connects.
        let from_files = matches!(config.tls(), Tls::Pem { .. } | Tls::Dir(_));
        let files_first = match from_files {
            true => Some(tls::server_config(config.tls(), config.timeout())?),
            false => None,
        };
        if let Some(file) = &config.ready_file {
            let refused = files::unreplaceable(file).map_err(|source| Error::ReadyFile {
                path: file.clone(),
                source,
            })?;
            if let Some(what) = refused {
                return Err(Error::InvalidSetting {
                    setting: Setting::ReadyFile,
                    reason: format!(
                        "{} is {what}, not a regular file: it would be replaced, not \
                         written into; name a new file",
                        file.display()
                    ),
                });
            }
        }
        let from_file = match from_file {
            Some(loading) => Some(loaded(loading).await?),
            None => None,
        };
        let listeners = bind_first(&config.ips, &config.ports).await?;
        let handler = match from_file {
            Some(runtime) => Handler::Loaded(runtime),
            None => Handler::Loading(tokio::task::spawn_blocking(Runtime::embedded)),
        };
        let setup = match files_first {
            Some(setup) => setup,
            None => tls::server_config(config.tls(), config.timeout())?,
        };
        let (tls, served) = match setup {
            Some((tls, served)) => (Some(tls), Some(served)),
            None => (None, None),
        };
        let bound: Vec<SocketAddr> = listeners
            .iter()
            .map(tokio::net::TcpListener::local_addr)
            .collect::<std::io::Result<_>>()?;
        #[cfg(unix)]
        let listener_fds = listeners
            .iter()
            .map(std::os::fd::AsRawFd::as_raw_fd)
            .collect();
        let settings = wit::Settings {
            callback_path: config.path().to_string(),
            success_page: config.success_html.as_deref().and_then(read_page),
            error_page: config.error_html.as_deref().and_then(read_page),
            expected_state: config.expected_state.clone(),
            expected_issuer: config.expected_issuer.clone(),
            issuer_required: config.issuer_required,
            form_post_only: config.form_post_only,
        };
        let local_addr = bound[0];
        let scheme = if tls.is_some() { "https" } else { "http" };
        let redirect_uri = match &config.redirect_uri {
            Some(registered) => registered.to_string(),
            None => config::redirect_uri(scheme, &config.host, local_addr.port(), config.path()),
        };
        let (result_tx, result_rx) = oneshot::channel();
        let stop = Arc::new(watch::channel(false).0);
        let mut authority = authority::Authority::new(&bound, config.allow_remote, tls.is_some());
        if let Some(registered) = &config.redirect_uri {
            authority = authority.also(registered);
        }
        let after = server::AfterCompletion {
            success: config.success_redirect.clone(),
            error: config.error_redirect.clone(),
        };
        let app = Arc::new(server::App::new(
            settings,
            authority,
            after,
            result_tx,
            stop.clone(),
        ));
        let task = tokio::spawn(server::serve(
            listeners,
            server::Schemes::new(tls.map(TlsAcceptor::from), config.one_scheme),
            app.clone(),
            stop.subscribe(),
        ));
        // Dropped on a handler error below: stops listening at once.
        let flow = Flow {
            task: Some(task),
            stop,
            result: result_rx,
            local_addr,
            #[cfg(unix)]
            listener_fds,
            redirect_url: Arc::new(
                url::Url::parse(&redirect_uri).expect("the redirect URI is an absolute URL"),
            ),
            redirect_uri,
            deadline,
            app: app.clone(),
            runtime: tokio::runtime::Handle::current(),
        };
        app.loaded(match handler {
            Handler::Loaded(runtime) => runtime,
            Handler::Loading(loading) => loaded(loading).await?,
        });
        // One line on what is served; said so when nothing was chosen.
        match served {
            Some(served) if !config.tls_chosen => {
                tracing::info!("no certificate given: {served}")
            }
            Some(served) => tracing::info!("{served}"),
            None => {}
        }
        if bound.iter().any(|addr| !addr.ip().is_loopback()) {
            tracing::warn!("listening on {local_addr}: other machines can reach the callback");
        }
        if let Some(registered) = config
            .redirect_uri
            .as_ref()
            .filter(|uri| crate::urls::loopback_host(uri))
        {
            warn_where_the_browser_goes(registered, &bound, config.host_chosen);
        }
        tracing::debug!("listening on {}", flow.redirect_uri);
        if let Some(file) = &config.ready_file {
            let line = format!("{}\n", flow.redirect_uri);
            files::replace(file, line.as_bytes()).map_err(|source| Error::ReadyFile {
                path: file.clone(),
                source,
            })?;
        }
        Ok(flow)
    }

    /// When the configured timeout, counted from the start, passes.
    pub(crate) fn deadline(&self) -> std::time::Instant {
        self.deadline.into_std()
    }

    /// The result, or `None` once the configured timeout (counted from the
    /// start) has passed.
    pub(crate) async fn wait(&mut self) -> Option<CallbackResult> {
        self.wait_until(self.deadline).await
    }

    /// The result, or `None` once `deadline` has passed. After the result
    /// was handed out (or the flow closed) this is `None` at once.
    pub(crate) async fn wait_until(
        &mut self,
        deadline: tokio::time::Instant,
    ) -> Option<CallbackResult> {
        if self.result.is_terminated() {
            return None;
        }
        tokio::time::timeout_at(deadline, &mut self.result)
            .await
            .ok()
            .and_then(Result::ok)
    }

    /// What completes the flow from pasted addresses.
    pub(crate) fn paste_back(&self) -> server::PasteBack {
        server::PasteBack::new(
            self.app.clone(),
            self.redirect_url.clone(),
            self.runtime.clone(),
        )
    }

    /// End the flow: completions from now on are refused (503). Returns a
    /// result that was handed over but not yet waited for.
    pub(crate) fn close(&mut self) -> Option<CallbackResult> {
        self.result.close();
        self.result.try_recv().ok()
    }

    /// Tell the server to stop listening; the returned task ends once
    /// in-flight answers are done (briefly). `None` when already stopped.
    pub(crate) fn stop(&mut self) -> Option<JoinHandle<()>> {
        self.result.close();
        self.stop.send_replace(true);
        self.task.take()
    }
}

impl Drop for Flow {
    fn drop(&mut self) {
        self.stop.send_replace(true);
    }
}

/// The handler, loaded or loading on a blocking thread.
enum Handler {
    Loaded(Runtime),
    Loading(JoinHandle<Result<Runtime>>),
}

/// The handler once its blocking thread is done.
async fn loaded(loading: JoinHandle<Result<Runtime>>) -> Result<Runtime> {
    loading.await.expect("loading the handler panicked")
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

/// One line each when a loopback redirect URI sends the browser where this
/// server does not listen: another port (right only behind a forwarding
/// that changes it), or a name that a browser may reach over the other
/// address family than the one chosen.
fn warn_where_the_browser_goes(registered: &url::Url, bound: &[SocketAddr], host_chosen: bool) {
    let port = bound[0].port();
    if let Some(sent) = registered
        .port_or_known_default()
        .filter(|&sent| sent != port)
    {
        tracing::warn!(
            "the redirect URI sends the browser to port {sent}, and this server listens on \
             {port}: only a forwarding that changes the port brings it here"
        );
    }
    let one_family = bound.iter().all(|a| a.is_ipv4()) || bound.iter().all(|a| a.is_ipv6());
    if let Some(url::Host::Domain(name)) = registered.host()
        && host_chosen
        && one_family
    {
        tracing::warn!(
            "the redirect URI names {name}, which a browser may reach over IPv4 or IPv6, and \
             this server listens on {} only: a host of `localhost` (or none) listens on both",
            bound[0].ip()
        );
    }
}

/// Listen on the first of `ports` that can be bound (in use or refused: the
/// next one is tried).
async fn bind_first(
    ips: &[std::net::IpAddr],
    ports: &[u16],
) -> Result<Vec<tokio::net::TcpListener>> {
    let unusable = |e: &Error| match e {
        Error::PortInUse(_) => true,
        Error::Bind { source, .. } => source.kind() == std::io::ErrorKind::PermissionDenied,
        _ => false,
    };
    let mut attempts = Vec::new();
    for &port in ports {
        match bind(ips, port).await {
            Ok(listeners) => return Ok(listeners),
            Err(e) if unusable(&e) => {
                tracing::debug!("port {port} cannot be used ({e}); trying the next one");
                attempts.push(e);
            }
            Err(e) => return Err(e),
        }
    }
    Err(match attempts.len() {
        1 => attempts.remove(0),
        _ => Error::NoPortAvailable(attempts),
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

#[cfg(test)]
mod tests {
    use std::net::{IpAddr, Ipv4Addr};

    use super::*;

    const LOOPBACK: [IpAddr; 1] = [IpAddr::V4(Ipv4Addr::LOCALHOST)];

    #[tokio::test]
    async fn the_first_usable_port_of_a_list_wins() {
        let taken = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let busy = taken.local_addr().unwrap().port();
        let listeners = bind_first(&LOOPBACK, &[busy, 0]).await.unwrap();
        let chosen = listeners[0].local_addr().unwrap().port();
        assert!(chosen != busy && chosen != 0);
        match bind_first(&LOOPBACK, &[busy]).await {
            Err(Error::PortInUse(addr)) => assert_eq!(addr.port(), busy),
            other => panic!("{other:?}"),
        }
        match bind_first(&LOOPBACK, &[busy, busy]).await {
            Err(Error::NoPortAvailable(attempts)) => assert_eq!(attempts.len(), 2),
            other => panic!("{other:?}"),
        }
    }
}
