"""The original module's two levels, driving the `oauth-callback` binary: one
process per server, its ready line and logs read from stderr, the result from
the one JSON line on stdout."""

import json
import logging
import math
import os
import queue
import re
import signal
import subprocess
import sys
import threading
from types import TracebackType
from typing import IO, Any, Dict, List, Optional, Sequence, Type, Union
from urllib.parse import urlsplit

from ._binary import find_binary

__all__ = ["CallbackServer", "ConfigError", "run_callback_server"]

SERVERS = ("auto", "gevent", "werkzeug")
"""The original's `server` choices; one server serves them all."""

EXIT_USAGE, EXIT_TIMEOUT = 2, 124
EXIT_INTERRUPTED, EXIT_TERMINATED = 130, 143

READY = re.compile(r"^listening on (\S+)$")
LEVELED = re.compile(r"^(trace|debug|warning|error): (.*)$")
"""Log lines other than informational ones start with their level; the
informational ones are plain sentences."""
LEVELS = {
    "trace": logging.DEBUG,
    "debug": logging.DEBUG,
    "warning": logging.WARNING,
    "error": logging.ERROR,
}
PASTE_ACCEPTED = "the pasted address completed the sign-in"
PASTE_REFUSED = re.compile(r"^(.*); (still waiting|the pasted address was not used)$")
"""How the binary answers a pasted address: accepted, or refused (and it goes
on waiting, or had ended)."""
FATAL_PREFIX = "oauth-callback: "
# The expected values travel in the environment, never in the arguments that
# every local user can read (CWE-214).
EXPECTED_VARIABLES = {
    "expect_state": "OAUTH_CALLBACK_EXPECT_STATE",
    "expect_issuer": "OAUTH_CALLBACK_EXPECT_ISSUER",
}
STOP_GRACE = 5.0
"""Seconds a stopping server gets to finish before it is killed."""


class ConfigError(ValueError):
    """The server refused its configuration (an unreadable or invalid PEM
    file, a key that does not match, a port in use, an unusable handler...);
    the message is the command line's one line."""


class CallbackServer:
    """One callback server: `start()`, open the browser at the provider,
    `wait()`, `shutdown()`. Also a context manager (started on entry, shut
    down on exit). `wait` may be called from another thread, and several
    servers may run at once."""

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: Union[int, Sequence[int]] = 8080,
        path: str = "/callback",
        *,
        timeout: float = 180.0,
        ssl_cert: Optional[str] = None,
        ssl_key: Optional[str] = None,
        adhoc_ssl: bool = False,
        force_https: bool = True,
        server: str = "auto",
        success_html_path: Optional[str] = None,
        error_html_path: Optional[str] = None,
        logger: Optional[logging.Logger] = None,
        expect_state: Optional[str] = None,
        expect_issuer: Optional[str] = None,
        open_url: Optional[str] = None,
        ready_file: Optional[str] = None,
        handler: Optional[str] = None,
        redirect_uri: Optional[str] = None,
        success_redirect: Optional[str] = None,
        error_redirect: Optional[str] = None,
        one_scheme: bool = False,
    ) -> None:
        if server not in SERVERS:
            raise ValueError(f"server must be one of {', '.join(SERVERS)}, not {server!r}")
        if isinstance(timeout, bool) or not isinstance(timeout, (int, float)):
            raise ValueError(f"timeout must be a number of seconds, not {timeout!r}")
        if math.isnan(timeout) or timeout < 0:
            raise ValueError(f"timeout must not be negative, not {timeout!r}")
        if (ssl_cert is None) != (ssl_key is None):
            raise ValueError("ssl_cert and ssl_key go together: give both PEM files or neither")
        self.timeout = float(timeout)
        self._logger = logger or logging.getLogger("oauth_callback")
        ports = [port] if isinstance(port, int) else list(port)
        if not ports or any(isinstance(p, bool) or not isinstance(p, int) for p in ports):
            raise ValueError(f"port must be a port number or a list of them, not {port!r}")
        # Each value as `--flag=value`: one that begins with `-` is a value.
        # stdin is a pipe of ours, read for complete_from_url; never the caller's.
        self._args = [f"--host={host}", f"--port={','.join(map(str, ports))}",
                      f"--path={path}", f"--timeout={self.timeout!r}", "--paste"]
        if ssl_cert is not None and ssl_key is not None:
            self._args += [f"--ssl-cert={ssl_cert}", f"--ssl-key={ssl_key}"]
        if adhoc_ssl:
            self._args.append("--adhoc-ssl")
        elif ssl_cert is None and not force_https:
            self._args.append("--no-https")
        for flag, value in (
            ("--success-html", success_html_path),
            ("--error-html", error_html_path),
            ("--open", open_url),
            ("--ready-file", ready_file),
            ("--handler", handler),
            ("--redirect-uri", redirect_uri),
            ("--success-redirect", success_redirect),
            ("--error-redirect", error_redirect),
        ):
            if value is not None:
                self._args.append(f"{flag}={value}")
        self._expected = {EXPECTED_VARIABLES["expect_state"]: expect_state,
                          EXPECTED_VARIABLES["expect_issuer"]: expect_issuer}
        if one_scheme:
            self._args.append("--one-scheme")
        self._process: Optional["subprocess.Popen[str]"] = None
        self._ready = threading.Event()
        self._done = threading.Event()
        self._stopping = False
        self._redirect_uri: Optional[str] = None
        self._result: Optional[Dict[str, Any]] = None
        self._fatal: List[str] = []
        self._errors: List[str] = []
        self._readers: List[threading.Thread] = []
        self._pastes: "queue.Queue[Optional[str]]" = queue.Queue()
        self._paste_lock = threading.Lock()

    @property
    def redirect_uri(self) -> str:
        """The URI to register with the provider, e.g.
        `https://127.0.0.1:8080/callback` (known once started)."""
        if self._redirect_uri is None:
            raise RuntimeError("the server is not started: call start() first")
        return self._redirect_uri

    @property
    def port(self) -> int:
        """The port listened on (useful with `port=0`)."""
        port = urlsplit(self.redirect_uri).port
        assert port is not None, self.redirect_uri
        return port

    def start(self) -> "CallbackServer":
        """Start the server; returns once it listens, so that the browser can
        be opened next. Raises `ConfigError` when the configuration is refused."""
        if self._process is not None:
            raise RuntimeError("the server was already started")
        self._process = subprocess.Popen(
            [find_binary(), *self._args],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=self._environment(),
            text=True,
            encoding="utf-8",
            errors="replace",
            # Its own process group: a Ctrl-C in the caller's terminal is the
            # caller's to handle (wait() then stops the server itself).
            **_detached(),
        )
        assert self._process.stdout is not None and self._process.stderr is not None
        self._readers = [
            _spawn(self._read_stderr, self._process.stderr),
            _spawn(self._read_stdout, self._process.stdout),
        ]
        try:
            while not self._ready.wait(0.01):
                if self._done.is_set():
                    self._readers[0].join()
                    raise self._failure()
        except KeyboardInterrupt:
            self.shutdown()
            raise
        return self

    def wait(self, timeout: Optional[float] = None) -> Optional[Dict[str, Any]]:
        """The callback's dict (`params`, `method`, `path`, `received_at`)
        once it arrives, or `None` after `timeout` seconds (by default the
        server's own timeout, after which it has stopped). On Ctrl-C the
        server is stopped, its port freed, and `KeyboardInterrupt` raised."""
        if self._process is None:
            raise RuntimeError("the server is not started: call start() first")
        try:
            if not self._done.wait(timeout):
                return None
        except KeyboardInterrupt:
            self.shutdown()
            raise
        return self._outcome()

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
        process = self._process
        if process is None or process.stdin is None:
            raise RuntimeError("the server is not started: call start() first")
        # One paste at a time: the binary answers them in order.
        with self._paste_lock:
            while not self._pastes.empty():
                self._pastes.get_nowait()
            try:
                process.stdin.write(address + "\n")
                process.stdin.flush()
            except (OSError, ValueError):
                pass  # it has exited: no answer will come
            refusal = self._paste_answer()
        if refusal is not None:
            raise ValueError(refusal)
        self._done.wait()  # the process prints its result, then exits
        result = self._outcome()
        if result is None:
            raise RuntimeError("the server has stopped; nothing was taken")
        return result

    def _paste_answer(self) -> Optional[str]:
        """The binary's answer to the paste just written: `None` when it
        completed the flow, else why not."""
        while True:
            try:
                return self._pastes.get(timeout=0.01)
            except queue.Empty:
                if self._done.is_set():
                    self._readers[0].join()  # every line it printed is read
                    try:
                        return self._pastes.get_nowait()
                    except queue.Empty:
                        return "the sign-in had ended; the pasted address was not used"

    def shutdown(self) -> None:
        """Stop the server and free its port (idempotent). A callback that
        completed meanwhile is still returned by `wait()`."""
        process = self._process
        if process is None or self._done.is_set():
            return
        self._stopping = True
        if sys.platform == "win32":
            process.terminate()
        else:
            process.send_signal(signal.SIGTERM)
        if not self._done.wait(STOP_GRACE):
            process.kill()
            self._done.wait()

    def __enter__(self) -> "CallbackServer":
        return self if self._process is not None else self.start()

    def __exit__(
        self,
        kind: Optional[Type[BaseException]],
        value: Optional[BaseException],
        traceback: Optional[TracebackType],
    ) -> None:
        self.shutdown()

    def _environment(self) -> Dict[str, str]:
        """The caller's environment with this server's expected values: only
        those given to it, never ones inherited from the caller's environment."""
        env = {k: v for k, v in os.environ.items() if k not in self._expected}
        env.update((k, v) for k, v in self._expected.items() if v is not None)
        return env

    def _read_stderr(self, stream: IO[str]) -> None:
        """Log each line at its level; note the ready line and fatal errors."""
        for raw in stream:
            line = raw.rstrip("\n")
            ready = READY.match(line)
            leveled = LEVELED.match(line)
            refused = PASTE_REFUSED.match(line)
            if ready:
                self._redirect_uri = ready.group(1)
                self._logger.info(line)
                self._ready.set()
            elif leveled:
                if leveled.group(1) == "error":
                    # Also how the command line refuses a flag.
                    self._errors.append(leveled.group(2))
                self._logger.log(LEVELS[leveled.group(1)], leveled.group(2))
            elif line == PASTE_ACCEPTED:
                self._logger.info(line)
                self._pastes.put(None)
            elif refused:
                self._logger.warning(line)
                self._pastes.put(refused.group(1))
            elif line.startswith(FATAL_PREFIX):
                self._fatal.append(line[len(FATAL_PREFIX):])
                self._logger.error(line[len(FATAL_PREFIX):])
            elif line:
                self._logger.info(line)

    def _read_stdout(self, stream: IO[str]) -> None:
        """The result line; the process has exited at the end of stdout."""
        for line in stream:
            if line.strip():
                self._result = json.loads(line)
        assert self._process is not None
        try:
            self._process.wait()
            if self._process.stdin is not None:
                self._process.stdin.close()
        except OSError:
            pass  # a paste's unflushed line to a process that has exited
        finally:
            self._done.set()

    def _outcome(self) -> Optional[Dict[str, Any]]:
        """What the finished process says: its result, or `None`."""
        assert self._process is not None
        self._readers[0].join()
        code = self._process.returncode
        if self._result is not None:
            return self._result
        if code in (EXIT_TIMEOUT, EXIT_INTERRUPTED, EXIT_TERMINATED) or self._stopping:
            return None
        raise self._failure()

    def _failure(self) -> Exception:
        assert self._process is not None
        code = self._process.returncode
        said = self._fatal or self._errors
        message = said[-1] if said else f"oauth-callback exited with code {code}"
        if code == EXIT_USAGE:
            return ConfigError(message)
        return RuntimeError(f"oauth-callback failed (exit code {code}): {message}")


def run_callback_server(
    host: str = "127.0.0.1",
    port: Union[int, Sequence[int]] = 8080,
    path: str = "/callback",
    *,
    timeout: float = 180.0,
    ssl_cert: Optional[str] = None,
    ssl_key: Optional[str] = None,
    adhoc_ssl: bool = False,
    force_https: bool = True,
    server: str = "auto",
    success_html_path: Optional[str] = None,
    error_html_path: Optional[str] = None,
    logger: Optional[logging.Logger] = None,
    expect_state: Optional[str] = None,
    expect_issuer: Optional[str] = None,
    open_url: Optional[str] = None,
    ready_file: Optional[str] = None,
    handler: Optional[str] = None,
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


def _spawn(target: Any, stream: IO[str]) -> threading.Thread:
    thread = threading.Thread(target=target, args=(stream,), daemon=True)
    thread.start()
    return thread


def _detached() -> Dict[str, Any]:
    if sys.platform == "win32":
        return {"creationflags": subprocess.CREATE_NEW_PROCESS_GROUP}
    return {"start_new_session": True}
