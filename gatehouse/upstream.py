"""The upstream layer: route → response cache → provider → post-call rules.

    answer(call)       JSON: the request's route; the cached answer (the caller's cache scope),
                       else the router's answer (then stored); the name of the model group
                       that answered written into it (a fallback group after a fallback)
    open_stream(call)  a stream: the request's route; the router's stream (never cached)
    _attempt           ONE try at one deployment, JSON or stream alike:
                       the deployment's body (its params under the request's), the
                       provider's call or stream, a failed try counted, the answer in
                       the endpoint's format, post-call rules on its text (a stream is
                       read whole first when ``post_call_rules_streaming: hold``); a rule
                       failure is retried like a 5xx

The request's ``model`` is resolved first (:mod:`gatehouse.routing.names`:
alias, exact group, wildcard group); a wildcard deployment is called with the
client's model in place of its ``*``. The router (:mod:`gatehouse.routing.router`)
decides where each try goes, retries and falls back. Providers speak OpenAI;
the endpoint's format translates its requests and answers
(:meth:`Format.to_provider`, :meth:`Format.from_provider`,
:meth:`EventStream.translator`), once per request and only when a deployment
needs it — OpenAI's own formats pass them through untouched, and a deployment
whose provider speaks the endpoint's format
(:class:`~gatehouse.providers.base.SpeaksNatively`) gets the client's body
and answers in that format.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial
from typing import Any, AsyncIterator, Callable

import orjson

from .auth.authenticate import Authenticator
from .call import Call
from .errors import BadRequestError, GatewayError
from .formats.base import EventStream, Format, Translator
from .formats.sse import EventSplitter, json_payload
from .metrics import Metrics
from .params import GATEWAY_KEYS, TRANSPORT_PARAMS
from .policy.rules import PostCallRules
from .providers import Providers
from .providers.base import BufferedStream, NativeRequest, UpstreamStream, speaks_natively
from .response_cache import ResponseCache
from .routing.deployment import Deployment
from .routing.names import ModelNames, Resolved, concrete_model
from .routing.router import Attempt, Router
from .usage import USAGE_OPERATIONS, ask_for_usage

__all__ = ["Upstream", "Route", "TranslatedStream", "request_tags", "forwarded_headers"]


@dataclass(slots=True)
class Route:
    """Where a request goes: the model the client named, the group serving it, its body, its routing tags."""

    model: str
    """The name the client sent (answers carry it)."""
    source: dict[str, Any]
    """The request in the endpoint's format, without the gateway's keys (what a native provider gets)."""
    tags: list[str]
    fmt: Format
    resolved: Resolved
    _body: dict[str, Any] | None = None

    @property
    def group(self) -> str:
        return self.resolved.group

    @property
    def body(self) -> dict[str, Any]:
        """The request as providers take it (translated once, on first use; the source itself for OpenAI)."""
        if self._body is None:
            self._body = self.fmt.to_provider(self.source)  # the source itself for OpenAI's formats
        return self._body


class Upstream:
    def __init__(
        self, *, router: Router, providers: Providers, rules: PostCallRules, metrics: Metrics,
        responses: ResponseCache | None = None, hold_stream_for_rules: bool = False, names: ModelNames | None = None,
    ) -> None:
        self.router, self.providers, self.rules, self.metrics = router, providers, rules, metrics
        self.responses = responses
        self.hold_stream_for_rules = hold_stream_for_rules
        self.names = names if names is not None else ModelNames(router.group_names())
        self._defaults: dict[str, dict[str, Any]] = {}
        self._native: dict[tuple[str, str], bool] = {}

    # -- JSON ------------------------------------------------------------------------
    async def answer(self, call: Call) -> dict[str, Any]:
        """The answer: from the response cache when it has one, else from the provider (then stored)."""
        route = self._route(call)
        responses = self.responses
        key = responses.key(call.endpoint.call_type, route.source, responses.scope_of(call.auth)) if responses else None
        if key is None:
            return await self._call(call, route)
        controls = call.data["cache"] if isinstance(call.data.get("cache"), dict) else {}
        cached = await self.responses.get(key, controls)  # type: ignore[union-attr]
        call.response_headers["x-litellm-cache-key"] = key
        if cached is not None:
            call.response_headers["x-gatehouse-cache"] = "hit"
            return orjson.loads(orjson.dumps(cached))  # hooks may change the answer; the entry stays as stored
        response = await self._call(call, route)
        stored = await self.responses.put(key, orjson.loads(orjson.dumps(response)), controls)  # type: ignore[union-attr]
        call.response_headers["x-gatehouse-cache"] = "miss, stored" if stored else "miss"
        return response

    async def _call(self, call: Call, route: Route) -> dict[str, Any]:
        call.policy.logging.before_call(call)
        attempt: Attempt[dict[str, Any]] = partial(self._attempt, call, route, stream=False)
        response = await self.router.run(route.group, attempt, tags=route.tags, allowed=_allowed(call))
        call.endpoint.format.restamp(response, call.served_model or route.model)  # the client's name, or a fallback's
        return response

    # -- streams -----------------------------------------------------------------------
    async def open_stream(self, call: Call) -> UpstreamStream:
        """An open stream from the first deployment that answers (rules checked first when held)."""
        route = self._route(call)
        if call.policy.logging.active and call.endpoint.operation in USAGE_OPERATIONS and not route.fmt.translates:
            call.hide_usage = not ask_for_usage(route.body)  # spend, limits, logs count it (translated: always asked)
        call.policy.logging.before_call(call)
        attempt: Attempt[UpstreamStream] = partial(self._attempt, call, route, stream=True)
        return await self.router.run(route.group, attempt, tags=route.tags, allowed=_allowed(call), stream=True)

    def rules_after_stream(self, call: Call) -> PostCallRules | None:
        """The rules the relay checks when a stream ends (``None`` when held or not applicable)."""
        if self.hold_stream_for_rules or not self.rules or not call.endpoint.post_call_rules:
            return None
        return self.rules

    # -- one try -------------------------------------------------------------------------
    async def _attempt(self, call: Call, route: Route, deployment: Deployment, *, stream: bool) -> Any:
        call.deployment_id = deployment.id
        call.tried.append(deployment.model_name)
        provider, fmt = self.providers[deployment], route.fmt
        if route.resolved.wildcard and "*" in deployment.upstream_model:
            model = concrete_model(deployment.upstream_model, route.resolved.captured, deployment.provider)
            deployment = self.providers.concrete(deployment, model)
        timeout = self.router.timeout_for(deployment, stream=stream)
        native = fmt.translates and self._speaks(provider, fmt, deployment)
        try:
            if native:
                request = NativeRequest(fmt.name, call.endpoint.path.lstrip("/"),
                                        {**route.source, "model": deployment.upstream_model}, call.headers, stream)
                result: Any = await (provider.native_stream(request, deployment, timeout) if stream  # type: ignore[attr-defined]
                                     else provider.native_call(request, deployment, timeout))  # type: ignore[attr-defined]
            elif stream:
                result = await provider.stream(call.endpoint.operation, self._body_for(route.body, deployment, call),
                                               deployment, timeout)
            else:
                result = await provider.call(call.endpoint.operation, self._body_for(route.body, deployment, call),
                                             deployment, timeout)
        except GatewayError as error:
            self.metrics.upstream_errors.labels(route.group, str(error.status)).inc()
            raise
        check = bool(self.rules) and call.endpoint.post_call_rules
        if not stream:
            answer = result if native else fmt.from_provider(result)
            if check:
                await self.rules.check_text(fmt.answer_text(answer))
            return answer
        result.upstream_model = deployment.upstream_model
        typed = getattr(fmt, "content_type", None)  # an answer that is not SSE (audio) names its own type
        if typed is not None:
            call.response_headers["Content-Type"] = typed(route.body, getattr(result, "media_type", None))
        events = fmt.stream
        assert events is not None, f"{call.endpoint.path} does not stream"
        translator = None if native else events.translator()
        if translator is not None:
            result = TranslatedStream(result, translator, events)
        if check and self.hold_stream_for_rules:
            return await _held(result, events, self.rules)
        return result

    def _speaks(self, provider: Any, fmt: Format, deployment: Deployment) -> bool:
        """Whether the deployment takes the format untranslated (asked once per deployment)."""
        key = (fmt.name, deployment.id)
        found = self._native.get(key)
        if found is None:
            found = self._native[key] = speaks_natively(provider, fmt.name, deployment)
        return found

    def _route(self, call: Call) -> Route:
        model = call.data.get("model")
        resolved = self.names.resolve(model) if isinstance(model, str) else None
        if resolved is None or not self.router.has_group(resolved.group):
            message = (f"{call.endpoint.path}: Invalid model name passed in model={model}. "
                       "Call `/v1/models` to view available models for your key.")
            raise BadRequestError(message, extra={"provider_specific_fields": {"error": message}})  # as LiteLLM
        assert isinstance(model, str)
        call.model, call.group = model, resolved.group
        fmt = call.endpoint.format
        source = {k: v for k, v in call.data.items() if k not in GATEWAY_KEYS}
        if fmt.metadata_fields:  # the format's own fields of the client's metadata go upstream
            metadata = call.data.get("metadata")
            kept = {k: metadata[k] for k in fmt.metadata_fields if k in metadata} if isinstance(metadata, dict) else {}
            if kept:
                source["metadata"] = kept
        return Route(model, source, request_tags(call), fmt, resolved)

    def _body_for(self, body: dict[str, Any], deployment: Deployment, call: Call) -> dict[str, Any]:
        defaults = self._defaults.get(deployment.id)
        if defaults is None:
            defaults = self._defaults[deployment.id] = {
                k: v for k, v in deployment.params.items() if k not in TRANSPORT_PARAMS
            }
        out = {**defaults, **body} if defaults else dict(body)
        out["model"] = deployment.upstream_model
        if call.endpoint.format.translates:  # the client chose max_tokens for another model (Claude Code: 128000)
            _cap_max_tokens(out, deployment)
        forwarded = forwarded_headers(self.providers[deployment], call.headers)
        if forwarded:
            out["extra_headers"] = {**(out.get("extra_headers") or {}), **forwarded}
        return out


def _cap_max_tokens(body: dict[str, Any], deployment: Deployment) -> None:
    """A translated request's ``max_tokens`` at most the deployment's ``model_info.max_output_tokens``."""
    info = deployment.model_info
    cap = info.get("max_output_tokens") or info.get("max_tokens")
    asked = body.get("max_tokens")
    if isinstance(cap, int) and cap > 0 and isinstance(asked, int) and asked > cap:
        body["max_tokens"] = cap


async def _held(stream: UpstreamStream, events: EventStream, rules: PostCallRules) -> BufferedStream:
    """Read a whole stream and check the rules before any byte goes out (a retry stays possible)."""
    payloads: list[bytes] = []
    summary = events.summary()
    try:
        async for payload in stream:
            payloads.append(payload)
            chunk = json_payload(payload)
            if chunk is not None:
                summary.observe(chunk)
    finally:
        await stream.aclose()
    await rules.check_text(summary.text())
    return BufferedStream(payloads, stream.upstream_model, frame=events.frame)


class TranslatedStream:
    """A provider's stream in the endpoint's format: each provider chunk through the format's translator."""

    def __init__(self, stream: UpstreamStream, translator: Translator, events: EventStream) -> None:
        self._stream, self._translator, self._events = stream, translator, events
        self.upstream_model = stream.upstream_model

    async def _translated(self) -> AsyncIterator[dict[str, Any]]:
        async for payload in self._stream:
            chunk = json_payload(payload)
            if chunk is not None:
                for event in self._translator.feed(chunk):
                    yield event
        for event in self._translator.close():
            yield event

    async def _payloads(self) -> AsyncIterator[bytes]:
        async for event in self._translated():
            yield orjson.dumps(event)

    def __aiter__(self) -> AsyncIterator[bytes]:
        return self._payloads()

    async def pieces(self) -> AsyncIterator[bytes]:
        """The events framed in the format, one write per piece the provider delivered."""
        splitter, feed, frame = EventSplitter(), self._translator.feed, self._events.frame
        fast = getattr(self._translator, "feed_raw", None)  # optional: a payload straight to its frame
        async for raw in self._stream.pieces():
            ready = splitter.feed(raw)
            if not ready:
                continue
            out = []
            for payload in EventSplitter.payloads(ready):
                framed = fast(payload) if fast is not None else None
                if framed is not None:
                    out.append(framed)
                elif (chunk := json_payload(payload)) is not None:
                    out += [frame(event) for event in feed(chunk)]
            if out:
                yield b"".join(out)
        rest = splitter.flush()
        out = [frame(event) for payload in EventSplitter.payloads(rest)
               if (chunk := json_payload(payload)) is not None for event in feed(chunk)]
        out += [frame(event) for event in self._translator.close()]
        yield b"".join(out)

    async def aclose(self) -> None:
        await self._stream.aclose()


def _allowed(call: Call) -> Callable[[str], bool] | None:
    """Whether the caller's key may use a (fallback) model group; ``None``: any group."""
    auth = call.auth
    if auth is None or not auth.models:
        return None

    def allowed(group: str) -> bool:
        try:
            Authenticator.check_model_access(auth, group)
        except GatewayError:
            return False
        return True

    return allowed


def forwarded_headers(provider: Any, headers: Any) -> dict[str, str] | None:
    """The client headers a provider forwards upstream (its ``forwarded_headers``, e.g. ``anthropic-beta``)."""
    names = getattr(provider, "forwarded_headers", ())
    picked = {name: headers[name] for name in names if name in headers}
    return picked or None


def request_tags(call: Call) -> list[str]:
    """Routing tags: top-level ``tags``, else ``metadata.tags``, plus the key's tags."""
    data = call.data
    tags = data.get("tags")
    if not tags:
        metadata = data.get("metadata")
        tags = metadata.get("tags") if isinstance(metadata, dict) else None
    out = [t for t in tags if isinstance(t, str)] if isinstance(tags, list) else []
    if call.auth is not None and call.auth.tags:
        out += [t for t in call.auth.tags if t not in out]
    return out
