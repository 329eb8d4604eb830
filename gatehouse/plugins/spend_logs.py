"""Spend logs: one row per request, written off the hot path, with the public logging-hook API.

``async_log_success_event`` / ``async_log_failure_event`` (run by the
gateway's logging stage, in the background, after the answer is out) turn
the event's ``standard_logging_object`` into a row
(:func:`~gatehouse.spend.rows.row_from_event`) and add it to a buffer. The
buffer is written in one transaction every ``batch_interval_s`` seconds, as
soon as it holds ``batch_size`` rows, and at shutdown. While the database is
down rows are kept (up to ``max_pending``; beyond that the oldest are dropped,
with a warning) and written later. When a retention period is set, rows older
than it are deleted at start and then every ``cleanup_interval_s``.
"""

from __future__ import annotations

import asyncio
import logging
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Awaitable, Callable, Mapping

from aiohttp import web

from ..auth.identity import UserAPIKeyAuth
from ..auth.keys import KeyStoreError
from ..policy.custom_logger import CustomLogger
from ..spend.rows import row_from_event
from ..spend.routes import SpendRoutesDeps, spend_routes
from ..spend.settings import SpendLogSettings
from ..spend.store import SpendLogStore, open_spend_log_store

__all__ = ["SpendLogWriter", "SpendLogs"]

log = logging.getLogger("gatehouse.plugins.spend_logs")


class SpendLogWriter(CustomLogger):
    def __init__(self, store: SpendLogStore, settings: SpendLogSettings, *, batch_size: int = 500,
                 max_pending: int = 100_000) -> None:
        super().__init__()
        self.store, self.settings = store, settings
        self.batch_size, self.max_pending = batch_size, max_pending
        self._pending: list[tuple[Any, ...]] = []  # encoded rows
        self._flushing: asyncio.Task[None] | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self._lock = asyncio.Lock()
        self.dropped = 0

    async def async_log_success_event(self, kwargs: dict, response_obj: Any, start_time: Any, end_time: Any) -> None:
        self._add(kwargs)

    async def async_log_failure_event(self, kwargs: dict, response_obj: Any, start_time: Any, end_time: Any) -> None:
        self._add(kwargs)

    def _add(self, kwargs: dict) -> None:
        row = row_from_event(kwargs, store_prompts=self.settings.store_prompts)
        if row is None:
            return
        self._pending.append(self.store.dialect.encode_row(row))
        if len(self._pending) >= self.batch_size and (self._flushing is None or self._flushing.done()):
            self._flushing = asyncio.get_running_loop().create_task(self.flush())

    async def flush(self) -> None:
        """Write what is buffered (kept for the next try if the database fails)."""
        async with self._lock:
            while self._pending:
                batch, self._pending = self._pending[: self.batch_size * 4], self._pending[self.batch_size * 4:]
                try:
                    await self.store.insert(batch)
                except KeyStoreError as exc:
                    self._pending = batch + self._pending
                    self._trim()
                    log.warning("could not write %d spend log rows, will retry: %s", len(batch), exc)
                    return

    def _trim(self) -> None:
        extra = len(self._pending) - self.max_pending
        if extra > 0:
            del self._pending[:extra]
            self.dropped += extra
            log.warning("spend log buffer full: dropped the %d oldest rows (%d in all)", extra, self.dropped)

    async def cleanup(self, now: datetime | None = None) -> int:
        """Delete rows older than the retention period; how many (0 without a period)."""
        if self.settings.retention_s is None:
            return 0
        cutoff = (now or datetime.now(timezone.utc)) - timedelta(seconds=self.settings.retention_s)
        deleted = await self.store.delete_before(cutoff)
        if deleted:
            log.info("spend logs: deleted %d rows older than %s", deleted, cutoff.isoformat())
        return deleted

    async def _every(self, seconds: float, job: Any, what: str) -> None:
        while True:
            started = time.monotonic()
            try:
                await job()
            except Exception as exc:  # the loop must outlive one bad run
                log.warning("spend logs: %s failed: %s: %s", what, type(exc).__name__, exc)
            await asyncio.sleep(max(seconds - (time.monotonic() - started), 0.05))

    async def _flush_later(self) -> None:
        await asyncio.sleep(self.settings.batch_interval_s)
        await self._every(self.settings.batch_interval_s, self.flush, "a batch write")

    async def startup(self) -> None:
        loop = asyncio.get_running_loop()
        self._tasks.append(loop.create_task(self._flush_later()))
        if self.settings.retention_s is not None:
            self._tasks.append(loop.create_task(self._every(self.settings.cleanup_interval_s, self.cleanup,
                                                            "the retention clean-up")))

    async def shutdown(self) -> None:
        for task in self._tasks:
            task.cancel()
        self._tasks.clear()
        if self._flushing is not None:
            await asyncio.gather(self._flushing, return_exceptions=True)
        await self.flush()


class SpendLogs:
    """One per gateway: the settings, the store, the writer (this plugin) and the routes."""

    def __init__(self, general_settings: Mapping[str, Any], *, database_url: str | None, data_dir: Path,
                 source: str) -> None:
        self.settings = SpendLogSettings.from_config(general_settings, source=source)
        self.store: SpendLogStore = open_spend_log_store(database_url, data_dir)
        self.writer = SpendLogWriter(self.store, self.settings) if self.settings.enabled else None

    def callbacks(self) -> list[tuple[str, object]]:
        """The writer, for the gateway's callback list (none when ``disable_spend_logs``)."""
        return [("spend_logs", self.writer)] if self.writer is not None else []

    def routes(self, *, authenticate: Callable[[web.Request], Awaitable[UserAPIKeyAuth]], keys: Any,
               forget: Callable[[str], None]) -> list[web.RouteDef]:
        self.deps = SpendRoutesDeps(authenticate=authenticate, store=self.store, keys=keys, forget=forget)
        return spend_routes(self.deps)

    async def start(self) -> None:
        await self.store.open()

    async def close(self) -> None:
        await self.store.close()
