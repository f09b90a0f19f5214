//! `oauth-callback trust`: the local CA ([`LocalCa`]) made once and its
//! root installed, for TLS server trust only, into the user's stores, so
//! that browsers show no certificate warning for the callback.
//!
//! Stores: the user's NSS databases (Chrome and Chromium on Linux,
//! `~/.pki/nssdb`; Firefox profiles, snap and flatpak ones included),
//! through `certutil` (Debian's `libnss3-tools`) with trust flags `C,,`
//! (a CA for TLS servers only).

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
}

/// One NSS database: where, and for which browser.
struct NssStore {
    dir: PathBuf,
    browser: &'static str,
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
        install(&ca)
    }
}

/// Install the root into every store that lacks it.
fn install(ca: &LocalCa) -> Result<(), Failure> {
    certutil_present()?;
    let root = ca.dir().join("root.pem");
    for store in nss_stores(true) {
        if nss_has_root(&store.dir) {
            println!(
                "{}: already trusted ({})",
                store.browser,
                store.dir.display()
            );
            continue;
        }
        run(Command::new("certutil")
            .arg("-A")
            .arg("-d")
            .arg(sql(&store.dir))
            .args(["-t", NSS_TRUST, "-n", NICKNAME, "-i"])
            .arg(&root))?;
        println!("{}: trusted ({})", store.browser, store.dir.display());
    }
    Ok(())
}

/// Remove the root from every store, then the CA.
fn uninstall(dir: &Path) -> Result<(), Failure> {
    certutil_present()?;
    for store in nss_stores(false) {
        while nss_has_root(&store.dir) {
            run(Command::new("certutil")
                .arg("-D")
                .arg("-d")
                .arg(sql(&store.dir))
                .args(["-n", NICKNAME]))?;
        }
        println!("{}: removed ({})", store.browser, store.dir.display());
    }
    LocalCa::remove(dir).map_err(|source| Failure::Write {
        path: dir.into(),
        source,
    })?;
    println!("deleted the local CA in {}", dir.display());
    Ok(())
}

/// Each store, trusted or missing, and the CA's expiry.
fn status(dir: &Path) -> Result<(), Failure> {
    match LocalCa::load(dir)? {
        Some(ca) => match ca.expires() {
            Some(expires) => println!(
                "local CA: {} (valid until {})",
                dir.display(),
                expires.date()
            ),
            None => println!("local CA: {}", dir.display()),
        },
        None => println!("local CA: none (run `oauth-callback trust`)"),
    }
    let certutil = which("certutil");
    for store in nss_stores(false) {
        let state = match certutil {
            false => "unknown (certutil is missing: apt-get install libnss3-tools)",
            true if nss_has_root(&store.dir) => "trusted",
            true => "missing",
        };
        println!("{}: {state} ({})", store.browser, store.dir.display());
    }
    Ok(())
}

/// The user's NSS databases: Chromium's (made when `create` and missing),
/// then each Firefox profile's.
fn nss_stores(create: bool) -> Vec<NssStore> {
    let Some(home) = std::env::var_os("HOME").map(PathBuf::from) else {
        return Vec::new();
    };
    let mut stores = Vec::new();
    let chromium = home.join(".pki/nssdb");
    if create && !chromium.join("cert9.db").exists() {
        let _ = std::fs::create_dir_all(&chromium);
        let _ = Command::new("certutil")
            .arg("-N")
            .arg("-d")
            .arg(sql(&chromium))
            .arg("--empty-password")
            .output();
    }
    if chromium.join("cert9.db").exists() {
        stores.push(NssStore {
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
                stores.push(NssStore {
                    dir: profile,
                    browser: "Firefox",
                });
            }
        }
    }
    stores
}

/// Whether the database holds our root.
fn nss_has_root(dir: &Path) -> bool {
    Command::new("certutil")
        .arg("-L")
        .arg("-d")
        .arg(sql(dir))
        .args(["-n", NICKNAME])
        .output()
        .is_ok_and(|out| out.status.success())
}

/// `sql:DIR`, NSS's name for a database folder.
fn sql(dir: &Path) -> std::ffi::OsString {
    let mut name = std::ffi::OsString::from("sql:");
    name.push(dir);
    name
}

fn certutil_present() -> Result<(), Failure> {
    if which("certutil") {
        Ok(())
    } else {
        Err(Failure::Usage(
            "certutil is missing: install it (Debian, Ubuntu: apt-get install libnss3-tools; \
             Fedora: dnf install nss-tools) and run oauth-callback trust again"
                .into(),
        ))
    }
}

fn which(program: &str) -> bool {
    std::env::var_os("PATH")
        .is_some_and(|paths| std::env::split_paths(&paths).any(|dir| dir.join(program).is_file()))
}

/// Run a store's command; its failure is one line with what it said.
fn run(command: &mut Command) -> Result<(), Failure> {
    let out = command
        .output()
        .map_err(|e| Failure::Usage(format!("cannot run certutil: {e}")))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(Failure::Usage(format!(
            "certutil failed: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        )))
    }
}
