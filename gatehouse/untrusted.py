"""What a client sends, made safe before the gateway hands it on.

One module for the rules every stage relies on:

* :func:`hook_headers` — the inbound headers as hooks see them
  (``data["metadata"]["headers"]``, ``data["proxy_server_request"]["headers"]``,
  the response-headers hook's ``request_headers``): names lower-cased,
  credentials replaced by :data:`MASKED`, values valid UTF-8 (a byte that is
  not UTF-8 is written ``\\xNN``). The raw headers are read only by
  authentication.
* :func:`strip_gateway_owned` — the keys of a client's ``metadata`` that only
  the gateway may write (guardrail records, applied guardrails, caller
  fields, the limiter's marker) are removed, so they are overwritten, never
  merged.
* :func:`safe_headers` — response headers the gateway emits never carry a
  control character (CR/LF would split the answer; the value is escaped).
* :func:`escape_controls` — control characters written as escapes, for log
  lines (used by :mod:`gatehouse.logs`).
* :func:`valid_utf8` — a string that serialises as JSON whatever it holds.
"""

from __future__ import annotations

import re
from typing import Any, Iterable, Mapping

__all__ = [
    "MASKED",
    "CREDENTIAL_HEADERS",
    "GATEWAY_METADATA_KEYS",
    "is_credential_header",
    "hook_headers",
    "strip_gateway_owned",
    "safe_headers",
    "escape_controls",
    "valid_utf8",
]

#: What a credential's value is replaced by.
MASKED = "[REDACTED]"
#: Headers that carry a credential, by exact (lower-case) name.
CREDENTIAL_HEADERS = frozenset({
    "authorization", "proxy-authorization", "x-api-key", "api-key", "x-litellm-api-key", "cookie", "set-cookie",
    "x-goog-api-key", "x-amz-security-token", "x-auth-token", "x-access-token", "x-csrf-token", "x-xsrf-token",
    "ocp-apim-subscription-key",
})
#: A header whose name contains one of these words is taken to carry a credential too.
_CREDENTIAL_WORDS = re.compile("key|token|secret|password|passwd|auth|session|signature|credential|cookie")
#: ``metadata`` keys only the gateway writes (``user_api_key*`` as a prefix, too).
GATEWAY_METADATA_KEYS = frozenset({
    "applied_guardrails", "standard_logging_guardrail_information", "gatehouse_rate_limit", "headers", "endpoint",
    "call_type", "pass_through",
})
_OWNED_PREFIX = "user_api_key"

_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")
_HEADER_NAME = re.compile(r"^[!#$%&'*+.^_`|~0-9A-Za-z-]+$")


def is_credential_header(name: str) -> bool:
    """Whether a (lower-case) header name carries a credential."""
    return name in CREDENTIAL_HEADERS or _CREDENTIAL_WORDS.search(name) is not None


def valid_utf8(text: str) -> str:
    """``text`` unchanged when it is valid UTF-8; else with each undecodable byte as ``\\xNN``.

    Header values reach Python with bytes that are not UTF-8 kept as lone
    surrogates (``surrogateescape``); such a string cannot be serialised.
    """
    if text.isascii():
        return text
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return text.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
    return text


def hook_headers(headers: Mapping[str, str]) -> dict[str, str]:
    """The inbound headers for hooks: lower-case names, credentials masked, valid UTF-8."""
    out: dict[str, str] = {}
    for name, value in headers.items():
        low = name.lower()
        if not low.isascii():
            low = valid_utf8(low)
        if low in CREDENTIAL_HEADERS or _CREDENTIAL_WORDS.search(low) is not None:
            out[low] = MASKED
        else:
            out[low] = value if value.isascii() else valid_utf8(value)
    return out


def strip_gateway_owned(metadata: dict[str, Any]) -> dict[str, Any]:
    """``metadata`` without the keys only the gateway writes (changed in place, returned)."""
    for key in [k for k in metadata if k in GATEWAY_METADATA_KEYS or (isinstance(k, str) and k.startswith(_OWNED_PREFIX))]:
        del metadata[key]
    return metadata


def escape_controls(text: str) -> str:
    """Control characters (CR, LF, NUL, ...) as ``\\r``, ``\\n``, ``\\x00``; the rest unchanged."""
    if not _CONTROL.search(text):
        return text
    return _CONTROL.sub(_escape, text)


def _escape(match: re.Match[str]) -> str:
    char = match.group(0)
    if char == "\n":
        return "\\n"
    if char == "\r":
        return "\\r"
    if char == "\t":
        return "\\t"
    code = ord(char)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def safe_headers(headers: Iterable[tuple[str, str]]) -> dict[str, str]:
    """Response headers fit to send: control characters in values escaped, bad names dropped."""
    out: dict[str, str] = {}
    for name, value in headers:
        if not _HEADER_NAME.match(name):
            continue
        value = str(value)
        if _CONTROL.search(value):
            value = escape_controls(value)
        out[name] = valid_utf8(value)
    return out
