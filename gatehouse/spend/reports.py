"""LiteLLM's spend report shapes, read from the spend-log store.

Dates are ``YYYY-MM-DD`` (a whole day, UTC; ``end_date`` included) or an
ISO 8601 date-time (that instant). Every function takes a
:class:`~gatehouse.spend.store.LogFilter` the routes built (a non-admin's is
always narrowed to its own key).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import replace
from datetime import date, datetime, time, timedelta, timezone
from typing import Any

from ..errors import BadRequestError
from .store import LogFilter, SpendLogStore

__all__ = ["parse_date", "spend_logs", "daily_summary", "tag_spend", "spend_report", "MAX_ROWS", "GROUPS"]

#: At most this many rows from one ``/spend/logs`` call (LiteLLM's cap), newest first.
MAX_ROWS = 10_000
GROUPS = ("team", "customer", "api_key")


def parse_date(value: str | None, name: str, *, end: bool = False) -> datetime | None:
    """A query date: a day (``end``: the start of the next day, so the day is included) or a date-time."""
    if value is None or value == "":
        return None
    try:
        if len(value) == 10:
            day = date.fromisoformat(value)
            return datetime.combine(day + timedelta(days=1 if end else 0), time(), tzinfo=timezone.utc)
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise BadRequestError(f"{name} must be a date (YYYY-MM-DD) or an ISO 8601 date-time, not {value!r}",
                              param=name) from None
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)


async def spend_logs(store: SpendLogStore, f: LogFilter) -> list[dict[str, Any]]:
    return [row.to_litellm() for row in await store.find(f, limit=MAX_ROWS)]


async def daily_summary(store: SpendLogStore, f: LogFilter) -> list[dict[str, Any]]:
    """Per day: total ``spend``, spend per key hash (as a key of its own), per ``users`` and ``models``;
    days without spend in the range appear with 0."""
    days: dict[str, dict[str, Any]] = {}
    for r in await store.aggregate(f, ("day", "api_key", "user_id", "model")):
        day = days.setdefault(r["day"], {"users": {}, "models": {}, "spend": 0.0})
        spend = float(r["spend"] or 0.0)
        day["spend"] += spend
        day[r["api_key"] or ""] = day.get(r["api_key"] or "", 0.0) + spend
        day["users"][r["user_id"] or ""] = day["users"].get(r["user_id"] or "", 0.0) + spend
        day["models"][r["model"] or ""] = day["models"].get(r["model"] or "", 0.0) + spend
    if f.start is not None and f.end is not None:
        current = f.start.date()
        while datetime.combine(current, time(), tzinfo=timezone.utc) < f.end and len(days) <= 3660:
            days.setdefault(current.isoformat(), {"users": {}, "models": {}, "spend": 0.0})
            current += timedelta(days=1)
    return [{**value, "startTime": day} for day, value in sorted(days.items())]


async def tag_spend(store: SpendLogStore, f: LogFilter) -> list[dict[str, Any]]:
    return [{"individual_request_tag": r["tag"], "log_count": int(r["log_count"]),
             "total_spend": float(r["total_spend"] or 0.0)} for r in await store.by_tag(f)]


async def spend_report(store: SpendLogStore, f: LogFilter, group_by: str) -> list[dict[str, Any]]:
    """``/global/spend/report``: per day and team or customer, or per key (``api_key``)."""
    if group_by == "api_key" or f.api_key is not None or f.user_id is not None:
        return await _by_key(store, f)
    column = "team" if group_by == "team" else "customer"
    by = ("day", "team_id", "team_alias", "model", "api_key") if column == "team" else ("day", "end_user", "model", "api_key")
    groups: dict[str, dict[str, list[dict[str, Any]]]] = defaultdict(lambda: defaultdict(list))
    for r in await store.aggregate(f, by):
        name = (r.get("team_alias") or r.get("team_id") or "Unassigned Team") if column == "team" else r["end_user"]
        groups[r["day"]][name or ""].append({"model": r["model"], "api_key": r["api_key"],
                                             "spend": float(r["spend"] or 0.0),
                                             "total_tokens": int(r["total_tokens"] or 0)})
    label, plural = ("team_name", "teams") if column == "team" else ("customer", "customers")
    return [{"group_by_day": day, plural: [
        {label: name, "total_spend": sum(m["spend"] for m in metadata), "metadata": metadata}
        for name, metadata in sorted(members.items())]} for day, members in sorted(groups.items())]


async def _by_key(store: SpendLogStore, f: LogFilter) -> list[dict[str, Any]]:
    keys: dict[str, dict[str, Any]] = {}
    for r in await store.aggregate(f, ("api_key", "model")):
        key = keys.setdefault(r["api_key"] or "", {"api_key": r["api_key"] or "", "total_cost": 0.0,
                                                   "total_input_tokens": 0, "total_output_tokens": 0,
                                                   "model_details": []})
        detail = {"model": r["model"], "total_cost": float(r["spend"] or 0.0),
                  "total_input_tokens": int(r["prompt_tokens"] or 0),
                  "total_output_tokens": int(r["completion_tokens"] or 0)}
        key["model_details"].append(detail)
        for name in ("total_cost", "total_input_tokens", "total_output_tokens"):
            key[name] += detail[name]
    return sorted(keys.values(), key=lambda k: k["total_cost"], reverse=True)


def narrowed(f: LogFilter, **fields: Any) -> LogFilter:
    return replace(f, **fields)
