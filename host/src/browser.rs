//! Opening the user's browser at the sign-in page, for every face (the
//! command line's `--open`, Python's `open_url`): a browser command first,
//! then `$BROWSER` and the system's way (on WSL, the Windows browser); when
//! nothing works, the URL is logged for the user to open, and the wait goes
//! on.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Where a browser command puts the URL.
pub const URL_PLACEHOLDER: &str = "{url}";
/// Where the sign-in page's URL takes the redirect URI (URL-encoded).
pub const REDIRECT_URI_PLACEHOLDER: &str = "{redirect_uri}";
/// Where the sign-in page's URL takes the expected state (URL-encoded).
pub const STATE_PLACEHOLDER: &str = "{state}";

/// The sign-in page opened once the server listens: a URL (https,
/// or http on a loopback address) in which [`REDIRECT_URI_PLACEHOLDER`] and
/// [`STATE_PLACEHOLDER`] stand for the redirect URI and the expected state,
/// each URL-encoded as a query value.
#[derive(Debug, Clone)]
pub struct SignInPage(String);

/// Why a sign-in page's URL cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignInPageError {
    /// It is neither https nor http on a loopback address (the reason).
    #[error("{0}")]
    Url(String),
    /// It uses [`STATE_PLACEHOLDER`], but no state is expected.
    #[error("it uses {STATE_PLACEHOLDER}, but no state is expected")]
    NoState,
}

impl SignInPage {
    /// Check `template` and put the expected `state` in it.
    pub fn new(template: &str, state: Option<&str>) -> Result<SignInPage, SignInPageError> {
        crate::urls::browser_url(template).map_err(SignInPageError::Url)?;
        match state {
            Some(state) => Ok(SignInPage(
                template.replace(STATE_PLACEHOLDER, &url_encode(state)),
            )),
            None if template.contains(STATE_PLACEHOLDER) => Err(SignInPageError::NoState),
            None => Ok(SignInPage(template.to_string())),
        }
    }

    /// Open it now that the server listens on `redirect_uri`, with
    /// `command` or as the system does (see [`open_browser`]).
    pub fn open(&self, redirect_uri: &str, command: Option<&str>) {
        let url = self
            .0
            .replace(REDIRECT_URI_PLACEHOLDER, &url_encode(redirect_uri));
        open_browser(&url, command);
    }
}

/// Encode a query value (`application/x-www-form-urlencoded`).
fn url_encode(text: &str) -> String {
    url::form_urlencoded::byte_serialize(text.as_bytes()).collect()
}

/// Open the user's browser at `url` (https, or http on a loopback address)
/// with `command` (split like a shell would; `{url}` replaced, or the URL
/// appended; see [`check_browser_command`]), else as the system does. Every
/// opener gets the URL parsed and serialised again: non-ASCII characters,
/// quotes and spaces percent-encoded, nothing a shell or PowerShell could
/// take as syntax. Never fails: what happened is logged (`info` when
/// opened; `warn` with the URL to open by hand when not).
pub fn open_browser(url: &str, command: Option<&str>) {
    match try_open(url, command) {
        Ok(()) => tracing::info!("opened the browser"),
        // Keep waiting: the user can still open it, on this machine or another.
        Err(e) => {
            tracing::warn!("could not open a browser ({e}); open this page to sign in: {url}")
        }
    }
}

/// [`open_browser`], saying why when no browser opened (never with the URL).
pub(crate) fn try_open(url: &str, command: Option<&str>) -> Result<(), String> {
    let url = crate::urls::browser_url(url).map_err(|e| format!("not a URL to open: {e}"))?;
    let url = url.as_str();
    match command.map(check_browser_command) {
        Some(Ok(command)) => run(&command, url),
        Some(Err(reason)) => Err(format!("the browser command cannot be used: {reason}")),
        None => system(url),
    }
}

/// Whether a browser can be expected to open here: a browser command or
/// `$BROWSER` is given, or there is a desktop (macOS and Windows always;
/// elsewhere WSL, `$DISPLAY` or `$WAYLAND_DISPLAY`). An SSH session or a
/// container without them has none.
pub(crate) fn can_open(command: Option<&str>) -> bool {
    let set = |name: &str| std::env::var_os(name).is_some_and(|v| !v.is_empty());
    command.is_some()
        || set("BROWSER")
        || cfg!(any(target_os = "macos", windows))
        || set("DISPLAY")
        || set("WAYLAND_DISPLAY")
        || crate::platform::on_wsl()
}

/// `$BROWSER`, the desktop's opener; on WSL without `$BROWSER`, Windows'.
fn system(url: &str) -> Result<(), String> {
    if std::env::var_os("BROWSER").is_none() && crate::platform::on_wsl() {
        let quoted = powershell_quoted(url);
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

/// The characters PowerShell takes for a single quote: `'` and the
/// typographic ones (‘ ’ ‚ ‛), each of which ends a single-quoted string.
const POWERSHELL_QUOTES: [char; 5] = ['\'', '\u{2018}', '\u{2019}', '\u{201a}', '\u{201b}'];

/// `text` for inside a PowerShell single-quoted string, where `&` and `;`
/// are text and a quote is written twice.
fn powershell_quoted(text: &str) -> String {
    text.chars().fold(String::new(), |mut quoted, c| {
        quoted.push(c);
        if POWERSHELL_QUOTES.contains(&c) {
            quoted.push(c);
        }
        quoted
    })
}

/// Check a browser command (`firefox --private-window {url}`): split as a
/// shell would, its first word must be a program (not empty, not the URL
/// itself, which would run whatever the URL names). Returns it unchanged, or
/// the reason it cannot be used.
pub fn check_browser_command(command: &str) -> Result<String, String> {
    let words = shell_words::split(command).map_err(|e| e.to_string())?;
    match words.first() {
        None => Err("it names no program".into()),
        Some(program) if program.trim().is_empty() => Err("its program is empty".into()),
        Some(program) if program.contains(URL_PLACEHOLDER) => Err(format!(
            "its first word must be a program, not {URL_PLACEHOLDER}"
        )),
        Some(_) => Ok(command.into()),
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_quote_powershell_knows_is_doubled() {
        assert_eq!(
            powershell_quoted("a'b\u{2019};c\u{2018}\u{201a}\u{201b}"),
            "a''b\u{2019}\u{2019};c\u{2018}\u{2018}\u{201a}\u{201a}\u{201b}\u{201b}"
        );
    }

    #[test]
    fn a_browser_command_must_name_a_program() {
        for bad in ["", "  ", "{url}", "'' {url}", "{url}.exe --x", "'unclosed"] {
            assert!(check_browser_command(bad).is_err(), "{bad:?}");
        }
        for good in [
            "firefox",
            "firefox --private-window {url}",
            "open -a 'Google Chrome'",
        ] {
            assert_eq!(check_browser_command(good).as_deref(), Ok(good));
        }
    }
}
