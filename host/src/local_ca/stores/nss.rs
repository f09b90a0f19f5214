//! NSS databases: Chrome's and Chromium's on Linux (`~/.pki/nssdb`) and each
//! Firefox profile's (snap and flatpak ones included), through NSS's
//! `certutil` (Debian's `libnss3-tools`, Fedora's `nss-tools`), the root
//! trusted with flags `C,,`: a CA for TLS servers only (no e-mail, no code
//! signing).

use std::ffi::OsString;
use std::path::{Path, PathBuf};

use super::{MAX_COPIES, NICKNAME, Runner, Store, missing, program, words};
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

/// An empty password file: `certutil` reads the database's password from
/// it instead of asking on a terminal (a database with a password then
/// fails at once, never waits for an answer).
const NO_PASSWORD: &str = "/dev/null";
/// What `certutil` says when the database has a password.
const BAD_PASSWORD: &str = "SEC_ERROR_BAD_PASSWORD";

/// One NSS database.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Nss {
    dir: PathBuf,
    browser: &'static str,
    /// Only the old `dbm:` format (`cert8.db`) is there.
    legacy: bool,
}

impl Nss {
    /// `sql:DIR`, NSS's name for a database folder.
    fn database(&self) -> OsString {
        let mut name = OsString::from("sql:");
        name.push(&self.dir);
        name
    }

    /// `certutil VERB -d sql:DIR -f NO_PASSWORD` and `more`.
    fn command(&self, verb: &str, more: &[&str]) -> Vec<OsString> {
        let mut args = words(&[verb, "-d"]);
        args.push(self.database());
        args.extend(words(&["-f", NO_PASSWORD]));
        args.extend(words(more));
        args
    }

    /// The trust flags of the root's nickname (`C,,`), when it is there.
    fn flags(&self, runner: &dyn Runner) -> Result<Option<String>, TrustError> {
        let certutil = program(runner, CERTUTIL);
        let listed = runner.run_ok(&certutil, &self.command("-L", &[]))?;
        Ok(listed.stdout.lines().find_map(|line| {
            let rest = line.strip_prefix(NICKNAME)?;
            rest.starts_with(char::is_whitespace)
                .then(|| rest.trim().to_string())
        }))
    }

    /// The certificates under the root's nickname (DER); none when it is
    /// not there. A database that cannot be read is an error, never taken
    /// for "not held".
    fn copies(&self, runner: &dyn Runner) -> Result<Vec<Vec<u8>>, TrustError> {
        use rustls::pki_types::CertificateDer;
        use rustls::pki_types::pem::PemObject;
        let certutil = program(runner, CERTUTIL);
        let ran = runner.run(&certutil, &self.command("-L", &["-n", NICKNAME, "-a"]))?;
        match ran.success {
            true => Ok(CertificateDer::pem_slice_iter(ran.stdout.as_bytes())
                .flatten()
                .map(|der| der.to_vec())
                .collect()),
            false if ran.stderr.contains("Could not find cert") => Ok(Vec::new()),
            false => Err(self.refused(&certutil, &ran.stderr)),
        }
    }

    /// Take every copy under the root's nickname out; whether there was any.
    fn remove_all(&self, runner: &dyn Runner) -> Result<bool, TrustError> {
        let certutil = program(runner, CERTUTIL);
        let mut removed = false;
        for _ in 0..MAX_COPIES {
            if self.copies(runner)?.is_empty() {
                return Ok(removed);
            }
            runner.run_ok(&certutil, &self.command("-D", &["-n", NICKNAME]))?;
            removed = true;
        }
        Err(TrustError::Program {
            program: certutil.display().to_string(),
            said: format!(
                "{} still holds the root after {MAX_COPIES} removals",
                self.name()
            ),
        })
    }

    /// What `certutil` said, in one line naming the database when it has a
    /// password (Firefox's Primary Password).
    fn refused(&self, certutil: &Path, said: &str) -> TrustError {
        let said = match said.contains(BAD_PASSWORD) {
            true => format!(
                "{} is protected by a password (Firefox's Primary Password): trust the root \
                 from the browser's certificate settings, or remove the password",
                self.dir.display()
            ),
            false => said.trim().to_string(),
        };
        TrustError::Program {
            program: certutil.display().to_string(),
            said,
        }
    }
}

impl Store for Nss {
    fn name(&self) -> String {
        format!("{} ({})", self.browser, self.dir.display())
    }

    fn unavailable(&self, runner: &dyn Runner) -> Option<String> {
        missing(runner, CERTUTIL)
    }

    /// It holds `ca`'s root under the nickname, trusted for TLS servers
    /// (`C` among the SSL flags): a copy without them (left by a change a
    /// password stopped) is not trusted. An old-format database never
    /// does (nothing is ever added to one).
    fn holds(&self, ca: &LocalCa, runner: &dyn Runner) -> Result<bool, TrustError> {
        if self.legacy {
            return Ok(false);
        }
        let ours = self
            .copies(runner)?
            .iter()
            .any(|der| der == ca.root_der().as_ref());
        Ok(ours
            && self
                .flags(runner)?
                .is_some_and(|flags| flags.split(',').next().is_some_and(|ssl| ssl.contains('C'))))
    }

    /// Whatever is under the nickname goes first (an older CA's root, a
    /// copy without its flags), then the root is added; when the database
    /// refuses (a password), nothing of ours is left in it.
    fn add(&self, ca: &LocalCa, runner: &dyn Runner) -> Result<(), TrustError> {
        let certutil = program(runner, CERTUTIL);
        if self.legacy {
            return Err(TrustError::Program {
                program: certutil.display().to_string(),
                said: format!(
                    "{} is an old-format database (cert8.db), which certutil does not change \
                     here; opening it once with a current browser upgrades it",
                    self.dir.display()
                ),
            });
        }
        self.remove_all(runner)?;
        let root = ca.root_file();
        let mut args = self.command("-A", &["-t", TRUST_FLAGS, "-n", NICKNAME, "-i"]);
        args.push(root.into());
        let ran = runner.run(&certutil, &args)?;
        if ran.success {
            return Ok(());
        }
        let _ = self.remove_all(runner);
        Err(self.refused(&certutil, &ran.stderr))
    }

    fn remove(&self, _: &LocalCa, runner: &dyn Runner) -> Result<(), TrustError> {
        self.remove_leftover(runner).map(drop)
    }

    fn remove_leftover(&self, runner: &dyn Runner) -> Result<bool, TrustError> {
        match self.legacy {
            true => Ok(false),
            false => self.remove_all(runner),
        }
    }
}

/// The user's NSS databases: Chromium's (made first when `create` and
/// there is none, when `certutil` is here), then each Firefox profile's;
/// one only in the old format is listed, to be said.
pub(crate) fn databases(home: &Path, create: bool, runner: &dyn Runner) -> Vec<Nss> {
    let found = |dir: PathBuf, browser| {
        let modern = dir.join("cert9.db").exists();
        let legacy = !modern && dir.join("cert8.db").exists();
        (modern || legacy).then_some(Nss {
            dir,
            browser,
            legacy,
        })
    };
    let mut stores = Vec::new();
    let chromium = home.join(".pki/nssdb");
    let certutil = runner.find(CERTUTIL);
    if let Some(certutil) = certutil.filter(|_| create && found(chromium.clone(), "").is_none()) {
        let _ = std::fs::create_dir_all(&chromium);
        let new = Nss {
            dir: chromium.clone(),
            browser: "",
            legacy: false,
        };
        let _ = runner.run(&certutil, &new.command("-N", &["--empty-password"]));
    }
    stores.extend(found(chromium, "Chrome/Chromium"));
    for profiles in FIREFOX_PROFILES {
        let Ok(entries) = std::fs::read_dir(home.join(profiles)) else {
            continue;
        };
        let mut dirs: Vec<PathBuf> = entries.flatten().map(|e| e.path()).collect();
        dirs.sort();
        stores.extend(dirs.into_iter().filter_map(|dir| found(dir, "Firefox")));
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

    const NSS: [&str; 3] = ["certutil -L", "certutil -A", "certutil -D"];

    fn chromium() -> Nss {
        Nss {
            dir: "/home/alice/.pki/nssdb".into(),
            browser: "Chrome/Chromium",
            legacy: false,
        }
    }

    #[test]
    fn the_root_is_trusted_for_tls_servers_only_and_every_copy_removed() {
        let ca = LocalCa::in_memory_for_tests("/ca");
        let store = chromium();
        let runner = FakeRunner::with(&["certutil"]);
        store.add(&ca, &runner).unwrap();
        assert_eq!(
            runner.asked().last().unwrap(),
            &format!(
                "certutil -A -d sql:/home/alice/.pki/nssdb -f /dev/null -t C,, -n {NICKNAME} \
                 -i /ca/root.pem"
            )
        );
        // Every command reads the password from an empty file: none prompts.
        assert!(
            runner
                .asked()
                .iter()
                .all(|line| line.contains(" -f /dev/null"))
        );
        // Two copies: both deleted, then it holds none.
        let runner = FakeRunner::with(&["certutil"])
            .store(NSS, 2)
            .holding(ca.root_pem());
        assert!(store.holds(&ca, &runner).unwrap());
        store.remove(&ca, &runner).unwrap();
        assert_eq!(runner.copies(), 0);
        let deletions = runner
            .asked()
            .iter()
            .filter(|line| line.starts_with("certutil -D"))
            .count();
        assert_eq!(deletions, 2);
        // A database certutil cannot read is an error, not "not held".
        let bad = FakeRunner::with(&["certutil"]).answer("certutil -L", false, "");
        let error = store.holds(&ca, &bad).unwrap_err();
        assert!(error.to_string().starts_with("certutil failed"), "{error}");
        // A database that never lets go is an error, not "removed".
        let stuck = FakeRunner::with(&["certutil"]).answer("certutil -L", true, ca.root_pem());
        let error = store.remove(&ca, &stuck).unwrap_err();
        assert!(
            error.to_string().contains("still holds the root"),
            "{error}"
        );
    }

    #[test]
    fn a_copy_without_its_trust_flags_or_of_another_root_is_not_trusted() {
        let ca = LocalCa::in_memory_for_tests("/ca");
        let other = LocalCa::in_memory_for_tests("/other");
        let store = chromium();
        let listing = |flags: &str| format!("{}\n{NICKNAME}    {flags}\n", ca.root_pem());
        let unflagged = FakeRunner::with(&["certutil"]).answer("certutil -L", true, &listing(",,"));
        assert!(!store.holds(&ca, &unflagged).unwrap());
        let flagged = FakeRunner::with(&["certutil"]).answer("certutil -L", true, &listing("C,,"));
        assert!(store.holds(&ca, &flagged).unwrap());
        assert!(!store.holds(&other, &flagged).unwrap());
    }

    #[test]
    fn a_database_with_a_password_is_said_in_one_line_and_left_without_our_root() {
        let ca = LocalCa::in_memory_for_tests("/ca");
        let store = chromium();
        let runner = FakeRunner::with(&["certutil"])
            .store(NSS, 0)
            .holding(ca.root_pem())
            .answer_stderr(
                "certutil -A",
                "certutil: could not authenticate to token NSS Certificate DB.: \
             SEC_ERROR_BAD_PASSWORD: The security password entered is incorrect.",
            );
        let error = store.add(&ca, &runner).unwrap_err().to_string();
        assert!(
            error.contains("/home/alice/.pki/nssdb is protected by a password"),
            "{error}"
        );
        assert_eq!(runner.copies(), 0, "the half-added copy is taken out");
    }

    #[test]
    fn an_old_format_database_is_listed_and_said_never_changed() {
        let home = tempfile::tempdir().unwrap();
        let nssdb = home.path().join(".pki/nssdb");
        std::fs::create_dir_all(&nssdb).unwrap();
        std::fs::write(nssdb.join("cert8.db"), "").unwrap();
        let runner = FakeRunner::with(&["certutil"]);
        let stores = databases(home.path(), true, &runner);
        assert!(runner.asked().is_empty(), "no new database over an old one");
        assert_eq!(stores.len(), 1);
        let ca = LocalCa::in_memory_for_tests("/ca");
        assert!(!stores[0].holds(&ca, &runner).unwrap());
        let why = stores[0].add(&ca, &runner).unwrap_err().to_string();
        assert!(
            why.contains("is an old-format database (cert8.db)"),
            "{why}"
        );
        assert!(runner.asked().is_empty(), "certutil never pointed at it");
    }
}
