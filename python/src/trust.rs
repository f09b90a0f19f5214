//! The local CA's trust ([`oauth_callback::trust`], `untrust`,
//! `trust_status`, `export_root`) for the package's functions of the same
//! names: each runs on a thread of its own while the caller waits without
//! the GIL (Ctrl-C raises `KeyboardInterrupt` at once), and returns its
//! report as a dict, which the package turns into a `TrustReport`; nothing
//! is printed.

use std::path::PathBuf;
use std::time::UNIX_EPOCH;

use oauth_callback::{CaState, StoreState, TrustError, TrustReport};
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList};

use crate::errors::trust_error;
use crate::waiting::on_own_thread;

/// The thread each call runs on, so that the caller's answers Ctrl-C
/// (the stores' programs run under timeouts of their own).
const THREAD: &str = "oauth-callback-trust";

/// Make the local CA once and trust its root in this user's stores (and
/// the system's with `system`): the report as a dict. Raises `TrustError`
/// or `OSError`.
#[pyfunction]
#[pyo3(signature = (*, system = false))]
pub fn trust(py: Python<'_>, system: bool) -> PyResult<Py<PyDict>> {
    let answer = on_own_thread(py, THREAD, move || oauth_callback::trust(system))?;
    report(py, answer)
}

/// Take the root out of every store (the system's with `system`), then
/// delete the CA. Raises `TrustError` or `OSError`.
#[pyfunction]
#[pyo3(signature = (*, system = false))]
pub fn untrust(py: Python<'_>, system: bool) -> PyResult<Py<PyDict>> {
    let answer = on_own_thread(py, THREAD, move || oauth_callback::untrust(system))?;
    report(py, answer)
}

/// The CA and each store, holding the root or not. Raises `TrustError`.
#[pyfunction]
pub fn trust_status(py: Python<'_>) -> PyResult<Py<PyDict>> {
    report(py, on_own_thread(py, THREAD, oauth_callback::trust_status)?)
}

/// Make the local CA once and write its public root to `file`. Raises
/// `TrustError` or `OSError`.
#[pyfunction]
pub fn export_root(py: Python<'_>, file: PathBuf) -> PyResult<Py<PyDict>> {
    report(
        py,
        on_own_thread(py, THREAD, move || oauth_callback::export_root(&file))?,
    )
}

/// `{"dir", "ca", "unusable", "expires" (Unix seconds), "renewal_due", "stores":
/// [{"store", "state", "reason", "needs_privileges", "system", "text"}],
/// "text"}`.
fn report(py: Python<'_>, report: Result<TrustReport, TrustError>) -> PyResult<Py<PyDict>> {
    let report = report.map_err(|e| trust_error(&e))?;
    let dict = PyDict::new(py);
    dict.set_item("dir", report.dir.display().to_string())?;
    dict.set_item("ca", ca_state(report.ca))?;
    dict.set_item("unusable", report.unusable.as_deref())?;
    let expires = report
        .expires
        .and_then(|at| at.duration_since(UNIX_EPOCH).ok())
        .map(|since| since.as_secs_f64());
    dict.set_item("expires", expires)?;
    dict.set_item("renewal_due", report.renewal_due.as_deref())?;
    let stores = PyList::empty(py);
    for store in &report.stores {
        let (reason, needs_privileges) = match &store.state {
            StoreState::NotPresent(why) => (Some(why.as_str()), false),
            StoreState::Failed {
                reason,
                needs_privileges,
            } => (Some(reason.as_str()), *needs_privileges),
            _ => (None, false),
        };
        let entry = PyDict::new(py);
        entry.set_item("store", &store.store)?;
        entry.set_item("state", store.state.name())?;
        entry.set_item("reason", reason)?;
        entry.set_item("needs_privileges", needs_privileges)?;
        entry.set_item("system", store.system)?;
        entry.set_item("text", store.to_string())?;
        stores.append(entry)?;
    }
    dict.set_item("stores", stores)?;
    dict.set_item("text", report.to_string())?;
    Ok(dict.unbind())
}

fn ca_state(state: CaState) -> &'static str {
    match state {
        CaState::Created => "created",
        CaState::Kept => "kept",
        CaState::Found => "found",
        CaState::Deleted => "deleted",
        CaState::Unusable => "unusable",
        _ => "absent",
    }
}
