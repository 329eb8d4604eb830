"""What a provider is: one deployment call, JSON or a stream of SSE payloads.

Every provider speaks OpenAI (:class:`Provider`). A provider whose API is also
a client-facing format (Anthropic's Messages API, OpenAI's Responses API)
declares it with the optional :class:`SpeaksNatively` capability, and gets
that endpoint's requests untranslated (:class:`NativeRequest`).

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
from typing import Any, AsyncIterator, Callable, Iterable, Iterator, Mapping, Protocol, TypeVar, runtime_checkable

import aiohttp

from ..errors import (GatewayError, GatewayTimeoutError, ResponseTooLargeError, UpstreamError, UpstreamUnavailableError,
                      redact_hosts)
from ..routing.deployment import Deployment

__all__ = ["Provider", "UpstreamStream", "UploadFile", "BufferedStream", "DeploymentProblem", "read_capped",
           "DEFAULT_MAX_RESPONSE_BYTES", "too_large_message", "NativeRequest", "SpeaksNatively", "speaks_natively",
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

    def __init__(self, payloads: list[bytes], upstream_model: str | None = None,
                 frame: Callable[[bytes], bytes] | None = None) -> None:
        """``frame``: how :meth:`pieces` frames one payload (default ``data: <payload>``; a format
        whose clients dispatch on ``event:`` lines passes its own)."""
        self._payloads = payloads
        self.upstream_model = upstream_model
        self._frame = frame

    async def _iter(self) -> AsyncIterator[bytes]:
        for payload in self._payloads:
            yield payload

    def __aiter__(self) -> AsyncIterator[bytes]:
        return self._iter()

    async def pieces(self) -> AsyncIterator[bytes]:
        frame = self._frame
        for payload in self._payloads:
            yield frame(payload) if frame is not None else b"data: " + payload + b"\n\n"

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


# -- optional capability: speaking a client's wire format natively ---------------------------------

@dataclass(frozen=True, slots=True)
class NativeRequest:
    """A request handed to a provider in the client's own wire format, untranslated.

    ``body`` is the client's body as the pre-call stage left it, without the
    gateway's own keys (:data:`gatehouse.params.GATEWAY_KEYS`), with ``model``
    set to the deployment's upstream model. The provider adds what its API
    needs (credentials, the deployment's defaults for fields of that format,
    version fields) and nothing else: every field the client sent reaches the
    provider as sent.
    """

    wire: str
    """The format's name (:attr:`gatehouse.formats.base.Format.name`): ``anthropic_messages``, ``openai_responses``, ..."""
    operation: str
    """What is asked, in that format's terms (``messages``, ``count_tokens``, ``responses``, ...)."""
    body: dict[str, Any]
    headers: Mapping[str, str]
    """The client's inbound headers (case-insensitive look-ups). The provider forwards only
    the ones its API defines for that format (``anthropic-version``, ``anthropic-beta``);
    never credentials."""
    stream: bool = False


@runtime_checkable
class SpeaksNatively(Protocol):
    """Optional provider capability: some client-facing wire formats reach its API untranslated.

    Providers speak OpenAI (:class:`Provider`); an endpoint in another format
    (``/v1/messages``, ``/v1/responses``) is translated to OpenAI and back by
    its :class:`~gatehouse.formats.base.Format`. A provider whose API *is* that
    format for some deployments (Anthropic's Messages API for ``anthropic/``
    and Claude on Vertex; OpenAI's Responses API for ``openai/``) declares it
    once, here, and the upstream layer (:mod:`gatehouse.upstream`) hands it
    the client's body instead, per attempt::

        class AnthropicProvider:
            native_formats = frozenset({"anthropic_messages"})

            def speaks(self, wire, deployment): return True
            async def native_call(self, request, deployment, timeout): ...   # → the answer in that format
            async def native_stream(self, request, deployment, timeout): ... # → an UpstreamStream of its events

    Contract:

    * ``speaks(wire, deployment)`` is asked only for a ``wire`` in
      ``native_formats``; it answers per deployment (a Vertex deployment of a
      Gemini model does not speak Anthropic) and must be cheap (the upstream
      layer remembers the answer per deployment);
    * ``native_call`` returns the provider's answer, already in the format
      (the gateway only writes the client's model name into it);
    * ``native_stream`` returns once the provider answered 200 and the first
      event is read (an error event before any content is raised, so the
      router can still retry); iterating it yields each event's JSON payload
      (``bytes``), and ``pieces()`` yields the provider's SSE bytes in the
      format's own framing, relayed to the client as they arrive;
    * errors are mapped as for :class:`Provider` (``UpstreamError`` keeps the
      provider's status, type and message; secrets scrubbed).

    Nothing in the flow names a provider: a deployment either speaks the
    endpoint's format natively or is translated through it.
    """

    native_formats: frozenset[str]

    def speaks(self, wire: str, deployment: Deployment) -> bool: ...

    async def native_call(self, request: NativeRequest, deployment: Deployment, timeout: float) -> dict[str, Any]: ...

    async def native_stream(self, request: NativeRequest, deployment: Deployment, timeout: float) -> UpstreamStream: ...


def speaks_natively(provider: object, wire: str, deployment: Deployment) -> bool:
    """Whether ``provider`` takes ``wire`` untranslated for ``deployment`` (:class:`SpeaksNatively`)."""
    formats = getattr(provider, "native_formats", None)
    if not formats or wire not in formats:
        return False
    speaks = getattr(provider, "speaks", None)
    return bool(speaks(wire, deployment)) if callable(speaks) else True
