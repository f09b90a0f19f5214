//! What differs by operating system and that more than one room asks about:
//! whether this is Linux under WSL, and where a program is on the `PATH`.

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
