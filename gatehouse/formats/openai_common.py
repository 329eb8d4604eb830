"""What every OpenAI endpoint's format shares: the error body, JSON defaults, SSE framing with ``[DONE]``.

:class:`OpenAIFormat` is a JSON-only OpenAI endpoint (nothing to extract,
no rejection answer, no translation: providers already speak it); the
endpoint modules (:mod:`.openai_chat`, :mod:`.openai_text`,
:mod:`.openai_other`) override what their shapes add. :class:`OpenAIEvents`
is the part of a streamed OpenAI answer that does not depend on the chunk's
shape: ``data: {json}`` frames ended by ``data: [DONE]``, and the model name
re-stamped in bytes that are relayed unparsed.
"""

from __future__ import annotations

import re
from typing import Any, Iterator

import orjson

from ..errors import GatewayError
from .base import EventStream, Extraction, Translator
from .sse import data_frame, json_events, json_frame

__all__ = ["OPENAI", "OpenAIFormat", "OpenAIEvents", "ModelRestamper", "OpenAISummary", "error_body", "choices", "DONE"]

DONE = b"data: [DONE]\n\n"
_TEMPLATE_KEYS = ("id", "object", "created", "model", "system_fingerprint")
#: The end-of-stream event: ``data: [DONE]`` (or ``data:[DONE]``) on a line of its own.
_DONE = re.compile(rb"(?m)^data: ?\[DONE\][ \t]*\r?$")


def error_body(error: GatewayError, call_id: str | None = None) -> dict[str, Any]:
    """``{"error": {"message", "type", "param", "code"}}``, plus the error's extra fields."""
    inner: dict[str, Any] = {
        "message": error.message,
        "type": error.error_type,
        "param": error.param,
        "code": str(error.status),
    }
    inner.update(error.extra)
    if call_id:
        inner["litellm_call_id"] = call_id
    return {"error": inner}


def choices(value: dict[str, Any]) -> list[dict[str, Any]]:
    """The ``choices`` of an answer or chunk that are objects."""
    found = value.get("choices")
    if not isinstance(found, list):
        return []
    return [c for c in found if isinstance(c, dict)]


class OpenAIFormat:
    """An OpenAI endpoint's JSON format, with nothing of its own to extract (the defaults)."""

    name = "openai"
    stream: EventStream | None = None

    def extract_request(self, data: dict[str, Any]) -> Extraction:
        return Extraction(model=_str_or_none(data.get("model")))

    def extract_response(self, answer: dict[str, Any]) -> Extraction:
        return Extraction(model=_str_or_none(answer.get("model")))

    def answer_text(self, answer: dict[str, Any]) -> str | None:
        return None

    def restamp(self, answer: dict[str, Any], model: str) -> None:
        if "model" in answer:
            answer["model"] = model

    def rejection(self, message: str, model: str | None) -> dict[str, Any] | None:
        return None

    def error_body(self, error: GatewayError, call_id: str | None = None) -> dict[str, Any]:
        return error_body(error, call_id)

    def to_provider(self, body: dict[str, Any]) -> dict[str, Any]:
        return body

    def from_provider(self, answer: dict[str, Any]) -> dict[str, Any]:
        return answer

    def __repr__(self) -> str:
        return f"<format {self.name}>"


OPENAI = OpenAIFormat()
"""The OpenAI API's format where no endpoint row applies (errors of the admin and operational routes)."""


class ModelRestamper:
    """Put the client's model name where the upstream wrote its own (``"model": ...``)."""

    __slots__ = ("old", "new", "model")

    def __init__(self, upstream_model: str | None, model: str | None) -> None:
        self.model = model
        if upstream_model and model and upstream_model != model:
            self.old = b'"model":' + orjson.dumps(upstream_model)
            self.new = b'"model":' + orjson.dumps(model)
        else:
            self.old = self.new = b""

    def bytes(self, piece: bytes) -> bytes:
        if self.old and self.old in piece:
            return piece.replace(self.old, self.new)
        return piece

    def event(self, event: dict[str, Any]) -> None:
        if self.model and "model" in event:
            event["model"] = self.model


class OpenAIEvents:
    """``data: {chunk}`` frames, ``data: [DONE]`` at the end; chunks as providers send them."""

    end = DONE
    end_marker = b"[DONE]"

    def frame(self, event: Any) -> bytes:
        if isinstance(event, (bytes, bytearray)):
            return data_frame(bytes(event))
        return json_frame(event)

    def end_at(self, piece: bytes) -> int:
        if b"[DONE]" not in piece:
            return -1
        found = _DONE.search(piece)
        return found.start() if found else -1

    def events(self, raw: bytes) -> Iterator[dict[str, Any]]:
        return json_events(raw)

    def restamper(self, upstream_model: str | None, model: str | None) -> ModelRestamper:
        return ModelRestamper(upstream_model, model)

    def translator(self) -> Translator | None:
        return None

    # -- the shape of one choice (the endpoint modules say where its text is) ----------------
    def choice_text(self, choice: dict[str, Any]) -> Any:
        raise NotImplementedError

    def strip_choice(self, choice: dict[str, Any]) -> tuple[bool, bool, bool]:
        """Remove a choice's text in place → (had text, opens a message, anything else left to send)."""
        raise NotImplementedError

    # -- text ----------------------------------------------------------------------------------
    def text(self, event: dict[str, Any]) -> str:
        found = event.get("choices")
        if not found or not isinstance(found[0], dict):
            return ""
        text = self.choice_text(found[0])
        return text if isinstance(text, str) else ""

    def texts(self, event: dict[str, Any]) -> list[tuple[int, str]]:
        out: list[tuple[int, str]] = []
        for choice in choices(event):
            text = self.choice_text(choice)
            if isinstance(text, str) and text:
                out.append((choice.get("index", 0), text))
        return out

    # -- edits for guardrail windows -------------------------------------------------------------
    def template(self, event: dict[str, Any]) -> dict[str, Any] | None:
        if not event.get("choices"):
            return None
        return {k: event[k] for k in _TEMPLATE_KEYS if k in event}

    def finishing(self, event: dict[str, Any]) -> list[int]:
        return [c.get("index", 0) for c in choices(event) if c.get("finish_reason") is not None]

    def strip(self, event: dict[str, Any], indexes: set[int]) -> tuple[list[int], bool, bool]:
        found = event.get("choices")
        if not isinstance(found, list) or not indexes:
            return [], False, True
        stripped: list[int] = []
        kept: list[Any] = []
        opens = False
        for choice in found:
            if not isinstance(choice, dict) or choice.get("index", 0) not in indexes:
                kept.append(choice)
                continue
            had_text, role, meaningful = self.strip_choice(choice)
            opens = opens or role
            if had_text:
                stripped.append(choice.get("index", 0))
            if meaningful or choice.get("finish_reason") is not None or not had_text:
                kept.append(choice)
        if len(kept) != len(found):
            found[:] = kept
        keep = bool(kept) or event.get("usage") is not None or not stripped
        return stripped, opens, keep


class OpenAISummary:
    """Text, usage and finish reason of an OpenAI stream; the first choice's text."""

    __slots__ = ("_events", "_text", "usage", "last", "finish_reason")

    def __init__(self, events: OpenAIEvents) -> None:
        self._events = events
        self._text: list[str] = []
        self.usage: dict[str, Any] | None = None
        self.last: dict[str, Any] | None = None
        self.finish_reason: str | None = None

    def observe(self, event: dict[str, Any]) -> None:
        piece = self._events.text(event)
        if piece:
            self._text.append(piece)
        if event.get("usage"):
            self.usage = event["usage"]
        found = event.get("choices")
        if found and isinstance(found[0], dict) and found[0].get("finish_reason"):
            self.finish_reason = found[0]["finish_reason"]
        self.last = event

    def text(self) -> str:
        return "".join(self._text)

    def head(self, model: str | None, kind: str) -> dict[str, Any]:
        last = self.last or {}
        return {"id": last.get("id"), "object": kind, "created": last.get("created"), "model": model}


def _str_or_none(value: Any) -> str | None:
    return value if isinstance(value, str) else None
