"""One :class:`SpendLogs` per gateway: the settings, the store, the writer plugin and the routes."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any, Awaitable, Callable, Mapping

from aiohttp import web

from ..auth.identity import UserAPIKeyAuth
from ..plugins.spend_logs import SpendLogWriter
from .routes import SpendRoutesDeps, spend_routes
from .settings import SpendLogSettings
from .store import SpendLogStore, open_spend_log_store

__all__ = ["SpendLogs"]

log = logging.getLogger("gatehouse.spend")


class SpendLogs:
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
