//! A local certificate authority that can only vouch for loopback servers
//! (`oauth-callback trust`): browsers that trust its root show no warning
//! for the callback, and nothing else can be vouched for with it.
//!
//! - The root signs exactly one certificate, the intermediate, and its
//!   private key is then dropped: it never reaches the disk.
//! - The intermediate may sign only end-entity certificates
//!   (`pathLenConstraint` 0), only for TLS servers (extended key usage
//!   `serverAuth`), and only for loopback names: critical name constraints
//!   (RFC 5280 §4.2.1.10) permit the DNS name `localhost` and the IP ranges
//!   `127.0.0.0/8` and `::1/128`, and, for e-mail addresses and URIs (which
//!   a constraint limits per name form: a form without one would be
//!   unconstrained), only names under `.invalid` (RFC 6761 §6.4), which no
//!   real one is.
//! - Its key is stored readable by its owner only (PKCS#8 PEM), beside its
//!   certificate and the public root, in the user's data directory.
//! - Every run gets a leaf of its own made in memory ([`LocalCa::leaf`]).
//!
//! Its root is trusted in the user's stores by [`trust`] (one file per
//! store under `stores/`), taken out by [`untrust`], and reported on by
//! [`trust_status`].

mod report;
mod stores;
mod trust;
mod trust_error;

pub use report::{CaState, StoreOutcome, StoreState, TrustReport};
pub use trust::{export_root, trust, trust_status, untrust};
pub use trust_error::TrustError;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use rcgen::{
    BasicConstraints, CertificateParams, CustomExtension, DnType, ExtendedKeyUsagePurpose, IsCa,
    Issuer, KeyPair, KeyUsagePurpose,
};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};

use crate::error::{Error, PemError, Result};

/// Names every loopback certificate covers (the local CA's leaves, the
/// self-signed ones, `cert`'s).
pub const LOOPBACK_NAMES: [&str; 3] = ["127.0.0.1", "::1", "localhost"];

/// How long the root and the intermediate are valid.
pub const CA_VALIDITY: Duration = Duration::from_secs(10 * 365 * 24 * 3600);
/// How long before the CA's end `trust` and every run say to renew it.
pub const RENEW_WITHIN: Duration = Duration::from_secs(30 * 24 * 3600);
/// How far back a leaf's `notBefore` is set, for clients with skewed clocks.
const BACKDATE: Duration = Duration::from_secs(3600);
/// The shortest life of a leaf (a run's timeout plus a margin, at least this).
const MIN_LEAF_VALIDITY: Duration = Duration::from_secs(24 * 3600);
/// Added to a run's timeout for its leaf's life.
const LEAF_MARGIN: Duration = Duration::from_secs(3600);

/// The files of a local CA, in its folder.
const ROOT_FILE: &str = "root.pem";
const INTERMEDIATE_FILE: &str = "intermediate.pem";
const KEY_FILE: &str = "intermediate.key";

/// `id-ce-nameConstraints` (RFC 5280 §4.2.1.10).
const NAME_CONSTRAINTS_OID: &[u64] = &[2, 5, 29, 30];

/// A local CA: the public root, and the intermediate that signs each run's
/// leaf.
#[derive(Clone)]
pub struct LocalCa {
    dir: PathBuf,
    root_pem: String,
    root_der: CertificateDer<'static>,
    intermediate_pem: String,
    intermediate_der: CertificateDer<'static>,
    key_pem: String,
}

impl std::fmt::Debug for LocalCa {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LocalCa")
            .field("dir", &self.dir)
            .finish_non_exhaustive()
    }
}

impl LocalCa {
    /// Where `trust` keeps the CA: the platform's local data directory
    /// (`~/.local/share/oauth-callback/ca`, `~/Library/Application
    /// Support/oauth-callback/ca`, `%LOCALAPPDATA%\oauth-callback\data\ca`).
    /// `None` without a home directory.
    pub fn default_dir() -> Option<PathBuf> {
        directories::ProjectDirs::from("", "", "oauth-callback")
            .map(|dirs| dirs.data_local_dir().join("ca"))
    }

    /// Where the CA of the user whose home is `home` is kept, as
    /// [`default_dir`](Self::default_dir) names it for the current user
    /// (without `$XDG_DATA_HOME`, which `sudo` does not pass on).
    pub(crate) fn dir_in_home(home: &Path) -> PathBuf {
        let data = if cfg!(target_os = "macos") {
            "Library/Application Support/oauth-callback"
        } else {
            ".local/share/oauth-callback"
        };
        home.join(data).join("ca")
    }

    /// The CA in `dir`, when there is one: `None` when none of its files is
    /// there; an error names a file that is missing (a CA left half-made),
    /// cannot be read or holds no certificate. Its parts are not checked
    /// against each other: see [`check`](Self::check).
    pub fn load(dir: &Path) -> Result<Option<LocalCa>> {
        let [root, intermediate, key] =
            [ROOT_FILE, INTERMEDIATE_FILE, KEY_FILE].map(|f| dir.join(f));
        if ![&root, &intermediate, &key].iter().any(|f| f.exists()) {
            return Ok(None);
        }
        let read = |path: &Path| -> Result<String> {
            String::from_utf8(crate::files::read_pem(path)?)
                .map_err(|e| pem_error(path, PemError::Read(std::io::Error::other(e))))
        };
        let certificate = |path: &Path| -> Result<(String, CertificateDer<'static>)> {
            let pem = read(path)?;
            let der = first_certificate(&pem).map_err(|e| pem_error(path, e))?;
            Ok((pem, der))
        };
        let (root_pem, root_der) = certificate(&root)?;
        let (intermediate_pem, intermediate_der) = certificate(&intermediate)?;
        Ok(Some(LocalCa {
            dir: dir.into(),
            root_pem,
            root_der,
            intermediate_pem,
            intermediate_der,
            key_pem: read(&key)?,
        }))
    }

    /// Make a new CA in `dir`, replacing whatever is there, all at once:
    /// its files are written into a new folder beside `dir` (readable by
    /// the user only), which is then renamed to `dir`, so that a reader
    /// finds the whole CA or none, never a part. Callers that may race
    /// (`trust`) hold the CA's lock around it.
    pub fn create(dir: &Path) -> Result<LocalCa> {
        let made = issue(CA_VALIDITY).map_err(|e| Error::Tls(e.into()))?;
        fn write(path: &Path) -> impl FnOnce(std::io::Error) -> Error + '_ {
            move |e| pem_error(path, PemError::Write(e))
        }
        let parent = dir.parent().unwrap_or(Path::new("."));
        std::fs::create_dir_all(parent).map_err(write(parent))?;
        let staging = tempfile::Builder::new()
            .prefix(".ca-new-")
            .tempdir_in(parent)
            .map_err(write(parent))?;
        let key = staging.path().join(KEY_FILE);
        crate::files::write_private(&key, made.key_pem.as_bytes()).map_err(write(&key))?;
        for (file, pem) in [
            (ROOT_FILE, &made.root_pem),
            (INTERMEDIATE_FILE, &made.intermediate_pem),
        ] {
            let path = staging.path().join(file);
            std::fs::write(&path, pem).map_err(write(&path))?;
        }
        // What was there (a CA left half-made) goes aside first: a folder
        // cannot be renamed over one that is not empty.
        let old = match dir.exists() {
            true => {
                let aside = tempfile::Builder::new()
                    .prefix(".ca-old-")
                    .tempdir_in(parent)
                    .map_err(write(parent))?;
                std::fs::rename(dir, aside.path()).map_err(write(dir))?;
                Some(aside)
            }
            false => None,
        };
        std::fs::rename(staging.keep(), dir).map_err(write(dir))?;
        drop(old);
        Ok(LocalCa {
            dir: dir.into(),
            ..made
        })
    }

    /// Delete the CA's folder, whatever part of the CA is in it.
    pub fn remove(dir: &Path) -> std::io::Result<()> {
        match std::fs::remove_dir_all(dir) {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            done => done,
        }
    }

    /// The root alone of a CA in `dir` that cannot be loaded whole (left
    /// half-made), when its file can be read: enough for the stores to find
    /// and take it out ([`untrust`]), never to make a leaf.
    pub(crate) fn root_only(dir: &Path) -> Option<LocalCa> {
        let pem = crate::files::read_pem(&dir.join(ROOT_FILE)).ok()?;
        let root_pem = String::from_utf8(pem).ok()?;
        let root_der = first_certificate(&root_pem).ok()?;
        Some(LocalCa {
            dir: dir.into(),
            root_pem,
            root_der,
            intermediate_pem: String::new(),
            intermediate_der: CertificateDer::from(Vec::new()),
            key_pem: String::new(),
        })
    }

    /// Whether its parts belong together, as clients will check: a leaf it
    /// made ([`leaf`](Self::leaf)'s chain) must verify through its
    /// intermediate to its root for `127.0.0.1`. `Err` says what does not
    /// (a key that does not match the intermediate, an intermediate its
    /// root did not sign).
    pub fn check(&self, chain: &[CertificateDer<'static>]) -> std::result::Result<(), String> {
        use rustls::client::danger::ServerCertVerifier;
        let Some((leaf, intermediates)) = chain.split_first() else {
            return Err("no certificate".into());
        };
        let mut roots = rustls::RootCertStore::empty();
        roots
            .add(self.root_der.clone())
            .map_err(|e| format!("the root: {e}"))?;
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let verifier =
            rustls::client::WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider)
                .build()
                .map_err(|e| e.to_string())?;
        let name = rustls::pki_types::ServerName::try_from("127.0.0.1").expect("an IP address");
        verifier
            .verify_server_cert(
                leaf,
                intermediates,
                &name,
                &[],
                rustls::pki_types::UnixTime::now(),
            )
            .map(drop)
            .map_err(|e| match e {
                rustls::Error::InvalidCertificate(
                    rustls::CertificateError::BadSignature
                    | rustls::CertificateError::UnknownIssuer,
                ) => "its intermediate and key do not chain to its root".to_string(),
                e => e.to_string(),
            })
    }

    /// The folder it is kept in.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The public root's file, what stores are given to trust.
    pub fn root_file(&self) -> PathBuf {
        self.dir.join(ROOT_FILE)
    }

    /// The public root certificate (PEM), what stores are given to trust.
    pub fn root_pem(&self) -> &str {
        &self.root_pem
    }

    /// The root certificate (DER).
    pub fn root_der(&self) -> CertificateDer<'static> {
        self.root_der.clone()
    }

    /// A leaf for one run, made in memory: `127.0.0.1`, `::1` and
    /// `localhost`, extended key usage `serverAuth`, valid from an hour ago
    /// for `timeout` plus an hour and at least a day; returned with the
    /// intermediate, as a server sends its chain.
    pub fn leaf(
        &self,
        timeout: Duration,
    ) -> Result<(Vec<CertificateDer<'static>>, PrivateKeyDer<'static>)> {
        let failed = |e: rcgen::Error| Error::Tls(e.into());
        let key = KeyPair::from_pem(&self.key_pem).map_err(failed)?;
        let issuer = Issuer::from_ca_cert_pem(&self.intermediate_pem, key).map_err(failed)?;
        let mut params =
            CertificateParams::new(LOOPBACK_NAMES.map(String::from)).map_err(failed)?;
        params
            .distinguished_name
            .push(DnType::CommonName, "oauth-callback loopback server");
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        params.use_authority_key_identifier_extension = true;
        let now = time::OffsetDateTime::now_utc();
        params.not_before = now - BACKDATE;
        params.not_after = now + (timeout + LEAF_MARGIN).max(MIN_LEAF_VALIDITY);
        let leaf_key = KeyPair::generate().map_err(failed)?;
        let leaf = params.signed_by(&leaf_key, &issuer).map_err(failed)?;
        let chain = vec![leaf.der().clone(), self.intermediate_der.clone()];
        let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(leaf_key.serialize_der()));
        Ok((chain, key))
    }

    /// The root's subject common name, which names it in the stores.
    pub fn name(&self) -> String {
        x509_parser::parse_x509_certificate(&self.root_der)
            .ok()
            .and_then(|(_, cert)| {
                cert.subject()
                    .iter_common_name()
                    .next()
                    .and_then(|cn| cn.as_str().ok())
                    .map(String::from)
            })
            .unwrap_or_default()
    }

    /// A sentence saying when the CA ends and how to renew it, once that is
    /// within [`RENEW_WITHIN`] (renewal is a new CA, trusted anew).
    pub fn renewal_due(&self) -> Option<String> {
        let expires = self.expires()?;
        let left = expires - time::OffsetDateTime::now_utc();
        (left < RENEW_WITHIN).then(|| {
            format!(
                "the local CA ends on {}: renew it with `oauth-callback trust --uninstall` \
                 then `oauth-callback trust`",
                expires.date()
            )
        })
    }

    /// When the CA stops being valid (its intermediate's `notAfter`).
    pub fn expires(&self) -> Option<time::OffsetDateTime> {
        let (_, cert) = x509_parser::parse_x509_certificate(&self.intermediate_der).ok()?;
        Some(cert.validity().not_after.to_datetime())
    }
}

/// A new root, the intermediate it signs (both valid for `validity`), and
/// the intermediate's key; the root's key is dropped here.
fn issue(validity: Duration) -> std::result::Result<LocalCa, rcgen::Error> {
    let label = format!("{} {}", whoami(), time::OffsetDateTime::now_utc().date());
    let now = time::OffsetDateTime::now_utc();

    let mut root = CertificateParams::default();
    root.distinguished_name.push(
        DnType::CommonName,
        format!("oauth-callback local CA root ({label})"),
    );
    root.is_ca = IsCa::Ca(BasicConstraints::Constrained(1));
    root.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    root.not_before = now - BACKDATE;
    root.not_after = now + validity;
    let root_key = KeyPair::generate()?;
    let root_cert = root.self_signed(&root_key)?;
    let root_issuer = Issuer::new(root, root_key);

    let mut intermediate = CertificateParams::default();
    intermediate.distinguished_name.push(
        DnType::CommonName,
        format!("oauth-callback loopback servers only ({label})"),
    );
    intermediate.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
    intermediate.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    intermediate.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    intermediate.use_authority_key_identifier_extension = true;
    intermediate.custom_extensions = vec![name_constraints()];
    intermediate.not_before = now - BACKDATE;
    intermediate.not_after = now + validity;
    let intermediate_key = KeyPair::generate()?;
    let intermediate_cert = intermediate.signed_by(&intermediate_key, &root_issuer)?;
    // The root's key goes with `root_issuer` here: it has signed its one certificate.
    drop(root_issuer);

    Ok(LocalCa {
        dir: PathBuf::new(),
        root_pem: root_cert.pem(),
        root_der: root_cert.der().clone(),
        intermediate_pem: intermediate_cert.pem(),
        intermediate_der: intermediate_cert.der().clone(),
        key_pem: intermediate_key.serialize_pem(),
    })
}

/// The critical name constraints of the intermediate (RFC 5280 §4.2.1.10,
/// implicit tags): permitted subtrees only, one per name form a verifier
/// checks, so that no name of any form is left unconstrained.
fn name_constraints() -> CustomExtension {
    use yasna::Tag;
    // GeneralName choices (RFC 5280 §4.2.1.6).
    const RFC822_NAME: u64 = 1;
    const DNS_NAME: u64 = 2;
    const URI: u64 = 6;
    const IP_ADDRESS: u64 = 7;
    let ia5 = |tag: u64, name: &'static str| (tag, name.as_bytes().to_vec());
    let bases: [(u64, Vec<u8>); 5] = [
        ia5(DNS_NAME, "localhost"),
        // 127.0.0.0/8: address, then mask.
        (IP_ADDRESS, vec![127, 0, 0, 0, 255, 0, 0, 0]),
        // ::1/128
        (IP_ADDRESS, [[0; 15].as_slice(), &[1], &[0xff; 16]].concat()),
        ia5(RFC822_NAME, ".invalid"),
        ia5(URI, ".invalid"),
    ];
    let der = yasna::construct_der(|writer| {
        writer.write_sequence(|writer| {
            writer
                .next()
                .write_tagged_implicit(Tag::context(0), |writer| {
                    writer.write_sequence(|writer| {
                        for (tag, base) in &bases {
                            writer.next().write_sequence(|writer| {
                                writer
                                    .next()
                                    .write_tagged_implicit(Tag::context(*tag), |writer| {
                                        writer.write_bytes(base)
                                    })
                            });
                        }
                    })
                })
        })
    });
    let mut extension = CustomExtension::from_oid_content(NAME_CONSTRAINTS_OID, der);
    extension.set_criticality(true);
    extension
}

/// Who the CA is for, in its name (so that two users' CAs differ).
fn whoami() -> String {
    let user = std::env::var("USER")
        .or_else(|_| std::env::var("USERNAME"))
        .unwrap_or_else(|_| "user".into());
    let host = std::fs::read_to_string("/etc/hostname")
        .ok()
        .map(|h| h.trim().to_string())
        .filter(|h| !h.is_empty())
        .or_else(|| std::env::var("COMPUTERNAME").ok())
        .unwrap_or_else(|| "localhost".into());
    format!("{user}@{host}")
}

/// The first certificate of a CA file (a root or an intermediate).
fn first_certificate(pem: &str) -> std::result::Result<CertificateDer<'static>, PemError> {
    use rustls::pki_types::pem::PemObject;
    match CertificateDer::pem_slice_iter(pem.as_bytes()).next() {
        Some(Ok(der)) => Ok(der),
        Some(Err(e)) => Err(PemError::Syntax(e.into())),
        None => Err(PemError::NoCertificate),
    }
}

fn pem_error(path: &Path, source: PemError) -> Error {
    Error::Pem {
        path: path.into(),
        source,
    }
}

#[cfg(test)]
impl LocalCa {
    /// A new CA kept nowhere, said to be in `dir`.
    pub(crate) fn in_memory_for_tests(dir: &str) -> LocalCa {
        LocalCa {
            dir: dir.into(),
            ..issue(CA_VALIDITY).unwrap()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_new_ca_signs_loopback_leaves_and_keeps_no_root_key() {
        let dir = tempfile::tempdir().unwrap();
        let ca = LocalCa::create(dir.path()).unwrap();
        let (chain, _key) = ca.leaf(Duration::from_secs(180)).unwrap();
        assert_eq!(chain.len(), 2);
        let loaded = LocalCa::load(dir.path())
            .unwrap()
            .expect("the CA was stored");
        assert_eq!(loaded.root_pem(), ca.root_pem());
        let mut files: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        files.sort();
        assert_eq!(files, [KEY_FILE, INTERMEDIATE_FILE, ROOT_FILE]);
        let private = files
            .iter()
            .filter(|f| {
                std::fs::read_to_string(dir.path().join(f))
                    .unwrap()
                    .contains("PRIVATE KEY")
            })
            .count();
        assert_eq!(private, 1, "only the intermediate's key is stored");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(dir.path().join(KEY_FILE))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600);
        }
    }

    #[test]
    fn renewal_is_said_only_near_the_end() {
        let fresh = issue(CA_VALIDITY).unwrap();
        assert_eq!(fresh.renewal_due(), None);
        let ending = issue(Duration::from_secs(7 * 24 * 3600)).unwrap();
        let said = ending.renewal_due().expect("a week before the end");
        assert!(said.contains("oauth-callback trust --uninstall"), "{said}");
    }

    #[test]
    fn a_ca_file_without_a_certificate_is_an_error_naming_it() {
        let dir = tempfile::tempdir().unwrap();
        LocalCa::create(dir.path()).unwrap();
        let intermediate = dir.path().join(INTERMEDIATE_FILE);
        for (broken, expected) in [
            ("edited away\n", "no CERTIFICATE block"),
            (
                "-----BEGIN CERTIFICATE-----\n!!\n-----END CERTIFICATE-----\n",
                "not valid PEM",
            ),
        ] {
            std::fs::write(&intermediate, broken).unwrap();
            let error = LocalCa::load(dir.path()).unwrap_err();
            let said = format!("{error}: {}", std::error::Error::source(&error).unwrap());
            assert!(
                said.contains(INTERMEDIATE_FILE) && said.contains(expected),
                "{said}"
            );
        }
        assert!(
            LocalCa::load(dir.path().join("none").as_path())
                .unwrap()
                .is_none()
        );
    }

    #[test]
    fn the_intermediate_is_constrained_to_loopback_servers() {
        let dir = tempfile::tempdir().unwrap();
        let ca = LocalCa::create(dir.path()).unwrap();
        let (_, cert) = x509_parser::parse_x509_certificate(&ca.intermediate_der).unwrap();
        let basic = cert.basic_constraints().unwrap().unwrap();
        assert!(basic.critical && basic.value.ca);
        assert_eq!(basic.value.path_len_constraint, Some(0));
        let constraints = cert.name_constraints().unwrap().unwrap();
        assert!(constraints.critical);
        assert!(constraints.value.excluded_subtrees.is_none());
        let permitted: Vec<String> = constraints
            .value
            .permitted_subtrees
            .as_ref()
            .unwrap()
            .iter()
            .map(|subtree| format!("{:?}", subtree.base))
            .collect();
        assert_eq!(permitted.len(), 5, "{permitted:?}");
        let eku = cert.extended_key_usage().unwrap().unwrap().value;
        assert!(eku.server_auth && !eku.client_auth && !eku.email_protection && !eku.code_signing);
    }
}
