//! Reading the terminal key by key, not in line mode and without echo
//! (paste-back reads tokens, longer than a terminal's line limit), on Unix
//! (termios) and Windows (console modes); given back to the terminal while
//! the process is stopped or in the background, ours again in the
//! foreground (see [`on_job`]).

use std::sync::Mutex;

use super::jobs::{self, Job};

/// The terminal out of line mode and echo while pasted addresses are read
/// from it, restored when dropped; given back while the process is stopped
/// or in the background (see [`on_job`]).
pub struct KeyByKey(());

/// The terminal's modes while key by key is wanted.
struct Modes {
    /// Key by key is wanted (a [`KeyByKey`] lives).
    wanted: bool,
    /// The modes to restore, while ours are applied.
    #[cfg(unix)]
    saved: Option<libc::termios>,
    #[cfg(windows)]
    saved: Option<u32>,
}

static MODES: Mutex<Modes> = Mutex::new(Modes {
    wanted: false,
    saved: None,
});

fn modes() -> std::sync::MutexGuard<'static, Modes> {
    MODES.lock().unwrap_or_else(|p| p.into_inner())
}

impl KeyByKey {
    pub fn enter() -> std::io::Result<KeyByKey> {
        // Moved to the background later (Ctrl-Z, bg), a read fails and is
        // tried again in the foreground, instead of stopping the process.
        #[cfg(unix)]
        // SAFETY: setting two signals' dispositions to "ignore".
        unsafe {
            libc::signal(libc::SIGTTIN, libc::SIG_IGN);
            libc::signal(libc::SIGTTOU, libc::SIG_IGN);
        }
        let mut modes = modes();
        modes.apply()?;
        modes.wanted = true;
        Ok(KeyByKey(()))
    }
}

impl Drop for KeyByKey {
    fn drop(&mut self) {
        let mut modes = modes();
        modes.wanted = false;
        modes.restore();
    }
}

/// Follow job control: the terminal's own modes back before the process
/// stops, ours again when it goes on in the foreground.
pub fn on_job(job: Job) {
    let mut modes = modes();
    match job {
        Job::Stopping => modes.restore(),
        Job::Continued if modes.wanted && jobs::in_foreground(jobs::STDIN) => {
            if let Err(e) = modes.apply() {
                tracing::debug!("cannot read the terminal key by key again: {e}");
            }
        }
        Job::Continued => {}
    }
}

#[cfg(unix)]
impl Modes {
    /// Save the terminal's modes and leave line mode and echo.
    fn apply(&mut self) -> std::io::Result<()> {
        if self.saved.is_some() {
            return Ok(());
        }
        // SAFETY: termios is plain data, filled in by tcgetattr before use.
        let mut saved: libc::termios = unsafe { std::mem::zeroed() };
        // SAFETY: fd 0 and a valid termios pointer.
        if unsafe { libc::tcgetattr(libc::STDIN_FILENO, &mut saved) } != 0 {
            return Err(std::io::Error::last_os_error());
        }
        let mut keys = saved;
        // Signals (Ctrl-C, Ctrl-Z) and output processing stay as they were.
        keys.c_lflag &= !(libc::ICANON | libc::ECHO);
        keys.c_cc[libc::VMIN] = 1;
        keys.c_cc[libc::VTIME] = 0;
        // SAFETY: fd 0 and a valid termios.
        if unsafe { libc::tcsetattr(libc::STDIN_FILENO, libc::TCSANOW, &keys) } != 0 {
            return Err(std::io::Error::last_os_error());
        }
        self.saved = Some(saved);
        Ok(())
    }

    /// Put back the modes saved by [`Modes::apply`].
    fn restore(&mut self) {
        if let Some(saved) = self.saved.take() {
            // SAFETY: fd 0 and the termios saved by apply.
            unsafe { libc::tcsetattr(libc::STDIN_FILENO, libc::TCSANOW, &saved) };
        }
    }
}

#[cfg(windows)]
impl Modes {
    /// Save the console's input mode and leave line input and echo.
    fn apply(&mut self) -> std::io::Result<()> {
        use windows_sys::Win32::System::Console::{
            ENABLE_ECHO_INPUT, ENABLE_LINE_INPUT, GetConsoleMode, GetStdHandle, STD_INPUT_HANDLE,
            SetConsoleMode,
        };
        if self.saved.is_some() {
            return Ok(());
        }
        let mut saved = 0;
        // SAFETY: the process's own stdin handle and a valid out pointer.
        unsafe {
            let input = GetStdHandle(STD_INPUT_HANDLE);
            if GetConsoleMode(input, &mut saved) == 0
                || SetConsoleMode(input, saved & !(ENABLE_ECHO_INPUT | ENABLE_LINE_INPUT)) == 0
            {
                return Err(std::io::Error::last_os_error());
            }
        }
        self.saved = Some(saved);
        Ok(())
    }

    /// Put back the mode saved by [`Modes::apply`].
    fn restore(&mut self) {
        use windows_sys::Win32::System::Console::{GetStdHandle, STD_INPUT_HANDLE, SetConsoleMode};
        if let Some(saved) = self.saved.take() {
            // SAFETY: the process's own stdin handle and the mode saved by apply.
            unsafe { SetConsoleMode(GetStdHandle(STD_INPUT_HANDLE), saved) };
        }
    }
}
