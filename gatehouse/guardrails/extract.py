"""What a guardrail sees of a request or response, and how its rewrite is put back.

Pure functions keyed by ``call_type``. Extraction walks the body once and
records, for every text and image, the position it came from (a
``(container, key)`` pair); a rewrite is written back by position, so nothing
is re-serialised and every other byte of the body stays as sent.

    call type            request side                               response side
    completion           messages[*].content (string, text parts      choices[*].message.content (string,
                         of every role), image_url parts → images,    text parts), message.tool_calls
                         tool_calls → tool_calls, tools → tools
    text_completion      prompt (string or list of strings;          choices[*].text
                         token lists skipped)
    embeddings           input (string or list of strings)           — (vectors)
    image_generation     prompt                                       —
    moderation           input (string, list of strings, or text/    —
                         image_url objects)
    audio_transcription  — (audio)                                    text

Write-back is all-or-nothing: :func:`rewrite_problem` says why a rewrite does
not fit (wrong count, wrong types) before :func:`apply_rewrite` changes anything.

:func:`build_body` turns an extraction plus the request's metadata into the
JSON body of the wire contract, serialised once with orjson.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Mapping

import orjson

from gatehouse.untrusted import is_credential_header, valid_utf8

__all__ = [
    "Slot",
    "Extraction",
    "normalise_call_type",
    "extract_request",
    "extract_response",
    "rewrite_problem",
    "apply_rewrite",
    "REQUEST_DATA_KEYS",
    "FORWARDED_HEADERS",
    "sanitise_headers",
    "build_body",
]

#: The caller fields of ``data["metadata"]`` sent as ``request_data`` (non-null ones only).
REQUEST_DATA_KEYS = (
    "user_api_key_hash",
    "user_api_key_alias",
    "user_api_key_user_id",
    "user_api_key_user_email",
    "user_api_key_team_id",
    "user_api_key_team_alias",
    "user_api_key_end_user_id",
    "user_api_key_org_id",
)
#: Inbound headers whose values are forwarded in ``request_headers`` (plus ``x-stainless-*``,
#: ``x-litellm-*`` and the guardrail's ``extra_headers``); every other header is ``[present]``.
FORWARDED_HEADERS = frozenset(
    {"host", "accept-encoding", "connection", "accept", "content-type", "user-agent", "content-length"}
)
_FORWARDED_PREFIXES = ("x-stainless-", "x-litellm-")
#: Credentials are never forwarded by prefix (only when named in ``extra_headers``).
_CREDENTIAL_HEADERS = frozenset({"x-litellm-api-key"})

#: A position: ``container[key]`` holds the value.
Slot = tuple[Any, Any]

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
}


@dataclass(slots=True)
class Extraction:
    """Texts, images and tool calls of one body, each with its position."""

    texts: list[str] = field(default_factory=list)
    text_slots: list[Slot] = field(default_factory=list)
    images: list[str] = field(default_factory=list)
    image_slots: list[Slot] = field(default_factory=list)
    tool_calls: list[Any] = field(default_factory=list)
    tool_call_slots: list[Slot] = field(default_factory=list)
    tools: list[Any] | None = None
    structured_messages: list[Any] | None = None
    model: str | None = None

    @property
    def empty(self) -> bool:
        """Nothing a guardrail could scan: the service is not called."""
        return not (self.texts or self.images or self.tool_calls or self.tools)

    def add_text(self, container: Any, key: Any) -> None:
        self.texts.append(container[key])
        self.text_slots.append((container, key))


def normalise_call_type(call_type: str | None) -> str:
    """The seed's call type for a LiteLLM alias (``acompletion`` → ``completion``)."""
    name = call_type or ""
    return _ALIASES.get(name, name)


def extract_request(call_type: str | None, data: dict[str, Any]) -> Extraction:
    """What the guardrail scans of a request body (``data``) of this call type."""
    fn = _REQUEST.get(normalise_call_type(call_type))
    out = Extraction(model=_str_or_none(data.get("model")))
    if fn is not None:
        fn(data, out)
    return out


def extract_response(call_type: str | None, response: dict[str, Any]) -> Extraction:
    """What the guardrail scans of a (plain-dict) response of this call type."""
    fn = _RESPONSE.get(normalise_call_type(call_type))
    out = Extraction(model=_str_or_none(response.get("model")))
    if fn is not None:
        fn(response, out)
    return out


# -- request side --------------------------------------------------------------


def _chat_request(data: dict[str, Any], out: Extraction) -> None:
    messages = data.get("messages")
    if isinstance(messages, list):
        out.structured_messages = messages
        for message in messages:
            if isinstance(message, dict):
                _message(message, out)
    tools = data.get("tools")
    if isinstance(tools, list) and tools:
        out.tools = tools


def _message(message: dict[str, Any], out: Extraction) -> None:
    content = message.get("content")
    if isinstance(content, str):
        out.add_text(message, "content")
    elif isinstance(content, list):
        for part in content:
            if isinstance(part, dict):
                _part(part, out)
    calls = message.get("tool_calls")
    if isinstance(calls, list):
        for i, call in enumerate(calls):
            out.tool_calls.append(call)
            out.tool_call_slots.append((calls, i))


def _part(part: dict[str, Any], out: Extraction) -> None:
    if isinstance(part.get("text"), str):
        out.add_text(part, "text")
        return
    image = part.get("image_url")
    if isinstance(image, dict) and isinstance(image.get("url"), str):
        out.images.append(image["url"])
        out.image_slots.append((image, "url"))
    elif isinstance(image, str):
        out.images.append(image)
        out.image_slots.append((part, "image_url"))


def _strings(data: dict[str, Any], key: str, out: Extraction) -> None:
    """A string field, or a list whose string items are scanned (token lists skipped)."""
    value = data.get(key)
    if isinstance(value, str):
        out.add_text(data, key)
    elif isinstance(value, list):
        for i, item in enumerate(value):
            if isinstance(item, str):
                out.add_text(value, i)


def _completion_request(data: dict[str, Any], out: Extraction) -> None:
    _strings(data, "prompt", out)


def _embeddings_request(data: dict[str, Any], out: Extraction) -> None:
    _strings(data, "input", out)


def _image_request(data: dict[str, Any], out: Extraction) -> None:
    if isinstance(data.get("prompt"), str):
        out.add_text(data, "prompt")


def _moderation_request(data: dict[str, Any], out: Extraction) -> None:
    value = data.get("input")
    if isinstance(value, str):
        out.add_text(data, "input")
    elif isinstance(value, list):
        for i, item in enumerate(value):
            if isinstance(item, str):
                out.add_text(value, i)
            elif isinstance(item, dict):
                _part(item, out)


# -- response side -------------------------------------------------------------


def _chat_response(response: dict[str, Any], out: Extraction) -> None:
    for choice in _choices(response):
        message = choice.get("message")
        if isinstance(message, dict):
            _message(message, out)


def _completion_response(response: dict[str, Any], out: Extraction) -> None:
    for choice in _choices(response):
        if isinstance(choice.get("text"), str):
            out.add_text(choice, "text")


def _transcription_response(response: dict[str, Any], out: Extraction) -> None:
    if isinstance(response.get("text"), str):
        out.add_text(response, "text")


def _choices(response: dict[str, Any]) -> list[dict[str, Any]]:
    choices = response.get("choices")
    if not isinstance(choices, list):
        return []
    return [c for c in choices if isinstance(c, dict)]


_Extractor = Callable[[dict[str, Any], Extraction], None]
_REQUEST: dict[str, _Extractor] = {
    "completion": _chat_request,
    "text_completion": _completion_request,
    "embeddings": _embeddings_request,
    "image_generation": _image_request,
    "moderation": _moderation_request,
}
_RESPONSE: dict[str, _Extractor] = {
    "completion": _chat_response,
    "text_completion": _completion_response,
    "audio_transcription": _transcription_response,
}


# -- write-back ----------------------------------------------------------------


def rewrite_problem(
    ex: Extraction,
    *,
    texts: Any,
    images: Any,
    tool_calls: Any = None,
    guardrail_name: str,
    subject: str = "request",
) -> str | None:
    """Why this rewrite cannot be applied by position (``None`` when it can).

    An absent, ``null`` or empty list keeps the originals of that kind.
    """
    for kind, new, sent, item in (
        ("texts", texts, ex.texts, str),
        ("images", images, ex.images, str),
        ("tool_calls", tool_calls, ex.tool_calls, dict),
    ):
        if not new:
            continue
        if not isinstance(new, list) or not all(isinstance(v, item) for v in new):
            return f"Guardrail '{guardrail_name}' returned malformed {kind}; the {subject} was rejected"
        if len(new) != len(sent):
            return (
                f"Guardrail '{guardrail_name}' returned {len(new)} {kind} for {len(sent)} inputs; "
                f"the {subject} was rejected rather than sent half-rewritten"
            )
    return None


def apply_rewrite(ex: Extraction, *, texts: Any, images: Any, tool_calls: Any = None) -> int:
    """Write the rewrite back by position; return how many positions changed.

    Call only after :func:`rewrite_problem` returned ``None``.
    """
    changed = 0
    for new, old, slots in ((texts, ex.texts, ex.text_slots), (images, ex.images, ex.image_slots)):
        if new:
            for value, before, (container, key) in zip(new, old, slots):
                if value != before:
                    container[key] = value
                    changed += 1
    if tool_calls:
        for value, before, (container, key) in zip(tool_calls, ex.tool_calls, ex.tool_call_slots):
            if value != before:
                container[key] = value
                changed += 1
    return changed


def _str_or_none(value: Any) -> str | None:
    return value if isinstance(value, str) else None


# -- the outbound body ---------------------------------------------------------


def sanitise_headers(headers: Any, allowed: frozenset[str]) -> dict[str, str] | None:
    """Inbound headers with values only for allowed names, ``[present]`` for the rest.

    Names and values are made valid UTF-8 (a byte that is not is written
    ``\\xNN``), so a client's header can never make the check unbuildable.
    A credential is never forwarded by prefix (only when named in ``extra_headers``).
    """
    if not isinstance(headers, Mapping) or not headers:
        return None
    out: dict[str, str] = {}
    for name, value in headers.items():
        low = valid_utf8(str(name).lower())
        forward = low in allowed or (low.startswith(_FORWARDED_PREFIXES) and low not in _CREDENTIAL_HEADERS
                                     and not is_credential_header(low))
        out[low] = valid_utf8(str(value)) if forward else "[present]"
    return out


def build_body(
    ex: Extraction,
    *,
    data: Mapping[str, Any],
    metadata: Mapping[str, Any],
    input_type: str,
    params: Mapping[str, Any],
    allowed_headers: frozenset[str],
    version: str,
) -> bytes:
    """The JSON body of one check: every key present, absent values ``null``.

    Raises ``TypeError`` when something in the body cannot be serialised.
    """
    headers = metadata.get("headers")
    if headers is None:
        server_request = data.get("proxy_server_request")
        headers = server_request.get("headers") if isinstance(server_request, Mapping) else None
    return orjson.dumps(
        {
            "input_type": input_type,
            "litellm_call_id": data.get("litellm_call_id"),
            "litellm_trace_id": data.get("litellm_trace_id"),
            "structured_messages": ex.structured_messages if input_type == "request" else None,
            "images": ex.images or None,
            "tools": ex.tools if input_type == "request" else None,
            "texts": ex.texts,
            "request_data": {k: v for k in REQUEST_DATA_KEYS if (v := metadata.get(k)) is not None},
            "request_headers": sanitise_headers(headers, allowed_headers),
            "litellm_version": version,
            "additional_provider_specific_params": params,
            "tool_calls": ex.tool_calls or None,
            "model": ex.model,
        }
    )
