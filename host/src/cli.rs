//! The command line: receiving a callback (the default), and the helper
//! subcommands (certificates, the handler component, shell completions and
//! the man page). A library module (feature `cli`, on by default) so that
//! more than the binary can run the same command line: its flags, output,
//! exit codes, signals and terminal behaviour.

mod cert;
mod exit;
mod failure;
mod jobs;
mod key_by_key;
mod paste;
mod serve;
mod sign_in;
mod sign_out;
mod signals;
mod stdout;
mod terminal;
mod token;
mod trust;

use std::ffi::OsString;
use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{CommandFactory, Parser, Subcommand};
use failure::Failure;

/// Run the command line of this process (`std::env::args`) to its end: the
/// exit code, with a failure said on stderr in one line.
pub fn main() -> ExitCode {
    ExitCode::from(run(std::env::args_os()))
}

/// Run a command line (`args`, the program name first) to its end and
/// return its exit code (see `--help`), as the binary would; for programs
/// that carry the command line inside them (the Python package's
/// `oauth-callback` script). Usage errors, `--help` and `--version` print as
/// clap prints them, and nothing exits the process.
pub fn run<I, T>(args: I) -> u8
where
    I: IntoIterator<Item = T>,
    T: Into<OsString> + Clone,
{
    let cli = match Cli::try_parse_from(args) {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            return u8::try_from(e.exit_code()).unwrap_or(exit::USAGE.code);
        }
    };
    match cli.run() {
        Ok(code) => code,
        Err(Failure::GaveUp(code)) => code,
        Err(e) => {
            eprintln!("oauth-callback: {}", e.report());
            e.exit_code()
        }
    }
}

/// Where the expected state may come from instead of `--expect-state`,
/// out of the process list that every local user can read (CWE-214).
const STATE_VARIABLE: &str = "OAUTH_CALLBACK_EXPECT_STATE";
/// Where the expected issuer may come from instead of `--expect-issuer`.
const ISSUER_VARIABLE: &str = "OAUTH_CALLBACK_EXPECT_ISSUER";

/// `--help`'s closing text: the output, then the exit codes.
fn after_help() -> String {
    format!(
        "\
Output:
  When the callback arrives, one line of JSON on stdout, e.g.
  {{\"params\":{{\"code\":\"...\",\"state\":\"...\"}},\"method\":\"GET\",\"path\":\"/callback\",\"received_at\":1730000000}}
  Logs and the ready line (`listening on <redirect URI>`) go to stderr.

{}",
        exit::help()
    )
}

/// Receive one OAuth redirect on a loopback address, show the user a page, and
/// print the callback's parameters as one line of JSON.
#[derive(Debug, Parser)]
#[command(
    name = "oauth-callback",
    version,
    after_help = after_help(),
    args_conflicts_with_subcommands = true
)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,

    #[command(flatten)]
    serve: serve::ServeArgs,

    /// Print nothing on stderr but errors (use --ready-file to learn the URI).
    #[arg(short, long, global = true, conflicts_with = "verbose")]
    quiet: bool,

    /// More log output (-v debug, -vv trace); without -q or -v, RUST_LOG decides.
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    verbose: u8,
}

/// Tasks other than receiving a callback.
#[derive(Debug, Subcommand)]
#[command(defer = true)]
enum Command {
    /// Generate a reusable loopback certificate and key (for 127.0.0.1, ::1
    /// and localhost), print its fingerprint and how to trust it once.
    Cert(cert::CertArgs),
    /// Make a local CA that can vouch only for loopback servers (once), and
    /// trust its root in your browsers for websites only: no certificate
    /// warning for the callback.
    Trust(trust::TrustArgs),
    /// Sign in at an OAuth 2.0 / OpenID provider: discovery, PKCE, the
    /// browser, the code exchange and a verified ID token; the tokens are
    /// printed as one line of JSON.
    #[command(after_help = exit::help())]
    SignIn(Box<sign_in::SignInArgs>),
    /// Print a valid access token: from the token cache while it stays
    /// valid, else refreshed, else signed in for (as sign-in does); --list
    /// shows the cached entries.
    #[command(after_help = exit::help())]
    Token(Box<token::TokenArgs>),
    /// Sign out: revoke the cached refresh token at the provider (RFC 7009)
    /// and remove it here; --all for every cached entry.
    SignOut(Box<sign_out::SignOutArgs>),
    /// Write the embedded default handler component (.wasm) to FILE, or to
    /// stdout: the same component runs under `wasmtime serve`.
    ExportHandler {
        /// Where to write it; stdout when omitted.
        file: Option<PathBuf>,
    },
    /// Print a shell completion script.
    Completions {
        /// The shell to complete for.
        shell: clap_complete::Shell,
    },
    /// Print the man page (roff).
    Man,
}

impl Cli {
    /// Do what the command line asks and turn the outcome into an exit code.
    fn run(self) -> Result<u8, Failure> {
        serve::forget_expected_values();
        let client_secret = sign_in::take_secret_variable();
        init_logging(self.quiet, self.verbose);
        let mut stdout = std::io::stdout().lock();
        match self.command {
            None => return self.serve.run(self.quiet),
            Some(Command::SignIn(args)) => return args.run(self.quiet, client_secret),
            Some(Command::Token(args)) => return args.run(self.quiet, client_secret),
            Some(Command::SignOut(args)) => return args.run(client_secret),
            Some(Command::Cert(args)) => args.run()?,
            Some(Command::Trust(args)) => args.run()?,
            Some(Command::ExportHandler { file: Some(path) }) => {
                std::fs::write(&path, crate::EMBEDDED_HANDLER)
                    .map_err(|source| Failure::Write { path, source })?
            }
            Some(Command::ExportHandler { file: None }) => {
                stdout.write_all(crate::EMBEDDED_HANDLER)?
            }
            Some(Command::Completions { shell }) => {
                clap_complete::generate(shell, &mut Cli::command(), "oauth-callback", &mut stdout)
            }
            Some(Command::Man) => clap_mangen::Man::new(Cli::command()).render(&mut stdout)?,
        }
        Ok(exit::COMPLETED.code)
    }
}

/// Logs to stderr as sentences, above the waiting line: `error` with -q,
/// `debug`/`trace` with -v/-vv, else `RUST_LOG` or `info`.
fn init_logging(quiet: bool, verbose: u8) {
    use tracing_subscriber::EnvFilter;
    let filter = match (quiet, verbose) {
        (true, _) => EnvFilter::new("error"),
        (false, 0) => EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info")),
        (false, 1) => EnvFilter::new("debug"),
        (false, _) => EnvFilter::new("trace"),
    };
    let ansi = std::io::stderr().is_terminal();
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(terminal::Logs)
        .with_ansi(ansi)
        .event_format(terminal::Sentences { ansi })
        .init();
}
