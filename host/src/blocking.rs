//! The blocking face, as in the original Python module: the server runs on a
//! runtime of its own, and every call blocks the calling thread.

use std::net::SocketAddr;
use std::time::Duration;

use crate::config::Config;
use crate::error::{Error, Result};
use crate::lifecycle::Flow;
use crate::result::CallbackResult;
use crate::server::{PasteBack, Pasted};

/// Start a server, wait for the first completed callback or the timeout, then
/// shut down. `Ok(None)` means the timeout passed.
pub fn run_callback_server(config: Config) -> Result<Option<CallbackResult>> {
    let mut server = CallbackServer::start(config)?;
    let result = server.wait();
    let late = server.shutdown();
    Ok(result.or(late))
}

/// Starts callback servers; see [`RunningServer`] for what to do with one.
#[derive(Debug)]
pub struct CallbackServer;

impl CallbackServer {
    /// Load the handler, set up TLS, read the pages and start listening. All
    /// configuration errors surface here; after one, nothing is left
    /// listening. Inside a tokio runtime this is [`Error::InsideAsyncRuntime`]:
    /// use [`AsyncCallbackServer`](crate::AsyncCallbackServer) there.
    pub fn start(config: Config) -> Result<RunningServer> {
        if tokio::runtime::Handle::try_current().is_ok() {
            return Err(Error::InsideAsyncRuntime);
        }
        let runtime = crate::lifecycle::own_runtime()?;
        let flow = runtime.block_on(Flow::launch(config))?;
        Ok(RunningServer {
            runtime: Some(runtime),
            flow,
        })
    }
}

/// A listening callback server. Dropping it shuts it down.
///
/// Its calls block; in async code use
/// [`AsyncCallbackServer`](crate::AsyncCallbackServer) instead.
#[derive(Debug)]
pub struct RunningServer {
    runtime: Option<tokio::runtime::Runtime>,
    flow: Flow,
}

impl RunningServer {
    /// The address actually bound (useful with port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.flow.local_addr
    }

    /// When the configured timeout ([`ConfigBuilder::timeout`](crate::ConfigBuilder::timeout),
    /// counted from the start) passes: what [`wait`](Self::wait) waits
    /// until, for a countdown shown to the user.
    pub fn deadline(&self) -> std::time::Instant {
        self.flow.deadline()
    }

    /// The full callback URI to register with the provider, e.g.
    /// `https://127.0.0.1:8080/callback`.
    pub fn redirect_uri(&self) -> &str {
        &self.flow.redirect_uri
    }

    /// Complete the flow from the address the browser ended at, pasted by a
    /// user whose browser runs on another machine; see
    /// [`PasteBack::complete_from_url`]. To paste while another thread
    /// waits, use a [`paste_back`](Self::paste_back) handle.
    pub fn complete_from_url(&self, pasted: &str) -> Pasted {
        self.paste_back().complete_from_url(pasted)
    }

    /// A handle that completes this flow from pasted addresses, usable from
    /// another thread while this one waits.
    pub fn paste_back(&self) -> PasteBack {
        self.flow.paste_back()
    }

    /// Block until the first completed callback, or `None` once the
    /// configured timeout ([`ConfigBuilder::timeout`](crate::ConfigBuilder::timeout),
    /// counted from [`CallbackServer::start`]) has passed. The result is
    /// handed out once; after a timeout the server keeps listening until
    /// [`shutdown`](Self::shutdown), so [`wait_for`](Self::wait_for) may
    /// wait longer.
    pub fn wait(&mut self) -> Option<CallbackResult> {
        let runtime = self.runtime.as_ref()?;
        runtime.block_on(self.flow.wait())
    }

    /// Like [`wait`](Self::wait), for at most `timeout` from now.
    pub fn wait_for(&mut self, timeout: Duration) -> Option<CallbackResult> {
        let runtime = self.runtime.as_ref()?;
        let deadline = tokio::time::Instant::now() + timeout;
        runtime.block_on(self.flow.wait_until(deadline))
    }

    /// Stop listening, let in-flight answers finish (briefly), and release
    /// the port. Returns a result that completed after the last wait (the
    /// browser was told it succeeded), so that it is not lost.
    pub fn shutdown(mut self) -> Option<CallbackResult> {
        let late = self.flow.close();
        self.stop_now();
        late
    }

    fn stop_now(&mut self) {
        let task = self.flow.stop();
        if let (Some(runtime), Some(task)) = (self.runtime.take(), task) {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_blocking_face_refuses_to_start_inside_an_async_runtime() {
        let config = Config::builder().port(0).build().unwrap();
        assert!(matches!(
            CallbackServer::start(config),
            Err(Error::InsideAsyncRuntime)
        ));
    }
}
