"""``get_formatted_prompt(data, call_type)``: the text of a request, as LiteLLM's helper gives it.

Hook files written for LiteLLM import it from ``litellm.utils`` (the seed's
"return a rejected message" example); with Gatehouse they import it from
``gatehouse``. Chat messages are joined (text parts of multi-part contents
included); the other call types give their ``prompt`` or ``input``.
"""

from __future__ import annotations

from typing import Any

__all__ = ["get_formatted_prompt"]


def _text(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, list):
        return "".join(_text(v) for v in value)
    if isinstance(value, dict):
        return _text(value.get("text")) if value.get("type", "text") == "text" else ""
    return ""


def get_formatted_prompt(data: dict[str, Any], call_type: str) -> str:
    """The request's text for ``call_type`` (the seed's call-type names)."""
    if call_type in ("completion", "acompletion"):
        messages = data.get("messages")
        return "".join(_text(m.get("content")) for m in messages if isinstance(m, dict)) if isinstance(
            messages, list) else ""
    if call_type in ("text_completion", "atext_completion", "image_generation", "aimage_generation"):
        return _text(data.get("prompt"))
    if call_type in ("embeddings", "aembedding", "moderation", "amoderation"):
        return _text(data.get("input"))
    if call_type in ("audio_transcription", "atranscription"):
        return _text(data.get("prompt"))
    return ""
