"""The spend routes, LiteLLM's paths and shapes::

    GET  /spend/logs            ?request_id&api_key&user_id&start_date&end_date&summarize   rows, or a daily summary
    GET  /spend/keys            keys, most spend first
    GET  /spend/tags            ?start_date&end_date            spend per request tag
    GET  /global/spend/report   ?start_date&end_date&group_by=team|customer|api_key&api_key&internal_user_id
                                 &team_id&customer_id
    POST /global/spend/reset    every key's spend (and every other resetter's, e.g. teams') back to 0

Admins (the master key, ``proxy_admin``; ``proxy_admin_viewer`` for the
GET routes) see everything. Any other caller sees only its own key: every
query is narrowed to it, and naming another key is a 403. Errors are the
gateway's one error shape.
"""

from __future__ import annotations

import builtins
from dataclasses import dataclass, field
from typing import Any, Awaitable, Callable

import orjson
from aiohttp import web

from ..auth.identity import UserAPIKeyAuth
from ..auth.keys import KeyStoreError, hash_key
from ..errors import BadRequestError, PermissionDeniedError, UpstreamUnavailableError
from . import reports
from .store import LogFilter, SpendLogStore

__all__ = ["spend_routes", "SpendRoutesDeps"]

ADMIN_ROLES = frozenset({"proxy_admin", "proxy_admin_viewer"})
Resetter = Callable[[], Awaitable[None]]


@dataclass
class SpendRoutesDeps:
    authenticate: Callable[[web.Request], Awaitable[UserAPIKeyAuth]]
    store: SpendLogStore
    keys: Any
    """The key store (``list``, ``get``, ``update``)."""
    forget: Callable[[str], None]
    """Drop a key's cached identity (its spend changed)."""
    resetters: list[Resetter] = field(default_factory=list)
    """More spend to zero at ``/global/spend/reset`` (teams, when the gateway has them)."""


def _json(payload: Any) -> web.Response:
    return web.Response(body=orjson.dumps(payload), content_type="application/json")


class _Caller:
    def __init__(self, identity: UserAPIKeyAuth) -> None:
        self.identity = identity
        self.admin = identity.user_role in ADMIN_ROLES

    def key_filter(self, asked: str | None) -> str | None:
        """The key hash a query is narrowed to: any for an admin, its own for anyone else."""
        wanted = hash_key(asked) if asked else None
        if self.admin:
            return wanted
        own = self.identity.api_key
        if not own or (wanted is not None and wanted != own):
            raise PermissionDeniedError("Only an admin may see the spend of other keys; a key sees only its own.",
                                        param="api_key")
        return own


def spend_routes(deps: SpendRoutesDeps) -> list[web.RouteDef]:
    async def caller(request: web.Request) -> _Caller:
        return _Caller(await deps.authenticate(request))

    async def logs(request: web.Request) -> web.Response:
        who, q = await caller(request), request.query
        f = LogFilter(request_id=q.get("request_id") or None, api_key=who.key_filter(q.get("api_key")),
                      user_id=q.get("user_id") or None, team_id=q.get("team_id") or None,
                      start=reports.parse_date(q.get("start_date"), "start_date"),
                      end=reports.parse_date(q.get("end_date"), "end_date", end=True))
        summarize = _bool(q.get("summarize"), "summarize", default=True)
        async with _db():
            if f.start is not None and f.end is not None and summarize:
                return _json(await reports.daily_summary(deps.store, f))
            return _json(await reports.spend_logs(deps.store, f))

    async def keys(request: web.Request) -> web.Response:
        who = await caller(request)
        async with _db():
            if not who.admin:
                own = await deps.keys.get(who.key_filter(None))
                return _json([own.to_json()] if own is not None else [])
            records = await _all_keys(deps.keys)
        records.sort(key=lambda r: r.spend, reverse=True)
        return _json([r.to_json() for r in records])

    async def tags(request: web.Request) -> web.Response:
        who, q = await caller(request), request.query
        f = LogFilter(api_key=who.key_filter(q.get("api_key")),
                      start=reports.parse_date(q.get("start_date"), "start_date"),
                      end=reports.parse_date(q.get("end_date"), "end_date", end=True))
        async with _db():
            return _json(await reports.tag_spend(deps.store, f))

    async def report(request: web.Request) -> web.Response:
        who, q = await caller(request), request.query
        if not q.get("start_date") or not q.get("end_date"):
            raise BadRequestError("Please provide start_date and end_date", param="start_date")
        group_by = q.get("group_by") or "team"
        if group_by not in reports.GROUPS:
            raise BadRequestError(f"group_by must be one of {', '.join(reports.GROUPS)}, not {group_by!r}",
                                  param="group_by")
        f = LogFilter(api_key=who.key_filter(q.get("api_key")), user_id=q.get("internal_user_id") or None,
                      team_id=q.get("team_id") or None, end_user=q.get("customer_id") or None,
                      start=reports.parse_date(q.get("start_date"), "start_date"),
                      end=reports.parse_date(q.get("end_date"), "end_date", end=True))
        async with _db():
            return _json(await reports.spend_report(deps.store, f, group_by))

    async def reset(request: web.Request) -> web.Response:
        who = await caller(request)
        if who.identity.user_role != "proxy_admin":
            raise PermissionDeniedError("Only an admin (the master key or a proxy_admin) may reset spend.")
        async with _db():
            for record in await _all_keys(deps.keys):
                if record.spend:
                    await deps.keys.update(record.token, {"spend": 0.0})
                    deps.forget(record.token)
            for resetter in deps.resetters:
                await resetter()
        return _json({"message": "Spend for all API Keys and Teams reset successfully", "status": "success"})

    return [
        web.get("/spend/logs", logs, allow_head=False),
        web.get("/spend/keys", keys, allow_head=False),
        web.get("/spend/tags", tags, allow_head=False),
        web.get("/global/spend/report", report, allow_head=False),
        web.post("/global/spend/reset", reset),
    ]


async def _all_keys(store: Any) -> builtins.list[Any]:
    out: builtins.list[Any] = []
    page = 1
    while True:
        records, total = await store.list(page=page, size=500)
        out += records
        if not records or len(out) >= total:
            return out
        page += 1


def _bool(value: str | None, name: str, *, default: bool) -> bool:
    if value is None or value == "":
        return default
    if value.lower() in ("true", "1", "yes"):
        return True
    if value.lower() in ("false", "0", "no"):
        return False
    raise BadRequestError(f"{name} must be true or false, not {value!r}", param=name)


class _db:
    """Database failures answer 503 (never a traceback)."""

    async def __aenter__(self) -> None:
        return None

    async def __aexit__(self, kind: Any, exc: BaseException | None, tb: Any) -> None:
        if isinstance(exc, KeyStoreError):
            raise UpstreamUnavailableError(f"The spend database cannot be reached: {exc}") from exc


