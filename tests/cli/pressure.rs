//! Holding the line under pressure: connections held half-open, floods of
//! stray requests and handlers that never return must not keep the real
//! callback out, nor grow the server without bound.

use std::io::Write;
use std::net::TcpStream;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use serde_json::json;

use crate::support::{Server, client, heavy};

/// The server's connection limit (`host/src/server/connections.rs`).
const MAX_CONNECTIONS: usize = 256;

/// A field of `/proc/PID/status`, in kB.
fn proc_status_kb(pid: u32, field: &str) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    status
        .lines()
        .find_map(|line| line.strip_prefix(field)?.trim().strip_suffix(" kB"))
        .and_then(|kb| kb.trim().parse().ok())
        .unwrap_or_else(|| panic!("no {field} in /proc/{pid}/status"))
}

fn open_descriptors(pid: u32) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/fd"))
        .unwrap()
        .count()
}

/// Whether the server has closed `stream` (EOF or reset) already.
fn closed(stream: &TcpStream) -> bool {
    stream.set_nonblocking(true).unwrap();
    let mut byte = [0u8; 1];
    let closed = match stream.peek(&mut byte) {
        Ok(0) => true,
        Ok(_) => false,
        Err(e) => e.kind() != std::io::ErrorKind::WouldBlock,
    };
    stream.set_nonblocking(false).unwrap();
    closed
}

#[test]
fn half_open_connections_and_a_flood_do_not_keep_the_callback_out() {
    let _alone = heavy();
    const HALF_OPEN: usize = 300;
    const FLOODERS: usize = 16;
    let server = Server::start(&[]);
    let pid = server.pid();

    // 16 keep-alive clients asking for stray paths as fast as they can.
    let stop = Arc::new(AtomicBool::new(false));
    let flooders: Vec<_> = (0..FLOODERS)
        .map(|_| {
            let (stop, url) = (stop.clone(), server.url("/favicon.ico"));
            thread::spawn(move || {
                let http = client();
                let mut answered = 0u32;
                while !stop.load(Ordering::Relaxed) {
                    if http.get(&url).send().is_ok_and(|r| r.status() == 404) {
                        answered += 1;
                    }
                }
                answered
            })
        })
        .collect();

    // 300 connections that send the first bytes of a ClientHello and stall.
    let half_open: Vec<TcpStream> = (0..HALF_OPEN)
        .map(|_| {
            let mut stream = TcpStream::connect(("127.0.0.1", server.port)).unwrap();
            stream.write_all(&[0x16, 0x03, 0x01]).unwrap();
            stream
        })
        .collect();
    thread::sleep(Duration::from_millis(200));

    // The browser's callback, on a fresh TLS connection.
    let started = Instant::now();
    let response = client()
        .get(format!("{}?code=through", server.uri))
        .send()
        .expect("the callback got through");
    let latency = started.elapsed();
    assert_eq!(response.status(), 200);
    let descriptors = open_descriptors(pid);
    let peak_rss_kb = proc_status_kb(pid, "VmHWM:");

    stop.store(true, Ordering::Relaxed);
    let answered: u32 = flooders.into_iter().map(|f| f.join().unwrap()).sum();
    let evicted = half_open.iter().filter(|stream| closed(stream)).count();
    let oldest_evicted = half_open[..HALF_OPEN - MAX_CONNECTIONS]
        .iter()
        .filter(|stream| closed(stream))
        .count();
    eprintln!(
        "callback in {latency:?} under {HALF_OPEN} half-open connections and {FLOODERS} \
         flooders ({answered} stray answers); {evicted} evicted; {descriptors} descriptors; \
         peak RSS {} MiB",
        peak_rss_kb / 1024
    );
    assert!(latency < Duration::from_secs(1), "{latency:?}");
    assert!(
        oldest_evicted == HALF_OPEN - MAX_CONNECTIONS,
        "the oldest half-open connections make room: {oldest_evicted} closed"
    );
    assert!(
        descriptors < MAX_CONNECTIONS + 64,
        "{descriptors} descriptors open"
    );
    assert!(peak_rss_kb < 64 * 1024, "peak RSS {peak_rss_kb} kB");
    assert_eq!(
        server.finish().result()["params"],
        json!({"code": "through"})
    );
}

#[test]
fn a_handler_blocked_in_a_host_call_costs_its_request_a_500_after_the_deadline() {
    let _alone = heavy();
    let server = Server::start(&["--handler", test_artifacts::MISBEHAVING_HANDLER]);
    let started = Instant::now();
    let response = client().get(server.url("/sleep")).send().unwrap();
    let took = started.elapsed();
    assert_eq!(response.status(), 500);
    assert!(
        took >= Duration::from_millis(900) && took < Duration::from_secs(3),
        "the 1 s deadline: {took:?}"
    );

    // 32 of them at once (twice the instance pool) do not starve the callback.
    let sleepers: Vec<_> = (0..32)
        .map(|_| {
            let url = server.url("/sleep");
            thread::spawn(move || client().get(url).send().map(|r| r.status().as_u16()))
        })
        .collect();
    thread::sleep(Duration::from_millis(100));
    let callback = client()
        .get(format!("{}?code=survived", server.uri))
        .send()
        .unwrap();
    assert_eq!(callback.status(), 200);
    // Sleepers still queued when the flow completed are cut off by the stop.
    let statuses: Vec<Option<u16>> = sleepers
        .into_iter()
        .map(|sleeper| sleeper.join().unwrap().ok())
        .collect();
    let deadlines = statuses.iter().filter(|s| **s == Some(500)).count();
    assert!(
        deadlines >= 16 && statuses.iter().all(|s| matches!(s, Some(500) | None)),
        "{statuses:?}"
    );
    let finished = server.finish();
    assert_eq!(finished.result()["params"], json!({"code": "survived"}));
}
