"""The Generic Guardrail API as a plugin, written with the public hook API.

:class:`GenericGuardrail` is a :class:`~gatehouse.policy.custom_logger.CustomLogger`
subclass; the gateway dispatches its hooks like any user callback:

    mode          hook                                     may
    pre_call      async_pre_call_hook                      rewrite ``data`` in place, block (400)
    during_call   async_moderation_hook                    block (rewrites cannot apply: request sent)
    post_call     async_post_call_success_hook             rewrite the response in place, block
    post_call     async_post_call_streaming_iterator_hook  release checked windows, rewrite, block
    logging_only  async_log_success_event                  record a verdict; never blocks or changes

Each hook returns at once when its mode is not configured or the request does
not select the guardrail (:mod:`gatehouse.guardrails.selection`). A check
that ran adds the guardrail's name to ``metadata.applied_guardrails`` and
appends one record to ``metadata.standard_logging_guardrail_information``
(one per stream for streamed responses).
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from importlib import metadata as importlib_metadata
from typing import Any, AsyncGenerator, AsyncIterator

from gatehouse.config.errors import ConfigError
from gatehouse.endpoints import format_for
from gatehouse.errors import GuardrailBlockedError
from gatehouse.formats.base import EventStream
from gatehouse.formats.openai_chat import CHAT
from gatehouse.guardrails.client import BUILD_FAILED, Failure, GuardrailClient, Verdict
from gatehouse.guardrails.config import PROVIDER, GuardrailConfig
from gatehouse.guardrails.extract import (
    FORWARDED_HEADERS,
    Extraction,
    apply_rewrite,
    build_body,
    extract_request,
    extract_response,
    rewrite_problem,
)
from gatehouse.guardrails.selection import opted_out, request_params, requested
from gatehouse.guardrails.windows import guard_stream
from gatehouse.metrics import Metrics
from gatehouse.views import unwrap
from gatehouse.policy.custom_logger import CustomLogger

__all__ = ["GenericGuardrail", "build_guardrails", "gatehouse_version"]

log = logging.getLogger("gatehouse.guardrails")

SUCCESS, INTERVENED, BLOCKED = "success", "guardrail_intervened", "blocked"
FAILED, NOT_RUN = "guardrail_failed_to_respond", "not_run"
_RAN = frozenset({SUCCESS, INTERVENED, BLOCKED})
_SEVERITY = {NOT_RUN: 0, SUCCESS: 1, INTERVENED: 2, FAILED: 3, BLOCKED: 4}
_RESPONSE_CALL_TYPES = {"chat.completion": "completion", "text_completion": "text_completion"}


def gatehouse_version() -> str:
    """``gatehouse-<version>``, sent as ``litellm_version``."""
    try:
        return f"gatehouse-{importlib_metadata.version('gatehouse')}"
    except importlib_metadata.PackageNotFoundError:
        return "gatehouse-unknown"


def build_guardrails(configs: list[GuardrailConfig], *, metrics: Metrics) -> list[GenericGuardrail]:
    """One plugin per configured guardrail, in config order (names must be unique)."""
    seen: set[str] = set()
    for cfg in configs:
        if cfg.name in seen:
            raise ConfigError(f"duplicate guardrail_name '{cfg.name}'; names must be unique", key="guardrails")
        seen.add(cfg.name)
    version = gatehouse_version()
    return [GenericGuardrail(cfg, metrics=metrics, version=version) for cfg in configs]


@dataclass(slots=True)
class _Tally:
    """The checks of one stream, summed into one record."""

    status: str = NOT_RUN
    summary: str = "no text to check"
    start: float = 0.0
    end: float = 0.0
    duration: float = 0.0
    masked: int = 0

    def add(self, status: str, summary: str, start: float, end: float) -> None:
        self.start = self.start or start
        self.end = end
        self.duration += end - start
        if _SEVERITY[status] >= _SEVERITY[self.status]:
            self.status, self.summary = status, summary


#: The hooks that serve each mode.
HOOKS_BY_MODE = {
    "pre_call": ("async_pre_call_hook",), "during_call": ("async_moderation_hook",),
    "post_call": ("async_post_call_success_hook", "async_post_call_streaming_iterator_hook"),
    "logging_only": ("async_log_success_event",),
}


class GenericGuardrail(CustomLogger):
    """One configured ``generic_guardrail_api`` guardrail."""

    def __init__(self, config: GuardrailConfig, *, metrics: Metrics, version: str | None = None) -> None:
        super().__init__()
        self.config = config
        self.guardrail_name = config.name
        self.default_on = config.default_on
        self.event_hook = list(config.modes)
        self._modes = frozenset(config.modes)
        self._metrics = metrics
        self._version = version or gatehouse_version()
        self._client = GuardrailClient(config, metrics=metrics, user_agent=self._version.replace("-", "/", 1))
        self._params = dict(config.additional_params)
        self._allowed_headers = FORWARDED_HEADERS | frozenset(config.extra_headers)
        self._children: dict[tuple[Any, ...], Any] = {}
        self._expose_configured_hooks()

    def _expose_configured_hooks(self) -> None:
        """Hide the hooks of modes this guardrail does not run in.

        The gateway binds only the hooks an object has (an instance attribute
        set to ``None`` hides a method), so a pre_call-only guardrail adds no
        during-call task and no stream wrapper to a request.
        """
        for mode, names in HOOKS_BY_MODE.items():
            if mode not in self._modes:
                for name in names:
                    setattr(self, name, None)

    def _child(self, metric: Any, *labels: str) -> Any:
        """A metric's child for this guardrail, looked up once (labels() costs a lock and a dict)."""
        key = (id(metric), *labels)
        child = self._children.get(key)
        if child is None:
            child = self._children[key] = metric.labels(self.guardrail_name, *labels)
        return child

    # -- lifecycle (awaited by the gateway) ------------------------------------
    async def startup(self) -> None:
        await self._client.startup()

    async def shutdown(self) -> None:
        await self._client.shutdown()

    def should_run(self, data: dict[str, Any], mode: str) -> bool:
        """Configured for ``mode``, and ``default_on`` (unless the key opted out) or named by the request."""
        if mode not in self._modes:
            return False
        if self.default_on:
            return not opted_out(data, self.guardrail_name)
        return self.guardrail_name in requested(data)

    # -- hooks -----------------------------------------------------------------
    async def async_pre_call_hook(self, user_api_key_dict: Any, cache: Any, data: dict, call_type: str) -> None:
        """pre_call: check the request; a rewrite is written into ``data`` in place."""
        if not self.should_run(data, "pre_call"):
            return None
        await self._guard(data, extract_request(call_type, data), mode="pre_call", subject="request")
        return None

    async def async_moderation_hook(self, data: dict, user_api_key_dict: Any, call_type: str) -> None:
        """during_call: check the request while the upstream call runs; block-only."""
        if not self.should_run(data, "during_call"):
            return None
        ex = extract_request(call_type, data)
        await self._guard(data, ex, mode="during_call", subject="request", rewrite=False)
        return None

    async def async_post_call_success_hook(self, data: dict, user_api_key_dict: Any, response: Any) -> None:
        """post_call (non-streaming): check the response; a rewrite changes it in place."""
        if not self.should_run(data, "post_call"):
            return None
        body = unwrap(response)
        if isinstance(body, dict):
            ex = extract_response(_call_type(data, body), body)
            await self._guard(data, ex, mode="post_call", subject="response")
        return None

    async def async_post_call_streaming_iterator_hook(
        self, user_api_key_dict: Any, response: AsyncIterator[Any], request_data: dict
    ) -> AsyncGenerator[Any, None]:
        """post_call (streaming): release the stream in checked windows (:mod:`.stream`)."""
        if not self.should_run(request_data, "post_call"):
            try:
                async for chunk in response:
                    yield chunk
            finally:
                await _aclose(response)
            return
        metadata = _metadata(request_data)
        _mark_applied(metadata, self.guardrail_name)  # the header goes out before the body
        tally = _Tally()

        async def check(texts: list[str], model: str | None) -> list[str] | None:
            return await self._check_window(request_data, metadata, tally, Extraction(texts=texts, model=model))

        guarded = guard_stream(
            response,
            check,
            sampling_rate=self.config.streaming_sampling_rate,
            end_of_stream_only=self.config.streaming_end_of_stream_only,
            guardrail_name=self.guardrail_name,
            events=_events(request_data),
        )
        try:
            async for chunk in guarded:
                yield chunk
        finally:
            await guarded.aclose()  # closes the upstream too
            if tally.status == NOT_RUN:
                self._observe("post_call", NOT_RUN)
            self._record(metadata, "post_call", tally.status, tally.summary, tally.start, tally.end,
                         tally.masked, duration=tally.duration)

    async def async_log_success_event(self, kwargs: dict, response_obj: Any, start_time: Any, end_time: Any) -> None:
        """logging_only: check the request and the response copy-free, purely to record verdicts."""
        if "logging_only" not in self._modes:
            return None
        try:
            data = _logged_request(kwargs)
            if not self.should_run(data, "logging_only"):
                return None
            call_type = data["metadata"].get("call_type") or kwargs.get("call_type")
            await self._guard(data, extract_request(call_type, data), mode="logging_only",
                              subject="request", rewrite=False, enforce=False)
            body = unwrap(response_obj)
            if isinstance(body, dict):
                ex = extract_response(_call_type(data, body), body)
                await self._guard(data, ex, mode="logging_only", subject="response", rewrite=False, enforce=False)
        except Exception:  # a logging hook never fails the gateway
            log.exception("guardrail '%s': logging_only check failed", self.guardrail_name)
        return None

    # -- one check ---------------------------------------------------------------
    async def _guard(
        self, data: dict, ex: Extraction, *, mode: str, subject: str, rewrite: bool = True, enforce: bool = True
    ) -> None:
        """Check ``ex``, record the outcome, then apply the rewrite or raise as the verdict says."""
        metadata = _metadata(data)
        if ex.empty:
            now = time.time()
            self._observe(mode, NOT_RUN)
            self._record(metadata, mode, NOT_RUN, "no text or images to check", now, now, 0)
            return
        result, start, end = await self._call(data, metadata, ex, mode, subject)
        status, summary, failure = self._judge(result, ex, subject, validate=rewrite)
        masked = 0
        if status == INTERVENED:
            if rewrite:
                assert isinstance(result, Verdict)
                masked = apply_rewrite(ex, texts=result.texts, images=result.images, tool_calls=result.tool_calls)
            else:
                summary = "mask_not_applied"
        self._observe(mode, status)
        self._record(metadata, mode, status, summary, start, end, masked)
        if enforce:
            self._enforce(result, failure, data, mode)
        elif failure is not None:
            log.warning("guardrail '%s' (%s) failed: %s", self.guardrail_name, mode, failure.message)

    async def _check_window(self, data: dict, metadata: dict, tally: _Tally, ex: Extraction) -> list[str] | None:
        """One streaming check: ``None`` to release as is, the rewritten texts, or raise."""
        result, start, end = await self._call(data, metadata, ex, "post_call", "response")
        status, summary, failure = self._judge(result, ex, "response", validate=True)
        self._observe("post_call", status)
        tally.add(status, summary, start, end)
        self._enforce(result, failure, data, "post_call")
        if status == INTERVENED and isinstance(result, Verdict) and result.texts:
            tally.masked += sum(1 for new, old in zip(result.texts, ex.texts) if new != old)
            return list(result.texts)
        return None

    async def _call(
        self, data: dict, metadata: dict, ex: Extraction, mode: str, subject: str
    ) -> tuple[Verdict | Failure, float, float]:
        extra = requested(data).get(self.guardrail_name)
        params = request_params(self._params, extra, self.config.allowed_request_params)[0] if extra else self._params
        input_type = "response" if subject == "response" else "request"
        start = time.time()
        try:
            body = build_body(ex, data=data, metadata=metadata, input_type=input_type, params=params,
                              allowed_headers=self._allowed_headers, version=self._version)
        except (TypeError, ValueError) as exc:  # never fails open: the check could not even be asked
            message = f"could not build the guardrail request: {exc}"
            return Failure(BUILD_FAILED, "build_error", message, closed_message=f"Guardrail '{self.guardrail_name}' "
                           f"could not be checked: {message}"), start, start
        result = await self._client.send(body)
        end = time.time()
        self._child(self._metrics.guardrail_latency, mode).observe(end - start)
        return result, start, end

    def _judge(
        self, result: Verdict | Failure, ex: Extraction, subject: str, *, validate: bool
    ) -> tuple[str, str, Failure | None]:
        """(record status, record summary, failure to settle)."""
        if isinstance(result, Failure):
            return FAILED, result.message, result
        if result.action == "BLOCKED":
            return BLOCKED, "block", None
        if result.action == "NONE":
            return SUCCESS, "allow", None  # returned texts are ignored on NONE
        problem = None
        if validate:
            problem = rewrite_problem(
                ex, texts=result.texts, images=result.images, tool_calls=result.tool_calls,
                guardrail_name=self.guardrail_name, subject=subject,
            )
        if problem is not None:
            return FAILED, problem, Failure("error", "bad_rewrite", problem, closed_message=problem)
        return INTERVENED, "mask", None

    def _enforce(self, result: Verdict | Failure, failure: Failure | None, data: dict, mode: str) -> None:
        if failure is not None:
            self._client.settle(failure, call_id=data.get("litellm_call_id"), mode=mode)
        elif isinstance(result, Verdict) and result.action == "BLOCKED":
            raise GuardrailBlockedError(result.blocked_reason, guardrail_name=self.guardrail_name)

    # -- observability -------------------------------------------------------------
    def _observe(self, mode: str, status: str) -> None:
        self._child(self._metrics.guardrail_calls, mode, status).inc()

    def _record(
        self, metadata: dict, mode: str, status: str, summary: str, start: float, end: float, masked: int,
        *, duration: float | None = None,
    ) -> None:
        records = metadata.get("standard_logging_guardrail_information")
        if not isinstance(records, list):
            records = metadata["standard_logging_guardrail_information"] = []
        records.append(
            {
                "guardrail_name": self.guardrail_name,
                "guardrail_provider": PROVIDER,
                "guardrail_mode": mode,
                "guardrail_status": status,
                "guardrail_response": summary,
                "start_time": start,
                "end_time": end,
                "duration": end - start if duration is None else duration,
                "masked_entity_count": masked,
            }
        )
        if status in _RAN:
            _mark_applied(metadata, self.guardrail_name)


def _metadata(data: dict) -> dict:
    metadata = data.get("metadata")
    if not isinstance(metadata, dict):
        metadata = data["metadata"] = {}
    return metadata


def _mark_applied(metadata: dict, name: str) -> None:
    applied = metadata.get("applied_guardrails")
    if not isinstance(applied, list):
        applied = metadata["applied_guardrails"] = []
    if name not in applied:
        applied.append(name)


async def _aclose(stream: Any) -> None:
    aclose = getattr(stream, "aclose", None)
    if aclose is not None:
        await aclose()


def _call_type(data: dict, response: dict) -> str | None:
    """The request's call type (``metadata.call_type``), else inferred from the response."""
    metadata = data.get("metadata")
    call_type = metadata.get("call_type") if isinstance(metadata, dict) else None
    return call_type or _RESPONSE_CALL_TYPES.get(str(response.get("object")))


def _events(data: dict) -> EventStream:
    """How the request's streamed answer looks (its endpoint's format; chat chunks when unknown)."""
    metadata = data.get("metadata")
    fmt = format_for(metadata.get("call_type") if isinstance(metadata, dict) else None)
    return fmt.stream if fmt is not None and fmt.stream is not None else CHAT.stream


def _logged_request(kwargs: dict) -> dict:
    """The request ``data`` a logging hook received: ``kwargs`` itself, or LiteLLM-style kwargs."""
    metadata = kwargs.get("metadata")
    if not isinstance(metadata, dict):
        params = kwargs.get("litellm_params")
        metadata = params.get("metadata") if isinstance(params, dict) else None
    if not isinstance(metadata, dict):
        metadata = {}
    return kwargs if kwargs.get("metadata") is metadata else {**kwargs, "metadata": metadata}
