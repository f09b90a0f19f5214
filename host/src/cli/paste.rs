//! Paste-back on the command line: while the server waits, lines read from
//! stdin are addresses a browser on another machine ended at, each handed
//! to the server (the same handler, checks and one-shot rule as the
//! browser's request). On a terminal the input is read key by key, not
//! echoed (it holds tokens) and not cut at the terminal's line limit
//! (4095 bytes on Linux, less than a URL carrying an ID token): see
//! [`key_by_key`].

use std::io::{BufRead, IsTerminal, Read};
use std::sync::{Mutex, TryLockError};

use crate::{MAX_PASTED_URL, Mismatch, PasteBack, Pasted};

use super::jobs::{self, Job};
use super::key_by_key::{self, KeyByKey};
use super::terminal;

/// How the line saying why a pasted address was refused ends.
const STILL_WAITING: &str = "still waiting";
/// How the line ends when the flow had ended before the paste.
const NOT_USED: &str = "the pasted address was not used";

/// Held while a pasted address is handed over and its outcome said, so
/// that the result is printed after that line (see [`settled`]).
static HANDING_OVER: Mutex<()> = Mutex::new(());

/// Said once where someone can paste (not to a script's pipe).
const PASTE_HINT: &str = "If the browser runs on another machine, paste here the whole address \
it ended at (the callback page that did not load) and press Enter.";

/// What stdin is, for paste-back.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stdin {
    /// A terminal this process may read and set.
    Terminal,
    /// A terminal shared from the background (`oauth-callback ... &`), or
    /// one that is not this process's controlling terminal (`setsid
    /// oauth-callback ... &`): reading it would take the shell's input.
    Background,
    /// A pipe or a file.
    Other,
}

impl Stdin {
    /// This process's stdin.
    fn current() -> Stdin {
        match (
            std::io::stdin().is_terminal(),
            jobs::in_foreground(jobs::STDIN),
        ) {
            (true, true) => Stdin::Terminal,
            (true, false) => Stdin::Background,
            (false, _) => Stdin::Other,
        }
    }
}

/// Wait until a pasted address being handed over has had its outcome said.
/// Only while one is (the lock is held) is it waited for, on a blocking
/// thread: the hand-over itself may still need the thread that awaits this
/// (a command's runtime has only that one).
pub async fn settled() {
    if matches!(HANDING_OVER.try_lock(), Err(TryLockError::WouldBlock)) {
        let _ = tokio::task::spawn_blocking(|| drop(HANDING_OVER.lock())).await;
    }
}

/// Start paste-back as `--paste` (`forced`) and `--no-paste` (`off`) ask
/// and stdin allows: a terminal in the foreground by default, a pipe when
/// forced, never a background job's terminal. The returned guard keeps a
/// terminal out of line mode and echo until dropped. Under `quiet`, only
/// refusals are said.
pub fn start(paste_back: PasteBack, forced: bool, off: bool, quiet: bool) -> Option<KeyByKey> {
    let stdin = Stdin::current();
    let reading = !off
        && match stdin {
            Stdin::Terminal => true,
            Stdin::Other => forced,
            Stdin::Background => {
                if forced {
                    tracing::warn!(
                        "not reading pasted addresses: stdin is the terminal of a background job"
                    );
                }
                false
            }
        };
    if !reading {
        return None;
    }
    let on_terminal = stdin == Stdin::Terminal;
    if on_terminal && !quiet {
        terminal::say(PASTE_HINT);
    }
    listen(paste_back, on_terminal, quiet)
}

/// Read pasted addresses on a thread of their own, key by key on a terminal.
/// A terminal is read only in the foreground: a read that failed in the
/// background (`bg` after Ctrl-Z) is tried again once back in it (`fg`).
fn listen(paste_back: PasteBack, on_terminal: bool, quiet: bool) -> Option<KeyByKey> {
    let keys = on_terminal.then(KeyByKey::enter).and_then(|entered| {
        entered
            .inspect_err(|e| tracing::debug!("reading pasted lines as typed ({e})"))
            .ok()
    });
    let key_by_key = keys.is_some();
    std::thread::spawn(move || {
        let mut stdin = std::io::stdin().lock();
        let mut submit = |line: Line| submit(&paste_back, line, quiet);
        loop {
            if on_terminal {
                jobs::wait_for_foreground(jobs::STDIN);
                // `fg` of a job running in the background sends no SIGCONT:
                // the terminal is taken again here too.
                key_by_key::on_job(Job::Continued);
            }
            let result = if key_by_key {
                read_keys(&mut stdin, &mut submit)
            } else {
                read_lines(&mut stdin, &mut submit)
            };
            match result {
                Ok(()) => break,
                Err(e) if on_terminal && !jobs::in_foreground(jobs::STDIN) => {
                    tracing::debug!("reading pasted addresses again in the foreground ({e})");
                }
                Err(e) => break tracing::debug!("stopped reading pasted addresses: {e}"),
            }
        }
    });
    keys
}

/// One line of input, or the fact that it was too long to be an address.
enum Line {
    Text(Vec<u8>),
    TooLong,
}

/// Hand `line` to the server and say what became of it; whether to go on
/// reading (the flow is still pending).
fn submit(paste_back: &PasteBack, line: Line, quiet: bool) -> bool {
    let _handing_over = HANDING_OVER.lock().unwrap_or_else(|p| p.into_inner());
    let outcome = match line {
        Line::TooLong => Pasted::NotTheCallback(Mismatch::TooLong),
        Line::Text(text) => {
            let text = String::from_utf8_lossy(&text);
            if text.trim().is_empty() {
                return true;
            }
            paste_back.complete_from_url(&text)
        }
    };
    match outcome {
        Pasted::Completed => {
            if !quiet {
                terminal::say(outcome);
            }
            false
        }
        Pasted::AlreadyComplete | Pasted::Stopping => {
            terminal::say(format_args!("{outcome}; {NOT_USED}"));
            false
        }
        refused => {
            terminal::say(format_args!("{refused}; {STILL_WAITING}"));
            true
        }
    }
}

/// Lines from a pipe or file (`--paste`), each at most [`MAX_PASTED_URL`].
fn read_lines(
    input: &mut impl BufRead,
    submit: &mut impl FnMut(Line) -> bool,
) -> std::io::Result<()> {
    let limit = MAX_PASTED_URL as u64 + 2;
    loop {
        let mut line = Vec::new();
        if input.by_ref().take(limit).read_until(b'\n', &mut line)? == 0 {
            return Ok(());
        }
        let line = if line.ends_with(b"\n") || (line.len() as u64) < limit {
            while line.last().is_some_and(|&end| end == b'\n' || end == b'\r') {
                line.pop();
            }
            Line::Text(line)
        } else {
            input.skip_until(b'\n')?;
            Line::TooLong
        };
        if !submit(line) {
            return Ok(());
        }
    }
}

/// Keys from a terminal out of line mode: printable bytes collect, Enter
/// submits, Backspace and Ctrl-U edit, Ctrl-D on an empty line stops,
/// escape sequences (arrows, bracketed paste marks) are skipped.
fn read_keys(
    input: &mut impl BufRead,
    submit: &mut impl FnMut(Line) -> bool,
) -> std::io::Result<()> {
    const BACKSPACE: [u8; 2] = [0x08, 0x7f];
    const CTRL_D: u8 = 0x04;
    const CTRL_U: u8 = 0x15;
    const ESC: u8 = 0x1b;
    let mut line = Vec::new();
    let mut escape = Escape::None;
    for byte in input.bytes() {
        let byte = byte?;
        match (escape.next(byte), byte) {
            (Some(next), _) => escape = next,
            (None, b'\r' | b'\n') => {
                let done = if line.len() > MAX_PASTED_URL {
                    Line::TooLong
                } else {
                    Line::Text(std::mem::take(&mut line))
                };
                line.clear();
                if !submit(done) {
                    break;
                }
            }
            (None, byte) if BACKSPACE.contains(&byte) => {
                line.pop();
            }
            (None, CTRL_U) => line.clear(),
            (None, CTRL_D) if line.is_empty() => break,
            (None, ESC) => escape = Escape::Started,
            (None, byte) if byte >= b' ' => {
                if line.len() <= MAX_PASTED_URL {
                    line.push(byte);
                }
            }
            (None, _) => {}
        }
        terminal::show_typed(line.len());
    }
    terminal::show_typed(0);
    Ok(())
}

/// Where an escape sequence being skipped is.
#[derive(Clone, Copy)]
enum Escape {
    None,
    /// ESC seen.
    Started,
    /// ESC `[` seen: parameters until a final byte (`@`..`~`).
    Control,
}

impl Escape {
    /// The state after `byte`, when inside a sequence (`None`: the byte is
    /// not part of one, so it is input).
    fn next(self, byte: u8) -> Option<Escape> {
        match (self, byte) {
            (Escape::None, _) => None,
            (Escape::Started, b'[') => Some(Escape::Control),
            (Escape::Control, 0x40..=0x7e) | (Escape::Started, _) => Some(Escape::None),
            (Escape::Control, _) => Some(Escape::Control),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What `read` hands over: the lines' texts, or `None` for a too-long one.
    fn lines(read: fn(&[u8], &mut dyn FnMut(Line) -> bool), input: &[u8]) -> Vec<Option<String>> {
        let mut seen = Vec::new();
        read(input, &mut |line| {
            seen.push(match line {
                Line::Text(text) => Some(String::from_utf8(text).unwrap()),
                Line::TooLong => None,
            });
            true
        });
        seen
    }

    fn keys(input: &[u8], submit: &mut dyn FnMut(Line) -> bool) {
        read_keys(&mut &*input, &mut |line| submit(line)).unwrap();
    }

    fn piped(input: &[u8], submit: &mut dyn FnMut(Line) -> bool) {
        read_lines(&mut &*input, &mut |line| submit(line)).unwrap();
    }

    #[test]
    fn keys_are_edited_and_escape_sequences_skipped() {
        let typed = b"abx\x7fc\r\x1b[A\x1b[200~https://h/\x1b[201~\njunk\x15ok\n";
        assert_eq!(
            lines(keys, typed),
            [
                Some("abc".into()),
                Some("https://h/".into()),
                Some("ok".into())
            ]
        );
        assert_eq!(
            lines(keys, b"\x04later\n"),
            [],
            "Ctrl-D on an empty line stops"
        );
    }

    #[test]
    fn over_long_input_is_refused_whole() {
        let long = vec![b'a'; MAX_PASTED_URL + 10];
        for read in [keys as fn(&[u8], &mut dyn FnMut(Line) -> bool), piped] {
            let input = [long.as_slice(), b"\nnext\n"].concat();
            assert_eq!(lines(read, &input), [None, Some("next".into())]);
        }
        let fits = vec![b'a'; MAX_PASTED_URL];
        assert_eq!(lines(piped, &fits), [Some("a".repeat(MAX_PASTED_URL))]);
    }
}
