//! Opening the sign-in page: `--browser-command` first, then `$BROWSER` and
//! the system's way (on WSL, the Windows browser); when nothing works, the
//! URL is printed for the user to open, and the wait goes on.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Where `--browser-command` puts the URL.
pub const URL_PLACEHOLDER: &str = "{url}";

/// Open `url` with `command` (split like a shell would; `{url}` replaced,
/// or the URL appended), else as the system does.
pub fn open(url: &str, command: Option<&str>) {
    let opened = match command {
        Some(command) => run(command, url),
        None => system(url),
    };
    match opened {
        Ok(()) => tracing::info!("opened the browser"),
        // Keep waiting: the user can still open it, on this machine or another.
        Err(e) => {
            tracing::warn!("could not open a browser ({e}); open this page to sign in: {url}")
        }
    }
}

/// `$BROWSER`, the desktop's opener; on WSL without `$BROWSER`, Windows'.
fn system(url: &str) -> Result<(), String> {
    if std::env::var_os("BROWSER").is_none() && on_wsl() {
        // PowerShell gets the URL inside a single-quoted string, where `&`
        // and `;` are text and a `'` is written twice.
        let quoted = url.replace('\'', "''");
        let windows = [
            ("wslview {url}", url),
            (
                "powershell.exe -NoProfile -NonInteractive -Command \"Start-Process '{url}'\"",
                &quoted,
            ),
        ];
        if windows
            .iter()
            .any(|(command, url)| run(command, url).is_ok())
        {
            return Ok(());
        }
    }
    webbrowser::open(url).map_err(|e| e.to_string())
}

/// How long a browser command may take to fail; one still running after it
/// (a browser in the foreground) is taken as opened and left to run.
const FAIL_WITHIN: Duration = Duration::from_secs(1);

/// Run `command` with the URL: it must start, and not fail at once.
fn run(command: &str, url: &str) -> Result<(), String> {
    let mut words = shell_words::split(command).map_err(|e| format!("{command:?}: {e}"))?;
    if !words.iter().any(|word| word.contains(URL_PLACEHOLDER)) {
        words.push(URL_PLACEHOLDER.into());
    }
    let words: Vec<String> = words
        .iter()
        .map(|w| w.replace(URL_PLACEHOLDER, url))
        .collect();
    let (program, args) = words.split_first().ok_or("the browser command is empty")?;
    let mut child = Command::new(program)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .spawn()
        .map_err(|e| format!("{program}: {e}"))?;
    let deadline = Instant::now() + FAIL_WITHIN;
    while Instant::now() < deadline {
        match child.try_wait().map_err(|e| e.to_string())? {
            Some(status) if status.success() => return Ok(()),
            Some(status) => return Err(format!("{program} failed ({status})")),
            None => std::thread::sleep(Duration::from_millis(10)),
        }
    }
    // Still running: reap it whenever it ends.
    std::thread::spawn(move || child.wait());
    Ok(())
}

/// Inside WSL (Windows Subsystem for Linux), where the browser is Windows'.
fn on_wsl() -> bool {
    std::env::var_os("WSL_DISTRO_NAME").is_some()
        || std::path::Path::new("/proc/sys/fs/binfmt_misc/WSLInterop").exists()
}
