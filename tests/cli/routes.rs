//! Routes that never complete the flow: health, strays, wrong methods, bad input.

use serde_json::json;

use crate::support::{Server, assert_hardened, client};

#[test]
fn health_stray_paths_and_wrong_methods_leave_the_flow_pending() {
    let mut server = Server::start(&[]);
    let http = client();

    let health = http.get(server.url("/health")).send().unwrap();
    assert_eq!(health.status(), 200);
    assert!(
        health.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/plain")
    );
    assert_eq!(health.text().unwrap(), "OK");

    for stray in ["/favicon.ico?code=1", "/?code=1", "/callback/extra?code=1"] {
        assert_eq!(
            http.get(server.url(stray)).send().unwrap().status(),
            404,
            "{stray}"
        );
    }
    let put = http.put(format!("{}?code=1", server.uri)).send().unwrap();
    assert_eq!(put.status(), 405);
    assert_eq!(put.headers()["allow"], "GET, HEAD, POST");
    assert!(server.is_running());

    http.get(format!("{}?code=after", server.uri))
        .send()
        .unwrap();
    assert_eq!(server.finish().result()["params"], json!({"code": "after"}));
}

#[test]
fn malformed_input_gets_a_generic_400_and_the_flow_stays_pending() {
    let mut server = Server::start(&[]);
    let http = client();
    let bad_utf8 = http.get(format!("{}?code=%FF", server.uri)).send().unwrap();
    assert_eq!(bad_utf8.status(), 400);
    assert!(!bad_utf8.text().unwrap().contains("%FF"));

    for body in [
        "{not json",
        "[1,2]",
        "\"code\"",
        // Repeated keys, and completion keys that are not strings.
        r#"{"code":"a","code":"b"}"#,
        r#"{"fragment_params":{"access_token":"a","access_token":"b"}}"#,
        r#"{"code":{"x":[1,2]},"state":7}"#,
        r#"{"error":null}"#,
    ] {
        let response = http
            .post(&server.uri)
            .header("content-type", "application/json")
            .body(body)
            .send()
            .unwrap();
        assert_eq!(response.status(), 400, "{body}");
    }
    let repeated = http
        .get(format!("{}?code=1&code=2", server.uri))
        .send()
        .unwrap();
    assert_eq!(repeated.status(), 400);
    assert!(server.is_running());

    // Other JSON values keep their types.
    let typed = http
        .post(&server.uri)
        .header("content-type", "application/json")
        .body(r#"{"code":"good","expires_in":3600,"scope":["a"]}"#)
        .send()
        .unwrap();
    assert_eq!(typed.status(), 200);
    assert_eq!(
        server.finish().result()["params"],
        json!({"code": "good", "expires_in": 3600, "scope": ["a"]})
    );
}

#[test]
fn every_response_carries_the_security_headers() {
    let server = Server::start(&[]);
    let http = client();
    for path in ["/health", "/nope", "/callback"] {
        assert_hardened(&http.get(server.url(path)).send().unwrap(), path);
    }
}
