//! A rustls `ServerConfig` from PEM files or from an in-memory self-signed
//! certificate made by rcgen.

use std::path::Path;
use std::sync::Arc;

use rustls::ServerConfig;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};

use crate::config::Tls;
use crate::error::{Error, Result};

/// Names every loopback certificate covers.
pub const LOOPBACK_NAMES: [&str; 3] = ["127.0.0.1", "::1", "localhost"];

/// The TLS configuration for `tls`, or none for plain HTTP.
pub fn server_config(tls: &Tls) -> Result<Option<Arc<ServerConfig>>> {
    let (certs, key) = match tls {
        Tls::Disabled => return Ok(None),
        Tls::Adhoc => adhoc_certificate()?,
        Tls::Pem { cert, key } => (load_certs(cert)?, load_private_key(key)?),
    };
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| Error::Tls(e.to_string()))?
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .map_err(|e| match (e, tls) {
            (rustls::Error::InconsistentKeys(_), Tls::Pem { cert, key }) => Error::Pem {
                path: key.clone(),
                reason: format!(
                    "the private key does not match the certificate in {}",
                    cert.display()
                ),
            },
            (e, _) => Error::Tls(e.to_string()),
        })?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Some(Arc::new(config)))
}

/// A fresh self-signed certificate for the loopback names, never written to disk.
pub fn adhoc_certificate() -> Result<(Vec<CertificateDer<'static>>, PrivateKeyDer<'static>)> {
    let names: Vec<String> = LOOPBACK_NAMES.iter().map(|n| n.to_string()).collect();
    let certified =
        rcgen::generate_simple_self_signed(names).map_err(|e| Error::Tls(e.to_string()))?;
    let key = PrivatePkcs8KeyDer::from(certified.signing_key.serialize_der());
    Ok((vec![certified.cert.der().clone()], key.into()))
}

fn load_certs(path: &Path) -> Result<Vec<CertificateDer<'static>>> {
    let certs = CertificateDer::pem_file_iter(path)
        .and_then(|iter| iter.collect::<Result<Vec<_>, _>>())
        .map_err(|e| pem_error(path, e))?;
    if certs.is_empty() {
        return Err(Error::Pem {
            path: path.into(),
            reason: "no CERTIFICATE block found; expected a PEM certificate chain".into(),
        });
    }
    Ok(certs)
}

fn load_private_key(path: &Path) -> Result<PrivateKeyDer<'static>> {
    PrivateKeyDer::from_pem_file(path).map_err(|e| pem_error(path, e))
}

fn pem_error(path: &Path, error: rustls::pki_types::pem::Error) -> Error {
    use rustls::pki_types::pem::Error as Pem;
    let reason = match error {
        Pem::Io(e) => format!("cannot read the file: {e}"),
        Pem::NoItemsFound => "no private key found; expected a PEM PRIVATE KEY block".into(),
        other => format!("not valid PEM: {other}"),
    };
    Error::Pem {
        path: path.into(),
        reason,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn adhoc_certificates_make_a_server_config() {
        let config = server_config(&Tls::Adhoc).unwrap().unwrap();
        assert_eq!(config.alpn_protocols, vec![b"http/1.1".to_vec()]);
        assert!(server_config(&Tls::Disabled).unwrap().is_none());
    }

    #[test]
    fn missing_pem_files_name_the_file() {
        let tls = Tls::Pem {
            cert: "/nonexistent/cert.pem".into(),
            key: "/nonexistent/key.pem".into(),
        };
        let message = server_config(&tls).unwrap_err().to_string();
        assert!(
            message.starts_with("/nonexistent/cert.pem: cannot read"),
            "{message}"
        );
    }
}
