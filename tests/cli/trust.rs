//! The local CA (`oauth-callback trust`) as a certificate verifier sees it
//! (`openssl verify`): its own leaves verify for TLS servers; leaves its
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
    }
}

/// On WSL (as `WSL_DISTRO_NAME` says), `trust` also puts the root into the
/// Windows user's Root store through `certutil.exe`, with the Windows path
/// `wslpath -w` gives, and `--status` and `--uninstall` follow it there:
/// stand-ins for both record what they were asked.
#[cfg(unix)]
#[test]
fn on_wsl_the_windows_user_store_gets_the_root_too() {
    use std::os::unix::fs::PermissionsExt;
    let home = tempfile::tempdir().unwrap();
    let bin = home.path().join("bin");
    std::fs::create_dir(&bin).unwrap();
    let log = home.path().join("certutil.exe.log");
    let stand_ins = [
        (
            "certutil.exe",
            "#!/bin/sh\nprintf '%s\\n' \"$*\" >> \"$STAND_IN_LOG\"\ncase \"$2\" in\n  -addstore) touch \"$STAND_IN_LOG.added\";;\n  -verifystore) [ -f \"$STAND_IN_LOG.added\" ] || exit 1;;\n  -delstore) rm -f \"$STAND_IN_LOG.added\";;\nesac\n",
        ),
        (
            "wslpath",
            "#!/bin/sh\nprintf 'C:\\\\ca\\\\%s\\n' \"$(basename \"$2\")\"\n",
        ),
    ];
    for (name, script) in stand_ins {
        let path = bin.join(name);
        std::fs::write(&path, script).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    let path = format!("{}:{}", bin.display(), std::env::var("PATH").unwrap());
    let trust = |args: &[&str]| {
        let out = crate::support::binary()
            .arg("trust")
            .args(args)
            .env("HOME", home.path())
            .env_remove("XDG_DATA_HOME")
            .env("WSL_DISTRO_NAME", "Debian")
            .env("PATH", &path)
            .env("STAND_IN_LOG", &log)
            .output()
            .unwrap();
        let said = String::from_utf8_lossy(&out.stdout).to_string();
        assert!(
            out.status.success(),
            "trust {args:?}: {said}{}",
            String::from_utf8_lossy(&out.stderr)
        );
        said
    };
    assert!(trust(&[]).contains("Windows, current user (from WSL): trusted"));
    assert!(trust(&[]).contains("Windows, current user (from WSL): already trusted"));
    assert!(trust(&["--status"]).contains("Windows, current user (from WSL): trusted"));
    trust(&["--uninstall"]);
    let asked: Vec<String> = std::fs::read_to_string(&log)
        .unwrap()
        .lines()
        .map(|line| line.split(' ').take(3).collect::<Vec<_>>().join(" "))
        .collect();
    assert!(
        asked.contains(&"-user -addstore Root".to_string()),
        "{asked:?}"
    );
    assert!(
        asked.contains(&"-user -delstore Root".to_string()),
        "{asked:?}"
    );
    let restricted = std::fs::read_to_string(&log).unwrap();
    assert!(
        restricted.lines().any(|line| line
            .starts_with("-user -repairstore Root oauth-callback local CA root")
            && line.ends_with(r"C:\ca\root-usage.inf")),
        "the root's usage restricted to TLS servers: {restricted}"
    );
    let added = std::fs::read_to_string(&log).unwrap();
    assert!(
        added.contains(r"-user -addstore Root C:\ca\root.pem"),
        "{added}"
    );
    assert!(!log.with_extension("log.added").exists(), "removed again");
    assert!(
        !home.path().join(".local/share/oauth-callback/ca").exists(),
        "the CA's folder is gone, the usage file with it"
    );
}

/// `trust --system`, inside a private mount namespace over copies of
/// `/etc/ssl` and an empty `/usr/local/share/ca-certificates` (the
/// machine's own store is never touched, even when this fails): curl
/// without `-k` and Python's default SSL context accept a default run's
/// chain; after `trust --uninstall` curl refuses it again.
#[cfg(target_os = "linux")]
#[test]
fn trust_system_adds_the_root_for_curl_and_python_and_uninstall_takes_it_out() {
    let home = tempfile::tempdir().unwrap();
    let script = r#"
set -eu
cp -a /etc/ssl "$WORK/etc-ssl"
mkdir "$WORK/anchors"
mount --bind "$WORK/etc-ssl" /etc/ssl
mount --bind "$WORK/anchors" /usr/local/share/ca-certificates
"$BIN" trust --system
"$BIN" --port 0 --timeout 30 -q --ready-file "$WORK/ready" > /dev/null 2>&1 &
server=$!
while [ ! -s "$WORK/ready" ]; do sleep 0.05; done
health="$(sed 's|/callback$|/health|' "$WORK/ready")"
echo "curl: $(curl -sS -o /dev/null -w '%{http_code}' "$health")"
python3 -c 'import ssl, sys, urllib.request; print("python:", urllib.request.urlopen(sys.argv[1], context=ssl.create_default_context()).status)' "$health"
"$BIN" trust --uninstall > /dev/null
if curl -sS -o /dev/null "$health" 2> "$WORK/refused"; then echo "curl after uninstall: accepted"; else echo "curl after uninstall: refused"; fi
kill "$server"
wait "$server" || true
"#;
    let out = Command::new("unshare")
        .args(["-m", "sh", "-c", script])
        .env("BIN", crate::support::program())
        .env("WORK", home.path())
        .env("HOME", home.path())
        .env_remove("XDG_DATA_HOME")
        .output()
        .expect("unshare runs (util-linux)");
    let said = String::from_utf8_lossy(&out.stdout).to_string();
    let errors = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{said}{errors}");
    assert!(
        said.contains(
            "system (/usr/local/share/ca-certificates/oauth-callback-local-ca.crt): trusted"
        ),
        "{said}"
    );
    assert!(said.contains("curl: 200"), "{said}{errors}");
    assert!(said.contains("python: 200"), "{said}{errors}");
    assert!(
        said.contains("curl after uninstall: refused"),
        "{said}{errors}"
    );
    assert!(
        !Path::new("/usr/local/share/ca-certificates/oauth-callback-local-ca.crt").exists(),
        "the machine's own store was touched"
    );
}
