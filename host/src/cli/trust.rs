//! `oauth-callback trust`: the local CA ([`LocalCa`]) made once and its
//! root installed, for TLS server trust only, into the user's stores, so
//! that browsers show no certificate warning for the callback.
//!
//! Stores: the user's NSS databases (Chrome and Chromium on Linux,
//! `~/.pki/nssdb`; Firefox profiles, snap and flatpak ones included),
//! through `certutil` (Debian's `libnss3-tools`) with trust flags `C,,`
//! (a CA for TLS servers only).

use std::ffi::{OsStr, OsString};
use std::path::{Path, PathBuf};
use std::process::Command;

use clap::Args;

use crate::LocalCa;

use super::Failure;

/// The root's nickname in each store.
const NICKNAME: &str = "oauth-callback local CA";
/// NSS trust flags: trusted to issue TLS server certificates, nothing else
/// (no e-mail, no code signing).
const NSS_TRUST: &str = "C,,";

/// Arguments of `oauth-callback trust`.
#[derive(Debug, Args)]
pub struct TrustArgs {
    /// List each store with trusted / missing, and the CA's expiry.
    #[arg(long, conflicts_with_all = ["uninstall", "export"])]
    status: bool,

    /// Remove the root from every store and delete the CA.
    #[arg(long, conflicts_with = "export")]
    uninstall: bool,

    /// Write the public root to FILE, for a browser on another machine.
    #[arg(long, value_name = "FILE")]
    export: Option<PathBuf>,

    /// Also add the public root (never a key) to the system's store, for
    /// curl, Python and other programs (Debian's update-ca-certificates,
    /// Fedora's update-ca-trust; needs root).
    #[arg(long, conflicts_with_all = ["status", "uninstall", "export"])]
    system: bool,
}

impl TrustArgs {
    /// Do what was asked; a missing `certutil` is one line naming the package.
    pub fn run(self) -> Result<(), Failure> {
        let dir = LocalCa::default_dir()
            .ok_or_else(|| Failure::Usage("no home directory: nowhere to keep the CA".into()))?;
        if self.status {
            return status(&dir);
        }
        if self.uninstall {
            return uninstall(&dir);
        }
        let ca = match LocalCa::load(&dir)? {
            Some(ca) => ca,
            None => {
                let ca = LocalCa::create(&dir)?;
                println!(
                    "created a local CA for loopback servers in {}",
                    dir.display()
                );
                ca
            }
        };
        if let Some(file) = self.export {
            std::fs::write(&file, ca.root_pem()).map_err(|source| Failure::Write {
                path: file.clone(),
                source,
            })?;
            println!(
                "wrote the public root to {}; on the machine with the browser, trust it for \
                 websites only, e.g.\n  certutil -d sql:$HOME/.pki/nssdb -A -t \"{NSS_TRUST}\" -n \
                 \"{NICKNAME}\" -i {}",
                file.display(),
                file.display()
            );
            return Ok(());
        }
        install(&ca)?;
        if self.system {
            install_system(&ca)?;
        }
        Ok(())
    }
}

/// The system's store of trusted roots: a folder of anchors and the
/// command that rebuilds the bundles from it.
struct SystemStore {
    anchors: &'static str,
    update: &'static str,
    arguments: &'static [&'static str],
}

/// The root's file among the system's anchors.
const SYSTEM_FILE: &str = "oauth-callback-local-ca.crt";

/// Debian's and Fedora's stores, the first whose command is here.
fn system_store() -> Option<SystemStore> {
    system_stores()
        .into_iter()
        .find(|store| store.program().is_some())
}

/// Debian's store, then Fedora's.
fn system_stores() -> [SystemStore; 2] {
    [
        SystemStore {
            anchors: "/usr/local/share/ca-certificates",
            update: "update-ca-certificates",
            arguments: &[],
        },
        SystemStore {
            anchors: "/etc/pki/ca-trust/source/anchors",
            update: "update-ca-trust",
            arguments: &["extract"],
        },
    ]
}

impl SystemStore {
    fn file(&self) -> PathBuf {
        Path::new(self.anchors).join(SYSTEM_FILE)
    }

    /// Its update command, when it is here: on the `PATH`, or in
    /// `/usr/sbin` (not on a user's `PATH` on Debian).
    fn program(&self) -> Option<PathBuf> {
        let sbin = Path::new("/usr/sbin").join(self.update);
        if which(self.update) {
            Some(PathBuf::from(self.update))
        } else {
            sbin.is_file().then_some(sbin)
        }
    }

    /// The command that rebuilds the system's bundles.
    fn command(&self) -> (PathBuf, Vec<OsString>) {
        let program = self
            .program()
            .unwrap_or_else(|| Path::new("/usr/sbin").join(self.update));
        (program, self.arguments.iter().map(OsString::from).collect())
    }

    /// Rebuild the system's bundles.
    fn update(&self) -> Result<(), Failure> {
        let (program, arguments) = self.command();
        run(&program.to_string_lossy(), arguments)
    }
}

/// Add the public root to the system's store.
fn install_system(ca: &LocalCa) -> Result<(), Failure> {
    let store = system_store().ok_or_else(|| {
        Failure::Usage(
            "no system store known here (update-ca-certificates or update-ca-trust); \
             trust --export FILE writes the root to add by hand"
                .into(),
        )
    })?;
    let file = store.file();
    std::fs::write(&file, ca.root_pem()).map_err(|source| Failure::Write {
        path: file.clone(),
        source,
    })?;
    store.update()?;
    println!("system ({}): trusted", file.display());
    Ok(())
}

/// Take the root out of the system's store, when `trust --system` put it there.
fn uninstall_system() -> Result<(), Failure> {
    let Some(store) = system_store().filter(|store| store.file().exists()) else {
        return Ok(());
    };
    let file = store.file();
    std::fs::remove_file(&file).map_err(|source| Failure::Write {
        path: file.clone(),
        source,
    })?;
    store.update()?;
    println!("system ({}): removed", file.display());
    Ok(())
}

/// A store the root is trusted in.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Store {
    /// An NSS database (Chrome and Chromium on Linux, a Firefox profile),
    /// through `certutil` (NSS's).
    Nss { dir: PathBuf, browser: &'static str },
    /// The current Windows user's Root store, through Windows' `certutil`
    /// (`certutil.exe` from WSL, whose browser is Windows'); Windows asks
    /// the user to confirm.
    Windows { certutil: &'static str },
    /// The macOS login keychain, trusted for SSL only (`security`).
    Keychain { keychain: PathBuf },
}

impl Store {
    /// What it is called in `trust`'s output.
    fn name(&self) -> String {
        match self {
            Store::Nss { dir, browser } => format!("{browser} ({})", dir.display()),
            Store::Windows { certutil } if *certutil == WSL_CERTUTIL => {
                "Windows, current user (from WSL)".into()
            }
            Store::Windows { .. } => "Windows, current user".into(),
            Store::Keychain { keychain } => {
                format!("macOS login keychain ({})", keychain.display())
            }
        }
    }

    /// The program its commands run.
    fn program(&self) -> &'static str {
        match self {
            Store::Nss { .. } => "certutil",
            Store::Windows { certutil } => certutil,
            Store::Keychain { .. } => "security",
        }
    }

    /// Trust the root (`root`: its file, as the program reads it), for TLS
    /// servers only where the store can say so.
    fn add(&self, root: &OsStr) -> Vec<OsString> {
        match self {
            Store::Nss { dir, .. } => args([
                "-A".into(),
                "-d".into(),
                sql(dir),
                "-t".into(),
                NSS_TRUST.into(),
                "-n".into(),
                NICKNAME.into(),
                "-i".into(),
                root.into(),
            ]),
            Store::Windows { .. } => args([
                "-user".into(),
                "-addstore".into(),
                "Root".into(),
                root.into(),
            ]),
            Store::Keychain { keychain } => args([
                "add-trusted-cert".into(),
                "-r".into(),
                "trustRoot".into(),
                "-p".into(),
                "ssl".into(),
                "-k".into(),
                keychain.into(),
                root.into(),
            ]),
        }
    }

    /// Restrict the trusted root to TLS servers where that is a separate
    /// step: on Windows, the certificate's enhanced-key-usage property
    /// (`certutil -repairstore` with a property file holding
    /// [`WINDOWS_USAGE`]; `usage` writes it and names it as the program
    /// reads it, called only then).
    fn restrict(
        &self,
        name: &str,
        usage: impl FnOnce() -> Result<OsString, Failure>,
    ) -> Result<Option<Vec<OsString>>, Failure> {
        Ok(match self {
            Store::Windows { .. } => Some(args([
                "-user".into(),
                "-repairstore".into(),
                "Root".into(),
                name.into(),
                usage()?,
            ])),
            Store::Nss { .. } | Store::Keychain { .. } => None,
        })
    }

    /// Whether it holds the root (exit status 0).
    fn check(&self, name: &str) -> Vec<OsString> {
        self.find(name, Find::Check)
    }

    /// Remove one copy of the root.
    fn remove(&self, name: &str) -> Vec<OsString> {
        self.find(name, Find::Remove)
    }

    /// The root, found by its nickname (NSS) or its name, then checked for
    /// or removed: the same command line with the store's verb for it.
    fn find(&self, name: &str, find: Find) -> Vec<OsString> {
        let checking = find == Find::Check;
        match self {
            Store::Nss { dir, .. } => args([
                (if checking { "-L" } else { "-D" }).into(),
                "-d".into(),
                sql(dir),
                "-n".into(),
                NICKNAME.into(),
            ]),
            Store::Windows { .. } => args([
                "-user".into(),
                (if checking {
                    "-verifystore"
                } else {
                    "-delstore"
                })
                .into(),
                "Root".into(),
                name.into(),
            ]),
            Store::Keychain { keychain } => args([
                (if checking {
                    "find-certificate"
                } else {
                    "delete-certificate"
                })
                .into(),
                "-c".into(),
                name.into(),
                keychain.into(),
            ]),
        }
    }

    /// Whether its program can be run here.
    fn available(&self) -> bool {
        which(self.program())
    }

    /// Whether it holds the root.
    fn holds(&self, name: &str) -> bool {
        Command::new(self.program())
            .args(self.check(name))
            .output()
            .is_ok_and(|out| out.status.success())
    }
}

/// The property file `certutil -repairstore` reads: the root's
/// enhanced-key-usage property (9, `CERT_ENHKEY_USAGE_PROP_ID`) set to
/// server authentication only, so that Windows trusts it for nothing else.
const WINDOWS_USAGE: &str = "[Properties]\r\n9 = \"{text}1.3.6.1.5.5.7.3.1\"\r\n";
/// Where it is written, beside the CA.
const WINDOWS_USAGE_FILE: &str = "root-usage.inf";

/// What to do with the root once found in a store.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Find {
    Check,
    Remove,
}

/// Windows' certutil as WSL runs it.
const WSL_CERTUTIL: &str = "certutil.exe";

fn args<const N: usize>(words: [OsString; N]) -> Vec<OsString> {
    words.into()
}

/// The stores of this system: on Linux the NSS databases (Chromium's made
/// when `create` and missing) and, on WSL, Windows'; on macOS the login
/// keychain; on Windows the current user's Root store.
fn stores(create: bool) -> Vec<Store> {
    if cfg!(windows) {
        return vec![Store::Windows {
            certutil: "certutil",
        }];
    }
    let Some(home) = std::env::var_os("HOME").map(PathBuf::from) else {
        return Vec::new();
    };
    if cfg!(target_os = "macos") {
        return vec![Store::Keychain {
            keychain: home.join("Library/Keychains/login.keychain-db"),
        }];
    }
    let mut stores = nss_stores(&home, create);
    if super::browser::on_wsl() {
        stores.push(Store::Windows {
            certutil: WSL_CERTUTIL,
        });
    }
    stores
}

/// A file (the root, the usage property file) as `store`'s program reads
/// it: a Windows path for WSL's `certutil.exe` (`wslpath -w`).
fn root_for(store: &Store, root: &Path) -> Result<OsString, Failure> {
    if store.program() != WSL_CERTUTIL {
        return Ok(root.into());
    }
    let out = Command::new("wslpath")
        .arg("-w")
        .arg(root)
        .output()
        .map_err(|e| Failure::Usage(format!("cannot run wslpath: {e}")))?;
    let windows = String::from_utf8_lossy(&out.stdout).trim().to_string();
    if !out.status.success() || windows.is_empty() {
        return Err(Failure::Usage(format!(
            "wslpath cannot name {} for Windows",
            root.display()
        )));
    }
    Ok(windows.into())
}

/// Install the root into every store that lacks it.
fn install(ca: &LocalCa) -> Result<(), Failure> {
    if let Some(renew) = ca.renewal_due() {
        println!("{renew}");
    }
    let root = ca.dir().join("root.pem");
    let name = ca.name();
    let stores = stores(true);
    if stores.iter().all(|store| !store.available()) {
        return Err(missing_tools());
    }
    for store in stores.iter().filter(|store| store.available()) {
        if store.holds(&name) {
            println!("{}: already trusted", store.name());
            continue;
        }
        let file = root_for(store, &root)?;
        run(store.program(), store.add(&file))?;
        let usage_file = || {
            let usage = ca.dir().join(WINDOWS_USAGE_FILE);
            std::fs::write(&usage, WINDOWS_USAGE).map_err(|source| Failure::Write {
                path: usage.clone(),
                source,
            })?;
            root_for(store, &usage)
        };
        if let Some(restrict) = store.restrict(&name, usage_file)? {
            run(store.program(), restrict)?;
        }
        println!("{}: trusted", store.name());
    }
    Ok(())
}

/// Remove the root from every store, then the CA.
fn uninstall(dir: &Path) -> Result<(), Failure> {
    if let Some(ca) = LocalCa::load(dir)? {
        let name = ca.name();
        for store in stores(false).iter().filter(|store| store.available()) {
            while store.holds(&name) {
                run(store.program(), store.remove(&name))?;
            }
            println!("{}: removed", store.name());
        }
    }
    uninstall_system()?;
    let _ = std::fs::remove_file(dir.join(WINDOWS_USAGE_FILE));
    LocalCa::remove(dir).map_err(|source| Failure::Write {
        path: dir.into(),
        source,
    })?;
    println!("deleted the local CA in {}", dir.display());
    Ok(())
}

/// Each store, trusted or missing, and the CA's expiry.
fn status(dir: &Path) -> Result<(), Failure> {
    let ca = LocalCa::load(dir)?;
    match &ca {
        Some(ca) => {
            match ca.expires() {
                Some(expires) => println!(
                    "local CA: {} (valid until {})",
                    dir.display(),
                    expires.date()
                ),
                None => println!("local CA: {}", dir.display()),
            }
            if let Some(renew) = ca.renewal_due() {
                println!("{renew}");
            }
        }
        None => println!("local CA: none (run `oauth-callback trust`)"),
    }
    let name = ca.as_ref().map(LocalCa::name).unwrap_or_default();
    for store in stores(false) {
        let state = match (store.available(), &ca) {
            (false, _) => format!("not present ({} is missing)", store.program()),
            (true, Some(_)) if store.holds(&name) => "trusted".into(),
            (true, _) => "missing".into(),
        };
        println!("{}: {state}", store.name());
    }
    if let Some(system) = system_store() {
        let state = if system.file().exists() {
            "trusted"
        } else {
            "missing (trust --system)"
        };
        println!("system ({}): {state}", system.file().display());
    }
    Ok(())
}

/// The user's NSS databases: Chromium's (made when `create` and missing),
/// then each Firefox profile's.
fn nss_stores(home: &Path, create: bool) -> Vec<Store> {
    let mut stores = Vec::new();
    let chromium = home.join(".pki/nssdb");
    if create && which("certutil") && !chromium.join("cert9.db").exists() {
        let _ = std::fs::create_dir_all(&chromium);
        let _ = Command::new("certutil")
            .arg("-N")
            .arg("-d")
            .arg(sql(&chromium))
            .arg("--empty-password")
            .output();
    }
    if chromium.join("cert9.db").exists() {
        stores.push(Store::Nss {
            dir: chromium,
            browser: "Chrome/Chromium",
        });
    }
    for profiles in [
        ".mozilla/firefox",
        "snap/firefox/common/.mozilla/firefox",
        ".var/app/org.mozilla.firefox/.mozilla/firefox",
    ] {
        let Ok(entries) = std::fs::read_dir(home.join(profiles)) else {
            continue;
        };
        for profile in entries.flatten().map(|e| e.path()) {
            if profile.join("cert9.db").exists() {
                stores.push(Store::Nss {
                    dir: profile,
                    browser: "Firefox",
                });
            }
        }
    }
    stores
}

/// `sql:DIR`, NSS's name for a database folder.
fn sql(dir: &Path) -> std::ffi::OsString {
    let mut name = std::ffi::OsString::from("sql:");
    name.push(dir);
    name
}

/// No store's program is here: one line naming the packages.
fn missing_tools() -> Failure {
    Failure::Usage(
        "certutil is missing: install it (Debian, Ubuntu: apt-get install libnss3-tools; \
         Fedora: dnf install nss-tools) and run oauth-callback trust again"
            .into(),
    )
}

fn which(program: &str) -> bool {
    std::env::var_os("PATH")
        .is_some_and(|paths| std::env::split_paths(&paths).any(|dir| dir.join(program).is_file()))
}

/// Run a store's command; its failure is one line with what it said.
fn run(program: &str, arguments: Vec<OsString>) -> Result<(), Failure> {
    let out = Command::new(program)
        .args(arguments)
        .output()
        .map_err(|e| Failure::Usage(format!("cannot run {program}: {e}")))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(Failure::Usage(format!(
            "{program} failed: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(arguments: Vec<OsString>) -> Vec<String> {
        arguments
            .into_iter()
            .map(|a| a.into_string().unwrap())
            .collect()
    }

    #[test]
    fn each_store_trusts_the_root_for_tls_servers_only_where_it_can_say_so() {
        let name = "oauth-callback local CA root (alice@box 2026-11-30)";
        let nss = Store::Nss {
            dir: "/home/alice/.pki/nssdb".into(),
            browser: "Chrome/Chromium",
        };
        assert_eq!(
            words(nss.add("/ca/root.pem".as_ref())),
            [
                "-A",
                "-d",
                "sql:/home/alice/.pki/nssdb",
                "-t",
                "C,,",
                "-n",
                NICKNAME,
                "-i",
                "/ca/root.pem"
            ]
        );
        assert_eq!(
            words(nss.remove(name)),
            ["-D", "-d", "sql:/home/alice/.pki/nssdb", "-n", NICKNAME]
        );
        let keychain = Store::Keychain {
            keychain: "/Users/alice/Library/Keychains/login.keychain-db".into(),
        };
        assert_eq!(keychain.program(), "security");
        assert_eq!(
            words(keychain.add("/ca/root.pem".as_ref())),
            [
                "add-trusted-cert",
                "-r",
                "trustRoot",
                "-p",
                "ssl",
                "-k",
                "/Users/alice/Library/Keychains/login.keychain-db",
                "/ca/root.pem"
            ]
        );
        assert_eq!(
            words(keychain.check(name)),
            [
                "find-certificate",
                "-c",
                name,
                "/Users/alice/Library/Keychains/login.keychain-db"
            ]
        );
        let wsl = Store::Windows {
            certutil: WSL_CERTUTIL,
        };
        assert_eq!(wsl.program(), "certutil.exe");
        assert_eq!(
            words(wsl.add(r"C:\Users\alice\root.pem".as_ref())),
            ["-user", "-addstore", "Root", r"C:\Users\alice\root.pem"]
        );
        assert_eq!(
            words(wsl.check(name)),
            ["-user", "-verifystore", "Root", name]
        );
        assert_eq!(
            words(wsl.remove(name)),
            ["-user", "-delstore", "Root", name]
        );
        let usage = || Ok(OsString::from(r"C:\Users\alice\root-usage.inf"));
        assert_eq!(
            words(wsl.restrict(name, usage).unwrap().unwrap()),
            [
                "-user",
                "-repairstore",
                "Root",
                name,
                r"C:\Users\alice\root-usage.inf"
            ]
        );
        let unused = || -> Result<OsString, Failure> { panic!("no property file here") };
        assert_eq!(nss.restrict(name, unused).unwrap(), None);
        assert_eq!(keychain.restrict(name, unused).unwrap(), None);
        let [debian, fedora] = system_stores();
        let (program, arguments) = fedora.command();
        assert_eq!(program.file_name().unwrap(), "update-ca-trust");
        assert_eq!(words(arguments), ["extract"]);
        assert_eq!(
            fedora.file(),
            Path::new("/etc/pki/ca-trust/source/anchors/oauth-callback-local-ca.crt")
        );
        let (program, arguments) = debian.command();
        assert_eq!(program.file_name().unwrap(), "update-ca-certificates");
        assert!(arguments.is_empty());
        assert!(WINDOWS_USAGE.contains("9 = \"{text}1.3.6.1.5.5.7.3.1\""));
    }
}
