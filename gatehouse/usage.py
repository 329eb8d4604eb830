"""Token usage of streamed answers, so budgets and TPM limits count every stream.

A streamed chat or text completion carries usage only when the request asks
for it (``stream_options.include_usage``). When the gateway needs usage (a
spend tracker, a rate limiter or any logging hook runs for the caller), it
asks the upstream for it (:func:`ask_for_usage`); if the client did not ask,
the usage-only chunk is taken out of what the client receives
(:class:`UsageFilter` on relayed bytes, :func:`is_usage_only` on parsed
chunks). An upstream that still sends no usage is counted by estimate
(:func:`estimated_usage`: about four characters per token, plus a few tokens
per message), never as zero.
"""

from __future__ import annotations

import re
from typing import Any

import orjson

__all__ = ["USAGE_OPERATIONS", "ask_for_usage", "is_usage_only", "UsageFilter", "estimated_usage", "estimate_tokens"]

#: Operations whose streams can carry usage (OpenAI's chat and text completions).
USAGE_OPERATIONS = frozenset({"chat", "completion"})
#: A usage object (not ``"usage": null``) somewhere in these bytes.
_USAGE_OBJECT = re.compile(rb'"usage"\s*:\s*\{')
#: Tokens a chat message costs besides its text (role and separators), as OpenAI counts them.
_PER_MESSAGE = 4


def ask_for_usage(body: dict[str, Any]) -> bool:
    """Set ``stream_options.include_usage`` on an upstream body; return whether the client had asked already."""
    options = body.get("stream_options")
    asked = isinstance(options, dict) and options.get("include_usage") is True
    if not asked:
        body["stream_options"] = {**(options if isinstance(options, dict) else {}), "include_usage": True}
    return asked


def is_usage_only(chunk: dict[str, Any]) -> bool:
    """The chunk the upstream adds for ``include_usage``: a usage object and no choices."""
    return bool(chunk.get("usage")) and not chunk.get("choices")


class UsageFilter:
    """Relayed SSE bytes without their usage-only events.

    Bytes go out event by event: an incomplete last event is held until the
    next piece completes it. Only pieces that hold a usage object are split
    and parsed, so content chunks pass with one search.
    """

    __slots__ = ("_carry",)

    def __init__(self) -> None:
        self._carry = b""

    def feed(self, piece: bytes) -> bytes:
        """The complete events of what arrived so far, usage-only ones removed."""
        if self._carry:
            piece, self._carry = self._carry + piece, b""
        if b"\r" in piece:
            piece = piece.replace(b"\r\n", b"\n")
        cut = piece.rfind(b"\n\n")
        if cut < 0:
            self._carry = piece
            return b""
        ready, self._carry = piece[: cut + 2], piece[cut + 2:]
        return _without_usage(ready)

    def flush(self) -> bytes:
        """What is left when the upstream closed (an event without its blank line)."""
        rest, self._carry = self._carry, b""
        return _without_usage(rest) if rest else rest


def _without_usage(events: bytes) -> bytes:
    if b'"usage"' not in events or _USAGE_OBJECT.search(events) is None:
        return events
    kept = [event for event in events.split(b"\n\n") if not _usage_event(event)]
    return b"\n\n".join(kept)


def _usage_event(event: bytes) -> bool:
    payload = b"\n".join(line[5:].lstrip(b" ") for line in event.split(b"\n") if line.startswith(b"data:"))
    if not payload or _USAGE_OBJECT.search(payload) is None:
        return False
    try:
        chunk = orjson.loads(payload)
    except orjson.JSONDecodeError:
        return False
    return isinstance(chunk, dict) and is_usage_only(chunk)


def estimate_tokens(text: str) -> int:
    """About four characters per token (at least one for any text)."""
    return (len(text) + 3) // 4


def _prompt_tokens(data: dict[str, Any]) -> int:
    messages = data.get("messages")
    if isinstance(messages, list):
        total = 0
        for message in messages:
            content = message.get("content") if isinstance(message, dict) else None
            total += _PER_MESSAGE + estimate_tokens(_text(content))
        return total
    return estimate_tokens(_text(data.get("prompt") if "prompt" in data else data.get("input")))  # input: speech


def _text(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, list):
        return " ".join(_text(item.get("text") if isinstance(item, dict) else item) for item in value)
    return ""


def estimated_usage(data: dict[str, Any], completion: str) -> dict[str, int]:
    """Usage counted by the gateway when the upstream sent none (speech: also the input's ``characters``)."""
    prompt, answer = _prompt_tokens(data), estimate_tokens(completion)
    out = {"prompt_tokens": prompt, "completion_tokens": answer, "total_tokens": prompt + answer}
    spoken = data.get("input")
    if isinstance(spoken, str) and "messages" not in data and "prompt" not in data:
        out["characters"] = len(spoken)  # text to speech is priced per input character
    return out
