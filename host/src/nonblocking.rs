//! The async face, for programs on tokio (`reqwest`, the `oauth2` crate...):
//! the server runs on the caller's runtime and nothing blocks.

use std::net::SocketAddr;
use std::time::Duration;

use crate::config::Config;
use crate::error::Result;
use crate::lifecycle::Flow;
use crate::result::CallbackResult;
use crate::server::{PasteBack, Pasted};

/// Starts callback servers on the current tokio runtime; see
/// [`AsyncRunningServer`].
///
/// ```no_run
/// use oauth_callback::{AsyncCallbackServer, Config};
///
/// # #[tokio::main] async fn main() -> Result<(), oauth_callback::Error> {
/// let mut server = AsyncCallbackServer::start(Config::builder().port(0).build()?).await?;
/// println!("redirect_uri = {}", server.redirect_uri());
/// let result = server.wait().await; // until the configured timeout
/// let late = server.shutdown().await;
/// # let _ = result.or(late);
/// # Ok(()) }
/// ```
#[derive(Debug)]
pub struct AsyncCallbackServer;

impl AsyncCallbackServer {
    /// Load the handler (on a blocking thread), set up TLS, read the pages
    /// and start listening, on the current tokio runtime (either flavour).
    /// All configuration errors surface here; after one, nothing is left
    /// listening.
    ///
    /// # Panics
    ///
    /// Outside a tokio runtime, as `tokio::spawn` does.
    pub async fn start(config: Config) -> Result<AsyncRunningServer> {
        Ok(AsyncRunningServer {
            flow: Flow::launch(config).await?,
        })
    }
}

/// A callback server listening on the caller's runtime. Dropping it tells
/// the server to stop; [`shutdown`](Self::shutdown) also waits until it has.
#[derive(Debug)]
pub struct AsyncRunningServer {
    flow: Flow,
}

impl AsyncRunningServer {
    /// The address actually bound (useful with port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.flow.local_addr
    }

    /// The listening sockets' file descriptors (one per address; Unix), so
    /// that a child process made with `fork()` can close its copies (e.g.
    /// `dup2` of `/dev/null` over each) and never hold the port: the
    /// server's threads do not exist in the child. They stay the server's:
    /// never close them in this process.
    #[cfg(unix)]
    pub fn listener_fds(&self) -> &[std::os::fd::RawFd] {
        &self.flow.listener_fds
    }

    /// When the configured timeout ([`ConfigBuilder::timeout`](crate::ConfigBuilder::timeout),
    /// counted from the start) passes: what [`wait`](Self::wait) waits
    /// until, for a countdown shown to the user.
    pub fn deadline(&self) -> std::time::Instant {
        self.flow.deadline()
    }

    /// The full callback URI to register with the provider.
    pub fn redirect_uri(&self) -> &str {
        &self.flow.redirect_uri
    }

    /// Complete the flow from the address the browser ended at, pasted by a
    /// user whose browser runs on another machine; see
    /// [`PasteBack::complete_from_url`]. To paste while a task waits, use a
    /// [`paste_back`](Self::paste_back) handle.
    pub async fn complete_from_url(&self, pasted: &str) -> Pasted {
        self.paste_back().complete_from_url_async(pasted).await
    }

    /// A handle that completes this flow from pasted addresses, usable from
    /// another task while one waits.
    pub fn paste_back(&self) -> PasteBack {
        self.flow.paste_back()
    }

    /// The first completed callback, or `None` once the configured timeout
    /// ([`ConfigBuilder::timeout`](crate::ConfigBuilder::timeout), counted
    /// from [`AsyncCallbackServer::start`]) has passed. The result is handed
    /// out once; after a timeout the server keeps listening until
    /// [`shutdown`](Self::shutdown), so [`wait_for`](Self::wait_for) may wait
    /// longer.
    pub async fn wait(&mut self) -> Option<CallbackResult> {
        self.flow.wait().await
    }

    /// Like [`wait`](Self::wait), for at most `timeout` from now.
    pub async fn wait_for(&mut self, timeout: Duration) -> Option<CallbackResult> {
        let deadline = tokio::time::Instant::now() + timeout;
        self.flow.wait_until(deadline).await
    }

    /// Stop listening, let in-flight answers finish (briefly), and release
    /// the port. Returns a result that completed after the last wait (the
    /// browser was told it succeeded), so that it is not lost.
    pub async fn shutdown(mut self) -> Option<CallbackResult> {
        self.stop().await
    }

    /// [`Self::shutdown`] through a borrow: the server stops, and what it
    /// holds is handed over.
    pub(crate) async fn stop(&mut self) -> Option<CallbackResult> {
        let late = self.flow.close();
        if let Some(task) = self.flow.stop() {
            let _ = task.await;
        }
        late
    }
}
