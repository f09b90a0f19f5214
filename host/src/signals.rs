//! Ctrl-C and SIGTERM for command-line programs: once caught, they no longer
//! end the process, and one that arrives before anyone waits is kept.

use crate::Waited;

/// The process's stop signals, caught from creation on.
#[derive(Debug)]
pub(crate) struct Signals {
    #[cfg(unix)]
    interrupt: tokio::signal::unix::Signal,
    #[cfg(unix)]
    terminate: tokio::signal::unix::Signal,
    #[cfg(windows)]
    ctrl_c: tokio::signal::windows::CtrlC,
}

impl Signals {
    /// Catch SIGINT and SIGTERM (Ctrl-C on Windows). Must be called inside
    /// the runtime.
    pub(crate) fn catch() -> std::io::Result<Self> {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{SignalKind, signal};
            Ok(Signals {
                interrupt: signal(SignalKind::interrupt())?,
                terminate: signal(SignalKind::terminate())?,
            })
        }
        #[cfg(windows)]
        {
            Ok(Signals {
                ctrl_c: tokio::signal::windows::ctrl_c()?,
            })
        }
    }

    /// The next signal (or the first one since [`Signals::catch`]).
    pub(crate) async fn next(&mut self) -> Waited {
        #[cfg(unix)]
        {
            tokio::select! {
                _ = self.interrupt.recv() => Waited::Interrupted,
                _ = self.terminate.recv() => Waited::Terminated,
            }
        }
        #[cfg(windows)]
        {
            self.ctrl_c.recv().await;
            Waited::Interrupted
        }
    }
}
