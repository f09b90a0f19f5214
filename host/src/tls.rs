//! A rustls `ServerConfig` for each TLS mode: PEM files, a reusable pair in a
//! folder, or a certificate made in memory for the run (a leaf of the local
//! CA when there is one, else self-signed, made by rcgen).

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use rustls::ServerConfig;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};

use crate::config::Tls;
use crate::error::{Error, PemError, Result};
use crate::local_ca::{LOOPBACK_NAMES, LocalCa};

/// Which certificate a server serves; its [`Display`](std::fmt::Display)
/// is the log line said once the server listens.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Served {
    /// A leaf of the local CA, made for this run.
    LocalCa,
    /// A self-signed certificate made for this run.
    SelfSigned,
    /// The certificate files given.
    Files,
}

impl std::fmt::Display for Served {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Served::LocalCa => "serving a certificate of the local CA made for this run",
            Served::SelfSigned => {
                "serving a self-signed certificate made for this run (browsers warn; \
                 `oauth-callback trust` removes the warning)"
            }
            Served::Files => "serving the certificate files given",
        })
    }
}

/// The TLS configuration for `tls` and what it serves, or none for plain
/// HTTP; a certificate made for the run is valid for at least `timeout`.
pub fn server_config(tls: &Tls, timeout: Duration) -> Result<Option<(Arc<ServerConfig>, Served)>> {
    let ((certs, key), served) = match tls {
        Tls::Disabled => return Ok(None),
        Tls::Adhoc => run_certificate(timeout)?,
        Tls::SelfSigned => (adhoc_certificate()?, Served::SelfSigned),
        Tls::Pem { cert, key } => ((load_certs(cert)?, load_private_key(key)?), Served::Files),
        Tls::Dir(dir) => {
            let pair = LoopbackCertificate::in_dir(dir)?;
            (
                (load_certs(&pair.cert)?, load_private_key(&pair.key)?),
                Served::Files,
            )
        }
    };
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| Error::Tls(e.into()))?
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .map_err(|e| match (e, tls) {
            (rustls::Error::InconsistentKeys(_), Tls::Pem { cert, key }) => Error::Pem {
                path: key.clone(),
                source: PemError::KeyMismatch {
                    certificate: cert.clone(),
                },
            },
            (e, _) => Error::Tls(e.into()),
        })?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    // No TLS 1.3 session tickets: resuming buys nothing on a one-shot
    // server, and writing them after the handshake would fail it when the
    // client has already sent its request and gone (the request is lost).
    config.send_tls13_tickets = 0;
    Ok(Some((Arc::new(config), served)))
}

/// A certificate pair as rustls takes it.
type Pair = (Vec<CertificateDer<'static>>, PrivateKeyDer<'static>);

/// A certificate for this run, never written to disk: from the local CA
/// when there is one and its chain verifies (clients would reject it
/// otherwise: said in one line, and skipped, as a CA that cannot be read
/// is), else self-signed.
fn run_certificate(timeout: Duration) -> Result<(Pair, Served)> {
    let unusable = |why: &dyn std::fmt::Display| {
        tracing::warn!(
            "cannot use the local CA ({why}): using a self-signed certificate; \
             `oauth-callback trust` replaces the CA"
        )
    };
    match LocalCa::default_dir().map(|dir| LocalCa::load(&dir)) {
        Some(Ok(Some(ca))) => {
            let (chain, key) = ca.leaf(timeout)?;
            match ca.check(&chain) {
                Ok(()) => {
                    if let Some(renew) = ca.renewal_due() {
                        tracing::warn!("{renew}");
                    }
                    return Ok(((chain, key), Served::LocalCa));
                }
                Err(why) => unusable(&why),
            }
        }
        Some(Err(e)) => unusable(&e),
        _ => {}
    }
    Ok((adhoc_certificate()?, Served::SelfSigned))
}

/// A fresh self-signed certificate for the loopback names, never written to disk.
pub fn adhoc_certificate() -> Result<Pair> {
    let certified = loopback_certificate()?;
    let key = PrivatePkcs8KeyDer::from(certified.signing_key.serialize_der());
    Ok((vec![certified.cert.der().clone()], key.into()))
}

/// A reusable certificate and key for the loopback names, as PEM files.
#[derive(Clone, Debug)]
pub struct LoopbackCertificate {
    /// The certificate file (`cert.pem`).
    pub cert: PathBuf,
    /// The private key file (`key.pem`), readable by its owner only.
    pub key: PathBuf,
    /// SHA-256 fingerprint of the certificate, as colon-separated hex.
    pub fingerprint: String,
}

impl LoopbackCertificate {
    /// The pair in `dir`, generated (and the folder created) on first use.
    pub fn in_dir(dir: &Path) -> Result<Self> {
        let (cert, key) = (dir.join("cert.pem"), dir.join("key.pem"));
        if !cert.exists() || !key.exists() {
            return Self::generate(dir);
        }
        let der = load_certs(&cert)?.remove(0);
        if expires_soon(&der) {
            tracing::warn!(
                "{}: the certificate expires within 30 days; generating a new one \
                 (trust it again, see `oauth-callback cert`)",
                cert.display()
            );
            return Self::generate(dir);
        }
        Ok(LoopbackCertificate {
            fingerprint: fingerprint(&der),
            cert,
            key,
        })
    }

    /// Generate a new pair into `dir`, replacing any there.
    pub fn generate(dir: &Path) -> Result<Self> {
        let io_error = |path: &Path, e: std::io::Error| Error::Pem {
            path: path.into(),
            source: PemError::Write(e),
        };
        std::fs::create_dir_all(dir).map_err(|e| io_error(dir, e))?;
        let certified = loopback_certificate()?;
        let (cert, key) = (dir.join("cert.pem"), dir.join("key.pem"));
        std::fs::write(&cert, certified.cert.pem()).map_err(|e| io_error(&cert, e))?;
        crate::files::write_private(&key, certified.signing_key.serialize_pem().as_bytes())
            .map_err(|e| io_error(&key, e))?;
        Ok(LoopbackCertificate {
            fingerprint: fingerprint(certified.cert.der()),
            cert,
            key,
        })
    }
}

/// How long a generated certificate is valid: less than the 398 days
/// browsers accept for a server certificate.
const LIFETIME: time::Duration = time::Duration::days(397);
/// A reusable certificate with less time left is replaced on start.
const RENEW_WITHIN: time::Duration = time::Duration::days(30);

/// A new self-signed server certificate for the loopback names: a year,
/// `serverAuth` only, not a CA (so its key can sign nothing else).
fn loopback_certificate() -> Result<rcgen::CertifiedKey<rcgen::KeyPair>> {
    let tls_error = |e: rcgen::Error| Error::Tls(e.into());
    let names: Vec<String> = LOOPBACK_NAMES.iter().map(|n| n.to_string()).collect();
    let mut params = rcgen::CertificateParams::new(names).map_err(tls_error)?;
    let now = time::OffsetDateTime::now_utc();
    // A little slack for clocks that are behind.
    params.not_before = now - time::Duration::hours(1);
    params.not_after = now + LIFETIME;
    params.distinguished_name = rcgen::DistinguishedName::new();
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "oauth-callback loopback");
    params
        .distinguished_name
        .push(rcgen::DnType::OrganizationName, "oauth-callback");
    params.is_ca = rcgen::IsCa::ExplicitNoCa;
    params.key_usages = vec![rcgen::KeyUsagePurpose::DigitalSignature];
    params.extended_key_usages = vec![rcgen::ExtendedKeyUsagePurpose::ServerAuth];
    let signing_key = rcgen::KeyPair::generate().map_err(tls_error)?;
    let cert = params.self_signed(&signing_key).map_err(tls_error)?;
    Ok(rcgen::CertifiedKey { cert, signing_key })
}

/// Whether a certificate expires within [`RENEW_WITHIN`] (or cannot be read).
fn expires_soon(der: &[u8]) -> bool {
    let Ok((_, cert)) = x509_parser::parse_x509_certificate(der) else {
        return true;
    };
    let not_after = cert.validity().not_after.timestamp();
    not_after - time::OffsetDateTime::now_utc().unix_timestamp() < RENEW_WITHIN.whole_seconds()
}

/// SHA-256 of a DER certificate as `AB:CD:...`, the form browsers show.
pub fn fingerprint(der: &[u8]) -> String {
    use sha2::Digest;
    let digest = sha2::Sha256::digest(der);
    let hex: Vec<String> = digest.iter().map(|b| format!("{b:02X}")).collect();
    hex.join(":")
}

fn load_certs(path: &Path) -> Result<Vec<CertificateDer<'static>>> {
    let certs = CertificateDer::pem_slice_iter(&crate::files::read_pem(path)?)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| pem_error(path, e))?;
    if certs.is_empty() {
        return Err(Error::Pem {
            path: path.into(),
            source: PemError::NoCertificate,
        });
    }
    Ok(certs)
}

fn load_private_key(path: &Path) -> Result<PrivateKeyDer<'static>> {
    PrivateKeyDer::from_pem_slice(&crate::files::read_pem(path)?).map_err(|e| pem_error(path, e))
}

fn pem_error(path: &Path, error: rustls::pki_types::pem::Error) -> Error {
    use rustls::pki_types::pem::Error as Pem;
    let source = match error {
        Pem::Io(e) => PemError::Read(e),
        Pem::NoItemsFound => PemError::NoKey,
        other => PemError::Syntax(other.into()),
    };
    Error::Pem {
        path: path.into(),
        source,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::DEFAULT_TIMEOUT;

    #[test]
    fn adhoc_certificates_make_a_server_config() {
        let (config, served) = server_config(&Tls::SelfSigned, DEFAULT_TIMEOUT)
            .unwrap()
            .unwrap();
        assert_eq!(served, Served::SelfSigned);
        assert_eq!(config.alpn_protocols, vec![b"http/1.1".to_vec()]);
        assert!(
            server_config(&Tls::Disabled, DEFAULT_TIMEOUT)
                .unwrap()
                .is_none()
        );
    }

    #[test]
    fn a_tls_dir_is_filled_once_and_reused() {
        let dir = tempfile::tempdir().unwrap();
        let first = LoopbackCertificate::in_dir(&dir.path().join("tls")).unwrap();
        let again = LoopbackCertificate::in_dir(&dir.path().join("tls")).unwrap();
        assert_eq!(first.fingerprint, again.fingerprint);
        assert_eq!(first.fingerprint.len(), 32 * 3 - 1);
        assert!(
            server_config(&Tls::Dir(dir.path().join("tls")), DEFAULT_TIMEOUT)
                .unwrap()
                .is_some()
        );
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&first.key).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
    }

    #[test]
    fn missing_pem_files_name_the_file() {
        let tls = Tls::Pem {
            cert: "/nonexistent/cert.pem".into(),
            key: "/nonexistent/key.pem".into(),
        };
        let error = server_config(&tls, DEFAULT_TIMEOUT).unwrap_err();
        assert_eq!(error.to_string(), "/nonexistent/cert.pem");
        assert!(
            matches!(
                error,
                Error::Pem {
                    source: PemError::Read(_),
                    ..
                }
            ),
            "{error:?}"
        );
    }
}
