"""The error tree: every failure a client can see.

Every failure a client can see is a :class:`GatewayError`. Each class carries
its HTTP status and its OpenAI error ``type``; the endpoint's wire format
renders it (:func:`gatehouse.formats.base.render_error`; OpenAI's body is
``{"error": {"message", "type", "param", "code"}}``, see
:mod:`gatehouse.formats.openai_common`)::

    GatewayError                     status  type
    ├── BadRequestError              400     invalid_request_error
    │   ├── InvalidJSONError         400     invalid_request_error  (param: request_body)
    │   └── GuardrailBlockedError    400     invalid_request_error
    ├── AuthenticationError          401     auth_error
    ├── PermissionDeniedError        403     permission_error
    ├── NotFoundError                404     invalid_request_error
    ├── RequestTimeoutError          408     invalid_request_error  (body not received in time)
    ├── PayloadTooLargeError         413     invalid_request_error
    ├── RateLimitError               429     throttling_error
    ├── UpstreamError                (the upstream's status, kept)
    │   └── PassThroughUpstreamError (a pass-through route's upstream error, its body kept as written)
    ├── InternalError                500     internal_server_error
    │   ├── PostCallRuleError        500     internal_server_error
    │   └── GuardrailFailedError     500     internal_server_error
    ├── UpstreamUnavailableError     502/503 internal_server_error
    ├── ResponseTooLargeError        502     internal_server_error  (upstream answer over the cap)
    ├── GatewayTimeoutError          504     internal_server_error
    └── ClientDisconnected           499     client_disconnected    (never sent: for logging hooks)

Exceptions raised by user code (hooks, rules) are mapped at the boundary by
:func:`from_exception`: anything with ``status_code`` and ``detail`` (FastAPI's
or Starlette's ``HTTPException``) keeps its status; anything else is a 500
carrying the exception's message. Messages are always clean text: never a
Python repr, never the string ``"None"``.
"""

from __future__ import annotations

import re
from typing import Any, Mapping

import orjson

__all__ = [
    "GatewayError",
    "BadRequestError",
    "InvalidJSONError",
    "GuardrailBlockedError",
    "AuthenticationError",
    "PermissionDeniedError",
    "NotFoundError",
    "PayloadTooLargeError",
    "RequestTimeoutError",
    "RateLimitError",
    "UpstreamError",
    "PassThroughUpstreamError",
    "InternalError",
    "PostCallRuleError",
    "GuardrailFailedError",
    "UpstreamUnavailableError",
    "ResponseTooLargeError",
    "GatewayTimeoutError",
    "ClientDisconnected",
    "HTTPException",
    "from_exception",
    "type_for_status",
]


def type_for_status(status: int) -> str:
    """The OpenAI error ``type`` for a status, when the error names none."""
    if status == 401:
        return "authentication_error"
    if status == 403:
        return "permission_error"
    if status == 429:
        return "rate_limit_error"
    if status >= 500:
        return "internal_server_error"
    return "invalid_request_error"


class GatewayError(Exception):
    """Base of every error a client can receive."""

    status: int = 500
    type: str | None = None
    default_message = "Internal server error"

    def __init__(
        self,
        message: str | None = None,
        *,
        param: str | None = None,
        status: int | None = None,
        type: str | None = None,
        headers: Mapping[str, str] | None = None,
        extra: Mapping[str, Any] | None = None,
    ) -> None:
        self.message = message if message else self.default_message
        super().__init__(self.message)
        self.param = param
        if status is not None:
            self.status = status
        if type is not None:
            self.type = type
        self.headers: dict[str, str] = dict(headers or {})
        self.extra: dict[str, Any] = dict(extra or {})

    @property
    def error_type(self) -> str:
        return self.type or type_for_status(self.status)

    # The attribute names LiteLLM's ProxyException exposes, so user failure
    # hooks that read them keep working.
    @property
    def status_code(self) -> int:
        return self.status

    @property
    def code(self) -> str:
        return str(self.status)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.status}, {self.message!r})"


class BadRequestError(GatewayError):
    status = 400
    type = "invalid_request_error"
    default_message = "Bad request"


class InvalidJSONError(BadRequestError):
    def __init__(self, message: str) -> None:
        super().__init__(f"Invalid JSON payload: {message}", param="request_body")


class GuardrailBlockedError(BadRequestError):
    """A guardrail answered BLOCKED."""

    default_message = "Content violates policy"

    def __init__(self, message: str | None, *, guardrail_name: str = "") -> None:
        super().__init__(message or self.default_message)
        self.guardrail_name = guardrail_name


class AuthenticationError(GatewayError):
    status = 401
    type = "auth_error"
    default_message = "Authentication Error"


class PermissionDeniedError(GatewayError):
    status = 403
    type = "permission_error"
    default_message = "Permission denied"


class NotFoundError(GatewayError):
    status = 404
    type = "invalid_request_error"
    default_message = "Not found"


class PayloadTooLargeError(GatewayError):
    status = 413
    type = "invalid_request_error"
    default_message = "Request body too large"


class RequestTimeoutError(GatewayError):
    status = 408
    type = "invalid_request_error"
    default_message = "The request body was not received in time"


class RateLimitError(GatewayError):
    status = 429
    type = "throttling_error"
    default_message = "Rate limit exceeded"


class UpstreamError(GatewayError):
    """An error answered by the provider; its status and meaning are kept."""

    def __init__(
        self,
        message: str,
        *,
        status: int,
        type: str | None = None,
        param: str | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(message, status=status, type=type, param=param, headers=headers)

    @property
    def retryable(self) -> bool:
        return self.status in (408, 409, 429) or self.status >= 500


class PassThroughUpstreamError(UpstreamError):
    """An error answer of a pass-through route's upstream: returned to the client with the provider's own
    status and body (``body``: its JSON, or ``None`` when it was not JSON)."""

    def __init__(self, message: str, *, status: int, body: Any, headers: Mapping[str, str] | None = None) -> None:
        super().__init__(message, status=status, headers=headers)
        self.body = body


class InternalError(GatewayError):
    status = 500
    type = "internal_server_error"


class PostCallRuleError(InternalError):
    """A post-call rule failed the response."""


class GuardrailFailedError(InternalError):
    """A guardrail service could not give an answer and the policy is fail-closed."""


class UpstreamUnavailableError(GatewayError):
    """The provider could not be reached (connection refused, reset, DNS)."""

    status = 503
    type = "internal_server_error"
    default_message = "Upstream unavailable"
    retryable = True


class ResponseTooLargeError(GatewayError):
    """The provider's answer is larger than ``general_settings.max_response_size_mb``; not retried."""

    status = 502
    type = "internal_server_error"
    default_message = "The upstream answer is too large"


class GatewayTimeoutError(GatewayError):
    status = 504
    type = "internal_server_error"
    default_message = "Upstream request timed out"
    retryable = True


class ClientDisconnected(GatewayError):
    """The client went away before the answer ended (what failure logging hooks receive)."""

    status = 499
    type = "client_disconnected"
    default_message = "The client closed the connection before the stream ended"


class HTTPException(Exception):
    """A FastAPI-compatible ``HTTPException`` for hook authors without FastAPI.

    ``raise HTTPException(status_code=400, detail={"error": "..."})`` in a hook
    answers the client with that status; any object with ``status_code`` and
    ``detail`` (FastAPI's, Starlette's) is treated the same way.
    """

    def __init__(self, status_code: int, detail: Any = None, headers: Mapping[str, str] | None = None) -> None:
        super().__init__(status_code, detail)
        self.status_code = status_code
        self.detail = detail
        self.headers = dict(headers or {})

    def __str__(self) -> str:
        return f"{self.status_code}: {self.detail}"


def _detail_message(detail: Any) -> tuple[str, dict[str, Any] | None]:
    """Clean message text (and LiteLLM's provider_specific_fields) from a detail."""
    if detail is None:
        return "", None
    if isinstance(detail, str):
        return detail, None
    if isinstance(detail, Mapping):
        fields = dict(detail)
        err = detail.get("error")
        if isinstance(err, str):
            return err, fields
        if isinstance(err, Mapping) and isinstance(err.get("message"), str):
            return err["message"], fields
        if isinstance(detail.get("message"), str):
            return detail["message"], fields
        return _json_text(detail), fields
    if isinstance(detail, (list, tuple, int, float, bool)):
        return _json_text(detail), None
    return str(detail), None


def _json_text(value: Any) -> str:
    try:
        return orjson.dumps(value, default=str).decode()
    except TypeError:
        return str(value)


def is_http_exception(exc: BaseException) -> bool:
    """FastAPI/Starlette-style: an integer ``status_code`` and a ``detail``."""
    status = getattr(exc, "status_code", None)
    return isinstance(status, int) and not isinstance(status, bool) and hasattr(exc, "detail")


def from_exception(exc: BaseException, *, default_status: int = 500) -> GatewayError:
    """Map any exception to a :class:`GatewayError` (the boundary for user code)."""
    if isinstance(exc, GatewayError):
        return exc
    if is_http_exception(exc):
        status = getattr(exc, "status_code")
        if not 100 <= status <= 599:
            status = 500
        message, fields = _detail_message(getattr(exc, "detail"))
        headers = getattr(exc, "headers", None) or {}
        err = GatewayError(
            message or _status_phrase(status),
            status=status,
            type=_carried_str(exc, "type"),
            param=_carried_str(exc, "param"),
            headers={str(k): str(v) for k, v in dict(headers).items()},
        )
        if fields:
            err.extra["provider_specific_fields"] = fields
        return err
    status = getattr(exc, "status_code", None)
    if not (isinstance(status, int) and not isinstance(status, bool) and 400 <= status <= 599):
        status = default_status
    carried = getattr(exc, "message", None)
    message = carried if isinstance(carried, str) and carried else ""
    if not message:
        message = str(exc) or type(exc).__name__
        if isinstance(exc, LookupError):  # str(KeyError('x')) is just "'x'"
            message = f"{type(exc).__name__}: {message}"
    return GatewayError(
        redact_hosts(message),
        status=status,
        type=_carried_str(exc, "type"),
        param=_carried_str(exc, "param"),
    )


def _carried_str(exc: BaseException, name: str) -> str | None:
    value = getattr(exc, name, None)
    if isinstance(value, str) and value and value != "None":
        return value
    return None


def _status_phrase(status: int) -> str:
    from http import HTTPStatus

    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return f"HTTP {status}"


_URL_HOST = re.compile(r"(?P<scheme>[a-zA-Z][a-zA-Z0-9+.-]*://)(?P<host>[^/:\s'\"]+)")
_HOST_PORT = re.compile(r"(?<![\w.])(?:\d{1,3}(?:\.\d{1,3}){3}|localhost|[a-zA-Z0-9-]+(?:\.[a-zA-Z0-9-]+)+)(?=:\d{2,5})")


_QUOTED_ADDRESS = re.compile(r"\(\s*'[^']+'\s*,\s*\d{1,5}")  # aiohttp: [Connect call failed ('127.0.0.1', 8099)]


def redact_hosts(text: str) -> str:
    """Replace host names and addresses in ``text`` by ``REDACTED``."""
    text = _URL_HOST.sub(lambda m: m.group("scheme") + "REDACTED", text)
    text = _QUOTED_ADDRESS.sub(lambda m: "('REDACTED'," + m.group(0).rsplit(",", 1)[1], text)
    return _HOST_PORT.sub("REDACTED", text)
