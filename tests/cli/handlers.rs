//! Swapping the handler at run time with `--handler`, and refusing components
//! that do not fit the contract or the sandbox.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use serde_json::json;

use crate::support::{Server, client, heavy, mkfifo, run};

#[test]
fn a_branded_handler_replaces_pages_and_completion_rule() {
    let mut server = Server::start(&["--handler", test_artifacts::BRANDED_HANDLER]);
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
    assert_refused(test_artifacts::USES_STD_HANDLER, "wasi:cli/environment");
    assert_refused("/nonexistent/handler.wasm", "cannot read");
    assert_refused("/dev/zero", "not a regular file");
    let fifo = dir.path().join("handler.fifo");
    mkfifo(&fifo);
    assert_refused(fifo.to_str().unwrap(), "not a regular file");
}

/// The files in `dir`, none when it does not exist.
fn entries(dir: &Path) -> Vec<PathBuf> {
    std::fs::read_dir(dir)
        .map(|dir| dir.map(|e| e.unwrap().path()).collect())
        .unwrap_or_default()
}

fn mode(path: &Path) -> u32 {
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

/// Sign in once through the branded handler with `env`, in `cwd`.
fn branded_flow(cwd: Option<&Path>, env: &[(&str, &str)]) {
    let server = Server::start_in(cwd, &["--handler", test_artifacts::BRANDED_HANDLER], env);
    server.callback("code=c&state=s");
    assert_eq!(server.finish().status.code(), Some(0));
}

#[test]
fn handler_files_are_compiled_once_into_a_private_cache() {
    let cache = tempfile::tempdir().unwrap();
    let env = [("XDG_CACHE_HOME", cache.path().to_str().unwrap())];
    let folder = cache.path().join("oauth-callback");
    for round in 0..2 {
        branded_flow(None, &env);
        let cached = entries(&folder);
        assert_eq!(cached.len(), 1, "round {round}: {cached:?}");
        assert!(cached[0].extension().is_some_and(|e| e == "cwasm"));
        assert_eq!(mode(&cached[0]), 0o600);
    }
    assert_eq!(mode(&folder), 0o700);
    let entry = entries(&folder).remove(0);

    // An entry someone else could have written is not run: it is replaced.
    std::fs::set_permissions(&entry, std::fs::Permissions::from_mode(0o666)).unwrap();
    branded_flow(None, &env);
    assert_eq!(mode(&entry), 0o600, "recompiled and replaced");

    // A corrupt entry is recompiled, not trusted.
    std::fs::write(&entry, b"garbage").unwrap();
    branded_flow(None, &env);
    assert!(std::fs::read(&entry).unwrap().len() > 1000);
}

#[test]
fn the_embedded_handler_needs_no_cache_and_writes_none() {
    let home = tempfile::tempdir().unwrap();
    std::fs::set_permissions(home.path(), std::fs::Permissions::from_mode(0o555)).unwrap();
    let home_str = home.path().to_str().unwrap();
    let server = Server::start_with_env(&[], &[("HOME", home_str), ("XDG_CACHE_HOME", home_str)]);
    server.callback("code=no-cache");
    assert_eq!(
        server.finish().result()["params"],
        json!({"code": "no-cache"})
    );
    assert!(entries(home.path()).is_empty(), "nothing written");
}

#[test]
fn an_empty_or_relative_xdg_cache_home_is_ignored() {
    let (cwd, home) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    for xdg in ["", "relative/cache"] {
        let env = [
            ("XDG_CACHE_HOME", xdg),
            ("HOME", home.path().to_str().unwrap()),
        ];
        branded_flow(Some(cwd.path()), &env);
        assert!(
            entries(cwd.path()).is_empty(),
            "{xdg:?}: written to the working directory"
        );
    }
    let cached = entries(&home.path().join(".cache/oauth-callback"));
    assert_eq!(
        cached.len(),
        1,
        "the cache falls back to ~/.cache: {cached:?}"
    );
}

/// The JavaScript example handler (`examples/js-handler`), built by the
/// test command with componentize-js.
fn js_handler() -> String {
    let path = std::env::var("OAUTH_CALLBACK_JS_HANDLER").unwrap_or_else(|_| {
        concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../target/js-handler/handler.wasm"
        )
        .into()
    });
    assert!(
        Path::new(&path).is_file(),
        "{path} is missing; build it with: (cd examples/js-handler && npm ci && npm run build)"
    );
    path
}

#[test]
fn a_handler_written_in_javascript_completes_a_real_callback_over_https() {
    let _alone = heavy();
    // Its own cache: the first start compiles the 12 MiB component.
    let cache = tempfile::tempdir().unwrap();
    let env = [("XDG_CACHE_HOME", cache.path().to_str().unwrap())];
    let mut server = Server::start_with_env(&["--handler", &js_handler()], &env);
    assert!(server.uri.starts_with("https://"), "{}", server.uri);
    let http = client();
    assert_eq!(
        http.get(server.url("/favicon.ico"))
            .send()
            .unwrap()
            .status(),
        404
    );
    let repeated = http
        .get(format!("{}?code=a&code=b", server.uri))
        .send()
        .unwrap();
    assert_eq!(repeated.status(), 400);
    assert!(
        server.is_running(),
        "a refused callback leaves the flow pending"
    );

    let page = server.page("code=js&state=s");
    assert!(
        page.contains("Example (JS)") && page.contains("Signed in"),
        "{page}"
    );
    let finished = server.finish();
    assert_eq!(finished.status.code(), Some(0));
    assert_eq!(
        finished.result()["params"],
        json!({"code": "js", "state": "s"})
    );
}
