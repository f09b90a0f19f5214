"""The asyncio face, which none of the peers offers: the same server, awaited
on the caller's event loop without blocking it."""

import asyncio
from types import TracebackType
from typing import Any, Dict, Optional, Type

from ._server import CallbackServer

__all__ = ["AsyncCallbackServer"]


class AsyncCallbackServer:
    """`CallbackServer` for asyncio programs; it takes the same arguments.

        async with AsyncCallbackServer(port=0, adhoc_ssl=True) as server:
            open_browser(server.redirect_uri)
            result = await server.wait()

    `wait()` is cancellable (the server goes on until `shutdown()`); the
    calls that block (`start`, `shutdown`, `complete_from_url`) run in the
    loop's default executor."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self._server = CallbackServer(*args, **kwargs)

    @property
    def redirect_uri(self) -> str:
        """The URI to register with the provider (known once started)."""
        return self._server.redirect_uri

    @property
    def port(self) -> int:
        """The port listened on (useful with `port=0`)."""
        return self._server.port

    async def start(self) -> "AsyncCallbackServer":
        """Start listening; see `CallbackServer.start`."""
        await asyncio.get_running_loop().run_in_executor(None, self._server.start)
        return self

    async def wait(self, timeout: Optional[float] = None) -> Optional[Dict[str, Any]]:
        """The callback's dict once it arrives, or `None` after `timeout`
        seconds (by default the server's own timeout, after which it has
        stopped)."""
        server = self._server._started()
        loop = asyncio.get_running_loop()
        settled: "asyncio.Future[None]" = loop.create_future()

        def wake() -> None:  # on the server's log thread
            try:
                loop.call_soon_threadsafe(_resolve, settled)
            except RuntimeError:
                pass  # the loop has closed: nobody waits any more

        if server.on_settled(wake):
            try:
                await asyncio.wait_for(settled, timeout)
            except asyncio.TimeoutError:
                return None
            finally:
                # Timed out or cancelled: nothing is left waiting on the flow.
                server.off_settled(wake)
        return server.result()

    async def complete_from_url(self, address: str) -> Dict[str, Any]:
        """See `CallbackServer.complete_from_url`."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(None, self._server.complete_from_url, address)

    async def shutdown(self) -> None:
        """Stop the server and free its port (idempotent)."""
        await asyncio.get_running_loop().run_in_executor(None, self._server.shutdown)

    async def __aenter__(self) -> "AsyncCallbackServer":
        return await self.start()

    async def __aexit__(
        self,
        kind: Optional[Type[BaseException]],
        value: Optional[BaseException],
        traceback: Optional[TracebackType],
    ) -> None:
        await self.shutdown()


def _resolve(future: "asyncio.Future[None]") -> None:
    if not future.done():
        future.set_result(None)
