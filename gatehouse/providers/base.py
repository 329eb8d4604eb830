"""What a provider is: one deployment call, JSON or a stream of SSE payloads.

Providers map their own failures to :mod:`gatehouse.errors` at this boundary:
an HTTP error answer → ``UpstreamError`` (status, message, type and
``retry-after`` kept), a refused or dropped connection →
``UpstreamUnavailableError``, a timeout → ``GatewayTimeoutError``. Messages
never contain the deployment's ``api_key``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, AsyncIterator, Protocol

from ..routing.deployment import Deployment

__all__ = ["Provider", "UpstreamStream", "UploadFile", "BufferedStream"]


@dataclass(frozen=True, slots=True)
class UploadFile:
    """A file from a multipart request (``audio/transcriptions``)."""

    filename: str
    content_type: str
    data: bytes = field(repr=False)

    def __len__(self) -> int:
        return len(self.data)


class UpstreamStream(Protocol):
    """An open streamed answer: the ``data:`` payloads of its SSE events.

    Iteration yields each event's payload as bytes (``[DONE]`` is consumed,
    not yielded). ``aclose()`` releases the connection; it is always called,
    also when the client goes away.
    """

    upstream_model: str | None
    """The deployment's model name as the provider writes it (set by the flow; re-stamped for the client)."""

    def __aiter__(self) -> AsyncIterator[bytes]: ...

    def pieces(self) -> AsyncIterator[bytes]:
        """The raw bytes as they arrive, events unsplit (``[DONE]`` included)."""
        ...

    async def aclose(self) -> None: ...


class BufferedStream:
    """A stream whose payloads are all known already: replayed (rules held it) or
    converted from a complete answer (an upstream that ignored ``stream``)."""

    def __init__(self, payloads: list[bytes], upstream_model: str | None = None) -> None:
        self._payloads = payloads
        self.upstream_model = upstream_model

    async def _iter(self) -> AsyncIterator[bytes]:
        for payload in self._payloads:
            yield payload

    def __aiter__(self) -> AsyncIterator[bytes]:
        return self._iter()

    async def pieces(self) -> AsyncIterator[bytes]:
        for payload in self._payloads:
            yield b"data: " + payload + b"\n\n"

    async def aclose(self) -> None:
        return None


class Provider(Protocol):
    async def call(self, operation: str, body: dict[str, Any], deployment: Deployment, timeout: float) -> dict[str, Any]:
        """One non-streaming call; the provider's JSON answer."""
        ...

    async def stream(self, operation: str, body: dict[str, Any], deployment: Deployment, timeout: float) -> UpstreamStream:
        """Open a streamed call; returns once the provider has answered with 200."""
        ...

    async def close(self) -> None: ...
