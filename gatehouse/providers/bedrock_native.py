"""Claude on Bedrock spoken natively: ``/v1/messages`` through InvokeModel with Anthropic's own body.

``POST {endpoint}/model/{modelId}/invoke`` (streams: ``…/invoke-with-response-stream``),
SigV4-signed like every Bedrock call. The body is the client's Messages body without
``model`` and ``stream`` (the URL and the action say them), with ``anthropic_version:
bedrock-2023-05-31`` and the client's ``anthropic-beta`` header as ``anthropic_beta``
(Bedrock reads betas from the body). The answer is Anthropic's ``message`` as Bedrock
returns it; a stream is AWS event-stream frames whose ``chunk`` events carry each
Anthropic event (JSON, base64 in ``bytes``), relayed to the client as Anthropic's SSE
events. Deployments named ``bedrock/converse/…`` stay on Converse (translated).
"""

from __future__ import annotations

import base64
from typing import Any, AsyncGenerator, AsyncIterator

import aiohttp
import orjson

from ..errors import UpstreamError
from ..formats.anthropic.messages_stream import frame_payload
from ..formats.bedrock_converse import error_from
from ..routing.deployment import Deployment
from .anthropic_native import native_betas, native_body, native_upstream_error
from .base import NativeRequest, map_provider_errors

__all__ = ["invoke_body", "speaks_invoke", "InvokeEvents", "BEDROCK_ANTHROPIC_VERSION"]

BEDROCK_ANTHROPIC_VERSION = "bedrock-2023-05-31"


def speaks_invoke(deployment: Deployment, family: str, embedding: str | None) -> bool:
    """A Claude chat deployment not pinned to Converse (``bedrock/converse/…``)."""
    return family == "anthropic" and embedding is None and not deployment.upstream_model.startswith("converse/")


def invoke_body(request: NativeRequest, deployment: Deployment) -> bytes:
    body = native_body(request, deployment)
    body.pop("model", None)
    body.pop("stream", None)
    body.setdefault("anthropic_version", BEDROCK_ANTHROPIC_VERSION)
    betas = native_betas((), request.headers)
    if betas:
        found = body.get("anthropic_beta")
        known: list[Any] = found if isinstance(found, list) else []
        body["anthropic_beta"] = list(dict.fromkeys([*known, *betas.split(",")]))
    return orjson.dumps(body)


class InvokeEvents:
    """An open InvokeModelWithResponseStream answer for Claude (see ``UpstreamStream``): iteration yields
    each Anthropic event's JSON; :meth:`pieces` yields them framed as Anthropic's SSE, per network read."""

    def __init__(self, resp: aiohttp.ClientResponse, timeout: float, name: str) -> None:
        from botocore.eventstream import EventStreamBuffer  # the bedrock extra; the provider checked it is there

        self._resp = resp
        self._timeout = timeout
        self._name = name
        self._buffer = EventStreamBuffer()
        self._pending: list[bytes] = []
        self._done = False
        self._reader = self._batches()
        self.upstream_model: str | None = None

    async def _batches(self) -> AsyncGenerator[list[bytes], None]:
        stopped = False
        with map_provider_errors(self._timeout, streaming=True):
            async for data in self._resp.content.iter_any():
                self._buffer.add_data(data)
                out: list[bytes] = []
                error = self._decode(out)
                stopped = stopped or any(b'"message_stop"' in e for e in out)
                if out:
                    yield out
                if error is not None:
                    raise error
        if not stopped:
            raise UpstreamError(f"Bedrock deployment '{self._name}': the stream ended before message_stop", status=502)
        self._done = True

    def _decode(self, out: list[bytes]) -> UpstreamError | None:
        """Append the Anthropic events of every complete frame; the error a frame carries, if any."""
        from botocore.eventstream import ParserError

        try:
            for message in self._buffer:
                headers: dict[str, Any] = message.headers
                kind = headers.get(":message-type")
                if kind == "exception":
                    status, etype, text = error_from(500, headers.get(":exception-type"), message.payload)
                    return UpstreamError(f"Bedrock deployment '{self._name}': {text}", status=status, type=etype)
                if kind != "event" or headers.get(":event-type") != "chunk":
                    continue
                event = base64.b64decode(orjson.loads(message.payload)["bytes"])
                if event.startswith(b'{"type":"error"'):
                    return native_upstream_error(200, event, {}, (), prefix=f"Bedrock deployment '{self._name}': ")
                out.append(event)
        except ParserError as exc:
            return UpstreamError(f"Bedrock deployment '{self._name}': an event-stream frame is corrupt "
                                 f"({type(exc).__name__})", status=502)
        except (ValueError, KeyError, TypeError):
            return UpstreamError(f"Bedrock deployment '{self._name}': a chunk event is not what InvokeModel "
                                 "documents", status=502)
        return None

    async def prime(self) -> None:
        """Read up to the first content: an error before it raises here (the router may retry)."""
        try:
            while not any(b"content_block" in e or b"message_stop" in e for e in self._pending):
                self._pending += await self._reader.__anext__()
        except StopAsyncIteration:
            pass
        except BaseException:
            await self.aclose()
            raise

    async def _all(self) -> AsyncIterator[list[bytes]]:
        if self._pending:
            first, self._pending = self._pending, []
            yield first
        async for batch in self._reader:
            yield batch

    async def _payloads(self) -> AsyncIterator[bytes]:
        async for batch in self._all():
            for payload in batch:
                yield payload

    def __aiter__(self) -> AsyncIterator[bytes]:
        return self._payloads()

    async def pieces(self) -> AsyncIterator[bytes]:
        async for batch in self._all():
            yield b"".join(frame_payload(payload) for payload in batch)

    async def aclose(self) -> None:
        await self._reader.aclose()
        if self._done:
            self._resp.release()
        else:
            self._resp.close()  # abandon the connection: Bedrock sees the disconnect
