//! Configuration: TLS from PEM files, bad settings, busy ports, legacy flags.

use std::net::TcpListener;
use std::path::{Path, PathBuf};

use serde_json::json;

use crate::support::{Server, run};

/// A certificate and key for the loopback names, written as PEM files.
fn write_pem_pair(dir: &Path) -> (PathBuf, PathBuf, String) {
    let names = vec!["127.0.0.1".to_string(), "localhost".to_string()];
    let certified = rcgen::generate_simple_self_signed(names).unwrap();
    let (cert, key) = (dir.join("cert.pem"), dir.join("key.pem"));
    let cert_pem = certified.cert.pem();
    std::fs::write(&cert, &cert_pem).unwrap();
    std::fs::write(&key, certified.signing_key.serialize_pem()).unwrap();
    (cert, key, cert_pem)
}

/// Assert a run failed before listening, with one line naming `needle`.
fn assert_config_error(args: &[&str], needle: &str) {
    let finished = run(args);
    assert_eq!(
        finished.status.code(),
        Some(2),
        "{args:?}: {}",
        finished.stderr
    );
    assert_eq!(finished.stdout, "");
    assert!(
        finished.stderr.contains(needle),
        "{args:?}: {}",
        finished.stderr
    );
    assert!(
        !finished.stderr.contains("listening on"),
        "{}",
        finished.stderr
    );
    assert!(!finished.stderr.contains("panicked"), "{}", finished.stderr);
}

#[test]
fn pem_certificate_is_served_and_trusted_by_a_verifying_client() {
    let dir = tempfile::tempdir().unwrap();
    let (cert, key, cert_pem) = write_pem_pair(dir.path());
    let server = Server::start(&[
        "--ssl-cert",
        cert.to_str().unwrap(),
        "--ssl-key",
        key.to_str().unwrap(),
    ]);
    let verifying = reqwest::blocking::Client::builder()
        .add_root_certificate(reqwest::Certificate::from_pem(cert_pem.as_bytes()).unwrap())
        .build()
        .unwrap();
    let response = verifying
        .get(format!("{}?code=pem", server.uri))
        .send()
        .unwrap();
    assert_eq!(response.status(), 200);
    let finished = server.finish();
    assert_eq!(finished.result()["params"], json!({"code": "pem"}));
    assert!(!finished.stderr.contains("ad hoc"));
}

#[test]
fn unusable_pem_files_are_one_line_and_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    let (cert, key, _) = write_pem_pair(dir.path());
    let other_dir = tempfile::tempdir().unwrap();
    let (_, other_key, _) = write_pem_pair(other_dir.path());
    let garbage = dir.path().join("garbage.pem");
    std::fs::write(&garbage, "not a pem file").unwrap();
    let (cert, key, garbage, other_key) = (
        cert.to_str().unwrap(),
        key.to_str().unwrap(),
        garbage.to_str().unwrap(),
        other_key.to_str().unwrap(),
    );
    assert_config_error(
        &["--ssl-cert", "/nonexistent/c.pem", "--ssl-key", key],
        "/nonexistent/c.pem",
    );
    assert_config_error(&["--ssl-cert", garbage, "--ssl-key", key], "garbage.pem");
    assert_config_error(&["--ssl-cert", cert, "--ssl-key", garbage], "garbage.pem");
    assert_config_error(
        &["--ssl-cert", cert, "--ssl-key", other_key],
        "does not match",
    );
}

#[test]
fn bad_flags_and_settings_exit_2() {
    assert_config_error(&["--path", "/health"], "reserved");
    assert_config_error(&["--path", "/a b"], "plain route");
    assert_config_error(&["--path", "/café"], "plain route");
    assert_config_error(&["--timeout", "1e19"], "longer than a week");
    assert_config_error(&["--timeout=-1"], "more than zero");
    assert_config_error(&["--timeout", "NaN"], "not a number");
    assert_config_error(
        &["export-handler", "/nonexistent/dir/h.wasm"],
        "/nonexistent/dir/h.wasm",
    );
    assert_config_error(&["--host", "example.com"], "not an IP address");
    assert_config_error(&["--timeout", "0"], "more than zero");
    assert_config_error(&["--timeout", "soon"], "not a number");
    assert_config_error(&["--port", "70000"], "70000");
    assert_config_error(&["--ssl-cert", "c.pem"], "--ssl-key");
    assert_config_error(&["--adhoc-ssl", "--no-https"], "--no-https");
    assert_config_error(&["--no-such-flag"], "--no-such-flag");
}

#[test]
fn empty_expected_values_and_unsendable_paths_exit_2() {
    for blank in ["", " "] {
        assert_config_error(
            &["--port", "0", "--expect-state", blank],
            "invalid --expect-state (or $OAUTH_CALLBACK_EXPECT_STATE): it is empty",
        );
        assert_config_error(
            &["--port", "0", "--expect-issuer", blank],
            "invalid --expect-issuer (or $OAUTH_CALLBACK_EXPECT_ISSUER): it is empty",
        );
    }
    for dots in ["/a/../cb", "/./cb"] {
        assert_config_error(&["--port", "0", "--path", dots], "segment");
    }
    assert_config_error(&["--port", "0", "--path", "/cb%zz"], "two hex digits");
}

#[test]
fn a_busy_port_is_named_and_exits_2() {
    let busy = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = busy.local_addr().unwrap().port().to_string();
    let finished = run(&["--port", &port]);
    assert_eq!(finished.status.code(), Some(2));
    assert!(
        finished.stderr.contains(&format!("port {port}")),
        "{}",
        finished.stderr
    );
    assert!(
        finished.stderr.contains("already in use"),
        "{}",
        finished.stderr
    );
    assert_eq!(
        finished.stderr.trim().lines().count(),
        1,
        "{}",
        finished.stderr
    );
}

#[test]
fn the_legacy_server_flag_is_accepted_and_ignored() {
    let server = Server::start(&["--server", "werkzeug"]);
    server.callback("code=1");
    let finished = server.finish();
    assert_eq!(finished.status.code(), Some(0));
    assert!(
        finished.stderr.contains("--server is ignored"),
        "{}",
        finished.stderr
    );
}

#[test]
fn help_documents_the_exit_codes() {
    let help = run(&["--help"]);
    assert_eq!(help.status.code(), Some(0));
    for needle in ["--ssl-cert", "--adhoc-ssl", "124", "130", "received_at"] {
        assert!(help.stdout.contains(needle), "--help lacks {needle}");
    }
}

#[test]
fn a_port_list_is_tried_in_order_and_the_ready_line_says_which_won() {
    let busy = TcpListener::bind("127.0.0.1:0").unwrap();
    let taken = busy.local_addr().unwrap().port();
    let free = {
        let probe = TcpListener::bind("127.0.0.1:0").unwrap();
        probe.local_addr().unwrap().port()
    };
    let server = Server::start(&["--port", &format!("{taken},{free},0")]);
    assert_eq!(server.port, free, "the first free port of the list");
    assert!(server.uri.contains(&format!(":{free}/")), "{}", server.uri);

    let other = TcpListener::bind("127.0.0.1:0").unwrap();
    let also_taken = other.local_addr().unwrap().port();
    let server = Server::start(&["--port", &format!("{taken},{also_taken},0")]);
    assert!(
        ![taken, also_taken].contains(&server.port),
        "0: any free port"
    );

    let refused = run(&["--port", &format!("{taken},{also_taken}")]);
    assert_eq!(refused.status.code(), Some(2));
    let line = refused.stderr.trim();
    assert!(
        line.contains(&format!("{taken} (in use), {also_taken} (in use)")),
        "{line}"
    );
    assert_eq!(line.lines().count(), 1, "{line}");
}
