"""What a provider is: one deployment call, JSON or a stream of SSE payloads.

Providers map their own failures to :mod:`gatehouse.errors` at this boundary:
an HTTP error answer → ``UpstreamError`` (status, message, type and
``retry-after`` kept), a refused or dropped connection →
``UpstreamUnavailableError``, a timeout → ``GatewayTimeoutError``. Messages
never contain the deployment's ``api_key``.
"""

from __future__ import annotations

import asyncio
import re
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, AsyncIterator, Iterable, Iterator, Protocol, TypeVar

import aiohttp

from ..errors import (GatewayError, GatewayTimeoutError, ResponseTooLargeError, UpstreamError, UpstreamUnavailableError,
                      redact_hosts)
from ..routing.deployment import Deployment

__all__ = ["Provider", "UpstreamStream", "UploadFile", "BufferedStream", "DeploymentProblem", "read_capped",
           "DEFAULT_MAX_RESPONSE_BYTES", "too_large_message",
           "map_provider_errors", "scrub", "scrub_error"]


class DeploymentProblem(Exception):
    """A deployment a provider cannot serve as configured (raised by ``Provider.check``).

    ``field`` is the ``litellm_params`` key at fault (or ``None`` for the entry
    as a whole); start-up stops with one line naming the deployment and field.
    The message names environment variables, never their values.
    """

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field


def scrub(text: str, secrets: Iterable[str | None]) -> str:
    """``text`` with every secret replaced by ``[REDACTED]``."""
    for secret in secrets:
        if secret and secret in text:
            text = text.replace(secret, "[REDACTED]")
    return text


#: Largest upstream answer relayed (``general_settings.max_response_size_mb``, 8 MB).
DEFAULT_MAX_RESPONSE_BYTES = 8 * 1024 * 1024


def too_large_message(limit: int) -> str:
    return (f"The upstream answer is larger than {limit} bytes "
            "(general_settings.max_response_size_mb); it was not relayed")


async def read_capped(resp: aiohttp.ClientResponse, limit: int, *, truncate: bool = False) -> bytes:
    """A whole upstream body, at most ``limit`` bytes: an error body is cut there (``truncate``),
    an answer is refused with :class:`ResponseTooLargeError` (502, not retried). Counted while read."""
    length = resp.content_length
    if length is not None and length > limit and not truncate:
        raise ResponseTooLargeError(too_large_message(limit))
    received = bytearray()
    async for chunk in resp.content.iter_chunked(64 * 1024):
        received += chunk
        if len(received) > limit:
            if truncate:
                return bytes(received[:limit])
            raise ResponseTooLargeError(too_large_message(limit))
    return bytes(received)


#: aiohttp names its pooled connection in some messages: ``Connection<ConnectionKey(host=..., ...)>``.
_CONNECTION_KEY = re.compile(r"(?:Connection<)?ConnectionKey\([^)]*\)>?")


E = TypeVar("E", bound=GatewayError)


def scrub_error(error: E, secrets: Iterable[str | None]) -> E:
    """``error`` with every secret replaced in every field a client or a log sees
    (message, type, param, header values, extra fields); changed in place, returned."""
    kept: tuple[str, ...] = tuple(s for s in secrets if s)
    if not kept:
        return error
    error.message = scrub(error.message, kept)
    error.args = (error.message,)
    for name in ("type", "param"):
        value = getattr(error, name, None)
        if isinstance(value, str):
            setattr(error, name, scrub(value, kept))
    error.headers = {k: scrub(str(v), kept) for k, v in error.headers.items()}
    error.extra = _scrub_value(error.extra, kept)
    return error


def _scrub_value(value: Any, secrets: tuple[str, ...]) -> Any:
    if isinstance(value, str):
        return scrub(value, secrets)
    if isinstance(value, dict):
        return {k: _scrub_value(v, secrets) for k, v in value.items()}
    if isinstance(value, list):
        return [_scrub_value(v, secrets) for v in value]
    return value


@contextmanager
def map_provider_errors(timeout: float, secrets: Iterable[str | None] = (), *, streaming: bool = False) -> Iterator[None]:
    """The one boundary where transport failures become :mod:`gatehouse.errors`.

    A timeout → ``GatewayTimeoutError``; a refused/reset/DNS failure before
    the answer → ``UpstreamUnavailableError``; a connection that breaks while a
    stream is being read (``streaming=True``) → a 502 ``UpstreamError``.
    Gateway errors raised inside pass through with ``secrets`` scrubbed from
    every field. Messages never carry ``secrets`` or host names.
    """
    try:
        yield
    except GatewayError as error:
        scrub_error(error, secrets)
        raise
    except (asyncio.TimeoutError, aiohttp.ServerTimeoutError):
        what = "stream stalled for more than" if streaming else "request timed out after"
        raise GatewayTimeoutError(f"Upstream {what} {timeout:g} s") from None
    except aiohttp.ClientError as exc:
        if streaming:
            raise UpstreamError("The upstream connection broke in the middle of the stream", status=502) from None
        text = _CONNECTION_KEY.sub("the upstream connection", str(exc) or type(exc).__name__)
        reason = scrub(redact_hosts(text), secrets)
        raise UpstreamUnavailableError(f"Upstream unavailable: {reason}") from None


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
    """One instance per provider class per gateway process, shared by its deployments.

    Requests and answers are in the OpenAI format whatever the provider speaks:
    ``body`` is the OpenAI request for ``operation`` (``chat``, ``completion``,
    ``embedding``, ...); ``call`` returns the OpenAI answer; a stream yields
    OpenAI ``chat.completion.chunk`` payloads. A translating provider converts
    through its module in :mod:`gatehouse.formats`.
    """

    def check(self, deployment: Deployment) -> None:
        """At start-up: raise :class:`DeploymentProblem` if ``deployment`` cannot be served
        (missing credential, unsupported setting). Reads credentials once."""
        ...

    async def start(self) -> None:
        """After start-up checks, inside the running loop (background credential refresh)."""
        ...

    async def call(self, operation: str, body: dict[str, Any], deployment: Deployment, timeout: float) -> dict[str, Any]:
        """One non-streaming call; the provider's JSON answer."""
        ...

    async def stream(self, operation: str, body: dict[str, Any], deployment: Deployment, timeout: float) -> UpstreamStream:
        """Open a streamed call; returns once the provider has answered with 200."""
        ...

    async def close(self) -> None: ...
