//! `oauth-callback trust` for real (NSS's `certutil`, the system's store
//! inside a private mount namespace): the root in, then out again; two
//! runs at once, old and password-protected databases, a CA left
//! half-made or whose parts do not belong together, and another user's
//! root in the system's store.

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
"$BIN" trust --uninstall --system > /dev/null
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

/// `oauth-callback` with `HOME` set to `home` and nothing else pointing at
/// the user's data.
fn in_home(home: &Path) -> Command {
    let mut command = crate::support::binary();
    command.env("HOME", home).env_remove("XDG_DATA_HOME");
    command
}

/// What `certutil -L` lists in `home`'s Chromium database.
fn nss_listing(home: &Path) -> String {
    let out = Command::new("certutil")
        .args(["-L", "-f", "/dev/null", "-d"])
        .arg(format!("sql:{}", home.join(".pki/nssdb").display()))
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout).into_owned()
}

const NICKNAME: &str = "oauth-callback local CA";

/// Two `trust` at once on a fresh home, twenty times: each time both
/// succeed, one CA is made, whole and consistent, and the database holds
/// its root once, trusted.
#[test]
fn two_trust_runs_at_once_make_one_consistent_ca() {
    for round in 0..20 {
        let home = tempfile::tempdir().unwrap();
        let children: Vec<_> = (0..2)
            .map(|_| {
                in_home(home.path())
                    .arg("trust")
                    .stdout(std::process::Stdio::piped())
                    .stderr(std::process::Stdio::piped())
                    .spawn()
                    .unwrap()
            })
            .collect();
        let outs: Vec<_> = children
            .into_iter()
            .map(|child| child.wait_with_output().unwrap())
            .collect();
        let said: Vec<String> = outs
            .iter()
            .map(|out| {
                String::from_utf8_lossy(&out.stdout).into_owned()
                    + &String::from_utf8_lossy(&out.stderr)
            })
            .collect();
        assert!(
            outs.iter().all(|out| out.status.success()),
            "round {round}: {said:?}"
        );
        let created = said
            .iter()
            .filter(|s| s.contains("created a local CA"))
            .count();
        assert_eq!(created, 1, "round {round}: {said:?}");
        let status = in_home(home.path())
            .args(["trust", "--status"])
            .output()
            .unwrap();
        let status = String::from_utf8_lossy(&status.stdout);
        assert!(status.contains("(valid until"), "round {round}: {status}");
        assert!(
            status.contains("/.pki/nssdb): trusted"),
            "round {round}: {status}"
        );
        let listed = nss_listing(home.path());
        assert_eq!(
            listed.matches(NICKNAME).count(),
            1,
            "round {round}: {listed}"
        );
    }
}

/// An old-format (`dbm:`) database is one line naming it and exit 2;
/// certutil is never pointed at it, nothing hangs, and the output stays small.
#[test]
fn an_old_format_nss_database_is_one_line_naming_it() {
    let home = tempfile::tempdir().unwrap();
    let nssdb = home.path().join(".pki/nssdb");
    std::fs::create_dir_all(&nssdb).unwrap();
    let made = Command::new("certutil")
        .args(["-N", "--empty-password", "-d"])
        .arg(format!("dbm:{}", nssdb.display()))
        .output()
        .unwrap();
    assert!(
        made.status.success() && nssdb.join("cert8.db").exists(),
        "{made:?}"
    );
    let started = std::time::Instant::now();
    let out = in_home(home.path()).arg("trust").output().unwrap();
    let said =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{said}");
    assert!(started.elapsed() < std::time::Duration::from_secs(30));
    assert!(
        said.contains("is an old-format database (cert8.db)"),
        "{said}"
    );
    assert!(said.len() < 2000, "{said}");
    assert!(
        !nssdb.join("cert9.db").exists(),
        "no new database made over the old one"
    );
}

/// A database with a password (Firefox's Primary Password): `trust` fails
/// at once in one line naming it, and leaves no copy of the root behind
/// (one without trust flags would read as trusted afterwards); `--status`
/// says it does not hold the root.
#[test]
fn a_password_protected_nss_database_is_said_and_left_without_the_root() {
    let home = tempfile::tempdir().unwrap();
    let nssdb = home.path().join(".pki/nssdb");
    std::fs::create_dir_all(&nssdb).unwrap();
    let password = home.path().join("password");
    std::fs::write(&password, "secret\n").unwrap();
    let made = Command::new("certutil")
        .args(["-N", "-f"])
        .arg(&password)
        .arg("-d")
        .arg(format!("sql:{}", nssdb.display()))
        .output()
        .unwrap();
    assert!(made.status.success(), "{made:?}");
    let out = in_home(home.path()).arg("trust").output().unwrap();
    let said =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{said}");
    assert!(said.contains("is protected by a password"), "{said}");
    assert!(
        !nss_listing(home.path()).contains(NICKNAME),
        "a copy was left behind"
    );
    let status = in_home(home.path())
        .args(["trust", "--status"])
        .output()
        .unwrap();
    let status = String::from_utf8_lossy(&status.stdout);
    assert!(status.contains("/.pki/nssdb): missing"), "{status}");
}

/// A kill between the CA's files (here: its key never written): `--status`
/// says it cannot be used, `--uninstall` deletes what is there, and a new
/// `trust` makes a whole one.
#[test]
fn a_ca_left_half_made_is_said_and_uninstall_removes_what_is_there() {
    let home = tempfile::tempdir().unwrap();
    assert!(
        in_home(home.path())
            .arg("trust")
            .output()
            .unwrap()
            .status
            .success()
    );
    let ca = home.path().join(".local/share/oauth-callback/ca");
    std::fs::remove_file(ca.join("intermediate.key")).unwrap();
    let status = in_home(home.path())
        .args(["trust", "--status"])
        .output()
        .unwrap();
    let said = String::from_utf8_lossy(&status.stdout);
    assert_eq!(status.status.code(), Some(0), "{said}");
    assert!(
        said.contains("cannot be used (") && said.contains("intermediate.key"),
        "{said}"
    );
    let removed = in_home(home.path())
        .args(["trust", "--uninstall"])
        .output()
        .unwrap();
    let said = String::from_utf8_lossy(&removed.stdout);
    assert_eq!(removed.status.code(), Some(0), "{said}");
    assert!(said.contains("deleted the local CA"), "{said}");
    assert!(!ca.exists());
    assert!(!nss_listing(home.path()).contains(NICKNAME));
}

/// A CA whose key does not match its intermediate (clients would reject
/// every chain it signs): a run says so in one line and serves a
/// self-signed certificate instead.
#[test]
fn a_run_with_a_ca_whose_parts_do_not_belong_together_falls_back_to_self_signed() {
    let home = tempfile::tempdir().unwrap();
    let exported = home.path().join("root.pem");
    let made = in_home(home.path())
        .args(["trust", "--export"])
        .arg(&exported)
        .output()
        .unwrap();
    assert!(made.status.success(), "{made:?}");
    let ca = home.path().join(".local/share/oauth-callback/ca");
    let other = in_home(home.path())
        .args(["cert", "--out"])
        .arg(home.path().join("other"))
        .output()
        .unwrap();
    assert!(other.status.success(), "{other:?}");
    std::fs::copy(
        home.path().join("other/key.pem"),
        ca.join("intermediate.key"),
    )
    .unwrap();
    let out = in_home(home.path())
        .args(["--port", "0", "--timeout", "0.2"])
        .output()
        .unwrap();
    let said = String::from_utf8_lossy(&out.stderr);
    assert!(
        said.contains("cannot use the local CA (its intermediate and key do not chain to its root): using a self-signed certificate"),
        "{said}"
    );
    assert!(
        said.contains("no certificate given: serving a self-signed certificate"),
        "{said}"
    );
}

/// Another user's root at the system's anchor name (root-owned), seen by
/// `nobody`: `--status` does not call it theirs and `--uninstall` leaves
/// it; root with no CA of its own never deletes it either, even with
/// `--system`. Inside a private mount namespace.
#[test]
fn another_users_system_anchor_is_never_reported_or_removed_as_ours() {
    let work = tempfile::tempdir().unwrap();
    std::fs::set_permissions(
        work.path(),
        std::os::unix::fs::PermissionsExt::from_mode(0o777),
    )
    .unwrap();
    let script = r#"
set -eu
mkdir "$WORK/anchors" "$WORK/nobody" "$WORK/root"
chown nobody "$WORK/nobody"
echo "another user's root" > "$WORK/anchors/oauth-callback-local-ca.crt"
mount --bind "$WORK/anchors" /usr/local/share/ca-certificates
as_nobody() { setpriv --reuid=nobody --regid=nogroup --clear-groups env HOME="$WORK/nobody" "$@"; }
echo "== nobody status"; as_nobody "$BIN" trust --status || echo "exit $?"
echo "== nobody uninstall"; as_nobody "$BIN" trust --uninstall || echo "exit $?"
echo "== root uninstall --system"; HOME="$WORK/root" "$BIN" trust --uninstall --system || echo "exit $?"
echo "== anchor: $(cat "$WORK/anchors/oauth-callback-local-ca.crt")"
"#;
    let out = Command::new("unshare")
        .args(["-m", "sh", "-c", script])
        .env("BIN", crate::support::program())
        .env("WORK", work.path())
        .env_remove("XDG_DATA_HOME")
        .output()
        .expect("unshare runs (util-linux)");
    let said = String::from_utf8_lossy(&out.stdout);
    let errors = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{said}{errors}");
    assert!(!said.contains("exit "), "{said}{errors}");
    assert!(
        !said.contains("oauth-callback-local-ca.crt): trusted"),
        "{said}"
    );
    assert!(
        said.contains("== anchor: another user's root"),
        "{said}{errors}"
    );
}

/// `--export` writes a new file renamed into place: a link at the name is
/// refused (exit 2, one line) before any CA is made, never written through.
#[test]
fn export_never_writes_through_a_link() {
    let home = tempfile::tempdir().unwrap();
    let target = home.path().join("elsewhere");
    std::fs::write(&target, "kept").unwrap();
    let link = home.path().join("root.pem");
    std::os::unix::fs::symlink(&target, &link).unwrap();
    let out = in_home(home.path())
        .args(["trust", "--export"])
        .arg(&link)
        .output()
        .unwrap();
    let said = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{said}");
    assert!(said.contains("a link, not a regular file"), "{said}");
    assert_eq!(std::fs::read_to_string(&target).unwrap(), "kept");
    assert!(!home.path().join(".local/share/oauth-callback/ca").exists());
    let file = home.path().join("new.pem");
    assert!(
        in_home(home.path())
            .args(["trust", "--export"])
            .arg(&file)
            .output()
            .unwrap()
            .status
            .success()
    );
    assert!(
        std::fs::read_to_string(&file)
            .unwrap()
            .starts_with("-----BEGIN CERTIFICATE-----")
    );
}
