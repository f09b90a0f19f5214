//! What ends a command early, and its one line on stderr: the library's
//! message, with the command-line flag that fixes it where there is one.

use std::path::PathBuf;

use crate::{Error, Setting, SignInError, TrustError};

use super::{ISSUER_VARIABLE, STATE_VARIABLE};

/// A command that could not run or finish: exit 2, or 74 for a result that
/// could not be delivered.
#[derive(Debug, thiserror::Error)]
pub enum Failure {
    /// The flags contradict each other in a way clap cannot tell.
    #[error("{0}")]
    Usage(String),
    /// A sign-in completed, but its result could not be written to stdout:
    /// the browser was told it succeeded, and its code is spent.
    #[error("a sign-in completed, but its result could not be delivered: cannot write to stdout")]
    Undelivered(#[source] std::io::Error),
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
    /// The local CA could not be made, trusted or removed; `command` is the
    /// command line that asked, to run again once fixed.
    #[error("{error}")]
    Trust {
        /// What failed.
        #[source]
        error: TrustError,
        /// e.g. `oauth-callback trust --system`.
        command: String,
    },
    /// Writing to stdout failed.
    #[error("cannot write to stdout")]
    Stdout(#[from] std::io::Error),
    #[error(transparent)]
    SignIn(crate::SignInError),
    /// A wait that ended without a result (a signal, the timeout), already
    /// said on the terminal: its exit code, and no other line.
    #[error("gave up")]
    GaveUp(u8),
}

impl Failure {
    /// The exit code that tells it (`EX_IOERR` from sysexits.h for an
    /// undelivered result; 2 for the rest: nothing was listening).
    pub fn exit_code(&self) -> u8 {
        match self {
            Failure::Undelivered(_) => super::exit::UNDELIVERED.code,
            Failure::SignIn(e) => match e {
                SignInError::Provider(_) => super::exit::PROVIDER_REFUSED.code,
                SignInError::CheckFailed(_) => super::exit::CHECK_FAILED.code,
                SignInError::Unreachable(_) => super::exit::UNREACHABLE.code,
                SignInError::TimedOut(_) => super::exit::TIMEOUT.code,
                SignInError::Cache(_) => super::exit::UNDELIVERED.code,
                SignInError::InteractionRequired => super::exit::SIGN_IN_NEEDED.code,
                _ => super::exit::USAGE.code,
            },
            Failure::GaveUp(code) => *code,
            _ => super::exit::USAGE.code,
        }
    }

    /// The whole story on one line: what failed, why (each cause in turn),
    /// and for configuration errors the flag to change.
    pub fn report(&self) -> String {
        match self {
            Failure::Library(Error::InvalidSetting { setting, reason }) => {
                format!("invalid {}: {reason}", flag(*setting))
            }
            Failure::Library(Error::NotLoopback { setting, host }) => format!(
                "{} {host} is not a loopback address: other machines could reach the \
                 callback; add --allow-remote if that is really wanted",
                flag(*setting)
            ),
            Failure::Library(e @ Error::SchemeMismatch { served, .. }) => {
                let fix = if *served == "http" {
                    "add --behind-tls-proxy if TLS is terminated in front of it, or serve HTTPS"
                } else {
                    "register an https:// redirect URI, or serve plain HTTP with --no-https"
                };
                format!("{e}; {fix}")
            }
            Failure::Library(e @ Error::NoPortAvailable(_)) => {
                format!("{e}; free one or give others with --port (0 picks a free one)")
            }
            Failure::Library(e @ Error::PortInUse(_)) => {
                format!("{e}; free it or choose another port with --port (0 picks a free one)")
            }
            Failure::Library(Error::Bind { addr, source })
                if source.kind() == std::io::ErrorKind::PermissionDenied =>
            {
                format!("cannot listen on {addr}: {source}; {PORT_DENIED_HINT}")
            }
            Failure::Trust { error, command } => {
                let fix = match error {
                    TrustError::NoLocalCa { .. } => {
                        "; run `oauth-callback trust` as that user, then this again".to_string()
                    }
                    TrustError::SudoWithoutSystem => {
                        "; run `oauth-callback trust` without sudo, or `sudo oauth-callback trust \
                         --system`"
                            .to_string()
                    }
                    TrustError::MissingProgram { .. } => format!(", then run `{command}` again"),
                    TrustError::NoSystemStore => {
                        "; `oauth-callback trust --export FILE` writes the root to add by hand"
                            .to_string()
                    }
                    _ => String::new(),
                };
                format!("{}{fix}", crate::error_line(error))
            }
            Failure::SignIn(SignInError::InteractionRequired) => format!(
                "{}; sign in once from a terminal, or where a browser opens",
                crate::error_line(self)
            ),
            other => crate::error_line(other),
        }
    }
}

/// Why a port can be refused with "permission denied", and what to do.
const PORT_DENIED_HINT: &str = if cfg!(windows) {
    "Windows reserves some port ranges (see `netsh int ipv4 show excludedportrange \
     protocol=tcp`): choose a port outside them with --port (0 picks a free one)"
} else {
    "ports below 1024 need privileges: choose a higher one with --port (0 picks a free one)"
};

/// The flag (or variable) that sets `setting`.
fn flag(setting: Setting) -> String {
    match setting {
        Setting::Host => "--host",
        Setting::Path => "--path",
        Setting::Port => "--port",
        Setting::Timeout => "--timeout",
        Setting::RedirectUri => "--redirect-uri",
        Setting::SuccessRedirect => "--success-redirect",
        Setting::ErrorRedirect => "--error-redirect",
        Setting::ReadyFile => "--ready-file",
        Setting::ExpectedState => return format!("--expect-state (or ${STATE_VARIABLE})"),
        Setting::ExpectedIssuer => return format!("--expect-issuer (or ${ISSUER_VARIABLE})"),
    }
    .into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reports_name_the_flag_and_explain_a_refused_port() {
        let denied = Failure::Library(Error::Bind {
            addr: "127.0.0.1:80".parse().unwrap(),
            source: std::io::ErrorKind::PermissionDenied.into(),
        });
        let line = denied.report();
        assert!(
            line.starts_with("cannot listen on 127.0.0.1:80: "),
            "{line}"
        );
        assert!(line.ends_with(PORT_DENIED_HINT), "{line}");
        let invalid = Failure::Library(Error::InvalidSetting {
            setting: Setting::Timeout,
            reason: "it must be more than zero".into(),
        });
        assert_eq!(
            invalid.report(),
            "invalid --timeout: it must be more than zero"
        );
        let write = Failure::Write {
            path: "ready.uri".into(),
            source: std::io::ErrorKind::NotFound.into(),
        };
        assert_eq!(write.report(), "cannot write ready.uri: entity not found");
    }

    #[test]
    fn trust_failures_say_the_command_to_run() {
        let certutil = Failure::Trust {
            error: TrustError::MissingProgram {
                program: "certutil",
            },
            command: "oauth-callback trust".into(),
        };
        let line = certutil.report();
        assert!(line.contains("apt-get install libnss3-tools"), "{line}");
        assert!(
            line.ends_with(", then run `oauth-callback trust` again"),
            "{line}"
        );
        let sudo = Failure::Trust {
            error: TrustError::NoLocalCa {
                dir: "/home/alice/.local/share/oauth-callback/ca".into(),
            },
            command: "oauth-callback trust --system".into(),
        };
        assert_eq!(
            sudo.report(),
            "no local CA in /home/alice/.local/share/oauth-callback/ca: make it first as the \
             user it is for; run `oauth-callback trust` as that user, then this again"
        );
    }
}
