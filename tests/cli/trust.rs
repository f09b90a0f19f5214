//! `oauth-callback trust --system` for real: the root in the system's
//! store (inside a private mount namespace), then out again.

use std::path::Path;
use std::process::Command;

/// `trust --system`, inside a private mount namespace over copies of
/// `/etc/ssl` and an empty `/usr/local/share/ca-certificates` (the
/// machine's own store is never touched, even when this fails): curl
/// without `-k` and Python's default SSL context accept a default run's
/// chain; after `trust --uninstall` curl refuses it again.
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

/// Run by `sudo` (root, `SUDO_UID` set, `$HOME` unset or root's), `trust`
/// works for the user who ran it: their CA, which root never makes in their
/// home. Here the user is `nobody` (uid 65534), who has none.
#[test]
fn under_sudo_the_invoking_users_ca_is_used_and_never_made_by_root() {
    let out = crate::support::binary()
        .args(["trust", "--system"])
        .env("SUDO_UID", "65534")
        .env_remove("HOME")
        .env_remove("XDG_DATA_HOME")
        .output()
        .unwrap();
    let said = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{said}");
    assert!(said.contains("no local CA in "), "{said}");
    assert!(
        said.trim_end().ends_with(
            "make it first as the user it is for; run `oauth-callback trust` as that user, then this again"
        ),
        "{said}"
    );
    assert!(!said.contains("/root/"), "{said}");
}

/// A report that cannot be written (a full disk, a closed pipe) is one line
/// on stderr and exit 2, never a panic.
#[test]
fn a_report_that_cannot_be_written_is_a_failure_not_a_panic() {
    let home = tempfile::tempdir().unwrap();
    let full = std::fs::OpenOptions::new()
        .write(true)
        .open("/dev/full")
        .unwrap();
    let out = crate::support::binary()
        .args(["trust", "--status"])
        .env("HOME", home.path())
        .env_remove("XDG_DATA_HOME")
        .stdout(full)
        .output()
        .unwrap();
    let said = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{said}");
    assert_eq!(
        said.trim_end(),
        "oauth-callback: cannot write to stdout: No space left on device (os error 28)"
    );
}
