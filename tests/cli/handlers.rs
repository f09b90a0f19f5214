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
    server.callback("code=round-trip");
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

#[test]
fn compiled_handlers_are_cached_and_reused() {
    let cache = tempfile::tempdir().unwrap();
    let env = [("XDG_CACHE_HOME", cache.path().to_str().unwrap())];
    let entries = || -> Vec<std::path::PathBuf> {
        std::fs::read_dir(cache.path().join("oauth-callback"))
            .map(|dir| dir.map(|e| e.unwrap().path()).collect())
            .unwrap_or_default()
    };
    for round in 0..2 {
        let server = Server::start_with_env(&[], &env);
        server.callback("code=cached");
        assert_eq!(server.finish().status.code(), Some(0), "round {round}");
        let cached = entries();
        assert_eq!(cached.len(), 1, "{cached:?}");
        assert!(cached[0].extension().is_some_and(|e| e == "cwasm"));
    }
    // A corrupt entry is recompiled, not trusted.
    std::fs::write(&entries()[0], b"garbage").unwrap();
    let server = Server::start_with_env(&[], &env);
    server.callback("code=recompiled");
    assert_eq!(
        server.finish().result()["params"],
        json!({"code": "recompiled"})
    );
}
