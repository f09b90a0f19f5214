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

use crate::support::{self, binary, client, take_stdout};

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
            .arg(support::program())
            .args(args);
        OnTerminal::run(command)
    }

    /// An interactive bash with job control on the terminal (its
    /// controlling terminal), its stdout on it too as in a terminal window,
    /// at its first prompt (`$ `).
    fn shell() -> OnTerminal {
        let mut command = std::process::Command::new("sh");
        command
            .args(["-c", "exec bash --norc --noprofile +o history -i >&2"])
            .env("PS1", "$ ");
        let terminal = OnTerminal::run(command);
        terminal.wait_for_screen("prompt", at_the_prompt);
        terminal
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

    /// Every byte written to the terminal so far, as text.
    fn written(&self) -> String {
        String::from_utf8_lossy(&self.written.lock().unwrap()).into_owned()
    }

    /// Wait until a row satisfies `test`; the rows then.
    fn wait_for(&self, what: &str, test: impl Fn(&str) -> bool) -> Vec<String> {
        self.wait_for_screen(what, |rows| rows.iter().any(|row| test(row)))
    }

    /// Wait until the rows satisfy `test`; the rows then.
    fn wait_for_screen(&self, what: &str, test: impl Fn(&[String]) -> bool) -> Vec<String> {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let rows = self.rows();
            if test(&rows) {
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

    /// The terminal's line mode and echo flags (`ICANON`, `ECHO`) now.
    fn line_mode_and_echo(&self) -> libc::tcflag_t {
        // SAFETY: termios is plain data filled in by tcgetattr.
        let mut modes: libc::termios = unsafe { std::mem::zeroed() };
        // SAFETY: an open terminal descriptor and a valid pointer.
        assert_eq!(
            unsafe { libc::tcgetattr(self.slave.as_raw_fd(), &mut modes) },
            0
        );
        modes.c_lflag & (libc::ICANON | libc::ECHO)
    }

    /// Whether the terminal is back in line mode with echo.
    fn modes_restored(&self) -> bool {
        self.line_mode_and_echo() == libc::ICANON | libc::ECHO
    }

    /// Wait until the terminal is read key by key without echo (paste-back's
    /// modes, applied after the waiting line is drawn).
    fn wait_for_key_by_key(&self) {
        let deadline = Instant::now() + Duration::from_secs(20);
        while self.line_mode_and_echo() != 0 {
            let flags = self.line_mode_and_echo();
            assert!(
                Instant::now() < deadline,
                "the terminal is not read key by key without echo \
                 (ICANON {}, ECHO {}):\n{}",
                flags & libc::ICANON != 0,
                flags & libc::ECHO != 0,
                self.rows().join("\n")
            );
            std::thread::sleep(Duration::from_millis(20));
        }
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

/// Whether the shell waits at its prompt: the last row written is `$ `.
fn at_the_prompt(rows: &[String]) -> bool {
    rows.iter()
        .rfind(|row| !row.is_empty())
        .is_some_and(|row| row == "$")
}

/// The binary's path, quoted for the shell.
fn binary_for_the_shell() -> String {
    quoted(&support::program())
}

/// `path`, quoted for the shell.
fn quoted(path: &std::path::Path) -> String {
    format!("\"{}\"", path.display())
}

/// The first line of the file at `path`, once it has one (the binary
/// writes it there, not being this test's child).
fn first_line_of(path: &std::path::Path) -> String {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let text = std::fs::read_to_string(path).unwrap_or_default();
        if let Some((line, _)) = text.split_once('\n') {
            return line.to_string();
        }
        assert!(
            Instant::now() < deadline,
            "nothing written to {}",
            path.display()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Assert that none of `secrets` was ever written to `shell`'s terminal
/// (not only that the last screen does not show them).
fn never_shown(shell: &OnTerminal, secrets: &[&str]) {
    let written = shell.written();
    for secret in secrets {
        assert!(
            !written.contains(secret),
            "{secret:?} shown on the terminal:\n{}",
            shell.rows().join("\n")
        );
    }
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
    // browser's callback would then hang. Nor does it draw its waiting line
    // over the shell's.
    for args in [&[][..], &["--paste"][..]] {
        let terminal = OnTerminal::start_in_background(args);
        let uri = terminal.uri();
        if !args.is_empty() {
            terminal.wait_for("warning", |row| {
                row.ends_with(
                    "not reading pasted addresses: stdin is the terminal of a background job",
                )
            });
        }
        // In the foreground, the waiting line is drawn within a second.
        std::thread::sleep(Duration::from_millis(1500));
        let rows = terminal.rows();
        assert_eq!(
            waiting_row(&rows),
            None,
            "{args:?}: no waiting line in the background:\n{}",
            rows.join("\n")
        );
        assert!(
            !rows.iter().any(|row| row.contains("paste here")),
            "{args:?}: no prompt"
        );
        assert!(terminal.modes_restored(), "{args:?}: modes untouched");
        terminal.completed_by_browser(&uri, "bg");
    }
}

#[test]
fn a_hangup_while_paste_back_holds_the_terminal_gives_it_back_and_exits_129() {
    let terminal = OnTerminal::start(&[]);
    terminal.wait_for("waiting line", |row| row.ends_with(" left"));
    assert_eq!(
        terminal.line_mode_and_echo(),
        0,
        "paste-back reads key by key, without echo"
    );
    let pid = libc::pid_t::try_from(terminal.child.id()).unwrap();
    // SAFETY: a signal to this test's own child, not yet waited for.
    assert_eq!(unsafe { libc::kill(pid, libc::SIGHUP) }, 0);
    let (code, stdout, terminal) = terminal.finish();
    let rows = terminal.rows();
    assert_eq!(code, 129, "{}", rows.join("\n"));
    assert_eq!(stdout, "");
    assert!(
        rows.iter()
            .any(|row| row == "hung up (the terminal closed); no callback was received"),
        "{}",
        rows.join("\n")
    );
    assert_eq!(waiting_row(&rows), None, "{}", rows.join("\n"));
    assert!(terminal.modes_restored(), "line mode and echo are back");
}

/// In `shell`, start the binary in the foreground with `--expect-state st`,
/// its stdout to `out`, and stop it with Ctrl-Z once it waits: its
/// redirect URI.
fn start_then_stop_with_ctrl_z(shell: &mut OnTerminal, out: &std::path::Path) -> String {
    shell.type_in(&format!(
        "{} --port 0 --expect-state st --timeout 120 > {}\r",
        binary_for_the_shell(),
        quoted(out)
    ));
    let uri = shell.uri();
    shell.wait_for("waiting line", |row| row.ends_with(" left"));
    shell.wait_for_key_by_key();

    // The job stops; before that, its countdown is gone from the screen.
    shell.type_in("\x1a");
    let rows = shell.wait_for_screen("the stopped job and the prompt", |rows| {
        rows.iter().any(|row| row.starts_with("[1]+  Stopped")) && at_the_prompt(rows)
    });
    assert_eq!(
        waiting_row(&rows),
        None,
        "the countdown is cleared before the job stops:\n{}",
        rows.join("\n")
    );
    uri
}

/// After `fg` in `shell`: the countdown drawn again and the terminal read
/// key by key; `pasted` (with Enter) completes the sign-in, the prompt
/// comes back, and the result is in `out`.
fn back_in_the_foreground_a_paste_completes(
    shell: &mut OnTerminal,
    pasted: &str,
    out: &std::path::Path,
) -> serde_json::Value {
    shell.type_in("fg\r");
    shell.wait_for("waiting line again", |row| row.ends_with(" left"));
    shell.wait_for_key_by_key();
    shell.type_in(&format!("{pasted}\r"));
    shell.wait_for("acceptance", |row| {
        row == "the pasted address completed the sign-in"
    });
    // The last row was the acceptance: now the shell's prompt again.
    let rows = shell.wait_for_screen("prompt after the job", at_the_prompt);
    assert_eq!(waiting_row(&rows), None, "{}", rows.join("\n"));
    serde_json::from_str(&first_line_of(out)).expect("a JSON result")
}

#[test]
fn after_ctrl_z_and_fg_paste_back_reads_the_terminal_again_without_echo() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out.json");
    let mut shell = OnTerminal::shell();
    let uri = start_then_stop_with_ctrl_z(&mut shell, &out);

    // Longer than the terminal's own line limit (4095 bytes): read key by
    // key again, not in line mode.
    let padding = "p".repeat(6000);
    let result = back_in_the_foreground_a_paste_completes(
        &mut shell,
        &format!("{uri}?code=good&state=st&pad={padding}"),
        &out,
    );
    assert_eq!(result["params"]["code"], "good");
    assert_eq!(result["params"]["pad"], padding.as_str());
    never_shown(&shell, &["ppppp", "code=good"]);
}

#[test]
fn after_ctrl_z_and_bg_the_job_leaves_the_terminal_to_the_shell_until_fg() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out.json");
    let mut shell = OnTerminal::shell();
    let uri = start_then_stop_with_ctrl_z(&mut shell, &out);

    shell.type_in("bg\r");
    let in_background = shell.wait_for_screen("the job in the background", |rows| {
        rows.iter()
            .any(|row| row.starts_with("[1]+ ") && row.ends_with(" &"))
            && at_the_prompt(rows)
    });
    // The countdown ticks every second: in the background, it is not drawn
    // over the shell's screen.
    std::thread::sleep(Duration::from_millis(2500));
    let rows = shell.rows();
    assert_eq!(
        rows, in_background,
        "nothing drawn by a job in the background"
    );
    assert_eq!(waiting_row(&rows), None, "{}", rows.join("\n"));

    // What is typed goes to the shell.
    shell.type_in("echo still-$((40+2))\r");
    shell.wait_for("the shell's answer", |row| row == "still-42");

    let result = back_in_the_foreground_a_paste_completes(
        &mut shell,
        &format!("{uri}?code=later&state=st"),
        &out,
    );
    assert_eq!(result["params"]["code"], "later");
    never_shown(&shell, &["code=later"]);
}

#[test]
fn a_job_in_a_session_of_its_own_leaves_the_terminal_to_the_shell() {
    // `setsid oauth-callback ... &`: stdin and stderr are a terminal, but
    // not its controlling one; the shell's job control does not stop it
    // from reading, so it must not.
    let dir = tempfile::tempdir().unwrap();
    let (ready, out) = (dir.path().join("ready"), dir.path().join("out.json"));
    let mut shell = OnTerminal::shell();
    shell.type_in(&format!(
        "setsid {} --port 0 --timeout 120 --ready-file {} > {} &\r",
        binary_for_the_shell(),
        quoted(&ready),
        quoted(&out)
    ));
    let uri = first_line_of(&ready);
    // Reading from the terminal starts, and the waiting line is drawn,
    // within a second of the ready file.
    std::thread::sleep(Duration::from_millis(1500));
    shell.type_in("echo typed-$((1+1))\r");
    let rows = shell.wait_for("the shell's answer", |row| row == "typed-2");
    assert_eq!(waiting_row(&rows), None, "{}", rows.join("\n"));
    assert!(
        !rows.iter().any(|row| row.contains("paste here")),
        "{}",
        rows.join("\n")
    );

    let page = client().get(format!("{uri}?code=s1")).send().unwrap();
    assert_eq!(page.status(), 200);
    let result: serde_json::Value =
        serde_json::from_str(&first_line_of(&out)).expect("a JSON result");
    assert_eq!(result["params"]["code"], "s1");
    let rows = shell.rows();
    assert_eq!(waiting_row(&rows), None, "{}", rows.join("\n"));
}
