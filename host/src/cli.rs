//! The command line: flags (the original module's names), turned into a
//! [`Config`], then one run whose outcome becomes the exit code.

use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Args, Parser, Subcommand, ValueEnum};
use oauth_callback::{CallbackServer, Config, Error, Tls, Waited};

/// Exit code: the flow completed (also for a provider `error`).
pub const EXIT_COMPLETED: u8 = 0;
/// Exit code: bad usage or configuration.
pub const EXIT_USAGE: u8 = 2;
/// Exit code: the timeout passed without a callback.
pub const EXIT_TIMEOUT: u8 = 124;
/// Exit code: interrupted with Ctrl-C.
pub const EXIT_INTERRUPTED: u8 = 130;

const AFTER_HELP: &str = "\
Output:
  When the callback arrives, one line of JSON on stdout, e.g.
  {\"params\":{\"code\":\"...\",\"state\":\"...\"},\"method\":\"GET\",\"path\":\"/callback\",\"received_at\":1730000000}
  Logs and the ready line (`listening on <redirect URI>`) go to stderr.

Exit codes:
  0    the callback arrived (also when the provider reports an error)
  2    bad usage or configuration (nothing was listening)
  124  the timeout passed
  130  interrupted (Ctrl-C)";

/// Receive one OAuth redirect on a loopback address, show the user a page, and
/// print the callback's parameters as one line of JSON.
#[derive(Debug, Parser)]
#[command(
    name = "oauth-callback",
    version,
    after_help = AFTER_HELP,
    args_conflicts_with_subcommands = true
)]
pub struct Cli {
    #[command(subcommand)]
    command: Option<Command>,

    #[command(flatten)]
    serve: ServeArgs,
}

/// Tasks other than receiving a callback.
#[derive(Debug, Subcommand)]
enum Command {
    /// Write the embedded default handler component (.wasm) to FILE, or to
    /// stdout: the same component runs under `wasmtime serve`.
    ExportHandler {
        /// Where to write it; stdout when omitted.
        file: Option<PathBuf>,
    },
}

/// Receiving one callback (the default task).
#[derive(Debug, Args)]
struct ServeArgs {
    /// Address to listen on: 127.0.0.1, ::1 or localhost.
    #[arg(long, default_value = oauth_callback::DEFAULT_HOST)]
    host: String,

    /// Port to listen on; must match the registered redirect URI.
    #[arg(long, default_value_t = oauth_callback::DEFAULT_PORT)]
    port: u16,

    /// Callback route; `callback` is read as `/callback`.
    #[arg(long, default_value = oauth_callback::DEFAULT_PATH)]
    path: String,

    /// Seconds to wait for the callback before giving up (exit 124).
    #[arg(long, default_value = "180", value_parser = parse_timeout)]
    timeout: Duration,

    /// PEM file with the TLS certificate chain (use with --ssl-key).
    #[arg(long, value_name = "FILE", requires = "ssl_key", conflicts_with_all = ["adhoc_ssl", "no_https"])]
    ssl_cert: Option<PathBuf>,

    /// PEM file with the TLS private key (use with --ssl-cert).
    #[arg(long, value_name = "FILE", requires = "ssl_cert")]
    ssl_key: Option<PathBuf>,

    /// Use a self-signed certificate made in memory for this run (the default
    /// when no certificate is given; the browser shows a warning).
    #[arg(long, conflicts_with = "no_https")]
    adhoc_ssl: bool,

    /// Serve plain HTTP instead of HTTPS (not recommended).
    #[arg(long)]
    no_https: bool,

    /// HTML file shown when the sign-in succeeds; the built-in page if unreadable.
    #[arg(long, value_name = "FILE")]
    success_html: Option<PathBuf>,

    /// HTML file shown when the provider reports an error; the built-in page if unreadable.
    #[arg(long, value_name = "FILE")]
    error_html: Option<PathBuf>,

    /// Listen on a non-loopback --host (e.g. 0.0.0.0). Other machines can then
    /// reach the callback; refused without this flag.
    #[arg(long)]
    allow_remote: bool,

    /// Complete only on a callback whose `state` is exactly VALUE (RFC 8252
    /// 8.9); others get 400 and the wait goes on. Without it, checking
    /// `state` in the printed JSON is up to you.
    #[arg(long, value_name = "VALUE")]
    expect_state: Option<String>,

    /// Complete only on a callback whose `iss` is exactly URL (RFC 9207,
    /// mix-up defence); others get 400 and the wait goes on.
    #[arg(long, value_name = "URL")]
    expect_issuer: Option<String>,

    /// A handler component (.wasm exporting oauth:callback/handler) to use
    /// instead of the embedded one.
    #[arg(long, value_name = "FILE")]
    handler: Option<PathBuf>,

    /// Accepted for compatibility with the Python module, and ignored.
    #[arg(long, value_enum, hide_possible_values = true)]
    server: Option<LegacyServer>,
}

/// The Python module's server choices; there is one server here.
#[derive(Debug, Clone, Copy, ValueEnum)]
enum LegacyServer {
    Auto,
    Gevent,
    Werkzeug,
}

impl Cli {
    /// Do what the command line asks and turn the outcome into an exit code.
    pub fn run(self) -> Result<ExitCode, Error> {
        match self.command {
            Some(Command::ExportHandler { file }) => export_handler(file.as_deref()),
            None => self.serve.run(),
        }
    }
}

fn export_handler(file: Option<&std::path::Path>) -> Result<ExitCode, Error> {
    let bytes = oauth_callback::runtime::EMBEDDED_HANDLER;
    match file {
        Some(path) => std::fs::write(path, bytes)?,
        None => std::io::stdout().lock().write_all(bytes)?,
    }
    Ok(ExitCode::SUCCESS)
}

impl ServeArgs {
    /// Run the server once and turn the outcome into an exit code.
    fn run(self) -> Result<ExitCode, Error> {
        if self.server.is_some() {
            tracing::info!("--server is ignored: oauth-callback has one production-grade server");
        }
        let config = self.config()?;
        let timeout = config.timeout();
        let mut server = CallbackServer::start(config)?;
        if self.implicit_adhoc() {
            tracing::info!(
                "no certificate given (--ssl-cert/--ssl-key): using an ad hoc self-signed one"
            );
        }
        eprintln!("listening on {}", server.redirect_uri());
        let waited = server.wait_or_interrupt(timeout);
        server.shutdown();
        let code = match waited {
            Waited::Completed(result) => {
                let mut stdout = std::io::stdout().lock();
                writeln!(stdout, "{}", result.to_json_line())?;
                stdout.flush()?;
                EXIT_COMPLETED
            }
            Waited::TimedOut => {
                eprintln!(
                    "no callback arrived within {} s; giving up",
                    timeout.as_secs_f64()
                );
                EXIT_TIMEOUT
            }
            Waited::Interrupted => {
                eprintln!("interrupted; no callback was received");
                EXIT_INTERRUPTED
            }
        };
        Ok(ExitCode::from(code))
    }

    /// Whether HTTPS uses an ad hoc certificate only because none was given.
    fn implicit_adhoc(&self) -> bool {
        !self.adhoc_ssl && !self.no_https && self.ssl_cert.is_none()
    }

    fn config(&self) -> Result<Config, Error> {
        let tls = match (&self.ssl_cert, &self.ssl_key) {
            (Some(cert), Some(key)) => Tls::Pem {
                cert: cert.clone(),
                key: key.clone(),
            },
            _ if self.no_https => Tls::Disabled,
            _ => Tls::Adhoc,
        };
        let mut builder = Config::builder()
            .host(&self.host)
            .port(self.port)
            .path(&self.path)
            .timeout(self.timeout)
            .tls(tls)
            .allow_remote(self.allow_remote);
        if let Some(path) = &self.success_html {
            builder = builder.success_html(path);
        }
        if let Some(path) = &self.error_html {
            builder = builder.error_html(path);
        }
        if let Some(path) = &self.handler {
            builder = builder.handler(path);
        }
        if let Some(state) = &self.expect_state {
            builder = builder.expect_state(state);
        }
        if let Some(issuer) = &self.expect_issuer {
            builder = builder.expect_issuer(issuer);
        }
        builder.build()
    }
}

/// Seconds, fractions allowed, more than zero.
fn parse_timeout(value: &str) -> Result<Duration, String> {
    let seconds: f64 = value
        .parse()
        .map_err(|_| format!("{value:?} is not a number of seconds"))?;
    if seconds.is_nan() || seconds <= 0.0 {
        return Err("the timeout must be more than zero seconds".into());
    }
    Duration::try_from_secs_f64(seconds).map_err(|_| format!("{value} seconds is too long"))
}

/// Logs to stderr, without timestamps; `RUST_LOG` overrides the `info` default.
pub fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .with_target(false)
        .without_time()
        .init();
}
