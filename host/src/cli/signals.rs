//! The signals that stop a wait, caught from before the ready line on: once
//! caught, they no longer kill the process, so a result the browser was
//! told succeeded is still printed, the terminal gets its modes back and the
//! port is freed. One that arrives before the wait is kept.
//!
//! | signal | what sends it | exit code |
//! |---|---|---|
//! | SIGINT | Ctrl-C | 130 |
//! | SIGTERM | `kill`, `docker stop` | 143 |
//! | SIGHUP | the terminal closed, an SSH session dropped | 129 |
//! | SIGQUIT | Ctrl-\ | 131 |
//!
//! On Windows, Ctrl-C is SIGINT's equivalent, a closed console window
//! (`CTRL_CLOSE_EVENT`) SIGHUP's, Ctrl-Break (`CTRL_BREAK_EVENT`) SIGQUIT's
//! and the system shutting down (`CTRL_SHUTDOWN_EVENT`) SIGTERM's.

use std::fmt;

use super::exit;

/// A signal that ended the wait.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stop {
    /// Ctrl-C.
    Interrupt,
    /// SIGTERM, or the system shutting down.
    Terminate,
    /// SIGHUP, or a closed console window.
    HangUp,
    /// Ctrl-\, or Ctrl-Break.
    Quit,
}

impl Stop {
    /// The exit code: 128 + the Unix signal number, as shells report it.
    pub fn exit_code(self) -> u8 {
        match self {
            Stop::HangUp => exit::HANG_UP,
            Stop::Interrupt => exit::INTERRUPT,
            Stop::Quit => exit::QUIT,
            Stop::Terminate => exit::TERMINATE,
        }
        .code
    }
}

impl fmt::Display for Stop {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Stop::Interrupt => "interrupted",
            Stop::Terminate => "terminated",
            Stop::HangUp => "hung up (the terminal closed)",
            Stop::Quit => "quit",
        })
    }
}

/// The stop signals, caught from creation on.
#[derive(Debug)]
pub struct Signals {
    #[cfg(unix)]
    interrupt: tokio::signal::unix::Signal,
    #[cfg(unix)]
    terminate: tokio::signal::unix::Signal,
    #[cfg(unix)]
    hangup: tokio::signal::unix::Signal,
    #[cfg(unix)]
    quit: tokio::signal::unix::Signal,
    #[cfg(windows)]
    ctrl_c: tokio::signal::windows::CtrlC,
    #[cfg(windows)]
    ctrl_break: tokio::signal::windows::CtrlBreak,
    #[cfg(windows)]
    ctrl_close: tokio::signal::windows::CtrlClose,
    #[cfg(windows)]
    ctrl_shutdown: tokio::signal::windows::CtrlShutdown,
}

impl Signals {
    /// Catch every stop signal. Must be called inside the runtime.
    pub fn catch() -> std::io::Result<Self> {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{SignalKind, signal};
            Ok(Signals {
                interrupt: signal(SignalKind::interrupt())?,
                terminate: signal(SignalKind::terminate())?,
                hangup: signal(SignalKind::hangup())?,
                quit: signal(SignalKind::quit())?,
            })
        }
        #[cfg(windows)]
        {
            use tokio::signal::windows::{ctrl_break, ctrl_c, ctrl_close, ctrl_shutdown};
            Ok(Signals {
                ctrl_c: ctrl_c()?,
                ctrl_break: ctrl_break()?,
                ctrl_close: ctrl_close()?,
                ctrl_shutdown: ctrl_shutdown()?,
            })
        }
    }

    /// The next signal (or the first one since [`Signals::catch`]).
    pub async fn next(&mut self) -> Stop {
        #[cfg(unix)]
        {
            tokio::select! {
                _ = self.interrupt.recv() => Stop::Interrupt,
                _ = self.terminate.recv() => Stop::Terminate,
                _ = self.hangup.recv() => Stop::HangUp,
                _ = self.quit.recv() => Stop::Quit,
            }
        }
        #[cfg(windows)]
        {
            tokio::select! {
                _ = self.ctrl_c.recv() => Stop::Interrupt,
                _ = self.ctrl_break.recv() => Stop::Quit,
                _ = self.ctrl_close.recv() => Stop::HangUp,
                _ = self.ctrl_shutdown.recv() => Stop::Terminate,
            }
        }
    }
}
