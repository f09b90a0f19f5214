//! Waits without the GIL that still answer Ctrl-C: Python runs signal
//! handlers only between bytecodes, so a long wait comes back for them
//! every [`SIGNAL_CHECK`].

use std::sync::mpsc;
use std::time::{Duration, Instant};

use pyo3::exceptions::PyRuntimeError;
use pyo3::prelude::*;

use crate::exit::detach;

/// How often a waiting call looks for Ctrl-C.
pub const SIGNAL_CHECK: Duration = Duration::from_millis(25);

/// Call `poll(until)` without the GIL, `until` at most [`SIGNAL_CHECK`]
/// ahead and never past `deadline`, until it gives a value: `Ok(Some)`;
/// `Ok(None)` once `deadline` has passed; `Err` with the exception a
/// signal handler raised (`KeyboardInterrupt` on Ctrl-C).
pub fn until<T: Send>(
    py: Python<'_>,
    deadline: Option<Instant>,
    mut poll: impl FnMut(Instant) -> Option<T> + Send,
) -> PyResult<Option<T>> {
    loop {
        let slice = Instant::now() + SIGNAL_CHECK;
        let slice = deadline.map_or(slice, |deadline| slice.min(deadline));
        if let Some(value) = detach(py, || poll(slice)) {
            return Ok(Some(value));
        }
        py.check_signals()?;
        if deadline.is_some_and(|deadline| Instant::now() >= deadline) {
            return Ok(None);
        }
    }
}

/// Run `work` on a thread of its own and wait for it as [`until`] does:
/// Ctrl-C raises at once, and `work` finishes behind (whatever it runs is
/// bounded by its own timeouts). `work` must not attach to the interpreter.
pub fn on_own_thread<T: Send + 'static>(
    py: Python<'_>,
    name: &str,
    work: impl FnOnce() -> T + Send + 'static,
) -> PyResult<T> {
    let (done, answer) = mpsc::sync_channel(1);
    std::thread::Builder::new()
        .name(name.into())
        .spawn(move || {
            let _ = done.send(work());
        })?;
    let answered = until(py, None, move |until| {
        let left = until.saturating_duration_since(Instant::now());
        match answer.recv_timeout(left) {
            Ok(value) => Some(Ok(value)),
            Err(mpsc::RecvTimeoutError::Timeout) => None,
            Err(mpsc::RecvTimeoutError::Disconnected) => Some(Err(())),
        }
    })?;
    match answered {
        Some(Ok(value)) => Ok(value),
        _ => Err(PyRuntimeError::new_err(format!(
            "{name} ended without an answer"
        ))),
    }
}
