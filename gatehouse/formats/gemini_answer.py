"""Gemini answers → OpenAI answers: ``generateContent`` JSON, ``streamGenerateContent?alt=sse``
events, usage, finish reasons and error bodies. Pure translation, no I/O.

================================================  ======================================
Gemini ``finishReason``                           OpenAI ``finish_reason``
================================================  ======================================
``STOP``                                          ``stop`` (``tool_calls`` when the turn calls functions)
``MAX_TOKENS``                                    ``length``
``SAFETY`` ``RECITATION`` ``BLOCKLIST``           ``content_filter``
``PROHIBITED_CONTENT`` ``SPII`` ``LANGUAGE``
``IMAGE_*`` ``OTHER``
``promptFeedback.blockReason`` (no candidates)    ``content_filter``, content ``null``
anything else                                     ``stop``
================================================  ======================================
"""

from __future__ import annotations

import time
import uuid
from typing import Any, Mapping

import orjson

from ..errors import UpstreamError
from .gemini import THOUGHT_SEPARATOR

__all__ = ["chat_answer", "StreamTranslator", "usage", "finish_reason", "error_from_body", "is_known_event",
           "stream_error"]

_FILTERED = frozenset({"SAFETY", "RECITATION", "BLOCKLIST", "PROHIBITED_CONTENT", "SPII", "LANGUAGE", "OTHER",
                       "IMAGE_SAFETY", "IMAGE_PROHIBITED_CONTENT", "IMAGE_RECITATION", "IMAGE_OTHER"})
_KNOWN_KEYS = ("candidates", "promptFeedback", "usageMetadata")


def finish_reason(reason: Any, called: bool) -> str:
    if reason == "MAX_TOKENS":
        return "length"
    if isinstance(reason, str) and (reason in _FILTERED or reason.startswith("IMAGE_")):
        return "content_filter"
    return "tool_calls" if called else "stop"


def usage(meta: Any) -> dict[str, Any]:
    """``usageMetadata`` → OpenAI ``usage`` (thoughts count as completion and reasoning tokens)."""
    meta = meta if isinstance(meta, Mapping) else {}
    prompt = int(meta.get("promptTokenCount") or 0) + int(meta.get("toolUsePromptTokenCount") or 0)
    candidates = int(meta.get("candidatesTokenCount") or 0)
    thoughts = int(meta.get("thoughtsTokenCount") or 0)
    total = int(meta.get("totalTokenCount") or 0)
    completion = candidates if (thoughts and prompt + candidates == total) else candidates + thoughts
    out: dict[str, Any] = {"prompt_tokens": prompt, "completion_tokens": completion,
                           "total_tokens": total or prompt + completion}
    if meta.get("cachedContentTokenCount") is not None:
        out["prompt_tokens_details"] = {"cached_tokens": int(meta.get("cachedContentTokenCount") or 0)}
    if thoughts:
        out["completion_tokens_details"] = {"reasoning_tokens": thoughts}
    return out


def _call_id(part: Mapping[str, Any], call: Mapping[str, Any]) -> str:
    base = call.get("id") or f"call_{uuid.uuid4().hex[:28]}"
    signature = part.get("thoughtSignature")
    return f"{base}{THOUGHT_SEPARATOR}{signature}" if signature else str(base)


def _tool_call(part: Mapping[str, Any], index: int | None = None) -> dict[str, Any]:
    call = part["functionCall"]
    out: dict[str, Any] = {"id": _call_id(part, call), "type": "function", "function": {
        "name": call.get("name") or "", "arguments": orjson.dumps(call.get("args") or {}).decode()}}
    if index is not None:
        out["index"] = index
    return out


def _split_parts(parts: Any) -> tuple[list[str], list[str], list[Mapping[str, Any]]]:
    """(text pieces, thought pieces, functionCall parts) of a candidate's parts."""
    texts: list[str] = []
    thoughts: list[str] = []
    calls: list[Mapping[str, Any]] = []
    for part in parts if isinstance(parts, list) else ():
        if not isinstance(part, Mapping):
            continue
        if isinstance(part.get("functionCall"), Mapping):
            calls.append(part)
        elif isinstance(part.get("text"), str):
            (thoughts if part.get("thought") is True else texts).append(part["text"])
    return texts, thoughts, calls


def _base(native: Mapping[str, Any], model: str, obj: str) -> dict[str, Any]:
    rid = native.get("responseId")
    return {"id": f"chatcmpl-{rid}" if rid else f"chatcmpl-{uuid.uuid4().hex}", "object": obj,
            "created": int(time.time()), "model": model}


def chat_answer(native: Mapping[str, Any], model: str) -> dict[str, Any]:
    """A ``generateContent`` answer as an OpenAI ``chat.completion``."""
    choices = []
    candidates = native.get("candidates")
    for position, candidate in enumerate(candidates if isinstance(candidates, list) else ()):
        if not isinstance(candidate, Mapping):
            continue
        texts, thoughts, calls = _split_parts((candidate.get("content") or {}).get("parts"))
        message: dict[str, Any] = {"role": "assistant", "content": "".join(texts) if texts else None}
        if thoughts:
            message["reasoning_content"] = "".join(thoughts)
        if calls:
            message["tool_calls"] = [_tool_call(p) for p in calls]
        choices.append({"index": candidate.get("index", position), "message": message,
                        "finish_reason": finish_reason(candidate.get("finishReason"), bool(calls))})
    if not choices:
        blocked = (native.get("promptFeedback") or {}).get("blockReason")
        reason = "content_filter" if blocked else "stop"
        choices.append({"index": 0, "message": {"role": "assistant", "content": None}, "finish_reason": reason})
    answer = _base(native, model, "chat.completion")
    answer["choices"] = choices
    answer["usage"] = usage(native.get("usageMetadata"))
    return answer


def is_known_event(event: Any) -> bool:
    """Whether a parsed stream event is something ``streamGenerateContent`` documents."""
    return isinstance(event, Mapping) and any(key in event for key in _KNOWN_KEYS)


class StreamTranslator:
    """``streamGenerateContent?alt=sse`` events → OpenAI ``chat.completion.chunk`` dicts.

    Feed each parsed event to :meth:`feed`; call :meth:`end` after the last one
    (it adds the usage chunk when ``include_usage`` and says whether a finish was seen).
    """

    def __init__(self, model: str, include_usage: bool) -> None:
        self.model, self.include_usage = model, include_usage
        self.base: dict[str, Any] | None = None
        self.started: set[int] = set()
        self.calls: dict[int, int] = {}
        self.finished: set[int] = set()
        self.last_usage: Any = None

    def feed(self, event: Mapping[str, Any]) -> list[dict[str, Any]]:
        if self.base is None:
            self.base = _base(event, self.model, "chat.completion.chunk")
        if event.get("usageMetadata") is not None:
            self.last_usage = event["usageMetadata"]
        out: list[dict[str, Any]] = []
        candidates = event.get("candidates")
        for position, candidate in enumerate(candidates if isinstance(candidates, list) else ()):
            if isinstance(candidate, Mapping):
                out += self._candidate(candidate, candidate.get("index", position))
        blocked = (event.get("promptFeedback") or {}).get("blockReason")
        if blocked and not candidates and 0 not in self.finished:
            out.append(self._chunk(0, self._opening(0), "content_filter"))
            self.finished.add(0)
        return out

    def _candidate(self, candidate: Mapping[str, Any], index: int) -> list[dict[str, Any]]:
        texts, thoughts, calls = _split_parts((candidate.get("content") or {}).get("parts"))
        delta: dict[str, Any] = {}
        if thoughts:
            delta["reasoning_content"] = "".join(thoughts)
        if texts:
            delta["content"] = "".join(texts)
        if calls:
            first = self.calls.get(index, 0)
            delta["tool_calls"] = [_tool_call(p, first + i) for i, p in enumerate(calls)]
            self.calls[index] = first + len(calls)
        out = []
        if delta:
            out.append(self._chunk(index, self._opening(index) | delta, None))
        reason = candidate.get("finishReason")
        if reason and index not in self.finished:
            out.append(self._chunk(index, self._opening(index), finish_reason(reason, index in self.calls)))
            self.finished.add(index)
        return out

    def _opening(self, index: int) -> dict[str, Any]:
        """``{"role": "assistant"}`` for a choice's first chunk, else ``{}``."""
        if index in self.started:
            return {}
        self.started.add(index)
        return {"role": "assistant"}

    def _chunk(self, index: int, delta: dict[str, Any], reason: str | None) -> dict[str, Any]:
        assert self.base is not None
        return {**self.base, "choices": [{"index": index, "delta": delta, "finish_reason": reason}]}

    @property
    def complete(self) -> bool:
        """Whether every started choice got its finish reason."""
        return bool(self.finished) and self.started <= self.finished

    def end(self) -> list[dict[str, Any]]:
        if not self.include_usage or self.base is None:
            return []
        return [{**self.base, "choices": [], "usage": usage(self.last_usage)}]


_STATUS_TYPES = {400: "invalid_request_error", 401: "authentication_error", 403: "permission_error",
                 429: "rate_limit_error"}


def error_from_body(status: int, raw: bytes) -> tuple[int, str | None, str, str | None]:
    """A Gemini error answer → (status for the client, OpenAI type, message, retry delay in seconds).

    ``{"error": {"code", "message", "status", "details"}}``. A 400 whose reason is
    ``API_KEY_INVALID`` is an authentication error (401), as OpenAI answers a bad key.
    """
    try:
        body = orjson.loads(raw) if raw else None
    except orjson.JSONDecodeError:
        body = None
    if isinstance(body, list) and body:  # the stream endpoint without alt=sse wraps errors in a list
        body = body[0]
    err = body.get("error") if isinstance(body, Mapping) else None
    if not isinstance(err, Mapping):
        return status, _STATUS_TYPES.get(status), f"Upstream answered HTTP {status}", None
    message = str(err.get("message") or f"Upstream answered HTTP {status}")
    details = err.get("details")
    details = details if isinstance(details, list) else []
    reasons = {d.get("reason") for d in details if isinstance(d, Mapping)}
    if status == 400 and "API_KEY_INVALID" in reasons:
        status = 401
    retry = next((d.get("retryDelay") for d in details if isinstance(d, Mapping) and d.get("retryDelay")), None)
    return status, _STATUS_TYPES.get(status), message, _seconds(retry)


def _seconds(delay: Any) -> str | None:
    """``"30s"`` / ``"1.5s"`` → ``"30"`` / ``"2"`` (whole seconds for ``retry-after``)."""
    if not isinstance(delay, str) or not delay.endswith("s"):
        return None
    try:
        value = float(delay[:-1])
    except ValueError:
        return None
    return str(max(1, int(value + 0.999)))


def stream_error(event: Mapping[str, Any]) -> UpstreamError | None:
    """An ``{"error": {...}}`` event inside a stream, as the error to raise (None if it is not one)."""
    err = event.get("error")
    if not isinstance(err, Mapping):
        return None
    code = err.get("code")
    status = code if isinstance(code, int) and 400 <= code <= 599 else 500
    status, etype, message, _ = error_from_body(status, orjson.dumps(event))
    return UpstreamError(message, status=status, type=etype)
