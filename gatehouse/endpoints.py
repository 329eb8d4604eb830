"""The endpoint table: every LLM endpoint is a row, all served by one flow.

A new endpoint is a new row here naming its wire format (a module of
:mod:`gatehouse.formats`: how its texts are found, how it answers, streams
and fails), never a copy of the flow.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .errors import BadRequestError
from .formats.anthropic.messages import MESSAGES
from .formats.base import Format
from .formats.openai_chat import CHAT
from .formats.openai_other import EMBEDDINGS, IMAGES, MODERATIONS, SPEECH, TRANSCRIPTIONS, TRANSLATIONS
from .formats.openai_text import TEXT
from .formats.passthrough import PASS_THROUGH as PASS_THROUGH_FORMAT
from .formats.rerank import RERANK

__all__ = ["Endpoint", "ENDPOINTS", "PASS_THROUGH", "by_call_type", "format_for", "normalise_call_type",
           "validate_body"]


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
    format: Format
    """The wire format its clients speak (texts for guardrails, answers, streams, errors)."""
    can_stream: bool = False
    multipart: bool = False
    post_call_rules: bool = False
    always_streams: bool = False
    """The answer is always relayed as it arrives (audio), whatever the body says."""
    also: tuple[str, ...] = ()
    """Further routes served as they are (no ``/v1`` added): ``/v2/rerank``."""


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
        format=CHAT, can_stream=True, post_call_rules=True,
    ),
    Endpoint(
        "/completions", "text_completion", "completion", ("prompt",),
        _COMMON + _STREAM + (("prompt", (str, list), "a string or a list"),),
        format=TEXT, can_stream=True,
    ),
    Endpoint(
        "/embeddings", "embeddings", "embedding", ("input",),
        _COMMON + (("input", (str, list), "a string or a list"),), format=EMBEDDINGS,
    ),
    Endpoint(
        "/images/generations", "image_generation", "image", ("prompt",),
        _COMMON + (("prompt", (str,), "a string"),), format=IMAGES,
    ),
    Endpoint(
        "/moderations", "moderation", "moderation", ("input",),
        _COMMON + (("input", (str, list), "a string or a list"),), format=MODERATIONS,
    ),
    Endpoint(
        "/audio/transcriptions", "audio_transcription", "transcription", ("file",),
        _COMMON, format=TRANSCRIPTIONS, multipart=True,
    ),
    Endpoint(
        "/messages", "anthropic_messages", "chat", ("messages", "max_tokens"),
        _COMMON + _STREAM + (("messages", (list,), "a list of messages"), ("max_tokens", (int,), "an integer"),
                             ("system", (str, list), "a string or a list of text blocks"),
                             ("tools", (list,), "a list of tools")),
        format=MESSAGES, can_stream=True, post_call_rules=True,
    ),
    Endpoint(
        "/audio/translations", "audio_translation", "translation", ("file",),
        _COMMON, format=TRANSLATIONS, multipart=True,
    ),
    Endpoint(
        "/audio/speech", "speech", "speech", ("input",),
        _COMMON + (("input", (str,), "a string"), ("voice", (str, dict), "a voice name or an object"),
                   ("response_format", (str, type(None)), "a string"), ("speed", (int, float, type(None)), "a number")),
        format=SPEECH, can_stream=True, always_streams=True,
    ),
    Endpoint(
        "/rerank", "rerank", "rerank", ("query", "documents"),
        _COMMON + (("query", (str,), "a string"), ("documents", (list,), "a list of strings or objects"),
                   ("top_n", (int, type(None)), "a whole number"),
                   ("return_documents", (bool, type(None)), "a boolean")),
        format=RERANK, also=("/v2/rerank",),
    ),
)

#: Pass-through routes (``/anthropic/*``, ``pass_through_endpoints``): served by :mod:`gatehouse.passthrough`,
#: not by the flow's routes (their paths are the providers'); a row so hooks and guardrails find their format.
PASS_THROUGH = Endpoint("/{pass-through}", "pass_through_endpoint", "pass_through", (), (), format=PASS_THROUGH_FORMAT)

_BY_CALL_TYPE = {e.call_type: e for e in (*ENDPOINTS, PASS_THROUGH)}
#: LiteLLM's other names for the seed's call types.
_ALIASES = {
    "acompletion": "completion",
    "chat_completion": "completion",
    "atext_completion": "text_completion",
    "aembedding": "embeddings",
    "embedding": "embeddings",
    "aimage_generation": "image_generation",
    "amoderation": "moderation",
    "moderations": "moderation",
    "atranscription": "audio_transcription",
    "transcription": "audio_transcription",
    "aspeech": "speech",
    "arerank": "rerank",
}


def by_call_type(call_type: str) -> Endpoint:
    return _BY_CALL_TYPE[call_type]


def normalise_call_type(call_type: str | None) -> str:
    """The seed's call type for a LiteLLM alias (``acompletion`` → ``completion``)."""
    name = call_type or ""
    return _ALIASES.get(name, name)


def format_for(call_type: str | None) -> Format | None:
    """The wire format of the endpoint serving ``call_type`` (a LiteLLM alias is fine), if any."""
    endpoint = _BY_CALL_TYPE.get(normalise_call_type(call_type))
    return endpoint.format if endpoint is not None else None


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
