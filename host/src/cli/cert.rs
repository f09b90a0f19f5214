//! `oauth-callback cert`: a reusable loopback certificate, its fingerprint,
//! and how to trust it once on each system.

use std::path::PathBuf;

use crate::LoopbackCertificate;
use clap::Args;

use super::Failure;

/// Arguments of `oauth-callback cert`.
#[derive(Debug, Args)]
pub struct CertArgs {
    /// Folder for cert.pem and key.pem (created if missing). Use the same
    /// folder with --tls-dir.
    #[arg(long, value_name = "DIR")]
    out: PathBuf,

    /// Replace a pair already in DIR (its trust must then be renewed).
    #[arg(long)]
    force: bool,
}

impl CertArgs {
    /// Generate (or reuse) the pair and print how to trust it.
    pub fn run(self) -> Result<(), Failure> {
        let pair = if self.force {
            LoopbackCertificate::generate(&self.out)?
        } else {
            LoopbackCertificate::in_dir(&self.out)?
        };
        let cert = pair.cert.display();
        println!("certificate: {cert}");
        println!("private key: {}", pair.key.display());
        println!("names:       {}", crate::LOOPBACK_NAMES.join(", "));
        println!("SHA-256:     {}", pair.fingerprint);
        println!(
            "\nTrust it once, then run with --tls-dir {}:\n\
             \n  Linux (Chrome, Chromium; needs libnss3-tools):\
             \n    certutil -d sql:$HOME/.pki/nssdb -A -t \"P,,\" -n oauth-callback -i {cert}\
             \n  Linux (system-wide, curl and friends):\
             \n    sudo cp {cert} /usr/local/share/ca-certificates/oauth-callback.crt && sudo update-ca-certificates\
             \n  macOS:\
             \n    security add-trusted-cert -r trustRoot -k ~/Library/Keychains/login.keychain-db {cert}\
             \n  Windows (Command Prompt or PowerShell):\
             \n    certutil -user -addstore Root {cert}\
             \n\nCheck that the fingerprint your system shows is the one above.",
            self.out.display()
        );
        Ok(())
    }
}
