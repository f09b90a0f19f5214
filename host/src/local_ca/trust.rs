//! Trusting the local CA's root: the CA made once, its root added to every
//! store of this system that lacks it (the system's store only when asked),
//! taken out again, or each store's state; every outcome returned as data,
//! one per store, as mkcert reports one line per store. A store that fails
//! is reported as such and the others are still handled.
//!
//! Run by `sudo`, the CA is the user's who ran it (never root's, never made
//! by root in their home), and only the system's store is changed: the
//! user's own stores are theirs to change.

use std::path::{Path, PathBuf};
use std::time::SystemTime;

use super::LocalCa;
use super::report::{CaState, StoreOutcome, StoreState, TrustReport};
use super::stores::{self, Places, Runner, Store, SystemRunner, SystemStore};
use super::trust_error::TrustError;

/// Make the local CA once (in [`LocalCa::default_dir`]) and trust its root
/// in every store of this user that lacks it: on Linux the NSS databases
/// (Chrome and Chromium's `~/.pki/nssdb`, made when missing, and each
/// Firefox profile; trust flags `C,,`: TLS servers only) and, on WSL,
/// Windows'; on macOS the login keychain (SSL only); on Windows the current
/// user's Root store (server authentication only). With `system`, also the
/// system's store (needs root: run by `sudo`, the invoking user's CA goes
/// there). Blocks while the stores' programs run (Windows asks the user to
/// confirm). A store that cannot be changed is [`StoreState::Failed`] in
/// the report ([`TrustReport::failed`]), the others still done.
///
/// # Errors
///
/// [`TrustError::MissingProgram`] or [`TrustError::NoStore`] when no store
/// can be used, [`TrustError::NoSystemStore`], [`TrustError::NoLocalCa`]
/// under `sudo` before the user made one, and the CA's own failures.
pub fn trust(system: bool) -> Result<TrustReport, TrustError> {
    Trust::here(&SystemRunner)?.trust(system)
}

/// Take the root out of every store of this user that holds it (the
/// system's too with `system`: only this CA's root, never another user's),
/// then delete the CA, whatever part of it is there; a store that cannot
/// be changed, or cannot be asked (its program is missing) while it may
/// hold the root, is [`StoreState::Failed`] and the CA is then kept, for
/// another try; so it is when the system's store holds the root and
/// `system` was not asked.
///
/// # Errors
///
/// No home folder.
pub fn untrust(system: bool) -> Result<TrustReport, TrustError> {
    Trust::here(&SystemRunner)?.untrust(system)
}

/// The CA (its folder and end) and each store, holding the root or not
/// (or [`StoreState::Failed`] when it cannot be read); changes nothing.
///
/// # Errors
///
/// No home folder, or a CA file that cannot be read.
pub fn trust_status() -> Result<TrustReport, TrustError> {
    Trust::here(&SystemRunner)?.status()
}

/// Make the local CA once and write its public root (never a key) to
/// `file`, for a browser on another machine or a store added by hand: a
/// new file renamed into place ([`crate::files::replace`]), so `file` must
/// be new or a regular file (a link or a device is refused, never written
/// through).
///
/// # Errors
///
/// No home folder, the CA's failure, or `file` that cannot be written.
pub fn export_root(file: &Path) -> Result<TrustReport, TrustError> {
    Trust::here(&SystemRunner)?.export(file)
}

/// The CA's folder, the stores' places, the system's store when there is
/// one, and how their programs run.
struct Trust<'a> {
    dir: PathBuf,
    places: Places,
    system: Option<SystemStore>,
    runner: &'a dyn Runner,
}

impl<'a> Trust<'a> {
    fn here(runner: &'a dyn Runner) -> Result<Trust<'a>, TrustError> {
        let places = Places::here().ok_or(TrustError::NoHome)?;
        let dir = match places.sudo {
            true => LocalCa::dir_in_home(&places.home),
            false => LocalCa::default_dir().ok_or(TrustError::NoHome)?,
        };
        Ok(Trust {
            dir,
            places,
            system: SystemStore::here(runner),
            runner,
        })
    }

    /// A report on the CA with no store yet.
    fn report(&self, ca: Option<&LocalCa>, state: CaState) -> TrustReport {
        TrustReport {
            dir: self.dir.clone(),
            ca: state,
            unusable: None,
            expires: ca.and_then(LocalCa::expires).map(SystemTime::from),
            renewal_due: ca.and_then(LocalCa::renewal_due),
            exported: None,
            stores: Vec::new(),
        }
    }

    /// Hold the lock beside the CA's folder while the CA or the stores
    /// change, so that two `trust` runs at once take turns (one makes the
    /// CA, the other finds it); the system releases it when the process
    /// ends, however it ends. Not under `sudo`, which changes neither the
    /// user's CA nor their files.
    fn lock(&self) -> Result<Option<std::fs::File>, TrustError> {
        if self.places.sudo {
            return Ok(None);
        }
        let parent = self.dir.parent().unwrap_or(Path::new("."));
        let path = parent.join(LOCK_FILE);
        let failed = |source| TrustError::Write {
            path: path.clone(),
            source,
        };
        std::fs::create_dir_all(parent).map_err(failed)?;
        let file = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .map_err(failed)?;
        file.lock().map_err(failed)?;
        Ok(Some(file))
    }

    /// The CA there when it can be used (all its files, and a leaf it makes
    /// verifies to its root), else a new one in its place, with why the
    /// old one could not be used; never made by root for another user.
    fn ca(&self) -> Result<(LocalCa, CaState, Option<String>), TrustError> {
        let unusable = match usable(&self.dir) {
            Ok(Some(ca)) => return Ok((ca, CaState::Kept, None)),
            Ok(None) => None,
            Err(why) => Some(why),
        };
        if self.places.sudo {
            let dir = self.dir.clone();
            return Err(match unusable {
                None => TrustError::NoLocalCa { dir },
                Some(why) => TrustError::UnusableCa { dir, why },
            });
        }
        Ok((LocalCa::create(&self.dir)?, CaState::Created, unusable))
    }

    /// The user's stores (none under `sudo`, unless `reading`), then the
    /// system's when there is one and `system`.
    fn stores(&self, create: bool, system: bool, reading: bool) -> Vec<Box<dyn Store>> {
        let mut stores = match self.places.sudo && !reading {
            true => Vec::new(),
            false => stores::user_stores(&self.places, create, self.runner),
        };
        if let Some(store) = self.system.clone().filter(|_| system) {
            stores.push(Box::new(store));
        }
        stores
    }

    fn trust(&self, system: bool) -> Result<TrustReport, TrustError> {
        if system && self.system.is_none() {
            return Err(TrustError::NoSystemStore);
        }
        if self.places.sudo && !system {
            return Err(TrustError::SudoWithoutSystem);
        }
        // Before the stores: listing them may make Chromium's database.
        let _lock = self.lock()?;
        let stores = self.stores(true, system, false);
        let usable = |store: &dyn Store| store.unavailable(self.runner).is_none();
        if !system && !stores.iter().any(|store| usable(store.as_ref())) {
            return Err(match self.runner.find(stores::USER_STORE_PROGRAM) {
                None => TrustError::MissingProgram {
                    program: stores::USER_STORE_PROGRAM,
                },
                Some(_) => TrustError::NoStore,
            });
        }
        let (ca, state, unusable) = self.ca()?;
        let mut report = self.report(Some(&ca), state);
        report.unusable = unusable;
        for store in &stores {
            let state = self.each(store.as_ref(), |store| {
                if store.holds(&ca, self.runner)? {
                    return Ok(StoreState::AlreadyTrusted);
                }
                store.add(&ca, self.runner)?;
                Ok(StoreState::Trusted)
            });
            report.stores.push(outcome(store.as_ref(), state));
        }
        Ok(report)
    }

    fn untrust(&self, system: bool) -> Result<TrustReport, TrustError> {
        let _lock = self.lock()?;
        // A CA that cannot be loaded whole is still taken out of the
        // stores by its root, when that can be read, and deleted.
        let ca = LocalCa::load(&self.dir)
            .ok()
            .flatten()
            .or_else(|| LocalCa::root_only(&self.dir));
        let there = self.dir.exists();
        let mut report = self.report(None, CaState::Absent);
        for store in self.stores(false, true, false) {
            if store.is_system() && !system {
                // Changed only when asked; holding this root, it keeps the CA.
                let holds = ca.as_ref().is_some_and(|ca| {
                    store.unavailable(self.runner).is_none()
                        && store.holds(ca, self.runner).unwrap_or(false)
                });
                if holds {
                    let state = StoreState::Failed {
                        reason: "it holds the root: `sudo oauth-callback trust --uninstall \
                                 --system` takes it out"
                            .into(),
                        needs_privileges: false,
                    };
                    report.stores.push(outcome(store.as_ref(), state));
                }
                continue;
            }
            if let (Some(why), Some(_)) = (store.unavailable(self.runner), &ca) {
                // It may hold the root, and cannot be asked: the CA is kept.
                let state = StoreState::Failed {
                    reason: format!("{why}: cannot take the root out"),
                    needs_privileges: false,
                };
                report.stores.push(outcome(store.as_ref(), state));
                continue;
            }
            let state = self.each(store.as_ref(), |store| {
                if let Some(ca) = ca
                    .as_ref()
                    .filter(|ca| store.holds(ca, self.runner).unwrap_or(true))
                {
                    store.remove(ca, self.runner)?;
                    return Ok(StoreState::Removed);
                }
                Ok(match store.remove_leftover(self.runner)? {
                    true => StoreState::Removed,
                    false => StoreState::Missing,
                })
            });
            report.stores.push(outcome(store.as_ref(), state));
        }
        if !there {
            return Ok(report);
        }
        if report.failed() || self.places.sudo {
            // Kept for another try, or the user's own (under sudo).
            report.ca = CaState::Kept;
            return Ok(report);
        }
        let usage = self.dir.join(stores::WINDOWS_USAGE_FILE);
        let _ = std::fs::remove_file(usage);
        LocalCa::remove(&self.dir).map_err(|source| TrustError::Write {
            path: self.dir.clone(),
            source,
        })?;
        report.ca = CaState::Deleted;
        Ok(report)
    }

    fn status(&self) -> Result<TrustReport, TrustError> {
        let (ca, state, unusable) = match usable(&self.dir) {
            Ok(Some(ca)) => (Some(ca), CaState::Found, None),
            Ok(None) => (None, CaState::Absent, None),
            Err(why) => (None, CaState::Unusable, Some(why)),
        };
        let mut report = self.report(ca.as_ref(), state);
        report.unusable = unusable;
        for store in self.stores(false, true, true) {
            let state = self.each(store.as_ref(), |store| {
                Ok(match &ca {
                    Some(ca) if store.holds(ca, self.runner)? => StoreState::Trusted,
                    _ => StoreState::Missing,
                })
            });
            report.stores.push(outcome(store.as_ref(), state));
        }
        Ok(report)
    }

    fn export(&self, file: &Path) -> Result<TrustReport, TrustError> {
        let _lock = self.lock()?;
        let refused = |source| TrustError::Write {
            path: file.into(),
            source,
        };
        // Checked before a CA is made for it.
        crate::files::check_replaceable(file).map_err(refused)?;
        let (ca, state, unusable) = self.ca()?;
        crate::files::replace(file, ca.root_pem().as_bytes()).map_err(refused)?;
        let mut report = self.report(Some(&ca), state);
        report.unusable = unusable;
        report.exported = Some(file.into());
        Ok(report)
    }

    /// What `change` did to `store`, when its program is here; a failure is
    /// the store's outcome, not the whole operation's.
    fn each(
        &self,
        store: &dyn Store,
        change: impl FnOnce(&dyn Store) -> Result<StoreState, TrustError>,
    ) -> StoreState {
        if let Some(why) = store.unavailable(self.runner) {
            return StoreState::NotPresent(why);
        }
        change(store).unwrap_or_else(|error| StoreState::Failed {
            needs_privileges: matches!(error, TrustError::NeedsPrivileges { .. }),
            reason: crate::error::error_line(&error),
        })
    }
}

/// The lock file beside the CA's folder ([`Trust::lock`]).
const LOCK_FILE: &str = "ca.lock";

/// The CA in `dir` when it can be used: all its files readable, and a leaf
/// it makes verifying to its root; `Err` says why it cannot.
fn usable(dir: &Path) -> Result<Option<LocalCa>, String> {
    let Some(ca) = LocalCa::load(dir).map_err(|e| crate::error::error_line(&e))? else {
        return Ok(None);
    };
    let (chain, _key) = ca
        .leaf(std::time::Duration::ZERO)
        .map_err(|e| crate::error::error_line(&e))?;
    ca.check(&chain)?;
    Ok(Some(ca))
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
            sudo: false,
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
            system: None,
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
            system: None,
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
            system: None,
            runner: &runner,
        };
        trust.trust(false).unwrap();
        assert_eq!(runner.copies(), 1);
        let status = trust.status().unwrap();
        assert!(status.to_string().starts_with("local CA: "), "{status}");
        assert_eq!(status.stores[0].state, StoreState::Trusted);
        let removed = trust.untrust(false).unwrap();
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
            system: None,
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

    /// Trust for a home with Chromium's database and a system store whose
    /// anchors are in a folder of the test's.
    fn with_system<'a>(runner: &'a FakeRunner, anchors: &Path) -> (tempfile::TempDir, Trust<'a>) {
        let (home, dir, places) = home();
        let trust = Trust {
            dir,
            places,
            system: Some(SystemStore::in_folder(anchors)),
            runner,
        };
        (home, trust)
    }

    #[cfg(all(unix, not(target_os = "macos")))]
    #[test]
    fn the_system_store_changes_only_when_asked_and_only_for_this_root() {
        let anchors = tempfile::tempdir().unwrap();
        let runner = FakeRunner::with(&["certutil", "update-ca-trust"]).store(NSS, 0);
        let (_home, trust) = with_system(&runner, anchors.path());
        let anchor = SystemStore::in_folder(anchors.path()).anchor();
        // Another user's root at the same name: never reported as ours, never taken out.
        std::fs::write(&anchor, "another user's root").unwrap();
        let status = trust.status().unwrap();
        assert!(
            status.stores.iter().all(|s| s.state != StoreState::Trusted),
            "{status}"
        );
        let report = trust.untrust(true).unwrap();
        assert_eq!(report.ca, CaState::Absent);
        assert_eq!(
            std::fs::read_to_string(&anchor).unwrap(),
            "another user's root"
        );
        std::fs::remove_file(&anchor).unwrap();
        // This CA's root there: untrust without `system` keeps it, and the CA, and says how.
        trust.trust(true).unwrap();
        assert!(anchor.exists());
        let kept = trust.untrust(false).unwrap();
        let system = kept.stores.iter().find(|s| s.system).unwrap();
        assert!(
            matches!(&system.state, StoreState::Failed { reason, .. } if reason.contains("trust --uninstall --system")),
            "{kept}"
        );
        assert_eq!(kept.ca, CaState::Kept);
        assert!(anchor.exists() && trust.dir.join("root.pem").exists());
        let removed = trust.untrust(true).unwrap();
        assert_eq!(removed.ca, CaState::Deleted);
        assert!(!anchor.exists());
    }

    #[cfg(all(unix, not(target_os = "macos")))]
    #[test]
    fn a_ca_left_half_made_is_said_replaced_by_trust_and_removed_by_untrust() {
        let (_home, dir, places) = home();
        let runner = FakeRunner::with(&["certutil"]).store(NSS, 0);
        let trust = Trust {
            dir: dir.clone(),
            places,
            system: None,
            runner: &runner,
        };
        trust.trust(false).unwrap();
        // A kill between its files: the key never written.
        std::fs::remove_file(dir.join("intermediate.key")).unwrap();
        let status = trust.status().unwrap();
        assert_eq!(status.ca, CaState::Unusable);
        assert!(
            status.to_string().contains("cannot be used (")
                && status.to_string().contains("intermediate.key"),
            "{status}"
        );
        let replaced = trust.trust(false).unwrap();
        assert_eq!(replaced.ca, CaState::Created);
        assert!(
            replaced.to_string().starts_with("made a new local CA"),
            "{replaced}"
        );
        assert_eq!(replaced.stores[0].state, StoreState::Trusted);
        assert_eq!(runner.copies(), 1, "the old root's copy went first");
        assert!(usable(&dir).unwrap().is_some());
        // Half-made again; untrust takes its root out and deletes what is there.
        std::fs::remove_file(dir.join("intermediate.pem")).unwrap();
        let removed = trust.untrust(false).unwrap();
        assert_eq!(removed.ca, CaState::Deleted);
        assert_eq!(runner.copies(), 0);
        assert!(!dir.exists());
    }

    #[test]
    fn a_key_that_does_not_match_its_intermediate_makes_the_ca_unusable() {
        let dir = tempfile::tempdir().unwrap();
        let ca_dir = dir.path().join("ca");
        LocalCa::create(&ca_dir).unwrap();
        assert!(usable(&ca_dir).unwrap().is_some());
        let other = rcgen::KeyPair::generate().unwrap();
        std::fs::write(ca_dir.join("intermediate.key"), other.serialize_pem()).unwrap();
        let why = usable(&ca_dir).unwrap_err();
        assert!(why.contains("do not chain to its root"), "{why}");
    }

    #[cfg(all(unix, not(target_os = "macos")))]
    #[test]
    fn a_store_that_fails_is_reported_and_the_others_are_still_handled() {
        let anchors = tempfile::tempdir().unwrap();
        // The system's bundle cannot be rebuilt; Chromium's store works.
        let runner = FakeRunner::with(&["certutil", "update-ca-trust"])
            .store(NSS, 0)
            .answer("update-ca-trust", false, "");
        let (_home, trust) = with_system(&runner, anchors.path());
        let report = trust.trust(true).unwrap();
        assert_eq!(report.stores[0].state, StoreState::Trusted);
        assert!(
            matches!(
                &report.stores[1].state,
                StoreState::Failed { reason, needs_privileges: false } if reason.contains("update-ca-trust failed")
            ),
            "{report}"
        );
        assert!(report.failed() && !report.needs_privileges());
        // Taking it out again fails the same way: the CA is kept for another try.
        let removed = trust.untrust(true).unwrap();
        assert_eq!(removed.stores[0].state, StoreState::Removed);
        assert!(matches!(removed.stores[1].state, StoreState::Failed { .. }));
        assert_eq!(removed.ca, CaState::Kept);
        assert!(trust.dir.join("root.pem").exists());
    }

    #[cfg(all(unix, not(target_os = "macos")))]
    #[test]
    fn under_sudo_only_the_system_store_changes_and_no_ca_is_made_for_the_user() {
        let anchors = tempfile::tempdir().unwrap();
        let runner = FakeRunner::with(&["certutil", "update-ca-trust"]).store(NSS, 0);
        let (_home, mut trust) = with_system(&runner, anchors.path());
        trust.places.sudo = true;
        let error = trust.trust(true).unwrap_err();
        assert!(matches!(error, TrustError::NoLocalCa { .. }), "{error}");
        assert!(!trust.dir.exists(), "root made no CA in the user's home");
        trust.places.sudo = false;
        trust.trust(false).unwrap();
        trust.places.sudo = true;
        let report = trust.trust(true).unwrap();
        assert_eq!(
            report.stores.len(),
            1,
            "the user's own stores are theirs: {report}"
        );
        assert!(report.stores[0].system && report.stores[0].state == StoreState::Trusted);
        let removed = trust.untrust(true).unwrap();
        assert_eq!(removed.ca, CaState::Kept, "the user's CA stays theirs");
        assert_eq!(removed.stores[0].state, StoreState::Removed);
    }

    #[cfg(all(unix, not(target_os = "macos")))]
    #[test]
    fn untrust_keeps_the_ca_while_a_store_that_may_hold_the_root_cannot_be_asked() {
        let (_home, dir, places) = home();
        let with_certutil = FakeRunner::with(&["certutil"]).store(NSS, 0);
        let trust = Trust {
            dir: dir.clone(),
            places: places.clone(),
            system: None,
            runner: &with_certutil,
        };
        trust.trust(false).unwrap();
        let without = FakeRunner::default();
        let trust = Trust {
            dir: dir.clone(),
            places,
            system: None,
            runner: &without,
        };
        let report = trust.untrust(false).unwrap();
        assert!(
            matches!(&report.stores[0].state, StoreState::Failed { reason, .. } if reason == "certutil is missing: cannot take the root out"),
            "{report}"
        );
        assert_eq!(report.ca, CaState::Kept);
        assert!(dir.join("root.pem").exists());
        let mut sudo = trust;
        sudo.places.sudo = true;
        assert!(matches!(
            sudo.trust(false),
            Err(TrustError::SudoWithoutSystem)
        ));
    }
}
