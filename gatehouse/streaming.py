"""Relaying a streamed answer to the client, chunk by chunk, as it arrives.

Three modes, chosen per request by what is configured, so a stream costs only
what its policy needs:

* **pieces** — no streaming hooks: the upstream's bytes are forwarded as they
  arrive (the ``model`` field re-stamped), nothing is parsed on the way. When
  post-call rules or logging hooks need the content, the pieces are kept and
  parsed once: at the end for the rules, in the background for logging;
* **transform** — streaming hooks or streaming guardrails: chunks are parsed,
  passed through the stream stage (:mod:`gatehouse.policy.stream`) and
  re-serialised.

The first frame is produced before the HTTP answer starts, so an error
before any byte is a normal JSON error; after it, an error ends the stream
with one ``data: {"error": ...}`` event and ``data: [DONE]``. The upstream
stream is closed in ``finally`` — also when the client goes away.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, AsyncGenerator, AsyncIterator, Awaitable, Callable

import orjson

from .call import Call
from .errors import GatewayError
from .objects import DictView
from .policy.logging_hooks import LoggingHooks
from .policy.pipeline import Pipeline
from .policy.rules import PostCallRules
from .policy.stream import RawFrame, chunk_text, wrap_stream
from .providers.base import BufferedStream
from .replies import SSE_DONE, sse_error, sse_frame
from .usage import UsageFilter, estimated_usage, is_usage_only

__all__ = ["StreamRelay", "ClientDisconnected"]

OnError = Callable[[Call, dict[str, Any], BaseException], Awaitable[GatewayError]]
#: The end-of-stream event: ``data: [DONE]`` (or ``data:[DONE]``) on a line of its own.
_DONE = re.compile(rb"(?m)^data: ?\[DONE\][ \t]*\r?$")


class ClientDisconnected(GatewayError):
    status = 499
    type = "client_disconnected"
    default_message = "The client closed the connection before the stream ended"


@dataclass(slots=True)
class _State:
    """What the relay learnt about the stream (for rules and logging)."""

    text: list[str] = field(default_factory=list)
    usage: dict[str, Any] | None = None
    last: dict[str, Any] | None = None
    finish_reason: str | None = None

    def observe(self, chunk: dict[str, Any]) -> None:
        piece = chunk_text(chunk)
        if piece:
            self.text.append(piece)
        if chunk.get("usage"):
            self.usage = chunk["usage"]
        choices = chunk.get("choices")
        if choices and isinstance(choices[0], dict) and choices[0].get("finish_reason"):
            self.finish_reason = choices[0]["finish_reason"]
        self.last = chunk

    @classmethod
    def from_pieces(cls, pieces: list[bytes]) -> "_State":
        """Parse a relayed stream's bytes, once, after the fact."""
        state = cls()
        for event in b"".join(pieces).replace(b"\r\n", b"\n").split(b"\n\n"):
            for line in event.split(b"\n"):
                if line.startswith(b"data:"):
                    chunk = _parse(line[5:])
                    if chunk is not None:
                        state.observe(chunk)
        return state

    def response(self, model: str | None, data: dict[str, Any]) -> dict[str, Any]:
        """The assembled response handed to logging hooks (usage estimated when the upstream sent none)."""
        last = self.last or {}
        chat = str(last.get("object", "")).startswith("chat")
        choice: dict[str, Any] = {"index": 0, "finish_reason": self.finish_reason}
        if chat:
            choice["message"] = {"role": "assistant", "content": "".join(self.text)}
        else:
            choice["text"] = "".join(self.text)
        usage = self.usage if self.usage is not None else estimated_usage(data, "".join(self.text))
        return {
            "id": last.get("id"), "object": "chat.completion" if chat else "text_completion",
            "created": last.get("created"), "model": model, "choices": [choice], "usage": usage,
        }


class StreamRelay:
    def __init__(self, pipeline: Pipeline, logging_hooks: LoggingHooks) -> None:
        self.pipeline = pipeline
        self.logging = logging_hooks

    async def start(
        self, call: Call, data: dict[str, Any], upstream: Any, rules: PostCallRules | None, *, on_error: OnError
    ) -> AsyncIterator[bytes]:
        """Produce the first frame (errors raise: a JSON answer), then the frames to send."""
        state = _State()
        restamp = _Restamp(getattr(upstream, "upstream_model", None), call.served_model)
        rules = rules if rules else None
        kept: list[bytes] | None = None
        if self.pipeline.has_stream_hooks:
            frames = self._transform(call, data, upstream, state, restamp, rules)
        else:
            kept = [] if rules is not None or self.logging.active else None
            frames = self._pieces(upstream, restamp, kept, rules, UsageFilter() if call.hide_usage else None)
        try:
            first = await frames.__anext__()
        except StopAsyncIteration:
            first = None
        except BaseException:
            await frames.aclose()
            await upstream.aclose()
            raise
        model = call.model
        assembled = (lambda: _State.from_pieces(kept).response(model, data)) if kept is not None else (
            lambda: state.response(model, data))
        return self._sse(call, data, first, frames, upstream, assembled, on_error)

    async def _sse(
        self, call: Call, data: dict[str, Any], first: bytes | None, frames: AsyncIterator[bytes],
        upstream: Any, assembled: Callable[[], dict[str, Any]], on_error: OnError,
    ) -> AsyncIterator[bytes]:
        finished = False
        try:
            if first is not None:
                yield first
            async for frame in frames:
                yield frame
            finished = True
            self.logging.success(call, data, assembled)  # assembled in the background, if anyone listens
            yield SSE_DONE
        except Exception as exc:
            finished = True
            error = await on_error(call, data, exc)
            yield sse_error(error)
            yield SSE_DONE
        finally:
            await frames.aclose()  # type: ignore[attr-defined]
            await upstream.aclose()
            if not finished:
                self.logging.failure(call, data, ClientDisconnected())

    async def _pieces(
        self, upstream: Any, restamp: "_Restamp", kept: list[bytes] | None, rules: PostCallRules | None,
        usage: UsageFilter | None = None,
    ) -> AsyncGenerator[bytes, None]:
        """The upstream's bytes as they arrive; its ``[DONE]`` is held back (the relay sends its own).

        With ``usage`` (the client did not ask for usage), bytes go out event by
        event and the usage-only event is left out (``kept`` still has it).
        """
        done = -1
        async for raw in upstream.pieces():
            piece = raw if usage is None else usage.feed(raw)
            found = _DONE.search(piece) if b"[DONE]" in piece else None
            done = found.start() if found else -1
            if done >= 0:
                piece = piece[:done]
            if kept is not None:
                kept.append(piece if usage is None else raw)
            if piece:
                yield restamp.bytes(piece)
            if done >= 0:
                break
        if usage is not None and done < 0:
            tail = usage.flush()
            found = _DONE.search(tail) if b"[DONE]" in tail else None
            tail = tail[: found.start()] if found else tail
            if tail:
                yield restamp.bytes(tail)
        if rules is not None and kept is not None:
            await rules.check_text("".join(_State.from_pieces(kept).text))

    async def _transform(
        self, call: Call, data: dict[str, Any], upstream: Any, state: _State, restamp: "_Restamp",
        rules: PostCallRules | None,
    ) -> AsyncGenerator[bytes, None]:
        async def chunks() -> AsyncIterator[dict[str, Any]]:
            hide_usage = call.hide_usage
            async for payload in upstream:
                chunk = _parse(payload)
                if chunk is not None:
                    state.observe(chunk)
                    if hide_usage and is_usage_only(chunk):
                        continue
                    restamp.dict(chunk)
                    yield chunk

        stream = wrap_stream(self.pipeline, call, data, chunks())
        try:
            async for item in stream:
                yield encode(item)
                if isinstance(item, RawFrame):
                    return
        finally:
            closer = getattr(stream, "aclose", None)
            if closer is not None:
                await closer()
        if rules is not None:
            await rules.check_text("".join(state.text))

    async def held(self, stream: Any, rules: PostCallRules) -> BufferedStream:
        """Read a whole stream and check the rules before any byte goes out (retry stays possible)."""
        payloads: list[bytes] = []
        state = _State()
        try:
            async for payload in stream:
                payloads.append(payload)
                chunk = _parse(payload)
                if chunk is not None:
                    state.observe(chunk)
        finally:
            await stream.aclose()
        await rules.check_text("".join(state.text))
        return BufferedStream(payloads, getattr(stream, "upstream_model", None))


class _Restamp:
    """Put the client's model name where the upstream wrote its own."""

    __slots__ = ("old", "new", "model")

    def __init__(self, upstream_model: str | None, model: str | None) -> None:
        self.model = model
        if upstream_model and model and upstream_model != model:
            self.old = b'"model":' + orjson.dumps(upstream_model)
            self.new = b'"model":' + orjson.dumps(model)
        else:
            self.old = self.new = b""

    def bytes(self, payload: bytes) -> bytes:
        if self.old and self.old in payload:
            return payload.replace(self.old, self.new)
        return payload

    def dict(self, chunk: dict[str, Any]) -> None:
        if self.model and "model" in chunk:
            chunk["model"] = self.model


def _parse(payload: bytes) -> dict[str, Any] | None:
    try:
        value = orjson.loads(payload)
    except orjson.JSONDecodeError:
        return None
    return value if isinstance(value, dict) else None


def encode(item: Any) -> bytes:
    """One SSE frame for whatever the stream stage yielded."""
    if isinstance(item, RawFrame):
        text = item if item.endswith("\n\n") else item.rstrip("\n") + "\n\n"
        return text.encode()
    if isinstance(item, DictView):
        return sse_frame(item._data)
    if isinstance(item, (bytes, bytearray)):
        return b"data: " + bytes(item) + b"\n\n"
    dump = getattr(item, "model_dump", None)
    if callable(dump):
        return sse_frame(dump(exclude_none=True))
    return sse_frame(item)
