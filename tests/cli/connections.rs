//! What real clients do to connections, and what it must never cost: a
//! client that resets right after its request, idle connections (a
//! browser's speculative preconnect, a finished TLS handshake) when the flow
//! ends or times out, and the same redirect sent twice at once over both
//! loopback addresses.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

use serde_json::json;

use crate::support::{Server, client, reset, status_of, tls_connect, wait_until_delivered};

/// Wait for `server` to exit: how long after `since` it did.
fn exited_after(server: &mut Server, since: Instant) -> Duration {
    let deadline = Instant::now() + Duration::from_secs(30);
    while server.is_running() {
        assert!(Instant::now() < deadline, "it did not exit");
        std::thread::sleep(Duration::from_millis(1));
    }
    since.elapsed()
}

#[test]
fn a_request_whose_client_resets_at_once_still_completes_the_flow() {
    // The code is single-use: a request that has arrived is handled to the
    // end whatever happens to its connection.
    for attempt in 0..10 {
        let server = Server::start(&["--timeout", "10"]);
        let mut tls = tls_connect(server.port);
        // Every other client keeps Nagle's algorithm on (Python's ssl, for
        // one): its request waits for the last handshake message's ACK.
        tls.sock.set_nodelay(attempt % 2 == 0).unwrap();
        let request = format!(
            "GET /callback?code=abc{attempt} HTTP/1.1\r\nHost: 127.0.0.1:{}\r\n\r\n",
            server.port
        );
        tls.write_all(request.as_bytes()).unwrap();
        tls.flush().unwrap();
        // Once it has arrived (a client with Nagle's algorithm on may hold
        // it back until its handshake's last message is acknowledged: the
        // server acknowledges at once, TCP_QUICKACK), at once or while the
        // handler runs.
        wait_until_delivered(&tls.sock);
        std::thread::sleep(Duration::from_millis(attempt % 3));
        reset(tls.sock);
        let finished = server.finish();
        assert_eq!(
            finished.status.code(),
            Some(0),
            "attempt {attempt}: {}",
            finished.stderr
        );
        assert_eq!(
            finished.result()["params"],
            json!({ "code": format!("abc{attempt}") })
        );
    }
}

#[test]
fn idle_connections_hold_neither_the_exit_nor_the_timeout() {
    // Beside the callback: a TCP connection that never sends a byte (a
    // browser's preconnect) and a TLS one that sent nothing after its
    // handshake.
    let mut server = Server::start(&[]);
    let idle_tcp = TcpStream::connect(("127.0.0.1", server.port)).unwrap();
    let idle_tls = tls_connect(server.port);
    std::thread::sleep(Duration::from_millis(200));
    assert_eq!(server.callback("code=idle").status(), 200);
    let exit = exited_after(&mut server, Instant::now());
    eprintln!(
        "exit {} ms after the answer, with an idle TCP and an idle TLS connection open",
        exit.as_millis()
    );
    assert!(exit < Duration::from_millis(1000), "{exit:?}");
    assert_eq!(server.finish().result()["params"], json!({"code": "idle"}));
    drop((idle_tcp, idle_tls));

    let mut server = Server::start(&["--timeout", "1"]);
    let ready = Instant::now();
    let idle_tcp = TcpStream::connect(("127.0.0.1", server.port)).unwrap();
    let idle_tls = tls_connect(server.port);
    let exit = exited_after(&mut server, ready);
    eprintln!(
        "--timeout 1 ended {} ms after the ready line, with the same idle connections",
        exit.as_millis()
    );
    assert!(exit < Duration::from_millis(1600), "{exit:?}");
    assert_eq!(server.finish().status.code(), Some(124));
    drop((idle_tcp, idle_tls));
}

#[test]
fn a_request_under_way_when_the_flow_ends_is_answered() {
    // Its head half sent when another callback completes the flow: it is
    // read to the end and answered 410, not cut off.
    let server = Server::start(&["--no-https"]);
    let mut late = TcpStream::connect(("127.0.0.1", server.port)).unwrap();
    let head = format!(
        "GET /callback?code=second HTTP/1.1\r\nHost: 127.0.0.1:{}\r\n",
        server.port
    );
    late.write_all(head.as_bytes()).unwrap();
    std::thread::sleep(Duration::from_millis(100));
    assert_eq!(server.callback("code=first").status(), 200);
    late.write_all(b"\r\n").unwrap();
    late.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let mut answer = String::new();
    let _ = late.read_to_string(&mut answer);
    assert_eq!(status_of(&answer), 410, "{answer}");
    assert_eq!(server.finish().result()["params"], json!({"code": "first"}));
}

#[test]
fn the_same_redirect_at_once_over_both_loopbacks_gets_two_answers() {
    // A double-click, or a browser that tries both addresses of localhost:
    // exactly one completes, and the other gets an HTTP answer (410, or 503
    // while stopping), never an empty reply. (A connection that comes after
    // the server stopped listening is refused: nothing was there to answer.)
    const ATTEMPTS: usize = 12;
    let mut both_answered = 0;
    for attempt in 0..ATTEMPTS {
        let https = attempt % 2 == 0;
        let mut args = vec!["--host", "localhost", "--timeout", "10"];
        if !https {
            args.push("--no-https");
        }
        let server = Server::start(&args);
        let scheme = if https { "https" } else { "http" };
        let barrier = Arc::new(Barrier::new(2));
        let senders: Vec<_> = ["127.0.0.1", "[::1]"]
            .into_iter()
            .map(|host| {
                let url = format!("{scheme}://{host}:{}/callback?code=twice", server.port);
                let barrier = barrier.clone();
                std::thread::spawn(move || {
                    let client = client();
                    barrier.wait();
                    client
                        .get(&url)
                        .send()
                        .map(|answer| answer.status().as_u16())
                })
            })
            .collect();
        let mut statuses = Vec::new();
        for sender in senders {
            match sender.join().unwrap() {
                Ok(status) => statuses.push(status),
                Err(e) if e.is_connect() => {}
                Err(e) => panic!("attempt {attempt} ({scheme}): no HTTP answer: {e:?}"),
            }
        }
        statuses.sort();
        match statuses.as_slice() {
            [200, 410] | [200, 503] => both_answered += 1,
            [200] => {}
            other => panic!("attempt {attempt} ({scheme}): {other:?}"),
        }
        assert_eq!(server.finish().result()["params"], json!({"code": "twice"}));
    }
    eprintln!("both answered in {both_answered} of {ATTEMPTS} attempts");
    assert!(
        both_answered >= ATTEMPTS / 3,
        "the race was run too rarely: {both_answered} of {ATTEMPTS}"
    );
}
