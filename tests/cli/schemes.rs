//! Both schemes on one port: plain HTTP on the HTTPS port is redirected to
//! https, a TLS handshake on a --no-https port is served with an ad hoc
//! certificate, and --one-scheme turns both off.

use serde_json::json;

use crate::support::{Server, client, client_without_redirects, raw_exchange, status_of};

/// A plain-HTTP request for `target` on `port`, addressed to `host`.
fn plain_get(port: u16, host: &str, target: &str) -> String {
    let request = format!("GET {target} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n");
    raw_exchange(port, request.as_bytes())
}

#[test]
fn plain_http_on_the_https_port_is_redirected_to_https() {
    let server = Server::start(&[]);
    let authority = format!("127.0.0.1:{}", server.port);
    let answer = plain_get(server.port, &authority, "/callback?code=c&state=s");
    assert_eq!(status_of(&answer), 308, "{answer}");
    let location = format!("location: https://{authority}/callback?code=c&state=s\r\n");
    assert!(answer.to_ascii_lowercase().contains(&location), "{answer}");
    // Not taken: the flow completes once the browser follows the redirect.
    let foreign = plain_get(server.port, "evil.example", "/callback?code=x");
    assert_eq!(
        status_of(&foreign),
        421,
        "the Host check applies: {foreign}"
    );
    let huge = format!("/callback?pad={}", "a".repeat(20_000));
    assert_eq!(
        status_of(&plain_get(server.port, &authority, &huge)),
        431,
        "limits apply"
    );

    let followed = client()
        .get(format!("http://{authority}/callback?code=c&state=s"))
        .send()
        .unwrap();
    assert_eq!(followed.status(), 200);
    assert_eq!(followed.url().scheme(), "https");
    let finished = server.finish();
    assert_eq!(
        finished.result()["params"],
        json!({"code": "c", "state": "s"})
    );
}

#[test]
fn a_form_post_over_plain_http_keeps_its_method_through_the_redirect() {
    let server = Server::start(&[]);
    let posted = client_without_redirects()
        .post(format!("http://127.0.0.1:{}/callback", server.port))
        .form(&[("code", "form-post")])
        .send()
        .unwrap();
    assert_eq!(
        posted.status(),
        308,
        "308, not 301/302: the POST stays a POST"
    );
    let followed = client()
        .post(format!("http://127.0.0.1:{}/callback", server.port))
        .form(&[("code", "form-post")])
        .send()
        .unwrap();
    assert_eq!(followed.status(), 200);
    let result = server.finish().result();
    assert_eq!(
        (&result["params"], &result["method"]),
        (&json!({"code": "form-post"}), &json!("POST"))
    );
}

#[test]
fn tls_on_the_plain_http_port_is_served_with_an_ad_hoc_certificate() {
    let server = Server::start(&["--no-https"]);
    assert!(
        server.uri.starts_with("http://"),
        "the redirect URI keeps its scheme"
    );
    let upgraded = client()
        .get(format!(
            "https://127.0.0.1:{}/callback?code=upgraded",
            server.port
        ))
        .send()
        .unwrap();
    assert_eq!(upgraded.status(), 200);
    let finished = server.finish();
    assert_eq!(finished.result()["params"], json!({"code": "upgraded"}));
    assert!(
        finished.stderr.contains("ad hoc certificate"),
        "{}",
        finished.stderr
    );
}

#[test]
fn one_scheme_speaks_only_the_servers_own() {
    let server = Server::start(&["--one-scheme"]);
    let answer = plain_get(
        server.port,
        &format!("127.0.0.1:{}", server.port),
        "/callback?code=x",
    );
    assert!(
        !answer.starts_with("HTTP/1.1"),
        "no HTTP answer on the TLS port: {answer:?}"
    );
    drop(server);

    let server = Server::start(&["--no-https", "--one-scheme"]);
    let tls = client()
        .get(format!("https://127.0.0.1:{}/callback?code=x", server.port))
        .send();
    assert!(tls.is_err(), "no TLS on the plain port");
    server.callback("code=plain");
    assert_eq!(server.finish().result()["params"], json!({"code": "plain"}));
}
