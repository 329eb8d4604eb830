"""Relaying a streamed answer to the client, chunk by chunk, as it arrives.

Two modes, chosen per request by what is configured, so a stream costs only
what its policy needs:

* **pieces** — no streaming hooks: the upstream's bytes are forwarded as they
  arrive (the ``model`` field re-stamped), nothing is parsed on the way. When
  post-call rules or logging hooks need the content, the pieces are kept and
  parsed once: at the end for the rules, in the background for logging;
* **transform** — streaming hooks or streaming guardrails: chunks are parsed,
  passed through the stream stage (:mod:`gatehouse.policy.stream_hooks`) and
  re-serialised.

Chunks, frames and the end of the stream are the endpoint's wire format's
(:class:`gatehouse.formats.base.EventStream`). :meth:`StreamRelay.start`
produces the first frame before the HTTP answer starts, so an error before
any byte is a normal JSON error. What happens when the stream ends (logging
hooks, the error event, the end frame) is the flow's ending
(:mod:`gatehouse.endings`); :meth:`Relayed.aclose` closes the upstream
stream, also when the client goes away.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, AsyncGenerator, AsyncIterator, Callable

from .call import Call
from .formats.base import EventStream, Restamper, StreamSummary
from .formats.sse import json_payload
from .policy.rules import PostCallRules
from .policy.stream_hooks import RawFrame, wrap_stream
from .usage import UsageFilter, estimated_usage, is_usage_only
from .views import DictView

__all__ = ["StreamRelay", "Relayed", "encode", "summarise"]


@dataclass(slots=True)
class Relayed:
    """A started stream: ``first`` then ``rest`` are its frames, without the format's end of stream
    (the ending writes it); ``assembled`` builds its answer."""

    first: bytes | None
    rest: AsyncGenerator[bytes, None]
    upstream: Any
    assembled: Callable[[], dict[str, Any]]
    """The complete answer for logging hooks (built in the background, only if one listens)."""

    async def aclose(self) -> None:
        await self.rest.aclose()
        await self.upstream.aclose()


class StreamRelay:
    """Starts relays; stateless (the caller's policy is on the call)."""

    async def start(self, call: Call, upstream: Any, rules: PostCallRules | None) -> Relayed:
        """Produce the first frame (errors raise: a JSON answer); the rest follows as the client reads."""
        events = call.endpoint.format.stream
        assert events is not None, f"{call.endpoint.path} does not stream"
        restamp = events.restamper(getattr(upstream, "upstream_model", None), call.served_model)
        model, data, rules = call.model, call.data, rules if rules else None
        frames: AsyncGenerator[bytes, None]
        opaque = getattr(events, "opaque", False)  # audio, pass-through: bytes as they come, never parsed or kept
        if call.policy.pipeline.has_stream_hooks and not opaque:
            summary = events.summary()
            frames = self._transform(call, upstream, events, summary, restamp, rules)
            assembled: Callable[[], dict[str, Any]] = lambda: _answer(summary, model, data)  # noqa: E731
        else:
            kept: list[bytes] | None = [] if (rules is not None or call.policy.logging.active) and not opaque else None
            hidden = UsageFilter() if call.hide_usage else None
            frames = self._pieces(upstream, events, restamp, kept, rules, hidden)
            assembled = lambda: _answer(summarise(events, kept or []), model, data)  # noqa: E731
        try:
            first = await frames.__anext__()
        except StopAsyncIteration:
            first = None
        except BaseException:
            await frames.aclose()
            await upstream.aclose()
            raise
        return Relayed(first, frames, upstream, assembled)

    async def _pieces(
        self, upstream: Any, events: EventStream, restamp: Restamper, kept: list[bytes] | None,
        rules: PostCallRules | None, usage: UsageFilter | None = None,
    ) -> AsyncGenerator[bytes, None]:
        """The upstream's bytes as they arrive; its end of stream is held back (the ending sends its own).

        With ``usage`` (the gateway asked for usage the client did not), bytes go
        out event by event and the usage-only event is left out (``kept`` still has it).
        """
        done, marker = -1, events.end_marker
        async for raw in upstream.pieces():
            piece = raw if usage is None else usage.feed(raw)
            done = events.end_at(piece) if marker and marker in piece else -1
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
            end = events.end_at(tail)
            tail = tail[:end] if end >= 0 else tail
            if tail:
                yield restamp.bytes(tail)
        if rules is not None and kept is not None:
            await rules.check_text(summarise(events, kept).text())

    async def _transform(
        self, call: Call, upstream: Any, events: EventStream, summary: StreamSummary, restamp: Restamper,
        rules: PostCallRules | None,
    ) -> AsyncGenerator[bytes, None]:
        async def chunks() -> AsyncIterator[dict[str, Any]]:
            hide_usage = call.hide_usage
            async for payload in upstream:
                chunk = json_payload(payload)
                if chunk is not None:
                    summary.observe(chunk)
                    if hide_usage and is_usage_only(chunk):
                        continue
                    restamp.event(chunk)
                    yield chunk

        stream = wrap_stream(call.policy.pipeline, call, chunks(), events)
        try:
            async for item in stream:
                yield encode(item, events)
                if isinstance(item, RawFrame):
                    return
        finally:
            closer = getattr(stream, "aclose", None)
            if closer is not None:
                await closer()
        if rules is not None:
            await rules.check_text(summary.text())


def _answer(summary: StreamSummary, model: str | None, data: dict[str, Any]) -> dict[str, Any]:
    """The assembled answer for logging hooks; usage estimated when the upstream sent none."""
    answer = summary.response(model)
    if answer.get("usage") is None:
        answer["usage"] = estimated_usage(data, summary.text())
    return answer


def summarise(events: EventStream, pieces: list[bytes]) -> StreamSummary:
    """Parse a relayed stream's bytes, once, after the fact."""
    summary = events.summary()
    for event in events.events(b"".join(pieces)):
        summary.observe(event)
    return summary


def encode(item: Any, events: EventStream) -> bytes:
    """One SSE frame for whatever the stream stage yielded."""
    if isinstance(item, RawFrame):
        text = item if item.endswith("\n\n") else item.rstrip("\n") + "\n\n"
        return text.encode()
    if isinstance(item, DictView):
        return events.frame(item._data)
    dump = getattr(item, "model_dump", None)
    if callable(dump):
        return events.frame(dump(exclude_none=True))
    return events.frame(item)
