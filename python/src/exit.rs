//! The interpreter's exit, whatever the program forgot to stop.
//!
//! A thread that takes the GIL back while the interpreter finalizes is ended
//! by CPython (before 3.13, with a forced unwind through its Rust frames: a
//! crash) or refused (3.13 on, a panic). So the package registers
//! [`at_exit`] with `atexit`, which runs before finalization begins: it stops
//! everything registered with [`stop_at_exit`] (the servers still running,
//! delivering their last log records), then
//! marks the interpreter as exiting and waits for the extension's helper
//! threads (log couriers, asyncio wakers) to end. From then on no helper
//! attaches again: it drops what it still had for Python. A caller's thread
//! that comes back from a wait without the GIL once the exit has begun (a
//! daemon thread inside `wait()`, woken by the exit's stop) stays parked
//! until the process ends, as CPython parks its own daemon threads.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex, OnceLock, Weak};
use std::thread::{JoinHandle, ThreadId};
use std::time::{Duration, Instant};

use pyo3::prelude::*;

use crate::lock;

/// How long the exit waits for helper threads still delivering to Python
/// (a logging handler that blocks gets no longer).
pub const HELPERS_WAIT: Duration = Duration::from_secs(2);

/// Set by [`at_exit`]: nothing may attach to the interpreter any more.
static EXITING: AtomicBool = AtomicBool::new(false);
/// The thread that runs the exit (and then the finalization): the one
/// thread that may still take the GIL. Set first, it also says that the
/// exit has begun.
static EXIT_THREAD: OnceLock<ThreadId> = OnceLock::new();
/// Helper threads alive, and the exit's wait for them to end.
static HELPERS: Mutex<usize> = Mutex::new(0);
static HELPER_ENDED: Condvar = Condvar::new();

/// What must be stopped before the interpreter finalizes (a running
/// server): registered with [`stop_at_exit`], held weakly.
pub trait StopAtExit: Send + Sync {
    /// Stop, delivering what is still due to Python. Called without the GIL.
    fn stop_at_exit(&self);
}

/// Everything registered with [`stop_at_exit`] and not dropped yet.
static LIVE: Mutex<Vec<Weak<dyn StopAtExit>>> = Mutex::new(Vec::new());

/// Stop `item` at the interpreter's exit if it is still alive then.
pub fn stop_at_exit<T: StopAtExit + 'static>(item: &Arc<T>) {
    let item: Arc<dyn StopAtExit> = item.clone();
    let mut live = lock(&LIVE);
    live.retain(|item| item.strong_count() > 0);
    live.push(Arc::downgrade(&item));
}

/// Whether the interpreter is exiting, so that a helper thread must not
/// attach to it.
pub fn exiting() -> bool {
    EXITING.load(Ordering::Acquire)
}

/// Run `f` without the GIL, as `py.detach` does; but a thread other than
/// the exiting one that comes back once the exit has begun never takes the
/// GIL again: it stays parked until the process ends. Begun, not only
/// [`exiting`]: the exit's first act, stopping the servers, is what ends a
/// daemon thread's `wait()`, and one that came back in between would wait
/// for the GIL until finalization ended it through these frames.
pub fn detach<T: Send>(py: Python<'_>, f: impl FnOnce() -> T + Send) -> T {
    py.detach(|| {
        let value = f();
        if EXIT_THREAD
            .get()
            .is_some_and(|exit| *exit != std::thread::current().id())
        {
            loop {
                std::thread::park();
            }
        }
        value
    })
}

/// Start a helper thread (it may attach to the interpreter until the exit),
/// counted so that the exit can wait for it.
pub fn spawn_helper(
    name: &str,
    f: impl FnOnce() + Send + 'static,
) -> std::io::Result<JoinHandle<()>> {
    *lock(&HELPERS) += 1;
    std::thread::Builder::new()
        .name(name.into())
        .spawn(move || {
            let _counted = Counted;
            f();
        })
        .inspect_err(|_| Counted::end())
}

/// Counts a helper as ended when dropped, even by a panic.
struct Counted;

impl Counted {
    fn end() {
        *lock(&HELPERS) -= 1;
        HELPER_ENDED.notify_all();
    }
}

impl Drop for Counted {
    fn drop(&mut self) {
        Counted::end();
    }
}

/// The package's `atexit` hook: stop every running server, then let no
/// thread of ours attach again and wait (at most [`HELPERS_WAIT`]) for the
/// helpers to end.
#[pyfunction]
pub fn at_exit(py: Python<'_>) {
    let _ = EXIT_THREAD.set(std::thread::current().id());
    py.detach(|| {
        let live: Vec<Arc<dyn StopAtExit>> = lock(&LIVE).iter().filter_map(Weak::upgrade).collect();
        for item in live {
            item.stop_at_exit();
        }
        EXITING.store(true, Ordering::Release);
        let deadline = Instant::now() + HELPERS_WAIT;
        let mut helpers = lock(&HELPERS);
        while *helpers > 0 {
            let Some(left) = deadline.checked_duration_since(Instant::now()) else {
                return;
            };
            helpers = HELPER_ENDED
                .wait_timeout(helpers, left)
                .unwrap_or_else(|p| p.into_inner())
                .0;
        }
    });
}
