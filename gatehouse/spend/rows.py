"""One spend-log row: built from a logging event, shown in LiteLLM's ``LiteLLM_SpendLogs`` shape.

:func:`row_from_event` reads only what every logging hook receives (the
``kwargs`` and their ``standard_logging_object``), so the writer is a plugin
like any other.
"""

from __future__ import annotations

import operator
from dataclasses import dataclass, field, fields
from datetime import datetime, timezone
from typing import Any, Mapping

from .schema import SPEND_LOG_COLUMNS

__all__ = ["SpendLogRow", "row_from_event", "MASTER_KEY_MARK"]

#: ``api_key`` of requests made with the master key (the key itself is never stored, nor its hash).
MASTER_KEY_MARK = "litellm_proxy_master_key"


@dataclass(slots=True)
class SpendLogRow:
    """Field names are the table's columns (:data:`~gatehouse.spend.schema.SPEND_LOG_COLUMNS`)."""

    request_id: str
    response_id: str | None = None
    call_type: str = ""
    api_key: str = ""
    key_alias: str | None = None
    spend: float = 0.0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cached_tokens: int = 0
    total_tokens: int = 0
    start_time: datetime = field(default_factory=lambda: datetime.now(timezone.utc))
    end_time: datetime = field(default_factory=lambda: datetime.now(timezone.utc))
    request_duration_ms: int = 0
    model: str = ""
    model_id: str | None = None
    model_group: str | None = None
    custom_llm_provider: str | None = None
    api_base: str | None = None
    user_id: str | None = None
    team_id: str | None = None
    team_alias: str | None = None
    organization_id: str | None = None
    end_user: str | None = None
    status: str = "success"
    error_class: str | None = None
    error_code: str | None = None
    cache_hit: bool = False
    stream: bool = False
    request_tags: list[str] = field(default_factory=list)
    guardrails: list[dict[str, Any]] = field(default_factory=list)
    metadata: dict[str, Any] = field(default_factory=dict)
    messages: Any = None
    response: Any = None

    def values(self) -> tuple[Any, ...]:
        """The column values, in table order (not copied)."""
        return _values(self)  # type: ignore[no-any-return]

    @classmethod
    def from_mapping(cls, row: Mapping[str, Any]) -> SpendLogRow:
        return cls(**{name: row[name] for name in SPEND_LOG_COLUMNS if row.get(name) is not None})

    def to_litellm(self) -> dict[str, Any]:
        """LiteLLM's spend-log fields (``user``, ``startTime``, ...) plus Gatehouse's own columns."""
        return {
            "request_id": self.request_id, "call_type": self.call_type, "api_key": self.api_key,
            "spend": self.spend, "total_tokens": self.total_tokens, "prompt_tokens": self.prompt_tokens,
            "completion_tokens": self.completion_tokens, "cached_tokens": self.cached_tokens,
            "startTime": _iso(self.start_time), "endTime": _iso(self.end_time),
            "request_duration_ms": self.request_duration_ms, "completionStartTime": None,
            "model": self.model, "model_id": self.model_id or "", "model_group": self.model_group or "",
            "custom_llm_provider": self.custom_llm_provider or "", "api_base": self.api_base or "",
            "user": self.user_id or "", "metadata": self.metadata, "cache_hit": str(self.cache_hit),
            "cache_key": "", "request_tags": self.request_tags, "team_id": self.team_id,
            "organization_id": self.organization_id, "end_user": self.end_user or "",
            "requester_ip_address": None, "messages": self.messages if self.messages is not None else {},
            "response": self.response if self.response is not None else {}, "session_id": None,
            "status": self.status, "response_id": self.response_id, "key_alias": self.key_alias,
            "team_alias": self.team_alias, "error_class": self.error_class, "error_code": self.error_code,
            "stream": self.stream, "guardrails": self.guardrails,
        }


assert tuple(f.name for f in fields(SpendLogRow)) == SPEND_LOG_COLUMNS, "SpendLogRow must follow the table"
_values = operator.attrgetter(*SPEND_LOG_COLUMNS)


def row_from_event(kwargs: Mapping[str, Any], *, store_prompts: bool) -> SpendLogRow | None:
    """The row for one success or failure event (``None`` if it has no standard logging object)."""
    standard = kwargs.get("standard_logging_object")
    if not isinstance(standard, dict) or not standard.get("id"):
        return None
    meta = standard.get("metadata") or {}
    response = standard.get("response")
    usage = response.get("usage") if isinstance(response, dict) else None
    start, end = _float(standard.get("startTime")), _float(standard.get("endTime"))
    error = standard.get("error_information") or {}
    hidden = standard.get("hidden_params") or {}
    row = SpendLogRow(
        request_id=str(standard["id"]),
        response_id=_str(response.get("id")) if isinstance(response, dict) else None,
        call_type=str(standard.get("call_type") or ""),
        api_key=_str(meta.get("user_api_key_hash")) or "",
        key_alias=_str(meta.get("user_api_key_alias")),
        spend=_float(standard.get("response_cost")),
        prompt_tokens=_int(standard.get("prompt_tokens")),
        completion_tokens=_int(standard.get("completion_tokens")),
        cached_tokens=_cached(usage),
        total_tokens=_int(standard.get("total_tokens")),
        start_time=_time(start), end_time=_time(end),
        request_duration_ms=max(int(round((end - start) * 1000)), 0),
        model=_str(hidden.get("litellm_model_name")) or "",
        model_id=_str(standard.get("model_id")),
        model_group=_str(standard.get("model_group")),
        custom_llm_provider=_str(standard.get("custom_llm_provider")),
        api_base=_str(standard.get("api_base")),
        user_id=_str(meta.get("user_api_key_user_id")),
        team_id=_str(meta.get("user_api_key_team_id")),
        team_alias=_str(meta.get("user_api_key_team_alias")),
        organization_id=_str(meta.get("user_api_key_org_id")),
        end_user=_str(standard.get("end_user")),
        status="success" if standard.get("status") == "success" else "failure",
        error_class=_str(error.get("error_class")),
        error_code=_str(error.get("error_code")),
        cache_hit=standard.get("cache_hit") is True,
        stream=standard.get("stream") is True,
        request_tags=_tags(standard.get("request_tags")),
        guardrails=_guardrails(standard.get("guardrail_information")),
        metadata=_metadata(standard, error),
    )
    if store_prompts:
        row.messages = _request_body(kwargs, standard)
        row.response = response if isinstance(response, dict) else None
    return row


def _metadata(standard: Mapping[str, Any], error: Mapping[str, Any]) -> dict[str, Any]:
    """The trace id when the client set one, and the error's message."""
    out: dict[str, Any] = {}
    trace = standard.get("trace_id")
    if trace and trace != standard.get("id"):
        out["trace_id"] = trace
    if standard.get("error_str"):
        out["error_information"] = {**error, "error_message": standard.get("error_str")}
    return out


def _request_body(kwargs: Mapping[str, Any], standard: Mapping[str, Any]) -> Any:
    for name in ("messages", "input", "prompt"):
        value = standard.get(name) if name == "messages" else kwargs.get(name)
        if value is not None:
            return value
    return None


def _tags(tags: Any) -> list[str]:
    return [t for t in tags if isinstance(t, str)] if tags else []


def _guardrails(records: Any) -> list[dict[str, Any]]:
    """``{name, mode, status, duration}`` of each guardrail that ran."""
    if not records or not isinstance(records, list):
        return []
    return [{"name": r.get("guardrail_name"), "mode": r.get("guardrail_mode"), "status": r.get("guardrail_status"),
             "duration": r.get("duration")} for r in records if isinstance(r, dict)]


def _cached(usage: Any) -> int:
    if not isinstance(usage, dict):
        return 0
    details = usage.get("prompt_tokens_details")
    cached = details.get("cached_tokens") if isinstance(details, dict) else None
    return _int(cached if cached is not None else usage.get("cache_read_input_tokens"))


def _time(ts: float) -> datetime:
    return datetime.fromtimestamp(ts, tz=timezone.utc) if ts > 0 else datetime.now(timezone.utc)


def _iso(value: datetime) -> str:
    return value.astimezone(timezone.utc).isoformat()


def _str(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def _int(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else 0


def _float(value: Any) -> float:
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else 0.0
