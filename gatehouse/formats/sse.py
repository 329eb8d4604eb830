"""Server-sent events: the framing and parsing every streaming format shares."""

from __future__ import annotations

from typing import Any, Iterator

import orjson

__all__ = ["data_frame", "json_frame", "named_frame", "json_payload", "json_events"]


def data_frame(payload: bytes) -> bytes:
    """``data: <payload>`` and the blank line that ends the event."""
    return b"data: " + payload + b"\n\n"


def json_frame(value: Any) -> bytes:
    return b"data: " + orjson.dumps(value) + b"\n\n"


def named_frame(name: str, value: Any) -> bytes:
    """An event with an ``event:`` line (formats whose clients dispatch on it)."""
    return b"event: " + name.encode() + b"\ndata: " + orjson.dumps(value) + b"\n\n"


def json_payload(payload: bytes) -> dict[str, Any] | None:
    """One ``data:`` payload as a JSON object, or ``None`` (``[DONE]``, garbage, not an object)."""
    try:
        value = orjson.loads(payload)
    except orjson.JSONDecodeError:
        return None
    return value if isinstance(value, dict) else None


def json_events(raw: bytes) -> Iterator[dict[str, Any]]:
    """Every JSON-object ``data:`` line of SSE bytes, in order."""
    for event in raw.replace(b"\r\n", b"\n").split(b"\n\n"):
        for line in event.split(b"\n"):
            if line.startswith(b"data:"):
                value = json_payload(line[5:])
                if value is not None:
                    yield value
