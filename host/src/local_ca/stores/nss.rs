//! NSS databases: Chrome's and Chromium's on Linux (`~/.pki/nssdb`) and each
//! Firefox profile's (snap and flatpak ones included), through NSS's
//! `certutil` (Debian's `libnss3-tools`, Fedora's `nss-tools`), the root
//! trusted with flags `C,,`: a CA for TLS servers only (no e-mail, no code
//! signing).

use std::ffi::OsString;
use std::path::{Path, PathBuf};

use super::{NICKNAME, Runner, Store, missing, program, remove_copies, words};
use crate::local_ca::LocalCa;
use crate::local_ca::trust_error::TrustError;

/// NSS's certificate tool.
const CERTUTIL: &str = "certutil";
/// NSS trust flags: trusted to issue TLS server certificates, nothing else.
pub(crate) const TRUST_FLAGS: &str = "C,,";
/// Where Firefox keeps profiles, under the home folder.
const FIREFOX_PROFILES: [&str; 3] = [
    ".mozilla/firefox",
    "snap/firefox/common/.mozilla/firefox",
    ".var/app/org.mozilla.firefox/.mozilla/firefox",
];

/// One NSS database.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Nss {
    dir: PathBuf,
    browser: &'static str,
}

impl Nss {
    /// `sql:DIR`, NSS's name for a database folder.
    fn database(&self) -> OsString {
        let mut name = OsString::from("sql:");
        name.push(&self.dir);
        name
    }

    /// `certutil VERB -d sql:DIR -n NICKNAME`.
    fn by_nickname(&self, verb: &str) -> Vec<OsString> {
        let mut args = words(&[verb, "-d"]);
        args.push(self.database());
        args.extend(words(&["-n", NICKNAME]));
        args
    }
}

impl Store for Nss {
    fn name(&self) -> String {
        format!("{} ({})", self.browser, self.dir.display())
    }

    fn unavailable(&self, runner: &dyn Runner) -> Option<String> {
        missing(runner, CERTUTIL)
    }

    /// certutil says "Could not find cert" when the nickname is not there;
    /// any other failure (a bad database, one locked by a password) is an
    /// error, never taken for "not held".
    fn holds(&self, _: &LocalCa, runner: &dyn Runner) -> Result<bool, TrustError> {
        let certutil = program(runner, CERTUTIL);
        let ran = runner.run(&certutil, &self.by_nickname("-L"))?;
        match ran.success {
            true => Ok(true),
            false if ran.stderr.contains("Could not find cert") => Ok(false),
            false => Err(TrustError::Program {
                program: certutil.display().to_string(),
                said: ran.stderr.trim().to_string(),
            }),
        }
    }

    fn add(&self, ca: &LocalCa, runner: &dyn Runner) -> Result<(), TrustError> {
        let mut args = words(&["-A", "-d"]);
        args.push(self.database());
        args.extend(words(&["-t", TRUST_FLAGS, "-n", NICKNAME, "-i"]));
        args.push(ca.root_file().into());
        runner.run_ok(&program(runner, CERTUTIL), &args)?;
        Ok(())
    }

    fn remove(&self, ca: &LocalCa, runner: &dyn Runner) -> Result<(), TrustError> {
        let certutil = program(runner, CERTUTIL);
        remove_copies(self, ca, runner, &certutil, &self.by_nickname("-D"))
    }
}

/// The user's NSS databases: Chromium's (made first when `create` and
/// missing, when `certutil` is here), then each Firefox profile's.
pub(crate) fn databases(home: &Path, create: bool, runner: &dyn Runner) -> Vec<Nss> {
    let mut stores = Vec::new();
    let chromium = Nss {
        dir: home.join(".pki/nssdb"),
        browser: "Chrome/Chromium",
    };
    let certutil = runner.find(CERTUTIL);
    if let Some(certutil) = certutil.filter(|_| create && !chromium.dir.join("cert9.db").exists()) {
        let _ = std::fs::create_dir_all(&chromium.dir);
        let mut args = words(&["-N", "-d"]);
        args.push(chromium.database());
        args.push("--empty-password".into());
        let _ = runner.run(&certutil, &args);
    }
    if chromium.dir.join("cert9.db").exists() {
        stores.push(chromium);
    }
    for profiles in FIREFOX_PROFILES {
        let Ok(entries) = std::fs::read_dir(home.join(profiles)) else {
            continue;
        };
        let mut found: Vec<PathBuf> = entries.flatten().map(|e| e.path()).collect();
        found.sort();
        for dir in found
            .into_iter()
            .filter(|dir| dir.join("cert9.db").exists())
        {
            stores.push(Nss {
                dir,
                browser: "Firefox",
            });
        }
    }
    stores
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::local_ca::stores::fake::FakeRunner;

    #[test]
    fn chromium_and_each_firefox_profile_is_a_store() {
        let home = tempfile::tempdir().unwrap();
        for dir in [
            ".pki/nssdb",
            ".mozilla/firefox/b.default",
            ".mozilla/firefox/a.work",
        ] {
            std::fs::create_dir_all(home.path().join(dir)).unwrap();
            std::fs::write(home.path().join(dir).join("cert9.db"), "").unwrap();
        }
        std::fs::create_dir_all(home.path().join(".mozilla/firefox/no-database")).unwrap();
        let runner = FakeRunner::with(&["certutil"]);
        let names: Vec<String> = databases(home.path(), false, &runner)
            .iter()
            .map(|store| {
                store
                    .name()
                    .replace(&home.path().display().to_string(), "~")
            })
            .collect();
        assert_eq!(
            names,
            [
                "Chrome/Chromium (~/.pki/nssdb)",
                "Firefox (~/.mozilla/firefox/a.work)",
                "Firefox (~/.mozilla/firefox/b.default)"
            ]
        );
        assert!(runner.asked().is_empty(), "nothing made without create");
    }

    #[test]
    fn the_root_is_trusted_for_tls_servers_only_and_every_copy_removed() {
        let ca = LocalCa::in_memory_for_tests("/ca");
        let store = Nss {
            dir: "/home/alice/.pki/nssdb".into(),
            browser: "Chrome/Chromium",
        };
        let runner = FakeRunner::with(&["certutil"]);
        store.add(&ca, &runner).unwrap();
        assert_eq!(
            runner.asked(),
            [format!(
                "certutil -A -d sql:/home/alice/.pki/nssdb -t C,, -n {NICKNAME} -i /ca/root.pem"
            )]
        );
        // Two copies: both deleted, then it holds none.
        let runner =
            FakeRunner::with(&["certutil"]).store(["certutil -L", "certutil -A", "certutil -D"], 2);
        store.remove(&ca, &runner).unwrap();
        assert_eq!(runner.copies(), 0);
        let deletions = runner
            .asked()
            .iter()
            .filter(|line| line.starts_with("certutil -D"))
            .count();
        assert_eq!(deletions, 2);
        assert!(runner.asked().contains(&format!(
            "certutil -L -d sql:/home/alice/.pki/nssdb -n {NICKNAME}"
        )));
        // A database certutil cannot read is an error, not "not held".
        let bad = FakeRunner::with(&["certutil"]).answer("certutil -L", false, "");
        let error = store.holds(&ca, &bad).unwrap_err();
        assert!(error.to_string().starts_with("certutil failed"), "{error}");
        // A database that never lets go is an error, not "removed".
        let stuck = FakeRunner::with(&["certutil"]).answer("certutil -L", true, "");
        let error = store.remove(&ca, &stuck).unwrap_err();
        assert!(
            error.to_string().contains("still holds the root"),
            "{error}"
        );
    }
}
