//! The terminal while waiting: one status line at the bottom ("Waiting for
//! the browser at <URI>, 2:51 left"), drawn by indicatif, and every other
//! line (log lines, messages) printed above it through [`say`] and
//! [`Logs`], the status line cleared first and redrawn after. Nothing of it
//! is left once the wait ends; nothing is drawn when stderr is not a
//! terminal, nor while the process is in the background or stopped
//! (see [`jobs`](super::jobs)).

use std::fmt::{self, Display};
use std::io::Write;
use std::sync::LazyLock;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressState, ProgressStyle, TermLike};
use tracing::{Event, Level, Subscriber};
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields, MakeWriter};
use tracing_subscriber::registry::LookupSpan;

use super::jobs::{self, Job};

/// The status line; hidden until [`Waiting::start`] shows it.
static STATUS: LazyLock<ProgressBar> = LazyLock::new(ProgressBar::hidden);

/// Print `line` on stderr, above the status line.
pub fn say(line: impl Display) {
    STATUS.suspend(|| {
        let _ = writeln!(std::io::stderr(), "{line}");
    });
}

/// Say how many characters of a pasted address were typed so far (none:
/// nothing is said); the characters themselves are never shown.
pub fn show_typed(count: usize) {
    STATUS.set_message(match count {
        0 => String::new(),
        count => format!(" · {count} characters pasted, Enter to use them"),
    });
}

/// The countdown on the status line; dropping it clears the line.
pub struct Waiting(());

impl Waiting {
    /// Show "Waiting for the browser at `uri`, M:SS left" until the
    /// server's `deadline`, updated every second, if stderr is a terminal.
    pub fn start(uri: &str, deadline: Instant) -> Waiting {
        let left = move |_: &ProgressState, out: &mut dyn fmt::Write| {
            let left = deadline.saturating_duration_since(Instant::now()).as_secs();
            let _ = write!(out, "{}:{:02}", left / 60, left % 60);
        };
        let template = "Waiting for the browser at {prefix}, {left} left{wide_msg}";
        let style = ProgressStyle::with_template(template)
            .expect("a valid template")
            .with_key("left", left);
        STATUS.set_style(style);
        STATUS.set_prefix(uri.to_string());
        let stderr = console::Term::buffered_stderr();
        if stderr.is_term() {
            STATUS.set_draw_target(ProgressDrawTarget::term_like(Box::new(Foreground(stderr))));
        }
        STATUS.enable_steady_tick(Duration::from_secs(1));
        Waiting(())
    }
}

impl Drop for Waiting {
    fn drop(&mut self) {
        STATUS.finish_and_clear();
        STATUS.set_draw_target(ProgressDrawTarget::hidden());
    }
}

/// Set while the process stops (Ctrl-Z): the status line is not drawn.
static STOPPING: AtomicBool = AtomicBool::new(false);

/// Follow job control: clear the status line before the process stops,
/// draw it again when it goes on in the foreground.
pub fn on_job(job: Job) {
    match job {
        Job::Stopping => {
            STOPPING.store(true, Ordering::Release);
            if jobs::in_foreground(jobs::STDERR) {
                let _ = console::Term::stderr().clear_line();
            }
        }
        Job::Continued => {
            STOPPING.store(false, Ordering::Release);
            STATUS.tick();
        }
    }
}

/// Stderr, for the status line: drawn on only while this process is in the
/// terminal's foreground and not stopping.
#[derive(Debug)]
struct Foreground(console::Term);

impl Foreground {
    /// `draw` on the terminal, if the status line may be drawn now.
    fn draw(
        &self,
        draw: impl FnOnce(&console::Term) -> std::io::Result<()>,
    ) -> std::io::Result<()> {
        match !STOPPING.load(Ordering::Acquire) && jobs::in_foreground(jobs::STDERR) {
            true => draw(&self.0),
            false => Ok(()),
        }
    }
}

impl TermLike for Foreground {
    fn width(&self) -> u16 {
        self.0.size().1
    }

    fn height(&self) -> u16 {
        self.0.size().0
    }

    fn move_cursor_up(&self, n: usize) -> std::io::Result<()> {
        self.draw(|term| term.move_cursor_up(n))
    }

    fn move_cursor_down(&self, n: usize) -> std::io::Result<()> {
        self.draw(|term| term.move_cursor_down(n))
    }

    fn move_cursor_right(&self, n: usize) -> std::io::Result<()> {
        self.draw(|term| term.move_cursor_right(n))
    }

    fn move_cursor_left(&self, n: usize) -> std::io::Result<()> {
        self.draw(|term| term.move_cursor_left(n))
    }

    fn write_line(&self, line: &str) -> std::io::Result<()> {
        self.draw(|term| term.write_line(line))
    }

    fn write_str(&self, text: &str) -> std::io::Result<()> {
        self.draw(|term| term.write_str(text))
    }

    fn clear_line(&self) -> std::io::Result<()> {
        self.draw(console::Term::clear_line)
    }

    fn flush(&self) -> std::io::Result<()> {
        self.draw(console::Term::flush)
    }
}

/// Where log lines go: stderr, above the status line, one event at a time.
pub struct Logs;

impl<'a> MakeWriter<'a> for Logs {
    type Writer = LogLine;

    fn make_writer(&'a self) -> LogLine {
        LogLine(Vec::new())
    }
}

/// One log line, printed whole when dropped.
pub struct LogLine(Vec<u8>);

impl Write for LogLine {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Drop for LogLine {
    fn drop(&mut self) {
        if !self.0.is_empty() {
            STATUS.suspend(|| {
                let _ = std::io::stderr().write_all(&self.0);
            });
        }
    }
}

/// Log lines as sentences: `callback received method=GET path=/callback`,
/// with `warning:` / `error:` (`debug:`, `trace:`) before the other levels.
pub struct Sentences {
    /// Colour the level (stderr is a terminal).
    pub ansi: bool,
}

impl<S, N> FormatEvent<S, N> for Sentences
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
{
    fn format_event(
        &self,
        ctx: &FmtContext<'_, S, N>,
        mut writer: Writer<'_>,
        event: &Event<'_>,
    ) -> fmt::Result {
        let (label, colour) = match *event.metadata().level() {
            Level::ERROR => ("error", "31"),
            Level::WARN => ("warning", "33"),
            Level::INFO => ("", ""),
            Level::DEBUG => ("debug", "34"),
            Level::TRACE => ("trace", "35"),
        };
        match (label, self.ansi) {
            ("", _) => {}
            (label, true) => write!(writer, "\x1b[1;{colour}m{label}:\x1b[0m ")?,
            (label, false) => write!(writer, "{label}: ")?,
        }
        ctx.format_fields(writer.by_ref(), event)?;
        writeln!(writer)
    }
}
