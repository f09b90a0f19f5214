//! Why the local CA could not be made, trusted or removed: one error type
//! for the stores and the operations over them.

use std::path::PathBuf;

use crate::error::Error;

/// Why the local CA could not be made, trusted or removed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TrustError {
    /// No home folder: nowhere to keep the CA, no user stores.
    #[error("no home directory: nowhere to keep the local CA")]
    NoHome,
    /// No user store can be used: the program they need is missing.
    #[error(
        "{program} is missing: nothing here can trust the root{}",
        install_hint(program)
    )]
    MissingProgram {
        /// The program (`certutil` on Linux).
        program: &'static str,
    },
    /// No user store was found (no NSS database could be made, no Firefox
    /// profile), though their program is here.
    #[error(
        "no certificate store was found to trust the root in (no NSS database could be made \
         in ~/.pki/nssdb, and there is no Firefox profile)"
    )]
    NoStore,
    /// Run by `sudo` without the system's store: the user's own stores are
    /// theirs to change, so there is nothing for root to do.
    #[error("run by sudo, trust changes only the system's store")]
    SudoWithoutSystem,
    /// Run as root for another user (`sudo`), whose CA is not made yet:
    /// it is made by that user, never by root in their home.
    #[error("no local CA in {}: make it first as the user it is for", dir.display())]
    NoLocalCa {
        /// Where that user's CA would be.
        dir: PathBuf,
    },
    /// Run as root for another user (`sudo`), whose CA cannot be used: it
    /// is replaced by that user, never by root in their home.
    #[error("the local CA in {} cannot be used ({why}): run `oauth-callback trust` as the user it is for", dir.display())]
    UnusableCa {
        /// That user's CA.
        dir: PathBuf,
        /// Why it cannot be used.
        why: String,
    },
    /// The system's store was asked for, and none is known here.
    #[error("no system store is known here (update-ca-certificates or update-ca-trust)")]
    NoSystemStore,
    /// The store can be changed only with administrator rights (root).
    #[error("{store} can be changed only by an administrator")]
    NeedsPrivileges {
        /// The store.
        store: String,
        /// What the operating system said.
        #[source]
        source: std::io::Error,
    },
    /// A store's program refused.
    #[error("{program} failed{}", said_after(said))]
    Program {
        /// The program.
        program: String,
        /// What it said on stderr.
        said: String,
    },
    /// A store's program did not finish in time (it was killed).
    #[error("{program} did not finish within {} s (stopped)", after.as_secs())]
    TimedOut {
        /// The program.
        program: String,
        /// How long it was given.
        after: std::time::Duration,
    },
    /// A store's program could not be started.
    #[error("cannot run {program}")]
    Start {
        /// The program.
        program: String,
        /// What the operating system said.
        #[source]
        source: std::io::Error,
    },
    /// A file could not be written or removed.
    #[error("cannot change {}", path.display())]
    Write {
        /// The file.
        path: PathBuf,
        /// What the operating system said.
        #[source]
        source: std::io::Error,
    },
    /// The CA's files could not be read or made.
    #[error(transparent)]
    Ca(#[from] Error),
}

/// The packages that bring `program`, where we know them.
fn install_hint(program: &str) -> &'static str {
    match program {
        "certutil" => {
            " (install it: Debian, Ubuntu: apt-get install libnss3-tools; Fedora: dnf install nss-tools)"
        }
        _ => "",
    }
}

fn said_after(said: &str) -> String {
    match said {
        "" => String::new(),
        said => format!(": {said}"),
    }
}
