"""The stream stage: iterator hooks wrap the chunk stream, per-chunk hooks see the text so far.

Chunks are in the endpoint's wire format; its
:class:`~gatehouse.formats.base.EventStream` says what text a chunk adds.
"""

from __future__ import annotations

import logging
from typing import Any, AsyncIterator

from ..call import Call
from ..errors import GatewayError, InternalError, is_http_exception
from ..formats.base import EventStream
from ..views import ModelResponseStream
from .pipeline import BoundHook, Pipeline, user_error

__all__ = ["wrap_stream", "RawFrame"]

log = logging.getLogger("gatehouse.policy")


class RawFrame(str):
    """An SSE frame a per-chunk hook returned verbatim (``data: ...``); it ends the stream."""


async def _views(chunks: AsyncIterator[dict[str, Any]]) -> AsyncIterator[ModelResponseStream]:
    async for chunk in chunks:
        yield ModelResponseStream(chunk)


def wrap_stream(
    pipeline: Pipeline, call: Call, chunks: AsyncIterator[dict[str, Any]], events: EventStream
) -> AsyncIterator[Any]:
    """Chunks as the client will receive them: each iterator hook wraps the previous one."""
    stream: AsyncIterator[Any] = _views(chunks)
    for hook in pipeline.stream_iterators:
        wrapped = hook(call.auth, stream, call.data)
        if not hasattr(wrapped, "__anext__"):
            raise InternalError(
                f"Hook {hook.label}.async_post_call_streaming_iterator_hook must be an async generator "
                f"(use `yield`), but it returned {type(wrapped).__name__}"
            )
        stream = _guarded(pipeline, call, hook, wrapped)
    if pipeline.stream_chunks:
        stream = _per_chunk(pipeline, call, stream, events)
    return stream


async def _guarded(pipeline: Pipeline, call: Call, hook: BoundHook, stream: AsyncIterator[Any]) -> AsyncIterator[Any]:
    """An iterator hook's stream; what the hook raises is mapped like any hook error."""
    try:
        async for item in stream:
            yield item
    except GatewayError:
        raise  # the upstream's, or an inner hook's (already mapped)
    except Exception as exc:
        if not is_http_exception(exc):
            pipeline._count(hook)
            log.warning("call %s: hook %s.%s raised %s: %s", call.label, hook.label, hook.name, type(exc).__name__, exc)
        raise user_error(exc) from exc
    finally:
        closer = getattr(stream, "aclose", None)
        if closer is not None:
            await closer()


async def _per_chunk(pipeline: Pipeline, call: Call, stream: AsyncIterator[Any], events: EventStream) -> AsyncIterator[Any]:
    text = ""
    async for chunk in stream:
        data = chunk._data if isinstance(chunk, ModelResponseStream) else chunk
        if isinstance(data, dict):
            text += events.text(data)
        replacement = None
        for hook in pipeline.stream_chunks:
            try:
                result = await pipeline._run(call, "stream", hook, call.auth, text)
            except Exception as exc:
                raise user_error(exc) from exc
            if result is not None:
                replacement = result
        if replacement is None:
            yield chunk
        elif isinstance(replacement, str) and replacement.startswith("data: "):
            yield RawFrame(replacement)
            return
        else:
            yield replacement
