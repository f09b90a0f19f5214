//! The library API, in process: the two levels of the original module.

use std::net::{TcpListener, TcpStream};
use std::time::Duration;

use oauth_callback::{CallbackResult, CallbackServer, Config, Error, Tls, run_callback_server};

use crate::client;

#[test]
fn start_wait_and_shutdown() {
    let config = Config::builder()
        .port(0)
        .tls(Tls::Disabled)
        .build()
        .unwrap();
    let mut server = CallbackServer::start(config).unwrap();
    let addr = server.local_addr();
    assert_eq!(
        server.redirect_uri(),
        format!("http://127.0.0.1:{}/callback", addr.port())
    );

    let uri = server.redirect_uri().to_string();
    let browser = std::thread::spawn(move || {
        client()
            .get(format!("{uri}?code=lib&state=s"))
            .send()
            .unwrap()
            .status()
    });
    let result = server
        .wait_for(Duration::from_secs(10))
        .expect("the callback arrived");
    assert_eq!(
        (result.code(), result.state(), result.error()),
        (Some("lib"), Some("s"), None)
    );
    assert_eq!(browser.join().unwrap(), 200);
    assert!(
        server.wait_for(Duration::from_millis(10)).is_none(),
        "handed out once"
    );
    server.shutdown();
    assert!(TcpStream::connect(addr).is_err(), "the port is released");
}

#[test]
fn run_callback_server_returns_none_after_the_timeout() {
    let config = Config::builder()
        .port(0)
        .timeout(Duration::from_millis(200))
        .build()
        .unwrap();
    assert!(run_callback_server(config).unwrap().is_none());
}

#[test]
fn wait_keeps_the_configured_timeout_counted_from_the_start() {
    let config = Config::builder()
        .port(0)
        .tls(Tls::Disabled)
        .timeout(Duration::from_millis(600))
        .build()
        .unwrap();
    let started = std::time::Instant::now();
    let mut server = CallbackServer::start(config).unwrap();
    std::thread::sleep(Duration::from_millis(400));
    assert!(server.wait().is_none());
    let waited = started.elapsed();
    assert!(
        waited >= Duration::from_millis(600) && waited < Duration::from_millis(950),
        "the deadline is the start plus the timeout, not the call plus it: {waited:?}"
    );
    // As in the original module, it keeps listening until shut down.
    let uri = server.redirect_uri().to_string();
    assert_eq!(
        client()
            .get(format!("{uri}?code=late"))
            .send()
            .unwrap()
            .status(),
        200
    );
    let late = server
        .wait_for(Duration::from_secs(10))
        .expect("a later wait gets it");
    assert_eq!(late.code(), Some("late"));
    server.shutdown();
}

#[test]
fn errors_are_typed_with_their_causes_and_name_no_flag() {
    use oauth_callback::{PemError, Setting};
    use std::error::Error as _;
    let busy = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = busy.local_addr().unwrap().port();
    let config = Config::builder().port(port).build().unwrap();
    let error = CallbackServer::start(config).unwrap_err();
    assert!(matches!(error, Error::PortInUse(addr) if addr.port() == port));
    assert!(error.to_string().contains("already in use"), "{error}");

    let pem = Tls::Pem {
        cert: "/no/cert.pem".into(),
        key: "/no/key.pem".into(),
    };
    let config = Config::builder().port(0).tls(pem).build().unwrap();
    let error = CallbackServer::start(config).unwrap_err();
    match &error {
        Error::Pem {
            path,
            source: PemError::Read(io),
        } => {
            assert!(path.ends_with("cert.pem"), "{error}");
            assert_eq!(io.kind(), std::io::ErrorKind::NotFound);
        }
        other => panic!("{other:?}"),
    }
    assert!(error.source().is_some(), "the cause is kept");

    let error = Config::builder()
        .timeout(Duration::ZERO)
        .build()
        .unwrap_err();
    assert!(
        matches!(
            error,
            Error::InvalidSetting {
                setting: Setting::Timeout,
                ..
            }
        ),
        "{error:?}"
    );
    let error = Config::builder().host("0.0.0.0").build().unwrap_err();
    assert!(matches!(error, Error::NotLoopback { .. }), "{error:?}");
    for message in [
        error.to_string(),
        format!("{:?}", Config::builder().path("/a b").build()),
    ] {
        assert!(
            !message.contains("--"),
            "no CLI flag in library messages: {message}"
        );
    }
}

#[test]
fn results_round_trip_through_the_cli_json() {
    let line =
        r#"{"params":{"code":"c","n":1},"method":"POST","path":"/cb","received_at":1730000000}"#;
    let result: CallbackResult = serde_json::from_str(line).unwrap();
    assert_eq!(result.code(), Some("c"));
    assert_eq!(result.params()["n"], 1);
    assert_eq!(result.to_json_line(), line);
}

/// The async face inside `#[tokio::main]`-style runtimes of both flavours:
/// start, learn the URI, wait for the callback, shut down.
async fn async_flow() {
    use oauth_callback::AsyncCallbackServer;
    let config = Config::builder()
        .port(0)
        .tls(Tls::Disabled)
        .build()
        .unwrap();
    let mut server = AsyncCallbackServer::start(config).await.unwrap();
    let addr = server.local_addr();
    assert!(
        server.wait_for(Duration::from_millis(50)).await.is_none(),
        "nothing yet"
    );
    let uri = server.redirect_uri().to_string();
    let browser = tokio::task::spawn_blocking(move || {
        client()
            .get(format!("{uri}?code=async&state=s"))
            .send()
            .unwrap()
            .status()
    });
    let result = server
        .wait_for(Duration::from_secs(10))
        .await
        .expect("the callback arrived");
    assert_eq!((result.code(), result.state()), (Some("async"), Some("s")));
    assert_eq!(browser.await.unwrap(), 200);
    assert!(server.shutdown().await.is_none(), "nothing completed late");
    assert!(TcpStream::connect(addr).is_err(), "the port is released");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_async_api_runs_on_a_multi_threaded_runtime() {
    async_flow().await;
}

#[tokio::test(flavor = "current_thread")]
async fn the_async_api_runs_on_a_current_thread_runtime() {
    async_flow().await;
}

#[tokio::test]
async fn the_blocking_api_inside_a_runtime_is_a_clear_error_not_a_panic() {
    let config = Config::builder().port(0).build().unwrap();
    let error = CallbackServer::start(config).unwrap_err();
    assert!(matches!(error, Error::InsideAsyncRuntime), "{error:?}");
    assert!(error.to_string().contains("AsyncCallbackServer"), "{error}");
}

#[test]
fn ports_are_tried_in_order() {
    let busy = TcpListener::bind("127.0.0.1:0").unwrap();
    let taken = busy.local_addr().unwrap().port();
    let config = Config::builder()
        .ports([taken, 0])
        .tls(Tls::Disabled)
        .build()
        .unwrap();
    let server = CallbackServer::start(config).unwrap();
    assert_ne!(server.local_addr().port(), taken);
    server.shutdown();

    let config = Config::builder().ports([taken, taken]).build().unwrap();
    match CallbackServer::start(config).unwrap_err() {
        Error::NoPortAvailable(attempts) => {
            assert_eq!(attempts.len(), 2);
            assert!(
                attempts
                    .iter()
                    .all(|e| matches!(e, Error::PortInUse(a) if a.port() == taken))
            );
        }
        other => panic!("{other:?}"),
    }
    let empty = Config::builder().ports([]).build().unwrap_err();
    assert!(matches!(empty, Error::InvalidSetting { .. }), "{empty:?}");
}
