"""The original module's two levels, `run_callback_server(...)` and
`CallbackServer`, over the extension's `Server`: the library runs in this
process, on threads of its own, and every blocking call releases the GIL."""

import atexit
import logging
import os
from types import TracebackType
from typing import Any, Dict, List, Optional, Sequence, Type, Union

from . import _native
from ._errors import ConfigError

__all__ = ["CallbackServer", "run_callback_server"]

FilePath = Union[str, bytes, "os.PathLike[str]", "os.PathLike[bytes]"]
"""A file's path, as `open()` takes it."""

SERVERS = ("auto", "gevent", "werkzeug")
"""The original's `server` choices; one server serves them all."""

if hasattr(os, "register_at_fork"):
    # A child made by fork() (multiprocessing on Linux) never holds a
    # running server's port.
    os.register_at_fork(after_in_child=_native.after_fork_in_child)

# A program that ends with a server still running (no `shutdown()`, a daemon
# thread inside `wait()`) exits cleanly: the servers stop before the
# interpreter finalizes, and the extension's threads never touch it again.
atexit.register(_native.at_exit)


class CallbackServer:
    """One callback server: `start()`, open the browser at the provider,
    `wait()`, `shutdown()`. Also a context manager (started on entry, shut
    down on exit). `wait` may be called from another thread, and several
    servers may run at once, each with its own `logger`."""

    def __init__(
        self,
        host: Optional[str] = None,
        port: Union[int, Sequence[int], None] = None,
        path: str = _native.DEFAULT_PATH,
        *,
        timeout: float = _native.DEFAULT_TIMEOUT,
        ssl_cert: Optional[FilePath] = None,
        ssl_key: Optional[FilePath] = None,
        adhoc_ssl: bool = False,
        self_signed: bool = False,
        force_https: bool = True,
        server: str = "auto",
        success_html_path: Optional[FilePath] = None,
        error_html_path: Optional[FilePath] = None,
        logger: Optional[logging.Logger] = None,
        expect_state: Optional[str] = None,
        expect_issuer: Optional[str] = None,
        open_url: Optional[str] = None,
        ready_file: Optional[FilePath] = None,
        handler: Optional[FilePath] = None,
        redirect_uri: Optional[str] = None,
        success_redirect: Optional[str] = None,
        error_redirect: Optional[str] = None,
        one_scheme: bool = False,
    ) -> None:
        if server not in SERVERS:
            raise ConfigError(f"server must be one of {', '.join(SERVERS)}, not {server!r}")
        if isinstance(timeout, bool) or not isinstance(timeout, (int, float)):
            raise ConfigError(f"timeout must be a number of seconds, not {timeout!r}")
        self.timeout = float(timeout)
        if logger is not None and not all(callable(getattr(logger, m, None)) for m in ("log", "getEffectiveLevel")):
            raise ConfigError(f"logger must be a logging.Logger (or an adapter), not {logger!r}")
        self._logger = logger or logging.getLogger("oauth_callback")
        self._options: Dict[str, Any] = {
            # None: the library's default (127.0.0.1 and 8080), or what a
            # loopback redirect_uri says (its port; both loopbacks for a name).
            "host": None if host is None else _text("host", host),
            "ports": None if port is None else _ports(port),
            "path": _text("path", path),
            "timeout": self.timeout,
            # Switches take any truth value, as the original's `if` did.
            "adhoc_ssl": bool(adhoc_ssl),
            "self_signed": bool(self_signed),
            "force_https": bool(force_https),
            "one_scheme": bool(one_scheme),
        }
        for name, file in (("ssl_cert", ssl_cert), ("ssl_key", ssl_key),
                           ("success_html_path", success_html_path),
                           ("error_html_path", error_html_path),
                           ("ready_file", ready_file), ("handler", handler)):
            self._options[name] = _file(name, file)
        for name, text in (("expect_state", expect_state), ("expect_issuer", expect_issuer),
                           ("open_url", open_url), ("redirect_uri", redirect_uri),
                           ("success_redirect", success_redirect),
                           ("error_redirect", error_redirect)):
            self._options[name] = None if text is None else _text(name, text)
        self._server: Optional[_native.Server] = None

    @property
    def redirect_uri(self) -> str:
        """The URI to register with the provider, e.g.
        `https://127.0.0.1:8080/callback` (known once started)."""
        return self._started().redirect_uri

    @property
    def port(self) -> int:
        """The port listened on (useful with `port=0`)."""
        return self._started().port

    def start(self) -> "CallbackServer":
        """Start the server; returns once it listens, so that the browser can
        be opened next. Raises `ConfigError` (`PortInUseError`,
        `CertificateNotFoundError`) when the configuration is refused."""
        if self._server is not None:
            raise RuntimeError("the server was already started")
        self._server = _native.Server.start(self._options, self._logger)
        return self

    def wait(self, timeout: Optional[float] = None) -> Optional[Dict[str, Any]]:
        """The callback's dict (`params`, `method`, `path`, `received_at`)
        once it arrives, or `None` after `timeout` seconds (by default the
        server's own timeout, after which it has stopped). On Ctrl-C the
        server is stopped, its port freed, and `KeyboardInterrupt` raised."""
        return self._started().wait(timeout)

    def complete_from_url(self, address: str) -> Dict[str, Any]:
        """Complete the flow from the address a browser on another machine
        ended at (the callback page that did not load, `#fragment` included),
        as that browser would have: the same checks, the same dict as
        `wait()` returns. Raises `ValueError` with the reason when the
        address is refused (another path or port, no code, a wrong state...;
        the server goes on waiting) or the flow had already ended (the
        browser came first: `wait()` has its result)."""
        if "\n" in address or "\r" in address or not address.strip():
            raise ValueError("give one address, on one line")
        return self._started().complete_from_url(address)

    def shutdown(self) -> None:
        """Stop the server and free its port (idempotent). A callback that
        completed meanwhile is still returned by `wait()`."""
        if self._server is not None:
            self._server.shutdown()

    def __enter__(self) -> "CallbackServer":
        return self if self._server is not None else self.start()

    def __exit__(
        self,
        kind: Optional[Type[BaseException]],
        value: Optional[BaseException],
        traceback: Optional[TracebackType],
    ) -> None:
        self.shutdown()

    def _started(self) -> "_native.Server":
        if self._server is None:
            raise RuntimeError("the server is not started: call start() first")
        return self._server


def _text(name: str, value: Any) -> str:
    if not isinstance(value, str):
        raise ConfigError(f"{name} must be a string, not {value!r}")
    return value


def _ports(port: Any) -> List[int]:
    """A port, or a sequence of them tried in turn."""
    ports = list(port) if isinstance(port, (list, tuple, range)) else [port]
    if not ports or any(isinstance(p, bool) or not isinstance(p, int) or not 0 <= p <= 65535 for p in ports):
        raise ConfigError(f"port must be a port number (0 to 65535) or a list of them, not {port!r}")
    return ports


def _file(name: str, value: Any) -> Optional[str]:
    """A file's path: `str`, `bytes` or `os.PathLike`, as `open()` takes."""
    if value is None:
        return None
    try:
        return os.fsdecode(os.fspath(value))
    except TypeError:
        raise ConfigError(f"{name} must be a path (str or os.PathLike), not {value!r}") from None


def run_callback_server(
    host: Optional[str] = None,
    port: Union[int, Sequence[int], None] = None,
    path: str = _native.DEFAULT_PATH,
    *,
    timeout: float = _native.DEFAULT_TIMEOUT,
    ssl_cert: Optional[FilePath] = None,
    ssl_key: Optional[FilePath] = None,
    adhoc_ssl: bool = False,
    self_signed: bool = False,
    force_https: bool = True,
    server: str = "auto",
    success_html_path: Optional[FilePath] = None,
    error_html_path: Optional[FilePath] = None,
    logger: Optional[logging.Logger] = None,
    expect_state: Optional[str] = None,
    expect_issuer: Optional[str] = None,
    open_url: Optional[str] = None,
    ready_file: Optional[FilePath] = None,
    handler: Optional[FilePath] = None,
    redirect_uri: Optional[str] = None,
    success_redirect: Optional[str] = None,
    error_redirect: Optional[str] = None,
    one_scheme: bool = False,
) -> Optional[Dict[str, Any]]:
    """Start a server, wait for one callback, shut it down: the callback's
    dict, or `None` when `timeout` passes first. Bad configuration raises
    `ConfigError`."""
    with CallbackServer(
        host,
        port,
        path,
        timeout=timeout,
        ssl_cert=ssl_cert,
        ssl_key=ssl_key,
        adhoc_ssl=adhoc_ssl,
        self_signed=self_signed,
        force_https=force_https,
        server=server,
        success_html_path=success_html_path,
        error_html_path=error_html_path,
        logger=logger,
        expect_state=expect_state,
        expect_issuer=expect_issuer,
        open_url=open_url,
        ready_file=ready_file,
        handler=handler,
        redirect_uri=redirect_uri,
        success_redirect=success_redirect,
        error_redirect=error_redirect,
        one_scheme=one_scheme,
    ) as callback_server:
        return callback_server.wait()
