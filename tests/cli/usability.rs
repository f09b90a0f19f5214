//! What makes the CLI pleasant: ready signals, both loopbacks, --open,
//! progress, quiet mode, reusable certificates, completions and the man page.

use std::time::{Duration, Instant};

use serde_json::json;

use crate::support::{Server, client, run};

#[test]
fn ready_file_holds_the_real_redirect_uri() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("ready");
    let server = Server::start(&["--ready-file", file.to_str().unwrap()]);
    let written = std::fs::read_to_string(&file).unwrap();
    assert_eq!(written, format!("{}\n", server.uri));
    assert!(!server.uri.ends_with(":0/callback"));
    server.callback("code=1");
    assert_eq!(server.finish().status.code(), Some(0));
}

#[test]
fn the_ready_file_is_written_through_no_link_and_leaves_neighbours_alone() {
    // (A link at the ready file's own name is refused: see
    // arguments::a_ready_file_that_is_not_a_regular_file_is_refused_before_listening.)
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let (victim, file) = (dir.path().join("victim.txt"), dir.path().join("ready.uri"));
    std::fs::write(&victim, "keep me").unwrap();
    // A link planted at the old predictable temporary name, and a neighbour.
    std::os::unix::fs::symlink(&victim, dir.path().join("ready.partial")).unwrap();
    std::fs::write(dir.path().join("ready.partial.keep"), "neighbour").unwrap();

    let server = Server::start(&["--ready-file", file.to_str().unwrap()]);
    assert_eq!(std::fs::read_to_string(&victim).unwrap(), "keep me");
    let meta = std::fs::symlink_metadata(&file).unwrap();
    assert!(meta.is_file(), "the ready file is a plain file");
    assert_eq!(meta.permissions().mode() & 0o777, 0o600);
    assert_eq!(
        std::fs::read_to_string(&file).unwrap(),
        format!("{}\n", server.uri)
    );
    let names: Vec<String> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    assert_eq!(names.len(), 4, "no temporary file left behind: {names:?}");
    server.callback("code=1");
    assert_eq!(server.finish().status.code(), Some(0));
}

#[test]
fn ipv6_loopback_works() {
    let server = Server::start(&["--host", "::1"]);
    assert!(server.uri.starts_with("https://[::1]:"), "{}", server.uri);
    server.callback("code=v6");
    assert_eq!(server.finish().result()["params"], json!({"code": "v6"}));
}

#[test]
fn localhost_listens_on_both_loopbacks_with_one_port() {
    let server = Server::start(&["--host", "localhost"]);
    assert!(
        server.uri.starts_with("https://localhost:"),
        "{}",
        server.uri
    );
    let http = client();
    for origin in [
        format!("https://127.0.0.1:{}", server.port),
        format!("https://[::1]:{}", server.port),
    ] {
        let health = http.get(format!("{origin}/health")).send().unwrap();
        assert_eq!(health.status(), 200, "{origin}");
    }
    http.get(format!("https://[::1]:{}/callback?code=both", server.port))
        .send()
        .unwrap();
    assert_eq!(server.finish().result()["params"], json!({"code": "both"}));
}

#[test]
fn open_starts_the_browser_after_listening_with_the_real_uri() {
    let dir = tempfile::tempdir().unwrap();
    let opened = dir.path().join("opened");
    let browser = dir.path().join("browser.sh");
    std::fs::write(
        &browser,
        format!("#!/bin/sh\necho \"$1\" > {}\n", opened.display()),
    )
    .unwrap();
    std::fs::set_permissions(
        &browser,
        std::os::unix::fs::PermissionsExt::from_mode(0o755),
    )
    .unwrap();

    let server = Server::start_with_env(
        &[
            "--open",
            "https://idp.example/auth?client_id=c&redirect_uri={redirect_uri}",
        ],
        &[("BROWSER", browser.to_str().unwrap())],
    );
    let mut url = String::new();
    for _ in 0..100 {
        url = std::fs::read_to_string(&opened).unwrap_or_default();
        if !url.is_empty() {
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let encoded: String = url::form_urlencoded::byte_serialize(server.uri.as_bytes()).collect();
    assert_eq!(
        url.trim(),
        format!("https://idp.example/auth?client_id=c&redirect_uri={encoded}")
    );
    server.callback("code=1");
    assert_eq!(server.finish().status.code(), Some(0));
}

/// What a stand-in browser wrote to `file`, once it has (within 2 s).
fn written(file: &std::path::Path) -> String {
    for _ in 0..100 {
        match std::fs::read_to_string(file) {
            Ok(text) if !text.is_empty() => return text,
            _ => std::thread::sleep(Duration::from_millis(20)),
        }
    }
    String::new()
}

#[test]
fn the_browser_command_comes_before_browser_and_gets_the_url() {
    let dir = tempfile::tempdir().unwrap();
    let (by_command, by_env) = (dir.path().join("command"), dir.path().join("env"));
    let recorder = dir.path().join("record");
    std::fs::write(&recorder, "#!/bin/sh\necho \"$2\" > \"$1\"\n").unwrap();
    std::fs::set_permissions(
        &recorder,
        std::os::unix::fs::PermissionsExt::from_mode(0o755),
    )
    .unwrap();
    let command = format!(
        "'{}' '{}' {{url}}",
        recorder.display(),
        by_command.display()
    );
    let browser = format!("{} {}", recorder.display(), by_env.display());
    let server = Server::start_with_env(
        &[
            "--open",
            "https://idp.example/auth?a=1&b=2",
            "--browser-command",
            &command,
        ],
        &[("BROWSER", &browser)],
    );
    let opened = written(&by_command);
    assert_eq!(opened.trim(), "https://idp.example/auth?a=1&b=2");
    assert!(!by_env.exists(), "$BROWSER was not used");
    server.callback("code=1");
    assert_eq!(server.finish().status.code(), Some(0));
}

#[test]
fn a_browser_command_still_running_does_not_hold_up_the_callback() {
    // The opener waits up to a second for a browser command to fail; the
    // server answers meanwhile (the command serves on one thread).
    let dir = tempfile::tempdir().unwrap();
    let started = dir.path().join("started");
    let browser = dir.path().join("browser.sh");
    let body = format!(
        "#!/bin/sh\necho \"$1\" > '{}'\nsleep 3\n",
        started.display()
    );
    std::fs::write(&browser, body).unwrap();
    std::fs::set_permissions(
        &browser,
        std::os::unix::fs::PermissionsExt::from_mode(0o755),
    )
    .unwrap();
    let command = format!("'{}' {{url}}", browser.display());
    let server = Server::start_with_env(
        &[
            "--open",
            "https://idp.example/auth",
            "--browser-command",
            &command,
        ],
        &[],
    );
    assert_eq!(written(&started).trim(), "https://idp.example/auth");
    let sent = Instant::now();
    assert_eq!(server.callback("code=1").status(), 200);
    let answered = sent.elapsed();
    assert!(
        answered < Duration::from_millis(600),
        "answered after {answered:?}: the opener's wait held the server up"
    );
    assert_eq!(server.finish().result()["params"], json!({"code": "1"}));
}

#[test]
fn on_wsl_the_windows_browser_opens_the_url_and_nothing_in_it_breaks_out() {
    // PowerShell also takes ‘ ’ ‚ ‛ for single quotes: a URL that closes the
    // string with one must stay a URL. Every opener gets it serialised.
    let open =
        "https://idp.example/authorize?login_hint=a\u{2019};Start-Process calc;\u{2019}&b='2'";
    let serialised = "https://idp.example/authorize?login_hint=a%E2%80%99;Start-Process%20calc;%E2%80%99&b=%272%27";
    // Stand-ins for WSL's openers, first on PATH: each records its arguments.
    for opener in ["wslview", "powershell.exe"] {
        let dir = tempfile::tempdir().unwrap();
        let record = dir.path().join("opened");
        let script = dir.path().join(opener);
        let body = format!("#!/bin/sh\necho \"$@\" > '{}'\n", record.display());
        std::fs::write(&script, body).unwrap();
        std::fs::set_permissions(&script, std::os::unix::fs::PermissionsExt::from_mode(0o755))
            .unwrap();
        // Only the stand-in (and sh's own tools): never a real opener.
        let path = format!("{}:/usr/bin:/bin", dir.path().display());
        let server = Server::start_with_env(
            &["--open", open],
            &[("WSL_DISTRO_NAME", "Ubuntu"), ("PATH", &path)],
        );
        let opened = written(&record);
        let expected = match opener {
            "wslview" => serialised.to_string(),
            _ => format!("-NoProfile -NonInteractive -Command Start-Process '{serialised}'"),
        };
        assert_eq!(
            opened.trim(),
            expected,
            "{opener}: one argument, quoted for PowerShell"
        );
        server.callback("code=1");
        assert_eq!(server.finish().status.code(), Some(0));
    }
}

#[test]
fn a_browser_that_cannot_open_is_said_with_the_url_and_the_wait_goes_on() {
    // No browser anywhere: not $BROWSER, nothing on an empty PATH.
    let empty = tempfile::tempdir().unwrap();
    let mut server = Server::start_with_env(
        &["--open", "https://idp.example/auth?x=1"],
        &[
            ("BROWSER", "/nonexistent/browser"),
            ("PATH", empty.path().to_str().unwrap()),
        ],
    );
    std::thread::sleep(Duration::from_millis(300));
    assert!(server.is_running(), "still waiting for the callback");
    server.callback("code=1");
    let finished = server.finish();
    assert_eq!(finished.status.code(), Some(0));
    assert!(
        finished.stderr.contains("could not open a browser")
            && finished.stderr.contains("https://idp.example/auth?x=1"),
        "{}",
        finished.stderr
    );
}

#[test]
fn open_refuses_plain_http_to_other_hosts_and_userinfo() {
    for url in [
        "http://idp.example/auth",
        "http://127.0.0.1:80@evil.example/authorize?x=1",
        "http://localhost:x@evil.example/",
        "http://[::1]:@evil.example/",
    ] {
        let refused = run(&["--port", "0", "--open", url]);
        assert_eq!(refused.status.code(), Some(2), "{url}");
        assert!(
            refused.stderr.contains("https://") || refused.stderr.contains("user name"),
            "{url}: {}",
            refused.stderr
        );
        assert!(!refused.stderr.contains("listening on"), "{url}");
    }
}

#[test]
fn quiet_prints_only_the_result() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("ready");
    let server = Server::start_quiet(&["-q", "--ready-file", file.to_str().unwrap()], &file);
    server.callback("code=q");
    let finished = server.finish();
    assert_eq!(finished.stderr.trim(), "");
    assert_eq!(finished.result()["params"], json!({"code": "q"}));
}

#[test]
fn a_generated_certificate_is_served_with_tls_dir_and_trusted() {
    let dir = tempfile::tempdir().unwrap();
    let tls = dir.path().join("tls");
    let cert = run(&["cert", "--out", tls.to_str().unwrap()]);
    assert_eq!(cert.status.code(), Some(0), "{}", cert.stderr);
    let fingerprint = cert
        .stdout
        .lines()
        .find_map(|l| l.strip_prefix("SHA-256:"))
        .unwrap()
        .trim()
        .to_string();
    assert_eq!(fingerprint.len(), 95, "{fingerprint}");
    for system in [
        "certutil -d sql:",
        "security add-trusted-cert",
        "certutil -user -addstore Root",
    ] {
        assert!(cert.stdout.contains(system), "no {system} instructions");
    }
    // Asking again reuses the pair.
    let again = run(&["cert", "--out", tls.to_str().unwrap()]);
    assert!(again.stdout.contains(&fingerprint));

    let pem = std::fs::read(tls.join("cert.pem")).unwrap();
    let server = Server::start(&["--tls-dir", tls.to_str().unwrap()]);
    let trusting = reqwest::blocking::Client::builder()
        .add_root_certificate(reqwest::Certificate::from_pem(&pem).unwrap())
        .build()
        .unwrap();
    assert_eq!(
        trusting.get(server.url("/health")).send().unwrap().status(),
        200
    );
    trusting
        .get(format!("{}?code=trusted", server.uri))
        .send()
        .unwrap();
    assert_eq!(
        server.finish().result()["params"],
        json!({"code": "trusted"})
    );
}

/// `openssl x509 -noout` with `args` on `cert`.
fn openssl_x509(cert: &std::path::Path, args: &[&str]) -> String {
    let output = std::process::Command::new("openssl")
        .args(["x509", "-noout", "-in", cert.to_str().unwrap()])
        .args(args)
        .output()
        .expect("openssl runs (scripts/test installs it)");
    assert!(output.status.success(), "{output:?}");
    String::from_utf8(output.stdout).unwrap()
}

#[test]
fn generated_certificates_are_short_lived_server_certificates_renewed_in_time() {
    let dir = tempfile::tempdir().unwrap();
    let tls = dir.path().join("tls");
    assert_eq!(
        run(&["cert", "--out", tls.to_str().unwrap()]).status.code(),
        Some(0)
    );
    let cert = tls.join("cert.pem");
    let text = openssl_x509(&cert, &["-text"]);
    assert!(text.contains("CA:FALSE"), "{text}");
    assert!(text.contains("TLS Web Server Authentication"), "{text}");
    assert!(
        text.contains("CN = oauth-callback loopback")
            || text.contains("CN=oauth-callback loopback"),
        "{text}"
    );
    assert!(!text.contains("rcgen"), "{text}");
    // At most 398 days: valid in 397, no longer in 399.
    let day = 86_400;
    let check = |days: u64| {
        std::process::Command::new("openssl")
            .args(["x509", "-noout", "-in", cert.to_str().unwrap(), "-checkend"])
            .arg((days * day).to_string())
            .status()
            .unwrap()
            .success()
    };
    assert!(check(396) && !check(399), "lifetime");

    // A pair close to expiry is replaced by --tls-dir, which says so.
    let made = std::process::Command::new("openssl")
        .args([
            "req",
            "-x509",
            "-key",
            tls.join("key.pem").to_str().unwrap(),
        ])
        .args([
            "-out",
            cert.to_str().unwrap(),
            "-days",
            "10",
            "-subj",
            "/CN=old",
        ])
        .args(["-addext", "subjectAltName=IP:127.0.0.1"])
        .status()
        .unwrap();
    assert!(made.success());
    let server = Server::start(&["--tls-dir", tls.to_str().unwrap()]);
    server.callback("code=1");
    let finished = server.finish();
    assert!(
        finished.stderr.contains("expires within 30 days"),
        "{}",
        finished.stderr
    );
    assert!(check(300), "renewed for a year");
}

#[test]
fn completions_and_man_page() {
    let bash = run(&["completions", "bash"]);
    assert_eq!(bash.status.code(), Some(0));
    assert!(bash.stdout.contains("--expect-state"));
    let man = run(&["man"]);
    assert!(
        man.stdout.starts_with(".ie") || man.stdout.contains(".TH"),
        "{}",
        &man.stdout[..80]
    );
    assert!(man.stdout.contains("oauth\\-callback"));
}
