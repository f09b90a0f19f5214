//! The waiting line on a terminal: "Waiting for the browser at <URI>, 2:51
//! left", updated in place every second; nothing when stderr is not a terminal.

use std::io::{IsTerminal, Write};
use std::sync::mpsc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// A running progress line; dropping it clears the line.
pub struct Progress {
    stop: Option<mpsc::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl Progress {
    /// No line at all.
    fn idle() -> Progress {
        Progress {
            stop: None,
            thread: None,
        }
    }

    /// Start updating the line, if stderr is a terminal.
    pub fn start(uri: &str, timeout: Duration) -> Progress {
        let Some(deadline) = Instant::now().checked_add(timeout) else {
            return Progress::idle();
        };
        if !std::io::stderr().is_terminal() {
            return Progress::idle();
        }
        let (stop, stopped) = mpsc::channel::<()>();
        let uri = uri.to_string();
        let thread = std::thread::spawn(move || {
            loop {
                let left = deadline.saturating_duration_since(Instant::now()).as_secs();
                let line = format!(
                    "Waiting for the browser at {uri}, {}:{:02} left",
                    left / 60,
                    left % 60
                );
                let _ = write!(std::io::stderr(), "\r\x1b[2K{line}");
                let timed_out = matches!(
                    stopped.recv_timeout(Duration::from_secs(1)),
                    Err(mpsc::RecvTimeoutError::Timeout)
                );
                if !timed_out || left == 0 {
                    break;
                }
            }
            let _ = write!(std::io::stderr(), "\r\x1b[2K");
        });
        Progress {
            stop: Some(stop),
            thread: Some(thread),
        }
    }
}

impl Drop for Progress {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}
