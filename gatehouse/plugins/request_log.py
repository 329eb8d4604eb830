"""The live request log: the last N requests with their decision trace, in memory.

A built-in plugin written with the public logging-hook API (``CustomLogger``'s
``async_log_success_event`` / ``async_log_failure_event``): it reads only the
``standard_logging_object`` every logging hook receives, so it sees exactly
what a user's logging callback would. Each entry holds

- what was called: call id, endpoint, call type, model, model group, deployment, stream;
- who called: the key's alias and the first 12 characters of its hash (never the
  key), user, team, end user; the master key is shown as ``master key``;
- how it went: success / failure, HTTP status, error type and message, duration,
  tokens, cost;
- the decision trace: every hook and guardrail that ran, in order, with its stage,
  verdict and milliseconds (``gatehouse_trace``), and the guardrail records
  (``standard_logging_guardrail_information``: mode, status, duration).

It records while an admin has the console open (any console call in the last
:data:`WATCH_SECONDS`), or always with ``ui_request_log_always``: otherwise its
``should_run_for`` opts out of every request, and a gateway whose other hooks
also opt out takes the no-hooks path (recording costs CPU on every request:
the request is decorated for hooks and a background logging task runs).

Prompt and answer text is kept only when the operator allows it
(``general_settings.ui_request_log_content``), cut to :data:`CONTENT_LIMIT`
characters. The buffer is a ``deque(maxlen=size)``: memory is bounded, the
oldest entry goes first. It is per process: with ``--workers N`` each worker
keeps its own.
"""

from __future__ import annotations

import asyncio
import collections
import time
from typing import Any

import orjson

from ..auth.identity import MASTER_KEY_TOKEN
from ..views import unwrap
from ..policy.custom_logger import CustomLogger

__all__ = ["RequestLog", "CONTENT_LIMIT", "HASH_PREFIX", "WATCH_SECONDS"]

#: Characters of prompt / answer text kept per entry when content logging is on.
CONTENT_LIMIT = 8000
#: How long a console call keeps the log recording.
WATCH_SECONDS = 600.0
#: Characters of the key's hash shown.
HASH_PREFIX = 12
_TEXT_LIMIT = 1000  # error messages


class RequestLog(CustomLogger):
    """A bounded ring buffer of recent requests, filled from the logging hooks."""

    def __init__(self, *, size: int = 500, include_content: bool = False, always: bool = False,
                 watch_seconds: float = WATCH_SECONDS) -> None:
        super().__init__()
        self.size = size
        self.include_content = include_content
        self.always = always
        self.watch_seconds = watch_seconds
        self._watched_until = 0.0
        self._entries: collections.deque[dict[str, Any]] = collections.deque(maxlen=size)
        self._seq = 0
        self._changed = asyncio.Event()
        self.closed = False

    # -- the hook API ---------------------------------------------------------------
    def should_run_for(self, user_api_key_dict: Any) -> bool:
        """Record while a console is open (or always); else cost nothing."""
        return self.always or time.monotonic() < self._watched_until

    def watched(self) -> None:
        """An admin's console called the gateway: record for the next ``watch_seconds``."""
        self._watched_until = time.monotonic() + self.watch_seconds

    @property
    def recording(self) -> bool:
        return self.should_run_for(None)

    async def async_log_success_event(self, kwargs: dict, response_obj: Any, start_time: Any, end_time: Any) -> None:
        self.record(kwargs)

    async def async_log_failure_event(self, kwargs: dict, response_obj: Any, start_time: Any, end_time: Any) -> None:
        self.record(kwargs)

    async def shutdown(self) -> None:
        self.close()

    # -- the buffer --------------------------------------------------------------
    def record(self, kwargs: dict[str, Any]) -> dict[str, Any] | None:
        """Add the request these logging ``kwargs`` describe; wake the live readers."""
        standard = kwargs.get("standard_logging_object")
        if not isinstance(standard, dict):
            return None
        self._seq += 1
        entry = entry_from(standard, seq=self._seq, include_content=self.include_content)
        self._entries.append(entry)
        changed, self._changed = self._changed, asyncio.Event()
        changed.set()
        return entry

    @property
    def last_seq(self) -> int:
        return self._seq

    def since(self, after: int = 0, limit: int = 100) -> list[dict[str, Any]]:
        """Entries with ``seq > after``, oldest first, at most the newest ``limit`` of them."""
        found = [e for e in reversed(self._entries) if e["seq"] > after][:max(limit, 0)]
        found.reverse()
        return found

    async def wait(self, after: int, timeout: float) -> bool:
        """Wait (at most ``timeout`` s) until an entry newer than ``after`` exists; whether one does."""
        if self._seq > after:
            return True
        if self.closed:
            return False
        try:
            await asyncio.wait_for(self._changed.wait(), timeout)
        except TimeoutError:
            pass
        return self._seq > after

    def close(self) -> None:
        """Wake every live reader for good (the gateway is shutting down)."""
        self.closed = True
        self._changed.set()


def entry_from(standard: dict[str, Any], *, seq: int, include_content: bool) -> dict[str, Any]:
    """One log entry from a ``standard_logging_object``: no key, no text unless ``include_content``."""
    found = standard.get("metadata")
    metadata: dict[str, Any] = found if isinstance(found, dict) else {}
    found = standard.get("error_information")
    error: dict[str, Any] | None = found if isinstance(found, dict) else None
    failed = standard.get("status") == "failure"
    start, end = _number(standard.get("startTime")), _number(standard.get("endTime"))
    entry: dict[str, Any] = {
        "seq": seq,
        "call_id": standard.get("id"),
        "time": start or time.time(),
        "duration_ms": round((end - start) * 1000, 3) if start and end else None,
        "status": "failure" if failed else "success",
        "status_code": _status_code(error) if failed else 200,
        "error": _error(standard, error) if failed else None,
        "call_type": standard.get("call_type"),
        "endpoint": metadata.get("user_api_key_request_route"),
        "model": _text(standard.get("model")),
        "model_group": _text(standard.get("model_group")),
        "deployment": _text(standard.get("model_id")),
        "stream": bool(standard.get("stream")),
        "tokens": {name: _int(standard.get(f"{name}_tokens")) for name in ("prompt", "completion", "total")},
        "cost": _number(standard.get("response_cost")),
        "key": _caller(metadata),
        "tags": [t for t in standard.get("request_tags") or [] if isinstance(t, str)][:20],
        "trace": _trace(standard.get("gatehouse_trace")),
        "guardrails": _guardrails(standard.get("guardrail_information"), include_content),
    }
    if include_content:
        entry["content"] = {"messages": _clip(standard.get("messages")), "response": _clip(standard.get("response"))}
    return entry


def _caller(metadata: dict[str, Any]) -> dict[str, Any]:
    token = metadata.get("user_api_key_hash")
    master = token == MASTER_KEY_TOKEN
    return {
        "alias": "master key" if master else _text(metadata.get("user_api_key_alias")),
        "hash_prefix": token[:HASH_PREFIX] if isinstance(token, str) and token and not master else None,
        "master": master,
        "user_id": _text(metadata.get("user_api_key_user_id")),
        "team_id": _text(metadata.get("user_api_key_team_id")),
        "team_alias": _text(metadata.get("user_api_key_team_alias")),
        "end_user": _text(metadata.get("user_api_key_end_user_id")),
    }


def _trace(steps: Any) -> list[dict[str, Any]]:
    out = []
    for step in steps if isinstance(steps, (list, tuple)) else ():
        if isinstance(step, (list, tuple)) and len(step) == 4:
            stage, hook, outcome, ms = step
            out.append({"stage": str(stage), "hook": str(hook), "outcome": str(outcome), "ms": _number(ms)})
    return out


def _guardrails(records: Any, include_content: bool) -> list[dict[str, Any]]:
    out = []
    for record in records if isinstance(records, list) else ():
        if not isinstance(record, dict):
            continue
        duration = _number(record.get("duration"))
        item = {
            "name": _text(record.get("guardrail_name")),
            "provider": _text(record.get("guardrail_provider")),
            "mode": _text(record.get("guardrail_mode")),
            "status": _text(record.get("guardrail_status")),
            "start": _number(record.get("start_time")),
            "duration_ms": round(duration * 1000, 3) if duration is not None else None,
            "masked_entities": record.get("masked_entity_count") if isinstance(record.get("masked_entity_count"),
                                                                              (int, dict)) else None,
        }
        if include_content:  # a guardrail's own answer may quote the request
            item["response"] = _clip(record.get("guardrail_response"))
        out.append(item)
    return out


def _error(standard: dict[str, Any], error: dict[str, Any] | None) -> dict[str, Any]:
    message = standard.get("error_str")
    return {"class": _text((error or {}).get("error_class")),
            "message": message[:_TEXT_LIMIT] if isinstance(message, str) else None}


def _status_code(error: dict[str, Any] | None) -> int | None:
    try:
        return int((error or {}).get("error_code"))  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None


def _clip(value: Any) -> str | None:
    """A JSON (or plain) text of ``value``, at most :data:`CONTENT_LIMIT` characters."""
    if value is None:
        return None
    if not isinstance(value, str):
        try:
            value = orjson.dumps(value, default=_plain).decode()
        except (TypeError, orjson.JSONEncodeError):
            value = repr(value)
    return value if len(value) <= CONTENT_LIMIT else value[:CONTENT_LIMIT] + "…"


def _plain(value: Any) -> Any:
    """orjson's fallback: the dict behind a response view, else its text."""
    data = unwrap(value)
    return data if data is not value else str(value)


def _text(value: Any, limit: int = 200) -> str | None:
    return value[:limit] if isinstance(value, str) else None


def _number(value: Any) -> float | None:
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def _int(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else 0
