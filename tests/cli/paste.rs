//! Paste-back: the address a browser on another machine ended at, pasted
//! where oauth-callback runs, completes the flow through the same handler
//! (from a pipe with --paste, from a terminal by default, and through the
//! library's `complete_from_url`).

use std::time::Duration;

use oauth_callback::{CallbackServer, Config, Mismatch, Pasted, Tls};
use serde_json::json;

use crate::support::{Server, client};

#[test]
fn a_pasted_address_completes_with_the_json_a_browser_would_give() {
    let mut server = Server::start(&["--paste"]);
    let uri = server.uri.clone();
    let browser = Server::start(&[]);
    browser.callback("code=pasted-code&state=s1");
    let from_browser = browser.finish().result();

    server.paste(&format!("{uri}?code=pasted-code&state=s1"));
    let finished = server.finish();
    assert_eq!(finished.status.code(), Some(0), "{}", finished.stderr);
    let result = finished.result();
    assert_eq!(result["params"], from_browser["params"]);
    assert_eq!(
        (&result["method"], &result["path"]),
        (&json!("GET"), &json!("/callback"))
    );
}

#[test]
fn a_pasted_address_with_state_in_the_query_and_tokens_in_the_fragment_completes() {
    let mut server = Server::start(&["--paste", "--expect-state", "S"]);
    let uri = server.uri.clone();
    server.paste(&format!("{uri}?state=S#access_token=T&token_type=Bearer"));
    let finished = server.finish();
    assert_eq!(finished.status.code(), Some(0), "{}", finished.stderr);
    assert_eq!(
        finished.result()["params"],
        json!({"state": "S", "access_token": "T", "token_type": "Bearer"})
    );
}

#[test]
fn wrong_addresses_are_explained_in_one_line_and_the_wait_goes_on() {
    let mut server = Server::start(&["--paste", "--expect-state", "right"]);
    let (uri, origin) = (server.uri.clone(), server.origin.clone());
    let other_port = format!(
        "https://127.0.0.1:{}/callback?code=secret-1",
        server.port + 1
    );
    let long = format!("{uri}?code={}", "x".repeat(oauth_callback::MAX_PASTED_URL));
    let cases = [
        ("garbage, not a URL".to_string(), "not an address"),
        (format!("{origin}/elsewhere?code=secret-2"), "another path"),
        (other_port, "another host or port"),
        (
            uri.replace("https:", "http:") + "?code=secret-3",
            "another scheme",
        ),
        (
            format!(
                "https://evil.example:{}/callback?code=secret-4",
                server.port
            ),
            "another host",
        ),
        (
            format!("https://localhost:{}/callback?code=secret-6", server.port),
            "another host",
        ),
        (format!("{uri}?state=right"), "no sign-in result"),
        (
            format!("{uri}?code=secret-5&state=wrong"),
            "state or issuer",
        ),
        (long, "too long"),
    ];
    for (pasted, why) in &cases {
        server.paste(pasted);
        let said = server.next_stderr_line();
        assert!(
            said.contains(why) && said.ends_with("still waiting"),
            "{pasted:.80}: {said}"
        );
        assert!(server.is_running());
    }
    server.paste(&format!("{uri}?code=good&state=right"));
    let finished = server.finish();
    assert_eq!(
        finished.result()["params"],
        json!({"code": "good", "state": "right"})
    );
    assert!(
        finished
            .stderr
            .ends_with("the pasted address completed the sign-in")
    );
    assert!(
        !finished.stderr.contains("paste here"),
        "no prompt for a pipe"
    );
    for secret in ["secret-", "xxxxxxxx"] {
        assert!(
            !finished.stderr.contains(secret),
            "echoed: {}",
            finished.stderr
        );
    }
}

#[test]
fn a_pasted_fragment_is_posted_as_the_bridge_page_would() {
    let mut server = Server::start(&["--paste", "--expect-state", "s2"]);
    let uri = server.uri.clone();
    server.paste(&format!(
        "{uri}#access_token=at&token_type=Bearer&state=s2&expires_in=60"
    ));
    let result = server.finish().result();
    assert_eq!(
        result["params"],
        json!({"access_token": "at", "token_type": "Bearer", "state": "s2", "expires_in": "60"})
    );
    assert_eq!(result["method"], "POST", "the bridge's request");
}

/// A running server of the library, on a free port.
fn library_server() -> oauth_callback::RunningServer {
    let config = Config::builder().port(0).tls(Tls::Adhoc).build().unwrap();
    CallbackServer::start(config).unwrap()
}

#[test]
fn the_library_says_what_became_of_a_pasted_address() {
    let mut server = library_server();
    let uri = server.redirect_uri().to_string();
    assert_eq!(
        server.complete_from_url("https://idp.example/authorize?x=1"),
        Pasted::NotTheCallback(Mismatch::Authority)
    );
    assert_eq!(server.complete_from_url(&uri), Pasted::Incomplete);
    // From another thread while this one waits.
    let paste_back = server.paste_back();
    let pasting = std::thread::spawn(move || {
        paste_back.complete_from_url(&format!("  {uri}?code=from-thread\n"))
    });
    let result = server
        .wait_for(Duration::from_secs(10))
        .expect("completed by the paste");
    assert_eq!(result.code(), Some("from-thread"));
    assert_eq!(pasting.join().unwrap(), Pasted::Completed);
    let again = format!("{}?code=again", server.redirect_uri());
    assert_eq!(server.complete_from_url(&again), Pasted::AlreadyComplete);
    server.shutdown();
}

#[test]
fn a_paste_after_the_browser_completed_is_refused() {
    let mut server = library_server();
    let answer = client()
        .get(format!("{}?code=browser", server.redirect_uri()))
        .send()
        .unwrap();
    assert_eq!(answer.status(), 200);
    let pasted = format!("{}?code=pasted", server.redirect_uri());
    assert_eq!(server.complete_from_url(&pasted), Pasted::AlreadyComplete);
    let result = server.wait_for(Duration::from_secs(10)).unwrap();
    assert_eq!(result.code(), Some("browser"));
    let paste_back = server.paste_back();
    server.shutdown();
    assert_eq!(paste_back.complete_from_url(&pasted), Pasted::Stopping);
}

#[tokio::test(flavor = "multi_thread")]
async fn the_async_face_takes_pasted_addresses() {
    let config = Config::builder().port(0).build().unwrap();
    let mut server = oauth_callback::AsyncCallbackServer::start(config)
        .await
        .unwrap();
    let pasted = format!("{}?error=access_denied", server.redirect_uri());
    assert_eq!(server.complete_from_url(&pasted).await, Pasted::Completed);
    let result = server.wait_for(Duration::from_secs(5)).await.unwrap();
    assert_eq!(result.error(), Some("access_denied"));
    server.shutdown().await;
}

#[test]
fn a_handler_answering_503_or_410_does_not_end_the_paste_back() {
    let config = Config::builder()
        .port(0)
        .handler(test_artifacts::MISBEHAVING_HANDLER)
        .build()
        .unwrap();
    let mut server = CallbackServer::start(config).unwrap();
    let uri = server.redirect_uri().to_string();
    for status in [503, 410] {
        let pasted = server.complete_from_url(&format!("{uri}?status={status}"));
        assert_eq!(
            pasted,
            Pasted::Refused {
                status,
                reason: None
            }
        );
    }
    assert_eq!(
        server.complete_from_url(&format!("{uri}?code=after")),
        Pasted::Completed
    );
    assert_eq!(
        server.wait_for(Duration::from_secs(5)).unwrap().code(),
        Some("after")
    );
}
