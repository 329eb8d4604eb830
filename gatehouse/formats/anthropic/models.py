"""What Gatehouse knows about Claude models: output ceiling, structured outputs, thinking style.

Anthropic requires ``max_tokens`` on every request; when the client sends none,
Gatehouse sends the model's maximum output, as LiteLLM does from its model map
(unknown models: 4096, LiteLLM's ``DEFAULT_ANTHROPIC_CHAT_MAX_TOKENS``). The
table is matched on the ``claude-…`` part of the name, so Anthropic ids
(``claude-sonnet-4-5-20250929``), Bedrock ids (``us.anthropic.claude-sonnet-4-5-…-v1:0``)
and Vertex ids (``claude-sonnet-4-5@20250929``) find the same row.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["ModelTraits", "model_traits", "DEFAULT_MAX_TOKENS"]

#: ``max_tokens`` for a model the table does not know (LiteLLM's default).
DEFAULT_MAX_TOKENS = 4096


@dataclass(frozen=True, slots=True)
class ModelTraits:
    """What the request translation needs to know about one model."""

    max_output_tokens: int = DEFAULT_MAX_TOKENS
    """The ``max_tokens`` sent when the client sends none."""
    structured_outputs: bool = False
    """Accepts ``output_config.format`` (JSON schema) and ``strict`` tools."""
    adaptive_thinking: bool = False
    """Reasoning effort goes to ``output_config.effort`` with ``thinking: {type: adaptive}``."""


# Longest prefixes first: the first match wins.
_TABLE: tuple[tuple[str, ModelTraits], ...] = (
    ("claude-opus-4-6", ModelTraits(128000, True, True)),
    ("claude-sonnet-4-6", ModelTraits(64000, True, True)),
    ("claude-opus-4-5", ModelTraits(64000, True)),
    ("claude-sonnet-4-5", ModelTraits(64000, True)),
    ("claude-haiku-4-5", ModelTraits(64000, True)),
    ("claude-opus-4-1", ModelTraits(32000, True)),
    ("claude-opus-4", ModelTraits(32000)),
    ("claude-sonnet-4", ModelTraits(64000)),
    ("claude-3-7-sonnet", ModelTraits(64000)),
    ("claude-3-5-sonnet", ModelTraits(8192)),
    ("claude-3-5-haiku", ModelTraits(8192)),
    ("claude-3-", ModelTraits(4096)),
)


def model_traits(model: str, *, default_max_tokens: int = DEFAULT_MAX_TOKENS) -> ModelTraits:
    """The row for ``model`` (any provider's spelling), else defaults with ``default_max_tokens``."""
    start = model.find("claude-")
    name = model[start:] if start >= 0 else model
    for prefix, traits in _TABLE:
        if name.startswith(prefix):
            return traits
    return ModelTraits(default_max_tokens)
