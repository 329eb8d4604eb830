"""The endpoint table: every LLM endpoint is a row, all served by one flow.

A new endpoint is a new row here (and, if it carries text, an extraction
entry in :mod:`gatehouse.guardrails.extract`), never a copy of the flow.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .errors import BadRequestError

__all__ = ["Endpoint", "ENDPOINTS", "by_call_type", "validate_body"]


@dataclass(frozen=True, slots=True)
class Endpoint:
    path: str
    """Route without the ``/v1`` prefix (both are served)."""
    call_type: str
    """The ``call_type`` hooks receive (the seed's values)."""
    operation: str
    """What the provider is asked to do (``chat``, ``completion``, ...)."""
    required: tuple[str, ...]
    """Body fields that must be present (besides ``model``)."""
    field_types: tuple[tuple[str, tuple[type, ...], str], ...]
    """``(field, accepted types, description)`` checked when the field is present."""
    can_stream: bool = False
    multipart: bool = False
    reject_as: str | None = None
    """How a string returned by a pre-call hook is answered: ``chat``, ``text`` or a 400."""
    post_call_rules: bool = False


_COMMON: tuple[tuple[str, tuple[type, ...], str], ...] = (
    ("model", (str,), "a string"),
    ("user", (str, type(None)), "a string"),
    ("metadata", (dict, type(None)), "an object"),
    ("tags", (list, type(None)), "a list of strings"),
    ("guardrails", (list, dict, type(None)), "a list or an object"),
)
_STREAM = (("stream", (bool, type(None)), "a boolean"),)

ENDPOINTS: tuple[Endpoint, ...] = (
    Endpoint(
        "/chat/completions", "completion", "chat", ("messages",),
        _COMMON + _STREAM + (("messages", (list,), "a list of messages"),),
        can_stream=True, reject_as="chat", post_call_rules=True,
    ),
    Endpoint(
        "/completions", "text_completion", "completion", ("prompt",),
        _COMMON + _STREAM + (("prompt", (str, list), "a string or a list"),),
        can_stream=True, reject_as="text",
    ),
    Endpoint(
        "/embeddings", "embeddings", "embedding", ("input",),
        _COMMON + (("input", (str, list), "a string or a list"),),
    ),
    Endpoint(
        "/images/generations", "image_generation", "image", ("prompt",),
        _COMMON + (("prompt", (str,), "a string"),),
    ),
    Endpoint(
        "/moderations", "moderation", "moderation", ("input",),
        _COMMON + (("input", (str, list), "a string or a list"),),
    ),
    Endpoint(
        "/audio/transcriptions", "audio_transcription", "transcription", ("file",),
        _COMMON, multipart=True,
    ),
)

_BY_CALL_TYPE = {e.call_type: e for e in ENDPOINTS}


def by_call_type(call_type: str) -> Endpoint:
    return _BY_CALL_TYPE[call_type]


def validate_body(endpoint: Endpoint, body: dict[str, Any]) -> None:
    """Types of known fields and presence of required ones; 400 naming the field."""
    for name, types, description in endpoint.field_types:
        value = body.get(name)
        if value is not None and not isinstance(value, types):
            if name == "model":
                raise BadRequestError("'model' must be a string.", param="model")
            raise BadRequestError(
                f"{endpoint.path}: '{name}' must be {description}, not {_json_type(value)}.", param=name
            )
    for name in endpoint.required:
        if body.get(name) is None:
            raise BadRequestError(f"{endpoint.path}: Missing required parameter: '{name}'.", param=name)


def _json_type(value: Any) -> str:
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "an object"
    return "null"
