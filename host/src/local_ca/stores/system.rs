//! The system's store of trusted roots, for curl, Python and other programs
//! that read the system's bundle: a folder of anchors and the command that
//! rebuilds the bundle from it (Debian's `update-ca-certificates`, Fedora's
//! `update-ca-trust extract`). Changing it needs root; it is trusted only
//! when asked (`trust --system`).

use std::path::{Path, PathBuf};

use super::{Runner, Store};
use crate::local_ca::LocalCa;
use crate::local_ca::trust_error::TrustError;

/// The root's file among the system's anchors.
const ANCHOR_FILE: &str = "oauth-callback-local-ca.crt";

/// A folder of anchors and its update command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SystemStore {
    anchors: PathBuf,
    update: &'static str,
    arguments: &'static [&'static str],
}

impl SystemStore {
    /// Debian's store, then Fedora's.
    fn known() -> [SystemStore; 2] {
        [
            SystemStore {
                anchors: "/usr/local/share/ca-certificates".into(),
                update: "update-ca-certificates",
                arguments: &[],
            },
            SystemStore {
                anchors: "/etc/pki/ca-trust/source/anchors".into(),
                update: "update-ca-trust",
                arguments: &["extract"],
            },
        ]
    }

    /// The first known store whose update command is here.
    pub(crate) fn here(runner: &dyn Runner) -> Option<SystemStore> {
        Self::known()
            .into_iter()
            .find(|store| store.program(runner).is_some())
    }

    /// The root's file in it.
    fn file(&self) -> PathBuf {
        self.anchors.join(ANCHOR_FILE)
    }

    /// Its update command, when it is here: on the `PATH`, or in
    /// `/usr/sbin` (not on a user's `PATH` on Debian).
    fn program(&self, runner: &dyn Runner) -> Option<PathBuf> {
        let sbin = Path::new("/usr/sbin").join(self.update);
        runner
            .find(self.update)
            .or_else(|| sbin.is_file().then_some(sbin))
    }

    /// Rebuild the system's bundle.
    fn rebuild(&self, runner: &dyn Runner) -> Result<(), TrustError> {
        let program = self
            .program(runner)
            .unwrap_or_else(|| PathBuf::from(self.update));
        let arguments: Vec<_> = self.arguments.iter().map(Into::into).collect();
        runner.run_ok(&program, &arguments)?;
        Ok(())
    }

    /// A failed change of its folder: one that needs root said so.
    fn refused(&self, path: PathBuf, source: std::io::Error) -> TrustError {
        match source.kind() {
            std::io::ErrorKind::PermissionDenied => TrustError::NeedsPrivileges {
                store: self.name(),
                source,
            },
            _ => TrustError::Write { path, source },
        }
    }
}

impl Store for SystemStore {
    fn name(&self) -> String {
        format!("system ({})", self.file().display())
    }

    fn unavailable(&self, runner: &dyn Runner) -> Option<String> {
        self.program(runner)
            .is_none()
            .then(|| format!("{} is missing", self.update))
    }

    fn holds(&self, ca: &LocalCa, _: &dyn Runner) -> Result<bool, TrustError> {
        Ok(std::fs::read_to_string(self.file()).is_ok_and(|held| held == ca.root_pem()))
    }

    fn add(&self, ca: &LocalCa, runner: &dyn Runner) -> Result<(), TrustError> {
        let file = self.file();
        std::fs::write(&file, ca.root_pem()).map_err(|e| self.refused(file, e))?;
        self.rebuild(runner)
    }

    /// Its one file, when it holds `ca`'s root: another user's CA may have
    /// put its own root there under the same name, which is left alone.
    fn remove(&self, ca: &LocalCa, runner: &dyn Runner) -> Result<(), TrustError> {
        if !self.holds(ca, runner)? {
            return Ok(());
        }
        let file = self.file();
        match std::fs::remove_file(&file) {
            Ok(()) => self.rebuild(runner),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(self.refused(file, e)),
        }
    }

    fn is_system(&self) -> bool {
        true
    }
}

#[cfg(test)]
impl SystemStore {
    /// Fedora's store, with its anchors in `anchors`.
    pub(crate) fn in_folder(anchors: &Path) -> SystemStore {
        SystemStore {
            anchors: anchors.into(),
            ..SystemStore::known()[1].clone()
        }
    }

    /// The root's file there.
    pub(crate) fn anchor(&self) -> PathBuf {
        self.file()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::local_ca::stores::fake::FakeRunner;

    fn store_in(anchors: &Path) -> SystemStore {
        SystemStore::in_folder(anchors)
    }

    #[test]
    fn the_root_is_an_anchor_file_and_the_bundle_is_rebuilt() {
        let anchors = tempfile::tempdir().unwrap();
        let ca = LocalCa::in_memory_for_tests("/ca");
        let store = store_in(anchors.path());
        let runner = FakeRunner::with(&["update-ca-trust"]);
        assert!(!store.holds(&ca, &runner).unwrap());
        store.add(&ca, &runner).unwrap();
        assert!(store.holds(&ca, &runner).unwrap());
        assert_eq!(
            std::fs::read_to_string(anchors.path().join(ANCHOR_FILE)).unwrap(),
            ca.root_pem()
        );
        store.remove(&ca, &runner).unwrap();
        assert!(!anchors.path().join(ANCHOR_FILE).exists());
        assert_eq!(
            runner.asked(),
            ["update-ca-trust extract", "update-ca-trust extract"]
        );
        store.remove(&ca, &runner).unwrap();
        assert_eq!(
            runner.asked().len(),
            2,
            "nothing to rebuild when nothing was there"
        );
    }

    #[test]
    fn a_change_the_system_refuses_says_it_needs_privileges() {
        let store = store_in(Path::new("/usr/local/share/ca-certificates"));
        let file = store.file();
        let denied = store.refused(file.clone(), std::io::ErrorKind::PermissionDenied.into());
        assert!(
            matches!(denied, TrustError::NeedsPrivileges { .. }),
            "{denied:?}"
        );
        let full = store.refused(file, std::io::ErrorKind::StorageFull.into());
        assert!(matches!(full, TrustError::Write { .. }), "{full:?}");
    }
}
