//! Where the result goes: stdout, and the ways it can fail to get there.
//! A sign-in that completed was acknowledged to the browser and its code is
//! spent, so a result that cannot be written is said, with its own exit
//! code (74, `EX_IOERR`), never a silent 0 or the "bad usage" 2.

use std::os::unix::process::CommandExt;
use std::process::Stdio;
use std::time::{Duration, Instant};

use crate::support::{binary, client};

const UNDELIVERED: &str = "a sign-in completed, but its result could not be delivered";

/// Run a sign-in whose stdout is `stdout` (`None`: closed); its exit code
/// and stderr.
fn sign_in_with_stdout(stdout: Option<Stdio>) -> (Option<i32>, String) {
    let dir = tempfile::tempdir().unwrap();
    let ready = dir.path().join("ready");
    let mut command = binary();
    command
        .args([
            "--port",
            "0",
            "--no-https",
            "--timeout",
            "20",
            "--ready-file",
        ])
        .arg(&ready)
        .stdin(Stdio::null())
        .stderr(Stdio::piped());
    match stdout {
        Some(stdout) => {
            command.stdout(stdout);
        }
        None => {
            command.stdout(Stdio::null());
            // SAFETY: only an async-signal-safe call between fork and exec.
            unsafe {
                command.pre_exec(|| {
                    libc::close(1);
                    Ok(())
                });
            }
        }
    }
    let child = command.spawn().unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    let uri = loop {
        if let Ok(uri) = std::fs::read_to_string(&ready) {
            break uri.trim().to_string();
        }
        assert!(Instant::now() < deadline, "no ready file");
        std::thread::sleep(Duration::from_millis(10));
    };
    let answer = client().get(format!("{uri}?code=spent")).send().unwrap();
    assert_eq!(answer.status(), 200);
    let output = child.wait_with_output().unwrap();
    (
        output.status.code(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

#[test]
fn a_result_that_cannot_be_written_is_exit_74_and_said() {
    let full = std::fs::File::create("/dev/full").unwrap();
    let (reader, writer) = std::io::pipe().unwrap();
    drop(reader);
    for (what, stdout) in [
        ("a full disk", Some(Stdio::from(full))),
        ("a broken pipe", Some(Stdio::from(writer))),
        ("a closed stdout", None),
    ] {
        let (code, stderr) = sign_in_with_stdout(stdout);
        assert_eq!(code, Some(74), "{what}: {stderr}");
        let last = stderr.lines().last().unwrap_or_default();
        assert!(
            last.starts_with(&format!("oauth-callback: {UNDELIVERED}")),
            "{what}: {stderr}"
        );
    }
}
