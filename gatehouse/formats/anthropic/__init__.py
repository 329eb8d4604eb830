"""The Anthropic Messages wire format ⇄ OpenAI chat completions: pure translation, no I/O.

Used by the ``anthropic/`` provider, and meant for every other way of reaching
Claude (Vertex AI's ``rawPredict``, Bedrock's ``InvokeModel``) and for the
``/v1/messages`` endpoint, which translates in the other direction.

OpenAI → Anthropic (a provider's direction)::

    request = to_anthropic_request(openai_body, model="claude-sonnet-4-5", drop_params=False)
    request.body        # the Messages API body ("model" included, "stream": true when asked)
    request.betas       # anthropic-beta values the body needs (e.g. files-api-…)
    request.json_tool   # remember it: response_format is answered through a tool

    to_openai_response(answer, model=..., json_tool=request.json_tool)   # → chat.completion
    error_from_anthropic(status, raw_body)                                # → (status, type, message)

    decoder = SSEDecoder()                       # text/event-stream bytes → event data
    translator = StreamTranslator(model, include_usage=..., json_tool=request.json_tool)
    for data in decoder.feed(piece):
        payloads = translator.feed(data)         # → chat.completion.chunk JSON bytes
    translator.event(parsed_event)               # when the events come already parsed (Bedrock)
    translator.end()                             # at the end of the bytes: raises if incomplete

Vertex AI and Bedrock take the same body without ``model`` and with their own
``anthropic_version`` in the body (``vertex-2023-10-16``, ``bedrock-2023-05-31``);
adjust ``request.body`` after translating. Every function raises
:class:`~gatehouse.errors.BadRequestError` (400, naming the field) for a request
Anthropic cannot take, and :class:`~gatehouse.errors.UpstreamError` for an
answer that is not what the API documents.

Anthropic → OpenAI (``/v1/messages``' direction)::

    openai_body = to_openai_request(messages_body)         # then any provider
    to_anthropic_response(chat_completion, model=...)      # → an Anthropic message
    anthropic_error_body(status, message)                  # → {"type": "error", "error": {...}}
    chunks = ChunkTranslator(model)
    events = chunks.chunk(openai_chunk) ... + chunks.end()   # → Anthropic events
    sse_event(event)                                       # → b"event: …\ndata: …\n\n"
"""

from __future__ import annotations

from .content import convert_messages, image_source
from .models import DEFAULT_MAX_TOKENS, ModelTraits, model_traits
from .request import (JSON_TOOL_NAME, NATIVE, THINKING_BUDGETS, AnthropicRequest, UnsupportedParamsError,
                      is_request_field, to_anthropic_request)
from .response import FINISH_REASONS, error_from_anthropic, finish_reason, openai_usage, to_openai_response
from .reverse import (ERROR_TYPES, STOP_REASONS, anthropic_error_body, anthropic_usage, to_anthropic_response,
                      to_openai_request)
from .reverse_stream import ChunkTranslator, sse_event
from .stream import SSEDecoder, StreamTranslator

__all__ = [
    "AnthropicRequest", "to_anthropic_request", "UnsupportedParamsError", "JSON_TOOL_NAME", "THINKING_BUDGETS",
    "NATIVE", "is_request_field", "convert_messages", "image_source", "ModelTraits", "model_traits", "DEFAULT_MAX_TOKENS",
    "FINISH_REASONS", "finish_reason", "openai_usage", "to_openai_response", "error_from_anthropic",
    "SSEDecoder", "StreamTranslator",
    "to_openai_request", "to_anthropic_response", "anthropic_usage", "anthropic_error_body", "STOP_REASONS",
    "ERROR_TYPES", "ChunkTranslator", "sse_event",
]
