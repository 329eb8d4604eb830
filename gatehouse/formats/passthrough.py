"""Pass-through routes (``/anthropic/*``, ``/openai/*``, ..., ``pass_through_endpoints``): provider-native bodies.

Nothing is translated: the request and the answer are the provider's own.
What this format answers for the rest of the gateway:

* **texts for guardrails**, only on a route that opts in (the route's spec is
  in ``data["metadata"]["pass_through"]``, written by the gateway): the
  strings at the route's ``request_fields`` (a JSONPath subset:
  ``$.messages[*].content``, ``documents[0]``, ``contents[*].parts[*].text``),
  else every string under a text key (:data:`TEXT_KEYS`) anywhere in the body,
  each with its position (rewrites are written back in place); in an answer,
  every string under a text key (Anthropic's ``content[].text``, OpenAI's
  ``message.content``, Gemini's ``parts[].text``, Converse's ``content[].text``);
* **errors**: an upstream error answer is returned as the provider wrote it
  (:class:`~gatehouse.errors.PassThroughUpstreamError`); the gateway's own
  errors (authentication, limits, guardrails) in OpenAI's error body;
* **answers** are bytes relayed as they arrive (:class:`~.opaque.OpaqueStream`).
"""

from __future__ import annotations

import re
from typing import Any, Iterator

from ..errors import GatewayError, PassThroughUpstreamError
from .base import EventStream, Extraction, Slot
from .opaque import NoText, OpaqueStream
from .openai_common import OpenAIFormat

__all__ = ["PASS_THROUGH", "PassThrough", "TEXT_KEYS", "SPEC_KEY", "select", "parse_path"]

#: ``data["metadata"]`` key holding the route's spec: ``{"route", "guarded", "request_fields", "response_fields"}``.
SPEC_KEY = "pass_through"
#: Keys whose string values (or lists of strings) are texts when the route names no fields.
TEXT_KEYS = frozenset({"text", "content", "prompt", "input", "query", "system", "instructions", "message",
                       "inputText", "documents", "texts", "preamble"})
_STEP = re.compile(r"([^.\[\]]+)|\[(\*|\d+)\]")


def parse_path(path: str) -> list[str | int | None]:
    """``$.a.b[*].c[0]`` → ``["a", "b", None, "c", 0]`` (``None``: every item); ``ValueError`` when malformed."""
    text = path.strip()
    if text.startswith("$"):
        text = text[1:].lstrip(".")
    steps: list[str | int | None] = []
    position = 0
    for found in _STEP.finditer(text):
        gap = text[position:found.start()]
        if gap not in ("", "."):
            raise ValueError(f"cannot read {path!r} (at {gap!r})")
        key, index = found.groups()
        steps.append(key if key is not None else (None if index == "*" else int(index)))
        position = found.end()
    if not steps or text[position:].strip("."):
        raise ValueError(f"cannot read {path!r}")
    return steps


def select(value: Any, steps: list[str | int | None]) -> Iterator[Slot]:
    """The positions ``(container, key)`` the steps lead to (missing steps lead nowhere)."""
    if not steps:
        return
    step, rest = steps[0], steps[1:]
    if step is None:
        keys: list[Any] = list(range(len(value))) if isinstance(value, list) else []
    elif isinstance(step, int):
        keys = [step] if isinstance(value, list) and -len(value) <= step < len(value) else []
    else:
        keys = [step] if isinstance(value, dict) and step in value else []
    for key in keys:
        if rest:
            yield from select(value[key], rest)
        else:
            yield value, key


def _texts_at(body: Any, fields: list[str], out: Extraction) -> None:
    for field in fields:
        for container, key in select(body, parse_path(field)):
            found = container[key]
            if isinstance(found, str):
                out.add_text(container, key)
            elif isinstance(found, list):
                for i, item in enumerate(found):
                    if isinstance(item, str):
                        out.add_text(found, i)


def _walk(value: Any, out: Extraction, depth: int = 0) -> None:
    """Every string under a :data:`TEXT_KEYS` key (a string, or the strings of a list), at any depth."""
    if depth > 32:
        return
    if isinstance(value, dict):
        for key, item in value.items():
            if key in TEXT_KEYS and isinstance(item, str):
                out.add_text(value, key)
            elif key in TEXT_KEYS and isinstance(item, list) and any(isinstance(i, str) for i in item):
                for i, entry in enumerate(item):
                    if isinstance(entry, str):
                        out.add_text(item, i)
                    else:
                        _walk(entry, out, depth + 1)
            elif isinstance(item, (dict, list)):
                _walk(item, out, depth + 1)
    elif isinstance(value, list):
        for item in value:
            _walk(item, out, depth + 1)


def _spec(data: dict[str, Any]) -> dict[str, Any] | None:
    metadata = data.get("metadata")
    spec = metadata.get(SPEC_KEY) if isinstance(metadata, dict) else None
    return spec if isinstance(spec, dict) and spec.get("guarded") else None


class PassThrough(OpenAIFormat):
    name = "pass_through"
    stream: EventStream | None = OpaqueStream(lambda: NoText("pass_through"))

    def extract_request(self, data: dict[str, Any]) -> Extraction:
        """The route's request texts; nothing (so no guardrail is asked) on a route that did not opt in."""
        out = Extraction()
        spec = _spec(data)
        if spec is None:
            return out
        body = {k: v for k, v in data.items() if k not in _GATEWAY_KEYS}
        fields = spec.get("request_fields")
        if fields:
            _texts_at(body, list(fields), out)
        else:
            _walk(body, out)
        return out

    def extract_response(self, answer: dict[str, Any]) -> Extraction:
        """Every string under a text key of an answer (a post_call guardrail runs only on a route that opted in)."""
        out = Extraction()
        _walk(answer, out)
        return out

    def error_body(self, error: GatewayError, call_id: str | None = None) -> dict[str, Any]:
        if isinstance(error, PassThroughUpstreamError) and isinstance(error.body, dict):
            return error.body
        return super().error_body(error, call_id)


#: Request keys the gateway adds for hooks (never part of a provider body's texts).
_GATEWAY_KEYS = frozenset({"metadata", "litellm_call_id", "litellm_trace_id", "proxy_server_request", "guardrails"})

PASS_THROUGH = PassThrough()
