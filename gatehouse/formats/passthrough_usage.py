"""Token usage in provider-native answers (pass-through routes), as OpenAI usage for pricing.

A :class:`UsageReader` is fed every JSON object of one answer: the whole body
of a JSON answer, or each ``data:`` event of a streamed one. It keeps the usage
the provider reports and :meth:`UsageReader.usage` returns it in OpenAI's
shape (``prompt_tokens`` including cache reads and writes,
``prompt_tokens_details.cached_tokens``, ``search_units`` for rerank), or
``None`` when the answer said nothing. Pure: no I/O.

    provider     JSON answer                                   stream events
    anthropic    usage                                         message_start.message.usage, message_delta.usage
    openai       usage (chat, completions, embeddings;         a chunk's usage; response.completed's response.usage
                 Responses API input/output_tokens)
    gemini       usageMetadata                                 each event's usageMetadata (the last one counts)
    cohere       usage (v2), meta.billed_units (v1, rerank)    message-end's delta.usage
    bedrock      usage (Converse; Claude's InvokeModel body)   — (AWS event streams are not read)
"""

from __future__ import annotations

from typing import Any, Mapping

from .anthropic.response import openai_usage as anthropic_usage
from .bedrock_converse import usage as converse_usage
from .cohere import usage as cohere_usage
from .gemini_answer import usage as gemini_usage

__all__ = ["UsageReader", "READERS", "reader_for"]


class UsageReader:
    """Usage of one answer; subclasses say where each provider writes it."""

    def __init__(self) -> None:
        self.found: dict[str, Any] | None = None

    def feed(self, value: Mapping[str, Any]) -> None:
        raise NotImplementedError

    def usage(self) -> dict[str, Any] | None:
        return self.found


class OpenAIUsage(UsageReader):
    def feed(self, value: Mapping[str, Any]) -> None:
        usage = value.get("usage")
        if not isinstance(usage, Mapping) and isinstance(value.get("response"), Mapping):
            usage = value["response"].get("usage")  # Responses API: response.completed
        if isinstance(usage, Mapping) and usage:
            self.found = _openai(usage)


def _openai(usage: Mapping[str, Any]) -> dict[str, Any]:
    if "input_tokens" in usage and "prompt_tokens" not in usage:  # Responses API
        prompt, completion = _int(usage.get("input_tokens")), _int(usage.get("output_tokens"))
        details = usage.get("input_tokens_details")
        cached = _int(details.get("cached_tokens")) if isinstance(details, Mapping) else 0
        return {"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion,
                "prompt_tokens_details": {"cached_tokens": cached}}
    return dict(usage)


class AnthropicUsage(UsageReader):
    def __init__(self) -> None:
        super().__init__()
        self._raw: dict[str, Any] = {}

    def feed(self, value: Mapping[str, Any]) -> None:
        message = value.get("message") if value.get("type") == "message_start" else value
        usage = message.get("usage") if isinstance(message, Mapping) else None
        if isinstance(usage, Mapping):
            self._raw.update({k: v for k, v in usage.items() if isinstance(v, int)})
            self.found = anthropic_usage(self._raw)


class GeminiUsage(UsageReader):
    def feed(self, value: Mapping[str, Any]) -> None:
        meta = value.get("usageMetadata")
        if isinstance(meta, Mapping):
            self.found = gemini_usage(meta)


class CohereUsage(UsageReader):
    def feed(self, value: Mapping[str, Any]) -> None:
        usage = value.get("usage")
        if value.get("type") == "message-end" and isinstance(value.get("delta"), Mapping):
            usage = value["delta"].get("usage")
        meta = value.get("meta")
        billed = meta.get("billed_units") if isinstance(meta, Mapping) else None
        if isinstance(usage, Mapping):
            self.found = cohere_usage(usage)
        elif isinstance(billed, Mapping):
            self.found = cohere_usage({"billed_units": billed})
            if _int(billed.get("search_units")):
                self.found["search_units"] = _int(billed["search_units"])


class BedrockUsage(UsageReader):
    def feed(self, value: Mapping[str, Any]) -> None:
        usage = value.get("usage")
        if not isinstance(usage, Mapping):
            return
        self.found = converse_usage(usage) if "inputTokens" in usage else anthropic_usage(usage)


READERS: Mapping[str, type[UsageReader]] = {
    "anthropic": AnthropicUsage, "openai": OpenAIUsage, "azure": OpenAIUsage, "gemini": GeminiUsage,
    "vertex_ai": GeminiUsage, "cohere": CohereUsage, "bedrock": BedrockUsage,
}


class _VertexUsage(UsageReader):
    """Vertex AI answers Gemini (``usageMetadata``) and Claude (``rawPredict``: Anthropic's usage)."""

    def __init__(self) -> None:
        super().__init__()
        self._gemini, self._claude = GeminiUsage(), AnthropicUsage()

    def feed(self, value: Mapping[str, Any]) -> None:
        self._gemini.feed(value)
        self._claude.feed(value)

    def usage(self) -> dict[str, Any] | None:
        return self._gemini.usage() or self._claude.usage()


def reader_for(provider: str | None) -> UsageReader | None:
    """A fresh reader for one answer of ``provider`` (``None``: the provider's usage is not read)."""
    if provider == "vertex_ai":
        return _VertexUsage()
    kind = READERS.get(provider or "")
    return kind() if kind is not None else None


def _int(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else 0
