"""What the fake services share: running on a private loop in a thread, or until a signal."""

from __future__ import annotations

import asyncio
import signal
import threading
import time
from typing import Callable

__all__ = ["ThreadedService", "serve_until_signal"]


class ThreadedService:
    """A service with ``async start(host, port) -> url`` and ``async stop()``.

    :meth:`start_in_thread` runs it on an event loop of its own in a daemon
    thread (for sync tests and for a gateway running in another process).
    """

    thread_name = "fake-service"
    _loop: asyncio.AbstractEventLoop | None = None
    _thread: threading.Thread | None = None

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> str:
        raise NotImplementedError

    async def stop(self) -> None:
        raise NotImplementedError

    def wait_until(self, predicate: Callable[[], bool], timeout: float = 5.0) -> bool:
        """Poll ``predicate`` (blocking) until true or ``timeout``; return its last value."""
        deadline = time.monotonic() + timeout
        while not predicate() and time.monotonic() < deadline:
            time.sleep(0.01)
        return predicate()

    async def until(self, predicate: Callable[[], bool], timeout: float = 5.0) -> bool:
        """:meth:`wait_until` for coroutines: polls without blocking the loop."""
        deadline = time.monotonic() + timeout
        while not predicate() and time.monotonic() < deadline:
            await asyncio.sleep(0.01)
        return predicate()

    def start_in_thread(self, host: str = "127.0.0.1", port: int = 0) -> str:
        """Serve on a new event loop in a daemon thread; return the URL ``start`` returns."""
        loop = asyncio.new_event_loop()
        self._loop = loop
        self._thread = threading.Thread(target=loop.run_forever, daemon=True, name=self.thread_name)
        self._thread.start()
        return asyncio.run_coroutine_threadsafe(self.start(host, port), loop).result(10)

    def stop_thread(self) -> None:
        """Stop a service started by :meth:`start_in_thread` and join its thread."""
        loop, thread = self._loop, self._thread
        if loop is None or thread is None:
            return
        asyncio.run_coroutine_threadsafe(self.stop(), loop).result(10)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)
        loop.close()
        self._loop = self._thread = None


async def serve_until_signal(service: ThreadedService, host: str, port: int, *, label: str, suffix: str = "") -> None:
    """Serve until SIGTERM or SIGINT (the ``python -m`` entry points)."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    print(f"{label} listening on {await service.start(host, port)}{suffix}", flush=True)
    await stop.wait()
    await service.stop()
