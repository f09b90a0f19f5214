//! The one thread per server that carries its log records to its
//! `logging.Logger`, taking the GIL for each, so that no runtime worker ever
//! waits for the GIL: a logging handler that raises, or a slow one, costs
//! the sign-in nothing (records beyond [`MAX_PENDING`] are dropped, never
//! queued without bound; a stop waits at most [`CLOSE_WAIT`] for the rest).

use std::io::Write;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::{Receiver, RecvTimeoutError, Sender, channel};
use std::sync::{Arc, Mutex};
use std::thread::{JoinHandle, ThreadId};
use std::time::Duration;

use pyo3::prelude::*;
use tracing::{Dispatch, Level, Metadata};
use tracing_subscriber::filter::LevelFilter;
use tracing_subscriber::fmt::MakeWriter;

/// Log records waiting for the GIL, beyond which new ones are dropped.
pub const MAX_PENDING: usize = 1024;
/// How long a stop waits for the records still queued to be delivered;
/// the thread delivers any left after that on its own, then ends.
pub const CLOSE_WAIT: Duration = Duration::from_secs(1);

/// What the thread is sent.
enum Delivery {
    /// A log record: its `logging` level and its sentence.
    Record { level: i32, message: String },
    /// The server has stopped: deliver what came before, then end (records
    /// its last threads may still write as they exit are dropped).
    End,
}

/// The courier of one server; [`close`](Self::close) ends its thread.
pub struct Courier {
    sender: Mutex<Option<Sender<Delivery>>>,
    /// The thread, and what it closes as it ends.
    thread: Mutex<Option<(JoinHandle<()>, Receiver<()>)>>,
    thread_id: ThreadId,
}

/// A server's log records on their way to Python, queued from the start
/// (the server's first threads log before the courier runs).
pub struct Queue {
    sender: Sender<Delivery>,
    receiver: Receiver<Delivery>,
    pending: Arc<AtomicUsize>,
}

impl Queue {
    /// A queue, and the tracing dispatcher that writes into it: events at
    /// `level` and above, as sentences (`callback received method=GET
    /// path=/callback`).
    pub fn new(level: LevelFilter) -> (Queue, Dispatch) {
        let (sender, receiver) = channel();
        let pending = Arc::new(AtomicUsize::new(0));
        let records = Records {
            sender: sender.clone(),
            pending: pending.clone(),
        };
        let subscriber = tracing_subscriber::fmt()
            .with_max_level(level)
            .without_time()
            .with_level(false)
            .with_target(false)
            .with_ansi(false)
            .with_writer(records)
            .finish();
        let queue = Queue {
            sender,
            receiver,
            pending,
        };
        (queue, Dispatch::new(subscriber))
    }
}

impl Courier {
    /// Start the thread that delivers `queue`'s records to `logger`.
    pub fn start(queue: Queue, logger: Py<PyAny>) -> std::io::Result<Courier> {
        let Queue {
            sender,
            receiver,
            pending,
        } = queue;
        let (ending, ended) = channel::<()>();
        let thread = crate::exit::spawn_helper("oauth-callback-log", move || {
            deliver(receiver, logger, &pending);
            drop(ending);
        })?;
        Ok(Courier {
            sender: Mutex::new(Some(sender)),
            thread_id: thread.thread().id(),
            thread: Mutex::new(Some((thread, ended))),
        })
    }

    /// Let the thread end once it has delivered the records sent so far;
    /// with `join`, wait for it to, for at most [`CLOSE_WAIT`]. Never join
    /// from the thread itself (a logging handler that shuts its server
    /// down): see [`is_current`](Self::is_current). Call without the GIL.
    pub fn close(&self, join: bool) {
        if let Some(sender) = self.sender.lock().ok().and_then(|mut s| s.take()) {
            let _ = sender.send(Delivery::End);
        }
        let thread = self.thread.lock().ok().and_then(|mut t| t.take());
        if let Some((thread, ended)) = thread
            && join
            && ended.recv_timeout(CLOSE_WAIT) != Err(RecvTimeoutError::Timeout)
        {
            let _ = thread.join();
        }
    }

    /// Whether the calling thread is the courier's (its Python callbacks).
    pub fn is_current(&self) -> bool {
        std::thread::current().id() == self.thread_id
    }
}

/// The courier's loop: until every sender is gone. Once the interpreter is
/// exiting, records are dropped and the logger is left to the process's end.
fn deliver(receiver: Receiver<Delivery>, logger: Py<PyAny>, pending: &AtomicUsize) {
    while let Ok(Delivery::Record { level, message }) = receiver.recv() {
        pending.fetch_sub(1, Ordering::Relaxed);
        if crate::exit::exiting() {
            continue;
        }
        Python::attach(|py| {
            if let Err(e) = logger.call_method1(py, "log", (level, message)) {
                e.write_unraisable(py, Some(logger.bind(py)));
            }
        });
    }
    if crate::exit::exiting() {
        std::mem::forget(logger);
    } else {
        Python::attach(|_| drop(logger));
    }
}

/// The `logging` level of a tracing level (TRACE is 5, below DEBUG's 10).
pub fn python_level(level: Level) -> i32 {
    match level {
        Level::ERROR => 40,
        Level::WARN => 30,
        Level::INFO => 20,
        Level::DEBUG => 10,
        Level::TRACE => 5,
    }
}

/// The tracing filter that lets through what a logger at `level` (its
/// effective `logging` level) would log.
pub fn level_filter(level: i32) -> LevelFilter {
    match level {
        i32::MIN..=5 => LevelFilter::TRACE,
        6..=10 => LevelFilter::DEBUG,
        11..=20 => LevelFilter::INFO,
        21..=30 => LevelFilter::WARN,
        31..=40 => LevelFilter::ERROR,
        _ => LevelFilter::OFF,
    }
}

/// Where the dispatcher writes: one [`Record`] per event.
struct Records {
    sender: Sender<Delivery>,
    pending: Arc<AtomicUsize>,
}

impl<'a> MakeWriter<'a> for Records {
    type Writer = Record;

    fn make_writer(&'a self) -> Record {
        self.record(Level::INFO)
    }

    fn make_writer_for(&'a self, meta: &Metadata<'_>) -> Record {
        self.record(*meta.level())
    }
}

impl Records {
    fn record(&self, level: Level) -> Record {
        Record {
            level: python_level(level),
            text: Vec::new(),
            sender: self.sender.clone(),
            pending: self.pending.clone(),
        }
    }
}

/// One event's sentence, sent when dropped (or dropped when too many wait).
struct Record {
    level: i32,
    text: Vec<u8>,
    sender: Sender<Delivery>,
    pending: Arc<AtomicUsize>,
}

impl Write for Record {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.text.extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Drop for Record {
    fn drop(&mut self) {
        let message = String::from_utf8_lossy(&self.text).trim_end().to_string();
        if message.is_empty() {
            return;
        }
        if self.pending.fetch_add(1, Ordering::Relaxed) >= MAX_PENDING {
            self.pending.fetch_sub(1, Ordering::Relaxed);
            return;
        }
        let record = Delivery::Record {
            level: self.level,
            message,
        };
        if self.sender.send(record).is_err() {
            self.pending.fetch_sub(1, Ordering::Relaxed);
        }
    }
}
