//! The same component under other wasi:http hosts: plain `wasmtime serve`
//! (no `-S` flags) and `jco serve`. Both serve the default routes and pages,
//! and print a result line on stdout for each completing request.

use std::io::{BufRead, BufReader};
use std::os::unix::process::CommandExt;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::thread;
use std::time::Duration;

use serde_json::{Value, json};

use crate::support::{ERROR_MESSAGE, SUCCESS_MESSAGE, assert_hardened, client, free_port, run};

/// A wasi:http host process serving the exported default handler.
struct WasiHost {
    child: Child,
    origin: String,
    stdout: mpsc::Receiver<String>,
    _dir: tempfile::TempDir,
}

impl WasiHost {
    /// Export the embedded handler, start `program` with `args(wasm, port)`,
    /// and wait until the port answers. When `program` is missing, the test
    /// fails with `install`, the one line that gets it (scripts/test runs it).
    fn start(
        program: &str,
        install: &str,
        args: impl FnOnce(&str, u16) -> Vec<String>,
    ) -> WasiHost {
        let dir = tempfile::tempdir().unwrap();
        let wasm = dir.path().join("handler.wasm");
        let export = run(&["export-handler", wasm.to_str().unwrap()]);
        assert_eq!(export.status.code(), Some(0), "{}", export.stderr);
        let port = free_port();
        let mut child = Command::new(program)
            .args(args(wasm.to_str().unwrap(), port))
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            // Its own process group, so that `Drop` also stops its children
            // (`jco serve` runs the server in a child node process).
            .process_group(0)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot run {program} ({e}); get it with: {install}"));
        let (tx, rx) = mpsc::channel();
        let stdout = child.stdout.take().unwrap();
        thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                let _ = tx.send(line);
            }
        });
        let host = WasiHost {
            child,
            origin: format!("http://127.0.0.1:{port}"),
            stdout: rx,
            _dir: dir,
        };
        host.wait_until_ready();
        host
    }

    fn wait_until_ready(&self) {
        let http = client();
        for _ in 0..600 {
            if http.get(format!("{}/health", self.origin)).send().is_ok() {
                return;
            }
            thread::sleep(Duration::from_millis(50));
        }
        panic!("the wasi:http host did not answer on {}", self.origin);
    }

    /// The next result line the host printed, parsed (`wasmtime serve`
    /// prefixes guest output with `stdout [N] :: `).
    fn next_result(&self) -> Value {
        loop {
            let line = self
                .stdout
                .recv_timeout(Duration::from_secs(10))
                .expect("no result line on stdout");
            if let Some(start) = line.find("{\"params\"") {
                return serde_json::from_str(&line[start..]).unwrap();
            }
        }
    }
}

impl Drop for WasiHost {
    fn drop(&mut self) {
        let group = format!("-{}", self.child.id());
        let _ = Command::new("kill").args(["-KILL", "--", &group]).status();
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The core flow, against any wasi:http host serving the default handler.
fn exercise(host: &WasiHost) {
    let http = client();
    let callback = format!("{}/callback", host.origin);

    let health = http.get(format!("{}/health", host.origin)).send().unwrap();
    assert_eq!(
        (health.status().as_u16(), health.text().unwrap()),
        (200, "OK".into())
    );
    let stray = http
        .get(format!("{}/favicon.ico", host.origin))
        .send()
        .unwrap();
    assert_eq!(stray.status(), 404);
    assert_hardened(&stray, "a stray path");

    let success = http
        .get(format!("{callback}?code=abc&state=xyz"))
        .send()
        .unwrap();
    assert!(success.text().unwrap().contains(SUCCESS_MESSAGE));
    let result = host.next_result();
    assert_eq!(result["params"], json!({"code": "abc", "state": "xyz"}));
    assert_eq!(
        (result["method"].as_str(), result["path"].as_str()),
        (Some("GET"), Some("/callback"))
    );
    assert!(result["received_at"].as_u64().unwrap() > 1_700_000_000);

    let error = http
        .get(format!("{callback}?error=access_denied"))
        .send()
        .unwrap();
    assert!(error.text().unwrap().contains(ERROR_MESSAGE));
    assert_eq!(
        host.next_result()["params"],
        json!({"error": "access_denied"})
    );

    let json_mode: Value = http
        .get(format!("{callback}?code=j&format=json"))
        .send()
        .unwrap()
        .json()
        .unwrap();
    assert_eq!(json_mode, json!({"ok": true, "params": {"code": "j"}}));
    assert_eq!(host.next_result()["params"], json!({"code": "j"}));

    let bridge = http.get(&callback).send().unwrap().text().unwrap();
    assert!(bridge.contains("fragment_params"));
    let fragment = http
        .post(&callback)
        .json(&json!({"fragment_params": {"access_token": "at", "state": "s"}}))
        .send()
        .unwrap();
    assert!(fragment.text().unwrap().contains(SUCCESS_MESSAGE));
    let result = host.next_result();
    assert_eq!(
        result["params"],
        json!({"access_token": "at", "state": "s"})
    );
    assert_eq!(result["method"], "POST");

    let form = http
        .post(&callback)
        .form(&[("code", "f"), ("state", "s")])
        .send()
        .unwrap();
    assert!(form.text().unwrap().contains(SUCCESS_MESSAGE));
    assert_eq!(
        host.next_result()["params"],
        json!({"code": "f", "state": "s"})
    );
}

#[test]
fn plain_wasmtime_serve_runs_the_same_component() {
    let wasmtime = std::env::var("WASMTIME").unwrap_or_else(|_| "wasmtime".into());
    let install = "scripts/wasmtime-cli (and WASMTIME=<the path it prints>)";
    let host = WasiHost::start(&wasmtime, install, |wasm, port| {
        vec![
            "serve".into(),
            "--addr".into(),
            format!("127.0.0.1:{port}"),
            wasm.into(),
        ]
    });
    exercise(&host);
}

#[test]
fn jco_serve_runs_the_same_component() {
    let jco = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../tests/e2e/node_modules/.bin/jco"
    );
    let host = WasiHost::start(jco, "(cd tests/e2e && npm ci)", |wasm, port| {
        let port = port.to_string();
        ["serve", "--host", "127.0.0.1", "--port", &port, wasm]
            .map(String::from)
            .into()
    });
    exercise(&host);
}
