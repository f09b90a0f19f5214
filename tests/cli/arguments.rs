//! What scripts pass: values that look like flags, the expected values
//! from the environment rather than the process list, `{state}` in the
//! authorization URL, and browser commands that must name a program.

use std::os::unix::fs::PermissionsExt;
use std::time::Duration;

use crate::support::{Server, binary};

const STATE_VARIABLE: &str = "OAUTH_CALLBACK_EXPECT_STATE";
const ISSUER_VARIABLE: &str = "OAUTH_CALLBACK_EXPECT_ISSUER";

#[test]
fn values_that_begin_with_a_dash_are_values_in_both_spellings() {
    // One `secrets.token_urlsafe()` state in 64 begins with `-`.
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start_in(
        Some(dir.path()),
        &[
            "--expect-state",
            "-abc",
            "--expect-issuer=-iss",
            "--path",
            "-cb",
            "--ready-file",
            "-ready",
        ],
        &[],
    );
    assert!(server.uri.ends_with("/-cb"), "{}", server.uri);
    assert_eq!(
        std::fs::read_to_string(dir.path().join("-ready")).unwrap(),
        format!("{}\n", server.uri)
    );
    assert_eq!(server.callback("code=1&state=-abc&iss=-iss").status(), 200);
    assert_eq!(server.finish().status.code(), Some(0));

    let server = Server::start(&["--expect-state=-xyz"]);
    assert_eq!(server.callback("code=1&state=xyz").status(), 400);
    assert_eq!(server.callback("code=1&state=-xyz").status(), 200);
    assert_eq!(server.finish().status.code(), Some(0));
}

#[test]
fn a_missing_value_does_not_swallow_the_next_flag() {
    // `--expect-state $STATE --no-https` with STATE empty and unquoted.
    for args in [
        &["--expect-state", "--no-https"][..],
        &["--ready-file", "--timeout", "5"],
        &["--path", "--"],
    ] {
        let output = binary().args(["--port", "0"]).args(args).output().unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(2), "{args:?}: {stderr}");
        // (With a word after the flag, clap may name that word instead.)
        if args.len() == 2 {
            assert!(
                stderr.contains("is one of oauth-callback's flags"),
                "{stderr}"
            );
        }
    }
}

/// The process's arguments, as every local user can read them.
fn arguments_of(pid: u32) -> String {
    std::fs::read_to_string(format!("/proc/{pid}/cmdline"))
        .unwrap()
        .replace('\0', " ")
}

#[test]
fn the_expected_values_can_come_from_the_environment_and_the_flag_wins() {
    let server = Server::start_with_env(
        &[],
        &[
            (STATE_VARIABLE, "from-env"),
            (ISSUER_VARIABLE, "https://idp.example"),
        ],
    );
    assert!(!arguments_of(server.pid()).contains("from-env"));
    let iss = "iss=https%3A%2F%2Fidp.example";
    assert_eq!(
        server
            .callback(&format!("code=1&state=other&{iss}"))
            .status(),
        400
    );
    assert_eq!(
        server.callback("code=1&state=from-env&iss=other").status(),
        400
    );
    assert_eq!(
        server
            .callback(&format!("code=1&state=from-env&{iss}"))
            .status(),
        200
    );
    assert_eq!(server.finish().result()["params"]["state"], "from-env");

    let server = Server::start_with_env(
        &["--expect-state", "from-flag"],
        &[(STATE_VARIABLE, "from-env")],
    );
    assert_eq!(server.callback("code=1&state=from-env").status(), 400);
    assert_eq!(server.callback("code=1&state=from-flag").status(), 200);
    assert_eq!(server.finish().status.code(), Some(0));
}

#[test]
fn a_blank_variable_is_refused_like_a_blank_flag() {
    for (variable, blank) in [(STATE_VARIABLE, ""), (ISSUER_VARIABLE, "  ")] {
        let output = binary()
            .args(["--port", "0"])
            .env(variable, blank)
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(2), "{variable}: {stderr}");
        assert!(stderr.contains(variable), "{stderr}");
        assert_eq!(stderr.lines().count(), 1, "{stderr}");
    }
}

/// A stand-in browser that records the URL it gets and its environment.
fn recording_browser(dir: &std::path::Path) -> String {
    let script = dir.join("browser");
    let body = format!(
        "#!/bin/sh\nprintf '%s' \"$1\" > '{0}/url'\nenv > '{0}/env'\n",
        dir.display()
    );
    std::fs::write(&script, body).unwrap();
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
    format!("'{}' {{url}}", script.display())
}

/// `file` once it has been written (the browser runs in the background).
fn written(file: &std::path::Path) -> String {
    for _ in 0..250 {
        match std::fs::read_to_string(file) {
            Ok(text) if !text.is_empty() => return text,
            _ => std::thread::sleep(Duration::from_millis(20)),
        }
    }
    panic!("{} was not written", file.display());
}

#[test]
fn open_says_state_so_that_no_argument_holds_it_and_the_opener_does_not_inherit_it() {
    let dir = tempfile::tempdir().unwrap();
    let browser = recording_browser(dir.path());
    let server = Server::start_with_env(
        &[
            "--open",
            "https://idp.example/authorize?state={state}&redirect_uri={redirect_uri}",
            "--browser-command",
            &browser,
        ],
        &[(STATE_VARIABLE, "a b/-c")],
    );
    let opened = written(&dir.path().join("url"));
    let encoded_uri: String = url::form_urlencoded::byte_serialize(server.uri.as_bytes()).collect();
    assert_eq!(
        opened,
        format!("https://idp.example/authorize?state=a+b%2F-c&redirect_uri={encoded_uri}")
    );
    let environment = written(&dir.path().join("env"));
    assert!(!environment.contains(STATE_VARIABLE), "{environment}");
    assert!(!environment.contains("a b/-c"), "{environment}");
    assert!(!arguments_of(server.pid()).contains("a b"));
    assert_eq!(server.callback("code=1&state=a+b%2F-c").status(), 200);
    assert_eq!(server.finish().status.code(), Some(0));

    let output = binary()
        .args([
            "--port",
            "0",
            "--open",
            "https://idp.example/?state={state}",
        ])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("{state}") && stderr.contains(STATE_VARIABLE),
        "{stderr}"
    );
}

#[test]
fn a_browser_command_must_name_a_program() {
    // Else the URL itself would be run, found in the current directory.
    for command in ["", "  ", "{url}", "'' {url}"] {
        let output = binary()
            .args(["--port", "0", "--open", "https://idp.example/"])
            .args(["--browser-command", command])
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(2), "{command:?}: {stderr}");
        assert!(stderr.contains("--browser-command"), "{stderr}");
    }
}

#[test]
fn a_ready_file_that_is_not_a_regular_file_is_refused_before_listening() {
    // `--ready-file /dev/stdout` as root would rename a file over the
    // device's link for every process: refused, as is any link, FIFO or
    // folder, and nothing is left listening (the port stays free).
    let dir = tempfile::tempdir().unwrap();
    let target = dir.path().join("target");
    std::fs::write(&target, "kept").unwrap();
    let link = dir.path().join("link");
    std::os::unix::fs::symlink(&target, &link).unwrap();
    let fifo = dir.path().join("fifo");
    let path = std::ffi::CString::new(fifo.to_str().unwrap()).unwrap();
    // SAFETY: a valid NUL-terminated path.
    assert_eq!(unsafe { libc::mkfifo(path.as_ptr(), 0o600) }, 0);
    let folder = dir.path().join("folder");
    std::fs::create_dir(&folder).unwrap();
    for (file, what) in [
        (&link, "a link"),
        (&fifo, "a FIFO"),
        (&folder, "a folder"),
        (&std::path::PathBuf::from("/dev/null"), "a device"),
    ] {
        let port = crate::support::free_port();
        let output = binary()
            .args(["--port", &port.to_string(), "--no-https", "--timeout", "5"])
            .arg("--ready-file")
            .arg(file)
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(2), "{what}: {stderr}");
        let said = format!(
            "invalid --ready-file: {} is {what}, not a regular file",
            file.display()
        );
        assert!(stderr.contains(&said), "{what}: {stderr}");
        assert!(!stderr.contains("listening"), "{what}: {stderr}");
    }
    assert_eq!(std::fs::read_link(&link).unwrap(), target);
    assert_eq!(std::fs::read_to_string(&target).unwrap(), "kept");
    let null = std::fs::metadata("/dev/null").unwrap().file_type();
    assert!(std::os::unix::fs::FileTypeExt::is_char_device(&null));
}
