"""Helpers for the Python package's tests: they run against the installed
wheel (scripts/test-python installs it into a fresh virtual environment), whose
extension (`oauth_callback._native`) serves in the test's own process."""

import json
import logging
import os
import shutil
import signal
import socket
import ssl
import subprocess
import threading
import time
import urllib.error
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Callable, Dict, Iterator, List, Optional, Set, Tuple

import pytest

INSECURE = ssl.create_default_context()
INSECURE.check_hostname = False
INSECURE.verify_mode = ssl.CERT_NONE  # ad hoc and self-made certificates, loopback only
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]


def chromium_page(playwright: Any) -> Tuple[Any, Any]:
    """Debian's headless Chromium through `playwright` (sync API), and a
    page in a fresh context that ignores certificate errors (ad hoc
    certificates, loopback only): (browser, page); close the browser."""
    browser = playwright.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
    return browser, browser.new_context(ignore_https_errors=True).new_page()


def pytest_configure(config: pytest.Config) -> None:
    # scripts/release's arm64 root file system has no Chromium: it deselects these.
    config.addinivalue_line("markers", "chromium: drives Debian's headless Chromium (/usr/bin/chromium)")
    # Started in the background (`nohup scripts/test &`), this process and
    # every child inherit SIGINT ignored, and Python then installs no
    # KeyboardInterrupt handler: the tests that interrupt themselves or a
    # child rely on Ctrl-C's usual disposition, so they set it. A handled
    # signal is reset to its default action in a child at exec, where
    # Python then installs its own handler again.
    signal.signal(signal.SIGINT, signal.default_int_handler)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def get(url: str, headers: Optional[Dict[str, str]] = None) -> Tuple[int, str]:
    """Status and body of a GET (HTTP errors included)."""
    request = urllib.request.Request(url, headers=headers or {})
    try:
        with urllib.request.urlopen(request, context=INSECURE, timeout=10) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()


def wait_until_up(origin: str, limit: float = 30.0) -> None:
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        try:
            if get(f"{origin}/health")[0] == 200:
                return
        except OSError:
            time.sleep(0.01)
    raise AssertionError(f"{origin} never answered")


class Browser:
    """Sends the callback from another thread as soon as the server answers,
    as the user's browser would; `answer` holds (status, body)."""

    def __init__(self, origin: str, path_and_query: str, headers: Optional[Dict[str, str]] = None) -> None:
        self.answer: Optional[Tuple[int, str]] = None
        self._thread = threading.Thread(target=self._run, args=(origin, path_and_query, headers), daemon=True)
        self._thread.start()

    def _run(self, origin: str, path_and_query: str, headers: Optional[Dict[str, str]]) -> None:
        wait_until_up(origin)
        self.answer = get(origin + path_and_query, headers)

    def join(self) -> Tuple[int, str]:
        self._thread.join(30)
        assert self.answer is not None, "the callback was never answered"
        return self.answer


def port_is_free(port: int) -> bool:
    """Whether a new server could listen there (as servers do, past the
    TIME_WAIT of connections the old one closed)."""
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("127.0.0.1", port))
            return True
        except OSError:
            return False


@pytest.fixture
def pem_pair(tmp_path: Path) -> Tuple[str, str]:
    """A certificate and key for 127.0.0.1 made with openssl."""
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
         "-keyout", str(key), "-out", str(cert), "-days", "1", "-subj", "/CN=127.0.0.1",
         "-addext", "subjectAltName=IP:127.0.0.1"],
        check=True, capture_output=True,
    )
    return str(cert), str(key)


@pytest.fixture
def pages(tmp_path: Path) -> Tuple[str, str]:
    success, error = tmp_path / "success.html", tmp_path / "error.html"
    success.write_text("<!doctype html><title>ok</title><h1>Custom success</h1>")
    error.write_text("<!doctype html><title>no</title><h1>Custom error</h1>")
    return str(success), str(error)


def parse(body: str) -> Any:
    return json.loads(body)


TESTS = Path(__file__).resolve().parent
"""This folder: a child Python adds it to `sys.path` to import these helpers."""


class Records(logging.Handler):
    """Keeps every record its logger handles."""

    def __init__(self) -> None:
        super().__init__(logging.NOTSET)
        self.records: List[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)

    def messages(self) -> List[str]:
        return [record.getMessage() for record in self.records]


def private_logger(name: str, level: int = logging.DEBUG) -> Tuple[logging.Logger, Records]:
    """A logger of its own (nothing propagates to the root's handlers) at
    `level`, and what it received."""
    logger = logging.getLogger(name)
    for handler in list(logger.handlers):
        logger.removeHandler(handler)
    records = Records()
    logger.addHandler(records)
    logger.setLevel(level)
    logger.propagate = False
    return logger, records


def thread_ids() -> Set[int]:
    """The kernel's threads of this process (Python's and the extension's)."""
    return {int(tid) for tid in os.listdir("/proc/self/task")}


def thread_name(tid: int) -> str:
    try:
        with open(f"/proc/self/task/{tid}/comm") as comm:
            return comm.read().strip()
    except OSError:
        return "(gone)"


def command_lines() -> Dict[int, List[bytes]]:
    """Every process's arguments that can be read (zombies have none)."""
    found: Dict[int, List[bytes]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/cmdline", "rb") as cmdline:
                    found[int(entry)] = cmdline.read().split(b"\0")[:-1]
            except OSError:
                pass  # it ended meanwhile
    return found


def children(pid: int) -> Set[int]:
    """The processes whose parent is `pid`, zombies included."""
    found: Set[int] = set()
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as stat:
                    # pid (comm) state ppid ...: comm may hold spaces and parentheses.
                    fields = stat.read().rsplit(")", 1)[1].split()
            except (OSError, IndexError):
                continue
            if int(fields[1]) == pid:
                found.add(int(entry))
    return found


def eventually(condition: Callable[[], bool], limit: float) -> bool:
    """Whether `condition()` holds within `limit` seconds (polled)."""
    deadline = time.monotonic() + limit
    while not condition():
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.005)
    return True


@pytest.fixture(autouse=True)
def openssl_available() -> Iterator[None]:
    assert shutil.which("openssl"), "openssl is missing; get it with: apt-get install openssl"
    yield


class JsonHandler(BaseHTTPRequestHandler):
    """A stand-in provider's requests: nothing logged, JSON answered."""

    def log_message(self, *args: Any) -> None:
        pass

    def send_json(self, body: Dict[str, Any], status: int = 200) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


class StandInServer:
    """`handler` served on 127.0.0.1 (a port of its own) on a daemon
    thread; `issuer` is its origin."""

    def __init__(self, handler: "type[JsonHandler]") -> None:
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.issuer = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
