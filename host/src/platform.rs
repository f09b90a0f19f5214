//! What differs by operating system and that more than one room asks about:
//! whether this is Linux under WSL, where a program is on the `PATH`, and
//! whose home a `sudo` run works for.

use std::path::{Path, PathBuf};

/// Whether this is Linux under WSL (Windows Subsystem for Linux), where the
/// user's browser and certificate store are Windows'.
pub fn on_wsl() -> bool {
    std::env::var_os("WSL_DISTRO_NAME").is_some()
        || Path::new("/proc/sys/fs/binfmt_misc/WSLInterop").exists()
}

/// Where `program` is: the first folder of the `PATH` holding a file of
/// that name (`program.exe` too on Windows), else `None`.
pub fn find_program(program: &str) -> Option<PathBuf> {
    let paths = std::env::var_os("PATH")?;
    std::env::split_paths(&paths).find_map(|dir| {
        let names = [
            Some(dir.join(program)),
            cfg!(windows).then(|| dir.join(format!("{program}.exe"))),
        ];
        names.into_iter().flatten().find(|path| path.is_file())
    })
}

/// Run by `sudo` (root, with `SUDO_UID` set, and `$HOME` root's own or
/// unset, as `sudo` leaves it): the home folder of the user who ran it,
/// whose files (the local CA) are theirs, not root's. `None` otherwise (a
/// `$HOME` set to anything else is followed), and on systems without
/// `sudo`.
pub fn sudo_user_home() -> Option<PathBuf> {
    #[cfg(unix)]
    {
        // SAFETY: geteuid has no preconditions.
        if unsafe { libc::geteuid() } != 0 {
            return None;
        }
        let uid: libc::uid_t = std::env::var("SUDO_UID").ok()?.parse().ok()?;
        let home = std::env::var_os("HOME").map(PathBuf::from);
        if uid == 0 || home.is_some_and(|home| Some(home) != home_of(0)) {
            return None;
        }
        home_of(uid)
    }
    #[cfg(not(unix))]
    None
}

/// The home folder of the user `uid` (the password database's).
#[cfg(unix)]
fn home_of(uid: libc::uid_t) -> Option<PathBuf> {
    use std::os::unix::ffi::OsStrExt;
    // SAFETY: getpwuid returns a pointer to static storage or null; its
    // fields are copied at once, on this thread, before any other call.
    unsafe {
        let entry = libc::getpwuid(uid);
        if entry.is_null() || (*entry).pw_dir.is_null() {
            return None;
        }
        let dir = std::ffi::CStr::from_ptr((*entry).pw_dir);
        Some(PathBuf::from(std::ffi::OsStr::from_bytes(dir.to_bytes())))
    }
}
