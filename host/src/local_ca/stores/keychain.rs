//! The macOS login keychain, through `security`: the root trusted for SSL
//! only (`add-trusted-cert -r trustRoot -p ssl`), found by its name.

use std::path::{Path, PathBuf};

use super::{Runner, Store, missing, program, remove_copies, words};
use crate::local_ca::LocalCa;
use crate::local_ca::trust_error::TrustError;

/// macOS's keychain tool.
const SECURITY: &str = "security";

/// A keychain file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Keychain {
    keychain: PathBuf,
}

impl Keychain {
    /// The user's login keychain.
    pub(crate) fn login(home: &Path) -> Keychain {
        Keychain {
            keychain: home.join("Library/Keychains/login.keychain-db"),
        }
    }

    /// `security VERB -c NAME KEYCHAIN`.
    fn by_name(&self, verb: &str, ca: &LocalCa) -> Vec<std::ffi::OsString> {
        let mut args = words(&[verb, "-c"]);
        args.push(ca.name().into());
        args.push(self.keychain.clone().into());
        args
    }
}

impl Store for Keychain {
    fn name(&self) -> String {
        format!("macOS login keychain ({})", self.keychain.display())
    }

    fn unavailable(&self, runner: &dyn Runner) -> Option<String> {
        missing(runner, SECURITY)
    }

    fn holds(&self, ca: &LocalCa, runner: &dyn Runner) -> Result<bool, TrustError> {
        let security = program(runner, SECURITY);
        Ok(runner
            .run(&security, &self.by_name("find-certificate", ca))?
            .success)
    }

    fn add(&self, ca: &LocalCa, runner: &dyn Runner) -> Result<(), TrustError> {
        let mut args = words(&["add-trusted-cert", "-r", "trustRoot", "-p", "ssl", "-k"]);
        args.push(self.keychain.clone().into());
        args.push(ca.root_file().into());
        runner.run_ok(&program(runner, SECURITY), &args)?;
        Ok(())
    }

    fn remove(&self, ca: &LocalCa, runner: &dyn Runner) -> Result<(), TrustError> {
        let security = program(runner, SECURITY);
        remove_copies(
            self,
            ca,
            runner,
            &security,
            &self.by_name("delete-certificate", ca),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::local_ca::stores::fake::FakeRunner;

    #[test]
    fn the_root_is_trusted_for_ssl_in_the_login_keychain() {
        let ca = LocalCa::in_memory_for_tests("/ca");
        let store = Keychain::login(Path::new("/Users/alice"));
        let runner = FakeRunner::with(&["security"]).answer("security find-certificate", false, "");
        assert!(!store.holds(&ca, &runner).unwrap());
        store.add(&ca, &runner).unwrap();
        let keychain = "/Users/alice/Library/Keychains/login.keychain-db";
        assert_eq!(
            runner.asked(),
            [
                format!("security find-certificate -c {} {keychain}", ca.name()),
                format!("security add-trusted-cert -r trustRoot -p ssl -k {keychain} /ca/root.pem"),
            ]
        );
        let absent = FakeRunner::default();
        assert_eq!(
            store.unavailable(&absent).as_deref(),
            Some("security is missing")
        );
    }
}
