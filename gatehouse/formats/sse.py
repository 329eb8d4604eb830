"""Server-sent events: the framing and parsing every streaming format shares."""

from __future__ import annotations

from typing import Any, Iterator

import orjson

__all__ = ["data_frame", "json_frame", "named_frame", "json_payload", "json_events", "EventSplitter"]


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


class EventSplitter:
    """SSE bytes → runs of complete events, as they arrive.

    :meth:`feed` returns the complete events of what arrived so far, as they
    came (byte for byte, CRLF made LF); an incomplete last event waits for
    the next piece. :meth:`payloads` gives the ``data`` of each event of a run.
    """

    __slots__ = ("_carry",)

    def __init__(self) -> None:
        self._carry = b""

    def feed(self, piece: bytes) -> bytes:
        if self._carry:
            piece, self._carry = self._carry + piece, b""
        if b"\r" in piece:
            piece = piece.replace(b"\r\n", b"\n")
        cut = piece.rfind(b"\n\n")
        if cut < 0:
            self._carry = piece
            return b""
        ready, self._carry = piece[: cut + 2], piece[cut + 2:]
        return ready

    def flush(self) -> bytes:
        """A last event the upstream ended without its blank line (completed)."""
        rest, self._carry = self._carry.strip(), b""
        return rest + b"\n\n" if rest else b""

    @staticmethod
    def payloads(ready: bytes) -> list[bytes]:
        """The ``data`` of each event in a run of complete events (``[DONE]`` included)."""
        out = []
        for block in ready.split(b"\n\n"):
            if block.startswith(b"data:") and b"\n" not in block:  # one data line: the common shape
                data = block[5:]
                out.append(data[1:] if data[:1] == b" " else data)
                continue
            lines = [line[5:] for line in block.split(b"\n") if line.startswith(b"data:")]
            data = b"\n".join(line[1:] if line[:1] == b" " else line for line in lines)
            if data:
                out.append(data)
        return out
