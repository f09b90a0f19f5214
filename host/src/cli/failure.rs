//! What ends a command early, and its one line on stderr: the library's
//! message, with the command-line flag that fixes it where there is one.

use std::error::Error as _;
use std::path::PathBuf;

use oauth_callback::{Error, Setting};

/// A command that could not run or finish (exit 2).
#[derive(Debug, thiserror::Error)]
pub enum Failure {
    /// The library refused the configuration or could not serve.
    #[error(transparent)]
    Library(#[from] Error),
    /// A file the command writes (`--ready-file`, `export-handler`).
    #[error("cannot write {}", path.display())]
    Write {
        /// The file.
        path: PathBuf,
        /// What the operating system said.
        #[source]
        source: std::io::Error,
    },
    /// Writing to stdout failed.
    #[error("cannot write to stdout")]
    Stdout(#[from] std::io::Error),
}

impl Failure {
    /// The whole story on one line: what failed, why (each cause in turn),
    /// and for configuration errors the flag to change.
    pub fn report(&self) -> String {
        match self {
            Failure::Library(Error::InvalidSetting { setting, reason }) => {
                format!("invalid {}: {reason}", flag(*setting))
            }
            Failure::Library(Error::NotLoopback { host }) => format!(
                "--host {host} is not a loopback address: other machines could reach the \
                 callback; add --allow-remote if that is really wanted"
            ),
            Failure::Library(e @ Error::PortInUse(_)) => {
                format!("{e}; free it or choose another port with --port (0 picks a free one)")
            }
            other => {
                let mut line = other.to_string();
                let mut cause = other.source();
                while let Some(e) = cause {
                    line.push_str(": ");
                    line.push_str(&e.to_string());
                    cause = e.source();
                }
                line
            }
        }
    }
}

/// The flag that sets `setting`.
fn flag(setting: Setting) -> &'static str {
    match setting {
        Setting::Host => "--host",
        Setting::Path => "--path",
        Setting::Timeout => "--timeout",
        Setting::ExpectedState => "--expect-state",
        Setting::ExpectedIssuer => "--expect-issuer",
        _ => "setting",
    }
}
