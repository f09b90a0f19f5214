//! The command's exit codes, each with its meaning: one table, from which
//! `--help` prints its list.

/// An exit code and what it tells.
pub struct ExitCode {
    /// The code.
    pub code: u8,
    /// What it means, as `--help` says it.
    pub meaning: &'static str,
}

/// The flow completed (also for a provider `error`).
pub const COMPLETED: ExitCode = ExitCode {
    code: 0,
    meaning: "the callback arrived (also when the provider reports an error); sign-in: signed in",
};
/// Bad usage or configuration.
pub const USAGE: ExitCode = ExitCode {
    code: 2,
    meaning: "bad usage or configuration (nothing was listening)",
};
/// A sign-in completed but its result could not be written, or the token
/// cache cannot be used (`EX_IOERR`, sysexits.h).
pub const UNDELIVERED: ExitCode = ExitCode {
    code: 74,
    meaning: "a sign-in completed, but its result could not be written to stdout; \
              token: the token cache cannot be used",
};
/// `token`: a sign-in is needed but cannot happen here (`EX_TEMPFAIL`:
/// it can, later, where a browser or a terminal is).
pub const SIGN_IN_NEEDED: ExitCode = ExitCode {
    code: 75,
    meaning: "token: a sign-in is needed, but none can happen here (no browser opens, \
              standard input is not a terminal)",
};
/// `sign-in`: the provider refused (an `error` in the authorization
/// response or from the token endpoint): `EX_NOPERM`.
pub const PROVIDER_REFUSED: ExitCode = ExitCode {
    code: 77,
    meaning: "sign-in: the provider refused (access_denied, invalid_grant…)",
};
/// `sign-in`: a check failed (issuer, PKCE support, ID token): `EX_PROTOCOL`.
pub const CHECK_FAILED: ExitCode = ExitCode {
    code: 76,
    meaning: "sign-in: a check failed (issuer, ID token…): possibly an attack; no token printed",
};
/// `sign-in`: the provider could not be reached or answered what cannot be
/// used: `EX_UNAVAILABLE`.
pub const UNREACHABLE: ExitCode = ExitCode {
    code: 69,
    meaning: "sign-in: the provider could not be reached or answered nonsense",
};
/// The timeout passed without a callback (as `timeout(1)` says it).
pub const TIMEOUT: ExitCode = ExitCode {
    code: 124,
    meaning: "the timeout passed",
};
/// SIGHUP (128 + 1, as shells report a signal), or a closed console.
pub const HANG_UP: ExitCode = ExitCode {
    code: 129,
    meaning: "hung up (SIGHUP: the terminal closed; a closed console on Windows)",
};
/// SIGINT (128 + 2): Ctrl-C.
pub const INTERRUPT: ExitCode = ExitCode {
    code: 130,
    meaning: "interrupted (Ctrl-C)",
};
/// SIGQUIT (128 + 3): Ctrl-\, or Ctrl-Break on Windows.
pub const QUIT: ExitCode = ExitCode {
    code: 131,
    meaning: "quit (SIGQUIT: Ctrl-\\; Ctrl-Break on Windows)",
};
/// SIGTERM (128 + 15), or the system shutting down.
pub const TERMINATE: ExitCode = ExitCode {
    code: 143,
    meaning: "terminated (SIGTERM)",
};

/// Every code, in order.
const ALL: [ExitCode; 12] = [
    COMPLETED,
    USAGE,
    UNREACHABLE,
    UNDELIVERED,
    SIGN_IN_NEEDED,
    CHECK_FAILED,
    PROVIDER_REFUSED,
    TIMEOUT,
    HANG_UP,
    INTERRUPT,
    QUIT,
    TERMINATE,
];

/// `--help`'s list: one line per code, then what a late signal does.
pub fn help() -> String {
    let mut text = String::from("Exit codes:\n");
    for ExitCode { code, meaning } in ALL {
        text.push_str(&format!("  {code:<4} {meaning}\n"));
    }
    text.push_str("  A signal after a callback was answered still prints its result (exit 0).");
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_distinct_and_signals_are_128_plus_their_number() {
        let mut codes: Vec<u8> = ALL.iter().map(|c| c.code).collect();
        codes.sort_unstable();
        codes.dedup();
        assert_eq!(codes.len(), ALL.len());
        for (exit, signal) in [(HANG_UP, 1), (INTERRUPT, 2), (QUIT, 3), (TERMINATE, 15)] {
            assert_eq!(exit.code, 128 + signal);
        }
        assert!(help().contains("  124  the timeout passed\n"), "{}", help());
    }
}
