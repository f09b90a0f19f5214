"""A program that ends with a server still running: it exits with its own
status and says nothing on stderr, whatever it forgot (no `shutdown()`, a
daemon thread inside `wait()`, an abandoned asyncio wait, a callback arriving
as it exits). Each case runs in a fresh interpreter, many times: a thread
that takes the GIL back during finalization crashes only some of them."""

import subprocess
import sys
import textwrap
from concurrent.futures import ThreadPoolExecutor
from typing import List, Tuple

import pytest

from conftest import TESTS

ROUNDS = 20

CASES = {
    "a daemon thread inside wait()": ("""
        s = CallbackServer(port=0, adhoc_ssl=True).start()
        threading.Thread(target=s.wait, daemon=True).start()
        time.sleep(0.1)
    """, 0),
    "a server dropped on the last line": ("""
        s = CallbackServer(port=0, adhoc_ssl=True, logger=chatty()).start()
        del s
    """, 0),
    "SystemExit before shutdown()": ("""
        s = CallbackServer(port=0, adhoc_ssl=True, logger=chatty()).start()
        raise SystemExit(3)
    """, 3),
    "an asyncio wait abandoned by wait_for": ("""
        async def main():
            s = await AsyncCallbackServer(port=0, adhoc_ssl=True).start()
            try:
                await asyncio.wait_for(s.wait(), 0.05)
            except asyncio.TimeoutError:
                pass
        asyncio.run(main())
    """, 0),
    "a callback arriving during exit": ("""
        s = CallbackServer(port=0, force_https=False, logger=chatty()).start()
        waiter = threading.Thread(target=s.wait, daemon=True)
        waiter.start()
        def browser():
            while True:
                try:
                    get(s.redirect_uri + "?code=c&state=s")
                except OSError:
                    pass
        threading.Thread(target=browser, daemon=True).start()
        time.sleep(0.05)
    """, 0),
}

PRELUDE = """
import asyncio, logging, sys, threading, time
sys.path.insert(0, {tests!r})
from conftest import get
from oauth_callback import AsyncCallbackServer, CallbackServer

def chatty():
    # A logger that takes every record, slowly: records are still on their
    # way when the program ends.
    class Slow(logging.Handler):
        def emit(self, record):
            time.sleep(0.01)
    logger = logging.getLogger("exit-test")
    logger.setLevel(logging.DEBUG)
    logger.addHandler(Slow())
    return logger
"""


def run_case(body: str) -> Tuple[int, str]:
    script = PRELUDE.format(tests=str(TESTS)) + textwrap.dedent(body)
    done = subprocess.run([sys.executable, "-c", script], stdin=subprocess.DEVNULL,
                          capture_output=True, text=True, timeout=60)
    return done.returncode, done.stderr


@pytest.mark.parametrize("case", CASES)
def test_the_interpreter_exits_cleanly_with_a_server_still_running(case: str) -> None:
    body, status = CASES[case]
    with ThreadPoolExecutor(4) as pool:
        ends: List[Tuple[int, str]] = list(pool.map(run_case, [body] * ROUNDS))
    wrong = [(code, stderr[-400:]) for code, stderr in ends if code != status or stderr]
    assert not wrong, f"{len(wrong)} of {ROUNDS} runs: {wrong[:3]}"
