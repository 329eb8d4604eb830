"""The request and response schemas of the OpenAPI document: true to what the gateway accepts.

Every body a schema allows is one the gateway serves (a contract test runs
schemathesis over the document against a running gateway): ``model`` is one
of this gateway's model groups, ``guardrails`` names its guardrails, and each
field has the type the flow checks. The schemas are narrower than the
gateway where the gateway is lenient (``null`` for optional fields, other
OpenAI parameters pass through as additional properties), and are written
without version-specific keywords, so they read the same in OpenAPI 3.0 and 3.1.
"""

from __future__ import annotations

from typing import Any, Sequence

from ..endpoints import Endpoint
from ..formats.openai_other import AUDIO_TYPES

__all__ = ["request_schema", "success_response", "error_response", "ERROR_SCHEMA", "ANTHROPIC_ERROR_SCHEMA",
           "KEY_ROUTES"]

ERROR_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["error"],
    "properties": {"error": {"type": "object", "required": ["message", "type", "code"], "properties": {
        "message": {"type": "string"}, "type": {"type": "string"},
        "param": {"description": "the request field at fault, or null"}, "code": {"type": "string"},
    }}},
}

#: Anthropic's error body, what ``/v1/messages`` answers errors with.
ANTHROPIC_ERROR_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["type", "error"],
    "properties": {"type": {"type": "string", "enum": ["error"]}, "error": {
        "type": "object", "required": ["type", "message"],
        "properties": {"type": {"type": "string"}, "message": {"type": "string"}}}},
}

_TEXT = {"type": "string"}
_TEXTS = {"type": "array", "minItems": 1, "items": _TEXT}
_MESSAGE = {
    "type": "object",
    "required": ["role", "content"],
    "properties": {
        "role": {"type": "string", "enum": ["system", "developer", "user", "assistant"]},
        "content": {"anyOf": [_TEXT, {"type": "array", "items": {
            "type": "object", "required": ["type", "text"],
            "properties": {"type": {"type": "string", "enum": ["text"]}, "text": _TEXT}}}]},
    },
}

#: Anthropic's Messages API (``/v1/messages``): text blocks, messages, tools.
_TEXT_BLOCK = {"type": "object", "required": ["type", "text"], "additionalProperties": False,
               "properties": {"type": {"type": "string", "enum": ["text"]}, "text": _TEXT}}
_ANTHROPIC_MESSAGE = {
    "type": "object",
    "required": ["role", "content"],
    "additionalProperties": False,
    "properties": {"role": {"type": "string", "enum": ["user", "assistant"]},
                   "content": {"anyOf": [_TEXT, {"type": "array", "items": _TEXT_BLOCK}]}},
}
_ANTHROPIC_TOOL = {
    "type": "object", "required": ["name", "input_schema"], "additionalProperties": False,
    "properties": {"name": _TEXT, "description": _TEXT,
                   "input_schema": {"type": "object", "required": ["type"], "additionalProperties": False,
                                    "properties": {"type": {"type": "string", "enum": ["object"]}}}},
}

#: Field → schema, where the field means the same on every endpoint.
_COMMON: dict[str, dict[str, Any]] = {
    "user": {"type": "string", "description": "the end user (for logs, limits, hooks)"},
    "metadata": {"type": "object", "description": "free metadata, passed to hooks"},
    "tags": {"type": "array", "items": {"type": "string"}, "description": "routing tags"},
    "stream": {"type": "boolean", "description": "answer as server-sent events"},
    "messages": {"type": "array", "minItems": 1, "items": _MESSAGE},
    "file": {"type": "string", "format": "binary", "description": "the audio file"},
}
#: ``(endpoint path, field)`` → schema, where it differs by endpoint.
_SPECIFIC: dict[tuple[str, str], dict[str, Any]] = {
    ("/completions", "prompt"): {"anyOf": [_TEXT, _TEXTS]},
    ("/images/generations", "prompt"): _TEXT,
    ("/embeddings", "input"): {"anyOf": [_TEXT, _TEXTS]},
    ("/moderations", "input"): {"anyOf": [_TEXT, _TEXTS]},
    ("/messages", "messages"): {"type": "array", "minItems": 1, "items": _ANTHROPIC_MESSAGE},
    ("/messages", "max_tokens"): {"type": "integer", "minimum": 1, "maximum": 1000000},
    ("/messages", "system"): {"anyOf": [_TEXT, {"type": "array", "items": _TEXT_BLOCK}]},
    ("/messages", "tools"): {"type": "array", "items": _ANTHROPIC_TOOL},
    ("/messages", "metadata"): {"type": "object", "additionalProperties": False, "properties": {"user_id": _TEXT},
                                "description": "Anthropic's metadata (user_id)"},
    ("/audio/speech", "input"): _TEXT,
    ("/audio/speech", "voice"): {"type": "string", "description": "a voice name (alloy, ...)"},
    ("/audio/speech", "response_format"): {"type": "string", "enum": list(AUDIO_TYPES)},
    ("/audio/speech", "speed"): {"type": "number", "minimum": 0.25, "maximum": 4.0},
    ("/rerank", "query"): _TEXT,
    ("/rerank", "documents"): {"type": "array", "minItems": 1, "items": {"anyOf": [_TEXT, {"type": "object"}]}},
    ("/rerank", "top_n"): {"type": "integer", "minimum": 1},
    ("/rerank", "return_documents"): {"type": "boolean"},
}


def _field(endpoint: Endpoint, name: str, description: str) -> dict[str, Any]:
    schema = _SPECIFIC.get((endpoint.path, name)) or _COMMON.get(name) or {}
    return {**schema, "description": schema.get("description", f"must be {description}")}


def request_schema(endpoint: Endpoint, models: Sequence[str], guardrails: Sequence[str]) -> dict[str, Any]:
    """The body schema of one endpoint on a gateway with these model groups and guardrails."""
    properties: dict[str, Any] = {}
    for name, _, description in endpoint.field_types:
        if name == "model":
            properties[name] = {"type": "string", "enum": list(models) or ["(no model configured)"],
                                "description": "a model group of this gateway (GET /v1/models)"}
        elif name == "guardrails":
            names = {"type": "string", "enum": list(guardrails)} if guardrails else {"type": "string"}
            properties[name] = {"type": "array", "maxItems": len(guardrails), "items": names,
                                "description": "guardrails to run on this request (names from the config)"}
        elif name == "stream" and not endpoint.can_stream:
            continue
        elif endpoint.multipart and name in ("tags", "guardrails"):
            continue  # a form carries lists as repeated `name[]` fields, which a schema cannot say
        else:
            properties[name] = _field(endpoint, name, description)
    if endpoint.multipart and "file" not in properties:
        properties["file"] = dict(_COMMON["file"])
    # JSON bodies may carry any other OpenAI parameter (passed through); a form only the fields above
    return {"type": "object", "required": ["model", *endpoint.required], "properties": properties,
            "additionalProperties": not endpoint.multipart}


def error_response(endpoint: Endpoint | None = None) -> dict[str, Any]:
    """The error answer of an endpoint (Anthropic's body on ``/v1/messages``, else OpenAI's)."""
    if endpoint is not None and endpoint.format.name == "anthropic_messages":
        return {"description": "An Anthropic-style error", "content": {"application/json": {
            "schema": ANTHROPIC_ERROR_SCHEMA}}}
    return {"description": "An OpenAI-style error", "content": {"application/json": {"schema": ERROR_SCHEMA}}}


def success_response(endpoint: Endpoint) -> dict[str, Any]:
    if endpoint.always_streams:  # /audio/speech: audio bytes in the response_format's type
        binary = {"schema": {"type": "string", "format": "binary"}}
        return {"description": "Audio bytes, relayed as they arrive",
                "content": {kind: binary for kind in (*AUDIO_TYPES.values(), "text/event-stream")}}
    content: dict[str, Any] = {"application/json": {"schema": {"type": "object"}}}
    if endpoint.can_stream:
        content["text/event-stream"] = {"schema": {"type": "object", "properties": {"data": {"type": "string"}}}}
    more = " (server-sent events when stream is true)" if endpoint.can_stream else ""
    return {"description": "The provider's answer" + more, "content": content}


# -- /key/* ------------------------------------------------------------------------------------------

_NO_NUL = {"type": "string", "pattern": "^[^\\u0000]*$"}  # the key store refuses NUL characters
_KEY = {**_NO_NUL, "minLength": 1, "description": "the key (sk-...) or its hash"}
_LIMIT = {"type": "integer", "minimum": 0, "maximum": 2**63 - 1}
_KEY_FIELDS: dict[str, Any] = {
    **{name: _NO_NUL for name in ("key_alias", "user_id", "team_id", "team_alias", "organization_id")},
    "models": {"type": "array", "items": _NO_NUL}, "tags": {"type": "array", "items": _NO_NUL},
    "max_parallel_requests": _LIMIT, "rpm_limit": _LIMIT, "tpm_limit": _LIMIT,
    "max_budget": {"type": "number", "minimum": 0}, "blocked": {"type": "boolean"},
    "duration": {"type": "string", "pattern": "^[0-9]{1,4}[smhdw]$", "description": "30s, 10m, 1h, 7d, 2w"},
}


def _body(properties: dict[str, Any], required: Sequence[str] = ()) -> dict[str, Any]:
    schema = {"type": "object", "properties": properties, "required": list(required), "additionalProperties": False}
    return {"required": bool(required), "content": {"application/json": {"schema": schema}}}


#: Request bodies and query parameters of the key routes (``path → operation fields``). ``metadata`` is left
#: out: OpenAPI 3.0 cannot say that its keys must not hold NUL characters, which the key store refuses.
KEY_ROUTES: dict[str, dict[str, Any]] = {
    "/key/generate": {"requestBody": _body(_KEY_FIELDS)},
    "/key/update": {"requestBody": _body({"key": _KEY, **_KEY_FIELDS}, ["key"])},
    "/key/delete": {"requestBody": _body({"keys": {"type": "array", "minItems": 1, "items": _KEY}}, ["keys"])},
    "/key/block": {"requestBody": _body({"key": _KEY}, ["key"])},
    "/key/unblock": {"requestBody": _body({"key": _KEY}, ["key"])},
    "/key/info": {"parameters": [{"name": "key", "in": "query", "required": True, "schema": _KEY}]},
    "/key/list": {"parameters": [
        {"name": "page", "in": "query", "schema": {"type": "integer", "minimum": 1, "maximum": 2**31 - 1}},
        {"name": "size", "in": "query", "schema": {"type": "integer", "minimum": 1, "maximum": 100}},
        *({"name": name, "in": "query", "schema": _NO_NUL} for name in ("user_id", "team_id", "key_alias")),
        {"name": "return_full_object", "in": "query", "schema": {"type": "boolean"}},
    ]},
}
