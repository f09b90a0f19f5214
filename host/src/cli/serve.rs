//! Receiving one callback: the flags (the original module's names, plus
//! ours), the ready signals (line, file, browser) and the outcome's exit code.
//!
//! Flags that take free-form values accept values that begin with `-`
//! (`--expect-state -abc`: one `secrets.token_urlsafe()` state in 64 does).

use std::path::PathBuf;
use std::time::Duration;

use crate::{
    AsyncCallbackServer, AsyncRunningServer, CallbackResult, Config, ConfigBuilder, SignInPage,
    SignInPageError, Tls,
};
use clap::{Args, CommandFactory, ValueEnum};

use super::jobs;
use super::key_by_key;
use super::paste;
use super::signals::{Signals, Stop};
use super::stdout;
use super::terminal::{self, Waiting};
use super::{Failure, ISSUER_VARIABLE, STATE_VARIABLE, exit};

/// Receiving one callback (the default task).
#[derive(Debug, Args)]
pub struct ServeArgs {
    #[command(flatten)]
    receiver: ReceiverArgs,

    /// Complete only on a callback whose `state` is exactly VALUE (RFC 8252
    /// 8.9); others get 400 and the wait goes on. Without it, checking
    /// `state` in the printed JSON is up to you. Prefer the environment
    /// variable: other local users can read a program's arguments.
    #[arg(long, value_name = "VALUE", env = STATE_VARIABLE, hide_env_values = true,
          allow_hyphen_values = true, value_parser = not_a_flag)]
    expect_state: Option<String>,

    /// Complete only on a callback whose `iss` is exactly URL (RFC 9207,
    /// mix-up defence); others get 400 and the wait goes on.
    #[arg(long, value_name = "URL", env = ISSUER_VARIABLE, hide_env_values = true,
          allow_hyphen_values = true, value_parser = not_a_flag)]
    expect_issuer: Option<String>,

    /// Once listening, open the user's browser at URL (https, or http on a
    /// loopback address). `{redirect_uri}` in URL becomes the real redirect
    /// URI, URL-encoded, so it works with --port 0; `{state}` becomes the
    /// expected state, URL-encoded, so it need not be in the arguments.
    #[arg(allow_hyphen_values = true, long, value_name = "URL", value_parser = parse_open_url)]
    open: Option<String>,

    /// Accepted for compatibility with the Python module, and ignored.
    #[arg(long, value_enum, hide_possible_values = true)]
    server: Option<LegacyServer>,
}

/// The receiver's flags: where it listens, its TLS, pages and waiting;
/// the same for receiving a callback and for signing in.
#[derive(Debug, Args)]
pub struct ReceiverArgs {
    /// Address to listen on: 127.0.0.1, ::1, or localhost (both of them;
    /// also a name under it, such as cli.localhost) [default: 127.0.0.1, or
    /// both loopbacks for a --redirect-uri naming localhost]
    #[arg(long)]
    host: Option<String>,

    /// Port to listen on; must match the registered redirect URI. A
    /// comma-separated list (e.g. 8000,18000,0) is tried in order: the first
    /// that is free wins. 0 picks any free port (the ready line and
    /// --ready-file tell which) [default: 8080, or a loopback --redirect-uri's
    /// port; sign-in: a free port]
    #[arg(
        long = "port",
        value_name = "PORT[,PORT...]",
        value_delimiter = ',',
        overrides_with = "ports"
    )]
    ports: Vec<u16>,

    /// Callback route; `callback` is read as `/callback`.
    #[arg(allow_hyphen_values = true, value_parser = not_a_flag, long, default_value = crate::DEFAULT_PATH)]
    path: String,

    #[arg(long, value_name = "SECONDS", value_parser = parse_timeout, help = format!(
        "Seconds to wait for the callback before giving up (exit {}); fractions allowed [default: {}]",
        exit::TIMEOUT.code,
        crate::DEFAULT_TIMEOUT.as_secs_f64()
    ))]
    timeout: Option<Duration>,

    /// PEM file with the TLS certificate chain (use with --ssl-key).
    #[arg(allow_hyphen_values = true, value_parser = path_not_a_flag, long, value_name = "FILE", requires = "ssl_key", conflicts_with_all = ["adhoc_ssl", "no_https", "tls_dir"])]
    ssl_cert: Option<PathBuf>,

    /// PEM file with the TLS private key (use with --ssl-cert).
    #[arg(
        allow_hyphen_values = true, value_parser = path_not_a_flag,
        long,
        value_name = "FILE",
        requires = "ssl_cert"
    )]
    ssl_key: Option<PathBuf>,

    /// Use the certificate pair in DIR (cert.pem, key.pem), generating it on
    /// first use: trust it once (see `oauth-callback cert`) and the browser
    /// stops warning.
    #[arg(allow_hyphen_values = true, value_parser = path_not_a_flag, long, value_name = "DIR", conflicts_with_all = ["adhoc_ssl", "no_https"])]
    tls_dir: Option<PathBuf>,

    /// Use a certificate made in memory for this run (the default when no
    /// certificate is given): signed by the local CA when `oauth-callback
    /// trust` made one (no browser warning), else self-signed.
    #[arg(long, conflicts_with = "no_https")]
    adhoc_ssl: bool,

    /// Use a self-signed certificate made in memory for this run even when
    /// there is a local CA (the browser shows a warning).
    #[arg(long, conflicts_with_all = ["no_https", "adhoc_ssl", "ssl_cert", "tls_dir"])]
    self_signed: bool,

    /// Serve plain HTTP instead of HTTPS (not recommended).
    #[arg(long)]
    no_https: bool,

    /// HTML file shown when the sign-in succeeds; the built-in page if unreadable.
    #[arg(allow_hyphen_values = true, value_parser = path_not_a_flag, long, value_name = "FILE")]
    success_html: Option<PathBuf>,

    /// HTML file shown when the provider reports an error; the built-in page if unreadable.
    #[arg(allow_hyphen_values = true, value_parser = path_not_a_flag, long, value_name = "FILE")]
    error_html: Option<PathBuf>,

    /// Once listening, write the redirect URI (and a newline) to FILE, for
    /// scripts that start the browser themselves.
    #[arg(allow_hyphen_values = true, value_parser = path_not_a_flag, long, value_name = "FILE")]
    ready_file: Option<PathBuf>,

    /// Once the flow completes with credentials, send the browser to URL
    /// (303 See Other) instead of showing the success page: https, or http
    /// on a loopback address. Nothing of the callback goes along.
    #[arg(allow_hyphen_values = true, value_parser = not_a_flag, long, value_name = "URL")]
    success_redirect: Option<String>,

    /// Like --success-redirect, when the provider reports an error.
    #[arg(allow_hyphen_values = true, value_parser = not_a_flag, long, value_name = "URL")]
    error_redirect: Option<String>,

    /// The command that opens the browser (--open's URL, or the sign-in's),
    /// before $BROWSER and the system's way: `{url}` in it becomes the URL
    /// (appended when absent), e.g. `--browser-command "firefox
    /// --private-window {url}"`. On WSL without either, the Windows browser
    /// is used (wslview, or PowerShell).
    #[arg(allow_hyphen_values = true, long, value_name = "CMD",
          value_parser = parse_browser_command)]
    pub browser_command: Option<String>,

    /// Listen on a non-loopback --host (e.g. 0.0.0.0). Other machines can then
    /// reach the callback; refused without this flag.
    #[arg(long)]
    allow_remote: bool,

    /// The redirect URI registered with the provider, when it is not where
    /// the server listens: in a container published with `-p 18080:8080`,
    /// `--host 0.0.0.0 --allow-remote --port 8080 --redirect-uri
    /// http://127.0.0.1:18080/callback`. Its path is the callback route; it
    /// is the URI printed and written to --ready-file.
    #[arg(allow_hyphen_values = true, value_parser = not_a_flag, long, value_name = "URI")]
    redirect_uri: Option<String>,

    /// TLS is terminated in front of this server (a proxy, a forwarding
    /// service): an https --redirect-uri is allowed with --no-https.
    #[arg(long, requires = "redirect_uri")]
    behind_tls_proxy: bool,

    /// A handler component (.wasm exporting oauth:callback/handler) to use
    /// instead of the embedded one.
    #[arg(allow_hyphen_values = true, value_parser = path_not_a_flag, long, value_name = "FILE")]
    handler: Option<PathBuf>,

    /// Speak only the server's scheme on its port. By default a plain-HTTP
    /// request on the HTTPS port gets a redirect (308) to https, and a TLS
    /// handshake on a --no-https port (a browser that upgraded the scheme)
    /// is served with an ad hoc certificate.
    #[arg(long)]
    one_scheme: bool,

    /// Also read pasted addresses from stdin even when it is not a terminal
    /// (a pipe): each line is an address a browser ended at (see --no-paste).
    #[arg(long, conflicts_with = "no_paste")]
    paste: bool,

    /// Do not read stdin. By default, when stdin is a terminal, the address
    /// a browser on another machine ended at (the callback page that did not
    /// load) can be pasted there to complete the sign-in.
    #[arg(long)]
    no_paste: bool,
}

/// The Python module's server choices; there is one server here.
#[derive(Debug, Clone, Copy, ValueEnum)]
enum LegacyServer {
    Auto,
    Gevent,
    Werkzeug,
}

impl ServeArgs {
    /// Run the server once and turn the outcome into an exit code.
    pub fn run(self, quiet: bool) -> Result<u8, Failure> {
        if self.server.is_some() {
            tracing::info!("--server is ignored: oauth-callback has one production-grade server");
        }
        if self.receiver.browser_command.is_some() && self.open.is_none() {
            return Err(Failure::Usage(
                "--browser-command opens --open's URL: give --open too".into(),
            ));
        }
        let config = self.config()?;
        let open = self.sign_in_page()?;
        on_own_runtime(self.serve(config, open, quiet), Teardown::Wait)
    }

    /// Listen, say where, open the browser, wait for the callback, a signal
    /// or the timeout, and deliver the result.
    async fn serve(
        &self,
        config: Config,
        open: Option<SignInPage>,
        quiet: bool,
    ) -> Result<u8, Failure> {
        let timeout = config.timeout();
        // Before anyone learns where we listen: a signal from then on is a
        // clean stop, never the default kill.
        let mut signals = Signals::catch().map_err(crate::Error::from)?;
        let mut server = AsyncCallbackServer::start(config).await?;
        let uri = server.redirect_uri().to_string();
        if !quiet {
            terminal::say(format_args!("listening on {uri}"));
        }
        if let Some(page) = open {
            // A browser command may take a second to fail: waited for on a
            // blocking thread while this one serves.
            let (uri, command) = (uri.clone(), self.receiver.browser_command.clone());
            let _ = tokio::task::spawn_blocking(move || page.open(&uri, command.as_deref())).await;
        }
        match self.receiver.wait(&mut server, &mut signals, quiet).await {
            // Printed first: the exit follows once the connections are done.
            Ok(result) => {
                let delivered = deliver(&result);
                server.shutdown().await;
                delivered
            }
            Err(stop) => Ok(gave_up(stop, timeout)),
        }
    }

    /// `--open`'s page, with the expected state in place of `{state}`
    /// (`{redirect_uri}` is known once listening).
    fn sign_in_page(&self) -> Result<Option<SignInPage>, Failure> {
        let Some(url) = &self.open else {
            return Ok(None);
        };
        SignInPage::new(url, self.expect_state.as_deref())
            .map(Some)
            .map_err(|e| match e {
                SignInPageError::NoState => Failure::Usage(format!(
                    "--open: {e}: give --expect-state or {STATE_VARIABLE}"
                )),
                SignInPageError::Url(reason) => Failure::Usage(format!("--open: {reason}")),
            })
    }

    fn config(&self) -> Result<Config, crate::Error> {
        let mut builder = self.receiver.builder()?;
        if let Some(state) = &self.expect_state {
            builder = builder.expect_state(state);
        }
        if let Some(issuer) = &self.expect_issuer {
            builder = builder.expect_issuer(issuer);
        }
        builder.build()
    }
}

/// How a command's runtime ends once its job is done.
pub enum Teardown {
    /// Work left on blocking threads gets 100 ms to finish; tasks left are
    /// dropped (the job has stopped its server).
    Wait,
    /// What is left ends with the process: the job's answer is out, and
    /// nobody waits for the rest.
    Background,
}

/// Run `job` on a runtime of its own, ended as `teardown` says.
pub fn on_own_runtime<T>(
    job: impl Future<Output = Result<T, Failure>>,
    teardown: Teardown,
) -> Result<T, Failure> {
    let runtime = crate::lifecycle::job_runtime().map_err(crate::Error::from)?;
    let code = runtime.block_on(job);
    match teardown {
        Teardown::Wait => runtime.shutdown_timeout(Duration::from_millis(100)),
        Teardown::Background => runtime.shutdown_background(),
    }
    code
}

impl ReceiverArgs {
    /// Wait on `server` for the callback, a signal or the timeout, with the
    /// waiting line, the paste-back reader and the job-control handling.
    /// The result (the server still running: print, then shut it down), or
    /// the signal that ended the wait (none: the timeout), the server
    /// stopped. A result the browser was told succeeded as the wait ended
    /// is handed over by the stop, never lost.
    pub async fn wait(
        &self,
        server: &mut AsyncRunningServer,
        signals: &mut Signals,
        quiet: bool,
    ) -> Result<CallbackResult, Option<Stop>> {
        let _jobs = AbortOnDrop(tokio::spawn(jobs::follow(|job| {
            terminal::on_job(job);
            key_by_key::on_job(job);
        })));
        let uri = server.redirect_uri().to_string();
        let deadline = server.deadline();
        let ended = {
            // Dropped in reverse: the waiting line is cleared, then the
            // terminal's line mode and echo come back.
            let _keys = paste::start(server.paste_back(), self.paste, self.no_paste, quiet);
            let _waiting = (!quiet).then(|| Waiting::start(&uri, deadline));
            tokio::select! {
                biased;
                result = server.wait() => result.ok_or(None),
                stop = signals.next() => Err(Some(stop)),
            }
        };
        let ended = match ended {
            Ok(result) => Ok(result),
            Err(stop) => server.stop().await.ok_or(stop),
        };
        // A paste that completed the flow has said so before the result.
        paste::settled().await;
        ended
    }

    /// The TLS mode the flags ask for; none (the library's default, an ad
    /// hoc certificate) when no flag does.
    fn tls(&self) -> Option<Tls> {
        match (&self.ssl_cert, &self.ssl_key, &self.tls_dir) {
            (Some(cert), Some(key), _) => Some(Tls::Pem {
                cert: cert.clone(),
                key: key.clone(),
            }),
            (_, _, Some(dir)) => Some(Tls::Dir(dir.clone())),
            _ if self.no_https => Some(Tls::Disabled),
            _ if self.self_signed => Some(Tls::SelfSigned),
            _ if self.adhoc_ssl => Some(Tls::Adhoc),
            _ => None,
        }
    }

    /// The receiver's settings as the flags give them.
    pub fn builder(&self) -> Result<ConfigBuilder, crate::Error> {
        let mut builder = Config::builder()
            .path(&self.path)
            .allow_remote(self.allow_remote)
            .behind_tls_proxy(self.behind_tls_proxy)
            .one_scheme(self.one_scheme);
        if let Some(host) = &self.host {
            builder = builder.host(host);
        }
        if !self.ports.is_empty() {
            builder = builder.ports(self.ports.iter().copied());
        }
        if let Some(tls) = self.tls() {
            builder = builder.tls(tls);
        }
        if let Some(timeout) = self.timeout {
            builder = builder.timeout(timeout);
        }
        if let Some(file) = &self.success_html {
            builder = builder.success_html(file);
        }
        if let Some(file) = &self.error_html {
            builder = builder.error_html(file);
        }
        if let Some(file) = &self.handler {
            builder = builder.handler(file);
        }
        if let Some(file) = &self.ready_file {
            builder = builder.ready_file(file);
        }
        if let Some(uri) = &self.redirect_uri {
            builder = builder.redirect_uri(uri)?;
        }
        if let Some(url) = &self.success_redirect {
            builder = builder.success_redirect(url)?;
        }
        if let Some(url) = &self.error_redirect {
            builder = builder.error_redirect(url)?;
        }
        Ok(builder)
    }
}

/// Print the result's JSON line on stdout: the sign-in's one output.
fn deliver(result: &CallbackResult) -> Result<u8, Failure> {
    stdout::print_line(&result.to_json_line()).map_err(Failure::Undelivered)?;
    Ok(exit::COMPLETED.code)
}

/// Say why the wait ended without a result (a signal, or the timeout) and
/// return the exit code that tells it.
pub fn gave_up(stop: Option<Stop>, timeout: Duration) -> u8 {
    match stop {
        Some(stop) => {
            terminal::say(format_args!("{stop}; no callback was received"));
            stop.exit_code()
        }
        None => {
            terminal::say(format_args!(
                "no callback arrived within {} s; giving up",
                timeout.as_secs_f64()
            ));
            exit::TIMEOUT.code
        }
    }
}

/// A task stopped when this is dropped.
struct AbortOnDrop<T>(tokio::task::JoinHandle<T>);

impl<T> Drop for AbortOnDrop<T> {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Take the expected values' variables out of this process's environment
/// once clap has read them: no program it starts (the browser opener)
/// inherits them.
pub fn forget_expected_values() {
    for variable in [STATE_VARIABLE, ISSUER_VARIABLE] {
        // SAFETY: called from `Cli::run` before any thread is started.
        unsafe { std::env::remove_var(variable) };
    }
}

/// `https://…`, or `http://` on a loopback address; never with userinfo
/// (`http://127.0.0.1:80@evil.example/` names the host `evil.example`).
fn parse_open_url(text: &str) -> Result<String, String> {
    let text = not_a_flag(text)?;
    crate::urls::browser_url(&text).map(|_| text)
}

/// A free-form value, refused when it is one of this command's own flags
/// (or `--`): values that begin with `-` are taken as given, so a missing
/// one, such as an empty unquoted `$STATE`, would otherwise take the next
/// flag for its value.
fn not_a_flag(value: &str) -> Result<String, String> {
    let word = value.split('=').next().unwrap_or(value);
    let ours = word == "--"
        || super::Cli::command().get_arguments().any(|flag| {
            flag.get_long()
                .is_some_and(|long| word.strip_prefix("--") == Some(long))
                || flag
                    .get_short()
                    .is_some_and(|short| word == format!("-{short}"))
        });
    match ours {
        true => Err(format!(
            "{value} is one of oauth-callback's flags, not a value: is the value missing \
             (an empty variable)?"
        )),
        false => Ok(value.into()),
    }
}

/// `--browser-command`: not one of our flags, and a command (see
/// [`crate::check_browser_command`]).
fn parse_browser_command(text: &str) -> Result<String, String> {
    crate::check_browser_command(&not_a_flag(text)?)
}

/// [`not_a_flag`], for a file or directory.
fn path_not_a_flag(value: &str) -> Result<PathBuf, String> {
    not_a_flag(value).map(PathBuf::from)
}

/// Seconds, fractions allowed. Whether the value is a valid timeout (more
/// than zero, at most a week) is the library's rule, checked by `Config`.
fn parse_timeout(value: &str) -> Result<Duration, String> {
    value
        .parse::<f64>()
        .ok()
        .and_then(crate::timeout_from_secs)
        .ok_or_else(|| format!("{value:?} is not a number of seconds"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_open_url_is_a_value_and_a_url_a_browser_may_be_sent_to() {
        assert!(parse_open_url("https://idp.example/auth?x={redirect_uri}").is_ok());
        assert!(parse_open_url("--no-https").is_err());
        assert!(parse_open_url("http://idp.example/auth").is_err());
    }

    #[test]
    fn a_value_that_is_one_of_our_flags_is_a_missing_value() {
        for flag in ["--no-https", "--timeout", "--timeout=5", "-q", "--"] {
            assert!(not_a_flag(flag).is_err(), "{flag}");
        }
        for value in ["-abc", "--x-not-ours", "-", "state"] {
            assert_eq!(not_a_flag(value).as_deref(), Ok(value));
        }
    }
}
