"""The request path of a pass-through route, top to bottom.

    authenticate (the Gatehouse key, wherever the provider's SDK puts it)
    → read the body → the caller's limits, budget and pre-call hooks (call type
    ``pass_through_endpoint``); guardrails only on a route that opts in
    → the upstream request: the client's body (re-serialised only when a hook
    or guardrail changed it), the client's headers less its credentials, the
    gateway's credential (:mod:`.targets`) ∥ during-call checks
    → the answer relayed as it arrives, status and headers as the provider sent
    them (an error answer: the provider's own body and status); on a guarded
    route a JSON answer is checked by the post-call stage first
    → spend from the provider's usage (:mod:`gatehouse.formats.passthrough_usage`)
    plus the route's ``cost_per_request``.
    Every exit → :meth:`gatehouse.endings.Endings.finish`, as for the unified endpoints.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any, Callable, Mapping, Protocol
from urllib.parse import parse_qsl

import aiohttp
import orjson
from yarl import URL

from ..auth.authenticate import Authenticator
from ..call import Call, Rejection, client_correlation_id, new_call_id
from ..endings import Endings, Failed, Outcome, Streaming
from ..endpoints import PASS_THROUGH
from ..errors import BadRequestError, GatewayError, PassThroughUpstreamError, PermissionDeniedError, UpstreamError
from ..formats.passthrough import SPEC_KEY
from ..formats.passthrough_usage import reader_for
from ..policy.variants import PolicySet
from ..pricing import Price, PriceMap
from ..providers.base import DEFAULT_MAX_RESPONSE_BYTES, map_provider_errors, read_capped, scrub
from ..relay import Relayed
from ..replies import Reply
from ..untrusted import strip_gateway_owned
from .headers import client_headers, presented_key, upstream_headers
from .relay import Upstream, UsageScanner, held, relay
from .routes import Route

__all__ = ["PassThroughFlow", "PassThroughInbound"]

#: Keys the gateway adds to ``data`` for hooks; never forwarded unless the client sent them.
_ADDED = ("metadata", "litellm_call_id", "litellm_trace_id", "proxy_server_request", "guardrails")
_STREAM_MARKS = (":streamGenerateContent", "/converse-stream", "/invoke-with-response-stream")
ERROR_BODY_LIMIT = 1024 * 1024


class PassThroughInbound(Protocol):
    route: str
    method: str
    headers: Mapping[str, str]
    query: str
    """The raw query string (without ``?``)."""
    tail: str
    """The raw (encoded) path below the route's prefix."""

    async def body(self) -> bytes: ...


@dataclass(slots=True)
class _Opened:
    resp: aiohttp.ClientResponse
    secrets: tuple[str | None, ...]


class PassThroughFlow:
    def __init__(self, *, auth: Authenticator, policies: PolicySet, endings: Endings, prices: PriceMap,
                 deployment_prices: Mapping[str, Price], check_guardrails: Callable[[dict[str, Any], frozenset[str]], None],
                 guardrail_names: frozenset[str], post_call_guardrails: frozenset[str],
                 max_response_bytes: int = DEFAULT_MAX_RESPONSE_BYTES, connect_timeout: float = 10.0) -> None:
        self.auth, self.policies, self.endings = auth, policies, endings
        self.prices, self.deployment_prices = prices, deployment_prices
        self.check_guardrails, self.guardrail_names = check_guardrails, guardrail_names
        self.post_call_guardrails = post_call_guardrails
        self.connect_timeout = connect_timeout
        self.max_response_bytes = max_response_bytes
        self._session: aiohttp.ClientSession | None = None

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    def _client(self) -> aiohttp.ClientSession:
        if self._session is None:
            connector = aiohttp.TCPConnector(limit=0, keepalive_timeout=60, ttl_dns_cache=300)
            self._session = aiohttp.ClientSession(connector=connector, skip_auto_headers=("User-Agent",))
        return self._session

    async def handle(self, route: Route, inbound: PassThroughInbound) -> Reply:
        """Serve one request; whatever happens, it ends in :meth:`Endings.finish`."""
        call = Call(new_call_id(), PASS_THROUGH, inbound.route, inbound.headers, self.policies.unauthenticated)
        call.trace_id = client_correlation_id(inbound.headers)
        try:
            try:
                return await self.endings.finish(call, await self._serve(call, route, inbound))
            except Exception as exc:
                return await self.endings.finish(call, Failed(await self.endings.failure(call, exc)))
        except asyncio.CancelledError:
            self.endings.disconnected(call)
            raise

    async def _serve(self, call: Call, route: Route, inbound: PassThroughInbound) -> Outcome:
        query = dict(parse_qsl(inbound.query, keep_blank_values=True))
        if route.methods is not None and inbound.method not in route.methods:
            raise GatewayError(f"{route.prefix} does not serve {inbound.method}", status=405)
        if route.auth:
            key = presented_key(inbound.headers, query, route.key_header)
            shown = {"Authorization": f"Bearer {key}"} if key is not None else {}
            call.auth = await self.auth.authenticate(shown, route=inbound.route, request=inbound)
        else:
            call.auth = self.auth.anonymous
        call.policy = self.policies.select(call.auth)
        raw = await inbound.body()
        original, data = _json_twice(raw, inbound.headers.get("Content-Type", ""))
        call.model = _model(data, route.provider, inbound.tail)
        call.stream = _asks_stream(data, inbound.tail, query)
        if route.auth:
            _check_models(self.auth, call.auth, call.model)
        call.data = self._prepare(call, route, data)
        if call.policy.pipeline.pre_call:
            outcome = await call.policy.pipeline.run_pre_call(call)
            if isinstance(outcome, Rejection):
                raise BadRequestError(outcome.message)
            call.data = outcome
        if call.stream and self._checks_answers(route):
            raise BadRequestError(f"{route.prefix}: this route's post_call guardrails check whole answers; "
                                  "send the request without streaming")
        body = _outgoing(raw, original, call.data)
        call.policy.logging.before_call(call)
        opened = await call.policy.pipeline.run_during(call, self._open(route, inbound, body))
        return await self._answer(call, route, opened)

    def _checks_answers(self, route: Route) -> bool:
        return route.guardrails is not None and bool(set(route.guardrails.names) & self.post_call_guardrails)

    def _prepare(self, call: Call, route: Route, data: dict[str, Any]) -> dict[str, Any]:
        """``data`` as hooks receive it: the body plus LiteLLM's additions (and the route's guardrails)."""
        if "guardrails" in data:
            self.check_guardrails(data, self.guardrail_names)
        if route.guardrails is not None:
            found = data.get("guardrails")
            asked: list[Any] = found if isinstance(found, list) else []
            data["guardrails"] = [*asked, *(n for n in route.guardrails.names if n not in asked)]
        if not call.policy.decorate and route.guardrails is None:
            return data
        auth = call.auth
        assert auth is not None
        found = data.get("metadata")
        metadata: dict[str, Any] = strip_gateway_owned(dict(found)) if isinstance(found, dict) else {}
        metadata.update(auth.logging_fields())
        headers = call.visible_headers()
        metadata.update(headers=headers, endpoint=call.route, call_type=PASS_THROUGH.call_type)
        metadata[SPEC_KEY] = {"route": route.prefix, "guarded": route.guardrails is not None,
                              "request_fields": list(route.guardrails.request_fields) if route.guardrails else []}
        data["metadata"] = metadata
        data["litellm_call_id"] = call.id
        data["litellm_trace_id"] = call.trace_id or call.id
        data["proxy_server_request"] = {"url": call.route, "method": "POST", "headers": dict(headers)}
        return data

    async def _open(self, route: Route, inbound: PassThroughInbound, body: bytes) -> _Opened:
        forwarded = upstream_headers(inbound.headers.items(), forward=route.forward_headers, key_header=route.key_header)
        outbound = await route.target.outbound(inbound.method, inbound.tail, inbound.query, forwarded, body)
        timeout = aiohttp.ClientTimeout(total=None, connect=self.connect_timeout, sock_read=route.timeout)
        with map_provider_errors(route.timeout, outbound.secrets):
            resp = await self._client().request(inbound.method, URL(outbound.url, encoded=True), data=body or None,
                                                headers=outbound.headers, timeout=timeout, allow_redirects=False)
        return _Opened(resp, outbound.secrets)

    async def _answer(self, call: Call, route: Route, opened: _Opened) -> Outcome:
        resp = opened.resp
        upstream = Upstream(resp)
        try:
            if resp.status >= 400:
                raise await _upstream_error(resp, opened.secrets)
            call.response_headers.update(client_headers(resp.headers.items()))
            scanner = UsageScanner(reader_for(route.provider), resp.content_type)
            assembled = self._assembled(call, route, scanner)
            if route.guardrails is not None and call.policy.pipeline.success:
                return Streaming(await self._checked(call, route, upstream, scanner, assembled), resp.status)
            relayed = await relay(upstream, scanner, route.timeout, assembled, self.max_response_bytes)
            return Streaming(relayed, resp.status)
        except BaseException:
            await upstream.aclose()
            raise

    async def _checked(self, call: Call, route: Route, upstream: Upstream, scanner: UsageScanner,
                       assembled: Callable[[], dict[str, Any]]) -> Relayed:
        """A guarded route's answer, read whole and passed through the post-call stage (JSON only)."""
        if "event-stream" in upstream.resp.content_type and self._checks_answers(route):
            raise UpstreamError(f"{route.prefix}: the upstream streamed an answer this route's post_call guardrails "
                                "cannot check; it was not sent", status=502)
        with map_provider_errors(route.timeout):
            raw = await read_capped(upstream.resp, self.max_response_bytes)
        scanner.feed(raw)
        answer = _json_object(raw) if "json" in upstream.resp.content_type else None
        if answer is not None:
            checked = await call.policy.pipeline.run_success(call, answer)
            if isinstance(checked, dict) and checked != _json_object(raw):
                raw = orjson.dumps(checked)
        return await held(raw, upstream, assembled)

    def _assembled(self, call: Call, route: Route, scanner: UsageScanner) -> Callable[[], dict[str, Any]]:
        """What logging hooks receive once the answer is complete; prices it (``call.cost``)."""
        def build() -> dict[str, Any]:
            usage = scanner.usage()
            price = self._price(route, call.model)
            call.cost = (price.cost(usage) if price is not None and usage else 0.0) + route.cost_per_request
            return {"object": "pass_through", "model": call.model, "usage": usage}
        return build

    def _price(self, route: Route, model: str | None) -> Price | None:
        """The lending deployment's price for its own model, else the price map's for the model asked for."""
        if model is None or route.provider is None:
            return None
        if route.deployment_id is not None and model == route.deployment_model:
            return self.deployment_prices.get(route.deployment_id)
        return self.prices.lookup(f"{route.provider}/{model}")


def _json_twice(raw: bytes, content_type: str) -> tuple[dict[str, Any] | None, dict[str, Any]]:
    """(the body as sent, an independent copy for hooks), or (None, {}) for a body that is not a JSON object."""
    if not raw or ("json" not in content_type and not raw.lstrip().startswith(b"{")):
        return None, {}
    original = _json_object(raw)
    if original is None:
        return None, {}
    return original, orjson.loads(raw)


def _json_object(raw: bytes) -> dict[str, Any] | None:
    try:
        value = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return None
    return value if isinstance(value, dict) else None


def _outgoing(raw: bytes, original: dict[str, Any] | None, data: dict[str, Any]) -> bytes:
    """The body to forward: the client's bytes, unless a hook or guardrail changed the body."""
    if original is None:
        return raw
    out = {k: v for k, v in data.items() if k not in _ADDED}
    for key in _ADDED:
        if key in original:
            out[key] = original[key]  # the client's own field of that name (Anthropic's metadata, ...)
    return raw if out == original else orjson.dumps(out)


def _model(data: Mapping[str, Any], provider: str | None, tail: str) -> str | None:
    """The model a request names: the body's ``model``, else the path's (Azure ``deployments/x/``, Gemini/Vertex
    ``models/x:``, Bedrock ``model/x/``)."""
    model = data.get("model")
    if isinstance(model, str) and model:
        return model
    if provider == "azure" and "/deployments/" in tail:
        return tail.split("/deployments/", 1)[1].split("/", 1)[0] or None
    if provider in ("gemini", "vertex_ai") and "/models/" in tail:
        return tail.split("/models/", 1)[1].split(":", 1)[0].split("/", 1)[0] or None
    if provider == "bedrock" and tail.startswith("/model/"):
        from urllib.parse import unquote

        return unquote(tail[len("/model/"):].split("/", 1)[0]) or None
    return None


def _check_models(auth: Authenticator, identity: Any, model: str | None) -> None:
    """A key limited to some models may call a route only for them; a request that names no model is refused."""
    allowed = identity.models
    if model is None and allowed and "all-proxy-models" not in allowed and "*" not in allowed:
        raise PermissionDeniedError("This key may call only some models; a pass-through request that names none "
                                    "(in its body or path) is refused.")
    auth.check_model_access(identity, model)


def _asks_stream(data: Mapping[str, Any], tail: str, query: Mapping[str, str]) -> bool:
    return data.get("stream") is True or query.get("alt") == "sse" or any(mark in tail for mark in _STREAM_MARKS)


async def _upstream_error(resp: aiohttp.ClientResponse, secrets: tuple[str | None, ...]) -> PassThroughUpstreamError:
    """The provider's error answer, kept as it wrote it (secrets scrubbed)."""
    try:
        raw = await resp.content.read(ERROR_BODY_LIMIT)
    except (aiohttp.ClientError, asyncio.TimeoutError):
        raw = b""
    text = scrub(raw.decode("utf-8", "replace"), secrets)
    body = _json_object(text.encode())
    message = text.strip()[:500] or f"Upstream answered HTTP {resp.status}"
    if isinstance(body, dict):
        error = body.get("error")
        inner = error.get("message") if isinstance(error, dict) else error if isinstance(error, str) else None
        message = str(inner or body.get("message") or message)
    kept = {k: v for k, v in client_headers(resp.headers.items()).items() if k.lower() != "content-type"}
    return PassThroughUpstreamError(message, status=resp.status, body=body, headers=kept)
