//! Settings every face gets from the library alone: the ready file written
//! once listening, the deadline the countdowns read, and configuration
//! refused before anything listens.

use std::net::TcpListener;
use std::time::{Duration, Instant};

use oauth_callback::{CallbackServer, Config, Error, Tls};

#[test]
fn the_ready_file_holds_the_redirect_uri_once_listening_and_nothing_else_is_left() {
    let dir = tempfile::tempdir().unwrap();
    let ready = dir.path().join("ready");
    std::fs::write(&ready, "stale\n").unwrap();
    let config = Config::builder()
        .port(0)
        .tls(Tls::Disabled)
        .ready_file(&ready)
        .build()
        .unwrap();
    let server = CallbackServer::start(config).unwrap();
    assert_eq!(
        std::fs::read_to_string(&ready).unwrap(),
        format!("{}\n", server.redirect_uri())
    );
    let names: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(names, ["ready"], "no partial file left beside it");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&ready).unwrap().permissions().mode();
        assert_eq!(mode & 0o077, 0, "readable by its owner only");
    }
    drop(server);
}

#[test]
fn a_ready_file_that_cannot_be_written_is_an_error_and_nothing_listens() {
    let dir = tempfile::tempdir().unwrap();
    let taken = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port();
    drop(taken);
    let ready = dir.path().join("missing").join("ready");
    let config = Config::builder()
        .port(port)
        .tls(Tls::Disabled)
        .ready_file(&ready)
        .build()
        .unwrap();
    match CallbackServer::start(config) {
        Err(Error::ReadyFile { path, .. }) => assert_eq!(path, ready),
        other => panic!("{other:?}"),
    }
    TcpListener::bind(("127.0.0.1", port)).expect("the port is free again");
}

#[test]
fn the_deadline_is_the_timeout_counted_from_the_start() {
    let before = Instant::now();
    let config = Config::builder()
        .port(0)
        .tls(Tls::Disabled)
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap();
    let server = CallbackServer::start(config).unwrap();
    let after = Instant::now();
    let deadline = server.deadline();
    assert!(deadline >= before + Duration::from_secs(30), "{deadline:?}");
    assert!(deadline <= after + Duration::from_secs(30), "{deadline:?}");
}

#[test]
fn a_missing_certificate_is_said_before_a_busy_port() {
    let busy = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = busy.local_addr().unwrap().port();
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("cert.pem");
    let config = Config::builder()
        .port(port)
        .tls(Tls::Pem {
            cert: missing.clone(),
            key: dir.path().join("key.pem"),
        })
        .build()
        .unwrap();
    match CallbackServer::start(config) {
        Err(Error::Pem { path, .. }) => assert_eq!(path, missing),
        other => panic!("{other:?}"),
    }
    let handler = dir.path().join("handler.wasm");
    std::fs::write(&handler, b"not a component").unwrap();
    let config = Config::builder()
        .port(port)
        .tls(Tls::Disabled)
        .handler(&handler)
        .build()
        .unwrap();
    assert!(
        matches!(CallbackServer::start(config), Err(Error::Handler { .. })),
        "a broken handler component is said before the busy port"
    );
}
