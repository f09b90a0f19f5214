//! Job control on a terminal (Unix), as vim, less and readline do it:
//! before the process stops (Ctrl-Z, SIGTSTP) the terminal gets back the
//! modes it had and nothing of ours is left on it; when the process goes on
//! (SIGCONT, after `fg` or `bg`) it takes the terminal again only if it is
//! in the foreground. A process in the background neither reads the
//! terminal nor draws on it.

use std::sync::{Condvar, Mutex};
use std::time::Duration;

/// Standard input's descriptor.
pub const STDIN: i32 = 0;
/// Standard error's descriptor.
pub const STDERR: i32 = 2;

/// A change of job that the terminal's users react to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Job {
    /// The process is about to stop: give the terminal back.
    #[cfg_attr(not(unix), expect(dead_code, reason = "no job control"))]
    Stopping,
    /// The process goes on, in the foreground or the background (each user
    /// asks [`in_foreground`] for its own descriptor).
    Continued,
}

/// Whether `fd` is this process's controlling terminal and the process is
/// in its foreground group: only then may it read the terminal, change its
/// modes or draw on it. A terminal inherited by a process in another
/// session (`setsid oauth-callback ... &`) is not.
#[cfg(unix)]
pub fn in_foreground(fd: i32) -> bool {
    // SAFETY: queries of this process and one descriptor, no memory involved.
    match unsafe { libc::tcgetpgrp(fd) } {
        // Not a terminal, or not this process's controlling terminal.
        -1 => false,
        // SAFETY: as above.
        foreground => foreground == unsafe { libc::getpgrp() },
    }
}

/// Without job control, a console is always the foreground.
#[cfg(not(unix))]
pub fn in_foreground(_fd: i32) -> bool {
    true
}

/// Woken when the process goes on (see [`wait_for_foreground`]).
static CONTINUED: (Mutex<()>, Condvar) = (Mutex::new(()), Condvar::new());

/// Block until `fd` is in the foreground (see [`in_foreground`]).
pub fn wait_for_foreground(fd: i32) {
    let (lock, continued) = &CONTINUED;
    let mut guard = lock.lock().unwrap_or_else(|p| p.into_inner());
    while !in_foreground(fd) {
        // Also looked at now and then: a SIGCONT can come between the test
        // and the wait.
        guard = continued
            .wait_timeout(guard, Duration::from_millis(250))
            .unwrap_or_else(|p| p.into_inner())
            .0;
    }
}

/// Follow job control for as long as the returned future runs: `react` is
/// called before the process stops and when it goes on.
#[cfg(unix)]
pub async fn follow(react: impl Fn(Job)) -> std::io::Result<()> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut stop = signal(SignalKind::from_raw(libc::SIGTSTP))?;
    let mut go_on = signal(SignalKind::from_raw(libc::SIGCONT))?;
    loop {
        tokio::select! {
            _ = stop.recv() => {
                react(Job::Stopping);
                stop_now();
            }
            _ = go_on.recv() => {
                react(Job::Continued);
                CONTINUED.1.notify_all();
            }
        }
    }
}

/// No job control: nothing to follow.
#[cfg(not(unix))]
pub async fn follow(_react: impl Fn(Job)) -> std::io::Result<()> {
    std::future::pending().await
}

/// Stop the process as SIGTSTP would have without our handler, and return
/// once it goes on.
#[cfg(unix)]
fn stop_now() {
    // SAFETY: sigaction structs are plain data; the handler installed for
    // SIGTSTP is put back as it was once the process goes on.
    unsafe {
        let mut default: libc::sigaction = std::mem::zeroed();
        default.sa_sigaction = libc::SIG_DFL;
        let mut ours: libc::sigaction = std::mem::zeroed();
        if libc::sigaction(libc::SIGTSTP, &default, &mut ours) != 0 {
            return;
        }
        libc::raise(libc::SIGTSTP);
        libc::sigaction(libc::SIGTSTP, &ours, std::ptr::null_mut());
    }
}
