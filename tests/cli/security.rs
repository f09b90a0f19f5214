//! The hardening rules (RFC 8252, RFC 9700), each over real connections.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use serde_json::json;

use crate::support::{Server, client, raw_exchange, run, status_of};

#[test]
fn non_loopback_addresses_need_allow_remote() {
    let refused = run(&["--host", "0.0.0.0", "--port", "0"]);
    assert_eq!(refused.status.code(), Some(2));
    assert!(
        refused.stderr.contains("not a loopback address"),
        "{}",
        refused.stderr
    );

    let server = Server::start(&["--host", "0.0.0.0", "--allow-remote", "--no-https"]);
    client()
        .get(format!(
            "http://127.0.0.1:{}/callback?code=lan",
            server.port
        ))
        .send()
        .unwrap();
    let finished = server.finish();
    assert!(
        finished.stderr.contains("other machines can reach"),
        "{}",
        finished.stderr
    );
    assert_eq!(finished.result()["params"], json!({"code": "lan"}));
}

#[test]
fn a_foreign_host_header_gets_421_and_the_flow_stays_pending() {
    let mut server = Server::start(&["--no-https"]);
    let port = server.port;
    for host in [
        format!("rebound.example:{port}"),
        "127.0.0.1:1".into(),
        String::new(),
        format!("127.0.0.1:+{port}"),
    ] {
        let request =
            format!("GET /callback?code=x HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n");
        let answer = raw_exchange(port, request.as_bytes());
        assert_eq!(status_of(&answer), 421, "Host: {host:?}");
        assert!(
            !answer.contains("rebound.example"),
            "the Host header must not be reflected"
        );
    }
    // A second Host (RFC 9112 3.2), and a foreign absolute-form target whose
    // Host is ours (RFC 9112 3.2.2).
    let ours = format!("127.0.0.1:{port}");
    for (target, headers, status) in [
        (
            "/callback?code=x".to_string(),
            format!("Host: {ours}\r\nHost: evil.example\r\n"),
            400,
        ),
        (
            "http://evil.example/callback?code=x".to_string(),
            format!("Host: {ours}\r\n"),
            421,
        ),
    ] {
        let request = format!("GET {target} HTTP/1.1\r\n{headers}Connection: close\r\n\r\n");
        let answer = raw_exchange(port, request.as_bytes());
        assert_eq!(status_of(&answer), status, "{request:?}");
    }
    assert!(server.is_running());
    let request = format!(
        "GET /callback?code=ok HTTP/1.1\r\nHost: localhost:{port}\r\nConnection: close\r\n\r\n"
    );
    assert_eq!(status_of(&raw_exchange(port, request.as_bytes())), 200);
    assert_eq!(server.finish().result()["params"], json!({"code": "ok"}));
}

#[test]
fn expect_state_refuses_other_states_until_the_right_one() {
    let mut server = Server::start(&["--expect-state", "s3cret"]);
    let http = client();
    for query in [
        "code=1&state=wrong",
        "code=1",
        "error=access_denied&state=nope",
    ] {
        let response = http.get(format!("{}?{query}", server.uri)).send().unwrap();
        assert_eq!(response.status(), 400, "{query}");
        assert!(response.text().unwrap().contains("could not be verified"));
    }
    assert!(server.is_running());
    http.get(format!("{}?code=1&state=s3cret", server.uri))
        .send()
        .unwrap();
    assert_eq!(
        server.finish().result()["params"],
        json!({"code": "1", "state": "s3cret"})
    );
}

#[test]
fn expect_issuer_refuses_a_mixed_up_issuer() {
    let mut server = Server::start(&["--expect-issuer", "https://idp.example"]);
    let http = client();
    let mixed_up = http
        .get(format!(
            "{}?code=1&iss=https%3A%2F%2Fattacker.example",
            server.uri
        ))
        .send()
        .unwrap();
    assert_eq!(mixed_up.status(), 400);
    assert!(server.is_running());
    http.get(format!(
        "{}?code=1&iss=https%3A%2F%2Fidp.example",
        server.uri
    ))
    .send()
    .unwrap();
    assert_eq!(
        server.finish().result()["params"]["iss"],
        "https://idp.example"
    );
}

#[test]
fn fragment_posts_need_our_origin_while_form_posts_may_come_cross_site() {
    let mut server = Server::start(&[]);
    let http = client();
    let fragment = json!({"fragment_params": {"access_token": "stolen"}});
    for origin in ["https://evil.example", "null"] {
        let response = http
            .post(&server.uri)
            .header("Origin", origin)
            .json(&fragment)
            .send()
            .unwrap();
        assert_eq!(response.status(), 403, "{origin}");
        assert!(
            !response
                .headers()
                .keys()
                .any(|h| h.as_str().starts_with("access-control-"))
        );
    }
    let preflight = http
        .request(reqwest::Method::OPTIONS, &server.uri)
        .send()
        .unwrap();
    assert_eq!(preflight.status(), 405);
    assert!(server.is_running());

    // response_mode=form_post arrives from the provider's origin, by design.
    let form = http
        .post(&server.uri)
        .header("Origin", "https://idp.example")
        .form(&[("code", "c"), ("state", "s")])
        .send()
        .unwrap();
    assert_eq!(form.status(), 200);
    assert_eq!(
        server.finish().result()["params"],
        json!({"code": "c", "state": "s"})
    );
}

/// The fetch metadata a browser sends with a request: site, mode, dest.
fn fetch_metadata(
    request: reqwest::blocking::RequestBuilder,
    (site, mode, dest): (&str, &str, &str),
) -> reqwest::blocking::RequestBuilder {
    request
        .header("Sec-Fetch-Site", site)
        .header("Sec-Fetch-Mode", mode)
        .header("Sec-Fetch-Dest", dest)
}

#[test]
fn pages_in_the_browser_cannot_complete_the_flow_by_subresource_requests() {
    let mut server = Server::start(&[]);
    let http = client();
    let url = format!("{}?code=ATTACKER", server.uri);
    for metadata in [
        ("cross-site", "no-cors", "image"),
        ("cross-site", "cors", "empty"),
        ("cross-site", "navigate", "iframe"),
        ("cross-site", "no-cors", "script"),
        ("same-site", "no-cors", "image"),
    ] {
        let response = fetch_metadata(http.get(&url), metadata).send().unwrap();
        assert_eq!(response.status(), 403, "{metadata:?}");
    }
    assert!(server.is_running(), "the flow stays pending");
    let navigation = ("cross-site", "navigate", "document");
    let response = fetch_metadata(http.get(format!("{}?code=real", server.uri)), navigation)
        .send()
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(server.finish().result()["params"], json!({"code": "real"}));
}

#[test]
fn form_post_navigations_bridge_posts_and_plain_clients_complete() {
    let navigation = ("cross-site", "navigate", "document");
    let form_post = Server::start(&[]);
    let response = fetch_metadata(client().post(&form_post.uri), navigation)
        .header("Origin", "https://idp.example")
        .form(&[("code", "posted")])
        .send()
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(form_post.finish().result()["params"]["code"], "posted");

    let bridge = Server::start(&[]);
    let response = fetch_metadata(client().post(&bridge.uri), ("same-origin", "cors", "empty"))
        .header("Origin", bridge.origin.clone())
        .json(&json!({"fragment_params": {"access_token": "at"}}))
        .send()
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(bridge.finish().result()["params"]["access_token"], "at");

    let plain = Server::start(&[]);
    assert_eq!(plain.callback("code=curl").status(), 200);
    assert_eq!(plain.finish().result()["params"]["code"], "curl");
}

#[test]
fn a_fragment_post_from_our_own_origin_completes() {
    let server = Server::start(&[]);
    let response = client()
        .post(&server.uri)
        .header("Origin", server.origin.clone())
        .json(&json!({"fragment_params": {"access_token": "at"}}))
        .send()
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(
        server.finish().result()["params"],
        json!({"access_token": "at"})
    );
}

#[test]
fn the_first_result_is_never_replaced() {
    let server = Server::start(&["--no-https"]);
    // A second callback already in flight (its head sent, one byte of its
    // body missing) when the first one completes.
    let mut late = TcpStream::connect(("127.0.0.1", server.port)).unwrap();
    late.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    write!(
        late,
        "POST /callback HTTP/1.1\r\nHost: 127.0.0.1:{}\r\n\
         Content-Type: application/x-www-form-urlencoded\r\nContent-Length: 11\r\n\r\ncode=secon",
        server.port
    )
    .unwrap();
    std::thread::sleep(Duration::from_millis(200));
    let first = raw_exchange(
        server.port,
        format!(
            "GET /callback?code=first HTTP/1.1\r\nHost: 127.0.0.1:{}\r\nConnection: close\r\n\r\n",
            server.port
        )
        .as_bytes(),
    );
    assert_eq!(status_of(&first), 200);
    late.write_all(b"d").unwrap();
    let mut answer = String::new();
    let _ = late.read_to_string(&mut answer);
    assert_eq!(status_of(&answer), 410, "{answer}");
    assert_eq!(server.finish().result()["params"], json!({"code": "first"}));
}

#[test]
fn oversized_bodies_and_heads_are_refused() {
    let mut server = Server::start(&["--no-https"]);
    let port = server.port;
    let host = format!("Host: 127.0.0.1:{port}");

    // Announced as 10 MB: refused before the body is sent.
    let started = Instant::now();
    let announced = format!(
        "POST /callback HTTP/1.1\r\n{host}\r\nContent-Type: application/json\r\nContent-Length: 10000000\r\n\r\n{{"
    );
    assert_eq!(status_of(&raw_exchange(port, announced.as_bytes())), 413);
    assert!(started.elapsed() < Duration::from_secs(2));

    // Chunked, with no length announced: cut off at the limit.
    let chunk = "a".repeat(8192);
    let mut chunked = format!(
        "POST /callback HTTP/1.1\r\n{host}\r\nContent-Type: application/x-www-form-urlencoded\r\nTransfer-Encoding: chunked\r\n\r\n"
    );
    for _ in 0..10 {
        chunked.push_str(&format!("2000\r\n{chunk}\r\n"));
    }
    chunked.push_str("0\r\n\r\n");
    assert_eq!(status_of(&raw_exchange(port, chunked.as_bytes())), 413);

    let long_header = format!(
        "GET /health HTTP/1.1\r\n{host}\r\nX-Big: {}\r\n\r\n",
        "b".repeat(20 << 10)
    );
    assert_eq!(status_of(&raw_exchange(port, long_header.as_bytes())), 431);
    let long_uri = format!(
        "GET /callback?x={} HTTP/1.1\r\n{host}\r\n\r\n",
        "u".repeat(20 << 10)
    );
    assert!(matches!(
        status_of(&raw_exchange(port, long_uri.as_bytes())),
        414 | 431
    ));

    assert!(server.is_running());
    server.callback("code=fine");
    assert_eq!(server.finish().result()["params"], json!({"code": "fine"}));
}

/// Whether the server closed `stream` (EOF or reset) within `wait`.
fn closed_within(stream: &mut TcpStream, wait: Duration) -> bool {
    stream.set_read_timeout(Some(wait)).unwrap();
    let mut buf = [0u8; 512];
    loop {
        match stream.read(&mut buf) {
            Ok(0) => return true,
            Ok(_) => continue,
            Err(e)
                if e.kind() == std::io::ErrorKind::WouldBlock
                    || e.kind() == std::io::ErrorKind::TimedOut =>
            {
                return false;
            }
            Err(_) => return true,
        }
    }
}

#[test]
fn silent_and_slow_clients_neither_block_others_nor_stay_forever() {
    let server = Server::start(&[]);
    let port = server.port;
    // A TCP client that never starts TLS, one that stalls mid-handshake-free
    // request head (over a plain socket the TLS server sees garbage-free
    // silence), and an idle keep-alive connection after a full request.
    let mut silent = TcpStream::connect(("127.0.0.1", port)).unwrap();
    let mut trickle = TcpStream::connect(("127.0.0.1", port)).unwrap();
    trickle.write_all(&[0x16, 0x03, 0x01]).unwrap(); // the start of a ClientHello, then nothing

    let plain = Server::start(&["--no-https"]);
    let opened = Instant::now();
    let mut slow_head = TcpStream::connect(("127.0.0.1", plain.port)).unwrap();
    slow_head
        .write_all(b"GET /callback?code=slow HTTP/1.1\r\nHo")
        .unwrap();
    let mut slow_body = TcpStream::connect(("127.0.0.1", plain.port)).unwrap();
    let head = format!(
        "POST /callback HTTP/1.1\r\nHost: 127.0.0.1:{}\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{{\"co",
        plain.port
    );
    slow_body.write_all(head.as_bytes()).unwrap();
    let mut idle = TcpStream::connect(("127.0.0.1", plain.port)).unwrap();
    let health = format!(
        "GET /health HTTP/1.1\r\nHost: 127.0.0.1:{}\r\n\r\n",
        plain.port
    );
    idle.write_all(health.as_bytes()).unwrap();

    // Meanwhile a real callback completes at once.
    let callback = Instant::now();
    server.callback("code=meanwhile");
    assert!(
        callback.elapsed() < Duration::from_secs(1),
        "{:?}",
        callback.elapsed()
    );
    let finished = server.finish();
    assert_eq!(finished.result()["params"], json!({"code": "meanwhile"}));

    // The plain server drops the slow head and the idle connection after 10 s.
    let early = Duration::from_secs(9).saturating_sub(opened.elapsed());
    assert!(!closed_within(&mut slow_head, early), "dropped too early");
    let remaining = Duration::from_secs(13).saturating_sub(opened.elapsed());
    assert!(
        closed_within(&mut slow_head, remaining),
        "a stalled request head stays open"
    );
    assert!(
        closed_within(&mut idle, Duration::from_secs(2)),
        "an idle keep-alive stays open"
    );
    slow_body
        .set_read_timeout(Some(Duration::from_secs(2)))
        .unwrap();
    let mut answer = String::new();
    let _ = slow_body.read_to_string(&mut answer);
    assert_eq!(
        status_of(&answer),
        408,
        "a stalled body must not hold its connection"
    );
    // The TLS server is gone already; its sockets were closed with it.
    assert!(closed_within(&mut silent, Duration::from_secs(1)));
    assert!(closed_within(&mut trickle, Duration::from_secs(1)));
    drop(plain);
}

#[test]
fn a_tls_handshake_that_never_finishes_is_dropped_after_10_seconds() {
    let _server = Server::start(&[]);
    let mut silent = TcpStream::connect(("127.0.0.1", _server.port)).unwrap();
    assert!(
        !closed_within(&mut silent, Duration::from_secs(8)),
        "dropped too early"
    );
    assert!(
        closed_within(&mut silent, Duration::from_secs(4)),
        "a silent TLS client stays"
    );
}

#[test]
fn every_response_has_a_strict_policy_and_nothing_is_reflected() {
    let server = Server::start(&[]);
    let http = client();
    for path in ["/health", "/nope", "/callback", "/callback?code=%FF"] {
        let response = http.get(server.url(path)).send().unwrap();
        let policy = response.headers()["content-security-policy"]
            .to_str()
            .unwrap()
            .to_string();
        for directive in [
            "default-src 'none'",
            "frame-ancestors 'none'",
            "base-uri 'none'",
            "form-action 'none'",
        ] {
            assert!(policy.contains(directive), "{path}: {policy}");
        }
        assert!(!policy.contains("unsafe-inline"), "{path}: {policy}");
        if path == "/callback" {
            assert!(
                policy.contains("script-src 'sha256-"),
                "the bridge script is allowed by hash"
            );
        }
    }
    let xss = "error=access_denied&error_description=%3Cscript%3Ealert(1)%3C%2Fscript%3E&code=SECRET-CODE-42";
    let page = http
        .get(format!("{}?{xss}", server.uri))
        .send()
        .unwrap()
        .text()
        .unwrap();
    // The provider's description is shown, escaped: text, never markup.
    assert!(!page.contains("<script>alert"), "{page}");
    assert!(
        page.contains("&lt;script&gt;alert(1)&lt;/script&gt;"),
        "{page}"
    );
    assert!(
        !page.contains("SECRET-CODE-42"),
        "nothing else of the request"
    );
    let finished = server.finish();
    assert!(
        !finished.stderr.contains("SECRET-CODE-42"),
        "secrets reached the log"
    );
    assert!(finished.stdout.contains("SECRET-CODE-42"));
}

#[test]
fn a_faulty_handler_costs_one_request_a_500_and_nothing_more() {
    let server = Server::start(&["--handler", test_artifacts::MISBEHAVING_HANDLER]);
    let http = client();
    for path in ["/loop", "/trap", "/oom", "/bad-header"] {
        let started = Instant::now();
        let response = http.get(server.url(path)).send().unwrap();
        assert_eq!(response.status(), 500, "{path}");
        assert!(
            started.elapsed() < Duration::from_secs(2),
            "{path} took {:?}",
            started.elapsed()
        );
    }
    let log = http.get(server.url("/log")).send().unwrap();
    assert_eq!(log.status(), 200, "a handler may write to stderr");
    http.get(format!("{}?code=survived", server.uri))
        .send()
        .unwrap();
    let finished = server.finish();
    assert_eq!(finished.status.code(), Some(0));
    assert_eq!(finished.result()["params"], json!({"code": "survived"}));
}
