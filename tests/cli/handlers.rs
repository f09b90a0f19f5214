//! Swapping the handler at run time with `--handler`, and refusing components
//! that do not fit the contract or the sandbox.

use serde_json::json;

use crate::support::{Server, built_handler, client, run};

#[test]
fn a_branded_handler_replaces_pages_and_completion_rule() {
    let mut server = Server::start(&["--handler", &built_handler("branded_handler")]);
    let http = client();
    let lone_code = http.get(format!("{}?code=1", server.uri)).send().unwrap();
    assert_eq!(
        lone_code.status(),
        400,
        "the branded rule wants a state too"
    );
    assert!(server.is_running());

    let page = http
        .get(format!("{}?code=1&state=s", server.uri))
        .send()
        .unwrap()
        .text()
        .unwrap();
    assert!(page.contains("Welcome to Acme"), "{page}");
    let finished = server.finish();
    assert_eq!(finished.status.code(), Some(0));
    assert_eq!(
        finished.result()["params"],
        json!({"code": "1", "state": "s"})
    );
}

#[test]
fn the_exported_default_handler_loads_back_with_handler() {
    let dir = tempfile::tempdir().unwrap();
    let wasm = dir.path().join("default.wasm");
    let export = run(&["export-handler", wasm.to_str().unwrap()]);
    assert_eq!(export.status.code(), Some(0), "{}", export.stderr);
    let bytes = std::fs::read(&wasm).unwrap();
    assert!(bytes.starts_with(b"\0asm"));

    let server = Server::start(&["--handler", wasm.to_str().unwrap()]);
    client()
        .get(format!("{}?code=round-trip", server.uri))
        .send()
        .unwrap();
    assert_eq!(
        server.finish().result()["params"],
        json!({"code": "round-trip"})
    );
}

/// Assert `--handler file` is refused with exit 2 and one line containing `needle`.
fn assert_refused(file: &str, needle: &str) {
    let finished = run(&["--port", "0", "--handler", file]);
    assert_eq!(finished.status.code(), Some(2), "{}", finished.stderr);
    let lines: Vec<&str> = finished.stderr.trim().lines().collect();
    assert_eq!(lines.len(), 1, "{}", finished.stderr);
    assert!(lines[0].contains(file), "{}", lines[0]);
    assert!(lines[0].contains(needle), "{}", lines[0]);
}

#[test]
fn unusable_handlers_are_one_line_and_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    let write = |name: &str, bytes: &[u8]| {
        let path = dir.path().join(name);
        std::fs::write(&path, bytes).unwrap();
        path.to_str().unwrap().to_string()
    };
    assert_refused(&write("text.wasm", b"hello"), "not a WebAssembly component");
    assert_refused(
        &write("core.wasm", b"\0asm\x01\0\0\0"),
        "core WebAssembly module",
    );
    assert_refused(
        &write("empty.wasm", b"\0asm\x0d\0\x01\0"),
        "does not export",
    );
    assert_refused(&built_handler("uses_std_handler"), "wasi:cli/environment");
    assert_refused("/nonexistent/handler.wasm", "cannot read");
}
