//! Every loopback redirect URI people register (the root path, names under
//! `localhost`, `localhost` over either family, the redirect URI's own
//! port), and the requests browsers send around the real navigation
//! (prefetch and prerender, HEAD).

use crate::support::{Server, binary, client, free_port, raw_exchange, status_of};

/// `GET path` on `addr` with `Host: host`, over plain HTTP: the status.
fn get_with_host(addr: &str, host: &str, path: &str) -> u16 {
    let port: u16 = addr.rsplit(':').next().unwrap().parse().unwrap();
    let request = format!("GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n");
    status_of(&raw_exchange(port, request.as_bytes()))
}

#[test]
fn the_root_path_is_the_callback_route_and_the_redirect_uris_port_is_listened_on() {
    // google-auth-oauthlib's `http://localhost:8080/`, MSAL's `http://localhost:PORT`.
    let port = free_port();
    let registered = format!("http://localhost:{port}/");
    let server = Server::start_as_given(&["--no-https", "--redirect-uri", &registered]);
    assert_eq!(server.uri, registered);
    let http = client();
    let health = http
        .get(format!("http://127.0.0.1:{port}/health"))
        .send()
        .unwrap();
    assert_eq!(health.status(), 200);
    let stray = http
        .get(format!("http://127.0.0.1:{port}/favicon.ico"))
        .send()
        .unwrap();
    assert_eq!(stray.status(), 404);
    let done = http
        .get(format!("http://localhost:{port}/?code=root"))
        .send()
        .unwrap();
    assert_eq!(done.status(), 200);
    let finished = server.finish();
    assert_eq!(finished.status.code(), Some(0));
    let result = finished.result();
    assert_eq!(result["params"]["code"], "root");
    assert_eq!(result["path"], "/");
}

#[test]
fn a_localhost_redirect_uri_is_reached_over_both_families_without_host() {
    let port = free_port();
    let registered = format!("http://localhost:{port}/cb");
    let server = Server::start_as_given(&["--no-https", "--redirect-uri", &registered]);
    for origin in [
        format!("http://127.0.0.1:{port}"),
        format!("http://[::1]:{port}"),
    ] {
        let health = client().get(format!("{origin}/health")).send().unwrap();
        assert_eq!(health.status(), 200, "{origin}");
    }
    let done = client()
        .get(format!("http://[::1]:{port}/cb?code=six"))
        .send()
        .unwrap();
    assert_eq!(done.status(), 200);
    let finished = server.finish();
    assert_eq!(finished.status.code(), Some(0));
    assert_eq!(finished.result()["params"]["code"], "six");
}

#[test]
fn names_under_localhost_are_loopback_for_the_redirect_uri_the_host_check_and_host() {
    let port = free_port();
    let registered = format!("http://cli.localhost:{port}/cb");
    let server = Server::start_as_given(&["--no-https", "--redirect-uri", &registered]);
    assert_eq!(server.uri, registered);
    let addr = format!("127.0.0.1:{port}");
    assert_eq!(
        get_with_host(&addr, &format!("cli.localhost:{port}"), "/health"),
        200
    );
    assert_eq!(
        get_with_host(&addr, &format!("Other.Localhost:{port}"), "/health"),
        200
    );
    assert_eq!(
        get_with_host(&addr, &format!("localhost.evil.example:{port}"), "/health"),
        421
    );
    assert_eq!(
        get_with_host(&addr, &format!("cli.localhost:{port}"), "/cb?code=name"),
        200
    );
    let finished = server.finish();
    assert_eq!(finished.status.code(), Some(0));
    assert_eq!(finished.result()["params"]["code"], "name");
    // As --host: listened on like localhost, said in the redirect URI.
    let server = Server::start(&["--no-https", "--host", "App.Localhost"]);
    assert!(
        server.uri.starts_with("http://app.localhost:"),
        "{}",
        server.uri
    );
    let v6 = client()
        .get(format!("http://[::1]:{}/health", server.port))
        .send()
        .unwrap();
    assert_eq!(v6.status(), 200);
}

#[test]
fn a_redirect_uri_the_server_does_not_listen_for_is_said_in_one_line() {
    let port = free_port();
    let registered = format!("http://localhost:{port}/cb");
    let other = free_port();
    let out = binary()
        .args([
            "--no-https",
            "--host",
            "127.0.0.1",
            "--port",
            &other.to_string(),
        ])
        .args(["--redirect-uri", &registered, "--timeout", "0.3"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains(&format!(
            "the redirect URI sends the browser to port {port}, and this server listens on {other}"
        )),
        "{stderr}"
    );
    assert!(
        stderr.contains("the redirect URI names localhost, which a browser may reach over IPv4 or IPv6, and this server listens on 127.0.0.1 only"),
        "{stderr}"
    );
}

#[test]
fn prefetches_and_prerenders_never_complete_and_the_navigation_then_does() {
    for (name, value) in [
        ("Sec-Purpose", "prefetch"),
        ("Sec-Purpose", "prefetch;prerender"),
        ("Purpose", "prefetch"),
        ("X-Moz", "prefetch"),
    ] {
        let server = Server::start(&["--no-https"]);
        let speculative = client()
            .get(format!("{}?code=early", server.uri))
            .header("sec-fetch-mode", "navigate")
            .header("sec-fetch-dest", "document")
            .header(name, value)
            .send()
            .unwrap();
        assert_eq!(speculative.status(), 503, "{name}: {value}");
        assert_eq!(
            speculative.headers()["cache-control"],
            "no-store",
            "{name}: {value}"
        );
        let real = server.callback("code=real");
        assert_eq!(real.status(), 200, "{name}: {value}");
        assert_eq!(server.finish().result()["params"]["code"], "real");
    }
}

#[test]
fn head_on_the_callback_route_answers_the_gets_head_and_completes_nothing() {
    let server = Server::start(&["--no-https"]);
    let head = client()
        .head(format!("{}?code=h", server.uri))
        .send()
        .unwrap();
    assert_eq!(head.status(), 200);
    assert!(head.headers().contains_key("content-security-policy"));
    assert_eq!(head.bytes().unwrap().len(), 0);
    let real = server.callback("code=g");
    assert_eq!(real.status(), 200);
    assert_eq!(server.finish().result()["params"]["code"], "g");
}
