//! Trusting the local CA's root: the CA made once, its root added to every
//! store of this system that lacks it (the system's store only when asked),
//! taken out again, or each store's state; every outcome returned as data,
//! one per store, as mkcert reports one line per store.

use std::fmt;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use super::LocalCa;
use super::stores::{self, Places, Runner, Store, SystemRunner, SystemStore};
use crate::error::Error;

/// What became of the root in one store.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum StoreState {
    /// It holds the root (added now, when trusting).
    Trusted,
    /// It held the root already: nothing was done.
    AlreadyTrusted,
    /// The root was taken out of it.
    Removed,
    /// It does not hold the root.
    Missing,
    /// It cannot be used here, and why (e.g. `certutil is missing`).
    NotPresent(String),
}

impl fmt::Display for StoreState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StoreState::Trusted => f.write_str("trusted"),
            StoreState::AlreadyTrusted => f.write_str("already trusted"),
            StoreState::Removed => f.write_str("removed"),
            StoreState::Missing => f.write_str("missing"),
            StoreState::NotPresent(why) => write!(f, "not present ({why})"),
        }
    }
}

/// One store's outcome.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct StoreOutcome {
    /// The store, e.g. `Firefox (/home/alice/.mozilla/firefox/x.default)`.
    pub store: String,
    /// What became of the root there.
    pub state: StoreState,
    /// Whether it is the system's store (for curl, Python...), which
    /// [`trust`] changes only when asked.
    pub system: bool,
}

impl fmt::Display for StoreOutcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.store, self.state)
    }
}

/// What became of the local CA itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum CaState {
    /// Made now.
    Created,
    /// There already, and used.
    Kept,
    /// There (a status).
    Found,
    /// Deleted now.
    Deleted,
    /// There is none.
    Absent,
}

/// The outcome of [`trust`], [`untrust`], [`trust_status`] or
/// [`export_root`]. Its `Display` is one line per fact, as the command line
/// prints it.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct TrustReport {
    /// The CA's folder ([`LocalCa::default_dir`]).
    pub dir: PathBuf,
    /// What became of the CA.
    pub ca: CaState,
    /// When the CA stops being valid, when there is one.
    pub expires: Option<SystemTime>,
    /// A sentence saying when the CA ends and how to renew it, within
    /// [`RENEW_WITHIN`](super::RENEW_WITHIN) of its end.
    pub renewal_due: Option<String>,
    /// Where [`export_root`] wrote the public root.
    pub exported: Option<PathBuf>,
    /// One per store, in the catalogue's order.
    pub stores: Vec<StoreOutcome>,
}

impl fmt::Display for TrustReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let dir = self.dir.display();
        match self.ca {
            CaState::Created => writeln!(f, "created a local CA for loopback servers in {dir}")?,
            CaState::Found => match self.expires {
                Some(expires) => writeln!(
                    f,
                    "local CA: {dir} (valid until {})",
                    time::OffsetDateTime::from(expires).date()
                )?,
                None => writeln!(f, "local CA: {dir}")?,
            },
            CaState::Absent => writeln!(f, "local CA: none")?,
            CaState::Kept | CaState::Deleted => {}
        }
        if let Some(renew) = &self.renewal_due {
            writeln!(f, "{renew}")?;
        }
        if let Some(file) = &self.exported {
            let file = file.display();
            writeln!(
                f,
                "wrote the public root to {file}; on the machine with the browser, trust it for \
                 websites only, e.g.\n  certutil -d sql:$HOME/.pki/nssdb -A -t \"{}\" -n \"{}\" -i {file}",
                stores::NSS_TRUST_FLAGS,
                stores::NICKNAME
            )?;
        }
        for store in &self.stores {
            writeln!(f, "{store}")?;
        }
        if self.ca == CaState::Deleted {
            writeln!(f, "deleted the local CA in {dir}")?;
        }
        Ok(())
    }
}

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
    #[error("cannot write {}", path.display())]
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

/// Make the local CA once (in [`LocalCa::default_dir`]) and trust its root
/// in every store of this user that lacks it: on Linux the NSS databases
/// (Chrome and Chromium's `~/.pki/nssdb`, made when missing, and each
/// Firefox profile; trust flags `C,,`: TLS servers only) and, on WSL,
/// Windows'; on macOS the login keychain (SSL only); on Windows the current
/// user's Root store (server authentication only). With `system`, also the
/// system's store (needs root). Blocks while the stores' programs run
/// (Windows asks the user to confirm).
///
/// # Errors
///
/// [`TrustError::MissingProgram`] when no store can be used (no
/// `certutil`), [`TrustError::NeedsPrivileges`] for the system's store
/// without root, [`TrustError::NoSystemStore`], and a store's or the CA's
/// failure.
pub fn trust(system: bool) -> Result<TrustReport, TrustError> {
    Trust::here(&SystemRunner)?.trust(system)
}

/// Take the root out of every store that holds it (the system's too), then
/// delete the CA.
///
/// # Errors
///
/// As [`trust`]; an unreadable CA is an error naming its file.
pub fn untrust() -> Result<TrustReport, TrustError> {
    Trust::here(&SystemRunner)?.untrust()
}

/// The CA (its folder and end) and each store, holding the root or not.
///
/// # Errors
///
/// No home folder, or a CA file that cannot be read.
pub fn trust_status() -> Result<TrustReport, TrustError> {
    Trust::here(&SystemRunner)?.status()
}

/// Make the local CA once and write its public root (never a key) to
/// `file`, for a browser on another machine.
///
/// # Errors
///
/// No home folder, the CA's failure, or `file` that cannot be written.
pub fn export_root(file: &Path) -> Result<TrustReport, TrustError> {
    Trust::here(&SystemRunner)?.export(file)
}

/// The CA's folder, the stores' places, and how their programs run.
struct Trust<'a> {
    dir: PathBuf,
    places: Places,
    runner: &'a dyn Runner,
}

impl<'a> Trust<'a> {
    fn here(runner: &'a dyn Runner) -> Result<Trust<'a>, TrustError> {
        Ok(Trust {
            dir: LocalCa::default_dir().ok_or(TrustError::NoHome)?,
            places: Places::here().ok_or(TrustError::NoHome)?,
            runner,
        })
    }

    /// A report on the CA with no store yet.
    fn report(&self, ca: Option<&LocalCa>, state: CaState) -> TrustReport {
        TrustReport {
            dir: self.dir.clone(),
            ca: state,
            expires: ca.and_then(LocalCa::expires).map(SystemTime::from),
            renewal_due: ca.and_then(LocalCa::renewal_due),
            exported: None,
            stores: Vec::new(),
        }
    }

    /// The CA there, or a new one.
    fn ca(&self) -> Result<(LocalCa, CaState), TrustError> {
        Ok(match LocalCa::load(&self.dir)? {
            Some(ca) => (ca, CaState::Kept),
            None => (LocalCa::create(&self.dir)?, CaState::Created),
        })
    }

    /// The user's stores, and the system's when there is one (and `system`).
    fn stores(&self, create: bool, system: bool) -> Vec<Box<dyn Store>> {
        let mut stores = stores::user_stores(&self.places, create, self.runner);
        if let Some(store) = SystemStore::here(self.runner).filter(|_| system) {
            stores.push(Box::new(store));
        }
        stores
    }

    fn trust(&self, system: bool) -> Result<TrustReport, TrustError> {
        let stores = self.stores(true, system);
        if system && !stores.iter().any(|store| store.is_system()) {
            return Err(TrustError::NoSystemStore);
        }
        let usable = |store: &dyn Store| store.unavailable(self.runner).is_none();
        if !system && !stores.iter().any(|store| usable(store.as_ref())) {
            return Err(TrustError::MissingProgram {
                program: stores::USER_STORE_PROGRAM,
            });
        }
        let (ca, state) = self.ca()?;
        let mut report = self.report(Some(&ca), state);
        for store in &stores {
            let state = match store.unavailable(self.runner) {
                Some(why) => StoreState::NotPresent(why),
                None if store.holds(&ca, self.runner)? => StoreState::AlreadyTrusted,
                None => {
                    store.add(&ca, self.runner)?;
                    StoreState::Trusted
                }
            };
            report.stores.push(outcome(store.as_ref(), state));
        }
        Ok(report)
    }

    fn untrust(&self) -> Result<TrustReport, TrustError> {
        let ca = LocalCa::load(&self.dir)?;
        let mut report = self.report(None, CaState::Absent);
        if let Some(ca) = &ca {
            for store in self.stores(false, true) {
                let state = match store.unavailable(self.runner) {
                    Some(why) => StoreState::NotPresent(why),
                    None if store.holds(ca, self.runner)? => {
                        store.remove(ca, self.runner)?;
                        StoreState::Removed
                    }
                    None => StoreState::Missing,
                };
                report.stores.push(outcome(store.as_ref(), state));
            }
            report.ca = CaState::Deleted;
        }
        let usage = self.dir.join(stores::WINDOWS_USAGE_FILE);
        let _ = std::fs::remove_file(usage);
        LocalCa::remove(&self.dir).map_err(|source| TrustError::Write {
            path: self.dir.clone(),
            source,
        })?;
        Ok(report)
    }

    fn status(&self) -> Result<TrustReport, TrustError> {
        let ca = LocalCa::load(&self.dir)?;
        let state = if ca.is_some() {
            CaState::Found
        } else {
            CaState::Absent
        };
        let mut report = self.report(ca.as_ref(), state);
        for store in self.stores(false, true) {
            let state = match (store.unavailable(self.runner), &ca) {
                (Some(why), _) => StoreState::NotPresent(why),
                (None, Some(ca)) if store.holds(ca, self.runner)? => StoreState::Trusted,
                (None, _) => StoreState::Missing,
            };
            report.stores.push(outcome(store.as_ref(), state));
        }
        Ok(report)
    }

    fn export(&self, file: &Path) -> Result<TrustReport, TrustError> {
        let (ca, state) = self.ca()?;
        std::fs::write(file, ca.root_pem()).map_err(|source| TrustError::Write {
            path: file.into(),
            source,
        })?;
        let mut report = self.report(Some(&ca), state);
        report.exported = Some(file.into());
        Ok(report)
    }
}

fn outcome(store: &dyn Store, state: StoreState) -> StoreOutcome {
    StoreOutcome {
        store: store.name(),
        state,
        system: store.is_system(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::local_ca::stores::fake::FakeRunner;

    /// What `certutil` is asked to check for, add and remove the root.
    const NSS: [&str; 3] = ["certutil -L", "certutil -A", "certutil -D"];

    /// A home with Chromium's NSS database, and the CA's folder in it.
    fn home() -> (tempfile::TempDir, PathBuf, Places) {
        let home = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(home.path().join(".pki/nssdb")).unwrap();
        std::fs::write(home.path().join(".pki/nssdb/cert9.db"), "").unwrap();
        let dir = home.path().join("ca");
        let places = Places {
            home: home.path().into(),
            wsl: false,
        };
        (home, dir, places)
    }

    #[cfg(all(unix, not(target_os = "macos")))]
    #[test]
    fn a_store_that_holds_the_root_is_already_trusted_and_left_alone() {
        let (_home, dir, places) = home();
        let runner = FakeRunner::with(&["certutil"]).store(NSS, 0);
        let trust = Trust {
            dir,
            places,
            runner: &runner,
        };
        let first = trust.trust(false).unwrap();
        assert_eq!(first.ca, CaState::Created);
        assert_eq!(first.stores[0].state, StoreState::Trusted);
        assert!(
            first
                .to_string()
                .starts_with("created a local CA for loopback servers in "),
            "{first}"
        );
        let added = runner.asked().len();
        let again = trust.trust(false).unwrap();
        assert_eq!(again.ca, CaState::Kept);
        assert_eq!(again.stores[0].state, StoreState::AlreadyTrusted);
        let asked = &runner.asked()[added..];
        assert!(
            asked.iter().all(|line| !line.starts_with("certutil -A")),
            "{asked:?}"
        );
        assert_eq!(runner.copies(), 1);
        assert!(
            again
                .to_string()
                .ends_with("/.pki/nssdb): already trusted\n"),
            "{again}"
        );
    }

    #[cfg(all(unix, not(target_os = "macos")))]
    #[test]
    fn without_certutil_trust_says_what_to_install_and_status_says_not_present() {
        let (_home, dir, places) = home();
        let runner = FakeRunner::default();
        let trust = Trust {
            dir,
            places,
            runner: &runner,
        };
        let error = trust.trust(false).unwrap_err();
        assert!(matches!(
            error,
            TrustError::MissingProgram {
                program: "certutil"
            }
        ));
        assert!(
            error.to_string().contains("apt-get install libnss3-tools"),
            "{error}"
        );
        let status = trust.status().unwrap();
        assert_eq!(
            status.ca,
            CaState::Absent,
            "no CA made when nothing could trust it"
        );
        assert_eq!(
            status.stores[0].state,
            StoreState::NotPresent("certutil is missing".into())
        );
        assert!(runner.asked().is_empty(), "{:?}", runner.asked());
    }

    #[cfg(all(unix, not(target_os = "macos")))]
    #[test]
    fn untrust_takes_the_root_out_then_deletes_the_ca() {
        let (_home, dir, places) = home();
        let runner = FakeRunner::with(&["certutil"]).store(NSS, 0);
        let trust = Trust {
            dir: dir.clone(),
            places,
            runner: &runner,
        };
        trust.trust(false).unwrap();
        assert_eq!(runner.copies(), 1);
        let status = trust.status().unwrap();
        assert!(status.to_string().starts_with("local CA: "), "{status}");
        assert_eq!(status.stores[0].state, StoreState::Trusted);
        let removed = trust.untrust().unwrap();
        assert_eq!(runner.copies(), 0);
        assert_eq!(removed.ca, CaState::Deleted);
        assert_eq!(removed.stores[0].state, StoreState::Removed);
        assert!(
            removed
                .to_string()
                .ends_with(&format!("deleted the local CA in {}\n", dir.display()))
        );
        assert!(!dir.exists());
        let status = trust.status().unwrap();
        assert_eq!(status.ca, CaState::Absent);
        assert_eq!(status.stores[0].state, StoreState::Missing);
        assert!(
            status.to_string().starts_with("local CA: none\n"),
            "{status}"
        );
    }

    #[cfg(all(unix, not(target_os = "macos")))]
    #[test]
    fn on_wsl_windows_store_is_one_more_store() {
        let (_home, dir, mut places) = home();
        places.wsl = true;
        let runner = FakeRunner::with(&["certutil", "certutil.exe", "wslpath"])
            .store(NSS, 0)
            .answer("certutil.exe -user -verifystore", false, "")
            .answer("wslpath", true, "C:\\ca\\file\n");
        let trust = Trust {
            dir,
            places,
            runner: &runner,
        };
        let report = trust.trust(false).unwrap();
        let names: Vec<&str> = report.stores.iter().map(|s| s.store.as_str()).collect();
        assert_eq!(names.len(), 2, "{names:?}");
        assert_eq!(names[1], "Windows, current user (from WSL)");
        assert_eq!(report.stores[1].state, StoreState::Trusted);
        assert!(
            runner
                .asked()
                .iter()
                .any(|l| l.starts_with("certutil.exe -user -addstore Root C:\\ca\\file"))
        );
    }
}
