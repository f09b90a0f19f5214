//! The one-shot flow: what completes it, what the user sees, what is printed.

use std::net::TcpStream;
use std::path::Path;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde_json::{Value, json};

use crate::support::{
    ERROR_MESSAGE, SUCCESS_MESSAGE, Server, client, client_without_redirects, mkfifo, run,
};

#[test]
fn code_in_query_shows_success_prints_json_and_exits() {
    let server = Server::start(&["--adhoc-ssl"]);
    assert!(
        server.uri.starts_with("https://127.0.0.1:"),
        "{}",
        server.uri
    );
    assert!(server.uri.ends_with("/callback"));
    let response = server.callback("code=abc&state=xyz");
    assert_eq!(response.status(), 200);
    assert!(
        response.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/html")
    );
    assert!(response.text().unwrap().contains(SUCCESS_MESSAGE));

    let port = server.port;
    let finished = server.finish();
    assert_eq!(finished.status.code(), Some(0));
    let result = finished.result();
    assert_eq!(result["params"], json!({"code": "abc", "state": "xyz"}));
    assert_eq!(result["method"], "GET");
    assert_eq!(result["path"], "/callback");
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let received_at = result["received_at"].as_u64().unwrap();
    assert!(now.abs_diff(received_at) < 60, "{received_at} vs {now}");
    assert!(
        TcpStream::connect(("127.0.0.1", port)).is_err(),
        "the port is still open after completion"
    );
}

#[test]
fn provider_error_shows_the_error_page_and_still_completes() {
    let server = Server::start(&[]);
    let page = server.page("error=access_denied&state=s");
    assert!(page.contains(ERROR_MESSAGE));
    let finished = server.finish();
    assert_eq!(finished.status.code(), Some(0));
    assert_eq!(
        finished.result()["params"],
        json!({"error": "access_denied", "state": "s"})
    );
    // One line on the certificate, which says that none was given.
    let said: Vec<&str> = finished
        .stderr
        .lines()
        .filter(|line| line.contains("certificate"))
        .collect();
    assert_eq!(said.len(), 1, "{}", finished.stderr);
    assert!(
        said[0].starts_with("no certificate given: serving a "),
        "{}",
        finished.stderr
    );
}

#[test]
fn invisible_characters_are_escaped_on_the_error_page_and_exact_in_the_json() {
    // U+202E would show `0000-555-008-1` as a number to call; U+200B hides.
    let server = Server::start(&[]);
    let page =
        server.page("error=access_denied&error_description=call+%E2%80%AE0000-555-008-1%E2%80%8B");
    assert!(
        page.contains("call \\u{202e}0000-555-008-1\\u{200b}"),
        "{page}"
    );
    assert!(!page.contains('\u{202e}') && !page.contains('\u{200b}'));
    let result = server.finish().result();
    assert_eq!(
        result["params"]["error_description"],
        "call \u{202e}0000-555-008-1\u{200b}"
    );
}

#[test]
fn json_mode_by_query_answers_json_without_the_control_parameter() {
    let server = Server::start(&["--no-https"]);
    assert!(server.uri.starts_with("http://"));
    let response = server.callback("code=c1&format=json");
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-type"], "application/json");
    let body: Value = response.json().unwrap();
    assert_eq!(body, json!({"ok": true, "params": {"code": "c1"}}));
    assert_eq!(server.finish().result()["params"], json!({"code": "c1"}));
}

#[test]
fn json_mode_by_accept_header_reports_pending_then_completes() {
    let server = Server::start(&[]);
    let pending = client()
        .get(format!("{}?state=only", server.uri))
        .header("Accept", "application/json")
        .send()
        .unwrap();
    assert_eq!(pending.status(), 202);
    assert_eq!(
        pending.json::<Value>().unwrap(),
        json!({"ok": false, "pending": true})
    );

    let done = client()
        .get(format!("{}?error=server_error", server.uri))
        .header("Accept", "application/json")
        .send()
        .unwrap();
    assert_eq!(done.json::<Value>().unwrap()["ok"], true);
    assert_eq!(
        server.finish().result()["params"],
        json!({"error": "server_error"})
    );
}

#[test]
fn custom_pages_are_served_as_given() {
    let dir = tempfile::tempdir().unwrap();
    let success = dir.path().join("success.html");
    std::fs::write(&success, "<h1>Custom success</h1>").unwrap();
    let server = Server::start(&[
        "--success-html",
        success.to_str().unwrap(),
        "--error-html",
        dir.path().join("missing.html").to_str().unwrap(),
    ]);
    let page = server.page("code=1");
    assert_eq!(page, "<h1>Custom success</h1>");
    assert_eq!(server.finish().status.code(), Some(0));
}

#[test]
fn missing_page_files_are_logged_and_fall_back() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("nope.html");
    let server = Server::start(&["--error-html", missing.to_str().unwrap()]);
    let page = server.page("error=x");
    assert!(page.contains(ERROR_MESSAGE));
    let finished = server.finish();
    assert!(finished.stderr.contains("nope.html"), "{}", finished.stderr);
    assert_eq!(finished.status.code(), Some(0));
}

#[test]
fn devices_fifos_and_oversized_pages_fall_back_without_blocking() {
    let dir = tempfile::tempdir().unwrap();
    let fifo = dir.path().join("page.fifo");
    mkfifo(&fifo);
    let huge = dir.path().join("huge.html");
    std::fs::write(&huge, "<p>".repeat(700_000)).unwrap(); // 2.1 MB
    for page in [Path::new("/dev/zero"), &fifo, &huge] {
        let server = Server::start(&["--success-html", page.to_str().unwrap()]);
        assert!(server.page("code=1").contains(SUCCESS_MESSAGE), "{page:?}");
        let finished = server.finish();
        assert_eq!(finished.status.code(), Some(0), "{page:?}");
        let named = page.file_name().unwrap().to_str().unwrap();
        assert!(
            finished.stderr.contains(named) && finished.stderr.contains("built-in page"),
            "{page:?}: {}",
            finished.stderr
        );
    }
}

#[test]
fn a_page_with_thousands_of_inline_scripts_is_served() {
    let dir = tempfile::tempdir().unwrap();
    let page = dir.path().join("scripts.html");
    let scripts: String = (0..5000)
        .map(|i| format!("<script>var x{i} = {i};</script>"))
        .collect();
    std::fs::write(&page, format!("<p>done</p>{scripts}")).unwrap();
    let server = Server::start(&["--success-html", page.to_str().unwrap()]);
    let bridge = client().get(&server.uri).send().unwrap();
    assert_eq!(bridge.status(), 200, "the bridge allows the page's scripts");
    let policy = bridge.headers()["content-security-policy"]
        .to_str()
        .unwrap();
    assert_eq!(
        policy.matches("'sha256-").count(),
        5000 + 3,
        "each block, the bridge, the built-in error page's script, the style"
    );
    assert!(server.page("code=1").starts_with("<p>done</p>"));
    assert_eq!(server.finish().status.code(), Some(0));
}

#[test]
fn bridge_page_then_fragment_post_completes() {
    let mut server = Server::start(&[]);
    let bridge = client().get(&server.uri).send().unwrap();
    assert_eq!(bridge.status(), 200);
    let html = bridge.text().unwrap();
    assert!(html.contains("location.hash") && html.contains("fragment_params"));
    assert!(server.is_running(), "the bridge must not complete the flow");

    let done = client()
        .post(&server.uri)
        .json(&json!({"fragment_params": {"access_token": "at", "id_token": "it", "state": "s"}}))
        .send()
        .unwrap();
    assert!(done.text().unwrap().contains(SUCCESS_MESSAGE));
    let result = server.finish().result();
    assert_eq!(result["method"], "POST");
    assert_eq!(
        result["params"],
        json!({"access_token": "at", "id_token": "it", "state": "s"})
    );
}

#[test]
fn state_in_the_query_and_tokens_in_the_fragment_are_merged() {
    // What the bridge page posts for `?state=S#access_token=T`: the
    // fragment, to the address with its query.
    let server = Server::start(&["--expect-state", "S"]);
    let bridge = server.callback("state=S");
    assert!(bridge.text().unwrap().contains("fragment_params"));
    let post = |fragment: Value| {
        client()
            .post(format!("{}?state=S", server.uri))
            .header("Sec-Fetch-Site", "same-origin")
            .json(&json!({ "fragment_params": fragment }))
            .send()
            .unwrap()
            .status()
    };
    // One key with two values is refused, and the flow stays pending.
    assert_eq!(post(json!({"state": "X", "access_token": "T"})), 400);
    assert_eq!(
        post(json!({"state": "S", "access_token": "T", "token_type": "Bearer"})),
        200
    );
    let result = server.finish().result();
    assert_eq!(
        result["params"],
        json!({"state": "S", "access_token": "T", "token_type": "Bearer"})
    );
    assert_eq!(result["method"], "POST");
}

#[test]
fn form_post_completes() {
    let server = Server::start(&[]);
    let response = client()
        .post(&server.uri)
        .form(&[("code", "form code"), ("state", "s&t")])
        .send()
        .unwrap();
    assert!(response.text().unwrap().contains(SUCCESS_MESSAGE));
    let result = server.finish().result();
    assert_eq!(result["method"], "POST");
    assert_eq!(
        result["params"],
        json!({"code": "form code", "state": "s&t"})
    );
}

#[test]
fn json_body_keeps_json_types() {
    let server = Server::start(&[]);
    client()
        .post(&server.uri)
        .json(&json!({"code": "c", "expires_in": 3600, "nested": {"a": [1, true]}}))
        .send()
        .unwrap();
    assert_eq!(
        server.finish().result()["params"],
        json!({"code": "c", "expires_in": 3600, "nested": {"a": [1, true]}})
    );
}

#[test]
fn merge_order_is_query_then_body_then_fragment() {
    let server = Server::start(&[]);
    let post = |fragment: Value| {
        client()
            .post(format!(
                "{}?code=query&from_query=1&shared=query",
                server.uri
            ))
            .json(&json!({"shared": "json", "fragment_params": fragment}))
            .send()
            .unwrap()
            .status()
    };
    // The fragment may add keys and repeat equal ones, never contradict.
    assert_eq!(post(json!({"code": "fragment"})), 400);
    assert_eq!(post(json!({"shared": "query"})), 400);
    assert_eq!(post(json!({"code": "query", "token_type": "Bearer"})), 200);
    assert_eq!(
        server.finish().result()["params"],
        json!({"code": "query", "from_query": "1", "shared": "json", "token_type": "Bearer"})
    );

    let server = Server::start(&[]);
    client()
        .post(format!("{}?code=query&state=q", server.uri))
        .form(&[("code", "form")])
        .send()
        .unwrap();
    assert_eq!(
        server.finish().result()["params"],
        json!({"code": "form", "state": "q"})
    );
}

#[test]
fn a_custom_path_is_normalised() {
    let server = Server::start(&["--path", "oauth/done"]);
    assert!(server.uri.ends_with("/oauth/done"), "{}", server.uri);
    let not_here = client().get(server.url("/callback?code=1")).send().unwrap();
    assert_eq!(not_here.status(), 404);
    server.callback("code=1");
    assert_eq!(server.finish().result()["path"], "/oauth/done");
}

#[test]
fn timeout_exits_124_with_nothing_on_stdout() {
    let server = Server::start(&["--timeout", "0.5"]);
    let finished = server.finish();
    assert_eq!(finished.status.code(), Some(124));
    assert_eq!(finished.stdout, "");
    assert!(
        finished.stderr.contains("no callback"),
        "{}",
        finished.stderr
    );
}

#[test]
fn ctrl_c_exits_130_even_right_after_the_ready_line() {
    // The signal is caught before the ready line is printed: a Ctrl-C at
    // once is a clean stop, never the default kill (no exit code).
    for _ in 0..10 {
        let server = Server::start(&[]);
        server.interrupt();
        let finished = server.finish();
        assert_eq!(finished.status.code(), Some(130), "{}", finished.stderr);
        assert_eq!(finished.stdout, "");
    }
}

#[test]
fn a_callback_answered_200_is_never_lost_to_a_signal_at_the_same_moment() {
    race_a_callback_with_a_signal("INT", 130, 60);
}

#[test]
fn a_callback_answered_200_is_never_lost_to_a_hangup_at_the_same_moment() {
    // SIGHUP (the terminal closed) is caught as SIGINT is: never the default
    // kill, never exit 129 once the browser was told it succeeded.
    race_a_callback_with_a_signal("HUP", 129, 10);
}

/// Send a callback's last byte and the signal `name` at about the same
/// moment, up to `tries` times (30 s at most): each run either delivers the
/// result (exit 0) or stops with `stopped` having answered no 200; a signal
/// after the 200 never loses the result.
fn race_a_callback_with_a_signal(name: &str, stopped: i32, tries: usize) {
    use std::io::{Read, Write};
    let started = Instant::now();
    let (mut delivered, mut signalled) = (0, 0);
    for attempt in 0..tries {
        if started.elapsed() > Duration::from_secs(30) {
            break;
        }
        let server = Server::start(&["--no-https"]);
        let mut stream = TcpStream::connect(("127.0.0.1", server.port)).unwrap();
        let head = format!(
            "POST /callback HTTP/1.1\r\nHost: 127.0.0.1:{}\r\n\
             Content-Type: application/x-www-form-urlencoded\r\nContent-Length: 6\r\n\r\ncode=",
            server.port
        );
        stream.write_all(head.as_bytes()).unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(5)))
            .unwrap();
        std::thread::sleep(Duration::from_millis(5));
        // The last byte and the signal at about the same moment; the order
        // varies so that both sides of the race are taken, and every third
        // time the signal comes right after the answer's status line.
        let mut answer = Vec::new();
        match attempt % 3 {
            0 => {
                stream.write_all(b"x").unwrap();
                server.signal(name);
            }
            1 => {
                server.signal(name);
                stream.write_all(b"x").unwrap();
            }
            _ => {
                stream.write_all(b"x").unwrap();
                let mut buffer = [0; 1024];
                while !answer.windows(2).any(|end| end == b"\r\n") {
                    match stream.read(&mut buffer) {
                        Ok(read @ 1..) => answer.extend_from_slice(&buffer[..read]),
                        _ => break,
                    }
                }
                server.signal(name);
            }
        }
        let _ = stream.read_to_end(&mut answer);
        let answer = String::from_utf8_lossy(&answer);
        let finished = server.finish();
        let acknowledged = answer.starts_with("HTTP/1.1 200");
        match finished.status.code() {
            Some(0) => {
                assert_eq!(finished.result()["params"], json!({"code": "x"}));
                delivered += 1;
            }
            Some(code) if code == stopped => {
                assert!(
                    !acknowledged,
                    "SIG{name}, attempt {attempt}: acknowledged, then lost: {answer}"
                );
                assert!(!answer.contains(" 410 "), "a stop is not 410: {answer}");
                assert_eq!(finished.stdout, "");
                signalled += 1;
            }
            other => panic!(
                "SIG{name}, attempt {attempt}: exit {other:?} ({:?}): {}",
                finished.status, finished.stderr
            ),
        }
    }
    eprintln!("SIG{name}: {delivered} delivered, {signalled} stopped, none lost");
    assert!(
        delivered + signalled >= tries.min(10),
        "too few attempts ran"
    );
}

#[test]
fn sigterm_stops_cleanly_with_143_and_frees_the_port() {
    let server = Server::start(&[]);
    let port = server.port;
    server.signal("TERM");
    let finished = server.finish();
    assert_eq!(finished.status.code(), Some(143), "{}", finished.stderr);
    assert_eq!(finished.stdout, "");
    let last = finished.stderr.lines().last().unwrap_or_default();
    assert_eq!(last, "terminated; no callback was received");
    std::net::TcpListener::bind(("127.0.0.1", port)).expect("the port is free again");
}

#[test]
fn sighup_and_sigquit_stop_cleanly_with_129_and_131_and_free_the_port() {
    for (name, code, said) in [
        (
            "HUP",
            129,
            "hung up (the terminal closed); no callback was received",
        ),
        ("QUIT", 131, "quit; no callback was received"),
    ] {
        let server = Server::start(&[]);
        let port = server.port;
        server.signal(name);
        let finished = server.finish();
        assert_eq!(
            finished.status.code(),
            Some(code),
            "SIG{name} ({:?}): {}",
            finished.status,
            finished.stderr
        );
        assert_eq!(finished.stdout, "", "SIG{name}");
        let last = finished.stderr.lines().last().unwrap_or_default();
        assert_eq!(last, said, "SIG{name}");
        std::net::TcpListener::bind(("127.0.0.1", port))
            .unwrap_or_else(|e| panic!("SIG{name}: the port is not free again: {e}"));
    }
}

#[test]
fn success_and_error_redirects_send_the_browser_on_without_the_callback() {
    for (query, flag, target) in [
        (
            "code=c&state=s",
            "--success-redirect",
            "https://app.example/signed-in",
        ),
        (
            "error=access_denied",
            "--error-redirect",
            "http://127.0.0.1:9/failed",
        ),
    ] {
        let server = Server::start(&[flag, target]);
        let answer = client_without_redirects()
            .get(format!("{}?{query}", server.uri))
            .send()
            .unwrap();
        assert_eq!(answer.status(), 303, "{flag}");
        // An explicit empty fragment: the callback's own never follows.
        assert_eq!(answer.headers()["location"], format!("{target}#"));
        assert_eq!(answer.headers()["referrer-policy"], "no-referrer");
        assert!(
            !answer.headers()["location"]
                .to_str()
                .unwrap()
                .contains("code=")
        );
        assert_eq!(server.finish().status.code(), Some(0), "{flag}");
    }
    // JSON mode (automation) still gets JSON.
    let server = Server::start(&["--success-redirect", "https://app.example/"]);
    let json = server.callback("code=1&format=json");
    assert_eq!(json.status(), 200);
    assert_eq!(server.finish().status.code(), Some(0));
    // The bridge's fetch gets its page (a redirect would break the fetch)
    // and, in `Refresh`, where its script sends the browser.
    let server = Server::start(&["--success-redirect", "https://app.example/"]);
    let bridged = client_without_redirects()
        .post(&server.uri)
        .header("Accept", "text/html")
        .header("Sec-Fetch-Mode", "cors")
        .header("Sec-Fetch-Site", "same-origin")
        .header("Sec-Fetch-Dest", "empty")
        .json(&serde_json::json!({"fragment_params": {"access_token": "at"}}))
        .send()
        .unwrap();
    assert_eq!(bridged.status(), 200);
    assert_eq!(bridged.headers()["refresh"], "0;url=https://app.example/#");
    assert!(bridged.text().unwrap().contains(SUCCESS_MESSAGE));
    assert_eq!(server.finish().status.code(), Some(0));
    // Without Fetch Metadata (older Safari), the JSON body tells the fetch.
    let server = Server::start(&["--success-redirect", "https://app.example/"]);
    let bridged = client_without_redirects()
        .post(&server.uri)
        .header("Accept", "text/html")
        .json(&serde_json::json!({"fragment_params": {"access_token": "at"}}))
        .send()
        .unwrap();
    assert_eq!(bridged.status(), 200, "no 303 for the bridge's fetch");
    assert_eq!(bridged.headers()["refresh"], "0;url=https://app.example/#");
    assert_eq!(server.finish().status.code(), Some(0));
    // Only where the browser may go.
    for bad in [
        "http://app.example/",
        "https://u@app.example/",
        "javascript:alert(1)",
    ] {
        let refused = run(&["--success-redirect", bad]);
        assert_eq!(refused.status.code(), Some(2), "{bad}");
        assert!(
            refused.stderr.contains("invalid --success-redirect"),
            "{}",
            refused.stderr
        );
    }
}

#[test]
fn a_refused_callback_is_said_on_stderr_and_the_wait_goes_on() {
    // A provider that leaves `iss` out of its error response (RFC 9207 §2
    // asks for it there too), with --expect-issuer.
    let mut server = Server::start(&[
        "--no-https",
        "--expect-issuer",
        "https://id.example",
        "--expect-state",
        "s3cret",
    ]);
    let answer = server.callback("error=invalid_scope&state=s3cret");
    assert_eq!(answer.status(), 400);
    let said = server.next_stderr_line();
    assert_eq!(
        said,
        "warning: refused a callback: no iss (the provider reported error=invalid_scope); still waiting"
    );
    let guessed = server.callback("code=c&state=guess&iss=https://id.example");
    assert_eq!(guessed.status(), 400);
    let said = server.next_stderr_line();
    assert_eq!(
        said,
        "warning: refused a callback: a state other than the expected one; still waiting"
    );
    assert!(server.is_running(), "the wait goes on");
    let done = server.callback("code=c&state=s3cret&iss=https://id.example");
    assert_eq!(done.status(), 200);
    assert_eq!(server.finish().result()["params"]["code"], "c");
}
