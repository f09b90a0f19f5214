//! The binary on a pseudo-terminal (stdin and stderr), as a user sees it:
//! the waiting line at the bottom, log lines and messages above it, typed
//! input never echoed, and nothing of the waiting line left at the end.
//! The screen is what `vt100` makes of the bytes written to the terminal.

use std::io::{Read, Write};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::process::CommandExt;
use std::process::{Child, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::support::{binary, client, take_stdout};

const ROWS: u16 = 30;
const COLUMNS: u16 = 160;

/// The binary with stdin and stderr on a pseudo-terminal, stdout a pipe.
struct OnTerminal {
    child: Child,
    /// The terminal's other end: what is typed is written here.
    master: std::fs::File,
    /// Every byte the program wrote to the terminal.
    written: Arc<Mutex<Vec<u8>>>,
    /// The program's side, kept to read its modes after it exits.
    slave: OwnedFd,
}

impl OnTerminal {
    fn start(args: &[&str]) -> OnTerminal {
        let mut command = binary();
        command.args(["--port", "0"]).args(args);
        OnTerminal::run(command)
    }

    /// The binary as a background job (`oauth-callback ... &`) of a shell
    /// with job control on the terminal: not in its foreground group.
    fn start_in_background(args: &[&str]) -> OnTerminal {
        let mut command = std::process::Command::new("sh");
        command
            .args(["-c", r#"set -m; "$0" --port 0 "$@" & wait $!"#])
            .arg(env!("CARGO_BIN_EXE_oauth-callback"))
            .args(args);
        OnTerminal::run(command)
    }

    /// Run `command` with the terminal as its controlling one.
    fn run(mut command: std::process::Command) -> OnTerminal {
        let (mut master, mut slave) = (0, 0);
        let size = libc::winsize {
            ws_row: ROWS,
            ws_col: COLUMNS,
            ws_xpixel: 0,
            ws_ypixel: 0,
        };
        // SAFETY: valid out pointers; no name buffer; a valid window size.
        let opened = unsafe {
            libc::openpty(
                &mut master,
                &mut slave,
                std::ptr::null_mut(),
                std::ptr::null(),
                &size,
            )
        };
        assert_eq!(opened, 0, "openpty: {}", std::io::Error::last_os_error());
        // SAFETY: openpty returned two open descriptors that nothing else owns.
        let (master, slave) =
            unsafe { (OwnedFd::from_raw_fd(master), OwnedFd::from_raw_fd(slave)) };
        // SAFETY: only async-signal-safe calls between fork and exec.
        unsafe {
            command.pre_exec(|| {
                // As a shell starts a program: the terminal is its controlling
                // terminal and it is in the foreground (Ctrl-C reaches it).
                if libc::setsid() == -1 || libc::ioctl(0, libc::TIOCSCTTY, 0) == -1 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
        let child = command
            .env("RUST_LOG", "info")
            .env("TERM", "xterm-256color")
            .stdin(Stdio::from(slave.try_clone().unwrap()))
            .stderr(Stdio::from(slave.try_clone().unwrap()))
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let master = std::fs::File::from(master);
        let written = Arc::new(Mutex::new(Vec::new()));
        let (mut reader, sink) = (master.try_clone().unwrap(), written.clone());
        std::thread::spawn(move || {
            let mut buffer = [0; 4096];
            // Ends with EIO once the program has exited and `slave` is closed.
            while let Ok(read @ 1..) = reader.read(&mut buffer) {
                sink.lock().unwrap().extend_from_slice(&buffer[..read]);
            }
        });
        OnTerminal {
            child,
            master,
            written,
            slave,
        }
    }

    /// The screen as the terminal shows it now.
    fn screen(&self) -> vt100::Screen {
        let mut parser = vt100::Parser::new(ROWS, COLUMNS, 0);
        parser.process(&self.written.lock().unwrap());
        parser.screen().clone()
    }

    /// The screen's rows, trailing blanks trimmed.
    fn rows(&self) -> Vec<String> {
        self.screen()
            .rows(0, COLUMNS)
            .map(|row| row.trim_end().to_string())
            .collect()
    }

    /// Wait until a row satisfies `test`; the rows then.
    fn wait_for(&self, what: &str, test: impl Fn(&str) -> bool) -> Vec<String> {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let rows = self.rows();
            if rows.iter().any(|row| test(row)) {
                return rows;
            }
            assert!(
                Instant::now() < deadline,
                "no {what} on the screen:\n{}",
                rows.join("\n")
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// The redirect URI from the ready line.
    fn uri(&self) -> String {
        let rows = self.wait_for("ready line", |row| row.starts_with("listening on "));
        let ready = rows
            .iter()
            .find(|row| row.starts_with("listening on "))
            .unwrap();
        ready["listening on ".len()..].to_string()
    }

    /// Type `text` as a paste would (no Enter unless it ends with `\r`).
    fn type_in(&mut self, text: &str) {
        self.master.write_all(text.as_bytes()).unwrap();
    }

    /// Wait for the program to exit: its exit code and stdout.
    fn finish(mut self) -> (i32, String, OnTerminal) {
        let status = self.child.wait().unwrap();
        let stdout = take_stdout(&mut self.child);
        // The reader has seen everything once the program is gone.
        std::thread::sleep(Duration::from_millis(100));
        (status.code().unwrap_or(-1), stdout, self)
    }

    /// Send the browser's callback with `code` to `uri`, and check that the
    /// program answers it, exits 0 and prints it.
    fn completed_by_browser(self, uri: &str, code: &str) -> OnTerminal {
        let page = client().get(format!("{uri}?code={code}")).send().unwrap();
        assert_eq!(page.status(), 200);
        let (exit, stdout, terminal) = self.finish();
        assert_eq!(exit, 0, "{}", terminal.rows().join("\n"));
        assert!(stdout.contains(&format!(r#""code":"{code}""#)), "{stdout}");
        terminal
    }

    /// Whether the terminal is back in line mode with echo.
    fn modes_restored(&self) -> bool {
        // SAFETY: termios is plain data filled in by tcgetattr.
        let mut modes: libc::termios = unsafe { std::mem::zeroed() };
        // SAFETY: an open terminal descriptor and a valid pointer.
        assert_eq!(
            unsafe { libc::tcgetattr(self.slave.as_raw_fd(), &mut modes) },
            0
        );
        modes.c_lflag & (libc::ICANON | libc::ECHO) == libc::ICANON | libc::ECHO
    }
}

impl Drop for OnTerminal {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The row showing the countdown, if any.
fn waiting_row(rows: &[String]) -> Option<&String> {
    rows.iter()
        .find(|row| row.starts_with("Waiting for the browser at "))
}

#[test]
fn log_lines_go_above_the_waiting_line_which_is_gone_at_the_end() {
    let terminal = OnTerminal::start(&["--no-paste"]);
    let uri = terminal.uri();
    let rows = terminal.wait_for("waiting line", |row| row.ends_with(" left"));
    let waiting = waiting_row(&rows).unwrap();
    assert!(
        waiting.starts_with(&format!("Waiting for the browser at {uri}, ")),
        "{waiting}"
    );
    assert!(
        !rows.iter().any(|row| row.contains("paste here")),
        "no hint with --no-paste"
    );

    let terminal = terminal.completed_by_browser(&uri, "c1");
    let rows = terminal.rows();
    let received: Vec<&String> = rows
        .iter()
        .filter(|r| r.contains("callback received"))
        .collect();
    assert_eq!(
        received,
        ["callback received method=GET path=/callback"],
        "a line of its own, as a sentence:\n{}",
        rows.join("\n")
    );
    assert_eq!(
        waiting_row(&rows),
        None,
        "nothing of the countdown is left:\n{}",
        rows.join("\n")
    );
    assert!(
        !rows.iter().any(|row| row.contains(" left")),
        "{}",
        rows.join("\n")
    );
}

#[test]
fn a_paste_on_the_terminal_is_not_echoed_and_completes_the_flow() {
    let mut terminal = OnTerminal::start(&["--expect-state", "st"]);
    let uri = terminal.uri();
    terminal.wait_for("hint", |row| {
        row.starts_with("If the browser runs on another machine")
    });

    // Garbage, then the right path with the wrong state: one line each, and
    // the wait goes on.
    terminal.type_in("not a url at all\r");
    terminal.wait_for("refusal", |row| {
        row.contains("not an address") && row.ends_with("still waiting")
    });
    let wrong = format!("{uri}?code=secret-wrong&state=other");
    terminal.type_in(&wrong);
    let rows = terminal.wait_for("typed count", |row| {
        row.ends_with(&format!(
            "{} characters pasted, Enter to use them",
            wrong.len()
        ))
    });
    assert!(
        !rows.iter().any(|row| row.contains("secret")),
        "echoed:\n{}",
        rows.join("\n")
    );
    terminal.type_in("\r");
    terminal.wait_for("refusal", |row| row.contains("state or issuer"));

    // An address longer than the terminal's own line limit (4095 bytes).
    let long_state = "st";
    let padding = "p".repeat(6000);
    terminal.type_in(&format!(
        "{uri}?code=good&state={long_state}&pad={padding}\r"
    ));
    terminal.wait_for("acceptance", |row| {
        row == "the pasted address completed the sign-in"
    });
    let (code, stdout, terminal) = terminal.finish();
    assert_eq!(code, 0, "{}", terminal.rows().join("\n"));
    assert!(
        stdout.contains(r#""code":"good""#) && stdout.contains(&padding),
        "{stdout:.200}"
    );
    let rows = terminal.rows();
    assert_eq!(waiting_row(&rows), None, "{}", rows.join("\n"));
    assert!(
        !rows
            .iter()
            .any(|row| row.contains("secret") || row.contains("ppppp"))
    );
    assert!(terminal.modes_restored(), "line mode and echo are back");
}

#[test]
fn a_timeout_and_an_interrupt_leave_a_clean_terminal() {
    let terminal = OnTerminal::start(&["--timeout", "1.5"]);
    // Updated every second.
    terminal.wait_for("waiting line", |row| row.ends_with(", 0:01 left"));
    terminal.wait_for("updated waiting line", |row| row.ends_with(", 0:00 left"));
    let (code, _, terminal) = terminal.finish();
    assert_eq!(code, 124);
    let rows = terminal.rows();
    assert!(
        rows.iter()
            .any(|row| row.starts_with("no callback arrived within 1.5 s"))
    );
    assert_eq!(waiting_row(&rows), None, "{}", rows.join("\n"));
    assert!(terminal.modes_restored());

    let mut terminal = OnTerminal::start(&[]);
    terminal.wait_for("waiting line", |row| row.ends_with(" left"));
    // Ctrl-C typed while stdin is read key by key still interrupts.
    terminal.type_in("\x03");
    let (code, _, terminal) = terminal.finish();
    assert_eq!(code, 130);
    let rows = terminal.rows();
    assert!(
        rows.iter()
            .any(|row| row == "interrupted; no callback was received")
    );
    assert_eq!(waiting_row(&rows), None, "{}", rows.join("\n"));
    assert!(terminal.modes_restored());
}

#[test]
fn without_paste_nothing_typed_is_read() {
    let mut terminal = OnTerminal::start(&["--no-paste"]);
    let uri = terminal.uri();
    terminal.wait_for("waiting line", |row| row.ends_with(" left"));
    terminal.type_in(&format!("{uri}?code=typed\r"));
    std::thread::sleep(Duration::from_millis(500));
    assert!(
        terminal.child.try_wait().unwrap().is_none(),
        "a typed address must not complete it"
    );
    let terminal = terminal.completed_by_browser(&uri, "browser");
    assert!(
        !terminal.rows().iter().any(|row| row.contains("paste here")),
        "no prompt"
    );
}

#[test]
fn a_background_job_never_reads_or_sets_the_terminal() {
    // Reading or setting it would stop the job (SIGTTIN, SIGTTOU): the
    // browser's callback would then hang.
    for args in [&[][..], &["--paste"][..]] {
        let terminal = OnTerminal::start_in_background(args);
        let uri = terminal.uri();
        let rows = terminal.wait_for("waiting line", |row| row.ends_with(" left"));
        assert!(
            !rows.iter().any(|row| row.contains("paste here")),
            "{args:?}: no prompt"
        );
        if !args.is_empty() {
            terminal.wait_for("warning", |row| {
                row.ends_with(
                    "not reading pasted addresses: stdin is the terminal of a background job",
                )
            });
        }
        terminal.completed_by_browser(&uri, "bg");
    }
}
