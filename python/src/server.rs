//! `Server`: one callback server running in this process, on a tokio
//! runtime of its own, until the first completed callback, its timeout, or
//! `shutdown()`.

use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use oauth_callback::{AsyncCallbackServer, AsyncRunningServer, CallbackResult, PasteBack, Pasted};
use pyo3::exceptions::{PyRuntimeError, PyValueError};
use pyo3::prelude::*;
use tokio::sync::oneshot;
use tracing::Dispatch;

use crate::courier::{self, Courier, Queue};
use crate::errors::{os_error, to_python};
use crate::exit::detach;
use crate::lock;
use crate::options::{Options, Prepared};
use crate::waiting;

/// How long an interrupted or abandoned server gets to hand over a result
/// that was acknowledged meanwhile, before its runtime is dropped.
const QUICK_STOP: Duration = Duration::from_millis(100);
/// How long after its deadline a server may take to settle.
const SETTLING: Duration = Duration::from_secs(1);

/// A callback server, listening from [`Server::start`] on.
#[pyclass(frozen, module = "oauth_callback._native")]
pub struct Server {
    redirect_uri: String,
    port: u16,
    /// When the configured timeout passes, counted from the start.
    deadline: Instant,
    core: Arc<Core>,
}

/// What a server's stop acts on, shared with the interpreter's exit
/// ([`crate::exit::stop_at_exit`]).
struct Core {
    /// The process that started it (a forked child has none of its threads).
    pid: u32,
    /// Completes the flow from pasted addresses; dropped at the stop, as it
    /// holds the handler (and its epoch thread).
    paste_back: Mutex<Option<PasteBack>>,
    outcome: Arc<Outcome>,
    running: Mutex<Option<Running>>,
    courier: Courier,
    /// Where the server's threads log. The runtime's thread hooks hold it
    /// weakly (a runtime handle outlives the runtime): dropped at the stop,
    /// so the courier sees its last sender go.
    logs: Mutex<Option<Dispatch>>,
    /// Its listening sockets, for children forked while it runs.
    #[cfg(unix)]
    listeners: Mutex<Option<crate::fork::Registration>>,
}

/// What a running server needs to be stopped.
struct Running {
    runtime: tokio::runtime::Runtime,
    stop: oneshot::Sender<()>,
}

#[pymethods]
impl Server {
    /// Start a server with `options` (the original module's keyword
    /// arguments, as a dict); its log records go to `logger`. Returns once
    /// it listens; the GIL is released while binding, setting up TLS and
    /// loading the handler. Raises `ConfigError` (or a subclass) when
    /// refused, after which nothing listens.
    #[staticmethod]
    fn start(py: Python<'_>, options: Options, logger: Py<PyAny>) -> PyResult<Server> {
        let Prepared { config, page } = options.prepare()?;
        let level: i32 = logger.call_method0(py, "getEffectiveLevel")?.extract(py)?;
        let (queue, dispatch) = Queue::new(courier::level_filter(level));
        // The runtime before the GIL goes (starting a thread takes
        // microseconds), so that the first thing done without it is to
        // listen: another thread of the caller's may be the browser. The
        // log thread comes after, for the same reason.
        let runtime = runtime(&dispatch)
            .map_err(|e| os_error(&e, format!("cannot start the server's threads: {e}")))?;
        let started = detach(py, || {
            tracing::dispatcher::with_default(&dispatch, || {
                runtime.block_on(AsyncCallbackServer::start(config))
            })
        });
        let courier = match Courier::start(queue, logger) {
            Ok(courier) => courier,
            Err(e) => {
                detach(py, || {
                    drop(started);
                    runtime.shutdown_timeout(QUICK_STOP);
                });
                return Err(os_error(&e, format!("cannot start the log thread: {e}")));
            }
        };
        let flow = match started {
            Ok(flow) => flow,
            Err(e) => {
                // What it logged about the refusal reaches the logger first.
                drop(dispatch);
                detach(py, || {
                    runtime.shutdown_timeout(QUICK_STOP);
                    courier.close(true);
                });
                return Err(to_python(&e));
            }
        };
        let outcome = Arc::new(Outcome::new());
        let (stop, stopped) = oneshot::channel();
        let core = Arc::new(Core {
            pid: std::process::id(),
            paste_back: Mutex::new(Some(flow.paste_back())),
            outcome: outcome.clone(),
            #[cfg(unix)]
            listeners: Mutex::new(Some(register_listeners(&flow))),
            running: Mutex::new(None),
            courier,
            logs: Mutex::new(Some(dispatch.clone())),
        });
        let server = Server {
            redirect_uri: flow.redirect_uri().to_string(),
            port: flow.local_addr().port(),
            deadline: flow.deadline(),
            core: core.clone(),
        };
        runtime.spawn(serve(flow, stopped, outcome));
        *lock(&core.running) = Some(Running { runtime, stop });
        crate::exit::stop_at_exit(&core);
        if let Some(page) = page {
            let uri = &server.redirect_uri;
            detach(py, || {
                tracing::dispatcher::with_default(&dispatch, || page.open(uri, None))
            });
        }
        Ok(server)
    }

    /// The redirect URI to register with the provider, e.g.
    /// `https://127.0.0.1:8080/callback`.
    #[getter]
    fn redirect_uri(&self) -> &str {
        &self.redirect_uri
    }

    /// The port listened on (the chosen one with port 0).
    #[getter]
    fn port(&self) -> u16 {
        self.port
    }

    /// The callback's dict once it has arrived, or `None` after `timeout`
    /// seconds (by default until the server's own timeout, after which it
    /// has stopped). Waits without the GIL; Ctrl-C stops the server (its
    /// port is free when `KeyboardInterrupt` propagates).
    #[pyo3(signature = (timeout=None))]
    fn wait(&self, py: Python<'_>, timeout: Option<f64>) -> PyResult<Option<Py<PyAny>>> {
        self.core.in_this_process()?;
        // Without a timeout (or one too long to count), until it settles:
        // the server stops at its own timeout.
        let deadline = match timeout {
            Some(t) if t.is_nan() => return Err(PyValueError::new_err("timeout is not a number")),
            Some(t) => Duration::try_from_secs_f64(t.max(0.0))
                .ok()
                .and_then(|t| Instant::now().checked_add(t)),
            None => None,
        };
        let outcome = &self.core.outcome;
        match waiting::until(py, deadline, |until| outcome.wait_settled_until(until)) {
            Ok(Some(result)) => result.map(|r| to_dict(py, &r)).transpose(),
            Ok(None) => Ok(None),
            Err(interrupt) => {
                detach(py, || self.core.stop(QUICK_STOP, true));
                Err(interrupt)
            }
        }
    }

    /// The callback's dict if it has arrived, else `None`; never waits.
    fn result(&self, py: Python<'_>) -> PyResult<Option<Py<PyAny>>> {
        self.core
            .outcome
            .result()
            .map(|r| to_dict(py, &r))
            .transpose()
    }

    /// Call `waker()` (from a short-lived thread of its own, with the GIL)
    /// once the flow has settled: a result, or the server stopped without one.
    /// Returns `False`, and never calls it, when it has settled already.
    fn on_settled(&self, waker: Py<PyAny>) -> bool {
        self.core.outcome.on_settled(waker)
    }

    /// Forget `waker` (the very object given to `on_settled`): its wait was
    /// cancelled, and nothing keeps it alive any more.
    fn off_settled(&self, waker: Py<PyAny>) {
        // Released here, with the GIL, once the lock is no longer held.
        drop(self.core.outcome.off_settled(&waker));
    }

    /// Complete the flow from `address`, the address a browser on another
    /// machine ended at; see `CallbackServer.complete_from_url`. Returns the
    /// callback's dict, or raises `ValueError` with the reason it was not
    /// taken.
    fn complete_from_url(&self, py: Python<'_>, address: &str) -> PyResult<Py<PyAny>> {
        self.core.in_this_process()?;
        let paste_back = lock(&self.core.paste_back).clone();
        let pasted = match paste_back {
            Some(paste_back) => detach(py, || paste_back.complete_from_url(address)),
            None => Pasted::Stopping,
        };
        if pasted != Pasted::Completed {
            return Err(PyValueError::new_err(pasted.to_string()));
        }
        // It completed the flow: the server settles with its result at once.
        let result = detach(py, || {
            self.core
                .outcome
                .wait_settled_until(self.deadline + SETTLING)
        });
        match result.flatten() {
            Some(result) => to_dict(py, &result),
            None => Err(PyRuntimeError::new_err(
                "the server has stopped; nothing was taken",
            )),
        }
    }

    /// Stop listening, let in-flight answers finish (at most about two
    /// seconds), free the port and end the server's threads; idempotent. A
    /// callback that completed meanwhile is kept for `result()`/`wait()`.
    fn shutdown(&self, py: Python<'_>) -> PyResult<()> {
        self.core.in_this_process()?;
        detach(py, || self.core.stop(Duration::MAX, true));
        Ok(())
    }
}

/// At the interpreter's exit: stopped quickly, its last log records delivered.
impl crate::exit::StopAtExit for Core {
    fn stop_at_exit(&self) {
        // A forked child's copy: its threads are the parent's.
        if self.pid == std::process::id() {
            self.stop(QUICK_STOP, true);
        }
    }
}

impl Core {
    /// Stop the server: tell it to, give it `grace` to hand over a result
    /// and finish its connections, then drop its runtime (closing what is
    /// left) and let the log thread end; with `join`, wait for it to (never
    /// from a drop, which may come during the interpreter's finalization,
    /// when that thread can no longer take the GIL). Call without the GIL.
    fn stop(&self, grace: Duration, join: bool) {
        let Some(running) = lock(&self.running).take() else {
            return;
        };
        let _ = running.stop.send(());
        self.outcome.wait_finished(grace);
        // Its threads end on their own: the port is free already, and what
        // they still hold (idle workers, a connection past its drain) goes
        // with them.
        running.runtime.shutdown_background();
        lock(&self.paste_back).take();
        self.outcome.finish(None);
        lock(&self.logs).take();
        #[cfg(unix)]
        lock(&self.listeners).take();
        self.courier.close(join && !self.courier.is_current());
    }

    /// Refuse to act in a child made by `fork()`: the server's threads
    /// are the parent's.
    fn in_this_process(&self) -> PyResult<()> {
        if self.pid == std::process::id() {
            Ok(())
        } else {
            Err(PyRuntimeError::new_err(
                "this server belongs to the parent process (it was started before fork())",
            ))
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let core = &self.core;
        if core.pid != std::process::id() {
            // A forked child: none of the runtime's threads exist here.
            // Its registry entry may sit behind a lock a parent thread held.
            std::mem::forget(lock(&core.running).take());
            #[cfg(unix)]
            std::mem::forget(lock(&core.listeners).take());
            return;
        }
        Python::attach(|py| detach(py, || core.stop(QUICK_STOP, false)));
    }
}

/// The server's runtime: one worker (a loopback sign-in needs no more),
/// named after us, each of whose threads logs through `dispatch`; dropped
/// with the server, so no thread outlives it.
pub(crate) fn runtime(dispatch: &Dispatch) -> std::io::Result<tokio::runtime::Runtime> {
    let dispatch = dispatch.downgrade();
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .thread_name("oauth-callback")
        .on_thread_start(move || {
            let guard = dispatch
                .upgrade()
                .map(|dispatch| tracing::dispatcher::set_default(&dispatch));
            THREAD_LOGS.set(guard);
        })
        .on_thread_stop(|| THREAD_LOGS.set(None))
        .enable_all()
        .build()
}

thread_local! {
    /// A runtime thread's dispatcher, for as long as the thread lives.
    static THREAD_LOGS: std::cell::Cell<Option<tracing::dispatcher::DefaultGuard>> =
        const { std::cell::Cell::new(None) };
}

/// Serve until the first completed callback, the timeout or `stop`; hand
/// the result over before the connections finish, then finish them.
async fn serve(mut server: AsyncRunningServer, stop: oneshot::Receiver<()>, outcome: Arc<Outcome>) {
    let result = tokio::select! {
        biased;
        result = server.wait() => result,
        _ = stop => server.wait_for(Duration::ZERO).await,
    };
    outcome.settle(result);
    let late = server.shutdown().await;
    outcome.finish(late);
}

/// Register the server's listening sockets, to be closed in forked children.
#[cfg(unix)]
fn register_listeners(server: &AsyncRunningServer) -> crate::fork::Registration {
    let addr = server.local_addr();
    let listeners = server
        .listener_fds()
        .iter()
        .map(|&fd| crate::fork::Listener::new(fd, addr))
        .collect();
    crate::fork::register(listeners)
}

/// The result as the original module's dict (`params`, `method`, `path`,
/// `received_at`): the same JSON line the command line prints, parsed.
fn to_dict(py: Python<'_>, result: &CallbackResult) -> PyResult<Py<PyAny>> {
    let json = py.import("json")?;
    Ok(json
        .call_method1("loads", (result.to_json_line(),))?
        .unbind())
}

/// What became of the flow, shared by the server's task and its callers.
struct Outcome {
    state: Mutex<Settlement>,
    changed: Condvar,
}

struct Settlement {
    result: Option<Arc<CallbackResult>>,
    /// The wait is over: a result, or none is coming.
    settled: bool,
    /// The server has stopped (its connections finished).
    finished: bool,
    /// Called once settled (asyncio waiters).
    wakers: Vec<Py<PyAny>>,
}

impl Outcome {
    fn new() -> Self {
        Outcome {
            state: Mutex::new(Settlement {
                result: None,
                settled: false,
                finished: false,
                wakers: Vec::new(),
            }),
            changed: Condvar::new(),
        }
    }

    /// The wait is over, with `result` or without one.
    fn settle(&self, result: Option<CallbackResult>) {
        let mut state = lock(&self.state);
        if state.result.is_none() {
            state.result = result.map(Arc::new);
        }
        if !state.settled {
            state.settled = true;
            wake(std::mem::take(&mut state.wakers));
        }
        self.changed.notify_all();
    }

    /// The server has stopped; `late` completed after the wait ended.
    fn finish(&self, late: Option<CallbackResult>) {
        self.settle(late);
        lock(&self.state).finished = true;
        self.changed.notify_all();
    }

    /// Wait until settled or `deadline`: `Some(result)` once settled.
    fn wait_settled_until(&self, deadline: Instant) -> Option<Option<Arc<CallbackResult>>> {
        let mut state = lock(&self.state);
        while !state.settled {
            let left = deadline.checked_duration_since(Instant::now())?;
            state = self
                .changed
                .wait_timeout(state, left)
                .unwrap_or_else(|p| p.into_inner())
                .0;
        }
        Some(state.result.clone())
    }

    /// Wait until the server has stopped, for at most `grace`.
    fn wait_finished(&self, grace: Duration) {
        let deadline = Instant::now().checked_add(grace);
        let mut state = lock(&self.state);
        while !state.finished {
            let left = match deadline {
                Some(deadline) => match deadline.checked_duration_since(Instant::now()) {
                    Some(left) => left,
                    None => return,
                },
                None => Duration::from_secs(3600),
            };
            state = self
                .changed
                .wait_timeout(state, left)
                .unwrap_or_else(|p| p.into_inner())
                .0;
        }
    }

    fn result(&self) -> Option<Arc<CallbackResult>> {
        lock(&self.state).result.clone()
    }

    /// Keep `waker` for when it settles; `false` when it has.
    fn on_settled(&self, waker: Py<PyAny>) -> bool {
        let mut state = lock(&self.state);
        if state.settled {
            return false;
        }
        state.wakers.push(waker);
        true
    }

    /// Take `waker` out again (compared by identity); what was removed.
    fn off_settled(&self, waker: &Py<PyAny>) -> Vec<Py<PyAny>> {
        let mut state = lock(&self.state);
        let (removed, kept) = std::mem::take(&mut state.wakers)
            .into_iter()
            .partition(|kept| kept.is(waker));
        state.wakers = kept;
        removed
    }
}

/// Call `wakers` from a thread of their own that takes the GIL: never from
/// the runtime's workers, nor behind log records a slow handler holds up.
fn wake(wakers: Vec<Py<PyAny>>) {
    if wakers.is_empty() {
        return;
    }
    if crate::exit::exiting() {
        // Their loops are gone; nothing may attach to call them.
        std::mem::forget(wakers);
        return;
    }
    let spawned = crate::exit::spawn_helper("oauth-callback-wake", move || {
        Python::attach(|py| {
            for waker in wakers {
                if let Err(e) = waker.call0(py) {
                    e.write_unraisable(py, Some(waker.bind(py)));
                }
            }
        })
    });
    if let Err(e) = spawned {
        tracing::error!("cannot wake the asyncio waiters: {e}");
    }
}
