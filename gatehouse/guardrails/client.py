"""The HTTP client of one Generic Guardrail API service, and its failure policy.

One pooled keep-alive ``aiohttp.ClientSession`` per guardrail, opened by
:meth:`GuardrailClient.startup` and closed by :meth:`GuardrailClient.shutdown`.
:meth:`GuardrailClient.send` posts a ready-made JSON body and returns either
a :class:`Verdict` (a valid answer) or a :class:`Failure` (no usable answer);
it never raises for a service problem. What a failure means is decided in one
place, :meth:`GuardrailClient.settle`:

    failure                                   kind         fail_closed (default)  fail_open / fail_on_error: false
    connection refused / DNS / reset          unreachable  500                    pass (unreachable_fallback: fail_open
    timeout, connection dropped               unreachable  500                          or fail_on_error: false)
    HTTP 502 / 503 / 504                      unreachable  500
    other non-2xx status                      error        500                    pass only with fail_on_error: false
    non-JSON body, non-object JSON,           error        500
    missing or unknown action
    rewrite that does not fit the inputs      error        500 (InternalError)
    the check cannot be built (not JSON-able)  build        500 (InternalError), whatever the policy

Retries (``num_retries``) re-send only after a timeout or a dropped
connection, never after a refused connection, an HTTP status or an answer.
Every fail-open pass is logged at WARNING and counted in
``gatehouse_guardrail_fail_open{guardrail, reason}``.
"""

from __future__ import annotations

import asyncio
import logging
import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import aiohttp
import orjson

from gatehouse.errors import GatewayError, GuardrailFailedError, InternalError, redact_hosts
from gatehouse.guardrails.config import GuardrailConfig
from gatehouse.metrics import Metrics

__all__ = ["Verdict", "Failure", "GuardrailClient", "ACTIONS", "BUILD_FAILED"]

log = logging.getLogger("gatehouse.guardrails")

ACTIONS = frozenset({"BLOCKED", "NONE", "GUARDRAIL_INTERVENED"})
#: ``Failure.kind`` of a check the gateway could not build: it never fails open.
BUILD_FAILED = "build"
_UNREACHABLE_STATUS = frozenset({502, 503, 504})
_ADDRESS_TUPLE = re.compile(r"\('[^']*', (\d+)")
# Raised after the request was (possibly) sent: worth a retry.
_DROPPED = (aiohttp.ServerDisconnectedError, aiohttp.ClientPayloadError, aiohttp.ClientOSError)


@dataclass(frozen=True, slots=True)
class Verdict:
    """A valid answer of the service."""

    action: str
    blocked_reason: str | None = None
    texts: Any = None
    images: Any = None
    tool_calls: Any = None


@dataclass(frozen=True, slots=True)
class Failure:
    """No usable answer. ``kind`` is ``unreachable`` or ``error``; ``reason`` is the metric label."""

    kind: str
    reason: str
    message: str
    #: The exact client message when fail-closed (else "Generic Guardrail API failed: <message>").
    closed_message: str | None = None

    def error(self) -> GatewayError:
        if self.closed_message is not None:
            return InternalError(self.closed_message)
        return GuardrailFailedError(f"Generic Guardrail API failed: {self.message}")


class GuardrailClient:
    """Posts checks to one guardrail service and applies its failure policy."""

    def __init__(self, config: GuardrailConfig, *, metrics: Metrics, user_agent: str) -> None:
        self.config = config
        self._metrics = metrics
        self._url = config.url
        self._host = urlsplit(config.url).hostname or ""
        self._timeout = aiohttp.ClientTimeout(total=config.timeout)
        self._retries = config.num_retries
        headers = {"Content-Type": "application/json", "User-Agent": user_agent, "Accept": "application/json"}
        if config.api_key:
            headers["x-api-key"] = config.api_key
        headers.update(config.headers)
        self._headers = headers
        self._session: aiohttp.ClientSession | None = None

    # -- lifecycle -------------------------------------------------------------
    async def startup(self) -> None:
        """Open the pooled session (idempotent)."""
        if self._session is None or self._session.closed:
            # Idle connections are dropped before common servers (uvicorn: 5 s) close them.
            connector = aiohttp.TCPConnector(limit=1000, keepalive_timeout=4.0)
            self._session = aiohttp.ClientSession(
                connector=connector, headers=self._headers, cookie_jar=aiohttp.DummyCookieJar()
            )

    async def shutdown(self) -> None:
        """Close the session and its connections (idempotent)."""
        session, self._session = self._session, None
        if session is not None and not session.closed:
            await session.close()

    # -- one check -------------------------------------------------------------
    async def send(self, body: bytes) -> Verdict | Failure:
        """POST ``body``; a :class:`Verdict`, or a :class:`Failure` when no usable answer came."""
        if self._session is None or self._session.closed:
            log.warning("guardrail '%s' used before startup(); opening its session now", self.config.name)
            await self.startup()
        attempt = 0
        while True:
            try:
                return await self._post(body)
            except aiohttp.ClientConnectorError as exc:
                return self._unreachable("connection_error", f"cannot connect to the guardrail service: {exc}")
            except (asyncio.TimeoutError, *_DROPPED) as exc:
                if attempt >= self._retries:
                    return self._dropped(exc)
                attempt += 1
                log.info("guardrail '%s': retry %d after %s", self.config.name, attempt, type(exc).__name__)
            except aiohttp.ClientError as exc:
                return self._unreachable("connection_error", str(exc) or type(exc).__name__)

    async def _post(self, body: bytes) -> Verdict | Failure:
        assert self._session is not None
        async with self._session.post(self._url, data=body, timeout=self._timeout) as resp:
            raw = await resp.read()
            status = resp.status
            if status >= 300:
                return self._http_failure(status, resp.reason or "")
        return parse_answer(raw)

    def _http_failure(self, status: int, phrase: str) -> Failure:
        label = "Server error" if status >= 500 else "Client error" if status >= 400 else "Redirect response"
        text = self.redact(f"{label} '{status} {phrase}' for url '{self._url}'")
        kind = "unreachable" if status in _UNREACHABLE_STATUS else "error"
        return Failure(kind, f"http_{status}", text)

    def _dropped(self, exc: BaseException) -> Failure:
        if isinstance(exc, asyncio.TimeoutError):
            return self._unreachable("timeout", f"no answer within {self.config.timeout:g}s (timeout)")
        detail = str(exc) or type(exc).__name__
        return self._unreachable("connection_dropped", f"the guardrail service dropped the connection: {detail}")

    def _unreachable(self, reason: str, text: str) -> Failure:
        return Failure("unreachable", reason, self.redact(text))

    def redact(self, text: str) -> str:
        """``text`` with the service's host and any address removed."""
        if self._host:
            text = text.replace(self._host, "REDACTED")
        return _ADDRESS_TUPLE.sub(r"('REDACTED', \1", redact_hosts(text))

    # -- policy ----------------------------------------------------------------
    def fails_open(self, failure: Failure) -> bool:
        """Whether this failure lets the request pass (the configured policy; never for a check not built)."""
        if failure.kind == BUILD_FAILED:
            return False
        if not self.config.fail_on_error:
            return True
        return failure.kind == "unreachable" and self.config.unreachable_fallback == "fail_open"

    def settle(self, failure: Failure, *, call_id: Any, mode: str) -> None:
        """Fail open (log at WARNING, count, return) or fail closed (raise)."""
        if not self.fails_open(failure):
            raise failure.error()
        name = self.config.name
        log.warning(
            "guardrail '%s' failed open (%s) for call %s in %s: %s", name, failure.reason, call_id, mode, failure.message
        )
        self._metrics.guardrail_fail_open.labels(name, failure.reason).inc()


def parse_answer(raw: bytes) -> Verdict | Failure:
    """Validate the service's JSON answer."""
    try:
        answer = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return Failure("error", "invalid_json", "the guardrail service answered with a body that is not JSON")
    if not isinstance(answer, dict):
        return Failure("error", "invalid_response", "the guardrail service's answer is not a JSON object")
    action = answer.get("action")
    if not isinstance(action, str) or action.upper() not in ACTIONS:
        shown = "no action" if action is None else f"unknown action {str(action)[:40]!r}"
        return Failure("error", "unknown_action", f"the guardrail service answered with {shown}")
    reason = answer.get("blocked_reason")
    return Verdict(
        action=action.upper(),
        blocked_reason=reason if isinstance(reason, str) and reason else None,
        texts=answer.get("texts"),
        images=answer.get("images"),
        tool_calls=answer.get("tool_calls"),
    )
