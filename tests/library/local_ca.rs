//! The local CA (`LocalCa`) as a certificate verifier sees it (`openssl
//! verify`): its own leaves verify for TLS servers; leaves its
//! intermediate's key signs for any other name, or for any other purpose,
//! do not.

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use oauth_callback::LocalCa;

/// `openssl verify` of `leaf` against the CA in `dir` for `purpose`, its
/// root trusted as the stores trust it: for TLS servers only (openssl's
/// auxiliary trust `serverAuth`, what NSS's `C,,` says); whether it passed,
/// and what openssl said.
fn verify(dir: &Path, leaf: &Path, purpose: &str) -> (bool, String) {
    let trusted = dir.join("root-for-tls-servers.pem");
    if !trusted.exists() {
        let made = Command::new("openssl")
            .args(["x509", "-addtrust", "serverAuth", "-in"])
            .arg(dir.join("root.pem"))
            .arg("-out")
            .arg(&trusted)
            .status()
            .unwrap();
        assert!(made.success());
    }
    let out = Command::new("openssl")
        .args(["verify", "-purpose", purpose, "-CAfile"])
        .arg(&trusted)
        .arg("-untrusted")
        .arg(dir.join("intermediate.pem"))
        .arg(leaf)
        .output()
        .expect("openssl runs (apt-get install openssl)");
    let said =
        String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr);
    (out.status.success(), said)
}

/// A leaf for `san` with extended key usage `eku`, signed by openssl with
/// the stored intermediate key (what someone who stole it could make).
fn forged_leaf(dir: &Path, name: &str, san: &str, eku: &str) -> std::path::PathBuf {
    let [key, csr, leaf, ext] =
        ["key", "csr", "pem", "ext"].map(|e| dir.join(format!("{name}.{e}")));
    let ok = |command: &mut Command| assert!(command.status().unwrap().success(), "{command:?}");
    ok(Command::new("openssl")
        .args([
            "req",
            "-new",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-nodes",
            "-subj",
            "/CN=forged",
            "-keyout",
        ])
        .arg(&key)
        .arg("-out")
        .arg(&csr));
    std::fs::write(
        &ext,
        format!("subjectAltName={san}\nextendedKeyUsage={eku}\n"),
    )
    .unwrap();
    ok(Command::new("openssl")
        .args(["x509", "-req", "-days", "1", "-in"])
        .arg(&csr)
        .arg("-CA")
        .arg(dir.join("intermediate.pem"))
        .arg("-CAkey")
        .arg(dir.join("intermediate.key"))
        .arg("-extfile")
        .arg(&ext)
        .arg("-out")
        .arg(&leaf));
    leaf
}

#[test]
fn the_local_ca_vouches_only_for_loopback_tls_servers() {
    let home = tempfile::tempdir().unwrap();
    let dir = home.path().join("ca");
    let ca = LocalCa::create(&dir).unwrap();

    let (chain, _) = ca.leaf(Duration::from_secs(180)).unwrap();
    let own = dir.join("own.pem");
    let pem: String = chain
        .iter()
        .take(1)
        .map(|der| {
            use base64::Engine;
            let body = base64::engine::general_purpose::STANDARD.encode(der);
            let lines: Vec<&str> = body
                .as_bytes()
                .chunks(64)
                .map(|l| std::str::from_utf8(l).unwrap())
                .collect();
            format!(
                "-----BEGIN CERTIFICATE-----\n{}\n-----END CERTIFICATE-----\n",
                lines.join("\n")
            )
        })
        .collect();
    std::fs::write(&own, pem).unwrap();
    let (passed, said) = verify(&dir, &own, "sslserver");
    assert!(passed, "the CA's own leaf: {said}");

    let loopback = forged_leaf(&dir, "loopback", "IP:127.0.0.1", "serverAuth");
    assert!(
        verify(&dir, &loopback, "sslserver").0,
        "a loopback leaf for TLS servers verifies"
    );

    for (name, san) in [
        ("example", "DNS:example.com"),
        ("nip", "DNS:127.0.0.1.nip.io"),
        ("documentation", "IP:192.0.2.1"),
        ("mail", "email:alice@example.com"),
        ("uri", "URI:https://example.com/"),
    ] {
        let leaf = forged_leaf(&dir, name, san, "serverAuth");
        let (passed, said) = verify(&dir, &leaf, "sslserver");
        assert!(!passed, "{san} verified: {said}");
        assert!(said.contains("subtree violation"), "{san}: {said}");
    }

    for (name, eku, purpose) in [
        ("smime", "emailProtection", "smimesign"),
        ("client", "clientAuth", "sslclient"),
        ("timestamp", "critical,timeStamping", "timestampsign"),
    ] {
        let leaf = forged_leaf(&dir, name, "IP:127.0.0.1", eku);
        let (passed, said) = verify(&dir, &leaf, purpose);
        assert!(!passed, "{purpose} verified: {said}");
        // Refused for its purpose: by the intermediate's extended key usage,
        // or by the root's trust (TLS servers only), not for another reason.
        assert!(
            said.contains("unsupported certificate purpose")
                || said.contains("certificate rejected"),
            "{purpose}: {said}"
        );
    }
}
