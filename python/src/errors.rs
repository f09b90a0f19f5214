//! The library's errors as the Python exceptions of `oauth_callback._errors`
//! (defined in Python, so that they can have two bases), each carrying the
//! library's message with its causes.

use oauth_callback::{Error, PemError};
use pyo3::exceptions::PyOSError;
use pyo3::prelude::*;

pyo3::import_exception!(oauth_callback._errors, ConfigError);
pyo3::import_exception!(oauth_callback._errors, PortInUseError);
pyo3::import_exception!(oauth_callback._errors, CertificateNotFoundError);
pyo3::import_exception!(oauth_callback._trust, TrustError);
pyo3::import_exception!(oauth_callback._sign_in, SignInConfigError);
pyo3::import_exception!(oauth_callback._sign_in, ProviderError);
pyo3::import_exception!(oauth_callback._sign_in, CheckFailedError);
pyo3::import_exception!(oauth_callback._sign_in, ProviderUnreachableError);
pyo3::import_exception!(oauth_callback._sign_in, SignInTimeoutError);
pyo3::import_exception!(oauth_callback._sign_in, SignInError);

/// The Python exception for a server that could not start: a busy port is a
/// `PortInUseError` (`OSError` with `errno.EADDRINUSE`, and `ConfigError`),
/// a missing certificate or key file a `CertificateNotFoundError`
/// (`FileNotFoundError` and `ConfigError`), a ready file that cannot be
/// written, a process out of descriptors and any other I/O failure an
/// `OSError` with its `errno`, and the rest a `ConfigError`.
pub fn to_python(error: &Error) -> PyErr {
    let message = oauth_callback::error_line(error);
    match error {
        Error::Bind { source, .. } if out_of_descriptors(source) => os_error(source, message),
        Error::PortInUse(_) => PortInUseError::new_err(message),
        Error::NoPortAvailable(attempts)
            if attempts.iter().all(|e| matches!(e, Error::PortInUse(_))) =>
        {
            PortInUseError::new_err(message)
        }
        Error::Pem {
            path,
            source: PemError::Read(io),
        } if io.kind() == std::io::ErrorKind::NotFound => {
            CertificateNotFoundError::new_err((message, path.display().to_string()))
        }
        Error::ReadyFile { path, source } => {
            PyOSError::new_err((source.raw_os_error(), message, path.display().to_string()))
        }
        Error::Io(source) => os_error(source, message),
        _ => ConfigError::new_err(message),
    }
}

/// `OSError(errno, message)`, as Python's own calls raise it (`errno`
/// `None` when the system gave none).
pub fn os_error(source: &std::io::Error, message: impl Into<String>) -> PyErr {
    PyOSError::new_err((source.raw_os_error(), message.into()))
}

/// `EMFILE`, `ENFILE`: the process or the system has no descriptor left.
#[cfg(unix)]
fn out_of_descriptors(source: &std::io::Error) -> bool {
    matches!(source.raw_os_error(), Some(libc::EMFILE | libc::ENFILE))
}

/// (Windows says so with its own codes, which stay `OSError`s too.)
#[cfg(not(unix))]
fn out_of_descriptors(_: &std::io::Error) -> bool {
    false
}

/// A refusal of the settings before anything started (`ConfigError`).
pub fn config_error(message: impl Into<String>) -> PyErr {
    ConfigError::new_err(message.into())
}

/// The local CA's failure: an unreadable CA file as the server's errors
/// are (`to_python`), a file or program the system refused as `OSError`,
/// and the rest as `TrustError`, with the library's message and, where
/// there is one, what to do in Python's words.
pub fn trust_error(error: &oauth_callback::TrustError) -> PyErr {
    use oauth_callback::TrustError as Why;
    let message = oauth_callback::error_line(error);
    let fix = match error {
        Why::Ca(error) => return to_python(error),
        Why::Write { .. } | Why::Start { .. } => return PyOSError::new_err(message),
        Why::MissingProgram { .. } => ", then call trust() again",
        Why::NoLocalCa { .. } => "; call trust() as that user first",
        Why::NoSystemStore => "; export_root(FILE) writes the public root to add by hand",
        _ => "",
    };
    TrustError::new_err(format!("{message}{fix}"))
}

/// A sign-in's failure as `oauth_callback._sign_in`'s exceptions (all
/// `SignInError`s): a bad setting `SignInConfigError` (also a
/// `ConfigError`), the receiver's own refusals as [`to_python`] raises them,
/// the provider's `error` a `ProviderError` (with `.error` and
/// `.description`), a failed check `CheckFailedError`, an unreachable
/// provider `ProviderUnreachableError`, and the timeout
/// `SignInTimeoutError` (also a `TimeoutError`).
pub fn sign_in_error(error: &oauth_callback::SignInError) -> PyErr {
    use oauth_callback::SignInError as Why;
    let message = oauth_callback::error_line(error);
    match error {
        Why::InvalidSetting(_) => SignInConfigError::new_err(message),
        Why::Receiver(error) => to_python(error),
        Why::Provider(refusal) => {
            ProviderError::new_err((message, refusal.error.clone(), refusal.description.clone()))
        }
        Why::CheckFailed(_) => CheckFailedError::new_err(message),
        Why::Unreachable(_) => ProviderUnreachableError::new_err(message),
        Why::TimedOut(_) => SignInTimeoutError::new_err(message),
        _ => SignInError::new_err(message),
    }
}
