//! Stdout, where the result's one line goes, and the ways it can fail to
//! get there: a full disk, a broken pipe, or no stdout at all. Rust's
//! runtime opens `/dev/null` in place of a closed stdout before `main`, so
//! that a closed one would take the line silently: whether it was closed is
//! recorded before that, by a constructor the loader runs.

use std::io::Write;

/// Write `line` and a newline to stdout, flushed; an error when stdout is
/// closed, full or a broken pipe.
pub fn print_line(line: &str) -> std::io::Result<()> {
    if closed() {
        return Err(std::io::Error::new(
            std::io::ErrorKind::NotConnected,
            "stdout is closed",
        ));
    }
    let mut stdout = std::io::stdout().lock();
    writeln!(stdout, "{line}")?;
    stdout.flush()
}

#[cfg(any(target_os = "linux", target_os = "android", target_os = "macos"))]
mod at_start {
    use std::sync::atomic::{AtomicBool, Ordering};

    /// Set when descriptor 1 was not open as the process started.
    pub static CLOSED: AtomicBool = AtomicBool::new(false);

    /// Runs before Rust's runtime replaces a closed stdout.
    extern "C" fn record() {
        // SAFETY: a query of one descriptor's flags.
        let closed = unsafe { libc::fcntl(libc::STDOUT_FILENO, libc::F_GETFD) } == -1;
        CLOSED.store(closed, Ordering::Relaxed);
    }

    #[used]
    #[cfg_attr(
        any(target_os = "linux", target_os = "android"),
        unsafe(link_section = ".init_array")
    )]
    #[cfg_attr(target_os = "macos", unsafe(link_section = "__DATA,__mod_init_func"))]
    static RECORD: extern "C" fn() = record;

    pub fn closed() -> bool {
        CLOSED.load(Ordering::Relaxed)
    }
}

#[cfg(any(target_os = "linux", target_os = "android", target_os = "macos"))]
use at_start::closed;

/// Whether stdout is closed (there is no handle for it).
#[cfg(windows)]
fn closed() -> bool {
    use windows_sys::Win32::Foundation::INVALID_HANDLE_VALUE;
    use windows_sys::Win32::System::Console::{GetStdHandle, STD_OUTPUT_HANDLE};
    // SAFETY: a query of the process's own standard handle.
    let handle = unsafe { GetStdHandle(STD_OUTPUT_HANDLE) };
    handle.is_null() || handle == INVALID_HANDLE_VALUE
}

/// Elsewhere a closed stdout is not told apart.
#[cfg(not(any(
    target_os = "linux",
    target_os = "android",
    target_os = "macos",
    windows
)))]
fn closed() -> bool {
    false
}
