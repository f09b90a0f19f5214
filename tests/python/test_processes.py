"""The server inside the caller's process: its arguments, its threads, its
signals, and the children it forks."""

import asyncio
import ctypes
import gc
import json
import multiprocessing
import os
import signal
import socket
import subprocess
import sys
import textwrap
import threading
import time
from multiprocessing.queues import Queue
from multiprocessing.synchronize import Event
from pathlib import Path
from typing import Any, Callable, List, Optional, Tuple
from urllib.parse import quote

import pytest

from conftest import TESTS, children, command_lines, eventually, free_port, get, port_is_free, thread_ids, thread_name

from oauth_callback import AsyncCallbackServer, CallbackServer, PortInUseError, run_callback_server

FORK = multiprocessing.get_context("fork")
# Python 3.12 and later warn about fork() in a process with threads; forking
# while a server runs is what these tests are about.
forking = pytest.mark.filterwarnings("ignore:This process .* is multi-threaded:DeprecationWarning")


def child_python(body: str) -> "subprocess.Popen[str]":
    """A Python process running `body`, with these tests' helpers importable."""
    script = f"import sys\nsys.path.insert(0, {str(TESTS)!r})\n" + textwrap.dedent(body)
    return subprocess.Popen([sys.executable, "-c", script], stdin=subprocess.DEVNULL,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def test_no_process_the_library_starts_holds_the_expected_state(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    state = "-secret-state"
    seen, browser = tmp_path / "browser.json", tmp_path / "browser"
    # A stand-in browser: says what it was given, then stays open.
    browser.write_text(textwrap.dedent(f"""\
        #!{sys.executable}
        import json, os, sys, time
        with open({str(seen)!r} + ".part", "w") as out:
            json.dump({{"pid": os.getpid(), "argv": sys.argv, "env": dict(os.environ)}}, out)
        os.replace({str(seen)!r} + ".part", {str(seen)!r})
        time.sleep(60)
    """))
    browser.chmod(0o755)
    monkeypatch.setenv("BROWSER", str(browser))
    before = children(os.getpid())
    server = CallbackServer(port=0, force_https=False, timeout=60, expect_state=state,
                            open_url="https://idp.example/auth?state={state}&redirect_uri={redirect_uri}")
    server.start()
    opened: Optional[int] = None
    try:
        assert eventually(seen.exists, 10), "the browser was not opened"
        given = json.loads(seen.read_text())
        opened = int(given["pid"])
        # The browser gets the authorization URL, state and all: expected.
        assert given["argv"] == [
            str(browser), f"https://idp.example/auth?state={state}&redirect_uri={quote(server.redirect_uri, safe='')}"
        ]
        assert not any(state in value for value in given["env"].values()), "not in its environment"
        # Every process whose arguments hold the state: the browser alone.
        holders = {pid: argv for pid, argv in command_lines().items() if any(state.encode() in a for a in argv)}
        assert list(holders) == [opened], holders
        # And the browser is the one process the library started.
        assert children(os.getpid()) - before == {opened}
        assert get(f"{server.redirect_uri}?code=c&state={state}")[0] == 200
        res = server.wait(10)
        assert res is not None and res["params"] == {"code": "c", "state": state}
    finally:
        server.shutdown()
        if opened is not None:
            os.kill(opened, signal.SIGKILL)
            os.waitpid(opened, 0)


def test_sigkill_of_a_process_with_a_server_frees_the_port_at_once() -> None:
    port = free_port()
    holder = child_python(f"""
        import time
        from oauth_callback import CallbackServer
        server = CallbackServer(port={port}, force_https=False, timeout=60).start()
        print("ready", flush=True)
        time.sleep(60)
    """)
    assert holder.stdout is not None
    try:
        assert holder.stdout.readline() == "ready\n"
        assert not port_is_free(port)
        with socket.create_connection(("127.0.0.1", port), timeout=5):  # and a connection open
            holder.kill()
            killed = time.monotonic()
            freed = eventually(lambda: port_is_free(port), 1.0)
            took = time.monotonic() - killed
        print(f"port free {took * 1000:.1f} ms after SIGKILL" if freed else "port still taken after 1 s")
        assert freed
    finally:
        holder.kill()
        holder.communicate(timeout=10)
    assert holder.returncode == -signal.SIGKILL


def test_keyboard_interrupt_during_wait_stops_the_server_at_once() -> None:
    port = free_port()
    waiting = child_python(f"""
        import time
        from conftest import port_is_free
        from oauth_callback import CallbackServer
        server = CallbackServer(port={port}, force_https=False, timeout=60).start()
        print("ready", flush=True)
        try:
            server.wait()
        except KeyboardInterrupt:
            print("interrupted", repr(time.monotonic()), port_is_free({port}), flush=True)
            raise
    """)
    assert waiting.stdout is not None
    assert waiting.stdout.readline() == "ready\n"
    time.sleep(0.2)  # well inside wait()
    sent = time.monotonic()
    waiting.send_signal(signal.SIGINT)
    out, err = waiting.communicate(timeout=10)
    ended = time.monotonic() - sent
    assert waiting.returncode == -signal.SIGINT, (waiting.returncode, err)
    lines = err.rstrip().splitlines()
    assert lines[-1] == "KeyboardInterrupt" and any(line.endswith(", in wait") for line in lines), err
    word, at, free = out.split()
    raised = float(at) - sent
    print(f"KeyboardInterrupt raised {raised * 1000:.1f} ms after SIGINT; the process ended after {ended * 1000:.1f} ms")
    assert word == "interrupted" and free == "True", out
    assert raised < 0.5
    assert ended < 1.0
    assert port_is_free(port)


def test_keyboard_interrupt_in_this_process_frees_the_port_and_ends_the_threads() -> None:
    before = thread_ids()
    server = CallbackServer(port=0, force_https=False, timeout=60).start()
    main = threading.main_thread().ident
    assert main is not None and threading.current_thread() is threading.main_thread()
    interrupter = threading.Timer(0.1, signal.pthread_kill, args=(main, signal.SIGINT))
    interrupter.start()
    with pytest.raises(KeyboardInterrupt):
        server.wait(30)
    assert port_is_free(server.port)
    interrupter.join()
    assert eventually(lambda: not thread_ids() - before, 1.0), [thread_name(t) for t in thread_ids() - before]


def fork_and_wait(release: Event, running: Event) -> None:
    running.set()
    release.wait(10)


@forking
def test_a_child_forked_while_a_server_runs_does_not_hold_its_port() -> None:
    server = CallbackServer(port=0, force_https=False, timeout=60).start()
    release, running = FORK.Event(), FORK.Event()
    child = FORK.Process(target=fork_and_wait, args=(release, running))
    child.start()
    try:
        assert running.wait(10)
        # The parent's server goes on serving.
        assert get(f"{server.redirect_uri}?code=parent")[0] == 200
        res = server.wait(10)
        assert res is not None and res["params"] == {"code": "parent"}
        server.shutdown()
        assert child.is_alive()
        assert port_is_free(server.port)
        with pytest.raises(ConnectionRefusedError):
            socket.create_connection(("127.0.0.1", server.port), timeout=5).close()
        assert child.is_alive()
    finally:
        release.set()
        child.join(10)
        server.shutdown()
    assert child.exitcode == 0


def serve_in_a_child(results: "Queue[Any]") -> None:
    with CallbackServer(port=0, force_https=False, timeout=30) as server:
        results.put(server.redirect_uri)
        results.put(server.wait(30))


@forking
def test_a_server_started_in_a_forked_child_works() -> None:
    with CallbackServer(port=0, force_https=False, timeout=60) as parents:
        results: "Queue[Any]" = FORK.Queue()
        child = FORK.Process(target=serve_in_a_child, args=(results,))
        child.start()
        try:
            uri = results.get(timeout=10)
            assert uri != parents.redirect_uri
            assert get(f"{uri}?code=child")[0] == 200
            res = results.get(timeout=10)
            assert res is not None and res["params"] == {"code": "child"}
            child.join(10)
            assert child.exitcode == 0
        finally:
            if child.is_alive():
                child.kill()
                child.join()
        assert get(f"{parents.redirect_uri}?code=parent")[0] == 200
        res = parents.wait(10)
        assert res is not None and res["params"] == {"code": "parent"}


def use_the_parents_server(server: CallbackServer, outcomes: "Queue[Any]") -> None:
    calls: List[Tuple[str, Callable[[], Any]]] = [
        ("wait", lambda: server.wait(0.1)),
        ("wait", lambda: server.wait()),
        ("complete_from_url", lambda: server.complete_from_url(f"{server.redirect_uri}?code=child")),
        ("shutdown", server.shutdown),
    ]
    for name, call in calls:
        try:
            call()
            outcomes.put((name, "returned", ""))
        except BaseException as error:
            outcomes.put((name, type(error).__name__, str(error)))
    outcomes.put(None)


@forking
def test_a_parents_server_refuses_to_work_in_a_forked_child() -> None:
    with CallbackServer(port=0, force_https=False, timeout=60) as server:
        outcomes: "Queue[Any]" = FORK.Queue()
        child = FORK.Process(target=use_the_parents_server, args=(server, outcomes))
        child.start()
        child.join(10)
        hung = child.is_alive()
        if hung:
            child.kill()
            child.join()
        assert not hung, "the child hung on its parent's server"
        seen = []
        while (outcome := outcomes.get(timeout=5)) is not None:
            seen.append(outcome)
        assert [name for name, _, _ in seen] == ["wait", "wait", "complete_from_url", "shutdown"]
        for name, kind, message in seen:
            assert kind == "RuntimeError" and "parent process" in message, (name, kind, message)
        # Nothing the child did touched the parent's server.
        assert get(f"{server.redirect_uri}?code=parent")[0] == 200
        res = server.wait(10)
        assert res is not None and res["params"] == {"code": "parent"}


# Each returns the servers it ran, shut down: kept alive while the threads
# are counted, as a program keeps its `server` variable.


def completed_flow() -> List[Any]:
    server = CallbackServer(port=0, force_https=False, timeout=60).start()
    assert get(f"{server.redirect_uri}?code=t")[0] == 200
    assert server.wait(10) is not None
    server.shutdown()
    return [server]


def timed_out() -> List[Any]:
    with CallbackServer(port=0, timeout=0.2) as server:
        assert server.wait() is None
    assert run_callback_server(port=0, timeout=0.2) is None
    return [server]


def refused() -> List[Any]:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        server = CallbackServer(port=busy.getsockname()[1])
        with pytest.raises(PortInUseError):
            server.start()
    return [server]


def dropped_without_shutdown() -> List[Any]:
    server = CallbackServer(port=0, force_https=False, timeout=60).start()
    port = server.port
    del server
    gc.collect()
    assert port_is_free(port)
    return []


def two_at_once() -> List[Any]:
    with CallbackServer(port=0) as first, CallbackServer(port=0, force_https=False) as second:
        assert get(f"{second.redirect_uri}?code=2")[0] == 200
        assert second.wait(10) is not None
        assert first.wait(0.05) is None
    return [first, second]


def with_asyncio() -> List[Any]:
    async def flow() -> AsyncCallbackServer:
        async with AsyncCallbackServer(port=0, force_https=False, timeout=60) as server:
            waiting = asyncio.ensure_future(server.wait())
            status = await asyncio.get_running_loop().run_in_executor(None, get, f"{server.redirect_uri}?code=a")
            assert status[0] == 200
            assert await waiting is not None
        return server

    return [asyncio.run(flow())]


@pytest.mark.parametrize(
    "run", [completed_flow, timed_out, refused, dropped_without_shutdown, two_at_once, with_asyncio]
)
def test_no_thread_stays_after_the_last_server_ends(run: Callable[[], List[Any]]) -> None:
    before = thread_ids()
    servers = run()

    def stayed() -> List[str]:
        return [thread_name(t) for t in thread_ids() - before]

    assert eventually(lambda: not stayed(), 1.0), stayed()
    assert len(thread_ids()) <= len(before)
    del servers


def test_no_thread_stays_in_a_fresh_process() -> None:
    # The first server of a process: nothing started once and kept for later.
    fresh = child_python("""
        import os, time
        from conftest import get
        from oauth_callback import CallbackServer, run_callback_server
        before = set(os.listdir("/proc/self/task"))
        with CallbackServer(port=0, timeout=60) as server:
            during = len(set(os.listdir("/proc/self/task")) - before)
            assert get(f"{server.redirect_uri}?code=fresh")[0] == 200
            assert server.wait(10) is not None
        assert run_callback_server(port=0, timeout=0.1) is None
        deadline = time.monotonic() + 1
        while set(os.listdir("/proc/self/task")) - before and time.monotonic() < deadline:
            time.sleep(0.005)
        stayed = set(os.listdir("/proc/self/task")) - before
        print(during, [open(f"/proc/self/task/{t}/comm").read().strip() for t in stayed])
    """)
    out, err = fresh.communicate(timeout=60)
    assert fresh.returncode == 0, err
    during, stayed = out.split(" ", 1)
    assert int(during) > 0 and stayed.strip() == "[]", out


def test_a_running_server_has_threads_of_its_own() -> None:
    # What the test above counts: without this, it could not fail.
    before = thread_ids()
    with CallbackServer(port=0, force_https=False, timeout=60):
        names = sorted(thread_name(t) for t in thread_ids() - before)
    assert any(name.startswith("oauth-callback") for name in names), names


WASM_TRAP_SIGNALS = {signal.SIGSEGV, signal.SIGBUS, signal.SIGILL, signal.SIGFPE}
"""wasmtime's trap handlers, installed with the first engine: they act only
on faults in WebAssembly code and pass any other fault on to the handler
before them (faulthandler's, say)."""

GLIBC_THREAD_SIGNALS = (1 << (32 - 1)) | (1 << (33 - 1))
"""SIGCANCEL and SIGSETXID (32, 33): glibc's own, which it handles from the
process's first `pthread_create` on, whoever creates the thread."""


def caught_signals() -> int:
    """The signals this process has a handler for (`SigCgt`, from the kernel:
    what C code installs too, not only Python's `signal` module), glibc's
    own thread signals and wasmtime's trap signals aside."""
    status = Path("/proc/self/status").read_text()
    [mask] = [line.split()[1] for line in status.splitlines() if line.startswith("SigCgt:")]
    ignored = GLIBC_THREAD_SIGNALS | sum(1 << (number - 1) for number in WASM_TRAP_SIGNALS)
    return int(mask, 16) & ~ignored


def handler_addresses() -> List[int]:
    """The C-level handler of each standard signal but wasmtime's trap
    signals (`sigaction`): a handler installed over one Python already
    catches (SIGINT) shows only here."""

    class SigAction(ctypes.Structure):  # glibc's struct sigaction, x86-64
        _fields_ = [("handler", ctypes.c_void_p), ("mask", ctypes.c_ulong * 16),
                    ("flags", ctypes.c_int), ("restorer", ctypes.c_void_p)]

    libc = ctypes.CDLL(None, use_errno=True)
    addresses = []
    for number in range(1, 32):
        if number in WASM_TRAP_SIGNALS:
            continue
        action = SigAction()
        assert libc.sigaction(number, None, ctypes.byref(action)) == 0
        addresses.append(action.handler or 0)
    return addresses


def test_the_in_process_api_installs_no_signal_handler() -> None:
    before, handlers = caught_signals(), handler_addresses()
    port = free_port()
    with CallbackServer(port=port, force_https=False, timeout=30) as server:
        during = caught_signals()
        status, _ = get(f"http://127.0.0.1:{port}/callback?code=c")
        assert status == 200
        assert server.wait(5) is not None
    assert (during, caught_signals()) == (before, before)
    assert handler_addresses() == handlers
