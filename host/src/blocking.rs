//! The blocking face, as in the original Python module: the server runs on a
//! runtime of its own, and every call blocks the calling thread.

use std::net::SocketAddr;
use std::time::Duration;

use crate::config::Config;
use crate::error::{Error, Result};
use crate::lifecycle::Flow;
use crate::result::CallbackResult;
use crate::server::{PasteBack, Pasted};
use crate::signals::Signals;

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
    /// listening. Inside a tokio runtime this is [`Error::InsideAsyncRuntime`]:
    /// use [`AsyncCallbackServer`](crate::AsyncCallbackServer) there.
    pub fn start(config: Config) -> Result<RunningServer> {
        if tokio::runtime::Handle::try_current().is_ok() {
            return Err(Error::InsideAsyncRuntime);
        }
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("oauth-callback")
            .enable_all()
            .build()?;
        let flow = runtime.block_on(Flow::launch(config))?;
        Ok(RunningServer {
            runtime: Some(runtime),
            flow,
            signals: None,
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

impl Waited {
    /// The result, when the flow completed.
    pub(crate) fn into_result(self) -> Option<CallbackResult> {
        match self {
            Waited::Completed(result) => Some(result),
            _ => None,
        }
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
    signals: Option<Signals>,
}

impl RunningServer {
    /// The address actually bound (useful with port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.flow.local_addr
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

    /// Block until the first completed callback, or `None` after `timeout`.
    /// The result is handed out once; after a timeout the server keeps
    /// listening, so `wait` may be called again.
    pub fn wait(&mut self, timeout: Duration) -> Option<CallbackResult> {
        self.wait_for(timeout, std::future::pending()).into_result()
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
            ended => self.flow.close().map_or(ended, Waited::Completed),
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
        match &self.runtime {
            Some(runtime) => runtime.block_on(self.flow.wait(timeout, signal)),
            None => Waited::TimedOut,
        }
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
