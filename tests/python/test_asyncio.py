"""The asyncio face: the same server, awaited on the caller's event loop
without blocking it."""

import asyncio
import time
from typing import Any, Awaitable, Dict, List, Optional, Tuple, TypeVar

import pytest

from conftest import get, port_is_free

from oauth_callback import AsyncCallbackServer, CallbackServer, ConfigError

T = TypeVar("T")


def run(main: Awaitable[T]) -> T:
    async def bounded() -> T:
        return await asyncio.wait_for(main, 60)

    return asyncio.run(bounded())


async def browse(url: str) -> Tuple[int, str]:
    """A GET from a thread, as a browser would send it."""
    return await asyncio.get_running_loop().run_in_executor(None, get, url)


class Ticker:
    """A coroutine that ticks every 10 ms: the loop's responsiveness."""

    def __init__(self) -> None:
        self.ticks: List[float] = []
        self._task = asyncio.ensure_future(self._tick())

    async def _tick(self) -> None:
        while True:
            self.ticks.append(time.monotonic())
            await asyncio.sleep(0.01)

    def longest_gap(self) -> float:
        return max(b - a for a, b in zip(self.ticks, self.ticks[1:]))

    async def stop(self) -> None:
        self._task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await self._task


def test_a_flow_completes_with_async_with() -> None:
    async def main() -> Tuple[Optional[Dict[str, Any]], Tuple[int, str], int]:
        async with AsyncCallbackServer(port=0, timeout=60) as server:
            assert server.redirect_uri == f"https://127.0.0.1:{server.port}/callback"
            waiting = asyncio.ensure_future(server.wait())
            await asyncio.sleep(0.05)
            assert not waiting.done()
            answer = await browse(f"{server.redirect_uri}?code=async&state=s")
            return await waiting, answer, server.port

    res, (status, body), port = run(main())
    assert status == 200 and "Credentials received successfully" in body
    assert res is not None and res["params"] == {"code": "async", "state": "s"} and res["method"] == "GET"
    assert port_is_free(port)


def test_wait_with_a_timeout_returns_none_and_the_loop_stays_responsive() -> None:
    async def main() -> None:
        async with AsyncCallbackServer(port=0, force_https=False, timeout=60) as server:
            ticker = Ticker()
            started = time.monotonic()
            assert await server.wait(timeout=0.2) is None
            took = time.monotonic() - started
            await ticker.stop()
            print(f"wait(timeout=0.2) took {took * 1000:.0f} ms; {len(ticker.ticks)} ticks meanwhile,"
                  f" the longest gap {ticker.longest_gap() * 1000:.0f} ms")
            assert 0.2 <= took < 1.0
            assert len(ticker.ticks) >= 10 and ticker.longest_gap() < 0.1
            # The server went on: a callback now completes a new wait.
            assert (await browse(f"{server.redirect_uri}?code=after"))[0] == 200
            res = await server.wait(10)
            assert res is not None and res["params"] == {"code": "after"}

    run(main())


def test_a_cancelled_wait_raises_cancelled_error_and_the_server_goes_on() -> None:
    async def main() -> None:
        async with AsyncCallbackServer(port=0, force_https=False, timeout=60) as server:
            waiting = asyncio.ensure_future(server.wait())
            await asyncio.sleep(0.05)
            waiting.cancel()
            with pytest.raises(asyncio.CancelledError):
                await waiting
            assert waiting.cancelled()
            # Still listening, still waiting for its callback.
            status, _ = await browse(f"http://127.0.0.1:{server.port}/health")
            assert status == 200
            again = asyncio.ensure_future(server.wait())
            assert (await browse(f"{server.redirect_uri}?code=later"))[0] == 200
            res = await again
            assert res is not None and res["params"] == {"code": "later"}

    run(main())


def test_a_wait_cancelled_by_a_timeout_of_the_caller_leaves_the_server_waiting() -> None:
    async def main() -> None:
        async with AsyncCallbackServer(port=0, force_https=False, timeout=60) as server:
            with pytest.raises(asyncio.TimeoutError):
                await asyncio.wait_for(server.wait(), 0.1)
            assert (await browse(f"{server.redirect_uri}?code=c"))[0] == 200
            res = await server.wait(10)
            assert res is not None and res["params"] == {"code": "c"}

    run(main())


def test_cancelled_waits_leave_nothing_behind() -> None:
    # A poll loop of `wait_for(server.wait(), short)`: each cancelled wait's
    # future goes with it, not kept until the flow ends.
    import gc

    async def main() -> int:
        async with AsyncCallbackServer(port=0, force_https=False, timeout=60) as server:
            for _ in range(2000):
                try:
                    await asyncio.wait_for(server.wait(), 0.001)
                except asyncio.TimeoutError:
                    pass
            gc.collect()
            return sum(isinstance(o, asyncio.Future) for o in gc.get_objects())

    assert run(main()) < 50


def test_the_servers_own_timeout_ends_wait_with_none() -> None:
    async def main() -> int:
        async with AsyncCallbackServer(port=0, force_https=False, timeout=0.3) as server:
            ticker = Ticker()
            started = time.monotonic()
            assert await server.wait() is None
            took = time.monotonic() - started
            await ticker.stop()
            assert 0.25 <= took < 5, took
            assert ticker.longest_gap() < 0.1
            return server.port

    port = run(main())
    assert port_is_free(port)


def test_several_waiters_all_get_the_result() -> None:
    async def main() -> None:
        async with AsyncCallbackServer(port=0, force_https=False, timeout=60) as server:
            waiters = [asyncio.ensure_future(server.wait()) for _ in range(3)]
            await asyncio.sleep(0.05)
            assert (await browse(f"{server.redirect_uri}?code=all"))[0] == 200
            results = await asyncio.gather(*waiters)
            assert all(r is not None and r["params"] == {"code": "all"} for r in results), results

    run(main())


def test_start_complete_from_url_and_shutdown_are_awaited() -> None:
    async def main() -> None:
        server = AsyncCallbackServer(port=0, force_https=False, timeout=60, expect_state="-st")
        with pytest.raises(RuntimeError):
            await server.wait()
        assert await server.start() is server
        ticker = Ticker()
        with pytest.raises(ValueError, match="state or issuer"):
            await server.complete_from_url(f"{server.redirect_uri}?code=c&state=other")
        res = await server.complete_from_url(f"{server.redirect_uri}#access_token=at&state=-st")
        assert res["params"] == {"access_token": "at", "state": "-st"} and res["method"] == "POST"
        await server.shutdown()
        await server.shutdown()  # idempotent
        await ticker.stop()
        assert port_is_free(server.port)
        # A result that completed before the shutdown is still there after it.
        assert await server.wait() == res
        assert await server.wait(0) == res

    run(main())


def test_a_result_completed_just_before_shutdown_is_returned_by_async_wait() -> None:
    async def main() -> None:
        async with AsyncCallbackServer(port=0, force_https=False, timeout=60) as server:
            assert (await browse(f"{server.redirect_uri}?code=late"))[0] == 200
        res = await server.wait()
        assert res is not None and res["params"] == {"code": "late"}

    run(main())


def test_a_refused_configuration_raises_from_start() -> None:
    async def main() -> None:
        with pytest.raises(ConfigError, match="reserved"):
            async with AsyncCallbackServer(port=0, path="/health"):
                pass  # never entered
        with pytest.raises(ConfigError, match="server must be one of"):
            AsyncCallbackServer(server="twisted")

    run(main())


def test_the_async_face_takes_the_blocking_ones_arguments() -> None:
    server = AsyncCallbackServer("127.0.0.1", [0], "/signin", timeout=60, force_https=False, one_scheme=True)

    async def main() -> Tuple[str, Tuple[int, str]]:
        async with server:
            return server.redirect_uri, await browse(f"{server.redirect_uri}?code=c&format=json")

    uri, (status, body) = run(main())
    assert uri.startswith("http://127.0.0.1:") and uri.endswith("/signin")
    assert status == 200 and '"ok":true' in body.replace(" ", "")
    with pytest.raises(TypeError):
        CallbackServer(no_such_argument=1)  # type: ignore[call-arg]
    with pytest.raises(TypeError):
        AsyncCallbackServer(no_such_argument=1)
