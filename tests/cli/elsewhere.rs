//! Signing in from elsewhere: a server in a container (listening on
//! 0.0.0.0:PORT, published on another port) with the registered redirect URI
//! given apart from where it listens.

use serde_json::json;

use crate::support::{Server, free_port, raw_exchange, run, status_of};

/// A GET of `target` on the real port, addressed to `host`.
fn get_as(port: u16, host: &str, target: &str) -> String {
    let request = format!("GET {target} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n");
    raw_exchange(port, request.as_bytes())
}

#[test]
fn a_published_container_port_completes_through_the_registered_redirect_uri() {
    let port = free_port().to_string();
    let registered = "http://127.0.0.1:18080/signin/cb";
    let mut server = Server::start(&[
        "--host",
        "0.0.0.0",
        "--allow-remote",
        "--port",
        &port,
        "--no-https",
        "--redirect-uri",
        registered,
    ]);
    assert_eq!(
        server.uri, registered,
        "the ready line names the registered URI"
    );
    let port: u16 = port.parse().unwrap();

    // Addressed to another site: refused, the flow stays pending.
    let foreign = get_as(port, "evil.example:18080", "/signin/cb?code=x");
    assert_eq!(status_of(&foreign), 421, "{foreign}");
    // The path is the redirect URI's.
    assert_eq!(
        status_of(&get_as(port, "127.0.0.1:18080", "/callback?code=x")),
        404
    );
    assert!(server.is_running());

    // What the browser sends through the published port.
    let answer = get_as(port, "127.0.0.1:18080", "/signin/cb?code=published&state=s");
    assert_eq!(status_of(&answer), 200, "{answer}");
    let finished = server.finish();
    assert_eq!(finished.status.code(), Some(0));
    assert_eq!(
        finished.result()["params"],
        json!({"code": "published", "state": "s"})
    );
    assert_eq!(finished.result()["path"], "/signin/cb");
}

#[test]
fn the_bound_authority_still_works_and_the_ready_file_holds_the_registered_uri() {
    let dir = tempfile::tempdir().unwrap();
    let ready = dir.path().join("ready.uri");
    let port = free_port();
    let registered = format!("http://localhost:{}/cb", port + 1);
    let server = Server::start(&[
        "--port",
        &port.to_string(),
        "--no-https",
        "--redirect-uri",
        &registered,
        "--ready-file",
        ready.to_str().unwrap(),
    ]);
    assert_eq!(std::fs::read_to_string(&ready).unwrap().trim(), registered);
    let answer = get_as(port, &format!("127.0.0.1:{port}"), "/cb?code=bound");
    assert_eq!(status_of(&answer), 200, "{answer}");
    assert_eq!(server.finish().result()["params"], json!({"code": "bound"}));
}

#[test]
fn redirect_uris_that_cannot_fit_the_server_exit_2_with_one_line() {
    let refusals = [
        // Serving HTTP, registered https: only when TLS is terminated in front.
        (
            vec!["--no-https", "--redirect-uri", "https://127.0.0.1:18080/cb"],
            "--behind-tls-proxy",
        ),
        // Serving HTTPS, registered http.
        (
            vec!["--redirect-uri", "http://127.0.0.1:18080/cb"],
            "--no-https",
        ),
        // A forwarding name is another machine's.
        (
            vec![
                "--no-https",
                "--behind-tls-proxy",
                "--redirect-uri",
                "https://x.app.github.dev/cb",
            ],
            "--allow-remote",
        ),
        (
            vec!["--redirect-uri", "https://u:p@127.0.0.1/cb"],
            "user name or password",
        ),
        (vec!["--redirect-uri", "https://127.0.0.1/cb?x=1"], "query"),
        (vec!["--redirect-uri", "ftp://127.0.0.1/cb"], "not an http"),
        (
            vec!["--path", "/other", "--redirect-uri", "https://127.0.0.1/cb"],
            "differs",
        ),
    ];
    for (args, needle) in refusals {
        let mut all = vec!["--port", "0"];
        all.extend(args.iter().copied());
        let refused = run(&all);
        assert_eq!(
            refused.status.code(),
            Some(2),
            "{all:?}: {}",
            refused.stderr
        );
        assert!(
            refused.stderr.contains(needle),
            "{all:?}: {}",
            refused.stderr
        );
        assert_eq!(
            refused.stderr.trim().lines().count(),
            1,
            "{}",
            refused.stderr
        );
    }
    // Told that TLS ends in front, a forwarding name with --allow-remote is fine.
    let accepted = run(&[
        "--port",
        "0",
        "--no-https",
        "--allow-remote",
        "--behind-tls-proxy",
        "--redirect-uri",
        "https://x.app.github.dev/cb",
        "--timeout",
        "0.2",
    ]);
    assert_eq!(accepted.status.code(), Some(124), "{}", accepted.stderr);
    assert!(
        accepted
            .stderr
            .contains("listening on https://x.app.github.dev/cb"),
        "{}",
        accepted.stderr
    );
}
