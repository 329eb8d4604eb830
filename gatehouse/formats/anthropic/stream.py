"""An Anthropic Messages stream → OpenAI ``chat.completion.chunk`` payloads.

Two small stateful objects, one per stream:

* :class:`SSEDecoder` splits the bytes of a ``text/event-stream`` answer into the
  ``data`` of each event (Bedrock's event-stream framing does not need it);
* :class:`StreamTranslator` turns each Anthropic event into zero or more chunk
  payloads (JSON bytes, ready to frame as ``data: …``):

  ==========================================  =========================================================
  Anthropic event                             chunk
  ==========================================  =========================================================
  ``message_start``                           nothing (usage recorded); the first chunk carries ``role: assistant``
  ``content_block_start`` ``tool_use``        ``delta.tool_calls[{index, id, type, function: {name, arguments: ""}}]``
  ``content_block_delta`` ``text_delta``      ``delta.content``
  ``content_block_delta`` ``input_json_delta`` ``delta.tool_calls[{index, function: {arguments}}]``
  ``content_block_delta`` ``thinking_delta``  ``delta.reasoning_content``
  ``content_block_delta`` ``signature_delta`` ``delta.thinking_blocks[{type: thinking, thinking: "", signature}]``
  ``message_delta``                           ``finish_reason`` (mapped), then with ``include_usage`` a
                                              ``choices: []`` chunk carrying the usage
  ``ping``, ``content_block_stop``,           nothing (``message_stop`` marks the stream complete)
  ``message_stop``
  ``error``                                   raises :class:`~gatehouse.errors.UpstreamError` (503 when
                                              overloaded, else 500)
  ==========================================  =========================================================

Nothing is produced before the first delta, so an ``error`` event that comes
first can still be answered as an HTTP error (and retried). Event types
Anthropic adds later are ignored, as its versioning policy asks of
clients; an event that is not JSON, or a stream that does not begin with
``message_start``, raises a 502 ``UpstreamError``.
"""

from __future__ import annotations

import time
from typing import Any, Mapping

import orjson

from ...errors import UpstreamError
from .request import JSON_TOOL_NAME
from .response import error_from_anthropic, finish_reason, openai_usage

__all__ = ["SSEDecoder", "StreamTranslator"]


class SSEDecoder:
    """The ``data`` of each complete server-sent event, as bytes arrive."""

    __slots__ = ("_buffer",)

    def __init__(self) -> None:
        self._buffer = b""

    def feed(self, piece: bytes) -> list[bytes]:
        buffer = self._buffer + piece if self._buffer else piece
        if b"\r" in piece:  # after joining: a CRLF may be split between two pieces
            buffer = buffer.replace(b"\r\n", b"\n")
        events = buffer.split(b"\n\n")
        self._buffer = events.pop()
        return [data for data in map(_data, events) if data is not None]

    def close(self) -> list[bytes]:
        """The data of a last event that ended without a blank line."""
        rest, self._buffer = self._buffer.strip(), b""
        data = _data(rest) if rest else None
        return [data] if data is not None else []


def _data(event: bytes) -> bytes | None:
    at = event.find(b"data:")
    if at < 0:
        return None
    if (at == 0 or event[at - 1] == 0x0A) and event.find(b"\n", at) < 0:  # one data line, the last: Anthropic's shape
        value = event[at + 5:]
        return value[1:] if value[:1] == b" " else value
    lines = [line[5:] for line in event.split(b"\n") if line.startswith(b"data:")]
    if not lines:
        return None
    return b"\n".join(line[1:] if line[:1] == b" " else line for line in lines)


class StreamTranslator:
    """Anthropic stream events → OpenAI chunk payloads, for one stream.

    ``model`` is written in every chunk; ``json_tool`` as in
    :func:`~gatehouse.formats.anthropic.to_openai_response`; ``label`` names the
    upstream in error messages (e.g. ``"anthropic deployment 'claude'"``).
    """

    def __init__(self, model: str, *, include_usage: bool = False, json_tool: bool = False,
                 created: int | None = None, label: str = "Anthropic") -> None:
        self.model = model
        self.include_usage = include_usage
        self.json_tool = json_tool
        self.created = created or int(time.time())
        self.label = label
        self.started = False
        """``message_start`` was seen."""
        self.finished = False
        """``message_delta`` (the finish reason) was seen."""
        self.complete = False
        """``message_stop`` was seen."""
        self._prefix = b""
        self._id = ""
        self._usage: dict[str, Any] = {}
        self._blocks: dict[int, tuple[str, int]] = {}  # block index → (kind, tool call index)
        self._tool_calls = 0
        self._json_used = False
        self._spoke = False

    # -- input -------------------------------------------------------------------
    def feed(self, data: bytes) -> list[bytes]:
        """One event's ``data`` (JSON bytes) → chunk payloads."""
        try:
            event = orjson.loads(data)
        except orjson.JSONDecodeError:
            raise self._broken("an event that is not JSON") from None
        if not isinstance(event, dict):
            raise self._broken("an event that is not a JSON object")
        if event.get("type") == "content_block_delta":  # the hot path: skip the dispatch
            return self._delta(event)
        return self.event(event)

    def event(self, event: Mapping[str, Any]) -> list[bytes]:
        """One parsed event → chunk payloads."""
        kind = event.get("type")
        if kind == "content_block_delta":
            return self._delta(event)
        if kind == "message_start":
            return self._start(event)
        if kind == "content_block_start":
            return self._block_start(event)
        if kind == "message_delta":
            return self._message_delta(event)
        if kind == "message_stop":
            self.complete = True
        elif kind == "error":
            status, etype, message = error_from_anthropic(200, event)
            raise UpstreamError(message, status=status, type=etype)
        elif not isinstance(kind, str):
            raise self._broken("an event without a type")
        return []  # ping, content_block_stop, and event types added after this was written

    # -- events ------------------------------------------------------------------
    def _start(self, event: Mapping[str, Any]) -> list[bytes]:
        message = event.get("message")
        if not isinstance(message, dict):
            raise self._broken("message_start without a message")
        self.started = True
        self._id = str(message.get("id") or "")
        usage = message.get("usage")
        if isinstance(usage, dict):
            self._usage.update(usage)
        self._prefix = (b'{"id":' + orjson.dumps(self._id) + b',"object":"chat.completion.chunk","created":'
                        + str(self.created).encode() + b',"model":' + orjson.dumps(self.model)
                        + b',"choices":[{"index":0,"delta":')
        return []  # the role goes with the first delta: nothing is produced before there is something to say

    def _block_start(self, event: Mapping[str, Any]) -> list[bytes]:
        self._require_start()
        index, block = event.get("index"), event.get("content_block")
        if not isinstance(index, int) or not isinstance(block, dict):
            raise self._broken("content_block_start without index or content_block")
        kind = block.get("type")
        if kind == "tool_use":
            if self.json_tool and block.get("name") == JSON_TOOL_NAME:
                self._json_used = True
                self._blocks[index] = ("json", 0)
                return []
            call = self._tool_calls
            self._tool_calls += 1
            self._blocks[index] = ("tool", call)
            head = {"index": call, "id": block.get("id"), "type": "function",
                    "function": {"name": block.get("name"), "arguments": ""}}
            return [self._chunk(orjson.dumps({"tool_calls": [head]}))]
        self._blocks[index] = (str(kind), 0)
        if kind == "text" and block.get("text"):
            return [self._chunk(orjson.dumps({"content": block["text"]}))]
        if kind == "thinking" and block.get("thinking"):
            return [self._chunk(orjson.dumps({"reasoning_content": block["thinking"]}))]
        if kind == "redacted_thinking":
            redacted = {"type": "redacted_thinking", "data": block.get("data") or ""}
            return [self._chunk(orjson.dumps({"thinking_blocks": [redacted]}))]
        return []

    def _delta(self, event: Mapping[str, Any]) -> list[bytes]:
        self._require_start()
        delta = event.get("delta")
        if not isinstance(delta, dict):
            raise self._broken("content_block_delta without a delta")
        kind = delta.get("type")
        if kind == "text_delta":
            return [self._chunk(b'{"content":' + orjson.dumps(delta.get("text") or "") + b"}")]
        if kind == "input_json_delta":
            block, call = self._blocks.get(event.get("index"), ("", 0))  # type: ignore[arg-type]
            partial = delta.get("partial_json") or ""
            if block == "json":
                return [self._chunk(b'{"content":' + orjson.dumps(partial) + b"}")] if partial else []
            if block != "tool":
                return []
            piece = {"tool_calls": [{"index": call, "function": {"arguments": partial}}]}
            return [self._chunk(orjson.dumps(piece))]
        if kind == "thinking_delta":
            return [self._chunk(b'{"reasoning_content":' + orjson.dumps(delta.get("thinking") or "") + b"}")]
        if kind == "signature_delta":
            signed = {"type": "thinking", "thinking": "", "signature": delta.get("signature") or ""}
            return [self._chunk(orjson.dumps({"thinking_blocks": [signed]}))]
        return []  # citations_delta and later delta types

    def _message_delta(self, event: Mapping[str, Any]) -> list[bytes]:
        self._require_start()
        delta = event.get("delta")
        usage = event.get("usage")
        if isinstance(usage, dict):
            self._usage.update({k: v for k, v in usage.items() if v is not None})
        finish = finish_reason(delta.get("stop_reason") if isinstance(delta, dict) else None)
        if finish == "tool_calls" and self._json_used and not self._tool_calls:
            finish = "stop"
        self.finished = True
        out = [self._chunk(b"{}", orjson.dumps(finish))]
        if self.include_usage:
            out.append(orjson.dumps({"id": self._id, "object": "chat.completion.chunk", "created": self.created,
                                     "model": self.model, "choices": [], "usage": self.usage()}))
        return out

    # -- helpers -----------------------------------------------------------------
    def usage(self) -> dict[str, Any]:
        """The usage seen so far, in OpenAI's shape."""
        return openai_usage(self._usage)

    def _chunk(self, delta: bytes, finish: bytes = b"null") -> bytes:
        if not self._spoke:  # the first chunk carries the role, as OpenAI's first chunk does
            self._spoke = True
            delta = b'{"role":"assistant"' + (b"," + delta[1:] if delta != b"{}" else b"}")
        return self._prefix + delta + b',"finish_reason":' + finish + b"}]}"

    def _require_start(self) -> None:
        if not self.started:
            raise self._broken("events before message_start")

    def _broken(self, what: str) -> UpstreamError:
        return UpstreamError(f"{self.label} sent a malformed stream: {what}", status=502)

    def end(self) -> None:
        """The stream's bytes ended: raise unless the answer was complete."""
        if not self.started:
            raise self._broken("no message_start")
        if not (self.complete or self.finished):
            raise UpstreamError(f"{self.label} ended the stream before the message was complete", status=502)
