"""The Generic Guardrail API wire format: request parsing, response rendering.

Request (``POST /beta/litellm_basic_guardrail_api``, JSON object), as LiteLLM
and Gatehouse send it; every field is optional and ``null`` means absent:

==================================== ==========================================
``texts``                            list of strings to check (absent -> ``[]``)
``images``                           list (URLs / data URIs); echoed, not checked
``input_type``                       ``"request"`` (default) or ``"response"``
``litellm_call_id``                  string; logged
``litellm_trace_id``                 string
``additional_provider_specific_params`` object; per-call overrides
``request_data``                     object (caller's key/team/user fields)
``structured_messages``, ``tools``,  lists; accepted, not checked
``tool_calls``
``model``, ``litellm_version``       strings
``request_headers``                  object
==================================== ==========================================

Unknown fields are accepted and ignored (newer gateways send more). Wrong
types raise :class:`BadRequest` with a message naming the field.

Response: ``{"action", "blocked_reason", "texts", "images"}`` — see
:func:`render_verdict`.
"""

from __future__ import annotations

from typing import Any, Literal

import orjson
from pydantic import BaseModel, ConfigDict, ValidationError, ValidationInfo, field_validator

from .checker import Verdict

__all__ = ["GuardrailRequest", "BadRequest", "parse_request", "render_verdict", "error_body"]


class BadRequest(ValueError):
    """The body cannot be used; ``str(error)`` is the client-facing message."""


class GuardrailRequest(BaseModel):
    """One check request. Strict about the types of the fields it uses."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    texts: list[str] = []
    images: list[Any] | None = None
    input_type: Literal["request", "response"] = "request"
    litellm_call_id: str | None = None
    litellm_trace_id: str | None = None
    additional_provider_specific_params: dict[str, Any] | None = None
    request_data: dict[str, Any] | None = None
    structured_messages: list[Any] | None = None
    tools: list[Any] | None = None
    tool_calls: list[Any] | None = None
    model: str | None = None
    request_headers: dict[str, Any] | None = None
    litellm_version: str | None = None

    @field_validator("texts", "input_type", mode="before")
    @classmethod
    def _null_is_default(cls, value: Any, info: ValidationInfo) -> Any:
        if value is None:
            return [] if info.field_name == "texts" else "request"
        return value


def _describe(error: ValidationError) -> str:
    """``texts[1]: Input should be a valid string`` (first problem only)."""
    item = error.errors()[0]
    loc = item["loc"]
    field = str(loc[0]) + "".join(f"[{part}]" if isinstance(part, int) else f".{part}" for part in loc[1:])
    return f"{field}: {item['msg']}"


def parse_request(body: bytes) -> GuardrailRequest:
    """Parse and validate a request body; raises :class:`BadRequest`."""
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError:
        raise BadRequest("body is not valid JSON") from None
    if not isinstance(data, dict):
        raise BadRequest("body must be a JSON object")
    try:
        return GuardrailRequest.model_validate(data)
    except ValidationError as error:
        raise BadRequest(_describe(error)) from None


def render_verdict(verdict: Verdict, request: GuardrailRequest) -> bytes:
    """The response body.

    ``texts`` is the full masked list on ``GUARDRAIL_INTERVENED``, else null.
    ``images`` echoes the request's images unchanged unless the action is
    ``BLOCKED`` (null then, and whenever none were sent).
    """
    return orjson.dumps(
        {
            "action": verdict.action,
            "blocked_reason": verdict.blocked_reason,
            "texts": verdict.texts,
            "images": None if verdict.action == "BLOCKED" else request.images,
        }
    )


def error_body(message: str) -> bytes:
    """``{"error": message}``, the body of every non-200 answer."""
    return orjson.dumps({"error": message})
