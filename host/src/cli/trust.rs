//! `oauth-callback trust`: the library's local CA and its stores
//! ([`crate::trust`]), one line per outcome, and the command to run when a
//! store needs what this run lacks.

use std::io::Write;
use std::path::PathBuf;

use clap::Args;

use super::Failure;

/// Arguments of `oauth-callback trust`.
#[derive(Debug, Args)]
pub struct TrustArgs {
    /// List each store with trusted / missing, and the CA's expiry.
    #[arg(long, conflicts_with_all = ["uninstall", "export"])]
    status: bool,

    /// Remove the root from every store of this user and delete the CA
    /// (with --system, from the system's store too).
    #[arg(long, conflicts_with = "export")]
    uninstall: bool,

    /// Write the public root to FILE, for a browser on another machine.
    #[arg(long, value_name = "FILE")]
    export: Option<PathBuf>,

    /// Also add the public root (never a key) to the system's store, for
    /// curl, Python and other programs (Debian's update-ca-certificates,
    /// Fedora's update-ca-trust; needs root); with --uninstall, take it out
    /// of there too (only this CA's root).
    #[arg(long, conflicts_with_all = ["status", "export"])]
    system: bool,
}

impl TrustArgs {
    /// Do what was asked and print the outcome, one line per store.
    pub fn run(self) -> Result<(), Failure> {
        let report = if self.status {
            crate::trust_status()
        } else if self.uninstall {
            crate::untrust(self.system)
        } else if let Some(file) = &self.export {
            crate::export_root(file)
        } else {
            crate::trust(self.system)
        };
        let report = report.map_err(|error| Failure::Trust {
            error,
            command: self.command(),
        })?;
        // What was done is said even when a store failed; stdout that
        // cannot be written is a failure of its own, never a panic.
        let mut stdout = std::io::stdout().lock();
        write!(stdout, "{report}")?;
        let unasked =
            |store: &crate::StoreOutcome| store.system && store.state == crate::StoreState::Missing;
        if self.status && report.stores.iter().any(unasked) {
            writeln!(
                stdout,
                "(`oauth-callback trust --system` adds the root to the system's store)"
            )?;
        }
        stdout.flush()?;
        match failed(&report, &self.command()) {
            Some(failure) => Err(failure),
            None => Ok(()),
        }
    }

    /// This command line, as the user would run it again.
    fn command(&self) -> String {
        let flag = match self {
            TrustArgs { status: true, .. } => " --status",
            TrustArgs {
                uninstall: true,
                system: true,
                ..
            } => " --uninstall --system",
            TrustArgs {
                uninstall: true, ..
            } => " --uninstall",
            TrustArgs { system: true, .. } => " --system",
            _ => "",
        };
        format!("oauth-callback trust{flag}")
    }
}

/// When a store could not be read or changed (each said on its line
/// above): the command's failure, with `sudo` when privileges were missing.
fn failed(report: &crate::TrustReport, command: &str) -> Option<Failure> {
    let fix = match report.needs_privileges() {
        true => format!("; run `sudo {command}`"),
        false => String::new(),
    };
    report
        .failed()
        .then(|| Failure::Usage(format!("a store could not be read or changed{fix}")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{CaState, StoreOutcome, StoreState, TrustReport};

    #[test]
    fn a_store_refused_for_want_of_privileges_says_to_run_it_with_sudo() {
        let store = |state| StoreOutcome {
            store: "system (/usr/local/share/ca-certificates/oauth-callback-local-ca.crt)".into(),
            state,
            system: true,
        };
        let mut report = TrustReport {
            dir: "/home/alice/.local/share/oauth-callback/ca".into(),
            ca: CaState::Kept,
            unusable: None,
            expires: None,
            renewal_due: None,
            exported: None,
            stores: vec![store(StoreState::Trusted)],
        };
        assert!(failed(&report, "oauth-callback trust --system").is_none());
        report.stores.push(store(StoreState::Failed {
            reason: "permission denied".into(),
            needs_privileges: true,
        }));
        let failure = failed(&report, "oauth-callback trust --system").unwrap();
        assert_eq!(
            failure.report(),
            "a store could not be read or changed; run `sudo oauth-callback trust --system`"
        );
        assert!(
            report.to_string().contains(": failed: permission denied\n"),
            "{report}"
        );
    }
}
