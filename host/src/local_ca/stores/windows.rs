//! The current Windows user's Root store, through Windows' `certutil`
//! (`certutil.exe` from WSL, whose browser is Windows', with each file named
//! by its Windows path from `wslpath -w`); Windows asks the user to confirm.
//! Once added, the root's enhanced-key-usage property is set to server
//! authentication only, so that Windows trusts it for nothing else.

use std::ffi::OsString;
use std::path::Path;

use super::{Runner, Store, missing, program, remove_copies, words};
use crate::local_ca::LocalCa;
use crate::local_ca::trust_error::TrustError;

/// The property file `certutil -repairstore` reads: the enhanced-key-usage
/// property (9, `CERT_ENHKEY_USAGE_PROP_ID`) set to server authentication.
const USAGE: &str = "[Properties]\r\n9 = \"{text}1.3.6.1.5.5.7.3.1\"\r\n";
/// Where it is written, beside the CA.
pub(crate) const USAGE_FILE: &str = "root-usage.inf";
/// WSL's tool that names a Linux file by its Windows path.
const WSLPATH: &str = "wslpath";

/// The current user's Root store; `wsl` when reached from Linux under WSL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Windows {
    pub(crate) wsl: bool,
}

impl Windows {
    /// Windows' certutil, as this system runs it.
    fn certutil(&self) -> &'static str {
        if self.wsl { "certutil.exe" } else { "certutil" }
    }

    /// `file` as certutil reads it: a Windows path (`wslpath -w`) from WSL.
    fn path_for(&self, file: &Path, runner: &dyn Runner) -> Result<OsString, TrustError> {
        if !self.wsl {
            return Ok(file.into());
        }
        let mut args = words(&["-w"]);
        args.push(file.into());
        let ran = runner.run_ok(&program(runner, WSLPATH), &args)?;
        match ran.stdout.trim() {
            "" => Err(TrustError::Program {
                program: WSLPATH.into(),
                said: format!("no Windows path for {}", file.display()),
            }),
            windows => Ok(windows.into()),
        }
    }

    /// Set the trusted root's usage to server authentication only.
    fn restrict(&self, ca: &LocalCa, runner: &dyn Runner) -> Result<(), TrustError> {
        let usage = ca.dir().join(USAGE_FILE);
        std::fs::write(&usage, USAGE).map_err(|source| TrustError::Write {
            path: usage.clone(),
            source,
        })?;
        let usage = self.path_for(&usage, runner)?;
        let restrict = self.root_store("-repairstore", [ca.name().into(), usage]);
        runner.run_ok(&program(runner, self.certutil()), &restrict)?;
        Ok(())
    }

    /// `certutil -user VERB Root WHAT...`.
    fn root_store(&self, verb: &str, what: impl IntoIterator<Item = OsString>) -> Vec<OsString> {
        let mut args = words(&["-user", verb, "Root"]);
        args.extend(what);
        args
    }
}

impl Store for Windows {
    fn name(&self) -> String {
        match self.wsl {
            true => "Windows, current user (from WSL)".into(),
            false => "Windows, current user".into(),
        }
    }

    fn unavailable(&self, runner: &dyn Runner) -> Option<String> {
        let wslpath = self.wsl.then(|| missing(runner, WSLPATH)).flatten();
        missing(runner, self.certutil()).or(wslpath)
    }

    fn holds(&self, ca: &LocalCa, runner: &dyn Runner) -> Result<bool, TrustError> {
        let args = self.root_store("-verifystore", [ca.name().into()]);
        Ok(runner
            .run(&program(runner, self.certutil()), &args)?
            .success)
    }

    fn add(&self, ca: &LocalCa, runner: &dyn Runner) -> Result<(), TrustError> {
        let certutil = program(runner, self.certutil());
        let root = self.path_for(&ca.root_file(), runner)?;
        runner.run_ok(&certutil, &self.root_store("-addstore", [root]))?;
        // Trusted for every use until restricted: taken out again when the
        // restriction fails, so that a later run adds it anew.
        self.restrict(ca, runner).inspect_err(|_| {
            let _ = self.remove(ca, runner);
        })
    }

    fn remove(&self, ca: &LocalCa, runner: &dyn Runner) -> Result<(), TrustError> {
        let certutil = program(runner, self.certutil());
        let delete = self.root_store("-delstore", [ca.name().into()]);
        remove_copies(self, ca, runner, &certutil, &delete)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::local_ca::stores::fake::FakeRunner;

    #[test]
    fn from_wsl_files_are_named_by_their_windows_paths_and_usage_restricted() {
        let dir = tempfile::tempdir().unwrap();
        let ca = LocalCa::in_memory_for_tests(dir.path().to_str().unwrap());
        let root = ca.root_file().display().to_string();
        let usage = dir.path().join(USAGE_FILE).display().to_string();
        let runner = FakeRunner::with(&["certutil.exe", "wslpath"])
            .answer(&format!("wslpath -w {root}"), true, "C:\\ca\\root.pem\n")
            .answer(
                &format!("wslpath -w {usage}"),
                true,
                "C:\\ca\\root-usage.inf\n",
            );
        let store = Windows { wsl: true };
        assert_eq!(store.name(), "Windows, current user (from WSL)");
        store.add(&ca, &runner).unwrap();
        let name = ca.name();
        assert_eq!(
            runner.asked(),
            [
                format!("wslpath -w {root}"),
                "certutil.exe -user -addstore Root C:\\ca\\root.pem".to_string(),
                format!("wslpath -w {usage}"),
                format!("certutil.exe -user -repairstore Root {name} C:\\ca\\root-usage.inf"),
            ]
        );
        let written = std::fs::read_to_string(dir.path().join(USAGE_FILE)).unwrap();
        assert!(
            written.contains("9 = \"{text}1.3.6.1.5.5.7.3.1\""),
            "{written}"
        );
    }

    #[test]
    fn a_path_wsl_cannot_name_is_an_error_naming_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let ca = LocalCa::in_memory_for_tests(dir.path().to_str().unwrap());
        let runner = FakeRunner::with(&["certutil.exe", "wslpath"]).answer("wslpath", true, "\n");
        let error = Windows { wsl: true }.add(&ca, &runner).unwrap_err();
        assert!(error.to_string().contains("root.pem"), "{error}");
        let without = FakeRunner::with(&["certutil.exe"]);
        assert_eq!(
            Windows { wsl: true }.unavailable(&without).as_deref(),
            Some("wslpath is missing")
        );
        let native = FakeRunner::with(&["certutil"]);
        assert_eq!(Windows { wsl: false }.unavailable(&native), None);
    }
}
